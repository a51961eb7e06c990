// An ATAPI CD-ROM (ATA/ATAPI-7 "PACKET command protocol", SPC-3 and MMC-5 for the packet
// commands). A 12-byte packet goes through the data port after PACKET (interrupt reason CoD=1);
// data comes back in DRQ blocks no larger than the byte-count limit the host put in the cylinder
// registers, each announced in them with an interrupt (IO=1), and the command ends with IO=1,
// CoD=1. With the DMA bit in the features register at PACKET time, the data phase goes through
// the bus master instead (DRQ with DMARQ; completion is the same IO=1, CoD=1 and interrupt);
// IDENTIFY PACKET DEVICE offers multiword DMA 0-2 and UDMA 0-5 so drivers ask for it.
// Errors are CHECK CONDITION: ERR, the sense key in the error register's high nibble, and the
// sense data for REQUEST SENSE. The host changes the medium with insert()/eject(); the guest
// then sees UNIT ATTENTION (not ready to ready, medium may have changed).

import type { BlockBackend } from '../../block/block.js';
import type { IdeChannelHost } from './ata.js';
import { IO_BUFFER_BYTES, IdeDevice, ST_DRDY, ST_DRQ, ST_DSC, ST_ERR } from './ata.js';
import { CMD_CHECK_POWER_MODE, CMD_EXECUTE_DIAGNOSTIC, CMD_IDENTIFY, CMD_IDENTIFY_PACKET, CMD_IDLE_IMMEDIATE,
  CMD_NOP, CMD_PACKET, CMD_SET_FEATURES, identifyBytes, putAtaString, type DiskIdentity } from './ata-disk.js';

export const CMD_DEVICE_RESET = 0x08;
/** Interrupt reason (sector count register) bits. */
export const IR_COD = 0x01;   // command (1) or data (0)
export const IR_IO = 0x02;    // to the host (1)
/** Packet features register: DMA. */
const PACKET_DMA = 0x01;
/** SET FEATURES: set transfer mode, with the mode kind in the sector count's high bits. */
const SF_SET_XFER_MODE = 0x03;
const XFER_PIO_DEFAULT = 0x00, XFER_PIO = 0x08, XFER_MWDMA = 0x20, XFER_UDMA = 0x40;
const PACKET_BYTES = 12;

/** SCSI / MMC operation codes. */
export const GPCMD_TEST_UNIT_READY = 0x00;
export const GPCMD_REQUEST_SENSE = 0x03;
export const GPCMD_INQUIRY = 0x12;
export const GPCMD_MODE_SENSE_6 = 0x1a;
export const GPCMD_START_STOP_UNIT = 0x1b;
export const GPCMD_PREVENT_ALLOW = 0x1e;
export const GPCMD_READ_CAPACITY = 0x25;
export const GPCMD_READ_10 = 0x28;
export const GPCMD_SEEK_10 = 0x2b;
export const GPCMD_READ_TOC = 0x43;
export const GPCMD_GET_CONFIGURATION = 0x46;
export const GPCMD_GET_EVENT_STATUS = 0x4a;
export const GPCMD_MODE_SENSE_10 = 0x5a;
export const GPCMD_READ_12 = 0xa8;

/** Sense keys and additional sense codes. */
export const SENSE_NONE = 0x0;
export const SENSE_NOT_READY = 0x2;
export const SENSE_MEDIUM_ERROR = 0x3;
export const SENSE_ILLEGAL_REQUEST = 0x5;
export const SENSE_UNIT_ATTENTION = 0x6;
export const ASC_UNRECOVERED_READ_ERROR = 0x11;
export const ASC_INVALID_OPCODE = 0x20;
export const ASC_LBA_OUT_OF_RANGE = 0x21;
export const ASC_INVALID_FIELD = 0x24;
export const ASC_MEDIUM_MAY_HAVE_CHANGED = 0x28;
export const ASC_MEDIUM_NOT_PRESENT = 0x3a;
export const ASC_MEDIUM_REMOVAL_PREVENTED = 0x53;

/** Mode pages. */
const MODE_PAGE_ERROR_RECOVERY = 0x01;
const MODE_PAGE_CAPABILITIES = 0x2a;
const MODE_PAGE_ALL = 0x3f;

/** CD sector size. */
export const CD_SECTOR = 2048;
const CHUNK_SECTORS = IO_BUFFER_BYTES / CD_SECTOR;
/** Media event codes for GET EVENT STATUS NOTIFICATION. */
const MEC_NO_CHANGE = 0, MEC_EJECT_REQUEST = 1, MEC_NEW_MEDIA = 2, MEC_MEDIA_REMOVAL = 3;
/** Media status byte of the media event: tray open, medium present. */
const MS_TRAY_OPEN = 0x01, MS_MEDIA_PRESENT = 0x02;

const be16 = (b: Uint8Array, o: number, v: number): void => { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; };
const be32 = (b: Uint8Array, o: number, v: number): void => { be16(b, o, v >>> 16); be16(b, o + 2, v & 0xffff); };
const rd16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const rd32 = (b: Uint8Array, o: number): number => ((rd16(b, o) << 16) | rd16(b, o + 2)) >>> 0;

/** A CD-ROM drive. */
export class AtapiCdrom extends IdeDevice {
  readonly isAtapi = true;
  private media: BlockBackend | null;
  private senseKey = SENSE_NONE;
  private asc = 0;
  /** A medium change not yet reported to the guest. */
  private unitAttention = false;
  private mediaEvent = MEC_NO_CHANGE;
  private locked = false;
  /** The tray is open (after an eject, until a medium goes in). */
  private trayOpen = false;
  private readonly cdb = new Uint8Array(PACKET_BYTES);
  /** Byte-count limit from the cylinder registers at PACKET time. */
  private limit = 0;
  // A data-in phase: `buf[pos, len)` still to send, then `more` refills it (READ) or the command ends.
  private rpos = 0;
  private rlen = 0;
  private readLba = 0;
  private readLeft = 0;
  /** The current packet's data phase goes through the bus master (FEATURES bit 0 at PACKET). */
  private packetDma = false;
  /** Selected transfer mode: IDENTIFY words 63/88 report it. */
  private mwdma = -1; private udma = -1;

  constructor(host: IdeChannelHost, media: BlockBackend | null, readonly ident: DiskIdentity) {
    super(host);
    this.media = media;
  }

  /** Medium size in 2048-byte sectors (0 without one). */
  get sectors(): number { return this.media === null ? 0 : Math.floor(this.media.sizeBytes / CD_SECTOR); }

  /** True while the guest has locked the tray (PREVENT ALLOW MEDIUM REMOVAL). */
  get isLocked(): boolean { return this.locked; }

  /** True when a medium is in the drive. */
  get hasMedia(): boolean { return this.media !== null; }

  /** Host: put a medium in and close the tray; the guest's next command sees UNIT ATTENTION. */
  insert(media: BlockBackend): void {
    this.media = media;
    this.trayOpen = false;
    this.unitAttention = true;
    this.mediaEvent = MEC_NEW_MEDIA;
  }

  /** Host or guest: open the tray and take the medium out (returned so the caller can close it). */
  eject(): BlockBackend | null {
    const m = this.media;
    this.media = null;
    this.locked = false;
    this.trayOpen = true;
    this.mediaEvent = MEC_MEDIA_REMOVAL;
    return m;
  }

  /**
   * Host: asks to open a locked tray. A real drive only reports the button press (media event
   * "eject request") and leaves the guest to unlock and eject (MMC-5 §6.6.4.4).
   */
  requestEject(): void {
    this.mediaEvent = MEC_EJECT_REQUEST;
  }

  identify(): Uint16Array {
    const w = new Uint16Array(256);
    w[0] = 0x8580; // ATAPI, CD-ROM, removable, 3 ms DRQ, 12-byte packets
    putAtaString(w, 10, 10, this.ident.serial);
    putAtaString(w, 23, 4, this.ident.firmware);
    putAtaString(w, 27, 20, this.ident.model);
    w[49] = 0x0300; // LBA, DMA
    w[53] = 0x0006;
    w[63] = 0x0007 | (this.mwdma >= 0 ? 0x100 << this.mwdma : 0); // multiword DMA 0-2
    w[64] = 0x0003;
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x00f0;
    w[82] = 0x0210; // PACKET feature set, DEVICE RESET
    w[83] = 0x4000; w[84] = 0x4000; w[85] = 0x0210; w[87] = 0x4000;
    w[88] = 0x003f | (this.udma >= 0 ? 0x100 << this.udma : 0); // UDMA 0-5
    return w;
  }

  command(cmd: number): void {
    switch (cmd) {
      case CMD_PACKET:
        this.packetDma = (this.feature & PACKET_DMA) !== 0;
        this.limit = (this.lbah << 8) | this.lbam;
        // 0 and 0xFFFF mean "as much as fits"; 1 would round to empty blocks (ATA8-ACS 7.18.3).
        if (this.limit <= 1 || this.limit === 0xffff) this.limit = 0xfffe;
        this.nsect = IR_COD;
        this.pio(0, PACKET_BYTES, false, () => { this.cdb.set(this.buf.subarray(0, PACKET_BYTES)); this.packet(); });
        return;
      case CMD_IDENTIFY_PACKET:
        identifyBytes(this.identify(), this.buf);
        this.pio(0, 512, true, () => { this.status = ST_DRDY | ST_DSC; });
        return;
      case CMD_DEVICE_RESET:
        this.reset();
        return;
      case CMD_EXECUTE_DIAGNOSTIC:
        this.signature();
        this.done();
        return;
      case CMD_CHECK_POWER_MODE:
        this.nsect = 0xff;
        this.done();
        return;
      case CMD_SET_FEATURES:
        if (this.feature === SF_SET_XFER_MODE) {
          const mode = this.nsect & 0x07;
          const kind = this.nsect & 0xf8;
          if ((kind === XFER_PIO_DEFAULT || kind === XFER_PIO) && mode <= 4) { /* PIO timing: nothing to do */ }
          else if (kind === XFER_MWDMA && mode <= 2) { this.mwdma = mode; this.udma = -1; }
          else if (kind === XFER_UDMA && mode <= 5) { this.udma = mode; this.mwdma = -1; }
          else { this.abort(); return; }
        }
        this.done();
        return;
      case CMD_IDLE_IMMEDIATE: case CMD_NOP:
        this.done();
        return;
      case CMD_IDENTIFY:
      default:
        // IDENTIFY DEVICE aborts with the packet signature in place: that is how drivers find ATAPI.
        this.signature();
        this.abort();
    }
  }

  /** CHECK CONDITION with this sense. */
  private fail(key: number, asc: number): void {
    this.senseKey = key;
    this.asc = asc;
    this.nsect = IR_IO | IR_COD;
    this.abort(key << 4);
    this.status = ST_DRDY | ST_ERR;
  }

  /** GOOD status. */
  private ok(): void {
    this.senseKey = SENSE_NONE;
    this.asc = 0;
    this.nsect = IR_IO | IR_COD;
    this.done();
  }

  /** Commands that may run while a unit attention is pending (SPC-3 §5.9.7, MMC-5). */
  private static readonly UA_EXEMPT = new Set([GPCMD_INQUIRY, GPCMD_REQUEST_SENSE, GPCMD_GET_EVENT_STATUS, GPCMD_GET_CONFIGURATION]);
  /** Commands that need a medium. */
  private static readonly NEEDS_MEDIA = new Set([GPCMD_TEST_UNIT_READY, GPCMD_READ_CAPACITY, GPCMD_READ_10,
    GPCMD_READ_12, GPCMD_READ_TOC, GPCMD_SEEK_10]);

  private packet(): void {
    const c = this.cdb;
    const op = c[0]!;
    if (this.unitAttention && !AtapiCdrom.UA_EXEMPT.has(op)) {
      this.unitAttention = false;
      this.fail(SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
      return;
    }
    if (AtapiCdrom.NEEDS_MEDIA.has(op) && this.media === null) { this.fail(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT); return; }
    const out = this.buf;
    switch (op) {
      case GPCMD_TEST_UNIT_READY: case GPCMD_SEEK_10: this.ok(); return;
      case GPCMD_REQUEST_SENSE: {
        out.fill(0, 0, 18);
        out[0] = 0x70;
        out[2] = this.unitAttention ? SENSE_UNIT_ATTENTION : this.senseKey;
        out[7] = 10;
        out[12] = this.unitAttention ? ASC_MEDIUM_MAY_HAVE_CHANGED : this.asc;
        this.unitAttention = false;
        this.senseKey = SENSE_NONE; this.asc = 0;
        this.sendReply(18, c[4]!);
        return;
      }
      case GPCMD_INQUIRY: {
        out.fill(0, 0, 36);
        out[0] = 0x05;   // CD/DVD device
        out[1] = 0x80;   // removable
        out[2] = 0x00;
        out[3] = 0x21;   // ATAPI, response data format 1
        out[4] = 31;
        out.set(Buffer.from('HVM     HVM DVD-ROM     ' + this.ident.firmware.padEnd(4).slice(0, 4), 'latin1'), 8);
        this.sendReply(36, rd16(c, 3));
        return;
      }
      case GPCMD_READ_CAPACITY:
        be32(out, 0, this.sectors - 1);
        be32(out, 4, CD_SECTOR);
        this.sendReply(8, 8);
        return;
      case GPCMD_READ_10: this.startRead(rd32(c, 2), rd16(c, 7)); return;
      case GPCMD_READ_12: this.startRead(rd32(c, 2), rd32(c, 6)); return;
      case GPCMD_READ_TOC: this.readToc(); return;
      case GPCMD_MODE_SENSE_10: this.modeSense(); return;
      case GPCMD_GET_CONFIGURATION: {
        out.fill(0, 0, 16);
        be32(out, 0, 12);                                  // data length after this field
        be16(out, 6, this.media !== null ? 0x0008 : 0);    // current profile: CD-ROM
        // Feature 0, profile list: one profile, CD-ROM, current if a disc is in.
        out[10] = 0x03; out[11] = 4;
        be16(out, 12, 0x0008); out[14] = this.media !== null ? 1 : 0;
        this.sendReply(16, rd16(c, 7));
        return;
      }
      case GPCMD_GET_EVENT_STATUS: {
        if ((c[1]! & 1) === 0) { this.fail(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD); return; } // polled only
        out.fill(0, 0, 8);
        out[3] = 0x10; // supported classes: media
        if ((c[4]! & 0x10) !== 0) {
          be16(out, 0, 6); out[2] = 0x04;
          out[4] = this.mediaEvent;
          out[5] = (this.trayOpen ? MS_TRAY_OPEN : 0) | (this.media !== null ? MS_MEDIA_PRESENT : 0);
          this.mediaEvent = MEC_NO_CHANGE;
          this.sendReply(8, rd16(c, 7));
        } else {
          be16(out, 0, 2); out[2] = 0x80; // no event available
          this.sendReply(4, rd16(c, 7));
        }
        return;
      }
      case GPCMD_START_STOP_UNIT: {
        const loej = (c[4]! & 0x02) !== 0, start = (c[4]! & 0x01) !== 0;
        if (loej && !start) {
          if (this.locked) { this.fail(SENSE_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED); return; }
          this.eject();
        } else if (loej && start) {
          this.trayOpen = false; // load: the tray closes (on whatever medium it holds)
        }
        this.ok();
        return;
      }
      case GPCMD_PREVENT_ALLOW: this.locked = (c[4]! & 1) !== 0; this.ok(); return;
      default:
        this.fail(SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
    }
  }

  private readToc(): void {
    const c = this.cdb, out = this.buf;
    const msf = (c[1]! & 0x02) !== 0;
    const format = c[2]! & 0x0f;
    const addr = (o: number, lba: number): void => {
      if (!msf) { be32(out, o, lba); return; }
      const f = lba + 150;
      out[o] = 0; out[o + 1] = Math.floor(f / 4500); out[o + 2] = Math.floor(f / 75) % 60; out[o + 3] = f % 75;
    };
    out.fill(0, 0, 20);
    if (format === 0) {
      const start = c[6]!;
      if (start > 1 && start !== 0xaa) { this.fail(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD); return; }
      let o = 4;
      if (start <= 1) { out[o + 1] = 0x14; out[o + 2] = 1; addr(o + 4, 0); o += 8; }
      out[o + 1] = 0x16; out[o + 2] = 0xaa; addr(o + 4, this.sectors); o += 8;
      be16(out, 0, o - 2); out[2] = 1; out[3] = 1;
      this.sendReply(o, rd16(c, 7));
    } else if (format === 1) {
      be16(out, 0, 10); out[2] = 1; out[3] = 1;
      out[5] = 0x14; out[6] = 1; addr(8, 0);
      this.sendReply(12, rd16(c, 7));
    } else {
      this.fail(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
    }
  }

  private modeSense(): void {
    const c = this.cdb, out = this.buf;
    const page = c[2]! & 0x3f;
    const pc = c[2]! >>> 6;
    if (pc === 3) { this.fail(SENSE_ILLEGAL_REQUEST, 0x39); return; } // saving parameters not supported
    out.fill(0, 0, 64);
    let o = 8;
    if (page === MODE_PAGE_ERROR_RECOVERY || page === MODE_PAGE_ALL) {
      out[o] = MODE_PAGE_ERROR_RECOVERY; out[o + 1] = 0x0a; out[o + 3] = 5; // read retry count
      o += 12;
    }
    if (page === MODE_PAGE_CAPABILITIES || page === MODE_PAGE_ALL) {
      out[o] = MODE_PAGE_CAPABILITIES; out[o + 1] = 0x14;
      out[o + 2] = 0x03; // reads CD-R, CD-RW
      out[o + 4] = 0x71; // audio play, multisession, mode 2 forms
      out[o + 5] = 0x60;
      out[o + 6] = 0x29 | (this.locked ? 0x02 : 0); // lock, eject, tray loader
      be16(out, o + 8, 706 * 16); // max speed (kB/s)
      be16(out, o + 10, 256);     // volume levels
      be16(out, o + 12, 2048);    // buffer (KiB)
      be16(out, o + 14, 706 * 16);
      o += 22;
    }
    if (o === 8) { this.fail(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD); return; }
    be16(out, 0, o - 2);
    out[2] = this.media !== null ? 0x01 : 0x70; // medium type: 120 mm data CD, or door closed, no disc
    this.sendReply(o, rd16(c, 7));
  }

  /** Sends `buf[0, min(len, alloc))` and ends the command; an allocation length clips the reply. */
  private sendReply(len: number, alloc: number): void {
    const n = Math.min(len, alloc);
    if (n === 0) { this.ok(); return; }
    if (this.packetDma) {
      this.dmaIn(n, (pos, b) => { b.set(this.buf.subarray(pos, pos + b.length)); return Promise.resolve(); });
      return;
    }
    this.rpos = 0;
    this.rlen = n;
    this.readLeft = 0;
    this.nextBlock();
  }

  private startRead(lba: number, count: number): void {
    if (lba + count > this.sectors) { this.fail(SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE); return; }
    if (count === 0) { this.ok(); return; }
    if (this.packetDma) {
      const media = this.media;
      if (media === null) { this.fail(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT); return; }
      // The image the command started on, even if the host swaps it meanwhile: that read then fails.
      this.dmaIn(count * CD_SECTOR, (pos, b) => media.read(lba * CD_SECTOR + pos, b));
      return;
    }
    this.readLba = lba;
    this.readLeft = count;
    this.readChunk();
  }

  /**
   * A data-in phase through the bus master: `bytes` from `source`, then GOOD status (or
   * MEDIUM ERROR when the image failed or the PRDs were bad) with IO=1, CoD=1 and the interrupt.
   */
  private dmaIn(bytes: number, source: (pos: number, b: Uint8Array) => Promise<void>): void {
    const gen = this.generation;
    this.nsect = IR_IO;
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
    this.dma = {
      toGuest: true,
      bytes,
      transfer: source,
      complete: (ok) => {
        if (gen !== this.generation) return;
        this.dma = null;
        if (ok) this.ok(); else this.fail(SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
      },
    };
    this.host.dmaReady(this);
  }

  private readChunk(): void {
    const media = this.media;
    if (media === null) { this.fail(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT); return; }
    const n = Math.min(this.readLeft, CHUNK_SECTORS);
    this.wait(media.read(this.readLba * CD_SECTOR, this.buf.subarray(0, n * CD_SECTOR)), () => {
      this.readLba += n;
      this.readLeft -= n;
      this.rpos = 0;
      this.rlen = n * CD_SECTOR;
      this.nextBlock();
    });
  }

  /** One DRQ block: at most the byte-count limit (whole sectors when it allows), announced in the cylinder registers. */
  private nextBlock(): void {
    const left = this.rlen - this.rpos;
    let n = left;
    if (n > this.limit) {
      n = this.limit >= CD_SECTOR && this.readLeft + this.rlen > 0 && this.rlen % CD_SECTOR === 0
        ? this.limit - (this.limit % CD_SECTOR) : this.limit & ~1;
    }
    this.lbam = n & 0xff;
    this.lbah = n >>> 8;
    this.nsect = IR_IO;
    this.pio(this.rpos, n, true, () => {
      this.rpos += n;
      if (this.rpos < this.rlen) this.nextBlock();
      else if (this.readLeft > 0) this.readChunk();
      else this.ok();
    });
  }
}
