// The device model's VramShare: over the shared VRAM and dirty bitmap, with KVM's memory slot
// when the VM runs under KVM (the device model holds the VM fd; see kvm/vram-slot.ts).

import type { ControlBlock } from '../hypervisor/control.js';
import type { GuestRam } from '../hypervisor/memory.js';
import type { SharedVm } from '../hypervisor/messages.js';
import { VramShare } from '../hypervisor/vram.js';
import { KvmVramSlot } from '../hypervisor/kvm/vram-slot.js';

/** The machine's VramShare, or null when it has no display memory. */
export function vramShareFor(shared: SharedVm, ram: GuestRam, control: ControlBlock): VramShare | null {
  if ((shared.layout.vramBytes ?? 0) === 0) return null;
  const slot = shared.accel === 'kvm' ? new KvmVramSlot(shared.kvmVmFd, ram.vram) : null;
  return new VramShare(ram, control, shared.vramDirty, slot);
}
