// Address decoding: a flat 64K table for port I/O, sorted ranges for MMIO.
// Unclaimed reads return all ones; unclaimed writes are dropped and counted. Overlapping maps
// are a host configuration error.

import type { AccessSize, IoRegion } from './api.js';

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

/** Port I/O: every port number points at its region and the region's base. */
export class PioBus {
  private readonly regions: (IoRegion | undefined)[] = new Array(0x10000);
  private readonly bases = new Int32Array(0x10000);
  /** Accesses no region claimed. */
  unclaimedReads = 0;
  unclaimedWrites = 0;

  /** Claims `[base, base+region.size)`; overlapping a claimed port is a host error. */
  map(base: number, region: IoRegion): void {
    if (base < 0 || base + region.size > 0x10000) throw new Error(`${region.name}: ports 0x${base.toString(16)}+${region.size} out of range`);
    for (let p = base; p < base + region.size; p++) {
      const other = this.regions[p];
      if (other) throw new Error(`${region.name}: port 0x${p.toString(16)} already claimed by ${other.name}`);
    }
    for (let p = base; p < base + region.size; p++) { this.regions[p] = region; this.bases[p] = base; }
  }

  /** Releases a region's ports (PCI BARs move). */
  unmap(base: number, region: IoRegion): void {
    for (let p = base; p < base + region.size && p < 0x10000; p++) if (this.regions[p] === region) this.regions[p] = undefined;
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const r = this.regions[port];
    if (r === undefined) { this.unclaimedReads++; return ALL_ONES[size]; }
    const off = port - this.bases[port]!;
    if (off + size > r.size) return this.splitRead(port, size);
    return r.read(off, size);
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    const r = this.regions[port];
    if (r === undefined) { this.unclaimedWrites++; return; }
    const off = port - this.bases[port]!;
    if (off + size > r.size) { this.splitWrite(port, size, value); return; }
    r.write(off, size, value);
  }

  /** A wide access straddling two regions is served a byte at a time, as an ISA bus would. */
  private splitRead(port: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.read((port + i) & 0xffff, 1) << (8 * i);
    return v >>> 0;
  }

  private splitWrite(port: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
  }
}

interface MmioMapping { base: number; end: number; region: IoRegion }

/** MMIO: sorted, non-overlapping ranges; accesses wider than 4 bytes are split. */
export class MmioBus {
  private maps: MmioMapping[] = [];
  unclaimedReads = 0;
  unclaimedWrites = 0;

  map(base: number, region: IoRegion): void {
    const end = base + region.size;
    for (const m of this.maps) {
      if (base < m.end && m.base < end) throw new Error(`${region.name}: MMIO 0x${base.toString(16)} overlaps ${m.region.name}`);
    }
    this.maps.push({ base, end, region });
    this.maps.sort((a, b) => a.base - b.base);
  }

  unmap(base: number, region: IoRegion): void {
    this.maps = this.maps.filter((m) => !(m.base === base && m.region === region));
  }

  private find(addr: number): MmioMapping | undefined {
    let lo = 0;
    let hi = this.maps.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.maps[mid]!;
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  read(addr: number, size: AccessSize): number {
    const m = this.find(addr);
    if (m === undefined || addr + size > m.end) { this.unclaimedReads++; return ALL_ONES[size]; }
    return m.region.read(addr - m.base, size);
  }

  write(addr: number, size: AccessSize, value: number): void {
    const m = this.find(addr);
    if (m === undefined || addr + size > m.end) { this.unclaimedWrites++; return; }
    m.region.write(addr - m.base, size, value);
  }
}
