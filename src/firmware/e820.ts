// The BIOS e820 memory map (ACPI spec, "System Address Map Interfaces") for the PC layout, and
// its place in Linux's boot_params: e820_entries (u8) at 0x1E8, the table (20-byte entries:
// u64 addr, u64 size, u32 type) at 0x2D0, at most 128 entries.

import { FOUR_GIB, type MemoryLayout } from '../hypervisor/memory.js';

/** Entry types. */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;

/** boot_params offsets. */
export const BP_E820_ENTRIES = 0x1e8;
export const BP_E820_TABLE = 0x2d0;
/** E820_MAX_ENTRIES_ZEROPAGE. */
export const E820_MAX_ENTRIES = 128;
const E820_ENTRY_BYTES = 20;

/** Where conventional memory ends: the last KiB below 640 KiB is the EBDA, reserved. */
export const EBDA_START = 0x9fc00;
export const LEGACY_HOLE_START = 0xa0000;
/** Where direct Linux boot puts the ACPI tables: the 64 KiB below the BIOS area, ACPI data. */
export const ACPI_AREA_START = 0xe0000;
export const ACPI_AREA_BYTES = 0x10000;
/** The system BIOS area (the MP table lives here under direct Linux boot). */
export const BIOS_AREA_START = 0xf0000;
export const HIGH_MEMORY_START = 0x100000;

/** One map entry; addresses as numbers (exact up to 2^53). */
export interface E820Entry { addr: number; size: number; type: number }

/** Extra regions in the map. */
export interface PcE820Options {
  /** The ACPI area 0xE0000–0xEFFFF holds the tables (E820_ACPI). */
  acpiTables?: boolean;
}

/**
 * The PC's map for `layout`: RAM 0–0x9FC00, the EBDA and the BIOS area 0xF0000–0x100000
 * reserved (the MP table sits there), RAM from 1 MiB to the PCI hole, and RAM above 4 GiB.
 * 0xA0000–0xF0000 (VGA window, option ROMs) is left out, as a PC BIOS does, except that with
 * `acpiTables` its last 64 KiB (0xE0000–0xEFFFF) is ACPI data.
 */
export function pcE820Map(layout: MemoryLayout, opts: PcE820Options = {}): E820Entry[] {
  const map: E820Entry[] = [];
  const add = (addr: number, end: number, type: number): void => {
    if (end > addr) map.push({ addr, size: end - addr, type });
  };
  add(0, Math.min(EBDA_START, layout.lowRamBytes), E820_RAM);
  add(EBDA_START, LEGACY_HOLE_START, E820_RESERVED);
  if (opts.acpiTables === true) add(ACPI_AREA_START, ACPI_AREA_START + ACPI_AREA_BYTES, E820_ACPI);
  add(BIOS_AREA_START, HIGH_MEMORY_START, E820_RESERVED);
  add(HIGH_MEMORY_START, layout.lowRamBytes, E820_RAM);
  add(FOUR_GIB, FOUR_GIB + layout.highRamBytes, E820_RAM);
  return map;
}

/** Writes `entries` into a boot_params page (4 KiB). */
export function writeE820(zeroPage: Uint8Array, entries: readonly E820Entry[]): void {
  if (entries.length > E820_MAX_ENTRIES) throw new Error(`e820 map of ${entries.length} entries is more than boot_params holds (${E820_MAX_ENTRIES})`);
  const dv = new DataView(zeroPage.buffer, zeroPage.byteOffset, zeroPage.byteLength);
  dv.setUint8(BP_E820_ENTRIES, entries.length);
  entries.forEach((e, i) => {
    const at = BP_E820_TABLE + i * E820_ENTRY_BYTES;
    dv.setBigUint64(at, BigInt(e.addr), true);
    dv.setBigUint64(at + 8, BigInt(e.size), true);
    dv.setUint32(at + 16, e.type, true);
  });
}

/** Reads the map back from a boot_params page (for tests and the monitor). */
export function readE820(zeroPage: Uint8Array): E820Entry[] {
  const dv = new DataView(zeroPage.buffer, zeroPage.byteOffset, zeroPage.byteLength);
  const n = Math.min(dv.getUint8(BP_E820_ENTRIES), E820_MAX_ENTRIES);
  const out: E820Entry[] = [];
  for (let i = 0; i < n; i++) {
    const at = BP_E820_TABLE + i * E820_ENTRY_BYTES;
    out.push({ addr: Number(dv.getBigUint64(at, true)), size: Number(dv.getBigUint64(at + 8, true)), type: dv.getUint32(at + 16, true) });
  }
  return out;
}
