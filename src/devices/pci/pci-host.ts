// PCI configuration mechanism #1 on bus 0 (PCI Local Bus Specification 3.0, §3.2.2.3.2) and
// the host side of every function: BAR windows mapped on the port and MMIO buses as the guest
// programs BARs and command bits, and INTx lines gathered into the four PIRQ signals.
//
// CONFIG_ADDRESS (0xCF8) answers only 32-bit accesses; Linux's pci_check_type1 writes
// 0x80000000 and expects it back. Narrow accesses to 0xCF8–0xCFB are other chipset registers:
// the PIIX3's reset control at 0xCF9 is plugged in with `setResetControl`. CONFIG_DATA
// (0xCFC–0xCFF) takes any width at any byte offset. Functions that do not exist read all ones.

import type { AccessSize, Device, IoRegion, IrqLine } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import type { MmioBus, PioBus } from '../bus.js';
import type { PciConfigSpace, PciDecode } from './config-space.js';
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_CONFIG_BYTES, PCI_INTERRUPT_PIN, PCI_STATUS, PCI_STATUS_INTERRUPT,
} from './config-space.js';

const CONFIG_ADDRESS_ENABLE = 0x80000000;    // bit 31
const CONFIG_ADDRESS_RESERVED = 0x7f000003;  // bits 30:24 and 1:0 read as zero
const CONFIG_ADDRESS_WRITABLE = ~CONFIG_ADDRESS_RESERVED >>> 0;
const CONFIG_ADDRESS_BUS_SHIFT = 16;
const CONFIG_ADDRESS_DEVFN_SHIFT = 8;
const CONFIG_ADDRESS_REG_MASK = 0xfc;
const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
/** Bus 0 has 32 slots of 8 functions. */
export const PCI_SLOTS = 32;
export const PCI_FUNCTIONS = 8;
const DEVFNS = PCI_SLOTS * PCI_FUNCTIONS;
/** PIRQA#..PIRQD#. */
export const PCI_PIRQS = 4;

/** A PCI function as the host sees it. */
export interface PciFunction extends Device {
  readonly config: PciConfigSpace;
  /** Windows decoded outside the BARs (the PIIX4's PMBA); the BARs come from `config`. */
  extraDecodes?(): readonly PciDecode[];
  /** Side effects after a guest config write has gone through the masks. */
  configWritten?(offset: number, size: AccessSize): void;
}

/** Where the four PIRQ levels go (the PIIX3 routes them). */
export interface PciIrqRouter {
  setPirq(pirq: number, level: boolean): void;
}

/** The PIRQ a slot's INTx pin (1..4 = INTA#..INTD#) drives: the swizzle of a PC's slots. */
export function pirqFor(slot: number, pin: number): number {
  return (slot + pin - 1) & 3;
}

/** Saved state of the host bridge's address latch. */
export interface PciHostState { configAddress: number }

interface Mapping { decode: PciDecode }

/** Bus 0: the configuration ports, the functions on it, their BAR windows and INTx lines. */
export class PciHost implements Device<PciHostState> {
  readonly stateVersion = 1;
  /** 0xCF8–0xCFB: CONFIG_ADDRESS, and narrow accesses passed to the reset control. */
  readonly addressRegion: IoRegion;
  /** 0xCFC–0xCFF: CONFIG_DATA. */
  readonly dataRegion: IoRegion;
  private configAddress = 0;
  private readonly functions: (PciFunction | undefined)[] = new Array<PciFunction | undefined>(DEVFNS).fill(undefined);
  private readonly mappings: Mapping[][] = Array.from({ length: DEVFNS }, () => []);
  /** Asserted INTx inputs per devfn (the level the function drives, before INTX_DISABLE). */
  private readonly intxLevel = new Uint8Array(DEVFNS);
  /** How many asserted INTx inputs drive each PIRQ. */
  private readonly pirqCount = new Int32Array(PCI_PIRQS);
  private router: PciIrqRouter | null = null;
  private resetControl: IoRegion | null = null;
  /** Guest BAR placements that collided with another window and were left unmapped. */
  conflicts = 0;
  /** Functions with a window left unmapped by a collision, retried when windows are released. */
  private readonly refused = new Uint8Array(DEVFNS);

  constructor(readonly id: string, private readonly pio: PioBus, private readonly mmio: MmioBus) {
    this.addressRegion = {
      name: `${id}.address`, size: 4,
      read: (offset, size) => this.readAddress(offset, size),
      write: (offset, size, value) => this.writeAddress(offset, size, value),
    };
    this.dataRegion = {
      name: `${id}.data`, size: 4,
      read: (offset, size) => this.readData(offset, size),
      write: (offset, size, value) => this.writeData(offset, size, value),
    };
  }

  /** Puts `fn` at slot/function; a taken place is a machine-description error. */
  attach(slot: number, fnNo: number, fn: PciFunction): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= PCI_SLOTS || !Number.isInteger(fnNo) || fnNo < 0 || fnNo >= PCI_FUNCTIONS) {
      throw new Error(`${fn.id}: PCI slot ${slot} function ${fnNo} does not exist`);
    }
    const devfn = (slot << 3) | fnNo;
    const other = this.functions[devfn];
    if (other !== undefined) throw new Error(`${fn.id}: PCI ${slot}.${fnNo} is taken by ${other.id}`);
    this.functions[devfn] = fn;
    this.refresh(devfn);
  }

  /** The function at slot/function, if any. */
  functionAt(slot: number, fnNo: number): PciFunction | undefined {
    return this.functions[((slot & 31) << 3) | (fnNo & 7)];
  }

  setIrqRouter(router: PciIrqRouter): void { this.router = router; }

  /** Narrow accesses to 0xCF8–0xCFB go here (the PIIX3 TRC at 0xCF9 is offset 1). */
  setResetControl(region: IoRegion): void { this.resetControl = region; }

  /** The INTx line of slot/function: its pin comes from the function's interrupt pin register. */
  intxLine(slot: number, fnNo: number): IrqLine {
    const devfn = ((slot & 31) << 3) | (fnNo & 7);
    return {
      set: (level) => this.setIntx(devfn, level),
      pulse: () => { this.setIntx(devfn, true); this.setIntx(devfn, false); },
    };
  }

  // ---- configuration ports ---------------------------------------------------------------------

  private readAddress(offset: number, size: AccessSize): number {
    if (offset === 0 && size === 4) return this.configAddress;
    return this.resetControl !== null && offset + size <= this.resetControl.size + 1 && offset >= 1
      ? this.resetControl.read(offset - 1, size) : ALL_ONES[size];
  }

  private writeAddress(offset: number, size: AccessSize, value: number): void {
    if (offset === 0 && size === 4) { this.configAddress = (value & CONFIG_ADDRESS_WRITABLE) >>> 0; return; }
    if (this.resetControl !== null && offset >= 1 && offset + size <= this.resetControl.size + 1) {
      this.resetControl.write(offset - 1, size, value);
    }
  }

  /** The addressed function and register, or null when the access reaches nothing on bus 0. */
  private target(offset: number): { fn: PciFunction; devfn: number; reg: number } | null {
    const a = this.configAddress;
    if ((a & CONFIG_ADDRESS_ENABLE) === 0 || ((a >>> CONFIG_ADDRESS_BUS_SHIFT) & 0xff) !== 0) return null;
    const devfn = (a >>> CONFIG_ADDRESS_DEVFN_SHIFT) & 0xff;
    const fn = this.functions[devfn];
    if (fn === undefined) return null;
    return { fn, devfn, reg: (a & CONFIG_ADDRESS_REG_MASK) + offset };
  }

  private readData(offset: number, size: AccessSize): number {
    const t = this.target(offset);
    if (t === null || t.reg + size > PCI_CONFIG_BYTES) return ALL_ONES[size];
    return t.fn.config.read(t.reg, size);
  }

  private writeData(offset: number, size: AccessSize, value: number): void {
    const t = this.target(offset);
    if (t === null || t.reg + size > PCI_CONFIG_BYTES) return;
    t.fn.config.write(t.reg, size, value);
    t.fn.configWritten?.(t.reg, size);
    if (t.reg < PCI_COMMAND + 2 && t.reg + size > PCI_COMMAND) this.updateIntx(t.devfn);
    this.refresh(t.devfn);
  }

  // ---- BAR windows -----------------------------------------------------------------------------

  /** Re-derives what `devfn` decodes and moves its windows on the buses to match. */
  refresh(devfn: number): void {
    if (this.update(devfn)) {
      // Windows were released: placements refused earlier may fit now (one pass, bounded).
      for (let d = 0; d < DEVFNS; d++) if (d !== devfn && this.refused[d] === 1) this.update(d);
    }
  }

  /** Brings one function's mappings in line with its registers; true if any window went away. */
  private update(devfn: number): boolean {
    const fn = this.functions[devfn];
    const want = fn === undefined ? [] : [...fn.config.barDecodes(), ...(fn.extraDecodes?.() ?? [])];
    const have = this.mappings[devfn]!;
    const same = (a: PciDecode, b: PciDecode): boolean => a.space === b.space && a.base === b.base && a.region === b.region;
    const keep: Mapping[] = [];
    let released = false;
    for (const m of have) {
      if (want.some((d) => same(d, m.decode))) keep.push(m);
      else { this.unmapDecode(m.decode); released = true; }
    }
    let refused = 0;
    for (const d of want) {
      if (keep.some((m) => same(d, m.decode))) continue;
      if (this.mapDecode(d)) keep.push({ decode: d });
      else { this.conflicts++; refused = 1; }
    }
    this.mappings[devfn] = keep;
    this.refused[devfn] = refused;
    return released;
  }

  /** Re-derives every function's windows (after a reset or a snapshot load). */
  refreshAll(): void {
    for (let devfn = 0; devfn < DEVFNS; devfn++) if (this.functions[devfn] !== undefined || this.mappings[devfn]!.length > 0) this.refresh(devfn);
  }

  /**
   * Maps one window. A guest may place a BAR over another device's ports or window: the first
   * claim wins and the later one decodes nothing until the place is free again. (MMIO over RAM
   * never reaches the bus: the hypervisor serves RAM first.)
   */
  private mapDecode(d: PciDecode): boolean {
    try {
      if (d.space === 'io') this.pio.map(d.base, d.region);
      else this.mmio.map(d.base, d.region);
      return true;
    } catch {
      return false; // the buses check the whole range before claiming any of it
    }
  }

  private unmapDecode(d: PciDecode): void {
    if (d.space === 'io') this.pio.unmap(d.base, d.region);
    else this.mmio.unmap(d.base, d.region);
  }

  // ---- INTx ------------------------------------------------------------------------------------

  private setIntx(devfn: number, level: boolean): void {
    const v = level ? 1 : 0;
    if (this.intxLevel[devfn] === v) return;
    this.intxLevel[devfn] = v;
    this.updateIntx(devfn);
  }

  /** Effective level of devfn's pin: asserted, and not masked by INTX_DISABLE. */
  private effective(devfn: number): boolean {
    const fn = this.functions[devfn];
    if (fn === undefined) return false;
    return this.intxLevel[devfn] === 1 && (fn.config.get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) === 0;
  }

  private readonly driving = new Uint8Array(DEVFNS);

  private updateIntx(devfn: number): void {
    const fn = this.functions[devfn];
    if (fn === undefined) return;
    const status = fn.config.get16(PCI_STATUS);
    fn.config.set16(PCI_STATUS, this.intxLevel[devfn] === 1 ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
    const pin = fn.config.get8(PCI_INTERRUPT_PIN);
    const now = this.effective(devfn) && pin >= 1 && pin <= 4 ? 1 : 0;
    if (this.driving[devfn] === now) return;
    this.driving[devfn] = now;
    const pirq = pirqFor(devfn >>> 3, pin);
    const before = this.pirqCount[pirq]!;
    this.pirqCount[pirq] = before + (now === 1 ? 1 : -1);
    const after = this.pirqCount[pirq]!;
    if ((before > 0) !== (after > 0)) this.router?.setPirq(pirq, after > 0);
  }

  // ---- Device ----------------------------------------------------------------------------------

  /**
   * Resets the address latch. Functions are devices of their own and reset themselves; the
   * machine then calls `refreshAll` so the windows follow their reset BARs.
   */
  reset(): void {
    this.configAddress = 0;
  }

  saveState(): PciHostState { return { configAddress: this.configAddress }; }

  /** Functions load their own state; call `refreshAll` once they have. */
  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported PCI host state version ${version}`);
    const s = expectRecord(state, this.id);
    const a = expectInt(s, 'configAddress', 0, 0xffffffff);
    if ((a & CONFIG_ADDRESS_RESERVED) !== 0) throw new Error(`bad device state: configAddress has reserved bits set`);
    this.configAddress = a;
  }
}
