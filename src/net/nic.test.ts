import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNicArg } from './nic.js';
import { withNics } from '../machine/nics.js';
import { pc } from '../machine/pc.js';
import { PcapWriter, withPcap } from './pcap.js';
import { UdpSocketBackend } from './socket.js';
import { FrameQueue, type EthernetPort } from './ethernet.js';
import { spawnSync } from 'node:child_process';
import { UserNet } from './user/user-net.js';
import { BROADCAST_MAC, ethFrame, ETHERTYPE_IPV4, ip4, udpPacket } from './packet.js';

test('--nic values parse; bad ones are one-line errors', () => {
  assert.deepEqual(parseNicArg('user', 0), { model: 'e1000', mac: '52:54:00:12:34:56', backend: { kind: 'user', hostfwd: [] } });
  assert.deepEqual(parseNicArg('user,model=rtl8139,mac=52:54:00:AA:BB:CC,hostfwd=tcp::8022-:22,pcap=/tmp/x.pcap', 1), {
    model: 'rtl8139', mac: '52:54:00:aa:bb:cc', pcap: '/tmp/x.pcap',
    backend: { kind: 'user', hostfwd: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8022, guestPort: 22 }] },
  });
  assert.equal(parseNicArg('none', 0), null);
  assert.equal(parseNicArg('socket,udp=127.0.0.1:5001,localaddr=127.0.0.1:5000', 1)?.mac, '52:54:00:12:34:57');
  for (const bad of ['tap', 'user,model=ne2k', 'user,mac=01:00:00:00:00:00', 'user,mac=zz', 'socket,udp=127.0.0.1:1',
    'user,hostfwd=tcp::x-:22', 'user,bogus=1', 'socket,udp=1.2.3.4:99999,localaddr=:1']) {
    assert.throws(() => parseNicArg(bad, 0), (e: Error) => !e.message.includes('\n'), bad);
  }
});

test('NICs take free PCI slots from 3 on, each with its MAC', () => {
  const spec = parseNicArg('user', 0)!;
  const d = withNics(pc, [spec, { ...spec, model: 'rtl8139', mac: '52:54:00:12:34:57' }]);
  const nics = d.devices.filter((e) => e.device === 'e1000' || e.device === 'rtl8139');
  assert.deepEqual(nics.map((e) => [e.id, e.pci?.slot, e.mac]), [['nic0', 3, '52:54:00:12:34:56'], ['nic1', 4, '52:54:00:12:34:57']]);
});

test('pcap: a classic header and one record per frame, both directions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-pcap-'));
  const path = join(dir, 'x.pcap');
  const q = new FrameQueue();
  const inner: EthernetPort = { send: () => {}, onFrame: (r) => q.setReceiver(r), ready: () => q.drain(), close: () => {} };
  const port = withPcap(inner, new PcapWriter(path, () => 1_500_000));
  port.onFrame(() => true);
  port.send(new Uint8Array(60).fill(1));
  q.push(new Uint8Array(42).fill(2));
  port.close();
  const b = readFileSync(path);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4);
  assert.equal(b.readUInt16LE(4), 2);
  assert.equal(b.readUInt32LE(20), 1);
  assert.equal(b.readUInt32LE(24), 1500);
  assert.equal(b.readUInt32LE(32), 60);
  assert.equal(b.readUInt32LE(24 + 16 + 60 + 8), 42);
  assert.equal(b.length, 24 + 16 + 60 + 16 + 42);
  rmSync(dir, { recursive: true, force: true });
});

test('socket backend: two ends joined over host UDP exchange frames; runts are dropped', async () => {
  const a = new UdpSocketBackend({ host: '127.0.0.1', port: 47611 }, { host: '127.0.0.1', port: 47610 });
  const b = new UdpSocketBackend({ host: '127.0.0.1', port: 47610 }, { host: '127.0.0.1', port: 47611 });
  const got: Uint8Array[] = [];
  b.onFrame((f) => { got.push(f); return true; });
  await new Promise((r) => setTimeout(r, 50));
  a.send(new Uint8Array(5));
  a.send(new Uint8Array(64).fill(9));
  const t0 = Date.now();
  while (got.length < 1 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 64);
  assert.equal(b.dropped, 1);
  a.close(); b.close();
});

test('pcap: tshark reads a capture of the NAT\'s DHCP exchange', { skip: spawnSync('tshark', ['-v']).error !== undefined ? 'tshark is not installed' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-pcap-'));
  const path = join(dir, 'dhcp.pcap');
  const port = withPcap(new UserNet(), new PcapWriter(path));
  port.onFrame(() => true);
  const mac = new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  const msg = new Uint8Array(300);
  msg[0] = 1; msg[1] = 1; msg[2] = 6; msg[4] = 1; msg.set(mac, 28); msg.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255], 236);
  port.send(ethFrame(BROADCAST_MAC, mac, ETHERTYPE_IPV4, udpPacket(new Uint8Array(4), 68, ip4('255.255.255.255'), 67, msg)));
  port.close();
  const r = spawnSync('tshark', ['-r', path, '-Y', 'dhcp'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /DHCP Discover/);
  assert.match(r.stdout, /DHCP Offer/);
  rmSync(dir, { recursive: true, force: true });
});
