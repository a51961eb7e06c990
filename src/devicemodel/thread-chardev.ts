// A character backend on the device-model thread whose host side lives on the main thread:
// output is batched and posted once per service slice; input arrives as messages.

import type { CharBackend } from '../devices/api.js';

const FLUSH_BYTES = 4096;

/** The device-model end of one character device. */
export class ThreadCharPort implements CharBackend {
  private pending: number[] = [];
  private receiver: ((bytes: Uint8Array) => void) | null = null;

  constructor(readonly id: string, private readonly post: (id: string, bytes: Uint8Array) => void) {}

  write(bytes: Uint8Array): void {
    for (const b of bytes) this.pending.push(b);
    if (this.pending.length >= FLUSH_BYTES) this.flush();
  }

  onInput(receiver: (bytes: Uint8Array) => void): void { this.receiver = receiver; }

  /** Host input for the device. */
  deliver(bytes: Uint8Array): void { this.receiver?.(bytes); }

  flush(): void {
    if (this.pending.length === 0) return;
    const out = Uint8Array.from(this.pending);
    this.pending = [];
    this.post(this.id, out);
  }
}
