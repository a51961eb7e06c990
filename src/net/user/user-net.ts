// The user-mode network (like QEMU's `-netdev user`): the guest sits on 10.0.2.0/24 behind a
// gateway at 10.0.2.2 that answers ARP, DHCP (10.0.2.15) and ping, and carries the guest's UDP
// and TCP over host sockets. 10.0.2.2 is the host's loopback; DNS to 10.0.2.3 goes to the
// host's resolver. `hostfwd` ports on the host connect into the guest. No root needed.
// Every frame from the guest is checked before it is used; malformed ones are dropped.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { checksum, get16, get32, put16 } from '../checksum.js';
import { ETH_HLEN, FrameQueue, type EthernetPort, type FrameReceiver } from '../ethernet.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ethFrame, ip4, ip4Text, ipv4HeaderOk, ipv4Packet,
  l4ChecksumOk, tcpPacket, udpPacket,
} from '../packet.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, dhcpReply, parseDhcp } from './dhcp.js';
import { DnsForwarder, hostResolver, type DnsUpstream } from './dns.js';
import { TcpConn, type Segment } from './tcp.js';

export const GATEWAY_IP = ip4('10.0.2.2');
export const DNS_IP = ip4('10.0.2.3');
export const GUEST_IP = ip4('10.0.2.15');
export const NETMASK = ip4('255.255.255.0');
export const GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
const BROADCAST_IP = ip4('255.255.255.255');
const TCP_MAX_CONNS = 256;
const UDP_MAX_FLOWS = 64;
const UDP_IDLE_MS = 60_000;
const ARP_REQUEST = 1, ARP_REPLY = 2;
const ICMP_ECHO_REPLY = 0, ICMP_ECHO_REQUEST = 8;

/** A host port forwarded to a guest port. */
export interface HostFwd { proto: 'tcp' | 'udp'; hostAddr: string; hostPort: number; guestPort: number }

/** Parses `tcp::8022-:22`, `udp::5353-:53` or `tcp:127.0.0.1:8022-:22` (a host error when malformed). */
export function parseHostFwd(text: string): HostFwd {
  const m = /^(tcp|udp)?:([0-9.]*):(\d{1,5})-(?:[0-9.]*):(\d{1,5})$/.exec(text);
  const hp = Number(m?.[3]), gp = Number(m?.[4]);
  if (m === null || !(hp > 0 && hp < 65536 && gp > 0 && gp < 65536)) throw new Error(`hostfwd: "${text}" is not tcp|udp:[HOSTADDR]:HOSTPORT-:GUESTPORT`);
  return { proto: m[1] === 'udp' ? 'udp' : 'tcp', hostAddr: m[2] === '' ? '127.0.0.1' : m[2]!, hostPort: hp, guestPort: gp };
}

/** The NAT's options beside its port forwards. */
export interface UserNetOptions {
  /** Where DNS queries to 10.0.2.3 go (default: the host's resolver from /etc/resolv.conf). */
  dns?: DnsUpstream;
}

interface UdpFlow { sock: UdpSocket; last: number }
/** A host peer of a UDP port forward, as the guest sees it: 10.0.2.2 at the peer's own port. */
interface UdpFwdPeer { sock: UdpSocket; address: string; port: number; last: number }

/** Counters, for tests and the monitor. */
export interface UserNetStats { dropped: number; arp: number; dhcp: number; icmp: number; tcp: number; udp: number }

/** The NAT: a backend for one card. */
export class UserNet implements EthernetPort {
  private readonly rx = new FrameQueue();
  private guestMac: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  private readonly tcp = new Map<string, TcpConn>();
  private readonly udp = new Map<string, UdpFlow>();
  private readonly servers: Server[] = [];
  private readonly udpServers: UdpSocket[] = [];
  /** UDP forward peers by `GUESTPORT>10.0.2.2:PEERPORT`, the guest's side of the flow. */
  private readonly udpFwd = new Map<string, UdpFwdPeer>();
  private nextPort = 49152;
  private readonly dns: DnsForwarder;
  readonly stats: UserNetStats = { dropped: 0, arp: 0, dhcp: 0, icmp: 0, tcp: 0, udp: 0 };

  constructor(hostfwd: readonly HostFwd[] = [], private readonly onError: (e: Error) => void = () => {}, opts: UserNetOptions = {}) {
    this.dns = new DnsForwarder(opts.dns ?? hostResolver(), (ip, port, data) => {
      if (data.length <= 1472) this.toGuest(ETHERTYPE_IPV4, udpPacket(DNS_IP, 53, ip, port, data));
    });
    for (const f of hostfwd) {
      if (f.proto === 'udp') { this.udpForward(f); continue; }
      const srv = createServer({ allowHalfOpen: true }, (s) => this.forwardIn(s, f.guestPort));
      srv.on('error', (e) => this.onError(e));
      srv.listen(f.hostPort, f.hostAddr);
      this.servers.push(srv);
    }
  }

  /** A frame from the guest. */
  send(frame: Uint8Array): void {
    if (frame.length < ETH_HLEN) { this.stats.dropped++; return; }
    const type = get16(frame, 12);
    if ((frame[6]! & 1) === 0) this.guestMac = frame.slice(6, 12);
    if (type === ETHERTYPE_ARP) this.arp(frame);
    else if (type === ETHERTYPE_IPV4) this.ipv4(frame);
    else this.stats.dropped++;
  }

  onFrame(receiver: FrameReceiver): void { this.rx.setReceiver(receiver); }
  ready(): void { this.rx.drain(); }

  close(): void {
    for (const c of [...this.tcp.values()]) c.close(true);
    for (const f of this.udp.values()) f.sock.close();
    this.udp.clear();
    for (const s of this.servers) s.close();
    for (const s of this.udpServers) { try { s.close(); } catch { /* already closed */ } }
    this.udpFwd.clear();
    this.dns.close();
  }

  private toGuest(type: number, payload: Uint8Array): void {
    this.rx.push(ethFrame(this.guestMac, GATEWAY_MAC, type, payload));
  }

  // ---- ARP (RFC 826) ----------------------------------------------------------------------------

  private arp(f: Uint8Array): void {
    const a = ETH_HLEN;
    if (f.length < a + 28 || get16(f, a) !== 1 || get16(f, a + 2) !== ETHERTYPE_IPV4 || f[a + 4] !== 6 || f[a + 5] !== 4) { this.stats.dropped++; return; }
    if (get16(f, a + 6) !== ARP_REQUEST) return;
    const target = f.subarray(a + 24, a + 28);
    // Every address on the subnet but the guest's own answers with the gateway's MAC.
    if (target[0] !== 10 || target[1] !== 0 || target[2] !== 2 || target[3] === 15 || target[3] === 255) return;
    const r = new Uint8Array(28);
    put16(r, 0, 1); put16(r, 2, ETHERTYPE_IPV4); r[4] = 6; r[5] = 4; put16(r, 6, ARP_REPLY);
    r.set(GATEWAY_MAC, 8); r.set(target, 14);
    r.set(f.subarray(a + 8, a + 14), 18); r.set(f.subarray(a + 14, a + 18), 24);
    this.stats.arp++;
    this.rx.push(ethFrame(f.subarray(a + 8, a + 14), GATEWAY_MAC, ETHERTYPE_ARP, r));
  }

  // ---- IPv4 ------------------------------------------------------------------------------------

  private ipv4(f: Uint8Array): void {
    const ip = ETH_HLEN;
    if (!ipv4HeaderOk(f, ip) || (get16(f, ip + 6) & 0x3fff) !== 0) { this.stats.dropped++; return; } // no fragments
    const ihl = (f[ip]! & 0xf) * 4;
    const total = get16(f, ip + 2);
    const pkt = f.subarray(ip, ip + total);
    const l4 = pkt.subarray(ihl);
    const src = pkt.subarray(12, 16), dst = pkt.subarray(16, 20);
    switch (pkt[9]) {
      case IPPROTO_ICMP: this.icmp(l4, src, dst); break;
      case IPPROTO_UDP:
        if (l4.length < 8 || get16(l4, 4) < 8 || get16(l4, 4) > l4.length || !l4ChecksumOk(f, ip)) { this.stats.dropped++; return; }
        this.udpIn(src, dst, get16(l4, 0), get16(l4, 2), l4.subarray(8, get16(l4, 4)));
        break;
      case IPPROTO_TCP:
        if (l4.length < 20 || (l4[12]! >>> 4) * 4 < 20 || (l4[12]! >>> 4) * 4 > l4.length || !l4ChecksumOk(f, ip)) { this.stats.dropped++; return; }
        this.tcpIn(dst, l4);
        break;
      default: this.stats.dropped++;
    }
  }

  private icmp(l4: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
    if (l4.length < 8 || checksum(l4, 0, l4.length) !== 0) { this.stats.dropped++; return; }
    if (l4[0] !== ICMP_ECHO_REQUEST || dst[0] !== 10 || dst[1] !== 0 || dst[2] !== 2 || (dst[3] !== 2 && dst[3] !== 3)) return;
    const reply = l4.slice();
    reply[0] = ICMP_ECHO_REPLY;
    put16(reply, 2, 0);
    put16(reply, 2, checksum(reply, 0, reply.length));
    this.stats.icmp++;
    this.toGuest(ETHERTYPE_IPV4, ipv4Packet(dst, src, IPPROTO_ICMP, reply));
  }

  // ---- UDP -------------------------------------------------------------------------------------

  /** Where a guest destination goes on the host: 10.0.2.2 is loopback (DNS has its own path). */
  private hostFor(dst: Uint8Array): string | null {
    if (dst[0] === 10 && dst[1] === 0 && dst[2] === 2) return dst[3] === 2 ? '127.0.0.1' : null;
    if (dst[0] === 127 || dst[0] === 0 || dst[0]! >= 224) return null;
    return ip4Text(dst);
  }

  private udpIn(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, data: Uint8Array): void {
    if (dport === DHCP_SERVER_PORT && sport === DHCP_CLIENT_PORT) {
      const req = parseDhcp(data);
      const reply = req === null ? null : dhcpReply(req, { server: GATEWAY_IP, client: GUEST_IP, router: GATEWAY_IP, dns: DNS_IP, mask: NETMASK });
      if (reply === null) { this.stats.dropped++; return; }
      this.stats.dhcp++;
      this.toGuest(ETHERTYPE_IPV4, udpPacket(GATEWAY_IP, DHCP_SERVER_PORT, BROADCAST_IP, DHCP_CLIENT_PORT, reply));
      return;
    }
    if (dport === 53 && ip4Text(dst) === ip4Text(DNS_IP)) {
      if (this.dns.query(src, sport, data)) this.stats.udp++; else this.stats.dropped++;
      return;
    }
    // An answer to a host peer of a UDP port forward goes back out of the forward's socket.
    const fwd = this.udpFwd.get(`${sport}>${ip4Text(dst)}:${dport}`);
    if (fwd !== undefined) {
      fwd.last = Date.now();
      this.stats.udp++;
      fwd.sock.send(data, fwd.port, fwd.address);
      return;
    }
    const host = this.hostFor(dst);
    if (host === null) { this.stats.dropped++; return; }
    const key = `${ip4Text(src)}:${sport}>${ip4Text(dst)}:${dport}`;
    let flow = this.udp.get(key);
    if (flow === undefined) {
      this.expireUdp();
      if (this.udp.size >= UDP_MAX_FLOWS) { this.stats.dropped++; return; }
      const sock = createSocket('udp4');
      const from = dst.slice(), to = src.slice();
      sock.on('message', (msg) => {
        const fl = this.udp.get(key);
        if (fl !== undefined) fl.last = Date.now();
        if (msg.length <= 1472) this.toGuest(ETHERTYPE_IPV4, udpPacket(from, dport, to, sport, new Uint8Array(msg)));
      });
      sock.on('error', () => { sock.close(); this.udp.delete(key); });
      flow = { sock, last: Date.now() };
      this.udp.set(key, flow);
    }
    flow.last = Date.now();
    this.stats.udp++;
    flow.sock.send(data, dport, host);
  }

  private expireUdp(): void {
    const now = Date.now();
    for (const [k, f] of this.udp) if (now - f.last > UDP_IDLE_MS) { f.sock.close(); this.udp.delete(k); }
    for (const [k, f] of this.udpFwd) if (now - f.last > UDP_IDLE_MS) this.udpFwd.delete(k);
  }

  /**
   * A UDP port forward: a datagram from a host peer reaches the guest's port from 10.0.2.2 at
   * the peer's own port (as QEMU's slirp does), and the guest's answers go back to that peer.
   */
  private udpForward(f: HostFwd): void {
    const sock = createSocket('udp4');
    sock.on('error', (e) => this.onError(e));
    sock.on('message', (msg, rinfo) => {
      if (msg.length > 1472) { this.stats.dropped++; return; }
      const key = `${f.guestPort}>${ip4Text(GATEWAY_IP)}:${rinfo.port}`;
      let peer = this.udpFwd.get(key);
      if (peer === undefined) {
        this.expireUdp();
        if (this.udpFwd.size >= UDP_MAX_FLOWS) { this.stats.dropped++; return; }
        peer = { sock, address: rinfo.address, port: rinfo.port, last: 0 };
        this.udpFwd.set(key, peer);
      }
      peer.address = rinfo.address;
      peer.last = Date.now();
      this.toGuest(ETHERTYPE_IPV4, udpPacket(GATEWAY_IP, rinfo.port, GUEST_IP, f.guestPort, new Uint8Array(msg)));
    });
    sock.bind(f.hostPort, f.hostAddr);
    this.udpServers.push(sock);
  }

  // ---- TCP -------------------------------------------------------------------------------------

  private tcpIn(dst: Uint8Array, t: Uint8Array): void {
    const sport = get16(t, 0), dport = get16(t, 2);
    const hl = (t[12]! >>> 4) * 4;
    let mss = 0;
    // Options: only MSS matters; bounded by the header.
    for (let i = 20; i < hl;) {
      const kind = t[i]!;
      if (kind === 0) break;
      if (kind === 1) { i++; continue; }
      const len = t[i + 1] ?? 0;
      if (len < 2 || i + len > hl) break;
      if (kind === 2 && len === 4) mss = get16(t, i + 2);
      i += len;
    }
    const seg: Segment = { flags: t[13]!, seq: get32(t, 4), ack: get32(t, 8), window: get16(t, 14), data: t.subarray(hl), mss };
    const key = `${sport}>${ip4Text(dst)}:${dport}`;
    const conn = this.tcp.get(key);
    this.stats.tcp++;
    if (conn !== undefined) { conn.segment(seg); return; }
    const remote = dst.slice();
    const rst = (): void => this.toGuest(ETHERTYPE_IPV4, tcpPacket(remote, dport, GUEST_IP, sport, seg.ack, (seg.seq + seg.data.length + 1) >>> 0, 0x14, 0, new Uint8Array(0)));
    if ((seg.flags & 0x04) !== 0) return; // RST for nothing
    if ((seg.flags & 0x12) !== 0x02) { rst(); return; } // only a SYN opens
    const host = this.hostFor(dst);
    if (host === null || this.tcp.size >= TCP_MAX_CONNS) { rst(); return; }
    const sock = createConnection({ host, port: dport, allowHalfOpen: true });
    const c = new TcpConn(sock, (flags, seq, ack, wnd, data, m) =>
      this.toGuest(ETHERTYPE_IPV4, tcpPacket(remote, dport, GUEST_IP, sport, seq, ack, flags, wnd, data, m)),
      () => this.tcp.delete(key), seg, (Math.random() * 0x1_0000_0000) >>> 0);
    this.tcp.set(key, c);
  }

  /** A host connection to a hostfwd port: the NAT opens a connection to the guest. */
  private forwardIn(sock: Socket, guestPort: number): void {
    if (this.tcp.size >= TCP_MAX_CONNS) { sock.destroy(); return; }
    const port = this.nextPort;
    this.nextPort = this.nextPort >= 65000 ? 49152 : this.nextPort + 1;
    // The guest sees the connection come from the gateway.
    const key = `${guestPort}>${ip4Text(GATEWAY_IP)}:${port}`;
    const c = new TcpConn(sock, (flags, seq, ack, wnd, data, m) =>
      this.toGuest(ETHERTYPE_IPV4, tcpPacket(GATEWAY_IP, port, GUEST_IP, guestPort, seq, ack, flags, wnd, data, m)),
      () => this.tcp.delete(key), null, (Math.random() * 0x1_0000_0000) >>> 0);
    this.tcp.set(key, c);
  }
}
