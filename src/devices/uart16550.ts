// 16550A UART (National Semiconductor PC16550D datasheet, "Register Descriptions" §8).
//
// Eight port offsets; DLAB in LCR switches offsets 0/1 to the divisor latch. Transmission is
// immediate (no baud-rate timing): a THR write goes straight to the CharBackend and the
// holding register is empty again at once, so THRE/TEMT are always set. Host input fills the
// 16-byte RX FIFO; what does not fit waits in a bounded host-side queue and is fed in as the
// guest reads, so pasted text is not lost.

import type { AccessSize, CharBackend, Device, IoRegion, IrqLine } from './api.js';
import { expectInt, expectRecord } from './api.js';
import { ByteRing, expectBool, expectBytes } from './byte-ring.js';

// Register offsets (§8.1, Table II).
const RBR = 0; // receiver buffer (read, DLAB=0)
const THR = 0; // transmitter holding (write, DLAB=0)
const DLL = 0; // divisor latch LSB (DLAB=1)
const IER = 1; // interrupt enable (DLAB=0)
const DLM = 1; // divisor latch MSB (DLAB=1)
const IIR = 2; // interrupt identification (read)
const FCR = 2; // FIFO control (write)
const LCR = 3; // line control
const MCR = 4; // modem control
const LSR = 5; // line status
const MSR = 6; // modem status
const SCR = 7; // scratch

// IER bits.
const IER_ERBFI = 0x01; // received data available
const IER_ETBEI = 0x02; // transmitter holding register empty
const IER_ELSI = 0x04;  // receiver line status
const IER_EDSSI = 0x08; // modem status
const IER_MASK = 0x0f;

// IIR values (§8.6, Table IV), highest priority first.
const IIR_NO_INT = 0x01;
const IIR_RLS = 0x06;  // receiver line status
const IIR_RDA = 0x04;  // received data available
const IIR_CTI = 0x0c;  // character timeout
const IIR_THRE = 0x02; // THR empty
const IIR_MS = 0x00;   // modem status
const IIR_FIFO = 0xc0; // both bits set when FCR0 is set

// FCR bits.
const FCR_FE = 0x01;   // FIFO enable
const FCR_RFR = 0x02;  // clear RX FIFO (self-clearing)
const FCR_XFR = 0x04;  // clear TX FIFO (self-clearing)
const FCR_RT = 0xc0;   // RX trigger level
const RX_TRIGGER = [1, 4, 8, 14] as const;

// LCR bits.
const LCR_DLAB = 0x80; // divisor latch access

// MCR bits.
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08; // on PCs, gates the IRQ line driver
const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;

// LSR bits.
const LSR_DR = 0x01;   // data ready
const LSR_OE = 0x02;   // overrun error
const LSR_PE = 0x04;   // parity error
const LSR_FE = 0x08;   // framing error
const LSR_BI = 0x10;   // break interrupt
const LSR_THRE = 0x20; // THR empty
const LSR_TEMT = 0x40; // transmitter empty
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// MSR bits.
const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04; // trailing edge of RI
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_DELTAS = MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD;

const FIFO_SIZE = 16;
/** Host input waiting for FIFO space; beyond this, input is dropped and counted. */
const HOST_QUEUE_MAX = 64 * 1024;
/** Input lines when not in loopback: a terminal that is always there. */
const MSR_LINES_CONNECTED = MSR_DCD | MSR_DSR | MSR_CTS;

/** Saved state of a 16550A. */
export interface Uart16550State {
  ier: number; lcr: number; mcr: number; lsr: number; msr: number; scr: number;
  dll: number; dlm: number; fcr: number; thrIpending: boolean;
  rxFifo: number[]; hostQueue: number[];
}

/** A 16550A UART with its eight registers as one port region. */
export class Uart16550 implements Device<Uart16550State> {
  readonly stateVersion = 1;
  readonly region: IoRegion;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = LSR_THRE | LSR_TEMT;
  private msr = MSR_LINES_CONNECTED;
  private scr = 0;
  private dll = 0x0c; // 9600 baud, as after a BIOS
  private dlm = 0;
  /** FCR bits that persist: FE and the trigger level. */
  private fcr = 0;
  /** The THRE interrupt is pending (cleared by an IIR read that reports it, or a THR write). */
  private thrIpending = false;
  private readonly rx = new ByteRing(FIFO_SIZE);
  private readonly hostQueue = new ByteRing(HOST_QUEUE_MAX);
  private irqLevel = false;
  /** Host input dropped because the host queue was full. */
  droppedInput = 0;

  constructor(readonly id: string, private readonly irq: IrqLine, private readonly backend: CharBackend | null) {
    this.region = {
      name: id,
      size: 8,
      read: (offset, size) => this.readReg(offset, size),
      write: (offset, size, value) => this.writeReg(offset, size, value),
    };
    backend?.onInput((bytes) => this.receiveFromHost(bytes));
  }

  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsr = LSR_THRE | LSR_TEMT;
    this.msr = MSR_LINES_CONNECTED;
    this.scr = 0;
    this.fcr = 0;
    this.thrIpending = false;
    this.rx.clear();
    this.updateIrq();
  }

  private get fifoEnabled(): boolean { return (this.fcr & FCR_FE) !== 0; }
  private get rxCapacity(): number { return this.fifoEnabled ? FIFO_SIZE : 1; }
  private get loopback(): boolean { return (this.mcr & MCR_LOOP) !== 0; }

  private readReg(offset: number, size: AccessSize): number {
    // Wider accesses read the register at the offset; the upper bytes float high.
    const upper = size === 1 ? 0 : size === 2 ? 0xff00 : 0xffffff00;
    return (upper | this.readByte(offset & 7)) >>> 0;
  }

  private writeReg(offset: number, _size: AccessSize, value: number): void {
    this.writeByte(offset & 7, value & 0xff);
  }

  private readByte(offset: number): number {
    switch (offset) {
      case RBR:
        if (this.lcr & LCR_DLAB) return this.dll;
        return this.readRbr();
      case IER:
        if (this.lcr & LCR_DLAB) return this.dlm;
        return this.ier;
      case IIR: {
        const iir = this.iir();
        // Reading IIR when it reports THRE clears that interrupt (§8.6).
        if ((iir & 0x0f) === IIR_THRE) { this.thrIpending = false; this.updateIrq(); }
        return iir;
      }
      case LCR: return this.lcr;
      case MCR: return this.mcr;
      case LSR: {
        const v = this.lsr;
        this.lsr &= ~LSR_ERRORS; // error bits clear on read
        if (v & LSR_ERRORS) this.updateIrq();
        return v;
      }
      case MSR: {
        const v = this.msr;
        this.msr &= ~MSR_DELTAS; // delta bits clear on read
        if (v & MSR_DELTAS) this.updateIrq();
        return v;
      }
      default: return this.scr;
    }
  }

  private writeByte(offset: number, v: number): void {
    switch (offset) {
      case THR:
        if (this.lcr & LCR_DLAB) { this.dll = v; return; }
        this.transmit(v);
        return;
      case IER: {
        if (this.lcr & LCR_DLAB) { this.dlm = v; return; }
        const changed = (this.ier ^ v) & IER_MASK;
        this.ier = v & IER_MASK;
        // Enabling ETBEI while THR is empty raises THRE at once (Linux tests this at probe and
        // in its THRE-bug check, toggling IER 0 -> THRI and reading IIR each time).
        if (changed & IER_ETBEI) this.thrIpending = (this.ier & IER_ETBEI) !== 0 && (this.lsr & LSR_THRE) !== 0;
        this.updateIrq();
        return;
      }
      case FCR: this.writeFcr(v); return;
      case LCR: this.lcr = v; return;
      case MCR: this.writeMcr(v); return;
      case LSR: return; // factory test register on some parts; read-only here
      case MSR: return;
      default: this.scr = v;
    }
  }

  private readRbr(): number {
    const b = this.rx.shift();
    this.refillFromHost();
    if (this.rx.length === 0) this.lsr &= ~LSR_DR;
    this.updateIrq();
    return b < 0 ? 0 : b;
  }

  private transmit(b: number): void {
    if (this.loopback) {
      // Loopback: the transmitter feeds the receiver; SOUT is held marking.
      this.receiveByte(b);
    } else {
      this.backend?.write(Uint8Array.of(b));
    }
    // Transmission is immediate, so the holding register is empty again and THRE re-arms.
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrIpending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const wasEnabled = this.fifoEnabled;
    // Changing FCR0 clears both FIFOs (§8.5).
    if ((v & FCR_FE) !== (this.fcr & FCR_FE) || (v & FCR_RFR)) {
      this.rx.clear();
      this.lsr &= ~LSR_DR;
    }
    // The TX FIFO is always empty (transmission is immediate), so FCR_XFR has nothing to clear.
    this.fcr = v & (FCR_FE | FCR_RT);
    if (wasEnabled !== this.fifoEnabled || (v & FCR_RFR)) this.refillFromHost();
    this.updateIrq();
  }

  private writeMcr(v: number): void {
    const wasLoop = this.loopback;
    this.mcr = v & MCR_MASK;
    this.updateMsrLines();
    // Leaving loopback reconnects the receiver to the host.
    if (wasLoop && !this.loopback) this.refillFromHost();
    this.updateIrq();
  }

  /** Recomputes MSR input lines (loopback wires them to MCR outputs) and sets delta bits. */
  private updateMsrLines(): void {
    let lines = MSR_LINES_CONNECTED;
    if (this.loopback) {
      lines = 0;
      if (this.mcr & MCR_RTS) lines |= MSR_CTS;
      if (this.mcr & MCR_DTR) lines |= MSR_DSR;
      if (this.mcr & MCR_OUT1) lines |= MSR_RI;
      if (this.mcr & MCR_OUT2) lines |= MSR_DCD;
    }
    const old = this.msr;
    const diff = (old ^ lines) & 0xf0;
    let deltas = old & MSR_DELTAS;
    if (diff & MSR_CTS) deltas |= MSR_DCTS;
    if (diff & MSR_DSR) deltas |= MSR_DDSR;
    if (diff & MSR_DCD) deltas |= MSR_DDCD;
    if ((old & MSR_RI) && !(lines & MSR_RI)) deltas |= MSR_TERI;
    this.msr = lines | deltas;
  }

  /** One byte arriving at the receiver: into the FIFO, or an overrun if it is full. */
  private receiveByte(b: number): void {
    if (this.rx.length >= this.rxCapacity) {
      // Overrun: the FIFO keeps its contents; the character in the shift register is lost.
      this.lsr |= LSR_OE;
    } else {
      this.rx.push(b);
      this.lsr |= LSR_DR;
    }
  }

  private receiveFromHost(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (!this.hostQueue.push(b)) this.droppedInput++;
    }
    this.refillFromHost();
    this.updateIrq();
  }

  /** Moves waiting host input into the receiver while there is room (never in loopback). */
  private refillFromHost(): void {
    if (this.loopback) return;
    for (let n = 0; n < FIFO_SIZE && this.hostQueue.length > 0 && this.rx.length < this.rxCapacity; n++) {
      this.rx.push(this.hostQueue.shift());
      this.lsr |= LSR_DR;
    }
  }

  /** The highest-priority pending interrupt (§8.6 Table IV), with the FIFO bits. */
  private iir(): number {
    const fifoBits = this.fifoEnabled ? IIR_FIFO : 0;
    if ((this.ier & IER_ELSI) && (this.lsr & LSR_ERRORS)) return fifoBits | IIR_RLS;
    if ((this.ier & IER_ERBFI) && this.rx.length > 0) {
      // No baud timing exists, so the four-character timeout has always elapsed by the time
      // the guest looks: data below the trigger level reports a timeout, not "available".
      const trigger = this.fifoEnabled ? RX_TRIGGER[(this.fcr & FCR_RT) >> 6]! : 1;
      return fifoBits | (this.rx.length >= trigger ? IIR_RDA : IIR_CTI);
    }
    if ((this.ier & IER_ETBEI) && this.thrIpending) return fifoBits | IIR_THRE;
    if ((this.ier & IER_EDSSI) && (this.msr & MSR_DELTAS)) return fifoBits | IIR_MS;
    return fifoBits | IIR_NO_INT;
  }

  /** Drives the IRQ line: an interrupt is pending and OUT2 enables the PC's line driver. */
  private updateIrq(): void {
    // In loopback the OUT2 pin is forced inactive (§8.7), which on a PC disconnects the line.
    const gate = (this.mcr & MCR_OUT2) !== 0 && !this.loopback;
    const level = gate && (this.iir() & IIR_NO_INT) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  saveState(): Uart16550State {
    return {
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, lsr: this.lsr, msr: this.msr, scr: this.scr,
      dll: this.dll, dlm: this.dlm, fcr: this.fcr, thrIpending: this.thrIpending,
      rxFifo: this.rx.toArray(), hostQueue: this.hostQueue.toArray(),
    };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported uart16550 state version ${version}`);
    const s = expectRecord(state, this.id);
    const ier = expectInt(s, 'ier', 0, IER_MASK);
    const lcr = expectInt(s, 'lcr', 0, 0xff);
    const mcr = expectInt(s, 'mcr', 0, MCR_MASK);
    const lsr = expectInt(s, 'lsr', 0, 0xff);
    const msr = expectInt(s, 'msr', 0, 0xff);
    const scr = expectInt(s, 'scr', 0, 0xff);
    const dll = expectInt(s, 'dll', 0, 0xff);
    const dlm = expectInt(s, 'dlm', 0, 0xff);
    const fcr = expectInt(s, 'fcr', 0, FCR_FE | FCR_RT);
    const thrIpending = expectBool(s, 'thrIpending');
    const rxFifo = expectBytes(s, 'rxFifo', (fcr & FCR_FE) ? FIFO_SIZE : 1);
    const hostQueue = expectBytes(s, 'hostQueue', HOST_QUEUE_MAX);
    this.ier = ier; this.lcr = lcr; this.mcr = mcr; this.msr = msr; this.scr = scr;
    this.dll = dll; this.dlm = dlm; this.fcr = fcr; this.thrIpending = thrIpending;
    // THR is always empty here; DR follows the FIFO.
    this.lsr = (lsr & ~LSR_DR) | LSR_THRE | LSR_TEMT | (rxFifo.length > 0 ? LSR_DR : 0);
    this.rx.fill(rxFifo);
    this.hostQueue.fill(hostQueue);
    this.irqLevel = false;
    this.irq.set(false);
    this.updateIrq();
  }
}
