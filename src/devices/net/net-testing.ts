// Fakes for card tests: an Ethernet port that records what the card sends and lets the test
// deliver frames to it.

import type { EthernetPort, FrameReceiver } from '../../net/ethernet.js';

/** A backend stand-in: `sent` holds the card's frames; `deliver` hands one to the card. */
export class RecordingPort implements EthernetPort {
  readonly sent: Uint8Array[] = [];
  private receiver: FrameReceiver | null = null;
  readies = 0;
  send(frame: Uint8Array): void { this.sent.push(frame.slice()); }
  onFrame(receiver: FrameReceiver): void { this.receiver = receiver; }
  ready(): void { this.readies++; }
  close(): void {}
  /** What the card's receiver answered (false: no room). */
  deliver(frame: Uint8Array): boolean { return this.receiver?.(frame) ?? false; }
}
