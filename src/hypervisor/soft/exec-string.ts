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
    case 0xa4: case 0xa5: { // MOVS
      // Whole runs within a page through the TLB; an element the fast path cannot take (a page
      // not in the TLB yet, MMIO, decoded code) goes the checked way, then the fast path again.
      const fast = rep && delta > 0 && a32;
      while (done < slice) {
        if (fast) {
          const k = fastMovs(c, seg, size, slice - done);
          if (k > 0) { done += k; continue; }
        }
        const v = c.rdSz(seg, regs[ESI]! & amask, size);
        c.wrSz(ES, regs[EDI]! & amask, size, v);
        step(c, ESI, delta, a32);
        step(c, EDI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
        done++;
      }
      break;
    }
    case 0xaa: case 0xab: { // STOS
      const v = c.getReg(EAX, size);
      const fast = rep && delta > 0 && a32;
      while (done < slice) {
        if (fast) {
          const k = fastStos(c, v, size, slice - done);
          if (k > 0) { done += k; continue; }
        }
        c.wrSz(ES, regs[EDI]! & amask, size, v);
        step(c, EDI, delta, a32);
        if (rep) step(c, ECX, -1, a32);
        done++;
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
  c.stringWork += done;
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

// ---- bulk REP MOVS / STOS (forward, 32-bit addressing) inside one page of RAM ----

/**
 * Moves up to `n` elements from seg:ESI to ES:EDI within the current source and destination
 * pages through the TLB and updates ESI, EDI and ECX; returns how many, or 0 when the fast path
 * does not apply (segment limits, a page not in the TLB, MMIO or decoded code: no write entry).
 */
function fastMovs(c: SoftCpu, seg: number, size: number, n: number): number {
  const regs = c.regs;
  const si = regs[ESI]!, di = regs[EDI]!;
  const src = (c.segBase[seg]! + si) | 0, dst = (c.segBase[ES]! + di) | 0;
  const k = Math.min(n, Math.floor((0x1000 - (dst & 0xfff)) / size), Math.floor((0x1000 - (src & 0xfff)) / size));
  if (k <= 0) return 0;
  const bytes = k * size;
  const rl = c.segRLim[seg]!, wl = c.segWLim[ES]!;
  if (rl < 0 || wl < 0 || (si >>> 0) + bytes - 1 > rl + 3 || (di >>> 0) + bytes - 1 > wl + 3) return 0;
  const er = c.tlbR[src >>> 12]!, ew = c.tlbW[dst >>> 12]!;
  if (er === -1 || ew === -1) return 0;
  const so = er ^ src, d = ew ^ dst;
  const u8 = c.u8;
  if (d > so && d < so + bytes) {
    // Overlapping forward copy: element by element, as the instruction does.
    for (let i = 0; i < bytes; i++) u8[d + i] = u8[so + i]!;
  } else {
    u8.copyWithin(d, so, so + bytes);
  }
  regs[ESI] = (si + bytes) | 0;
  regs[EDI] = (di + bytes) | 0;
  regs[ECX] = (regs[ECX]! - k) | 0;
  return k;
}

/** Stores up to `n` elements of `v` at ES:EDI within its page, as fastMovs; returns how many or 0. */
function fastStos(c: SoftCpu, v: number, size: number, n: number): number {
  const regs = c.regs;
  const di = regs[EDI]!;
  const dst = (c.segBase[ES]! + di) | 0;
  const k = Math.min(n, Math.floor((0x1000 - (dst & 0xfff)) / size));
  if (k <= 0) return 0;
  const bytes = k * size;
  const wl = c.segWLim[ES]!;
  if (wl < 0 || (di >>> 0) + bytes - 1 > wl + 3) return 0;
  const ew = c.tlbW[dst >>> 12]!;
  if (ew === -1) return 0;
  const d = ew ^ dst;
  if (size === 1) c.u8.fill(v, d, d + bytes);
  else if (size === 4 && (d & 3) === 0) c.m32.fill(v, d >> 2, (d + bytes) >> 2);
  else if (size === 2 && (d & 1) === 0) c.m16.fill(v, d >> 1, (d + bytes) >> 1);
  else for (let i = 0; i < bytes; i++) c.u8[d + i] = v >>> (8 * (i % size));
  regs[EDI] = (di + bytes) | 0;
  regs[ECX] = (regs[ECX]! - k) | 0;
  return k;
}
