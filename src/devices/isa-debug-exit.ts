// QEMU's isa-debug-exit (hw/misc/debugexit.c behaviour): a write of V ends the run with
// process status (V << 1) | 1 — the caller of SystemControl.exit computes that. Reads return
// zero, as QEMU's do (guests probe for the device that way). Here the port is one byte wide:
// a wider write is split by the bus, and only the first byte (the low one) counts, which is
// also all an 8-bit exit status can carry of (V << 1) | 1.

import type { Device, IoRegion, SystemControl } from './api.js';
import { expectRecord } from './api.js';
import { expectBool } from './byte-ring.js';

/** Saved state: whether the exit was already requested. */
export interface IsaDebugExitState { exited: boolean }

/** The debug-exit port. */
export class IsaDebugExit implements Device<IsaDebugExitState> {
  readonly stateVersion = 1;
  readonly region: IoRegion;
  /** Set by the first write; later bytes (the rest of a split wide write) are ignored. */
  private exited = false;

  constructor(readonly id: string, private readonly system: SystemControl) {
    this.region = {
      name: id,
      size: 1,
      read: () => 0,
      write: (_offset, _size, value) => {
        if (this.exited) return;
        this.exited = true;
        this.system.exit(value & 0xff);
      },
    };
  }

  reset(): void { this.exited = false; }

  saveState(): IsaDebugExitState { return { exited: this.exited }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported isa-debug-exit state version ${version}`);
    this.exited = expectBool(expectRecord(state, this.id), 'exited');
  }
}
