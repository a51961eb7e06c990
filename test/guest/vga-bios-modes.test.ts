// Graphics modes set through the VGA BIOS (SeaVGABIOS on the std VGA, soft CPU): a boot sector
// from the IDE disk sets mode 13h and draws a pixel, then VBE mode 101h (640x480x8) with pixels
// in the first and, through the VBE window-bank call, the second 64 KiB bank. The frames the
// device model renders show those pixels in the BIOS palette's colour 4 (0xA80000) and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Vm } from '../../src/hypervisor/vm.js';
import type { DisplayFrame } from '../../src/devices/display/frame.js';
import { until } from '../support/guest.js';
import { bootSectorVm, SEABIOS } from '../support/seabios-disk.js';

const skip = existsSync(SEABIOS) ? false : 'Debian seabios package missing (scripts/setup.sh installs it)';
const RED = 0xa80000; // DAC (0x2A, 0, 0), widened to 8 bits as QEMU does

/** Polls frames until one is `w`x`h` (bounded), and returns it. */
async function frameOfSize(vm: Vm, w: number, h: number, what: () => string): Promise<DisplayFrame> {
  let f = await vm.refreshDisplay(true);
  for (let n = 0; n < 300 && (f.width !== w || f.height !== h); n++) {
    await new Promise((r) => setTimeout(r, 100));
    f = await vm.refreshDisplay();
  }
  assert.equal(`${f.width}x${f.height}`, `${w}x${h}`, what());
  return f;
}

/** The pixels that are not black, as "x,y=colour". */
function lit(f: DisplayFrame): string[] {
  const out: string[] = [];
  for (let i = 0; i < f.width * f.height && out.length < 20; i++) {
    if (f.pixels[i] !== 0) out.push(`${i % f.width},${Math.floor(i / f.width)}=${f.pixels[i]!.toString(16)}`);
  }
  return out;
}

test('mode 13h and VBE 640x480x8 (banked window) set by SeaVGABIOS show the pixels drawn', { skip, timeout: 300_000 }, async () => {
  const { vm, serial } = await bootSectorVm('test/guest/programs/vga-modes.asm');
  const exited = vm.waitForExit();
  await vm.start();
  const show = (): string => serial().slice(-1500);
  try {
    await until(() => serial().includes('VGA-MODE13-DRAWN'), 240_000, 'mode 13h', show);
    const f13 = await frameOfSize(vm, 320, 200, show);
    assert.equal(f13.text, null);
    assert.deepEqual(lit(f13), [`10,3=${RED.toString(16)}`]);
    vm.sendInput('serial0', Uint8Array.of(0x20));
    await until(() => serial().includes('VGA-VBE101-DRAWN') || serial().includes('VGA-VBE-FAILED'), 60_000, 'VBE mode 101h', show);
    assert.ok(!serial().includes('VGA-VBE-FAILED'), show());
    const fv = await frameOfSize(vm, 640, 480, show);
    assert.deepEqual(lit(fv), [`7,5=${RED.toString(16)}`, `256,102=${RED.toString(16)}`]);
    vm.sendInput('serial0', Uint8Array.of(0x20));
    const exit = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit: ${show()}`)), 60_000).unref())]);
    assert.equal(exit.status, (0x2d << 1) | 1);
  } finally {
    await vm.stop().catch(() => {});
  }
});
