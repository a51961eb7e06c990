// Intel MultiProcessor Specification 1.4 tables (chapter 4): a floating pointer structure that
// the OS finds by scanning the BIOS area for "_MP_", and the configuration table ("PCMP") it
// points to — processors, buses, the IOAPIC, and how ISA interrupts reach it. Linux reads these
// in arch/x86/kernel/mpparse.c when there is no ACPI MADT.

import type { GuestRam } from '../hypervisor/memory.js';
import { BIOS_AREA_START } from './e820.js';

/** Floating pointer structure (16 bytes). */
const MPF_SIGNATURE = 0x5f504d5f;   // "_MP_"
const MPF_PHYSPTR = 4;              // u32: configuration table address
const MPF_LENGTH = 8;               // u8: length in 16-byte units (1)
const MPF_SPECIFICATION = 9;        // u8: 4 = version 1.4
const MPF_CHECKSUM = 10;            // u8: all 16 bytes sum to 0
const MPF_FEATURE2 = 12;            // u8: bit 7 IMCRP (IMCR present, PIC mode); 0 = virtual wire
const MPF_BYTES = 16;

/** Configuration table header (44 bytes). */
const MPC_SIGNATURE = 0x504d4350;   // "PCMP"
const MPC_LENGTH = 4;               // u16: base table length, header included
const MPC_SPEC = 6;                 // u8: 4
const MPC_CHECKSUM = 7;             // u8: base table sums to 0
const MPC_OEM = 8;                  // char[8]
const MPC_PRODUCTID = 16;           // char[12]
const MPC_OEMCOUNT = 34;            // u16: entry count
const MPC_LAPIC = 36;               // u32: local APIC address
const MPC_HEADER_BYTES = 44;

/** Entry types, in the order the table must list them. */
export const MP_PROCESSOR = 0;
export const MP_BUS = 1;
export const MP_IOAPIC = 2;
export const MP_INTSRC = 3;
export const MP_LINTSRC = 4;
const PROCESSOR_BYTES = 20;
const OTHER_ENTRY_BYTES = 8;

/** Processor entry flags. */
export const CPU_ENABLED = 0x01;
export const CPU_BOOTPROCESSOR = 0x02;
/** IOAPIC entry flags. */
export const MPC_APIC_USABLE = 0x01;
/** Interrupt types. */
export const MP_INT = 0;
export const MP_NMI = 1;
export const MP_EXTINT = 3;
/** Interrupt flags: polarity bits 1:0, trigger bits 3:2 (0 = conforms to the bus). */
export const MP_IRQPOL_ACTIVE_LOW = 0x3;
export const MP_IRQTRIG_LEVEL = 0xc;

export const LAPIC_ADDRESS = 0xfee00000;
export const IOAPIC_ADDRESS = 0xfec00000;
/** An xAPIC (Pentium 4 and later): Linux then allows 8-bit APIC ids. */
export const LAPIC_VERSION = 0x14;
export const IOAPIC_VERSION = 0x11;
/** CPUID signature in processor entries: family 6, model 0, stepping 0. */
const CPU_SIGNATURE = 0x600;
/** CPUID.1 EDX bits in processor entries: FPU and APIC. */
const CPU_FEATURES = 0x201;

/** Bus ids: PCI bus 0, then the ISA bus (as PC firmware numbers them). */
export const MP_BUS_PCI = 0;
export const MP_BUS_ISA = 1;
const ISA_IRQS = 16;
/** The IOAPIC has 24 pins on a PIIX3-era PC. */
export const IOAPIC_PINS = 24;

/** One PCI INTx line routed to an IOAPIC pin. */
export interface MpPciIrq { device: number; /** 0 = INTA … 3 = INTD */ pin: number; ioapicPin: number }

/** Where and what to build. */
export interface MpTableOptions {
  /** Address of the floating pointer (16-byte aligned, in a region Linux scans); default 0xF0000. */
  base?: number;
  ioapicAddress?: number;
  /** PCI INTx routing to add (level-triggered, active low), once the machine has PCI slots. */
  pciIrqs?: readonly MpPciIrq[];
}

/** Where the tables went. */
export interface MpTableInfo { floatingPointer: number; configTable: number; configBytes: number; entries: number }

/** The 8-bit value that makes `bytes` sum to zero. */
export function checksum8(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function ascii(dst: Uint8Array, at: number, text: string, width: number): void {
  for (let i = 0; i < width; i++) dst[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** Size of the configuration table for `cpus` processors and `pci` PCI interrupt entries. */
export function mpConfigBytes(cpus: number, pci = 0): number {
  const isaIrqs = ISA_IRQS - 1; // IRQ2 is the cascade: no entry
  return MPC_HEADER_BYTES + cpus * PROCESSOR_BYTES + OTHER_ENTRY_BYTES * (2 /* buses */ + 1 /* IOAPIC */ + isaIrqs + pci + 2 /* LINT0/1 */);
}

/**
 * Writes the floating pointer at `base` and the configuration table right after it: one
 * processor per vCPU (APIC ids 0..cpus-1, CPU 0 the bootstrap processor), buses PCI 0 and ISA 1,
 * one IOAPIC (id = cpus), ISA IRQs 0–15 on IOAPIC pins (IRQ0 → pin 2, as a PC wires the PIT;
 * IRQ2 left out), ExtINT on every LAPIC's LINT0 and NMI on LINT1.
 */
export function buildMpTable(ram: GuestRam, cpus: number, opts: MpTableOptions = {}): MpTableInfo {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 254) throw new Error(`MP table: ${cpus} CPUs is not between 1 and 254`);
  const base = opts.base ?? BIOS_AREA_START;
  if (base % 16 !== 0) throw new Error(`MP table: floating pointer at 0x${base.toString(16)} is not 16-byte aligned`);
  const pciIrqs = opts.pciIrqs ?? [];
  for (const p of pciIrqs) {
    if (p.device < 0 || p.device > 31 || p.pin < 0 || p.pin > 3 || p.ioapicPin < 0 || p.ioapicPin >= IOAPIC_PINS) {
      throw new Error(`MP table: bad PCI interrupt route ${JSON.stringify(p)}`);
    }
  }
  const configAddr = base + MPF_BYTES;
  const configBytes = mpConfigBytes(cpus, pciIrqs.length);
  const mpf = ram.view(base, MPF_BYTES);
  const mpc = ram.view(configAddr, configBytes);
  if (mpf === null || mpc === null) throw new Error(`MP table at 0x${base.toString(16)} is not in guest RAM`);
  const ioapicId = cpus;

  mpc.fill(0);
  const dv = new DataView(mpc.buffer, mpc.byteOffset, mpc.byteLength);
  dv.setUint32(0, MPC_SIGNATURE, true);
  dv.setUint16(MPC_LENGTH, configBytes, true);
  dv.setUint8(MPC_SPEC, 4);
  ascii(mpc, MPC_OEM, 'HVM', 8);
  ascii(mpc, MPC_PRODUCTID, 'HVM PC', 12);
  dv.setUint32(MPC_LAPIC, LAPIC_ADDRESS, true);
  let at = MPC_HEADER_BYTES;
  let entries = 0;
  for (let id = 0; id < cpus; id++) {
    dv.setUint8(at, MP_PROCESSOR);
    dv.setUint8(at + 1, id);
    dv.setUint8(at + 2, LAPIC_VERSION);
    dv.setUint8(at + 3, CPU_ENABLED | (id === 0 ? CPU_BOOTPROCESSOR : 0));
    dv.setUint32(at + 4, CPU_SIGNATURE, true);
    dv.setUint32(at + 8, CPU_FEATURES, true);
    at += PROCESSOR_BYTES;
    entries++;
  }
  // Bus entries: type, bus id, a 6-character bus type string.
  const bus = (id: number, name: string): void => {
    dv.setUint8(at, MP_BUS);
    dv.setUint8(at + 1, id);
    ascii(mpc, at + 2, name, 6);
    at += OTHER_ENTRY_BYTES;
    entries++;
  };
  bus(MP_BUS_PCI, 'PCI');
  bus(MP_BUS_ISA, 'ISA');
  // IOAPIC: type, id, version, flags, address.
  dv.setUint8(at, MP_IOAPIC);
  dv.setUint8(at + 1, ioapicId);
  dv.setUint8(at + 2, IOAPIC_VERSION);
  dv.setUint8(at + 3, MPC_APIC_USABLE);
  dv.setUint32(at + 4, opts.ioapicAddress ?? IOAPIC_ADDRESS, true);
  at += OTHER_ENTRY_BYTES;
  entries++;
  // I/O interrupt entries: type, irqtype, irqflag (u16), srcbus, srcbusirq, dstapic, dstirq.
  const intsrc = (irqtype: number, flags: number, bus: number, busIrq: number, pin: number): void => {
    dv.setUint8(at, MP_INTSRC);
    dv.setUint8(at + 1, irqtype);
    dv.setUint16(at + 2, flags, true);
    dv.setUint8(at + 4, bus);
    dv.setUint8(at + 5, busIrq);
    dv.setUint8(at + 6, ioapicId);
    dv.setUint8(at + 7, pin);
    at += OTHER_ENTRY_BYTES;
    entries++;
  };
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    if (irq === 2) continue;
    intsrc(MP_INT, 0, MP_BUS_ISA, irq, irq === 0 ? 2 : irq);
  }
  for (const p of pciIrqs) {
    // A PCI source bus IRQ is (device << 2) | pin.
    intsrc(MP_INT, MP_IRQPOL_ACTIVE_LOW | MP_IRQTRIG_LEVEL, MP_BUS_PCI, (p.device << 2) | p.pin, p.ioapicPin);
  }
  // Local interrupt entries, to every LAPIC (id 0xFF): ExtINT on LINT0, NMI on LINT1.
  for (const [irqtype, lint] of [[MP_EXTINT, 0], [MP_NMI, 1]] as const) {
    dv.setUint8(at, MP_LINTSRC);
    dv.setUint8(at + 1, irqtype);
    dv.setUint16(at + 2, 0, true);
    dv.setUint8(at + 4, MP_BUS_ISA);
    dv.setUint8(at + 5, 0);
    dv.setUint8(at + 6, 0xff);
    dv.setUint8(at + 7, lint);
    at += OTHER_ENTRY_BYTES;
    entries++;
  }
  if (at !== configBytes) throw new Error(`MP table: wrote ${at} bytes, sized ${configBytes}`);
  dv.setUint16(MPC_OEMCOUNT, entries, true);
  dv.setUint8(MPC_CHECKSUM, checksum8(mpc));

  mpf.fill(0);
  const fv = new DataView(mpf.buffer, mpf.byteOffset, mpf.byteLength);
  fv.setUint32(0, MPF_SIGNATURE, true);
  fv.setUint32(MPF_PHYSPTR, configAddr, true);
  fv.setUint8(MPF_LENGTH, 1);
  fv.setUint8(MPF_SPECIFICATION, 4);
  fv.setUint8(MPF_FEATURE2, 0);
  fv.setUint8(MPF_CHECKSUM, checksum8(mpf));
  return { floatingPointer: base, configTable: configAddr, configBytes, entries };
}
