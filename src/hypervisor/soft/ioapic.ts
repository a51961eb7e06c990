// The 82093AA I/O APIC (Intel datasheet, order 290566): IOREGSEL at offset 0x00 and IOWIN at
// 0x10 of its window, ID/version/arbitration registers and 24 redirection entries. Edge inputs
// send a message on a rising edge of an unmasked pin; level inputs send one while asserted and
// the remote IRR is clear, and again after the LAPIC's EOI broadcast if still asserted.
//
// Input polarity (entry bit 13) is stored but not applied: callers pass "asserted", as QEMU's
// and KVM's IOAPICs take it (the firmware tables describe the lines as active-high).

/** Window offsets. */
export const IOREGSEL = 0x00;
export const IOWIN = 0x10;
/** Indirect registers. */
const IOAPICID = 0x00;
const IOAPICVER = 0x01;
const IOAPICARB = 0x02;
const IOREDTBL = 0x10;
/** Pins. */
export const IOAPIC_PINS = 24;
/** Version 0x11, maximum redirection entry 0x17. */
const IOAPIC_VERSION = 0x0017_0011;
/** Redirection entry, low dword. */
const RTE_VECTOR = 0xff;
const RTE_MODE_SHIFT = 8;             // delivery mode, bits 10:8
const RTE_DEST_LOGICAL = 0x800;       // destination mode
const RTE_DELIVERY_STATUS = 0x1000;   // read-only (always idle: delivery is immediate)
const RTE_REMOTE_IRR = 0x4000;        // read-only, level-triggered only
const RTE_LEVEL = 0x8000;             // trigger mode
const RTE_MASKED = 0x1_0000;
const RTE_LO_WRITABLE = 0x1_afff;     // all but delivery status and remote IRR
/** Redirection entry, high dword: destination in bits 31:24. */
const RTE_HI_WRITABLE = 0xff00_0000;

/** Where the IOAPIC's messages go (the platform routes them to the local APICs). */
export type IoapicDeliver = (dest: number, logical: boolean, mode: number, vector: number, level: boolean) => void;

/** Saved state of the IOAPIC. */
export interface IoapicState { stateVersion: number; id: number; regsel: number; lines: number; lo: number[]; hi: number[] }

/** The 82093AA I/O APIC. */
export class Ioapic {
  static readonly stateVersion = 1;
  private id = 0;
  private regsel = 0;
  /** Asserted input pins, one bit each. */
  private lines = 0;
  private readonly lo = new Int32Array(IOAPIC_PINS).fill(RTE_MASKED);
  private readonly hi = new Int32Array(IOAPIC_PINS);

  constructor(private readonly deliver: IoapicDeliver) {}

  /** Drives input pin `pin` (0..23). */
  setPin(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const bit = 1 << pin;
    const was = (this.lines & bit) !== 0;
    if (level) this.lines |= bit; else this.lines &= ~bit;
    if (!level) return;
    if ((this.lo[pin]! & RTE_LEVEL) !== 0 || !was) this.service(pin);
  }

  /** Sends the pin's message if the entry lets it through. */
  private service(pin: number): void {
    const lo = this.lo[pin]!;
    if ((lo & RTE_MASKED) !== 0) return;
    const level = (lo & RTE_LEVEL) !== 0;
    if (level) {
      if ((lo & RTE_REMOTE_IRR) !== 0) return;
      this.lo[pin] = lo | RTE_REMOTE_IRR;
    }
    this.deliver(this.hi[pin]! >>> 24, (lo & RTE_DEST_LOGICAL) !== 0, (lo >> RTE_MODE_SHIFT) & 7, lo & RTE_VECTOR, level);
  }

  /** EOI broadcast from a local APIC: clears remote IRR of level entries with this vector. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = this.lo[pin]!;
      if ((lo & RTE_REMOTE_IRR) === 0 || (lo & RTE_VECTOR) !== vector) continue;
      this.lo[pin] = lo & ~RTE_REMOTE_IRR;
      if ((this.lines & (1 << pin)) !== 0) this.service(pin);
    }
  }

  private readIndirect(): number {
    const r = this.regsel;
    switch (r) {
      case IOAPICID: return this.id;
      case IOAPICVER: return IOAPIC_VERSION;
      case IOAPICARB: return this.id;
      default: {
        const pin = (r - IOREDTBL) >> 1;
        if (r < IOREDTBL || pin >= IOAPIC_PINS) return 0xffff_ffff;
        return ((r & 1) !== 0 ? this.hi[pin]! : this.lo[pin]!) >>> 0;
      }
    }
  }

  private writeIndirect(v: number): void {
    const r = this.regsel;
    if (r === IOAPICID) { this.id = v & 0x0f00_0000; return; }
    const pin = (r - IOREDTBL) >> 1;
    if (r < IOREDTBL || pin >= IOAPIC_PINS) return;
    if ((r & 1) !== 0) { this.hi[pin] = v & RTE_HI_WRITABLE; return; }
    const old = this.lo[pin]!;
    let lo = (old & (RTE_REMOTE_IRR | RTE_DELIVERY_STATUS)) | (v & RTE_LO_WRITABLE);
    if ((lo & RTE_LEVEL) === 0) lo &= ~RTE_REMOTE_IRR;   // remote IRR is meaningless for edge entries
    this.lo[pin] = lo;
    // Unmasking a level entry whose line is asserted delivers it now.
    if ((lo & RTE_LEVEL) !== 0 && (lo & RTE_MASKED) === 0 && (this.lines & (1 << pin)) !== 0) this.service(pin);
  }

  /** MMIO read at `offset` inside the window (32-bit registers; narrower reads see their bytes). */
  read(offset: number, size: number): number {
    const reg = offset & ~3;
    let v: number;
    if (reg === IOREGSEL) v = this.regsel;
    else if (reg === IOWIN) v = this.readIndirect();
    else return 0;
    const shift = (offset & 3) * 8;
    const mask = size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
    return ((v >>> shift) & mask) >>> 0;
  }

  /** MMIO write at `offset`; IOREGSEL takes its low byte, IOWIN needs a 32-bit access. */
  write(offset: number, size: number, value: number): void {
    if (offset === IOREGSEL) this.regsel = value & 0xff;
    else if (offset === IOWIN && size === 4) this.writeIndirect(value | 0);
  }

  saveState(): IoapicState {
    return {
      stateVersion: Ioapic.stateVersion, id: this.id >>> 0, regsel: this.regsel, lines: this.lines >>> 0,
      lo: Array.from(this.lo, (x) => x >>> 0), hi: Array.from(this.hi, (x) => x >>> 0),
    };
  }

  /** Validates everything first, then loads. */
  loadState(s: IoapicState): void {
    const u32 = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
    const ok = typeof s === 'object' && s !== null && s.stateVersion === Ioapic.stateVersion &&
      u32(s.id) && u32(s.regsel) && s.regsel <= 0xff && u32(s.lines) && s.lines < 2 ** IOAPIC_PINS &&
      Array.isArray(s.lo) && s.lo.length === IOAPIC_PINS && s.lo.every(u32) &&
      Array.isArray(s.hi) && s.hi.length === IOAPIC_PINS && s.hi.every(u32);
    if (!ok) throw new Error('ioapic state: invalid');
    this.id = s.id & 0x0f00_0000;
    this.regsel = s.regsel;
    this.lines = s.lines;
    s.lo.forEach((x, i) => { this.lo[i] = x & (RTE_LO_WRITABLE | RTE_REMOTE_IRR); });
    s.hi.forEach((x, i) => { this.hi[i] = x & RTE_HI_WRITABLE; });
  }
}
