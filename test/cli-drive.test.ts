// Drive options on the command line: bad values and unopenable images are one line, exit 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { runHvm } from './support/hvm-child.js';
import { scratch } from './support/asm.js';

function assertOneLineError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('hvm: accelerator'));
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
}

test('--drive with bad values, a missing --disk, an unreadable image format', async () => {
  const rom = scratch('drive-rom.bin');
  writeFileSync(rom, Buffer.alloc(65536, 0xf4));
  assertOneLineError(await runHvm(['run', '--rom', rom, '--drive', 'file=x.img,format=vmdk']), /format=vmdk is not raw or qcow2/);
  assertOneLineError(await runHvm(['run', '--rom', rom, '--drive', 'file=x.img,media=floppy']), /media=floppy/);
  assertOneLineError(await runHvm(['run', '--rom', rom, '--drive', 'file=x.img,index=9']), /index=9/);
  assertOneLineError(await runHvm(['run', '--rom', rom, '--disk', '/nonexistent/disk.img']), /\/nonexistent\/disk.img: no such file/);
  const vmdk = scratch('drive-foreign.img');
  writeFileSync(vmdk, Buffer.concat([Buffer.from('KDMV'), Buffer.alloc(4092)]));
  assertOneLineError(await runHvm(['run', '--accel', 'soft', '--rom', rom, '--disk', vmdk]), /unsupported image format vmdk/);
});
