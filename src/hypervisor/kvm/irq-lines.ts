// Interrupt lines into KVM's in-kernel PIC/IOAPIC: KVM_IRQ_LINE on the VM fd. File descriptors
// are process-wide, so any thread (the device model's) can drive lines given the VM fd number.

import { KVM_IRQ_LEVEL_BYTES, KVM_IRQ_LINE } from './abi.js';
import { errnoText, lastErrno, libc } from './ffi.js';

/** GSIs the in-kernel IOAPIC has (its 24 pins). */
export const KVM_IRQ_LINES = 24;

/** Drives GSIs of one VM; construct one per thread. */
export class KvmIrqLines {
  readonly vmFd: number;
  /** struct kvm_irq_level, reused for every call. */
  private readonly arg = new Uint8Array(KVM_IRQ_LEVEL_BYTES);
  private readonly argWords = new Uint32Array(this.arg.buffer);

  constructor(vm: number | { vmFd: number }) {
    this.vmFd = typeof vm === 'number' ? vm : vm.vmFd;
    if (!Number.isInteger(this.vmFd) || this.vmFd < 0) throw new Error(`KVM interrupt lines: bad VM fd ${this.vmFd}`);
  }

  /**
   * Sets GSI `line` high or low. Level-triggered IOAPIC pins follow the level; edge-triggered
   * inputs fire on the rising edge. Failing here is a host error (a closed VM fd), so it throws.
   */
  setIrqLine(line: number, level: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line >= KVM_IRQ_LINES) throw new Error(`KVM interrupt line ${line} out of range`);
    this.argWords[0] = line;
    this.argWords[1] = level ? 1 : 0;
    if (libc().ioctlPtr(this.vmFd, KVM_IRQ_LINE, this.arg) < 0) {
      throw new Error(`KVM_IRQ_LINE ${line}=${level ? 1 : 0}: ${errnoText(lastErrno())}`);
    }
  }

  /** A rising then a falling edge. */
  pulse(line: number): void {
    this.setIrqLine(line, true);
    this.setIrqLine(line, false);
  }
}
