// Guest-physical memory: RAM (and firmware ROM) in one SharedArrayBuffer, laid out like a PC.
//
//   0 ........ lowRamBytes            RAM below the PCI hole
//   PCI_HOLE_START ... 4 GiB          MMIO (PCI BARs, IOAPIC, LAPIC) and the firmware ROM at the top
//   4 GiB ..... 4 GiB + highRamBytes  the rest of RAM
//
// In the buffer: [low RAM][high RAM][ROM][VRAM]. Every thread builds a GuestRam over the same
// buffer. VRAM (a display card's memory) has no fixed guest-physical address: the card's
// framebuffer BAR decides where the CPU sees it (src/hypervisor/vram.ts). A machine with VRAM
// also has the legacy VGA window 0xA0000-0xBFFFF as MMIO (the card decodes it), not RAM.

import type { GuestMemory } from '../devices/api.js';

/** Where RAM stops below 4 GiB when the guest has more than that (QEMU's pc uses the same). */
export const PCI_HOLE_START = 0xe000_0000;
export const FOUR_GIB = 0x1_0000_0000;
/** Largest RAM one buffer holds in Node 20 (typed arrays stop at 4 GiB), less room for the ROM. */
export const MAX_RAM_BYTES = 4 * 1024 * 1024 * 1024 - 16 * 1024 * 1024;
const PAGE = 4096;
/** The legacy VGA memory window: MMIO, not RAM, when the layout has VRAM (a display card). */
export const VGA_WINDOW_START = 0xa_0000;
export const VGA_WINDOW_END = 0xc_0000;
/** VRAM comes in 64 KiB units (a VGA window) up to 64 MiB. */
export const VRAM_UNIT = 64 * 1024;
export const MAX_VRAM_BYTES = 64 * 1024 * 1024;
/** Typed arrays in Node 20 stop at 4 GiB; the buffer also holds a spare page (see allocate). */
const MAX_BUFFER_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;

/** Sizes that place RAM and ROM; plain data, so it crosses to workers. */
export interface MemoryLayout {
  ramBytes: number;
  lowRamBytes: number;
  highRamBytes: number;
  /** Firmware ROM mapped just below 4 GiB (0 for none). */
  romBytes: number;
  /**
   * Display memory after the ROM in the buffer (0 or absent: none); the guest sees it where the
   * display card's framebuffer BAR says (src/hypervisor/vram.ts).
   */
  vramBytes?: number;
}

/** Splits `ramBytes` around the PCI hole. */
export function memoryLayout(ramBytes: number, romBytes = 0, vramBytes = 0): MemoryLayout {
  if (!Number.isInteger(ramBytes) || ramBytes < 1024 * 1024) throw new Error('memory must be at least 1 MiB');
  if (ramBytes > MAX_RAM_BYTES) throw new Error(`memory of ${ramBytes / 2 ** 20} MiB is more than this build supports (${MAX_RAM_BYTES / 2 ** 20} MiB)`);
  if (ramBytes % PAGE !== 0) throw new Error('memory must be a whole number of 4 KiB pages');
  if (romBytes % PAGE !== 0 || romBytes > 16 * 1024 * 1024) throw new Error('firmware ROM must be page-sized and at most 16 MiB');
  if (!Number.isInteger(vramBytes) || vramBytes < 0 || vramBytes % VRAM_UNIT !== 0 || vramBytes > MAX_VRAM_BYTES) {
    throw new Error('video memory must be a multiple of 64 KiB and at most 64 MiB');
  }
  if (ramBytes + romBytes + vramBytes > MAX_BUFFER_BYTES) {
    throw new Error(`memory of ${ramBytes / 2 ** 20} MiB plus ${vramBytes / 2 ** 20} MiB of video memory is more than this build supports`);
  }
  const lowRamBytes = Math.min(ramBytes, PCI_HOLE_START);
  return { ramBytes, lowRamBytes, highRamBytes: ramBytes - lowRamBytes, romBytes, vramBytes };
}

/** Guest RAM and ROM over one shared buffer, with range-checked access for devices. */
export class GuestRam implements GuestMemory {
  /** RAM, ROM and VRAM, in buffer order (the soft CPU indexes this one array). */
  readonly u8: Uint8Array;
  /** The VRAM bytes (length 0 when the machine has no display memory). */
  readonly vram: Uint8Array;
  /** Offset of VRAM in `u8` (page-aligned, so page-aligned in host memory when `u8` is). */
  readonly vramOffset: number;
  readonly romBase: number;
  /** True when 0xA0000-0xBFFFF belongs to the display card (layout has VRAM). */
  readonly vgaWindow: boolean;
  private readonly romOffset: number;

  /**
   * `offset` is where guest-physical 0 sits in the buffer: KVM needs RAM page-aligned in host
   * memory, and V8 does not page-align a SharedArrayBuffer's store, so the buffer has one page
   * to spare and the KVM accelerator picks the offset.
   */
  constructor(readonly buffer: SharedArrayBuffer, readonly layout: MemoryLayout, readonly offset = 0) {
    const vramBytes = layout.vramBytes ?? 0;
    const total = layout.ramBytes + layout.romBytes + vramBytes;
    if (buffer.byteLength < offset + total) throw new Error('guest RAM buffer too small');
    this.u8 = new Uint8Array(buffer, offset, total);
    this.romBase = FOUR_GIB - layout.romBytes;
    this.romOffset = layout.ramBytes;
    this.vramOffset = layout.ramBytes + layout.romBytes;
    this.vram = this.u8.subarray(this.vramOffset, total);
    this.vgaWindow = vramBytes > 0;
  }

  /** Allocates the buffer for a layout (one page extra so KVM can use a page-aligned slice). */
  static allocate(layout: MemoryLayout): SharedArrayBuffer {
    return new SharedArrayBuffer(layout.ramBytes + layout.romBytes + (layout.vramBytes ?? 0) + PAGE);
  }

  /** Offset in `u8` of RAM at `gpa`, or -1 when `gpa` is not RAM. */
  ramOffset(gpa: number): number {
    const l = this.layout;
    if (gpa >= 0 && gpa < l.lowRamBytes) {
      return this.vgaWindow && gpa >= VGA_WINDOW_START && gpa < VGA_WINDOW_END ? -1 : gpa;
    }
    if (gpa >= FOUR_GIB && gpa < FOUR_GIB + l.highRamBytes) return l.lowRamBytes + (gpa - FOUR_GIB);
    return -1;
  }

  /** Offset in `u8` of ROM at `gpa`, or -1. */
  romOffsetOf(gpa: number): number {
    if (this.layout.romBytes > 0 && gpa >= this.romBase && gpa < FOUR_GIB) return this.romOffset + (gpa - this.romBase);
    return -1;
  }

  /** The ROM bytes, to load firmware into. */
  rom(): Uint8Array { return this.u8.subarray(this.romOffset, this.romOffset + this.layout.romBytes); }

  /** Whether `[gpa, gpa+len)` lies wholly in one RAM block. */
  private rangeOffset(gpa: number, len: number): number {
    if (!Number.isInteger(gpa) || !Number.isInteger(len) || len < 0) return -1;
    const off = this.ramOffset(gpa);
    if (off < 0) return -1;
    if (len === 0) return off;
    const lastOff = this.ramOffset(gpa + len - 1);
    if (this.vgaWindow && gpa < VGA_WINDOW_END && gpa + len > VGA_WINDOW_START) return -1;
    return lastOff === off + len - 1 ? off : -1;
  }

  view(gpa: number, len: number): Uint8Array | null {
    const off = this.rangeOffset(gpa, len);
    return off < 0 ? null : this.u8.subarray(off, off + len);
  }

  read(gpa: number, dst: Uint8Array): boolean {
    const v = this.view(gpa, dst.length);
    if (v === null) return false;
    dst.set(v);
    return true;
  }

  write(gpa: number, src: Uint8Array): boolean {
    const v = this.view(gpa, src.length);
    if (v === null) return false;
    v.set(src);
    return true;
  }
}
