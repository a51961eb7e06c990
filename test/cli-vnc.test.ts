// `hvm run --vnc`: flag mistakes are one-line usage errors, a taken port too, and a running hvm
// answers an RFB client (a machine without a display shows a 640x480 placeholder).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runHvm } from './support/hvm-child.js';
import { repoRoot, scratch } from './support/asm.js';
import { RfbClient } from './support/rfb-client.js';

function assertOneLineError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('hvm: accelerator'));
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

/** A real-mode program that spins forever (jmp $). */
function spinner(): string {
  const f = scratch('vnc-spin.bin');
  writeFileSync(f, Buffer.from([0xeb, 0xfe]));
  return f;
}

/** A free display number :N (N in 40..99) whose port nobody holds. */
async function freeDisplay(): Promise<number> {
  for (let i = 0; i < 30; i++) {
    const n = 40 + Math.floor(Math.random() * 60);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(5900 + n, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return n;
  }
  throw new Error('no free display');
}

test('--vnc and --vnc-password-file mistakes', async () => {
  assertOneLineError(await runHvm(['run', '--flat', spinner(), '--vnc', '5900']), /--vnc: "5900" is not :N or HOST:N/);
  assertOneLineError(await runHvm(['run', '--flat', spinner(), '--vnc-password-file', '/nonexistent']), /needs --vnc/);
  assertOneLineError(await runHvm(['run', '--flat', spinner(), '--vnc', ':1', '--vnc-password-file', '/nonexistent/pw']), /no such file/);
});

test('a taken VNC port is a usage error', async () => {
  const n = await freeDisplay();
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(5900 + n, '127.0.0.1', resolve));
  try {
    assertOneLineError(await runHvm(['run', '--flat', spinner(), '--accel', 'soft', '--vnc', `:${n}`]), new RegExp(`--vnc :${n}: .*EADDRINUSE`));
  } finally {
    holder.close();
  }
});

test('hvm run --vnc :N with a password serves RFB clients', async () => {
  const n = await freeDisplay();
  const pw = scratch('vnc-pw');
  writeFileSync(pw, 'sesame\n');
  const child = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), 'run', '--flat', spinner(), '--accel', 'soft', '--quiet',
    '--vga', 'none', '--vnc', `:${n}`, '--vnc-password-file', pw], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  try {
    let c: RfbClient | null = null;
    for (let i = 0; i < 100 && c === null; i++) {
      try { c = await RfbClient.connect(5900 + n, 'sesame'); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(c !== null, `no VNC server on :${n}: ${stderr}`);
    assert.deepEqual([c.screen.width, c.screen.height], [640, 480], 'no display: the placeholder');
    c.setEncodings([0]);
    c.requestUpdate(false);
    await c.readUpdate();
    assert.ok(c.screen.pixels.every((p) => p === 0));
    c.close();
    await assert.rejects(RfbClient.connect(5900 + n, 'wrong'), /authentication failed/);
  } finally {
    child.kill('SIGKILL');
  }
});
