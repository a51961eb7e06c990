// The std VGA's text rendering against QEMU's (Debian's qemu-system-i386, -vga std): the same
// SeaBIOS and SeaVGABIOS run on both, and the rows of text both screens show ("SeaBIOS (version
// …)", "No bootable device.", "Boot failed: …") are drawn pixel for pixel alike — the font SeaVGABIOS
// loaded into plane 2, the 9-dot cells, the attribute palette and DAC. QEMU's screen comes from
// its monitor's `screendump` (PPM).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Vm } from '../../src/hypervisor/vm.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';
import { scratch } from '../support/asm.js';
import { until } from '../support/guest.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const QEMU = 'qemu-system-i386';
const noQemu = spawnSync(QEMU, ['--version']).status === 0 ? false : `${QEMU} is not installed (Debian qemu-system-x86)`;
const skip = existsSync(SEABIOS) ? noQemu : 'Debian seabios package missing';
const DONE = 'No bootable device.';

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
  const b = readFileSync(ppm);
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
  let text = '';
  let polling = true;
  await vm.start();
  const poll = (async (): Promise<void> => {
    for (let n = 0; polling && n < 10_000; n++) {
      text = (await vm.refreshDisplay()).text ?? '';
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    await until(() => text.includes(DONE), 240_000, 'SeaBIOS to give up on hvm', () => text);
    polling = false;
    await poll;
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
    polling = false;
    await poll.catch(() => {});
    await vm.stop().catch(() => {});
  }
});
