// One PCI function's 256-byte configuration space (PCI Local Bus Specification 3.0, chapter 6):
// the bytes, a mask of bits the guest may write, and a mask of write-1-to-clear status bits.
// A type 0 header's BARs are handled by the masks alone: a BAR's writable mask is ~(size-1)
// above its type bits, so writing all ones and reading back yields the size mask (§6.2.5.1).

import type { AccessSize, IoRegion } from '../api.js';

/** Type 0 header offsets (§6.1). */
export const PCI_VENDOR_ID = 0x00;        // u16
export const PCI_DEVICE_ID = 0x02;        // u16
export const PCI_COMMAND = 0x04;          // u16
export const PCI_STATUS = 0x06;           // u16
export const PCI_REVISION_ID = 0x08;      // u8
export const PCI_CLASS_PROG = 0x09;       // u8: programming interface
export const PCI_CLASS_DEVICE = 0x0a;     // u16: sub-class, base class
export const PCI_CACHE_LINE_SIZE = 0x0c;  // u8
export const PCI_LATENCY_TIMER = 0x0d;    // u8
export const PCI_HEADER_TYPE = 0x0e;      // u8: bit 7 multi-function
export const PCI_BASE_ADDRESS_0 = 0x10;   // six u32 BARs, 0x10..0x27
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_INTERRUPT_LINE = 0x3c;   // u8: scratch for firmware (the ISA IRQ it routed)
export const PCI_INTERRUPT_PIN = 0x3d;    // u8: 0 none, 1..4 INTA#..INTD#
export const PCI_CONFIG_BYTES = 256;
export const PCI_NUM_BARS = 6;

/** Command register bits (§6.2.2). */
export const PCI_COMMAND_IO = 0x0001;            // I/O space decode
export const PCI_COMMAND_MEMORY = 0x0002;        // memory space decode
export const PCI_COMMAND_MASTER = 0x0004;        // bus master (DMA)
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
const PCI_COMMAND_WRITABLE = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
  PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

/** Status register bits (§6.2.3). */
export const PCI_STATUS_INTERRUPT = 0x0008;      // read-only: INTx is asserted
export const PCI_STATUS_DEVSEL_MEDIUM = 0x0200;
/** Error bits 8 and 11–15 are write-1-to-clear. */
const PCI_STATUS_W1C = 0xf900;

/** BAR type bits (§6.2.5.1). */
export const PCI_BAR_SPACE_IO = 0x01;
export const PCI_BAR_MEM_PREFETCH = 0x08;
const PCI_BAR_IO_MASK = 0xfffffffc;
const PCI_BAR_MEM_MASK = 0xfffffff0;

/** Header type values. */
export const PCI_HEADER_TYPE_NORMAL = 0x00;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

/** Identity of a function, written at reset. */
export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  revision: number;
  /** Base class << 16 | sub-class << 8 | programming interface. */
  classCode: number;
  headerType?: number;
  /** 1..4 for INTA#..INTD#; 0 or absent for none. */
  interruptPin?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
}

/** One BAR: its space, a power-of-two size, and the BAR-relative handlers behind it. */
export interface PciBar {
  space: 'io' | 'mem32';
  size: number;
  prefetchable?: boolean;
  region: IoRegion;
}

/** A decoded window the host bridge maps on a bus. */
export interface PciDecode { space: 'io' | 'mem'; base: number; region: IoRegion }

/** The configuration space of one function. */
export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CONFIG_BYTES);
  readonly writable = new Uint8Array(PCI_CONFIG_BYTES);
  readonly writeOneToClear = new Uint8Array(PCI_CONFIG_BYTES);
  private readonly resetBytes = new Uint8Array(PCI_CONFIG_BYTES);
  readonly bars: (PciBar | undefined)[] = new Array<PciBar | undefined>(PCI_NUM_BARS).fill(undefined);

  constructor(id: PciIdentity) {
    this.set16(PCI_VENDOR_ID, id.vendorId);
    this.set16(PCI_DEVICE_ID, id.deviceId);
    this.bytes[PCI_REVISION_ID] = id.revision;
    this.bytes[PCI_CLASS_PROG] = id.classCode & 0xff;
    this.set16(PCI_CLASS_DEVICE, id.classCode >>> 8);
    this.bytes[PCI_HEADER_TYPE] = id.headerType ?? PCI_HEADER_TYPE_NORMAL;
    this.bytes[PCI_INTERRUPT_PIN] = id.interruptPin ?? 0;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, id.subsystemVendorId ?? 0);
    this.set16(PCI_SUBSYSTEM_ID, id.subsystemId ?? 0);
    this.set16(PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM);
    this.setMask(PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
    this.setMask(PCI_STATUS, 2, PCI_STATUS_W1C, true);
    this.writable[PCI_CACHE_LINE_SIZE] = 0xff;
    this.writable[PCI_LATENCY_TIMER] = 0xff;
    this.writable[PCI_INTERRUPT_LINE] = 0xff;
    this.snapshotReset();
  }

  /** Declares BAR `index`; its writable mask makes sizing work. */
  defineBar(index: number, bar: PciBar): void {
    if (!Number.isInteger(index) || index < 0 || index >= PCI_NUM_BARS) throw new Error(`PCI BAR ${index} out of range`);
    const min = bar.space === 'io' ? 4 : 16;
    if (bar.size < min || (bar.size & (bar.size - 1)) !== 0 || bar.size > 0x8000_0000) {
      throw new Error(`${bar.region.name}: BAR size ${bar.size} is not a power of two >= ${min}`);
    }
    const off = PCI_BASE_ADDRESS_0 + 4 * index;
    const typeMask = bar.space === 'io' ? PCI_BAR_IO_MASK : PCI_BAR_MEM_MASK;
    this.setMask(off, 4, (typeMask & ~(bar.size - 1)) >>> 0);
    this.set32(off, bar.space === 'io' ? PCI_BAR_SPACE_IO : (bar.prefetchable === true ? PCI_BAR_MEM_PREFETCH : 0));
    this.bars[index] = bar;
    this.snapshotReset();
  }

  /** Sets `len` bytes of the writable (or write-1-to-clear) mask at `off`. */
  setMask(off: number, len: number, mask: number, w1c = false): void {
    const m = w1c ? this.writeOneToClear : this.writable;
    for (let i = 0; i < len; i++) m[off + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Makes the current bytes the values `reset()` restores (call after device set-up). */
  snapshotReset(): void { this.resetBytes.set(this.bytes); }

  reset(): void { this.bytes.set(this.resetBytes); }

  /** A little-endian read; bytes past 0xFF read as ones (the host never asks for them). */
  read(off: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const b = off + i < PCI_CONFIG_BYTES ? this.bytes[off + i]! : 0xff;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  /** A guest write through the masks: writable bits take the value, W1C bits clear on a 1. */
  write(off: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size && off + i < PCI_CONFIG_BYTES; i++) {
      const o = off + i;
      const v = (value >>> (8 * i)) & 0xff;
      const w = this.writable[o]!;
      let b = (this.bytes[o]! & ~w) | (v & w);
      b &= ~(v & this.writeOneToClear[o]!);
      this.bytes[o] = b;
    }
  }

  get8(off: number): number { return this.bytes[off] ?? 0; }
  get16(off: number): number { return this.read(off, 2); }
  get32(off: number): number { return this.read(off, 4); }
  set8(off: number, v: number): void { this.bytes[off] = v & 0xff; }
  set16(off: number, v: number): void { this.bytes[off] = v & 0xff; this.bytes[off + 1] = (v >>> 8) & 0xff; }
  set32(off: number, v: number): void { for (let i = 0; i < 4; i++) this.bytes[off + i] = (v >>> (8 * i)) & 0xff; }

  get command(): number { return this.get16(PCI_COMMAND); }

  /** Base address BAR `index` holds now (type bits masked off). */
  barAddress(index: number): number {
    const bar = this.bars[index];
    if (bar === undefined) return 0;
    const raw = this.get32(PCI_BASE_ADDRESS_0 + 4 * index);
    return (raw & (bar.space === 'io' ? PCI_BAR_IO_MASK : PCI_BAR_MEM_MASK)) >>> 0;
  }

  /**
   * The windows the BARs decode now: enabled by the command register, at a nonzero address,
   * wholly inside their space (a BAR left at its sizing value, all ones, decodes nothing).
   */
  barDecodes(): PciDecode[] {
    const out: PciDecode[] = [];
    const cmd = this.command;
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const bar = this.bars[i];
      if (bar === undefined) continue;
      const base = this.barAddress(i);
      if (base === 0) continue;
      if (bar.space === 'io') {
        if ((cmd & PCI_COMMAND_IO) !== 0 && base + bar.size <= 0x10000) out.push({ space: 'io', base, region: bar.region });
      } else if ((cmd & PCI_COMMAND_MEMORY) !== 0 && base + bar.size <= 0x1_0000_0000) {
        out.push({ space: 'mem', base, region: bar.region });
      }
    }
    return out;
  }

  /** Raw bytes for snapshots. */
  save(): number[] { return Array.from(this.bytes); }

  /** Restores bytes saved by `save` (validated by the caller's loadState). */
  load(bytes: unknown, what: string): void {
    if (!Array.isArray(bytes) || bytes.length !== PCI_CONFIG_BYTES ||
        !bytes.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 0xff)) {
      throw new Error(`bad device state: ${what} config space`);
    }
    this.bytes.set(bytes as number[]);
  }
}
