// The soft x86 core's interpreter over decoded blocks: one `switch` on the operation id for the
// one-byte opcode map (the hot instructions inline), the 0F map and rarer forms in sibling files.

import type { SoftCpu } from './cpu.js';
import {
  M_MEM, OP_32, OP_GP0, OP_PAUSE, OP_UD, P_A32, P_SEG_SHIFT, R_DISP, R_IMM, R_IMM2, R_LEN, R_M, R_PFX, REC,
} from './decoder.js';
import { exec0F } from './exec-0f.js';
import { execString } from './exec-string.js';
import { maskOf } from './alu.js';
import {
  CR0_MP, CR0_TS, DS, EAX, EBP, EBX, ECX, EDX, ESP, FLAG_CF, FLAG_DF, FLAG_IOPL, FLAG_RF, FLAG_VM, SS, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF,
} from './defs.js';
import { IntKind } from './transfer.js';
import { MASK32 } from './core.js';
import { ld32, st32 } from './jit-helpers.js';

/** Executes up to `n` records from `p`; returns how many completed. */
export function execBlock(c: SoftCpu, p: number, n: number): number {
  const ins = c.ins, regs = c.regs;
  const c32 = c.code32;
  let i = 0;
  while (i < n) {
    const op = ins[p]!;
    const eip = c.eip;
    c.nextEip = c32 ? (eip + ins[p + R_LEN]!) | 0 : (eip + ins[p + R_LEN]!) & 0xffff;
    switch (op) {
      // ---- ALU r/m, reg (00 08 10 18 20 28 30 38 and +1) ----
      case 0x201: case 0x209: case 0x211: case 0x219: case 0x221: case 0x229: case 0x231: case 0x239:
        aluRmR32(c, op, p);
        break;
      case 0x203: case 0x20b: case 0x213: case 0x21b: case 0x223: case 0x22b: case 0x233: case 0x23b:
        aluRRm32(c, op, p);
        break;
      case 0x00: case 0x08: case 0x10: case 0x18: case 0x20: case 0x28: case 0x30: case 0x38:
      case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39: {
        const size = (op & 1) === 0 ? 1 : 2, m = ins[p + R_M]!, k = (op >> 3) & 7;
        const b = c.getReg((m >> 3) & 7, size), mask = maskOf(size);
        if ((m & M_MEM) === 0) {
          const r = c.alu(k, c.getReg(m & 7, size), b, mask);
          if (k !== 7) c.setReg(m & 7, size, r);
        } else {
          const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
          const r = c.alu(k, k !== 7 ? c.rmwSz(s, o, size) : c.rdSz(s, o, size), b, mask);
          if (k !== 7) c.wrSz(s, o, size, r);
        }
        break;
      }
      case 0x02: case 0x0a: case 0x12: case 0x1a: case 0x22: case 0x2a: case 0x32: case 0x3a:
      case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b: {
        const size = (op & 1) === 0 ? 1 : 2, m = ins[p + R_M]!, k = (op >> 3) & 7, d = (m >> 3) & 7;
        const r = c.alu(k, c.getReg(d, size), c.readRm(p, size), maskOf(size));
        if (k !== 7) c.setReg(d, size, r);
        break;
      }
      case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
      case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
      case 0x205: case 0x20d: case 0x215: case 0x21d: case 0x225: case 0x22d: case 0x235: case 0x23d: {
        const size = (op & 1) === 0 ? 1 : (op & OP_32) !== 0 ? 4 : 2, k = (op >> 3) & 7;
        const r = c.alu(k, c.getReg(EAX, size), ins[p + R_IMM]!, maskOf(size));
        if (k !== 7) c.setReg(EAX, size, r);
        break;
      }
      case 0x281: case 0x283: aluRmImm32(c, p); break;
      case 0x80: case 0x82: case 0x81: case 0x83: {
        const size = (op & 0xff) === 0x80 || (op & 0xff) === 0x82 ? 1 : (op & OP_32) !== 0 ? 4 : 2;
        const m = ins[p + R_M]!, k = (m >> 3) & 7, mask = maskOf(size), imm = ins[p + R_IMM]!;
        if ((m & M_MEM) === 0) {
          const r = c.alu(k, c.getReg(m & 7, size), imm, mask);
          if (k !== 7) c.setReg(m & 7, size, r);
        } else {
          const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
          const r = c.alu(k, k !== 7 ? c.rmwSz(s, o, size) : c.rdSz(s, o, size), imm, mask);
          if (k !== 7) c.wrSz(s, o, size, r);
        }
        break;
      }
      case 0x84: case 0x85: case 0x285: {
        const size = op === 0x84 ? 1 : (op & OP_32) !== 0 ? 4 : 2;
        const m = ins[p + R_M]!;
        c.alu(4, c.readRm(p, size), c.getReg((m >> 3) & 7, size), maskOf(size));
        break;
      }
      case 0xa8: case 0xa9: case 0x2a9: {
        const size = op === 0xa8 ? 1 : (op & OP_32) !== 0 ? 4 : 2;
        c.alu(4, c.getReg(EAX, size), ins[p + R_IMM]!, maskOf(size));
        break;
      }

      case 0x90: case 0x290:
        break;

      // ---- MOV ----
      case 0x289: movStore32(c, p); break;
      case 0x28b: movLoad32(c, p); break;
      case 0x88: case 0x89: {
        const size = op === 0x88 ? 1 : 2;
        c.writeRm(p, size, c.getReg((ins[p + R_M]! >> 3) & 7, size));
        break;
      }
      case 0x8a: case 0x8b: {
        const size = op === 0x8a ? 1 : 2;
        c.setReg((ins[p + R_M]! >> 3) & 7, size, c.readRm(p, size));
        break;
      }
      case 0xc6: case 0xc7: case 0x2c7: {
        c.writeRm(p, op === 0xc6 ? 1 : (op & OP_32) !== 0 ? 4 : 2, ins[p + R_IMM]!);
        break;
      }
      case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
        c.setReg8(op & 7, ins[p + R_IMM]!);
        break;
      case 0x2b8: case 0x2b9: case 0x2ba: case 0x2bb: case 0x2bc: case 0x2bd: case 0x2be: case 0x2bf:
        regs[op & 7] = ins[p + R_IMM]!;
        break;
      case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
        c.setReg16(op & 7, ins[p + R_IMM]!);
        break;
      case 0xa0: case 0xa1: case 0x2a1: {
        const size = op === 0xa0 ? 1 : (op & OP_32) !== 0 ? 4 : 2, m = ins[p + R_M]!;
        c.setReg(EAX, size, c.rdSz((m >> 20) & 7, c.ea(m, ins[p + R_DISP]!), size));
        break;
      }
      case 0xa2: case 0xa3: case 0x2a3: {
        const size = op === 0xa2 ? 1 : (op & OP_32) !== 0 ? 4 : 2, m = ins[p + R_M]!;
        c.wrSz((m >> 20) & 7, c.ea(m, ins[p + R_DISP]!), size, c.getReg(EAX, size));
        break;
      }
      case 0x8d: case 0x28d: {
        const m = ins[p + R_M]!;
        c.setReg((m >> 3) & 7, (op & OP_32) !== 0 ? 4 : 2, c.ea(m, ins[p + R_DISP]!));
        break;
      }
      case 0x8c: case 0x28c: {
        const m = ins[p + R_M]!, v = c.segSel[(m >> 3) & 7]!;
        if ((m & M_MEM) === 0) c.setReg(m & 7, (op & OP_32) !== 0 ? 4 : 2, v);
        else c.wr16((m >> 20) & 7, c.ea(m, ins[p + R_DISP]!), v);
        break;
      }
      case 0x8e: case 0x28e: {
        const m = ins[p + R_M]!, s = (m >> 3) & 7;
        c.loadSeg(s, c.readRm(p, 2));
        if (s === SS) c.shadow = true;
        break;
      }

      // ---- INC/DEC/PUSH/POP register ----
      case 0x240: case 0x241: case 0x242: case 0x243: case 0x244: case 0x245: case 0x246: case 0x247:
        regs[op & 7] = c.inc(regs[op & 7]!, MASK32);
        break;
      case 0x248: case 0x249: case 0x24a: case 0x24b: case 0x24c: case 0x24d: case 0x24e: case 0x24f:
        regs[op & 7] = c.dec(regs[op & 7]!, MASK32);
        break;
      case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
        c.setReg16(op & 7, c.inc(regs[op & 7]!, 0xffff));
        break;
      case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
        c.setReg16(op & 7, c.dec(regs[op & 7]!, 0xffff));
        break;
      case 0x250: case 0x251: case 0x252: case 0x253: case 0x254: case 0x255: case 0x256: case 0x257:
        c.push32(regs[op & 7]!);
        break;
      case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
        c.push16(regs[op & 7]!);
        break;
      case 0x258: case 0x259: case 0x25a: case 0x25b: case 0x25c: case 0x25d: case 0x25e: case 0x25f: {
        const v = c.pop32();
        regs[op & 7] = v;
        break;
      }
      case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
        const v = c.pop16();
        c.setReg16(op & 7, v);
        break;
      }
      case 0x68: case 0x268: case 0x6a: case 0x26a:
        c.pushSz(ins[p + R_IMM]!, (op & OP_32) !== 0 ? 4 : 2);
        break;

      // ---- jumps, calls, returns ----
      case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
      case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
      case 0x270: case 0x271: case 0x272: case 0x273: case 0x274: case 0x275: case 0x276: case 0x277:
      case 0x278: case 0x279: case 0x27a: case 0x27b: case 0x27c: case 0x27d: case 0x27e: case 0x27f:
        if (c.cond(op & 0xf)) c.jumpNear((c.nextEip + ins[p + R_IMM]!) | 0, op);
        break;
      case 0xeb: case 0x2eb: case 0xe9: case 0x2e9:
        c.jumpNear((c.nextEip + ins[p + R_IMM]!) | 0, op);
        break;
      case 0x2e8: {
        const t = (c.nextEip + ins[p + R_IMM]!) | 0;
        c.checkCsLimit(t);
        c.push32(c.nextEip);
        c.nextEip = t;
        break;
      }
      case 0xe8: {
        const t = (c.nextEip + ins[p + R_IMM]!) & 0xffff;
        c.checkCsLimit(t);
        c.push16(c.nextEip);
        c.nextEip = t;
        break;
      }
      case 0x2c3: {
        const t = c.peekSz(0, 4);
        c.checkCsLimit(t);
        c.addSp(4);
        c.nextEip = t;
        break;
      }
      case 0xc3: case 0xc2: case 0x2c2: {
        const size = (op & OP_32) !== 0 ? 4 : 2;
        const t = size === 4 ? c.peekSz(0, 4) : c.peekSz(0, 2);
        c.checkCsLimit(t);
        c.addSp(size + (op === 0xc3 ? 0 : ins[p + R_IMM]!));
        c.nextEip = t;
        break;
      }
      case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x2e0: case 0x2e1: case 0x2e2: case 0x2e3: {
        const a32 = (ins[p + R_PFX]! & P_A32) !== 0;
        let cx = a32 ? regs[ECX]! : regs[ECX]! & 0xffff;
        let take: boolean;
        if ((op & 0xff) === 0xe3) take = cx === 0;
        else {
          cx = a32 ? (cx - 1) | 0 : (cx - 1) & 0xffff;
          if (a32) regs[ECX] = cx; else c.setReg16(ECX, cx);
          take = cx !== 0;
          if ((op & 0xff) === 0xe0) take = take && c.getZF() === 0;
          else if ((op & 0xff) === 0xe1) take = take && c.getZF() !== 0;
        }
        if (take) c.jumpNear((c.nextEip + ins[p + R_IMM]!) | 0, op);
        break;
      }
      case 0x9a: case 0x29a:
        c.farCall(ins[p + R_IMM2]!, ins[p + R_IMM]!, (op & OP_32) !== 0 ? 4 : 2);
        break;
      case 0xea: case 0x2ea:
        c.farJmp(ins[p + R_IMM2]!, ins[p + R_IMM]!, (op & OP_32) !== 0 ? 4 : 2);
        break;
      case 0xca: case 0x2ca: case 0xcb: case 0x2cb:
        c.farRet((op & OP_32) !== 0 ? 4 : 2, (op & 0xff) === 0xca ? ins[p + R_IMM]! : 0);
        break;
      case 0xcc: case 0x2cc:
        c.interrupt(3, c.nextEip, -1, IntKind.Software);
        break;
      case 0xcd: case 0x2cd:
        c.interrupt(ins[p + R_IMM]!, c.nextEip, -1, IntKind.Software);
        break;
      case 0xce: case 0x2ce:
        if (c.getOF() !== 0) c.interrupt(4, c.nextEip, -1, IntKind.Software);
        break;
      case 0xf1: case 0x2f1:
        c.interrupt(1, c.nextEip, -1, IntKind.External);
        break;
      case 0xcf: case 0x2cf:
        c.iret((op & OP_32) !== 0 ? 4 : 2);
        break;

      default:
        execOther(c, op, p);
    }
    c.eip = c.nextEip;
    i++;
    p += REC;
    if (c.smc) break;
  }
  return i;
}

/** Less frequent one-byte opcodes. */
function execOther(c: SoftCpu, op: number, p: number): void {
  const ins = c.ins, regs = c.regs;
  const sz = (op & OP_32) !== 0 ? 4 : 2;
  switch (op & 0x1ff) {
    case 0x06: case 0x0e: case 0x16: case 0x1e:
      c.pushSz(c.segSel[(op >> 3) & 3]!, sz);
      return;
    case 0x07: case 0x17: case 0x1f: {
      const v = c.peekSz(0, sz);
      c.loadSeg((op >> 3) & 3, v);
      c.addSp(sz);
      if ((op & 0xff) === 0x17) c.shadow = true;
      return;
    }
    case 0x27: c.daa(); return;
    case 0x2f: c.das(); return;
    case 0x37: c.aaa(false); return;
    case 0x3f: c.aaa(true); return;
    case 0x60: { // PUSHA
      const sp0 = regs[ESP]!;
      for (let r = 0; r < 8; r++) {
        const off = c.ss32 ? (sp0 - (r + 1) * sz) | 0 : (sp0 - (r + 1) * sz) & 0xffff;
        c.wrSz(SS, off, sz, r === ESP ? sp0 : regs[r]!);
      }
      c.addSp(-8 * sz);
      return;
    }
    case 0x61: { // POPA
      const vals = c.scratch8;
      for (let r = 0; r < 8; r++) vals[7 - r] = c.peekSz(r * sz, sz);
      for (let r = 0; r < 8; r++) if (r !== ESP) c.setReg(r, sz, vals[r]!);
      c.addSp(8 * sz);
      return;
    }
    case 0x62: { // BOUND
      const m = ins[p + R_M]!, s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      const idx = sz === 4 ? regs[(m >> 3) & 7]! : (regs[(m >> 3) & 7]! << 16) >> 16;
      const lo = sz === 4 ? c.rd32(s, o) : (c.rd16(s, o) << 16) >> 16;
      const hi = sz === 4 ? c.rd32(s, (o + 4) | 0) : (c.rd16(s, (o + 2) | 0) << 16) >> 16;
      if (idx < lo || idx > hi) c.raise(5);
      return;
    }
    case 0x63: { // ARPL
      if (!c.protectedMode) c.ud();
      const m = ins[p + R_M]!;
      const d = c.readRm(p, 2), src = regs[(m >> 3) & 7]! & 3;
      if ((d & 3) < src) { c.writeRm(p, 2, (d & ~3) | src); c.setZF(1); } else c.setZF(0);
      return;
    }
    case 0x69: case 0x6b: {
      const m = ins[p + R_M]!;
      c.setReg((m >> 3) & 7, sz, c.imulTrunc(c.readRm(p, sz), ins[p + R_IMM]!, sz));
      return;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      execString(c, op, p);
      return;
    case 0x86: case 0x87: {
      const size = op === 0x86 ? 1 : sz, m = ins[p + R_M]!, r = (m >> 3) & 7;
      const a = c.readRm(p, size);
      c.writeRm(p, size, c.getReg(r, size));
      c.setReg(r, size, a);
      return;
    }
    case 0x8f: { // POP r/m: the address uses ESP after the pop
      const v = c.peekSz(0, sz);
      const m = ins[p + R_M]!;
      if ((m & M_MEM) === 0) { c.addSp(sz); c.setReg(m & 7, sz, v); return; }
      const old = regs[ESP]!;
      c.addSp(sz);
      try { c.writeRm(p, sz, v); } catch (e) { regs[ESP] = old; throw e; }
      return;
    }
    case 0x90: return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const r = op & 7, a = c.getReg(EAX, sz);
      c.setReg(EAX, sz, c.getReg(r, sz));
      c.setReg(r, sz, a);
      return;
    }
    case 0x98:
      if (sz === 4) regs[EAX] = (regs[EAX]! << 16) >> 16; else c.setReg16(EAX, (regs[EAX]! << 24) >> 24);
      return;
    case 0x99:
      if (sz === 4) regs[EDX] = regs[EAX]! >> 31; else c.setReg16(EDX, (regs[EAX]! << 16) >> 31);
      return;
    case 0x9b:
      if ((c.cr0 & (CR0_TS | CR0_MP)) === (CR0_TS | CR0_MP)) c.raise(7);
      if (c.fpu !== null) c.fpu.fwait();
      return;
    case 0x9c: { // PUSHF
      if (c.v86 && (c.eflags & FLAG_IOPL) !== FLAG_IOPL) c.gp(0);
      c.pushSz(c.getEflags() & ~(FLAG_VM | FLAG_RF), sz);
      return;
    }
    case 0x9d: c.popf(sz); return;
    case 0x9e: { // SAHF
      const ah = c.getReg8(4);
      const keep = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF;
      c.setArith((c.getArith() & ~keep) | (ah & keep));
      return;
    }
    case 0x9f: c.setReg8(4, (c.getArith() & 0xd5) | 2); return;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = (op & 1) === 0 ? 1 : sz;
      const base = op & 0xff;
      const count = (base <= 0xc1 ? ins[p + R_IMM]! : base <= 0xd1 ? 1 : regs[ECX]!) & 0x1f;
      const m = ins[p + R_M]!;
      if ((m & M_MEM) === 0) {
        if (count !== 0) c.setReg(m & 7, size, c.shift((m >> 3) & 7, c.getReg(m & 7, size), count, size));
      } else {
        const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
        const v = count !== 0 ? c.rmwSz(s, o, size) : c.rdSz(s, o, size);
        if (count !== 0) c.wrSz(s, o, size, c.shift((m >> 3) & 7, v, count, size));
      }
      return;
    }
    case 0xc4: case 0xc5: { // LES/LDS
      const m = ins[p + R_M]!, s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
      const off = c.rdSz(s, o, sz);
      const sel = c.rd16(s, (o + sz) | 0);
      c.loadSeg((op & 0xff) === 0xc4 ? 0 : DS, sel);
      c.setReg((m >> 3) & 7, sz, off);
      return;
    }
    case 0xc8: c.enter(ins[p + R_IMM]!, ins[p + R_IMM2]! & 31, sz); return;
    case 0xc9: { // LEAVE
      const bp = c.ss32 ? regs[EBP]! : regs[EBP]! & 0xffff;
      const v = c.rdSz(SS, bp, sz);
      if (c.ss32) regs[ESP] = (bp + sz) | 0; else c.setReg16(ESP, bp + sz);
      c.setReg(EBP, sz, v);
      return;
    }
    case 0xd4: c.aam(ins[p + R_IMM]!); return;
    case 0xd5: c.aad(ins[p + R_IMM]!); return;
    case 0xd6: c.setReg8(0, c.getCF() !== 0 ? 0xff : 0); return;
    case 0xd7: { // XLAT
      const a32 = (ins[p + R_PFX]! & P_A32) !== 0;
      const base = a32 ? regs[EBX]! : regs[EBX]! & 0xffff;
      const off = a32 ? (base + (regs[EAX]! & 0xff)) | 0 : (base + (regs[EAX]! & 0xff)) & 0xffff;
      c.setReg8(0, c.rd8((ins[p + R_PFX]! >> P_SEG_SHIFT) & 7, off));
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      c.execFpu(op & 0xff, p);
      return;
    case 0xe4: case 0xe5: case 0xec: case 0xed: {
      const size = (op & 1) === 0 ? 1 : sz;
      const port = (op & 0xff) <= 0xe5 ? ins[p + R_IMM]! : regs[EDX]! & 0xffff;
      c.checkIo(port, size);
      c.setReg(EAX, size, c.io.portRead(port, size as 1 | 2 | 4));
      return;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {
      const size = (op & 1) === 0 ? 1 : sz;
      const port = (op & 0xff) <= 0xe7 ? ins[p + R_IMM]! : regs[EDX]! & 0xffff;
      c.checkIo(port, size);
      c.io.portWrite(port, size as 1 | 2 | 4, c.getReg(EAX, size) >>> 0);
      return;
    }
    case 0xf4: // HLT
      if (c.cpl !== 0) c.gp(0);
      c.halted = true;
      return;
    case 0xf5: c.setArith(c.getArith() ^ FLAG_CF); return;
    case 0xf6: case 0xf7: c.group3(op === 0xf6 ? 1 : sz, p); return;
    case 0xf8: c.setArith(c.getArith() & ~FLAG_CF); return;
    case 0xf9: c.setArith(c.getArith() | FLAG_CF); return;
    case 0xfa: c.cli(); return;
    case 0xfb: c.sti(); return;
    case 0xfc: c.eflags &= ~FLAG_DF; return;
    case 0xfd: c.eflags |= FLAG_DF; return;
    case 0xfe: {
      const m = ins[p + R_M]!;
      if ((m & M_MEM) === 0) {
        const v = c.getReg8(m & 7);
        c.setReg8(m & 7, (m & 0x38) === 0 ? c.inc(v, 0xff) : c.dec(v, 0xff));
      } else {
        const s = (m >> 20) & 7, o = c.ea(m, ins[p + R_DISP]!);
        const v = c.rmwSz(s, o, 1);
        c.wr8(s, o, (m & 0x38) === 0 ? c.inc(v, 0xff) : c.dec(v, 0xff));
      }
      return;
    }
    case 0xff: c.group5(sz, p); return;
    default:
      if (op === OP_GP0) c.gp(0);
      if (op === OP_UD) c.ud();
      if (op === OP_PAUSE) { c.pause(); return; }
      if ((op & 0x100) !== 0) { exec0F(c, op, p); return; }
      c.ud();
  }
}


// ---- hot 32-bit forms, small enough for V8 to inline their callees ----

/** The 32-bit memory operand of record `p` (the compiled regions' fast path, jit-helpers.ts). */
function memRead32(c: SoftCpu, m: number, p: number): number {
  return ld32(c, (m >> 20) & 7, c.ea(m, c.ins[p + R_DISP]!));
}

function memWrite32(c: SoftCpu, m: number, p: number, v: number): void {
  st32(c, (m >> 20) & 7, c.ea(m, c.ins[p + R_DISP]!), v);
}

function movLoad32(c: SoftCpu, p: number): void {
  const m = c.ins[p + R_M]!;
  c.regs[(m >> 3) & 7] = (m & M_MEM) === 0 ? c.regs[m & 7]! : memRead32(c, m, p);
}

function movStore32(c: SoftCpu, p: number): void {
  const m = c.ins[p + R_M]!;
  if ((m & M_MEM) === 0) c.regs[m & 7] = c.regs[(m >> 3) & 7]!;
  else memWrite32(c, m, p, c.regs[(m >> 3) & 7]!);
}

function aluRmR32(c: SoftCpu, op: number, p: number): void {
  const regs = c.regs;
  const m = c.ins[p + R_M]!, k = (op >> 3) & 7, b = regs[(m >> 3) & 7]!;
  if ((m & M_MEM) === 0) {
    const r = c.alu(k, regs[m & 7]!, b, MASK32);
    if (k !== 7) regs[m & 7] = r;
  } else {
    const s = (m >> 20) & 7, o = c.ea(m, c.ins[p + R_DISP]!);
    const r = c.alu(k, k !== 7 ? c.rmwSz(s, o, 4) : c.rd32(s, o), b, MASK32);
    if (k !== 7) c.wr32(s, o, r);
  }
}

function aluRRm32(c: SoftCpu, op: number, p: number): void {
  const regs = c.regs;
  const m = c.ins[p + R_M]!, k = (op >> 3) & 7, d = (m >> 3) & 7;
  const b = (m & M_MEM) === 0 ? regs[m & 7]! : memRead32(c, m, p);
  const r = c.alu(k, regs[d]!, b, MASK32);
  if (k !== 7) regs[d] = r;
}

function aluRmImm32(c: SoftCpu, p: number): void {
  const regs = c.regs;
  const m = c.ins[p + R_M]!, k = (m >> 3) & 7, imm = c.ins[p + R_IMM]!;
  if ((m & M_MEM) === 0) {
    const r = c.alu(k, regs[m & 7]!, imm, MASK32);
    if (k !== 7) regs[m & 7] = r;
  } else {
    const s = (m >> 20) & 7, o = c.ea(m, c.ins[p + R_DISP]!);
    const r = c.alu(k, k !== 7 ? c.rmwSz(s, o, 4) : c.rd32(s, o), imm, MASK32);
    if (k !== 7) c.wr32(s, o, r);
  }
}
