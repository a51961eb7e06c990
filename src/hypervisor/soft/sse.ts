// placeholder replaced below
import type { DecodedOperand, FpuHost } from './api.js';
import type { SseUnit } from './cpu.js';
import type { X87 } from './x87.js';
import { fxsaveX87, fxrstorX87 } from './x87-env.js';

export class Sse implements SseUnit {
  mxcsr = 0x1f80;
  constructor(readonly host: FpuHost, readonly x87: X87) {}
  reset(): void { this.mxcsr = 0x1f80; }
  exec0F(op: number, prefix: number, d: DecodedOperand): boolean {
    void prefix;
    if (op === 0xae && d.ea >= 0 && d.reg === 0) {
      fxsaveX87(this.x87, d.ea);
      this.host.write32(d.ea + 24, this.mxcsr);
      return true;
    }
    if (op === 0xae && d.ea >= 0 && d.reg === 1) { fxrstorX87(this.x87, d.ea); return true; }
    return false;
  }
}
