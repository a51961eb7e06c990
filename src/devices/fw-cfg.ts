// QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.txt), the way SeaBIOS and OVMF
// learn about the machine: a 16-bit selector at port 0x510, an 8-bit data port at 0x511, and the
// DMA interface at 0x514 (a big-endian 64-bit address of an FWCfgDmaAccess, written as two
// 32-bit halves; writing the low half at 0x518 starts the transfer). Items are read-only:
// a guest write (traditional or DMA) gets the DMA error bit or is dropped, as QEMU does for
// items without a write callback.

import type { AccessSize, Device, GuestMemory, IoRegion } from './api.js';
import { expectInt, expectRecord } from './api.js';

/** Well-known selectors. */
export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MACHINE_ID = 0x06;
export const FW_CFG_NUMA = 0x0d;
export const FW_CFG_BOOT_MENU = 0x0e;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_FILE_DIR = 0x19;
export const FW_CFG_FILE_FIRST = 0x20;
/** Most named files the selector space after FILE_FIRST holds (QEMU's default). */
export const FW_CFG_FILE_SLOTS = 0x20;
/** FW_CFG_ID bits. */
export const FW_CFG_VERSION = 0x01;
export const FW_CFG_VERSION_DMA = 0x02;

/** Port layout. */
export const FW_CFG_PORT_SEL = 0x510;
export const FW_CFG_PORT_DMA = 0x514;
const SEL_REGION_BYTES = 2;   // 0x510 selector (16-bit), 0x511 data (8-bit)
const DATA_OFFSET = 1;
const DMA_REGION_BYTES = 8;
/** What a read of the DMA address register returns ("QEMU CFG", big-endian). */
const DMA_SIGNATURE = new TextEncoder().encode('QEMU CFG');

/** FWCfgDmaAccess: u32 control, u32 length, u64 address, all big-endian. */
export const FW_CFG_DMA_ACCESS_BYTES = 16;
export const FW_CFG_DMA_CTL_ERROR = 0x01;
export const FW_CFG_DMA_CTL_READ = 0x02;
export const FW_CFG_DMA_CTL_SKIP = 0x04;
export const FW_CFG_DMA_CTL_SELECT = 0x08;
export const FW_CFG_DMA_CTL_WRITE = 0x10;

/** FWCfgFile in the directory: u32 size, u16 select, u16 reserved, char name[56]; big-endian. */
const FILE_ENTRY_BYTES = 64;
export const FW_CFG_MAX_FILE_NAME = 56;

/** Saved state (the items themselves are host configuration, rebuilt at start). */
export interface FwCfgState { selector: number; offset: number; dmaAddress: number[] }

/** The device: items by selector and named files. */
export class FwCfg implements Device<FwCfgState> {
  readonly stateVersion = 1;
  /** 0x510–0x511. */
  readonly selectorRegion: IoRegion;
  /** 0x514–0x51B. */
  readonly dmaRegion: IoRegion;
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number }[] = [];
  private selector = 0;
  private offset = 0;
  private readonly dmaAddress = new Uint8Array(DMA_REGION_BYTES);
  /** DMA requests that failed (bad header address, target outside RAM, write attempts). */
  dmaErrors = 0;

  constructor(readonly id: string, private readonly mem: GuestMemory) {
    this.addItem(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.addItem(FW_CFG_ID, le(4, FW_CFG_VERSION | FW_CFG_VERSION_DMA));
    this.rebuildDirectory();
    this.selectorRegion = {
      name: `${id}.sel`, size: SEL_REGION_BYTES,
      read: (offset, size) => this.readSel(offset, size),
      write: (offset, size, value) => this.writeSel(offset, size, value),
    };
    this.dmaRegion = {
      name: `${id}.dma`, size: DMA_REGION_BYTES,
      read: (offset, size) => this.readDma(offset, size),
      write: (offset, size, value) => this.writeDma(offset, size, value),
    };
  }

  /** Sets a numbered item (host set-up). */
  addItem(key: number, data: Uint8Array): void {
    if (!Number.isInteger(key) || key < 0 || key > 0xffff) throw new Error(`fw_cfg: bad selector ${key}`);
    this.items.set(key, data);
  }

  /** Adds or replaces a named file; the directory is kept sorted by name, as QEMU keeps it. */
  addFile(name: string, data: Uint8Array): void {
    const bytes = new TextEncoder().encode(name);
    if (bytes.length === 0 || bytes.length >= FW_CFG_MAX_FILE_NAME) throw new Error(`fw_cfg: file name "${name}" must be 1..55 bytes`);
    const existing = this.files.find((f) => f.name === name);
    if (existing !== undefined) { this.items.set(existing.key, data); return; }
    if (this.files.length >= FW_CFG_FILE_SLOTS) throw new Error(`fw_cfg: more than ${FW_CFG_FILE_SLOTS} files`);
    this.files.push({ name, key: 0 });
    this.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const datas = new Map(this.files.map((f) => [f.name, f.name === name ? data : this.items.get(f.key)!]));
    this.files.forEach((f, i) => { f.key = FW_CFG_FILE_FIRST + i; this.items.set(f.key, datas.get(f.name)!); });
    this.rebuildDirectory();
  }

  /** A file's contents, for tests and the monitor. */
  file(name: string): Uint8Array | undefined {
    const f = this.files.find((x) => x.name === name);
    return f === undefined ? undefined : this.items.get(f.key);
  }

  private rebuildDirectory(): void {
    const dir = new Uint8Array(4 + FILE_ENTRY_BYTES * this.files.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, this.files.length, false);
    this.files.forEach((f, i) => {
      const at = 4 + i * FILE_ENTRY_BYTES;
      dv.setUint32(at, this.items.get(f.key)?.length ?? 0, false);
      dv.setUint16(at + 4, f.key, false);
      dir.set(new TextEncoder().encode(f.name), at + 8);
    });
    this.items.set(FW_CFG_FILE_DIR, dir);
  }

  private current(): Uint8Array | undefined { return this.items.get(this.selector); }

  private select(key: number): void {
    this.selector = key & 0xffff;
    this.offset = 0;
  }

  // ---- traditional interface -------------------------------------------------------------------

  private readSel(offset: number, size: AccessSize): number {
    if (offset !== DATA_OFFSET) return 0; // the selector reads as nothing in particular
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readDataByte() << (8 * i);
    return v >>> 0;
  }

  private readDataByte(): number {
    const d = this.current();
    if (d === undefined || this.offset >= d.length) return 0;
    return d[this.offset++]!;
  }

  private writeSel(offset: number, size: AccessSize, value: number): void {
    if (offset === 0 && size >= 2) this.select(value);
    // Byte writes to the selector and writes to the data port: no writable items.
  }

  // ---- DMA interface ---------------------------------------------------------------------------

  private readDma(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= (DMA_SIGNATURE[offset + i] ?? 0) << (8 * i);
    return v >>> 0;
  }

  private writeDma(offset: number, size: AccessSize, value: number): void {
    // The register is big-endian in port order: bytes land as written, high half first.
    for (let i = 0; i < size && offset + i < DMA_REGION_BYTES; i++) this.dmaAddress[offset + i] = (value >>> (8 * i)) & 0xff;
    if (offset + size === DMA_REGION_BYTES) {
      const dv = new DataView(this.dmaAddress.buffer);
      const addr = dv.getUint32(0, false) * 2 ** 32 + dv.getUint32(4, false);
      this.dmaAddress.fill(0);
      this.dma(addr);
    }
  }

  /** Runs one FWCfgDmaAccess at `addr` and writes its control word back. */
  private dma(addr: number): void {
    const hdr = new Uint8Array(FW_CFG_DMA_ACCESS_BYTES);
    if (!this.mem.read(addr, hdr)) { this.dmaErrors++; return; } // nowhere to report the error
    const dv = new DataView(hdr.buffer);
    const control = dv.getUint32(0, false);
    const length = dv.getUint32(4, false);
    const target = dv.getUint32(8, false) * 2 ** 32 + dv.getUint32(12, false);
    if ((control & FW_CFG_DMA_CTL_SELECT) !== 0) this.select(control >>> 16);
    let error = false;
    if ((control & FW_CFG_DMA_CTL_READ) !== 0) error = !this.dmaRead(target, length);
    else if ((control & FW_CFG_DMA_CTL_WRITE) !== 0) error = true; // no writable items
    else if ((control & FW_CFG_DMA_CTL_SKIP) !== 0) this.offset = Math.min(this.offset + length, 0xffffffff);
    if (error) this.dmaErrors++;
    const done = new Uint8Array(4);
    new DataView(done.buffer).setUint32(0, error ? FW_CFG_DMA_CTL_ERROR : 0, false);
    this.mem.write(addr, done);
  }

  /** Copies `length` bytes of the item to guest `target`; past the item's end, zeros. */
  private dmaRead(target: number, length: number): boolean {
    if (length === 0) return true;
    const view = this.mem.view(target, length);
    if (view === null) return false;
    const d = this.current() ?? new Uint8Array(0);
    const n = Math.max(0, Math.min(length, d.length - this.offset));
    if (n > 0) view.set(d.subarray(this.offset, this.offset + n));
    view.fill(0, n);
    this.offset = Math.min(this.offset + length, 0xffffffff);
    return true;
  }

  reset(): void {
    this.selector = 0;
    this.offset = 0;
    this.dmaAddress.fill(0);
  }

  saveState(): FwCfgState { return { selector: this.selector, offset: this.offset, dmaAddress: Array.from(this.dmaAddress) }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported fw_cfg state version ${version}`);
    const s = expectRecord(state, this.id);
    const selector = expectInt(s, 'selector', 0, 0xffff);
    const offset = expectInt(s, 'offset', 0, 0xffffffff);
    const dma = s['dmaAddress'];
    if (!Array.isArray(dma) || dma.length !== DMA_REGION_BYTES || !dma.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 0xff)) {
      throw new Error('bad device state: dmaAddress');
    }
    this.selector = selector;
    this.offset = offset;
    this.dmaAddress.set(dma as number[]);
  }
}

/** A little-endian integer of `bytes` bytes (fw_cfg's numbered items are little-endian). */
export function le(bytes: number, value: number | bigint): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}
