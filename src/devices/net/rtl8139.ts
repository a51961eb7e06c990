// Realtek RTL8139C 10/100 Ethernet controller, 10EC:8139 (RTL8139C(L) datasheet rev 1.4;
// Linux drivers/net/ethernet/realtek/8139too.c). C mode only: four transmit slots (TSAD/TSD),
// a receive ring buffer at RBSTART read through CAPR and written at CBR, the 93C46 EEPROM
// behind 9346CR, and the internal PHY's BMCR/BMSR; C+ mode's descriptor rings are in
// rtl8139-cplus.ts. BAR0 is I/O, BAR1 the same registers in memory space. PCI revision 0x10 by
// default: Linux's 8139too drives it (C mode); it hands revision >= 0x20 to 8139cp (C+ mode).

import type { AccessSize, Device, GuestMemory, IoRegion, IrqLine } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import { PciConfigSpace } from '../pci/config-space.js';
import type { PciFunction } from '../pci/pci-host.js';
import type { EthernetPort } from '../../net/ethernet.js';
import { ETH_HLEN, ETH_MIN_FRAME } from '../../net/ethernet.js';
import { CPCR, CPCR_RX_ON, CPCR_TX_ON, CPlusRings, CpRx, RDSAR, TNPDS, TPPOLL, TPPOLL_NPQ } from './rtl8139-cplus.js';

// ---- register map (datasheet §5) ----
export const IDR0 = 0x00;      // MAC address, 6 bytes
export const MAR0 = 0x08;      // multicast filter, 8 bytes
export const TSD0 = 0x10;      // transmit status of descriptors 0-3 (u32 each)
export const TSD_SIZE = 0x1fff;
export const TSD_OWN = 1 << 13;    // set by the chip: the buffer was moved to the FIFO
export const TSD_TUN = 1 << 14;
export const TSD_TOK = 1 << 15;
export const TSD_TABT = 1 << 30;
export const TSAD0 = 0x20;     // transmit start addresses 0-3 (u32 each)
export const RBSTART = 0x30;   // receive buffer start (u32)
export const CR = 0x37;        // command
export const CR_BUFE = 1 << 0; // receive buffer empty (read only)
export const CR_TE = 1 << 2;
export const CR_RE = 1 << 3;
export const CR_RST = 1 << 4;
export const CAPR = 0x38;      // current address of packet read (u16; the driver writes read - 16)
export const CBR = 0x3a;       // current buffer address: the write offset (u16, read only)
export const IMR = 0x3c;       // interrupt mask (u16)
export const ISR = 0x3e;       // interrupt status (u16, write 1 to clear)
export const ISR_ROK = 1 << 0;
export const ISR_TOK = 1 << 2;
export const ISR_TER = 1 << 3;
export const ISR_RXOVW = 1 << 4;   // receive buffer overflow
export const ISR_LINKCHG = 1 << 5;
export const TCR = 0x40;       // transmit configuration (u32)
export const RCR = 0x44;       // receive configuration (u32)
export const RCR_AAP = 1 << 0;     // all physical
export const RCR_APM = 1 << 1;     // physical match
export const RCR_AM = 1 << 2;      // multicast
export const RCR_AB = 1 << 3;      // broadcast
export const RCR_WRAP = 1 << 7;    // 1: a packet that reaches the end continues past it
export const RCR_RBLEN_SHIFT = 11; // ring size 8K << RBLEN
export const MPC = 0x4c;       // missed packet counter (u32; any write clears)
export const CR9346 = 0x50;    // 93C46 command: EEM 7:6, EECS 3, EESK 2, EEDI 1, EEDO 0
export const CR9346_EEM_PROGRAM = 0x80;
export const CR9346_EEM_UNLOCK = 0xc0;
export const CR9346_EECS = 1 << 3;
export const CR9346_EESK = 1 << 2;
export const CR9346_EEDI = 1 << 1;
export const CR9346_EEDO = 1 << 0;
export const CONFIG0 = 0x51;
export const CONFIG1 = 0x52;
export const MSR = 0x58;       // media status
export const MSR_LINKB = 1 << 2;   // 1: link down
export const CONFIG3 = 0x59;
export const CONFIG4 = 0x5a;
export const BMCR = 0x62;
export const BMSR = 0x64;
export const BMSR_LINK = 1 << 2;
export const BMSR_AN_COMPLETE = 1 << 5;
export const ANAR = 0x66;
export const ANLPAR = 0x68;
export const ANER = 0x6a;
export const CONFIG5 = 0xd8;
/** TCR hardware version bits: RTL8139C (8139too's HW_REVID(1,1,1,0,1,0,0)). */
const TCR_HWVERID_8139C = 0x74000000;
const REGS_SIZE = 0x100;
/** The largest frame the FIFO sends (1792 bytes, §6.2). */
const TX_MAX = 1792;
const RX_HEADER = 4;
const RX_CRC = 4;
/** Receive status word bits in the ring header. */
const RXS_ROK = 1 << 0;
const RXS_BAR = 1 << 13;
const RXS_PAM = 1 << 14;
const RXS_MAR = 1 << 15;
/** The slack 8139too leaves past the ring for a packet that does not wrap (RCR.WRAP). */
const RX_WRAP_SLACK = 16 + 1536;
export const EEPROM_WORDS = 64;
const EE_ADDR_BITS = 6;

/** Saved state. */
export interface Rtl8139State {
  config: number[]; regs: number[]; eeprom: number[];
  capr: number; cbr: number; link: boolean;
  cpTx: number; cpRx: number;
}

/** The RTL8139 in C mode. */
export class Rtl8139 implements PciFunction, Device<Rtl8139State> {
  readonly stateVersion = 1;
  readonly config: PciConfigSpace;
  readonly io: IoRegion;
  readonly mmio: IoRegion;
  private readonly regs = new Uint8Array(REGS_SIZE);
  readonly eeprom = new Uint16Array(EEPROM_WORDS);
  /** Read offset the driver has reached (CAPR + 16) and write offset (CBR), in the ring. */
  private capr = 0;
  private cbr = 0;
  private link = true;
  // 93C46 shift state: bits seen since the start bit, the command, and the output position.
  private eeState: 'idle' | 'cmd' | 'read' = 'idle';
  private eeBits = 0;
  private eeCmd = 0;
  private eeAddr = 0;
  private eeOut = 0;
  private eeDo = 0;
  missed = 0;
  private readonly cplus: CPlusRings;

  /** `revision`: 0x10 (8139too) by default; 0x20 is what QEMU reports, and Linux binds 8139cp. */
  constructor(readonly id: string, private readonly irq: IrqLine, private readonly mem: GuestMemory,
              readonly mac: Uint8Array, private readonly port: EthernetPort | null, revision = 0x10) {
    if (mac.length !== 6) throw new Error(`${id}: a MAC address has 6 bytes`);
    this.config = new PciConfigSpace({
      vendorId: 0x10ec, deviceId: 0x8139, revision, classCode: 0x020000, interruptPin: 1,
      subsystemVendorId: 0x10ec, subsystemId: 0x8139,
    });
    this.io = { name: `${id}.io`, size: REGS_SIZE, read: (o, s) => this.read(o, s), write: (o, s, v) => this.write(o, s, v) };
    this.mmio = { name: `${id}.mmio`, size: REGS_SIZE, read: (o, s) => this.read(o, s), write: (o, s, v) => this.write(o, s, v) };
    this.config.defineBar(0, { space: 'io', size: REGS_SIZE, region: this.io });
    this.config.defineBar(1, { space: 'mem32', size: REGS_SIZE, region: this.mmio });
    const e = this.eeprom;
    e[0] = 0x8139; e[1] = 0x10ec; e[2] = 0x8139; e[3] = 0x10ec; e[4] = 0x8139;
    for (let i = 0; i < 3; i++) e[7 + i] = mac[2 * i]! | (mac[2 * i + 1]! << 8);
    this.cplus = new CPlusRings(mem, (f) => { if (this.link) this.port?.send(f); });
    port?.onFrame((f) => this.receive(f));
    this.reset();
  }

  // ---- register access -------------------------------------------------------------------------

  private get16(o: number): number { return this.regs[o]! | (this.regs[o + 1]! << 8); }
  private set16(o: number, v: number): void { this.regs[o] = v & 0xff; this.regs[o + 1] = (v >>> 8) & 0xff; }
  private get32(o: number): number { return (this.get16(o) | (this.get16(o + 2) << 16)) >>> 0; }
  private set32(o: number, v: number): void { this.set16(o, v & 0xffff); this.set16(o + 2, v >>> 16); }

  private readByte(o: number): number {
    switch (o) {
      case CR: return (this.regs[CR]! & (CR_RE | CR_TE)) | (this.bufferEmpty() ? CR_BUFE : 0);
      case CR9346: return (this.regs[CR9346]! & ~CR9346_EEDO) | this.eeDo;
      case CAPR: return (this.capr - 16) & 0xff;
      case CAPR + 1: return ((this.capr - 16) >>> 8) & 0xff;
      case CBR: return this.cbr & 0xff;
      case CBR + 1: return (this.cbr >>> 8) & 0xff;
      default: return this.regs[o] ?? 0xff;
    }
  }

  private read(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
    return v >>> 0;
  }

  private write(offset: number, size: AccessSize, value: number): void {
    const end = offset + size;
    const touches = (reg: number, len: number): boolean => offset < reg + len && end > reg;
    if (touches(ISR, 2)) {
      // Write 1 to clear: only the bytes written take part.
      for (let i = 0; i < size; i++) {
        const o = offset + i;
        if (o === ISR || o === ISR + 1) this.regs[o] = this.regs[o]! & ~((value >>> (8 * i)) & 0xff);
      }
      this.updateIrq();
      return;
    }
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    if (touches(CR, 1)) this.commandWritten();
    if (touches(CR9346, 1)) this.eepromClock();
    if (touches(IMR, 2)) this.updateIrq();
    if (touches(MPC, 4)) { this.set32(MPC, 0); }
    if (touches(CAPR, 2)) this.port?.ready();
    if (touches(TNPDS, 8) || touches(RDSAR, 8)) this.cplus.rewind();
    if (touches(CPCR, 2) && (this.get16(CPCR) & CPCR_RX_ON) !== 0) this.port?.ready();
    if (touches(TPPOLL, 1) && (this.regs[TPPOLL]! & TPPOLL_NPQ) !== 0) {
      this.regs[TPPOLL] = 0; // self-clearing
      if ((this.get16(CPCR) & CPCR_TX_ON) !== 0 && (this.regs[CR]! & CR_TE) !== 0 &&
          this.cplus.transmit(this.get32(TNPDS) + this.get32(TNPDS + 4) * 0x1_0000_0000)) this.raise(ISR_TOK);
    }
    for (let n = 0; n < 4; n++) if (touches(TSD0 + 4 * n, 4) && end >= TSD0 + 4 * n + 2) this.transmit(n);
  }

  private writeByte(o: number, v: number): void {
    switch (o) {
      case CAPR: this.capr = ((this.capr - 16) & 0xff00 | v) + 16; return;
      case CAPR + 1: this.capr = (((this.capr - 16) & 0xff) | (v << 8)) + 16; return;
      case CBR: case CBR + 1: case MSR: case BMSR: case BMSR + 1: case ANLPAR: case ANLPAR + 1: case ANER: case ANER + 1:
        return; // read only
      case CONFIG0: case CONFIG1: case CONFIG3: case CONFIG4: case CONFIG5:
        if ((this.regs[CR9346]! & CR9346_EEM_UNLOCK) === CR9346_EEM_UNLOCK) this.regs[o] = v;
        return;
      case TCR + 3: this.regs[o] = (v & 0x03) | (TCR_HWVERID_8139C >>> 24 & ~0x03); return; // version bits read only
      case TCR + 2: this.regs[o] = (v & 0x3f) | ((TCR_HWVERID_8139C >>> 16) & 0xc0); return;
      default:
        if (o < REGS_SIZE) this.regs[o] = v;
    }
  }

  private commandWritten(): void {
    const cr = this.regs[CR]!;
    if ((cr & CR_RST) !== 0) { this.softReset(); return; }
    if ((cr & CR_RE) !== 0) this.port?.ready();
  }

  // ---- interrupts ------------------------------------------------------------------------------

  private raise(bits: number): void {
    this.set16(ISR, this.get16(ISR) | bits);
    this.updateIrq();
  }

  private updateIrq(): void {
    this.irq.set((this.get16(ISR) & this.get16(IMR)) !== 0);
  }

  // ---- 93C46 EEPROM (Microwire, 64 x 16) -------------------------------------------------------

  /** Follows SK edges on 9346CR: start bit, 2-bit opcode, 6-bit address, then 16 data bits out. */
  private eeSkOld = 0;
  private eepromClock(): void {
    const v = this.regs[CR9346]!;
    const sk = v & CR9346_EESK;
    const rising = sk !== 0 && this.eeSkOld === 0;
    this.eeSkOld = sk;
    if ((v & CR9346_EEM_PROGRAM) === 0 || (v & CR9346_EECS) === 0) {
      this.eeState = 'idle'; this.eeBits = 0; this.eeDo = 0;
      return;
    }
    if (!rising) return;
    const di = (v & CR9346_EEDI) !== 0 ? 1 : 0;
    switch (this.eeState) {
      case 'idle':
        if (di === 1) { this.eeState = 'cmd'; this.eeBits = 0; this.eeCmd = 0; } // the start bit
        break;
      case 'cmd':
        this.eeCmd = (this.eeCmd << 1) | di;
        if (++this.eeBits === 2 + EE_ADDR_BITS) {
          if ((this.eeCmd >>> EE_ADDR_BITS) === 2) { // READ
            this.eeState = 'read'; this.eeAddr = this.eeCmd & (EEPROM_WORDS - 1); this.eeOut = -1; this.eeDo = 0; // dummy 0
          } else this.eeState = 'idle';
        }
        break;
      case 'read':
        if (++this.eeOut === 16) { this.eeOut = 0; this.eeAddr = (this.eeAddr + 1) & (EEPROM_WORDS - 1); }
        this.eeDo = (this.eeprom[this.eeAddr]! >>> (15 - this.eeOut)) & 1;
        break;
    }
  }

  // ---- link -------------------------------------------------------------------------------------

  /** The host side plugs or unplugs the cable. */
  setLink(up: boolean): void {
    if (this.link === up) return;
    this.link = up;
    this.setLinkRegs();
    this.raise(ISR_LINKCHG);
  }

  private setLinkRegs(): void {
    this.regs[MSR] = this.link ? 0 : MSR_LINKB;
    const bmsr = 0x7809;
    this.set16(BMSR, this.link ? bmsr | BMSR_LINK | BMSR_AN_COMPLETE : bmsr);
    this.set16(ANLPAR, this.link ? 0x45e1 : 0);
  }

  // ---- transmit ---------------------------------------------------------------------------------

  /** A TSD write with OWN clear hands slot `n`'s buffer to the chip; it is sent at once. */
  private transmit(n: number): void {
    const tsd = this.get32(TSD0 + 4 * n);
    if ((tsd & TSD_OWN) !== 0) return;
    const size = tsd & TSD_SIZE;
    const done = (tsd & ~(TSD_TOK | TSD_TUN | TSD_TABT)) | TSD_OWN;
    if ((this.regs[CR]! & CR_TE) === 0 || size === 0 || size > TX_MAX) {
      this.set32(TSD0 + 4 * n, (done | TSD_TABT) >>> 0);
      this.raise(ISR_TER);
      return;
    }
    const frame = new Uint8Array(size);
    if (!this.mem.read(this.get32(TSAD0 + 4 * n), frame)) {
      this.set32(TSD0 + 4 * n, (done | TSD_TABT) >>> 0);
      this.raise(ISR_TER);
      return;
    }
    if (this.link) this.port?.send(frame);
    this.set32(TSD0 + 4 * n, (done | TSD_TOK) >>> 0);
    this.raise(ISR_TOK);
  }

  // ---- receive ----------------------------------------------------------------------------------

  private ringSize(): number { return 8192 << ((this.get32(RCR) >>> RCR_RBLEN_SHIFT) & 3); }

  private bufferEmpty(): boolean { return (this.capr % this.ringSize()) === this.cbr; }

  /** Multicast hash: the top 6 bits of the Ethernet CRC of the address (8139too's ether_crc). */
  private multicastHit(f: Uint8Array): boolean {
    let crc = -1;
    for (let i = 0; i < 6; i++) {
      let b = f[i]!;
      for (let bit = 0; bit < 8; bit++, b >>>= 1) crc = (crc << 1) ^ (((crc < 0 ? 1 : 0) ^ (b & 1)) !== 0 ? 0x04c11db7 : 0);
    }
    const h = crc >>> 26;
    return ((this.regs[MAR0 + (h >>> 3)]! >>> (h & 7)) & 1) !== 0;
  }

  /** The receive-status bits for an accepted frame, or 0 when the filter rejects it. */
  private accept(f: Uint8Array): number {
    const rcr = this.get32(RCR);
    if (f[0] === 0xff && f[1] === 0xff && f[2] === 0xff && f[3] === 0xff && f[4] === 0xff && f[5] === 0xff) {
      return (rcr & RCR_AB) !== 0 ? RXS_BAR : 0;
    }
    if ((f[0]! & 1) !== 0) return (rcr & RCR_AAP) !== 0 || ((rcr & RCR_AM) !== 0 && this.multicastHit(f)) ? RXS_MAR : 0;
    if ((rcr & RCR_AAP) !== 0) return RXS_PAM;
    for (let i = 0; i < 6; i++) if (f[i] !== this.regs[IDR0 + i]) return 0;
    return (rcr & RCR_APM) !== 0 ? RXS_PAM : 0;
  }

  /**
   * Puts a frame in the ring: a 4-byte header (status, length with CRC), the frame, the CRC,
   * aligned to 4. No room: the frame is kept (false) and counted as missed, with RXOVW.
   */
  receive(frame: Uint8Array): boolean {
    if ((this.regs[CR]! & CR_RE) === 0 || !this.link) return false;
    if (frame.length < ETH_HLEN || frame.length > TX_MAX) return true;
    const status = this.accept(frame);
    if (status === 0) return true;
    if ((this.get16(CPCR) & CPCR_RX_ON) !== 0) {
      const padded = frame.length >= ETH_MIN_FRAME ? frame : (() => { const p = new Uint8Array(ETH_MIN_FRAME); p.set(frame); return p; })();
      const r = this.cplus.receive(this.get32(RDSAR) + this.get32(RDSAR + 4) * 0x1_0000_0000, padded);
      if (r === CpRx.NoDescriptor) { this.missed++; this.raise(ISR_RXOVW); return false; } // RxEmpty: same bit
      if (r === CpRx.Taken) this.raise(ISR_ROK);
      return true;
    }
    const size = this.ringSize();
    const len = Math.max(frame.length, ETH_MIN_FRAME) + RX_CRC;
    const total = (RX_HEADER + len + 3) & ~3;
    const read = this.capr % size;
    const free = this.bufferEmpty() ? size : (read - this.cbr + size) % size;
    if (total >= free) {
      this.missed++;
      this.set32(MPC, Math.min(0xffffff, this.get32(MPC) + 1));
      this.raise(ISR_RXOVW);
      return false;
    }
    const rec = new Uint8Array(RX_HEADER + len);
    rec[0] = (status | RXS_ROK) & 0xff; rec[1] = (status | RXS_ROK) >>> 8;
    rec[2] = len & 0xff; rec[3] = len >>> 8;
    rec.set(frame, RX_HEADER);
    const base = this.get32(RBSTART);
    const wrap = (this.get32(RCR) & RCR_WRAP) !== 0 && size < 65536;
    const first = Math.min(rec.length, (wrap ? size + RX_WRAP_SLACK : size) - this.cbr);
    // A ring outside RAM takes nothing; the chip moves on as if it had written.
    this.mem.write(base + this.cbr, rec.subarray(0, first));
    if (first < rec.length) this.mem.write(base, rec.subarray(first));
    this.cbr = (this.cbr + total) % size;
    this.raise(ISR_ROK);
    return true;
  }

  // ---- Device -----------------------------------------------------------------------------------

  /** CR.RST: the chip's soft reset (registers, not the MAC or the EEPROM). */
  private softReset(): void {
    this.regs[CR] = 0;
    this.set16(IMR, 0); this.set16(ISR, 0);
    for (let n = 0; n < 4; n++) this.set32(TSD0 + 4 * n, TSD_OWN | TSD_TOK);
    this.capr = 0; this.cbr = 0; // CAPR reads 0xFFF0: the read offset minus 16
    this.set32(TCR, TCR_HWVERID_8139C);
    this.set32(RCR, 0);
    this.set16(CPCR, 0);
    this.cplus.rewind();
    this.updateIrq();
  }

  reset(): void {
    this.regs.fill(0);
    this.regs.set(this.mac, IDR0);
    this.regs[CR9346] = 0;
    this.regs[CONFIG1] = 0x0d;
    this.regs[CONFIG3] = 0x00;
    this.set16(BMCR, 0x3100); // autonegotiation, 100 Mb/s, full duplex
    this.set16(ANAR, 0x05e1);
    this.set16(ANER, 0x0001);
    this.setLinkRegs();
    this.eeState = 'idle'; this.eeDo = 0; this.eeSkOld = 0;
    this.softReset();
  }

  saveState(): Rtl8139State {
    const cp = this.cplus.save();
    return { config: this.config.save(), regs: Array.from(this.regs), eeprom: Array.from(this.eeprom), capr: this.capr, cbr: this.cbr, link: this.link, cpTx: cp.txIdx, cpRx: cp.rxIdx };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported rtl8139 state version ${version}`);
    const s = expectRecord(state, this.id);
    const arr = (k: string, n: number, max: number): number[] => {
      const a = s[k];
      if (!Array.isArray(a) || a.length !== n || !a.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= max)) {
        throw new Error(`bad device state: ${this.id}.${k}`);
      }
      return a as number[];
    };
    const regs = arr('regs', REGS_SIZE, 0xff);
    const eeprom = arr('eeprom', EEPROM_WORDS, 0xffff);
    const capr = expectInt(s, 'capr', 0, 0xffff + 16);
    const cbr = expectInt(s, 'cbr', 0, 65535);
    const cpTx = expectInt(s, 'cpTx', 0, 1023);
    const cpRx = expectInt(s, 'cpRx', 0, 1023);
    if (typeof s['link'] !== 'boolean') throw new Error(`bad device state: ${this.id}.link`);
    this.config.load(s['config'], this.id);
    this.regs.set(regs); this.eeprom.set(eeprom);
    this.capr = capr; this.cbr = cbr; this.link = s['link'];
    this.cplus.load(cpTx, cpRx);
    this.eeState = 'idle';
    this.updateIrq();
  }
}
