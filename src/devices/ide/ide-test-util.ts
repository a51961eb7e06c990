// Helpers for the IDE register tests: in-memory block backends (dense or sparse) whose promises
// settle on a later event-loop turn, and a rig with the PIIX IDE function, fake IRQs and RAM.

import type { BlockBackend } from '../../block/block.js';
import { FakeIrq, FakeMemory } from '../testing.js';
import { PiixIde, type IdeDriveConfig } from './piix-ide.js';

const later = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A sparse in-memory disk: 512-byte sectors in a map; counts flushes; can be made to fail. */
export class MemBackend implements BlockBackend {
  readonly sectorSize = 512 as const;
  readonly sectors = new Map<number, Uint8Array>();
  flushes = 0;
  fail = false;
  /** When set, flush() waits for this to be resolved by the test. */
  flushGate: Promise<void> | null = null;
  constructor(readonly sizeBytes: number, readonly readOnly = false) {}
  async read(offset: number, dst: Uint8Array): Promise<void> {
    await later();
    if (this.fail) throw new Error('I/O error');
    for (let o = 0; o < dst.length; o += 512) {
      const s = this.sectors.get((offset + o) / 512);
      if (s) dst.set(s.subarray(0, Math.min(512, dst.length - o)), o); else dst.fill(0, o, o + 512);
    }
  }
  async write(offset: number, src: Uint8Array): Promise<void> {
    await later();
    if (this.fail) throw new Error('I/O error');
    for (let o = 0; o < src.length; o += 512) this.sectors.set((offset + o) / 512, src.slice(o, o + 512));
  }
  async flush(): Promise<void> {
    if (this.flushGate) await this.flushGate;
    await later();
    this.flushes++;
  }
  async close(): Promise<void> {}
  /** Fills sectors [from, from+n) with a pattern derived from the sector number. */
  pattern(from: number, n: number): void {
    for (let s = from; s < from + n; s++) this.sectors.set(s, patternSector(s));
  }
}

/** The bytes `MemBackend.pattern` puts in sector `s`. */
export function patternSector(s: number): Uint8Array {
  const b = new Uint8Array(512);
  for (let i = 0; i < 512; i++) b[i] = (s * 7 + i * 13 + (s >>> 8)) & 0xff;
  return b;
}

/** Lets pending backend promises settle. */
export async function settle(turns = 20): Promise<void> { for (let i = 0; i < turns; i++) await later(); }

/** The controller with fake IRQs and 1 MiB of RAM; `ch(0|1)` gives register helpers. */
export function rig(drives: IdeDriveConfig[], ramBytes = 1 << 20) {
  const irqs = [new FakeIrq(), new FakeIrq()] as const;
  const mem = new FakeMemory(ramBytes);
  const ide = new PiixIde('ide', [irqs[0], irqs[1]], mem, drives);
  const ch = (n: 0 | 1) => {
    const cmd = ide.regions[2 * n]!, ctl = ide.regions[2 * n + 1]!;
    return {
      irq: irqs[n],
      out: (reg: number, v: number) => cmd.write(reg, 1, v),
      inb: (reg: number) => cmd.read(reg, 1),
      word: () => cmd.read(0, 2),
      outw: (v: number) => cmd.write(0, 2, v),
      ctl: (v: number) => ctl.write(0, 1, v),
      alt: () => ctl.read(0, 1),
      /** Reads `bytes` from the data port. */
      readBytes: (bytes: number) => {
        const out = new Uint8Array(bytes);
        for (let i = 0; i < bytes; i += 2) { const w = cmd.read(0, 2); out[i] = w & 0xff; out[i + 1] = w >>> 8; }
        return out;
      },
      writeBytes: (b: Uint8Array) => { for (let i = 0; i < b.length; i += 2) cmd.write(0, 2, b[i]! | (b[i + 1]! << 8)); },
    };
  };
  const bm = ide.bmdma.region;
  return { ide, mem, irqs, ch, bm };
}

/** A channel's register helpers, as `rig().ch(n)` returns them. */
export type ChannelHelpers = ReturnType<ReturnType<typeof rig>['ch']>;

/** Waits (at most 10 s) until the channel's device drops BSY: a real file backend answers on the thread pool, later than settle()'s turns under load. */
export async function notBusy(c: ChannelHelpers): Promise<void> {
  await settle();
  for (const t0 = Date.now(); (c.alt() & 0x80) !== 0 && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 1));
}

/**
 * Sends an ATAPI packet to the master of channel `c` by PIO and collects the data phase: the
 * data, the final status and error registers, and the DRQ block sizes.
 */
export async function atapiPacket(c: ChannelHelpers, cdb: number[], limit = 0xfffe): Promise<{ data: Uint8Array; status: number; error: number; blocks: number[] }> {
  c.inb(7);
  c.out(6, 0xa0);
  c.out(1, 0); c.out(4, limit & 0xff); c.out(5, limit >>> 8);
  c.out(7, 0xa0);
  c.writeBytes(Uint8Array.from([...cdb, ...new Array<number>(Math.max(0, 12 - cdb.length)).fill(0)]));
  await notBusy(c);
  const chunks: number[] = [];
  const blocks: number[] = [];
  for (let n = 0; n < 1000 && (c.alt() & 0x08) !== 0; n++) {
    const len = c.inb(4) | (c.inb(5) << 8);
    blocks.push(len);
    c.inb(7);
    chunks.push(...c.readBytes(len));
    await notBusy(c);
  }
  return { data: Uint8Array.from(chunks), status: c.inb(7), error: c.inb(1), blocks };
}
