// Run-time helpers of the soft CPU's compiled regions (jit.ts): closure constants of every
// generated function, small enough for V8 to inline (the vCPU thread raises its inlining budget).

import type { SoftCpu } from './cpu.js';
import { execBlock } from './exec.js';
import { PARITY } from './defs.js';

export function ld32(c: SoftCpu, s: number, o: number): number {
  if ((o >>> 0) <= c.segRLim[s]!) {
    const lin = (c.segBase[s]! + o) | 0;
    const e = c.tlbR[lin >>> 12]!;
    if (e !== -1 && (lin & 3) === 0) return c.m32[(e ^ lin) >> 2]!;
    return c.lrd32(lin);
  }
  return c.rd32(s, o);
}

export function st32(c: SoftCpu, s: number, o: number, v: number): void {
  if ((o >>> 0) <= c.segWLim[s]!) {
    const lin = (c.segBase[s]! + o) | 0;
    const e = c.tlbW[lin >>> 12]!;
    if (e !== -1 && (lin & 3) === 0) { c.m32[(e ^ lin) >> 2] = v; return; }
    c.lwr32(lin, v);
    return;
  }
  c.wr32(s, o, v);
}

function ld8(c: SoftCpu, s: number, o: number): number {
  if ((o >>> 0) <= c.segRLim[s]!) {
    const lin = (c.segBase[s]! + o) | 0;
    const e = c.tlbR[lin >>> 12]!;
    if (e !== -1) return c.u8[e ^ lin]!;
    return c.lrd8(lin);
  }
  return c.rd8(s, o);
}

function st8(c: SoftCpu, s: number, o: number, v: number): void {
  if ((o >>> 0) <= c.segWLim[s]!) {
    const lin = (c.segBase[s]! + o) | 0;
    const e = c.tlbW[lin >>> 12]!;
    if (e !== -1) { c.u8[e ^ lin] = v; return; }
    c.lwr8(lin, v);
    return;
  }
  c.wr8(s, o, v);
}

function ld16(c: SoftCpu, s: number, o: number): number { return c.rd16(s, o); }

/** A dword at linear address `lin` (the SSE unit's operands are linear: jit-sse.ts). */
function ldL32(c: SoftCpu, lin: number): number {
  const e = c.tlbR[lin >>> 12]!;
  if (e !== -1 && (lin & 3) === 0) return c.m32[(e ^ lin) >> 2]!;
  return c.lrd32(lin);
}

/**
 * Position-independent i386 code (Debian builds its programs as PIE) gets EIP by calling
 * `__x86.get_pc_thunk.REG`: `mov REG, [esp]; ret` (8B /r with SIB 24, C3). Called from compiled
 * code right after a CALL's push: when the bytes at the target are such a thunk (read now,
 * through the read TLB, so code that changes is seen), returns REG; the caller then sets REG to
 * the return address and goes on there, the same state the three instructions leave (the pushed
 * address stays below ESP as the RET leaves it). -1 otherwise, or when a debug register is armed.
 */
function pcThunk(c: SoftCpu, eip: number): number {
  const t = pcThunkAt(c, (c.segBase[1]! + eip) | 0);
  return t >= 0 ? t : -1;
}

/**
 * pcThunk for linear address `lin`, and -2 when the bytes cannot be read now (no read
 * translation) or a debug register is armed (jit.ts asks it as it compiles a call).
 */
export function pcThunkAt(c: SoftCpu, lin: number): number {
  if ((c.dr[7]! & 0xff) !== 0) return -2;
  if ((lin & 4095) > 4092) return -1;
  const e = c.tlbR[lin >>> 12]!;
  if (e === -1) return -2;
  const a = e ^ lin, u8 = c.u8;
  if (u8[a] !== 0x8b || u8[a + 2] !== 0x24 || u8[a + 3] !== 0xc3) return -1;
  const m = u8[a + 1]!;
  return (m & 0xc7) === 0x04 && m !== 0x24 ? (m >> 3) & 7 : -1;
}

export const HELPERS = { ld32, st32, ld8, st8, ld16, ldL32, execBlock, pcThunk, PAR: PARITY };
