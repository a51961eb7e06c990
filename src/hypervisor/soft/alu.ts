// Operand access and arithmetic of the soft x86 core (SDM vol. 2 instruction pages): effective
// addresses from decoded records, register and memory operands by size, the ALU family, shifts
// and rotates, multiply and divide (#DE), BCD adjusts and bit scans. Flags follow the SDM; where
// it leaves a flag undefined, the choice is QEMU TCG's, the project's oracle.

import { Transfer } from './transfer.js';
import {
  CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SBB, CC_SUB, MASK16, MASK32, MASK8,
} from './core.js';
import { M_ADDR16, M_HAS_BASE, M_HAS_INDEX, M_MEM, R_DISP, R_M } from './decoder.js';
import { EAX, EDX, FLAG_AF, FLAG_CF, FLAG_OF } from './defs.js';

/** Mask for an operand size in bytes. */
export function maskOf(size: number): number {
  return size === 4 ? MASK32 : size === 2 ? MASK16 : MASK8;
}

/** The operand and arithmetic layer of SoftCpu. */
export class Alu extends Transfer {
  /** Decoded instruction records (see decoder.ts). */
  ins = new Int32Array(0);
  /** Results of mul32/div helpers (hi word / remainder). */
  hi = 0;

  // ---- operands ----

  /** Effective address (offset in its segment) of record field `m` with displacement. */
  ea(m: number, disp: number): number {
    let a = disp;
    if ((m & M_HAS_BASE) !== 0) a += this.regs[(m >> 8) & 7]!;
    if ((m & M_HAS_INDEX) !== 0) a += this.regs[(m >> 12) & 7]! << ((m >> 16) & 3);
    return (m & M_ADDR16) !== 0 ? a & 0xffff : a | 0;
  }

  getReg(r: number, size: number): number {
    if (size === 4) return this.regs[r]!;
    if (size === 2) return this.regs[r]! & 0xffff;
    return this.getReg8(r);
  }

  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.regs[r] = v;
    else if (size === 2) this.setReg16(r, v);
    else this.setReg8(r, v);
  }

  /** Reads the ModRM r/m operand of record `p`. */
  readRm(p: number, size: number): number {
    const m = this.ins[p + R_M]!;
    if ((m & M_MEM) === 0) return this.getReg(m & 7, size);
    return this.rdSz((m >> 20) & 7, this.ea(m, this.ins[p + R_DISP]!), size);
  }

  writeRm(p: number, size: number, v: number): void {
    const m = this.ins[p + R_M]!;
    if ((m & M_MEM) === 0) { this.setReg(m & 7, size, v); return; }
    this.wrSz((m >> 20) & 7, this.ea(m, this.ins[p + R_DISP]!), size, v);
  }

  // ---- ALU ----

  /** ADD OR ADC SBB AND SUB XOR CMP (kind 0-7); returns the masked result (CMP: unused). */
  alu(kind: number, a: number, b: number, mask: number): number {
    switch (kind) {
      case 0: return this.setCc(CC_ADD, (a + b) | 0, a, b, mask);
      case 1: return this.setCc(CC_LOGIC, a | b, 0, 0, mask);
      case 2: {
        const c = this.getCF();
        this.ccAux = c;
        return this.setCc(CC_ADC, (a + b + c) | 0, a, b, mask);
      }
      case 3: {
        const c = this.getCF();
        this.ccAux = c;
        return this.setCc(CC_SBB, (a - b - c) | 0, a, b, mask);
      }
      case 4: return this.setCc(CC_LOGIC, a & b, 0, 0, mask);
      case 5: return this.setCc(CC_SUB, (a - b) | 0, a, b, mask);
      case 6: return this.setCc(CC_LOGIC, a ^ b, 0, 0, mask);
      default: return this.setCc(CC_SUB, (a - b) | 0, a, b, mask);
    }
  }

  inc(a: number, mask: number): number {
    this.ccAux = this.getCF();
    return this.setCc(CC_INC, (a + 1) | 0, a, 1, mask);
  }

  dec(a: number, mask: number): number {
    this.ccAux = this.getCF();
    return this.setCc(CC_DEC, (a - 1) | 0, a, 1, mask);
  }

  neg(a: number, mask: number): number {
    return this.setCc(CC_SUB, (0 - a) | 0, 0, a, mask);
  }

  /** Shift/rotate group 2 (kind = ModRM reg); count already masked to 5 bits and non-zero. */
  shift(kind: number, a: number, count: number, size: number): number {
    const bits = size * 8;
    const mask = maskOf(size);
    const msb = bits - 1;
    a &= mask;
    switch (kind) {
      case 0: { // ROL
        const c = count & msb;
        const r = c === 0 ? a : ((a << c) | (a >>> (bits - c))) & mask;
        const cf = r & 1;
        this.rotFlags(cf, ((r >>> msb) & 1) ^ cf);
        return r;
      }
      case 1: { // ROR
        const c = count & msb;
        const r = c === 0 ? a : ((a >>> c) | (a << (bits - c))) & mask;
        const cf = (r >>> msb) & 1;
        this.rotFlags(cf, cf ^ ((r >>> (msb - 1)) & 1));
        return r;
      }
      case 2: { // RCL
        const c = size === 4 ? count : count % (bits + 1);
        if (c === 0) return a;
        let r = a, cf = this.getCF();
        for (let i = 0; i < c; i++) {
          const out = (r >>> msb) & 1;
          r = ((r << 1) | cf) & mask;
          cf = out;
        }
        this.rotFlags(cf, ((r >>> msb) & 1) ^ cf);
        return r;
      }
      case 3: { // RCR
        const c = size === 4 ? count : count % (bits + 1);
        if (c === 0) return a;
        let r = a, cf = this.getCF();
        const of = ((a >>> msb) & 1) ^ cf;
        for (let i = 0; i < c; i++) {
          const out = r & 1;
          r = ((r >>> 1) | (cf << msb)) & mask;
          cf = out;
        }
        this.rotFlags(cf, of);
        return r;
      }
      case 4: case 6: { // SHL/SAL
        const cf = count <= 32 ? ((a << (count - 1)) >>> msb) & 1 : 0;
        const r = count >= 32 ? 0 : (a << count) & mask;
        this.setCcShift(r, cf | ((((r >>> msb) & 1) ^ cf) << 11), mask);
        return r;
      }
      case 5: { // SHR
        const src = count > 32 ? 0 : a >>> (count - 1);
        const r = count >= 32 ? 0 : (a >>> count) & mask;
        this.setCcShift(r, (src & 1) | ((((src >>> msb) ^ (r >>> msb)) & 1) << 11), mask);
        return r;
      }
      default: { // SAR
        const sa = (a << (32 - bits)) >> (32 - bits);
        const src = sa >> Math.min(count - 1, 31);
        const r = (sa >> Math.min(count, 31)) & mask;
        this.setCcShift(r, src & 1, mask);
        return r;
      }
    }
  }

  /** Rotates change only CF and OF. */
  private rotFlags(cf: number, of: number): void {
    this.setArith((this.getArith() & ~(FLAG_CF | FLAG_OF)) | cf | (of << 11));
  }

  /** SHLD (left) / SHRD; count in 1..31. */
  shiftDouble(left: boolean, a: number, b: number, count: number, size: number): number {
    const mask = maskOf(size);
    let r: number, cf: number;
    if (size === 4) {
      if (left) { r = (a << count) | (b >>> (32 - count)); cf = (a >>> (32 - count)) & 1; }
      else { r = (a >>> count) | (b << (32 - count)); cf = (a >>> (count - 1)) & 1; }
    } else {
      // 16-bit: a 32-bit dest:src pair (src:dest for SHRD) shifted; counts above 16 take
      // bits of the destination again, as on P6.
      if (left) {
        const t = ((a & 0xffff) << 16) | (b & 0xffff);
        const w = count > 16 ? ((t << (count - 16)) | ((a & 0xffff) >>> (32 - count))) : t;
        const c = count > 16 ? count - 16 : count;
        r = (w << c) >>> 16;
        cf = ((w << (c - 1)) >>> 31) & 1;
      } else {
        const t = ((b & 0xffff) << 16) | (a & 0xffff);
        const w = count > 16 ? ((t >>> (count - 16)) | ((a & 0xffff) << (48 - count))) : t;
        const c = count > 16 ? count - 16 : count;
        r = (w >>> c) & 0xffff;
        cf = (w >>> (c - 1)) & 1;
      }
      r &= mask;
    }
    const msb = size * 8 - 1;
    const of = ((r >>> msb) ^ (a >>> msb)) & 1;
    this.setCcShift(r, cf | (of << 11), mask);
    return r & mask;
  }

  // ---- multiply and divide ----

  /** Unsigned 32×32: returns the low word; the high word in `hi`. */
  mulu32(a: number, b: number): number {
    const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
    const ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
    this.hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
    return ((ll & 0xffff) | (mid << 16)) | 0;
  }

  /** Signed 32×32: returns the low word; the high word in `hi`. */
  muls32(a: number, b: number): number {
    const lo = this.mulu32(a, b);
    let h = this.hi;
    if (a < 0) h = (h - b) | 0;
    if (b < 0) h = (h - a) | 0;
    this.hi = h;
    return lo;
  }

  /** MUL (F6/F7 /4). */
  mul(v: number, size: number): void {
    const regs = this.regs;
    if (size === 1) {
      const r = (regs[EAX]! & 0xff) * v;
      this.setReg16(EAX, r);
      this.mulFlags(r & 0xff, (r >>> 8) !== 0, MASK8);
    } else if (size === 2) {
      const r = (regs[EAX]! & 0xffff) * v;
      this.setReg16(EAX, r);
      this.setReg16(EDX, r >>> 16);
      this.mulFlags(r & 0xffff, (r >>> 16) !== 0, MASK16);
    } else {
      const lo = this.mulu32(regs[EAX]!, v);
      regs[EAX] = lo; regs[EDX] = this.hi;
      this.mulFlags(lo, this.hi !== 0, MASK32);
    }
  }

  /** IMUL one-operand (F6/F7 /5). */
  imul1(v: number, size: number): void {
    const regs = this.regs;
    if (size === 1) {
      const r = ((regs[EAX]! << 24) >> 24) * ((v << 24) >> 24);
      this.setReg16(EAX, r);
      this.mulFlags(r & 0xff, r !== ((r << 24) >> 24), MASK8);
    } else if (size === 2) {
      const r = ((regs[EAX]! << 16) >> 16) * ((v << 16) >> 16);
      this.setReg16(EAX, r);
      this.setReg16(EDX, r >> 16);
      this.mulFlags(r & 0xffff, r !== ((r << 16) >> 16), MASK16);
    } else {
      const lo = this.muls32(regs[EAX]!, v);
      regs[EAX] = lo; regs[EDX] = this.hi;
      this.mulFlags(lo, this.hi !== (lo >> 31), MASK32);
    }
  }

  /** IMUL two/three-operand: truncated signed product with CF=OF on overflow. */
  imulTrunc(a: number, b: number, size: number): number {
    if (size === 4) {
      const lo = this.muls32(a, b);
      this.mulFlags(lo, this.hi !== (lo >> 31), MASK32);
      return lo;
    }
    const r = ((a << 16) >> 16) * ((b << 16) >> 16);
    this.mulFlags(r & 0xffff, r !== ((r << 16) >> 16), MASK16);
    return r & 0xffff;
  }

  private mulFlags(low: number, overflow: boolean, mask: number): void {
    this.setCcShift(low, overflow ? FLAG_CF | FLAG_OF : 0, mask);
  }

  /** DIV (F6/F7 /6): #DE on zero or quotient overflow. */
  div(v: number, size: number): void {
    const regs = this.regs;
    if (v === 0) this.raise(0);
    if (size === 1) {
      const n = regs[EAX]! & 0xffff;
      const q = Math.floor(n / v);
      if (q > 0xff) this.raise(0);
      this.setReg16(EAX, (q & 0xff) | ((n % v) << 8));
    } else if (size === 2) {
      const n = ((regs[EDX]! & 0xffff) * 65536) + (regs[EAX]! & 0xffff);
      const q = Math.floor(n / v);
      if (q > 0xffff) this.raise(0);
      this.setReg16(EAX, q);
      this.setReg16(EDX, n % v);
    } else {
      const d = v >>> 0;
      const hiw = regs[EDX]! >>> 0;
      if (hiw >= d) this.raise(0);
      const q = this.divu64(hiw, regs[EAX]! >>> 0, d);
      regs[EAX] = q;
      regs[EDX] = this.hi;
    }
  }

  /** (hi·2³² + lo) / d for hi < d: returns the quotient; remainder in `hi`. */
  private divu64(hiw: number, low: number, d: number): number {
    if (hiw === 0) { this.hi = (low % d) | 0; return Math.floor(low / d) | 0; }
    const n1 = hiw * 65536 + (low >>> 16);
    const q1 = Math.floor(n1 / d);
    const r1 = n1 - q1 * d;
    const n0 = r1 * 65536 + (low & 0xffff);
    const q0 = Math.floor(n0 / d);
    this.hi = (n0 - q0 * d) | 0;
    return (q1 * 65536 + q0) | 0;
  }

  /** IDIV (F6/F7 /7). */
  idiv(v: number, size: number): void {
    const regs = this.regs;
    if (v === 0) this.raise(0);
    if (size === 1) {
      const n = (regs[EAX]! << 16) >> 16;
      const d = (v << 24) >> 24;
      const q = Math.trunc(n / d);
      if (q > 127 || q < -128) this.raise(0);
      this.setReg16(EAX, (q & 0xff) | ((n % d & 0xff) << 8));
    } else if (size === 2) {
      const n = ((regs[EDX]! & 0xffff) << 16) | (regs[EAX]! & 0xffff);
      const d = (v << 16) >> 16;
      const q = Math.trunc(n / d);
      if (q > 32767 || q < -32768) this.raise(0);
      this.setReg16(EAX, q);
      this.setReg16(EDX, n % d);
    } else {
      let hiw = regs[EDX]!, low = regs[EAX]!;
      const neg = hiw < 0;
      if (neg) { low = (~low + 1) | 0; hiw = (~hiw + (low === 0 ? 1 : 0)) | 0; }
      const dneg = v < 0;
      const d = dneg ? (-v >>> 0) : v >>> 0;
      if ((hiw >>> 0) >= d) this.raise(0);
      const q = this.divu64(hiw >>> 0, low >>> 0, d) >>> 0;
      const qneg = neg !== dneg;
      if (qneg ? q > 0x80000000 : q > 0x7fffffff) this.raise(0);
      regs[EAX] = qneg ? -q | 0 : q | 0;
      regs[EDX] = neg ? -this.hi | 0 : this.hi;
    }
  }

  // ---- BCD (SDM vol. 2: DAA, DAS, AAA, AAS, AAM, AAD) ----

  daa(): void {
    const old = this.getReg8(0);
    const oldCf = this.getCF();
    let al = old, cf = 0, af = 0;
    if ((al & 0xf) > 9 || this.getAF() !== 0) { al = (al + 6) & 0xff; cf = oldCf | (old > 0xf9 ? 1 : 0); af = 1; }
    if (old > 0x99 || oldCf !== 0) { al = (al + 0x60) & 0xff; cf = 1; } else cf = 0;
    this.setReg8(0, al);
    this.bcdFlags(al, cf, af);
  }

  das(): void {
    const old = this.getReg8(0);
    const oldCf = this.getCF();
    let al = old, cf = 0, af = 0;
    if ((al & 0xf) > 9 || this.getAF() !== 0) { al = (al - 6) & 0xff; cf = oldCf | (old < 6 ? 1 : 0); af = 1; }
    if (old > 0x99 || oldCf !== 0) { al = (al - 0x60) & 0xff; cf = 1; }
    this.setReg8(0, al);
    this.bcdFlags(al, cf, af);
  }

  private bcdFlags(al: number, cf: number, af: number): void {
    this.setCcShift(al, cf | (af !== 0 ? FLAG_AF : 0), MASK8);
  }

  aaa(sub: boolean): void {
    const ax = this.regs[EAX]! & 0xffff;
    let al = ax & 0xff, ah = ax >> 8;
    let adj = 0;
    if ((al & 0xf) > 9 || this.getAF() !== 0) {
      if (sub) { ah = (ah - 1 - (al < 6 ? 1 : 0)) & 0xff; al = (al - 6) & 0xff; }
      else { ah = (ah + 1 + (al > 0xf9 ? 1 : 0)) & 0xff; al = (al + 6) & 0xff; }
      adj = FLAG_AF | FLAG_CF;
    }
    this.setReg16(EAX, (al & 0xf) | (ah << 8));
    this.setArith((this.getArith() & ~(FLAG_AF | FLAG_CF)) | adj);
  }

  aam(imm: number): void {
    if (imm === 0) this.raise(0);
    const al = this.getReg8(0);
    const r = al % imm;
    this.setReg16(EAX, r | (Math.floor(al / imm) << 8));
    this.setCc(CC_LOGIC, r, 0, 0, MASK8);
  }

  aad(imm: number): void {
    const al = (this.getReg8(0) + this.getReg8(4) * imm) & 0xff;
    this.setReg16(EAX, al);
    this.setCc(CC_LOGIC, al, 0, 0, MASK8);
  }

  /** BSF/BSR: returns -1 (destination unchanged) for a zero source. */
  bitScan(v: number, reverse: boolean, mask: number): number {
    v &= mask;
    this.setCc(CC_LOGIC, v, 0, 0, mask);
    if (v === 0) return -1;
    return reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
  }
}
