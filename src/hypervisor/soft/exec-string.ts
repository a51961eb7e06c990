// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with REP/REPE/REPNE (SDM vol. 2,
// REP). A repeated instruction runs in slices of at most STRING_SLICE elements; ECX, ESI and EDI
// are updated after every element, so a fault in the middle leaves them pointing at the element
// that faulted, and the instruction restarts from there. When elements remain after a slice the
// instruction does not retire (EIP stays), which lets the run loop take interrupts between slices.

import type { SoftCpu } from './cpu.js';
import { OP_32, P_A32, P_REP, P_REPNE, P_SEG_SHIFT, R_PFX } from './decoder.js';
import { EAX, ECX, EDI, EDX, ES, ESI, FLAG_DF } from './defs.js';
import { maskOf } from './alu.js';

/** Elements per slice of a repeated string instruction. */
const STRING_SLICE = 4096;

export function execString(c: SoftCpu, op: number, p: number): void {
  const regs = c.regs;
  const pfx = c.ins[p + R_PFX]!;
  const a32 = (pfx & P_A32) !== 0;
  const base = op & 0xff;
  const size = (base & 1) === 0 ? 1 : (op & OP_32) !== 0 ? 4 : 2;
  const rep = (pfx & (P_REP | P_REPNE)) !== 0;
  const seg = (pfx >> P_SEG_SHIFT) & 7;
  const delta = (c.eflags & FLAG_DF) !== 0 ? -size : size;
  const amask = a32 ? -1 : 0xffff;
  let count = 1;
  if (rep) {
    count = a32 ? regs[ECX]! >>> 0 : regs[ECX]! & 0xffff;
    if (count === 0) return;
  }
  const slice = Math.min(count, c.stepping ? 1 : STRING_SLICE);
  let done = 0;
  let stop = false;
  switch (base) {
    case 0xa4: case 0xa5: // MOVS
      if (rep && c.fastMovs(seg, size, delta, a32, slice)) { done = c.fastDone; break; }
      for (; done < slice; done++) {
        const v = c.rdSz(seg, regs[ESI]! & amask, size);
        c.wrSz(ES, regs[EDI]! & amask, size, v);
        step(c, ESI, delta, a32);
        step(c, EDI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
      }
      break;
    case 0xaa: case 0xab: { // STOS
      const v = c.getReg(EAX, size);
      if (rep && c.fastStos(v, size, delta, a32, slice)) { done = c.fastDone; break; }
      for (; done < slice; done++) {
        c.wrSz(ES, regs[EDI]! & amask, size, v);
        step(c, EDI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
      }
      break;
    }
    case 0xac: case 0xad: // LODS
      for (; done < slice; done++) {
        c.setReg(EAX, size, c.rdSz(seg, regs[ESI]! & amask, size));
        step(c, ESI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
      }
      break;
    case 0xa6: case 0xa7: { // CMPS
      const mask = maskOf(size);
      for (; done < slice && !stop; done++) {
        const a = c.rdSz(seg, regs[ESI]! & amask, size);
        const b = c.rdSz(ES, regs[EDI]! & amask, size);
        c.alu(7, a, b, mask);
        step(c, ESI, delta, a32);
        step(c, EDI, delta, a32);
        if (rep) { step(c, ECX, -1, a32); stop = repStops(c, pfx); }
      }
      break;
    }
    case 0xae: case 0xaf: { // SCAS
      const mask = maskOf(size);
      const a = c.getReg(EAX, size);
      for (; done < slice && !stop; done++) {
        const b = c.rdSz(ES, regs[EDI]! & amask, size);
        c.alu(7, a, b, mask);
        step(c, EDI, delta, a32);
        if (rep) { step(c, ECX, -1, a32); stop = repStops(c, pfx); }
      }
      break;
    }
    case 0x6c: case 0x6d: { // INS
      const port = regs[EDX]! & 0xffff;
      c.checkIo(port, size);
      for (; done < slice; done++) {
        c.checkSegWrite(ES, regs[EDI]! & amask, size);
        const v = c.io.portRead(port, size as 1 | 2 | 4);
        c.wrSz(ES, regs[EDI]! & amask, size, v);
        step(c, EDI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
      }
      break;
    }
    default: { // OUTS
      const port = regs[EDX]! & 0xffff;
      c.checkIo(port, size);
      for (; done < slice; done++) {
        const v = c.rdSz(seg, regs[ESI]! & amask, size);
        c.io.portWrite(port, size as 1 | 2 | 4, v >>> 0);
        step(c, ESI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
      }
      break;
    }
  }
  // Elements left: run this instruction again (after a possible interrupt).
  if (rep && !stop && done < count) c.nextEip = c.eip;
}

function step(c: SoftCpu, r: number, d: number, a32: boolean): void {
  if (a32) c.regs[r] = (c.regs[r]! + d) | 0;
  else c.setReg16(r, c.regs[r]! + d);
}

/** REPE stops on ZF=0, REPNE on ZF=1 (and both on ECX=0, handled by the count). */
function repStops(c: SoftCpu, pfx: number): boolean {
  const zf = c.getZF();
  return (pfx & P_REPNE) !== 0 ? zf !== 0 : zf === 0;
}
