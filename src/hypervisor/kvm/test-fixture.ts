// Tiny guests for the KVM tests: one VM, RAM, one vCPU in real mode at 0000:1000 (or in flat
// 32-bit protected mode), and the reason to skip when /dev/kvm cannot be used here.

import { GuestRam, memoryLayout } from '../memory.js';
import { flatSegment, realSegment, resetState, type CpuState } from '../vcpu.js';
import { detectKvm } from './detect.js';
import { KvmVcpu } from './kvm-vcpu.js';
import { KvmVm } from './kvm-vm.js';

/** Where test code is loaded and starts. */
export const CODE_ADDR = 0x1000;

/** false when KVM can run the tests, else the reason shown for skipping them. */
export function kvmSkip(): false | string {
  const d = detectKvm();
  return d.available ? false : `KVM not usable here: ${d.reason}`;
}

/**
 * A skip reason for behaviour that only hardware-backed KVM has: kvm_pvm (PVM) spins on a
 * triple fault instead of reporting KVM_EXIT_SHUTDOWN, and does not let the host set the TSC.
 */
export function hardwareKvmSkip(what: string): false | string {
  const d = detectKvm();
  if (!d.available) return `KVM not usable here: ${d.reason}`;
  return d.hardwareBacked ? false : `${what}: not on ${d.backend}`;
}

/** A VM with one vCPU, ready to run `code`. */
export interface TinyGuest {
  vm: KvmVm;
  ram: GuestRam;
  vcpu: KvmVcpu;
  close(): void;
}

/** Options for a tiny guest. */
export interface TinyGuestOptions {
  ramBytes?: number;
  romBytes?: number;
  /** Display memory after the ROM (GuestRam.vram), mapped by the test. */
  vramBytes?: number;
  /** 'real' (CS=0, IP=0x1000) or 'flat32' (protected mode, flat 4 GiB segments, no paging). */
  mode?: 'real' | 'flat32';
}

/** Real-mode state starting at 0000:`ip`. */
export function realModeState(ip: number): CpuState {
  const s = resetState();
  s.cs = realSegment(0, 0xb);
  s.rip = BigInt(ip);
  s.rsp = 0x8000n;
  return s;
}

/** 32-bit flat protected-mode state starting at `eip` (segments loaded as if from a GDT). */
export function flat32State(eip: number): CpuState {
  const s = resetState();
  s.cs = flatSegment(0x08, 0xb);
  for (const k of ['ds', 'es', 'fs', 'gs', 'ss'] as const) s[k] = flatSegment(0x10, 0x3);
  s.cr0 = 0x60000011n;
  s.rip = BigInt(eip);
  s.rsp = 0x8000n;
  return s;
}

/** Builds a VM, loads `code` at CODE_ADDR and sets the vCPU's state. */
export function tinyGuest(code: readonly number[], opts: TinyGuestOptions = {}): TinyGuest {
  const layout = memoryLayout(opts.ramBytes ?? 1024 * 1024, opts.romBytes ?? 0, opts.vramBytes ?? 0);
  const buffer = GuestRam.allocate(layout);
  const vm = new KvmVm(1);
  let vcpu: KvmVcpu | null = null;
  try {
    const ram = new GuestRam(buffer, layout, vm.alignedOffset(buffer));
    vm.mapMemory(ram);
    ram.u8.set(code, CODE_ADDR);
    vcpu = new KvmVcpu(vm.vcpuFd(0), 0);
    vcpu.setState(opts.mode === 'flat32' ? flat32State(CODE_ADDR) : realModeState(CODE_ADDR));
    const v = vcpu;
    return { vm, ram, vcpu: v, close: () => { v.close(); vm.close(); } };
  } catch (e) {
    vcpu?.close();
    vm.close();
    throw e;
  }
}
