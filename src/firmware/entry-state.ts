// CPU state for entering a kernel without running firmware: a GDT written to guest RAM with the
// boot protocol's flat __BOOT_CS (0x10) and __BOOT_DS (0x18), and for 64-bit entry an identity
// map of the low 4 GiB in 2 MiB pages (SDM vol. 3, 4.5 "4-level paging").

import type { GuestRam } from '../hypervisor/memory.js';
import { flatSegment, resetState, type CpuState } from '../hypervisor/vcpu.js';

/** The boot protocol's selectors. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

/** Descriptors (SDM vol. 3, 3.4.5): base 0, limit 0xFFFFF with G=1, P=1, DPL 0, S=1. */
export const GDT_CODE32 = 0x00cf9b000000ffffn; // execute/read, accessed, D=1
export const GDT_CODE64 = 0x00af9b000000ffffn; // execute/read, accessed, L=1, D=0
export const GDT_DATA = 0x00cf93000000ffffn;   // read/write, accessed, B=1
const GDT_ENTRIES = 4;                          // null, unused, __BOOT_CS, __BOOT_DS

/** Control-register and EFER bits. */
export const CR0_PE = 0x1n;
export const CR0_ET = 0x10n;
export const CR0_PG = 0x8000_0000n;
export const CR4_PAE = 0x20n;
export const EFER_LME = 0x100n;
export const EFER_LMA = 0x400n;
/** RFLAGS with only the always-one bit 1: interrupts off. */
export const RFLAGS_BOOT = 0x2n;

/** Page-table entry bits. */
const PTE_P = 0x1n;
const PTE_RW = 0x2n;
const PTE_PS = 0x80n;
const PAGE = 4096;
/** Page tables for the identity map: PML4, PDPT and four page directories. */
export const IDENTITY_MAP_BYTES = 6 * PAGE;

function needView(ram: GuestRam, gpa: number, len: number, what: string): Uint8Array {
  const v = ram.view(gpa, len);
  if (v === null) throw new Error(`${what} at 0x${gpa.toString(16)} is not in guest RAM`);
  return v;
}

/** Writes the boot GDT at `gpa`; returns its limit (for GDTR). */
export function writeBootGdt(ram: GuestRam, gpa: number, long: boolean): number {
  const v = needView(ram, gpa, GDT_ENTRIES * 8, 'boot GDT');
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  dv.setBigUint64(0, 0n, true);
  dv.setBigUint64(8, 0n, true);
  dv.setBigUint64(BOOT_CS, long ? GDT_CODE64 : GDT_CODE32, true);
  dv.setBigUint64(BOOT_DS, GDT_DATA, true);
  return GDT_ENTRIES * 8 - 1;
}

/**
 * Builds page tables at `gpa` (page-aligned, IDENTITY_MAP_BYTES long) that identity-map
 * 0–4 GiB with 2 MiB pages; returns the PML4 address for CR3.
 */
export function writeIdentityMap(ram: GuestRam, gpa: number): number {
  if (gpa % PAGE !== 0) throw new Error('page tables must be page-aligned');
  const v = needView(ram, gpa, IDENTITY_MAP_BYTES, 'boot page tables');
  v.fill(0);
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const pdpt = gpa + PAGE;
  dv.setBigUint64(0, BigInt(pdpt) | PTE_P | PTE_RW, true);
  for (let g = 0; g < 4; g++) {
    const pd = gpa + (2 + g) * PAGE;
    dv.setBigUint64(PAGE + g * 8, BigInt(pd) | PTE_P | PTE_RW, true);
    for (let i = 0; i < 512; i++) {
      const phys = BigInt(g) * 0x4000_0000n + BigInt(i) * 0x20_0000n;
      dv.setBigUint64((2 + g) * PAGE + i * 8, phys | PTE_P | PTE_RW | PTE_PS, true);
    }
  }
  return gpa;
}

/** Common part: general registers zero, interrupts off, flat data segments, GDTR set. */
function bootState(gdtBase: number, gdtLimit: number, entry: number, bootParams: number, stack: number): CpuState {
  const s = resetState();
  s.rdx = 0n;
  s.rip = BigInt(entry);
  s.rsi = BigInt(bootParams);
  s.rsp = BigInt(stack);
  s.rflags = RFLAGS_BOOT;
  for (const k of ['ds', 'es', 'fs', 'gs', 'ss'] as const) s[k] = flatSegment(BOOT_DS, 0x3);
  s.gdt = { base: gdtBase, limit: gdtLimit };
  s.idt = { base: 0, limit: 0 };
  return s;
}

/**
 * The 32-bit boot protocol entry: protected mode, paging off, CS = __BOOT_CS and DS/ES/SS =
 * __BOOT_DS (flat 4 GiB), ESI = boot_params, EBP = EDI = EBX = 0, interrupts off.
 */
export function protectedModeEntry(gdtBase: number, gdtLimit: number, entry: number, bootParams: number, stack: number): CpuState {
  const s = bootState(gdtBase, gdtLimit, entry, bootParams, stack);
  s.cs = flatSegment(BOOT_CS, 0xb);
  s.cr0 = CR0_PE | CR0_ET;
  return s;
}

/**
 * The 64-bit boot protocol entry: long mode with paging (CR3 = identity map), CS a 64-bit
 * code segment (L=1, D=0) at __BOOT_CS, RSI = boot_params, interrupts off.
 */
export function longModeEntry(gdtBase: number, gdtLimit: number, entry: number, bootParams: number, stack: number, cr3: number): CpuState {
  const s = bootState(gdtBase, gdtLimit, entry, bootParams, stack);
  s.cs = { ...flatSegment(BOOT_CS, 0xb), l: 1, db: 0 };
  s.cr0 = CR0_PE | CR0_ET | CR0_PG;
  s.cr4 = CR4_PAE;
  s.cr3 = BigInt(cr3);
  s.efer = EFER_LME | EFER_LMA;
  return s;
}
