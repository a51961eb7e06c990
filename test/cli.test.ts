// Host mistakes get one clear line and a non-zero exit, never a stack trace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { runHvm } from './support/hvm-child.js';
import { scratch } from './support/asm.js';

function assertOneLineError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('hvm: accelerator'));
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
}

test('a missing kernel file', async () => {
  assertOneLineError(await runHvm(['run', '--kernel', '/nonexistent/vmlinuz']), /--kernel \/nonexistent\/vmlinuz: no such file/);
});

test('a file that is not a bzImage', async () => {
  const f = scratch('not-a-kernel');
  writeFileSync(f, Buffer.alloc(8192, 0x41));
  assertOneLineError(await runHvm(['run', '--kernel', f]), /not a bzImage/);
});

test('an unreadable initrd', async () => {
  const dir = scratch('initrd-dir');
  mkdirSync(dir, { recursive: true });
  const k = scratch('not-a-kernel2');
  writeFileSync(k, Buffer.alloc(8192));
  assertOneLineError(await runHvm(['run', '--kernel', k, '--initrd', dir]), /--initrd .*: not a regular file/);
});

test('memory of 0 and more than the host has', async () => {
  assertOneLineError(await runHvm(['run', '-m', '0', '--rom', '/dev/null']), /--memory: must be more than 0/);
  assertOneLineError(await runHvm(['run', '-m', '100000G', '--rom', '/dev/null']), /more than this host has/);
  assertOneLineError(await runHvm(['run', '-m', 'lots']), /--memory: cannot read "lots"/);
});

test('an unknown option and a bad --accel', async () => {
  assertOneLineError(await runHvm(['run', '--frobnicate']), /frobnicate/);
  assertOneLineError(await runHvm(['run', '--accel', 'warp']), /--accel: "warp" is not kvm, soft or auto/);
});

test('--accel kvm without a usable /dev/kvm', async () => {
  const missing = await runHvmWithEnv({ HVM_KVM_DEVICE: '/nonexistent/kvm' });
  assertOneLineError(missing, /--accel kvm: .*\/nonexistent\/kvm/);
});

async function runHvmWithEnv(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await runHvm(['run', '--accel', 'kvm', '--flat', '/etc/hostname']);
  } finally {
    for (const k of Object.keys(env)) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; }
  }
}

test('--help lists the options', async () => {
  const r = await runHvm(['--help']);
  assert.equal(r.status, 0);
  for (const opt of ['--kernel', '--initrd', '--append', '--memory', '--smp', '--accel']) assert.match(r.stdout, new RegExp(opt));
});
