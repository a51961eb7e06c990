import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVncSpec, readVncPassword } from './vnc-args.js';

test('--vnc: QEMU forms', () => {
  assert.deepEqual(parseVncSpec(':0'), { host: '127.0.0.1', port: 5900, display: 0 });
  assert.deepEqual(parseVncSpec(':12'), { host: '127.0.0.1', port: 5912, display: 12 });
  assert.deepEqual(parseVncSpec('0.0.0.0:1'), { host: '0.0.0.0', port: 5901, display: 1 });
  assert.deepEqual(parseVncSpec('[::1]:3'), { host: '::1', port: 5903, display: 3 });
  for (const bad of ['5900', ':x', 'host', ':99999', ':60000', 'a:b:1']) assert.throws(() => parseVncSpec(bad), /--vnc/, bad);
});

test('--vnc-password-file: first line, 8 characters count', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-vnc-'));
  writeFileSync(join(dir, 'p'), 'hunter2\nsecond line\n');
  assert.deepEqual(readVncPassword(join(dir, 'p')), { password: 'hunter2', truncated: false });
  writeFileSync(join(dir, 'long'), 'averylongpassword');
  assert.deepEqual(readVncPassword(join(dir, 'long')), { password: 'averylon', truncated: true });
  writeFileSync(join(dir, 'empty'), '\n');
  assert.throws(() => readVncPassword(join(dir, 'empty')), /empty/);
  assert.throws(() => readVncPassword(join(dir, 'missing')), /no such file/);
});
