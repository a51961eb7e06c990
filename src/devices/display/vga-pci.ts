// What the two PCI VGA cards (the std VGA and the Cirrus CL-GD5446) share: their PCI class and
// QEMU's subsystem IDs, the text screen a VGA BIOS leaves at reset (with the BIOS ROM's 8x16
// font in plane 2, so a directly booted kernel's vgacon has glyphs), which config writes move
// the linear framebuffer, and regions whose wider accesses are split into bytes (little-endian).

import type { AccessSize, IoRegion } from '../api.js';
import { PCI_BASE_ADDRESS_0, PCI_COMMAND } from '../pci/config-space.js';
import type { VideoMemory } from './vga-memory.js';

/** Class 03h (display), subclass 00h (VGA compatible), programming interface 00h. */
export const PCI_CLASS_DISPLAY_VGA = 0x030000;
/** QEMU's subsystem IDs for its display devices (Red Hat, "QEMU"). */
export const QEMU_SUBSYSTEM_VENDOR = 0x1af4;
export const QEMU_SUBSYSTEM = 0x1100;

/** Finds the 8x16 font in a VGA BIOS image (by the IBM glyph for 'A'); null if absent. */
export function findFont8x16(rom: Uint8Array): Uint8Array | null {
  const glyphA = [0, 0, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe, 0xc6, 0xc6, 0xc6, 0xc6, 0, 0, 0, 0];
  outer: for (let i = 0x41 * 16; i + 16 <= rom.length; i++) {
    for (let j = 0; j < 16; j++) if (rom[i + j] !== glyphA[j]) continue outer;
    const start = i - 0x41 * 16;
    if (start + 4096 > rom.length) return null;
    return rom.slice(start, start + 4096);
  }
  return null;
}

/** The first 256 KiB of VRAM as a BIOS leaves mode 3: blank 80x25 cells (grey on black) and `font` in plane 2. */
export function writeBiosTextScreen(vram: VideoMemory, font: Uint8Array | null): void {
  const b = vram.bytes;
  b.fill(0, 0, 0x40000);
  for (let i = 0; i < 80 * 25; i++) b[i * 4 + 1] = 0x07;
  if (font !== null) {
    for (let c = 0; c < 256; c++) for (let y = 0; y < 16; y++) b[((c * 32 + y) << 2) + 2] = font[c * 16 + y]!;
  }
  vram.markDirty(0, 0x40000);
}

/** True when a config-space write of `size` bytes at `offset` touches the command register or BAR0 (the LFB's mapping). */
export function touchesLinearMapping(offset: number, size: AccessSize): boolean {
  const touches = (reg: number, len: number): boolean => offset < reg + len && offset + size > reg;
  return touches(PCI_COMMAND, 2) || touches(PCI_BASE_ADDRESS_0, 4);
}

/** A region of `size` bytes served one byte at a time: wider accesses are little-endian runs of bytes. */
export function byteRegion(name: string, size: number, readByte: (offset: number) => number,
  writeByte: (offset: number, v: number) => void): IoRegion {
  return {
    name, size,
    read: (offset, sz) => {
      let v = 0;
      for (let i = 0; i < sz; i++) v |= readByte(offset + i) << (8 * i);
      return v >>> 0;
    },
    write: (offset, sz, value) => { for (let i = 0; i < sz; i++) writeByte(offset + i, (value >>> (8 * i)) & 0xff); },
  };
}
