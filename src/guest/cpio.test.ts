// The newc writer against the system's GNU cpio: names, types, device numbers and contents of an
// archive we write must read back the same with `cpio -itv` and `cpio -id`. Skipped, with the
// reason, where cpio is not installed (scripts/setup.sh installs it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpioWriter, parseCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './cpio.js';

const hasCpio = spawnSync('cpio', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = hasCpio ? false : 'cpio is not installed (apt-get install cpio)';

// Lengths 0..5 cover every padding case of both the name and the data.
const FILES: Record<string, Buffer> = {
  'bin/a': Buffer.from(''),
  'bin/ab': Buffer.from('x'),
  'bin/abc': Buffer.from('xy'),
  'etc/abcd': Buffer.from('xyz'),
  'etc/passwd': Buffer.from('root:x:0:0:root:/root:/bin/sh\n'),
  init: Buffer.from('#!/bin/sh\necho hi\n'),
  'big.bin': Buffer.from(Array.from({ length: 70001 }, (_, i) => (i * 7) & 0xff)),
};

function sample(): Buffer {
  const w = new CpioWriter();
  for (const d of ['bin', 'etc', 'dev']) w.add({ kind: 'dir', path: d });
  w.add({ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  w.add({ kind: 'chardev', path: 'dev/ttyS0', major: 4, minor: 64, mode: 0o660 });
  w.add({ kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  for (const [p, data] of Object.entries(FILES)) w.add({ kind: 'file', path: p, data, mode: p === 'init' ? 0o755 : 0o644 });
  w.add({ kind: 'symlink', path: 'bin/sh', target: 'busybox' });
  w.add({ kind: 'symlink', path: 'linuxrc', target: '/bin/busybox' });
  return w.finish();
}

test('cpio -t lists every name in order', { skip }, () => {
  const r = spawnSync('cpio', ['-t', '--quiet'], { input: sample(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'bin', 'etc', 'dev', 'dev/console', 'dev/ttyS0', 'dev/null', ...Object.keys(FILES), 'bin/sh', 'linuxrc',
  ]);
});

test('cpio -itv shows types, modes, device numbers and link targets', { skip }, () => {
  const r = spawnSync('cpio', ['-itv', '--quiet'], { input: sample(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const line = (name: string): string => {
    const l = lines.find((x) => x.endsWith(` ${name}`) || x.includes(` ${name} -> `));
    assert.ok(l, `no line for ${name} in:\n${r.stdout}`);
    return l;
  };
  assert.match(line('bin'), /^drwxr-xr-x /);
  assert.match(line('dev/console'), /^crw------- .* 5,\s+1 /);
  assert.match(line('dev/ttyS0'), /^crw-rw---- .* 4,\s+64 /);
  assert.match(line('dev/null'), /^crw-rw-rw- .* 1,\s+3 /);
  assert.match(line('init'), /^-rwxr-xr-x .* 18 /);
  assert.match(line('big.bin'), /^-rw-r--r-- .* 70001 /);
  assert.match(line('bin/sh'), /^lrwxrwxrwx .* bin\/sh -> busybox$/);
  // mtime 0: GNU cpio prints the epoch date.
  assert.match(line('init'), / 1970 init$/);
});

test('cpio -id extracts identical contents', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-cpio-'));
  try {
    // Device nodes need root to extract; leave them out via a pattern list when not root.
    const args = ['-id', '--quiet', '--no-absolute-filenames'];
    if (process.getuid?.() !== 0) args.push('--nonmatching', 'dev/*');
    const r = spawnSync('cpio', args, { input: sample(), cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const [p, data] of Object.entries(FILES)) assert.deepEqual(readFileSync(join(dir, p)), data, p);
    assert.equal(readlinkSync(join(dir, 'bin/sh')), 'busybox');
    assert.equal(lstatSync(join(dir, 'init')).mode & 0o777, 0o755);
    if (process.getuid?.() === 0) {
      const st = lstatSync(join(dir, 'dev/ttyS0'));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, (4 << 8) | 64);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseCpio reads back what the writer wrote, with 4-byte alignment', () => {
  const buf = sample();
  assert.equal(buf.length % 4, 0);
  assert.equal(buf.toString('ascii', 0, 6), '070701');
  const m = parseCpio(buf);
  const byName = new Map(m.map((x) => [x.name, x]));
  assert.equal(byName.get('bin')!.mode & S_IFMT, S_IFDIR);
  assert.equal(byName.get('init')!.mode & S_IFMT, S_IFREG);
  assert.equal(byName.get('bin/sh')!.mode & S_IFMT, S_IFLNK);
  assert.equal(byName.get('bin/sh')!.data.toString(), 'busybox');
  const tty = byName.get('dev/ttyS0')!;
  assert.equal(tty.mode & S_IFMT, S_IFCHR);
  assert.deepEqual([tty.rdevMajor, tty.rdevMinor], [4, 64]);
  for (const [p, data] of Object.entries(FILES)) assert.deepEqual(byName.get(p)!.data, data, p);
  assert.ok(m.every((x) => x.mtime === 0));
  assert.equal(new Set(m.map((x) => x.ino)).size, m.length, 'inode numbers are unique');
  assert.deepEqual(sample(), buf, 'the same inputs give the same bytes');
});

test('the writer rejects duplicates, ".." and use after finish', () => {
  const w = new CpioWriter();
  w.add({ kind: 'dir', path: 'bin' });
  assert.throws(() => w.add({ kind: 'dir', path: './bin/' }), /duplicate/);
  assert.throws(() => w.add({ kind: 'file', path: '../x', data: new Uint8Array() }), /\.\./);
  w.finish();
  assert.throws(() => w.add({ kind: 'dir', path: 'etc' }), /finished/);
});
