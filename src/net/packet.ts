// Building and checking Ethernet/IPv4/UDP/TCP/ICMP frames (RFC 791, 768, 793, 792): what the
// user-mode NAT sends, and what card tests feed in and check.

import { checksum, get16, pseudoSum4, put16, put32, sumBytes } from './checksum.js';
import { ETH_HLEN } from './ethernet.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IP_HLEN = 20;
export const UDP_HLEN = 8;
export const TCP_HLEN = 20;
export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** An IPv4 address as four bytes from dotted text (a host-side constant; throws when malformed). */
export function ip4(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address ${text}`);
  return Uint8Array.from(parts);
}

/** Dotted text of four bytes at `off`. */
export function ip4Text(b: Uint8Array, off = 0): string {
  return `${b[off] ?? 0}.${b[off + 1] ?? 0}.${b[off + 2] ?? 0}.${b[off + 3] ?? 0}`;
}

/** An Ethernet frame: header and payload. */
export function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  put16(f, 12, type);
  f.set(payload, ETH_HLEN);
  return f;
}

/** An IPv4 packet (no options) with a correct header checksum. */
export function ipv4Packet(src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array, id = 0, ttl = 64): Uint8Array {
  const p = new Uint8Array(IP_HLEN + payload.length);
  p[0] = 0x45;
  put16(p, 2, p.length);
  put16(p, 4, id);
  put16(p, 6, 0x4000); // don't fragment
  p[8] = ttl;
  p[9] = proto;
  p.set(src.subarray(0, 4), 12);
  p.set(dst.subarray(0, 4), 16);
  put16(p, 10, checksum(p, 0, IP_HLEN));
  p.set(payload, IP_HLEN);
  return p;
}

/** Fills in the UDP or TCP checksum of the L4 segment inside IPv4 packet `p` (header at 0). */
export function setL4Checksum(p: Uint8Array): void {
  const ihl = (p[0]! & 0xf) * 4;
  const proto = p[9]!;
  const len = get16(p, 2) - ihl;
  const field = ihl + (proto === IPPROTO_TCP ? 16 : 6);
  put16(p, field, 0);
  let c = checksum(p, ihl, ihl + len, pseudoSum4(p, 0, proto, len));
  if (proto === IPPROTO_UDP && c === 0) c = 0xffff;
  put16(p, field, c);
}

/** A UDP datagram in an IPv4 packet. */
export function udpPacket(src: Uint8Array, sport: number, dst: Uint8Array, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(UDP_HLEN + data.length);
  put16(u, 0, sport); put16(u, 2, dport); put16(u, 4, u.length);
  u.set(data, UDP_HLEN);
  const p = ipv4Packet(src, dst, IPPROTO_UDP, u);
  setL4Checksum(p);
  return p;
}

/** TCP flag bits. */
export const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10;

/** A TCP segment in an IPv4 packet; `mss` adds the MSS option. */
export function tcpPacket(src: Uint8Array, sport: number, dst: Uint8Array, dport: number, seq: number, ack: number,
                          flags: number, window: number, data: Uint8Array, mss = 0): Uint8Array {
  const hl = TCP_HLEN + (mss > 0 ? 4 : 0);
  const t = new Uint8Array(hl + data.length);
  put16(t, 0, sport); put16(t, 2, dport); put32(t, 4, seq >>> 0); put32(t, 8, ack >>> 0);
  t[12] = (hl / 4) << 4; t[13] = flags; put16(t, 14, Math.min(window, 0xffff));
  if (mss > 0) { t[20] = 2; t[21] = 4; put16(t, 22, mss); }
  t.set(data, hl);
  const p = ipv4Packet(src, dst, IPPROTO_TCP, t);
  setL4Checksum(p);
  return p;
}

/** True when the IPv4 header at `ip` in `f` is well formed and its checksum holds. */
export function ipv4HeaderOk(f: Uint8Array, ip: number): boolean {
  if (f.length < ip + IP_HLEN || (f[ip]! >>> 4) !== 4) return false;
  const ihl = (f[ip]! & 0xf) * 4;
  const total = get16(f, ip + 2);
  if (ihl < IP_HLEN || total < ihl || ip + total > f.length) return false;
  return checksum(f, ip, ip + ihl) === 0;
}

/** True when the UDP/TCP checksum of the IPv4 packet at `ip` in `f` holds (UDP 0: none). */
export function l4ChecksumOk(f: Uint8Array, ip: number): boolean {
  const ihl = (f[ip]! & 0xf) * 4;
  const proto = f[ip + 9]!;
  const len = get16(f, ip + 2) - ihl;
  const l4 = ip + ihl;
  if (proto === IPPROTO_UDP && get16(f, l4 + 6) === 0) return true;
  const s = sumBytes(f, ip + 12, ip + 20, proto + len);
  return checksum(f, l4, l4 + len, s) === 0;
}
