// Expressions the soft CPU's region compiler (jit.ts) generates: operands (byte registers,
// effective addresses), what is known statically about the flags (the last flag-setting
// instruction's operands and result), conditions and CF from that knowledge, and the
// instruction classes of the flag liveness pass.

import { M_ADDR16, M_HAS_BASE, M_HAS_INDEX, M_MEM, R_IMM, R_M } from './decoder.js';

/** What the generator knows statically about the last flag-setting instruction. */
export interface FlagState {
  /** 'sub': a/b/res locals; 'logic', 'add', 'incdec', 'shift': res local; 'none': read c; 'sub8', 'logic8': the same for bytes (0..255). */
  kind: 'none' | 'sub' | 'logic' | 'add' | 'incdec' | 'shift' | 'sub8' | 'logic8';
  a: string;
  b: string;
  res: string;
}

export const NONE: FlagState = { kind: 'none', a: '', b: '', res: '' };

/** Instruction classes for the flag liveness pass. */
export const enum Cls {
  /** Register-only, cannot fault, neither reads nor writes flags. */
  Quiet = 0,
  /** Register-only, cannot fault, writes all six flags without reading them. */
  Writer = 1,
  /** Anything else (may fault, reads flags, or runs in the interpreter). */
  Other = 2,
}

export function reg8Get(n: number): string {
  return n < 4 ? `(r[${n}] & 255)` : `((r[${n - 4}] >> 8) & 255)`;
}

export function reg8Set(n: number, v: string): string {
  return n < 4 ? `r[${n}] = (r[${n}] & -256) | ((${v}) & 255);` : `r[${n - 4}] = (r[${n - 4}] & -65281) | (((${v}) & 255) << 8);`;
}

/**
 * ES, SS and DS (segment numbers 0, 2, 3) when the region runs: flat (CPU.flatData, which the
 * region checks on entry and after the interpreter; it also means a 32-bit stack), so their
 * offset is the linear address and an aligned access is within the limit.
 */
function flatSeg(seg: number): boolean { return seg === 0 || seg === 2 || seg === 3; }

/** The linear address of offset `o` of `seg` into lL (and `o` into lO), and the limit test. */
function linear(seg: number, o: string, lim: string): { lin: string; inLimit: string } {
  if (flatSeg(seg)) return { lin: `(lL = lO = ${o})`, inLimit: '' };
  return { lin: `(lL = (SB[${seg}] + (lO = ${o})) | 0)`, inLimit: ` && (lO >>> 0) <= ${lim}[${seg}]` };
}

/**
 * A dword load from segment `seg` at offset `o` (an expression), inline when the read TLB maps an
 * aligned address within the segment's fast limit; the helper otherwise (page walk, MMIO, page
 * crossing, limit faults), which first sets EIP to `at`, the instruction's address: the fast
 * path cannot fault. The region binds SB/RL/WL/TR/TW/M32/U8 and the scratch locals lE, lL, lO.
 */
export function ld32Expr(seg: number, o: string, at: string): string {
  const a = linear(seg, o, 'RL');
  return `((lE = TR[${a.lin} >>> 12]) !== -1 && (lL & 3) === 0${a.inLimit} ? M32[(lE ^ lL) >> 2] : (c.eip = ${at}, ld32(c, ${seg}, lO)))`;
}

/** A dword store (a statement), inline on the same terms as ld32Expr with the write TLB and limit. */
export function st32Stmt(seg: number, o: string, val: string | number, at: string): string {
  const a = linear(seg, o, 'WL');
  return `if ((lE = TW[${a.lin} >>> 12]) !== -1 && (lL & 3) === 0${a.inLimit}) M32[(lE ^ lL) >> 2] = ${val}; ` +
    `else { c.eip = ${at}; st32(c, ${seg}, lO, ${val}); }`;
}

/** A byte load (an expression), inline on the same terms as ld32Expr. */
export function ld8Expr(seg: number, o: string, at: string): string {
  const a = linear(seg, o, 'RL');
  return `((lE = TR[${a.lin} >>> 12]) !== -1${a.inLimit} ? U8[lE ^ lL] : (c.eip = ${at}, ld8(c, ${seg}, lO)))`;
}

/** A byte store (a statement), inline on the same terms as st32Stmt. */
export function st8Stmt(seg: number, o: string, val: string | number, at: string): string {
  const a = linear(seg, o, 'WL');
  return `if ((lE = TW[${a.lin} >>> 12]) !== -1${a.inLimit}) U8[lE ^ lL] = ${val}; else { c.eip = ${at}; st8(c, ${seg}, lO, ${val}); }`;
}

/** A word load (an expression), inline when aligned (never across a page), as ld32Expr. */
export function ld16Expr(seg: number, o: string, at: string): string {
  const a = linear(seg, o, 'RL');
  return `((lE = TR[${a.lin} >>> 12]) !== -1 && (lL & 1) === 0${a.inLimit} ? ` +
    `U8[lE ^ lL] | (U8[(lE ^ lL) + 1] << 8) : (c.eip = ${at}, ld16(c, ${seg}, lO)))`;
}

export function eaExpr(m: number, disp: number): string {
  let e = `${disp}`;
  if ((m & M_HAS_BASE) !== 0) e += ` + r[${(m >> 8) & 7}]`;
  if ((m & M_HAS_INDEX) !== 0) {
    const sc = (m >> 16) & 3;
    e += sc === 0 ? ` + r[${(m >> 12) & 7}]` : ` + (r[${(m >> 12) & 7}] << ${sc})`;
  }
  return (m & M_ADDR16) !== 0 ? `((${e}) & 65535)` : `((${e}) | 0)`;
}

/** Whether op `k` of the ALU family (ADD OR ADC SBB AND SUB XOR CMP) reads CF. */
function aluReadsFlags(k: number): boolean { return k === 2 || k === 3; }

/** Classifies record `p` for the liveness pass. */
export function classify(ins: Int32Array, p: number): Cls {
  const op = ins[p]!, m = ins[p + R_M]!;
  const mem = (m & M_MEM) !== 0;
  if (op >= 0x200 && op < 0x240 && ((op & 7) === 1 || (op & 7) === 3)) {
    if (mem) return Cls.Other;
    return aluReadsFlags((op >> 3) & 7) ? Cls.Other : Cls.Writer;
  }
  if (op >= 0x200 && op < 0x240 && (op & 7) === 5) return aluReadsFlags((op >> 3) & 7) ? Cls.Other : Cls.Writer;
  if (op === 0x281 || op === 0x283) {
    if (mem) return Cls.Other;
    return aluReadsFlags((m >> 3) & 7) ? Cls.Other : Cls.Writer;
  }
  if (op === 0x285) return mem ? Cls.Other : Cls.Writer;
  if (op === 0x2a9) return Cls.Writer;
  if (op === 0x289 || op === 0x28b) return mem ? Cls.Other : Cls.Quiet;
  if (op === 0x28d || (op >= 0x2b8 && op <= 0x2bf) || (op >= 0xb0 && op <= 0xb7) || op === 0x290 || op === 0x298 || op === 0x299) return Cls.Quiet;
  if (op === 0x2c7 || op === 0x88 || op === 0x8a || op === 0xc6) return mem ? Cls.Other : Cls.Quiet;
  if (op === 0x3b6 || op === 0x3b7 || op === 0x3be || op === 0x3bf) return mem ? Cls.Other : Cls.Quiet;
  if (op === 0x2c1 || op === 0x2d1) {
    if (mem) return Cls.Other;
    const kind = (m >> 3) & 7;
    const cnt = op === 0x2d1 ? 1 : ins[p + R_IMM]! & 31;
    if (cnt === 0) return Cls.Quiet;
    return kind >= 4 ? Cls.Writer : Cls.Other;
  }
  return Cls.Other;
}

export function isRotate(ins: Int32Array, p: number): boolean {
  const op = ins[p]!, m = ins[p + R_M]!;
  return (op === 0x2c1 || op === 0x2d1) && (m & M_MEM) === 0 && ((m >> 3) & 7) < 2 &&
    (op === 0x2d1 || (ins[p + R_IMM]! & 31) !== 0);
}

/** PF, AF, ZF and SF (EFLAGS bits) as `fs` left them, when known statically. */
export function keptFlags(fs: FlagState): string | null {
  const szp = `(PAR[${fs.res} & 255] << 2) | (${fs.res} === 0 ? 64 : 0) | ((${fs.res} >>> 24) & 128)`;
  switch (fs.kind) {
    case 'add': case 'sub': return `(${szp} | ((${fs.a} ^ ${fs.b} ^ ${fs.res}) & 16))`;
    case 'incdec': return `(${szp} | ((${fs.a} ^ 1 ^ ${fs.res}) & 16))`;
    case 'logic': case 'shift': return `(${szp})`;
    default: return null;
  }
}

/** CF before the current instruction, from what is known statically or from the CPU. */
export function cfExpr(fs: FlagState): string {
  switch (fs.kind) {
    case 'sub': return `((${fs.a} >>> 0) < (${fs.b} >>> 0) ? 1 : 0)`;
    case 'sub8': return `(${fs.a} < ${fs.b} ? 1 : 0)`;
    case 'logic': case 'logic8': return '0';
    case 'add': return `((${fs.res} >>> 0) < (${fs.a} >>> 0) ? 1 : 0)`;
    default: return 'c.getCF()';
  }
}

/** Condition `cc` (Jcc low nibble) as a JS boolean expression. */
export function condExpr(fs: FlagState, cc: number): string {
  const neg = (cc & 1) !== 0;
  let e: string | null = null;
  const c = cc >> 1;
  switch (fs.kind) {
    case 'sub':
      switch (c) {
        case 0: e = `((${fs.a} ^ ${fs.b}) & (${fs.a} ^ ${fs.res})) < 0`; break;
        case 1: e = `(${fs.a} >>> 0) < (${fs.b} >>> 0)`; break;
        case 2: e = `${fs.a} === ${fs.b}`; break;
        case 3: e = `(${fs.a} >>> 0) <= (${fs.b} >>> 0)`; break;
        case 4: e = `${fs.res} < 0`; break;
        case 6: e = `${fs.a} < ${fs.b}`; break;
        case 7: e = `${fs.a} <= ${fs.b}`; break;
        default: break;
      }
      break;
    case 'logic':
      switch (c) {
        case 0: case 1: e = 'false'; break;
        case 2: case 3: e = `${fs.res} === 0`; break;
        case 4: case 6: e = `${fs.res} < 0`; break;
        case 7: e = `${fs.res} <= 0`; break;
        default: break;
      }
      break;
    case 'sub8':
      switch (c) {
        case 0: e = `((${fs.a} ^ ${fs.b}) & (${fs.a} ^ ${fs.res}) & 128) !== 0`; break;
        case 1: e = `${fs.a} < ${fs.b}`; break;
        case 2: e = `${fs.a} === ${fs.b}`; break;
        case 3: e = `${fs.a} <= ${fs.b}`; break;
        case 4: e = `(${fs.res} & 128) !== 0`; break;
        case 6: e = `(${fs.a} << 24) < (${fs.b} << 24)`; break;
        case 7: e = `(${fs.a} << 24) <= (${fs.b} << 24)`; break;
        default: break;
      }
      break;
    case 'logic8':
      switch (c) {
        case 0: case 1: e = 'false'; break;
        case 2: case 3: e = `${fs.res} === 0`; break;
        case 4: case 6: e = `(${fs.res} & 128) !== 0`; break;
        case 7: e = `(${fs.res} === 0 || (${fs.res} & 128) !== 0)`; break;
        default: break;
      }
      break;
    case 'add': case 'incdec': case 'shift':
      if (c === 2) e = `${fs.res} === 0`;
      else if (c === 4) e = `${fs.res} < 0`;
      break;
    default: break;
  }
  if (e === null) return `${neg ? '!' : ''}c.cond(${cc & ~1})`;
  return neg ? `!(${e})` : `(${e})`;
}
