// The soft accelerator's CPUs on one thread: one SoftCpu per vCPU (its own registers, TLB and
// decoded-block cache) over the one guest RAM, with decoded-code tracking shared so a store by any
// CPU invalidates what every CPU decoded (Mmu.shareCodeTracking). LOCK-prefixed instructions are
// atomic for free: only one CPU runs at a time.
//
// Start-up follows the Intel MultiProcessor Specification 1.4, appendix B.4, and SDM vol. 3A
// 8.4 ("Multiple-Processor (MP) Initialization") and 10.6.1 (ICR delivery modes):
//  - at power-up and after a machine reset only the BSP runs; every AP waits for a STARTUP IPI;
//  - INIT puts a CPU in its INIT state (SDM vol. 3A table 9-1: real mode, CS:IP F000:FFF0 with
//    base FFFF0000h, EDX the CPUID signature). An AP then waits for a STARTUP IPI; the BSP
//    starts at the reset vector. The platform has already reset the local APIC (but its ID);
//  - a STARTUP IPI to a waiting AP starts it in real mode at CS = VV00h, IP = 0 (the vector VV
//    names the 4 KiB start page VV000h); a STARTUP IPI to a CPU that is not waiting is ignored,
//    which is what makes the MP spec's second SIPI harmless.
// IPIs arrive while the sender runs (inside its LAPIC write); they are queued and applied when
// the sender's run slice ends, so a CPU is never reset from inside its own run loop.

import type { GuestRam } from '../memory.js';
import { resetState, type CpuState } from '../vcpu.js';
import type { CpuIo, InterruptController } from '../soft/api.js';
import { SoftCpu } from '../soft/cpu.js';
import { Mmu } from '../soft/mmu.js';
import type { IpiKind, SoftPlatform } from '../soft/platform.js';
import { CPUID_SIGNATURE } from '../soft/system.js';
import { X87 } from '../soft/x87.js';
import { Sse } from '../soft/sse.js';

/** IA32_APIC_BASE of an AP at power-up: FEE00000h, enabled, not the BSP. */
const APIC_BASE_AP = 0xfee0_0800;
/** EFLAGS.IF. */
const FLAG_IF = 0x200;
/** Start-up IPIs queued during one run slice at most (a guest flooding the ICR loses the rest). */
const IPI_QUEUE_MAX = 256;

/** What the CPU set needs from the worker, per CPU. */
export interface SoftCpusOptions {
  ram: GuestRam;
  platform: SoftPlatform;
  clock: () => number;
  /** Port and MMIO path of CPU `cpu` (its own LAPIC page). */
  io: (cpu: number) => CpuIo;
  /** Interrupt controller CPU `cpu` polls. */
  intc: (cpu: number) => InterruptController;
}

/** The INIT state of a CPU (SDM vol. 3A table 9-1), keeping its IA32_APIC_BASE. */
function initState(apicBase: number): CpuState {
  const s = resetState();
  s.rdx = BigInt(CPUID_SIGNATURE);
  s.apicBase = BigInt(apicBase >>> 0);
  return s;
}

/** Every vCPU of a soft-accelerated guest, and their start-up protocol. */
export class SoftCpus {
  readonly cpus: SoftCpu[] = [];
  /** 1 while CPU i is in wait-for-SIPI (not run). */
  readonly waitSipi: Uint8Array;
  private readonly platform: SoftPlatform;
  private readonly queue: number[] = [];
  /** True when the queue holds IPIs to apply. */
  ipisQueued = false;

  constructor(o: SoftCpusOptions) {
    this.platform = o.platform;
    const n = o.platform.cpuCount;
    this.waitSipi = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const cpu = new SoftCpu({ ram: o.ram, io: o.io(i), intc: o.intc(i), clock: o.clock, id: i });
      const x87 = new X87(cpu);
      cpu.attachUnits(x87, new Sse(cpu, x87));
      cpu.onApicBaseWrite = (v) => o.platform.setApicBaseMsr(i, v);
      cpu.yieldOnPause = n > 1;
      this.cpus.push(cpu);
    }
    Mmu.shareCodeTracking(this.cpus);
  }

  /** The platform's INIT/STARTUP hook: queued until the sender's slice ends. */
  onIpi(target: number, kind: IpiKind, vector: number): void {
    if (this.queue.length >= IPI_QUEUE_MAX * 3) return;
    this.queue.push(target, kind === 'init' ? 0 : 1, vector);
    this.ipisQueued = true;
  }

  /** Applies the queued INIT and STARTUP IPIs in the order they were sent. */
  applyIpis(): void {
    const q = this.queue;
    for (let k = 0; k + 2 < q.length; k += 3) {
      const i = q[k]!, cpu = this.cpus[i];
      if (cpu === undefined) continue;
      if (q[k + 1] === 0) {
        cpu.setState(initState(cpu.apicBase));
        // The BSP leaves INIT at the reset vector; an AP waits for a STARTUP IPI.
        this.waitSipi[i] = i === 0 ? 0 : 1;
      } else if (this.waitSipi[i] === 1) {
        const s = initState(cpu.apicBase);
        const vv = q[k + 2]! & 0xff;
        s.cs.selector = vv << 8;
        s.cs.base = vv << 12;
        s.rip = 0n;
        cpu.setState(s);
        this.waitSipi[i] = 0;
      }
    }
    q.length = 0;
    this.ipisQueued = false;
  }

  /**
   * Power-up or machine reset: the BSP takes `states[0]` (the boot loader's), every AP its INIT
   * state waiting for a STARTUP IPI, every local APIC reset when `resetApics`.
   */
  setStates(states: CpuState[], resetApics: boolean): void {
    const bsp = states[0];
    if (bsp === undefined) throw new Error('soft CPUs: no state for the BSP');
    this.queue.length = 0;
    this.ipisQueued = false;
    for (let i = 0; i < this.cpus.length; i++) {
      const cpu = this.cpus[i]!;
      if (resetApics) this.platform.resetCpu(i);
      if (i === 0) {
        cpu.setState(bsp);
        this.waitSipi[0] = 0;
      } else {
        cpu.setState(initState(APIC_BASE_AP));
        this.waitSipi[i] = 1;
      }
      this.platform.setApicBaseMsr(i, cpu.apicBase >>> 0);
    }
  }

  /** Whether no CPU can ever run again by itself: each waits for a SIPI or halted with IF=0 and no NMI. */
  allStoppedForever(): boolean {
    for (let i = 0; i < this.cpus.length; i++) {
      if (this.waitSipi[i] === 1) continue;
      const cpu = this.cpus[i]!;
      if (!cpu.halted || (cpu.eflags & FLAG_IF) !== 0 || cpu.canWake()) return false;
    }
    return true;
  }

  /** Whether some running CPU is not halted, or a halted one has an interrupt or NMI to take. */
  anyRunnable(): boolean { return this.othersRunnable(-1); }

  /** anyRunnable, not counting CPU `self`. */
  othersRunnable(self: number): boolean {
    for (let i = 0; i < this.cpus.length; i++) {
      if (this.waitSipi[i] === 1 || i === self) continue;
      const cpu = this.cpus[i]!;
      if (!cpu.halted || cpu.canWake()) return true;
    }
    return false;
  }
}
