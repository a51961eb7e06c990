// One KVM vCPU, built inside the worker thread that runs it from the vCPU fd KvmVm created.
//
// run() issues KVM_RUN and decodes struct kvm_run once into the preallocated exit record. kvm_run
// is mapped once and read through a DataView over that mapping (koffi.view): per exit the only
// native call is the ioctl itself, and nothing is allocated on the port-I/O and MMIO paths.

import { ExitReason, newExitRecord, type VcpuExit } from '../exits.js';
import type { CpuState, Vcpu } from '../vcpu.js';
import {
  KVM_CPUID_ENTRIES_LIMIT, KVM_CPUID2_HEADER_BYTES, KVM_CPUID_ENTRY2_BYTES, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR, KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_EXIT_MMIO, KVM_EXIT_NAMES, KVM_EXIT_SHUTDOWN, KVM_EXIT_SYSTEM_EVENT,
  KVM_GET_MSRS, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_SUPPORTED_CPUID, KVM_GET_VCPU_MMAP_SIZE, KVM_INTERNAL_DATA_MAX,
  KVM_INTERNAL_ERROR_NAMES, KVM_MSRS_HEADER_BYTES, KVM_MSR_ENTRY_BYTES, KVM_REGS_BYTES, KVM_RUN, KVM_RUN_EXIT_REASON,
  KVM_RUN_FAIL_ENTRY_CPU, KVM_RUN_FAIL_ENTRY_REASON, KVM_RUN_IMMEDIATE_EXIT, KVM_RUN_INTERNAL_DATA,
  KVM_RUN_INTERNAL_NDATA, KVM_RUN_INTERNAL_SUBERROR, KVM_RUN_IO_COUNT, KVM_RUN_IO_DATA_OFFSET, KVM_RUN_IO_DIRECTION,
  KVM_RUN_IO_PORT, KVM_RUN_IO_SIZE, KVM_RUN_MMIO_DATA, KVM_RUN_MMIO_IS_WRITE, KVM_RUN_MMIO_LEN, KVM_RUN_MMIO_PHYS_ADDR,
  KVM_RUN_SYSTEM_EVENT_TYPE, KVM_SET_CPUID2, KVM_SET_MSRS, KVM_SET_REGS, KVM_SET_SREGS, KVM_SREGS_BYTES,
} from './abi.js';
import { trimCpuid } from './cpuid.js';
import {
  E2BIG, EAGAIN, EINTR, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, errnoText, isMapFailed, lastErrno, libc,
  nativeView, pointerAddress, type Libc, type NativePointer,
} from './ffi.js';
import { allocateKickSlot, lookupKickSlot, publishRunner, withdrawRunner, type KickSlot } from './kick.js';
import { decodeState, encodeRegs, encodeSregs, formatRegisterDump } from './state.js';

export { formatRegisterDump } from './state.js';

/** A vCPU on KVM. Construct it on the thread that will call run(). */
export class KvmVcpu implements Vcpu {
  /** The exit record run() fills and returns (one per vCPU). */
  readonly exit: VcpuExit = newExitRecord();
  /** Exits so far, by kind (cheap counters for stats). */
  exits = 0;
  /** The kick slot this vCPU publishes itself in (pass it to kickVcpu from any thread). */
  readonly kickSlot: KickSlot;
  private readonly c: Libc;
  private readonly runPtr: NativePointer;
  private readonly runBytes: number;
  private readonly run8: Uint8Array;
  private readonly runDv: DataView;
  /** kvm_run.io data area views for 1, 2 and 4 bytes at the last data_offset seen. */
  private ioDataOffset = -1;
  private ioView1: Uint8Array = new Uint8Array(0);
  private ioView2: Uint8Array = new Uint8Array(0);
  private ioView4: Uint8Array = new Uint8Array(0);
  private readonly mmioDv: DataView;
  /** An I/O or MMIO exit whose instruction KVM completes on the next KVM_RUN. */
  private completionPending = false;
  private readonly regs = new Uint8Array(KVM_REGS_BYTES);
  private readonly sregs = new Uint8Array(KVM_SREGS_BYTES);
  private readonly msrs = new Uint8Array(KVM_MSRS_HEADER_BYTES + KVM_MSR_ENTRY_BYTES);
  private closed = false;

  /**
   * `fd` is a vCPU fd from KvmVm (owned by it: close() here unmaps, the VM closes the fd). The
   * kick slot defaults to the one KvmVm registered for this fd.
   */
  constructor(readonly fd: number, readonly id: number, kickSlot?: KickSlot) {
    const c = libc();
    this.c = c;
    const kvm = c.open('/dev/kvm', O_RDWR | O_CLOEXEC, 0);
    if (kvm < 0) throw new Error(`/dev/kvm: ${errnoText(lastErrno())}`);
    try {
      this.runBytes = c.ioctlInt(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
      if (this.runBytes <= 0) throw new Error(`KVM_GET_VCPU_MMAP_SIZE: ${errnoText(lastErrno())}`);
      this.setCpuid(kvm);
    } finally {
      c.close(kvm);
    }
    const ptr = c.mmap(null, this.runBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (isMapFailed(ptr)) throw new Error(`mmap of kvm_run for vCPU ${id}: ${errnoText(lastErrno())}`);
    this.runPtr = ptr!;
    const view = nativeView(this.runPtr, this.runBytes);
    this.run8 = new Uint8Array(view);
    this.runDv = new DataView(view);
    this.exit.mmioData = this.run8.subarray(KVM_RUN_MMIO_DATA, KVM_RUN_MMIO_DATA + 8);
    this.mmioDv = new DataView(view, KVM_RUN_MMIO_DATA, 8);
    this.kickSlot = kickSlot ?? lookupKickSlot(fd) ?? allocateKickSlot();
    publishRunner(this.kickSlot, pointerAddress(this.runPtr));
  }

  /** Runs the guest until an exit the hypervisor must handle; decodes it into `this.exit`. */
  run(): VcpuExit {
    const x = this.exit;
    if (this.c.ioctlInt(this.fd, KVM_RUN, 0) < 0) {
      const e = lastErrno();
      this.completionPending = false;
      if (e === EINTR || e === EAGAIN) {
        // A kick: immediate_exit did its job (or a signal arrived); the next run enters the guest.
        this.run8[KVM_RUN_IMMEDIATE_EXIT] = 0;
        x.reason = ExitReason.Interrupted;
        return x;
      }
      return this.internalError(0, `KVM_RUN failed: ${errnoText(e)}`);
    }
    this.exits++;
    const d = this.runDv;
    const reason = d.getUint32(KVM_RUN_EXIT_REASON, true);
    switch (reason) {
      case KVM_EXIT_IO: {
        const size = this.run8[KVM_RUN_IO_SIZE]!;
        const count = d.getUint32(KVM_RUN_IO_COUNT, true);
        const off = d.getUint32(KVM_RUN_IO_DATA_OFFSET, true);
        if ((size !== 1 && size !== 2 && size !== 4) || off + size * count > this.runBytes) {
          return this.internalError(reason, `KVM_EXIT_IO with size ${size} × ${count} at offset ${off}`);
        }
        x.reason = ExitReason.Io;
        x.ioIn = this.run8[KVM_RUN_IO_DIRECTION] === KVM_EXIT_IO_IN;
        x.ioPort = d.getUint16(KVM_RUN_IO_PORT, true);
        x.ioSize = size;
        x.ioCount = count;
        x.ioData = count === 1 ? this.ioView(off, size) : this.run8.subarray(off, off + size * count);
        this.completionPending = true;
        return x;
      }
      case KVM_EXIT_MMIO:
        x.reason = ExitReason.Mmio;
        x.mmioAddr = d.getUint32(KVM_RUN_MMIO_PHYS_ADDR, true) + d.getUint32(KVM_RUN_MMIO_PHYS_ADDR + 4, true) * 0x1_0000_0000;
        x.mmioLen = d.getUint32(KVM_RUN_MMIO_LEN, true);
        x.mmioWrite = this.run8[KVM_RUN_MMIO_IS_WRITE] !== 0;
        this.completionPending = true;
        return x;
      case KVM_EXIT_HLT:
        x.reason = ExitReason.Hlt;
        return x;
      case KVM_EXIT_SHUTDOWN:
        x.reason = ExitReason.Shutdown;
        return x;
      case KVM_EXIT_INTR:
        this.run8[KVM_RUN_IMMEDIATE_EXIT] = 0;
        x.reason = ExitReason.Interrupted;
        return x;
      case KVM_EXIT_SYSTEM_EVENT:
        x.reason = ExitReason.SystemEvent;
        x.eventType = d.getUint32(KVM_RUN_SYSTEM_EVENT_TYPE, true);
        return x;
      case KVM_EXIT_FAIL_ENTRY: {
        const hw = d.getUint32(KVM_RUN_FAIL_ENTRY_REASON, true) + d.getUint32(KVM_RUN_FAIL_ENTRY_REASON + 4, true) * 0x1_0000_0000;
        x.reason = ExitReason.FailEntry;
        x.hwReason = hw;
        x.suberror = 0;
        x.message = `KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (hardware entry failure reason 0x${hw.toString(16)}, ` +
          `host CPU ${d.getUint32(KVM_RUN_FAIL_ENTRY_CPU, true)})\n${this.dump()}`;
        return x;
      }
      case KVM_EXIT_INTERNAL_ERROR: {
        const sub = d.getUint32(KVM_RUN_INTERNAL_SUBERROR, true);
        const ndata = Math.min(d.getUint32(KVM_RUN_INTERNAL_NDATA, true), KVM_INTERNAL_DATA_MAX);
        const data: string[] = [];
        for (let i = 0; i < ndata; i++) data.push(`0x${d.getBigUint64(KVM_RUN_INTERNAL_DATA + i * 8, true).toString(16)}`);
        const name = KVM_INTERNAL_ERROR_NAMES[sub] ?? 'unknown';
        this.internalError(reason, `KVM_EXIT_INTERNAL_ERROR: suberror ${sub} (${name})${ndata > 0 ? `, data ${data.join(' ')}` : ''}`);
        x.suberror = sub;
        return x;
      }
      default:
        return this.internalError(reason, `unhandled KVM exit reason ${reason} (KVM_EXIT_${KVM_EXIT_NAMES[reason] ?? '?'})`);
    }
  }

  /** Answers the read of the last Io (IN, one element) or Mmio exit; KVM finishes the instruction on the next run. */
  completeRead(exit: VcpuExit, value: number, high = 0): void {
    if (exit.reason === ExitReason.Io && exit.ioIn) {
      const d = exit.ioData;
      d[0] = value;
      if (exit.ioSize > 1) d[1] = value >>> 8;
      if (exit.ioSize > 2) { d[2] = value >>> 16; d[3] = value >>> 24; }
    } else if (exit.reason === ExitReason.Mmio && !exit.mmioWrite) {
      this.mmioDv.setUint32(0, value >>> 0, true);
      this.mmioDv.setUint32(4, high >>> 0, true);
    } else {
      throw new Error('completeRead: the last exit was not a read');
    }
  }

  getState(): CpuState {
    this.completePending();
    this.ioctl(KVM_GET_REGS, this.regs, 'KVM_GET_REGS');
    this.ioctl(KVM_GET_SREGS, this.sregs, 'KVM_GET_SREGS');
    return decodeState(this.regs, this.sregs);
  }

  setState(state: CpuState): void {
    this.completePending();
    // Read first: kvm_sregs carries an interrupt being injected, which CpuState does not.
    this.ioctl(KVM_GET_SREGS, this.sregs, 'KVM_GET_SREGS');
    encodeSregs(state, this.sregs);
    encodeRegs(state, this.regs);
    this.ioctl(KVM_SET_SREGS, this.sregs, 'KVM_SET_SREGS');
    this.ioctl(KVM_SET_REGS, this.regs, 'KVM_SET_REGS');
  }

  /** Reads one MSR (throws when KVM does not have it). */
  getMsr(index: number): bigint {
    const v = this.msrEntry(index, 0n);
    const n = this.c.ioctlPtr(this.fd, KVM_GET_MSRS, this.msrs);
    if (n !== 1) throw new Error(`KVM_GET_MSRS 0x${index.toString(16)}: ${n < 0 ? errnoText(lastErrno()) : 'not supported'}`);
    return v.getBigUint64(KVM_MSRS_HEADER_BYTES + 8, true);
  }

  /** Writes one MSR (e.g. IA32_TSC on reset; throws when KVM refuses the value). */
  setMsr(index: number, value: bigint): void {
    this.msrEntry(index, value);
    const n = this.c.ioctlPtr(this.fd, KVM_SET_MSRS, this.msrs);
    if (n !== 1) throw new Error(`KVM_SET_MSRS 0x${index.toString(16)}=0x${value.toString(16)}: ${n < 0 ? errnoText(lastErrno()) : 'refused'}`);
  }

  /** Not available: this VM always has the in-kernel irqchip; drive lines with KvmIrqLines instead. */
  injectInterrupt(vector: number): void {
    throw new Error(`KVM vCPU ${this.id}: cannot inject vector ${vector} directly — the in-kernel PIC/IOAPIC/LAPIC deliver interrupts; raise a line with KvmIrqLines.setIrqLine`);
  }

  /** Unmaps kvm_run (after withdrawing from kicks). The fd stays KvmVm's to close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    withdrawRunner(this.kickSlot);
    this.c.munmap(this.runPtr, this.runBytes);
  }

  private ioView(off: number, size: 1 | 2 | 4): Uint8Array {
    if (off !== this.ioDataOffset) {
      this.ioDataOffset = off;
      this.ioView1 = this.run8.subarray(off, off + 1);
      this.ioView2 = this.run8.subarray(off, off + 2);
      this.ioView4 = this.run8.subarray(off, off + 4);
    }
    return size === 1 ? this.ioView1 : size === 2 ? this.ioView2 : this.ioView4;
  }

  /** Re-enters KVM with immediate_exit so a pending I/O or MMIO read lands before state moves. */
  private completePending(): void {
    if (!this.completionPending) return;
    this.completionPending = false;
    this.run8[KVM_RUN_IMMEDIATE_EXIT] = 1;
    const r = this.c.ioctlInt(this.fd, KVM_RUN, 0);
    const e = lastErrno();
    this.run8[KVM_RUN_IMMEDIATE_EXIT] = 0;
    if (r >= 0) throw new Error(`KVM vCPU ${this.id}: KVM_RUN with immediate_exit ran the guest (exit ${this.runDv.getUint32(KVM_RUN_EXIT_REASON, true)})`);
    if (e !== EINTR) throw new Error(`KVM vCPU ${this.id}: completing the pending I/O: ${errnoText(e)}`);
  }

  private internalError(reason: number, message: string): VcpuExit {
    const x = this.exit;
    x.reason = ExitReason.InternalError;
    x.hwReason = reason;
    x.suberror = 0;
    x.message = `${message}\n${this.dump()}`;
    return x;
  }

  private dump(): string {
    try { return formatRegisterDump(this.getState()); } catch (e) { return `(registers unavailable: ${(e as Error).message})`; }
  }

  private msrEntry(index: number, value: bigint): DataView {
    const v = new DataView(this.msrs.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(4, 0, true);
    v.setUint32(KVM_MSRS_HEADER_BYTES, index >>> 0, true);
    v.setUint32(KVM_MSRS_HEADER_BYTES + 4, 0, true);
    v.setBigUint64(KVM_MSRS_HEADER_BYTES + 8, BigInt.asUintN(64, value), true);
    return v;
  }

  private ioctl(request: number, arg: Uint8Array, what: string): void {
    if (this.c.ioctlPtr(this.fd, request, arg) < 0) throw new Error(`${what} (vCPU ${this.id}): ${errnoText(lastErrno())}`);
  }

  /** KVM_GET_SUPPORTED_CPUID (growing the buffer while KVM says E2BIG), trimmed, then KVM_SET_CPUID2. */
  private setCpuid(kvmFd: number): void {
    for (let nent = 64; nent <= KVM_CPUID_ENTRIES_LIMIT; nent *= 2) {
      const buf = new Uint8Array(KVM_CPUID2_HEADER_BYTES + nent * KVM_CPUID_ENTRY2_BYTES);
      new DataView(buf.buffer).setUint32(0, nent, true);
      if (this.c.ioctlPtr(kvmFd, KVM_GET_SUPPORTED_CPUID, buf) < 0) {
        const e = lastErrno();
        if (e === E2BIG) continue;
        throw new Error(`KVM_GET_SUPPORTED_CPUID: ${errnoText(e)}`);
      }
      this.ioctl(KVM_SET_CPUID2, trimCpuid(buf, this.id), 'KVM_SET_CPUID2');
      return;
    }
    throw new Error(`KVM_GET_SUPPORTED_CPUID: more than ${KVM_CPUID_ENTRIES_LIMIT} entries`);
  }
}
