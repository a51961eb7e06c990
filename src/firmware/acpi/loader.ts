// QEMU's BIOS linker/loader ("etc/table-loader", hw/acpi/bios-linker-loader.c): 128-byte
// commands that tell SeaBIOS to allocate the fw_cfg files holding the ACPI tables, patch the
// pointers between them with the addresses it chose, and fill in the checksums.

import type { AcpiFile, AcpiTables } from './tables.js';

/** fw_cfg file names SeaBIOS looks for. */
export const ACPI_TABLES_FILE = 'etc/acpi/tables';
export const ACPI_RSDP_FILE = 'etc/acpi/rsdp';
export const TABLE_LOADER_FILE = 'etc/table-loader';

/** Commands and their layout: u32 command, then a 124-byte union. */
const COMMAND_BYTES = 128;
const FILE_NAME_BYTES = 56;
export const COMMAND_ALLOCATE = 1;
export const COMMAND_ADD_POINTER = 2;
export const COMMAND_ADD_CHECKSUM = 3;
/** ALLOCATE zones: anywhere in high memory, or the F segment (the RSDP must be found there). */
export const ALLOC_ZONE_HIGH = 1;
export const ALLOC_ZONE_FSEG = 2;
const TABLES_ALIGN = 64; // the FACS needs 64
const RSDP_ALIGN = 16;

const fileName = (f: AcpiFile): string => (f === 'tables' ? ACPI_TABLES_FILE : ACPI_RSDP_FILE);

function command(kind: number, fill: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(COMMAND_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, kind, true);
  fill(dv, b);
  return b;
}

function putName(b: Uint8Array, at: number, name: string): void {
  const n = new TextEncoder().encode(name);
  if (n.length >= FILE_NAME_BYTES) throw new Error(`table-loader: file name ${name} too long`);
  b.set(n, at);
}

/** The etc/table-loader contents for `t` (tables in high memory, the RSDP in the F segment). */
export function tableLoader(t: AcpiTables): Uint8Array {
  const cmds: Uint8Array[] = [];
  // ALLOCATE: char file[56]; u32 align; u8 zone.
  const alloc = (file: string, align: number, zone: number): void => {
    cmds.push(command(COMMAND_ALLOCATE, (dv, b) => { putName(b, 4, file); dv.setUint32(4 + 56, align, true); dv.setUint8(4 + 60, zone); }));
  };
  alloc(ACPI_TABLES_FILE, TABLES_ALIGN, ALLOC_ZONE_HIGH);
  alloc(ACPI_RSDP_FILE, RSDP_ALIGN, ALLOC_ZONE_FSEG);
  // ADD_POINTER: char dest_file[56]; char src_file[56]; u32 offset; u8 size. Every pointer
  // points into the tables file.
  for (const p of t.pointers) {
    cmds.push(command(COMMAND_ADD_POINTER, (dv, b) => {
      putName(b, 4, fileName(p.file));
      putName(b, 4 + 56, ACPI_TABLES_FILE);
      dv.setUint32(4 + 112, p.offset, true);
      dv.setUint8(4 + 116, p.size);
    }));
  }
  // ADD_CHECKSUM: char file[56]; u32 offset; u32 start; u32 length.
  for (const c of t.checksums) {
    cmds.push(command(COMMAND_ADD_CHECKSUM, (dv, b) => {
      putName(b, 4, fileName(c.file));
      dv.setUint32(4 + 56, c.offset, true);
      dv.setUint32(4 + 60, c.start, true);
      dv.setUint32(4 + 64, c.length, true);
    }));
  }
  const out = new Uint8Array(cmds.length * COMMAND_BYTES);
  cmds.forEach((c, i) => out.set(c, i * COMMAND_BYTES));
  return out;
}
