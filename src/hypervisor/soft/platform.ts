// The interrupt controllers and timers the soft accelerator serves on the CPU's own thread (KVM
// keeps them in the kernel): the 8259A pair, the 8254 PIT with port 0x61, the IOAPIC and one
// local APIC per CPU, wired as on a PIIX3 PC.
//
// Wiring: ISA lines 0-15 go to both the PIC and the IOAPIC; ISA IRQ0 lands on IOAPIC pin 2 (the
// interrupt source override every PC firmware declares) and the cascade line 2 reaches no IOAPIC
// pin; lines 16-23 are IOAPIC-only (PCI). The PIC's INTR reaches CPU 0 through LINT0 in ExtINT
// mode (virtual wire), or straight when that CPU's LAPIC is hardware- or software-disabled.
//
// MMIO windows: the LAPIC page at APIC_BASE (4 KiB, relocatable through the MSR) and the IOAPIC
// at 0xFEC00000 with a 4 KiB window — the size QEMU maps. The 82093AA itself decodes only
// IOREGSEL/IOWIN at 0x00/0x10, but nothing else lives in that page on a PC, and a whole page keeps
// the soft CPU's page-granular MMIO check exact.
//
// `hasInterrupt` reads a flag per CPU that every entry point recomputes after it changed state,
// so the check the CPU makes at each block boundary costs one property load.

import type { InterruptController } from './api.js';
import { I8259, type I8259State } from './i8259.js';
import { I8254, type I8254State } from './i8254.js';
import { Ioapic, type IoapicState } from './ioapic.js';
import { DeliveryMode, Lapic, type LapicState } from './lapic.js';
import { TSC_HZ } from './system.js';

/** IA32_APIC_BASE bits. */
const APIC_BASE_BSP = 0x100;
const APIC_BASE_ENABLE = 0x800;
const APIC_BASE_ADDR = 0xffff_f000;
const APIC_BASE_DEFAULT = 0xfee0_0000;
/** IOAPIC window. */
export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_SIZE = 0x1000;
const LAPIC_SIZE = 0x1000;
/** ICR low bits. */
const ICR_DEST_LOGICAL = 0x800;
const ICR_LEVEL_ASSERT = 0x4000;
const ICR_TRIGGER_LEVEL = 0x8000;
const ICR_SHORTHAND_SHIFT = 18;
const SH_NONE = 0, SH_SELF = 1, SH_ALL = 2;
/** ISA wiring. */
const ISA_LINES = 16;
const PIC_CASCADE = 2;
const IOAPIC_PIN_FOR_IRQ0 = 2;
const IRQ_LINES = 24;

/** Start-up IPIs the platform cannot serve itself (a CPU must be reset or started). */
export type IpiKind = 'init' | 'startup';

/** Options of the platform. */
export interface SoftPlatformOptions {
  cpus: number;
  /** Monotonic milliseconds. */
  clock: () => number;
  /** TSC frequency (Hz) for TSC-deadline mode; defaults to the soft CPU's. */
  tscHz?: number;
  /** INIT or SIPI sent to CPU `target` (SIPI carries the start page in `vector`). */
  onIpi?: (target: number, kind: IpiKind, vector: number) => void;
}

/** Saved state of the whole platform. */
export interface SoftPlatformState {
  stateVersion: number;
  pic: I8259State;
  pit: I8254State;
  ioapic: IoapicState;
  lapics: LapicState[];
  apicBase: number[];
  lines: number;
}

/** The per-CPU view the soft CPU polls. */
class CpuInterrupts implements InterruptController {
  pending = false;
  constructor(private readonly platform: SoftPlatform, private readonly cpu: number) {}
  hasInterrupt(): boolean { return this.pending; }
  acknowledge(): number { return this.platform.acknowledge(this.cpu); }
  takeNmi(): boolean { return this.platform.takeNmi(this.cpu); }
}

/** PIC, PIT, IOAPIC and LAPICs of the soft accelerator. */
export class SoftPlatform {
  static readonly stateVersion = 1;
  private readonly clock: () => number;
  private readonly onIpi: ((target: number, kind: IpiKind, vector: number) => void) | undefined;
  private readonly pic = new I8259();
  private readonly pit: I8254;
  private readonly ioapic: Ioapic;
  private readonly lapics: Lapic[] = [];
  private readonly apicBase: number[] = [];
  private readonly intcs: CpuInterrupts[] = [];
  /** Levels of the 24 input lines as last set. */
  private lines = 0;

  constructor(o: SoftPlatformOptions) {
    if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > 255) throw new Error(`soft platform: bad CPU count ${o.cpus}`);
    this.clock = o.clock;
    this.onIpi = o.onIpi;
    this.pit = new I8254({ clock: o.clock, irq0: () => this.pulseIrq(0) });
    this.ioapic = new Ioapic((dest, logical, mode, vector, level) => this.deliver(dest, logical, mode, vector, level));
    for (let i = 0; i < o.cpus; i++) {
      this.lapics.push(new Lapic({
        id: i, clock: o.clock, tscHz: o.tscHz ?? TSC_HZ,
        onEoi: (vector) => this.ioapic.eoi(vector),
        sendIpi: (_from, lo, hi) => this.sendIpi(i, lo, hi),
      }));
      this.apicBase.push(APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (i === 0 ? APIC_BASE_BSP : 0));
      this.intcs.push(new CpuInterrupts(this, i));
    }
  }

  private lapic(cpu: number): Lapic {
    const l = this.lapics[cpu];
    if (l === undefined) throw new Error(`soft platform: no CPU ${cpu}`);
    return l;
  }

  private hwEnabled(cpu: number): boolean { return ((this.apicBase[cpu] ?? 0) & APIC_BASE_ENABLE) !== 0; }

  /** Number of CPUs (local APICs). */
  get cpuCount(): number { return this.lapics.length; }

  /** `cpu`'s power-up: its local APIC reset, IA32_APIC_BASE back at FEE00000h, enabled. */
  resetCpu(cpu: number): void {
    this.lapic(cpu).reset();
    this.apicBase[cpu] = (APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (cpu === 0 ? APIC_BASE_BSP : 0)) >>> 0;
    this.refresh();
  }

  // ---- APIC base MSR ---------------------------------------------------------------------------

  /** RDMSR IA32_APIC_BASE (0x1B) of `cpu` (low 32 bits). */
  apicBaseMsr(cpu: number): number { this.lapic(cpu); return this.apicBase[cpu]! >>> 0; }

  /** WRMSR IA32_APIC_BASE: relocation and hardware enable; disabling resets the LAPIC. */
  setApicBaseMsr(cpu: number, value: number): void {
    const l = this.lapic(cpu);
    const was = this.hwEnabled(cpu);
    this.apicBase[cpu] = ((value & (APIC_BASE_ADDR | APIC_BASE_ENABLE)) | (this.apicBase[cpu]! & APIC_BASE_BSP)) >>> 0;
    if (was && !this.hwEnabled(cpu)) l.reset();
    this.refresh();
  }

  /** WRMSR IA32_TSC_DEADLINE (0x6E0) of `cpu`; `tscNow` is its TSC at the write. */
  writeTscDeadline(cpu: number, value: number, tscNow: number): void {
    this.lapic(cpu).writeTscDeadline(value, tscNow);
    this.refresh();
  }

  /** RDMSR IA32_TSC_DEADLINE of `cpu`. */
  readTscDeadline(cpu: number): number { return this.lapic(cpu).readTscDeadline(); }

  // ---- ports -----------------------------------------------------------------------------------

  /** Whether `port` belongs to the PIC, ELCR, PIT or port B. */
  ownsPort(port: number): boolean {
    return port === 0x20 || port === 0x21 || port === 0xa0 || port === 0xa1 || (port >= 0x40 && port <= 0x43) ||
      port === 0x61 || port === 0x4d0 || port === 0x4d1;
  }

  private readByte(port: number): number {
    if ((port >= 0x40 && port <= 0x43) || port === 0x61) return this.pit.read(port);
    if (!this.ownsPort(port)) return 0xff;
    const v = this.pic.read(port);   // a poll read acknowledges
    this.refresh();
    return v;
  }

  private writeByte(port: number, v: number): void {
    if ((port >= 0x40 && port <= 0x43) || port === 0x61) this.pit.write(port, v);
    else if (this.ownsPort(port)) this.pic.write(port, v);
  }

  /** IN from an owned port; wider accesses read consecutive byte ports. */
  portRead(port: number, size: 1 | 2 | 4): number {
    if (size === 1) return this.readByte(port);
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(port + i) << (i * 8);
    return v >>> 0;
  }

  /** OUT to an owned port; wider accesses write consecutive byte ports. */
  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte(port + i, (value >>> (i * 8)) & 0xff);
    this.refresh();
  }

  // ---- MMIO ------------------------------------------------------------------------------------

  private inLapic(cpu: number, gpa: number): boolean {
    if (!this.hwEnabled(cpu)) return false;
    const base = (this.apicBase[cpu]! & APIC_BASE_ADDR) >>> 0;
    return gpa >= base && gpa < base + LAPIC_SIZE;
  }

  /** Whether `gpa` is in `cpu`'s LAPIC page or the IOAPIC window. */
  ownsMmio(gpa: number, cpu = 0): boolean {
    return this.inLapic(cpu, gpa) || (gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + IOAPIC_SIZE);
  }

  /** MMIO read by `cpu` (its own LAPIC, or the IOAPIC). */
  mmioRead(cpu: number, gpa: number, size: 1 | 2 | 4): number {
    if (this.inLapic(cpu, gpa)) {
      const offset = gpa - ((this.apicBase[cpu]! & APIC_BASE_ADDR) >>> 0);
      const sub = offset & 0xf;
      if (sub + size > 4) return 0;
      const v = this.lapic(cpu).readRegister(offset & 0xff0);
      return size === 4 ? v >>> 0 : (v >>> (sub * 8)) & ((1 << (size * 8)) - 1);
    }
    if (gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + IOAPIC_SIZE) return this.ioapic.read(gpa - IOAPIC_BASE, size);
    return 0xffff_ffff >>> (32 - size * 8);
  }

  /** MMIO write by `cpu`. LAPIC registers take aligned writes; narrower ones merge into the register. */
  mmioWrite(cpu: number, gpa: number, size: 1 | 2 | 4, value: number): void {
    if (this.inLapic(cpu, gpa)) {
      const offset = gpa - ((this.apicBase[cpu]! & APIC_BASE_ADDR) >>> 0);
      if ((offset & 0xf) === 0) {
        const l = this.lapic(cpu);
        const reg = offset & 0xff0;
        let v = value;
        if (size !== 4) {
          const mask = (1 << (size * 8)) - 1;
          v = (l.readRegister(reg) & ~mask) | (value & mask);
        }
        l.writeRegister(reg, v);
      }
    } else if (gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + IOAPIC_SIZE) {
      this.ioapic.write(gpa - IOAPIC_BASE, size, value);
    }
    this.refresh();
  }

  // ---- interrupt lines -------------------------------------------------------------------------

  /** Sets input line `line` (0..23): ISA lines feed the PIC and the IOAPIC, 16-23 the IOAPIC. */
  setIrq(line: number, level: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line >= IRQ_LINES) return;
    const bit = 1 << line;
    if (level) this.lines |= bit; else this.lines &= ~bit;
    if (line < ISA_LINES) {
      this.pic.setIrq(line, level);
      if (line !== PIC_CASCADE) this.ioapic.setPin(line === 0 ? IOAPIC_PIN_FOR_IRQ0 : line, level);
    } else {
      this.ioapic.setPin(line, level);
    }
    this.refresh();
  }

  /** A rising and falling edge on a line that is low (an edge interrupt that came and went). */
  pulseIrq(line: number): void {
    if (!Number.isInteger(line) || line < 0 || line >= IRQ_LINES || (this.lines & (1 << line)) !== 0) return;
    this.setIrq(line, true);
    this.setIrq(line, false);
  }

  /** An IOAPIC message (or a fixed/NMI IPI) to the APICs `dest` selects. */
  private deliver(dest: number, logical: boolean, mode: number, vector: number, level: boolean): void {
    if (mode === DeliveryMode.LowestPriority) {
      // Lowest priority: the accepting APIC with the lowest TPR (the first on a tie).
      let best = -1;
      for (let i = 0; i < this.lapics.length; i++) {
        const l = this.lapics[i]!;
        if (!this.hwEnabled(i) || !l.matches(dest, logical)) continue;
        if (best < 0 || l.tpr < this.lapics[best]!.tpr) best = i;
      }
      if (best >= 0) this.lapics[best]!.accept(DeliveryMode.Fixed, vector, level);
      return;
    }
    for (let i = 0; i < this.lapics.length; i++) {
      const l = this.lapics[i]!;
      if (this.hwEnabled(i) && l.matches(dest, logical)) l.accept(mode, vector, level);
    }
  }

  private sendIpi(from: number, lo: number, hi: number): void {
    const mode = (lo >> 8) & 7;
    const vector = lo & 0xff;
    const level = (lo & ICR_TRIGGER_LEVEL) !== 0;
    // INIT level de-assert only synchronises arbitration IDs.
    if (mode === DeliveryMode.Init && level && (lo & ICR_LEVEL_ASSERT) === 0) return;
    const shorthand = (lo >> ICR_SHORTHAND_SHIFT) & 3;
    if (shorthand === SH_NONE && mode !== DeliveryMode.Init && mode !== DeliveryMode.StartUp) {
      this.deliver(hi >>> 24, (lo & ICR_DEST_LOGICAL) !== 0, mode, vector, level);
      return;
    }
    for (let i = 0; i < this.lapics.length; i++) {
      const l = this.lapics[i]!;
      const selected = shorthand === SH_NONE ? l.matches(hi >>> 24, (lo & ICR_DEST_LOGICAL) !== 0)
        : shorthand === SH_SELF ? i === from : shorthand === SH_ALL ? true : i !== from;
      if (!selected || !this.hwEnabled(i)) continue;
      if (mode === DeliveryMode.Init) { l.initReset(); this.onIpi?.(i, 'init', 0); }
      else if (mode === DeliveryMode.StartUp) this.onIpi?.(i, 'startup', vector);
      else l.accept(mode === DeliveryMode.LowestPriority ? DeliveryMode.Fixed : mode, vector, level);
    }
  }

  // ---- the CPU's view --------------------------------------------------------------------------

  /** Recomputes every CPU's pending flag. */
  private refresh(): void {
    for (let i = 0; i < this.intcs.length; i++) {
      const l = this.lapics[i]!;
      const picHere = i === 0 && this.pic.intr;
      this.intcs[i]!.pending = !this.hwEnabled(i) || !l.softwareEnabled
        ? picHere
        : l.pendingVector() >= 0 || (picHere && l.lint0ExtInt());
    }
  }

  /** The INTA cycle of `cpu`: the PIC's vector via ExtINT (or with the LAPIC off), else the LAPIC's. */
  acknowledge(cpu: number): number {
    const l = this.lapic(cpu);
    let v: number;
    if (!this.hwEnabled(cpu) || !l.softwareEnabled) v = cpu === 0 ? this.pic.acknowledge() : l.svr & 0xff;
    else if (cpu === 0 && this.pic.intr && l.lint0ExtInt()) v = this.pic.acknowledge();
    else v = l.acknowledge();
    this.refresh();
    return v;
  }

  /** Reads and clears `cpu`'s pending NMI. */
  takeNmi(cpu: number): boolean {
    const l = this.lapics[cpu];
    if (l === undefined || !l.nmiPending) return false;
    l.nmiPending = false;
    return true;
  }

  /** The controller `cpu` polls. */
  interruptController(cpu: number): InterruptController {
    const c = this.intcs[cpu];
    if (c === undefined) throw new Error(`soft platform: no CPU ${cpu}`);
    return c;
  }

  // ---- time ------------------------------------------------------------------------------------

  /** Advances the PIT and LAPIC timers to `nowMs`, raising the interrupts that fell due. */
  update(nowMs: number): void {
    this.pit.update(nowMs);
    for (let i = 0; i < this.lapics.length; i++) if (this.hwEnabled(i)) this.lapics[i]!.update(nowMs);
    this.refresh();
  }

  /** Clock time (ms) of the next timer interrupt, or Infinity. */
  nextDeadline(): number {
    let t = this.pit.nextDeadline();
    for (let i = 0; i < this.lapics.length; i++) {
      if (this.hwEnabled(i)) t = Math.min(t, this.lapics[i]!.nextDeadline());
    }
    return t;
  }

  // ---- state -----------------------------------------------------------------------------------

  saveState(): SoftPlatformState {
    return {
      stateVersion: SoftPlatform.stateVersion, pic: this.pic.saveState(), pit: this.pit.saveState(),
      ioapic: this.ioapic.saveState(), lapics: this.lapics.map((l) => l.saveState()),
      apicBase: this.apicBase.map((b) => b >>> 0), lines: this.lines >>> 0,
    };
  }

  /** Validates and loads; on any invalid part the previous state is restored and the error thrown. */
  loadState(s: SoftPlatformState): void {
    if (typeof s !== 'object' || s === null || s.stateVersion !== SoftPlatform.stateVersion) {
      throw new Error('soft platform state: unsupported version');
    }
    if (!Array.isArray(s.lapics) || s.lapics.length !== this.lapics.length ||
        !Array.isArray(s.apicBase) || s.apicBase.length !== this.lapics.length ||
        !s.apicBase.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xffff_ffff) ||
        !Number.isInteger(s.lines) || s.lines < 0 || s.lines >= 2 ** IRQ_LINES) {
      throw new Error('soft platform state: CPU count or APIC base mismatch');
    }
    const backup = this.saveState();
    try {
      this.loadParts(s);
    } catch (e) {
      this.loadParts(backup);
      throw e;
    }
  }

  private loadParts(s: SoftPlatformState): void {
    this.pic.loadState(s.pic);
    this.pit.loadState(s.pit);
    this.ioapic.loadState(s.ioapic);
    s.lapics.forEach((ls, i) => this.lapics[i]!.loadState(ls));
    s.apicBase.forEach((b, i) => {
      this.apicBase[i] = ((b & (APIC_BASE_ADDR | APIC_BASE_ENABLE)) | (i === 0 ? APIC_BASE_BSP : 0)) >>> 0;
    });
    this.lines = s.lines;
    this.refresh();
  }
}
