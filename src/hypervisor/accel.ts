// Picking the accelerator: KVM where it is hardware-backed, the soft CPU otherwise (DESIGN.md,
// "Two accelerators, one machine"). `auto` says which it chose and why.

import { detectKvm } from './kvm/detect.js';

/** The accelerator a VM runs on, and the sentence that explains the choice. */
export interface AccelChoice { kind: 'kvm' | 'soft'; why: string }

/** Resolves --accel; throws a one-line error when KVM is asked for and cannot be used. */
export function chooseAccelerator(asked: 'kvm' | 'soft' | 'auto'): AccelChoice {
  if (asked === 'soft') return { kind: 'soft', why: 'soft CPU (asked for)' };
  const kvm = detectKvm();
  if (asked === 'kvm') {
    if (!kvm.available) throw new Error(`--accel kvm: ${kvm.reason}`);
    return { kind: 'kvm', why: kvm.hardwareBacked ? `KVM (${kvm.backend})` : `KVM on ${kvm.backend}: small programs only, stock kernels do not boot here` };
  }
  if (kvm.available && kvm.hardwareBacked) return { kind: 'kvm', why: `KVM (${kvm.backend})` };
  return { kind: 'soft', why: `soft CPU (${kvm.available ? `KVM here is ${kvm.backend}, not hardware-backed` : kvm.reason})` };
}
