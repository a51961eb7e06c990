// The QMP monitor against a fake VM: the protocol (greeting, negotiation, ids, error classes with
// QEMU's texts), every command's effect and event, hostile input (garbage, huge lines, deep
// nesting, floods, random bytes), clients leaving mid-command, several clients at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpMonitor, type QmpTarget } from '../src/control/qmp-monitor.js';
import { QmpServer, parseQmpSpec, QMP_MAX_CLIENTS, QMP_MAX_QUEUED_PER_CLIENT } from '../src/control/qmp-server.js';
import { QmpClient, QmpReplyError } from '../src/control/qmp-client.js';
import { QMP_MAX_MESSAGE_BYTES, QmpStreamSplitter, type QmpFrame } from '../src/control/qmp-stream.js';
import type { VmExit } from '../src/hypervisor/vm.js';

/** Records what the monitor asked of the VM. */
class FakeVm extends EventEmitter implements QmpTarget {
  calls: string[] = [];
  holdPaused = false;
  pauseDelayMs = 0;
  running = true;
  links = new Map<string, boolean>();
  async pause(): Promise<void> {
    this.calls.push('pause');
    if (this.pauseDelayMs > 0) await new Promise((r) => setTimeout(r, this.pauseDelayMs));
    this.running = false;
  }
  resume(): void { this.calls.push('resume'); this.running = true; }
  async reset(): Promise<void> {
    this.calls.push('reset');
    this.emit('reset');
    if (!this.holdPaused) this.running = true;
  }
  async stop(): Promise<void> { this.calls.push('stop'); this.exit({ reason: 'stopped', status: 0, message: 'stopped by the host' }); }
  powerButton(): void { this.calls.push('power-button'); }
  setNicLink(id: string, up: boolean): void {
    if (id !== 'nic0') throw new Error(`no network card ${id}`);
    this.links.set(id, up);
  }
  exit(e: VmExit): void { setTimeout(() => this.emit('exit', e), 5); }
}

/** A fake with the display and removable-media methods other parts of hvm add to Vm. */
class FullFakeVm extends FakeVm {
  shots: string[] = [];
  media: [string, string | null][] = [];
  async screenshot(path: string): Promise<void> { this.shots.push(path); }
  async changeMedia(id: string, file: string | null): Promise<void> {
    if (id !== 'ide1-cd0') throw new Error(`no drive ${id}`);
    this.media.push([id, file]);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'hvm-qmp-'));
let socketN = 0;

async function serve(vm: FakeVm = new FakeVm()): Promise<{ vm: FakeVm; monitor: QmpMonitor; server: QmpServer; path: string; close: () => Promise<void> }> {
  const path = join(dir, `q${socketN++}.sock`);
  const monitor = new QmpMonitor(vm);
  const server = await QmpServer.listen(parseQmpSpec(`unix:${path},server,nowait`), monitor);
  monitor.started();
  return { vm, monitor, server, path, close: async () => { await server.close(); monitor.dispose(); } };
}

async function rejects(p: Promise<unknown>, cls: string, desc: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof QmpReplyError, String(e));
    assert.equal(e.errorClass, cls);
    assert.match(e.message, desc);
    return true;
  });
}

/** The replies (not the greeting, not events) a raw client got. */
function replies(c: QmpClient): Record<string, unknown>[] {
  return c.received.slice(1).filter((m) => !('event' in m));
}

test('parseQmpSpec: QEMU spellings, loopback default, one-line errors', () => {
  assert.deepEqual(parseQmpSpec('unix:/tmp/q.sock,server,nowait'), { transport: 'unix', path: '/tmp/q.sock', wait: false });
  assert.deepEqual(parseQmpSpec('unix:/tmp/q.sock,server=on,wait=off'), { transport: 'unix', path: '/tmp/q.sock', wait: false });
  assert.deepEqual(parseQmpSpec('unix:/tmp/q.sock,server'), { transport: 'unix', path: '/tmp/q.sock', wait: true });
  assert.deepEqual(parseQmpSpec('tcp::4444,server,nowait'), { transport: 'tcp', host: '127.0.0.1', port: 4444, wait: false });
  assert.deepEqual(parseQmpSpec('tcp:0.0.0.0:4444,server,nowait'), { transport: 'tcp', host: '0.0.0.0', port: 4444, wait: false });
  assert.deepEqual(parseQmpSpec('tcp:[::1]:4444,server,nowait'), { transport: 'tcp', host: '::1', port: 4444, wait: false });
  assert.throws(() => parseQmpSpec('unix:/tmp/q.sock'), /only listens/);
  assert.throws(() => parseQmpSpec('tcp:localhost,server,nowait'), /tcp:HOST:PORT/);
  assert.throws(() => parseQmpSpec('tcp::70000,server,nowait'), /tcp:HOST:PORT/);
  assert.throws(() => parseQmpSpec('stdio'), /expected unix:PATH/);
  assert.throws(() => parseQmpSpec('unix:/x,server,bogus'), /unknown option "bogus"/);
});

test('greeting, negotiation, ids and QEMU error classes', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path, { negotiate: false });
  try {
    const g = c.greeting as { QMP: { version: { qemu: { major: number }; package: string }; capabilities: unknown[] } };
    assert.deepEqual(g.QMP.capabilities, []);
    assert.equal(typeof g.QMP.version.qemu.major, 'number');
    assert.match(g.QMP.version.package, /^hvm /);
    await rejects(c.execute('query-status'), 'CommandNotFound', /Expecting capabilities negotiation with 'qmp_capabilities'/);
    await rejects(c.execute('qmp_capabilities', { enable: ['oob'] }), 'GenericError', /Capability 'oob' not available/);
    assert.deepEqual(await c.execute('qmp_capabilities'), {});
    await rejects(c.execute('qmp_capabilities'), 'CommandNotFound', /already complete/);
    await rejects(c.execute('no-such-command'), 'CommandNotFound', /The command no-such-command has not been found/);
    await rejects(c.execute('set_link', { name: 'nic0', up: 'yes' }), 'GenericError', /Invalid parameter type for 'up', expected: boolean/);
    await rejects(c.execute('set_link', { name: 'nic0' }), 'GenericError', /Parameter 'up' is missing/);
    await rejects(c.execute('set_link', { name: 'nic0', up: true, zz: 1 }), 'GenericError', /Parameter 'zz' is unexpected/);
    await rejects(c.execute('screendump', { filename: 'x.png', head: 1.5 }), 'GenericError', /'head', expected: integer/);
    await rejects(c.execute('stop', { toString: 1 }), 'GenericError', /Parameter 'toString' is unexpected/);
    c.sendRaw('{"execute":"stop","arguments":{"__proto__":{"x":1}},"id":"proto"}\n');
    await c.waitFor(() => c.received.some((m) => m['id'] === 'proto'), 5000, 'the __proto__ reply');
    assert.match(JSON.stringify(c.received.find((m) => m['id'] === 'proto')), /Parameter '__proto__' is unexpected/);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
    const names = (await c.execute('query-commands') as { name: string }[]).map((x) => x.name);
    for (const n of ['qmp_capabilities', 'query-status', 'stop', 'cont', 'system_reset', 'system_powerdown', 'quit', 'set_link',
      'screendump', 'eject', 'blockdev-change-medium', 'human-monitor-command', 'query-version']) assert.ok(names.includes(n), n);
    const v = await c.execute('query-version') as { qemu: { major: number; minor: number; micro: number }; package: string };
    assert.deepEqual(Object.keys(v.qemu).sort(), ['major', 'micro', 'minor']);
  } finally { c.close(); await s.close(); }
});

test('malformed messages get QEMU\'s replies, with the id echoed', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  try {
    const n0 = replies(c).length;
    c.sendRaw('garbage\n[1]\n"str"\n42\n{"foo":1,"id":7}\n{"id":"x"}\n{"execute":3}\n{"execute":"stop","arguments":[]}\n');
    c.sendRaw('{"execute":"query-status","id":{"a":[1]}}{"execute":"query-status","id":2}'); // no separator, as python's qemu.qmp sends
    c.sendRaw('{"execute": "query-st'); // split across writes
    await new Promise((r) => setTimeout(r, 20));
    c.sendRaw('atus", "id": 3}\n} \n{"execute":"nope","id":4}\n');
    await c.waitFor(() => replies(c).length >= n0 + 13, 5000, '13 replies');
    const got = replies(c).slice(n0);
    const err = (i: number): { class: string; desc: string } => (got[i] as { error: { class: string; desc: string } }).error;
    assert.match(err(0).desc, /JSON parse error, invalid keyword 'garbage'/);
    assert.equal(err(1).desc, 'QMP input must be a JSON object');
    assert.equal(err(2).desc, 'QMP input must be a JSON object');
    assert.equal(err(3).desc, 'QMP input must be a JSON object');
    assert.equal(err(4).desc, "QMP input member 'foo' is unexpected");
    assert.equal(got[4]!['id'], 7);
    assert.equal(err(5).desc, "QMP input lacks member 'execute'");
    assert.equal(got[5]!['id'], 'x');
    assert.equal(err(6).desc, "QMP input member 'execute' must be a string");
    assert.equal(err(7).desc, "QMP input member 'arguments' must be an object");
    assert.deepEqual(got[8]!['id'], { a: [1] });
    assert.equal((got[8]!['return'] as { status: string }).status, 'running');
    assert.equal(got[9]!['id'], 2);
    assert.equal(got[10]!['id'], 3);
    assert.match(err(11).desc, /JSON parse error/);
    assert.equal(err(12).class, 'CommandNotFound');
    assert.equal(got[12]!['id'], 4);
    for (let i = 0; i < 13; i++) if (i !== 8 && i !== 9 && i !== 10) assert.ok(['GenericError', 'CommandNotFound'].includes(err(i).class));
    assert.deepEqual(s.vm.calls, [], 'no malformed message reached the VM');
    // The connection still works.
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
  } finally { c.close(); await s.close(); }
});

test('a huge line, deep nesting and a 0xFF reset are bounded and the client recovers', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  try {
    const n0 = replies(c).length;
    const huge = `{"execute":"set_link","arguments":{"name":"${'A'.repeat(QMP_MAX_MESSAGE_BYTES + 100)}","up":true}}\n`;
    c.sendRaw(huge);
    await c.waitFor(() => replies(c).length >= n0 + 1, 10_000, 'the too-long reply');
    assert.match(JSON.stringify(replies(c)[n0]), /message longer than/);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
    const n1 = replies(c).length;
    c.sendRaw(`${'['.repeat(5000)}\n`);
    await c.waitFor(() => replies(c).length >= n1 + 1, 5000, 'the nesting reply');
    assert.match(JSON.stringify(replies(c)[n1]), /nesting deeper than/);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
    // Half a message, then 0xFF: the parser starts afresh.
    c.sendRaw(Buffer.concat([Buffer.from('{"execute": "sto'), Buffer.from([0xff])]));
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
    assert.deepEqual(s.vm.calls, []);
  } finally { c.close(); await s.close(); }
});

test('stop, cont, system_reset, system_powerdown, set_link: effects and events', async () => {
  const s = await serve();
  const a = await QmpClient.connect(s.path);
  const b = await QmpClient.connect(s.path);
  try {
    assert.deepEqual(await a.execute('stop'), {});
    assert.deepEqual(await a.execute('stop'), {}, 'stop twice is fine');
    assert.deepEqual(await b.execute('query-status'), { status: 'paused', singlestep: false, running: false });
    assert.equal(s.vm.holdPaused, true);
    // A reset while stopped keeps the guest stopped.
    await a.execute('system_reset');
    assert.equal(s.vm.running, false);
    assert.deepEqual(await a.execute('cont'), {});
    assert.equal(s.vm.holdPaused, false);
    assert.equal(s.vm.running, true);
    await a.execute('system_powerdown');
    await a.execute('set_link', { name: 'nic0', up: false });
    assert.equal(s.vm.links.get('nic0'), false);
    await rejects(a.execute('set_link', { name: 'nic9', up: false }), 'DeviceNotFound', /Device 'nic9' not found/);
    s.vm.emit('reset'); // the guest resets itself
    for (const c of [a, b]) {
      await c.waitFor(() => c.events.length >= 5, 5000, 'five events');
      assert.deepEqual(c.events.map((e) => e.event), ['STOP', 'RESET', 'RESUME', 'POWERDOWN', 'RESET'], 'one STOP for two stops');
      assert.deepEqual(c.events[1]!.data, { guest: false, reason: 'host-qmp-system-reset' });
      assert.deepEqual(c.events[4]!.data, { guest: true, reason: 'guest-reset' });
      const t = c.events[0]!.timestamp;
      assert.ok(Number.isInteger(t.seconds) && Number.isInteger(t.microseconds) && t.microseconds < 1e6);
      assert.ok(Math.abs(t.seconds - Date.now() / 1000) < 60);
    }
    assert.deepEqual(s.vm.calls, ['pause', 'reset', 'resume', 'power-button']);
  } finally { a.close(); b.close(); await s.close(); }
});

test('screendump, eject and blockdev-change-medium without support: a clean GenericError', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  try {
    await rejects(c.execute('screendump', { filename: join(dir, 'x.png') }), 'GenericError', /not supported by this build/);
    await rejects(c.execute('eject', { device: 'ide1-cd0' }), 'GenericError', /not supported by this build/);
    await rejects(c.execute('blockdev-change-medium', { id: 'ide1-cd0', filename: '/x.iso' }), 'GenericError', /not supported by this build/);
    assert.match(await c.execute('human-monitor-command', { 'command-line': 'eject ide1-cd0' }) as string, /^Error: .*not supported/);
  } finally { c.close(); await s.close(); }
});

test('screendump, eject and blockdev-change-medium reach the VM', async () => {
  const vm = new FullFakeVm();
  const s = await serve(vm);
  const c = await QmpClient.connect(s.path);
  try {
    await c.execute('screendump', { filename: '/tmp/a.png' });
    await c.execute('screendump', { filename: '/tmp/b.png', format: 'png' });
    await rejects(c.execute('screendump', { filename: '/tmp/c.ppm', format: 'ppm' }), 'GenericError', /png/);
    assert.deepEqual(vm.shots, ['/tmp/a.png', '/tmp/b.png']);
    await c.execute('eject', { device: 'ide1-cd0', force: true });
    await c.execute('blockdev-change-medium', { id: 'ide1-cd0', filename: '/tmp/x.iso', format: 'raw' });
    await rejects(c.execute('eject', { device: 'ide0-hd0' }), 'DeviceNotFound', /Device 'ide0-hd0' not found/);
    await rejects(c.execute('eject', {}), 'GenericError', /exactly one of 'device' and 'id'/);
    await rejects(c.execute('eject', { device: 'a', id: 'b' }), 'GenericError', /exactly one of 'device' and 'id'/);
    await rejects(c.execute('blockdev-change-medium', { id: 'ide1-cd0', filename: '/x', format: 'vmdk' }), 'GenericError', /Unknown driver 'vmdk'/);
    const hmp = (line: string): Promise<unknown> => c.execute('human-monitor-command', { 'command-line': line });
    assert.equal(await hmp('eject -f ide1-cd0'), '');
    assert.equal(await hmp('change ide1-cd0 /tmp/y.iso'), '');
    assert.equal(await hmp('screendump /tmp/h.png'), '');
    assert.deepEqual(vm.media, [['ide1-cd0', null], ['ide1-cd0', '/tmp/x.iso'], ['ide1-cd0', null], ['ide1-cd0', '/tmp/y.iso']]);
    assert.deepEqual(vm.shots, ['/tmp/a.png', '/tmp/b.png', '/tmp/h.png']);
  } finally { c.close(); await s.close(); }
});

test('human-monitor-command: info status, stop, cont, system_reset, set_link, unknown commands', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  const hmp = (line: string): Promise<unknown> => c.execute('human-monitor-command', { 'command-line': line });
  try {
    assert.equal(await hmp('info status'), 'VM status: running\r\n');
    assert.equal(await hmp('stop'), '');
    assert.equal(await hmp('info status'), 'VM status: paused\r\n');
    assert.equal(await hmp('c'), '');
    assert.equal(await hmp('system_reset'), '');
    assert.equal(await hmp('system_powerdown'), '');
    assert.equal(await hmp('set_link nic0 off'), '');
    assert.equal(s.vm.links.get('nic0'), false);
    assert.match(await hmp('set_link nic7 on') as string, /^Error: Device 'nic7' not found/);
    assert.match(await hmp('info version') as string, /^hvm /);
    assert.equal(await hmp('frobnicate now'), "unknown command: 'frobnicate'\r\n");
    assert.equal(await hmp('   '), '');
    assert.match(await hmp('help') as string, /info status/);
    assert.match(await hmp('screendump') as string, /^Error: usage: screendump/);
    await rejects(c.execute('human-monitor-command', { 'command-line': 5 }), 'GenericError', /'command-line', expected: string/);
    assert.deepEqual(c.events.map((e) => e.event), ['STOP', 'RESUME', 'RESET', 'POWERDOWN']);
  } finally { c.close(); await s.close(); }
});

test('quit answers first, then stops the VM; SHUTDOWN reaches every client; the socket file goes', async () => {
  const s = await serve();
  const a = await QmpClient.connect(s.path);
  const b = await QmpClient.connect(s.path);
  try {
    const exited = new Promise<VmExit>((r) => s.vm.once('exit', r));
    assert.deepEqual(await a.execute('quit'), {});
    await exited;
    for (const c of [a, b]) {
      const e = await c.waitEvent('SHUTDOWN', 5000);
      assert.deepEqual(e.data, { guest: false, reason: 'host-qmp-quit' });
    }
    await rejects(b.execute('stop'), 'GenericError', /shut down/);
    assert.deepEqual(await b.execute('query-status'), { status: 'shutdown', singlestep: false, running: false });
  } finally { a.close(); b.close(); await s.close(); }
  assert.equal(existsSync(s.path), false, 'the unix socket is removed on close');
});

test('a guest power-off is SHUTDOWN {guest: true, reason: guest-shutdown}', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  try {
    s.vm.exit({ reason: 'poweroff', status: 0, message: 'guest powered off' });
    const e = await c.waitEvent('SHUTDOWN', 5000);
    assert.deepEqual(e.data, { guest: true, reason: 'guest-shutdown' });
  } finally { c.close(); await s.close(); }
});

test('clients leaving at any point do not affect the VM or the other clients', async () => {
  const s = await serve();
  s.vm.pauseDelayMs = 100;
  const keep = await QmpClient.connect(s.path);
  try {
    // Leave during the greeting, before negotiation, half-way through a message, with a command running.
    for (let i = 0; i < 5; i++) {
      const raw = connect(s.path);
      raw.on('error', () => undefined);
      await new Promise((r) => raw.once('connect', r));
      if (i === 1) raw.write('{"execute":"qmp_capabilities"}\n');
      if (i === 2) raw.write('{"execute":"qmp_capabilities"}\n{"execute":"sto');
      if (i >= 3) raw.write('{"execute":"qmp_capabilities"}\n{"execute":"stop"}\n');
      await new Promise((r) => setTimeout(r, i === 4 ? 50 : 0));
      raw.destroy();
    }
    await keep.waitEvent('STOP', 5000);
    assert.deepEqual(await keep.execute('query-status'), { status: 'paused', singlestep: false, running: false });
    await keep.execute('cont');
    assert.deepEqual(await keep.execute('query-status'), { status: 'running', singlestep: false, running: true });
    assert.ok(!s.vm.calls.includes('stop'), 'no disconnect stopped the VM');
  } finally { keep.close(); await s.close(); }
});

test('a flood of commands in one write is answered in order, with input paused meanwhile', async () => {
  const s = await serve();
  const c = await QmpClient.connect(s.path);
  try {
    const N = 3000;
    const n0 = replies(c).length;
    let text = '';
    for (let i = 0; i < N; i++) text += `{"execute":"query-status","id":${i}}`;
    c.sendRaw(text);
    await c.waitFor(() => replies(c).length >= n0 + N, 30_000, `${N} replies`);
    const ids = replies(c).slice(n0).map((m) => m['id']);
    assert.deepEqual(ids, Array.from({ length: N }, (_, i) => i));
  } finally { c.close(); await s.close(); }
});

test('32k commands in one write: answered in order, a bounded queue, another client served meanwhile', async () => {
  const s = await serve();
  const flood = await QmpClient.connect(s.path);
  const other = await QmpClient.connect(s.path);
  try {
    // Each `{"id":N}` is answered at once (no 'execute'), without waiting on anything: only
    // bounded parsing keeps such a flood from being queued whole and starving everyone else.
    const N = 32 * 1024;
    const n0 = flood.received.length; // no events come: every message from here is a reply
    let text = '';
    for (let i = 0; i < N; i++) text += `{"id":${i}}`;
    flood.sendRaw(text);
    await flood.waitFor(() => flood.received.length > n0, 10_000, 'the first reply');
    assert.deepEqual(await other.execute('query-status'), { status: 'running', singlestep: false, running: true });
    const seenMeanwhile = flood.received.length - n0;
    // Replies to the flood keep arriving meanwhile, but only a few batches of them.
    assert.ok(seenMeanwhile < 32 * QMP_MAX_QUEUED_PER_CLIENT, `the other client was answered only after ${seenMeanwhile} flood replies`);
    await flood.waitFor(() => flood.received.length >= n0 + N, 60_000, `${N} replies`);
    const got = flood.received.slice(n0);
    assert.deepEqual(got.map((m) => m['id']), Array.from({ length: N }, (_, i) => i));
    assert.ok(got.every((m) => (m['error'] as { desc?: string } | undefined)?.desc === "QMP input lacks member 'execute'"));
    assert.ok(s.server.peakQueued <= QMP_MAX_QUEUED_PER_CLIENT, `peak queue ${s.server.peakQueued}`);
  } finally { flood.close(); other.close(); await s.close(); }
});

test(`at most ${QMP_MAX_CLIENTS} clients; random bytes never take the monitor down (seeded)`, async () => {
  const s = await serve();
  const clients: QmpClient[] = [];
  try {
    for (let i = 0; i < QMP_MAX_CLIENTS; i++) clients.push(await QmpClient.connect(s.path));
    const extra = connect(s.path);
    let text = '';
    extra.on('data', (b: Buffer) => { text += b.toString(); });
    await new Promise((r) => extra.once('close', r));
    assert.match(text, /too many QMP clients/);
    for (const c of clients.splice(0)) c.close();
    await new Promise((r) => setTimeout(r, 50));

    const seed = Number(process.env['HVM_SEED'] ?? Date.now() % 1e9);
    let x = seed >>> 0 || 1;
    const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
    const alphabet = '{}[]",:\\\' \n\t0123456789abcexecutarguments-_trufalsnl\u00e9\xff';
    for (let round = 0; round < 8; round++) {
      const raw = connect(s.path);
      raw.on('error', () => undefined);
      raw.on('data', () => undefined);
      await new Promise((r) => raw.once('connect', r));
      for (let k = 0; k < 20; k++) {
        const len = rnd() % 4000;
        const bytes = Buffer.alloc(len);
        for (let j = 0; j < len; j++) {
          bytes[j] = rnd() % 4 === 0 ? rnd() & 0xff : alphabet.charCodeAt(rnd() % alphabet.length) & 0xff;
        }
        if (rnd() % 3 === 0) raw.write('{"execute":"qmp_capabilities"}');
        raw.write(bytes);
      }
      raw.destroy();
    }
    const c = await QmpClient.connect(s.path);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true }, `seed ${seed}`);
    c.close();
    assert.ok(s.vm.calls.every((k) => k !== 'stop'), `seed ${seed}: random input quit the VM: ${s.vm.calls.join(',')}`);
  } finally { for (const c of clients) c.close(); await s.close(); }
});

test('TCP on loopback, port 0 picks a free port; commands wait until the VM has started', async () => {
  const vm = new FakeVm();
  const monitor = new QmpMonitor(vm);
  const server = await QmpServer.listen(parseQmpSpec('tcp::0,server,nowait'), monitor);
  try {
    const m = /^tcp:127\.0\.0\.1:(\d+)$/.exec(server.address);
    assert.ok(m, server.address);
    const c = await QmpClient.connect({ host: '127.0.0.1', port: Number(m[1]) });
    const status = c.execute('query-status');
    let early = false;
    void status.then(() => { early = true; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(early, false, 'a command before the VM starts waits');
    monitor.started();
    assert.deepEqual(await status, { status: 'running', singlestep: false, running: true });
    c.close();
  } finally { await server.close(); monitor.dispose(); }
});

test('close() does not wait on a client that never closes its side', async () => {
  const s = await serve();
  const raw = connect({ path: s.path, allowHalfOpen: true });
  raw.on('error', () => undefined);
  raw.on('data', () => undefined);
  await new Promise((r) => raw.once('connect', r));
  await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  await s.close();
  assert.ok(Date.now() - t0 < 5000, `close took ${Date.now() - t0} ms`);
  raw.destroy();
});

test('the framer gives the same frames however the stream is cut (seeded)', () => {
  const stream = Buffer.from('{"execute":"a","arguments":{"s":"}{\\"]["}}[1,{"x":[]}] 42 "q}" {\'k\':\'v}\'}\n' +
    '{"execute":"b"}{"execute":"c","id":"\u00e9"} nul\r\n}{"z":1}\ttrue ', 'utf8');
  const whole: QmpFrame[] = [];
  const ref = new QmpStreamSplitter();
  ref.push(stream, whole);
  ref.end(whole);
  assert.deepEqual(whole.map((f) => f.kind === 'json' ? f.text : `error: ${f.desc}`), [
    '{"execute":"a","arguments":{"s":"}{\\"]["}}', '[1,{"x":[]}]', '42', '"q}"', "{'k':'v}'}",
    '{"execute":"b"}', '{"execute":"c","id":"\u00e9"}', "error: JSON parse error, invalid keyword 'nul'",
    'error: JSON parse error, expecting value', '{"z":1}', 'true',
  ]);
  const seed = Number(process.env['HVM_SEED'] ?? Date.now() % 1e9);
  let x = seed >>> 0 || 1;
  const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  for (let round = 0; round < 200; round++) {
    const got: QmpFrame[] = [];
    const sp = new QmpStreamSplitter();
    for (let at = 0; at < stream.length;) {
      const n = 1 + (rnd() % 7);
      sp.push(stream.subarray(at, at + n), got);
      at += n;
    }
    sp.end(got);
    assert.deepEqual(got, whole, `seed ${seed} round ${round}`);
  }
});
