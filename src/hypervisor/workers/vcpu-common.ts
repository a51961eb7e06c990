// What every vCPU worker shares: the host-request protocol (pause, stop, new state) and the
// forwarding of port and MMIO accesses into the ioreq channel.

import type { MessagePort } from 'node:worker_threads';
import { ControlBlock, VcpuRequest, VcpuRunState } from '../control.js';
import type { FromVcpu, ToVcpu } from '../messages.js';
import type { CpuState } from '../vcpu.js';

/** Host requests as a vCPU loop sees them. */
export class HostRequests {
  private pendingStates: CpuState[] | null = null;

  constructor(readonly control: ControlBlock, readonly ids: number[], private readonly port: MessagePort) {
    port.on('message', (m: ToVcpu) => {
      // Only sent while paused; applied when the vCPUs resume.
      if (m.kind === 'set-state') {
        this.pendingStates = m.states;
        this.post({ kind: 'state-set' });
      }
    });
  }

  post(m: FromVcpu): void { this.port.postMessage(m); }

  /** Any request bit for any of this worker's vCPUs. */
  pending(): number {
    let r = 0;
    for (const id of this.ids) r |= this.control.requests(id);
    return r;
  }

  /**
   * Parks the vCPUs while a pause is requested (serving messages meanwhile). Returns new states
   * if the host set them while paused, and 'stop' when the VM is stopping.
   */
  async park(): Promise<CpuState[] | 'stop' | null> {
    const c = this.control;
    for (const id of this.ids) c.setRunState(id, VcpuRunState.Paused);
    for (;;) {
      const req = this.pending();
      if (req & VcpuRequest.Stop) { for (const id of this.ids) c.setRunState(id, VcpuRunState.Stopped); return 'stop'; }
      if (!(req & VcpuRequest.Pause)) break;
      const idx = c.requestIndex(this.ids[0]!);
      const r = Atomics.waitAsync(c.words, idx, Atomics.load(c.words, idx), 100);
      if (r.async) await r.value;
      await new Promise((res) => setImmediate(res));
    }
    for (const id of this.ids) c.setRunState(id, VcpuRunState.Running);
    const s = this.pendingStates;
    this.pendingStates = null;
    return s;
  }

  /** Parks until the host pauses, sets a new state, and resumes (after a shutdown). */
  async awaitNewState(): Promise<CpuState[] | 'stop'> {
    for (;;) {
      const r = await this.park();
      if (r !== null) return r;
      await new Promise((res) => setTimeout(res, 1));
    }
  }
}

/** Little-endian value of `size` bytes at `o` in `d`. */
export function readLe(d: Uint8Array, o: number, size: number): number {
  let v = d[o]!;
  if (size > 1) v |= d[o + 1]! << 8;
  if (size > 2) v |= (d[o + 2]! << 16) | (d[o + 3]! << 24);
  return v >>> 0;
}

/** Stores `size` bytes of `v` little-endian at `o` in `d`. */
export function writeLe(d: Uint8Array, o: number, size: number, v: number): void {
  d[o] = v & 0xff;
  if (size > 1) d[o + 1] = (v >>> 8) & 0xff;
  if (size > 2) { d[o + 2] = (v >>> 16) & 0xff; d[o + 3] = (v >>> 24) & 0xff; }
}
