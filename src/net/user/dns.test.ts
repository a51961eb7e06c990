// DNS forwarding and UDP port forwards in the user-mode NAT, against real host sockets on
// loopback: a tiny DNS responder stands in for the host's resolver.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get16 } from '../checksum.js';
import { ETHERTYPE_IPV4, ethFrame, ip4, ipv4HeaderOk, l4ChecksumOk, udpPacket } from '../packet.js';
import { DNS_MAX_OUTSTANDING, DNS_TIMEOUT_MS, DnsForwarder, hostResolver, parseDnsUpstream } from './dns.js';
import { DNS_IP, GATEWAY_IP, GATEWAY_MAC, GUEST_IP, UserNet } from './user-net.js';
import { until } from '../../../test/support/host-io.js';

const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

/** A DNS query for `name` (type A, class IN) with `id`. */
function dnsQuery(id: number, name: string): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  const q = Buffer.alloc(12 + labels.length + 1 + 4);
  q.writeUInt16BE(id, 0); q.writeUInt16BE(0x0100, 2); q.writeUInt16BE(1, 4);
  Buffer.from(labels).copy(q, 12);
  q.writeUInt16BE(1, 12 + labels.length + 1); q.writeUInt16BE(1, 12 + labels.length + 3);
  return new Uint8Array(q);
}

/** A loopback DNS responder: answers every A query with `addr`; counts what it saw. */
async function responder(addr: string): Promise<{ sock: Socket; port: number; seen: number[] }> {
  const sock = createSocket('udp4');
  const seen: number[] = [];
  sock.on('message', (q, rinfo) => {
    seen.push(q.readUInt16BE(0));
    const a = Buffer.concat([q, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...addr.split('.').map(Number)])]);
    a.writeUInt16BE(0x8180, 2); a.writeUInt16BE(1, 6);
    sock.send(a, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, seen };
}

test('dns: upstream option and resolv.conf parse', () => {
  assert.deepEqual(parseDnsUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseDnsUpstream('10.1.2.3'), { host: '10.1.2.3', port: 53 });
  for (const bad of ['x', '1.2.3.4:0', '1.2.3.256', '::1', '1.2.3.4:70000']) assert.throws(() => parseDnsUpstream(bad), (e: Error) => !e.message.includes('\n'), bad);
  const dir = mkdtempSync(join(tmpdir(), 'hvm-dns-'));
  const f = join(dir, 'resolv.conf');
  writeFileSync(f, '# x\nsearch example\nnameserver ::1\nnameserver 192.0.2.53\n');
  assert.deepEqual(hostResolver(f), { host: '192.0.2.53', port: 53 });
  assert.equal(hostResolver(join(dir, 'missing')), null);
  rmSync(dir, { recursive: true, force: true });
});

test('user net: a guest DNS query to 10.0.2.3 goes to the upstream and the answer comes back with the guest ID', async () => {
  const up = await responder('192.0.2.77');
  const nat = new UserNet([], () => {}, { dns: { host: '127.0.0.1', port: up.port } });
  const got: Uint8Array[] = [];
  nat.onFrame((f) => { got.push(f); return true; });
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(GUEST_IP, 40000, DNS_IP, 53, dnsQuery(0x1234, 'test.hvm.example'))));
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(GUEST_IP, 40001, DNS_IP, 53, dnsQuery(0x1234, 'two.hvm.example'))));
  await until(() => got.length >= 2, 3000);
  assert.equal(new Set(up.seen).size, 2, 'two queries with distinct upstream IDs');
  const ports = new Set<number>();
  for (const r of got) {
    assert.ok(ipv4HeaderOk(r, 14) && l4ChecksumOk(r, 14));
    assert.deepEqual(r.subarray(26, 30), DNS_IP);
    assert.equal(get16(r, 34), 53);
    ports.add(get16(r, 36));
    const dns = r.subarray(42);
    assert.equal(get16(dns, 0), 0x1234, 'the guest ID restored');
    assert.deepEqual(dns.subarray(dns.length - 4), ip4('192.0.2.77'));
  }
  assert.deepEqual([...ports].sort(), [40000, 40001]);
  nat.close();
  up.sock.close();
});

test('dns forwarder: bounded outstanding queries, forgotten after the timeout; stray answers dropped', async () => {
  let now = 0;
  const sink = createSocket('udp4'); // an upstream that never answers
  const ids: number[] = []; // the IDs the forwarder gave the queries it sent upstream
  sink.on('message', (m) => ids.push(m.readUInt16BE(0)));
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
  const delivered: Uint8Array[] = [];
  const fwd = new DnsForwarder({ host: '127.0.0.1', port: sink.address().port }, (_ip, _p, d) => delivered.push(d), () => now);
  for (let i = 0; i < DNS_MAX_OUTSTANDING; i++) assert.ok(fwd.query(GUEST_IP, 1000 + i, dnsQuery(i, 'a.b')));
  assert.equal(fwd.query(GUEST_IP, 999, dnsQuery(1, 'a.b')), false, 'over the bound');
  assert.equal(fwd.outstanding, DNS_MAX_OUTSTANDING);
  now += DNS_TIMEOUT_MS + 1;
  assert.ok(fwd.query(GUEST_IP, 999, dnsQuery(1, 'a.b')), 'old queries expired');
  assert.equal(fwd.outstanding, 1);
  assert.equal(fwd.query(GUEST_IP, 1, new Uint8Array(5)), false, 'too short');
  // An answer from somewhere other than the upstream is ignored.
  await new Promise((r) => setTimeout(r, 50)); // the forwarder's socket is bound by its first send
  const stray = createSocket('udp4');
  const fake = Buffer.from(dnsQuery(0, 'a.b')); fake[2] = 0x81;
  assert.ok(ids.length > 0, 'the upstream saw the queries');
  // Answers carrying IDs the forwarder is waiting for: only the source address rules them out.
  for (const id of ids.slice(-4)) { fake.writeUInt16BE(id, 0); stray.send(fake, (fwd as unknown as { sock: Socket }).sock.address().port, '127.0.0.1'); }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(delivered.length, 0);
  assert.equal(new DnsForwarder(null, () => {}).query(GUEST_IP, 1, dnsQuery(1, 'a.b')), false, 'no upstream: dropped');
  fwd.close(); sink.close(); stray.close();
});

test('user net: a UDP hostfwd carries a host datagram to the guest port from 10.0.2.2 and the answer back', async () => {
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const hostPort = probe.address().port;
  probe.close();
  const nat = new UserNet([{ proto: 'udp', hostAddr: '127.0.0.1', hostPort, guestPort: 6000 }]);
  const got: Uint8Array[] = [];
  nat.onFrame((f) => { got.push(f); return true; });
  const client = createSocket('udp4');
  const answers: string[] = [];
  client.on('message', (m) => answers.push(m.toString()));
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  const cport = client.address().port;
  await new Promise((r) => setTimeout(r, 50)); // the forward's socket binds
  client.send('hello', hostPort, '127.0.0.1');
  await until(() => got.length >= 1, 3000);
  const f = got[0]!;
  assert.ok(ipv4HeaderOk(f, 14) && l4ChecksumOk(f, 14));
  assert.deepEqual(f.subarray(26, 30), GATEWAY_IP);
  assert.deepEqual(f.subarray(30, 34), GUEST_IP);
  assert.equal(get16(f, 34), cport, 'from the peer\'s own port');
  assert.equal(get16(f, 36), 6000);
  assert.equal(Buffer.from(f.subarray(42)).toString(), 'hello');
  // The guest answers to 10.0.2.2:cport from its port 6000.
  nat.send(ethFrame(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, udpPacket(GUEST_IP, 6000, GATEWAY_IP, cport, new TextEncoder().encode('world'))));
  await until(() => answers.length >= 1, 3000);
  assert.deepEqual(answers, ['world']);
  nat.close();
  client.close();
});
