// PIIX3 bus-master IDE (82371SB datasheet §2.7 "Bus Master IDE registers", §3.6 "Bus master
// IDE function"): 16 bytes at BAR4, 8 per channel — command (BMICx), status (BMISx) and the PRD
// table pointer (BMIDTPx). A PRD is 8 bytes: a physical address (bit 0 zero), a byte count (0
// means 64 KiB), and bit 31 of the second dword, end of table. The table is at most 64 KiB.
//
// Completion per the datasheet's table of interrupt/active bits:
//   PRDs cover the transfer exactly     → interrupt 1, active 0
//   PRDs longer than the transfer       → interrupt 1, active 1 (the rest is left unused)
//   PRDs shorter than the transfer      → interrupt 0, active 0; the drive is left waiting
// A PRD outside RAM, a table that reaches 64 KiB without covering the transfer, or a disk error
// sets the error bit, ends the command with ABRT, and interrupts.

import type { AccessSize, GuestMemory, IoRegion } from '../api.js';
import type { AtaChannel, DmaRequest } from './ata.js';

/** Register offsets within a channel's 8 bytes. */
export const BMIC = 0;        // command
export const BMIS = 2;        // status
export const BMIDTP = 4;      // PRD table pointer (u32)
/** BMIC bits. */
export const BMIC_SSBM = 0x01;   // start/stop bus master
export const BMIC_RWCON = 0x08;  // 1: bus master writes memory (a device read)
/** BMIS bits. */
export const BMIS_ACTIVE = 0x01;
export const BMIS_ERROR = 0x02;   // write 1 to clear
export const BMIS_INTR = 0x04;    // write 1 to clear
export const BMIS_DRV0_DMA = 0x20;
export const BMIS_DRV1_DMA = 0x40;
/** PRD fields. */
export const PRD_EOT = 0x80000000;
export const PRD_TABLE_MAX_BYTES = 64 * 1024;
const PRD_BYTES = 8;
const PRD_COUNT_MAX = 0x10000;
/** Bytes moved per backend call. */
const DMA_CHUNK = 64 * 1024;

/** One segment of guest memory from the PRD table. */
interface Segment { addr: number; len: number }

/** The outcome of walking a PRD table for `need` bytes. */
interface PrdWalk { segments: Segment[]; covered: number; error: boolean; overlong: boolean }

/** One channel's bus-master registers and engine. */
export class BmdmaChannel {
  command = 0;
  status = 0;
  prdTable = 0;
  /** Bumped when the guest stops the engine, so a transfer in flight stops at its next step. */
  private run = 0;
  private busy = false;
  /** Transfers ended in error (PRD outside RAM, endless table, disk error), for tests and logs. */
  errors = 0;

  constructor(private readonly channel: AtaChannel, private readonly mem: GuestMemory) {
    channel.onInterrupt = () => { this.status |= BMIS_INTR; };
    channel.onDmaReady = () => this.kick();
  }

  read(offset: number): number {
    switch (offset) {
      case BMIC: return this.command;
      case BMIS: return this.status;
      case BMIDTP: case BMIDTP + 1: case BMIDTP + 2: case BMIDTP + 3:
        return (this.prdTable >>> (8 * (offset - BMIDTP))) & 0xff;
      default: return 0;
    }
  }

  write(offset: number, v: number): void {
    switch (offset) {
      case BMIC: {
        const was = this.command;
        this.command = v & (BMIC_SSBM | BMIC_RWCON);
        if ((v & BMIC_SSBM) === 0 && (was & BMIC_SSBM) !== 0) {
          this.run++;            // stopping abandons what the engine had not done
          this.busy = false;
          this.status &= ~BMIS_ACTIVE;
        } else if ((v & BMIC_SSBM) !== 0 && (was & BMIC_SSBM) === 0) {
          this.status |= BMIS_ACTIVE;
          this.kick();
        }
        return;
      }
      case BMIS:
        this.status = (this.status & ~(v & (BMIS_ERROR | BMIS_INTR)) & ~(BMIS_DRV0_DMA | BMIS_DRV1_DMA)) |
          (v & (BMIS_DRV0_DMA | BMIS_DRV1_DMA));
        return;
      case BMIDTP: case BMIDTP + 1: case BMIDTP + 2: case BMIDTP + 3: {
        const shift = 8 * (offset - BMIDTP);
        const mask = (0xff << shift) >>> 0;
        this.prdTable = (((this.prdTable & ~mask) | ((v << shift) & mask)) & ~3) >>> 0; // dword aligned
        return;
      }
      default:
        return;
    }
  }

  /** Starts the transfer if the engine is on and the selected device has a DMA command waiting. */
  private kick(): void {
    if (this.busy || (this.command & BMIC_SSBM) === 0) return;
    const dev = this.channel.selected;
    const req = dev?.dma ?? null;
    if (req === null) return;
    this.busy = true;
    void this.transfer(req, this.run);
  }

  /** Reads the PRD table until `need` bytes are covered, the end-of-table bit, or 64 KiB. */
  walk(need: number): PrdWalk {
    const segments: Segment[] = [];
    const entry = new Uint8Array(PRD_BYTES);
    const dv = new DataView(entry.buffer);
    let covered = 0;
    for (let off = 0; off < PRD_TABLE_MAX_BYTES; off += PRD_BYTES) {
      if (!this.mem.read(this.prdTable + off, entry)) return { segments, covered, error: true, overlong: false };
      const addr = (dv.getUint32(0, true) & ~1) >>> 0; // word aligned
      const flags = dv.getUint32(4, true);
      const len = (flags & 0xfffe) || PRD_COUNT_MAX;
      const eot = (flags & PRD_EOT) !== 0;
      if (covered < need) {
        const use = Math.min(len, need - covered);
        if (this.mem.view(addr, use) === null) return { segments, covered, error: true, overlong: false };
        segments.push({ addr, len: use });
        covered += use;
        if (covered === need) return { segments, covered, error: false, overlong: use < len || !eot };
      }
      if (eot) return { segments, covered, error: false, overlong: false };
    }
    return { segments, covered, error: true, overlong: false };
  }

  private async transfer(req: DmaRequest, run: number): Promise<void> {
    const w = this.walk(req.bytes);
    if (w.error) { this.fail(req); return; }
    if (w.covered < req.bytes) {
      // Short PRD list: the engine stops; no interrupt; the device still waits for data.
      this.status &= ~BMIS_ACTIVE;
      this.busy = false;
      return;
    }
    const chunk = new Uint8Array(Math.min(DMA_CHUNK, req.bytes));
    let seg = 0;
    let segPos = 0;
    for (let pos = 0; pos < req.bytes; pos += chunk.length) {
      const n = Math.min(chunk.length, req.bytes - pos);
      const part = chunk.subarray(0, n);
      try {
        if (!req.toGuest) ({ seg, segPos } = this.copy(w.segments, seg, segPos, part, false));
        await req.transfer(pos, part);
        if (run !== this.run) return;
        if (req.toGuest) ({ seg, segPos } = this.copy(w.segments, seg, segPos, part, true));
      } catch {
        if (run === this.run) this.fail(req);
        return;
      }
    }
    this.busy = false;
    if (!w.overlong) this.status &= ~BMIS_ACTIVE;
    req.complete(true);
  }

  /** Moves `part` to (or from) guest memory along the segments from (seg, segPos). */
  private copy(segs: Segment[], seg: number, segPos: number, part: Uint8Array, toGuest: boolean): { seg: number; segPos: number } {
    let done = 0;
    while (done < part.length) {
      const s = segs[seg];
      if (s === undefined) throw new Error('PRD segments exhausted');
      const n = Math.min(s.len - segPos, part.length - done);
      const piece = part.subarray(done, done + n);
      const ok = toGuest ? this.mem.write(s.addr + segPos, piece) : this.mem.read(s.addr + segPos, piece);
      if (!ok) throw new Error('PRD outside RAM');
      done += n;
      segPos += n;
      if (segPos === s.len) { seg++; segPos = 0; }
    }
    return { seg, segPos };
  }

  private fail(req: DmaRequest): void {
    this.errors++;
    this.busy = false;
    this.status = (this.status | BMIS_ERROR) & ~BMIS_ACTIVE;
    req.complete(false);
  }

  reset(): void {
    this.run++;
    this.busy = false;
    this.command = 0;
    this.status &= BMIS_DRV0_DMA | BMIS_DRV1_DMA;
    this.prdTable = 0;
  }
}

/** BAR4: both channels' registers (primary at 0, secondary at 8). */
export class Bmdma {
  readonly region: IoRegion;
  constructor(readonly name: string, readonly channels: readonly [BmdmaChannel, BmdmaChannel]) {
    this.region = {
      name, size: 16,
      read: (offset, size) => this.readReg(offset, size),
      write: (offset, size, value) => this.writeReg(offset, size, value),
    };
  }

  private readReg(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size && offset + i < 16; i++) {
      const o = offset + i;
      v |= this.channels[o >= 8 ? 1 : 0].read(o & 7) << (8 * i);
    }
    return v >>> 0;
  }

  private writeReg(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size && offset + i < 16; i++) {
      const o = offset + i;
      this.channels[o >= 8 ? 1 : 0].write(o & 7, (value >>> (8 * i)) & 0xff);
    }
  }

  reset(): void { for (const c of this.channels) c.reset(); }
}
