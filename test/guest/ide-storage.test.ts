// The Debian i386 guest on the soft CPU with three IDE drives — a sparse raw disk (primary
// master), a qcow2 disk made by qemu-img (primary slave), an ISO made by genisoimage on the CD-ROM (secondary master) —
// found by Linux's ata_piix: sizes, a pattern written with dd, synced, read back past the page
// cache; then the host finds the pattern in the raw file, `qemu-img check` accepts the qcow2
// and `qemu-img convert` reads the same pattern out of it, and the CD reads back byte for byte
// through ATAPI DMA (libata configures the drive for MWDMA2). Then the host changes the CD's
// medium while the guest runs (Vm.changeMedia, what QMP's eject and blockdev-change-medium
// call): after the eject the guest finds no medium; after the insert it reads the new disc.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { md5, readAt } from '../support/host-io.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vm } from '../../src/hypervisor/vm.js';
import { guestSkip, until } from '../support/guest.js';
import { scriptGuestLoader } from '../support/guest-script.js';
import { machines } from '../../src/machine/pc.js';

const haveQemuImg = spawnSync('qemu-img', ['--version']).status === 0;
const haveGenisoimage = spawnSync('genisoimage', ['--version']).status === 0;
const skip = guestSkip || (!haveQemuImg ? 'qemu-img is not installed' : false);

const MiB = 2 ** 20;
const RAW_BYTES = 64 * MiB;
const QCOW_BYTES = 32 * MiB;
const CD_BYTES = 2 * MiB;
const CD2_BYTES = 3 * MiB;
/** Where the guest writes its 1 MiB pattern on the raw disk (and at the very end of it). */
const RAW_PATTERN_AT = 5 * MiB;

const SCRIPT = `
i=0; while [ $i -lt 60 ] && ! [ -e /sys/block/sr0 -a -e /sys/block/sdb ]; do sleep 1; i=$((i+1)); done
# Disk names follow probe order: pick each disk by its SCSI address.
for d in sda sdb; do
  case $(readlink /sys/block/$d/device) in
    *0:0:0:0) R=$d ;;
    *0:0:1:0) Q=$d ;;
  esac
done
echo "SIZES raw=$(cat /sys/block/$R/size) qcow=$(cat /sys/block/$Q/size) sr0=$(cat /sys/block/sr0/size)"
dmesg | grep -E 'ata[0-9]|sr' | sed 's/^/DMESG /'
m() { md5sum | cut -c1-32; }
dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null
echo "PAT-MD5 $(m < /tmp/p)"
w() { dd if=/tmp/p of=/dev/$1 bs=64k seek=$2 conv=fsync 2>/dev/null; echo "DD $1 $2 $?"; }
r() { echo "RD $1 $2 $(dd if=/dev/$1 bs=64k skip=$2 count=16 2>/dev/null | m)"; }
w $R ${RAW_PATTERN_AT / 65536}; w $R ${(RAW_BYTES - MiB) / 65536}; w $Q 16
sync; echo 3 > /proc/sys/vm/drop_caches
r $R ${RAW_PATTERN_AT / 65536}; r $R ${(RAW_BYTES - MiB) / 65536}; r $Q 16
dd if=/dev/sr0 of=/tmp/cd bs=2k 2>&1 | tail -1
echo "SR0 $(wc -c < /tmp/cd) $(m < /tmp/cd)"
e() { dmesg | grep -iE 'ata|sr|sd|I/O' | grep -iE 'Emask|failed|timeout|error'; }
echo "ERRS $(e | wc -l)"; e | tail -5
echo "XFER $(cat /sys/class/ata_device/dev1.0/xfer_mode) $(cat /sys/class/ata_device/dev2.0/xfer_mode)"
# Media change: the host ejects, then inserts another disc. Each wait is bounded.
echo CD-EJECT-NOW
i=0; while dd if=/dev/sr0 of=/dev/null bs=2k count=1 2>/dev/null && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
echo "NOMEDIUM $(dd if=/dev/sr0 of=/dev/null bs=2k count=1 2>&1 | head -1)"
echo CD-INSERT-NOW
i=0; while ! dd if=/dev/sr0 of=/dev/null bs=2k count=1 2>/dev/null && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
dd if=/dev/sr0 of=/tmp/cd2 bs=2k 2>/dev/null
echo "SR0-NEW $(cat /sys/block/sr0/size) $(wc -c < /tmp/cd2) $(m < /tmp/cd2)"
`;

test('Linux ata_piix: raw and qcow2 disks and a CD-ROM, written, synced, read back and checked on the host', { skip, timeout: 900_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-ide-'));
  try {
    const raw = join(dir, 'disk.raw');
    writeFileSync(raw, '');
    truncateSync(raw, RAW_BYTES); // sparse
    const qcow = join(dir, 'disk.qcow2');
    const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, String(QCOW_BYTES)], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    // The CD: an ISO 9660 image made by genisoimage around a file of random bytes (or, without
    // genisoimage, the random bytes themselves); the guest reads the whole device back.
    const cd = join(dir, 'cd.iso');
    const makeCd = (path: string, bytes: number, label: string): Buffer => {
      const payload = randomBytes(bytes - 512 * 1024);
      if (!haveGenisoimage) {
        const b = Buffer.concat([payload, Buffer.alloc(512 * 1024)]);
        writeFileSync(path, b);
        return b;
      }
      const tree = join(dir, label);
      mkdirSync(tree);
      writeFileSync(join(tree, 'payload.bin'), payload);
      const g = spawnSync('genisoimage', ['-quiet', '-r', '-V', label, '-o', path, tree], { encoding: 'utf8' });
      assert.equal(g.status, 0, g.stderr);
      const b = readFileSync(path);
      assert.equal(b.subarray(16 * 2048 + 1, 16 * 2048 + 6).toString('latin1'), 'CD001', 'an ISO 9660 volume descriptor');
      return b;
    };
    const cdBytes = makeCd(cd, CD_BYTES, 'HVMTEST');
    const cd2 = join(dir, 'cd2.iso');
    const cd2Bytes = makeCd(cd2, CD2_BYTES, 'HVMTEST2');

    const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=ata_piix,sd_mod,sr_mod';
    const machine = machines['pc']!;
    const vm = await Vm.create({
      memoryBytes: 256 * MiB, cpus: 1, accel: 'soft',
      drives: [
        { file: raw, format: 'raw', media: 'disk', readOnly: false, bus: 0, unit: 0 },
        { file: qcow, format: 'qcow2', media: 'disk', readOnly: false, bus: 0, unit: 1 },
        { file: cd, format: 'raw', media: 'cdrom', readOnly: true, bus: 1, unit: 0 },
      ],
      boot: scriptGuestLoader(machine, cmdline, SCRIPT),
    });
    let out = '';
    vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
    await vm.start();
    try {
      await until(() => /CD-EJECT-NOW\r?\n/.test(out), 600_000, 'the guest to finish reading the CD', () => out);
      // The guest's dd holds the tray locked while /dev/sr0 is open: like a QMP client, try again.
      const change = async (file: string | null): Promise<void> => {
        for (let n = 0; ; n++) {
          try { await vm.changeMedia('ide1-cd0', file); return; } catch (e) {
            if (n >= 100 || !/locked/.test((e as Error).message)) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };
      await change(null);
      await until(() => /CD-INSERT-NOW\r?\n/.test(out), 300_000, 'the guest to see the empty drive', () => out);
      await assert.rejects(vm.changeMedia('ide0-hd0', cd2), /no drive ide0-hd0|hard disk/, 'a hard disk has no removable medium');
      await assert.rejects(vm.changeMedia('ide1-cd1', cd2), /no drive ide1-cd1/);
      await change(cd2);
      await until(() => /HVM-CMD-EXIT=/.test(out), 300_000, 'the guest script', () => out);
      const exit = await vm.waitForExit();
      assert.equal(exit.reason, 'poweroff', out.slice(-3000));
    } finally {
      await vm.stop().catch(() => {});
    }
    const get = (key: string): string => {
      const m = new RegExp(`${key} (\\S+)`).exec(out);
      assert.ok(m, `${key} in:\n${out.slice(-3000)}`);
      return m[1]!;
    };
    assert.match(out, new RegExp(`SIZES raw=${RAW_BYTES / 512} qcow=${QCOW_BYTES / 512} sr0=${cdBytes.length / 512}\\b`), out.slice(-3000));
    assert.match(out, /DMESG \[[^\]]*\] ata1\.00: ATA-7: HVM HARDDISK/, out.slice(-3000));
    assert.match(out, /DMESG \[[^\]]*\] ata2\.00: ATAPI: HVM DVD-ROM/, out.slice(-3000));
    assert.match(out, /DMESG \[[^\]]*\] ata1: PATA max MWDMA2 cmd 0x1f0 ctl 0x3f6 bmdma 0x[0-9a-f]+ irq 14/, 'bus-master DMA found at BAR4');
    const pat = get('PAT-MD5');
    assert.equal((out.match(/DD sd[ab] \d+ 0/g) ?? []).length, 3, out.slice(-3000));
    assert.equal((out.match(new RegExp(`RD sd[ab] \\d+ ${pat}`, 'g')) ?? []).length, 3, 'raw (middle, end) and qcow2 read back in the guest');
    const sr = /SR0 (\d+) (\S+)/.exec(out);
    assert.deepEqual([Number(sr?.[1]), sr?.[2]], [cdBytes.length, md5(cdBytes)], 'the CD read back in the guest');
    assert.equal(get('ERRS'), '0', out.slice(-3000));
    assert.match(out, /DMESG \[[^\]]*\] ata2\.00: ATAPI: HVM DVD-ROM, [^,]*, max UDMA\/100/, 'the CD-ROM offers DMA');
    assert.match(out, /XFER XFER_MW_DMA_2 XFER_MW_DMA_2\b/, 'libata runs the disk and the CD-ROM in multiword DMA 2 (PIIX3\'s best): the CD reads above went through the bus master');
    assert.match(out, /NOMEDIUM .*No medium found/, 'after the eject the guest finds no medium');
    const sr2 = /SR0-NEW (\d+) (\d+) (\S+)/.exec(out);
    assert.deepEqual([Number(sr2?.[1]) * 512, Number(sr2?.[2]), sr2?.[3]], [cd2Bytes.length, cd2Bytes.length, md5(cd2Bytes)], 'the guest reads the new disc whole');

    // The host side: the pattern is in the raw file, which stayed sparse-sized.
    assert.equal(statSync(raw).size, RAW_BYTES);
    assert.equal(md5(readAt(raw, RAW_PATTERN_AT, MiB)), pat);
    assert.equal(md5(readAt(raw, RAW_BYTES - MiB, MiB)), pat);
    const check = spawnSync('qemu-img', ['check', qcow], { encoding: 'utf8' });
    assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);
    const conv = join(dir, 'qcow.raw');
    const c = spawnSync('qemu-img', ['convert', '-O', 'raw', qcow, conv], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(md5(readAt(conv, MiB, MiB)), pat, 'qemu-img convert reads the guest pattern out of the qcow2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
