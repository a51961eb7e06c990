// Device timers on the device-model thread. The thread spends most of its time in the ioreq
// server's futex wait, not in Node's event loop, so device timers live in this queue and the
// server sleeps no longer than the next deadline.

/** What devices are given to schedule work (an injected host service). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(handle: number): void;
}

interface Entry { id: number; due: number; fn: () => void }

/** A small deadline queue; `runDue` fires what is due, `nextDeadline` bounds the next sleep. */
export class TimerQueue implements Timers {
  private entries: Entry[] = [];
  private nextId = 1;

  constructor(private readonly now: () => number = () => performance.now()) {}

  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.entries.push({ id, due: this.now() + Math.max(0, ms), fn });
    this.entries.sort((a, b) => a.due - b.due);
    return id;
  }

  clearTimeout(handle: number): void {
    this.entries = this.entries.filter((e) => e.id !== handle);
  }

  /** Milliseconds until the next timer, or Infinity. */
  msUntilNext(): number {
    const e = this.entries[0];
    return e === undefined ? Infinity : Math.max(0, e.due - this.now());
  }

  /** Fires every timer that is due (a timer set by a callback waits for the next call). */
  runDue(): void {
    const now = this.now();
    const due: Entry[] = [];
    while (this.entries.length > 0 && this.entries[0]!.due <= now) due.push(this.entries.shift()!);
    for (const e of due) e.fn();
  }
}
