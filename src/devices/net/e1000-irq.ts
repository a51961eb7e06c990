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

/** The four delay timers and the ITR gate of one card. */
export class E1000Moderation {
  private rxPacket = 0;
  private rxAbs = 0;
  private txPacket = 0;
  private txAbs = 0;
  private itrWait = 0;
  private lastAssert = -Infinity;
  /** Interrupt line assertions held back by ITR (for tests and statistics). */
  throttled = 0;

  /**
   * `fire` sets ICR causes (and re-evaluates the line); `reevaluate` re-evaluates the line
   * when an ITR interval ends.
   */
  constructor(private readonly timers: Timers | null, private readonly now: () => number,
              private readonly fire: (causes: number) => void, private readonly reevaluate: () => void) {}

  /** A frame was written to the receive ring. */
  received(rdtr: number, radv: number): void {
    const d = rdtr & 0xffff;
    const t = this.timers;
    if (t === null || d === 0) { this.fireRx(); return; }
    if (this.rxPacket !== 0) t.clearTimeout(this.rxPacket);
    this.rxPacket = t.setTimeout(() => { this.rxPacket = 0; this.fireRx(); }, d * DELAY_UNIT_MS);
    const a = radv & 0xffff;
    if (a !== 0 && this.rxAbs === 0) this.rxAbs = t.setTimeout(() => { this.rxAbs = 0; this.fireRx(); }, a * DELAY_UNIT_MS);
  }

  /** RDTR written with FPD: a delayed RXT0 fires now. */
  flushRx(): void { if (this.rxPacket !== 0 || this.rxAbs !== 0) this.fireRx(); }

  /** Descriptors were processed; `delayed` when every one of them had IDE set. */
  transmitted(tidv: number, tadv: number, delayed: boolean): void {
    const d = tidv & 0xffff;
    const t = this.timers;
    if (t === null || !delayed || d === 0) { this.fireTx(); return; }
    if (this.txPacket !== 0) t.clearTimeout(this.txPacket);
    this.txPacket = t.setTimeout(() => { this.txPacket = 0; this.fireTx(); }, d * DELAY_UNIT_MS);
    const a = tadv & 0xffff;
    if (a !== 0 && this.txAbs === 0) this.txAbs = t.setTimeout(() => { this.txAbs = 0; this.fireTx(); }, a * DELAY_UNIT_MS);
  }

  /** TIDV written with FPD: a delayed TXDW fires now. */
  flushTx(): void { if (this.txPacket !== 0 || this.txAbs !== 0) this.fireTx(); }

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
    const t = this.timers;
    if (t !== null) for (const h of [this.rxPacket, this.rxAbs, this.txPacket, this.txAbs, this.itrWait]) if (h !== 0) t.clearTimeout(h);
    this.rxPacket = this.rxAbs = this.txPacket = this.txAbs = this.itrWait = 0;
    this.lastAssert = -Infinity;
  }

  private fireRx(): void {
    const t = this.timers;
    if (t !== null) {
      if (this.rxPacket !== 0) t.clearTimeout(this.rxPacket);
      if (this.rxAbs !== 0) t.clearTimeout(this.rxAbs);
    }
    this.rxPacket = this.rxAbs = 0;
    this.fire(ICR_RXT0);
  }

  private fireTx(): void {
    const t = this.timers;
    if (t !== null) {
      if (this.txPacket !== 0) t.clearTimeout(this.txPacket);
      if (this.txAbs !== 0) t.clearTimeout(this.txAbs);
    }
    this.txPacket = this.txAbs = 0;
    this.fire(ICR_TXDW);
  }
}
