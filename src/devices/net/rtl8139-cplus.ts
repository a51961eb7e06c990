// The RTL8139C+ "C+ mode" (RTL8139C+ datasheet §9; Linux's 8139cp.c): descriptor rings instead
// of the C-mode ring buffer, enabled by CpRxOn/CpTxOn in CPCR. A descriptor is 16 bytes:
// opts1 (OWN, EOR, FS, LS, offload bits, length), opts2 (VLAN), and a 64-bit buffer address.
// Transmit computes IP/TCP/UDP checksums and splits LargeSend (TSO) packets, IPv4 only.

import type { GuestMemory } from '../api.js';
import { checksum, get16, get32, pseudoSum4, put16, put32 } from '../../net/checksum.js';

export const CPCR = 0xe0;            // C+ command (u16)
export const CPCR_TX_ON = 1 << 0;
export const CPCR_RX_ON = 1 << 1;
export const TNPDS = 0x20;           // transmit normal-priority descriptors start (u64)
export const RDSAR = 0xe4;           // receive descriptors start (u64)
export const TPPOLL = 0xd9;          // transmit priority polling
export const TPPOLL_NPQ = 1 << 6;
/** Descriptor opts1 bits. */
export const DESC_OWN = 1 << 31;
export const DESC_EOR = 1 << 30;     // ring end: the next descriptor is the first
export const DESC_FS = 1 << 29;
export const DESC_LS = 1 << 28;
const TX_LARGESEND = 1 << 27;
const TX_MSS_SHIFT = 16;
const TX_MSS_MASK = 0x7ff;
const TX_IPCS = 1 << 18;
const TX_UDPCS = 1 << 17;
const TX_TCPCS = 1 << 16;
const TX_LEN_MASK = 0xffff;
const RX_LEN_MASK = 0x1fff;
/** Descriptors walked per pass at most (the ring's hardware maximum). */
const RING_MAX = 1024;
const TX_MAX_PACKET = 0x10000;
const TSO_MIN_MSS = 64;
const CRC = 4;

/** What one C+ receive attempt did. */
export const enum CpRx { Taken, NoDescriptor, Dropped }

/** The two descriptor rings and their positions. */
export class CPlusRings {
  private txIdx = 0;
  private rxIdx = 0;
  private readonly desc = new Uint8Array(16);
  private readonly buf = new Uint8Array(TX_MAX_PACKET);
  private len = 0;
  private bad = false;

  constructor(private readonly mem: GuestMemory, private readonly emit: (frame: Uint8Array) => void) {}

  /** Back to the first descriptors (reset, or a new ring address). */
  rewind(): void { this.txIdx = 0; this.rxIdx = 0; this.len = 0; this.bad = false; }

  /** Sends every descriptor the driver owns-off to the chip, from the current one; true if any. */
  transmit(base: number): boolean {
    let did = false;
    for (let n = 0; n < RING_MAX; n++) {
      const at = base + this.txIdx * 16;
      if (!this.mem.read(at, this.desc)) break;
      const opts1 = le32(this.desc, 0);
      if ((opts1 & DESC_OWN) === 0) break;
      const addr = le32(this.desc, 8) + le32(this.desc, 12) * 0x1_0000_0000;
      const size = opts1 & TX_LEN_MASK;
      if ((opts1 & DESC_FS) !== 0) { this.len = 0; this.bad = false; }
      if (this.len + size > TX_MAX_PACKET) this.bad = true;
      else if (size > 0 && !this.bad) {
        if (this.mem.read(addr, this.buf.subarray(this.len, this.len + size))) this.len += size;
        else this.bad = true;
      }
      if ((opts1 & DESC_LS) !== 0) {
        if (!this.bad && this.len > 0) this.finish(opts1);
        this.len = 0; this.bad = false;
      }
      const done = new Uint8Array(4);
      putLe32(done, 0, opts1 & ~DESC_OWN);
      this.mem.write(at, done);
      this.txIdx = (opts1 & DESC_EOR) !== 0 || this.txIdx + 1 >= RING_MAX ? 0 : this.txIdx + 1;
      did = true;
    }
    return did;
  }

  private finish(opts1: number): void {
    const p = this.buf.subarray(0, this.len);
    const ip = 14;
    const ipv4 = p.length >= ip + 20 && get16(p, 12) === 0x0800 && (p[ip]! >>> 4) === 4;
    const ihl = ipv4 ? (p[ip]! & 0xf) * 4 : 0;
    const l4 = ip + ihl;
    if ((opts1 & TX_LARGESEND) !== 0) {
      const mss = (opts1 >>> TX_MSS_SHIFT) & TX_MSS_MASK;
      if (!ipv4 || p[ip + 9] !== 6 || mss < TSO_MIN_MSS || p.length < l4 + 20) return; // dropped
      const hdr = l4 + (p[l4 + 12]! >>> 4) * 4;
      if (hdr > p.length) return;
      const seq0 = get32(p, l4 + 4), id0 = get16(p, ip + 4), flags0 = p[l4 + 13]!;
      const payload = p.length - hdr;
      for (let off = 0, n = 0; off < payload || (off === 0 && payload === 0); off += mss, n++) {
        const chunk = Math.min(mss, payload - off);
        const f = new Uint8Array(hdr + chunk);
        f.set(p.subarray(0, hdr)); f.set(p.subarray(hdr + off, hdr + off + chunk), hdr);
        put16(f, ip + 2, f.length - ip); put16(f, ip + 4, (id0 + n) & 0xffff);
        put32(f, l4 + 4, (seq0 + off) >>> 0);
        if (off + chunk < payload) f[l4 + 13] = flags0 & ~0x09;
        fillIp(f, ip, ihl); fillL4(f, ip, l4, 16);
        this.emit(f);
        if (chunk <= 0) break;
      }
      return;
    }
    const f = p.slice();
    if (ipv4 && f.length >= l4) {
      if ((opts1 & TX_IPCS) !== 0) fillIp(f, ip, ihl);
      if ((opts1 & TX_TCPCS) !== 0 && f[ip + 9] === 6 && f.length >= l4 + 20) fillL4(f, ip, l4, 16);
      if ((opts1 & TX_UDPCS) !== 0 && f[ip + 9] === 17 && f.length >= l4 + 8) fillL4(f, ip, l4, 6);
    }
    this.emit(f);
  }

  /** Puts a frame in the next receive descriptor (one descriptor per frame, as 8139cp sizes them). */
  receive(base: number, frame: Uint8Array): CpRx {
    const at = base + this.rxIdx * 16;
    if (!this.mem.read(at, this.desc)) return CpRx.Dropped;
    const opts1 = le32(this.desc, 0);
    if ((opts1 & DESC_OWN) === 0) return CpRx.NoDescriptor;
    const size = opts1 & RX_LEN_MASK;
    const total = frame.length + CRC;
    const eor = opts1 & DESC_EOR;
    this.rxIdx = eor !== 0 || this.rxIdx + 1 >= RING_MAX ? 0 : this.rxIdx + 1;
    if (total > size) return CpRx.Dropped; // the driver's buffers fit a full frame; a smaller one loses it
    const data = new Uint8Array(total);
    data.set(frame);
    const addr = le32(this.desc, 8) + le32(this.desc, 12) * 0x1_0000_0000;
    this.mem.write(addr, data); // a buffer outside RAM takes nothing
    const done = new Uint8Array(8);
    putLe32(done, 0, (eor | DESC_FS | DESC_LS | total) >>> 0);
    this.mem.write(at, done);
    return CpRx.Taken;
  }

  /** Saved positions. */
  save(): { txIdx: number; rxIdx: number } { return { txIdx: this.txIdx, rxIdx: this.rxIdx }; }
  load(txIdx: number, rxIdx: number): void { this.txIdx = txIdx; this.rxIdx = rxIdx; this.len = 0; this.bad = false; }
}

/** Recomputes the IPv4 header checksum. */
function fillIp(f: Uint8Array, ip: number, ihl: number): void {
  put16(f, ip + 10, 0);
  put16(f, ip + 10, checksum(f, ip, ip + ihl));
}

/** Computes a TCP/UDP checksum from scratch (the chip ignores what the field holds). */
function fillL4(f: Uint8Array, ip: number, l4: number, fieldOffset: number): void {
  const end = Math.min(f.length, ip + get16(f, ip + 2));
  if (end < l4 + fieldOffset + 2) return;
  put16(f, l4 + fieldOffset, 0);
  let c = checksum(f, l4, end, pseudoSum4(f, ip, f[ip + 9]!, end - l4));
  if (c === 0 && fieldOffset === 6) c = 0xffff;
  put16(f, l4 + fieldOffset, c);
}

function le32(d: Uint8Array, o: number): number { return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0; }
function putLe32(d: Uint8Array, o: number, v: number): void { d[o] = v & 0xff; d[o + 1] = (v >>> 8) & 0xff; d[o + 2] = (v >>> 16) & 0xff; d[o + 3] = (v >>> 24) & 0xff; }
