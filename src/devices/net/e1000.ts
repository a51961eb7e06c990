// Intel 82540EM Gigabit Ethernet controller, 8086:100E (PCI/PCI-X Family of Gigabit Ethernet
// Controllers Software Developer's Manual, "8254x SDM"): BAR0 is the 128 KiB register file,
// BAR1 the I/O window (IOADDR at 0, IODATA at 4, §13.1). The register table is e1000-regs.ts;
// the transmit engine e1000-tx.ts. The EEPROM is a 64-word Microwire part read by bit-banging
// EECD (what Linux's e1000 does on an 82540) or through EERD.
//
// Interrupt moderation (ITR, RDTR/RADV, TIDV/TADV) is e1000-irq.ts, on the device model's timers.

import type { AccessSize, Device, GuestMemory, IoRegion, IrqLine } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import { PciConfigSpace } from '../pci/config-space.js';
import type { PciFunction } from '../pci/pci-host.js';
import type { EthernetPort } from '../../net/ethernet.js';
import type { Timers } from '../../devicemodel/timers.js';
import { ETH_HLEN, ETH_MIN_FRAME } from '../../net/ethernet.js';
import {
  CTRL, CTRL_PHY_RST, CTRL_RST, E1000_REGS, EECD, EECD_CS, EECD_DI, EECD_DO, EECD_GNT, EECD_PRES, EECD_REQ, EECD_SK,
  EERD, EERD_DONE, EERD_START, GORCL, GOTCL, GPRC, GPTC, ICR, ICR_LSC, ICR_MDAC, ICR_RXDMT0, ICR_RXO,
  ICR_TXQE, ICS, IMC, IMS, ITR, MDIC, MDIC_ERROR, MDIC_OP_READ, MDIC_OP_WRITE, MDIC_READY, MPC, MTA, PHY_ADDR, PHY_CTRL,
  PHY_CTRL_RESET, PHY_CTRL_RESTART_AN, PHY_RESET, PHY_STATUS, PHY_STATUS_AN_COMPLETE, PHY_STATUS_LINK, PHY_WRITABLE, RA,
  RA_ENTRIES, RAH_AV, RCTL, RCTL_BAM, RCTL_BSEX, RCTL_BSIZE_SHIFT, RCTL_EN, RCTL_LPE, RCTL_MO_SHIFT, RCTL_MPE,
  RCTL_RDMTS_SHIFT, RCTL_SECRC, RCTL_UPE, RADV, RDBAH, RDBAL, RDH, RDLEN, RDT, RDTR, RNBC, type RegDef, STATUS, STATUS_LU,
  TADV, TCTL, TCTL_EN, TDBAH, TDBAL, TDH, TDLEN, TDT, TIDV, TPR, TPT,
} from './e1000-regs.js';
import { DELAY_FPD, E1000Moderation } from './e1000-irq.js';
import { E1000Tx, TXD_BYTES, TXD_STAT_DD } from './e1000-tx.js';

const BAR0_SIZE = 0x20000;
const BAR1_SIZE = 0x40;
const IOADDR = 0x0;
const IODATA = 0x4;
/** EEPROM: 64 words; words 0-2 the MAC; the sum of all words is 0xBABA (§5.6). */
export const EEPROM_WORDS = 64;
export const EEPROM_SUM = 0xbaba;
const EEPROM_CHECKSUM_WORD = 0x3f;
const EEPROM_ADDR_BITS = 6;
const MW_OPCODE_READ = 0x6; // Microwire READ: start bit + 10
const RXD_BYTES = 16;
const RXD_STAT_DD = 0x01;
const RXD_STAT_EOP = 0x02;
const RXD_STAT_IXSM = 0x04; // ignore checksum indication
/** Transmit descriptor command byte (offset 11, every descriptor type): IDE, delay the interrupt. */
const TXD_CMD_IDE = 0x80;
/** Receive buffer sizes by RCTL.BSIZE, without and with BSEX (§13.4.22). */
const BSIZE = [2048, 1024, 512, 256] as const;
const BSIZE_EX = [2048, 16384, 8192, 4096] as const;
/** The longest frame received with RCTL.LPE clear (1518 with FCS). */
const RX_MAX_STD = 1522;
const RX_MAX_LONG = 16384;
/** Descriptors in the largest ring RDLEN/TDLEN can describe (the walk's bound per pass). */
const RING_MAX = 0x100000 / 16;

/** Saved state: the register values by name, the PHY, EEPROM and the EECD shift state. */
export interface E1000State {
  config: number[];
  regs: Record<string, number>;
  phy: number[];
  eeprom: number[];
  eeBits: number; eeIn: number; eeOut: number; eeReading: boolean;
  link: boolean;
}

/** The 82540EM. */
export class E1000 implements PciFunction, Device<E1000State> {
  readonly stateVersion = 1;
  readonly config: PciConfigSpace;
  readonly mmio: IoRegion;
  readonly io: IoRegion;
  private readonly regs = new Uint32Array(BAR0_SIZE / 4);
  private readonly defs: (RegDef | undefined)[] = new Array<RegDef | undefined>(BAR0_SIZE / 4).fill(undefined);
  private readonly phy = new Uint16Array(32);
  readonly eeprom = new Uint16Array(EEPROM_WORDS);
  private eeBits = 0;
  private eeIn = 0;
  private eeOut = -1;
  private eeReading = false;
  private ioAddr = 0;
  private link = true;
  private readonly tx: E1000Tx;
  private readonly desc = new Uint8Array(16);
  private readonly mod: E1000Moderation;
  /** Whether the interrupt line is asserted (ITR holds assertions back, never deassertions). */
  private lineUp = false;
  /** Accesses to offsets without a register (counted, not printed). */
  ignored = 0;

  constructor(readonly id: string, private readonly irq: IrqLine, private readonly mem: GuestMemory,
              readonly mac: Uint8Array, private readonly port: EthernetPort | null,
              timers: Timers | null = null, now: () => number = () => performance.now()) {
    this.mod = new E1000Moderation(timers, now, (c) => this.raise(c), () => this.updateIrq());
    if (mac.length !== 6) throw new Error(`${id}: a MAC address has 6 bytes`);
    this.config = new PciConfigSpace({
      vendorId: 0x8086, deviceId: 0x100e, revision: 0x03, classCode: 0x020000, interruptPin: 1,
      subsystemVendorId: 0x8086, subsystemId: 0x001e,
    });
    this.mmio = { name: `${id}.mmio`, size: BAR0_SIZE, read: (o, s) => this.mmioRead(o, s), write: (o, s, v) => this.mmioWrite(o, s, v) };
    this.io = { name: `${id}.io`, size: BAR1_SIZE, read: (o, s) => this.ioRead(o, s), write: (o, s, v) => this.ioWrite(o, s, v) };
    this.config.defineBar(0, { space: 'mem32', size: BAR0_SIZE, region: this.mmio });
    this.config.defineBar(1, { space: 'io', size: BAR1_SIZE, region: this.io });
    for (const d of E1000_REGS) this.defs[d.offset >>> 2] = d;
    this.tx = new E1000Tx(mem, (f) => this.transmitted(f));
    this.buildEeprom();
    port?.onFrame((f) => this.receive(f));
    this.reset();
  }

  private buildEeprom(): void {
    const e = this.eeprom;
    e.fill(0xffff);
    for (let i = 0; i < 3; i++) e[i] = this.mac[2 * i]! | (this.mac[2 * i + 1]! << 8);
    e[3] = 0; e[4] = 0xffff; e[5] = 0; e[6] = 0; e[7] = 0;
    e[0x08] = 0x3000; e[0x09] = 0x1000;
    e[0x0a] = 0x6403;                       // initialization control 1
    e[0x0b] = 0x001e; e[0x0c] = 0x8086;     // subsystem id, subsystem vendor
    e[0x0d] = 0x100e; e[0x0e] = 0x8086;     // device id, vendor
    e[0x0f] = 0x3040;                       // initialization control 2
    let sum = 0;
    for (let i = 0; i < EEPROM_CHECKSUM_WORD; i++) sum = (sum + e[i]!) & 0xffff;
    e[EEPROM_CHECKSUM_WORD] = (EEPROM_SUM - sum) & 0xffff;
  }

  // ---- register access -------------------------------------------------------------------------

  private mmioRead(offset: number, size: AccessSize): number {
    const shift = 8 * (offset & 3);
    const v = this.readReg(offset & ~3);
    return size === 4 ? v : (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  private mmioWrite(offset: number, size: AccessSize, value: number): void {
    const aligned = offset & ~3;
    if (size === 4) { this.writeReg(aligned, value >>> 0); return; }
    // A narrow write merges into the stored value (no read side effects).
    const shift = 8 * (offset & 3);
    const mask = (size === 1 ? 0xff : 0xffff) << shift;
    const cur = this.regs[aligned >>> 2] ?? 0;
    this.writeReg(aligned, ((cur & ~mask) | ((value << shift) & mask)) >>> 0);
  }

  private ioRead(offset: number, size: AccessSize): number {
    if (offset === IOADDR && size === 4) return this.ioAddr;
    if (offset === IODATA && size === 4) return this.ioAddr < BAR0_SIZE ? this.readReg(this.ioAddr & ~3) : 0xffffffff;
    return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  }

  private ioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset === IOADDR && size === 4) this.ioAddr = value & 0x1fffc;
    else if (offset === IODATA && size === 4 && this.ioAddr < BAR0_SIZE) this.writeReg(this.ioAddr & ~3, value >>> 0);
  }

  /** A register read with its side effects. */
  readReg(offset: number): number {
    const i = offset >>> 2;
    const def = this.defs[i];
    if (def === undefined) { this.ignored++; return 0; }
    switch (offset) {
      case EECD: return this.readEecd();
      case ICS: return this.regs[ICR >>> 2]!;
      case IMC: return 0;
      default: break;
    }
    const v = this.regs[i]!;
    if (def.readClear === true) {
      this.regs[i] = 0;
      if (offset === ICR) this.updateIrq();
    }
    return v >>> 0;
  }

  /** A register write with its side effects. */
  writeReg(offset: number, value: number): void {
    const i = offset >>> 2;
    const def = this.defs[i];
    if (def === undefined) { this.ignored++; return; }
    switch (offset) {
      case CTRL:
        if ((value & CTRL_RST) !== 0) { this.reset(); return; }
        if ((value & CTRL_PHY_RST) !== 0) this.phyReset();
        this.regs[i] = value & ~(CTRL_RST | CTRL_PHY_RST);
        return;
      case EECD: this.writeEecd(value); return;
      case EERD: this.writeEerd(value); return;
      case MDIC: this.writeMdic(value); return;
      case ICR: this.regs[i] = (this.regs[i]! & ~value) >>> 0; this.updateIrq(); return; // write-1-to-clear
      case ICS: this.raise(value); return;
      case IMS: this.regs[IMS >>> 2] = (this.regs[IMS >>> 2]! | (value & def.writable)) >>> 0; this.updateIrq(); return;
      case IMC: this.regs[IMS >>> 2] = (this.regs[IMS >>> 2]! & ~value) >>> 0; this.updateIrq(); return;
      case RDTR: case TIDV:
        // FPD (bit 31) is a command, not stored: a delayed interrupt fires now.
        this.regs[i] = value & 0xffff;
        if ((value & DELAY_FPD) !== 0) { if (offset === RDTR) this.mod.flushRx(); else this.mod.flushTx(); }
        return;
      default: break;
    }
    this.regs[i] = ((this.regs[i]! & ~def.writable) | (value & def.writable)) >>> 0;
    switch (offset) {
      case TDT: case TCTL: this.transmit(); break;
      case RDT: case RCTL: if ((this.regs[RCTL >>> 2]! & RCTL_EN) !== 0) this.port?.ready(); break;
      default: break;
    }
  }

  private reg(offset: number): number { return this.regs[offset >>> 2]!; }
  private setReg(offset: number, v: number): void { this.regs[offset >>> 2] = v >>> 0; }

  // ---- interrupts ------------------------------------------------------------------------------

  /** Sets interrupt causes and re-evaluates the line. */
  private raise(causes: number): void {
    this.setReg(ICR, this.reg(ICR) | (causes & 0x1ffff));
    this.updateIrq();
  }

  /** The line is the OR of the enabled causes; ITR may hold its rising edge back (§13.4.17). */
  private updateIrq(): void {
    if ((this.reg(ICR) & this.reg(IMS)) === 0) { this.lineUp = false; this.irq.set(false); return; }
    if (!this.lineUp && !this.mod.mayAssert(this.reg(ITR))) return;
    this.lineUp = true;
    this.irq.set(true);
  }

  // ---- EEPROM (Microwire through EECD, §5.3.1; or EERD) ----------------------------------------

  private readEecd(): number {
    let v = (this.reg(EECD) & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ)) | EECD_PRES;
    if ((v & EECD_REQ) !== 0) v |= EECD_GNT;
    // DO shows the addressed word's bits, most significant first; idle it reads 1 (ready).
    if (!this.eeReading || this.eeOut < 0 || this.eeOut >= 16) v |= EECD_DO;
    else {
      const word = this.eeprom[(this.eeIn & (EEPROM_WORDS - 1))]!;
      if (((word >>> (15 - this.eeOut)) & 1) !== 0) v |= EECD_DO;
    }
    return v >>> 0;
  }

  private writeEecd(value: number): void {
    const old = this.reg(EECD);
    this.setReg(EECD, value & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ));
    if ((value & EECD_CS) === 0) { this.eeBits = 0; this.eeIn = 0; this.eeReading = false; this.eeOut = -1; return; }
    const rising = (value & EECD_SK) !== 0 && (old & EECD_SK) === 0;
    const falling = (value & EECD_SK) === 0 && (old & EECD_SK) !== 0;
    if (falling && this.eeReading) { if (this.eeOut < 16) this.eeOut++; return; }
    if (!rising || this.eeReading) return;
    this.eeIn = ((this.eeIn << 1) | ((value & EECD_DI) !== 0 ? 1 : 0)) & 0xffff;
    this.eeBits++;
    if (this.eeBits === 3 + EEPROM_ADDR_BITS) {
      if (((this.eeIn >>> EEPROM_ADDR_BITS) & 7) === MW_OPCODE_READ) {
        this.eeReading = true;
        this.eeIn &= EEPROM_WORDS - 1;
        this.eeOut = -1; // the falling edge after the last address bit presents bit 15
      }
    }
  }

  private writeEerd(value: number): void {
    if ((value & EERD_START) === 0) { this.setReg(EERD, value & 0xff00); return; }
    const addr = (value >>> 8) & 0xff;
    const data = addr < EEPROM_WORDS ? this.eeprom[addr]! : 0xffff;
    this.setReg(EERD, ((data << 16) | (addr << 8) | EERD_DONE) >>> 0);
  }

  // ---- PHY through MDIC (§13.4.5) --------------------------------------------------------------

  private phyReset(): void {
    this.phy.fill(0);
    for (const [r, v] of PHY_RESET) this.phy[r] = v;
    this.setPhyLink();
  }

  private setPhyLink(): void {
    const s = this.phy[PHY_STATUS]!;
    this.phy[PHY_STATUS] = this.link ? s | PHY_STATUS_LINK | PHY_STATUS_AN_COMPLETE : s & ~(PHY_STATUS_LINK | PHY_STATUS_AN_COMPLETE);
  }

  private writeMdic(value: number): void {
    const data = value & 0xffff;
    const reg = (value >>> 16) & 0x1f;
    const addr = (value >>> 21) & 0x1f;
    const op = value & (3 << 26);
    let result = value & 0x0fffffff;
    if (addr !== PHY_ADDR) result |= MDIC_ERROR;
    else if (op === MDIC_OP_READ) result = (result & ~0xffff) | this.phy[reg]!;
    else if (op === MDIC_OP_WRITE) {
      if (PHY_WRITABLE.has(reg)) {
        if (reg === PHY_CTRL) {
          // Reset and restart-autonegotiation are self-clearing; autonegotiation completes at once.
          if ((data & PHY_CTRL_RESET) !== 0) this.phyReset();
          this.phy[PHY_CTRL] = data & ~(PHY_CTRL_RESET | PHY_CTRL_RESTART_AN);
          if ((data & PHY_CTRL_RESTART_AN) !== 0) this.setPhyLink();
        } else this.phy[reg] = data;
      }
    } else result |= MDIC_ERROR;
    this.setReg(MDIC, result | MDIC_READY);
    if ((value & (1 << 29)) !== 0) this.raise(ICR_MDAC);
  }

  // ---- link -----------------------------------------------------------------------------------

  /** The host side plugs or unplugs the cable: STATUS.LU, the PHY, and an LSC interrupt. */
  setLink(up: boolean): void {
    if (this.link === up) return;
    this.link = up;
    this.setReg(STATUS, up ? this.reg(STATUS) | STATUS_LU : this.reg(STATUS) & ~STATUS_LU);
    this.setPhyLink();
    this.raise(ICR_LSC);
  }

  get linkUp(): boolean { return this.link; }

  // ---- transmit --------------------------------------------------------------------------------

  /** Walks the transmit ring from TDH to TDT, at most one ring's worth of descriptors per call. */
  private transmit(): void {
    if ((this.reg(TCTL) & TCTL_EN) === 0) return;
    const count = Math.floor(this.reg(TDLEN) / TXD_BYTES);
    if (count === 0) return;
    const base = this.reg(TDBAL) + this.reg(TDBAH) * 0x1_0000_0000;
    let head = this.reg(TDH);
    const tail = this.reg(TDT);
    if (head >= count || tail >= count) return; // out-of-ring indices: the hardware stalls
    let did = false;
    let allDelayed = true;
    for (let n = 0; n < Math.min(count, RING_MAX) && head !== tail; n++) {
      const at = base + head * TXD_BYTES;
      if (!this.mem.read(at, this.desc)) break; // ring outside RAM: a master abort, stop
      if ((this.desc[11]! & TXD_CMD_IDE) === 0) allDelayed = false;
      if (this.tx.descriptor(this.desc)) {
        this.desc[12] = this.desc[12]! | TXD_STAT_DD;
        this.mem.write(at + 12, this.desc.subarray(12, 13));
      }
      head = (head + 1) % count;
      did = true;
    }
    this.setReg(TDH, head);
    if (!did) return;
    if (head === tail) this.raise(ICR_TXQE);
    this.mod.transmitted(this.reg(TIDV), this.reg(TADV), allDelayed);
  }

  private transmitted(frame: Uint8Array): void {
    this.count(TPT, 1); this.count(GPTC, 1); this.count(GOTCL, frame.length);
    if (this.link) this.port?.send(frame);
  }

  private count(offset: number, n: number): void { this.setReg(offset, Math.min(0xffffffff, this.reg(offset) + n)); }

  // ---- receive ---------------------------------------------------------------------------------

  /** Does the receive filter (§3.2.1) take a frame for this destination? */
  private accepts(f: Uint8Array): boolean {
    const rctl = this.reg(RCTL);
    const multicast = (f[0]! & 1) !== 0;
    if (f[0] === 0xff && f[1] === 0xff && f[2] === 0xff && f[3] === 0xff && f[4] === 0xff && f[5] === 0xff) {
      return (rctl & (RCTL_BAM | RCTL_MPE)) !== 0;
    }
    if (multicast) {
      if ((rctl & RCTL_MPE) !== 0) return true;
      const mo = (rctl >>> RCTL_MO_SHIFT) & 3;
      const hash = ((f[4]! >>> (4 - mo)) | (f[5]! << (4 + mo))) & 0xfff;
      return ((this.reg(MTA + 4 * (hash >>> 5)) >>> (hash & 31)) & 1) !== 0;
    }
    if ((rctl & RCTL_UPE) !== 0) return true;
    const lo = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
    const hi = f[4]! | (f[5]! << 8);
    for (let i = 0; i < RA_ENTRIES; i++) {
      const rah = this.reg(RA + 8 * i + 4);
      if ((rah & RAH_AV) !== 0 && this.reg(RA + 8 * i) === lo && (rah & 0xffff) === hi) return true;
    }
    return false;
  }

  /**
   * Takes a frame from the backend into the receive ring. Returns false (keep it) when the
   * receiver is off or the ring lacks the descriptors; a frame the card would never take is
   * consumed and dropped.
   */
  receive(frame: Uint8Array): boolean {
    const rctl = this.reg(RCTL);
    if ((rctl & RCTL_EN) === 0 || !this.link) return false;
    if (frame.length < ETH_HLEN) return true;
    const max = (rctl & RCTL_LPE) !== 0 ? RX_MAX_LONG : RX_MAX_STD;
    const fcs = (rctl & RCTL_SECRC) !== 0 ? 0 : 4;
    if (frame.length + fcs > max || !this.accepts(frame)) return true;
    // Short frames are padded to the minimum; the FCS bytes (zeros) follow unless stripped.
    const total = Math.max(frame.length, ETH_MIN_FRAME) + fcs;
    const data = new Uint8Array(total);
    data.set(frame);
    const bs = ((rctl & RCTL_BSEX) !== 0 ? BSIZE_EX : BSIZE)[(rctl >>> RCTL_BSIZE_SHIFT) & 3]!;
    const count = Math.floor(this.reg(RDLEN) / RXD_BYTES);
    let head = this.reg(RDH);
    const tail = this.reg(RDT);
    const need = Math.ceil(total / bs);
    const free = count === 0 || head >= count || tail >= count ? 0 : (tail - head + count) % count;
    if (free < need) {
      // No room: a missed packet, and RXO so the driver refills the ring.
      this.count(MPC, 1); this.count(RNBC, 1);
      this.raise(ICR_RXO);
      return false;
    }
    const base = this.reg(RDBAL) + this.reg(RDBAH) * 0x1_0000_0000;
    for (let off = 0, n = 0; off < total && n < need; n++) {
      const at = base + head * RXD_BYTES;
      if (!this.mem.read(at, this.desc)) return true; // ring outside RAM: the frame is lost
      const len = Math.min(bs, total - off);
      const buf = le32(this.desc, 0) + le32(this.desc, 4) * 0x1_0000_0000;
      const last = off + len >= total;
      // A buffer outside RAM takes nothing; the descriptor still completes.
      this.mem.write(buf, data.subarray(off, off + len));
      this.desc.fill(0, 8);
      this.desc[8] = len & 0xff; this.desc[9] = len >>> 8;
      this.desc[12] = RXD_STAT_DD | RXD_STAT_IXSM | (last ? RXD_STAT_EOP : 0);
      this.mem.write(at + 8, this.desc.subarray(8, 16));
      off += len;
      head = (head + 1) % count;
    }
    this.setReg(RDH, head);
    this.count(TPR, 1); this.count(GPRC, 1); this.count(GORCL, total);
    const left = (tail - head + count) % count;
    const threshold = count >>> (((rctl >>> RCTL_RDMTS_SHIFT) & 3) + 1);
    if (left <= threshold) this.raise(ICR_RXDMT0);
    this.mod.received(this.reg(RDTR), this.reg(RADV));
    return true;
  }

  // ---- Device ----------------------------------------------------------------------------------

  reset(): void {
    this.regs.fill(0);
    for (const d of E1000_REGS) this.regs[d.offset >>> 2] = d.reset;
    // RAL0/RAH0 come from the EEPROM at reset.
    const m = this.mac;
    this.setReg(RA, m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24));
    this.setReg(RA + 4, m[4]! | (m[5]! << 8) | RAH_AV);
    if (!this.link) this.setReg(STATUS, this.reg(STATUS) & ~STATUS_LU);
    this.phyReset();
    this.eeBits = 0; this.eeIn = 0; this.eeOut = -1; this.eeReading = false;
    this.tx.reset();
    this.mod.reset();
    this.lineUp = false;
    this.updateIrq();
  }

  saveState(): E1000State {
    const regs: Record<string, number> = {};
    for (const d of E1000_REGS) regs[d.name] = this.regs[d.offset >>> 2]!;
    return {
      config: this.config.save(), regs, phy: Array.from(this.phy), eeprom: Array.from(this.eeprom),
      eeBits: this.eeBits, eeIn: this.eeIn, eeOut: this.eeOut, eeReading: this.eeReading, link: this.link,
    };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported e1000 state version ${version}`);
    const s = expectRecord(state, this.id);
    const regs = expectRecord(s['regs'], `${this.id}.regs`);
    const values = E1000_REGS.map((d) => expectInt(regs, d.name, 0, 0xffffffff));
    const words = (k: string, n: number): number[] => {
      const a = s[k];
      if (!Array.isArray(a) || a.length !== n || !a.every((w) => Number.isInteger(w) && (w as number) >= 0 && (w as number) <= 0xffff)) {
        throw new Error(`bad device state: ${this.id}.${k}`);
      }
      return a as number[];
    };
    const phy = words('phy', 32);
    const eeprom = words('eeprom', EEPROM_WORDS);
    const eeBits = expectInt(s, 'eeBits', 0, 3 + EEPROM_ADDR_BITS);
    const eeIn = expectInt(s, 'eeIn', 0, 0xffff);
    const eeOut = expectInt(s, 'eeOut', -1, 16);
    if (typeof s['eeReading'] !== 'boolean' || typeof s['link'] !== 'boolean') throw new Error(`bad device state: ${this.id} flags`);
    this.config.load(s['config'], this.id);
    E1000_REGS.forEach((d, i) => { this.regs[d.offset >>> 2] = values[i]!; });
    this.phy.set(phy); this.eeprom.set(eeprom);
    this.eeBits = eeBits; this.eeIn = eeIn; this.eeOut = eeOut; this.eeReading = s['eeReading']; this.link = s['link'];
    this.tx.reset();
    this.mod.reset();
    this.lineUp = false;
    this.updateIrq();
  }
}

function le32(d: Uint8Array, o: number): number { return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0; }
