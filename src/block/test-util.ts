// Helpers for the block backend tests: a scratch directory, qemu-img/qemu-io, a seeded PRNG.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when Debian's qemu-utils are installed. */
export const HAVE_QEMU_IMG = spawnSync('qemu-img', ['--version']).status === 0;

/** A fresh scratch directory; `cleanup()` removes it. */
export function scratch(): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-block-'));
  return { dir, path: (n) => join(dir, n), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a qemu tool; throws with its stderr on failure; returns stdout. */
export function qemu(tool: 'qemu-img' | 'qemu-io', args: string[], okStatus: readonly number[] = [0]): string {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.status === null || !okStatus.includes(r.status)) {
    throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** `qemu-img check` as JSON: corruptions, leaks, and the exit status (0 clean, 3 leaks only). */
export function qemuCheck(file: string): { corruptions: number; leaks: number; status: number; text: string } {
  const r = spawnSync('qemu-img', ['check', '--output=json', file], { encoding: 'utf8' });
  let corruptions = -1;
  let leaks = -1;
  try {
    const j = JSON.parse(r.stdout) as { corruptions?: number; leaks?: number };
    corruptions = j.corruptions ?? 0;
    leaks = j.leaks ?? 0;
  } catch {
    // leave -1: the assertion prints the text
  }
  return { corruptions, leaks, status: r.status ?? -1, text: `${r.stdout}${r.stderr}` };
}

/** A small seeded PRNG (xorshift32) so failures are reproducible; the seed is printed on failure. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }
  fill(b: Uint8Array): Uint8Array {
    for (let i = 0; i < b.length; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/** Index of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
