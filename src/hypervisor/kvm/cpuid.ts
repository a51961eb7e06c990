// The CPUID a KVM guest sees: KVM_GET_SUPPORTED_CPUID, trimmed to the machine this project
// models (SDM vol. 2A, CPUID). KVM reports what it *can* virtualize; we take that and remove
// what the machine model does not promise:
//
// - MONITOR/MWAIT (leaf 1 ECX.3, leaf 5) and UMONITOR/UMWAIT (leaf 7 ECX.5, WAITPKG): idle
//   loops must use HLT, which the in-kernel LAPIC wakes and the soft CPU models.
// - VMX/SMX (leaf 1 ECX.5/6) and SVM (leaf 0x80000001 ECX.2, leaf 0x8000000A): no nested
//   virtualization.
// - The hypervisor leaves 0x40000000-0x400000FF (KVM's signature and paravirtual features such
//   as kvmclock): the guest sees the same machine under both accelerators, so a snapshot taken
//   under KVM resumes on the soft CPU, which has no kvmclock.
// - The hypervisor bit (leaf 1 ECX.31) is set: the guest runs virtualized, and says so.
// - Per-vCPU identity: the initial APIC ID (leaf 1 EBX[31:24]) and x2APIC ID (leaves 0xB,
//   0x1F EDX) are the vCPU index. x2APIC, TSC-deadline and the rest are kept as KVM reports
//   them: the in-kernel LAPIC backs them.

import {
  CPUID_EBX, CPUID_ECX, CPUID_EDX, CPUID_FUNCTION, CPUID_EAX, KVM_CPUID2_HEADER_BYTES, KVM_CPUID_ENTRY2_BYTES,
} from './abi.js';

/** Leaf 1 ECX bits (SDM table 3-10). */
export const CPUID_1_ECX_MONITOR = 1 << 3;
export const CPUID_1_ECX_VMX = 1 << 5;
export const CPUID_1_ECX_SMX = 1 << 6;
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;
/** Leaf 7 sub-leaf 0 ECX bit 5: WAITPKG (UMONITOR/UMWAIT/TPAUSE). */
export const CPUID_7_ECX_WAITPKG = 1 << 5;
/** Leaf 0x80000001 ECX bit 2: SVM. */
export const CPUID_80000001_ECX_SVM = 1 << 2;

const LEAF_MWAIT = 0x5;
const LEAF_SVM = 0x8000000a;
const HYPERVISOR_LEAVES_FIRST = 0x40000000;
const HYPERVISOR_LEAVES_LAST = 0x400000ff;

/**
 * Returns a new kvm_cpuid2 buffer for vCPU `vcpuId`, built from `supported` (a kvm_cpuid2 as
 * KVM_GET_SUPPORTED_CPUID filled it).
 */
export function trimCpuid(supported: Uint8Array, vcpuId: number): Uint8Array {
  const sv = new DataView(supported.buffer, supported.byteOffset, supported.byteLength);
  const nent = sv.getUint32(0, true);
  const out = new Uint8Array(KVM_CPUID2_HEADER_BYTES + nent * KVM_CPUID_ENTRY2_BYTES);
  const ov = new DataView(out.buffer);
  let n = 0;
  for (let i = 0; i < nent; i++) {
    const src = KVM_CPUID2_HEADER_BYTES + i * KVM_CPUID_ENTRY2_BYTES;
    const fn = sv.getUint32(src + CPUID_FUNCTION, true);
    if ((fn >= HYPERVISOR_LEAVES_FIRST && fn <= HYPERVISOR_LEAVES_LAST) || fn === LEAF_SVM) continue;
    const dst = KVM_CPUID2_HEADER_BYTES + n * KVM_CPUID_ENTRY2_BYTES;
    out.set(supported.subarray(src, src + KVM_CPUID_ENTRY2_BYTES), dst);
    n++;
    const and = (reg: number, mask: number): void => ov.setUint32(dst + reg, (ov.getUint32(dst + reg, true) & ~mask) >>> 0, true);
    const or = (reg: number, bits: number): void => ov.setUint32(dst + reg, (ov.getUint32(dst + reg, true) | bits) >>> 0, true);
    switch (fn) {
      case 0x1:
        and(CPUID_ECX, CPUID_1_ECX_MONITOR | CPUID_1_ECX_VMX | CPUID_1_ECX_SMX);
        or(CPUID_ECX, CPUID_1_ECX_HYPERVISOR);
        ov.setUint32(dst + CPUID_EBX, ((ov.getUint32(dst + CPUID_EBX, true) & 0x00ffffff) | ((vcpuId & 0xff) << 24)) >>> 0, true);
        break;
      case LEAF_MWAIT:
        for (const r of [CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX]) ov.setUint32(dst + r, 0, true);
        break;
      case 0x7:
        and(CPUID_ECX, CPUID_7_ECX_WAITPKG);
        break;
      case 0xb:
      case 0x1f:
        ov.setUint32(dst + CPUID_EDX, vcpuId >>> 0, true);
        break;
      case 0x80000001:
        and(CPUID_ECX, CPUID_80000001_ECX_SVM);
        break;
      default:
        break;
    }
  }
  ov.setUint32(0, n, true);
  return out.slice(0, KVM_CPUID2_HEADER_BYTES + n * KVM_CPUID_ENTRY2_BYTES);
}

/** The entry for (leaf, sub-leaf) in a kvm_cpuid2 buffer, as [eax, ebx, ecx, edx], or null. */
export function findCpuid(cpuid2: Uint8Array, leaf: number, index = 0): [number, number, number, number] | null {
  const v = new DataView(cpuid2.buffer, cpuid2.byteOffset, cpuid2.byteLength);
  const nent = v.getUint32(0, true);
  for (let i = 0; i < nent; i++) {
    const o = KVM_CPUID2_HEADER_BYTES + i * KVM_CPUID_ENTRY2_BYTES;
    if (v.getUint32(o, true) !== leaf || v.getUint32(o + 4, true) !== index) continue;
    return [v.getUint32(o + CPUID_EAX, true), v.getUint32(o + CPUID_EBX, true), v.getUint32(o + CPUID_ECX, true), v.getUint32(o + CPUID_EDX, true)];
  }
  return null;
}
