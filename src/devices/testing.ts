// Fakes for device unit tests: an IrqLine that records levels, a settable clock, manual timers,
// a recording SystemControl and CharBackend, and a seeded random source for fuzz loops.

import type { AccessSize, CharBackend, Clock, IoRegion, IrqLine, SystemControl } from './api.js';
import type { Timers } from '../devicemodel/timers.js';

/** An IrqLine that remembers its level and every change. */
export class FakeIrq implements IrqLine {
  level = false;
  readonly history: boolean[] = [];
  pulses = 0;
  set(level: boolean): void { this.level = level; this.history.push(level); }
  pulse(): void { this.pulses++; }
}

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  constructor(public wallMs = 0, public monoMs = 0) {}
  nowMs(): number { return this.wallMs; }
  monotonicMs(): number { return this.monoMs; }
  advance(ms: number): void { this.wallMs += ms; this.monoMs += ms; }
}

/** Timers driven by the test's clock: `advance` moves time and fires what fell due. */
export class FakeTimers implements Timers {
  private entries: { id: number; due: number; fn: () => void }[] = [];
  private nextId = 1;
  constructor(private readonly clock: FakeClock) {}
  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.entries.push({ id, due: this.clock.monoMs + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: number): void { this.entries = this.entries.filter((e) => e.id !== handle); }
  get pending(): number { return this.entries.length; }
  /** Moves the clock by `ms`, firing due timers in order (bounded, so a runaway timer fails). */
  advance(ms: number): void {
    const end = this.clock.monoMs + ms;
    for (let n = 0; n < 100_000; n++) {
      this.entries.sort((a, b) => a.due - b.due);
      const e = this.entries[0];
      if (e === undefined || e.due > end) break;
      this.entries.shift();
      this.clock.advance(Math.max(0, e.due - this.clock.monoMs));
      e.fn();
    }
    this.clock.advance(Math.max(0, end - this.clock.monoMs));
  }
}

/** Records the machine-level requests a device makes. */
export class FakeSystem implements SystemControl {
  resets = 0;
  powerOffs = 0;
  readonly exits: number[] = [];
  reset(): void { this.resets++; }
  powerOff(): void { this.powerOffs++; }
  exit(status: number): void { this.exits.push(status); }
}

/** A character backend that collects output and lets the test send input. */
export class FakeChar implements CharBackend {
  readonly output: number[] = [];
  private receiver: ((bytes: Uint8Array) => void) | null = null;
  write(bytes: Uint8Array): void { for (const b of bytes) this.output.push(b); }
  onInput(receiver: (bytes: Uint8Array) => void): void { this.receiver = receiver; }
  send(bytes: Iterable<number>): void { this.receiver?.(Uint8Array.from(bytes)); }
}

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be repeated from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a fuzz run: HVM_FUZZ_SEED if set, else fresh. */
export function fuzzSeed(): number {
  const env = process.env['HVM_FUZZ_SEED'];
  return env !== undefined && env !== '' ? Number(env) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
}

/**
 * Runs `steps` random reads and writes over `regions` (plus `extra` host-side events), asserting
 * that nothing throws and reads fit their width. Throws with the seed on failure.
 */
export function fuzzRegions(regions: readonly IoRegion[], steps: number, seed: number,
                            extra?: (rand: () => number) => void): void {
  const rand = seededRandom(seed);
  const sizes: readonly AccessSize[] = [1, 1, 1, 2, 4];
  try {
    for (let i = 0; i < steps; i++) {
      const r = regions[Math.floor(rand() * regions.length)]!;
      const size = sizes[Math.floor(rand() * sizes.length)]!;
      const offset = Math.floor(rand() * r.size);
      if (offset + size > r.size) continue; // the bus splits these before a device sees them
      const op = rand();
      if (op < 0.45) {
        const v = r.read(offset, size);
        if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * size)) throw new Error(`${r.name}: read ${offset}/${size} returned ${v}`);
      } else if (op < 0.95) {
        // Bias toward small values and all ones, where the interesting bits are.
        const pick = rand();
        const v = pick < 0.1 ? 0xffffffff : pick < 0.2 ? 0 : Math.floor(rand() * 2 ** (8 * size));
        r.write(offset, size, v >>> 0);
      } else {
        extra?.(rand);
      }
    }
  } catch (e) {
    throw new Error(`fuzz failed with seed ${seed} (rerun with HVM_FUZZ_SEED=${seed}): ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }
}

/** Guest RAM for DMA tests: `bytes` of RAM from 0, range-checked like GuestRam; counts writes. */
export class FakeMemory {
  readonly u8: Uint8Array;
  writes = 0;
  constructor(bytes: number) { this.u8 = new Uint8Array(bytes); }
  private ok(gpa: number, len: number): boolean {
    return Number.isInteger(gpa) && Number.isInteger(len) && gpa >= 0 && len >= 0 && gpa + len <= this.u8.length;
  }
  view(gpa: number, len: number): Uint8Array | null { return this.ok(gpa, len) ? this.u8.subarray(gpa, gpa + len) : null; }
  read(gpa: number, dst: Uint8Array): boolean {
    if (!this.ok(gpa, dst.length)) return false;
    dst.set(this.u8.subarray(gpa, gpa + dst.length));
    return true;
  }
  write(gpa: number, src: Uint8Array): boolean {
    if (!this.ok(gpa, src.length)) return false;
    this.u8.set(src, gpa);
    this.writes++;
    return true;
  }
}

/** The VRAM pages a dirty-page source (VramShare) reports, taken (so cleared) in page order. */
export function takeDirtyPages(share: { readonly pages: number; takeDirty(out: Uint8Array): boolean }): number[] {
  const out = new Uint8Array(share.pages);
  share.takeDirty(out);
  const r: number[] = [];
  out.forEach((d, p) => { if (d) r.push(p); });
  return r;
}
