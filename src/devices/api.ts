// The contracts every device model implements (DESIGN.md, "Devices").
//
// A device sees only offsets inside its own ranges, raises interrupts only through the IrqLine
// it is given, reaches guest memory only through GuestMemory, and saves its state as named,
// versioned plain data.

/** Access widths a device handler sees; the bus splits wider MMIO accesses. */
export type AccessSize = 1 | 2 | 4;

/** One decoded range; offsets are relative to its start. Handlers never throw on guest input. */
export interface IoRegion {
  readonly name: string;
  readonly size: number;
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

/** An interrupt line into the platform's interrupt controllers. */
export interface IrqLine {
  set(level: boolean): void;
  /** Raise and lower (an edge, for edge-triggered ISA lines). */
  pulse(): void;
}

/** State as named plain data, versioned per device. */
export interface Snapshottable<S> {
  readonly stateVersion: number;
  saveState(): S;
  /** Validates everything, then applies; throws (a host error) on an impossible state. */
  loadState(state: unknown, version: number): void;
}

/** A device: an id from the machine description, a reset, and its state. */
export interface Device<S = unknown> extends Snapshottable<S> {
  readonly id: string;
  reset(): void;
}

/** DMA goes only through this: every range must lie wholly inside guest RAM. */
export interface GuestMemory {
  /** A view of the whole range in RAM, or null. */
  view(gpa: number, len: number): Uint8Array | null;
  read(gpa: number, dst: Uint8Array): boolean;
  write(gpa: number, src: Uint8Array): boolean;
}

/** Machine-level requests a device may make (reset line, power off, guest-chosen exit code). */
export interface SystemControl {
  /** The guest asked for a platform reset (i8042 pulse, 0xCF9, triple fault). */
  reset(): void;
  /** The guest powered the machine off. */
  powerOff(): void;
  /** isa-debug-exit: the process exits with (value << 1) | 1. */
  exit(status: number): void;
  /**
   * The ACPI PM timer now decodes at `port` (0: nowhere). Its value is a pure function of time,
   * so the soft accelerator answers 32-bit reads of it on the vCPU thread, without a thread hop
   * whose delay would make the timer look irregular to the guest (DESIGN.md, "The ioreq channel").
   */
  pmTimerAt?(port: number): void;
}

/** The host clock, injected so tests can set the time. */
export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  nowMs(): number;
  /** Monotonic milliseconds. */
  monotonicMs(): number;
}

/** The real host clock. */
export const hostClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

/** A byte sink/source pair for character devices (the console backends implement it). */
export interface CharBackend {
  write(bytes: Uint8Array): void;
  /** Registers the receiver of host input. */
  onInput(receiver: (bytes: Uint8Array) => void): void;
}

/** A validation helper for loadState: throws a host error naming the bad field. */
export function expectInt(state: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = state[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`bad device state: ${key}=${String(v)} not in ${min}..${max}`);
  }
  return v;
}

/** Narrows an unknown loadState argument to a record. */
export function expectRecord(state: unknown, what: string): Record<string, unknown> {
  if (typeof state !== 'object' || state === null) throw new Error(`bad device state for ${what}`);
  return state as Record<string, unknown>;
}
