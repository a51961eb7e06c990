import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { GATEWAY_IP, GATEWAY_MAC, GUEST_IP, UserNet, parseHostFwd } from './user-net.js';
import { get16, get32 } from '../checksum.js';
import {
  BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_ICMP, TCP_ACK, TCP_FIN, TCP_SYN, ethFrame, ip4, ipv4HeaderOk,
  ipv4Packet, l4ChecksumOk, tcpPacket, udpPacket,
} from '../packet.js';
import { checksum, put16 } from '../checksum.js';
import { seededRandom, fuzzSeed } from '../../devices/testing.js';
import { until } from '../../../test/support/host-io.js';

const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

function setup(): { nat: UserNet; got: Uint8Array[] } {
  const nat = new UserNet();
  const got: Uint8Array[] = [];
  nat.onFrame((f) => { got.push(f); return true; });
  return { nat, got };
}

function dhcpMessage(type: number, requested?: Uint8Array): Uint8Array {
  const p = new Uint8Array(300);
  p[0] = 1; p[1] = 1; p[2] = 6;
  p[4] = 0xde; p[5] = 0xad; p[6] = 0xbe; p[7] = 0xef;
  p.set(GUEST_MAC, 28);
  p.set([0x63, 0x82, 0x53, 0x63], 236);
  let i = 240;
  p[i++] = 53; p[i++] = 1; p[i++] = type;
  if (requested) { p[i++] = 50; p[i++] = 4; p.set(requested, i); i += 4; }
  p[i] = 255;
  return p;
}

/** Option `code`'s value in a DHCP reply frame. */
function dhcpOption(f: Uint8Array, code: number): Uint8Array | null {
  const p = f.subarray(14 + 28);
  for (let i = 240; i < p.length && p[i] !== 255;) {
    if (p[i] === 0) { i++; continue; }
    if (p[i] === code) return p.slice(i + 2, i + 2 + p[i + 1]!);
    i += 2 + p[i + 1]!;
  }
  return null;
}

test('user net: DHCP DISCOVER gets an OFFER of 10.0.2.15, REQUEST an ACK', () => {
  const { nat, got } = setup();
  const zero = new Uint8Array(4), bcast = ip4('255.255.255.255');
  nat.send(ethFrame(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(zero, 68, bcast, 67, dhcpMessage(1))));
  assert.equal(got.length, 1);
  const offer = got[0]!;
  assert.ok(ipv4HeaderOk(offer, 14) && l4ChecksumOk(offer, 14));
  assert.deepEqual(offer.subarray(0, 6), GUEST_MAC);
  assert.equal(get16(offer, 14 + 20 + 2), 68);
  const bootp = offer.subarray(14 + 28);
  assert.equal(bootp[0], 2, 'BOOTREPLY');
  assert.equal(get32(bootp, 4), 0xdeadbeef, 'xid');
  assert.deepEqual(bootp.subarray(16, 20), GUEST_IP, 'yiaddr');
  assert.deepEqual(dhcpOption(offer, 53), Uint8Array.of(2));
  assert.deepEqual(dhcpOption(offer, 3), GATEWAY_IP);
  assert.deepEqual(dhcpOption(offer, 6), ip4('10.0.2.3'));
  assert.deepEqual(dhcpOption(offer, 1), ip4('255.255.255.0'));
  assert.deepEqual(dhcpOption(offer, 54), GATEWAY_IP);
  nat.send(ethFrame(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(zero, 68, bcast, 67, dhcpMessage(3, GUEST_IP))));
  assert.deepEqual(dhcpOption(got[1]!, 53), Uint8Array.of(5));
  nat.send(ethFrame(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(zero, 68, bcast, 67, dhcpMessage(3, ip4('10.0.2.99')))));
  assert.deepEqual(dhcpOption(got[2]!, 53), Uint8Array.of(6), 'NAK for another address');
  nat.close();
});

test('user net: ARP for the gateway is answered with its MAC; the guest address is not', () => {
  const { nat, got } = setup();
  const arp = (target: Uint8Array): Uint8Array => {
    const a = new Uint8Array(28);
    put16(a, 0, 1); put16(a, 2, 0x800); a[4] = 6; a[5] = 4; put16(a, 6, 1);
    a.set(GUEST_MAC, 8); a.set(GUEST_IP, 14); a.set(target, 24);
    return ethFrame(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, a);
  };
  nat.send(arp(GATEWAY_IP));
  assert.equal(got.length, 1);
  const r = got[0]!;
  assert.equal(get16(r, 12), ETHERTYPE_ARP);
  assert.equal(get16(r, 14 + 6), 2);
  assert.deepEqual(r.subarray(14 + 8, 14 + 14), GATEWAY_MAC);
  assert.deepEqual(r.subarray(14 + 14, 14 + 18), GATEWAY_IP);
  assert.deepEqual(r.subarray(0, 6), GUEST_MAC);
  nat.send(arp(GUEST_IP));
  assert.equal(got.length, 1);
  nat.close();
});

test('user net: ICMP echo to the gateway is answered with the same id, sequence and data', () => {
  const { nat, got } = setup();
  const icmp = new Uint8Array(16);
  icmp[0] = 8; put16(icmp, 4, 0x1234); put16(icmp, 6, 7); icmp.set([1, 2, 3, 4, 5, 6, 7, 8], 8);
  put16(icmp, 2, checksum(icmp, 0, 16));
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, ipv4Packet(GUEST_IP, GATEWAY_IP, IPPROTO_ICMP, icmp)));
  assert.equal(got.length, 1);
  const r = got[0]!;
  assert.ok(ipv4HeaderOk(r, 14));
  const reply = r.subarray(34);
  assert.equal(reply[0], 0);
  assert.equal(checksum(reply, 0, reply.length), 0);
  assert.deepEqual(reply.subarray(4), icmp.subarray(4));
  assert.deepEqual(r.subarray(14 + 12, 14 + 16), GATEWAY_IP);
  nat.close();
});

test('user net: a guest TCP connection to 10.0.2.2:PORT reaches a host server on loopback, both ways', async () => {
  const payload = Buffer.alloc(100_000, 0).map((_, i) => (i * 7) & 0xff);
  let received = Buffer.alloc(0);
  const server = createServer((s) => { s.on('data', (d) => { received = Buffer.concat([received, d]); }); s.end(payload); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { nat, got } = setup();
  const tcp = (seq: number, ack: number, flags: number, data = new Uint8Array(0), mss = 0): void =>
    nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, tcpPacket(GUEST_IP, 40000, GATEWAY_IP, port, seq, ack, flags, 65535, data, mss)));
  tcp(1000, 0, TCP_SYN, new Uint8Array(0), 1460);
  await until(() => got.length >= 1, 2000);
  const synAck = got[0]!;
  assert.ok(l4ChecksumOk(synAck, 14));
  assert.equal(synAck[14 + 20 + 13]! & 0x12, 0x12, 'SYN|ACK');
  assert.equal(get32(synAck, 14 + 20 + 8), 1001);
  let rcv = (get32(synAck, 14 + 20 + 4) + 1) >>> 0;
  tcp(1001, rcv, TCP_ACK, new TextEncoder().encode('GET /\r\n'));
  // Read what the host sends, acknowledging as a guest would.
  const data: number[] = [];
  let seen = 1;
  let fin = false;
  await until(() => {
    for (; seen < got.length; seen++) {
      const f = got[seen]!;
      const t = f.subarray(14 + 20);
      const hl = (t[12]! >>> 4) * 4;
      const d = t.subarray(hl, get16(f, 16) - 20);
      if (get32(t, 4) === rcv && d.length > 0) { data.push(...d); rcv = (rcv + d.length) >>> 0; }
      if ((t[13]! & TCP_FIN) !== 0 && get32(t, 4) === rcv) { rcv = (rcv + 1) >>> 0; fin = true; }
      tcp(1008, rcv, TCP_ACK);
    }
    return fin;
  }, 5000);
  assert.equal(data.length, payload.length);
  assert.ok(Buffer.from(data).equals(payload));
  tcp(1008, rcv, TCP_FIN | TCP_ACK);
  await until(() => received.length === 7, 2000);
  assert.equal(received.toString(), 'GET /\r\n');
  nat.close();
  server.close();
});

test('user net: malformed frames from the guest are dropped without throwing (seeded)', () => {
  const seed = fuzzSeed();
  const rand = seededRandom(seed);
  const { nat } = setup();
  const good = ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(GUEST_IP, 68, ip4('255.255.255.255'), 67, dhcpMessage(1)));
  try {
    for (let i = 0; i < 3000; i++) {
      const f = good.slice(0, Math.floor(rand() * good.length));
      for (let k = 0; k < 3; k++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
      nat.send(f);
    }
  } catch (e) { throw new Error(`seed ${seed}: ${String(e)}`); }
  assert.ok(nat.stats.dropped > 0);
  nat.close();
});

test('user net: hostfwd parses', () => {
  assert.deepEqual(parseHostFwd('tcp::8022-:22'), { proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8022, guestPort: 22 });
  assert.deepEqual(parseHostFwd('udp:127.0.0.1:5353-:53'), { proto: 'udp', hostAddr: '127.0.0.1', hostPort: 5353, guestPort: 53 });
  for (const bad of ['sctp::1-:2', 'udp::0-:2', 'tcp::1-:70000', 'udp:1-2']) assert.throws(() => parseHostFwd(bad), bad);
});

test('user net: guest UDP to 10.0.2.2:PORT reaches a host socket on loopback and the answer comes back', async () => {
  const srv = createSocket('udp4');
  srv.on('message', (msg, rinfo) => srv.send(Buffer.concat([Buffer.from('re:'), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
  const port = srv.address().port;
  const { nat, got } = setup();
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(GUEST_IP, 5555, GATEWAY_IP, port, new TextEncoder().encode('ping'))));
  await until(() => got.length >= 1, 2000);
  const r = got[0]!;
  assert.ok(ipv4HeaderOk(r, 14) && l4ChecksumOk(r, 14));
  assert.deepEqual(r.subarray(14 + 12, 14 + 16), GATEWAY_IP);
  assert.equal(get16(r, 34), port);
  assert.equal(get16(r, 36), 5555);
  assert.equal(Buffer.from(r.subarray(42)).toString(), 're:ping');
  nat.close();
  srv.close();
});

test('user net: a SYN to a closed host port is answered with RST', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { nat, got } = setup();
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, tcpPacket(GUEST_IP, 40001, GATEWAY_IP, port, 77, 0, TCP_SYN, 65535, new Uint8Array(0), 1460)));
  await until(() => got.length >= 1, 2000);
  const t = got[0]!.subarray(34);
  assert.equal(t[13]! & 0x04, 0x04, 'RST');
  assert.equal(get32(t, 8), 78);
  nat.close();
});
