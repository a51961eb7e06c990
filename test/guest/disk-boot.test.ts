// Linux booted by SeaBIOS from the IDE devices, the way a user boots an installed disk or a
// live CD: `hvm run --firmware bios --disk linux-fat.img` (MBR + FAT16 partition made bootable
// with Debian's syslinux) and `--cdrom linux.iso` (isolinux, El Torito no-emulation), both holding
// the default guest (src/guest/boot-media.ts). Each boot reaches the guest's shell on COM1, where
// the test types commands: the guest loads ata_piix and reads its own boot medium (the partition
// table on the disk, the volume label on the CD), then powers off and hvm exits 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { defaultGuest, guestSkip } from '../support/guest.js';
import { scratch } from '../support/asm.js';
import { spawnHvm } from '../support/hvm-child.js';
import { BOOT_MEDIA_APPEND, buildBootMedia, SYSLINUX_FILES, type BootMedia } from '../../src/guest/boot-media.js';
import { findTool } from '../../src/guest/host-tools.js';

const noBios = existsSync('/usr/share/seabios/bios-256k.bin') ? false : 'Debian\'s seabios is not installed';
const noTools = ['mformat', 'mcopy', 'syslinux'].every((t) => findTool(t) !== null) &&
  (findTool('xorriso') ?? findTool('genisoimage')) !== null &&
  Object.values(SYSLINUX_FILES).every((f) => existsSync(f)) ? false : 'syslinux, isolinux, mtools or xorriso is not installed (scripts/setup.sh)';
const skip = guestSkip || noBios || noTools;

/** Generous: SeaBIOS, syslinux loading 7 MB through INT 13h, the in-guest decompressor and a kernel boot on the soft CPU. */
const BOOT_MS = 900_000;
const CMD_MS = 120_000;

/** The media's command line: the default guest's, quiet (a serial console is slow to print on). */
const APPEND = `${BOOT_MEDIA_APPEND} quiet`;
let media: BootMedia | null = null;
async function bootMedia(): Promise<BootMedia> {
  media ??= await buildBootMedia(defaultGuest!, { append: APPEND });
  return media;
}

/** Boots `args`, waits for the shell, runs `script` (one line), returns what it printed, powers off. */
async function bootAndRun(args: string[], script: string, marker: string): Promise<{ out: string; result: string }> {
  const vm = spawnHvm(['run', '--firmware', 'bios', '--accel', 'soft', '--quiet', ...args], BOOT_MS + 2 * CMD_MS);
  try {
    await vm.waitFor(/hvm# /, BOOT_MS);
    const from = vm.out().length;
    vm.write(`${script}; echo ${marker}-END\n`);
    // The echo of the typed line holds the marker too: wait for it at the start of a line.
    const m = await vm.waitFor(new RegExp(`\\n${marker} (.*)\\r?\\n(?:[^]*\\n)?${marker}-END`), CMD_MS, from);
    vm.write('poweroff -f\n');
    const exit = await vm.exited;
    assert.equal(exit.status, 0, `hvm exit after poweroff: ${vm.err()}\n${vm.out().slice(-2000)}`);
    return { out: vm.out(), result: m[1]!.trim() };
  } finally {
    vm.kill();
  }
}

/** Loads the IDE driver in the guest and waits (bounded) for `path` to appear. */
const probe = (mods: string, path: string): string =>
  `for m in ${mods}; do modprobe $m; done; i=0; while [ $i -lt 60 ] && ! [ -e ${path} ]; do sleep 1; i=$((i+1)); done`;

test('SeaBIOS boots Linux from a syslinux FAT partition on the IDE disk to a shell', { skip, timeout: BOOT_MS + 3 * CMD_MS + 120_000 }, async () => {
  const disk = scratch('linux-fat.img');
  copyFileSync((await bootMedia()).disk, disk);
  const { out, result } = await bootAndRun(['--disk', disk],
    `${probe('ata_piix sd_mod', '/sys/block/sda/sda1')}; echo DISK-BOOT $((6*7)) $(cat /sys/block/sda/sda1/start) $(cat /proc/cmdline)`, 'DISK-BOOT');
  assert.match(out, /Booting from Hard Disk/);
  assert.match(out, /SYSLINUX \d/);
  assert.match(result, /^42 2048 .*console=ttyS0/, 'the shell ran the command; the guest sees the partition at sector 2048');
});

test('SeaBIOS boots Linux from an isolinux ISO on the ATAPI CD-ROM to a shell', { skip, timeout: BOOT_MS + 3 * CMD_MS + 120_000 }, async () => {
  const iso = (await bootMedia()).iso;
  const { out, result } = await bootAndRun(['--cdrom', iso],
    `${probe('ata_piix sr_mod', '/dev/sr0')}; echo CD-BOOT $((6*7)) $(dd if=/dev/sr0 bs=1 skip=$((16*2048+40)) count=8 2>/dev/null)`, 'CD-BOOT');
  assert.match(out, /Booting from DVD\/CD/);
  assert.match(out, /ISOLINUX \d/);
  assert.equal(result, '42 HVMLINUX', 'the shell ran the command; the guest reads the volume label of the CD it booted from');
});
