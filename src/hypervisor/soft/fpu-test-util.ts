// Test support for the x87 and SSE units: a fake FpuHost whose memory is one oracle record
// (test/oracle/native.ts), so the soft unit and the host CPU start from the same bytes, plus a
// seeded generator of interesting floating-point operands.

import type { FpuHost } from './api.js';
import { REC_FLAGS, REC_GPR, REC_GPR_NUMS, REC_SIZE } from '../../../test/oracle/native.js';

/** Thrown by the fake host's raise(). */
export class FakeFault extends Error {
  constructor(readonly vector: number) { super(`fault ${vector}`); }
}

/** An FpuHost over a record-sized byte array (linear address = record offset). */
export class FakeFpuHost implements FpuHost {
  readonly mem = new Uint8Array(REC_SIZE);
  readonly dv = new DataView(this.mem.buffer);
  cr0 = 0x80000033; // PG NE ET MP PE
  cr4 = 0x600; // OSFXSR OSXMMEXCPT
  instrCs = 0x23;
  instrEip = 0x1234;
  opsize16 = false;
  realMode = false;

  private check(lin: number, len: number): void {
    if (lin < 0 || lin + len > REC_SIZE) throw new FakeFault(13);
  }
  read8(lin: number): number { this.check(lin, 1); return this.mem[lin]!; }
  read16(lin: number): number { this.check(lin, 2); return this.dv.getUint16(lin, true); }
  read32(lin: number): number { this.check(lin, 4); return this.dv.getInt32(lin, true); }
  write8(lin: number, v: number): void { this.check(lin, 1); this.mem[lin] = v; }
  write16(lin: number, v: number): void { this.check(lin, 2); this.dv.setUint16(lin, v & 0xffff, true); }
  write32(lin: number, v: number): void { this.check(lin, 4); this.dv.setInt32(lin, v | 0, true); }
  checkWrite(lin: number, len: number): void { this.check(lin, len); }
  checkRead(lin: number, len: number): void { this.check(lin, len); }
  raise(vector: number): never { throw new FakeFault(vector); }

  private gprOffset(n: number): number {
    const k = REC_GPR_NUMS.indexOf(n & 7);
    if (k < 0) throw new Error(`GPR ${n} is not part of an oracle record`);
    return REC_GPR + 4 * k;
  }
  getReg32(n: number): number { return this.dv.getInt32(this.gprOffset(n), true); }
  setReg32(n: number, v: number): void { this.dv.setInt32(this.gprOffset(n), v | 0, true); }

  get eflags(): number { return this.dv.getUint32(REC_FLAGS, true); }
  set eflags(v: number) { this.dv.setUint32(REC_FLAGS, v >>> 0, true); }

  cond(cc: number): boolean {
    const fl = this.eflags;
    const cf = fl & 1, pf = (fl >> 2) & 1, zf = (fl >> 6) & 1, sf = (fl >> 7) & 1, of = (fl >> 11) & 1;
    let r: number;
    switch (cc >> 1) {
      case 0: r = of; break;
      case 1: r = cf; break;
      case 2: r = zf; break;
      case 3: r = cf | zf; break;
      case 4: r = sf; break;
      case 5: r = pf; break;
      case 6: r = sf ^ of; break;
      default: r = zf | (sf ^ of); break;
    }
    return ((cc & 1) !== 0) !== (r !== 0);
  }

  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void {
    this.eflags = (this.eflags & ~0x8d5) | (zf ? 0x40 : 0) | (pf ? 4 : 0) | (cf ? 1 : 0);
  }
}

/** xorshift32 generator. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed | 0) || 1; }
  u32(): number {
    let x = this.s;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.s = x;
    return x >>> 0;
  }
  int(n: number): number { return this.u32() % n; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]!; }
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
}

/** An 80-bit value: sign+exponent, significand high and low (unsigned 32-bit numbers). */
export interface F80 { se: number; hi: number; lo: number }

const SPECIAL_F80: readonly F80[] = [
  { se: 0, hi: 0, lo: 0 }, { se: 0x8000, hi: 0, lo: 0 },
  { se: 0x3fff, hi: 0x80000000, lo: 0 }, { se: 0xbfff, hi: 0x80000000, lo: 0 },
  { se: 0x7fff, hi: 0x80000000, lo: 0 }, { se: 0xffff, hi: 0x80000000, lo: 0 },
  { se: 0x7fff, hi: 0xc0000000, lo: 0 }, { se: 0xffff, hi: 0xc0000000, lo: 0 }, // QNaN, indefinite
  { se: 0x7fff, hi: 0xc0001234, lo: 0x5678 }, { se: 0xffff, hi: 0xa0000000, lo: 1 }, // QNaN, SNaN
  { se: 0x7fff, hi: 0x80000000, lo: 1 }, // SNaN
  { se: 0x0001, hi: 0x80000000, lo: 0 }, { se: 0x8001, hi: 0x80000000, lo: 0 }, // min normal
  { se: 0x7ffe, hi: 0xffffffff, lo: 0xffffffff }, { se: 0xfffe, hi: 0xffffffff, lo: 0xffffffff }, // max
  { se: 0x0000, hi: 0x00000000, lo: 1 }, { se: 0x8000, hi: 0x40000000, lo: 0 }, // denormals
  { se: 0x3fff, hi: 0x40000000, lo: 0 }, // unnormal (unsupported)
  { se: 0x7fff, hi: 0x40000000, lo: 0 }, // pseudo-NaN (unsupported)
  { se: 0x4000, hi: 0xc90fdaa2, lo: 0x2168c235 }, // pi
  { se: 0x403e, hi: 0x80000000, lo: 0 }, { se: 0xc03e, hi: 0x80000000, lo: 0 }, // ±2^63
  { se: 0x3ffe, hi: 0x80000000, lo: 0 }, // 0.5
  { se: 0x3f80, hi: 0x80000000, lo: 0 }, { se: 0x3c00, hi: 0x80000000, lo: 0 }, // 2^-127, 2^-1023
  { se: 0x407e, hi: 0xffffff00, lo: 0 }, { se: 0x43fe, hi: 0xffffffff, lo: 0xfffff800 }, // f32/f64 max
];

/** A random 80-bit operand biased to edge cases. */
export function randF80(r: Rng): F80 {
  const s = r.chance(0.5) ? 0x8000 : 0;
  switch (r.int(10)) {
    case 0: case 1: return r.pick(SPECIAL_F80);
    case 2: return { se: s | (0x3fff - 70 + r.int(140)), hi: (r.u32() | 0x80000000) >>> 0, lo: r.u32() };
    case 3: return { se: s | (1 + r.int(0x7ffe)), hi: (r.u32() | 0x80000000) >>> 0, lo: r.u32() };
    case 4: return { se: s, hi: r.u32() >>> r.int(32), lo: r.u32() }; // denormal
    case 5: { // near f32/f64 range edges
      const e = r.pick([0x3fff - 126, 0x3fff - 149, 0x3fff + 127, 0x3fff - 1022, 0x3fff - 1074, 0x3fff + 1023, 0x3fff - 127, 0x3fff + 128]);
      return { se: s | (e + r.int(5) - 2), hi: (r.u32() | 0x80000000) >>> 0, lo: r.chance(0.5) ? 0 : r.u32() };
    }
    case 6: { // rounding boundaries at 24/53/64 bits
      const lo = r.pick([0, 0x400, 0x800, 0xc00, 0x7ff, 0x801, 0xffffffff, 0x80000000]);
      const hi = ((r.u32() & ~0xff) | r.pick([0x80, 0x7f, 0x81, 0x00, 0xff, 0x180]) | 0x80000000) >>> 0;
      return { se: s | (0x3fff - 10 + r.int(20)), hi, lo };
    }
    case 7: { // small integers and simple fractions
      const v = r.int(2000) - 1000;
      return f80FromNumber(r.chance(0.3) ? v / 8 : v);
    }
    default: return { se: s | (0x3fff - 3 + r.int(7)), hi: (r.u32() | 0x80000000) >>> 0, lo: r.chance(0.5) ? 0 : r.u32() };
  }
}

/** Exact 80-bit form of a double. */
export function f80FromNumber(v: number): F80 {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v, true);
  const hi = dv.getUint32(4, true), lo = dv.getUint32(0, true);
  const s = hi >>> 31 ? 0x8000 : 0;
  const e = (hi >>> 20) & 0x7ff;
  let mh = ((hi & 0xfffff) << 11 | lo >>> 21) >>> 0, ml = (lo << 11) >>> 0;
  if (e === 0x7ff) return { se: s | 0x7fff, hi: (mh | 0x80000000) >>> 0, lo: ml };
  if (e === 0) {
    if (mh === 0 && ml === 0) return { se: s, hi: 0, lo: 0 };
    let ee = 0x3fff - 1022;
    while ((mh & 0x80000000) === 0) { mh = ((mh << 1) | (ml >>> 31)) >>> 0; ml = (ml << 1) >>> 0; ee--; }
    return { se: s | ee, hi: mh, lo: ml };
  }
  return { se: s | (e - 1023 + 0x3fff), hi: (mh | 0x80000000) >>> 0, lo: ml };
}

/** The double nearest to an 80-bit value (NaN for NaNs and unsupported encodings). */
export function f80ToNumber(v: F80): number {
  const e = v.se & 0x7fff, sign = (v.se & 0x8000) !== 0 ? -1 : 1;
  if (e === 0x7fff) return (v.hi & 0x7fffffff) === 0 && v.lo === 0 && v.hi !== 0 ? sign * Infinity : NaN;
  if (e !== 0 && v.hi < 0x80000000) return NaN;
  const m = v.hi * 4294967296 + v.lo;
  return sign * m * 2 ** ((e === 0 ? 1 : e) - 16383 - 63);
}

const SPECIAL_F32 = [0, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000,
  0x7f800001, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f000000, 0x4b000000, 0x4effffff, 0xcf000000];
const SPECIAL_F64_HI = [0, 0x80000000, 0x3ff00000, 0xbff00000, 0x7ff00000, 0xfff00000, 0x7ff80000, 0xfff80000, 0x7ff40000,
  0x00000000, 0x800fffff, 0x00100000, 0x7fefffff, 0x3fe00000, 0x43300000, 0x41dfffff, 0xc1e00000, 0x43e00000];

/** A random f32 bit pattern biased to edge cases. */
export function randF32(r: Rng): number {
  switch (r.int(6)) {
    case 0: case 1: return r.pick(SPECIAL_F32) >>> 0;
    case 2: return r.u32();
    case 3: return ((r.chance(0.5) ? 0x80000000 : 0) | (r.int(0x800000))) >>> 0; // denormal
    case 4: return ((r.chance(0.5) ? 0x80000000 : 0) | ((127 - 30 + r.int(60)) << 23) | r.int(0x800000)) >>> 0;
    default: return ((r.chance(0.5) ? 0x80000000 : 0) | ((127 - 3 + r.int(6)) << 23) | (r.int(0x800000) & ~r.int(0x800000))) >>> 0;
  }
}

/** A random f64 as [hi, lo]. */
export function randF64(r: Rng): [number, number] {
  switch (r.int(6)) {
    case 0: case 1: return [r.pick(SPECIAL_F64_HI) >>> 0, r.chance(0.7) ? 0 : r.pick([1, 0xffffffff, 0x80000000])];
    case 2: return [r.u32(), r.u32()];
    case 3: return [((r.chance(0.5) ? 0x80000000 : 0) | r.int(0x100000)) >>> 0, r.u32()];
    case 4: return [((r.chance(0.5) ? 0x80000000 : 0) | ((1023 - 40 + r.int(80)) << 20) | r.int(0x100000)) >>> 0, r.u32()];
    default: return [((r.chance(0.5) ? 0x80000000 : 0) | ((1023 - 3 + r.int(6)) << 20) | r.int(0x100000)) >>> 0,
      r.chance(0.5) ? 0 : r.u32() & 0xfffff000];
  }
}

/** A random 32-bit integer biased to edges. */
export function randI32(r: Rng): number {
  switch (r.int(4)) {
    case 0: return r.pick([0, 1, -1, 0x7fffffff, -0x80000000, 0x7fff, -0x8000, 0x8000, 0x1000000, 0x1000001]) | 0;
    case 1: return (r.int(2001) - 1000) | 0;
    default: return r.u32() | 0;
  }
}

/** Hex of a byte range. */
export function hexBytes(b: Uint8Array, from: number, len: number): string {
  let s = '';
  for (let i = len - 1; i >= 0; i--) s += b[from + i]!.toString(16).padStart(2, '0');
  return s;
}
