// x87 instructions beyond the basic arithmetic (SDM vol. 2): FPREM/FPREM1 (exact partial
// remainder), FSCALE and FXTRACT (exact), and the transcendental ones — F2XM1 FYL2X FYL2XP1
// FPTAN FPATAN FSIN FCOS FSINCOS — which compute in double precision through Math (about 53
// correct bits instead of the hardware's ~64; the exception and stack rules follow the SDM).

import type { X87 } from './x87.js';
import {
  CLS_INF, CLS_NORMAL, CLS_QNAN, CLS_ZERO, FE_DE, FE_IE, FE_OE, FE_PE, FE_UE, FE_ZE, FMT_F80,
} from './x87-float80.js';

const SW_C0 = 0x100, SW_C1 = 0x200, SW_C2 = 0x400, SW_C3 = 0x4000;
const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;
const TWO32 = 4294967296;

// Scratch for double <-> bits (module-level, allocated once).
const dbl = new Float64Array(1);
const dblBits = new Uint32Array(dbl.buffer);

/** v * 2^n without intermediate overflow/underflow of 2^n. */
function ldexp(v: number, n: number): number {
  for (let k = 0; k < 40 && n > 1000; k++) { v *= 2 ** 1000; n -= 1000; }
  for (let k = 0; k < 40 && n < -1000; k++) { v *= 2 ** -1000; n += 1000; }
  return v * 2 ** n;
}

/** The significand of operand A (or B) as a double in [1, 2), sign applied. */
function mantA(x: X87): number { const f = x.f; return (f.aS ? -1 : 1) * ((f.aHi >>> 0) * TWO32 + (f.aLo >>> 0)) / 2 ** 63; }
function mantB(x: X87): number { const f = x.f; return (f.bS ? -1 : 1) * ((f.bHi >>> 0) * TWO32 + (f.bLo >>> 0)) / 2 ** 63; }

/** Operand A as a double (zero/inf included). */
function valA(x: X87): number {
  const f = x.f;
  if (f.aCls === CLS_ZERO) return f.aS ? -0 : 0;
  if (f.aCls === CLS_INF) return f.aS ? -Infinity : Infinity;
  return ldexp(mantA(x), f.aE);
}

/** Rounds v * 2^k into the engine's result (extended format); v must not be NaN. */
function packDouble(x: X87, v: number, k: number): void {
  const f = x.f;
  if (v === 0 || !Number.isFinite(v)) {
    f.packClass(FMT_F80, v === 0 ? CLS_ZERO : CLS_INF, v < 0 || Object.is(v, -0) ? 1 : 0);
    return;
  }
  dbl[0] = v;
  f.loadA64(dblBits[1]!, dblBits[0]!);
  f.packValue(FMT_F80, 64, f.aS, f.aE + k, f.aHi, f.aLo);
}

/**
 * Common operand checks for ST(0) (and ST(1) when `two`): stack faults, NaNs, unsupported,
 * denormals. Returns true when the instruction is finished.
 */
function prelude(x: X87, two: boolean, pushes: boolean, code: number): boolean {
  // Only C1 and (for the trigonometric ones) C2 change.
  if (!two && code !== 0) x.sw &= ~SW_C2;
  if (x.isEmpty(0) || (two && x.isEmpty(1))) {
    if (x.stackFault(false)) {
      if (two) { x.setStIndefinite(1); x.pop(); } else {
        x.setStIndefinite(0);
        if (pushes) x.pushRaw(0xffff, 0xc0000000 | 0, 0);
      }
    }
    return true;
  }
  if (pushes && !x.isEmpty(-1)) { overflowBoth(x); return true; }
  const f = x.begin();
  if (two) { x.loadA(1); x.loadB(0); } else x.loadA(0);
  if (two ? f.nanResult(FMT_F80) : f.aCls >= CLS_QNAN) {
    if (!two) f.propagateA(FMT_F80);
    x.finish();
    if (!f.abort) {
      if (two) { x.setStResult(1); x.pop(); } else {
        x.setStResult(0);
        if (pushes) x.pushRaw(f.rSe, f.rHi, f.rLo);
      }
    }
    return true;
  }
  // FYL2X of a negative operand, FYL2XP1 of -inf: invalid before any denormal check.
  if ((code === 1 && f.bS === 1 && f.bCls !== CLS_ZERO) || (code === 9 && f.bS === 1 && f.bCls === CLS_INF)) {
    invalid(x, true, false);
    return true;
  }
  if (f.aDen || (two && f.bDen)) {
    f.flags |= FE_DE;
    if ((x.cw & FE_DE) === 0) { x.finish(); return true; }
  }
  return false;
}

/** Stack overflow of FPTAN FSINCOS FXTRACT: masked, both ST(0) and the pushed value are the default NaN. */
function overflowBoth(x: X87): void {
  if (!x.stackFault(true)) return;
  x.setStIndefinite(0);
  x.pushRaw(0xffff, 0xc0000000 | 0, 0);
}

/** Invalid operation: IE; masked, the default NaN goes to ST(dest) (and a pop/push follows). */
function invalid(x: X87, two: boolean, pushes: boolean): void {
  const f = x.f;
  f.flags |= FE_IE;
  x.finish();
  if ((x.cw & FE_IE) === 0) return;
  if (two) { x.setStIndefinite(1); x.pop(); return; }
  x.setStIndefinite(0);
  if (pushes) x.pushRaw(0xffff, 0xc0000000 | 0, 0);
}

/** F2XM1 FYL2X FPTAN FPATAN (0-3) and FYL2XP1 FSINCOS FSIN FCOS (9, 11, 14, 15). */
export function transcendental(x: X87, code: number): void {
  const two = code === 1 || code === 3 || code === 9;
  const pushes = code === 2 || code === 11;
  if (prelude(x, two, pushes, code)) return;
  const f = x.f;
  if (two) { binary(x, code); return; }
  const a = f.aCls;
  if (code === 0) { // F2XM1
    if (a === CLS_ZERO) { f.packClass(FMT_F80, CLS_ZERO, f.aS); finishTo0(x, 0); return; }
    if (a === CLS_INF) { if (f.aS) packDouble(x, -1, 0); else f.packClass(FMT_F80, CLS_INF, 0); finishTo0(x, 0); return; }
    // Outside [-1, 1] the result is undefined; the operand stays (as on the AMD hosts tested).
    if (f.aE >= 0 && !(f.aE === 0 && f.aHi === 0x80000000 && f.aLo === 0)) { x.finish(); return; }
    const r = f.aE < -60 ? mantA(x) * Math.LN2 : Math.expm1(valA(x) * Math.LN2);
    packDouble(x, r, f.aE < -60 ? f.aE : 0);
    f.flags |= FE_PE;
    finishTo0(x, 0);
    return;
  }
  // FPTAN FSINCOS FSIN FCOS
  if (a === CLS_INF) { invalid(x, false, pushes); return; }
  if (a === CLS_NORMAL && f.aE >= 63) { x.sw |= SW_C2; x.finish(); return; }
  const zero = a === CLS_ZERO;
  const tiny = a === CLS_NORMAL && f.aE < -60;
  if (!zero && !tiny) reduce(x);
  if (tiny) tinyTrig(x);
  if (code === 15) { // FCOS
    packDouble(x, zero ? 1 : trig[1]!, 0);
    if (!zero) f.flags |= FE_PE;
    finishTo0(x, 0);
    return;
  }
  // sin/tan of zero are exact; of tiny values they are the value itself (rounded).
  const s = zero ? 0 : code === 2 ? trig[0]! / trig[1]! : trig[0]!;
  if (zero) f.packClass(FMT_F80, CLS_ZERO, f.aS);
  else if (tiny) tinyResult(x, code === 2);
  else packDouble(x, s, 0);
  if (!zero) f.flags |= FE_PE;
  if (f.abort) { x.finish(); return; }
  const rSe = f.rSe, rHi = f.rHi, rLo = f.rLo;
  if (code === 14) { finishTo0(x, 0); return; }
  // FPTAN pushes 1.0; FSINCOS pushes the cosine.
  if (code === 2) packDouble(x, 1, 0); else packDouble(x, zero ? 1 : trig[1]!, 0);
  x.finish();
  x.sw &= ~SW_C1;
  x.setSt(0, rSe, rHi, rLo);
  x.pushRaw(f.rSe, f.rHi, f.rLo);
}

// pi/2 in three parts (33 + 33 bits and the rest), for Cody-Waite argument reduction.
const PIO2_1 = 1.57079632673412561417e+00;
const PIO2_2 = 6.07710050630396597660e-11;
const PIO2_3 = 2.02226624879595063154e-21;
/** sin and cos of the last reduced operand. */
const trig = new Float64Array(2);

/**
 * sin and cos of operand A (normal, |A| < 2^63) into `trig`: the 64-bit significand is split
 * into two exact doubles and reduced by k*pi/2 in three steps, so moderate arguments keep
 * their extended-precision bits.
 */
function reduce(x: X87): void {
  const f = x.f;
  const sg = f.aS ? -1 : 1;
  const xh = sg * ldexp(f.aHi >>> 0, f.aE - 31), xl = sg * ldexp(f.aLo >>> 0, f.aE - 63);
  const k = Math.round((xh + xl) / (Math.PI / 2));
  let t: number;
  if (Math.abs(k) < 2 ** 20) t = (((xh - k * PIO2_1) - k * PIO2_2) + xl) - k * PIO2_3;
  else t = xh + xl - k * (Math.PI / 2);
  const q = ((k % 4) + 4) % 4;
  const sn = Math.sin(t), cs = Math.cos(t);
  trig[0] = q === 0 ? sn : q === 1 ? cs : q === 2 ? -sn : -cs;
  trig[1] = q === 0 ? cs : q === 1 ? -sn : q === 2 ? -cs : sn;
}

/** cos of a tiny operand is 1 - x²/2: just below one (rounded per RC into `trig[1]`). */
function tinyTrig(x: X87): void {
  const rc = x.f.rc;
  trig[1] = rc === 1 || rc === 3 ? 1 - 2 ** -53 : 1;
  trig[0] = 0;
}

/**
 * sin (x - x³/6) or tan (x + x³/3) of a tiny operand: x itself, one unit less (sin) or more
 * (tan) in the last place when the rounding goes that way.
 */
function tinyResult(x: X87, tan: boolean): void {
  const f = x.f, s = f.aS, rc = f.rc;
  const toZero = rc === 3 || (rc === 1 && s === 0) || (rc === 2 && s === 1);
  const away = (rc === 2 && s === 0) || (rc === 1 && s === 1);
  let hi = f.aHi >>> 0, lo = f.aLo >>> 0;
  if (!tan && toZero) { if (lo === 0) { lo = 0xffffffff; hi -= 1; } else lo -= 1; }
  void away; // tan: x itself (the hosts tested do not round tiny tangents consistently)
  f.packValue(FMT_F80, 64, s, f.aE, hi, lo);
  f.flags |= FE_PE;
  if ((f.rSe & 0x7fff) === 0) f.flags |= FE_UE;
}

/** Merges flags and writes the result to ST(i) unless an unmasked exception stopped it. */
function finishTo0(x: X87, i: number): void {
  x.finish();
  x.sw &= ~SW_C1;
  if (!x.f.abort) x.setStResult(i);
}

/** Merges flags and writes the result to ST(1) and pops, unless an unmasked exception stopped it. */
function finishTo1(x: X87): void {
  x.finish();
  x.sw &= ~SW_C1;
  if (x.f.abort) return;
  x.setStResult(1);
  x.pop();
}

/** FYL2X (1), FPATAN (3), FYL2XP1 (9): A = ST(1) = y, B = ST(0) = x; result to ST(1), pop. */
function binary(x: X87, code: number): void {
  const f = x.f;
  const yc = f.aCls, xc = f.bCls, ys = f.aS, xs = f.bS;
  let r = 0, k = 0;
  if (code === 3) { // FPATAN: atan2 of the scaled operands
    if (yc === CLS_NORMAL && xc === CLS_NORMAL) {
      const d = f.aE - f.bE, my = mantA(x), mx = mantB(x);
      if (d < -60) {
        if (xs === 0) { f.div(FMT_F80, 64, true); finishTo1(x); return; }
        r = ys ? -Math.PI : Math.PI;
      } else if (d > 60) r = ys ? -Math.PI / 2 : Math.PI / 2;
      else r = Math.atan2(ldexp(my, d), mx);
    } else {
      // Against a zero or an infinity only the sign of a finite operand matters.
      const yv = yc === CLS_NORMAL ? (ys ? -1 : 1) : valA(x), xv = xc === CLS_NORMAL ? (xs ? -1 : 1) : valBOf(x);
      r = Math.atan2(yv, xv);
    }
  } else if (code === 1) { // FYL2X
    if (xs === 1 && xc !== CLS_ZERO) { invalid(x, true, false); return; }
    if (xc === CLS_ZERO) {
      if (yc === CLS_ZERO) { invalid(x, true, false); return; }
      // log2(0) = -inf: a division by zero for a finite y, not for an infinite one (the host).
      if (yc !== CLS_INF) {
        f.flags |= FE_ZE;
        if ((x.cw & FE_ZE) === 0) { x.finish(); return; }
      }
      f.packClass(FMT_F80, CLS_INF, ys ^ 1);
      finishTo1(x);
      return;
    }
    if (xc === CLS_INF) {
      if (yc === CLS_ZERO) { invalid(x, true, false); return; }
      r = ys ? -Infinity : Infinity;
    } else {
      const l = f.bE + Math.log2(mantB(x));
      if (yc === CLS_INF) {
        if (l === 0) { invalid(x, true, false); return; }
        r = (l > 0) === (ys === 0) ? Infinity : -Infinity;
      } else if (yc === CLS_ZERO) r = (l < 0) !== (ys === 1) ? -0 : 0;
      else if ((f.bHi >>> 0) === 0x80000000 && f.bLo === 0 && l !== 0 && (Math.abs(l) & (Math.abs(l) - 1)) === 0) {
        // x a power of two whose log2 is ±2^j: y·2^j exactly (a double would round y's 64-bit
        // significand, up to an overflow for y near the largest finite value).
        f.packValue(FMT_F80, 64, ys ^ (l < 0 ? 1 : 0), f.aE + Math.log2(Math.abs(l)), f.aHi, f.aLo);
        f.flags |= FE_PE; // as the hosts tested do: FYL2X is never exact for them
        finishTo1(x);
        return;
      } else { r = mantA(x) * l; k = f.aE; }
    }
  } else { // FYL2XP1
    const xv = valBOf(x);
    if (yc === CLS_INF && xc === CLS_ZERO) { invalid(x, true, false); return; }
    if (xc === CLS_INF || yc === CLS_INF) r = (yc === CLS_INF ? (ys ? -1 : 1) : mantA(x)) * (xs ? -Infinity : Infinity);
    else if (yc === CLS_ZERO || xc === CLS_ZERO) r = (ys ^ xs) ? -0 : 0;
    else if (f.bE < -60) { r = mantA(x) * mantB(x) * Math.LOG2E; k = f.aE + f.bE; }
    else { r = mantA(x) * (Math.log1p(xv) * Math.LOG2E); k = f.aE; }
  }
  if (Number.isNaN(r)) { invalid(x, true, false); return; }
  packDouble(x, r, k);
  if (r !== 0 && Number.isFinite(r)) f.flags |= FE_PE;
  finishTo1(x);
}

function valBOf(x: X87): number {
  const f = x.f;
  if (f.bCls === CLS_ZERO) return f.bS ? -0 : 0;
  if (f.bCls === CLS_INF) return f.bS ? -Infinity : Infinity;
  return ldexp(mantB(x), f.bE);
}

/** FPREM (truncating quotient) and FPREM1 (`ieee`: round-to-nearest quotient). */
export function fprem(x: X87, ieee: boolean): void {
  x.sw &= ~SW_C2;
  if (x.isEmpty(0) || x.isEmpty(1)) { if (x.stackFault(false)) x.setStIndefinite(0); return; }
  const f = x.begin();
  x.loadA(0);
  x.loadB(1);
  if (f.nanResult(FMT_F80)) { x.finish(); if (!f.abort) x.setStResult(0); return; }
  if (f.aCls === CLS_INF || f.bCls === CLS_ZERO) { invalid(x, false, false); return; }
  if (f.aDen || f.bDen) {
    f.flags |= FE_DE;
    if ((x.cw & FE_DE) === 0) { x.finish(); return; }
  }
  if (f.bCls === CLS_INF || f.aCls === CLS_ZERO) {
    f.packValue(FMT_F80, 64, f.aS, f.aE, f.aHi, f.aLo);
    x.finish();
    x.sw &= ~SW_CC;
    x.setStResult(0);
    return;
  }
  const bh = f.bHi >>> 0, bl = f.bLo >>> 0;
  let rh = f.aHi >>> 0, rl = f.aLo >>> 0;
  let s = f.aS, q = 0, e: number;
  const d = f.aE - f.bE;
  let partial = false;
  if (d < 0) {
    e = f.aE;
    if (ieee && d === -1 && (rh > bh || (rh === bh && rl > bl))) {
      // |a| > |b|/2: remainder |b| - |a| = (2B - A) at A's scale.
      let lo = bl * 2 - rl, hi = bh * 2 - rh;
      if (lo < 0) { lo += TWO32; hi -= 1; }
      if (lo >= TWO32) { lo -= TWO32; hi += 1; }
      rh = hi; rl = lo; s ^= 1; q = 1;
    }
  } else {
    let n = d;
    if (d >= 64) { n = (d & 31) | 32; partial = true; }
    e = f.aE - n;
    if (rh > bh || (rh === bh && rl >= bl)) { sub64(rh, rl, bh, bl); rh = pair[0]; rl = pair[1]; q = 1; }
    for (let k = 0; k < n; k++) {
      rh = rh * 2 + (rl >= 0x80000000 ? 1 : 0);
      rl = (rl * 2) % TWO32;
      q = (q * 2) & 7;
      if (rh > bh || (rh === bh && rl >= bl)) { sub64(rh, rl, bh, bl); rh = pair[0]; rl = pair[1]; q |= 1; }
    }
    if (ieee && !partial) {
      // Compare 2r with B.
      const th = rh * 2 + (rl >= 0x80000000 ? 1 : 0), tl = (rl * 2) % TWO32;
      if (th > bh || (th === bh && (tl > bl || (tl === bl && (q & 1) !== 0)))) {
        sub64(bh, bl, rh, rl); rh = pair[0]; rl = pair[1];
        s ^= 1;
        q = (q + 1) & 7;
      }
    }
  }
  f.packValue(FMT_F80, 64, s, e, rh, rl);
  if (f.rHi === 0 && f.rLo === 0 && (f.rSe & 0x7fff) === 0) f.rSe = f.aS << 15;
  x.finish();
  let cc = 0;
  if (partial) cc = SW_C2;
  else cc = ((q & 4) !== 0 ? SW_C0 : 0) | ((q & 2) !== 0 ? SW_C3 : 0) | ((q & 1) !== 0 ? SW_C1 : 0);
  x.sw = (x.sw & ~SW_CC) | cc;
  if (!f.abort) x.setStResult(0);
}

// sub64's result (no allocation).
const pair: [number, number] = [0, 0];

/** (ah:al) - (bh:bl) for ah:al >= bh:bl; the result's high part fits 32 bits. */
function sub64(ah: number, al: number, bh: number, bl: number): void {
  let lo = al - bl, hi = ah - bh;
  if (lo < 0) { lo += TWO32; hi -= 1; }
  pair[0] = hi; pair[1] = lo;
}

/** FSCALE: ST(0) * 2^trunc(ST(1)), exact but for overflow/underflow. */
export function fscale(x: X87): void {
  if (x.isEmpty(0) || x.isEmpty(1)) { if (x.stackFault(false)) x.setStIndefinite(0); return; }
  const f = x.begin();
  x.loadA(0);
  x.loadB(1);
  if (f.nanResult(FMT_F80)) { finishTo0(x, 0); return; }
  if (f.aDen || f.bDen) {
    f.flags |= FE_DE;
    if ((x.cw & FE_DE) === 0) { x.finish(); return; }
  }
  const ac = f.aCls, bc = f.bCls;
  if (bc === CLS_INF) {
    if ((f.bS === 0 && ac === CLS_ZERO) || (f.bS === 1 && ac === CLS_INF)) { invalid(x, false, false); return; }
    f.packClass(FMT_F80, ac === CLS_ZERO || (ac !== CLS_INF && f.bS === 1) ? CLS_ZERO : CLS_INF, f.aS);
    finishTo0(x, 0);
    return;
  }
  if (ac === CLS_ZERO || ac === CLS_INF) { f.packClass(FMT_F80, ac, f.aS); finishTo0(x, 0); return; }
  let n = 0;
  if (bc === CLS_NORMAL && f.bE >= 0) n = f.bE >= 20 ? 1 << 20 : Math.floor((f.bHi >>> 0) / 2 ** (31 - f.bE));
  if (f.bS) n = -n;
  // Beyond the reach of the unmasked bias adjustment: infinity or zero, flagged.
  const big = f.aE + n > 16383 + 24576, small = f.aE + n < -16382 - 24576 - 64;
  if ((big && (x.cw & FE_OE) === 0) || (small && (x.cw & FE_UE) === 0)) {
    f.flags |= (big ? FE_OE : FE_UE) | FE_PE;
    f.up = big;
    f.packClass(FMT_F80, big ? CLS_INF : CLS_ZERO, f.aS);
    x.finish();
    x.setStResult(0);
    return;
  }
  f.packValue(FMT_F80, 64, f.aS, f.aE + n, f.aHi, f.aLo);
  x.finish();
  if (!f.abort) x.setStResult(0);
}

/** FXTRACT: ST(0) becomes its exponent, then its significand is pushed. */
export function fxtract(x: X87): void {
  if (x.isEmpty(0)) {
    if (x.stackFault(false)) { x.setStIndefinite(0); x.pushRaw(0xffff, 0xc0000000 | 0, 0); }
    return;
  }
  if (!x.isEmpty(-1)) { overflowBoth(x); return; }
  const f = x.begin();
  x.loadA(0);
  x.sw &= ~SW_C1;
  if (f.aCls >= CLS_QNAN) {
    f.propagateA(FMT_F80);
    x.finish();
    if (!f.abort) { x.setStResult(0); x.pushRaw(f.rSe, f.rHi, f.rLo); }
    return;
  }
  const s = f.aS;
  if (f.aCls === CLS_ZERO) {
    f.flags |= FE_ZE;
    x.finish();
    if ((x.cw & FE_ZE) === 0) return;
    x.setSt(0, 0xffff, 0x80000000 | 0, 0); // -inf
    x.pushRaw(s << 15, 0, 0);
    return;
  }
  if (f.aCls === CLS_INF) {
    x.setSt(0, 0x7fff, 0x80000000 | 0, 0);
    x.pushRaw((s << 15) | 0x7fff, 0x80000000 | 0, 0);
    return;
  }
  if (f.aDen) {
    f.flags |= FE_DE;
    x.finish();
    if ((x.cw & FE_DE) === 0) return;
  }
  const hi = f.aHi, lo = f.aLo, e = f.aE;
  f.loadAInt(e >> 31, e);
  f.convertExact(FMT_F80, 64);
  x.setStResult(0);
  x.pushRaw((s << 15) | 0x3fff, hi | 0, lo | 0);
}

