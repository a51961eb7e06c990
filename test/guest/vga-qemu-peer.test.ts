// The std VGA's text rendering against QEMU's (Debian's qemu-system-i386, -vga std): the same
// SeaBIOS and SeaVGABIOS run on both, and the rows of text both screens show ("SeaBIOS (version
// …)", "No bootable device.", "Boot failed: …") are drawn pixel for pixel alike — the font SeaVGABIOS
// loaded into plane 2, the 9-dot cells, the attribute palette and DAC. QEMU's screen comes from
// its monitor's `screendump` (PPM).
//
// Then a boot sector (programs/vga-cga-split.asm) runs on both and draws, through SeaVGABIOS and
// the ports, modes 4 and 5 (CGA 4-colour, interleaved banks), mode 6 (CGA 2-colour), and modes
// 4, 0Dh, 12h, 13h and text with a moved start address and a line compare split: each screen
// equals QEMU's. (QEMU 7.2 ignores pel panning and the preset row scan in these modes, so those
// are tested against the VGA reference in src/devices/display/std-vga.test.ts instead.) QEMU doubles the pixels of the low-resolution modes (its 640x400 for mode 4 or
// 13h); hvm draws them at the mode's own resolution, so hvm's pixel (x, y) is compared with
// QEMU's block at (x*sx, y*sy), all of whose pixels must be alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Vm } from '../../src/hypervisor/vm.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';
import type { DisplayFrame } from '../../src/devices/display/frame.js';
import { scratch } from '../support/asm.js';
import { bootSectorVm, SEABIOS } from '../support/seabios-disk.js';
import { ScreenText, until } from '../support/guest.js';

const QEMU = 'qemu-system-i386';
const noQemu = spawnSync(QEMU, ['--version']).status === 0 ? false : `${QEMU} is not installed (Debian qemu-system-x86)`;
const skip = existsSync(SEABIOS) ? noQemu : 'Debian seabios package missing';
const DONE = 'No bootable device.';

interface Screen { width: number; height: number; pixels: Uint32Array }

/** A PPM (P6, maxval 255) as width, height and 0xRRGGBB pixels. */
function readPpm(path: string): Screen {
  const b = readFileSync(path);
  // P6\n<w> <h>\n255\n then RGB bytes.
  let at = 0;
  const fields: string[] = [];
  while (fields.length < 4 && at < 64) {
    let s = '';
    while (at < b.length && /\s/.test(String.fromCharCode(b[at]!))) at++;
    while (at < b.length && !/\s/.test(String.fromCharCode(b[at]!))) s += String.fromCharCode(b[at++]!);
    fields.push(s);
  }
  at++;
  const width = Number(fields[1]), height = Number(fields[2]);
  const pixels = new Uint32Array(width * height);
  for (let i = 0; i < width * height; i++) pixels[i] = (b[at + 3 * i]! << 16) | (b[at + 3 * i + 1]! << 8) | b[at + 3 * i + 2]!;
  return { width, height, pixels };
}

/** QEMU with -vga std until SeaBIOS gives up, then its screen as width, height and 0xRRGGBB pixels. */
async function qemuScreen(): Promise<{ width: number; height: number; pixels: Uint32Array }> {
  const log = scratch('qemu-seabios-debug.log');
  const ppm = scratch('qemu-screen.ppm');
  rmSync(log, { force: true });
  rmSync(ppm, { force: true });
  const q = spawn(QEMU, ['-machine', 'pc', '-accel', 'tcg', '-m', '128', '-nodefaults', '-vga', 'std', '-display', 'none',
    '-monitor', 'stdio', '-boot', 'reboot-timeout=-1', '-chardev', `file,id=dbg,path=${log}`,
    '-device', 'isa-debugcon,iobase=0x402,chardev=dbg'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await until(() => existsSync(log) && readFileSync(log, 'latin1').includes(DONE), 60_000, 'QEMU\'s SeaBIOS to give up');
    await new Promise((r) => setTimeout(r, 500)); // the text reaches the screen before the log line
    q.stdin.write(`screendump ${ppm}\n`);
    await until(() => existsSync(ppm) && readFileSync(ppm).length > 720 * 400 * 3, 20_000, 'QEMU\'s screendump');
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    q.stdin.write('quit\n');
    setTimeout(() => q.kill('SIGKILL'), 3000).unref();
  }
  return readPpm(ppm);
}

/** Where hvm's row `row` first differs from QEMU's row `row` (for the failure message). */
function firstDiff(ours: Uint32Array, theirs: Uint32Array, row: number): string {
  for (let i = row * 16 * 720; i < (row + 1) * 16 * 720; i++) {
    if (ours[i] !== theirs[i]) return ` (same row in QEMU first differs at x=${i % 720} y=${Math.floor(i / 720)}: hvm ${ours[i]!.toString(16)}, QEMU ${theirs[i]!.toString(16)})`;
  }
  return ' (identical to QEMU\'s same row)';
}

/** The 16-pixel text row `row` of a 720-wide screen, as one string key. */
function band(pixels: Uint32Array, row: number): string {
  return Array.from(pixels.subarray(row * 16 * 720, (row + 1) * 16 * 720)).join(',');
}

test('SeaBIOS text on the std VGA matches QEMU\'s rendering pixel for pixel', { skip, timeout: 300_000 }, async () => {
  const q = await qemuScreen();
  assert.equal(`${q.width}x${q.height}`, '720x400', 'QEMU is in 80x25 text too');

  const image = new Uint8Array(readFileSync(SEABIOS));
  const vm = await Vm.create({
    memoryBytes: 128 * 2 ** 20, cpus: 1, accel: 'soft', romBytes: image.length, vga: 'std',
    boot: (ram, cpus) => Array.from({ length: cpus }, () => loadFirmwareImage(ram, image)),
  });
  await vm.start();
  const screen = new ScreenText(vm);
  try {
    await until(() => screen.text.includes(DONE), 240_000, 'SeaBIOS to give up on hvm', () => screen.text);
    await screen.stop();
    const f = await vm.refreshDisplay(true);
    assert.equal(`${f.width}x${f.height}`, '720x400');
    const qemuRows = new Set(Array.from({ length: 25 }, (_, r) => band(q.pixels, r)));
    const lines = (f.text ?? '').split('\n');
    const wanted = [/^SeaBIOS \(version/, /^No bootable device\.$/, /^Boot failed: could not read the boot disk$/];
    for (const re of wanted) {
      const row = lines.findIndex((l) => re.test(l));
      assert.ok(row >= 0, `hvm's screen has ${re}:\n${f.text}`);
      assert.ok(qemuRows.has(band(f.pixels, row)), `row ${row} "${lines[row]}" is drawn exactly as QEMU draws it${firstDiff(f.pixels, q.pixels, row)}`);
    }
    // An empty row is the same black on both.
    assert.ok(qemuRows.has(band(f.pixels, 24)), 'an empty row matches');
  } finally {
    await screen.stop();
    await vm.stop().catch(() => {});
  }
});

/** The boot sector's screens, in order: the letter it prints after drawing each. */
const SCREENS = [
  { mark: 'A', what: 'mode 4 (320x200, 4 colours, CGA banks), start a line pair down, split at scan line 203', size: '320x200' },
  { mark: 'B', what: 'mode 6 (640x200, 2 colours, CGA banks)', size: '640x200' },
  { mark: 'C', what: 'mode 12h, start 16 lines down, split at scan line 300', size: '640x480' },
  { mark: 'D', what: 'mode 13h, start 8 lines down, split at scan line 319', size: '320x200' },
  { mark: 'E', what: '80x25 text, start 3 rows down, split at scan line 197', size: '720x400' },
  { mark: 'F', what: 'mode 0Dh (320x200, 16 colours), start 8 lines down, split at scan line 201', size: '320x200' },
  { mark: 'G', what: 'mode 5 (mode 4 with its other palette)', size: '320x200' },
];

/** Boots `disk` in QEMU (-vga std) and takes a screendump at each of the program's marks. */
async function qemuProgramScreens(disk: string): Promise<Screen[]> {
  const fifo = scratch('qemu-serial');
  for (const end of ['.in', '.out']) {
    rmSync(fifo + end, { force: true });
    assert.equal(spawnSync('mkfifo', [fifo + end]).status, 0, 'mkfifo');
  }
  const q = spawn(QEMU, ['-machine', 'pc', '-accel', 'tcg', '-m', '64', '-nodefaults', '-vga', 'std', '-display', 'none',
    '-monitor', 'stdio', '-snapshot', '-drive', `file=${disk},format=raw,if=ide`,
    '-chardev', `pipe,id=s0,path=${fifo}`, '-serial', 'chardev:s0'], { stdio: ['pipe', 'ignore', 'ignore'] });
  // QEMU opens both FIFOs read-write, so these opens do not wait for it.
  const serialOut = new Socket({ fd: openSync(`${fifo}.out`, constants.O_RDWR | constants.O_NONBLOCK), readable: true });
  const serialIn = openSync(`${fifo}.in`, constants.O_RDWR | constants.O_NONBLOCK);
  let serial = '';
  serialOut.on('data', (d: Buffer) => { serial += d.toString('latin1'); });
  const screens: Screen[] = [];
  try {
    for (const s of SCREENS) {
      await until(() => serial.includes(`VGA-${s.mark}`), 90_000, `QEMU: ${s.what}`, () => serial);
      await new Promise((r) => setTimeout(r, 300));
      const ppm = scratch(`qemu-${s.mark}.ppm`);
      rmSync(ppm, { force: true });
      q.stdin.write(`screendump ${ppm}\n`);
      await until(() => existsSync(ppm) && readFileSync(ppm).length >= 640 * 400 * 3, 20_000, `QEMU's screendump of ${s.what}`);
      await new Promise((r) => setTimeout(r, 300));
      screens.push(readPpm(ppm));
      writeSync(serialIn, 'x');
    }
  } finally {
    q.stdin.write('quit\n');
    setTimeout(() => q.kill('SIGKILL'), 3000).unref();
    serialOut.destroy();
    closeSync(serialIn);
  }
  return screens;
}

/** Where hvm's frame and QEMU's screen (scaled by whole factors) first differ, or null when they are alike. */
function screenDiff(f: DisplayFrame, q: Screen): string | null {
  const sx = q.width / f.width, sy = q.height / f.height;
  if (!Number.isInteger(sx) || !Number.isInteger(sy)) return `sizes ${f.width}x${f.height} and ${q.width}x${q.height} are not whole multiples`;
  let bad = 0;
  let first = '';
  for (let y = 0; y < q.height; y++) {
    for (let x = 0; x < q.width; x++) {
      const ours = f.pixels[Math.floor(y / sy) * f.width + Math.floor(x / sx)]!, theirs = q.pixels[y * q.width + x]!;
      if (ours !== theirs && bad++ === 0) first = `QEMU (${x},${y}) = ${theirs.toString(16)}, hvm (${Math.floor(x / sx)},${Math.floor(y / sy)}) = ${ours.toString(16)}`;
    }
  }
  return bad === 0 ? null : `${bad} QEMU pixels differ; first: ${first}`;
}

test('CGA modes 4-6, start address and line compare in modes 4, 0Dh, 12h, 13h and text match QEMU pixel for pixel', { skip, timeout: 600_000 }, async () => {
  const { vm, disk, serial } = await bootSectorVm('test/guest/programs/vga-cga-split.asm');
  const theirs = await qemuProgramScreens(disk);
  await vm.start();
  const show = (): string => serial().slice(-500);
  const failures: string[] = [];
  try {
    for (const [i, s] of SCREENS.entries()) {
      await until(() => serial().includes(`VGA-${s.mark}`), i === 0 ? 240_000 : 90_000, `hvm: ${s.what}`, show);
      const f = await vm.refreshDisplay(true);
      assert.equal(`${f.width}x${f.height}`, s.size, s.what);
      assert.ok(new Set(f.pixels).size >= 2, `${s.what}: the pattern shows`);
      const d = screenDiff(f, theirs[i]!);
      if (d !== null) failures.push(`${s.what}: ${d}`);
      vm.sendInput('serial0', Uint8Array.of(0x78));
    }
  } finally {
    await vm.stop().catch(() => {});
  }
  assert.deepEqual(failures, [], 'every screen is QEMU\'s');
});
