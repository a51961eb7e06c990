// An ATA hard disk on a BlockBackend (ATA/ATAPI-7 volume 1, the command descriptions; the
// IDENTIFY DEVICE layout is table 27). Transfers are asynchronous: BSY while the backend's
// promise is pending, then DRQ and the interrupt. PIO moves up to 256 sectors per backend read;
// DMA commands hand a DmaRequest to the bus master (bmdma.ts).

import type { BlockBackend } from '../../block/block.js';
import type { IdeChannelHost } from './ata.js';
import {
  DEV_LBA, ER_ABRT, ER_IDNF, IO_BUFFER_BYTES, IdeDevice, ST_DRDY, ST_DRQ, ST_DSC,
} from './ata.js';

/** Commands. */
export const CMD_RECALIBRATE = 0x10;
export const CMD_READ_SECTORS = 0x20;
export const CMD_READ_SECTORS_NORETRY = 0x21;
export const CMD_READ_SECTORS_EXT = 0x24;
export const CMD_READ_DMA_EXT = 0x25;
export const CMD_READ_MULTIPLE_EXT = 0x29;
export const CMD_WRITE_SECTORS = 0x30;
export const CMD_WRITE_SECTORS_NORETRY = 0x31;
export const CMD_WRITE_SECTORS_EXT = 0x34;
export const CMD_WRITE_DMA_EXT = 0x35;
export const CMD_WRITE_MULTIPLE_EXT = 0x39;
export const CMD_READ_VERIFY = 0x40;
export const CMD_READ_VERIFY_EXT = 0x42;
export const CMD_EXECUTE_DIAGNOSTIC = 0x90;
export const CMD_INITIALIZE_PARAMS = 0x91;
export const CMD_PACKET = 0xa0;
export const CMD_IDENTIFY_PACKET = 0xa1;
export const CMD_READ_MULTIPLE = 0xc4;
export const CMD_WRITE_MULTIPLE = 0xc5;
export const CMD_SET_MULTIPLE = 0xc6;
export const CMD_READ_DMA = 0xc8;
export const CMD_READ_DMA_NORETRY = 0xc9;
export const CMD_WRITE_DMA = 0xca;
export const CMD_WRITE_DMA_NORETRY = 0xcb;
export const CMD_STANDBY_IMMEDIATE = 0xe0;
export const CMD_IDLE_IMMEDIATE = 0xe1;
export const CMD_STANDBY = 0xe2;
export const CMD_IDLE = 0xe3;
export const CMD_CHECK_POWER_MODE = 0xe5;
export const CMD_SLEEP = 0xe6;
export const CMD_FLUSH_CACHE = 0xe7;
export const CMD_FLUSH_CACHE_EXT = 0xea;
export const CMD_IDENTIFY = 0xec;
export const CMD_SET_FEATURES = 0xef;
export const CMD_NOP = 0x00;

/** SET FEATURES subcommands (features register). */
export const SF_ENABLE_WCACHE = 0x02;
export const SF_SET_XFER_MODE = 0x03;
export const SF_DISABLE_WCACHE = 0x82;
const SF_ACCEPTED = [0x55, 0xaa, 0x66, 0xcc, 0x05, 0x85, 0x31, 0x95]; // look-ahead, defaults, APM: no effect
/** Transfer mode values in the sector count register for SF_SET_XFER_MODE. */
const XFER_PIO_DEFAULT = 0x00, XFER_PIO = 0x08, XFER_MWDMA = 0x20, XFER_UDMA = 0x40;

/** Largest READ/WRITE MULTIPLE block (IDENTIFY word 47). */
export const MAX_MULTIPLE = 16;
const SECTOR = 512;
const CHUNK_SECTORS = IO_BUFFER_BYTES / SECTOR;
const LBA28_MAX = 0x0fffffff;

/** Text fields of IDENTIFY. */
export interface DiskIdentity { model: string; serial: string; firmware: string }

/** Writes an ATA string: space padded, two characters a word, the first in the high byte. */
export function putAtaString(words: Uint16Array, first: number, count: number, text: string): void {
  const s = text.padEnd(count * 2, ' ');
  for (let i = 0; i < count; i++) words[first + i] = (s.charCodeAt(2 * i) & 0xff) << 8 | (s.charCodeAt(2 * i + 1) & 0xff);
}

/** Converts IDENTIFY words to the 512 bytes the data port returns, with the word 255 checksum. */
export function identifyBytes(words: Uint16Array, out: Uint8Array): void {
  words[255] = 0x00a5;
  let sum = 0;
  for (let i = 0; i < 255; i++) sum += (words[i]! & 0xff) + (words[i]! >>> 8);
  sum += 0xa5;
  words[255] = 0x00a5 | (((-sum) & 0xff) << 8);
  for (let i = 0; i < 256; i++) { out[2 * i] = words[i]! & 0xff; out[2 * i + 1] = words[i]! >>> 8; }
}

/** A hard disk. */
export class AtaDisk extends IdeDevice {
  readonly isAtapi = false;
  readonly sectors: number;
  /** Default (IDENTIFY word 1/3/6) and current (INITIALIZE DEVICE PARAMETERS) geometry. */
  readonly cylinders: number; readonly heads: number; readonly spt: number;
  private curHeads: number; private curSpt: number;
  multCount = 0;
  writeCache = true;
  /** Selected transfer mode: IDENTIFY words 63/88 report it. */
  private mwdma = -1; private udma = 2;
  /** Counts commands answered with ABRT because they are unknown. */
  unknownCommands = 0;
  // The transfer in progress.
  private lba = 0;
  private remain = 0;
  private block = 1;
  private chunkEnd = 0;
  private chunkPos = 0;

  constructor(host: IdeChannelHost, readonly backend: BlockBackend, readonly ident: DiskIdentity) {
    super(host);
    this.sectors = Math.floor(backend.sizeBytes / SECTOR);
    // The usual translation: 16 heads, 63 sectors per track, at most 16383 cylinders.
    this.heads = 16; this.spt = 63;
    this.cylinders = Math.max(1, Math.min(16383, Math.floor(this.sectors / (16 * 63))));
    this.curHeads = this.heads; this.curSpt = this.spt;
  }

  override reset(): void {
    super.reset();
    this.remain = 0;
  }

  /** The 256 IDENTIFY DEVICE words. */
  identify(): Uint16Array {
    const w = new Uint16Array(256);
    w[0] = 0x0040; // fixed, not removable
    w[1] = this.cylinders; w[3] = this.heads; w[6] = this.spt;
    putAtaString(w, 10, 10, this.ident.serial);
    putAtaString(w, 23, 4, this.ident.firmware);
    putAtaString(w, 27, 20, this.ident.model);
    w[47] = 0x8000 | MAX_MULTIPLE;
    w[49] = 0x0300;          // LBA and DMA supported
    w[50] = 0x4000;
    w[51] = 0x0200;          // PIO mode 2 timing
    w[53] = 0x0007;          // words 54-58, 64-70 and 88 valid
    const curCyl = Math.min(0xffff, Math.floor(Math.min(this.sectors, 16383 * 16 * 63) / (this.curHeads * this.curSpt)));
    w[54] = curCyl; w[55] = this.curHeads; w[56] = this.curSpt;
    const chs = curCyl * this.curHeads * this.curSpt;
    w[57] = chs & 0xffff; w[58] = chs >>> 16;
    w[59] = this.multCount > 0 ? 0x0100 | this.multCount : 0;
    const lba28 = Math.min(this.sectors, LBA28_MAX);
    w[60] = lba28 & 0xffff; w[61] = lba28 >>> 16;
    w[63] = 0x0007 | (this.mwdma >= 0 ? 0x100 << this.mwdma : 0);
    w[64] = 0x0003;          // PIO modes 3 and 4
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x00f0;          // ATA/ATAPI-4 to -7
    w[82] = 0x0028;          // write cache, power management
    w[83] = 0x7400;          // FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses
    w[84] = 0x4000;
    w[85] = 0x0008 | (this.writeCache ? 0x0020 : 0);
    w[86] = 0x3400;
    w[87] = 0x4000;
    w[88] = 0x003f | (this.udma >= 0 ? 0x100 << this.udma : 0);
    w[93] = 0x4001;
    w[100] = this.sectors & 0xffff; w[101] = Math.floor(this.sectors / 0x10000) & 0xffff;
    w[102] = Math.floor(this.sectors / 0x1_0000_0000) & 0xffff;
    return w;
  }

  command(cmd: number): void {
    switch (cmd) {
      case CMD_IDENTIFY:
        identifyBytes(this.identify(), this.buf);
        this.pio(0, SECTOR, true, () => { this.status = ST_DRDY | ST_DSC; });
        return;
      case CMD_READ_SECTORS: case CMD_READ_SECTORS_NORETRY: this.startPio(false, false, false); return;
      case CMD_READ_SECTORS_EXT: this.startPio(false, true, false); return;
      case CMD_READ_MULTIPLE: this.startPio(false, false, true); return;
      case CMD_READ_MULTIPLE_EXT: this.startPio(false, true, true); return;
      case CMD_WRITE_SECTORS: case CMD_WRITE_SECTORS_NORETRY: this.startPio(true, false, false); return;
      case CMD_WRITE_SECTORS_EXT: this.startPio(true, true, false); return;
      case CMD_WRITE_MULTIPLE: this.startPio(true, false, true); return;
      case CMD_WRITE_MULTIPLE_EXT: this.startPio(true, true, true); return;
      case CMD_READ_DMA: case CMD_READ_DMA_NORETRY: this.startDma(false, false); return;
      case CMD_READ_DMA_EXT: this.startDma(false, true); return;
      case CMD_WRITE_DMA: case CMD_WRITE_DMA_NORETRY: this.startDma(true, false); return;
      case CMD_WRITE_DMA_EXT: this.startDma(true, true); return;
      case CMD_READ_VERIFY: case CMD_READ_VERIFY_EXT:
        if (this.range(cmd === CMD_READ_VERIFY_EXT)) this.done();
        return;
      case CMD_FLUSH_CACHE: case CMD_FLUSH_CACHE_EXT:
        // The interrupt comes only once the backend says the data is on stable storage.
        this.wait(this.backend.flush(), () => this.done());
        return;
      case CMD_SET_MULTIPLE: {
        const n = this.nsect;
        if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) { this.abort(); return; }
        this.multCount = n;
        this.done();
        return;
      }
      case CMD_SET_FEATURES: this.setFeatures(); return;
      case CMD_INITIALIZE_PARAMS:
        if (this.nsect === 0) { this.abort(); return; }
        this.curSpt = this.nsect;
        this.curHeads = (this.select & 0x0f) + 1;
        this.done();
        return;
      case CMD_EXECUTE_DIAGNOSTIC:
        this.signature();
        this.done();
        return;
      case CMD_RECALIBRATE: case CMD_IDLE: case CMD_IDLE_IMMEDIATE: case CMD_STANDBY:
      case CMD_STANDBY_IMMEDIATE: case CMD_SLEEP:
        this.done();
        return;
      case CMD_CHECK_POWER_MODE:
        this.nsect = 0xff; // active or idle
        this.done();
        return;
      case CMD_IDENTIFY_PACKET: case CMD_PACKET:
        // A hard disk aborts them, with its signature in the task file (drivers classify by it).
        this.signature();
        this.abort();
        return;
      default:
        this.unknownCommands++;
        this.abort();
    }
  }

  private setFeatures(): void {
    switch (this.feature) {
      case SF_ENABLE_WCACHE: this.writeCache = true; break;
      case SF_DISABLE_WCACHE: this.writeCache = false; break;
      case SF_SET_XFER_MODE: {
        const mode = this.nsect & 0x07;
        const kind = this.nsect & 0xf8;
        if (kind === XFER_PIO_DEFAULT || kind === XFER_PIO) { if (mode > 4) { this.abort(); return; } }
        else if (kind === XFER_MWDMA && mode <= 2) { this.mwdma = mode; this.udma = -1; }
        else if (kind === XFER_UDMA && mode <= 5) { this.udma = mode; this.mwdma = -1; }
        else { this.abort(); return; }
        break;
      }
      default:
        if (!SF_ACCEPTED.includes(this.feature)) { this.abort(); return; }
    }
    this.done();
  }

  /** Decodes the command's start and count into `lba`/`remain`; IDNF past the end. */
  private range(ext: boolean): boolean {
    let lba: number;
    let count: number;
    if (ext) {
      lba = (this.hobLbah * 2 ** 40) + (this.hobLbam * 2 ** 32) + (this.hobLbal * 2 ** 24) +
        (this.lbah << 16 | this.lbam << 8 | this.lbal);
      count = (this.hobNsect << 8 | this.nsect) || 65536;
    } else {
      count = this.nsect || 256;
      if ((this.select & DEV_LBA) !== 0) {
        lba = (this.select & 0x0f) * 2 ** 24 + (this.lbah << 16 | this.lbam << 8 | this.lbal);
      } else {
        const cyl = this.lbah << 8 | this.lbam;
        const head = this.select & 0x0f;
        const sector = this.lbal;
        if (sector === 0 || sector > this.curSpt || head >= this.curHeads) { this.abort(ER_IDNF); return false; }
        lba = (cyl * this.curHeads + head) * this.curSpt + sector - 1;
      }
    }
    if (lba + count > this.sectors) { this.abort(ER_IDNF); return false; }
    this.lba = lba;
    this.remain = count;
    return true;
  }

  private startPio(write: boolean, ext: boolean, multiple: boolean): void {
    if (multiple && this.multCount === 0) { this.abort(); return; }
    if (write && this.backend.readOnly) { this.abort(); return; }
    if (!this.range(ext)) return;
    this.block = multiple ? this.multCount : 1;
    if (write) this.nextWriteBlock(false);
    else this.readChunk();
  }

  private readChunk(): void {
    const n = Math.min(this.remain, CHUNK_SECTORS);
    this.wait(this.backend.read(this.lba * SECTOR, this.buf.subarray(0, n * SECTOR)), () => {
      this.chunkEnd = n * SECTOR;
      this.chunkPos = 0;
      this.nextReadBlock();
    });
  }

  private nextReadBlock(): void {
    const bytes = Math.min(this.block * SECTOR, this.chunkEnd - this.chunkPos);
    this.pio(this.chunkPos, bytes, true, () => {
      this.chunkPos += bytes;
      this.lba += bytes / SECTOR;
      this.remain -= bytes / SECTOR;
      if (this.remain === 0) this.status = ST_DRDY | ST_DSC;
      else if (this.chunkPos < this.chunkEnd) this.nextReadBlock();
      else this.readChunk();
    });
  }

  /** Opens the window for the next block to write; its first block raises no interrupt. */
  private nextWriteBlock(irq: boolean): void {
    const n = Math.min(this.block, this.remain);
    this.pio(0, n * SECTOR, irq, () => {
      this.wait(this.backend.write(this.lba * SECTOR, this.buf.slice(0, n * SECTOR)), () => {
        this.lba += n;
        this.remain -= n;
        if (this.remain > 0) this.nextWriteBlock(true);
        else this.done();
      });
    });
  }

  private startDma(write: boolean, ext: boolean): void {
    if (write && this.backend.readOnly) { this.abort(); return; }
    if (!this.range(ext)) return;
    const start = this.lba * SECTOR;
    const gen = this.generation;
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
    this.dma = {
      toGuest: !write,
      bytes: this.remain * SECTOR,
      transfer: (pos, b) => write ? this.backend.write(start + pos, b) : this.backend.read(start + pos, b),
      complete: (ok) => {
        if (gen !== this.generation) return;
        this.dma = null;
        if (ok) this.done(); else this.abort();
      },
    };
    this.host.dmaReady(this);
  }
}
