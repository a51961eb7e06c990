// Intel 82371AB PIIX4 function 3, power management (82371AB datasheet, §3.4: PCI configuration,
// §3.5: power management I/O registers; ACPI 1.0 fixed hardware): the PM1a event and control
// blocks, the 24-bit PM timer at 3.579545 MHz, GPE0, and the SCI. QEMU's pc puts this function
// beside a PIIX3 the same way (00:01.3).
//
// The 64-byte I/O block sits at PMBA (config 0x40) and decodes when PMREGMISC (0x80) bit 0 is
// set, independently of the command register. Under direct Linux boot nothing programs them, so
// the function comes out of reset already at the machine's PM base (the address the FADT gives;
// SeaBIOS writes the same values again). The SMBus (0x90) is absent.
//
// Sleep: PM1_CNT.SLP_TYP 0 with SLP_EN is S5 (soft off), the encoding QEMU's DSDT uses
// (_S5 = 0), and powers the machine off; other sleep types are not offered in the DSDT and are
// ignored. SMI_CMD is 0 in the FADT, so the OS treats the hardware as already in ACPI mode;
// SCI_EN reads 1 for the same reason.

import type { AccessSize, Clock, IoRegion, IrqLine, SystemControl } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import type { Timers } from '../../devicemodel/timers.js';
import { PciConfigSpace } from './config-space.js';
import type { PciDecode } from './config-space.js';
import type { PciFunction } from './pci-host.js';

export const PIIX4_PM_VENDOR_ID = 0x8086;
export const PIIX4_PM_DEVICE_ID = 0x7113;
const PIIX4_PM_REVISION = 0x03;
const CLASS_BRIDGE_OTHER = 0x068000;

/** Configuration registers. */
export const PIIX4_PMBA = 0x40;            // u32: bits 15:6 base, bit 0 reads 1 (I/O)
const PMBA_IO = 0x01;
const PMBA_MASK = 0x0000ffc0;
export const PIIX4_DEVACTA = 0x54;         // u32: device activity A (stored)
export const PIIX4_DEVACTB = 0x58;         // u32: device activity B
/** DEVACTB bit 25: an APM control write (port 0xB2) raises an SMI. This machine has no SMM;
 *  the bit reads set from reset, which is how QEMU tells SeaBIOS "SMM is already initialised"
 *  when SMM is off — else SeaBIOS raises an SMI and waits forever for the handler. */
export const DEVACTB_APMC_EN = 1 << 25;
export const PIIX4_PMREGMISC = 0x80;       // u8: bit 0 PMIOSE, the I/O block decodes
export const PMREGMISC_PMIOSE = 0x01;
/** Size of the PM I/O block. */
export const PM_IO_BYTES = 64;

/** PM I/O registers (offsets from PMBA). */
export const PM1_STS = 0x00;   // u16, write 1 to clear
export const PM1_EN = 0x02;    // u16
export const PM1_CNT = 0x04;   // u16
export const PM_TMR = 0x08;    // u32, 24 bits used, read-only
export const GPE0_STS = 0x0c;  // u16, write 1 to clear
export const GPE0_EN = 0x0e;   // u16
/** Lengths the FADT reports. */
export const PM1_EVT_LEN = 4;
export const PM1_CNT_LEN = 2;
export const PM_TMR_LEN = 4;
export const GPE0_BLK_LEN = 4;

/** PM1_STS / PM1_EN bits (ACPI "PM1 Status/Enable Registers"). */
export const TMR_STS = 0x0001;
export const BM_STS = 0x0010;
export const GBL_STS = 0x0020;
export const PWRBTN_STS = 0x0100;
export const RTC_STS = 0x0400;
export const WAK_STS = 0x8000;
const PM1_STS_W1C = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | RTC_STS | WAK_STS;
export const TMR_EN = 0x0001;
export const GBL_EN = 0x0020;
export const PWRBTN_EN = 0x0100;
export const RTC_EN = 0x0400;
const PM1_EN_WRITABLE = TMR_EN | GBL_EN | PWRBTN_EN | RTC_EN;
/** PM1_CNT bits. */
export const SCI_EN = 0x0001;
export const BM_RLD = 0x0002;
export const GBL_RLS = 0x0004;   // write-only
export const SLP_TYP_SHIFT = 10;
export const SLP_TYP_MASK = 0x1c00;
export const SLP_EN = 0x2000;    // write-only
const PM1_CNT_STORED = BM_RLD | SLP_TYP_MASK;
/** The SLP_TYP value the DSDT's \_S5 names. */
export const SLP_TYP_S5 = 0;

/** The PM timer's rate: 3.579545 MHz, per millisecond. */
export const PM_TIMER_HZ = 3_579_545;
const TICKS_PER_MS = PM_TIMER_HZ / 1000;
const TMR_BITS = 24;
const TMR_MASK = (1 << TMR_BITS) - 1;
/** TMR_STS sets each time bit 23 toggles. */
const TMR_TOGGLE_TICKS = 1 << (TMR_BITS - 1);

/** Saved state. */
export interface Piix4PmState { config: number[]; pm1Sts: number; pm1En: number; pm1Cnt: number; gpeSts: number; gpeEn: number; tmrAcked: number }

/** The PM function. */
export class Piix4Pm implements PciFunction {
  readonly stateVersion = 1;
  readonly config = new PciConfigSpace({
    vendorId: PIIX4_PM_VENDOR_ID, deviceId: PIIX4_PM_DEVICE_ID, revision: PIIX4_PM_REVISION,
    classCode: CLASS_BRIDGE_OTHER, interruptPin: 1,
  });
  /** The PMBA-relative register block. */
  readonly pmRegion: IoRegion;
  private pm1Sts = 0;
  private pm1En = 0;
  private pm1Cnt = SCI_EN;
  private gpeSts = 0;
  private gpeEn = 0;
  /** Bit-23 toggles already acknowledged by clearing TMR_STS. */
  private tmrAcked = 0;
  private readonly epochMs: number;
  private timer: number | null = null;

  /** `pmBase` is where the block decodes from reset (the FADT's PM1a_EVT_BLK). */
  constructor(readonly id: string, private readonly sci: IrqLine, private readonly system: SystemControl,
              private readonly clock: Clock, private readonly timers: Timers, pmBase: number) {
    if ((pmBase & ~PMBA_MASK) !== 0) throw new Error(`${id}: PM base 0x${pmBase.toString(16)} is not a 64-byte aligned port`);
    this.epochMs = clock.monotonicMs();
    const c = this.config;
    c.set32(PIIX4_PMBA, pmBase | PMBA_IO);
    c.setMask(PIIX4_PMBA, 4, PMBA_MASK);
    c.setMask(PIIX4_DEVACTA, 4, 0xffffffff);
    c.set32(PIIX4_DEVACTB, DEVACTB_APMC_EN);
    c.setMask(PIIX4_DEVACTB, 4, ~DEVACTB_APMC_EN >>> 0);
    c.set8(PIIX4_PMREGMISC, PMREGMISC_PMIOSE);
    c.writable[PIIX4_PMREGMISC] = PMREGMISC_PMIOSE;
    c.snapshotReset();
    this.pmRegion = {
      name: `${id}.pm`, size: PM_IO_BYTES,
      read: (offset, size) => this.readPm(offset, size),
      write: (offset, size, value) => this.writePm(offset, size, value),
    };
  }

  /** The base the I/O block decodes at now, or -1. */
  get pmBase(): number {
    if ((this.config.get8(PIIX4_PMREGMISC) & PMREGMISC_PMIOSE) === 0) return -1;
    const base = this.config.get32(PIIX4_PMBA) & PMBA_MASK;
    return base === 0 ? -1 : base;
  }

  extraDecodes(): readonly PciDecode[] {
    const base = this.pmBase;
    this.system.pmTimerAt?.(base < 0 ? 0 : base + PM_TMR);
    return base < 0 ? [] : [{ space: 'io', base, region: this.pmRegion }];
  }

  /** A press of the power button: PWRBTN_STS, and an SCI if the OS enabled it. */
  powerButton(): void {
    this.pm1Sts |= PWRBTN_STS;
    this.updateIrq();
  }

  /** The 24-bit PM timer count now. */
  timerTicks(): number {
    return Math.floor((this.clock.monotonicMs() - this.epochMs) * TICKS_PER_MS);
  }

  private toggles(): number { return Math.floor(this.timerTicks() / TMR_TOGGLE_TICKS); }

  private status(): number {
    return (this.pm1Sts & ~TMR_STS) | (this.toggles() !== this.tmrAcked ? TMR_STS : 0);
  }

  private readReg(reg: number): number {
    switch (reg) {
      case PM1_STS: return this.status();
      case PM1_EN: return this.pm1En;
      case PM1_CNT: return this.pm1Cnt | SCI_EN;
      case PM_TMR: return this.timerTicks() & TMR_MASK;
      case PM_TMR + 2: return (this.timerTicks() & TMR_MASK) >>> 16;
      case GPE0_STS: return this.gpeSts;
      case GPE0_EN: return this.gpeEn;
      default: return 0;
    }
  }

  private readPm(offset: number, size: AccessSize): number {
    if (offset === PM_TMR && size === 4) return this.timerTicks() & TMR_MASK; // one consistent sample
    let v = 0;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      v |= ((this.readReg(o & ~1) >>> (8 * (o & 1))) & 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  private writePm(offset: number, size: AccessSize, value: number): void {
    // Byte by byte, in address order: SLP_EN in PM1_CNT's high byte acts after SLP_TYP is set.
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    this.updateIrq();
  }

  private writeByte(o: number, b: number): void {
    const reg = o & ~1;
    const v = (o & 1) === 0 ? b : b << 8;
    const lane = (o & 1) === 0 ? 0x00ff : 0xff00;
    switch (reg) {
      case PM1_STS:
        if ((v & TMR_STS) !== 0) this.tmrAcked = this.toggles();
        this.pm1Sts &= ~(v & PM1_STS_W1C);
        break;
      case PM1_EN:
        this.pm1En = (this.pm1En & ~lane) | (v & lane & PM1_EN_WRITABLE);
        break;
      case PM1_CNT:
        this.pm1Cnt = (this.pm1Cnt & ~lane) | (v & lane & PM1_CNT_STORED) | SCI_EN;
        if ((v & SLP_EN) !== 0) this.sleep((this.pm1Cnt & SLP_TYP_MASK) >>> SLP_TYP_SHIFT);
        break;
      case GPE0_STS:
        this.gpeSts &= ~v;
        break;
      case GPE0_EN:
        this.gpeEn = (this.gpeEn & ~lane) | (v & lane);
        break;
      default:
        break; // PCNTRL, C-state levels, GLBSTS…: not modelled
    }
  }

  private sleep(type: number): void {
    if (type === SLP_TYP_S5) this.system.powerOff();
  }

  /** SCI level from status and enables; arms a timer for the next TMR_STS if it is enabled. */
  private updateIrq(): void {
    const sts = this.status();
    const level = (sts & this.pm1En & (TMR_EN | GBL_EN | PWRBTN_EN | RTC_EN)) !== 0 || (this.gpeSts & this.gpeEn) !== 0;
    this.sci.set(level);
    if (this.timer !== null) { this.timers.clearTimeout(this.timer); this.timer = null; }
    if ((this.pm1En & TMR_EN) !== 0 && (sts & TMR_STS) === 0) {
      const nextTick = (this.toggles() + 1) * TMR_TOGGLE_TICKS;
      const ms = this.epochMs + nextTick / TICKS_PER_MS - this.clock.monotonicMs();
      this.timer = this.timers.setTimeout(() => { this.timer = null; this.updateIrq(); }, Math.max(0, Math.ceil(ms)));
    }
  }

  reset(): void {
    this.config.reset();
    this.pm1Sts = 0;
    this.pm1En = 0;
    this.pm1Cnt = SCI_EN;
    this.gpeSts = 0;
    this.gpeEn = 0;
    this.tmrAcked = this.toggles();
    this.updateIrq();
  }

  saveState(): Piix4PmState {
    return { config: this.config.save(), pm1Sts: this.pm1Sts, pm1En: this.pm1En, pm1Cnt: this.pm1Cnt,
      gpeSts: this.gpeSts, gpeEn: this.gpeEn, tmrAcked: this.tmrAcked };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported piix4-pm state version ${version}`);
    const s = expectRecord(state, this.id);
    const pm1Sts = expectInt(s, 'pm1Sts', 0, PM1_STS_W1C);
    const pm1En = expectInt(s, 'pm1En', 0, PM1_EN_WRITABLE);
    const pm1Cnt = expectInt(s, 'pm1Cnt', 0, 0xffff);
    const gpeSts = expectInt(s, 'gpeSts', 0, 0xffff);
    const gpeEn = expectInt(s, 'gpeEn', 0, 0xffff);
    expectInt(s, 'tmrAcked', 0, Number.MAX_SAFE_INTEGER);
    this.config.load(s['config'], this.id);
    this.pm1Sts = pm1Sts; this.pm1En = pm1En; this.pm1Cnt = (pm1Cnt & PM1_CNT_STORED) | SCI_EN;
    this.gpeSts = gpeSts; this.gpeEn = gpeEn;
    // The PM timer runs from this process's clock: a restored timer restarts its TMR_STS phase.
    this.tmrAcked = this.toggles();
    this.updateIrq();
  }
}
