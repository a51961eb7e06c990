// SeaBIOS → shell: the default guest booted the way a PC boots it, by Debian's SeaBIOS from an
// IDE hard disk (MBR + FAT16 partition with syslinux) and from an ISO on the ATAPI CD-ROM
// (isolinux) — the media src/guest/boot-media.ts builds — under `hvm --accel soft` and
// `qemu-system-i386 -M pc -accel tcg` on the same image, the same machine shape (i440FX + PIIX3
// IDE, no NIC, no VGA, 256 MiB) and the same kernel command line. Per engine and medium, host
// time from process start to: SeaBIOS's first words on COM1, "Booting from …" (firmware done),
// the syslinux banner, and HVM-GUEST-READY (the guest's userspace is up: the shell follows).
//
//   npm run bench -- firmware-boot     HVM_BENCH_MEDIA=disk,cd picks media (default both)
//                                      HVM_BENCH_ENGINES=hvm,qemu picks engines
//                                      HVM_BENCH_TIMEOUT=seconds per run (default 1200)
//
// Exits non-zero only if hvm itself fails to boot.

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBootMedia } from '../src/guest/boot-media.js';
import { defaultCacheDir, readCachedGuest, READY_MARKER } from '../src/guest/image-build.js';
import { envCount, hvmBin, missingTool, ratio, runEngine, table } from './support/engine.js';
const TIMEOUT_S = envCount('HVM_BENCH_TIMEOUT', 1200);

/** Moments of one boot, in seconds from process start. */
interface Marks { bios?: number; loaderStart?: number; loader?: number; ready?: number }
interface Run { ok: boolean; reason?: string; marks: Marks }

const PHASES: { key: keyof Marks; re: RegExp }[] = [
  { key: 'bios', re: /SeaBIOS \(version/ },
  { key: 'loaderStart', re: /Booting from (Hard Disk|DVD\/CD)/ },
  { key: 'loader', re: /(SYS|ISO)LINUX \d/ },
  { key: 'ready', re: new RegExp(READY_MARKER) },
];

async function runBoot(cmd: string, args: string[]): Promise<Run> {
  const r: Run = { ok: false, marks: {} };
  let text = '';
  const end = await runEngine(cmd, args, {
    timeoutS: TIMEOUT_S,
    before: READY_MARKER,
    // A marker may come in pieces, and the firmware's lines need not end before the next begins.
    onChunk: (chunk, now, run) => {
      text = (text + chunk).slice(-8192);
      for (const p of PHASES) if (r.marks[p.key] === undefined && p.re.test(text)) r.marks[p.key] = now;
      if (r.marks.ready !== undefined) run.end();
    },
  });
  r.ok = end.reason === undefined;
  if (end.reason !== undefined) r.reason = end.explain(end.reason);
  return r;
}

async function main(): Promise<number> {
  const guest = readCachedGuest(defaultCacheDir('i386'), 'i386');
  if (!guest) {
    process.stderr.write(`firmware-boot bench: no default guest in ${defaultCacheDir('i386')}; build it with \`node bin/hvm.js image build\`\n`);
    return 1;
  }
  const media = await buildBootMedia(guest, { log: (l) => process.stdout.write(`  ${l}\n`) });
  const wantMedia = new Set((process.env['HVM_BENCH_MEDIA'] ?? 'disk,cd').split(',').map((s) => s.trim()));
  const wantEngines = new Set((process.env['HVM_BENCH_ENGINES'] ?? 'hvm,qemu').split(',').map((s) => s.trim()));
  const work = mkdtempSync(join(tmpdir(), 'hvm-bench-fw-'));
  // Each run gets its own copy of the disk, so neither engine sees what the other wrote.
  const diskCopy = (tag: string): string => {
    const p = join(work, `${tag}.img`);
    copyFileSync(media.disk, p);
    return p;
  };
  const qemuBase = ['-M', 'pc', '-accel', 'tcg', '-m', '256', '-nographic', '-serial', 'stdio', '-monitor', 'none',
    '-vga', 'none', '-nic', 'none', '-no-reboot'];
  const hvmBase = [hvmBin, 'run', '--firmware', 'bios', '--accel', 'soft', '--quiet', '-m', '256M'];
  const runs: { medium: string; key: string; name: string; isHvm: boolean; skip: () => string | null; run: () => Promise<Run> }[] = [
    { medium: 'disk', key: 'hvm', name: 'hvm --accel soft', isHvm: true, skip: () => null,
      run: () => runBoot(process.execPath, [...hvmBase, '--drive', `file=${diskCopy('hvm')},format=raw`]) },
    { medium: 'disk', key: 'qemu', name: 'qemu-system-i386 -accel tcg', isHvm: false,
      skip: () => missingTool('qemu-system-i386', 'qemu-system-x86'),
      run: () => runBoot('qemu-system-i386', [...qemuBase, '-drive', `file=${diskCopy('qemu')},format=raw,if=ide,index=0`]) },
    { medium: 'cd', key: 'hvm', name: 'hvm --accel soft', isHvm: true, skip: () => null,
      run: () => runBoot(process.execPath, [...hvmBase, '--cdrom', media.iso]) },
    { medium: 'cd', key: 'qemu', name: 'qemu-system-i386 -accel tcg', isHvm: false,
      skip: () => missingTool('qemu-system-i386', 'qemu-system-x86'),
      run: () => runBoot('qemu-system-i386', [...qemuBase, '-drive', `file=${media.iso},format=raw,if=ide,index=2,media=cdrom,readonly=on`]) },
  ];

  process.stdout.write(`firmware-boot: SeaBIOS → ${READY_MARKER} from ${media.disk.split('/').pop()} (IDE disk) and ${media.iso.split('/').pop()} (ATAPI CD)\n`);
  const results = new Map<string, Run>();
  let hvmFailed = false;
  try {
    for (const e of runs) {
      if (!wantMedia.has(e.medium) || !wantEngines.has(e.key)) continue;
      const why = e.skip();
      if (why) { process.stdout.write(`  ${e.medium} ${e.name}: skipped: ${why}\n`); continue; }
      const r = await e.run();
      results.set(`${e.medium}/${e.key}`, r);
      if (!r.ok && e.isHvm) hvmFailed = true;
      const f = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)} s`);
      const m = r.marks;
      process.stdout.write(`  ${e.medium} ${e.name}: SeaBIOS ${f(m.bios)}, boot device ${f(m.loaderStart)}, syslinux ${f(m.loader)}, ready ${f(m.ready)}${r.ok ? '' : `  FAILED: ${r.reason}`}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const s = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2));
  const span = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : b - a);
  const rows: string[][] = [['medium', 'engine', 'firmware s', 'loader+kernel s', 'to shell s', 'to shell hvm/QEMU']];
  for (const e of runs) {
    const r = results.get(`${e.medium}/${e.key}`);
    if (!r) continue;
    const q = results.get(`${e.medium}/qemu`);
    const m = r.marks;
    rows.push([e.medium, e.name, s(m.loaderStart), s(span(m.loaderStart, m.ready)), s(m.ready), e.isHvm ? ratio(m.ready, q?.marks.ready) : '']);
  }
  process.stdout.write(`\n${table(rows, 2)}\n`);
  process.stdout.write('firmware: process start → "Booting from …"; loader+kernel: from there to HVM-GUEST-READY (syslinux reads the kernel through INT 13h, the kernel decompresses itself and boots)\n');
  if (hvmFailed) process.stdout.write('hvm failed to boot (see above)\n');
  return hvmFailed ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`firmware-boot bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
