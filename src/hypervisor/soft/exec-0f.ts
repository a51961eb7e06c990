// The two-byte (0F) opcode map of the soft x86 core: system instructions, CMOVcc/SETcc/Jcc near,
// bit instructions, double shifts, CMPXCHG/XADD/CMPXCHG8B, MOVZX/MOVSX, BSWAP; the x87/MMX/SSE
// part of the map goes to the attached units.

import type { SoftCpu } from './cpu.js';
import { M_MEM, OP_32, P_O32, R_DISP, R_IMM, R_M, R_PFX } from './decoder.js';
import { maskOf } from './alu.js';
import { CR0_PE, CR0_TS, CR4_PCE, CR4_TSD, EAX, EBX, ECX, EDX, FS, GS, LDTR, SS, TR } from './defs.js';
import { descLimit } from './segmentation.js';


export function exec0F(c: SoftCpu, op: number, p: number): void {
  const ins = c.ins, regs = c.regs;
  const sz = (op & OP_32) !== 0 ? 4 : 2;
  const b = op & 0xff;
  const m = ins[p + R_M]!;
  const reg = (m >> 3) & 7;
  if (c.sseOps[b] === 1) { c.execSse(b, p); return; }
  switch (b) {
    case 0x00: group6(c, p, m, reg, sz); return;
    case 0x01: group7(c, p, m, reg, sz); return;
    case 0x02: case 0x03: { // LAR / LSL
      c.requireProtected();
      const sel = c.readRm(p, 2);
      if (!c.probeDesc(sel, b === 0x02)) { c.setZF(0); return; }
      const v = b === 0x02 ? c.descHi & 0x00ffff00 : descLimit(c.descLo, c.descHi);
      c.setReg(reg, sz, v);
      c.setZF(1);
      return;
    }
    case 0x06: c.requireCpl0(); c.cr0 &= ~CR0_TS; return;
    case 0x08: case 0x09: c.requireCpl0(); return;
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: return;
    case 0x20: c.requireCpl0(); regs[m & 7] = c.readCr(reg); return;
    case 0x22: c.requireCpl0(); c.writeCr(reg, regs[m & 7]!); return;
    case 0x21: c.requireCpl0(); regs[m & 7] = c.readDr(reg); return;
    case 0x23: c.requireCpl0(); c.writeDr(reg, regs[m & 7]!); return;
    case 0x30: c.requireCpl0(); c.wrmsr(regs[ECX]! >>> 0, regs[EAX]!, regs[EDX]!); return;
    case 0x32: c.requireCpl0(); regs[EAX] = c.rdmsr(regs[ECX]! >>> 0); regs[EDX] = c.hi; return;
    case 0x31: {
      if ((c.cr4 & CR4_TSD) !== 0 && c.cpl !== 0 && (c.cr0 & CR0_PE) !== 0) c.gp(0);
      const t = c.tsc();
      regs[EAX] = t | 0;
      regs[EDX] = Math.floor(t / 4294967296) | 0;
      return;
    }
    case 0x33: {
      if ((c.cr4 & CR4_PCE) === 0 && c.cpl !== 0 && (c.cr0 & CR0_PE) !== 0) c.gp(0);
      const n = regs[ECX]!;
      if (n !== 0 && n !== 1) c.gp(0);
      regs[EAX] = c.perf[2 + n]!;
      regs[EDX] = 0;
      return;
    }
    case 0x34: c.sysenter(); return;
    case 0x35: c.sysexit(); return;
    case 0xa2: {
      c.cpuidLeaf(regs[EAX]!);
      const o = c.cpuidOut;
      regs[EAX] = o[0]!; regs[EBX] = o[1]!; regs[ECX] = o[2]!; regs[EDX] = o[3]!;
      return;
    }
    case 0xa0: case 0xa8: c.pushSz(c.segSel[b === 0xa0 ? FS : GS]!, sz); return;
    case 0xa1: case 0xa9: {
      const v = c.peekSz(0, sz);
      c.loadSeg(b === 0xa1 ? FS : GS, v);
      c.addSp(sz);
      return;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitOp(c, p, m, sz, (b >> 3) & 3, c.getReg(reg, sz), false); return;
    case 0xba: bitOp(c, p, m, sz, reg & 3, ins[p + R_IMM]!, true); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      const count = (b & 1) === 0 ? ins[p + R_IMM]! & 31 : regs[ECX]! & 31;
      const src = c.getReg(reg, sz);
      if ((m & M_MEM) === 0) {
        if (count !== 0) c.setReg(m & 7, sz, c.shiftDouble(b < 0xa8, c.getReg(m & 7, sz), src, count, sz));
      } else {
        const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
        const v = count !== 0 ? c.rmwSz(s, o, sz) : c.rdSz(s, o, sz);
        if (count !== 0) c.wrSz(s, o, sz, c.shiftDouble(b < 0xa8, v, src, count, sz));
      }
      return;
    }
    case 0xaf: c.setReg(reg, sz, c.imulTrunc(c.getReg(reg, sz), c.readRm(p, sz), sz)); return;
    case 0xb0: case 0xb1: { // CMPXCHG
      const size = b === 0xb0 ? 1 : sz, mask = maskOf(size);
      const acc = c.getReg(EAX, size);
      if ((m & M_MEM) === 0) {
        const d = c.getReg(m & 7, size);
        c.alu(7, acc, d, mask);
        if (((acc ^ d) & mask) === 0) c.setReg(m & 7, size, c.getReg(reg, size));
        else c.setReg(EAX, size, d);
      } else {
        const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
        const d = c.rdSz(s, o, size);
        const eq = ((acc ^ d) & mask) === 0;
        c.wrSz(s, o, size, eq ? c.getReg(reg, size) : d);
        c.alu(7, acc, d, mask);
        if (!eq) c.setReg(EAX, size, d);
      }
      return;
    }
    case 0xc0: case 0xc1: { // XADD
      const size = b === 0xc0 ? 1 : sz, mask = maskOf(size);
      const src = c.getReg(reg, size);
      if ((m & M_MEM) === 0) {
        const d = c.getReg(m & 7, size);
        const r = c.alu(0, d, src, mask);
        c.setReg(reg, size, d);
        c.setReg(m & 7, size, r);
      } else {
        const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
        const d = c.rdSz(s, o, size);
        const r = (d + src) | 0;
        c.wrSz(s, o, size, r);
        c.alu(0, d, src, mask);
        c.setReg(reg, size, d);
      }
      return;
    }
    case 0xc7: { // CMPXCHG8B
      const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      c.checkSegWrite(s, o, 8);
      const lo = c.rd32(s, o), hi = c.rd32(s, (o + 4) | 0);
      if (lo === regs[EAX] && hi === regs[EDX]) {
        c.wr32(s, o, regs[EBX]!); c.wr32(s, (o + 4) | 0, regs[ECX]!);
        c.setZF(1);
      } else {
        c.wr32(s, o, lo); c.wr32(s, (o + 4) | 0, hi);
        regs[EAX] = lo; regs[EDX] = hi;
        c.setZF(0);
      }
      return;
    }
    case 0xb2: case 0xb4: case 0xb5: { // LSS LFS LGS
      const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      const off = c.rdSz(s, o, sz);
      const sel = c.rd16(s, (o + sz) | 0);
      c.loadSeg(b === 0xb2 ? SS : b === 0xb4 ? FS : GS, sel);
      c.setReg(reg, sz, off);
      return;
    }
    case 0xb6: c.setReg(reg, sz, c.readRm(p, 1)); return;
    case 0xb7: c.setReg(reg, sz, c.readRm(p, 2)); return;
    case 0xbe: c.setReg(reg, sz, (c.readRm(p, 1) << 24) >> 24); return;
    case 0xbf: c.setReg(reg, sz, (c.readRm(p, 2) << 16) >> 16); return;
    case 0xbc: case 0xbd: {
      const r = c.bitScan(c.readRm(p, sz), b === 0xbd, maskOf(sz));
      if (r >= 0) c.setReg(reg, sz, r);
      return;
    }
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      const r = b & 7, v = regs[r]!;
      if (sz === 4) regs[r] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
      else c.setReg16(r, 0);
      return;
    }
    default:
      if (b >= 0x40 && b <= 0x4f) { // CMOVcc: the source is read either way
        const v = c.readRm(p, sz);
        if (c.cond(b & 0xf)) c.setReg(reg, sz, v);
        return;
      }
      if (b >= 0x80 && b <= 0x8f) {
        if (c.cond(b & 0xf)) c.jumpNear((c.nextEip + ins[p + R_IMM]!) | 0, op);
        return;
      }
      if (b >= 0x90 && b <= 0x9f) { c.writeRm(p, 1, c.cond(b & 0xf) ? 1 : 0); return; }
      c.ud();
  }
}

/** BT BTS BTR BTC (kind 0-3) with a register or immediate bit offset. */
function bitOp(c: SoftCpu, p: number, m: number, sz: number, kind: number, off: number, imm: boolean): void {
  const bits = sz * 8;
  if ((m & M_MEM) === 0) {
    const bit = off & (bits - 1);
    const v = c.getReg(m & 7, sz);
    c.setCF((v >>> bit) & 1);
    if (kind !== 0) c.setReg(m & 7, sz, bitApply(kind, v, bit));
    return;
  }
  const s = (m >> 20) & 7;
  let o = c.ea(m, c.ins[p + R_DISP]!);
  let bit: number;
  if (imm) bit = off & (bits - 1);
  else {
    const so = sz === 4 ? off : (off << 16) >> 16;
    o = (o + (so >> (sz === 4 ? 5 : 4)) * sz) | 0;
    if ((m & (1 << 18)) !== 0) o &= 0xffff;
    bit = so & (bits - 1);
  }
  const v = c.rdSz(s, o, sz);
  if (kind !== 0) c.wrSz(s, o, sz, bitApply(kind, v, bit));
  c.setCF((v >>> bit) & 1);
}

function bitApply(kind: number, v: number, bit: number): number {
  switch (kind) {
    case 1: return v | (1 << bit);
    case 2: return v & ~(1 << bit);
    default: return v ^ (1 << bit);
  }
}

/** 0F 00: SLDT STR LLDT LTR VERR VERW. */
function group6(c: SoftCpu, p: number, m: number, reg: number, sz: number): void {
  c.requireProtected();
  switch (reg) {
    case 0: case 1: {
      const v = c.segSel[reg === 0 ? LDTR : TR]!;
      if ((m & M_MEM) === 0) c.setReg(m & 7, sz, v); else c.writeRm(p, 2, v);
      return;
    }
    case 2: c.lldt(c.readRm(p, 2)); return;
    case 3: c.ltr(c.readRm(p, 2)); return;
    default: c.setZF(c.verify(c.readRm(p, 2), reg === 5) ? 1 : 0);
  }
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
function group7(c: SoftCpu, p: number, m: number, reg: number, sz: number): void {
  const ins = c.ins;
  switch (reg) {
    case 0: case 1: {
      const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      const base = reg === 0 ? c.gdtBase : c.idtBase;
      c.checkSegWrite(s, o, 6);
      c.wr16(s, o, reg === 0 ? c.gdtLimit : c.idtLimit);
      c.wr32(s, (o + 2) | 0, sz === 4 ? base : base & 0xffffff);
      return;
    }
    case 2: case 3: {
      c.requireCpl0();
      const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      const limit = c.rd16(s, o);
      let base = c.rd32(s, (o + 2) | 0);
      if ((ins[p + R_PFX]! & P_O32) === 0) base &= 0xffffff;
      if (reg === 2) { c.gdtBase = base; c.gdtLimit = limit; } else { c.idtBase = base; c.idtLimit = limit; }
      return;
    }
    case 4: {
      if ((m & M_MEM) === 0) c.setReg(m & 7, sz, c.cr0); else c.writeRm(p, 2, c.cr0);
      return;
    }
    case 6: {
      c.requireCpl0();
      const v = c.readRm(p, 2);
      // LMSW sets PE but never clears it; only PE MP EM TS change.
      c.writeCr(0, (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0_PE));
      return;
    }
    default: {
      c.requireCpl0();
      const s = (m >> 20) & 7;
      c.invalidatePage((c.segBase[s]! + c.ea(m, ins[p + R_DISP]!)) | 0);
    }
  }
}

