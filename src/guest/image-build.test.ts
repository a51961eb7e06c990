// The guest builder without the network: the cache fast path and its invalidation, the /init
// script, the kernel-package resolution and the initramfs layout. The full build (apt-get
// download of ~50 MB) is exercised by test/guest boots and `hvm image build`, not here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseCpio, S_IFCHR, S_IFLNK, S_IFMT } from './cpio.js';
import {
  buildDefaultGuest, buildInitramfsArchive, defaultCacheDir, GUEST_FORMAT, type GuestManifest,
  initScript, parseKernelDepends, READY_MARKER, readCachedGuest,
} from './image-build.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** A cache directory holding fake kernel/initrd files and a manifest that matches them. */
function fakeCache(edit: (m: GuestManifest) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-guest-cache-'));
  const kernel = Buffer.from('not really a bzImage');
  const initrd = Buffer.from('not really an initramfs');
  writeFileSync(join(dir, 'vmlinuz-6.1.0-99-686'), kernel);
  writeFileSync(join(dir, 'initrd.img'), initrd);
  const m: GuestManifest = {
    format: GUEST_FORMAT,
    arch: 'i386',
    version: '6.1.0-99-686',
    kernel: 'vmlinuz-6.1.0-99-686',
    initrd: 'initrd.img',
    initSha256: sha(initScript()),
    packages: { 'linux-image-6.1.0-99-686': '6.1.999-1' },
    modules: [],
    sizes: { 'vmlinuz-6.1.0-99-686': kernel.length, 'initrd.img': initrd.length },
    sha256: { 'vmlinuz-6.1.0-99-686': sha(kernel), 'initrd.img': sha(initrd) },
  };
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

test('defaultCacheDir follows XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(defaultCacheDir('i386', { XDG_CACHE_HOME: '/x/cache' }, '/home/u'), '/x/cache/hvm/guest-i386');
  assert.equal(defaultCacheDir('amd64', {}, '/home/u'), '/home/u/.cache/hvm/guest-amd64');
  assert.equal(defaultCacheDir('i386', { XDG_CACHE_HOME: '' }, '/home/u'), '/home/u/.cache/hvm/guest-i386');
});

test('a complete cache is returned at once, without apt', async () => {
  const dir = fakeCache();
  try {
    // Guard: if the fast path were broken the call below would start a real download.
    assert.ok(readCachedGuest(dir, 'i386'), 'the fake cache is accepted');
    const logs: string[] = [];
    const t0 = Date.now();
    const g = await buildDefaultGuest({ cacheDir: dir, log: (l) => logs.push(l) });
    assert.deepEqual(g, { kernel: join(dir, 'vmlinuz-6.1.0-99-686'), initrd: join(dir, 'initrd.img'), version: '6.1.0-99-686' });
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(logs, []);
    assert.equal(readFileSync(g.kernel, 'utf8'), 'not really a bzImage', 'nothing rewritten');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale or damaged cache is not taken', () => {
  const cases: Array<[string, (m: GuestManifest) => void]> = [
    ['older format', (m) => { m.format = GUEST_FORMAT - 1; }],
    ['other arch', (m) => { m.arch = 'amd64'; }],
    ['different /init', (m) => { m.initSha256 = sha('old init'); }],
    ['truncated initrd', (m) => { m.sizes['initrd.img'] = 12345; }],
    ['missing kernel', (m) => { m.kernel = 'vmlinuz-gone'; }],
  ];
  for (const [what, edit] of cases) {
    const dir = fakeCache(edit);
    try {
      assert.equal(readCachedGuest(dir, 'i386'), null, what);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = fakeCache();
  try {
    writeFileSync(join(dir, 'manifest.json'), '{ not json');
    assert.equal(readCachedGuest(dir, 'i386'), null, 'corrupt manifest');
    assert.equal(readCachedGuest(join(dir, 'nope'), 'i386'), null, 'no directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/init mounts the pseudo filesystems, prints the marker, and handles hvm.cmd', () => {
  const s = initScript();
  assert.ok(s.startsWith('#!/bin/sh\n'));
  for (const want of ['mount -t proc proc /proc', 'mount -t sysfs sysfs /sys', 'mount -t devtmpfs devtmpfs /dev']) assert.ok(s.includes(want), want);
  const lines = s.split('\n');
  assert.equal(READY_MARKER, 'HVM-GUEST-READY');
  const marker = lines.indexOf(`echo ${READY_MARKER}`);
  assert.ok(marker > 0, 'marker line');
  assert.ok(lines.findIndex((l) => l.startsWith('mount -t devtmpfs')) < marker, 'marker after /dev is mounted');
  assert.ok(s.includes('base64 -d') && s.includes('poweroff -f') && s.includes('HVM-CMD-EXIT='));
  assert.ok(s.includes('setsid cttyhack sh'), 'job-control shell on the console');
  // Only the power-button pair loads unasked, and only on an ACPI machine (for busybox acpid).
  const unasked = s.split('\n').filter((l) => /^\s*modprobe [a-z]/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
  assert.deepEqual(unasked, ['button', 'evdev'], 'no other module loaded unless asked');
  assert.match(s, /if \[ -d \/sys\/firmware\/acpi \]; then\n\s+modprobe button/, 'the pair loads only with ACPI');
  assert.ok(initScript({ marker: 'OTHER-MARKER' }).includes('\necho OTHER-MARKER\n'));
});

test('/init is valid sh, and its command-line parsing finds hvm.cmd and hvm.modules', { skip: spawnSync('sh', ['-c', ':']).status === 0 ? false : 'no sh' }, () => {
  const s = initScript();
  const syntax = spawnSync('sh', ['-n'], { input: s, encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // Run just the parsing loop, fed a command line instead of /proc/cmdline.
  const start = s.indexOf('hvm_cmd=\n');
  const end = s.indexOf('for m in');
  assert.ok(start > 0 && end > start);
  const cmd = Buffer.from('echo hi; cat /proc/version').toString('base64');
  const parse = s.slice(start, end).replace('$(cat /proc/cmdline)', '$CMDLINE') + 'echo "$hvm_cmd|$hvm_modules"\n';
  const r = spawnSync('sh', ['-c', parse], { encoding: 'utf8', env: { CMDLINE: `console=ttyS0 quiet hvm.cmd=${cmd} hvm.modules=e1000,ata_piix` } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${cmd}|e1000,ata_piix`);
  assert.equal(Buffer.from(r.stdout.split('|')[0] ?? '', 'base64').toString(), 'echo hi; cat /proc/version');
});

test('parseKernelDepends picks the versioned kernel package', () => {
  assert.equal(parseKernelDepends('linux-image-686:i386\n  Depends: linux-image-6.1.0-50-686:i386\n'), 'linux-image-6.1.0-50-686');
  assert.equal(parseKernelDepends('linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n'), 'linux-image-6.1.0-57-amd64');
  assert.equal(parseKernelDepends('linux-image-amd64\n  Depends: <linux-image-6.1.0-57-amd64>\n'), 'linux-image-6.1.0-57-amd64');
  assert.equal(parseKernelDepends('linux-image-686:i386\n  Recommends: firmware-linux-free\n'), null);
});

test('the initramfs has /init, device nodes, busybox links and the staged modules', () => {
  const stage = mkdtempSync(join(tmpdir(), 'hvm-guest-stage-'));
  try {
    const mod = join(stage, 'lib', 'modules', '6.1.0-99-686', 'kernel', 'drivers', 'net');
    mkdirSync(mod, { recursive: true });
    writeFileSync(join(mod, 'e1000.ko'), 'ELF');
    writeFileSync(join(stage, 'lib', 'modules', '6.1.0-99-686', 'modules.dep'), 'kernel/drivers/net/e1000.ko:\n');
    const archive = buildInitramfsArchive({
      busybox: Buffer.from('busybox-bytes'),
      applets: ['bin/sh', 'sbin/modprobe', 'usr/bin/base64', 'bin/busybox', 'bin/sh'],
      modulesRoot: stage,
    });
    const m = new Map(parseCpio(archive).map((x) => [x.name, x]));
    assert.equal(m.get('init')?.data.toString(), initScript());
    assert.equal((m.get('init')?.mode ?? 0) & 0o777, 0o755);
    const tty = m.get('dev/ttyS0');
    assert.equal((tty?.mode ?? 0) & S_IFMT, S_IFCHR);
    assert.deepEqual([tty?.rdevMajor, tty?.rdevMinor], [4, 64]);
    assert.deepEqual([m.get('dev/console')?.rdevMajor, m.get('dev/console')?.rdevMinor], [5, 1]);
    assert.deepEqual([m.get('dev/null')?.rdevMajor, m.get('dev/null')?.rdevMinor], [1, 3]);
    assert.equal(m.get('bin/busybox')?.data.toString(), 'busybox-bytes');
    for (const a of ['bin/sh', 'sbin/modprobe', 'usr/bin/base64']) {
      assert.equal((m.get(a)?.mode ?? 0) & S_IFMT, S_IFLNK, a);
      assert.equal(m.get(a)?.data.toString(), '/bin/busybox', a);
    }
    assert.equal(m.get('lib/modules/6.1.0-99-686/kernel/drivers/net/e1000.ko')?.data.toString(), 'ELF');
    assert.ok(m.get('etc/passwd')?.data.toString().startsWith('root:'));
    assert.ok(m.has('proc') && m.has('sys') && m.has('tmp') && m.has('usr/bin'));
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
});
