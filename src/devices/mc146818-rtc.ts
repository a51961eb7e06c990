// Motorola MC146818A real-time clock and CMOS RAM (datasheet: "Address Map", "Time, Calendar
// and Alarm Locations", "Control Registers" A-D), behind the PC's index/data ports.
//
// Offset 0 is the index port (bit 7 masks NMI on PCs), offset 1 the data port. The guest's
// wall clock is the host's at power-on advanced by the monotonic clock (so host clock steps do
// not make the guest's time jump), plus an offset the guest sets by writing the time.

import type { AccessSize, Clock, Device, IoRegion, IrqLine } from './api.js';
import { expectInt, expectRecord } from './api.js';
import { expectBool, expectBytes } from './byte-ring.js';
import type { Timers } from '../devicemodel/timers.js';

// Time, calendar and alarm locations.
const RTC_SECONDS = 0x00;
const RTC_SECONDS_ALARM = 0x01;
const RTC_MINUTES = 0x02;
const RTC_MINUTES_ALARM = 0x03;
const RTC_HOURS = 0x04;
const RTC_HOURS_ALARM = 0x05;
const RTC_DAY_OF_WEEK = 0x06;
const RTC_DAY_OF_MONTH = 0x07;
const RTC_MONTH = 0x08;
const RTC_YEAR = 0x09;
const RTC_REG_A = 0x0a;
const RTC_REG_B = 0x0b;
const RTC_REG_C = 0x0c;
const RTC_REG_D = 0x0d;

// Register A.
const REG_A_UIP = 0x80; // update in progress (read-only)
const REG_A_RS = 0x0f;  // periodic rate select
// Register B.
const REG_B_SET = 0x80;  // inhibit updates so the time can be set
const REG_B_PIE = 0x40;  // periodic interrupt enable
const REG_B_AIE = 0x20;  // alarm interrupt enable
const REG_B_UIE = 0x10;  // update-ended interrupt enable
const REG_B_SQWE = 0x08; // square-wave enable
const REG_B_DM = 0x04;   // data mode: 1 = binary, 0 = BCD
const REG_B_24H = 0x02;  // 1 = 24-hour mode
// Register C (read-only, clears on read).
const REG_C_IRQF = 0x80;
const REG_C_PF = 0x40;
const REG_C_AF = 0x20;
const REG_C_UF = 0x10;
// Register D.
const REG_D_VRT = 0x80; // valid RAM and time
/** Hour byte bit 7 in 12-hour mode. */
const HOURS_PM = 0x80;
/** Alarm bytes of 0xC0 and above match any value. */
const ALARM_DONT_CARE = 0xc0;

// PC CMOS layout (IBM AT BIOS convention, as SeaBIOS and Linux read it).
const CMOS_EQUIPMENT = 0x14;
const CMOS_BASE_MEM_LO = 0x15;
const CMOS_BASE_MEM_HI = 0x16;
const CMOS_EXT_MEM_LO = 0x17;
const CMOS_EXT_MEM_HI = 0x18;
const CMOS_CHECKSUM_HI = 0x2e; // sum of 0x10..0x2d
const CMOS_CHECKSUM_LO = 0x2f;
const CMOS_EXT_MEM2_LO = 0x30;
const CMOS_EXT_MEM2_HI = 0x31;
const CMOS_CENTURY = 0x32;
const CMOS_MEM_ABOVE_16M_LO = 0x34; // 64 KiB units
const CMOS_MEM_ABOVE_16M_HI = 0x35;
const CMOS_MEM_ABOVE_4G = 0x5b;     // three bytes, 64 KiB units
/** Equipment byte: math coprocessor present, EGA/VGA video, no floppies. */
const EQUIPMENT_FPU_VGA = 0x02;

const CMOS_SIZE = 128;
const INDEX_MASK = 0x7f;
const NMI_DISABLE = 0x80;
/** UIP rises 244 µs before each update (datasheet, "Update Cycle"). */
const UIP_LEAD_MS = 0.244;
/** Register A after the BIOS: 32.768 kHz time base, 1024 Hz periodic rate. */
const REG_A_DEFAULT = 0x26;
/** ECMAScript's Date range, which bounds any time the guest can set. */
const MAX_DATE_MS = 8.64e15;
const KIB = 1024;
const MIB = 1024 * KIB;

const TIME_REGS = [RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, CMOS_CENTURY] as const;

/** RAM sizes the BIOS reads from CMOS. */
export interface RtcMemorySizes { ramBelow4g: number; ramAbove4g: number }

/** Saved state of the RTC. */
export interface Mc146818State {
  cmos: number[]; index: number; nmiMasked: boolean; regC: number;
  /** Guest wall clock minus host wall clock, in ms. */
  offsetMs: number;
}

interface Fields { sec: number; min: number; hour: number; wday: number; mday: number; mon: number; year: number }

/** The MC146818 RTC with 128 bytes of CMOS. */
export class Mc146818Rtc implements Device<Mc146818State> {
  readonly stateVersion = 1;
  readonly region: IoRegion;

  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiMasked = false;
  /** PF, AF and UF; IRQF is derived from them and the enables. */
  private regC = 0;
  private offsetMs = 0;
  private anchorWall = 0;
  private anchorMono = 0;
  private periodicTimer = -1;
  private periodicDue = 0;
  private updateTimer = -1;
  /** The guest second whose update has been accounted in UF. */
  private lastUpdateSecond = 0;
  private irqLevel = false;

  constructor(readonly id: string, private readonly irq: IrqLine, private readonly clock: Clock,
              private readonly timers: Timers, mem: RtcMemorySizes) {
    this.region = {
      name: id,
      size: 2,
      read: (offset, size) => this.readPorts(offset, size),
      write: (offset, size, value) => this.writePorts(offset, size, value),
    };
    this.anchor();
    this.cmos[RTC_REG_A] = REG_A_DEFAULT;
    this.cmos[RTC_REG_B] = REG_B_24H;
    this.cmos[RTC_REG_D] = REG_D_VRT;
    this.fillMemorySizes(mem);
    this.lastUpdateSecond = Math.floor(this.guestMs() / 1000);
  }

  /** Memory-size bytes, equipment byte and checksum, as a BIOS POST would leave them. */
  private fillMemorySizes({ ramBelow4g, ramAbove4g }: RtcMemorySizes): void {
    const put16 = (lo: number, v: number): void => { this.cmos[lo] = v & 0xff; this.cmos[lo + 1] = (v >> 8) & 0xff; };
    put16(CMOS_BASE_MEM_LO, 640);
    const extKib = Math.min(0xffff, Math.max(0, Math.floor((ramBelow4g - MIB) / KIB)));
    put16(CMOS_EXT_MEM_LO, extKib);
    put16(CMOS_EXT_MEM2_LO, extKib);
    const above16m = Math.min(0xffff, Math.max(0, Math.floor((ramBelow4g - 16 * MIB) / (64 * KIB))));
    put16(CMOS_MEM_ABOVE_16M_LO, above16m);
    const above4g = Math.min(0xffffff, Math.max(0, Math.floor(ramAbove4g / (64 * KIB))));
    this.cmos[CMOS_MEM_ABOVE_4G] = above4g & 0xff;
    this.cmos[CMOS_MEM_ABOVE_4G + 1] = (above4g >> 8) & 0xff;
    this.cmos[CMOS_MEM_ABOVE_4G + 2] = (above4g >> 16) & 0xff;
    this.cmos[CMOS_EQUIPMENT] = EQUIPMENT_FPU_VGA;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.cmos[i]!;
    this.cmos[CMOS_CHECKSUM_HI] = (sum >> 8) & 0xff;
    this.cmos[CMOS_CHECKSUM_LO] = sum & 0xff;
  }

  reset(): void {
    // The RESET pin clears the interrupt enables and flags; time and CMOS are battery-backed.
    this.cmos[RTC_REG_B] = this.cmos[RTC_REG_B]! & ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
    this.regC = 0;
    this.index = 0;
    this.nmiMasked = false;
    this.reschedule();
    this.updateIrq();
  }

  // --- Time ---

  private anchor(): void {
    this.anchorWall = this.clock.nowMs();
    this.anchorMono = this.clock.monotonicMs();
  }

  private hostMs(): number { return this.anchorWall + (this.clock.monotonicMs() - this.anchorMono); }
  private guestMs(): number { return this.hostMs() + this.offsetMs; }
  private get regB(): number { return this.cmos[RTC_REG_B]!; }
  private get setMode(): boolean { return (this.regB & REG_B_SET) !== 0; }

  private toReg(n: number): number {
    const v = (this.regB & REG_B_DM) ? n : (((n / 10) | 0) << 4) | (n % 10);
    return v & 0xff;
  }

  private fromReg(v: number): number {
    return (this.regB & REG_B_DM) ? v : (v >> 4) * 10 + (v & 0x0f);
  }

  private encodeHour(h: number): number {
    if (this.regB & REG_B_24H) return this.toReg(h);
    return this.toReg(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? HOURS_PM : 0);
  }

  private decodeHour(v: number): number {
    if (this.regB & REG_B_24H) return this.fromReg(v);
    const h12 = this.fromReg(v & ~HOURS_PM) % 12;
    return (v & HOURS_PM) ? h12 + 12 : h12;
  }

  private fields(ms: number): Fields {
    const d = new Date(Math.floor(ms / 1000) * 1000);
    return { sec: d.getUTCSeconds(), min: d.getUTCMinutes(), hour: d.getUTCHours(), wday: d.getUTCDay() + 1,
             mday: d.getUTCDate(), mon: d.getUTCMonth() + 1, year: d.getUTCFullYear() };
  }

  /** A time register's value for the current guest time, in the current data mode. */
  private timeReg(reg: number, f: Fields): number {
    switch (reg) {
      case RTC_SECONDS: return this.toReg(f.sec);
      case RTC_MINUTES: return this.toReg(f.min);
      case RTC_HOURS: return this.encodeHour(f.hour);
      case RTC_DAY_OF_WEEK: return this.toReg(f.wday);
      case RTC_DAY_OF_MONTH: return this.toReg(f.mday);
      case RTC_MONTH: return this.toReg(f.mon);
      case RTC_YEAR: return this.toReg(f.year % 100);
      default: return this.toReg(Math.floor(f.year / 100) % 100); // CMOS_CENTURY
    }
  }

  /** Copies the running time into the time registers (SET rising, or a write while running). */
  private freeze(): void {
    const f = this.fields(this.guestMs());
    for (const r of TIME_REGS) this.cmos[r] = this.timeReg(r, f);
  }

  /** Restarts the clock from the time registers; impossible dates are normalized, as Date does. */
  private commit(): void {
    const c = this.cmos;
    const year = this.fromReg(c[CMOS_CENTURY]!) * 100 + this.fromReg(c[RTC_YEAR]!);
    const d = new Date(0);
    d.setUTCFullYear(year, this.fromReg(c[RTC_MONTH]!) - 1, this.fromReg(c[RTC_DAY_OF_MONTH]!));
    d.setUTCHours(this.decodeHour(c[RTC_HOURS]!), this.fromReg(c[RTC_MINUTES]!), this.fromReg(c[RTC_SECONDS]!), 0);
    const ms = d.getTime();
    if (!Number.isFinite(ms)) return;
    this.offsetMs = ms - this.hostMs();
    this.lastUpdateSecond = Math.floor(ms / 1000);
  }

  private isTimeReg(reg: number): boolean {
    return (TIME_REGS as readonly number[]).includes(reg);
  }

  // --- Port access ---

  private readPorts(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
    return v >>> 0;
  }

  private writePorts(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private readByte(offset: number): number {
    if (offset !== 1) return 0xff; // the index port is write-only
    return this.readCmos(this.index);
  }

  private writeByte(offset: number, v: number): void {
    if (offset === 0) {
      this.index = v & INDEX_MASK;
      this.nmiMasked = (v & NMI_DISABLE) !== 0;
    } else if (offset === 1) {
      this.writeCmos(this.index, v);
    }
  }

  private readCmos(reg: number): number {
    switch (reg) {
      case RTC_REG_A: {
        const frac = ((this.guestMs() % 1000) + 1000) % 1000;
        const uip = !this.setMode && frac >= 1000 - UIP_LEAD_MS;
        return (this.cmos[RTC_REG_A]! & ~REG_A_UIP) | (uip ? REG_A_UIP : 0);
      }
      case RTC_REG_C: {
        this.pollUpdate();
        const v = this.regC | (this.irqf() ? REG_C_IRQF : 0);
        this.regC = 0;
        this.updateIrq();
        return v;
      }
      case RTC_REG_D: return REG_D_VRT;
      default:
        if (!this.setMode && this.isTimeReg(reg)) return this.timeReg(reg, this.fields(this.guestMs()));
        return this.cmos[reg & INDEX_MASK]!;
    }
  }

  private writeCmos(reg: number, v: number): void {
    switch (reg) {
      case RTC_REG_A:
        this.cmos[RTC_REG_A] = v & ~REG_A_UIP;
        this.reschedule();
        return;
      case RTC_REG_B: {
        const wasSet = this.setMode;
        // Setting SET clears UIE (datasheet, register B bit 7).
        if (v & REG_B_SET) v &= ~REG_B_UIE;
        if (!wasSet && (v & REG_B_SET)) this.freeze();
        this.cmos[RTC_REG_B] = v;
        if (wasSet && !this.setMode) this.commit();
        this.reschedule();
        this.updateIrq();
        return;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        if (this.isTimeReg(reg)) {
          if (this.setMode) { this.cmos[reg] = v; return; }
          this.freeze();
          this.cmos[reg] = v;
          this.commit();
          this.reschedule();
          return;
        }
        this.cmos[reg & INDEX_MASK] = v;
    }
  }

  // --- Interrupts ---

  private irqf(): boolean {
    const b = this.regB;
    return ((b & REG_B_PIE) !== 0 && (this.regC & REG_C_PF) !== 0)
      || ((b & REG_B_AIE) !== 0 && (this.regC & REG_C_AF) !== 0)
      || ((b & REG_B_UIE) !== 0 && (this.regC & REG_C_UF) !== 0);
  }

  /** The IRQ line follows IRQF: high until the guest reads register C. */
  private updateIrq(): void {
    const level = this.irqf();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Accounts an update cycle (and an alarm match) if a second boundary passed. */
  private pollUpdate(): void {
    if (this.setMode) return;
    const now = this.guestMs();
    const second = Math.floor(now / 1000);
    if (second === this.lastUpdateSecond) return;
    this.lastUpdateSecond = second;
    this.regC |= REG_C_UF;
    if (this.alarmMatches(this.fields(now))) this.regC |= REG_C_AF;
  }

  private alarmMatches(f: Fields): boolean {
    const match = (alarmReg: number, reg: number): boolean => {
      const a = this.cmos[alarmReg]!;
      return a >= ALARM_DONT_CARE || a === this.timeReg(reg, f);
    };
    return match(RTC_SECONDS_ALARM, RTC_SECONDS) && match(RTC_MINUTES_ALARM, RTC_MINUTES) && match(RTC_HOURS_ALARM, RTC_HOURS);
  }

  /** Periodic-interrupt period from register A's RS bits, or 0 for none. */
  private periodMs(): number {
    const rs = this.cmos[RTC_REG_A]! & REG_A_RS;
    if (rs === 0) return 0;
    // RS 1 and 2 give the same rates as 8 and 9 with a 32.768 kHz time base.
    const hz = rs <= 2 ? 65536 >> (rs + 7) : 65536 >> rs;
    return 1000 / hz;
  }

  /** (Re)arms the periodic and update timers after a change to register A or B. */
  private reschedule(): void {
    const period = this.periodMs();
    const wantPeriodic = (this.regB & REG_B_PIE) !== 0 && period > 0;
    if (this.periodicTimer >= 0) { this.timers.clearTimeout(this.periodicTimer); this.periodicTimer = -1; }
    if (wantPeriodic) {
      this.periodicDue = this.clock.monotonicMs() + period;
      this.periodicTimer = this.timers.setTimeout(() => this.periodicTick(), period);
    }
    if (this.updateTimer >= 0) { this.timers.clearTimeout(this.updateTimer); this.updateTimer = -1; }
    if ((this.regB & (REG_B_UIE | REG_B_AIE)) !== 0 && !this.setMode) this.armUpdate();
  }

  private periodicTick(): void {
    this.periodicTimer = -1;
    this.regC |= REG_C_PF;
    this.updateIrq();
    const period = this.periodMs();
    if (period <= 0 || !(this.regB & REG_B_PIE)) return;
    const now = this.clock.monotonicMs();
    this.periodicDue += period;
    // Ticks the host could not deliver in time are coalesced rather than fired in a burst.
    if (this.periodicDue <= now) this.periodicDue = now + period;
    this.periodicTimer = this.timers.setTimeout(() => this.periodicTick(), this.periodicDue - now);
  }

  private armUpdate(): void {
    const frac = ((this.guestMs() % 1000) + 1000) % 1000;
    this.updateTimer = this.timers.setTimeout(() => {
      this.updateTimer = -1;
      this.pollUpdate();
      this.updateIrq();
      if ((this.regB & (REG_B_UIE | REG_B_AIE)) !== 0 && !this.setMode) this.armUpdate();
    }, 1000 - frac);
  }

  // --- State ---

  saveState(): Mc146818State {
    return { cmos: Array.from(this.cmos), index: this.index, nmiMasked: this.nmiMasked, regC: this.regC,
             offsetMs: this.guestMs() - this.clock.nowMs() };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported mc146818-rtc state version ${version}`);
    const s = expectRecord(state, this.id);
    const cmos = expectBytes(s, 'cmos', CMOS_SIZE);
    if (cmos.length !== CMOS_SIZE) throw new Error(`bad device state: cmos must hold ${CMOS_SIZE} bytes`);
    const index = expectInt(s, 'index', 0, INDEX_MASK);
    const nmiMasked = expectBool(s, 'nmiMasked');
    const regC = expectInt(s, 'regC', 0, REG_C_PF | REG_C_AF | REG_C_UF);
    const offsetMs = s['offsetMs'];
    // A guest can set any year up to 255 * 100 + 255; Date's range bounds all of them.
    if (typeof offsetMs !== 'number' || !Number.isFinite(offsetMs) || Math.abs(offsetMs) > MAX_DATE_MS) {
      throw new Error(`bad device state: offsetMs=${String(offsetMs)}`);
    }
    this.cmos.set(cmos);
    this.cmos[RTC_REG_A] = this.cmos[RTC_REG_A]! & ~REG_A_UIP;
    this.index = index;
    this.nmiMasked = nmiMasked;
    this.regC = regC;
    this.anchor();
    this.offsetMs = offsetMs;
    this.lastUpdateSecond = Math.floor(this.guestMs() / 1000);
    this.irqLevel = false;
    this.irq.set(false);
    this.reschedule();
    this.updateIrq();
  }

  /** Whether the guest has masked NMI through the index port (no NMI source exists yet). */
  get nmiDisabled(): boolean { return this.nmiMasked; }
}
