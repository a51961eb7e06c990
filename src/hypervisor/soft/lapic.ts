// The local APIC of one CPU in xAPIC mode (Intel SDM vol. 3A ch. 10 / 11 "Advanced Programmable
// Interrupt Controller"): priority registers, the 256-bit IRR/ISR/TMR, EOI (broadcast to the
// IOAPIC for level-triggered vectors), the ICR (IPIs leave through a hook), the six LVT entries
// of version 0x14 and the timer in one-shot, periodic and TSC-deadline modes. The timer counts on
// a 1 GHz bus clock (as KVM's and QEMU's do) computed from the injected clock; no per-tick work.

/** APIC delivery modes (ICR, LVT and IOAPIC redirection entries, bits 10:8). */
export const enum DeliveryMode { Fixed = 0, LowestPriority = 1, Smi = 2, Nmi = 4, Init = 5, StartUp = 6, ExtInt = 7 }

/** Register offsets in the 4 KiB xAPIC page. */
export const APIC_ID = 0x020, APIC_LVR = 0x030, APIC_TPR = 0x080, APIC_APR = 0x090, APIC_PPR = 0x0a0,
  APIC_EOI = 0x0b0, APIC_RRD = 0x0c0, APIC_LDR = 0x0d0, APIC_DFR = 0x0e0, APIC_SVR = 0x0f0, APIC_ISR = 0x100,
  APIC_TMR = 0x180, APIC_IRR = 0x200, APIC_ESR = 0x280, APIC_ICR_LO = 0x300, APIC_ICR_HI = 0x310,
  APIC_LVT_TIMER = 0x320, APIC_LVT_THERMAL = 0x330, APIC_LVT_PERF = 0x340, APIC_LVT_LINT0 = 0x350,
  APIC_LVT_LINT1 = 0x360, APIC_LVT_ERROR = 0x370, APIC_TMICT = 0x380, APIC_TMCCT = 0x390, APIC_TDCR = 0x3e0;
/** Version register: version 0x14 (integrated APIC), max LVT entry 5 (six entries). */
const APIC_VERSION = 0x0005_0014;
/** SVR bits. */
const SVR_VECTOR = 0xff;
const SVR_ENABLE = 0x100;           // APIC software enable
const SVR_WRITABLE = 0x3ff;         // vector, enable, focus-check disable
/** LVT bits. */
const LVT_VECTOR = 0xff;
const LVT_MODE_SHIFT = 8;           // delivery mode, bits 10:8
const LVT_MASKED = 0x1_0000;
const LVT_TIMER_MODE_SHIFT = 17;    // bits 18:17: 0 one-shot, 1 periodic, 2 TSC-deadline
const TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2;
/** Writable bits per LVT entry, in register order timer, thermal, perf, LINT0, LINT1, error. */
const LVT_WRITABLE = [0x7_00ff, 0x1_07ff, 0x1_07ff, 0x1_a7ff, 0x1_a7ff, 0x1_00ff] as const;
const LVT_TIMER = 0, LVT_LINT0 = 3, LVT_ERROR = 5, LVT_COUNT = 6;
/** ESR bits. */
const ESR_SEND_ILLEGAL = 0x20;
const ESR_RECV_ILLEGAL = 0x40;
/** ICR: delivery status is always idle here (IPIs are delivered at once). */
const ICR_LO_WRITABLE = 0x000c_cfff;
const DFR_FLAT = 0xf;
/** Bus clock of the timer (Hz). */
export const APIC_BUS_HZ = 1_000_000_000;
const BUS_TICKS_PER_MS = APIC_BUS_HZ / 1000;
const TICK_EPSILON = 1e-6;

/** Saved state of one local APIC (timer times relative to the clock when saved). */
export interface LapicState {
  id: number; tpr: number; ldr: number; dfr: number; svr: number; esr: number; esrPending: number;
  icrLo: number; icrHi: number; lvt: number[]; initialCount: number; dcr: number;
  timerStartAgoMs: number; deadlineInMs: number | null; tscDeadline: number;
  irr: number[]; isr: number[]; tmr: number[]; nmiPending: boolean;
}

/** Options of a local APIC. */
export interface LapicOptions {
  /** Initial APIC ID (the CPU index). */
  id: number;
  /** Monotonic milliseconds. */
  clock: () => number;
  /** TSC frequency (Hz), for TSC-deadline mode. */
  tscHz: number;
  /** A level-triggered vector was EOIed (broadcast to the IOAPIC). */
  onEoi: (vector: number) => void;
  /** The ICR was written: route the IPI (ICR low, ICR high). */
  sendIpi: (from: Lapic, icrLo: number, icrHi: number) => void;
}

function highestBit(a: Int32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = a[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

/** One CPU's local APIC. */
export class Lapic {
  static readonly stateVersion = 1;
  private readonly clock: () => number;
  private readonly tscHz: number;
  private readonly onEoi: (vector: number) => void;
  private readonly sendIpi: (from: Lapic, icrLo: number, icrHi: number) => void;
  private readonly initialId: number;
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = -1;
  svr = SVR_VECTOR;
  private esr = 0;
  private esrPending = 0;
  private icrLo = 0;
  private icrHi = 0;
  readonly lvt = new Int32Array(LVT_COUNT);
  readonly irr = new Int32Array(8);
  readonly isr = new Int32Array(8);
  readonly tmr = new Int32Array(8);
  private initialCount = 0;
  private dcr = 0;
  private timerStart = 0;
  /** Clock time (ms) of the next timer expiry, or Infinity. */
  private deadline = Infinity;
  private tscDeadline = 0;
  /** NMI waiting for the CPU. */
  nmiPending = false;

  constructor(o: LapicOptions) {
    this.clock = o.clock;
    this.tscHz = o.tscHz;
    this.onEoi = o.onEoi;
    this.sendIpi = o.sendIpi;
    this.initialId = o.id & 0xff;
    this.reset();
  }

  /** Power-up state (also what a hardware disable leaves behind). */
  reset(): void {
    this.id = this.initialId << 24;
    this.initReset();
  }

  /** INIT: every register to its power-up value except the APIC ID. */
  initReset(): void {
    this.tpr = 0; this.ldr = 0; this.dfr = -1; this.svr = SVR_VECTOR; this.esr = 0; this.esrPending = 0;
    this.icrLo = 0; this.icrHi = 0; this.lvt.fill(LVT_MASKED); this.irr.fill(0); this.isr.fill(0); this.tmr.fill(0);
    this.initialCount = 0; this.dcr = 0; this.deadline = Infinity; this.tscDeadline = 0; this.nmiPending = false;
  }

  /** APIC software enable (SVR bit 8). */
  get softwareEnabled(): boolean { return (this.svr & SVR_ENABLE) !== 0; }

  /** Physical APIC ID (bits 31:24 of the ID register). */
  get apicId(): number { return this.id >>> 24; }

  /** LINT0 is unmasked in ExtINT mode: the PIC's INTR reaches the CPU through it (virtual wire). */
  lint0ExtInt(): boolean {
    const l = this.lvt[LVT_LINT0]!;
    return this.softwareEnabled && (l & LVT_MASKED) === 0 && ((l >> LVT_MODE_SHIFT) & 7) === DeliveryMode.ExtInt;
  }

  private ppr(): number {
    const isrv = highestBit(this.isr);
    const cls = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= cls ? this.tpr : cls;
  }

  private apr(): number {
    const irrv = Math.max(highestBit(this.irr), highestBit(this.isr), 0) & 0xf0;
    return (this.tpr & 0xf0) >= irrv ? this.tpr : irrv;
  }

  /** The vector the CPU would take now, or -1. */
  pendingVector(): number {
    if (!this.softwareEnabled) return -1;
    const irrv = highestBit(this.irr);
    if (irrv < 0 || (irrv & 0xf0) <= (this.ppr() & 0xf0)) return -1;
    return irrv;
  }

  /** INTA: moves the best pending vector in service; the spurious vector if none. */
  acknowledge(): number {
    const v = this.pendingVector();
    if (v < 0) return this.svr & SVR_VECTOR;
    const w = v >> 5, bit = 1 << (v & 31);
    this.irr[w] = this.irr[w]! & ~bit;
    this.isr[w] = this.isr[w]! | bit;
    return v;
  }

  /** An interrupt message arrives (from the IOAPIC, an IPI or a local source). */
  accept(mode: number, vector: number, level: boolean): void {
    switch (mode) {
      case DeliveryMode.Fixed:
      case DeliveryMode.LowestPriority: {
        if (vector < 16) { this.error(ESR_RECV_ILLEGAL); return; }
        const w = vector >> 5, bit = 1 << (vector & 31);
        this.irr[w] = this.irr[w]! | bit;
        this.tmr[w] = level ? this.tmr[w]! | bit : this.tmr[w]! & ~bit;
        return;
      }
      case DeliveryMode.Nmi: this.nmiPending = true; return;
      default: return;   // SMI unsupported; INIT/SIPI/ExtINT are handled by the platform
    }
  }

  private error(bits: number): void {
    this.esrPending |= bits;
    const l = this.lvt[LVT_ERROR]!;
    const v = l & LVT_VECTOR;
    if ((l & LVT_MASKED) === 0 && v >= 16) this.accept(DeliveryMode.Fixed, v, false);
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) return;
    const w = v >> 5, bit = 1 << (v & 31);
    this.isr[w] = this.isr[w]! & ~bit;
    if ((this.tmr[w]! & bit) !== 0) this.onEoi(v);
  }

  /** Whether a message to `dest` (ICR/redirection destination field) selects this APIC. */
  matches(dest: number, logical: boolean): boolean {
    if (!logical) return dest === 0xff || dest === this.apicId;
    const ldr = this.ldr >>> 24;
    if ((this.dfr >>> 28) === DFR_FLAT) return (ldr & dest) !== 0;
    const cluster = dest >> 4;
    return (cluster === 0xf || cluster === ldr >> 4) && (dest & ldr & 0xf) !== 0;
  }

  // ---- timer -----------------------------------------------------------------------------------

  private timerMode(): number { return (this.lvt[LVT_TIMER]! >>> LVT_TIMER_MODE_SHIFT) & 3; }

  private busTicksPerMs(): number {
    const v = (this.dcr & 3) | ((this.dcr >> 1) & 4);
    return BUS_TICKS_PER_MS / (v === 7 ? 1 : 2 << v);
  }

  private currentCount(now: number): number {
    const init = this.initialCount;
    if (init === 0 || this.timerMode() === TIMER_TSC_DEADLINE) return 0;
    const d = Math.floor((now - this.timerStart) * this.busTicksPerMs() + TICK_EPSILON);
    if (this.timerMode() === TIMER_PERIODIC) return init - (d % init);
    return d >= init ? 0 : init - d;
  }

  private fireTimer(): void {
    const l = this.lvt[LVT_TIMER]!;
    if ((l & LVT_MASKED) === 0) {
      const v = l & LVT_VECTOR;
      if (v < 16) this.error(ESR_RECV_ILLEGAL);
      else this.accept(DeliveryMode.Fixed, v, false);
    }
  }

  /** Fires the timer if it expired; a periodic timer that missed periods fires once. */
  update(now: number): void {
    if (now < this.deadline) return;
    this.fireTimer();
    if (this.timerMode() === TIMER_PERIODIC && this.initialCount !== 0) {
      const period = this.initialCount / this.busTicksPerMs();
      this.deadline += (Math.floor((now - this.deadline) / period) + 1) * period;
    } else {
      this.deadline = Infinity;
      this.tscDeadline = 0;
    }
  }

  /** Clock time (ms) of the next timer expiry, or Infinity. */
  nextDeadline(): number { return this.deadline; }

  /** WRMSR IA32_TSC_DEADLINE (0x6E0); `tscNow` is the CPU's TSC at the write. */
  writeTscDeadline(value: number, tscNow: number): void {
    if (this.timerMode() !== TIMER_TSC_DEADLINE) return;
    this.tscDeadline = value;
    if (value === 0) { this.deadline = Infinity; return; }
    const now = this.clock();
    this.deadline = now + (Math.max(0, value - tscNow) * 1000) / this.tscHz;
    this.update(now);
  }

  /** RDMSR IA32_TSC_DEADLINE: the armed deadline, 0 once it fired or when disarmed. */
  readTscDeadline(): number { return this.tscDeadline; }

  private writeLvt(i: number, v: number): void {
    let val = v & LVT_WRITABLE[i]!;
    if (!this.softwareEnabled) val |= LVT_MASKED;
    if (i === LVT_TIMER && ((val >>> LVT_TIMER_MODE_SHIFT) & 3) !== this.timerMode()) {
      // Changing the timer mode disarms the timer.
      this.initialCount = 0;
      this.deadline = Infinity;
      this.tscDeadline = 0;
    }
    this.lvt[i] = val;
  }

  // ---- registers -------------------------------------------------------------------------------

  /** Reads the 32-bit register at `offset` (16-byte aligned) of the APIC page. */
  readRegister(offset: number): number {
    if (offset >= APIC_ISR && offset < APIC_ESR) {
      const i = (offset >> 4) & 7;
      if (offset < APIC_TMR) return this.isr[i]! >>> 0;
      if (offset < APIC_IRR) return this.tmr[i]! >>> 0;
      return this.irr[i]! >>> 0;
    }
    if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR) return this.lvt[(offset - APIC_LVT_TIMER) >> 4]! >>> 0;
    switch (offset) {
      case APIC_ID: return this.id >>> 0;
      case APIC_LVR: return APIC_VERSION;
      case APIC_TPR: return this.tpr;
      case APIC_APR: return this.apr();
      case APIC_PPR: return this.ppr();
      case APIC_LDR: return this.ldr >>> 0;
      case APIC_DFR: return this.dfr >>> 0;
      case APIC_SVR: return this.svr;
      case APIC_ESR: return this.esr;
      case APIC_ICR_LO: return this.icrLo;
      case APIC_ICR_HI: return this.icrHi >>> 0;
      case APIC_TMICT: return this.initialCount >>> 0;
      case APIC_TMCCT: return this.currentCount(this.clock()) >>> 0;
      case APIC_TDCR: return this.dcr;
      default: return 0;
    }
  }

  /** Writes the 32-bit register at `offset`; read-only and reserved registers ignore it. */
  writeRegister(offset: number, value: number): void {
    const v = value | 0;
    if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR) { this.writeLvt((offset - APIC_LVT_TIMER) >> 4, v); return; }
    switch (offset) {
      case APIC_ID: this.id = v & 0xff00_0000; return;
      case APIC_TPR: this.tpr = v & 0xff; return;
      case APIC_EOI: this.eoi(); return;
      case APIC_LDR: this.ldr = v & 0xff00_0000; return;
      case APIC_DFR: this.dfr = v | 0x0fff_ffff; return;
      case APIC_SVR:
        this.svr = v & SVR_WRITABLE;
        if (!this.softwareEnabled) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] = this.lvt[i]! | LVT_MASKED;
        return;
      case APIC_ESR: this.esr = this.esrPending; this.esrPending = 0; return;
      case APIC_ICR_HI: this.icrHi = v & 0xff00_0000; return;
      case APIC_ICR_LO: {
        this.icrLo = v & ICR_LO_WRITABLE;
        const mode = (v >> 8) & 7;
        if ((mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority) && (v & 0xff) < 16) {
          this.error(ESR_SEND_ILLEGAL);
          return;
        }
        this.sendIpi(this, this.icrLo, this.icrHi);
        return;
      }
      case APIC_TMICT: {
        if (this.timerMode() === TIMER_TSC_DEADLINE) return;
        const now = this.clock();
        this.initialCount = v >>> 0;
        this.timerStart = now;
        this.deadline = this.initialCount === 0 ? Infinity : now + this.initialCount / this.busTicksPerMs();
        return;
      }
      case APIC_TDCR: {
        const now = this.clock();
        const running = this.deadline !== Infinity && this.timerMode() !== TIMER_TSC_DEADLINE;
        const cur = running ? this.currentCount(now) : 0;
        this.dcr = v & 0xb;
        if (running) {
          // Keep the count where it is; it runs on at the new rate.
          const r = this.busTicksPerMs();
          this.timerStart = now - (this.initialCount - cur) / r;
          this.deadline = now + cur / r;
        }
        return;
      }
      default: return;
    }
  }

  saveState(): LapicState {
    const now = this.clock();
    return {
      id: this.id >>> 0, tpr: this.tpr, ldr: this.ldr >>> 0, dfr: this.dfr >>> 0, svr: this.svr, esr: this.esr,
      esrPending: this.esrPending, icrLo: this.icrLo, icrHi: this.icrHi >>> 0,
      lvt: Array.from(this.lvt, (x) => x >>> 0), initialCount: this.initialCount, dcr: this.dcr,
      timerStartAgoMs: now - this.timerStart, deadlineInMs: this.deadline === Infinity ? null : this.deadline - now,
      tscDeadline: this.tscDeadline, irr: Array.from(this.irr, (x) => x >>> 0), isr: Array.from(this.isr, (x) => x >>> 0),
      tmr: Array.from(this.tmr, (x) => x >>> 0), nmiPending: this.nmiPending,
    };
  }

  /** Validates everything first, then loads. */
  loadState(s: LapicState): void {
    const u32 = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
    const fin = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
    const words = (a: unknown, n: number): boolean => Array.isArray(a) && a.length === n && a.every(u32);
    const ok = typeof s === 'object' && s !== null &&
      [s.id, s.tpr, s.ldr, s.dfr, s.svr, s.esr, s.esrPending, s.icrLo, s.icrHi, s.initialCount, s.dcr].every(u32) &&
      s.tpr <= 0xff && s.svr <= SVR_WRITABLE && s.dcr <= 0xb && words(s.lvt, LVT_COUNT) &&
      words(s.irr, 8) && words(s.isr, 8) && words(s.tmr, 8) && fin(s.timerStartAgoMs) &&
      (s.deadlineInMs === null || fin(s.deadlineInMs)) && fin(s.tscDeadline) && s.tscDeadline >= 0 &&
      typeof s.nmiPending === 'boolean';
    if (!ok) throw new Error('lapic state: invalid');
    const now = this.clock();
    this.id = s.id & 0xff00_0000; this.tpr = s.tpr; this.ldr = s.ldr & 0xff00_0000; this.dfr = s.dfr | 0x0fff_ffff;
    this.svr = s.svr; this.esr = s.esr; this.esrPending = s.esrPending; this.icrLo = s.icrLo & ICR_LO_WRITABLE;
    this.icrHi = s.icrHi & 0xff00_0000;
    s.lvt.forEach((x, i) => { this.lvt[i] = x & LVT_WRITABLE[i]!; });
    this.irr.set(s.irr.map((x) => x | 0)); this.isr.set(s.isr.map((x) => x | 0)); this.tmr.set(s.tmr.map((x) => x | 0));
    this.initialCount = s.initialCount; this.dcr = s.dcr; this.timerStart = now - s.timerStartAgoMs;
    this.deadline = s.deadlineInMs === null ? Infinity : now + s.deadlineInMs;
    this.tscDeadline = s.tscDeadline; this.nmiPending = s.nmiPending;
  }
}
