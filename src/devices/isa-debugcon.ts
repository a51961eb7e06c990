// QEMU's isa-debugcon (hw/char/debugcon.c): every byte written to the port goes to a character
// backend; a read returns the "readback" value 0xE9 that lets firmware detect the port. SeaBIOS
// as Debian builds it logs its banner and progress here (port 0x402).

import type { CharBackend, Device, IoRegion } from './api.js';
import { expectRecord } from './api.js';

/** What a read of the port returns (QEMU's default readback). */
export const DEBUGCON_READBACK = 0xe9;

/** Nothing to save: output is not state. */
export type IsaDebugconState = Record<string, never>;

/** The debug console port. */
export class IsaDebugcon implements Device<IsaDebugconState> {
  readonly stateVersion = 1;
  readonly region: IoRegion;
  private readonly byte = new Uint8Array(1);

  constructor(readonly id: string, private readonly out: CharBackend | null) {
    this.region = {
      name: id,
      size: 1,
      read: () => DEBUGCON_READBACK,
      write: (_offset, _size, value) => {
        this.byte[0] = value & 0xff;
        this.out?.write(this.byte);
      },
    };
  }

  reset(): void {}

  saveState(): IsaDebugconState { return {}; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported isa-debugcon state version ${version}`);
    expectRecord(state, this.id);
  }
}
