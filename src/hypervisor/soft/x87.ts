// The x87 FPU of the soft CPU (Intel SDM vol. 1, ch. 8; vol. 2, the D8-DF opcode maps): the
// register stack of eight 80-bit registers, control/status/tag words, the last-instruction
// pointers, every D8-DF instruction, the stack-fault and masked/unmasked exception rules, and
// the deferred #MF at the next waiting instruction. The MMX registers alias the mantissas of
// the physical registers; the SSE unit (sse.ts) drives MMX through the accessors at the end.
//
// Arithmetic goes through the allocation-free soft-float library (x87-float80.ts); the
// transcendental instructions (x87-trans.ts) compute in double precision with Math.

import type { FpuHost, DecodedOperand } from './api.js';
import type { FpuUnit } from './cpu.js';
import {
  SoftFloat, FMT_F32, FMT_F64, FMT_F80, CLS_ZERO, CLS_NORMAL, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED,
  CMP_LT, CMP_EQ, CMP_UN, MODE_X87, FE_IE, FE_DE, FE_ZE, FE_OE, FE_UE, FE_PE,
} from './x87-float80.js';
import { fstenv, fldenv, fsave, frstor, fbld, fbstp } from './x87-env.js';
import { transcendental, fprem, fscale, fxtract } from './x87-trans.js';

// Status word (SDM vol. 1, 8.1.3).
export const SW_IE = 0x0001, SW_DE = 0x0002, SW_ZE = 0x0004, SW_OE = 0x0008, SW_UE = 0x0010, SW_PE = 0x0020;
/** Stack fault (with IE; C1 tells overflow from underflow). */
export const SW_SF = 0x0040;
/** Error summary: an unmasked exception is pending. */
export const SW_ES = 0x0080;
export const SW_C0 = 0x0100, SW_C1 = 0x0200, SW_C2 = 0x0400, SW_C3 = 0x4000;
export const SW_TOP_SHIFT = 11;
export const SW_TOP = 0x3800;
/** Busy: mirrors ES. */
export const SW_B = 0x8000;
/** The condition-code bits. */
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;

// Control word (SDM vol. 1, 8.1.5).
/** Exception masks IM DM ZM OM UM PM, bits 0-5. */
export const CW_MASKS = 0x003f;
export const CW_PC_SHIFT = 8;
export const CW_RC_SHIFT = 10;
/** The FINIT value: all masked, 64-bit precision, round to nearest. */
export const CW_INIT = 0x037f;

/** Tag values of the full tag word. */
export const TAG_VALID = 0, TAG_ZERO = 1, TAG_SPECIAL = 2, TAG_EMPTY = 3;

const IND_SE = 0xffff, IND_HI = 0xc0000000 | 0, IND_LO = 0;

// Condition codes for FCMOVcc (Jcc numbering).
const CC_B = 2, CC_E = 4, CC_BE = 6, CC_P = 10;
const FCMOV_CC = [CC_B, CC_E, CC_BE, CC_P];

// Constants: sign/exponent and 64-bit significand rounded to nearest; `adjust` when rounding
// down or toward zero (the 66-bit constant lies below the nearest value) or up.
// [se, hi, lo, roundDownAdjust, roundUpAdjust]
const K_L2T = [0x4000, 0xd49a784b | 0, 0xcd1b8afe | 0, 0, 1];
const K_L2E = [0x3fff, 0xb8aa3b29 | 0, 0x5c17f0bc | 0, -1, 0];
const K_PI = [0x4000, 0xc90fdaa2 | 0, 0x2168c235 | 0, -1, 0];
const K_LG2 = [0x3ffd, 0x9a209a84 | 0, 0xfbcff799 | 0, -1, 0];
const K_LN2 = [0x3ffe, 0xb17217f7 | 0, 0xd1cf79ac | 0, -1, 0];
const K_ONE = [0x3fff, 0x80000000 | 0, 0, 0, 0];
const K_ZERO = [0, 0, 0, 0, 0];
const CONSTS = [K_ONE, K_L2T, K_L2E, K_PI, K_LG2, K_LN2, K_ZERO];

/** The x87 floating-point unit (and the MMX register file it holds). */
export class X87 implements FpuUnit {
  /** Physical registers R0-R7: sign+exponent, significand high and low 32 bits. */
  readonly se = new Int32Array(8);
  readonly hi = new Int32Array(8);
  readonly lo = new Int32Array(8);
  /** 1 where the physical register is empty (tag 11). */
  readonly empty = new Uint8Array(8).fill(1);
  top = 0;
  cw = CW_INIT;
  /** Status word without TOP. */
  sw = 0;
  fip = 0;
  fcs = 0;
  fdp = 0;
  fds = 0;
  fop = 0;
  /** Soft-float engine (shared with x87-env.ts / x87-trans.ts helpers). */
  readonly f = new SoftFloat();

  constructor(readonly host: FpuHost) {}

  reset(): void {
    this.finit();
    this.se.fill(0); this.hi.fill(0); this.lo.fill(0);
  }

  /** FNINIT: control, status and tag words, pointers; register contents stay. */
  finit(): void {
    this.cw = CW_INIT;
    this.sw = 0;
    this.top = 0;
    this.empty.fill(1);
    this.fip = 0; this.fcs = 0; this.fdp = 0; this.fds = 0; this.fop = 0;
  }

  /** The status word as the guest reads it. */
  get status(): number { return (this.sw & ~SW_TOP) | (this.top << SW_TOP_SHIFT); }

  /** Loads a status word (FLDENV, FRSTOR, FXRSTOR): TOP and flags; ES and B follow the masks. */
  setStatus(v: number): void {
    this.top = (v >> SW_TOP_SHIFT) & 7;
    this.sw = v & 0x47ff & ~SW_ES;
    this.updateEs();
  }

  /** Recomputes ES and B from the exception flags and masks. */
  updateEs(): void {
    if ((this.sw & ~this.cw & CW_MASKS) !== 0) this.sw |= SW_ES | SW_B;
    else this.sw &= ~(SW_ES | SW_B);
  }

  /** The full tag word computed from the register contents (FSTENV/FSAVE). */
  tagWord(): number {
    let tw = 0;
    for (let p = 0; p < 8; p++) tw |= this.tagOf(p) << (2 * p);
    return tw;
  }

  tagOf(p: number): number {
    if (this.empty[p] === 1) return TAG_EMPTY;
    const e = this.se[p]! & 0x7fff, hi = this.hi[p]!, lo = this.lo[p]!;
    if (e === 0x7fff) return TAG_SPECIAL;
    if (e === 0) return hi === 0 && lo === 0 ? TAG_ZERO : TAG_SPECIAL;
    return hi < 0 ? TAG_VALID : TAG_SPECIAL;
  }

  /** Loads a full tag word: only "empty" is kept (the rest is recomputed from contents). */
  setTagWord(tw: number): void {
    for (let p = 0; p < 8; p++) this.empty[p] = ((tw >> (2 * p)) & 3) === TAG_EMPTY ? 1 : 0;
  }

  /** The FXSAVE abridged tag: bit p set when R_p is not empty. */
  abridgedTag(): number {
    let t = 0;
    for (let p = 0; p < 8; p++) if (this.empty[p] === 0) t |= 1 << p;
    return t;
  }

  setAbridgedTag(t: number): void {
    for (let p = 0; p < 8; p++) this.empty[p] = (t >> p) & 1 ? 0 : 1;
  }

  /** FWAIT and every waiting x87/MMX instruction: a pending unmasked exception raises #MF. */
  fwait(): void {
    // With CR0.NE=0 a PC would signal IRQ13 through FERR#; this core raises #MF in both modes.
    if ((this.sw & SW_ES) !== 0) this.host.raise(16);
  }

  // ---- register stack ----

  /** Physical register of ST(i). */
  phys(i: number): number { return (this.top + i) & 7; }

  isEmpty(i: number): boolean { return this.empty[(this.top + i) & 7] === 1; }

  setSt(i: number, se: number, hi: number, lo: number): void {
    const p = (this.top + i) & 7;
    this.se[p] = se & 0xffff; this.hi[p] = hi; this.lo[p] = lo;
    this.empty[p] = 0;
  }

  /** Writes the soft-float result registers into ST(i). */
  setStResult(i: number): void { const f = this.f; this.setSt(i, f.rSe, f.rHi, f.rLo); }

  setStIndefinite(i: number): void { this.setSt(i, IND_SE, IND_HI, IND_LO); }

  /** Decrements TOP and writes ST(0); the caller checked for overflow. */
  pushRaw(se: number, hi: number, lo: number): void {
    this.top = (this.top - 1) & 7;
    this.setSt(0, se, hi, lo);
  }

  pop(): void {
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
  }

  /** Loads ST(i) into operand slot A or B of the soft-float engine. */
  loadA(i: number): void { const p = (this.top + i) & 7; this.f.loadA80(this.se[p]!, this.hi[p]!, this.lo[p]!); }
  loadB(i: number): void { const p = (this.top + i) & 7; this.f.loadB80(this.se[p]!, this.hi[p]!, this.lo[p]!); }

  /**
   * A stack fault: IE+SF, C1 = overflow. Returns true when IE is masked (the caller then writes
   * the default NaN); false when the instruction must stop.
   */
  stackFault(overflow: boolean): boolean {
    this.sw = (this.sw & ~SW_C1) | SW_IE | SW_SF | (overflow ? SW_C1 : 0);
    if ((this.cw & SW_IE) === 0) { this.sw |= SW_ES | SW_B; return false; }
    return true;
  }

  /** Whether a push would overflow; on overflow handles the fault (masked: pushes the default NaN). */
  pushFaults(): boolean {
    if (this.empty[(this.top - 1) & 7] === 0) {
      if (this.stackFault(true)) this.pushRaw(IND_SE, IND_HI, IND_LO);
      return true;
    }
    return false;
  }

  /** Starts a soft-float operation with the control word's masks and rounding. */
  begin(): SoftFloat {
    const f = this.f;
    f.begin(this.cw & CW_MASKS, (this.cw >> CW_RC_SHIFT) & 3);
    f.mode = MODE_X87;
    f.wrap = true;
    f.daz = false;
    f.ftz = false;
    return f;
  }

  /** Precision control as significand bits (PC=01 is reserved: treated as 64). */
  prec(): number {
    const pc = (this.cw >> CW_PC_SHIFT) & 3;
    return pc === 0 ? 24 : pc === 2 ? 53 : 64;
  }

  /** Merges the engine's flags into SW; C1 is the round-up indication. */
  finish(): void {
    const f = this.f;
    this.sw = (this.sw & ~SW_C1) | f.flags | (f.up ? SW_C1 : 0);
    if ((f.flags & ~this.cw & CW_MASKS) !== 0) this.sw |= SW_ES | SW_B;
  }

  /** Sets C3 C2 C0 from a compare result (C1 cleared). */
  private setCompareCc(r: number): void {
    let cc = 0;
    if (r === CMP_LT) cc = SW_C0;
    else if (r === CMP_EQ) cc = SW_C3;
    else if (r === CMP_UN) cc = SW_C0 | SW_C2 | SW_C3;
    this.sw = (this.sw & ~SW_CC) | cc;
  }

  // ---- dispatch ----

  exec(op: number, d: DecodedOperand): void {
    const host = this.host;
    const mem = d.ea >= 0;
    const reg = d.reg;
    // The no-wait control instructions skip the pending-exception check and keep the pointers.
    if (mem) {
      if ((op === 0xd9 && reg >= 4) || (op === 0xdd && reg >= 4)) { this.control(op, reg, d.ea); return; }
    } else if ((op === 0xdb && d.modrm >= 0xe0 && d.modrm <= 0xe4) || (op === 0xdf && d.modrm === 0xe0)) {
      if (op === 0xdf) { host.setReg32(0, (host.getReg32(0) & ~0xffff) | this.status); return; }
      if (d.modrm === 0xe2) { this.sw &= ~(CW_MASKS | SW_SF | SW_ES | SW_B); return; }
      if (d.modrm === 0xe3) { this.finit(); return; }
      return; // FENI, FDISI, FSETPM: no-ops since the 80387
    }
    this.fwait();
    this.fip = host.instrEip;
    this.fcs = host.instrCs;
    this.fop = ((op & 7) << 8) | (d.modrm & 0xff);
    if (mem) {
      this.fdp = d.ea;
      this.fds = 0;
      this.execMem(op, reg, d.ea);
    } else this.execReg(op, reg, d.rm);
  }

  /** FLDENV FLDCW FNSTENV FNSTCW (D9 /4-/7) and FRSTOR FNSAVE FNSTSW (DD /4-/7). */
  private control(op: number, reg: number, ea: number): void {
    const host = this.host;
    if (op === 0xd9) {
      switch (reg) {
        case 4: this.fwait(); fldenv(this, ea); return;
        case 5: {
          this.fwait();
          this.cw = (host.read16(ea) & 0x1f3f) | 0x40;
          this.updateEs();
          return;
        }
        case 6: fstenv(this, ea); this.cw |= CW_MASKS; return;
        default: host.write16(ea, this.cw); return;
      }
    }
    switch (reg) {
      case 4: this.fwait(); frstor(this, ea); return;
      case 6: fsave(this, ea); this.finit(); return;
      case 7: host.write16(ea, this.status); return;
      default: host.raise(6);
    }
  }

  private execMem(op: number, reg: number, ea: number): void {
    const host = this.host;
    const f = this.f;
    switch (op) {
      case 0xd8: this.begin(); f.loadB32(host.read32(ea)); this.memArith(reg); return;
      case 0xdc: { const lo = host.read32(ea), hi = host.read32(ea + 4); this.begin(); f.loadB64(hi, lo); this.memArith(reg); return; }
      case 0xda: { const v = host.read32(ea); this.begin(); f.loadAInt(v >> 31, v); f.swap(); this.memArith(reg); return; }
      case 0xde: { const v = (host.read16(ea) << 16) >> 16; this.begin(); f.loadAInt(v >> 31, v); f.swap(); this.memArith(reg); return; }
      case 0xd9:
        switch (reg) {
          case 0: { const v = host.read32(ea); this.begin(); f.loadA32(v); this.loadConvert(); return; }
          case 2: case 3: this.storeFloat(ea, FMT_F32, reg === 3); return;
          default: return host.raise(6);
        }
      case 0xdd:
        switch (reg) {
          case 0: { const lo = host.read32(ea), hi = host.read32(ea + 4); this.begin(); f.loadA64(hi, lo); this.loadConvert(); return; }
          case 1: this.storeInt(ea, 8, true, true); return;
          case 2: case 3: this.storeFloat(ea, FMT_F64, reg === 3); return;
          default: return host.raise(6);
        }
      case 0xdb:
        switch (reg) {
          case 0: { const v = host.read32(ea); this.loadInt(v >> 31, v); return; }
          case 1: this.storeInt(ea, 4, true, true); return;
          case 2: case 3: this.storeInt(ea, 4, reg === 3, false); return;
          case 5: {
            const lo = host.read32(ea), hi = host.read32(ea + 4), se = host.read16(ea + 8);
            if (!this.pushFaults()) { this.sw &= ~SW_C1; this.pushRaw(se, hi, lo); }
            return;
          }
          case 7: this.storeFloat(ea, FMT_F80, true); return;
          default: return host.raise(6);
        }
      default: // 0xdf
        switch (reg) {
          case 0: { const v = (host.read16(ea) << 16) >> 16; this.loadInt(v >> 31, v); return; }
          case 1: this.storeInt(ea, 2, true, true); return;
          case 2: case 3: this.storeInt(ea, 2, reg === 3, false); return;
          case 4: fbld(this, ea); return;
          case 5: { const lo = host.read32(ea), hi = host.read32(ea + 4); this.loadInt(hi, lo); return; }
          case 6: fbstp(this, ea); return;
          default: this.storeInt(ea, 8, true, false); return;
        }
    }
  }

  /** D8/DC/DA/DE memory forms: ST(0) op B (B already loaded). */
  private memArith(reg: number): void {
    const f = this.f;
    if (this.isEmpty(0)) {
      const masked = this.stackFault(false);
      if (reg === 2 || reg === 3) { this.setCompareCc(CMP_UN); if (reg === 3 && masked) this.pop(); }
      else if (masked) this.setStIndefinite(0);
      return;
    }
    this.loadA(0);
    if (reg === 2 || reg === 3) {
      const r = this.cmp(false);
      this.finish();
      this.setCompareCc(r);
      if (reg === 3 && !f.abort) this.pop();
      return;
    }
    this.arith(reg);
    this.finish();
    if (!f.abort) this.setStResult(0);
  }

  /**
   * Compares A with B; condition codes are written even when an unmasked exception stops the
   * instruction (only its pop is suppressed), so a DE-only abort still orders the operands.
   */
  private cmp(quiet: boolean): number {
    const f = this.f;
    const r = f.compare(quiet);
    return f.abort && (f.flags & FE_IE) === 0 ? f.order() : r;
  }

  /** Result = A op B into the engine's result (op: FADD FMUL - - FSUB FSUBR FDIV FDIVR). */
  private arith(kind: number): void {
    const f = this.f, p = this.prec();
    // x / 0 raises ZE only: a denormal dividend does not add DE.
    if (kind === 6 && f.bCls === CLS_ZERO) f.aDen = false;
    if (kind === 7 && f.aCls === CLS_ZERO) f.bDen = false;
    switch (kind) {
      case 0: f.add(FMT_F80, p, false); return;
      case 1: f.mul(FMT_F80, p); return;
      case 4: f.add(FMT_F80, p, true); return;
      case 5: f.swap(); f.add(FMT_F80, p, true); return;
      case 6: f.div(FMT_F80, p); return;
      default: f.swap(); f.div(FMT_F80, p); return;
    }
  }

  /** FLD m32/m64: A converted to extended, then pushed. */
  private loadConvert(): void {
    const f = this.f;
    if (this.pushFaults()) return;
    f.mask |= FE_DE; // an unmasked #D still loads the operand (flagged below)
    f.convert(FMT_F80, 64);
    this.finish();
    this.sw &= ~SW_C1;
    if (!f.abort) this.pushRaw(f.rSe, f.rHi, f.rLo);
  }

  /** FILD: exact. */
  private loadInt(hi: number, lo: number): void {
    if (this.pushFaults()) return;
    const f = this.begin();
    f.loadAInt(hi, lo);
    f.convertExact(FMT_F80, 64);
    this.sw &= ~SW_C1;
    this.pushRaw(f.rSe, f.rHi, f.rLo);
  }

  /** FST/FSTP to memory in fmt. */
  private storeFloat(ea: number, fmt: number, popAfter: boolean): void {
    const host = this.host, f = this.f;
    let se: number, hi: number, lo: number;
    const fault = this.isEmpty(0);
    if (fault) {
      if (!this.stackFault(false)) return;
      se = IND_SE; hi = fmt === FMT_F32 ? 0xffc00000 | 0 : fmt === FMT_F64 ? 0xfff80000 | 0 : IND_HI; lo = 0;
      if (fmt === FMT_F32) { lo = hi; hi = 0; }
    } else {
      this.begin();
      this.loadA(0);
      if (fmt === FMT_F80) {
        se = this.se[this.top]!; hi = this.hi[this.top]!; lo = this.lo[this.top]!;
      } else {
        f.aDen = false; // FST raises no #D
        f.wrap = false;
        f.convert(fmt, fmt === FMT_F32 ? 24 : 53);
        if (f.abort || (f.flags & ~this.cw & (FE_OE | FE_UE)) !== 0) {
          f.up = false;
          if (!f.abort) f.flags &= ~FE_PE;
          this.finish();
          return;
        }
        se = f.rSe; hi = f.rHi; lo = f.rLo;
      }
    }
    if (fmt === FMT_F32) host.write32(ea, lo);
    else {
      host.checkWrite(ea, fmt === FMT_F64 ? 8 : 10);
      host.write32(ea, lo);
      host.write32(ea + 4, hi);
      if (fmt === FMT_F80) host.write16(ea + 8, se);
    }
    if (!fault) this.finish();
    if (popAfter) this.pop();
  }

  /** FIST/FISTP/FISTTP of `size` bytes. */
  private storeInt(ea: number, size: number, popAfter: boolean, truncate: boolean): void {
    const host = this.host, f = this.f;
    let hi = 0, lo = 0;
    const bits = size * 8;
    const fault = this.isEmpty(0);
    if (fault) {
      if (!this.stackFault(false)) return;
      if (size === 8) hi = 0x80000000 | 0; else lo = size === 4 ? 0x80000000 | 0 : 0x8000;
    } else {
      this.begin();
      this.loadA(0);
      let ok = f.toInteger(truncate ? 3 : f.rc);
      if (ok) {
        const mh = f.rHi >>> 0, ml = f.rLo >>> 0, neg = f.rSe !== 0;
        if (f.big) ok = false;
        else if (size === 8) ok = mh < 0x80000000 || (neg && mh === 0x80000000 && ml === 0);
        else ok = mh === 0 && (ml < 2 ** (bits - 1) || (neg && ml === 2 ** (bits - 1)));
        if (ok) {
          lo = ml; hi = mh;
          if (neg) { lo = (-ml) | 0; hi = (~mh + (ml === 0 ? 1 : 0)) | 0; }
        }
      }
      if (!ok) {
        f.flags = (f.flags & ~FE_PE) | FE_IE;
        f.up = false;
        if ((this.cw & SW_IE) === 0) { this.finish(); return; }
        hi = 0; lo = 0;
        if (size === 8) hi = 0x80000000 | 0; else lo = size === 4 ? 0x80000000 | 0 : 0x8000;
      }
    }
    if (size === 2) host.write16(ea, lo);
    else if (size === 4) host.write32(ea, lo);
    else { host.checkWrite(ea, 8); host.write32(ea, lo); host.write32(ea + 4, hi); }
    if (!fault) this.finish();
    if (popAfter) this.pop();
  }

  private execReg(op: number, reg: number, i: number): void {
    switch (op) {
      case 0xd8: this.regArith(reg, 0, i, reg, false); return;
      case 0xdc: this.regArith(reg, i, 0, reg >= 4 ? reg ^ 1 : reg, false); return;
      case 0xde:
        if (reg === 3 && i !== 1) this.host.raise(6);
        if (reg === 3) { this.compareSt(1, false, 2); return; } // FCOMPP
        this.regArith(reg, i, 0, reg >= 4 ? reg ^ 1 : reg, true);
        return;
      case 0xd9: this.execD9(reg, i); return;
      case 0xda:
        if (reg < 4) { this.fcmov(FCMOV_CC[reg]!, i); return; }
        if (reg === 5 && i === 1) { this.compareSt(1, true, 2); return; } // FUCOMPP
        return this.host.raise(6);
      case 0xdb:
        if (reg < 4) { this.fcmov(FCMOV_CC[reg]! + 1, i); return; }
        if (reg === 5 || reg === 6) { this.comi(i, reg === 5, false); return; }
        return this.host.raise(6);
      case 0xdd:
        switch (reg) {
          case 0: this.empty[this.phys(i)] = 1; this.sw &= ~SW_C1; return; // FFREE
          case 1: this.fxch(i); return;
          case 2: case 3: this.fstReg(i, reg === 3); return;
          case 4: case 5: this.compareSt(i, true, reg - 4); return;
          default: return this.host.raise(6);
        }
      default: // 0xdf
        switch (reg) {
          case 0: this.empty[this.phys(i)] = 1; this.pop(); return; // FFREEP
          case 1: this.fxch(i); return;
          case 2: case 3: this.fstReg(i, true); return;
          case 5: case 6: this.comi(i, reg === 5, true); return;
          default: this.host.raise(6);
        }
    }
  }

  /** Register arithmetic: dest ST(d) = ST(x) op ST(y) with `kind`; compares for /2 /3. */
  private regArith(reg: number, x: number, y: number, kind: number, popAfter: boolean): void {
    if (reg === 2 || reg === 3) { // FCOM/FCOMP and their DC/DE aliases
      const i = x === 0 ? y : x;
      this.compareSt(i, false, reg === 3 || popAfter ? 1 : 0);
      return;
    }
    const dest = x;
    if (this.isEmpty(x) || this.isEmpty(y)) {
      if (this.stackFault(false)) { this.setStIndefinite(dest); if (popAfter) this.pop(); }
      return;
    }
    this.begin();
    this.loadA(x);
    this.loadB(y);
    this.arith(kind);
    this.finish();
    if (this.f.abort) return;
    this.setStResult(dest);
    if (popAfter) this.pop();
  }

  /** FCOM/FUCOM ST(i) with `pops` pops afterwards. */
  private compareSt(i: number, quiet: boolean, pops: number): void {
    if (this.isEmpty(0) || this.isEmpty(i)) {
      const masked = this.stackFault(false);
      this.setCompareCc(CMP_UN);
      if (masked) for (let k = 0; k < pops; k++) this.pop();
      return;
    }
    const f = this.begin();
    this.loadA(0);
    this.loadB(i);
    const r = this.cmp(quiet);
    this.finish();
    this.setCompareCc(r);
    if (!f.abort) for (let k = 0; k < pops; k++) this.pop();
  }

  /** FCOMI/FUCOMI(P): EFLAGS ZF PF CF. */
  private comi(i: number, quiet: boolean, popAfter: boolean): void {
    const host = this.host;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      const masked = this.stackFault(false);
      host.setCompareFlags(true, true, true);
      if (masked && popAfter) this.pop();
      return;
    }
    const f = this.begin();
    this.loadA(0);
    this.loadB(i);
    const r = this.cmp(quiet);
    const c1 = this.sw & SW_C1; // FCOMI leaves C1 alone
    this.finish();
    this.sw = (this.sw & ~SW_C1) | c1;
    host.setCompareFlags(r === CMP_EQ || r === CMP_UN, r === CMP_UN, r === CMP_LT || r === CMP_UN);
    if (!f.abort && popAfter) this.pop();
  }

  private fcmov(cc: number, i: number): void {
    if (this.isEmpty(i) || this.isEmpty(0)) {
      if (this.stackFault(false)) this.setStIndefinite(0);
      return;
    }
    if (this.host.cond(cc)) {
      const p = this.phys(i);
      this.setSt(0, this.se[p]!, this.hi[p]!, this.lo[p]!);
    }
  }

  private fxch(i: number): void {
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (!this.stackFault(false)) return;
      if (this.isEmpty(0)) this.setStIndefinite(0);
      if (this.isEmpty(i)) this.setStIndefinite(i);
    } else this.sw &= ~SW_C1;
    const a = this.phys(0), b = this.phys(i);
    let t = this.se[a]!; this.se[a] = this.se[b]!; this.se[b] = t;
    t = this.hi[a]!; this.hi[a] = this.hi[b]!; this.hi[b] = t;
    t = this.lo[a]!; this.lo[a] = this.lo[b]!; this.lo[b] = t;
  }

  /** FST/FSTP ST(i). */
  private fstReg(i: number, popAfter: boolean): void {
    if (this.isEmpty(0)) {
      if (this.stackFault(false)) { this.setStIndefinite(i); if (popAfter) this.pop(); }
      return;
    }
    this.sw &= ~SW_C1;
    const p = this.top;
    this.setSt(i, this.se[p]!, this.hi[p]!, this.lo[p]!);
    if (popAfter) this.pop();
  }

  private execD9(reg: number, i: number): void {
    const f = this.f;
    switch (reg) {
      case 0: { // FLD ST(i)
        if (this.isEmpty(i)) {
          if (this.stackFault(false)) this.pushRaw(IND_SE, IND_HI, IND_LO);
          return;
        }
        const p = this.phys(i);
        const se = this.se[p]!, hi = this.hi[p]!, lo = this.lo[p]!;
        this.sw &= ~SW_C1;
        if (!this.pushFaults()) this.pushRaw(se, hi, lo);
        return;
      }
      case 1: this.fxch(i); return;
      case 2: if (i !== 0) this.host.raise(6); return; // FNOP
      case 3: this.fstReg(i, true); return;
      case 4:
        switch (i) {
          case 0: case 1: // FCHS FABS
            if (this.isEmpty(0)) { if (this.stackFault(false)) this.setStIndefinite(0); return; }
            this.sw &= ~SW_C1;
            this.se[this.top] = i === 0 ? this.se[this.top]! ^ 0x8000 : this.se[this.top]! & 0x7fff;
            return;
          case 4: { // FTST
            if (this.isEmpty(0)) { this.stackFault(false); this.setCompareCc(CMP_UN); return; }
            this.begin();
            this.loadA(0);
            f.loadB32(0);
            const r = this.cmp(false);
            this.finish();
            this.setCompareCc(r);
            return;
          }
          case 5: this.fxam(); return;
          default: return this.host.raise(6);
        }
      case 5: {
        if (i === 7) this.host.raise(6);
        if (this.pushFaults()) return;
        const k = CONSTS[i]!;
        const rc = (this.cw >> CW_RC_SHIFT) & 3;
        const adj = rc === 1 || rc === 3 ? k[3]! : rc === 2 ? k[4]! : 0;
        this.sw &= ~SW_C1;
        this.pushRaw(k[0]!, k[1]!, (k[2]! + adj) | 0);
        return;
      }
      case 6:
        switch (i) {
          case 4: fxtract(this); return;
          case 5: fprem(this, true); return;
          case 6: this.top = (this.top - 1) & 7; this.sw &= ~SW_C1; return;
          case 7: this.top = (this.top + 1) & 7; this.sw &= ~SW_C1; return;
          default: transcendental(this, i); return; // F2XM1 FYL2X FPTAN FPATAN
        }
      default:
        switch (i) {
          case 0: fprem(this, false); return;
          case 2: this.unaryRound(false); return; // FSQRT
          case 4: this.unaryRound(true); return; // FRNDINT
          case 5: fscale(this); return;
          default: transcendental(this, 8 + i); return; // FYL2XP1 FSINCOS FSIN FCOS
        }
    }
  }

  /** FSQRT (precision-controlled) and FRNDINT. */
  private unaryRound(rndint: boolean): void {
    if (this.isEmpty(0)) { if (this.stackFault(false)) this.setStIndefinite(0); return; }
    const f = this.begin();
    this.loadA(0);
    if (rndint) f.roundToIntegral(FMT_F80);
    else f.sqrt(FMT_F80, this.prec());
    this.finish();
    if (!f.abort) this.setStResult(0);
  }

  private fxam(): void {
    const p = this.top;
    const se = this.se[p]!, hi = this.hi[p]!, lo = this.lo[p]!;
    let cc = (se & 0x8000) !== 0 ? SW_C1 : 0;
    const e = se & 0x7fff;
    if (this.empty[p] === 1) cc |= SW_C3 | SW_C0;
    else if (e === 0x7fff) {
      if (hi >= 0) cc |= 0; // unsupported
      else if ((hi & 0x7fffffff) === 0 && lo === 0) cc |= SW_C2 | SW_C0;
      else cc |= SW_C0;
    } else if (e === 0) cc |= hi === 0 && lo === 0 ? SW_C3 : SW_C3 | SW_C2;
    else cc |= hi < 0 ? SW_C2 : 0;
    this.sw = (this.sw & ~SW_CC) | cc;
  }

  // ---- MMX access (the SSE unit's MMX instructions) ----

  /** MMX register n low/high 32 bits (the significand of physical register n). */
  mmLo(n: number): number { return this.lo[n]!; }
  mmHi(n: number): number { return this.hi[n]!; }

  /** Writes MMX register n: the exponent field becomes all ones. */
  mmWrite(n: number, lo: number, hi: number): void {
    this.lo[n] = lo; this.hi[n] = hi; this.se[n] = 0xffff;
  }

  /** Every MMX instruction but EMMS: pending x87 exceptions first, then TOP=0, all tags valid. */
  mmxEnter(): void {
    this.fwait();
    this.top = 0;
    this.empty.fill(0);
  }

  /** EMMS: all registers empty (and TOP=0, as the hosts tested do). */
  emms(): void {
    this.fwait();
    this.top = 0;
    this.empty.fill(1);
  }
}

/** Soft-float classes, re-exported for the helper files. */
export { CLS_ZERO, CLS_NORMAL, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, FE_IE, FE_DE, FE_ZE, FE_OE, FE_UE, FE_PE, FMT_F80 };
export { IND_SE, IND_HI, IND_LO };
