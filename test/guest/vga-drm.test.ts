// Linux's DRM drivers for both cards (soft CPU), one boot each:
//  - bochs on the std VGA: it finds the DISPI registers through the MMIO BAR and sets 1024x768
//    at 32 bpp with the framebuffer in BAR0;
//  - cirrus on the CL-GD5446: it programs the CRTC, SR7 and the hidden DAC through the MMIO BAR
//    (BAR1) and sets 1024x768 at 16 bpp (5-6-5) with the framebuffer in BAR0.
// fbcon takes the console over from vgacon. A command's output written to tty1 then shows up in
// the frame the device model renders: the glyphs of "FBCON 42" at the top left, pixel for pixel
// the 8x16 VGA font (Linux's font_vga_8x16 is the IBM VGA font the VGA BIOSes also carry).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Vm } from '../../src/hypervisor/vm.js';
import { machines } from '../../src/machine/pc.js';
import { findFont8x16 } from '../../src/devices/display/vga-pci.js';
import { CIRRUS_VGA_ROM, STD_VGA_ROM } from '../../src/machine/display.js';
import type { DisplayFrame } from '../../src/devices/display/frame.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';

const LINE = 'FBCON 42';
const SCRIPT = `
i=0; while [ ! -e /dev/fb0 ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
echo "FB-NAME $(cat /sys/class/graphics/fb0/name)"
echo "FB-SIZE $(cat /sys/class/graphics/fb0/virtual_size) $(cat /sys/class/graphics/fb0/bits_per_pixel)"
# Clear tty1 (the console fbcon shows), hide its cursor, and print one line at the top.
printf '\\033[?25l\\033[2J\\033[H' > /dev/tty1
echo "FBCON $((6 * 7))" > /dev/tty1
echo HVM-FB-WRITTEN
sleep 600
`;

/** Whether row-0 glyph pixels of `text` at 8x16 match `font` exactly (lit = not background). */
function glyphsMatch(f: DisplayFrame, font: Uint8Array, text: string): { ok: boolean; lit: number } {
  const bg = f.pixels[f.width * 200 + 500]!; // an empty part of the screen
  let ok = true;
  let lit = 0;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 8 * (text.length + 4); x++) {
      const c = x >> 3;
      const code = c < text.length ? text.charCodeAt(c) : 0x20;
      const want = (font[code * 16 + y]! & (0x80 >> (x & 7))) !== 0;
      const got = f.pixels[y * f.width + x] !== bg;
      if (got) lit++;
      if (want !== got) ok = false;
    }
  }
  return { ok, lit };
}

const CARDS = [
  { vga: 'std', driver: 'bochs', rom: STD_VGA_ROM, bpp: 32 },
  { vga: 'cirrus', driver: 'cirrus', rom: CIRRUS_VGA_ROM, bpp: 16 },
] as const;

for (const card of CARDS) test(`Linux ${card.driver} DRM: 1024x768x${card.bpp} through the LFB, fbcon draws a command's output there`, { skip: guestSkip, timeout: 900_000 }, async () => {
  const font = findFont8x16(new Uint8Array(readFileSync(card.rom)));
  assert.ok(font !== null, 'the VGA BIOS has its 8x16 font');
  const cmdline = `console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 cryptomgr.notests hvm.modules=${card.driver} ` +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const vm = await Vm.create({ memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft', vga: card.vga, boot: defaultGuestLoader(machines['pc']!, cmdline, { vgaText: true }) });
  let serial = '';
  vm.on('serial', (id: string, b: Uint8Array) => { if (id === 'serial0') serial += Buffer.from(b).toString('latin1'); });
  await vm.start();
  try {
    await until(() => serial.includes('HVM-FB-WRITTEN'), 700_000, 'the script to write on tty1', () => serial);
    assert.match(serial, new RegExp(`FB-NAME ${card.driver}-?drm`), serial.slice(-2000));
    assert.match(serial, new RegExp(`FB-SIZE 1024,768 ${card.bpp}`), serial.slice(-2000));
    assert.ok(!serial.includes(`modprobe ${card.driver} failed`), serial.slice(-2000));
    // fbcon's damage worker copies the shadow buffer to VRAM a little later: poll the frames.
    let frame: DisplayFrame | null = null;
    let match = { ok: false, lit: 0 };
    const t0 = Date.now();
    for (let n = 0; n < 600 && Date.now() - t0 < 120_000; n++) {
      frame = await vm.refreshDisplay(n === 0);
      if (frame.width === 1024) {
        match = glyphsMatch(frame, font, LINE);
        if (match.ok) break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(frame !== null);
    assert.equal(frame.width, 1024);
    assert.equal(frame.height, 768);
    assert.equal(frame.text, null, 'a graphics mode has no text');
    assert.ok(match.lit > 100, `fbcon drew glyphs in the first rows (${match.lit} lit pixels)`);
    assert.ok(match.ok, `"${LINE}" at the top left matches the 8x16 font pixel for pixel (${match.lit} lit)`);
  } finally {
    await vm.stop().catch(() => {});
  }
});
