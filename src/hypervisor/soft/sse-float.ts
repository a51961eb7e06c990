// Floating-point SSE/SSE2 operations (Intel SDM vol. 2): packed and scalar single/double
// ADD SUB MUL DIV SQRT MIN MAX CMP, the CVT* conversions, RCP/RSQRT, COMIS/UCOMIS, all rounded
// per MXCSR through x87-float80.ts. Operands are in the Lanes work area (A at 0, B at 16);
// results are staged in the scratch lanes and copied to A only when no unmasked exception
// occurred (the SIMD exception leaves the destination unchanged).

import type { Lanes } from './sse-int.js';
import {
  SoftFloat, FMT_F32, FMT_F64, CMP_LT, CMP_EQ, CMP_GT, CMP_UN, CLS_ZERO, FE_IE,
} from './x87-float80.js';

const T32 = 8; // scratch lanes (dword index)

/** Loads lane i of A (and B) into the engine: f32 lane index i or f64 lane index i. */
function load(f: SoftFloat, l: Lanes, dbl: boolean, i: number, two: boolean): void {
  const u = l.u32;
  if (dbl) {
    f.loadA64(u[2 * i + 1]!, u[2 * i]!);
    if (two) f.loadB64(u[4 + 2 * i + 1]!, u[4 + 2 * i]!);
  } else {
    f.loadA32(u[i]!);
    if (two) f.loadB32(u[4 + i]!);
  }
}

function loadB(f: SoftFloat, l: Lanes, dbl: boolean, i: number): void {
  const u = l.u32;
  if (dbl) f.loadA64(u[4 + 2 * i + 1]!, u[4 + 2 * i]!); else f.loadA32(u[4 + i]!);
}

function stage(f: SoftFloat, l: Lanes, dbl: boolean, i: number): void {
  if (dbl) { l.u32[T32 + 2 * i] = f.rLo; l.u32[T32 + 2 * i + 1] = f.rHi; } else l.u32[T32 + i] = f.rLo;
}

/** Copies `n` staged dwords to A. */
export function commit(l: Lanes, n: number): void {
  for (let i = 0; i < n; i++) l.u32[i] = l.u32[T32 + i]!;
}

/**
 * ADD MUL SUB MIN DIV MAX SQRT (0F 58 59 5C 5D 5E 5F 51) on `lanes` lanes; returns the dwords
 * staged (the caller commits them when no unmasked exception is pending).
 */
export function arith(f: SoftFloat, l: Lanes, op: number, dbl: boolean, lanes: number): number {
  const fmt = dbl ? FMT_F64 : FMT_F32, p = dbl ? 53 : 24;
  for (let i = 0; i < lanes; i++) {
    if (op === 0x51) { loadB(f, l, dbl, i); f.sqrt(fmt, p); stage(f, l, dbl, i); continue; }
    load(f, l, dbl, i, true);
    if (op === 0x5e && f.bCls === CLS_ZERO) f.aDen = false; // x/0 raises ZE, not DE
    switch (op) {
      case 0x58: f.add(fmt, p, false); break;
      case 0x5c: f.add(fmt, p, true); break;
      case 0x59: f.mul(fmt, p); break;
      case 0x5e: f.div(fmt, p); break;
      default: { // MIN/MAX: B when either is NaN or both are zero, else the smaller/larger
        const c = f.compare(false);
        const takeA = c !== CMP_UN && (op === 0x5d ? c === CMP_LT : c === CMP_GT);
        const u = l.u32, src = takeA ? 0 : 4;
        if (dbl) { f.rLo = u[src + 2 * i]!; f.rHi = u[src + 2 * i + 1]!; } else f.rLo = u[src + i]!;
        // The copy is of the operand as read: DAZ turns a denormal into a signed zero.
        if (f.daz) {
          if (dbl) { if ((f.rHi & 0x7ff00000) === 0) { f.rHi &= 0x80000000; f.rLo = 0; } }
          else if ((f.rLo & 0x7f800000) === 0) f.rLo &= 0x80000000;
        }
      }
    }
    stage(f, l, dbl, i);
  }
  return dbl ? lanes * 2 : lanes;
}

/** CMPPS/PD/SS/SD with predicate imm (0-7): all-ones or zero lanes. */
export function cmp(f: SoftFloat, l: Lanes, dbl: boolean, lanes: number, imm: number): number {
  const pred = imm & 7;
  const quiet = pred === 0 || pred === 3 || pred === 4 || pred === 7;
  for (let i = 0; i < lanes; i++) {
    load(f, l, dbl, i, true);
    const c = f.compare(quiet);
    let r: boolean;
    switch (pred) {
      case 0: r = c === CMP_EQ; break;
      case 1: r = c === CMP_LT; break;
      case 2: r = c === CMP_LT || c === CMP_EQ; break;
      case 3: r = c === CMP_UN; break;
      case 4: r = c !== CMP_EQ; break;
      case 5: r = c !== CMP_LT; break;
      case 6: r = c !== CMP_LT && c !== CMP_EQ; break;
      default: r = c !== CMP_UN; break;
    }
    const v = r ? -1 : 0;
    if (dbl) { l.i32[T32 + 2 * i] = v; l.i32[T32 + 2 * i + 1] = v; } else l.i32[T32 + i] = v;
  }
  return dbl ? lanes * 2 : lanes;
}

/** COMISS/UCOMISS/COMISD/UCOMISD: the compare result of lane 0. */
export function comi(f: SoftFloat, l: Lanes, dbl: boolean, quiet: boolean): number {
  load(f, l, dbl, 0, true);
  return f.compare(quiet);
}

/**
 * RCPPS/RCPSS (rsqrt false) and RSQRTPS/RSQRTSS: the exact value rounded to single (hardware
 * gives about 12 bits). No flags; denormal inputs read as zero and tiny results flush to zero,
 * whatever DAZ/FZ say.
 */
export function approx(l: Lanes, rsqrt: boolean, lanes: number): number {
  for (let i = 0; i < lanes; i++) {
    let bits = l.u32[4 + i]!;
    if ((bits & 0x7f800000) === 0) bits &= 0x80000000;
    const v = bitsToF32(bits);
    let r: number;
    if (Number.isNaN(v)) { l.u32[T32 + i] = bits | 0x400000; continue; }
    if (rsqrt) r = v < 0 ? NaN : 1 / Math.sqrt(v);
    else r = 1 / v;
    let out = Number.isNaN(r) ? 0xffc00000 : f32ToBits(r);
    if ((out & 0x7f800000) === 0) out &= 0x80000000;
    l.u32[T32 + i] = out;
  }
  return lanes;
}

const cvt = new Float32Array(1);
const cvtBits = new Uint32Array(cvt.buffer);
function bitsToF32(b: number): number { cvtBits[0] = b; return cvt[0]!; }
function f32ToBits(v: number): number { cvt[0] = v; return cvtBits[0]!; }

/** Float lane (f32 or f64) to int32 with MXCSR rounding (or truncation); IE gives 0x80000000. */
export function toInt32(f: SoftFloat, hi: number, lo: number, dbl: boolean, truncate: boolean): number {
  const before = f.flags;
  if (dbl) f.loadA64(hi, lo); else f.loadA32(lo);
  const ok = f.toInteger(truncate ? 3 : f.rc);
  if (ok && !f.big) {
    const m = f.rHi >>> 0, n = f.rLo >>> 0;
    if (m === 0 && (n < 0x80000000 || (f.rSe !== 0 && n === 0x80000000))) return f.rSe !== 0 ? -n | 0 : n | 0;
  }
  f.flags = before | FE_IE; // an invalid lane adds no PE
  return 0x80000000 | 0;
}

/** int32 to f32 (rLo) or f64 (rHi:rLo), rounded per MXCSR. */
export function fromInt32(f: SoftFloat, v: number, dbl: boolean): void {
  f.loadAInt(v >> 31, v);
  f.convertExact(dbl ? FMT_F64 : FMT_F32, dbl ? 53 : 24);
}

/** f32 <-> f64 of lane 0 of B (`toDouble`: from single). */
export function convertFloat(f: SoftFloat, hi: number, lo: number, toDouble: boolean): void {
  if (toDouble) { f.loadA32(lo); f.convert(FMT_F64, 53); } else { f.loadA64(hi, lo); f.convert(FMT_F32, 24); }
}

