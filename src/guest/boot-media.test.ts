// The boot media builder without a guest boot: the MBR's partition entry, the syslinux config,
// and (where Debian's syslinux, mtools and xorriso are installed) a real build from small
// stand-in files — mtools lists the FAT partition's files, the ISO has an El Torito boot
// catalogue — and the cache that a second call returns without building again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBootMedia, mbrSector, SYSLINUX_FILES, syslinuxConfig } from './boot-media.js';
import { findTool } from './host-tools.js';

test('mbrSector: boot code, one active FAT16-LBA partition at sector 2048, the signature', () => {
  const code = new Uint8Array(440).fill(0x90);
  const m = mbrSector(code, 63488);
  assert.equal(m.length, 2048 * 512, 'the whole first MiB');
  assert.equal(m[0], 0x90);
  assert.deepEqual([m[446], m[450]], [0x80, 0x0e]);
  assert.deepEqual([m.readUInt32LE(454), m.readUInt32LE(458)], [2048, 63488]);
  assert.deepEqual([m[510], m[511]], [0x55, 0xaa]);
  assert.throws(() => mbrSector(new Uint8Array(446), 1), /at most 440/);
});

test('syslinuxConfig: serial console, no prompt, the command line', () => {
  const c = syslinuxConfig('console=ttyS0 quiet');
  assert.match(c, /^SERIAL 0 115200$/m);
  assert.match(c, /^PROMPT 0$/m);
  assert.match(c, /^ {2}APPEND console=ttyS0 quiet$/m);
  assert.throws(() => syslinuxConfig('a\nb'), /one line/);
});

const haveTools = ['mformat', 'mcopy', 'mdir', 'syslinux'].every((t) => findTool(t) !== null) &&
  (findTool('xorriso') ?? findTool('genisoimage')) !== null && Object.values(SYSLINUX_FILES).every((f) => existsSync(f));

test('buildBootMedia builds a syslinux FAT disk and an isolinux ISO, then returns them from the cache', { skip: haveTools ? false : 'syslinux/mtools/xorriso not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-boot-media-'));
  try {
    const kernel = join(dir, 'vmlinuz-test');
    const initrd = join(dir, 'initrd.img');
    writeFileSync(kernel, Buffer.alloc(300_000, 0x4b));
    writeFileSync(initrd, Buffer.alloc(100_000, 0x49));
    const cacheDir = join(dir, 'cache');
    const media = await buildBootMedia({ kernel, initrd, version: 'test' }, { cacheDir, append: 'console=ttyS0 hvm.test' });
    const disk = readFileSync(media.disk);
    assert.equal(disk.length % (1 << 20), 0);
    assert.deepEqual([disk[510], disk[511], disk[446]], [0x55, 0xaa, 0x80]);
    const part = disk.subarray(2048 * 512);
    assert.equal(part.readUInt32LE(28), 2048, 'the FAT boot sector counts the sectors before the partition');
    const partFile = join(dir, 'part.img');
    writeFileSync(partFile, part);
    const ls = spawnSync('mdir', ['-i', partFile, '-a', '::'], { encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    for (const name of ['vmlinuz', 'initrd', 'syslinux', 'ldlinux']) assert.match(ls.stdout, new RegExp(name, 'i'));
    const iso = readFileSync(media.iso);
    assert.equal(iso.subarray(16 * 2048 + 1, 16 * 2048 + 6).toString('latin1'), 'CD001');
    assert.equal(iso.subarray(17 * 2048 + 7, 17 * 2048 + 30).toString('latin1'), 'EL TORITO SPECIFICATION', 'a boot record volume descriptor');
    const before = statSync(media.disk).mtimeMs;
    const again = await buildBootMedia({ kernel, initrd, version: 'test' }, { cacheDir, append: 'console=ttyS0 hvm.test' });
    assert.deepEqual(again, media);
    assert.equal(statSync(media.disk).mtimeMs, before, 'taken from the cache');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
