// One KVM virtual machine, created on the main thread: the VM fd, the in-kernel interrupt
// controllers and PIT, guest RAM as memory slots, and the vCPU fds that vCPU workers run.
//
// File descriptors are process-wide, so the VM fd goes to the device model (interrupt lines) and
// each vCPU fd to its worker as plain numbers (KvmHandles).

import type { GuestRam } from '../memory.js';
import { FOUR_GIB, VGA_WINDOW_END, VGA_WINDOW_START } from '../memory.js';
import {
  KVM_API_VERSION, KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IRQ_ROUTING, KVM_CAP_MAX_VCPUS, KVM_CAP_NR_VCPUS, KVM_CAP_PIT2,
  KVM_CAP_READONLY_MEM, KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_USER_MEMORY, KVM_CHECK_EXTENSION, KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE, KVM_IRQCHIP_IOAPIC,
  KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQ_ROUTING_ENTRY_BYTES, KVM_IRQ_ROUTING_HEADER_BYTES,
  KVM_IRQ_ROUTING_IRQCHIP, KVM_MEM_READONLY, KVM_PIT_CONFIG_BYTES, KVM_PIT_SPEAKER_DUMMY, KVM_SET_GSI_ROUTING,
  KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR, KVM_SET_USER_MEMORY_REGION, KVM_USERSPACE_MEMORY_REGION_BYTES,
} from './abi.js';
import { O_CLOEXEC, O_RDWR, errnoText, hostAddress, lastErrno, libc } from './ffi.js';
import { allocateKickSlot, kickVcpu, registerKickSlot, type KickSlot } from './kick.js';
import { KVM_IRQ_LINES } from './irq-lines.js';

const PAGE = 4096;
/** The VMX real-mode TSS (3 pages) and identity-map page: just below a ROM of up to 256 KiB. */
const DEFAULT_TSS_ADDR = 0xfffbd000;
const TSS_BYTES = 3 * PAGE;
const MAX_ROM_BELOW_DEFAULT_TSS = FOUR_GIB - (DEFAULT_TSS_ADDR + TSS_BYTES);

/** Memory slot numbers. */
const SLOT_LOW_RAM = 0;
const SLOT_HIGH_RAM = 1;
const SLOT_ROM = 2;
/** Slot 3 is VRAM (vram-slot.ts); slot 4 low RAM above the VGA window when a display has it. */
const SLOT_LOW_RAM_ABOVE_VGA = 4;

/** What a worker needs to use this VM: plain data (numbers and shared memory), postable. */
export interface KvmHandles {
  vmFd: number;
  vcpuFds: number[];
  /** Per vCPU: where its thread publishes itself so kickVcpu() can reach it. */
  kickSlots: KickSlot[];
  /** Host address of guest-physical 0 (0 before mapMemory). */
  ramHostAddr: number;
  /** KVM_GET_VCPU_MMAP_SIZE. */
  vcpuMmapSize: number;
}

/** KVM capabilities this VM checked. */
export interface KvmCaps {
  readonlyMem: boolean;
  immediateExit: boolean;
  irqRouting: boolean;
  maxVcpus: number;
}

/** How ISA interrupts reach the IOAPIC. */
export type GsiRouting =
  /** A PC's wiring (and QEMU's): GSI 0 (the PIT) on IOAPIC pin 2; firmware reports IRQ0→GSI2. */
  | 'pc'
  /** KVM's default: GSI n on IOAPIC pin n (and PIC input n for n < 16). */
  | 'identity';

/** Options for KvmVm. */
export interface KvmVmOptions { gsiRouting?: GsiRouting }

/** One KVM VM: in-kernel PIC, IOAPIC, LAPICs and PIT, RAM slots, and `cpus` vCPU fds. */
export class KvmVm {
  readonly kvmFd: number;
  readonly vmFd: number;
  readonly caps: KvmCaps;
  readonly vcpuMmapSize: number;
  private readonly vcpuFds: number[] = [];
  private readonly kickSlots: KickSlot[] = [];
  private ramHostAddr = 0;
  private closed = false;

  constructor(readonly cpus: number, options: KvmVmOptions = {}) {
    const c = libc();
    if (!Number.isInteger(cpus) || cpus < 1) throw new Error(`KVM: ${cpus} vCPUs is not a positive whole number`);
    const kvmFd = c.open('/dev/kvm', O_RDWR | O_CLOEXEC, 0);
    if (kvmFd < 0) throw new Error(`/dev/kvm: ${errnoText(lastErrno())}`);
    this.kvmFd = kvmFd;
    let vmFd = -1;
    try {
      const version = c.ioctlInt(kvmFd, KVM_GET_API_VERSION, 0);
      if (version !== KVM_API_VERSION) throw new Error(`/dev/kvm speaks API version ${version}, not ${KVM_API_VERSION}`);
      const cap = (n: number): number => Math.max(0, c.ioctlInt(kvmFd, KVM_CHECK_EXTENSION, n));
      for (const [n, what] of [[KVM_CAP_USER_MEMORY, 'user memory'], [KVM_CAP_PIT2, 'the in-kernel PIT'],
        [KVM_CAP_SET_IDENTITY_MAP_ADDR, 'KVM_SET_IDENTITY_MAP_ADDR']] as const) {
        if (cap(n) === 0) throw new Error(`this KVM lacks ${what}`);
      }
      this.caps = {
        readonlyMem: cap(KVM_CAP_READONLY_MEM) > 0,
        immediateExit: cap(KVM_CAP_IMMEDIATE_EXIT) > 0,
        irqRouting: cap(KVM_CAP_IRQ_ROUTING) > 0,
        maxVcpus: cap(KVM_CAP_MAX_VCPUS) || cap(KVM_CAP_NR_VCPUS) || 4,
      };
      if (!this.caps.immediateExit) throw new Error('this KVM lacks KVM_CAP_IMMEDIATE_EXIT, which kicking a vCPU relies on');
      if (cpus > this.caps.maxVcpus) throw new Error(`KVM here runs at most ${this.caps.maxVcpus} vCPUs (asked for ${cpus})`);
      this.vcpuMmapSize = c.ioctlInt(kvmFd, KVM_GET_VCPU_MMAP_SIZE, 0);
      if (this.vcpuMmapSize <= 0) throw new Error(`KVM_GET_VCPU_MMAP_SIZE: ${errnoText(lastErrno())}`);
      vmFd = c.ioctlInt(kvmFd, KVM_CREATE_VM, 0);
      if (vmFd < 0) throw new Error(`KVM_CREATE_VM: ${errnoText(lastErrno())}`);
      this.vmFd = vmFd;
      this.check(c.ioctlInt(vmFd, KVM_CREATE_IRQCHIP, 0), 'KVM_CREATE_IRQCHIP');
      const pit = new Uint8Array(KVM_PIT_CONFIG_BYTES);
      new DataView(pit.buffer).setUint32(0, KVM_PIT_SPEAKER_DUMMY, true);
      this.check(c.ioctlPtr(vmFd, KVM_CREATE_PIT2, pit), 'KVM_CREATE_PIT2');
      if ((options.gsiRouting ?? 'pc') === 'pc') {
        if (!this.caps.irqRouting) throw new Error('this KVM cannot route GSI 0 to IOAPIC pin 2 (no KVM_CAP_IRQ_ROUTING)');
        this.check(c.ioctlPtr(vmFd, KVM_SET_GSI_ROUTING, pcGsiRouting()), 'KVM_SET_GSI_ROUTING');
      }
    } catch (e) {
      if (vmFd >= 0) c.close(vmFd);
      c.close(kvmFd);
      throw e;
    }
  }

  /**
   * Where guest-physical 0 must sit in `buffer` (GuestRam's `offset`) so that it is page-aligned
   * in host memory, as KVM requires. The buffer's store never moves.
   */
  alignedOffset(buffer: SharedArrayBuffer): number {
    const addr = hostAddress(new Uint8Array(buffer));
    return (PAGE - (addr % PAGE)) % PAGE;
  }

  /**
   * Maps `ram` into the guest (low RAM at 0, high RAM at 4 GiB, the ROM just below 4 GiB —
   * read-only where KVM can, so guest writes to it exit as MMIO), places the real-mode TSS and
   * identity-map page below the ROM, then creates the vCPUs. Once per VM.
   */
  mapMemory(ram: GuestRam): void {
    this.assertOpen();
    if (this.ramHostAddr !== 0) throw new Error('KVM: guest memory is already mapped');
    const base = hostAddress(ram.u8);
    if (base % PAGE !== 0) throw new Error(`KVM: guest RAM at host 0x${base.toString(16)} is not page-aligned (use alignedOffset)`);
    const l = ram.layout;
    const c = libc();
    const rom = l.romBytes;
    const tss = rom <= MAX_ROM_BELOW_DEFAULT_TSS ? DEFAULT_TSS_ADDR : ram.romBase - TSS_BYTES;
    const identityMap = tss - PAGE;
    if (identityMap < l.lowRamBytes) throw new Error('KVM: no room below the ROM for the real-mode TSS');
    const idmap = new Uint8Array(8);
    new DataView(idmap.buffer).setBigUint64(0, BigInt(identityMap), true);
    this.check(c.ioctlPtr(this.vmFd, KVM_SET_IDENTITY_MAP_ADDR, idmap), 'KVM_SET_IDENTITY_MAP_ADDR');
    this.check(c.ioctlInt(this.vmFd, KVM_SET_TSS_ADDR, tss), 'KVM_SET_TSS_ADDR');

    if (ram.vgaWindow && l.lowRamBytes > VGA_WINDOW_START) {
      // The display card decodes 0xA0000-0xBFFFF: guest accesses there exit as MMIO.
      this.setSlot(SLOT_LOW_RAM, 0, VGA_WINDOW_START, base, 0);
      if (l.lowRamBytes > VGA_WINDOW_END) {
        this.setSlot(SLOT_LOW_RAM_ABOVE_VGA, VGA_WINDOW_END, l.lowRamBytes - VGA_WINDOW_END, base + VGA_WINDOW_END, 0);
      }
    } else {
      this.setSlot(SLOT_LOW_RAM, 0, l.lowRamBytes, base, 0);
    }
    if (l.highRamBytes > 0) this.setSlot(SLOT_HIGH_RAM, FOUR_GIB, l.highRamBytes, base + l.lowRamBytes, 0);
    if (rom > 0) this.setSlot(SLOT_ROM, ram.romBase, rom, base + l.ramBytes, this.caps.readonlyMem ? KVM_MEM_READONLY : 0);
    this.ramHostAddr = base;

    for (let i = 0; i < this.cpus; i++) {
      const fd = c.ioctlInt(this.vmFd, KVM_CREATE_VCPU, i);
      if (fd < 0) throw new Error(`KVM_CREATE_VCPU ${i}: ${errnoText(lastErrno())}`);
      const slot = allocateKickSlot();
      this.vcpuFds.push(fd);
      this.kickSlots.push(slot);
      registerKickSlot(fd, slot);
    }
  }

  /** The fd of vCPU `i` (after mapMemory). */
  vcpuFd(i: number): number {
    const fd = this.vcpuFds[i];
    if (fd === undefined) throw new Error(this.vcpuFds.length === 0 ? 'KVM: map guest memory before using vCPUs' : `KVM: no vCPU ${i}`);
    return fd;
  }

  /** The kick slot of vCPU `i`, to pass to the worker that runs it. */
  kickSlot(i: number): KickSlot {
    const s = this.kickSlots[i];
    if (s === undefined) throw new Error(`KVM: no vCPU ${i}`);
    return s;
  }

  /** Plain data for workers. */
  handles(): KvmHandles {
    return {
      vmFd: this.vmFd, vcpuFds: [...this.vcpuFds], kickSlots: [...this.kickSlots],
      ramHostAddr: this.ramHostAddr, vcpuMmapSize: this.vcpuMmapSize,
    };
  }

  /** Makes vCPU `i` leave KVM_RUN (its run() returns Interrupted). */
  kick(i: number): void {
    if (this.closed) return;
    kickVcpu(this.kickSlot(i));
  }

  /** Kicks every vCPU. */
  kickAll(): void {
    if (this.closed) return;
    for (const s of this.kickSlots) kickVcpu(s);
  }

  /** Closes the vCPU and VM fds. Workers must have stopped running their vCPUs. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    for (const fd of this.vcpuFds) { registerKickSlot(fd, undefined); c.close(fd); }
    c.close(this.vmFd);
    c.close(this.kvmFd);
  }

  private setSlot(slot: number, gpa: number, size: number, hostAddr: number, flags: number): void {
    const region = new Uint8Array(KVM_USERSPACE_MEMORY_REGION_BYTES);
    const v = new DataView(region.buffer);
    v.setUint32(0, slot, true);
    v.setUint32(4, flags, true);
    v.setBigUint64(8, BigInt(gpa), true);
    v.setBigUint64(16, BigInt(size), true);
    v.setBigUint64(24, BigInt(hostAddr), true);
    const what = `KVM_SET_USER_MEMORY_REGION slot ${slot} (0x${gpa.toString(16)}+0x${size.toString(16)})`;
    this.check(libc().ioctlPtr(this.vmFd, KVM_SET_USER_MEMORY_REGION, region), what);
  }

  private check(r: number, what: string): void {
    if (r < 0) throw new Error(`${what}: ${errnoText(lastErrno())}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KVM: the VM is closed');
  }
}

/**
 * The PC's interrupt wiring as a GSI routing table: GSIs 0-15 reach the 8259 pair (except 2, the
 * cascade), GSIs 0-23 reach the IOAPIC, with GSI 0 on pin 2 where PCs (and QEMU) wire the PIT.
 */
export function pcGsiRouting(): Uint8Array {
  const entries: [gsi: number, chip: number, pin: number][] = [];
  for (let gsi = 0; gsi < 16; gsi++) {
    if (gsi === 2) continue;
    entries.push([gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi & 7]);
  }
  for (let gsi = 0; gsi < KVM_IRQ_LINES; gsi++) entries.push([gsi, KVM_IRQCHIP_IOAPIC, gsi === 0 ? 2 : gsi]);
  const buf = new Uint8Array(KVM_IRQ_ROUTING_HEADER_BYTES + entries.length * KVM_IRQ_ROUTING_ENTRY_BYTES);
  const v = new DataView(buf.buffer);
  v.setUint32(0, entries.length, true);
  entries.forEach(([gsi, chip, pin], i) => {
    const o = KVM_IRQ_ROUTING_HEADER_BYTES + i * KVM_IRQ_ROUTING_ENTRY_BYTES;
    v.setUint32(o, gsi, true);
    v.setUint32(o + 4, KVM_IRQ_ROUTING_IRQCHIP, true);
    v.setUint32(o + 16, chip, true);
    v.setUint32(o + 20, pin, true);
  });
  return buf;
}
