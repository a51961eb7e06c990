// Intel 82371SB PIIX3 function 0, the PCI-to-ISA bridge at 00:01.0 (82371FB/SB datasheet, §2.2:
// PCI configuration registers, and §4.1.5: reset control register), with its PIRQ router.
//
// PIRQRC[A:D] (0x60–0x63) steer each PIRQx# signal to an ISA IRQ when bit 7 (IRQROUTEN#) is
// clear; firmware programs them (SeaBIOS: 10, 10, 11, 11). A device at slot S, pin P (1..4)
// drives PIRQ[(S + P - 1) & 3]. Under direct Linux boot there is no firmware, so the machine
// may give reset routes (the pc machine gives SeaBIOS's), the way the PM block comes up at its
// base: the ACPI _PRT for the PIC interrupt model lists the same ISA IRQs.
//
// Besides the ISA route, each PIRQ also drives IOAPIC input 16 + n, as PIIX-era boards wired
// PIRQA#–D# to the 82093AA's inputs 16–19. That gives an APIC-mode OS fixed, level-triggered
// GSIs for PCI that need no routing code (no ACPI link devices, nothing to program without a
// BIOS under direct Linux boot) and never share an ISA line; the MP table and the ACPI _PRT list
// exactly these GSIs. PIC-mode guests (SeaBIOS, DOS) use the ISA route. Both paths see the same
// level, so whichever the guest unmasked is the one that fires.

import type { AccessSize, IoRegion, IrqLine, SystemControl } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import { PCI_HEADER_TYPE_MULTI_FUNCTION, PciConfigSpace } from './config-space.js';
import { PCI_PIRQS, type PciFunction, type PciIrqRouter } from './pci-host.js';

export const PIIX3_VENDOR_ID = 0x8086;
export const PIIX3_DEVICE_ID = 0x7000;
const CLASS_BRIDGE_ISA = 0x060100;

/** Configuration registers. */
export const PIIX3_PIRQRC = 0x60;          // u8 ×4: PIRQA#..PIRQD# route control
export const PIRQRC_IRQROUTEN_N = 0x80;    // 1 = not routed (reset value)
export const PIRQRC_IRQ_MASK = 0x0f;       // the ISA IRQ
const PIRQRC_WRITABLE = PIRQRC_IRQROUTEN_N | PIRQRC_IRQ_MASK;
/** Other registers firmware writes and reads back (stored only). */
const STORED_RANGES: readonly (readonly [number, number])[] = [
  [0x4c, 4],   // IORT, XBCS
  [0x69, 3],   // TOM, MSTAT
  [0x70, 1],   // MBIRQ0
  [0x76, 2],   // MBDMA
  [0x80, 1],   // APICBASE
  [0x82, 1],   // DLC
  [0xa0, 12],  // SMI control and enables
];
/** ISA IRQs a PIRQ may be steered to (§2.2.8: 0–2, 8 and 13 are reserved). */
const ROUTABLE_IRQS = 0xdef8;
/** The IOAPIC input PIRQA# drives; B–D follow. */
export const PIRQ_APIC_BASE = 16;

/** Reset control register (port 0xCF9). */
export const RC_SRST = 0x02;   // system reset (hard) when RCPU fires
export const RC_RCPU = 0x04;   // 0 → 1 starts a reset
export const RC_FULL_RST = 0x08;
const RC_STORED = RC_SRST | RC_FULL_RST;

/** Saved state. */
export interface Piix3State { config: number[]; rc: number }

/** The ISA bridge function and PIRQ router. */
export class Piix3 implements PciFunction, PciIrqRouter {
  readonly stateVersion = 1;
  readonly config = new PciConfigSpace({
    vendorId: PIIX3_VENDOR_ID, deviceId: PIIX3_DEVICE_ID, revision: 0, classCode: CLASS_BRIDGE_ISA,
    headerType: PCI_HEADER_TYPE_MULTI_FUNCTION,
  });
  /** 0xCF9, handed to the PciHost (it shares the 0xCF8 dword). */
  readonly resetControlRegion: IoRegion;
  private rc = 0;
  private readonly pirqLevel = [false, false, false, false];
  /** The ISA IRQ each PIRQ drives now (-1: none). */
  private readonly routedTo = [-1, -1, -1, -1];
  private readonly isaLines = new Map<number, IrqLine>();

  /**
   * `isaIrq` gives the ISA line n (the platform's PIC and IOAPIC input n); `apicLines` are the
   * four IOAPIC inputs PIRQA#–D# are wired to.
   */
  constructor(readonly id: string, private readonly isaIrq: (line: number) => IrqLine,
              private readonly apicLines: readonly IrqLine[], private readonly system: SystemControl,
              resetRoutes: readonly number[] = []) {
    if (apicLines.length !== PCI_PIRQS) throw new Error(`${id}: needs ${PCI_PIRQS} IOAPIC lines for PIRQA-D`);
    if (resetRoutes.length !== 0 && resetRoutes.length !== PCI_PIRQS) throw new Error(`${id}: give ${PCI_PIRQS} reset routes or none`);
    for (const irq of resetRoutes) {
      if (!Number.isInteger(irq) || irq < 0 || irq > 15 || ((ROUTABLE_IRQS >>> irq) & 1) === 0) throw new Error(`${id}: ISA IRQ ${irq} cannot take a PIRQ`);
    }
    const c = this.config;
    for (let n = 0; n < PCI_PIRQS; n++) {
      c.set8(PIIX3_PIRQRC + n, resetRoutes[n] ?? PIRQRC_IRQROUTEN_N);
      c.writable[PIIX3_PIRQRC + n] = PIRQRC_WRITABLE;
    }
    for (const [at, len] of STORED_RANGES) c.setMask(at, len, 0xffffffff);
    c.snapshotReset();
    this.resetControlRegion = {
      name: `${id}.rc`, size: 1,
      read: () => this.rc,
      write: (_o: number, _s: AccessSize, v: number) => this.writeRc(v),
    };
  }

  private writeRc(v: number): void {
    this.rc = v & RC_STORED;
    // Hard (SRST) and soft resets both restart the whole machine here: a VMM has no state a
    // soft reset would keep.
    if ((v & RC_RCPU) !== 0) this.system.reset();
  }

  /** The ISA IRQ PIRQ `n` is routed to, or -1. */
  route(n: number): number {
    const r = this.config.get8(PIIX3_PIRQRC + n);
    const irq = r & PIRQRC_IRQ_MASK;
    return (r & PIRQRC_IRQROUTEN_N) === 0 && ((ROUTABLE_IRQS >>> irq) & 1) === 1 ? irq : -1;
  }

  private isaLine(irq: number): IrqLine {
    let l = this.isaLines.get(irq);
    if (l === undefined) { l = this.isaIrq(irq); this.isaLines.set(irq, l); }
    return l;
  }

  setPirq(pirq: number, level: boolean): void {
    if (pirq < 0 || pirq >= PCI_PIRQS || this.pirqLevel[pirq] === level) return;
    this.pirqLevel[pirq] = level;
    this.apicLines[pirq]!.set(level);
    this.updateIsa();
  }

  /** Drives each routed ISA line with the OR of the PIRQs routed to it; lowers lines left. */
  private updateIsa(): void {
    const want = new Map<number, boolean>();
    for (let n = 0; n < PCI_PIRQS; n++) {
      const irq = this.route(n);
      if (irq >= 0) want.set(irq, (want.get(irq) ?? false) || this.pirqLevel[n]!);
    }
    for (let n = 0; n < PCI_PIRQS; n++) {
      const old = this.routedTo[n]!;
      if (old >= 0 && !want.has(old)) this.isaLine(old).set(false);
    }
    for (const [irq, level] of want) this.isaLine(irq).set(level);
    for (let n = 0; n < PCI_PIRQS; n++) this.routedTo[n] = this.route(n);
  }

  configWritten(offset: number, size: AccessSize): void {
    if (offset < PIIX3_PIRQRC + PCI_PIRQS && offset + size > PIIX3_PIRQRC) this.updateIsa();
  }

  reset(): void {
    this.config.reset();
    this.rc = 0;
    this.updateIsa();
  }

  saveState(): Piix3State { return { config: this.config.save(), rc: this.rc }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported piix3 state version ${version}`);
    const s = expectRecord(state, this.id);
    const rc = expectInt(s, 'rc', 0, RC_STORED);
    this.config.load(s['config'], this.id);
    this.rc = rc;
    this.updateIsa();
  }
}
