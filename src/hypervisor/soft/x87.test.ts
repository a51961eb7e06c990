// The x87 unit against the host CPU: each D8-DF instruction runs natively (test/oracle/native.ts)
// and on X87 from the same FXSAVE image, operands and flags; the resulting control/status/tag
// words, registers, memory operand, EFLAGS and AX must match (the transcendental instructions
// to double precision). Also a machine-code snippet through the real SoftCpu.
//
// HVM_LONG=1 runs 10x more cases; HVM_SEED=n repeats a run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Oracle, nativeUnavailable, REC_FLAGS, REC_GPR, REC_MEM } from '../../../test/oracle/native.js';
import { X87 } from './x87.js';
import { Sse } from './sse.js';
import { fxrstorX87, fxsaveX87 } from './x87-env.js';
import {
  FakeFault, FakeFpuHost, Rng, randF80, randF32, randF64, randI32, hexBytes, f80ToNumber, f80FromNumber, type F80,
} from './fpu-test-util.js';
import { assemble, machine } from './test-util.js';
import { flatSegment, resetState } from '../vcpu.js';

const LONG = process.env['HVM_LONG'] === '1';
const SEED = Number(process.env['HVM_SEED'] ?? (Date.now() & 0xffff));
const CASES = LONG ? 3000 : 300;

type MemKind = 'none' | 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd' | 'cw' | 'env' | 'save';

interface Template {
  name: string;
  bytes: number[];
  /** ST values the instruction reads. */
  stack: number;
  mem: MemKind;
  /** Memory bytes written (compared). */
  memOut: number;
  approx?: boolean;
  swIgnore?: number;
  flags?: boolean;
  eax?: boolean;
  /** Shapes generated ST(i) inputs (transcendentals' domains). */
  shape?: (r: Rng, i: number, v: F80) => F80;
  /** Precision control forced to 64 bits (results that do not depend on PC). */
  cases?: number;
}

const M = (op: number, reg: number): number[] => [op, 0x06 | (reg << 3)];
const R = (op: number, reg: number, i: number): number[] => [op, 0xc0 | (reg << 3) | i];
const ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];

function templates(): Template[] {
  const t: Template[] = [];
  const memKinds: [number, MemKind, string][] = [[0xd8, 'f32', 'm32'], [0xdc, 'f64', 'm64'], [0xda, 'i32', 'm32int'], [0xde, 'i16', 'm16int']];
  for (const [op, mem, n] of memKinds) {
    for (let reg = 0; reg < 8; reg++) t.push({ name: `${ARITH[reg]} ${n}`, bytes: M(op, reg), stack: 1, mem, memOut: 0 });
  }
  for (let reg = 0; reg < 8; reg++) {
    for (const i of [0, 1, 2]) {
      t.push({ name: `d8 ${ARITH[reg]} st0,st${i}`, bytes: R(0xd8, reg, i), stack: 3, mem: 'none', memOut: 0 });
      if (reg < 2 || reg > 3) {
        t.push({ name: `dc reg${reg} st${i},st0`, bytes: R(0xdc, reg, i), stack: 3, mem: 'none', memOut: 0 });
        t.push({ name: `de reg${reg}p st${i},st0`, bytes: R(0xde, reg, i), stack: 3, mem: 'none', memOut: 0 });
      }
    }
  }
  t.push({ name: 'fcompp', bytes: [0xde, 0xd9], stack: 2, mem: 'none', memOut: 0 });
  t.push({ name: 'fucompp', bytes: [0xda, 0xe9], stack: 2, mem: 'none', memOut: 0 });
  for (const i of [1, 2]) {
    t.push({ name: `fucom st${i}`, bytes: R(0xdd, 4, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `fucomp st${i}`, bytes: R(0xdd, 5, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `fucomi st${i}`, bytes: R(0xdb, 5, i), stack: 3, mem: 'none', memOut: 0, flags: true });
    t.push({ name: `fcomi st${i}`, bytes: R(0xdb, 6, i), stack: 3, mem: 'none', memOut: 0, flags: true });
    t.push({ name: `fucomip st${i}`, bytes: R(0xdf, 5, i), stack: 3, mem: 'none', memOut: 0, flags: true });
    t.push({ name: `fcomip st${i}`, bytes: R(0xdf, 6, i), stack: 3, mem: 'none', memOut: 0, flags: true });
    for (let cc = 0; cc < 4; cc++) {
      t.push({ name: `fcmov${['b', 'e', 'be', 'u'][cc]} st${i}`, bytes: R(0xda, cc, i), stack: 3, mem: 'none', memOut: 0 });
      t.push({ name: `fcmovn${['b', 'e', 'be', 'u'][cc]} st${i}`, bytes: R(0xdb, cc, i), stack: 3, mem: 'none', memOut: 0 });
    }
    t.push({ name: `fld st${i}`, bytes: R(0xd9, 0, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `fxch st${i}`, bytes: R(0xd9, 1, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `fst st${i}`, bytes: R(0xdd, 2, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `fstp st${i}`, bytes: R(0xdd, 3, i), stack: 3, mem: 'none', memOut: 0 });
    t.push({ name: `ffree st${i}`, bytes: R(0xdd, 0, i), stack: 3, mem: 'none', memOut: 0 });
  }
  t.push({ name: 'ftst', bytes: [0xd9, 0xe4], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fxam', bytes: [0xd9, 0xe5], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fld m32', bytes: M(0xd9, 0), stack: 0, mem: 'f32', memOut: 0 });
  t.push({ name: 'fld m64', bytes: M(0xdd, 0), stack: 0, mem: 'f64', memOut: 0 });
  t.push({ name: 'fld m80', bytes: M(0xdb, 5), stack: 0, mem: 'f80', memOut: 0 });
  t.push({ name: 'fild m16', bytes: M(0xdf, 0), stack: 0, mem: 'i16', memOut: 0 });
  t.push({ name: 'fild m32', bytes: M(0xdb, 0), stack: 0, mem: 'i32', memOut: 0 });
  t.push({ name: 'fild m64', bytes: M(0xdf, 5), stack: 0, mem: 'i64', memOut: 0 });
  t.push({ name: 'fbld', bytes: M(0xdf, 4), stack: 0, mem: 'bcd', memOut: 0 });
  t.push({ name: 'fst m32', bytes: M(0xd9, 2), stack: 1, mem: 'none', memOut: 4 });
  t.push({ name: 'fstp m32', bytes: M(0xd9, 3), stack: 1, mem: 'none', memOut: 4 });
  t.push({ name: 'fst m64', bytes: M(0xdd, 2), stack: 1, mem: 'none', memOut: 8 });
  t.push({ name: 'fstp m64', bytes: M(0xdd, 3), stack: 1, mem: 'none', memOut: 8 });
  t.push({ name: 'fstp m80', bytes: M(0xdb, 7), stack: 1, mem: 'none', memOut: 10 });
  t.push({ name: 'fist m16', bytes: M(0xdf, 2), stack: 1, mem: 'none', memOut: 2 });
  t.push({ name: 'fistp m16', bytes: M(0xdf, 3), stack: 1, mem: 'none', memOut: 2 });
  t.push({ name: 'fist m32', bytes: M(0xdb, 2), stack: 1, mem: 'none', memOut: 4 });
  t.push({ name: 'fistp m32', bytes: M(0xdb, 3), stack: 1, mem: 'none', memOut: 4 });
  t.push({ name: 'fistp m64', bytes: M(0xdf, 7), stack: 1, mem: 'none', memOut: 8 });
  t.push({ name: 'fisttp m16', bytes: M(0xdf, 1), stack: 1, mem: 'none', memOut: 2 });
  t.push({ name: 'fisttp m32', bytes: M(0xdb, 1), stack: 1, mem: 'none', memOut: 4 });
  t.push({ name: 'fisttp m64', bytes: M(0xdd, 1), stack: 1, mem: 'none', memOut: 8 });
  t.push({ name: 'fbstp', bytes: M(0xdf, 6), stack: 1, mem: 'none', memOut: 10 });
  t.push({ name: 'fnstsw m16', bytes: M(0xdd, 7), stack: 0, mem: 'none', memOut: 2 });
  t.push({ name: 'fnstcw m16', bytes: M(0xd9, 7), stack: 0, mem: 'none', memOut: 2 });
  t.push({ name: 'fldcw m16', bytes: M(0xd9, 5), stack: 0, mem: 'cw', memOut: 0 });
  t.push({ name: 'fnstsw ax', bytes: [0xdf, 0xe0], stack: 0, mem: 'none', memOut: 0, eax: true });
  t.push({ name: 'fnstenv', bytes: M(0xd9, 6), stack: 3, mem: 'none', memOut: 12 });
  t.push({ name: 'fldenv', bytes: M(0xd9, 4), stack: 3, mem: 'env', memOut: 0 });
  t.push({ name: 'fnsave', bytes: M(0xdd, 6), stack: 3, mem: 'none', memOut: 108 });
  t.push({ name: 'frstor', bytes: M(0xdd, 4), stack: 0, mem: 'save', memOut: 0 });
  t.push({ name: 'fnclex', bytes: [0xdb, 0xe2], stack: 0, mem: 'none', memOut: 0 });
  t.push({ name: 'fninit', bytes: [0xdb, 0xe3], stack: 0, mem: 'none', memOut: 0 });
  t.push({ name: 'fnop', bytes: [0xd9, 0xd0], stack: 0, mem: 'none', memOut: 0 });
  t.push({ name: 'fdecstp', bytes: [0xd9, 0xf6], stack: 0, mem: 'none', memOut: 0 });
  t.push({ name: 'fincstp', bytes: [0xd9, 0xf7], stack: 0, mem: 'none', memOut: 0 });
  t.push({ name: 'fchs', bytes: [0xd9, 0xe0], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fabs', bytes: [0xd9, 0xe1], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fsqrt', bytes: [0xd9, 0xfa], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'frndint', bytes: [0xd9, 0xfc], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fscale', bytes: [0xd9, 0xfd], stack: 2, mem: 'none', memOut: 0, shape: (r, i, v) => i === 1 && r.chance(0.7) ? f80FromNumber(r.int(200) - 100) : v });
  t.push({ name: 'fxtract', bytes: [0xd9, 0xf4], stack: 1, mem: 'none', memOut: 0 });
  t.push({ name: 'fprem', bytes: [0xd9, 0xf8], stack: 2, mem: 'none', memOut: 0, shape: nearExp });
  t.push({ name: 'fprem1', bytes: [0xd9, 0xf5], stack: 2, mem: 'none', memOut: 0, shape: nearExp });
  const names = ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'];
  for (let i = 0; i < 7; i++) t.push({ name: names[i]!, bytes: [0xd9, 0xe8 + i], stack: 0, mem: 'none', memOut: 0 });
  // Transcendentals: double precision; C1 and PE/UE not compared.
  // Transcendentals: C1, PE, UE and DE are not compared; operands stay in each instruction's
  // domain (specials included) and below 2^20 for the trigonometric ones, where the host's
  // 66-bit pi and Math's exact reduction agree to double precision.
  const ign = 0x0200 | 0x0020 | 0x0010 | 0x0002;
  const normal = (v: F80): boolean => (v.se & 0x7fff) !== 0 && (v.se & 0x7fff) !== 0x7fff && v.hi >= 0x80000000;
  const rnd = (r: Rng): number => r.u32() / 4294967296;
  const small = (r: Rng, i: number, v: F80): F80 => {
    if (i !== 0) return v;
    if (r.chance(0.8)) return f80FromNumber((rnd(r) * 2 - 1) * r.pick([1, 10, 100, 1e4]));
    if (normal(v) && (v.se & 0x7fff) > 0x3fff + 12 && (v.se & 0x7fff) < 0x3fff + 63) return { ...v, se: (v.se & 0x8000) | (0x3fff + 12) };
    return v;
  };
  const unit = (r: Rng, i: number, v: F80): F80 => i === 0 && (normal(v) || r.chance(0.8)) ? f80FromNumber(rnd(r) * 2 - 1) : v;
  const pos = (r: Rng, i: number, v: F80): F80 => i === 0 && r.chance(0.8) ? f80FromNumber(rnd(r) * 1000) : i === 1 && r.chance(0.7) ? f80FromNumber(r.int(100) - 50) : v;
  const p1 = (r: Rng, i: number, v: F80): F80 => i === 0 && (normal(v) || r.chance(0.8)) ? f80FromNumber((rnd(r) - 0.5) * 0.5) : i === 1 && r.chance(0.7) ? f80FromNumber(r.int(100) - 50) : v;
  const smallTan = (r: Rng, i: number, v: F80): F80 => {
    const w = small(r, i, v);
    return i === 0 && (w.se & 0x7fff) < 0x3fff - 60 && (w.hi !== 0 || w.lo !== 0) ? f80FromNumber(rnd(r)) : w;
  };
  for (const [name, b, shape, stack] of [['fsin', 0xfe, small, 1], ['fcos', 0xff, small, 1], ['fsincos', 0xfb, small, 1], ['fptan', 0xf2, smallTan, 1],
    ['f2xm1', 0xf0, unit, 1], ['fyl2x', 0xf1, pos, 2], ['fyl2xp1', 0xf9, p1, 2], ['fpatan', 0xf3, small, 2]] as const) {
    t.push({ name, bytes: [0xd9, b], stack, mem: 'none', memOut: 0, approx: true, swIgnore: ign, shape });
  }
  return t;
}

function nearExp(r: Rng, i: number, v: F80): F80 {
  if (i !== 1 || !r.chance(0.7)) return v;
  return { se: (v.se & 0x8000) | Math.max(1, Math.min(0x7ffe, 0x3fff + r.int(80) - 40)), hi: (r.u32() | 0x80000000) >>> 0, lo: r.u32() };
}

/** Builds one input record in `b` (2 KiB). */
function makeCase(b: Uint8Array, t: Template, r: Rng): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b.fill(0);
  const masks = r.chance(0.75) ? 0x3f : r.int(64);
  const pc = r.pick([0, 2, 3, 3]);
  const cw = masks | 0x40 | (pc << 8) | (r.int(4) << 10);
  const top = r.int(8);
  const flags = r.int(64) & masks;
  const cc = r.u32() & 0x4700;
  dv.setUint16(0, cw, true);
  dv.setUint16(2, flags | cc | (top << 11), true);
  let tag = 0;
  const vals: F80[] = [];
  for (let i = 0; i < 8; i++) {
    const full = i < t.stack ? !r.chance(0.04) : r.chance(i === 7 ? 0.1 : 0.25);
    let v = randF80(r);
    if (i === 1 && r.chance(0.3) && vals[0] !== undefined) { // near ST(0): cancellation, equal exponents
      const a = vals[0];
      v = { se: (r.chance(0.5) ? a.se : a.se ^ 0x8000) + (r.chance(0.5) ? 0 : r.int(3) - 1), hi: a.hi, lo: (a.lo + r.int(5) - 2) >>> 0 };
      if ((v.se & 0x7fff) === 0x7fff || (v.se & 0x7fff) === 0) v = a;
    }
    if (t.shape !== undefined) v = t.shape(r, i, v);
    vals.push(v);
    const a = 32 + 16 * i;
    dv.setUint32(a, v.lo, true); dv.setUint32(a + 4, v.hi, true); dv.setUint16(a + 8, v.se, true);
    if (full) tag |= 1 << ((top + i) & 7);
  }
  b[4] = tag;
  dv.setUint32(24, 0x1f80, true);
  dv.setUint32(REC_FLAGS, 2 | (r.u32() & 0x8d5), true);
  dv.setUint32(REC_GPR, r.u32(), true);
  const m = REC_MEM;
  switch (t.mem) {
    case 'f32': dv.setUint32(m, randF32(r), true); break;
    case 'f64': { const [hi, lo] = randF64(r); dv.setUint32(m, lo, true); dv.setUint32(m + 4, hi, true); break; }
    case 'f80': { const v = randF80(r); dv.setUint32(m, v.lo, true); dv.setUint32(m + 4, v.hi, true); dv.setUint16(m + 8, v.se, true); break; }
    case 'i16': dv.setUint16(m, randI32(r) & 0xffff, true); break;
    case 'i32': dv.setInt32(m, randI32(r), true); break;
    case 'i64': dv.setInt32(m, randI32(r), true); dv.setInt32(m + 4, r.chance(0.5) ? randI32(r) : -(r.int(2)), true); break;
    case 'bcd':
      for (let k = 0; k < 9; k++) b[m + k] = r.int(10) | (r.int(10) << 4);
      b[m + 9] = r.chance(0.5) ? 0x80 : 0;
      break;
    case 'cw': dv.setUint16(m, (r.chance(0.7) ? 0x3f : r.int(64)) | (r.int(4) << 8) | (r.int(4) << 10) | (r.int(8) << 13), true); break;
    case 'env': case 'save': {
      const cw2 = 0x37f & ~(r.chance(0.8) ? 0 : r.int(64)) | (r.int(4) << 10);
      dv.setUint32(m, cw2 | 0xffff0000, true);
      dv.setUint32(m + 4, (r.int(64) & cw2 & 0x3f) | (r.u32() & 0x4700) | (r.int(8) << 11), true);
      dv.setUint32(m + 8, r.u32() & 0xffff, true);
      if (t.mem === 'save') {
        for (let i = 0; i < 8; i++) {
          const v = randF80(r), a = m + 28 + 10 * i;
          dv.setUint32(a, v.lo, true); dv.setUint32(a + 4, v.hi, true); dv.setUint16(a + 8, v.se, true);
        }
      }
      break;
    }
    default: break;
  }
}

function regOf(b: Uint8Array, i: number): F80 {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength), a = 32 + 16 * i;
  return { se: dv.getUint16(a + 8, true), hi: dv.getUint32(a + 4, true), lo: dv.getUint32(a, true) };
}

/** Equal to about 40 bits (relative), or both within 2^-50 of zero: the transcendentals compute in
 *  double precision, and a large argument loses a few more bits in its reduction by pi. */
function close(a: F80, b: F80): boolean {
  if (a.se === b.se && a.hi === b.hi && a.lo === b.lo) return true;
  const ea = a.se & 0x7fff, eb = b.se & 0x7fff;
  if (ea === 0x7fff || eb === 0x7fff) return false;
  const x = f80ToNumber(a), y = f80ToNumber(b);
  if (Math.abs(x) < 2 ** -50 && Math.abs(y) < 2 ** -50 && ea > 0x3fff - 1000) return true;
  if ((a.se ^ b.se) & 0x8000 || Math.abs(ea - eb) > 1) return false;
  const ma = (a.hi * 4294967296 + a.lo) * 2 ** (ea - eb), mb = b.hi * 4294967296 + b.lo;
  return Math.abs(ma - mb) <= 2 ** -40 * mb;
}

/** Differences between the native result `n` and the soft result `s` ('' when equal). */
function diff(t: Template, n: Uint8Array, s: Uint8Array): string {
  const out: string[] = [];
  const h = (b: Uint8Array, at: number, len: number): string => hexBytes(b, at, len);
  const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
  if (u16(n, 0) !== u16(s, 0)) out.push(`fcw ${h(n, 0, 2)} got ${h(s, 0, 2)}`);
  const swMask = ~(t.swIgnore ?? 0) & 0xffff;
  if ((u16(n, 2) & swMask) !== (u16(s, 2) & swMask)) out.push(`fsw ${h(n, 2, 2)} got ${h(s, 2, 2)}`);
  if (n[4] !== s[4]) out.push(`ftw ${h(n, 4, 1)} got ${h(s, 4, 1)}`);
  for (let i = 0; i < 8; i++) {
    const a = 32 + 16 * i;
    const same = t.approx ? close(regOf(n, i), regOf(s, i)) : h(n, a, 10) === h(s, a, 10);
    if (!same) out.push(`st${i} ${h(n, a, 10)} got ${h(s, a, 10)}`);
  }
  if (t.memOut > 0) {
    const ranges: [number, number][] = t.memOut === 108 ? [[0, 12], [28, 80]] : [[0, t.memOut]];
    for (const [from, len] of ranges) {
      if (h(n, REC_MEM + from, len) !== h(s, REC_MEM + from, len)) out.push(`mem+${from} ${h(n, REC_MEM + from, len)} got ${h(s, REC_MEM + from, len)}`);
    }
  }
  if (t.flags && ((n[REC_FLAGS]! | (n[REC_FLAGS + 1]! << 8)) & 0x8d5) !== ((s[REC_FLAGS]! | (s[REC_FLAGS + 1]! << 8)) & 0x8d5)) {
    out.push(`eflags ${h(n, REC_FLAGS, 2)} got ${h(s, REC_FLAGS, 2)}`);
  }
  if (t.eax && h(n, REC_GPR, 2) !== h(s, REC_GPR, 2)) out.push(`ax ${h(n, REC_GPR, 2)} got ${h(s, REC_GPR, 2)}`);
  return out.join('; ');
}

function describeInput(t: Template, b: Uint8Array): string {
  const top = (b[3]! >> 3) & 7;
  let s = `${t.name} [${t.bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ')}] fcw=${hexBytes(b, 0, 2)} fsw=${hexBytes(b, 2, 2)} ftw=${hexBytes(b, 4, 1)} top=${top}`;
  for (let i = 0; i < Math.max(t.stack, 1); i++) s += ` st${i}=${hexBytes(b, 32 + 16 * i, 10)}`;
  if (t.mem !== 'none') s += ` mem=${hexBytes(b, REC_MEM, t.mem === 'f32' ? 4 : t.mem === 'f80' || t.mem === 'bcd' ? 10 : 8)}`;
  if (t.flags || t.bytes[0] === 0xda || t.bytes[0] === 0xdb) s += ` eflags=${hexBytes(b, REC_FLAGS, 2)}`;
  return s;
}

const why = nativeUnavailable();

test('x87 instructions match the host CPU', { skip: why ?? false }, () => {
  const oracle = new Oracle(512);
  const host = new FakeFpuHost();
  const x87 = new X87(host);
  const r = new Rng(SEED);
  const failures: string[] = [];
  let total = 0;
  const input = new Uint8Array(2048);
  for (const t of templates()) {
    const stub = oracle.stub(new Uint8Array(t.bytes));
    const n = t.cases ?? CASES;
    let bad = 0;
    for (let done = 0; done < n; done += oracle.records) {
      const k = Math.min(oracle.records, n - done);
      const inputs: Uint8Array[] = [];
      for (let i = 0; i < k; i++) {
        makeCase(input, t, r);
        inputs.push(input.slice());
        oracle.record(i).set(input);
      }
      stub.run(oracle.batch, k);
      for (let i = 0; i < k; i++) {
        total++;
        host.mem.set(inputs[i]!);
        let fault = '';
        try {
          fxrstorX87(x87, 0);
          const modrm = t.bytes[1]!;
          x87.exec(t.bytes[0]!, { modrm, reg: (modrm >> 3) & 7, rm: modrm & 7, ea: modrm < 0xc0 ? REC_MEM : -1, imm: 0 });
          fxsaveX87(x87, 0);
        } catch (e) {
          if (!(e instanceof FakeFault)) throw e;
          fault = `soft raised #${e.vector}`;
        }
        const d = fault !== '' ? fault : diff(t, oracle.record(i), host.mem);
        if (d !== '' && bad++ < 3) failures.push(`${describeInput(t, inputs[i]!)}\n    expected/got: ${d}`);
      }
    }
    if (bad > 3) failures.push(`${t.name}: ${bad} of ${n} cases differ`);
  }
  if (failures.length > 0) assert.fail(`seed ${SEED}, ${total} cases:\n${failures.slice(0, 60).join('\n')}`);
});

test('FNINIT FLD FADD FSTP FXSAVE through SoftCpu', () => {
  const img = assemble(`
    bits 32
    org 0x1000
      fninit
      fld dword [a]
      fadd qword [b]
      fstp qword [c]
      fld1
      fldpi
      fxsave [0x3000]
      fistp dword [d]
      hlt
    align 8
    a: dd 1.5
    b: dq 2.25
    c: dq 0
    d: dd 0
  `);
  const m = machine(img);
  const s = resetState();
  s.cs = flatSegment(0x8, 0xb);
  s.ds = flatSegment(0x10, 0x3); s.es = flatSegment(0x10, 0x3); s.ss = flatSegment(0x10, 0x3);
  s.cr0 = 0x31n; // PE ET NE
  s.cr4 = 0x200n; // OSFXSR
  s.rip = 0x1000n;
  m.cpu.setState(s);
  const x87 = new X87(m.cpu);
  m.cpu.attachUnits(x87, new Sse(m.cpu, x87));
  for (let i = 0; i < 20 && !m.cpu.halted; i++) m.cpu.step();
  const dv = m.dv;
  assert.equal(dv.getUint16(0x3000, true), 0x037f, 'FCW');
  assert.equal((dv.getUint16(0x3002, true) >> 11) & 7, 6, 'TOP after two pushes');
  assert.equal(dv.getUint8(0x3004), 0xc0, 'abridged tag: R6 R7 valid');
  assert.equal(dv.getUint32(0x3018, true), 0x1f80, 'MXCSR');
  // ST(0) = pi, ST(1) = 1.0
  assert.equal(dv.getUint16(0x3020 + 8, true), 0x4000);
  assert.equal(dv.getUint32(0x3020 + 4, true), 0xc90fdaa2);
  assert.equal(dv.getUint16(0x3030 + 8, true), 0x3fff);
  assert.equal(dv.getUint32(0x3030 + 4, true), 0x80000000);
  // The stored sum and the rounded pi.
  const c = img.length - 12;
  assert.equal(dv.getFloat64(0x1000 + c, true), 3.75, 'fstp qword [c]');
  assert.equal(dv.getInt32(0x1000 + c + 8, true), 3, 'fistp dword [d]');
});

test('FPATAN and FYL2X edge cases give what the host CPU gave (oracle seeds 72, 122, 294, 780, 815, 857)', () => {
  // FPATAN of a tiny ratio z is z - z³/3: just below z, so an exact z rounded toward zero or
  // down is the value below it. FYL2X by 0.5 is -y exactly, even for the largest finite y (a
  // double held y's significand rounded up to an overflow), with PE as always; FYL2X of +inf by
  // +0 is -inf without ZE.
  const f80 = (t: string): F80 => ({ se: parseInt(t.slice(0, 4), 16), hi: parseInt(t.slice(4, 12), 16), lo: parseInt(t.slice(12), 16) });
  const run = (fcw: number, op: number, st0: string, st1: string): { st0: F80; sw: number } => {
    const host = new FakeFpuHost();
    const x87 = new X87(host);
    const dv = new DataView(host.mem.buffer, host.mem.byteOffset, host.mem.byteLength);
    host.mem.fill(0, 0, 512);
    dv.setUint16(0, fcw, true);
    dv.setUint16(2, 6 << 11, true); // TOP = 6: ST(0) = R6, ST(1) = R7
    host.mem[4] = 0xc0;
    dv.setUint32(24, 0x1f80, true);
    for (const [i, v] of [f80(st0), f80(st1)].entries()) {
      dv.setUint32(32 + 16 * i, v.lo, true); dv.setUint32(36 + 16 * i, v.hi, true); dv.setUint16(40 + 16 * i, v.se, true);
    }
    fxrstorX87(x87, 0);
    x87.exec(0xd9, { modrm: op, reg: (op >> 3) & 7, rm: op & 7, ea: -1, imm: 0 });
    fxsaveX87(x87, 0);
    return { st0: regOf(host.mem, 0), sw: dv.getUint16(2, true) };
  };
  const cases: [number, number, string, string, string][] = [
    [0x047f, 0xf3, '3ffe8000000000000000', '00000000000000000001', '00000000000000000001'],
    [0x037f, 0xf3, '3fff8000000000000000', '00018000000000000000', '00018000000000000000'],
    [0x0e7f, 0xf3, '403e8000000000000000', '80018000000000000000', '80000000000000000000'],
    [0x0c7f, 0xf3, '3fff8000000000000000', '000000000074dd6d2126', '000000000074dd6d2125'],
    [0x037f, 0xf1, '3ffe8000000000000000', '7ffeffffffffffffffff', 'fffeffffffffffffffff'],
    [0x047f, 0xf1, '00000000000000000000', '7fff8000000000000000', 'ffff8000000000000000'],
  ];
  for (const [fcw, op, st0, st1, want] of cases) {
    const r = run(fcw, op, st0, st1);
    assert.deepEqual(r.st0, f80(want), `${op === 0xf3 ? 'fpatan' : 'fyl2x'} fcw=${fcw.toString(16)} st0=${st0} st1=${st1}`);
    if (op === 0xf1) assert.equal(r.sw & 0x3f, st0.startsWith('0000') ? 0 : 0x20, 'FYL2X flags');
  }
});
