// The seam between a network card and a backend: one end of an Ethernet link. The card sends
// whole frames (no FCS) and takes frames from its receiver; a receiver that has no room says
// so, and the backend keeps the frame in a bounded queue until the card calls `ready`.

/** Takes a frame; false when there is no room now (the frame stays with the sender). */
export type FrameReceiver = (frame: Uint8Array) => boolean;

/** One end of an Ethernet link, as a card sees its backend. */
export interface EthernetPort {
  /** Sends a frame to the other end (the backend copies or consumes it before returning). */
  send(frame: Uint8Array): void;
  /** Registers the receiver of frames from the other end. */
  onFrame(receiver: FrameReceiver): void;
  /** The receiver has room again: queued frames flow. */
  ready(): void;
  /** Releases host resources (sockets, files). */
  close(): void;
}

/** Ethernet header sizes and limits. */
export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETH_MIN_FRAME = 60;      // without FCS
export const ETH_MAX_FRAME = 1514;    // without FCS, no VLAN tag
/** The largest frame a backend passes (a jumbo frame on a card that allows them). */
export const ETH_MAX_JUMBO = 16384;
/** Frames a backend queues toward a card before it drops. */
export const RX_QUEUE_MAX = 256;

/** A bounded queue of frames toward a receiver, drained when it has room. */
export class FrameQueue {
  private readonly q: Uint8Array[] = [];
  private receiver: FrameReceiver | null = null;
  dropped = 0;
  constructor(private readonly max = RX_QUEUE_MAX) {}
  setReceiver(r: FrameReceiver): void { this.receiver = r; this.drain(); }
  /** Queues a frame (dropped, and counted, when the queue is full or the frame malformed). */
  push(frame: Uint8Array): void {
    if (frame.length < ETH_HLEN || frame.length > ETH_MAX_JUMBO || this.q.length >= this.max) { this.dropped++; return; }
    this.q.push(frame);
    this.drain();
  }
  /** Hands queued frames over until the receiver is full (bounded by the queue length). */
  drain(): void {
    const r = this.receiver;
    if (r === null) return;
    for (let n = this.q.length; n > 0; n--) {
      const f = this.q[0]!;
      if (!r(f)) return;
      this.q.shift();
    }
  }
  get length(): number { return this.q.length; }
}

/** Formats a MAC address as aa:bb:cc:dd:ee:ff. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parses aa:bb:cc:dd:ee:ff; null when malformed. */
export function parseMac(text: string): Uint8Array | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (m === null) return null;
  return Uint8Array.from(m.slice(1), (h) => parseInt(h, 16));
}
