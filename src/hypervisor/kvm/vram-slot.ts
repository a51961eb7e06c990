// VRAM as a KVM memory slot: the display card's linear framebuffer at its BAR, with dirty-page
// logging (KVM_MEM_LOG_DIRTY_PAGES, read back with KVM_GET_DIRTY_LOG; Documentation/virt/kvm/
// api.rst, 4.35 and 4.8). Driven from any thread that has the VM fd (the device model's).

import type { VramSlot } from '../vram.js';
import {
  KVM_DIRTY_LOG_BYTES, KVM_GET_DIRTY_LOG, KVM_MEM_LOG_DIRTY_PAGES, KVM_SET_USER_MEMORY_REGION,
  KVM_USERSPACE_MEMORY_REGION_BYTES,
} from './abi.js';
import { errnoText, hostAddress, lastErrno, libc } from './ffi.js';

/** The VRAM slot's number (kvm-vm.ts uses 0-2 for RAM and ROM). */
export const SLOT_VRAM = 3;
const PAGE = 4096;

/** The VRAM memory slot of one VM. */
export class KvmVramSlot implements VramSlot {
  private readonly hostAddr: number;
  private gpa = 0;
  private size = 0;
  /** KVM's bitmap (u64 words, bit n = page n of the slot), in memory that never moves. */
  private readonly log: Int32Array;
  private readonly logArg = new Uint8Array(KVM_DIRTY_LOG_BYTES);
  private readonly region = new Uint8Array(KVM_USERSPACE_MEMORY_REGION_BYTES);

  constructor(private readonly vmFd: number, vram: Uint8Array) {
    if (!Number.isInteger(vmFd) || vmFd < 0) throw new Error(`KVM VRAM slot: bad VM fd ${vmFd}`);
    this.hostAddr = hostAddress(vram);
    if (this.hostAddr % PAGE !== 0) throw new Error('KVM: VRAM is not page-aligned in host memory');
    const pages = Math.ceil(vram.length / PAGE);
    this.log = new Int32Array(new SharedArrayBuffer(Math.max(8, Math.ceil(pages / 64) * 8)));
    const a = new DataView(this.logArg.buffer);
    a.setUint32(0, SLOT_VRAM, true);
    a.setBigUint64(8, BigInt(hostAddress(new Uint8Array(this.log.buffer))), true);
  }

  map(gpa: number, size: number): void {
    if (this.size !== 0) this.setRegion(this.gpa, 0, 0);
    this.gpa = 0;
    this.size = 0;
    if (size === 0) return;
    this.setRegion(gpa, size, KVM_MEM_LOG_DIRTY_PAGES);
    this.gpa = gpa;
    this.size = size;
  }

  collect(bitmap: Int32Array): void {
    if (this.size === 0) return;
    const log = this.log;
    const words = Math.ceil(this.size / PAGE / 32);
    log.fill(0, 0, words);
    if (libc().ioctlPtr(this.vmFd, KVM_GET_DIRTY_LOG, this.logArg) < 0) {
      throw new Error(`KVM_GET_DIRTY_LOG: ${errnoText(lastErrno())}`);
    }
    for (let i = 0; i < words && i < bitmap.length; i++) {
      const v = log[i]!;
      if (v !== 0) Atomics.or(bitmap, i, v);
    }
  }

  private setRegion(gpa: number, size: number, flags: number): void {
    const v = new DataView(this.region.buffer);
    v.setUint32(0, SLOT_VRAM, true);
    v.setUint32(4, flags, true);
    v.setBigUint64(8, BigInt(gpa), true);
    v.setBigUint64(16, BigInt(size), true);
    v.setBigUint64(24, BigInt(this.hostAddr), true);
    if (libc().ioctlPtr(this.vmFd, KVM_SET_USER_MEMORY_REGION, this.region) < 0) {
      throw new Error(`KVM_SET_USER_MEMORY_REGION VRAM slot (0x${gpa.toString(16)}+0x${size.toString(16)}): ${errnoText(lastErrno())}`);
    }
  }
}
