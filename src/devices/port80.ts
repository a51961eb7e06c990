// POST code port (0x80 on PCs): firmware and kernels write progress codes here, and Linux
// writes it as an I/O delay. Writes are posted and cheap; a read returns the last code.

import type { AccessSize, Device, IoRegion } from './api.js';
import { expectInt, expectRecord } from './api.js';

/** Saved state of the POST port. */
export interface Port80State { last: number }

/** The POST code latch. */
export class Port80 implements Device<Port80State> {
  readonly stateVersion = 1;
  readonly region: IoRegion;
  /** The last code written (low byte of the last write). */
  last = 0;
  /** Writes seen, for the monitor. */
  writes = 0;

  constructor(readonly id: string) {
    this.region = {
      name: id,
      size: 1,
      read: (_offset, size) => this.read(size),
      write: (_offset, _size, value) => { this.last = value & 0xff; this.writes++; },
    };
  }

  private read(size: AccessSize): number {
    // Upper bytes of a wide read float high, as on an ISA bus.
    return size === 1 ? this.last : size === 2 ? (0xff00 | this.last) : (0xffffff00 | this.last) >>> 0;
  }

  reset(): void { this.last = 0; }

  saveState(): Port80State { return { last: this.last }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported port80 state version ${version}`);
    const s = expectRecord(state, this.id);
    this.last = expectInt(s, 'last', 0, 0xff);
  }
}
