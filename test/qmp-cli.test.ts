// `hvm run --qmp …` as a user runs it: usage errors are one line, QEMU's `wait` holds the guest
// until a client connects, `quit` ends the process with status 0 and removes the socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHvm, spawnHvm } from './support/hvm-child.js';
import { QmpClient } from '../src/control/qmp-client.js';

const dir = mkdtempSync(join(tmpdir(), 'hvm-qmp-cli-'));
/** A guest that sleeps: sti; hlt; jmp back. */
const idle = join(dir, 'idle.bin');
writeFileSync(idle, Buffer.from([0xfb, 0xf4, 0xeb, 0xfd]));

function oneLine(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('hvm: accelerator'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test('--qmp usage errors are one line', async () => {
  oneLine(await runHvm(['run', '--flat', idle, '--accel', 'soft', '--qmp', 'stdio']), /--qmp stdio: expected unix:PATH/);
  oneLine(await runHvm(['run', '--flat', idle, '--accel', 'soft', '--qmp', 'unix:/x.sock']), /only listens: add ,server,nowait/);
  oneLine(await runHvm(['run', '--flat', idle, '--accel', 'soft', '--qmp', `unix:${join(dir, 'no/such/dir.sock')},server,nowait`]), /--qmp: cannot listen on unix:.*no\/such\/dir.sock: E[A-Z]+$/);
});

test('--qmp …,server (wait): the guest starts once a client connects; quit exits 0', { timeout: 60_000 }, async () => {
  const sock = join(dir, 'wait.sock');
  const hvm = spawnHvm(['run', '--flat', idle, '--accel', 'soft', '-m', '16M', '--qmp', `unix:${sock},server`], 60_000);
  try {
    await hvm.until(() => hvm.err().includes('waiting for a QMP client'), 30_000, 'the wait message');
    const c = await QmpClient.connect(sock);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', singlestep: false, running: true });
    assert.deepEqual(await c.execute('quit'), {});
    const e = await c.waitEvent('SHUTDOWN', 10_000);
    assert.deepEqual(e.data, { guest: false, reason: 'host-qmp-quit' });
    assert.equal((await hvm.exited).status, 0, hvm.err());
    assert.equal(existsSync(sock), false);
    c.close();
  } finally {
    hvm.kill();
  }
});

/**
 * A real-mode program that prints 'x' on COM1 forever, with a delay loop between characters:
 *   mov dx, 0x3f8 / l: mov al, 'x' / out dx, al / mov bx, N / o: mov cx, 0xffff / d: loop d
 *   dec bx / jnz o / jmp l
 * N is 64 on the soft CPU (about 12 characters a second) and 1 under KVM (kvm_pvm emulates real
 * mode instruction by instruction: about 7 a second).
 */
function ticker(accel: 'soft' | 'kvm'): string {
  const path = join(dir, `ticker-${accel}.bin`);
  writeFileSync(path, Buffer.from([0xba, 0xf8, 0x03, 0xb0, 0x78, 0xee, 0xbb, accel === 'kvm' ? 0x01 : 0x40, 0x00, 0xb9, 0xff, 0xff,
    0xe2, 0xfe, 0x4b, 0x75, 0xf8, 0xeb, 0xf0]));
  return path;
}

for (const accel of ['soft', 'kvm'] as const) {
  const skip = accel === 'kvm' && !existsSync('/dev/kvm') ? 'no /dev/kvm' : false;
  test(`stop holds the vCPU and cont lets it go on (--accel ${accel})`, { skip, timeout: 60_000 }, async () => {
    const sock = join(dir, `ticker-${accel}.sock`);
    const hvm = spawnHvm(['run', '--flat', ticker(accel), '--accel', accel, '-m', '16M', '--qmp', `unix:${sock},server,nowait`], 60_000);
    const out = hvm.out;
    const wait = (cond: () => boolean, what: string): Promise<void> => hvm.until(cond, 30_000, what);
    try {
      await wait(() => existsSync(sock) && out().length >= 3, 'the program printing');
      const c = await QmpClient.connect(sock);
      await c.execute('stop');
      await new Promise((r) => setTimeout(r, 200)); // characters already on their way
      const held = out().length;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(out().length, held, 'nothing printed while stopped');
      assert.deepEqual(await c.execute('query-status'), { status: 'paused', singlestep: false, running: false });
      await c.execute('cont');
      await wait(() => out().length >= held + 3, 'printing after cont');
      assert.match(out(), /^x+$/);
      await c.execute('quit');
      assert.equal((await hvm.exited).status, 0, hvm.err());
      c.close();
    } finally {
      hvm.kill();
    }
  });
}

const help = await runHvm(['--help']);
const vgaSkip = /--vga std/.test(help.stdout) ? false : 'this build has no --vga';
test('screendump writes the display as PNG (--vga std)', { skip: vgaSkip, timeout: 60_000 }, async () => {
  const sock = join(dir, 'vga.sock');
  const png = join(dir, 'screen.png');
  const hvm = spawnHvm(['run', '--flat', idle, '--accel', 'soft', '-m', '32M', '--vga', 'std', '--qmp', `unix:${sock},server,nowait`], 60_000);
  try {
    await hvm.until(() => existsSync(sock), 30_000, 'the QMP socket');
    const c = await QmpClient.connect(sock);
    await c.execute('screendump', { filename: png, format: 'png' });
    const bytes = readFileSync(png);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
    assert.ok(bytes.readUInt32BE(16) > 0 && bytes.readUInt32BE(20) > 0, 'a non-empty image');
    assert.equal(await c.execute('human-monitor-command', { 'command-line': `screendump ${png}.2` }), '');
    assert.ok(existsSync(`${png}.2`));
    await c.execute('quit');
    assert.equal((await hvm.exited).status, 0, hvm.err());
    c.close();
  } finally {
    hvm.kill();
  }
});
