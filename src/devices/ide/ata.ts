// One ATA channel (ATA/ATAPI-7 volume 2, "Register transport"): the command block (data,
// error/features, sector count, LBA low/mid/high, device, status/command) and the control block
// (alternate status / device control), with a master and a slave. Each device latches every
// register write (as the hardware does, so each keeps its own signature after a reset); reads
// come from the selected device. The data-transfer engine every device shares (PIO windows,
// BSY while a backend promise is pending, the interrupt pending flag) lives in `IdeDevice`;
// the hard disk's commands are in ata-disk.ts, the CD-ROM's in atapi.ts.

import type { AccessSize, IoRegion, IrqLine } from '../api.js';

/** Command block offsets (from 0x1F0 / 0x170). */
export const REG_DATA = 0;
export const REG_ERROR = 1;       // read: error; write: features
export const REG_NSECT = 2;       // sector count (ATAPI: interrupt reason)
export const REG_LBAL = 3;
export const REG_LBAM = 4;        // ATAPI: byte count low
export const REG_LBAH = 5;        // ATAPI: byte count high
export const REG_DEVICE = 6;
export const REG_STATUS = 7;      // read: status; write: command
/** Control block: offset 0 of the 0x3F6 / 0x376 window. */
export const REG_ALTSTATUS = 0;   // read: alternate status; write: device control

/** Status bits. */
export const ST_ERR = 0x01;       // error: see the error register
export const ST_DRQ = 0x08;       // data request
export const ST_DSC = 0x10;       // seek complete (obsolete; drivers expect it with DRDY)
export const ST_DF = 0x20;        // device fault
export const ST_DRDY = 0x40;      // device ready
export const ST_BSY = 0x80;
/** Error bits. */
export const ER_AMNF = 0x01;      // after EXECUTE DEVICE DIAGNOSTIC: 0x01 means "device 0 passed"
export const ER_ABRT = 0x04;
export const ER_IDNF = 0x10;
export const ER_UNC = 0x40;
/** Device register bits. */
export const DEV_LBA = 0x40;
export const DEV_DEV = 0x10;      // 1 selects device 1 (slave)
export const DEV_OBS = 0xa0;     // obsolete bits that read as ones
/** Device control bits. */
export const CTL_NIEN = 0x02;    // interrupts disabled
export const CTL_SRST = 0x04;    // software reset
export const CTL_HOB = 0x80;     // reads return the previous (high-order) LBA48 bytes

/** What a drive needs from its channel. */
export interface IdeChannelHost {
  /** The device set its interrupt pending. */
  interrupt(dev: IdeDevice): void;
  /** The device has a DMA command waiting for the bus master. */
  dmaReady(dev: IdeDevice): void;
}

/** A device's DMA request, served by the bus master (bmdma.ts). */
export interface DmaRequest {
  /** True: device to memory (a read from the disk). */
  toGuest: boolean;
  /** Bytes the command moves. */
  bytes: number;
  /** Moves `len` bytes at `pos` of the transfer between the device and `buf`. */
  transfer(pos: number, buf: Uint8Array): Promise<void>;
  /** The whole transfer is done (or failed): finish the command and interrupt. */
  complete(ok: boolean): void;
}

/** Largest PIO chunk a device buffers (256 sectors; an ATAPI chunk is 32 CD sectors). */
export const IO_BUFFER_BYTES = 128 * 1024;

/** One device on a channel: its task file, the PIO data window and asynchronous steps. */
export abstract class IdeDevice {
  feature = 0; hobFeature = 0;
  nsect = 0; hobNsect = 0;
  lbal = 0; hobLbal = 0;
  lbam = 0; hobLbam = 0;
  lbah = 0; hobLbah = 0;
  select = DEV_OBS;
  status = 0;
  error = 0;
  /** INTRQ pending: set on completion, cleared by reading status or writing a command. */
  irqPending = false;
  readonly buf = new Uint8Array(IO_BUFFER_BYTES);
  /** The PIO window [pos, end) of `buf` the data port moves, and what happens after it. */
  private pos = 0;
  private end = 0;
  private afterPio: (() => void) | null = null;
  /** Bumped by resets so late backend completions are dropped. */
  protected generation = 0;
  /** The DMA command waiting for (or served by) the bus master. */
  dma: DmaRequest | null = null;

  constructor(protected readonly host: IdeChannelHost) {}

  abstract readonly isAtapi: boolean;
  /** Runs a command written to the command register. */
  abstract command(cmd: number): void;

  /** Loads the reset signature (ATA: 1,1,0,0; ATAPI: 1,1,0x14,0xEB) and the ready status. */
  protected signature(): void {
    this.nsect = 1; this.lbal = 1;
    this.lbam = this.isAtapi ? 0x14 : 0;
    this.lbah = this.isAtapi ? 0xeb : 0;
    this.select = DEV_OBS | (this.select & DEV_DEV);
    this.error = ER_AMNF;
  }

  /** Hardware or software reset: abandon work, signature, ready (ATAPI: DRDY clear). */
  reset(): void {
    this.generation++;
    this.pos = this.end = 0;
    this.afterPio = null;
    this.dma = null;
    this.irqPending = false;
    this.feature = this.hobFeature = this.hobNsect = this.hobLbal = this.hobLbam = this.hobLbah = 0;
    this.select = DEV_OBS;
    this.signature();
    this.status = this.isAtapi ? 0 : ST_DRDY | ST_DSC;
  }

  /** Sets the interrupt pending and tells the channel. */
  raise(): void {
    this.irqPending = true;
    this.host.interrupt(this);
  }

  /** Ends a command in error: ERR with `err` in the error register, and an interrupt. */
  abort(err = ER_ABRT): void {
    this.afterPio = null;
    this.pos = this.end = 0;
    this.dma = null;
    this.error = err;
    this.status = (this.isAtapi ? 0 : ST_DRDY | ST_DSC) | ST_ERR;
    this.raise();
  }

  /** Ends a command without data: ready, and an interrupt. */
  done(): void {
    this.afterPio = null;
    this.status = ST_DRDY | ST_DSC;
    this.raise();
  }

  /** BSY until `p` settles, then `then` (or an abort with `err` on a backend error). */
  protected wait(p: Promise<void>, then: () => void, err = ER_ABRT): void {
    const gen = this.generation;
    this.status = ST_BSY | (this.status & ST_DRDY);
    p.then(() => { if (gen === this.generation) then(); },
      () => { if (gen === this.generation) this.abort(err); });
  }

  /** Opens a PIO window on `buf[start, start+len)`; DRQ; `irq` raises the interrupt. */
  protected pio(start: number, len: number, irq: boolean, after: () => void): void {
    this.pos = start;
    this.end = start + len;
    this.afterPio = after;
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
    if (irq) this.raise();
  }

  /** Guest reads `size` bytes from the data port. */
  readData(size: AccessSize): number {
    if ((this.status & ST_DRQ) === 0) return 0;
    let v = 0;
    for (let i = 0; i < size && this.pos < this.end; i++) v |= this.buf[this.pos++]! << (8 * i);
    if (this.pos >= this.end) this.windowDone();
    return v >>> 0;
  }

  /** Guest writes `size` bytes to the data port. */
  writeData(size: AccessSize, value: number): void {
    if ((this.status & ST_DRQ) === 0) return;
    for (let i = 0; i < size && this.pos < this.end; i++) this.buf[this.pos++] = (value >>> (8 * i)) & 0xff;
    if (this.pos >= this.end) this.windowDone();
  }

  private windowDone(): void {
    this.status &= ~ST_DRQ;
    const next = this.afterPio;
    this.afterPio = null;
    next?.();
  }

  /** A register write latched by this device (features and LBA registers keep their old byte as HOB). */
  latch(reg: number, v: number): void {
    switch (reg) {
      case REG_ERROR: this.hobFeature = this.feature; this.feature = v; break;
      case REG_NSECT: this.hobNsect = this.nsect; this.nsect = v; break;
      case REG_LBAL: this.hobLbal = this.lbal; this.lbal = v; break;
      case REG_LBAM: this.hobLbam = this.lbam; this.lbam = v; break;
      case REG_LBAH: this.hobLbah = this.lbah; this.lbah = v; break;
      case REG_DEVICE: this.select = v | DEV_OBS; break;
      default: break;
    }
  }

  /** A command block register read (other than data and status side effects). */
  readReg(reg: number, hob: boolean): number {
    switch (reg) {
      case REG_ERROR: return hob ? this.hobFeature : this.error;
      case REG_NSECT: return hob ? this.hobNsect : this.nsect;
      case REG_LBAL: return hob ? this.hobLbal : this.lbal;
      case REG_LBAM: return hob ? this.hobLbam : this.lbam;
      case REG_LBAH: return hob ? this.hobLbah : this.lbah;
      case REG_DEVICE: return this.select;
      default: return this.status;
    }
  }

  /** Accepts a new command unless BSY (a command written while busy is ignored, as drives do). */
  startCommand(cmd: number): void {
    if ((this.status & ST_BSY) !== 0) return;
    this.irqPending = false;
    this.error = 0;
    this.afterPio = null;
    this.pos = this.end = 0;
    this.dma = null;
    this.command(cmd);
  }
}

/** A channel: two device slots, the device control register, and INTRQ. */
export class AtaChannel {
  /** 0x1F0–0x1F7: the command block. */
  readonly commandRegion: IoRegion;
  /** 0x3F6: alternate status / device control. */
  readonly controlRegion: IoRegion;
  private control = 0;
  /** Called on every interrupt a device raises (the bus master's interrupt bit). */
  onInterrupt: (() => void) | null = null;
  /** Called when a device queues a DMA command. */
  onDmaReady: (() => void) | null = null;
  readonly host: IdeChannelHost;
  readonly drives: [IdeDevice | null, IdeDevice | null] = [null, null];

  constructor(readonly name: string, private readonly irq: IrqLine) {
    this.host = {
      interrupt: () => { this.onInterrupt?.(); this.updateIrq(); },
      dmaReady: () => this.onDmaReady?.(),
    };
    this.commandRegion = {
      name: `${name}.cmd`, size: 8,
      read: (offset, size) => this.readCommand(offset, size),
      write: (offset, size, value) => this.writeCommand(offset, size, value),
    };
    this.controlRegion = {
      name: `${name}.ctl`, size: 1,
      read: () => this.readAltStatus(),
      write: (_offset, _size, value) => this.writeControl(value & 0xff),
    };
  }

  /** Puts a device in slot 0 (master) or 1 (slave). */
  attach(unit: 0 | 1, dev: IdeDevice): void { this.drives[unit] = dev; dev.reset(); }

  /** The selected device (slot by the DEV bit of the last device register write). */
  get selected(): IdeDevice | null {
    const any = this.drives[0] ?? this.drives[1];
    if (any === null) return null;
    return this.drives[(any.select & DEV_DEV) !== 0 ? 1 : 0];
  }

  private get present(): boolean { return this.drives[0] !== null || this.drives[1] !== null; }

  /** INTRQ follows the selected device's pending interrupt, gated by nIEN. */
  updateIrq(): void {
    const dev = this.selected;
    this.irq.set(dev !== null && dev.irqPending && (this.control & CTL_NIEN) === 0);
  }

  private readCommand(offset: number, size: AccessSize): number {
    if (!this.present) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff; // floating bus
    const dev = this.selected;
    // A byte read of the data register still moves a word (the high byte is lost, as on hardware).
    if (offset === REG_DATA) return dev === null ? 0 : size === 1 ? dev.readData(2) & 0xff : dev.readData(size);
    if (dev === null) return 0; // an absent device 1: device 0 answers zeros for it
    let v = 0;
    for (let i = 0; i < size && offset + i < 8; i++) v |= this.readByte(dev, offset + i) << (8 * i);
    return v >>> 0;
  }

  private readByte(dev: IdeDevice, reg: number): number {
    if (reg === REG_STATUS) {
      dev.irqPending = false;
      this.updateIrq();
      return dev.status;
    }
    return dev.readReg(reg, (this.control & CTL_HOB) !== 0);
  }

  private writeCommand(offset: number, size: AccessSize, value: number): void {
    if (offset === REG_DATA) { this.selected?.writeData(size === 1 ? 2 : size, value); return; }
    for (let i = 0; i < size && offset + i < 8; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private writeByte(reg: number, v: number): void {
    if (reg === REG_STATUS) {
      const dev = this.selected;
      if (dev !== null && (this.control & CTL_SRST) === 0) dev.startCommand(v);
      this.updateIrq();
      return;
    }
    this.control &= ~CTL_HOB; // a task-file write clears HOB
    for (const d of this.drives) d?.latch(reg, v);
    if (reg === REG_DEVICE) this.updateIrq();
  }

  private readAltStatus(): number {
    if (!this.present) return 0xff;
    return this.selected?.status ?? 0;
  }

  private writeControl(v: number): void {
    const was = this.control;
    this.control = v;
    if ((v & CTL_SRST) !== 0 && (was & CTL_SRST) === 0) {
      for (const d of this.drives) if (d !== null) { d.reset(); d.status = ST_BSY; }
    } else if ((v & CTL_SRST) === 0 && (was & CTL_SRST) !== 0) {
      for (const d of this.drives) d?.reset();
    }
    this.updateIrq();
  }

  /** Power-on reset of the channel and its devices. */
  reset(): void {
    this.control = 0;
    for (const d of this.drives) d?.reset();
    this.updateIrq();
  }

  /** Device control register, for snapshots and tests. */
  get deviceControl(): number { return this.control; }
}
