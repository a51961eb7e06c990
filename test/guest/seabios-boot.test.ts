// SeaBIOS (Debian's) boots from the PIIX3 IDE devices: a boot sector on a raw hard disk image
// (MBR) and the same code as the El Torito no-emulation boot image of an ISO on the ATAPI
// CD-ROM. The code prints a marker on COM1 and leaves through isa-debug-exit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble, scratch } from '../support/asm.js';
import { runHvm } from '../support/hvm-child.js';

const noBios = existsSync('/usr/share/seabios/bios-256k.bin') ? false : 'Debian\'s seabios is not installed';
const STATUS = (0x2d << 1) | 1;

test('SeaBIOS boots a boot sector from the IDE hard disk', { skip: noBios, timeout: 120_000 }, async () => {
  const disk = scratch('boot-disk.img');
  const image = Buffer.alloc(1 << 20);
  readFileSync(assemble('test/guest/programs/boot-sector.asm')).copy(image);
  writeFileSync(disk, image);
  const r = await runHvm(['run', '--firmware', 'bios', '--disk', disk, '--accel', 'soft', '--quiet'], { timeoutMs: 100_000 });
  assert.match(r.stdout, /SeaBIOS/, r.stderr);
  assert.match(r.stdout, /Booting from Hard Disk/, r.stdout);
  assert.match(r.stdout, /BOOT-SECTOR-RAN/, r.stdout);
  assert.equal(r.status, STATUS, r.stderr);
});

const noIso = spawnSync('genisoimage', ['--version']).status === 0 ? false : 'genisoimage is not installed';

test('SeaBIOS boots an El Torito image from the ATAPI CD-ROM', { skip: noBios || noIso, timeout: 120_000 }, async () => {
  const dir = scratch('boot-iso');
  mkdirSync(dir, { recursive: true });
  copyFileSync(assemble('test/guest/programs/boot-sector.asm'), join(dir, 'boot.bin'));
  const iso = scratch('boot.iso');
  const g = spawnSync('genisoimage', ['-quiet', '-o', iso, '-b', 'boot.bin', '-no-emul-boot', '-boot-load-size', '4', dir], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const r = await runHvm(['run', '--firmware', 'bios', '--cdrom', iso, '--accel', 'soft', '--quiet'], { timeoutMs: 100_000 });
  assert.match(r.stdout, /Booting from DVD\/CD/, r.stdout);
  assert.match(r.stdout, /BOOT-SECTOR-RAN/, r.stdout);
  assert.equal(r.status, STATUS, r.stderr);
});
