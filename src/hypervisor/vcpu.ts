// The vCPU interface both accelerators implement, and the architectural state they exchange.
//
// The state is plain data shaped like KVM's kvm_regs/kvm_sregs, so a snapshot taken under one
// accelerator can resume under the other.

import type { VcpuExit } from './exits.js';

/** A segment register's selector and its hidden descriptor cache. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor type (4 bits), S, DPL, P, AVL, L, D/B, G, and unusable (KVM's layout). */
  type: number;
  s: number;
  dpl: number;
  present: number;
  avl: number;
  l: number;
  db: number;
  g: number;
  unusable: number;
}

/** A descriptor table register. */
export interface DtableState { base: number; limit: number }

/** The architectural state of one vCPU. 64-bit registers are bigints; the rest are numbers. */
export interface CpuState {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint; r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint;
  rflags: bigint;
  cs: SegmentState; ds: SegmentState; es: SegmentState; fs: SegmentState; gs: SegmentState; ss: SegmentState;
  tr: SegmentState; ldt: SegmentState;
  gdt: DtableState; idt: DtableState;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint;
  apicBase: bigint;
}

/** A segment usable as a flat 4 GiB 32-bit code (type 0xb) or data (type 0x3) segment. */
export function flatSegment(selector: number, type: number): SegmentState {
  return { selector, base: 0, limit: 0xffffffff, type, s: 1, dpl: 0, present: 1, avl: 0, l: 0, db: 1, g: 1, unusable: 0 };
}

/** A real-mode segment at selector << 4 with a 64 KiB limit. */
export function realSegment(selector: number, type = 0x3): SegmentState {
  return { selector, base: selector * 16, limit: 0xffff, type, s: 1, dpl: 0, present: 1, avl: 0, l: 0, db: 0, g: 0, unusable: 0 };
}

/** The state of an x86 CPU after RESET (SDM vol. 3, table 9-1): CS:IP = F000:FFF0, base FFFF0000. */
export function resetState(): CpuState {
  const seg = (type: number): SegmentState => realSegment(0, type);
  const cs = realSegment(0xf000, 0xb);
  cs.base = 0xffff0000;
  const sys = (type: number): SegmentState => ({ ...seg(type), s: 0 });
  return {
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0x600n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: 0xfff0n, rflags: 0x2n,
    cs, ds: seg(3), es: seg(3), fs: seg(3), gs: seg(3), ss: seg(3),
    tr: sys(0xb), ldt: sys(0x2),
    gdt: { base: 0, limit: 0xffff }, idt: { base: 0, limit: 0xffff },
    cr0: 0x60000010n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0xfee00900n,
  };
}

/** One virtual CPU, under either accelerator. */
export interface Vcpu {
  readonly id: number;
  /** Runs guest code until an exit the hypervisor must handle; the record is reused. */
  run(): VcpuExit;
  /** Completes an Io or Mmio read exit with the value the device model returned. */
  completeRead(exit: VcpuExit, value: number, high?: number): void;
  getState(): CpuState;
  setState(state: CpuState): void;
  /** Asserts an external interrupt vector (accelerators without an irqchip of their own). */
  injectInterrupt(vector: number): void;
  /** Frees host resources. */
  close(): void;
}
