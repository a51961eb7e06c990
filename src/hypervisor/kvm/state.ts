// CpuState <-> struct kvm_regs / kvm_sregs, and the register dump printed when KVM refuses a
// guest. CpuState is shaped after these structures, so the mapping is field by field.
//
// Segment and descriptor-table bases are u64 in KVM and numbers in CpuState: they are read as
// signed 64-bit values, which is exact for every 32-bit base and for canonical 64-bit addresses
// (sign-extended from bit 47 or 56, so within ±2^53), and written back as their two's complement.

import type { CpuState, DtableState, SegmentState } from '../vcpu.js';
import {
  KVM_DTABLE_BYTES, KVM_REGS_BYTES, KVM_SEGMENT_BYTES, KVM_SREGS_BYTES, REGS_ORDER, SEG_AVL, SEG_BASE, SEG_DB, SEG_DPL,
  SEG_G, SEG_L, SEG_LIMIT, SEG_PRESENT, SEG_S, SEG_SELECTOR, SEG_TYPE, SEG_UNUSABLE, SREGS_APIC_BASE, SREGS_CR0,
  SREGS_CR2, SREGS_CR3, SREGS_CR4, SREGS_CR8, SREGS_EFER, SREGS_GDT, SREGS_IDT, SREGS_SEGMENTS,
} from './abi.js';

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const baseOf = (v: DataView, o: number): number => Number(v.getBigInt64(o, true));
const baseTo = (v: DataView, o: number, base: number): void => {
  if (!Number.isSafeInteger(base)) throw new Error(`segment base ${base} is not a whole number`);
  v.setBigUint64(o, u64(BigInt(base)), true);
};

function readSegment(v: DataView, o: number): SegmentState {
  return {
    selector: v.getUint16(o + SEG_SELECTOR, true), base: baseOf(v, o + SEG_BASE), limit: v.getUint32(o + SEG_LIMIT, true),
    type: v.getUint8(o + SEG_TYPE), s: v.getUint8(o + SEG_S), dpl: v.getUint8(o + SEG_DPL), present: v.getUint8(o + SEG_PRESENT),
    avl: v.getUint8(o + SEG_AVL), l: v.getUint8(o + SEG_L), db: v.getUint8(o + SEG_DB), g: v.getUint8(o + SEG_G),
    unusable: v.getUint8(o + SEG_UNUSABLE),
  };
}

function writeSegment(v: DataView, o: number, s: SegmentState): void {
  baseTo(v, o + SEG_BASE, s.base);
  v.setUint32(o + SEG_LIMIT, s.limit >>> 0, true);
  v.setUint16(o + SEG_SELECTOR, s.selector & 0xffff, true);
  v.setUint8(o + SEG_TYPE, s.type & 0xf);
  v.setUint8(o + SEG_PRESENT, s.present ? 1 : 0);
  v.setUint8(o + SEG_DPL, s.dpl & 3);
  v.setUint8(o + SEG_DB, s.db ? 1 : 0);
  v.setUint8(o + SEG_S, s.s ? 1 : 0);
  v.setUint8(o + SEG_L, s.l ? 1 : 0);
  v.setUint8(o + SEG_G, s.g ? 1 : 0);
  v.setUint8(o + SEG_AVL, s.avl ? 1 : 0);
  v.setUint8(o + SEG_UNUSABLE, s.unusable ? 1 : 0);
  v.setUint8(o + KVM_SEGMENT_BYTES - 1, 0);
}

function readDtable(v: DataView, o: number): DtableState {
  return { base: baseOf(v, o), limit: v.getUint16(o + 8, true) };
}

function writeDtable(v: DataView, o: number, d: DtableState): void {
  baseTo(v, o, d.base);
  v.setUint16(o + 8, d.limit & 0xffff, true);
  for (let i = 10; i < KVM_DTABLE_BYTES; i++) v.setUint8(o + i, 0);
}

/** Builds a CpuState from kvm_regs and kvm_sregs bytes. */
export function decodeState(regs: Uint8Array, sregs: Uint8Array): CpuState {
  const r = new DataView(regs.buffer, regs.byteOffset, KVM_REGS_BYTES);
  const s = new DataView(sregs.buffer, sregs.byteOffset, KVM_SREGS_BYTES);
  const g = (i: number): bigint => r.getBigUint64(i * 8, true);
  const seg = (name: (typeof SREGS_SEGMENTS)[number]): SegmentState => readSegment(s, SREGS_SEGMENTS.indexOf(name) * KVM_SEGMENT_BYTES);
  return {
    rax: g(0), rbx: g(1), rcx: g(2), rdx: g(3), rsi: g(4), rdi: g(5), rsp: g(6), rbp: g(7),
    r8: g(8), r9: g(9), r10: g(10), r11: g(11), r12: g(12), r13: g(13), r14: g(14), r15: g(15),
    rip: g(16), rflags: g(17),
    cs: seg('cs'), ds: seg('ds'), es: seg('es'), fs: seg('fs'), gs: seg('gs'), ss: seg('ss'), tr: seg('tr'), ldt: seg('ldt'),
    gdt: readDtable(s, SREGS_GDT), idt: readDtable(s, SREGS_IDT),
    cr0: s.getBigUint64(SREGS_CR0, true), cr2: s.getBigUint64(SREGS_CR2, true), cr3: s.getBigUint64(SREGS_CR3, true),
    cr4: s.getBigUint64(SREGS_CR4, true), cr8: s.getBigUint64(SREGS_CR8, true), efer: s.getBigUint64(SREGS_EFER, true),
    apicBase: s.getBigUint64(SREGS_APIC_BASE, true),
  };
}

/** Writes `state` into kvm_regs; every byte is set. */
export function encodeRegs(state: CpuState, regs: Uint8Array): void {
  const r = new DataView(regs.buffer, regs.byteOffset, KVM_REGS_BYTES);
  REGS_ORDER.forEach((name, i) => r.setBigUint64(i * 8, u64(state[name]), true));
}

/**
 * Writes `state` into kvm_sregs. The interrupt bitmap (an interrupt KVM is injecting) is not
 * part of CpuState and is left as the buffer holds it — the caller reads the sregs first.
 */
export function encodeSregs(state: CpuState, sregs: Uint8Array): void {
  const s = new DataView(sregs.buffer, sregs.byteOffset, KVM_SREGS_BYTES);
  SREGS_SEGMENTS.forEach((name, i) => writeSegment(s, i * KVM_SEGMENT_BYTES, state[name]));
  writeDtable(s, SREGS_GDT, state.gdt);
  writeDtable(s, SREGS_IDT, state.idt);
  s.setBigUint64(SREGS_CR0, u64(state.cr0), true);
  s.setBigUint64(SREGS_CR2, u64(state.cr2), true);
  s.setBigUint64(SREGS_CR3, u64(state.cr3), true);
  s.setBigUint64(SREGS_CR4, u64(state.cr4), true);
  s.setBigUint64(SREGS_CR8, u64(state.cr8), true);
  s.setBigUint64(SREGS_EFER, u64(state.efer), true);
  s.setBigUint64(SREGS_APIC_BASE, u64(state.apicBase), true);
}

const hex = (v: bigint | number, digits: number): string =>
  (typeof v === 'bigint' ? u64(v) : BigInt.asUintN(64, BigInt(v))).toString(16).padStart(digits, '0');

function segLine(name: string, s: SegmentState): string {
  const attrs = `type=${s.type.toString(16)} s=${s.s} dpl=${s.dpl} p=${s.present} db=${s.db} l=${s.l} g=${s.g}${s.unusable ? ' unusable' : ''}`;
  return `${name.padEnd(3)}=${hex(s.selector, 4)} base=${hex(s.base, 8)} limit=${hex(s.limit, 8)} ${attrs}`;
}

/** A multi-line register dump for error messages (RIP, RSP, RFLAGS, control registers, CS/SS…). */
export function formatRegisterDump(state: CpuState): string {
  const w = 16;
  return [
    `RAX=${hex(state.rax, w)} RBX=${hex(state.rbx, w)} RCX=${hex(state.rcx, w)} RDX=${hex(state.rdx, w)}`,
    `RSI=${hex(state.rsi, w)} RDI=${hex(state.rdi, w)} RBP=${hex(state.rbp, w)} RSP=${hex(state.rsp, w)}`,
    `RIP=${hex(state.rip, w)} RFLAGS=${hex(state.rflags, 8)}`,
    `CR0=${hex(state.cr0, 8)} CR2=${hex(state.cr2, w)} CR3=${hex(state.cr3, w)} CR4=${hex(state.cr4, 8)} EFER=${hex(state.efer, 8)}`,
    segLine('CS', state.cs),
    segLine('SS', state.ss),
    segLine('DS', state.ds),
    `GDT=${hex(state.gdt.base, 8)}/${hex(state.gdt.limit, 4)} IDT=${hex(state.idt.base, 8)}/${hex(state.idt.limit, 4)} ` +
      `TR=${hex(state.tr.selector, 4)} APIC_BASE=${hex(state.apicBase, 8)}`,
  ].join('\n');
}
