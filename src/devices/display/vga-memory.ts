// The VGA's legacy memory window (0xA0000-0xBFFFF) over the four planes (IBM VGA Technical
// Reference, "Graphics Controller"; FreeVGA "VGA Memory Organization"): the memory map select,
// chain-4 and odd/even addressing, write modes 0-3 with set/reset, rotate, logical function
// and bit mask, read modes 0/1 and the latches.
//
// The planes live interleaved in VRAM as QEMU keeps them: plane p's byte n is VRAM byte
// 4*n + p. Chain-4 (mode 13h) and the linear VBE modes then address VRAM bytes directly,
// and the renderer reads all four planes of a byte position as one little-endian word.

import type { IoRegion } from '../api.js';
import {
  GR05_ODD_EVEN, GR05_READ_MODE, GR05_WRITE_MODE, GR06_MEMORY_MAP_SHIFT, GR_BIT_MASK, GR_COLOR_COMPARE,
  GR_COLOR_DONT_CARE, GR_DATA_ROTATE, GR_ENABLE_SET_RESET, GR_MISC, GR_MODE, GR_READ_MAP_SELECT, GR_SET_RESET,
  SR04_CHAIN4, SR04_ODD_EVEN_DISABLE, SR_MAP_MASK, SR_MEMORY_MODE, type VgaRegs,
} from './vga-regs.js';
import { byteRegion } from './vga-pci.js';

/** The video memory a display device draws from (VramShare satisfies this). */
export interface VideoMemory {
  readonly bytes: Uint8Array;
  /** The guest-physical base of the linear framebuffer BAR (0 = unmapped). */
  setLinearMapping(gpa: number, size: number): void;
  /** Device-side writes: marks the 4 KiB pages of [offset, offset+len) dirty. */
  markDirty(offset: number, len: number): void;
  /** out[page] = 1 for each page dirty since the last call (cleared); true if any was. */
  takeDirty(out: Uint8Array): boolean;
}

/** VRAM page size for dirty tracking. */
export const VRAM_PAGE = 4096;

/** A VideoMemory of its own, for unit tests and for builds without shared VRAM. */
export class LocalVram implements VideoMemory {
  readonly bytes: Uint8Array;
  private readonly dirty: Uint8Array;
  private anyDirty = false;
  linearBase = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.dirty = new Uint8Array(Math.ceil(size / VRAM_PAGE));
  }
  setLinearMapping(gpa: number): void { this.linearBase = gpa; }
  markDirty(offset: number, len: number): void {
    if (len <= 0) return;
    const first = Math.max(0, Math.floor(offset / VRAM_PAGE));
    const last = Math.min(this.dirty.length - 1, Math.floor((offset + len - 1) / VRAM_PAGE));
    for (let p = first; p <= last; p++) this.dirty[p] = 1;
    this.anyDirty = true;
  }
  takeDirty(out: Uint8Array): boolean {
    if (!this.anyDirty) return false;
    const n = Math.min(out.length, this.dirty.length);
    for (let p = 0; p < n; p++) out[p] = this.dirty[p]!;
    this.dirty.fill(0);
    this.anyDirty = false;
    return true;
  }
}

/** The legacy window's size. */
export const VGA_WINDOW_SIZE = 0x20000;
/** Where each memory map select value decodes inside the window, and how much. */
const MAP_BASE = [0x00000, 0x00000, 0x10000, 0x18000];
const MAP_SIZE = [0x20000, 0x10000, 0x08000, 0x08000];

/** Expands the low 4 bits to a mask of 0xFF per set bit, one byte per plane. */
const EXPAND4 = new Int32Array(16);
for (let i = 0; i < 16; i++) {
  EXPAND4[i] = (i & 1 ? 0xff : 0) | (i & 2 ? 0xff00 : 0) | (i & 4 ? 0xff0000 : 0) | (i & 8 ? 0xff000000 : 0);
}

/** The planar memory engine behind the 0xA0000 window. */
export class VgaMemory {
  /** The four latches, plane 0 in the low byte. */
  latch = 0;
  /** Writes that reached plane 2, where the fonts live (the text renderer redraws when it moves). */
  plane2Writes = 0;
  /** The 0xA0000 window as an MMIO region. */
  readonly region: IoRegion;

  constructor(name: string, private readonly regs: VgaRegs, private readonly vram: VideoMemory,
    /** Added to addresses in the A0000-AFFFF map (VBE's 64 KiB bank, as QEMU applies it). */
    private readonly bankOffset: () => number = () => 0) {
    this.region = byteRegion(`${name}.vga-window`, VGA_WINDOW_SIZE, (o) => this.readByte(o), (o, v) => this.writeByte(o, v));
  }

  /** Window offset -> address within the mapped aperture, or -1 when the map select excludes it. */
  private mapped(offset: number): number {
    const sel = (this.regs.gr[GR_MISC]! >> GR06_MEMORY_MAP_SHIFT) & 3;
    const a = offset - MAP_BASE[sel]!;
    if (a < 0 || a >= MAP_SIZE[sel]!) return -1;
    return sel === 1 ? a + this.bankOffset() : a;
  }

  /** One byte read from the window at `offset` (0..0x1FFFF). */
  readByte(offset: number): number {
    const a = this.mapped(offset);
    if (a < 0) return 0xff;
    const regs = this.regs;
    const vram = this.vram.bytes;
    if ((regs.sr[SR_MEMORY_MODE]! & SR04_CHAIN4) !== 0) {
      return a < vram.length ? vram[a]! : 0xff;
    }
    if ((regs.gr[GR_MODE]! & GR05_ODD_EVEN) !== 0) {
      // Odd/even: even addresses read plane 0 (or 2), odd ones plane 1 (or 3).
      const plane = (regs.gr[GR_READ_MAP_SELECT]! & 2) | (a & 1);
      const i = ((a & ~1) << 1) | plane;
      return i < vram.length ? vram[i]! : 0xff;
    }
    const i = a << 2;
    if (i + 3 >= vram.length) return 0xff;
    this.latch = (vram[i]! | (vram[i + 1]! << 8) | (vram[i + 2]! << 16) | (vram[i + 3]! << 24)) | 0;
    if ((regs.gr[GR_MODE]! & GR05_READ_MODE) === 0) {
      return (this.latch >>> ((regs.gr[GR_READ_MAP_SELECT]! & 3) * 8)) & 0xff;
    }
    // Read mode 1: a 1 for each pixel whose colour matches Color Compare in the planes Color Don't Care selects.
    const care = EXPAND4[regs.gr[GR_COLOR_DONT_CARE]! & 0xf]!;
    const diff = (this.latch ^ EXPAND4[regs.gr[GR_COLOR_COMPARE]! & 0xf]!) & care;
    const any = (diff | (diff >>> 8) | (diff >>> 16) | (diff >>> 24)) & 0xff;
    return ~any & 0xff;
  }

  /** One byte written to the window at `offset`. */
  writeByte(offset: number, val: number): void {
    const a = this.mapped(offset);
    if (a < 0) return;
    const regs = this.regs;
    const vram = this.vram.bytes;
    const mapMask = regs.sr[SR_MAP_MASK]! & 0xf;
    if ((regs.sr[SR_MEMORY_MODE]! & SR04_CHAIN4) !== 0) {
      if ((mapMask & (1 << (a & 3))) !== 0 && a < vram.length) {
        vram[a] = val;
        if ((a & 3) === 2) this.plane2Writes++;
        this.vram.markDirty(a, 1);
      }
      return;
    }
    if ((regs.sr[SR_MEMORY_MODE]! & SR04_ODD_EVEN_DISABLE) === 0) {
      const plane = (regs.gr[GR_READ_MAP_SELECT]! & 2) | (a & 1);
      if ((mapMask & (1 << plane)) === 0) return;
      const i = ((a & ~1) << 1) | plane;
      if (i < vram.length) { vram[i] = val; this.vram.markDirty(i, 1); }
      if (plane === 2) this.plane2Writes++;
      return;
    }
    const i = a << 2;
    if (i + 3 >= vram.length) return;
    const gr = regs.gr;
    const latch = this.latch;
    let data: number;
    let bitMask: number;
    switch (gr[GR_MODE]! & GR05_WRITE_MODE) {
      case 1:
        // Write mode 1: the latches go to memory as they are.
        data = latch;
        bitMask = -1;
        break;
      case 2:
        // Write mode 2: bit p of the data fills plane p.
        data = EXPAND4[val & 0xf]!;
        data = this.logicalOp(data, latch);
        bitMask = gr[GR_BIT_MASK]! * 0x01010101;
        break;
      case 3: {
        // Write mode 3: the rotated data ANDed with the bit mask selects which bits take set/reset.
        const rot = gr[GR_DATA_ROTATE]! & 7;
        const r = ((val >> rot) | (val << (8 - rot))) & 0xff;
        bitMask = (gr[GR_BIT_MASK]! & r) * 0x01010101;
        data = this.logicalOp(EXPAND4[gr[GR_SET_RESET]! & 0xf]!, latch);
        break;
      }
      default: {
        // Write mode 0: rotate, set/reset for the enabled planes, logical function, bit mask.
        const rot = gr[GR_DATA_ROTATE]! & 7;
        const r = ((val >> rot) | (val << (8 - rot))) & 0xff;
        data = r * 0x01010101;
        const esr = EXPAND4[gr[GR_ENABLE_SET_RESET]! & 0xf]!;
        data = (data & ~esr) | (EXPAND4[gr[GR_SET_RESET]! & 0xf]! & esr);
        data = this.logicalOp(data, latch);
        bitMask = gr[GR_BIT_MASK]! * 0x01010101;
        break;
      }
    }
    data = (data & bitMask) | (latch & ~bitMask);
    const planes = EXPAND4[mapMask]!;
    if ((mapMask & 4) !== 0) this.plane2Writes++;
    const old = vram[i]! | (vram[i + 1]! << 8) | (vram[i + 2]! << 16) | (vram[i + 3]! << 24);
    const v = (old & ~planes) | (data & planes);
    vram[i] = v & 0xff; vram[i + 1] = (v >>> 8) & 0xff; vram[i + 2] = (v >>> 16) & 0xff; vram[i + 3] = (v >>> 24) & 0xff;
    this.vram.markDirty(i, 4);
  }

  /** The graphics controller's logical function on data and latches (GR3 bits 4:3). */
  private logicalOp(data: number, latch: number): number {
    switch ((this.regs.gr[GR_DATA_ROTATE]! >> 3) & 3) {
      case 1: return data & latch;
      case 2: return data | latch;
      case 3: return data ^ latch;
      default: return data;
    }
  }
}
