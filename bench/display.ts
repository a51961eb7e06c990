// Full-screen display updates over VNC, against QEMU: one boot sector (bench/programs/vbe-fill.asm)
// that sets the Bochs VBE mode 1024x768x32 on the standard VGA (1234:1111) and redraws the
// whole linear framebuffer in a loop, booted by SeaBIOS from an IDE disk under `hvm run --vga std
// --vnc` and `qemu-system-i386 -M pc -vga std -vnc` (same card, same VNC, same RAM, the soft CPU
// against TCG — and hvm KVM against QEMU KVM where /dev/kvm opens). A raw RFB client asks for
// 32-bpp true colour and Raw (then zlib) encoding (CopyRect listed too, as viewers do), keeps one incremental FramebufferUpdateRequest
// outstanding, and over a fixed window counts full-screen frames (updates covering >= 90% of the
// screen) and bytes, while the VMM's host CPU time (utime + stime of its process tree, from
// /proc) gives CPU ms per frame.
//
//   npm run bench -- display           quick: 4 s per run; HVM_LONG=1: 20 s per run
//                                      HVM_BENCH_ACCELS=soft,kvm   (soft = hvm soft vs QEMU TCG)
//                                      HVM_BENCH_ENCODINGS=raw,zlib
//
// Exits non-zero only if hvm itself fails to deliver a 1024x768 frame.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, repoRoot } from '../test/support/asm.js';
import { missingTool, ratio } from './support/engine.js';

const LONG = process.env['HVM_LONG'] === '1';
const WINDOW_S = LONG ? 20 : 4;
const WARMUP_S = 1;
const BOOT_TIMEOUT_S = 180;
const WIDTH = 1024;
const HEIGHT = 768;
const MEMORY_MIB = 64;
const ENCODINGS: Record<string, number> = { raw: 0, zlib: 6 };
const ENC_DESKTOP_SIZE = -223;
const ENC_COPY_RECT = 1;

/** The counting RFB client: parses the server's stream without decoding pixels. */
class FrameCounter {
  private chunks: Buffer[] = [];
  private avail = 0;
  private waiters: Array<() => void> = [];
  private ended = false;
  private streaming = false;
  private state: 'msg' | 'fbhdr' | 'rect' | 'zlen' | 'skip' | 'cmap' | 'cut' = 'msg';
  private skipLeft = 0;
  /** After a skip: the end of a rectangle, or of a non-update message. */
  private skipEndsRect = true;
  private rectsLeft = 0;
  private area = 0;
  width = 0;
  height = 0;
  updates = 0;
  fullFrames = 0;
  /** Pixels updated, counted over all rectangles of all updates. */
  pixels = 0;
  bytes = 0;
  error: string | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.chunks.push(d);
      this.avail += d.length;
      if (this.streaming) this.parse(); else this.wake();
    });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Takes n bytes off the front (they must be available). */
  private take(n: number): Buffer {
    const out = Buffer.alloc(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
    }
    this.avail -= n;
    return out;
  }

  /** Drops up to n bytes; returns how many were dropped. */
  private drop(n: number): number {
    let left = n;
    while (left > 0 && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) { left -= c.length; this.chunks.shift(); } else { this.chunks[0] = c.subarray(left); left = 0; }
    }
    this.avail -= n - left;
    return n - left;
  }

  private async read(n: number): Promise<Buffer> {
    const t0 = Date.now();
    while (this.avail < n) {
      if (this.ended) throw new Error('server closed the connection');
      if (Date.now() - t0 > 30_000) throw new Error('read timed out');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 500); });
    }
    return this.take(n);
  }

  /** Connects (retrying while the VMM starts) and completes the RFB 3.8 handshake with security None. */
  static async connect(port: number, deadline: number): Promise<FrameCounter> {
    for (;;) {
      try {
        const socket = net.connect(port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
        socket.setNoDelay(true);
        const c = new FrameCounter(socket);
        await c.handshake();
        return c;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private async handshake(): Promise<void> {
    const version = (await this.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`server version ${JSON.stringify(version)}`);
    this.socket.write('RFB 003.008\n');
    const n = (await this.read(1))[0]!;
    if (n === 0) throw new Error('server refused the connection');
    if (![...(await this.read(n))].includes(1)) throw new Error('server wants authentication');
    this.socket.write(Buffer.from([1]));
    if ((await this.read(4)).readUInt32BE(0) !== 0) throw new Error('security handshake failed');
    this.socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await this.read(24);
    await this.read(init.readUInt32BE(20));
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
  }

  /** SetPixelFormat (32 bpp, depth 24, little-endian true colour 0x00RRGGBB), SetEncodings, first request. */
  start(encoding: number): void {
    const pf = Buffer.alloc(20);
    pf[0] = 0;
    pf[4] = 32; pf[5] = 24; pf[6] = 0; pf[7] = 1;
    pf.writeUInt16BE(255, 8); pf.writeUInt16BE(255, 10); pf.writeUInt16BE(255, 12);
    pf[14] = 16; pf[15] = 8; pf[16] = 0;
    // CopyRect too, as every viewer lists it (QEMU never sends it; hvm looks for moved rows).
    const encs = [encoding, ENC_COPY_RECT, ENC_DESKTOP_SIZE];
    const se = Buffer.alloc(4 + 4 * encs.length);
    se[0] = 2;
    se.writeUInt16BE(encs.length, 2);
    encs.forEach((e, i) => se.writeInt32BE(e, 4 + 4 * i));
    this.socket.write(Buffer.concat([pf, se]));
    this.streaming = true;
    this.request(false);
    this.parse();
  }

  private request(incremental: boolean): void {
    const b = Buffer.alloc(10);
    b[0] = 3; b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(this.width, 6);
    b.writeUInt16BE(this.height, 8);
    this.socket.write(b);
  }

  private endRect(): void {
    if (--this.rectsLeft > 0) { this.state = 'rect'; return; }
    this.endUpdate();
  }

  private endUpdate(): void {
    this.updates++;
    this.pixels += this.area;
    if (this.area >= 0.9 * this.width * this.height && this.width === WIDTH && this.height === HEIGHT) this.fullFrames++;
    this.state = 'msg';
    this.request(true);
  }

  private parse(): void {
    try {
      for (;;) {
        switch (this.state) {
          case 'msg': {
            if (this.avail < 1) return;
            const type = this.take(1)[0]!;
            if (type === 0) this.state = 'fbhdr';
            else if (type === 1) this.state = 'cmap';
            else if (type === 3) this.state = 'cut';
            else if (type !== 2) throw new Error(`unexpected server message ${type}`);
            break;
          }
          case 'fbhdr': {
            if (this.avail < 3) return;
            this.rectsLeft = this.take(3).readUInt16BE(1);
            this.area = 0;
            if (this.rectsLeft === 0) this.endUpdate(); else this.state = 'rect';
            break;
          }
          case 'rect': {
            if (this.avail < 12) return;
            const r = this.take(12);
            const w = r.readUInt16BE(4), h = r.readUInt16BE(6), enc = r.readInt32BE(8);
            if (enc === ENC_DESKTOP_SIZE) { this.width = w; this.height = h; this.endRect(); break; }
            this.area += w * h;
            this.skipEndsRect = true;
            if (enc === 0) { this.skipLeft = w * h * 4; this.state = 'skip'; } else if (enc === 6) this.state = 'zlen';
            else if (enc === ENC_COPY_RECT) { this.skipLeft = 4; this.state = 'skip'; }
            else throw new Error(`unexpected encoding ${enc}`);
            break;
          }
          case 'zlen': {
            if (this.avail < 4) return;
            this.skipLeft = this.take(4).readUInt32BE(0);
            this.state = 'skip';
            break;
          }
          case 'skip': {
            this.skipLeft -= this.drop(this.skipLeft);
            if (this.skipLeft > 0) return;
            if (this.skipEndsRect) this.endRect(); else this.state = 'msg';
            break;
          }
          case 'cmap': {
            if (this.avail < 5) return;
            this.skipLeft = 6 * this.take(5).readUInt16BE(3);
            this.skipEndsRect = false;
            this.state = 'skip';
            break;
          }
          case 'cut': {
            if (this.avail < 7) return;
            this.skipLeft = this.take(7).readUInt32BE(3);
            this.skipEndsRect = false;
            this.state = 'skip';
            break;
          }
        }
      }
    } catch (e) {
      this.error = (e as Error).message;
      this.socket.destroy();
    }
  }

  get closed(): boolean { return this.ended; }
  close(): void { this.socket.destroy(); }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** utime + stime (seconds) of pid and its descendants. */
function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
      stats.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* exited meanwhile */ }
  }
  let ticks = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    ticks += stats.get(p)?.ticks ?? 0;
    for (const [c, s] of stats) if (s.ppid === p) todo.push(c);
  }
  return ticks / CLK_TCK;
}

/** A free VNC display number (port 5900+N on loopback). */
async function freeDisplay(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const n = 30 + Math.floor(Math.random() * 60);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(5900 + n, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return n;
  }
  throw new Error('no free VNC port in 5930-5989');
}

interface Result { ok: boolean; reason?: string; fps: number; screensPerS: number; updatesPerS: number; mbPerS: number; cpuMsPerFrame: number; cpuCores: number }

async function measure(cmd: string, args: (display: number) => string[], encoding: number): Promise<Result> {
  const display = await freeDisplay();
  const child: ChildProcess = spawn(cmd, args(display), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { stderr = (stderr + s).slice(-1000); });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const fail = (reason: string): Result => ({ ok: false, reason: `${reason}${stderr.trim() ? ` (stderr: ${stderr.trim()})` : ''}`, fps: 0, screensPerS: 0, updatesPerS: 0, mbPerS: 0, cpuMsPerFrame: 0, cpuCores: 0 });
  let c: FrameCounter | null = null;
  try {
    const deadline = Date.now() + BOOT_TIMEOUT_S * 1000;
    c = await FrameCounter.connect(5900 + display, deadline);
    c.start(encoding);
    // Up: the guest has set 1024x768 and a full frame has arrived.
    while (c.fullFrames < 1) {
      if (c.error) return fail(`client: ${c.error}`);
      if (c.closed || exited) return fail('connection closed before the first 1024x768 frame');
      if (Date.now() > deadline) return fail(`no full 1024x768 frame in ${BOOT_TIMEOUT_S} s (screen ${c.width}x${c.height})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const f0 = c.fullFrames, p0 = c.pixels, u0 = c.updates, b0 = c.bytes, cpu0 = treeCpuSeconds(child.pid!), t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const f1 = c.fullFrames, p1 = c.pixels, u1 = c.updates, b1 = c.bytes, cpu1 = treeCpuSeconds(child.pid!), t1 = performance.now();
    if (c.error) return fail(`client: ${c.error}`);
    const s = (t1 - t0) / 1000;
    const frames = f1 - f0;
    return {
      ok: true, fps: frames / s, screensPerS: (p1 - p0) / (WIDTH * HEIGHT) / s, updatesPerS: (u1 - u0) / s, mbPerS: (b1 - b0) / s / 2 ** 20,
      cpuMsPerFrame: frames > 0 ? ((cpu1 - cpu0) * 1000) / frames : Infinity, cpuCores: (cpu1 - cpu0) / s,
    };
  } catch (e) {
    return fail((e as Error).message);
  } finally {
    c?.close();
    child.kill('SIGKILL');
    if (!exited) await new Promise((r) => child.once('exit', r));
  }
}

function kvmUsable(): boolean {
  try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); return true; } catch { return false; }
}

async function main(): Promise<number> {
  const accels = (process.env['HVM_BENCH_ACCELS'] ?? (kvmUsable() ? 'soft,kvm' : 'soft')).split(',').map((s) => s.trim()).filter((s) => s);
  const encodings = (process.env['HVM_BENCH_ENCODINGS'] ?? 'raw,zlib').split(',').map((s) => s.trim()).filter((s) => s);
  for (const e of encodings) if (!(e in ENCODINGS)) throw new Error(`HVM_BENCH_ENCODINGS: "${e}" is not raw or zlib`);
  for (const a of accels) if (a !== 'soft' && a !== 'kvm') throw new Error(`HVM_BENCH_ACCELS: "${a}" is not soft or kvm`);
  const noQemu = missingTool('qemu-system-i386', 'qemu-system-x86');

  const work = mkdtempSync(join(tmpdir(), 'hvm-bench-display-'));
  const sector = readFileSync(assemble('bench/programs/vbe-fill.asm'));
  const disk = join(work, 'disk.img');
  const img = Buffer.alloc(1 << 20);
  sector.copy(img, 0);
  writeFileSync(disk, img);

  const hvmArgs = (accel: string) => (n: number): string[] => [join(repoRoot, 'bin/hvm.js'), 'run', '--firmware', 'bios', '--accel', accel,
    '--quiet', '-m', `${MEMORY_MIB}M`, '--vga', 'std', '--vnc', `:${n}`, '--drive', `file=${disk},format=raw,if=ide,index=0`];
  const qemuArgs = (accel: string) => (n: number): string[] => ['-M', 'pc', '-accel', accel === 'kvm' ? 'kvm' : 'tcg', '-m', String(MEMORY_MIB),
    '-nodefaults', '-vga', 'std', '-vnc', `127.0.0.1:${n}`, '-serial', 'null', '-monitor', 'none', '-no-reboot',
    '-drive', `file=${disk},format=raw,if=ide,index=0`];

  process.stdout.write(`display: VBE 1024x768x32 full-screen redraw loop (bench/programs/vbe-fill.asm) over VNC, ${WINDOW_S} s per run${LONG ? '' : ' (quick; HVM_LONG=1 for 20 s)'}\n`);
  process.stdout.write('warning: the numbers mean something only on a quiet machine (the guest, the VMM and this client share the host CPUs)\n');
  const rows: string[][] = [['engines', 'enc', 'hvm fps', 'QEMU fps', 'fps hvm/QEMU', 'hvm CPU ms/frame', 'QEMU CPU ms/frame', 'CPU/frame hvm/QEMU', 'hvm screens/s', 'QEMU screens/s']];
  let hvmFailed = false;
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  try {
    for (const accel of accels) {
      for (const enc of encodings) {
        const label = accel === 'soft' ? 'soft vs TCG' : 'KVM vs KVM';
        const h = await measure(process.execPath, hvmArgs(accel), ENCODINGS[enc]!);
        if (!h.ok) hvmFailed = true;
        process.stdout.write(`  hvm --accel ${accel} ${enc}: ${h.ok ? `${f(h.fps)} fps (${f(h.updatesPerS)} updates/s, ${f(h.screensPerS)} screens' worth of pixels/s), ${f(h.cpuMsPerFrame)} CPU ms/frame, ${f(h.cpuCores * 1000 / h.screensPerS)} CPU ms/screen of pixels, ${f(h.cpuCores, 2)} cores busy, ${f(h.mbPerS)} MB/s` : `FAILED: ${h.reason}`}\n`);
        let q: Result | null = null;
        if (noQemu === null) {
          q = await measure('qemu-system-i386', qemuArgs(accel), ENCODINGS[enc]!);
          process.stdout.write(`  qemu -accel ${accel === 'kvm' ? 'kvm' : 'tcg'} ${enc}: ${q.ok ? `${f(q.fps)} fps (${f(q.updatesPerS)} updates/s, ${f(q.screensPerS)} screens' worth of pixels/s), ${f(q.cpuMsPerFrame)} CPU ms/frame, ${f(q.cpuCores * 1000 / q.screensPerS)} CPU ms/screen of pixels, ${f(q.cpuCores, 2)} cores busy, ${f(q.mbPerS)} MB/s` : `FAILED: ${q.reason}`}\n`);
        } else {
          process.stdout.write(`  qemu: skipped: ${noQemu}\n`);
        }
        const qo = q?.ok ? q : null;
        rows.push([label, enc, h.ok ? f(h.fps) : 'FAIL', qo ? f(qo.fps) : '-', h.ok ? ratio(h.fps, qo?.fps) : '-',
          h.ok ? f(h.cpuMsPerFrame) : '-', qo ? f(qo.cpuMsPerFrame) : '-', h.ok ? ratio(h.cpuMsPerFrame, qo?.cpuMsPerFrame) : '-',
          h.ok ? f(h.screensPerS) : '-', qo ? f(qo.screensPerS) : '-']);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`\n${rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n')}\n`);
  process.stdout.write('fps: FramebufferUpdates covering >= 90% of 1024x768, one incremental request outstanding; CPU: utime+stime of the VMM process tree over the window / frames (goal: fps >= QEMU)\n');
  process.stdout.write('screens/s: pixels in all updates / (1024*768) per second (counts partial updates too: where the guest draws slower than the server refreshes, e.g. KVM nested without EPT, fps can be 0 while screens/s is not)\n');
  let load = '';
  try { load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' '); } catch { /* not Linux */ }
  if (load) process.stdout.write(`host load average: ${load}\n`);
  return hvmFailed ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`display bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
