// Two storage promises, checked in one boot of the default guest (hvm CLI as a child process,
// soft CPU) with two 200 GiB disks: a sparse raw image (primary master) and a qcow2 image made
// by qemu-img (primary slave).
//
// 1. LBA48 past 128 GiB (2^28 sectors, where LBA28 ends): the guest writes a 1 MiB pattern at
//    150 GiB on both disks, syncs, drops its caches and reads it back; the host then finds the
//    same bytes at that offset in the raw file and, through qemu-img convert, in the qcow2.
// 2. Durability: the guest writes 2 MiB to the qcow2 with dd conv=fsync (fsync on the block
//    device: Linux sends ATA FLUSH CACHE), prints a marker, and keeps writing to fresh clusters;
//    the test SIGKILLs hvm the moment the marker appears. `qemu-img check` must accept the image
//    (leaked clusters are allowed: a crash may leave them, and they harm no data) and the data
//    read back by qemu-img convert must match what the guest wrote before its fsync returned.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { md5, readAt } from '../support/host-io.js';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestSkip } from '../support/guest.js';
import { spawnHvm } from '../support/hvm-child.js';

const haveQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
const skip = guestSkip || (!haveQemuImg ? 'qemu-img is not installed' : false);

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const DISK_BYTES = 200 * GiB;
/** 150 GiB: sector 314572800, past LBA28's 268435455. In 64 KiB blocks for dd. */
const HIGH_AT = 150 * GiB;
const BLK = 64 * 1024;
/** The durable write: 2 MiB at 1 MiB of the qcow2. */
const DUR_AT = MiB;
const DUR_BYTES = 2 * MiB;

// Kept short: the kernel command line holds at most 2047 bytes, base64 included.
const SCRIPT = `
i=0; while [ $i -lt 60 ] && ! [ -e /sys/block/sdb ]; do sleep 1; i=$((i+1)); done
for d in sda sdb; do case $(readlink /sys/block/$d/device) in *0:0:0:0) R=$d;; *0:0:1:0) Q=$d;; esac; done
echo "SIZES $(cat /sys/block/$R/size) $(cat /sys/block/$Q/size)"
dmesg | grep -E 'ata1\\.0' | sed 's/^/DMESG /'
m() { md5sum | cut -c1-32; }
dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null; echo "PAT $(m </tmp/p)"
for d in $R $Q; do dd if=/tmp/p of=/dev/$d bs=64k seek=${HIGH_AT / BLK} conv=fsync 2>/dev/null; echo "W $d $?"; done
sync; echo 3 >/proc/sys/vm/drop_caches
for d in $R $Q; do echo "RD $d $(dd if=/dev/$d bs=64k skip=${HIGH_AT / BLK} count=16 2>/dev/null | m)"; done
dd if=/dev/urandom of=/tmp/d bs=64k count=${DUR_BYTES / BLK} 2>/dev/null; echo "DUR $(m </tmp/d)"
dd if=/tmp/d of=/dev/$Q bs=64k seek=${DUR_AT / BLK} conv=fsync 2>/dev/null; echo "DW $?"
echo FSYNC-RETURNED
n=0; while [ $n -lt 500 ]; do dd if=/tmp/p of=/dev/$Q bs=64k seek=$((4096+n*40)) conv=fsync 2>/dev/null; n=$((n+1)); done
echo STILL-RUNNING
`;

describe('200 GiB disks: LBA48 past 128 GiB, and a qcow2 that survives SIGKILL after the guest\'s fsync', { skip, timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-durable-'));
  const raw = join(dir, 'big.raw');
  const qcow = join(dir, 'big.qcow2');
  let out = '';
  let exit: { status: number | null; signal: NodeJS.Signals | null } = { status: null, signal: null };
  const get = (key: string): string[] => [...out.matchAll(new RegExp(`^${key} (.*?)\\r?$`, 'gm'))].map((m) => m[1]!);
  /** Guest bytes of the qcow2 at `at`, as qemu-img (not hvm) reads them: `qemu-img convert` to a sparse raw file once. */
  let converted: string | null = null;
  const qcowBytes = (at: number, len: number): Buffer => {
    if (converted === null) {
      const o = join(dir, 'converted.raw');
      const r = spawnSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow, o], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      converted = o;
    }
    return readAt(converted, at, len);
  };

  before(async () => {
    writeFileSync(raw, '');
    truncateSync(raw, DISK_BYTES);
    const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, String(DISK_BYTES)], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const append = 'console=ttyS0 cryptomgr.notests quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=ata_piix,sd_mod ' +
      `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
    assert.ok(append.length < 2048, `command line of ${append.length} bytes`);
    const vm = spawnHvm(['run', '--accel', 'soft', '--quiet', '--append', append,
      '--drive', `file=${raw},format=raw,index=0`, '--drive', `file=${qcow},format=qcow2,index=1`]);
    try {
      await vm.waitFor(/\nFSYNC-RETURNED\r?\n/, 780_000);
      vm.kill('SIGKILL');
      exit = await vm.exited;
    } finally {
      vm.kill();
      out = vm.out();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the guest sees two LBA48 disks of 200 GiB', () => {
    assert.deepEqual(get('SIZES'), [`${DISK_BYTES / 512} ${DISK_BYTES / 512}`], out.slice(-3000));
    assert.equal(get('DMESG').filter((l) => /ata1\.0[01]: \d+ sectors, multi \d+: LBA48/.test(l)).length, 2, out.slice(-3000));
  });

  it('a pattern written at 150 GiB reads back in the guest and is in both images on the host', () => {
    const pat = get('PAT')[0];
    assert.ok(pat !== undefined, out.slice(-3000));
    assert.deepEqual(get('W').map((l) => l.split(' ')[1]), ['0', '0'], 'dd past 128 GiB succeeded on both disks');
    assert.deepEqual(get('RD').map((l) => l.split(' ')[1]), [pat, pat], 'read back in the guest after drop_caches');
    assert.equal(md5(readAt(raw, HIGH_AT, MiB)), pat, 'the raw file holds the pattern at 150 GiB');
    assert.equal(md5(qcowBytes(HIGH_AT, MiB)), pat, 'qemu-img finds the pattern at 150 GiB of the qcow2');
  });

  it('hvm was killed after the guest\'s fsync returned, while the guest kept writing', () => {
    assert.deepEqual(get('DW'), ['0'], out.slice(-3000));
    assert.equal(exit.signal, 'SIGKILL', `hvm ended by ${exit.signal ?? `status ${exit.status}`}`);
    assert.doesNotMatch(out, /STILL-RUNNING/, 'the kill came while the guest was still writing');
  });

  it('qemu-img check accepts the killed qcow2 and the fsynced data is all there', () => {
    const check = spawnSync('qemu-img', ['check', qcow], { encoding: 'utf8' });
    // 0: clean; 3: leaked clusters only ("waste of disk space, but no harm to data"). 2 is corruption.
    assert.ok(check.status === 0 || check.status === 3, `qemu-img check exit ${check.status}: ${check.stdout}${check.stderr}`);
    assert.doesNotMatch(check.stdout, /^ERROR|corruptions? (were )?found/m, check.stdout);
    const dur = get('DUR')[0];
    assert.ok(dur !== undefined, out.slice(-3000));
    assert.equal(md5(qcowBytes(DUR_AT, DUR_BYTES)), dur, 'the data the guest fsynced before the kill');
  });
});
