// E1000 interrupt moderation (8254x SDM §3.2.7 receive/transmit interrupt delays, §13.4.17
// ITR, §13.4.30 RDTR, §13.4.33 RADV, §13.4.44 TIDV, §13.4.47 TADV):
//
// - RDTR (1.024 µs units) delays RXT0 after a frame is stored; each new frame restarts it.
//   RADV (1.024 µs units, used only with RDTR non-zero) bounds that delay from the first frame.
//   Writing RDTR with FPD set flushes: a pending RXT0 fires now. RDTR = 0: RXT0 at once.
// - TIDV/TADV do the same for TXDW, for descriptors with IDE set; any descriptor without IDE
//   signals at once (and takes the pending delayed cause with it). TIDV = 0: at once.
// - ITR (256 ns units) is the minimum interval between assertions of the interrupt line: the
//   causes are in ICR at once, but the line waits until the interval since the last assertion
//   has passed. ITR = 0: no throttling.
//
// Timers come from the device model's timer queue; without one (unit tests of other behaviour,
// old callers) every cause is signalled at once.

import type { Timers } from '../../devicemodel/timers.js';
import { ICR_RXT0, ICR_TXDW } from './e1000-regs.js';

/** Delay-register unit in ms (1.024 µs) and ITR unit in ms (256 ns). */
export const DELAY_UNIT_MS = 1.024e-3;
export const ITR_UNIT_MS = 256e-6;
/** RDTR/TIDV bit 31: flush partial descriptor block. */
export const DELAY_FPD = 0x8000_0000;

/**
 * One cause's delay pair: a packet timer (RDTR/TIDV) that each new event restarts and an
 * absolute timer (RADV/TADV) started by the first event, whichever ends first signals the cause.
 */
class DelayPair {
  private packet = 0;
  private abs = 0;

  constructor(private readonly timers: Timers | null, private readonly signal: () => void) {}

  /** An event with packet delay `delay` and absolute delay `absolute` (16-bit, 1.024 µs units); `now` signals at once. */
  event(delay: number, absolute: number, now: boolean): void {
    const d = delay & 0xffff;
    const t = this.timers;
    if (t === null || now || d === 0) { this.fire(); return; }
    if (this.packet !== 0) t.clearTimeout(this.packet);
    this.packet = t.setTimeout(() => { this.packet = 0; this.fire(); }, d * DELAY_UNIT_MS);
    const a = absolute & 0xffff;
    if (a !== 0 && this.abs === 0) this.abs = t.setTimeout(() => { this.abs = 0; this.fire(); }, a * DELAY_UNIT_MS);
  }

  /** FPD: a delayed cause fires now. */
  flush(): void { if (this.packet !== 0 || this.abs !== 0) this.fire(); }

  /** Both timers stopped, nothing pending. */
  reset(): void {
    const t = this.timers;
    if (t !== null) {
      if (this.packet !== 0) t.clearTimeout(this.packet);
      if (this.abs !== 0) t.clearTimeout(this.abs);
    }
    this.packet = this.abs = 0;
  }

  private fire(): void {
    this.reset();
    this.signal();
  }
}

/** The four delay timers and the ITR gate of one card. */
export class E1000Moderation {
  private readonly rx: DelayPair;
  private readonly tx: DelayPair;
  private itrWait = 0;
  private lastAssert = -Infinity;
  /** Interrupt line assertions held back by ITR (for tests and statistics). */
  throttled = 0;

  /**
   * `fire` sets ICR causes (and re-evaluates the line); `reevaluate` re-evaluates the line
   * when an ITR interval ends.
   */
  constructor(private readonly timers: Timers | null, private readonly now: () => number,
              fire: (causes: number) => void, private readonly reevaluate: () => void) {
    this.rx = new DelayPair(timers, () => fire(ICR_RXT0));
    this.tx = new DelayPair(timers, () => fire(ICR_TXDW));
  }

  /** A frame was written to the receive ring. */
  received(rdtr: number, radv: number): void { this.rx.event(rdtr, radv, false); }

  /** RDTR written with FPD: a delayed RXT0 fires now. */
  flushRx(): void { this.rx.flush(); }

  /** Descriptors were processed; `delayed` when every one of them had IDE set. */
  transmitted(tidv: number, tadv: number, delayed: boolean): void { this.tx.event(tidv, tadv, !delayed); }

  /** TIDV written with FPD: a delayed TXDW fires now. */
  flushTx(): void { this.tx.flush(); }

  /**
   * Whether the line may go up now under ITR (`itr` in 256 ns units). When not, a timer
   * re-evaluates the line when the interval ends. Call only when the line is down and wanted.
   */
  mayAssert(itr: number): boolean {
    const interval = (itr & 0xffff) * ITR_UNIT_MS;
    const now = this.now();
    if (this.timers === null || interval === 0 || now - this.lastAssert >= interval) {
      this.lastAssert = now;
      return true;
    }
    this.throttled++;
    if (this.itrWait === 0) {
      this.itrWait = this.timers.setTimeout(() => { this.itrWait = 0; this.reevaluate(); }, this.lastAssert + interval - now);
    }
    return false;
  }

  /** Card reset (or state load): nothing pending. */
  reset(): void {
    this.rx.reset();
    this.tx.reset();
    if (this.timers !== null && this.itrWait !== 0) this.timers.clearTimeout(this.itrWait);
    this.itrWait = 0;
    this.lastAssert = -Infinity;
  }
}
