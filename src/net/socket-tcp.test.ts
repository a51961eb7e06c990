// The TCP socket backend: length-prefixed frames both ways, the connecting side waiting for
// the listener, hostile lengths ending the connection; and the tap backend's errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { TcpSocketBackend } from './socket.js';
import { TapBackend } from './tap.js';
import { parseNicArg } from './nic.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, until } from '../../test/support/host-io.js';

test('socket backend over TCP: frames cross both ways, the connector started first', async () => {
  const port = await freePort();
  const b = new TcpSocketBackend({ connect: { host: '127.0.0.1', port } });
  await new Promise((r) => setTimeout(r, 200)); // nobody listening yet: it retries
  const a = new TcpSocketBackend({ listen: { host: '127.0.0.1', port } });
  const gotA: Uint8Array[] = [], gotB: Uint8Array[] = [];
  a.onFrame((f) => { gotA.push(f); return true; });
  b.onFrame((f) => { gotB.push(f); return true; });
  await until(() => a.connected && b.connected, 5000);
  const frames = [60, 1514, 200, 9000].map((n, i) => new Uint8Array(n).fill(i + 1));
  for (const f of frames) a.send(f);
  b.send(new Uint8Array(64).fill(0xee));
  await until(() => gotB.length === frames.length && gotA.length === 1, 5000);
  assert.deepEqual(gotB, frames);
  assert.deepEqual(gotA[0], new Uint8Array(64).fill(0xee));
  a.close(); b.close();
});

test('socket backend over TCP: QEMU framing on the wire; a length no frame has ends the peer', async () => {
  const port = await freePort();
  const a = new TcpSocketBackend({ listen: { host: '127.0.0.1', port } });
  const got: Uint8Array[] = [];
  a.onFrame((f) => { got.push(f); return true; });
  const raw = createConnection({ host: '127.0.0.1', port });
  const wire: Buffer[] = [];
  raw.on('data', (d: Buffer) => wire.push(d));
  await new Promise<void>((r) => raw.on('connect', () => r()));
  await until(() => a.connected, 3000);
  // One frame split across writes, as TCP may deliver it.
  const frame = Buffer.alloc(100, 7);
  const msg = Buffer.concat([Buffer.from([0, 0, 0, 100]), frame]);
  raw.write(msg.subarray(0, 3));
  await new Promise((r) => setTimeout(r, 20));
  raw.write(msg.subarray(3, 50));
  await new Promise((r) => setTimeout(r, 20));
  raw.write(msg.subarray(50));
  await until(() => got.length === 1, 3000);
  assert.deepEqual(Buffer.from(got[0]!), frame);
  a.send(new Uint8Array(60).fill(9));
  await until(() => Buffer.concat(wire).length >= 64, 3000);
  const w = Buffer.concat(wire);
  assert.equal(w.readUInt32BE(0), 60, 'big-endian length first');
  assert.deepEqual(w.subarray(4, 64), Buffer.alloc(60, 9));
  // A hostile length closes the connection.
  const closed = new Promise<void>((r) => raw.on('close', () => r()));
  raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  await closed;
  await until(() => !a.connected, 3000);
  assert.equal(got.length, 1);
  a.close();
});

test('--nic socket listen/connect and tap parse; a listen port in use is a one-line error', async () => {
  assert.deepEqual(parseNicArg('socket,listen=:5000', 0)?.backend, { kind: 'socket-tcp', listen: ':5000' });
  assert.deepEqual(parseNicArg('socket,connect=127.0.0.1:5000,model=rtl8139', 0)?.backend, { kind: 'socket-tcp', connect: '127.0.0.1:5000' });
  assert.deepEqual(parseNicArg('tap,ifname=tap0', 0)?.backend, { kind: 'tap', ifname: 'tap0' });
  assert.deepEqual(parseNicArg('user,dns=127.0.0.1:5353,hostfwd=udp::5353-:53', 0)?.backend,
    { kind: 'user', dns: '127.0.0.1:5353', hostfwd: [{ proto: 'udp', hostAddr: '127.0.0.1', hostPort: 5353, guestPort: 53 }] });
  for (const bad of ['socket,listen=:1,connect=:2', 'socket', 'socket,listen=x', 'tap', 'tap,ifname=', 'tap,ifname=a/b',
    'tap,ifname=waytoolonginterfacename', 'user,dns=x', 'socket,dns=1.2.3.4', 'user,ifname=tap0']) {
    assert.throws(() => parseNicArg(bad, 0), (e: Error) => !e.message.includes('\n'), bad);
  }
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const errors: Error[] = [];
  const a = new TcpSocketBackend({ listen: { host: '127.0.0.1', port: (busy.address() as AddressInfo).port } }, (e) => errors.push(e));
  await until(() => errors.length > 0, 3000);
  assert.match(errors[0]!.message, /^listen 127\.0\.0\.1:\d+: EADDRINUSE$/);
  a.close(); busy.close();
});

test('tap backend: a missing device node or a name the kernel refuses is a one-line error', { skip: process.platform !== 'linux' }, () => {
  assert.throws(() => new TapBackend('hvmtap0', '/nonexistent/tun'), /^Error: tap: cannot open \/nonexistent\/tun: ENOENT/);
  // `lo` exists and is not a tap: TUNSETIFF refuses it (or the open is not permitted here).
  assert.throws(() => new TapBackend('lo'), (e: Error) => /^tap: cannot (open|attach)/.test(e.message) && !e.message.includes('\n'));
});

test('hvm run --nic tap where the tap cannot be had: one line on stderr and a non-zero exit', { skip: process.platform !== 'linux' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-tap-'));
  const rom = join(dir, 'hlt.bin');
  writeFileSync(rom, Buffer.alloc(65536, 0xf4)); // never runs: the VM does not start
  // `lo` is not a tap, so TUNSETIFF refuses it even for root; elsewhere the open is refused.
  const r = spawnSync(process.execPath, ['bin/hvm.js', 'run', '--accel', 'soft', '--rom', rom, '--nic', 'tap,ifname=lo'], { encoding: 'utf8', timeout: 180_000 });
  rmSync(dir, { recursive: true, force: true });
  assert.ok(r.status !== 0 && r.status !== null, `status ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => /tap/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^hvm: network: tap: cannot (open \/dev\/net\/tun|attach lo \(TUNSETIFF\)): E[A-Z]+ \(/);
});
