// A fixed-capacity byte FIFO for device queues (UART FIFOs, PS/2 output queues, host input).
// Capacity is fixed at construction, so a guest or host can never grow it.

/** A bounded byte ring: push fails when full, shift returns -1 when empty. */
export class ByteRing {
  private readonly buf: Uint8Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  get length(): number { return this.count; }
  get full(): boolean { return this.count === this.capacity; }

  /** Appends `b`; returns false (and drops it) when full. */
  push(b: number): boolean {
    if (this.count === this.capacity) return false;
    this.buf[(this.head + this.count) % this.capacity] = b & 0xff;
    this.count++;
    return true;
  }

  /** Removes and returns the oldest byte, or -1 when empty. */
  shift(): number {
    if (this.count === 0) return -1;
    const b = this.buf[this.head]!;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return b;
  }

  /** The oldest byte without removing it, or -1. */
  peek(): number {
    return this.count === 0 ? -1 : this.buf[this.head]!;
  }

  clear(): void { this.head = 0; this.count = 0; }

  /** The contents, oldest first, as plain numbers (for saveState). */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.head + i) % this.capacity]!);
    return out;
  }

  /** Replaces the contents; the caller has validated length and byte values. */
  fill(bytes: readonly number[]): void {
    this.clear();
    for (const b of bytes) this.push(b);
  }
}

/** Validates a saved byte array: an array of at most `max` integers 0..255. */
export function expectBytes(state: Record<string, unknown>, key: string, max: number): number[] {
  const v = state[key];
  if (!Array.isArray(v) || v.length > max) throw new Error(`bad device state: ${key} is not a byte array of at most ${max}`);
  const out: number[] = [];
  for (const b of v as unknown[]) {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 0xff) throw new Error(`bad device state: ${key} holds a non-byte`);
    out.push(b);
  }
  return out;
}

/** Validates a saved boolean. */
export function expectBool(state: Record<string, unknown>, key: string): boolean {
  const v = state[key];
  if (typeof v !== 'boolean') throw new Error(`bad device state: ${key}=${String(v)} is not a boolean`);
  return v;
}
