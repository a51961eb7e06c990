// Bootable media holding the default guest, for booting Linux through SeaBIOS rather than by
// the boot protocol: (a) a hard disk image with an MBR (syslinux's mbr.bin) and one active FAT16
// partition made by mtools and made bootable by `syslinux --install`, and (b) an ISO 9660 image
// made by xorriso (or genisoimage) with isolinux as its El Torito no-emulation boot image.
// Both carry the default guest's kernel and initramfs and a config that puts syslinux and the
// kernel on COM1. Built from Debian's syslinux, syslinux-common, isolinux and mtools packages
// and cached next to the guest, keyed by the guest's files and the config text.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findTool, run } from './host-tools.js';
import type { GuestImage } from './image-build.js';

/** Bumped when the media layout changes, so older caches are rebuilt. */
export const BOOT_MEDIA_FORMAT = 1;

/** Where Debian's packages put the syslinux pieces this builder uses. */
export const SYSLINUX_FILES = {
  /** syslinux-common: the MBR boot code that chains to the active partition. */
  mbr: '/usr/lib/syslinux/mbr/mbr.bin',
  /** isolinux: the El Torito boot image. */
  isolinux: '/usr/lib/ISOLINUX/isolinux.bin',
  /** syslinux-common: isolinux's core module (syslinux --install puts its own on the FAT). */
  ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32',
} as const;

/** The kernel command line the media boot with by default (the default guest's). */
export const BOOT_MEDIA_APPEND = 'console=ttyS0 cryptomgr.notests';

/** Options of `buildBootMedia`. */
export interface BootMediaOptions {
  /** Kernel command line (default BOOT_MEDIA_APPEND). */
  append?: string;
  /** Cache directory (default: `boot-media/<hash of the command line>` beside the guest's kernel). */
  cacheDir?: string;
  force?: boolean;
  log?: (line: string) => void;
}

/** Paths of the built media. */
export interface BootMedia {
  /** Raw hard disk image: MBR + active FAT16 partition with syslinux. */
  disk: string;
  /** ISO 9660 image booting isolinux (El Torito, no emulation). */
  iso: string;
}

const SECTOR = 512;
const MiB = 2 ** 20;
/** The partition starts at 1 MiB, as fdisk and parted align it. */
const PART_START_LBA = 2048;
/** The geometry mformat records in the BPB (syslinux uses EDD/LBA when the BIOS has it). */
const HEADS = 16;
const SECTORS_PER_TRACK = 63;
/** MBR partition type 0x0E: FAT16 with LBA addressing. */
const PART_TYPE_FAT16_LBA = 0x0e;
const PART_ACTIVE = 0x80;
const MBR_PART_TABLE = 446;
const MBR_CODE_MAX = 440;
const DISK_NAME = 'linux-fat.img';
const ISO_NAME = 'linux.iso';
const MANIFEST_NAME = 'manifest.json';

/** syslinux.cfg / isolinux.cfg: both consoles on COM1 at 115200, no menu, no wait. */
export function syslinuxConfig(append: string): string {
  if (/[\r\n]/.test(append)) throw new Error('the kernel command line must be one line');
  return [
    'SERIAL 0 115200',
    'DEFAULT linux',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL linux',
    '  KERNEL /vmlinuz',
    '  INITRD /initrd.img',
    `  APPEND ${append}`,
    '',
  ].join('\n');
}

/** CHS bytes of an MBR partition entry for `lba` (0xFE/0xFF/0xFF past what CHS can address). */
function chs(lba: number): [number, number, number] {
  const c = Math.floor(lba / (HEADS * SECTORS_PER_TRACK));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  const s = (lba % SECTORS_PER_TRACK) + 1;
  return [h, ((c >> 2) & 0xc0) | s, c & 0xff];
}

/** The first MiB of the disk: boot code, one active partition entry, the 0x55AA signature. */
export function mbrSector(bootCode: Uint8Array, partSectors: number): Buffer {
  if (bootCode.length > MBR_CODE_MAX) throw new Error(`MBR boot code is ${bootCode.length} bytes; at most ${MBR_CODE_MAX} fit`);
  const head = Buffer.alloc(PART_START_LBA * SECTOR);
  head.set(bootCode, 0);
  const e = MBR_PART_TABLE;
  head[e] = PART_ACTIVE;
  head.set(chs(PART_START_LBA), e + 1);
  head[e + 4] = PART_TYPE_FAT16_LBA;
  head.set(chs(PART_START_LBA + partSectors - 1), e + 5);
  head.writeUInt32LE(PART_START_LBA, e + 8);
  head.writeUInt32LE(partSectors, e + 12);
  head[510] = 0x55;
  head[511] = 0xaa;
  return head;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

interface Manifest { format: number; key: string; sizes: Record<string, number> }

/** The cached media in `dir` when their manifest carries `key` and the files are whole. */
function readCached(dir: string, key: string): BootMedia | null {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as Partial<Manifest>;
  } catch {
    return null;
  }
  if (m.format !== BOOT_MEDIA_FORMAT || m.key !== key) return null;
  for (const f of [DISK_NAME, ISO_NAME]) {
    try {
      if (statSync(join(dir, f)).size !== m.sizes?.[f]) return null;
    } catch {
      return null;
    }
  }
  return { disk: join(dir, DISK_NAME), iso: join(dir, ISO_NAME) };
}

const MISSING = 'building the boot media needs Debian\'s syslinux, syslinux-common, isolinux, mtools and xorriso (scripts/setup.sh installs them)';

/** Builds (or returns the cached) FAT boot disk and ISO holding `guest`. */
export async function buildBootMedia(guest: GuestImage, opts: BootMediaOptions = {}): Promise<BootMedia> {
  const append = opts.append ?? BOOT_MEDIA_APPEND;
  const log = opts.log ?? ((): void => {});
  const config = syslinuxConfig(append);
  const cacheDir = opts.cacheDir ?? join(dirname(guest.kernel), 'boot-media', createHash('sha256').update(append).digest('hex').slice(0, 12));
  const key = createHash('sha256')
    .update(`${BOOT_MEDIA_FORMAT}\n${sha256File(guest.kernel)}\n${sha256File(guest.initrd)}\n${config}`)
    .digest('hex');
  if (!opts.force) {
    const cached = readCached(cacheDir, key);
    if (cached) return cached;
  }

  const tool = (n: string): string => {
    const p = findTool(n);
    if (p === null) throw new Error(`${MISSING}: ${n} not found`);
    return p;
  };
  for (const f of Object.values(SYSLINUX_FILES)) if (!existsSync(f)) throw new Error(`${MISSING}: ${f} not found`);
  const mformat = tool('mformat');
  const mcopy = tool('mcopy');
  const syslinux = tool('syslinux');
  const isoTool = findTool('xorriso') ?? findTool('genisoimage');
  if (isoTool === null) throw new Error(`${MISSING}: neither xorriso nor genisoimage found`);
  const step = async (file: string, args: string[], what: string): Promise<void> => {
    const r = await run(file, args);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
  };

  const work = mkdtempSync(join(tmpdir(), 'hvm-boot-media-'));
  try {
    const kernelBytes = statSync(guest.kernel).size;
    const initrdBytes = statSync(guest.initrd).size;
    // (a) The FAT partition as its own file: room for both files plus a quarter, at least 32 MiB.
    const partBytes = Math.max(32 * MiB, Math.ceil(((kernelBytes + initrdBytes) * 1.25 + 4 * MiB) / MiB) * MiB) - MiB;
    const partSectors = partBytes / SECTOR;
    const part = join(work, 'part.img');
    writeFileSync(part, '');
    truncateSync(part, partBytes);
    // -H: hidden sectors = the partition's start, which syslinux's boot sector adds to its LBAs.
    await step(mformat, ['-i', part, '-T', String(partSectors), '-h', String(HEADS), '-s', String(SECTORS_PER_TRACK),
      '-H', String(PART_START_LBA), '-v', 'HVMBOOT', '::'], 'mformat');
    await step(syslinux, ['--install', part], 'syslinux --install');
    copyFileSync(guest.kernel, join(work, 'vmlinuz'));
    copyFileSync(guest.initrd, join(work, 'initrd.img'));
    writeFileSync(join(work, 'syslinux.cfg'), config);
    await step(mcopy, ['-i', part, join(work, 'vmlinuz'), join(work, 'initrd.img'), join(work, 'syslinux.cfg'), '::/'], 'mcopy');
    const disk = join(work, DISK_NAME);
    writeFileSync(disk, mbrSector(readFileSync(SYSLINUX_FILES.mbr), partSectors));
    writeFileSync(disk, readFileSync(part), { flag: 'a' });
    log(`boot disk: ${(PART_START_LBA * SECTOR + partBytes) / MiB} MiB, FAT16 partition at sector ${PART_START_LBA} with syslinux`);

    // (b) The ISO: isolinux.bin as the no-emulation boot image, ldlinux.c32 beside it.
    const tree = join(work, 'iso');
    mkdirSync(join(tree, 'isolinux'), { recursive: true });
    copyFileSync(SYSLINUX_FILES.isolinux, join(tree, 'isolinux', 'isolinux.bin'));
    copyFileSync(SYSLINUX_FILES.ldlinux, join(tree, 'isolinux', 'ldlinux.c32'));
    writeFileSync(join(tree, 'isolinux', 'isolinux.cfg'), config);
    copyFileSync(guest.kernel, join(tree, 'vmlinuz'));
    copyFileSync(guest.initrd, join(tree, 'initrd.img'));
    const iso = join(work, ISO_NAME);
    const mkisofs = ['-quiet', '-o', iso, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot',
      '-boot-load-size', '4', '-boot-info-table', '-R', '-J', '-V', 'HVMLINUX', tree];
    await step(isoTool, isoTool.endsWith('xorriso') ? ['-as', 'mkisofs', ...mkisofs] : mkisofs, `${isoTool} (ISO image)`);
    log(`boot ISO: ${(statSync(iso).size / MiB).toFixed(1)} MiB with isolinux`);

    // (c) The cache, manifest last so a half-written cache is never taken.
    mkdirSync(cacheDir, { recursive: true });
    rmSync(join(cacheDir, MANIFEST_NAME), { force: true });
    const sizes: Record<string, number> = {};
    for (const [name, src] of [[DISK_NAME, disk], [ISO_NAME, iso]] as const) {
      copyFileSync(src, join(cacheDir, `${name}.tmp`));
      renameSync(join(cacheDir, `${name}.tmp`), join(cacheDir, name));
      sizes[name] = statSync(join(cacheDir, name)).size;
    }
    const manifest: Manifest = { format: BOOT_MEDIA_FORMAT, key, sizes };
    writeFileSync(join(cacheDir, `${MANIFEST_NAME}.tmp`), JSON.stringify(manifest, null, 2) + '\n');
    renameSync(join(cacheDir, `${MANIFEST_NAME}.tmp`), join(cacheDir, MANIFEST_NAME));
    return { disk: join(cacheDir, DISK_NAME), iso: join(cacheDir, ISO_NAME) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
