// Disk throughput in the guest, through the same emulated controller: the default i386 guest
// (same kernel, initrd, command line) with one IDE hard disk on the PIIX3 (Linux's ata_piix,
// bus-master DMA) under `hvm --accel soft` and `qemu-system-i386 -M pc -accel tcg -drive
// if=ide`, on the same kind of image (raw and qcow2, each engine on its own fresh copy). In the
// guest: sequential write of MIB MiB and READ_PASSES reads of it with busybox dd and O_DIRECT
// (oflag=direct / iflag=direct, 1 MiB blocks; the write ends with fsync), then COUNT random 4 KiB reads with
// O_DIRECT by bench/programs/disk-io.c (a static i386 program without libc, built here with
// gcc -m32 and put into the initramfs beside the script). MB/s from host time between serial
// markers around each dd (the guest's /proc/uptime difference is printed beside it); reads/s
// from the program's own CLOCK_MONOTONIC.
//
//   npm run bench -- disk          HVM_BENCH_QUICK=1: 16 MiB and 500 random reads
//                                  HVM_BENCH_FORMATS=raw,qcow2 picks image formats (default both)
//                                  HVM_BENCH_ENGINES=hvm,qemu picks engines
//                                  HVM_BENCH_TIMEOUT=seconds per run (default 1800)
//
// Exits non-zero only if hvm itself fails to run the work.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../src/guest/host-tools.js';
import { defaultCacheDir, readCachedGuest } from '../src/guest/image-build.js';
import { appendToInitrd } from '../src/guest/initrd-append.js';
import { envCount, hvmBin, missingTool, ratio, repoRoot, runEngine, table } from './support/engine.js';
const QUICK = process.env['HVM_BENCH_QUICK'] === '1';
const MIB = QUICK ? 16 : 64;
const COUNT = QUICK ? 500 : 5000;
/** The read pass goes over the written MiB this many times: one pass is too short to time on QEMU. */
const READ_PASSES = QUICK ? 2 : 8;
const DISK_MIB = 256;
const TIMEOUT_S = envCount('HVM_BENCH_TIMEOUT', 1800);
const EXIT_MARKER = 'HVM-CMD-EXIT=';
const SCRIPT_PATH = '/disk-bench.sh';
const TOOL_PATH = '/disk-io';
const APPEND_BASE = 'console=ttyS0 cryptomgr.notests quiet hvm.modules=ata_piix,sd_mod';

// The guest side. A 1 MiB random block repeated MIB times in tmpfs is the data written (not
// zeros: an image format may skip zero writes); its last MiB is read back and compared.
const SCRIPT = `
i=0; while [ $i -lt 60 ] && ! [ -e /sys/block/sda ]; do sleep 1; i=$((i+1)); done
dd if=/dev/urandom of=/tmp/p1 bs=1M count=1 2>/dev/null
i=0; while [ $i -lt ${MIB} ]; do cat /tmp/p1; i=$((i+1)); done > /tmp/pat
sync; echo 3 > /proc/sys/vm/drop_caches
t() { read u x < /proc/uptime; echo "HVM-DISK-$1 $u"; }
t WRITE-BEGIN; dd if=/tmp/pat of=/dev/sda bs=1M count=${MIB} oflag=direct conv=fsync 2>/dev/null; s=$?; t WRITE-END; echo "DD-WRITE $s"
t READ-BEGIN; s=0; for p in $(seq ${READ_PASSES}); do dd if=/dev/sda of=/dev/null bs=1M count=${MIB} iflag=direct 2>/dev/null || s=$?; done; t READ-END; echo "DD-READ $s"
${TOOL_PATH} /dev/sda ${COUNT} ${MIB} 12345
echo "CHECK $(dd if=/dev/sda bs=1M skip=${MIB - 1} count=1 iflag=direct 2>/dev/null | md5sum | cut -c1-32) $(md5sum < /tmp/p1 | cut -c1-32)"
`;

interface Run {
  ok: boolean;
  reason?: string;
  write?: number | undefined;        // MB/s (host time)
  read?: number | undefined;         // MB/s (host time)
  writeGuest?: number | undefined;   // MB/s (guest uptime)
  readGuest?: number | undefined;
  iops?: number | undefined;         // random 4 KiB reads/s (guest clock)
}

async function runDisk(cmd: string, args: string[]): Promise<Run> {
  const r: Run = { ok: false };
  const marks = new Map<string, { host: number; guest: number }>();
  const status = new Map<string, string>();
  let check = null as string[] | null; // set by onLine: not narrowed to null
  const end = await runEngine(cmd, args, {
    timeoutS: TIMEOUT_S,
    before: EXIT_MARKER,
    onLine: (line, now, run) => {
      const m = /HVM-DISK-([A-Z-]+) ([\d.]+)/.exec(line);
      if (m) marks.set(m[1]!, { host: now, guest: Number(m[2]) });
      const s = /^(DD-WRITE|DD-READ) (\d+)/.exec(line);
      if (s) status.set(s[1]!, s[2]!);
      const rr = /RANDREAD count=(\d+) usec=(\d+)/.exec(line);
      if (rr && Number(rr[2]) > 0) r.iops = Number(rr[1]) / (Number(rr[2]) / 1e6);
      const c = /^CHECK (\S+) (\S+)/.exec(line);
      if (c) check = [c[1]!, c[2]!];
      if (line.includes(EXIT_MARKER)) run.end();
    },
  });
  let reason = end.reason;
  const mb = MIB * 1048576 / 1e6;
  const rate = (a: string, b: string, k: 'host' | 'guest', passes: number): number | undefined => {
    const x = marks.get(a), y = marks.get(b);
    return x && y && y[k] > x[k] ? passes * mb / (y[k] - x[k]) : undefined;
  };
  r.write = rate('WRITE-BEGIN', 'WRITE-END', 'host', 1);
  r.read = rate('READ-BEGIN', 'READ-END', 'host', READ_PASSES);
  r.writeGuest = rate('WRITE-BEGIN', 'WRITE-END', 'guest', 1);
  r.readGuest = rate('READ-BEGIN', 'READ-END', 'guest', READ_PASSES);
  if (!reason) {
    if (r.write === undefined || r.read === undefined) reason = 'dd markers missing';
    else if (status.get('DD-WRITE') !== '0' || status.get('DD-READ') !== '0') reason = `dd exit status write ${status.get('DD-WRITE')} read ${status.get('DD-READ')}`;
    else if (r.iops === undefined) reason = 'no RANDREAD line from disk-io';
    else if (check === null || check[0] !== check[1]) reason = `the data read back differs (${check?.join(' != ') ?? 'no CHECK line'})`;
  }
  r.ok = reason === undefined;
  if (reason !== undefined) r.reason = end.explain(reason);
  return r;
}

/** Builds disk-io for i386 without libc; null and a reason when gcc cannot. */
function buildTool(dir: string): { path: string } | { why: string } {
  const out = join(dir, 'disk-io');
  const r = spawnSync('gcc', ['-m32', '-static', '-nostdlib', '-ffreestanding', '-fno-pic', '-no-pie', '-fno-stack-protector', '-O2',
    '-o', out, join(repoRoot, 'bench/programs/disk-io.c')], { encoding: 'utf8' });
  if (r.error !== undefined) return { why: `gcc not found (${r.error.message})` };
  if (r.status !== 0) return { why: `gcc -m32 failed: ${r.stderr.trim().split('\n')[0] ?? ''}` };
  return { path: out };
}

async function main(): Promise<number> {
  const guest = readCachedGuest(defaultCacheDir('i386'), 'i386');
  if (!guest) {
    process.stderr.write(`disk bench: no default guest in ${defaultCacheDir('i386')}; build it with \`node bin/hvm.js image build\`\n`);
    return 1;
  }
  const work = mkdtempSync(join(tmpdir(), 'hvm-bench-disk-'));
  try {
    const tool = buildTool(work);
    if ('why' in tool) {
      process.stderr.write(`disk bench: ${tool.why}\n`);
      return 1;
    }
    // The default initramfs plus the script and the program, for both engines.
    const initrd = join(work, 'initrd.img');
    writeFileSync(initrd, appendToInitrd(new Uint8Array(readFileSync(guest.initrd)), [
      { path: SCRIPT_PATH, data: Buffer.from(SCRIPT), mode: 0o755 },
      { path: TOOL_PATH, data: readFileSync(tool.path), mode: 0o755 },
    ]));
    const append = `${APPEND_BASE} hvm.cmd=${Buffer.from(`sh ${SCRIPT_PATH}\n`).toString('base64')}`;
    const formats = (process.env['HVM_BENCH_FORMATS'] ?? 'raw,qcow2').split(',').map((s) => s.trim()).filter((s) => s === 'raw' || s === 'qcow2');
    const want = new Set((process.env['HVM_BENCH_ENGINES'] ?? 'hvm,qemu').split(',').map((s) => s.trim()));
    let n = 0;
    const image = (format: string): string => {
      const p = join(work, `disk${n++}.${format}`);
      if (format === 'raw') {
        writeFileSync(p, '');
        truncateSync(p, DISK_MIB * 1048576);
      } else {
        const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', p, `${DISK_MIB}M`], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`qemu-img create failed: ${r.stderr.trim()}`);
      }
      return p;
    };
    const engines: { key: string; name: string; isHvm: boolean; skip: (format: string) => string | null; run: (format: string) => Promise<Run> }[] = [
      { key: 'hvm', name: 'hvm --accel soft', isHvm: true,
        skip: (f) => (f === 'qcow2' && findTool('qemu-img') === null ? 'qemu-img not on PATH (to create the image)' : null),
        run: (f) => runDisk(process.execPath, [hvmBin, 'run', '--accel', 'soft', '--quiet', '-m', '256M',
          '--kernel', guest.kernel, '--initrd', initrd, '--append', append, '--drive', `file=${image(f)},format=${f},index=0`]) },
      { key: 'qemu', name: 'qemu-system-i386 -accel tcg', isHvm: false,
        skip: () => missingTool('qemu-system-i386', 'qemu-system-x86'),
        run: (f) => runDisk('qemu-system-i386', ['-M', 'pc', '-accel', 'tcg', '-m', '256', '-display', 'none', '-vga', 'none',
          '-nic', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-kernel', guest.kernel, '-initrd', initrd,
          '-append', append, '-drive', `file=${image(f)},format=${f},if=ide,index=0`]) },
    ];

    process.stdout.write(`disk: PIIX3 IDE disk, ${MIB} MiB sequential write and ${READ_PASSES}x${MIB} MiB read (dd, O_DIRECT, 1 MiB blocks) and ${COUNT} random 4 KiB reads (O_DIRECT) in the default guest${QUICK ? ' (HVM_BENCH_QUICK)' : ''}\n`);
    const results = new Map<string, Run>();
    let hvmFailed = false;
    for (const f of formats) {
      for (const e of engines) {
        if (!want.has(e.key)) continue;
        const why = e.skip(f);
        if (why) { process.stdout.write(`  ${f} ${e.name}: skipped: ${why}\n`); continue; }
        const r = await e.run(f);
        results.set(`${f}/${e.key}`, r);
        if (!r.ok && e.isHvm) hvmFailed = true;
        const x = (v: number | undefined, unit: string): string => (v === undefined ? '-' : `${v.toFixed(1)} ${unit}`);
        process.stdout.write(`  ${f} ${e.name}: write ${x(r.write, 'MB/s')} (guest ${x(r.writeGuest, 'MB/s')}), read ${x(r.read, 'MB/s')} (guest ${x(r.readGuest, 'MB/s')}), random 4K ${x(r.iops, 'reads/s')}${r.ok ? '' : `  FAILED: ${r.reason}`}\n`);
      }
    }

    const s = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
    const rows: string[][] = [['format', 'engine', 'write MB/s', 'read MB/s', '4K reads/s', 'write hvm/QEMU', 'read hvm/QEMU', '4K hvm/QEMU']];
    for (const f of formats) {
      for (const e of engines) {
        const r = results.get(`${f}/${e.key}`);
        if (!r) continue;
        const q = results.get(`${f}/qemu`);
        rows.push([f, e.name, s(r.write), s(r.read), s(r.iops),
          e.isHvm ? ratio(r.write, q?.write) : '', e.isHvm ? ratio(r.read, q?.read) : '', e.isHvm ? ratio(r.iops, q?.iops) : '']);
      }
    }
    process.stdout.write(`\n${table(rows, 2)}\n`);
    process.stdout.write('ratios above 1x: hvm is faster\n');
    if (hvmFailed) process.stdout.write('hvm failed to run the work (see above)\n');
    return hvmFailed ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`disk bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
