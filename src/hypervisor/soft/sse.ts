// The SSE/SSE2 unit of the soft CPU and the MMX forms of the 0F map (Intel SDM vol. 1, ch. 9-11;
// vol. 2): XMM0-7, MXCSR, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, data movement, integer SIMD
// (sse-int.ts) and floating point (sse-float.ts). The MMX registers live in the x87 unit's
// register file (x87.ts). The core has already raised #UD for CR0.EM and #NM for CR0.TS on
// everything but 0F AE, whose forms check for themselves.

import type { DecodedOperand, FpuHost } from './api.js';
import type { SseUnit } from './cpu.js';
import type { X87 } from './x87.js';
import { fxsaveX87, fxrstorX87 } from './x87-env.js';
import { Lanes, intOp, shift, shiftBytes } from './sse-int.js';
import { arith, cmp, comi, approx, commit, toInt32, fromInt32, convertFloat } from './sse-float.js';
import { SoftFloat, MODE_SSE, CMP_LT, CMP_EQ, CMP_UN } from './x87-float80.js';

/** MXCSR (SDM vol. 1, 10.2.3): flags 0-5, DAZ 6, masks 7-12, RC 13-14, FZ 15. */
export const MXCSR_DAZ = 0x40;
export const MXCSR_MASK_SHIFT = 7;
export const MXCSR_RC_SHIFT = 13;
export const MXCSR_FZ = 0x8000;
export const MXCSR_DEFAULT = 0x1f80;
/** Writable MXCSR bits (DAZ supported), as FXSAVE reports them. */
export const MXCSR_WRITABLE = 0xffff;

const CR0_EM = 0x4, CR0_TS = 0x8;
const CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400;
const VEC_UD = 6, VEC_NM = 7, VEC_GP = 13, VEC_XM = 19;

/** The SSE unit. */
export class Sse implements SseUnit {
  /** XMM0-7 as four dwords each (low first). */
  readonly xmm = new Int32Array(32);
  mxcsr = MXCSR_DEFAULT;
  private readonly l = new Lanes();
  private readonly f = new SoftFloat();

  constructor(readonly host: FpuHost, readonly x87: X87) {}

  reset(): void {
    this.xmm.fill(0);
    this.mxcsr = MXCSR_DEFAULT;
  }

  // ---- operand staging ----

  /** XMM forms need CR4.OSFXSR. */
  private needXmm(): void { if ((this.host.cr4 & CR4_OSFXSR) === 0) this.host.raise(VEC_UD); }

  private aFromXmm(r: number): void { const x = this.xmm, a = this.l.i32; for (let k = 0; k < 4; k++) a[k] = x[r * 4 + k]!; }
  private aToXmm(r: number, n = 4): void { const x = this.xmm, a = this.l.i32; for (let k = 0; k < n; k++) x[r * 4 + k] = a[k]!; }
  private aFromMm(r: number): void { const a = this.l.i32; a[0] = this.x87.mmLo(r); a[1] = this.x87.mmHi(r); }
  private aToMm(r: number): void { this.x87.mmWrite(r, this.l.i32[0]!, this.l.i32[1]!); }

  /** Source operand into B: an XMM register or `bytes` of memory (16-byte aligned when `align`). */
  private bFromXmm(d: DecodedOperand, bytes: number, align: boolean): void {
    const b = this.l.i32;
    if (d.ea < 0) { const x = this.xmm; for (let k = 0; k < 4; k++) b[4 + k] = x[d.rm * 4 + k]!; return; }
    if (align && (d.ea & 15) !== 0) this.host.raise(VEC_GP, 0);
    this.readB(d.ea, bytes);
  }

  private bFromMm(d: DecodedOperand): void {
    const b = this.l.i32;
    if (d.ea < 0) { b[4] = this.x87.mmLo(d.rm); b[5] = this.x87.mmHi(d.rm); return; }
    this.readB(d.ea, 8);
  }

  private readB(ea: number, bytes: number): void {
    const h = this.host, b = this.l.i32;
    if (bytes > 4) h.checkRead(ea, bytes);
    if (bytes === 2) { b[4] = h.read16(ea); return; }
    for (let k = 0; k < bytes / 4; k++) b[4 + k] = h.read32(ea + 4 * k);
  }

  /** Writes `n` dwords of A (or of XMM register r) to memory. */
  private storeA(ea: number, n: number, align: boolean): void {
    const h = this.host, a = this.l.i32;
    if (align && (ea & 15) !== 0) h.raise(VEC_GP, 0);
    if (n > 1) h.checkWrite(ea, 4 * n);
    for (let k = 0; k < n; k++) h.write32(ea + 4 * k, a[k]!);
  }

  /** Copies B to A (loads). */
  private bToA(n: number): void { const a = this.l.i32; for (let k = 0; k < n; k++) a[k] = a[4 + k]!; }

  // ---- floating-point exceptions ----

  private beginF(): SoftFloat {
    const f = this.f, m = this.mxcsr;
    f.begin((m >> MXCSR_MASK_SHIFT) & 0x3f, (m >> MXCSR_RC_SHIFT) & 3);
    f.mode = MODE_SSE;
    f.wrap = false;
    f.daz = (m & MXCSR_DAZ) !== 0;
    f.ftz = (m & MXCSR_FZ) !== 0;
    return f;
  }

  /** Merges flags into MXCSR; an unmasked one raises #XM (#UD without CR4.OSXMMEXCPT). */
  private endF(): void {
    const f = this.f;
    this.mxcsr |= f.flags & 0x3f;
    if ((f.flags & ~(this.mxcsr >> MXCSR_MASK_SHIFT) & 0x3f) !== 0) {
      this.host.raise((this.host.cr4 & CR4_OSXMMEXCPT) !== 0 ? VEC_XM : VEC_UD);
    }
  }

  // ---- dispatch ----

  exec0F(op: number, prefix: number, d: DecodedOperand): boolean {
    if (op === 0xae) return this.group15(prefix, d);
    if (isIntOp(op)) {
      if (prefix === 0) {
        if (op === 0x6c || op === 0x6d) return false;
        this.x87.mmxEnter();
        this.aFromMm(d.reg);
        this.bFromMm(d);
        intOp(this.l, op, 8);
        this.aToMm(d.reg);
        return true;
      }
      if (prefix !== 0x66) return false;
      this.needXmm();
      this.aFromXmm(d.reg);
      this.bFromXmm(d, 16, true);
      intOp(this.l, op, 16);
      this.aToXmm(d.reg);
      return true;
    }
    if ((op >= 0x6e && op <= 0x7f) || op === 0xc4 || op === 0xc5 || op === 0xd6 || op === 0xd7 || op === 0xe7 || op === 0xf7) {
      return this.mmxOrMove(op, prefix, d);
    }
    this.needXmm();
    return this.floatMap(op, prefix, d);
  }

  /** 0F 10-17, 28-2F, 50-5F, C2, C3, C6, E6: the SSE/SSE2 floating-point map. */
  private floatMap(op: number, p: number, d: DecodedOperand): boolean {
    const l = this.l, a = l.i32, x = this.xmm, h = this.host, mem = d.ea >= 0;
    const dbl = p === 0x66 || p === 0xf2, scalar = p === 0xf3 || p === 0xf2;
    switch (op) {
      case 0x10: case 0x11: {
        const n = p === 0xf3 ? 1 : p === 0xf2 ? 2 : 4;
        if (op === 0x10) {
          this.bFromXmm(d, 4 * n, false);
          if (mem && n < 4) for (let k = 0; k < 4; k++) x[d.reg * 4 + k] = 0;
          for (let k = 0; k < n; k++) x[d.reg * 4 + k] = a[4 + k]!;
        } else if (mem) { this.aFromXmm(d.reg); this.storeA(d.ea, n, false); }
        else for (let k = 0; k < n; k++) x[d.rm * 4 + k] = x[d.reg * 4 + k]!;
        return true;
      }
      case 0x12: case 0x16: { // MOVLPS/MOVLPD/MOVHLPS, MOVHPS/MOVHPD/MOVLHPS
        if (scalar || (p === 0x66 && !mem)) return false;
        const at = op === 0x12 ? 0 : 2;
        if (mem) { this.readB(d.ea, 8); x[d.reg * 4 + at] = a[4]!; x[d.reg * 4 + at + 1] = a[5]!; return true; }
        const from = op === 0x12 ? 2 : 0;
        x[d.reg * 4 + at] = x[d.rm * 4 + from]!; x[d.reg * 4 + at + 1] = x[d.rm * 4 + from + 1]!;
        return true;
      }
      case 0x13: case 0x17:
        if (scalar || !mem) return false;
        a[0] = x[d.reg * 4 + (op === 0x13 ? 0 : 2)]!; a[1] = x[d.reg * 4 + (op === 0x13 ? 1 : 3)]!;
        this.storeA(d.ea, 2, false);
        return true;
      case 0x14: case 0x15: {
        if (scalar) return false;
        this.aFromXmm(d.reg);
        this.bFromXmm(d, 16, true);
        const hi = op === 0x15 ? 2 : 0;
        if (p === 0x66) { a[8] = a[hi]!; a[9] = a[hi + 1]!; a[10] = a[4 + hi]!; a[11] = a[5 + hi]!; }
        else { a[8] = a[hi]!; a[9] = a[4 + hi]!; a[10] = a[hi + 1]!; a[11] = a[5 + hi]!; }
        commit(l, 4);
        this.aToXmm(d.reg);
        return true;
      }
      case 0x28: case 0x29: case 0x2b:
        if (scalar || (op === 0x2b && !mem)) return false;
        if (op === 0x28) { this.bFromXmm(d, 16, true); this.bToA(4); this.aToXmm(d.reg); }
        else if (mem) { this.aFromXmm(d.reg); this.storeA(d.ea, 4, true); }
        else for (let k = 0; k < 4; k++) x[d.rm * 4 + k] = x[d.reg * 4 + k]!;
        return true;
      case 0x2a: return this.cvtFromInt(p, d);
      case 0x2c: case 0x2d: return this.cvtToInt(p, d, op === 0x2c);
      case 0x2e: case 0x2f: {
        if (scalar) return false;
        const f = this.beginF();
        this.aFromXmm(d.reg);
        this.bFromXmm(d, dbl ? 8 : 4, false);
        const c = comi(f, l, dbl, op === 0x2e);
        this.endF();
        h.setCompareFlags(c === CMP_EQ || c === CMP_UN, c === CMP_UN, c === CMP_LT || c === CMP_UN);
        return true;
      }
      case 0x50: {
        if (scalar || mem) return false;
        let m = 0;
        if (dbl) m = ((x[d.rm * 4 + 1]! >>> 31) | ((x[d.rm * 4 + 3]! >>> 31) << 1));
        else for (let k = 0; k < 4; k++) m |= (x[d.rm * 4 + k]! >>> 31) << k;
        h.setReg32(d.reg, m);
        return true;
      }
      case 0x52: case 0x53: {
        if (p === 0x66 || p === 0xf2) return false;
        this.aFromXmm(d.reg);
        this.bFromXmm(d, scalar ? 4 : 16, !scalar);
        commit(l, approx(l, op === 0x52, scalar ? 1 : 4));
        this.aToXmm(d.reg);
        return true;
      }
      case 0x54: case 0x55: case 0x56: case 0x57:
        if (scalar) return false;
        this.aFromXmm(d.reg);
        this.bFromXmm(d, 16, true);
        intOp(l, op, 16);
        this.aToXmm(d.reg);
        return true;
      case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
        const f = this.beginF();
        this.aFromXmm(d.reg);
        this.bFromXmm(d, scalar ? (dbl ? 8 : 4) : 16, !scalar);
        const n = arith(f, l, op, dbl, scalar ? 1 : dbl ? 2 : 4);
        this.endF();
        commit(l, n);
        this.aToXmm(d.reg);
        return true;
      }
      case 0xc2: {
        const f = this.beginF();
        this.aFromXmm(d.reg);
        this.bFromXmm(d, scalar ? (dbl ? 8 : 4) : 16, !scalar);
        const n = cmp(f, l, dbl, scalar ? 1 : dbl ? 2 : 4, d.imm);
        this.endF();
        commit(l, n);
        this.aToXmm(d.reg);
        return true;
      }
      case 0xc3: // MOVNTI
        if (p !== 0 || !mem) return false;
        h.write32(d.ea, h.getReg32(d.reg));
        return true;
      case 0xc6: {
        if (scalar) return false;
        this.aFromXmm(d.reg);
        this.bFromXmm(d, 16, true);
        const i = d.imm;
        if (p === 0x66) {
          const s0 = (i & 1) * 2, s1 = 4 + ((i >> 1) & 1) * 2;
          a[8] = a[s0]!; a[9] = a[s0 + 1]!; a[10] = a[s1]!; a[11] = a[s1 + 1]!;
        } else {
          a[8] = a[i & 3]!; a[9] = a[(i >> 2) & 3]!; a[10] = a[4 + ((i >> 4) & 3)]!; a[11] = a[4 + ((i >> 6) & 3)]!;
        }
        commit(l, 4);
        this.aToXmm(d.reg);
        return true;
      }
      case 0x5a: return this.cvtFloat(p, d);
      case 0x5b: case 0xe6: return this.cvtPacked(op, p, d);
      default: return false;
    }
  }

  /** 0F 2A: CVTPI2PS CVTPI2PD CVTSI2SS CVTSI2SD. */
  private cvtFromInt(p: number, d: DecodedOperand): boolean {
    const l = this.l, a = l.i32;
    const f = this.beginF();
    this.aFromXmm(d.reg);
    if (p === 0xf3 || p === 0xf2) {
      const v = d.ea < 0 ? this.host.getReg32(d.rm) : this.host.read32(d.ea);
      fromInt32(f, v, p === 0xf2);
      this.endF();
      a[0] = f.rLo; if (p === 0xf2) a[1] = f.rHi;
    } else {
      if (d.ea < 0) this.x87.mmxEnter();
      this.bFromMm(d);
      const v0 = a[4]!, v1 = a[5]!;
      fromInt32(f, v0, p === 0x66);
      a[8] = f.rLo; a[9] = f.rHi;
      fromInt32(f, v1, p === 0x66);
      this.endF();
      if (p === 0x66) { a[0] = a[8]!; a[1] = a[9]!; a[2] = f.rLo; a[3] = f.rHi; } else { a[0] = a[8]!; a[1] = f.rLo; }
    }
    this.aToXmm(d.reg);
    return true;
  }

  /** 0F 2C/2D: CVT(T)PS2PI CVT(T)PD2PI CVT(T)SS2SI CVT(T)SD2SI. */
  private cvtToInt(p: number, d: DecodedOperand, trunc: boolean): boolean {
    const l = this.l, a = l.i32;
    const f = this.beginF();
    const dbl = p === 0x66 || p === 0xf2;
    if (p === 0xf3 || p === 0xf2) {
      this.bFromXmm(d, dbl ? 8 : 4, false);
      const r = toInt32(f, a[5]!, a[4]!, dbl, trunc);
      this.endF();
      this.host.setReg32(d.reg, r);
      return true;
    }
    this.bFromXmm(d, dbl ? 16 : 8, dbl);
    this.x87.mmxEnter();
    const r0 = dbl ? toInt32(f, a[5]!, a[4]!, true, trunc) : toInt32(f, 0, a[4]!, false, trunc);
    const r1 = dbl ? toInt32(f, a[7]!, a[6]!, true, trunc) : toInt32(f, 0, a[5]!, false, trunc);
    this.endF();
    this.x87.mmWrite(d.reg, r0, r1);
    return true;
  }

  /** 0F 5A: CVTPS2PD CVTPD2PS CVTSS2SD CVTSD2SS. */
  private cvtFloat(p: number, d: DecodedOperand): boolean {
    const l = this.l, a = l.i32;
    const f = this.beginF();
    this.aFromXmm(d.reg);
    const fromDbl = p === 0x66 || p === 0xf2;
    const lanes = p === 0 || p === 0x66 ? 2 : 1;
    this.bFromXmm(d, p === 0x66 ? 16 : p === 0xf3 ? 4 : 8, p === 0x66);
    for (let i = 0; i < lanes; i++) {
      if (fromDbl) { convertFloat(f, a[5 + 2 * i]!, a[4 + 2 * i]!, false); a[8 + i] = f.rLo; }
      else { convertFloat(f, 0, a[4 + i]!, true); a[8 + 2 * i] = f.rLo; a[9 + 2 * i] = f.rHi; }
    }
    this.endF();
    if (p === 0x66) { a[0] = a[8]!; a[1] = a[9]!; a[2] = 0; a[3] = 0; }
    else if (p === 0) { a[0] = a[8]!; a[1] = a[9]!; a[2] = a[10]!; a[3] = a[11]!; }
    else if (p === 0xf3) { a[0] = a[8]!; a[1] = a[9]!; }
    else a[0] = a[8]!;
    this.aToXmm(d.reg);
    return true;
  }

  /** 0F 5B CVTDQ2PS CVTPS2DQ CVTTPS2DQ; 0F E6 CVTTPD2DQ CVTPD2DQ CVTDQ2PD. */
  private cvtPacked(op: number, p: number, d: DecodedOperand): boolean {
    const l = this.l, a = l.i32;
    if ((op === 0x5b && p === 0xf2) || (op === 0xe6 && p === 0)) return false;
    const f = this.beginF();
    const fromPd = op === 0xe6 && p !== 0xf3;
    this.bFromXmm(d, op === 0xe6 && p === 0xf3 ? 8 : 16, !(op === 0xe6 && p === 0xf3));
    if (op === 0x5b) {
      for (let i = 0; i < 4; i++) {
        if (p === 0) { fromInt32(f, a[4 + i]!, false); a[8 + i] = f.rLo; }
        else a[8 + i] = toInt32(f, 0, a[4 + i]!, false, p === 0xf3);
      }
    } else if (fromPd) {
      for (let i = 0; i < 2; i++) a[8 + i] = toInt32(f, a[5 + 2 * i]!, a[4 + 2 * i]!, true, p === 0x66);
      a[10] = 0; a[11] = 0;
    } else {
      const v0 = a[4]!, v1 = a[5]!;
      fromInt32(f, v0, true); a[8] = f.rLo; a[9] = f.rHi;
      fromInt32(f, v1, true); a[10] = f.rLo; a[11] = f.rHi;
    }
    this.endF();
    commit(l, 4);
    this.aToXmm(d.reg);
    return true;
  }

  /** 0F 6E-7F, C4, C5, D6, D7, E7, F7: moves, shuffles, shifts by immediate, EMMS. */
  private mmxOrMove(op: number, p: number, d: DecodedOperand): boolean {
    const l = this.l, a = l.i32, x = this.xmm, h = this.host, x87 = this.x87, mem = d.ea >= 0;
    const mm = p === 0;
    if (op === 0x77) { if (!mm) return false; x87.emms(); return true; }
    if (op >= 0x78 && op <= 0x7d) return false;
    if (mm) x87.mmxEnter(); else if (p === 0x66 || op === 0x6f || op === 0x7f || op === 0x70 || op === 0x7e || op === 0xd6) this.needXmm();
    switch (op) {
      case 0x6e: {
        const v = mem ? h.read32(d.ea) : h.getReg32(d.rm);
        if (mm) x87.mmWrite(d.reg, v, 0);
        else if (p === 0x66) { x[d.reg * 4] = v; x[d.reg * 4 + 1] = 0; x[d.reg * 4 + 2] = 0; x[d.reg * 4 + 3] = 0; }
        else return false;
        return true;
      }
      case 0x7e: {
        if (p === 0xf3) { // MOVQ xmm, xmm/m64
          this.bFromXmm(d, 8, false);
          x[d.reg * 4] = a[4]!; x[d.reg * 4 + 1] = a[5]!; x[d.reg * 4 + 2] = 0; x[d.reg * 4 + 3] = 0;
          return true;
        }
        if (p === 0xf2) return false;
        const v = mm ? x87.mmLo(d.reg) : x[d.reg * 4]!;
        if (mem) h.write32(d.ea, v); else h.setReg32(d.rm, v);
        return true;
      }
      case 0x6f: case 0x7f: {
        if (p === 0xf2) return false;
        if (mm) {
          if (op === 0x6f) { this.bFromMm(d); x87.mmWrite(d.reg, a[4]!, a[5]!); return true; }
          if (mem) { a[0] = x87.mmLo(d.reg); a[1] = x87.mmHi(d.reg); this.storeA(d.ea, 2, false); }
          else x87.mmWrite(d.rm, x87.mmLo(d.reg), x87.mmHi(d.reg));
          return true;
        }
        const align = p === 0x66;
        if (op === 0x6f) { this.bFromXmm(d, 16, align); this.bToA(4); this.aToXmm(d.reg); }
        else if (mem) { this.aFromXmm(d.reg); this.storeA(d.ea, 4, align); }
        else for (let k = 0; k < 4; k++) x[d.rm * 4 + k] = x[d.reg * 4 + k]!;
        return true;
      }
      case 0x70: {
        const i = d.imm;
        if (mm) {
          this.bFromMm(d);
          for (let k = 0; k < 4; k++) l.u16[16 + k] = l.u16[8 + ((i >> (2 * k)) & 3)]!;
          x87.mmWrite(d.reg, a[8]!, a[9]!);
          return true;
        }
        this.bFromXmm(d, 16, true);
        if (p === 0x66) for (let k = 0; k < 4; k++) a[8 + k] = a[4 + ((i >> (2 * k)) & 3)]!;
        else {
          const hiHalf = p === 0xf3 ? 4 : 0, keep = p === 0xf3 ? 0 : 4;
          for (let k = 0; k < 4; k++) l.u16[16 + hiHalf + k] = l.u16[8 + hiHalf + ((i >> (2 * k)) & 3)]!;
          for (let k = 0; k < 4; k++) l.u16[16 + keep + k] = l.u16[8 + keep + k]!;
        }
        commit(l, 4);
        this.aToXmm(d.reg);
        return true;
      }
      case 0x71: case 0x72: case 0x73: {
        if (mem || (p !== 0 && p !== 0x66)) return false;
        const len = mm ? 8 : 16, r = d.reg;
        if (mm) this.aFromMm(d.rm); else this.aFromXmm(d.rm);
        const n = d.imm & 0xff;
        if (op === 0x73 && (r === 3 || r === 7)) {
          if (mm) return false;
          shiftBytes(l, r === 3, n > 16 ? 16 : n);
        } else {
          const kind = r === 2 ? 0 : r === 4 ? 1 : r === 6 ? 2 : -1;
          if (kind < 0 || (op === 0x73 && kind === 1)) return false;
          shift(l, len, op === 0x71 ? 2 : op === 0x72 ? 4 : 8, kind, n);
        }
        if (mm) this.aToMm(d.rm); else this.aToXmm(d.rm);
        return true;
      }
      case 0xc4: {
        if (p !== 0 && p !== 0x66) return false;
        const v = mem ? h.read16(d.ea) : h.getReg32(d.rm) & 0xffff;
        if (mm) { this.aFromMm(d.reg); l.u16[d.imm & 3] = v; this.aToMm(d.reg); }
        else { this.aFromXmm(d.reg); l.u16[d.imm & 7] = v; this.aToXmm(d.reg); }
        return true;
      }
      case 0xc5: case 0xd7: {
        if (mem || (p !== 0 && p !== 0x66)) return false;
        if (mm) this.aFromMm(d.rm); else this.aFromXmm(d.rm);
        let v = 0;
        if (op === 0xc5) v = l.u16[d.imm & (mm ? 3 : 7)]!;
        else for (let k = 0; k < (mm ? 8 : 16); k++) v |= (l.u8[k]! >> 7) << k;
        h.setReg32(d.reg, v);
        return true;
      }
      case 0xd6: {
        if (p === 0x66) { // MOVQ xmm/m64, xmm
          a[0] = x[d.reg * 4]!; a[1] = x[d.reg * 4 + 1]!;
          if (mem) this.storeA(d.ea, 2, false);
          else { x[d.rm * 4] = a[0]!; x[d.rm * 4 + 1] = a[1]!; x[d.rm * 4 + 2] = 0; x[d.rm * 4 + 3] = 0; }
          return true;
        }
        if (mem || p === 0) return false;
        this.needXmm();
        x87.mmxEnter();
        if (p === 0xf3) { // MOVQ2DQ xmm, mm
          x[d.reg * 4] = x87.mmLo(d.rm); x[d.reg * 4 + 1] = x87.mmHi(d.rm); x[d.reg * 4 + 2] = 0; x[d.reg * 4 + 3] = 0;
        } else x87.mmWrite(d.reg, x[d.rm * 4]!, x[d.rm * 4 + 1]!); // MOVDQ2Q mm, xmm
        return true;
      }
      case 0xe7: {
        if (!mem || (p !== 0 && p !== 0x66)) return false;
        if (mm) { a[0] = x87.mmLo(d.reg); a[1] = x87.mmHi(d.reg); this.storeA(d.ea, 2, false); }
        else { this.aFromXmm(d.reg); this.storeA(d.ea, 4, true); }
        return true;
      }
      case 0xf7: { // MASKMOVQ / MASKMOVDQU to [EDI] (flat DS assumed)
        if (mem || (p !== 0 && p !== 0x66)) return false;
        if (mm) { this.aFromMm(d.reg); this.bFromMm(d); } else { this.aFromXmm(d.reg); this.bFromXmm(d, 16, false); }
        const base = h.getReg32(7) >>> 0;
        for (let k = 0; k < (mm ? 8 : 16); k++) if ((l.u8[16 + k]! & 0x80) !== 0) h.write8((base + k) >>> 0, l.u8[k]!);
        return true;
      }
      default: return false;
    }
  }

  /** 0F AE: FXSAVE FXRSTOR LDMXCSR STMXCSR, fences, CLFLUSH. */
  private group15(p: number, d: DecodedOperand): boolean {
    const h = this.host;
    if (p !== 0) return false;
    if (d.ea < 0) return d.reg >= 5; // LFENCE MFENCE SFENCE: nothing to order here
    const cr0 = h.cr0;
    switch (d.reg) {
      case 0: case 1:
        if ((cr0 & (CR0_EM | CR0_TS)) !== 0) h.raise(VEC_NM);
        if ((d.ea & 15) !== 0) h.raise(VEC_GP, 0);
        if (d.reg === 0) this.fxsave(d.ea); else this.fxrstor(d.ea);
        return true;
      case 2: case 3:
        if ((cr0 & CR0_EM) !== 0 || (h.cr4 & CR4_OSFXSR) === 0) h.raise(VEC_UD);
        if ((cr0 & CR0_TS) !== 0) h.raise(VEC_NM);
        if (d.reg === 3) { h.write32(d.ea, this.mxcsr); return true; }
        {
          const v = h.read32(d.ea);
          if ((v & ~MXCSR_WRITABLE) !== 0) h.raise(VEC_GP, 0);
          this.mxcsr = v;
        }
        return true;
      case 7: h.checkRead(d.ea, 1); return true; // CLFLUSH: no caches to flush
      default: return false;
    }
  }

  /** FXSAVE: the 512-byte image (SDM vol. 1, table 10-2). */
  fxsave(ea: number): void {
    const h = this.host;
    h.checkWrite(ea, 512);
    fxsaveX87(this.x87, ea);
    h.write32(ea + 24, this.mxcsr);
    h.write32(ea + 28, MXCSR_WRITABLE);
    // XMM state only with CR4.OSFXSR (the architecture allows leaving it out otherwise).
    if ((h.cr4 & CR4_OSFXSR) !== 0) for (let k = 0; k < 32; k++) h.write32(ea + 160 + 4 * k, this.xmm[k]!);
  }

  fxrstor(ea: number): void {
    const h = this.host;
    h.checkRead(ea, 512);
    const m = h.read32(ea + 24);
    if ((m & ~MXCSR_WRITABLE) !== 0) h.raise(VEC_GP, 0);
    fxrstorX87(this.x87, ea);
    if ((h.cr4 & CR4_OSFXSR) !== 0) {
      this.mxcsr = m;
      for (let k = 0; k < 32; k++) this.xmm[k] = h.read32(ea + 160 + 4 * k);
    }
  }
}

/** Opcodes intOp() handles (MMX without prefix, XMM with 66). */
function isIntOp(op: number): boolean {
  return (op >= 0x60 && op <= 0x6d) || (op >= 0x74 && op <= 0x76) || (op >= 0xd1 && op <= 0xd5) ||
    (op >= 0xd8 && op <= 0xdf) || (op >= 0xe0 && op <= 0xe5) || (op >= 0xe8 && op <= 0xef) ||
    (op >= 0xf1 && op <= 0xf6) || (op >= 0xf8 && op <= 0xfe);
}
