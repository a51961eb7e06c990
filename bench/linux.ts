// One Linux job under three engines: the default i386 guest (same kernel, initrd and command line)
// boots and runs one script through hvm.cmd under `hvm --accel soft` (kernel decompressed on the
// host, and with --guest-decompress), QEMU's TCG (`qemu-system-i386 -accel tcg`) and v86 (the npm
// package, driven from Node in a child process). Per engine: boot time (process start →
// HVM-GUEST-READY on the serial console) and work time (host time between two serial markers the
// script prints around the work; the guest's own /proc/uptime difference is printed beside it).
//
//   npm run bench -- linux      HVM_BENCH_QUICK=1: 4 MiB instead of 32 MiB, a shorter loop
//                               HVM_BENCH_ENGINES=hvm,hvm-gd,qemu,v86 picks engines
//                               HVM_BENCH_LOOP=iterations of the shell loop (default 200000)
//                               HVM_BENCH_TIMEOUT=seconds per engine run (default 1800)
//
// Exits non-zero only if hvm itself fails to run the work.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, readCachedGuest, READY_MARKER } from '../src/guest/image-build.js';
import { envCount, hvmBin, missingTool, ratio, runEngine, table } from './support/engine.js';

const QUICK = process.env['HVM_BENCH_QUICK'] === '1';
const MIB = QUICK ? 4 : 32;
// The issue's benchmark: a busybox ash loop of 200000 iterations (long enough that every engine's
// compiled steady state dominates, not its warm-up).
const LOOP = envCount('HVM_BENCH_LOOP', QUICK ? 2_000 : 200_000);
const TIMEOUT_S = envCount('HVM_BENCH_TIMEOUT', 1800);
const BASE_APPEND = 'console=ttyS0 cryptomgr.notests';
const EXIT_MARKER = 'HVM-CMD-EXIT=';
const MEMORY = 256 * 1024 * 1024;

// The guest script: markers (with the guest's uptime) around an md5 of MIB MiB of zeros and a
// small shell integer loop. `read < /proc/uptime` keeps the markers to shell builtins.
const SCRIPT = [
  'read u x < /proc/uptime; echo "HVM-WORK-BEGIN $u"',
  `dd if=/dev/zero bs=1M count=${MIB} 2>/dev/null | md5sum`,
  'read u x < /proc/uptime; echo "HVM-WORK-MD5 $u"',
  `i=0; while [ $i -lt ${LOOP} ]; do i=$((i+1)); done; echo "loop $i"`,
  'read u x < /proc/uptime; echo "HVM-WORK-END $u"',
  '',
].join('\n');
const APPEND = `${BASE_APPEND} hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
const EXPECTED_MD5 = createHash('md5').update(Buffer.alloc(MIB * 1024 * 1024)).digest('hex');

interface Guest { kernel: string; initrd: string }

// ---------------------------------------------------------------------------------------------
// v86 child: `node dist/bench/linux.js --v86-child KERNEL INITRD APPEND` boots the guest under
// v86 and copies its serial console to stdout; exits when the guest prints HVM-CMD-EXIT.

async function v86Child(kernel: string, initrd: string, append: string): Promise<void> {
  const { V86 } = await import('v86');
  const require = createRequire(import.meta.url);
  const v86Dir = dirname(require.resolve('v86/package.json'));
  const buffer = (path: string): { buffer: ArrayBuffer } => {
    const b = readFileSync(path);
    return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
  };
  const emulator = new V86({
    wasm_path: join(v86Dir, 'build/v86.wasm'),
    memory_size: MEMORY,
    // The npm package ships no BIOS: Debian's SeaBIOS and its stdvga option ROM.
    bios: buffer('/usr/share/seabios/bios.bin'),
    vga_bios: buffer('/usr/share/seabios/vgabios-stdvga.bin'),
    bzimage: buffer(kernel),
    initrd: buffer(initrd),
    cmdline: append,
    autostart: true,
    disable_speaker: true,
  });
  let line = '';
  let out = '';
  const flush = (): void => { if (out) { process.stdout.write(out); out = ''; } };
  const timer = setInterval(flush, 50);
  emulator.add_listener('serial0-output-byte', (byte: number) => {
    const c = String.fromCharCode(byte);
    out += c;
    if (c !== '\n') { line += c; return; }
    if (line.includes(EXIT_MARKER)) {
      clearInterval(timer);
      flush();
      // Do not wait for the poweroff: the guest has finished the job.
      void emulator.destroy().finally(() => process.exit(0));
    }
    line = '';
  });
}

// ---------------------------------------------------------------------------------------------
// The parent: run each engine as a child process and time the serial markers.

interface Run {
  ok: boolean;
  reason?: string;
  boot?: number;          // s, process start → HVM-GUEST-READY
  work?: number;          // s, host time HVM-WORK-BEGIN → HVM-WORK-END
  md5?: number;           // s, host time HVM-WORK-BEGIN → HVM-WORK-MD5
  guestWork?: number;     // s, the guest's /proc/uptime difference BEGIN → END
}

async function runLinux(cmd: string, args: string[]): Promise<Run> {
  const r: Run = { ok: false };
  const marks = new Map<string, { host: number; guest: number }>();
  let sum = null as string | null; // set by onLine: not narrowed to null
  let status = null as string | null;
  const end = await runEngine(cmd, args, {
    timeoutS: TIMEOUT_S,
    before: EXIT_MARKER,
    // Give a guest that powers off a moment to do so; hvm's and v86's runs are ended here.
    graceMs: 3000,
    onLine: (line, now, run) => {
      if (r.boot === undefined && line.includes(READY_MARKER)) r.boot = now;
      const w = /HVM-WORK-(BEGIN|MD5|END) ([\d.]+)/.exec(line);
      if (w) marks.set(w[1]!, { host: now, guest: Number(w[2]) });
      const s = /^([0-9a-f]{32})\s+-/.exec(line.trim());
      if (s) sum = s[1]!;
      const x = line.indexOf(EXIT_MARKER);
      if (x >= 0) {
        status = line.slice(x + EXIT_MARKER.length).trim();
        run.end();
      }
    },
  });
  let reason = end.reason;
  const b = marks.get('BEGIN'), m = marks.get('MD5'), e = marks.get('END');
  if (!reason) {
    if (!b || !m || !e) reason = 'work markers missing';
    else if (status !== '0') reason = `script exit status ${status}`;
    else if (sum !== EXPECTED_MD5) reason = `md5 ${sum ?? '(none)'} != ${EXPECTED_MD5}`;
  }
  if (b && m && e) {
    r.work = e.host - b.host;
    r.md5 = m.host - b.host;
    r.guestWork = e.guest - b.guest;
  }
  r.ok = reason === undefined;
  if (reason !== undefined) r.reason = end.explain(reason);
  return r;
}

function findGuest(): Guest | null {
  return readCachedGuest(defaultCacheDir('i386'), 'i386');
}

function v86Missing(): string | null {
  try {
    createRequire(import.meta.url).resolve('v86/package.json');
  } catch {
    return 'the v86 npm package is not installed (npm install)';
  }
  for (const f of ['/usr/share/seabios/bios.bin', '/usr/share/seabios/vgabios-stdvga.bin']) {
    if (!existsSync(f)) return `${f} missing (Debian's seabios package)`;
  }
  return null;
}

async function main(): Promise<number> {
  const guest = findGuest();
  if (!guest) {
    process.stderr.write(`linux bench: no default guest in ${defaultCacheDir('i386')}; build it with \`node bin/hvm.js image build\`\n`);
    return 1;
  }
  const want = new Set((process.env['HVM_BENCH_ENGINES'] ?? 'hvm,hvm-gd,qemu,v86').split(',').map((s) => s.trim()));
  const hvmArgs = ['run', '--accel', 'soft', '--quiet', '-m', '256M', '--kernel', guest.kernel, '--initrd', guest.initrd, '--append', APPEND];
  const engines: { key: string; name: string; isHvm: boolean; skip: () => string | null; run: () => Promise<Run> }[] = [
    { key: 'hvm', name: 'hvm --accel soft', isHvm: true, skip: () => null,
      run: () => runLinux(process.execPath, [hvmBin, ...hvmArgs]) },
    { key: 'hvm-gd', name: 'hvm --accel soft --guest-decompress', isHvm: true, skip: () => null,
      run: () => runLinux(process.execPath, [hvmBin, ...hvmArgs, '--guest-decompress']) },
    { key: 'qemu', name: 'qemu-system-i386 -accel tcg', isHvm: false,
      skip: () => missingTool('qemu-system-i386', 'qemu-system-x86'),
      run: () => runLinux('qemu-system-i386', ['-M', 'pc', '-accel', 'tcg', '-m', '256', '-display', 'none', '-serial', 'stdio',
        '-monitor', 'none', '-no-reboot', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', APPEND]) },
    { key: 'v86', name: 'v86 (npm, wasm JIT)', isHvm: false, skip: v86Missing,
      run: () => runLinux(process.execPath, [fileURLToPath(import.meta.url), '--v86-child', guest.kernel, guest.initrd, APPEND]) },
  ];

  process.stdout.write(`linux: ${guest.kernel.split('/').pop()}, md5 of ${MIB} MiB + sh loop of ${LOOP}${QUICK ? ' (HVM_BENCH_QUICK)' : ''}; append "${BASE_APPEND} hvm.cmd=…"\n`);
  const results = new Map<string, Run>();
  let hvmFailed = false;
  for (const e of engines) {
    if (!want.has(e.key)) continue;
    const why = e.skip();
    if (why) { process.stdout.write(`  ${e.name}: skipped: ${why}\n`); continue; }
    const r = await e.run();
    results.set(e.key, r);
    if (!r.ok && e.isHvm) hvmFailed = true;
    const f = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)} s`);
    process.stdout.write(`  ${e.name}: boot ${f(r.boot)}, work ${f(r.work)} (md5 ${f(r.md5)}, loop ${r.work !== undefined && r.md5 !== undefined ? f(r.work - r.md5) : '-'}; guest uptime says ${f(r.guestWork)})${r.ok ? '' : `  FAILED: ${r.reason}`}\n`);
  }

  // The table.
  const q = results.get('qemu'), v = results.get('v86');
  const rows: string[][] = [['engine', 'boot s', 'work s', 'boot hvm/QEMU', 'work hvm/QEMU', 'boot hvm/v86', 'work hvm/v86']];
  for (const e of engines) {
    const r = results.get(e.key);
    if (!r) continue;
    const s = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2));
    rows.push([e.name, s(r.boot), s(r.work),
      e.isHvm ? ratio(r.boot, q?.boot) : '', e.isHvm ? ratio(r.work, q?.work) : '',
      e.isHvm ? ratio(r.boot, v?.boot) : '', e.isHvm ? ratio(r.work, v?.work) : '']);
  }
  process.stdout.write(`\n${table(rows)}\n`);
  process.stdout.write('boot: process start → HVM-GUEST-READY; work: host time between the guest\'s markers around md5 + loop\n');
  if (hvmFailed) process.stdout.write('hvm failed to run the work (see above)\n');
  return hvmFailed ? 1 : 0;
}

if (process.argv[2] === '--v86-child') {
  const [, , , kernel, initrd, append] = process.argv;
  v86Child(kernel!, initrd!, append!).catch((e: unknown) => {
    process.stderr.write(`v86: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
} else {
  main().then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`linux bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
