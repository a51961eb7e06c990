// The soft CPU's compile policy: which decoded blocks become compiled regions (jit.ts), and
// when. A block's instructions run (executions × length) count toward JIT_THRESHOLD; the block
// that crosses it has its code page compiled: the page's warm blocks, as one region or a few.

import type { SoftCpu } from './cpu.js';
import { compileRegions, type JitFn, type RegionBlock } from './jit.js';

/**
 * Blocks of one page considered for its regions at most (a bound for pathological pages). What
 * limits a region is jit.ts's source budget (V8 leaves larger functions unoptimized); a page's
 * hot blocks beyond it go into further regions of the page. A region that leaves out hot blocks
 * of its page returns to the run loop each time it reaches one: with 16 blocks per region (the
 * old bound) half the region exits in bench/linux's shell loop were such same-page exits.
 * Measured on that loop (60000 iterations): 16 → 14.7–15.1 s, 64 → 12.6–13.5 s.
 */
const MAX_REGION_BLOCKS = 256;
/** Regions one compile of a page makes at most (each within jit.ts's source budget). */
const MAX_PAGE_REGIONS = 4;
/** Compiles of one code page per version of its code at most. */
export const MAX_PAGE_COMPILES = 8;
/** A block joins its page's region once it has run this share of the compile threshold. */
const REGION_WARM = 0.02;
/**
 * Instructions a cached 32-bit block runs (executions × length) before its code page is compiled
 * to JavaScript (jit.ts: a region of the page's blocks that have run at least REGION_WARM of
 * this); 0 turns the compiler off. V8's optimizing compile of each generated
 * function costs milliseconds, so only blocks that long loops keep hot pay for it. Measured on
 * bench/linux (quiet, back to back): 300k beats 2M (boot 9.2–9.5 s vs 10.0–11.2 s, work 8.2–8.7 s
 * vs 8.9–9.6 s) and 100k (more compiles than they repay).
 * Environment: HVM_JIT=0 (off), HVM_JIT_THRESHOLD=<n>.
 */
export const JIT_THRESHOLD = ((): number => {
  const env = typeof process !== 'undefined' ? process.env : {};
  if (env['HVM_JIT'] === '0') return 0;
  const n = Number(env['HVM_JIT_THRESHOLD'] ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 300_000;
})();

/** The block cache (SoftCpu's arrays, by block index) as the policy reads and updates it. */
export interface BlockTable {
  /** Physical offset of the block's first byte (-1: a one-shot block). */
  readonly key: Int32Array;
  /** 1 for 32-bit code. */
  readonly mode: Uint8Array;
  /** First decoder record, and records. */
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** The code version of the block's page when it was decoded. */
  readonly gen: Int32Array;
  /** The second page of a block that crosses one (-1: none). */
  readonly page2: Int32Array;
  /** Instructions run interpreted. */
  readonly hits: Int32Array;
  /** The compiled region that runs the block, or null. */
  readonly fn: (JitFn | null)[];
  /** Per physical page: compiles for its code version `pageJitGen`. */
  readonly pageJits: Uint8Array;
  readonly pageJitGen: Int32Array;
}

/**
 * Compiles the code page of block `b` (jit.ts): regions of the valid 32-bit blocks there that
 * have run at least REGION_WARM of the threshold (one region while jit.ts's source budget
 * lasts, so jumps between them stay inside the compiled function). A page is compiled again
 * when one of its blocks outside the regions reaches `jitThreshold` itself, at most
 * `pageCompileLimit` times per version of its code. A failure (no code generation allowed)
 * turns the compiler off.
 */
export function compilePage(c: SoftCpu, t: BlockTable, nBlocks: number, b: number): void {
  const page = t.key[b]! >>> 12, gen = c.pageGen[page]!;
  const warm = c.jitThreshold * REGION_WARM;
  if (t.pageJitGen[page] !== gen) { t.pageJitGen[page] = gen; t.pageJits[page] = 0; }
  if (t.pageJits[page]! >= c.pageCompileLimit) return;
  t.pageJits[page] = t.pageJits[page]! + 1;
  // The newest valid block per offset (an evicted older copy of the same code is left out).
  const byOff = new Map<number, number>();
  const compiled: number[] = [];
  for (let i = 0; i < nBlocks; i++) {
    const k = t.key[i]!;
    if (k < 0 || k >>> 12 !== page || t.mode[i] !== 1 || t.gen[i] !== gen || t.page2[i]! >= 0) continue;
    if (t.fn[i] !== null) compiled.push(i);
    else if (t.hits[i]! < warm) continue;
    byOff.set(k & 0xfff, i);
  }
  byOff.set(t.key[b]! & 0xfff, b);
  // The entry block first, then blocks already compiled (they have stopped counting hits: the
  // page's hottest code), then the rest hottest first; compileRegions takes them in this order
  // while its source budget lasts.
  const all = [...byOff.values()];
  const fresh = all.filter((i) => t.fn[i] === null && i !== b).sort((x, y) => t.hits[y]! - t.hits[x]!);
  const members = [b, ...all.filter((i) => t.fn[i] !== null && i !== b), ...fresh].slice(0, MAX_REGION_BLOCKS);
  // A page whose hot code is more than one function's worth gets several regions.
  try {
    const blocks: RegionBlock[] = members.map((i) => ({ p: t.start[i]!, n: t.count[i]!, off: t.key[i]! & 0xfff }));
    const fns = compileRegions(c, blocks, MAX_PAGE_REGIONS);
    if (fns.length === 0) return;
    // Blocks of the page's older regions that no new region takes run interpreted again.
    for (const i of compiled) t.fn[i] = null;
    members.forEach((i, k) => { const part = blocks[k]!.part; if (part !== undefined) t.fn[i] = fns[part]!; });
    c.regionsCompiled += fns.length;
  } catch {
    c.jitThreshold = 0;
  }
}
