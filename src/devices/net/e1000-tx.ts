// The 82540EM transmit engine (8254x SDM §3.3): legacy descriptors, and context + data
// descriptors with IP/TCP/UDP checksum insertion and TCP segmentation (TSO) as Linux's e1000
// driver programs them. The register file and the ring walk are in e1000.ts; this file turns
// descriptors into frames.

import type { GuestMemory } from '../api.js';
import { checksum, finishSum, get16, get32, put16, put32, sumBytes } from '../../net/checksum.js';

/** Descriptor command bits (byte 11 of a legacy descriptor; bits 31:24 of an extended one). */
export const TXD_CMD_EOP = 0x01;
export const TXD_CMD_IFCS = 0x02;
export const TXD_CMD_IC = 0x04;   // legacy: insert checksum at CSO
export const TXD_CMD_TSE = 0x04;  // extended: TCP segmentation
export const TXD_CMD_RS = 0x08;   // report status (write DD back)
export const TXD_CMD_RPS = 0x10;
export const TXD_CMD_DEXT = 0x20; // extended descriptor
/** Context descriptor TUCMD bits. */
export const TUCMD_TCP = 0x01;
export const TUCMD_IP = 0x02;     // IPv4 (else IPv6)
/** Extended descriptor types (bits 23:20). */
export const DTYP_CONTEXT = 0x0;
export const DTYP_DATA = 0x1;
/** Data descriptor POPTS bits. */
export const POPTS_IXSM = 0x01;   // insert IP checksum
export const POPTS_TXSM = 0x02;   // insert TCP/UDP checksum
/** Status byte: descriptor done. */
export const TXD_STAT_DD = 0x01;
export const TXD_BYTES = 16;
/** The largest packet the engine gathers: a 64 KiB TSO payload plus headers (the FIFO's bound). */
export const TX_MAX_PACKET = 0x10000 + 256;
/** Smallest MSS honoured; a smaller one would turn one packet into thousands of frames. */
const TSO_MIN_MSS = 64;

interface Context {
  ipcss: number; ipcso: number; ipcse: number;
  tucss: number; tucso: number; tucse: number;
  paylen: number; tucmd: number; hdrLen: number; mss: number;
}

/** Counters the card exposes as statistics. */
export interface TxCounters { frames: number; bytes: number; dropped: number }

/** Gathers descriptors into packets and emits frames. */
export class E1000Tx {
  private readonly buf = new Uint8Array(TX_MAX_PACKET);
  private len = 0;
  /** The packet being gathered went wrong (too long, a buffer outside RAM): drop it at EOP. */
  private bad = false;
  private popts = 0;
  private tse = false;
  /** Legacy checksum insertion of the packet being gathered (CSO, CSS), or -1. */
  private legacyCso = -1;
  private legacyCss = 0;
  private ctx: Context = { ipcss: 0, ipcso: 0, ipcse: 0, tucss: 0, tucso: 0, tucse: 0, paylen: 0, tucmd: 0, hdrLen: 0, mss: 0 };
  readonly counters: TxCounters = { frames: 0, bytes: 0, dropped: 0 };

  constructor(private readonly mem: GuestMemory, private readonly emit: (frame: Uint8Array) => void) {}

  reset(): void {
    this.len = 0; this.bad = false; this.popts = 0; this.tse = false; this.legacyCso = -1;
    this.ctx = { ipcss: 0, ipcso: 0, ipcse: 0, tucss: 0, tucso: 0, tucse: 0, paylen: 0, tucmd: 0, hdrLen: 0, mss: 0 };
  }

  /** Processes one 16-byte descriptor; returns true when the guest asked for its status. */
  descriptor(d: Uint8Array): boolean {
    const lower = le32(d, 8);
    const cmd = lower >>> 24;
    if ((cmd & TXD_CMD_DEXT) !== 0 && ((lower >>> 20) & 0xf) === DTYP_CONTEXT) {
      this.ctx = {
        ipcss: d[0]!, ipcso: d[1]!, ipcse: le16(d, 2), tucss: d[4]!, tucso: d[5]!, tucse: le16(d, 6),
        paylen: lower & 0xfffff, tucmd: cmd, hdrLen: d[13]!, mss: le16(d, 14),
      };
      return (cmd & (TXD_CMD_RS | TXD_CMD_RPS)) !== 0;
    }
    const addr = le32(d, 0) + le32(d, 4) * 0x1_0000_0000;
    let length: number;
    if ((cmd & TXD_CMD_DEXT) !== 0) {
      if (((lower >>> 20) & 0xf) !== DTYP_DATA) { this.bad = true; return (cmd & TXD_CMD_RS) !== 0; }
      length = lower & 0xfffff;
      if (this.len === 0) { this.popts = d[13]!; this.tse = (cmd & TXD_CMD_TSE) !== 0; }
    } else {
      length = lower & 0xffff;
      if (this.len === 0) { this.popts = 0; this.tse = false; }
      if ((cmd & TXD_CMD_IC) !== 0) { this.legacyCso = d[10]!; this.legacyCss = d[13]!; }
    }
    // A zero-length descriptor carries nothing; it still completes (and may end the packet).
    if (length > 0 && !this.bad) {
      if (this.len + length > TX_MAX_PACKET) this.bad = true;
      else {
        const dst = this.buf.subarray(this.len, this.len + length);
        if (this.mem.read(addr, dst)) this.len += length;
        else this.bad = true;
      }
    }
    if ((cmd & TXD_CMD_EOP) !== 0) this.endOfPacket();
    return (cmd & (TXD_CMD_RS | TXD_CMD_RPS)) !== 0;
  }

  private endOfPacket(): void {
    if (this.bad || this.len === 0) this.counters.dropped += this.bad ? 1 : 0;
    else if (this.tse) this.segment();
    else {
      const p = this.buf.subarray(0, this.len);
      if (this.legacyCso >= 0) insertSum(p, this.legacyCss, this.legacyCso, 0);
      else this.offload(p);
      this.send(p);
    }
    this.len = 0; this.bad = false; this.legacyCso = -1; this.tse = false; this.popts = 0;
  }

  /** Checksum insertion from the context for a whole (non-TSO) packet. */
  private offload(p: Uint8Array): void {
    const c = this.ctx;
    if ((this.popts & POPTS_IXSM) !== 0) insertSum(p, c.ipcss, c.ipcso, c.ipcse);
    if ((this.popts & POPTS_TXSM) !== 0) insertSum(p, c.tucss, c.tucso, c.tucse);
  }

  /**
   * TCP segmentation (§3.5): the header (hdrLen bytes) is repeated before each MSS of payload;
   * per segment the IP length/id/checksum and the TCP sequence number, flags and checksum are
   * rewritten. Linux seeds the TCP checksum with the pseudo-header sum without a length; the
   * hardware adds each segment's length.
   */
  private segment(): void {
    const c = this.ctx;
    const hdr = c.hdrLen;
    if (hdr < c.tucss + 20 || hdr > this.len || c.mss < TSO_MIN_MSS || c.tucso + 2 > hdr || c.ipcss + 20 > hdr) {
      this.counters.dropped++;
      return;
    }
    const payload = this.len - hdr;
    const seed = get16(this.buf, c.tucso);
    const seq0 = get32(this.buf, c.tucss + 4);
    const flags0 = this.buf[c.tucss + 13]!;
    const id0 = get16(this.buf, c.ipcss + 4);
    const ipv4 = (c.tucmd & TUCMD_IP) !== 0;
    const tcp = (c.tucmd & TUCMD_TCP) !== 0;
    const frame = new Uint8Array(hdr + c.mss);
    let n = 0;
    for (let off = 0; off < payload || (off === 0 && payload === 0); off += c.mss, n++) {
      const chunk = Math.min(c.mss, payload - off);
      const len = hdr + chunk;
      const f = frame.subarray(0, len);
      f.set(this.buf.subarray(0, hdr));
      f.set(this.buf.subarray(hdr + off, hdr + off + chunk), hdr);
      const last = off + chunk >= payload;
      if (ipv4) {
        put16(f, c.ipcss + 2, len - c.ipcss);
        put16(f, c.ipcss + 4, (id0 + n) & 0xffff);
        if ((this.popts & POPTS_IXSM) !== 0) insertSum(f, c.ipcss, c.ipcso, c.ipcse);
      } else {
        put16(f, c.ipcss + 4, len - c.ipcss - 40);
      }
      if (tcp) {
        put32(f, c.tucss + 4, (seq0 + off) >>> 0);
        if (!last) f[c.tucss + 13] = flags0 & ~0x09; // FIN and PSH only on the last segment
      } else {
        put16(f, c.tucss + 4, len - c.tucss); // UDP length
      }
      if ((this.popts & POPTS_TXSM) !== 0) {
        put16(f, c.tucso, seed);
        put16(f, c.tucso, checksum(f, c.tucss, len, len - c.tucss));
      }
      this.send(f);
      if (chunk <= 0) break;
    }
  }

  private send(frame: Uint8Array): void {
    this.counters.frames++;
    this.counters.bytes += frame.length;
    this.emit(frame.slice());
  }
}

/** Stores the checksum of [css, cse] (cse 0: to the end) at cso; out-of-range fields are skipped. */
function insertSum(p: Uint8Array, css: number, cso: number, cse: number): void {
  const end = cse === 0 ? p.length : Math.min(p.length, cse + 1);
  if (css >= end || cso + 2 > p.length) return;
  const s = sumBytes(p, css, end);
  put16(p, cso, finishSum(s));
}

function le16(d: Uint8Array, o: number): number { return d[o]! | (d[o + 1]! << 8); }
function le32(d: Uint8Array, o: number): number { return (le16(d, o) | (le16(d, o + 2) << 16)) >>> 0; }
