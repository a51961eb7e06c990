// Soft floating point shared by the x87 and SSE units: IEEE 754 add/sub/mul/div/sqrt, format
// conversions and compares on single (32), double (64) and x87 extended (80) operands, rounded
// per the x86 rules (Intel SDM vol. 1, ch. 4 and 8): precision control, the four rounding modes,
// tininess detected after rounding, denormals, the x87 bias-adjusted results of unmasked
// overflow/underflow, and the IE/DE/ZE/OE/UE/PE flags.
//
// Operands are loaded into the A and B slots in an unpacked form (class, sign, unbiased exponent,
// 64-bit significand with the integer bit at bit 63); results come back packed in the target
// format in rSe/rHi/rLo. Nothing here allocates: the 128-bit working significand lives in a
// Uint32Array and every other value in a number field.

export * from './soft-float-defs.js';
import { FE_IE, FE_DE, FE_ZE, FE_OE, FE_UE, FE_PE, FE_PRE, RC_NEAREST, RC_DOWN, RC_UP, RC_ZERO, FMT_F32, FMT_F64, FMT_F80, CLS_ZERO, CLS_NORMAL, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, CMP_LT, CMP_EQ, CMP_GT, CMP_UN, MODE_X87, MODE_SSE } from './soft-float-defs.js';

const EMIN = [-126, -1022, -16382];
const EMAX = [127, 1023, 16383];
const BIAS = [127, 1023, 16383];
/** The x87 bias adjustment of unmasked overflow/underflow results (SDM 8.5.4). */
const BIAS_ADJUST = 24576;

const TWO32 = 4294967296;

/** Soft-float engine: one per unit (holds its scratch state). */
export class SoftFloat {
  // Configuration for the next operation.
  /** Exception mask bits (1 = masked), FE_* positions. */
  mask = 0x3f;
  rc = RC_NEAREST;
  mode = MODE_X87;
  /** SSE: denormal inputs read as zero / tiny results flush to zero. */
  daz = false;
  ftz = false;
  /** x87 register destination: unmasked OE/UE deliver the bias-adjusted result. */
  wrap = false;

  // Operand slots.
  aCls = 0; aS = 0; aE = 0; aHi = 0; aLo = 0; aDen = false;
  bCls = 0; bS = 0; bE = 0; bHi = 0; bLo = 0; bDen = false;
  // Unpack output.
  private uCls = 0; private uS = 0; private uE = 0; private uHi = 0; private uLo = 0; private uDen = false;

  // Results.
  rSe = 0; rHi = 0; rLo = 0;
  /** Flags raised by the operations since the caller last cleared it. */
  flags = 0;
  /** The last rounding increased the magnitude (x87 C1). */
  up = false;
  /** An unmasked exception stopped the operation: write no result. */
  abort = false;

  // Working value: sign, exponent of bit 127, 128-bit significand w[3]:w[2]:w[1]:w[0], sticky.
  private s = 0;
  private e = 0;
  private readonly w = new Uint32Array(4);
  private st = 0;
  // Multiplication pieces.
  private readonly pa = new Float64Array(4);
  private readonly pb = new Float64Array(4);
  private readonly col = new Float64Array(8);

  /** Resets the per-instruction outputs. */
  begin(mask: number, rc: number): void {
    this.mask = mask;
    this.rc = rc;
    this.flags = 0;
    this.up = false;
    this.abort = false;
  }

  // ---------------------------------------------------------------- unpacking

  private unpack80(se: number, hi: number, lo: number): void {
    const exp = se & 0x7fff;
    this.uS = (se >> 15) & 1;
    this.uDen = false;
    hi >>>= 0; lo >>>= 0;
    if (exp === 0) {
      if (hi === 0 && lo === 0) { this.uCls = CLS_ZERO; this.uE = 0; this.uHi = 0; this.uLo = 0; return; }
      this.uDen = true;
      this.uCls = CLS_NORMAL;
      this.normInto(hi, lo, -16382);
      return;
    }
    this.uHi = hi; this.uLo = lo;
    if (exp === 0x7fff) {
      if (hi < 0x80000000) this.uCls = CLS_UNSUPPORTED;
      else if (hi === 0x80000000 && lo === 0) this.uCls = CLS_INF;
      else this.uCls = (hi & 0x40000000) !== 0 ? CLS_QNAN : CLS_SNAN;
      return;
    }
    this.uCls = hi < 0x80000000 ? CLS_UNSUPPORTED : CLS_NORMAL;
    this.uE = exp - 16383;
  }

  private unpack64(hi: number, lo: number): void {
    const exp = (hi >>> 20) & 0x7ff;
    const fh = hi & 0xfffff;
    lo >>>= 0;
    this.uS = hi >>> 31;
    this.uDen = false;
    const sh = ((fh << 11) | (lo >>> 21)) >>> 0, sl = (lo << 11) >>> 0;
    if (exp === 0) {
      if (fh === 0 && lo === 0) { this.uCls = CLS_ZERO; this.uE = 0; this.uHi = 0; this.uLo = 0; return; }
      if (this.daz) { this.uCls = CLS_ZERO; this.uE = 0; this.uHi = 0; this.uLo = 0; return; }
      this.uDen = true;
      this.uCls = CLS_NORMAL;
      this.normInto(sh, sl, -1022);
      return;
    }
    this.uHi = (sh | 0x80000000) >>> 0; this.uLo = sl;
    if (exp === 0x7ff) {
      if (fh === 0 && lo === 0) this.uCls = CLS_INF;
      else this.uCls = (fh & 0x80000) !== 0 ? CLS_QNAN : CLS_SNAN;
      return;
    }
    this.uCls = CLS_NORMAL;
    this.uE = exp - 1023;
  }

  private unpack32(bits: number): void {
    const exp = (bits >>> 23) & 0xff;
    const f = bits & 0x7fffff;
    this.uS = bits >>> 31;
    this.uDen = false;
    if (exp === 0) {
      if (f === 0 || this.daz) { this.uCls = CLS_ZERO; this.uE = 0; this.uHi = 0; this.uLo = 0; return; }
      this.uDen = true;
      this.uCls = CLS_NORMAL;
      this.normInto((f << 8) >>> 0, 0, -126);
      return;
    }
    this.uHi = ((f << 8) | 0x80000000) >>> 0; this.uLo = 0;
    if (exp === 0xff) {
      if (f === 0) this.uCls = CLS_INF;
      else this.uCls = (f & 0x400000) !== 0 ? CLS_QNAN : CLS_SNAN;
      return;
    }
    this.uCls = CLS_NORMAL;
    this.uE = exp - 127;
  }

  /** Normalizes a nonzero 64-bit significand whose integer bit has weight 2^e. */
  private normInto(hi: number, lo: number, e: number): void {
    if (hi === 0) { hi = lo; lo = 0; e -= 32; }
    const z = Math.clz32(hi);
    if (z !== 0) { hi = ((hi << z) | (lo >>> (32 - z))) >>> 0; lo = (lo << z) >>> 0; e -= z; }
    this.uHi = hi; this.uLo = lo; this.uE = e;
  }

  private toA(): void {
    this.aCls = this.uCls; this.aS = this.uS; this.aE = this.uE; this.aHi = this.uHi; this.aLo = this.uLo; this.aDen = this.uDen;
  }

  private toB(): void {
    this.bCls = this.uCls; this.bS = this.uS; this.bE = this.uE; this.bHi = this.uHi; this.bLo = this.uLo; this.bDen = this.uDen;
  }

  loadA80(se: number, hi: number, lo: number): void { this.unpack80(se, hi, lo); this.toA(); }
  loadB80(se: number, hi: number, lo: number): void { this.unpack80(se, hi, lo); this.toB(); }
  loadA64(hi: number, lo: number): void { this.unpack64(hi, lo); this.toA(); }
  loadB64(hi: number, lo: number): void { this.unpack64(hi, lo); this.toB(); }
  loadA32(bits: number): void { this.unpack32(bits); this.toA(); }
  loadB32(bits: number): void { this.unpack32(bits); this.toB(); }

  /** Loads a signed integer (|v| <= 2^63, given as 32-bit halves) into A: exact. */
  loadAInt(hi: number, lo: number): void {
    let s = 0;
    hi |= 0; lo >>>= 0;
    if (hi < 0) { // negate the 64-bit value
      s = 1;
      lo = (-lo) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    } else hi >>>= 0;
    this.aS = s; this.aDen = false;
    if (hi === 0 && lo === 0) { this.aCls = CLS_ZERO; this.aE = 0; this.aHi = 0; this.aLo = 0; return; }
    this.aCls = CLS_NORMAL;
    this.normInto(hi, lo, 63);
    this.aE = this.uE; this.aHi = this.uHi; this.aLo = this.uLo;
  }

  /** Swaps the A and B slots. */
  swap(): void {
    let t: number | boolean = this.aCls; this.aCls = this.bCls; this.bCls = t;
    t = this.aS; this.aS = this.bS; this.bS = t;
    t = this.aE; this.aE = this.bE; this.bE = t;
    t = this.aHi; this.aHi = this.bHi; this.bHi = t;
    t = this.aLo; this.aLo = this.bLo; this.bLo = t;
    const d = this.aDen; this.aDen = this.bDen; this.bDen = d;
  }

  // ---------------------------------------------------------------- packing

  /** Packs a special value (zero, infinity, NaN with the given significand) into fmt. */
  private packSpecial(fmt: number, cls: number, s: number, hi: number, lo: number): void {
    if (cls === CLS_ZERO) { hi = 0; lo = 0; }
    else if (cls === CLS_INF) { hi = 0x80000000; lo = 0; }
    if (fmt === FMT_F80) {
      this.rSe = (s << 15) | (cls === CLS_ZERO ? 0 : 0x7fff);
      this.rHi = hi >>> 0; this.rLo = lo >>> 0;
    } else if (fmt === FMT_F64) {
      this.rSe = 0;
      this.rHi = ((s << 31) | (cls === CLS_ZERO ? 0 : 0x7ff00000) | ((hi >>> 11) & 0xfffff)) >>> 0;
      this.rLo = ((hi << 21) | (lo >>> 11)) >>> 0;
    } else {
      this.rSe = 0; this.rHi = 0;
      this.rLo = ((s << 31) | (cls === CLS_ZERO ? 0 : 0x7f800000) | ((hi >>> 8) & 0x7fffff)) >>> 0;
    }
  }

  /** The default NaN (real indefinite) in fmt. */
  private packIndefinite(fmt: number): void { this.packSpecial(fmt, CLS_QNAN, 1, 0xc0000000, 0); }

  /** Packs a finite value with integer-bit significand hi:lo, exponent e (ignored when denormal). */
  private packFinite(fmt: number, s: number, e: number, hi: number, lo: number): void {
    const normal = hi >= 0x80000000;
    if (hi === 0 && lo === 0) { this.packSpecial(fmt, CLS_ZERO, s, 0, 0); return; }
    const be = normal ? e + BIAS[fmt]! : 0;
    if (fmt === FMT_F80) { this.rSe = (s << 15) | be; this.rHi = hi; this.rLo = lo; }
    else if (fmt === FMT_F64) {
      this.rSe = 0;
      this.rHi = ((s << 31) | (be << 20) | ((hi >>> 11) & 0xfffff)) >>> 0;
      this.rLo = ((hi << 21) | (lo >>> 11)) >>> 0;
    } else {
      this.rSe = 0; this.rHi = 0;
      this.rLo = ((s << 31) | (be << 23) | ((hi >>> 8) & 0x7fffff)) >>> 0;
    }
  }

  // ---------------------------------------------------------------- working value

  /** Loads the working value from A. */
  private workFromA(): void {
    this.s = this.aS; this.e = this.aE;
    const w = this.w;
    w[3] = this.aHi; w[2] = this.aLo; w[1] = 0; w[0] = 0;
    this.st = 0;
  }

  /** Shifts w right by k bits; bits shifted out go to the sticky bit. */
  private shr(k: number): void {
    const w = this.w;
    if (k <= 0) return;
    if (k >= 128) {
      if ((w[0]! | w[1]! | w[2]! | w[3]!) !== 0) this.st = 1;
      w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0;
      return;
    }
    while (k >= 32) {
      if (w[0] !== 0) this.st = 1;
      w[0] = w[1]!; w[1] = w[2]!; w[2] = w[3]!; w[3] = 0;
      k -= 32;
    }
    if (k > 0) {
      if ((w[0]! << (32 - k)) !== 0) this.st = 1;
      w[0] = (w[0]! >>> k) | (w[1]! << (32 - k));
      w[1] = (w[1]! >>> k) | (w[2]! << (32 - k));
      w[2] = (w[2]! >>> k) | (w[3]! << (32 - k));
      w[3] = w[3]! >>> k;
    }
  }

  /** Shifts w left until bit 127 is set; false if w is zero. */
  private normalize(): boolean {
    const w = this.w;
    if ((w[0]! | w[1]! | w[2]! | w[3]!) === 0) return false;
    while (w[3] === 0) { w[3] = w[2]!; w[2] = w[1]!; w[1] = w[0]!; w[0] = 0; this.e -= 32; }
    const z = Math.clz32(w[3]!);
    if (z !== 0) {
      w[3] = (w[3]! << z) | (w[2]! >>> (32 - z));
      w[2] = (w[2]! << z) | (w[1]! >>> (32 - z));
      w[1] = (w[1]! << z) | (w[0]! >>> (32 - z));
      w[0] = w[0]! << z;
      this.e -= z;
    }
    return true;
  }

  /** Bit i (0..127) of w. */
  private bit(i: number): number { return (this.w[i >> 5]! >>> (i & 31)) & 1; }

  /** Whether any bit of w below bit i (or the sticky bit) is set. */
  private anyBelow(i: number): boolean {
    if (this.st !== 0) return true;
    const w = this.w;
    const limb = i >> 5, b = i & 31;
    if (b !== 0 && (w[limb]! << (32 - b)) !== 0) return true;
    for (let k = limb - 1; k >= 0; k--) if (w[k] !== 0) return true;
    return false;
  }

  /** Whether bits [i, 127] of w are all ones. */
  private onesFrom(i: number): boolean {
    const w = this.w;
    const limb = i >> 5, b = i & 31;
    if ((w[limb]! >>> b) !== (0xffffffff >>> b)) return false;
    for (let k = limb + 1; k < 4; k++) if (w[k] !== 0xffffffff) return false;
    return true;
  }

  /** Rounding decision at lsb position `pos` of w: 0 none, 1 exact, 2 inexact-down, 3 inexact-up. */
  private decide(pos: number, rc: number): number {
    const half = pos > 0 ? this.bit(pos - 1) : 0;
    const rest = pos > 1 ? this.anyBelow(pos - 1) : this.st !== 0;
    if (half === 0 && !rest) return 1;
    let inc: boolean;
    if (rc === RC_NEAREST) inc = half !== 0 && (rest || this.bit(pos) !== 0);
    else if (rc === RC_ZERO) inc = false;
    else inc = (rc === RC_DOWN) === (this.s === 1);
    return inc ? 3 : 2;
  }

  /** Adds 2^pos to w, clears the bits below pos; renormalizes a carry out of bit 127. */
  private increment(pos: number): void {
    const w = this.w;
    let limb = pos >> 5;
    const add = 2 ** (pos & 31);
    for (let k = 0; k < limb; k++) w[k] = 0;
    w[limb] = w[limb]! & ~(add - 1) >>> 0;
    let v = w[limb]! + add;
    w[limb] = v >>> 0;
    while (v >= TWO32 && limb < 3) { limb++; v = w[limb]! + 1; w[limb] = v >>> 0; }
    if (v >= TWO32) { w[3] = 0x80000000; this.e++; }
  }

  /** Clears the bits of w below pos. */
  private truncate(pos: number): void {
    const w = this.w;
    const limb = pos >> 5;
    for (let k = 0; k < limb; k++) w[k] = 0;
    w[limb] = (w[limb]! & ~((2 ** (pos & 31)) - 1)) >>> 0;
  }

  /**
   * Rounds the (normalized, nonzero) working value to `p` significand bits in format `fmt` and
   * packs it. Handles underflow (tininess after rounding), overflow, FTZ and x87 wrapping.
   */
  private roundPack(fmt: number, p: number): void {
    const emin = EMIN[fmt]!, emax = EMAX[fmt]!, rc = this.rc;
    const pos = 128 - p;
    let d = this.decide(pos, rc);
    const eR = this.e + (d === 3 && this.onesFrom(pos) ? 1 : 0);
    this.up = false;
    if (eR < emin) {
      const ueMasked = (this.mask & FE_UE) !== 0;
      if (this.ftz && ueMasked) {
        this.flags |= FE_UE | FE_PE;
        this.packSpecial(fmt, CLS_ZERO, this.s, 0, 0);
        return;
      }
      if (!ueMasked && this.wrap) {
        this.flags |= FE_UE;
        if (d !== 1) { this.flags |= FE_PE; if (d === 3) { this.up = true; this.increment(pos); } else this.truncate(pos); }
        this.packFinite(fmt, this.s, this.e + BIAS_ADJUST, this.w[3]!, this.w[2]!);
        return;
      }
      this.shr(emin - this.e);
      this.e = emin;
      d = this.decide(pos, rc);
      if (d !== 1) {
        this.flags |= FE_UE | FE_PE;
        if (d === 3) { this.up = true; this.increment(pos); } else this.truncate(pos);
      } else if (!ueMasked) this.flags |= FE_UE;
      this.packFinite(fmt, this.s, emin, this.w[3]!, this.w[2]!);
      return;
    }
    if (d !== 1) {
      this.flags |= FE_PE;
      if (d === 3) { this.up = true; this.increment(pos); } else this.truncate(pos);
    }
    if (this.e > emax) {
      if ((this.mask & FE_OE) === 0 && this.wrap) {
        this.flags |= FE_OE;
        this.packFinite(fmt, this.s, this.e - BIAS_ADJUST, this.w[3]!, this.w[2]!);
        return;
      }
      this.flags |= FE_OE | FE_PE;
      const toInf = rc === RC_NEAREST || (rc === RC_UP && this.s === 0) || (rc === RC_DOWN && this.s === 1);
      this.up = toInf;
      if (toInf) this.packSpecial(fmt, CLS_INF, this.s, 0, 0);
      else this.packMax(fmt, p);
      return;
    }
    this.packFinite(fmt, this.s, this.e, this.w[3]!, this.w[2]!);
  }

  /** The largest finite value of fmt at precision p, with the working sign. */
  private packMax(fmt: number, p: number): void {
    const hi = p >= 32 ? 0xffffffff : (0xffffffff << (32 - p)) >>> 0;
    const lo = p <= 32 ? 0 : p >= 64 ? 0xffffffff : (0xffffffff << (64 - p)) >>> 0;
    this.packFinite(fmt, this.s, EMAX[fmt]!, hi, lo);
  }

  // ---------------------------------------------------------------- special operands

  /** Whether the last loaded operands hold a NaN or unsupported value; if so, packs the result. */
  private nanPair(fmt: number, two: boolean): boolean {
    const ac = this.aCls, bc = two ? this.bCls : CLS_ZERO;
    if (ac < CLS_QNAN && bc < CLS_QNAN) return false;
    if (ac === CLS_UNSUPPORTED || bc === CLS_UNSUPPORTED) { this.invalid(fmt); return true; }
    if (ac === CLS_SNAN || bc === CLS_SNAN) {
      this.flags |= FE_IE;
      if ((this.mask & FE_IE) === 0) { this.abort = true; return true; }
    }
    let useA: boolean;
    if (bc < CLS_QNAN) useA = true;
    else if (ac < CLS_QNAN) useA = false;
    else if (this.mode === MODE_SSE) useA = true;
    else if (ac !== bc) useA = ac === CLS_QNAN;
    else {
      const ah = this.aHi & 0x3fffffff, bh = this.bHi & 0x3fffffff;
      // Equal significands: the positive one (checked on the host CPU).
      if (ah === bh && this.aLo === this.bLo) useA = this.aS === 0;
      else useA = ah > bh || (ah === bh && this.aLo > this.bLo);
    }
    if (useA) this.packSpecial(fmt, CLS_QNAN, this.aS, this.aHi | 0x40000000, this.aLo);
    else this.packSpecial(fmt, CLS_QNAN, this.bS, this.bHi | 0x40000000, this.bLo);
    return true;
  }

  /** Invalid operation: IE, and the default NaN when masked. */
  private invalid(fmt: number): void {
    this.flags |= FE_IE;
    if ((this.mask & FE_IE) === 0) { this.abort = true; return; }
    this.packIndefinite(fmt);
  }

  /** Raises DE for denormal operands; true when DE is unmasked (stop). */
  private denormal(two: boolean): boolean {
    if (this.aDen || (two && this.bDen)) {
      this.flags |= FE_DE;
      if ((this.mask & FE_DE) === 0) { this.abort = true; return true; }
    }
    return false;
  }

  // ---------------------------------------------------------------- operations

  /** Result = A + B (B negated when `negB`), rounded to p bits of fmt. */
  add(fmt: number, p: number, negB: boolean): void {
    if (this.nanPair(fmt, true)) return;
    const bS = negB ? this.bS ^ 1 : this.bS;
    const ac = this.aCls, bc = this.bCls;
    if (ac === CLS_INF || bc === CLS_INF) {
      if (ac === CLS_INF && bc === CLS_INF && this.aS !== bS) { this.invalid(fmt); return; }
      if (this.denormal(true)) return;
      this.packSpecial(fmt, CLS_INF, ac === CLS_INF ? this.aS : bS, 0, 0);
      return;
    }
    if (this.denormal(true)) return;
    if (ac === CLS_ZERO && bc === CLS_ZERO) {
      const s = this.aS === bS ? this.aS : this.rc === RC_DOWN ? 1 : 0;
      this.packSpecial(fmt, CLS_ZERO, s, 0, 0);
      return;
    }
    if (bc === CLS_ZERO) { this.workFromA(); this.roundPack(fmt, p); return; }
    if (ac === CLS_ZERO) {
      this.s = bS; this.e = this.bE; this.st = 0;
      const w = this.w; w[3] = this.bHi; w[2] = this.bLo; w[1] = 0; w[0] = 0;
      this.roundPack(fmt, p);
      return;
    }
    // Order by magnitude: X is the larger exponent.
    let xS = this.aS, xE = this.aE, xH = this.aHi, xL = this.aLo;
    let yS = bS, yE = this.bE, yH = this.bHi, yL = this.bLo;
    if (yE > xE || (yE === xE && (yH > xH || (yH === xH && yL > xL)))) {
      let t = xS; xS = yS; yS = t; t = xE; xE = yE; yE = t;
      t = xH; xH = yH; yH = t; t = xL; xL = yL; yL = t;
    }
    const w = this.w;
    this.s = xS; this.e = xE; this.st = 0;
    w[3] = yH; w[2] = yL; w[1] = 0; w[0] = 0;
    this.shr(xE - yE);
    const y3 = w[3]!, y2 = w[2]!, y1 = w[1]!, y0 = w[0]!;
    if (xS === yS) {
      let v = y0; w[0] = v >>> 0;
      v = y1 + 0; w[1] = v >>> 0;
      v = xL + y2; w[2] = v >>> 0;
      v = xH + y3 + (v >= TWO32 ? 1 : 0); w[3] = v >>> 0;
      if (v >= TWO32) {
        this.shr(1);
        w[3] = (w[3]! | 0x80000000) >>> 0;
        this.e++;
      }
    } else {
      // X - Y; a sticky Y means Y is slightly larger than its bits: borrow one more at bit 0.
      let borrow = this.st;
      let v = 0 - y0 - borrow; w[0] = v >>> 0; borrow = v < 0 ? 1 : 0;
      v = 0 - y1 - borrow; w[1] = v >>> 0; borrow = v < 0 ? 1 : 0;
      v = xL - y2 - borrow; w[2] = v >>> 0; borrow = v < 0 ? 1 : 0;
      v = xH - y3 - borrow; w[3] = v >>> 0;
      if (!this.normalize()) {
        this.packSpecial(fmt, CLS_ZERO, this.rc === RC_DOWN ? 1 : 0, 0, 0);
        return;
      }
    }
    this.roundPack(fmt, p);
  }

  /** Result = A * B. */
  mul(fmt: number, p: number): void {
    if (this.nanPair(fmt, true)) return;
    const ac = this.aCls, bc = this.bCls, s = this.aS ^ this.bS;
    if (ac === CLS_INF || bc === CLS_INF) {
      if (ac === CLS_ZERO || bc === CLS_ZERO) { this.invalid(fmt); return; }
      if (this.denormal(true)) return;
      this.packSpecial(fmt, CLS_INF, s, 0, 0);
      return;
    }
    if (this.denormal(true)) return;
    if (ac === CLS_ZERO || bc === CLS_ZERO) { this.packSpecial(fmt, CLS_ZERO, s, 0, 0); return; }
    this.mul64(this.aHi, this.aLo, this.bHi, this.bLo);
    this.s = s;
    this.e = this.aE + this.bE + 1;
    this.st = 0;
    if (this.w[3]! < 0x80000000) this.normalize();
    this.roundPack(fmt, p);
  }

  /** w = (ah:al) * (bh:bl), 128 bits, with 16-bit pieces so every partial sum is exact. */
  private mul64(ah: number, al: number, bh: number, bl: number): void {
    const pa = this.pa, pb = this.pb, col = this.col, w = this.w;
    pa[0] = al & 0xffff; pa[1] = al >>> 16; pa[2] = ah & 0xffff; pa[3] = ah >>> 16;
    pb[0] = bl & 0xffff; pb[1] = bl >>> 16; pb[2] = bh & 0xffff; pb[3] = bh >>> 16;
    col.fill(0);
    for (let i = 0; i < 4; i++) {
      const x = pa[i]!;
      if (x === 0) continue;
      for (let j = 0; j < 4; j++) col[i + j] = col[i + j]! + x * pb[j]!;
    }
    let carry = 0;
    for (let k = 0; k < 8; k += 2) {
      let v = col[k]! + carry;
      const lo16 = v % 65536;
      carry = (v - lo16) / 65536;
      v = col[k + 1]! + carry;
      const hi16 = v % 65536;
      carry = (v - hi16) / 65536;
      w[k >> 1] = lo16 + hi16 * 65536;
    }
  }

  /**
   * Result = A / B. `below`: the result is A/B less a positive amount far below any bit kept (FPATAN of a tiny
   * ratio: atan(z) = z - z³/3), which decides directed rounding when A/B is exact.
   */
  div(fmt: number, p: number, below = false): void {
    if (this.nanPair(fmt, true)) return;
    const ac = this.aCls, bc = this.bCls, s = this.aS ^ this.bS;
    if (ac === CLS_INF) {
      if (bc === CLS_INF) { this.invalid(fmt); return; }
      if (this.denormal(true)) return;
      this.packSpecial(fmt, CLS_INF, s, 0, 0);
      return;
    }
    if (bc === CLS_INF) {
      if (this.denormal(true)) return;
      this.packSpecial(fmt, CLS_ZERO, s, 0, 0);
      return;
    }
    if (bc === CLS_ZERO) {
      if (ac === CLS_ZERO) { this.invalid(fmt); return; }
      if (this.denormal(true)) return;
      this.flags |= FE_ZE;
      if ((this.mask & FE_ZE) === 0) { this.abort = true; return; }
      this.packSpecial(fmt, CLS_INF, s, 0, 0);
      return;
    }
    if (this.denormal(true)) return;
    if (ac === CLS_ZERO) { this.packSpecial(fmt, CLS_ZERO, s, 0, 0); return; }
    // Restoring division: 66 quotient bits of (A sig) / (B sig), remainder kept below 2^65.
    let rh = this.aHi, rl = this.aLo;
    const bh = this.bHi, bl = this.bLo;
    let e = this.aE - this.bE;
    if (rh < bh || (rh === bh && rl < bl)) { // shift the dividend so the quotient starts with 1
      rh = rh * 2 + (rl >>> 31); rl = (rl << 1) >>> 0; e--;
    }
    const w = this.w;
    w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0;
    for (let i = 127; i >= 62; i--) {
      if (rh > bh || (rh === bh && rl >= bl)) {
        let lo = rl - bl, borrow = 0;
        if (lo < 0) { lo += TWO32; borrow = 1; }
        rl = lo; rh = rh - bh - borrow;
        w[i >> 5] = (w[i >> 5]! | (1 << (i & 31))) >>> 0;
      }
      rh = rh * 2 + (rl >>> 31); rl = (rl << 1) >>> 0;
    }
    this.s = s; this.e = e;
    this.st = rh !== 0 || rl !== 0 ? 1 : 0;
    if (below && this.st === 0) {
      // One unit off the lowest quotient bit (62), the rest of it as the sticky bit.
      for (let i = 1; i < 4; i++) {
        const unit = i === 1 ? 1 << 30 : 1;
        const v = w[i]! - unit;
        w[i] = v >>> 0;
        if (v >= 0) break;
      }
      this.st = 1;
      if ((w[3]! & 0x80000000) === 0) { // A/B was a power of two: renormalize
        w[3] = ((w[3]! << 1) | (w[2]! >>> 31)) >>> 0; w[2] = ((w[2]! << 1) | (w[1]! >>> 31)) >>> 0; w[1] = (w[1]! << 1) >>> 0;
        this.e--;
      }
    }
    this.roundPack(fmt, p);
  }

  /** Result = sqrt(A). */
  sqrt(fmt: number, p: number): void {
    if (this.nanPair(fmt, false)) return;
    const ac = this.aCls;
    if (ac === CLS_ZERO) { this.packSpecial(fmt, CLS_ZERO, this.aS, 0, 0); return; }
    if (this.aS === 1) { this.invalid(fmt); return; }
    if (ac === CLS_INF) { this.packSpecial(fmt, CLS_INF, 0, 0, 0); return; }
    if (this.denormal(false)) return;
    // Radicand: the 64-bit significand, times 2 when the exponent is odd, so the root's exponent
    // is e/2 and the root of sig*2^(63 or 64)... Digit-by-digit on 3-limb integers (24-bit limbs).
    let e = this.aE;
    const odd = (e & 1) !== 0;
    if (odd) e -= 1;
    // Radicand bits, most significant first: 65 bits (odd: sig with a leading bit moved), then zeros.
    const hi = this.aHi, lo = this.aLo;
    // Remainder and root as numbers split in 2 limbs of 2^26 (so that 4*rem fits exactly).
    let remH = 0, remL = 0; // rem = remH * 2^34 + remL  (remL < 2^34)
    let qH = 0, qL = 0;     // q = qH * 2^34 + qL
    const L = 17179869184;  // 2^34
    const w = this.w;
    w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0;
    // Root bits: 66 (1 integer + 65 fraction), consuming 2 radicand bits each.
    for (let i = 0; i < 66; i++) {
      // Next two radicand bits: radicand = sig << (odd ? 1 : 0) laid out as bits r[0..] from the top.
      const b1 = this.radBit(hi, lo, odd, 2 * i), b0 = this.radBit(hi, lo, odd, 2 * i + 1);
      // rem = rem*4 + bits
      remL = remL * 4 + b1 * 2 + b0;
      remH = remH * 4 + Math.floor(remL / L); remL %= L;
      // t = q*4 + 1
      let tL = qL * 4 + 1;
      const tH = qH * 4 + Math.floor(tL / L); tL %= L;
      let bit = 0;
      if (remH > tH || (remH === tH && remL >= tL)) {
        remL -= tL; remH -= tH;
        if (remL < 0) { remL += L; remH -= 1; }
        bit = 1;
      }
      qL = qL * 2 + bit;
      qH = qH * 2 + Math.floor(qL / L); qL %= L;
      if (bit !== 0) {
        const pos = 127 - i;
        w[pos >> 5] = (w[pos >> 5]! | (1 << (pos & 31))) >>> 0;
      }
    }
    this.s = 0;
    // Radicand value: the sig (or sig*2) as 1.xx (or 1x.xx) * 2^e: root = 1.xx * 2^(e/2).
    this.e = e / 2;
    this.st = remH !== 0 || remL !== 0 ? 1 : 0;
    this.roundPack(fmt, p);
  }

  /** Bit k (0 = most significant) of the radicand: for odd exponents the significand as 2 integer bits. */
  private radBit(hi: number, lo: number, odd: boolean, k: number): number {
    // Even: radicand = 0 (1 bit pad) then sig, so the first pair is (0, bit63).
    const idx = odd ? k : k - 1; // index into sig bits from bit 63 downwards
    if (idx < 0 || idx > 63) return 0;
    return idx < 32 ? (hi >>> (31 - idx)) & 1 : (lo >>> (63 - idx)) & 1;
  }

  /** Result = A converted to fmt (p bits): FST/FLD conversions, CVTSS2SD/CVTSD2SS. */
  convert(fmt: number, p: number): void {
    if (this.aCls === CLS_UNSUPPORTED) { this.invalid(fmt); return; }
    if (this.aCls === CLS_SNAN || this.aCls === CLS_QNAN) { this.nanPair(fmt, false); return; }
    if (this.aCls === CLS_INF || this.aCls === CLS_ZERO) { this.packSpecial(fmt, this.aCls, this.aS, 0, 0); return; }
    if (this.denormal(false)) return;
    this.workFromA();
    this.roundPack(fmt, p);
  }

  /** Rounds the working value from A to fmt without the operand checks (FILD, CVTSI2SS). */
  convertExact(fmt: number, p: number): void {
    if (this.aCls === CLS_ZERO) { this.packSpecial(fmt, CLS_ZERO, this.aS, 0, 0); return; }
    this.workFromA();
    this.roundPack(fmt, p);
  }

  /** Packs A unchanged-in-value into fmt (copies of specials keep their payloads). */
  packA(fmt: number): void {
    if (this.aCls === CLS_NORMAL) { this.workFromA(); this.roundPack(fmt, 64); return; }
    this.packSpecial(fmt, this.aCls === CLS_SNAN ? CLS_QNAN : this.aCls, this.aS, this.aHi, this.aLo);
  }

  /**
   * Rounds A to an integer per rc. Returns false for NaN/inf/unsupported (caller decides);
   * otherwise the integer's magnitude is in rHi:rLo (saturating flag `big` when >= 2^64) and its sign in rSe.
   */
  toInteger(rc: number): boolean {
    this.up = false;
    const c = this.aCls;
    if (c === CLS_ZERO) { this.rSe = this.aS; this.rHi = 0; this.rLo = 0; this.big = false; return true; }
    if (c !== CLS_NORMAL) return false;
    this.big = this.aE >= 64;
    if (this.big) { this.rSe = this.aS; this.rHi = 0xffffffff; this.rLo = 0xffffffff; return true; }
    this.s = this.aS; this.e = this.aE; this.st = 0;
    const w = this.w;
    w[3] = this.aHi; w[2] = this.aLo; w[1] = 0; w[0] = 0;
    // Integer bits are the top (e+1) bits: shift so the units bit sits at bit 64.
    this.shr(63 - this.aE);
    const d = this.decide(64, rc);
    if (d !== 1) {
      this.flags |= FE_PE;
      if (d === 3) {
        this.up = true;
        let v = w[2]! + 1; w[2] = v >>> 0;
        if (v >= TWO32) { v = w[3]! + 1; w[3] = v >>> 0; if (v >= TWO32) this.big = true; }
      }
    }
    this.rSe = this.aS; this.rHi = w[3]!; this.rLo = w[2]!;
    return true;
  }

  /** Set by toInteger: the magnitude does not fit 64 bits. */
  big = false;

  /**
   * Rounds A to an integral value in extended format (FRNDINT) per rc.
   */
  roundToIntegral(fmt: number): void {
    const c = this.aCls;
    if (c !== CLS_NORMAL) {
      if (c === CLS_ZERO || c === CLS_INF) { this.packSpecial(fmt, c, this.aS, 0, 0); return; }
      this.nanPair(fmt, false);
      return;
    }
    if (this.denormal(false)) return;
    if (this.aE >= 63) { this.workFromA(); this.roundPack(fmt, 64); return; }
    this.toInteger(this.rc);
    if (this.rHi === 0 && this.rLo === 0) { this.packSpecial(fmt, CLS_ZERO, this.aS, 0, 0); return; }
    const up = this.up;
    const w = this.w;
    this.s = this.aS; this.e = 127; this.st = 0;
    w[3] = 0; w[2] = 0; w[1] = this.rHi; w[0] = this.rLo;
    this.normalize();
    this.roundPack(fmt, 64);
    this.up = up;
  }

  /**
   * Compares A with B. `quiet`: only SNaN operands raise IE (else any NaN does).
   * Unsupported x87 operands raise IE. Denormal operands raise DE.
   */
  compare(quiet: boolean): number {
    const ac = this.aCls, bc = this.bCls;
    if (ac >= CLS_QNAN || bc >= CLS_QNAN) {
      if (!quiet || ac === CLS_SNAN || bc === CLS_SNAN || ac === CLS_UNSUPPORTED || bc === CLS_UNSUPPORTED) {
        this.flags |= FE_IE;
        if ((this.mask & FE_IE) === 0) this.abort = true;
      }
      return CMP_UN;
    }
    if (this.denormal(true)) return CMP_UN;
    return this.order();
  }

  /** Orders two non-NaN operands. */
  order(): number {
    const ac = this.aCls, bc = this.bCls;
    if (ac === CLS_ZERO && bc === CLS_ZERO) return CMP_EQ;
    // Map to a signed magnitude key: zero < normal < inf.
    if (this.aS !== this.bS) {
      if (ac === CLS_ZERO) return this.bS === 1 ? CMP_GT : CMP_LT;
      if (bc === CLS_ZERO) return this.aS === 1 ? CMP_LT : CMP_GT;
      return this.aS === 1 ? CMP_LT : CMP_GT;
    }
    let m: number; // magnitude order of A vs B: -1, 0, 1
    if (ac !== bc) {
      const ka = ac === CLS_ZERO ? 0 : ac === CLS_NORMAL ? 1 : 2;
      const kb = bc === CLS_ZERO ? 0 : bc === CLS_NORMAL ? 1 : 2;
      m = ka < kb ? -1 : 1;
    } else if (ac === CLS_INF) m = 0;
    else if (this.aE !== this.bE) m = this.aE < this.bE ? -1 : 1;
    else if (this.aHi !== this.bHi) m = this.aHi < this.bHi ? -1 : 1;
    else if (this.aLo !== this.bLo) m = this.aLo < this.bLo ? -1 : 1;
    else m = 0;
    if (m === 0) return CMP_EQ;
    if (this.aS === 1) m = -m;
    return m < 0 ? CMP_LT : CMP_GT;
  }

  /** Packs a finite value given as sign, unbiased exponent and 64-bit significand into fmt at p bits. */
  packValue(fmt: number, p: number, s: number, e: number, hi: number, lo: number): void {
    const w = this.w;
    this.s = s; this.e = e; this.st = 0;
    w[3] = hi >>> 0; w[2] = lo >>> 0; w[1] = 0; w[0] = 0;
    if (!this.normalize()) { this.packSpecial(fmt, CLS_ZERO, s, 0, 0); return; }
    this.roundPack(fmt, p);
  }

  /** Packs the default NaN, an infinity or a zero into fmt (for callers' special cases). */
  packClass(fmt: number, cls: number, s: number): void {
    if (cls === CLS_QNAN) this.packIndefinite(fmt);
    else this.packSpecial(fmt, cls, s, 0, 0);
  }

  /** Packs A's NaN (quieted) into fmt, raising IE for an SNaN. */
  propagateA(fmt: number): void { this.nanPair(fmt, false); }

  /** Handles NaN/unsupported operands of a two-operand op: true when the result is decided. */
  nanResult(fmt: number): boolean { return this.nanPair(fmt, true); }
}
