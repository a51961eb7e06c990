// Interrupt lines from the device model into the hypervisor's interrupt controllers: for the
// soft accelerator, levels in the shared control block; for KVM, KVM_IRQ_LINE on the VM fd.

import type { IrqLine } from '../devices/api.js';
import type { ControlBlock } from '../hypervisor/control.js';
import { IRQ_LINES } from '../hypervisor/control.js';
import type { SharedVm } from '../hypervisor/messages.js';
import { KvmIrqLines } from '../hypervisor/kvm/irq-lines.js';

/** Returns a factory of IrqLines for ISA/IOAPIC line numbers. */
export function irqLinesFor(shared: SharedVm, control: ControlBlock): (line: number) => IrqLine {
  if (shared.accel === 'kvm') {
    const kvm = new KvmIrqLines(shared.kvmVmFd);
    return (line) => {
      check(line);
      return {
        set: (level) => kvm.setIrqLine(line, level),
        pulse: () => { kvm.setIrqLine(line, true); kvm.setIrqLine(line, false); },
      };
    };
  }
  return (line) => {
    check(line);
    return {
      set: (level) => control.setIrqLevel(line, level ? 1 : 0),
      pulse: () => control.pulseIrq(line),
    };
  };
}

function check(line: number): void {
  if (!Number.isInteger(line) || line < 0 || line >= IRQ_LINES) throw new Error(`interrupt line ${line} out of range`);
}
