// The 8254 programmable interval timer (Intel 8254 datasheet, order 231164) at ports 0x40-0x43,
// clocked at 1.193182 MHz, and port 0x61 (PC/AT port B: counter 2 gate, speaker data, refresh
// toggle, counter 2 OUT). Served on the soft CPU's thread.
//
// No per-tick work: each counter remembers when its count was loaded, and its value and OUT are
// computed from the ticks elapsed on the injected monotonic clock. Counter 0's OUT drives IRQ0;
// `update(now)` raises one edge per elapsed terminal count.
//
// Late ticks: when several counter-0 periods elapsed since the last `update` (the host was slow
// or the CPU thread slept), ONE edge is delivered and the missed periods are dropped. The PIC's
// IRR holds a single edge anyway, so a burst would coalesce; dropping instead of replaying keeps
// a stalled guest from seeing a storm of back-to-back timer interrupts (Linux's timekeeping reads
// the TSC or the PIT count, not the number of interrupts, once it has booted).

/** Input clock of every counter (Hz). */
export const PIT_HZ = 1_193_182;
const TICKS_PER_MS = PIT_HZ / 1000;
/** Guards the ms -> ticks conversion against a deadline landing a hair before its tick. */
const TICK_EPSILON = 1e-6;

/** Control word (port 0x43). */
const CW_SC_SHIFT = 6;         // bits 7:6 select the counter; 3 = read-back
const CW_SC_READBACK = 3;
const CW_RW_SHIFT = 4;         // bits 5:4: 0 = counter latch, 1 = LSB, 2 = MSB, 3 = LSB then MSB
const CW_M_SHIFT = 1;          // bits 3:1: mode (6 and 7 alias 2 and 3)
const CW_BCD = 0x01;
/** Read-back command. */
const RB_NOT_COUNT = 0x20;     // 0 = latch the count of the selected counters
const RB_NOT_STATUS = 0x10;    // 0 = latch their status
const RB_CNT0 = 0x02;          // bits 3:1 select counters 0..2
/** Status byte. */
const ST_OUTPUT = 0x80;
const ST_NULL_COUNT = 0x40;
/** Read/write access modes. */
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;
/** Port 0x61 (port B). */
const PORTB_GATE2 = 0x01;      // counter 2 gate
const PORTB_SPEAKER = 0x02;    // speaker data enable
const PORTB_REFRESH = 0x10;    // toggles on every read (Linux's timing loops wait for it)
const PORTB_OUT2 = 0x20;       // counter 2 OUT

/** Saved state of one counter; times are relative to the clock when saved. */
export interface PitCounterState {
  mode: number; rw: number; bcd: boolean; count: number; armed: boolean; loadAgoMs: number;
  gate: boolean; frozen: number; triggered: boolean; writeLatch: number; writeHigh: boolean;
  readHigh: boolean; latchBytes: number; latchValue: number; statusLatched: boolean; status: number;
  nullCount: boolean; delivered: number;
}

/** Saved state of the PIT and port 0x61. */
export interface I8254State { stateVersion: number; counters: PitCounterState[]; speaker: boolean; refresh: boolean }

/** One of the three counters. */
class Counter {
  mode = 0;
  rw = RW_WORD;
  bcd = false;
  /** Reload value, 1..0x10000 (a written 0 means 0x10000). */
  count = 0x10000;
  /** A count has been written since the control word. */
  armed = false;
  /** Clock (ms) at which counting (re)started. */
  loadTime = 0;
  gate = true;
  /** Elapsed ticks frozen while the gate holds counting off, else -1. */
  frozen = -1;
  /** Modes 1 and 5 wait for a gate rising edge. */
  triggered = true;
  writeLatch = 0;
  writeHigh = false;
  readHigh = false;
  /** Bytes of a latched count still to read: 0 none; with rw WORD: 2 then 1. */
  latchBytes = 0;
  latchValue = 0;
  statusLatched = false;
  status = 0;
  nullCount = true;
  /** Terminal counts already signalled (counter 0's IRQ edges). */
  delivered = 0;

  ticks(now: number): number {
    if (!this.armed || !this.triggered) return 0;
    if (this.frozen >= 0) return this.frozen;
    const d = Math.floor((now - this.loadTime) * TICKS_PER_MS + TICK_EPSILON);
    return d > 0 ? d : 0;
  }

  value(now: number): number {
    if (!this.armed) return this.count & 0xffff;
    const c = this.count;
    const d = this.ticks(now);
    switch (this.mode) {
      case 2: return (c - (d % c)) & 0xffff;
      case 3: return (c - ((2 * d) % c)) & 0xffff;
      default: return (c - d) & 0xffff;
    }
  }

  out(now: number): boolean {
    if (!this.armed) return this.mode !== 0;
    const c = this.count;
    const d = this.ticks(now);
    switch (this.mode) {
      case 0: return d >= c;
      case 1: return !this.triggered || d >= c;
      case 2: return !this.gate || c < 2 || d % c !== c - 1;
      case 3: return !this.gate || d % c < ((c + 1) >> 1);
      case 4: return d !== c;
      default: return !this.triggered || d !== c;
    }
  }

  /** Starts counting a freshly written count. */
  load(n: number, now: number): void {
    this.count = n === 0 ? 0x10000 : n;
    this.armed = true;
    this.nullCount = false;
    this.delivered = 0;
    this.loadTime = now;
    this.triggered = this.mode !== 1 && this.mode !== 5;
    this.frozen = !this.gate && this.mode !== 1 && this.mode !== 5 ? 0 : -1;
  }

  setGate(g: boolean, now: number): void {
    if (g === this.gate) return;
    if (this.armed) {
      if (!g) {
        // Modes 0, 4 pause; modes 2, 3 stop (and reload on the next rising edge).
        if (this.mode !== 1 && this.mode !== 5) this.frozen = this.ticks(now);
      } else if (this.mode === 0 || this.mode === 4) {
        this.loadTime = now - this.frozen / TICKS_PER_MS;
        this.frozen = -1;
      } else {
        this.loadTime = now;
        this.frozen = -1;
        this.triggered = true;
        this.delivered = 0;
      }
    }
    this.gate = g;
  }

  latchCount(now: number): void {
    if (this.latchBytes !== 0) return;
    this.latchValue = this.value(now);
    this.latchBytes = this.rw === RW_WORD ? 2 : 1;
  }

  latchStatus(now: number): void {
    if (this.statusLatched) return;
    this.status = (this.out(now) ? ST_OUTPUT : 0) | (this.nullCount ? ST_NULL_COUNT : 0) |
      (this.rw << CW_RW_SHIFT) | (this.mode << CW_M_SHIFT) | (this.bcd ? CW_BCD : 0);
    this.statusLatched = true;
  }

  control(v: number): void {
    this.rw = (v >> CW_RW_SHIFT) & 3;
    let mode = (v >> CW_M_SHIFT) & 7;
    if (mode > 5) mode -= 4;
    this.mode = mode;
    this.bcd = (v & CW_BCD) !== 0;
    this.armed = false;
    this.nullCount = true;
    this.writeHigh = false;
    this.readHigh = false;
    this.latchBytes = 0;
    this.statusLatched = false;
    this.frozen = -1;
    this.delivered = 0;
  }

  read(now: number): number {
    if (this.statusLatched) { this.statusLatched = false; return this.status; }
    if (this.latchBytes !== 0) {
      let v: number;
      if (this.rw === RW_MSB) v = this.latchValue >> 8;
      else if (this.rw === RW_WORD && this.latchBytes === 1) v = this.latchValue >> 8;
      else v = this.latchValue & 0xff;
      this.latchBytes--;
      return v;
    }
    const value = this.value(now);
    switch (this.rw) {
      case RW_LSB: return value & 0xff;
      case RW_MSB: return value >> 8;
      default: {
        const high = this.readHigh;
        this.readHigh = !high;
        return high ? value >> 8 : value & 0xff;
      }
    }
  }

  write(v: number, now: number): void {
    switch (this.rw) {
      case RW_LSB: this.load(v, now); return;
      case RW_MSB: this.load(v << 8, now); return;
      default:
        if (!this.writeHigh) {
          this.writeLatch = v;
          this.writeHigh = true;
          // Mode 0: writing the first byte stops the count and drives OUT low.
          if (this.mode === 0) this.armed = false;
        } else {
          this.writeHigh = false;
          this.load(this.writeLatch | (v << 8), now);
        }
    }
  }

  /** Whether a counter-0 IRQ edge is due now (and marks it delivered). */
  tick(now: number): boolean {
    if (!this.armed || !this.triggered) return false;
    const d = this.ticks(now);
    if (this.mode === 2 || this.mode === 3) {
      const k = Math.floor(d / this.count);
      if (k <= this.delivered) return false;
      this.delivered = k;   // missed periods are dropped (see the header)
      return true;
    }
    if ((this.mode === 0 || this.mode === 4) && this.delivered === 0 && d >= this.count) {
      this.delivered = 1;
      return true;
    }
    return false;
  }

  deadline(): number {
    if (!this.armed || !this.triggered || this.frozen >= 0) return Infinity;
    if (this.mode === 2 || this.mode === 3) return this.loadTime + ((this.delivered + 1) * this.count) / TICKS_PER_MS;
    if ((this.mode === 0 || this.mode === 4) && this.delivered === 0) return this.loadTime + this.count / TICKS_PER_MS;
    return Infinity;
  }
}

/** Options of the PIT. */
export interface I8254Options {
  /** Monotonic milliseconds. */
  clock: () => number;
  /** Raises one IRQ0 edge (counter 0's OUT rose). */
  irq0: () => void;
}

function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** The 8254 PIT with port 0x61. */
export class I8254 {
  static readonly stateVersion = 1;
  private readonly counters = [new Counter(), new Counter(), new Counter()] as const;
  private readonly clock: () => number;
  private readonly irq0: () => void;
  private speaker = false;
  private refresh = false;

  constructor(o: I8254Options) {
    this.clock = o.clock;
    this.irq0 = o.irq0;
  }

  /** Reads 0x40-0x42 (counters) or 0x61 (port B); 0x43 reads as 0xff. */
  read(port: number): number {
    const now = this.clock();
    switch (port) {
      case 0x40: return this.counters[0].read(now);
      case 0x41: return this.counters[1].read(now);
      case 0x42: return this.counters[2].read(now);
      case 0x61: {
        const c2 = this.counters[2];
        this.refresh = !this.refresh;
        return (c2.gate ? PORTB_GATE2 : 0) | (this.speaker ? PORTB_SPEAKER : 0) |
          (this.refresh ? PORTB_REFRESH : 0) | (c2.out(now) ? PORTB_OUT2 : 0);
      }
      default: return 0xff;
    }
  }

  /** Writes 0x40-0x43 or 0x61. */
  write(port: number, value: number): void {
    const now = this.clock();
    const v = value & 0xff;
    switch (port) {
      case 0x40: this.counters[0].write(v, now); break;
      case 0x41: this.counters[1].write(v, now); break;
      case 0x42: this.counters[2].write(v, now); break;
      case 0x43: this.control(v, now); break;
      case 0x61:
        this.speaker = (v & PORTB_SPEAKER) !== 0;
        this.counters[2].setGate((v & PORTB_GATE2) !== 0, now);
        break;
      default: break;
    }
  }

  private control(v: number, now: number): void {
    const sc = v >> CW_SC_SHIFT;
    if (sc === CW_SC_READBACK) {
      for (let i = 0; i < 3; i++) {
        if ((v & (RB_CNT0 << i)) === 0) continue;
        const c = this.counters[i]!;
        if ((v & RB_NOT_COUNT) === 0) c.latchCount(now);
        if ((v & RB_NOT_STATUS) === 0) c.latchStatus(now);
      }
      return;
    }
    const c = this.counters[sc]!;
    if (((v >> CW_RW_SHIFT) & 3) === 0) c.latchCount(now);
    else c.control(v);
  }

  /** Raises IRQ0 if counter 0 reached a terminal count since the last call. */
  update(now: number): void {
    if (this.counters[0].tick(now)) this.irq0();
  }

  /** Clock time (ms) of the next IRQ0 edge, or Infinity. */
  nextDeadline(): number {
    return this.counters[0].deadline();
  }

  saveState(): I8254State {
    const now = this.clock();
    return {
      stateVersion: I8254.stateVersion, speaker: this.speaker, refresh: this.refresh,
      counters: this.counters.map((c) => ({
        mode: c.mode, rw: c.rw, bcd: c.bcd, count: c.count, armed: c.armed, loadAgoMs: now - c.loadTime,
        gate: c.gate, frozen: c.frozen, triggered: c.triggered, writeLatch: c.writeLatch, writeHigh: c.writeHigh,
        readHigh: c.readHigh, latchBytes: c.latchBytes, latchValue: c.latchValue, statusLatched: c.statusLatched,
        status: c.status, nullCount: c.nullCount, delivered: c.delivered,
      })),
    };
  }

  /** Validates everything first, then loads. */
  loadState(s: I8254State): void {
    if (typeof s !== 'object' || s === null || s.stateVersion !== I8254.stateVersion) throw new Error('i8254 state: unsupported version');
    if (!Array.isArray(s.counters) || s.counters.length !== 3) throw new Error('i8254 state: need 3 counters');
    if (typeof s.speaker !== 'boolean' || typeof s.refresh !== 'boolean') throw new Error('i8254 state: bad port B');
    for (const c of s.counters) {
      const ok = typeof c === 'object' && c !== null && isInt(c.mode, 0, 5) && isInt(c.rw, 1, 3) &&
        isInt(c.count, 1, 0x10000) && isInt(c.frozen, -1, Number.MAX_SAFE_INTEGER) && isInt(c.writeLatch, 0, 0xff) &&
        isInt(c.latchBytes, 0, 2) && isInt(c.latchValue, 0, 0xffff) && isInt(c.status, 0, 0xff) &&
        isInt(c.delivered, 0, Number.MAX_SAFE_INTEGER) && typeof c.loadAgoMs === 'number' && Number.isFinite(c.loadAgoMs) &&
        [c.bcd, c.armed, c.gate, c.triggered, c.writeHigh, c.readHigh, c.statusLatched, c.nullCount]
          .every((b) => typeof b === 'boolean');
      if (!ok) throw new Error('i8254 state: invalid counter');
    }
    const now = this.clock();
    this.speaker = s.speaker;
    this.refresh = s.refresh;
    s.counters.forEach((c, i) => {
      const d = this.counters[i]!;
      d.mode = c.mode; d.rw = c.rw; d.bcd = c.bcd; d.count = c.count; d.armed = c.armed;
      d.loadTime = now - c.loadAgoMs; d.gate = c.gate; d.frozen = c.frozen; d.triggered = c.triggered;
      d.writeLatch = c.writeLatch; d.writeHigh = c.writeHigh; d.readHigh = c.readHigh; d.latchBytes = c.latchBytes;
      d.latchValue = c.latchValue; d.statusLatched = c.statusLatched; d.status = c.status;
      d.nullCount = c.nullCount; d.delivered = c.delivered;
    });
  }
}
