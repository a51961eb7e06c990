// The ACPI tables of the `pc` machine (ACPI 6.4, chapter 5.2): RSDP (revision 2, with an
// XSDT), RSDT, XSDT, FADT (revision 3), FACS, DSDT and MADT, assembled into one blob that is
// either placed at a fixed address (direct Linux boot) or handed to SeaBIOS through fw_cfg with
// the linker/loader commands that place it (loader.ts). Pointers inside the blob hold offsets
// into it until linked; checksums are computed after linking.

import type { MachineDescription } from '../../machine/description.js';
import { checksum8, IOAPIC_ADDRESS, LAPIC_ADDRESS } from '../mptable.js';
import { dsdtAml } from './dsdt.js';

/** Which file of the two a pointer lives in or points to. */
export type AcpiFile = 'tables' | 'rsdp';
/** A pointer field to be relocated: `size` bytes at `offset` in `file`, plus the tables' base. */
export interface AcpiPointer { file: AcpiFile; offset: number; size: 4 | 8 }
/** A checksum byte at `offset` making `[start, start+length)` of `file` sum to zero. */
export interface AcpiChecksum { file: AcpiFile; offset: number; start: number; length: number }

/** Unlinked tables: the two files, the pointers to relocate, the checksums to fill in order. */
export interface AcpiTables {
  tables: Uint8Array;
  rsdp: Uint8Array;
  pointers: AcpiPointer[];
  checksums: AcpiChecksum[];
  /** Offset of each table in `tables`, by signature. */
  offsets: Record<string, number>;
}

/** What the tables are generated from. */
export interface AcpiConfig {
  machine: MachineDescription;
  cpus: number;
  lowRamBytes: number;
  /** The PIIX4 PM I/O block (PM1a_EVT at +0, PM1a_CNT +4, PM_TMR +8, GPE0 +0xC). */
  pmBase: number;
  sciIrq: number;
  /** ISA IRQs of PIRQA#..D# in the PIC interrupt model (the PIIX3's reset routes). */
  picRoutes?: readonly number[];
  /** Port of the reset register and the value that resets (PIIX3: 0xCF9, 6). */
  resetPort: number;
  resetValue: number;
}

const OEM_ID = 'HVM   ';
const OEM_TABLE_ID = 'HVMPC   ';
const CREATOR_ID = 'HVM ';
const HEADER_BYTES = 36;
const SDT_LENGTH = 4;
const SDT_CHECKSUM = 9;

/** RSDP (§5.2.5.3). */
const RSDP_BYTES = 36;
const RSDP_CHECKSUM = 8;
const RSDP_V1_BYTES = 20;
const RSDP_RSDT = 16;
const RSDP_XSDT = 24;
const RSDP_EXT_CHECKSUM = 32;

/** FACS (§5.2.10): 64 bytes, 64-byte aligned. */
const FACS_BYTES = 64;

/** FADT revision 3 fields (§5.2.9). */
const FADT_REVISION = 3;
const FADT_BYTES = 244;
const FADT_FIRMWARE_CTRL = 36;
const FADT_DSDT = 40;
const FADT_SCI_INT = 46;
const FADT_SMI_CMD = 48;
const FADT_PM1A_EVT_BLK = 56;
const FADT_PM1A_CNT_BLK = 64;
const FADT_PM_TMR_BLK = 76;
const FADT_GPE0_BLK = 80;
const FADT_PM1_EVT_LEN = 88;
const FADT_PM1_CNT_LEN = 89;
const FADT_PM_TMR_LEN = 91;
const FADT_GPE0_BLK_LEN = 92;
const FADT_P_LVL2_LAT = 96;
const FADT_P_LVL3_LAT = 98;
const FADT_CENTURY = 108;
const FADT_IAPC_BOOT_ARCH = 109;
const FADT_FLAGS = 112;
const FADT_RESET_REG = 116;
const FADT_RESET_VALUE = 128;
const FADT_X_DSDT = 140;
const FADT_X_PM1A_EVT_BLK = 148;
const FADT_X_PM1A_CNT_BLK = 172;
const FADT_X_PM_TMR_BLK = 208;
const FADT_X_GPE0_BLK = 220;
/** IAPC_BOOT_ARCH: ISA devices exist; an 8042 exists (else Linux skips the i8042). */
const BOOT_ARCH_LEGACY_DEVICES = 0x0001;
const BOOT_ARCH_8042 = 0x0002;
/** FADT flags: WBINVD works, C1 supported, no fixed sleep button, reset register supported.
 *  PWR_BUTTON (bit 4) stays 0: the power button is the fixed-feature PWRBTN_STS/PWRBTN_EN. */
const FADT_F_WBINVD = 1 << 0;
const FADT_F_PROC_C1 = 1 << 2;
const FADT_F_SLP_BUTTON = 1 << 5;
const FADT_F_RESET_REG_SUP = 1 << 10;
/** C2/C3 latencies above 100/1000 µs say "not supported". */
const P_LVL2_NONE = 0x0fff;
const P_LVL3_NONE = 0xffff;
/** CMOS index of the RTC century byte. */
const RTC_CENTURY_INDEX = 0x32;
/** Generic Address Structure (§5.2.3.2). */
const GAS_BYTES = 12;
const GAS_SYSTEM_IO = 1;
const GAS_ACCESS_BYTE = 1;

/** MADT (§5.2.12). */
const MADT_REVISION = 1;
const MADT_PCAT_COMPAT = 1;
const MADT_LOCAL_APIC = 0;
const MADT_IO_APIC = 1;
const MADT_INT_SRC_OVERRIDE = 2;
const MADT_LOCAL_APIC_NMI = 4;
const MADT_ENABLED = 1;
/** MPS INTI flags: polarity bits 1:0 (01 high), trigger bits 3:2 (01 edge, 11 level). */
const INTI_ACTIVE_HIGH = 0x1;
const INTI_LEVEL = 0xc;
const ALL_PROCESSORS = 0xff;

function ascii(dst: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) dst[at + i] = text.charCodeAt(i);
}

/** A table with its 36-byte header; the checksum is left 0 for the linker. */
function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const t = new Uint8Array(HEADER_BYTES + body.length);
  const dv = new DataView(t.buffer);
  ascii(t, 0, signature);
  dv.setUint32(SDT_LENGTH, t.length, true);
  dv.setUint8(8, revision);
  ascii(t, 10, OEM_ID);
  ascii(t, 16, OEM_TABLE_ID);
  dv.setUint32(24, 1, true);
  ascii(t, 28, CREATOR_ID);
  dv.setUint32(32, 1, true);
  t.set(body, HEADER_BYTES);
  return t;
}

function gas(dv: DataView, at: number, bitWidth: number, accessSize: number, address: number): void {
  dv.setUint8(at, GAS_SYSTEM_IO);
  dv.setUint8(at + 1, bitWidth);
  dv.setUint8(at + 2, 0);
  dv.setUint8(at + 3, accessSize);
  dv.setBigUint64(at + 4, BigInt(address), true);
}

function fadt(c: AcpiConfig): Uint8Array {
  const t = sdt('FACP', FADT_REVISION, new Uint8Array(FADT_BYTES - HEADER_BYTES));
  const dv = new DataView(t.buffer);
  dv.setUint16(FADT_SCI_INT, c.sciIrq, true);
  dv.setUint32(FADT_SMI_CMD, 0, true); // no SMM: the hardware is in ACPI mode from reset
  const blocks: [number, number, number, number][] = [
    // 32-bit field, X_ field, length field, offset from PMBA, length
    [FADT_PM1A_EVT_BLK, FADT_X_PM1A_EVT_BLK, FADT_PM1_EVT_LEN, 4],
    [FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK, FADT_PM1_CNT_LEN, 2],
    [FADT_PM_TMR_BLK, FADT_X_PM_TMR_BLK, FADT_PM_TMR_LEN, 4],
    [FADT_GPE0_BLK, FADT_X_GPE0_BLK, FADT_GPE0_BLK_LEN, 4],
  ];
  const offsets = [0x0, 0x4, 0x8, 0xc];
  blocks.forEach(([f32, f64, flen, len], i) => {
    const addr = c.pmBase + offsets[i]!;
    dv.setUint32(f32, addr, true);
    dv.setUint8(flen, len);
    gas(dv, f64, len * 8, 0, addr);
  });
  dv.setUint16(FADT_P_LVL2_LAT, P_LVL2_NONE, true);
  dv.setUint16(FADT_P_LVL3_LAT, P_LVL3_NONE, true);
  dv.setUint8(FADT_CENTURY, RTC_CENTURY_INDEX);
  dv.setUint16(FADT_IAPC_BOOT_ARCH, BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042, true);
  dv.setUint32(FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP, true);
  gas(dv, FADT_RESET_REG, 8, GAS_ACCESS_BYTE, c.resetPort);
  dv.setUint8(FADT_RESET_VALUE, c.resetValue);
  return t;
}

function madt(c: AcpiConfig): Uint8Array {
  const entries: number[] = [];
  const u16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  for (let i = 0; i < c.cpus; i++) entries.push(MADT_LOCAL_APIC, 8, i, i, ...u32(MADT_ENABLED));
  // The IOAPIC's id follows the CPUs', as in the MP table (mptable.ts).
  entries.push(MADT_IO_APIC, 12, c.cpus, 0, ...u32(IOAPIC_ADDRESS), ...u32(0));
  // ISA IRQ 0 (the PIT) reaches IOAPIC input 2; the SCI is level, active high (as QEMU's pc).
  entries.push(MADT_INT_SRC_OVERRIDE, 10, 0, 0, ...u32(2), ...u16(0));
  entries.push(MADT_INT_SRC_OVERRIDE, 10, 0, c.sciIrq, ...u32(c.sciIrq), ...u16(INTI_ACTIVE_HIGH | INTI_LEVEL));
  entries.push(MADT_LOCAL_APIC_NMI, 6, ALL_PROCESSORS, ...u16(0), 1);
  const body = new Uint8Array(8 + entries.length);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, LAPIC_ADDRESS, true);
  dv.setUint32(4, MADT_PCAT_COMPAT, true);
  body.set(entries, 8);
  return sdt('APIC', MADT_REVISION, body);
}

function facs(): Uint8Array {
  const t = new Uint8Array(FACS_BYTES);
  ascii(t, 0, 'FACS');
  new DataView(t.buffer).setUint32(4, FACS_BYTES, true);
  t[32] = 1; // version
  return t;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Builds every table for `c`, unlinked. */
export function buildAcpiTables(c: AcpiConfig): AcpiTables {
  if (!Number.isInteger(c.cpus) || c.cpus < 1 || c.cpus > 254) throw new Error(`ACPI: ${c.cpus} CPUs is not between 1 and 254`);
  const parts: [string, Uint8Array][] = [
    ['FACS', facs()],
    ['DSDT', sdt('DSDT', 2, dsdtAml({
      machine: c.machine, cpus: c.cpus, lowRamBytes: c.lowRamBytes, ...(c.picRoutes !== undefined ? { picRoutes: c.picRoutes } : {}),
    }))],
    ['FACP', fadt(c)],
    ['APIC', madt(c)],
  ];
  const offsets: Record<string, number> = {};
  let at = 0;
  for (const [sig, t] of parts) { offsets[sig] = at; at = align(at + t.length, 8); }
  const pointed = ['FACP', 'APIC'];
  const rsdt = sdt('RSDT', 1, new Uint8Array(4 * pointed.length));
  offsets['RSDT'] = at; at = align(at + rsdt.length, 8);
  const xsdt = sdt('XSDT', 1, new Uint8Array(8 * pointed.length));
  offsets['XSDT'] = at; at = align(at + xsdt.length, 8);
  parts.push(['RSDT', rsdt], ['XSDT', xsdt]);

  const tables = new Uint8Array(at);
  for (const [sig, t] of parts) tables.set(t, offsets[sig]!);
  const dv = new DataView(tables.buffer);
  const pointers: AcpiPointer[] = [];
  const checksums: AcpiChecksum[] = [];
  const ptr = (offset: number, size: 4 | 8, target: number): void => {
    if (size === 4) dv.setUint32(offset, target, true); else dv.setBigUint64(offset, BigInt(target), true);
    pointers.push({ file: 'tables', offset, size });
  };
  const fadtAt = offsets['FACP']!;
  ptr(fadtAt + FADT_FIRMWARE_CTRL, 4, offsets['FACS']!);
  ptr(fadtAt + FADT_DSDT, 4, offsets['DSDT']!);
  ptr(fadtAt + FADT_X_DSDT, 8, offsets['DSDT']!);
  pointed.forEach((sig, i) => {
    ptr(offsets['RSDT']! + HEADER_BYTES + 4 * i, 4, offsets[sig]!);
    ptr(offsets['XSDT']! + HEADER_BYTES + 8 * i, 8, offsets[sig]!);
  });
  for (const [sig, t] of parts) {
    if (sig === 'FACS') continue;
    checksums.push({ file: 'tables', offset: offsets[sig]! + SDT_CHECKSUM, start: offsets[sig]!, length: t.length });
  }

  const rsdp = new Uint8Array(RSDP_BYTES);
  const rv = new DataView(rsdp.buffer);
  ascii(rsdp, 0, 'RSD PTR ');
  ascii(rsdp, 9, OEM_ID);
  rv.setUint8(15, 2);
  rv.setUint32(RSDP_RSDT, offsets['RSDT']!, true);
  pointers.push({ file: 'rsdp', offset: RSDP_RSDT, size: 4 });
  rv.setUint32(20, RSDP_BYTES, true);
  rv.setBigUint64(RSDP_XSDT, BigInt(offsets['XSDT']!), true);
  pointers.push({ file: 'rsdp', offset: RSDP_XSDT, size: 8 });
  checksums.push({ file: 'rsdp', offset: RSDP_CHECKSUM, start: 0, length: RSDP_V1_BYTES });
  checksums.push({ file: 'rsdp', offset: RSDP_EXT_CHECKSUM, start: 0, length: RSDP_BYTES });
  return { tables, rsdp, pointers, checksums, offsets };
}

/** Links a copy of `t` for the tables at guest address `tablesAddr`: pointers, then checksums. */
export function linkAcpiTables(t: AcpiTables, tablesAddr: number): { tables: Uint8Array; rsdp: Uint8Array } {
  const files: Record<AcpiFile, Uint8Array> = { tables: t.tables.slice(), rsdp: t.rsdp.slice() };
  for (const p of t.pointers) {
    const dv = new DataView(files[p.file].buffer);
    if (p.size === 4) dv.setUint32(p.offset, (dv.getUint32(p.offset, true) + tablesAddr) >>> 0, true);
    else dv.setBigUint64(p.offset, dv.getBigUint64(p.offset, true) + BigInt(tablesAddr), true);
  }
  for (const c of t.checksums) {
    const f = files[c.file];
    f[c.offset] = 0;
    f[c.offset] = checksum8(f.subarray(c.start, c.start + c.length));
  }
  return files;
}
