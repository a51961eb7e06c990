// The std VGA without a guest: registers, planar memory, rendering to exact pixels, the DISPI
// interface (modes bigger than VRAM refused), the PCI windows, and a seeded fuzz of everything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StdVga } from './std-vga.js';
import { findFont8x16 } from './vga-pci.js';
import { PCI_ROM_ADDRESS } from '../pci/expansion-rom.js';
import { LocalVram } from './vga-memory.js';
import { FakeClock, fuzzRegions, fuzzSeed } from '../testing.js';
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MEMORY } from '../pci/config-space.js';

const VRAM = 16 * 1024 * 1024;

function card(rom = new Uint8Array(0)): { vga: StdVga; vram: LocalVram; clock: FakeClock } {
  const vram = new LocalVram(VRAM);
  const clock = new FakeClock();
  return { vga: new StdVga('vga', vram, rom, clock), vram, clock };
}
const out = (vga: StdVga, port: number, v: number): void => vga.regs.region.write(port - 0x3b0, 1, v);
const inb = (vga: StdVga, port: number): number => vga.regs.region.read(port - 0x3b0, 1);
const sr = (vga: StdVga, i: number, v: number): void => { out(vga, 0x3c4, i); out(vga, 0x3c5, v); };
const gr = (vga: StdVga, i: number, v: number): void => { out(vga, 0x3ce, i); out(vga, 0x3cf, v); };
const cr = (vga: StdVga, i: number, v: number): void => { out(vga, 0x3d4, i); out(vga, 0x3d5, v); };
const dispi = (vga: StdVga, i: number, v: number): void => { vga.dispiRegion.write(0, 2, i); vga.dispiRegion.write(1, 2, v); };
const dispiRead = (vga: StdVga, i: number): number => { vga.dispiRegion.write(0, 2, i); return vga.dispiRegion.read(1, 2); };
/** Window offsets: the 0xA0000 window's byte at guest-physical `gpa`. */
const wr = (vga: StdVga, gpa: number, v: number): void => vga.memory.region.write(gpa - 0xa0000, 1, v);
const rd = (vga: StdVga, gpa: number): number => vga.memory.region.read(gpa - 0xa0000, 1);

test('registers: DAC cycles, attribute flip-flop, CRTC protect, mono/colour decode, retrace toggles', () => {
  const { vga } = card();
  out(vga, 0x3c8, 7); out(vga, 0x3c9, 0x3f); out(vga, 0x3c9, 0x41); out(vga, 0x3c9, 0x01);
  out(vga, 0x3c7, 7);
  assert.deepEqual([inb(vga, 0x3c9), inb(vga, 0x3c9), inb(vga, 0x3c9)], [0x3f, 0x01, 0x01], '6-bit DAC values');
  assert.equal(inb(vga, 0x3c7), 3, 'DAC state after a read index');
  inb(vga, 0x3da); // resets the flip-flop
  out(vga, 0x3c0, 0x12); out(vga, 0x3c0, 0xff);
  assert.equal(inb(vga, 0x3c1), 0x3f, 'plane enable masked');
  assert.equal(inb(vga, 0x3c0) & 0x20, 0, 'PAS cleared by the index write');
  out(vga, 0x3c0, 0x20);
  assert.ok(vga.regs.screenEnabled);
  // Mode 3's CR11 has the protect bit: CR1 keeps its value, CR7 bit 4 still writes.
  cr(vga, 1, 0x12);
  assert.equal(vga.regs.cr[1], 0x4f);
  cr(vga, 7, 0xff);
  assert.equal(vga.regs.cr[7], 0x1f | 0x10);
  cr(vga, 0x11, 0x0e); cr(vga, 1, 0x27);
  assert.equal(vga.regs.cr[1], 0x27);
  // Status toggles so "wait for retrace, wait for its end" loops finish.
  const a = inb(vga, 0x3da), b = inb(vga, 0x3da);
  assert.notEqual(a & 8, b & 8);
  // Mono decode: 0x3D4 no longer answers, 0x3B4 does.
  out(vga, 0x3c2, 0x66);
  assert.equal(inb(vga, 0x3d5), 0xff);
  out(vga, 0x3b4, 1);
  assert.equal(inb(vga, 0x3b5), 0x27);
  // Word writes to an index port write index then data.
  vga.regs.region.write(0x3c4 - 0x3b0, 2, 0x0f02);
  assert.equal(vga.regs.sr[2], 0x0f);
  // Out-of-range indices never reach past the arrays.
  out(vga, 0x3c4, 0xff); out(vga, 0x3c5, 0xff);
  out(vga, 0x3ce, 0xff); out(vga, 0x3cf, 0xff);
  out(vga, 0x3b4, 0xff); out(vga, 0x3b5, 0xff);
  assert.equal(inb(vga, 0x3b5), 0xff);
});

test('planar memory: write modes 0-3, read modes 0/1, latches, chain-4 and odd/even', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  b.fill(0, 0, 0x40000); // no reset text screen in the way
  // Planar, A0000 64K, all planes.
  sr(vga, 4, 0x06); sr(vga, 2, 0x0f); gr(vga, 6, 0x05); gr(vga, 5, 0x00); gr(vga, 8, 0xff);
  wr(vga, 0xa0010, 0x5a);
  assert.deepEqual([...b.subarray(0x40, 0x44)], [0x5a, 0x5a, 0x5a, 0x5a], 'mode 0 writes all enabled planes');
  // Set/reset on planes 0 and 2 to 1s, bit mask 0xF0.
  gr(vga, 0, 0x05); gr(vga, 1, 0x0f); gr(vga, 8, 0xf0);
  rd(vga, 0xa0010); // load latches
  wr(vga, 0xa0010, 0x00);
  assert.deepEqual([...b.subarray(0x40, 0x44)], [0xfa, 0x0a, 0xfa, 0x0a], 'set/reset through the bit mask');
  gr(vga, 1, 0); gr(vga, 8, 0xff);
  // Write mode 1 copies the latches.
  gr(vga, 5, 0x01);
  rd(vga, 0xa0010);
  wr(vga, 0xa0020, 0x99);
  assert.deepEqual([...b.subarray(0x80, 0x84)], [0xfa, 0x0a, 0xfa, 0x0a]);
  // Write mode 2: bit p of the value fills plane p; XOR with the latches.
  gr(vga, 5, 0x02); gr(vga, 3, 0x18);
  rd(vga, 0xa0020);
  wr(vga, 0xa0020, 0x03);
  assert.deepEqual([...b.subarray(0x80, 0x84)], [0x05, 0xf5, 0xfa, 0x0a]);
  gr(vga, 3, 0);
  // Write mode 3: rotated value ANDed with the bit mask picks the bits that take set/reset.
  gr(vga, 5, 0x03); gr(vga, 0, 0x0f); gr(vga, 8, 0xff);
  rd(vga, 0xa0030);
  wr(vga, 0xa0030, 0x81);
  assert.deepEqual([...b.subarray(0xc0, 0xc4)], [0x81, 0x81, 0x81, 0x81]);
  // Read mode 0 from plane 2, read mode 1 comparing colour 0xF with don't-care 0xF.
  gr(vga, 5, 0x00); gr(vga, 4, 2);
  assert.equal(rd(vga, 0xa0010), 0xfa);
  gr(vga, 5, 0x08); gr(vga, 2, 0x0f); gr(vga, 7, 0x0f);
  assert.equal(rd(vga, 0xa0030), 0x81, 'read mode 1: only the bits set in every plane match colour 15');
  gr(vga, 7, 0x00);
  assert.equal(rd(vga, 0xa0030), 0xff, 'no plane cared about: everything matches');
  // Chain-4 addresses VRAM bytes directly.
  sr(vga, 4, 0x0e); gr(vga, 5, 0x40);
  wr(vga, 0xa0005, 0x77);
  assert.equal(b[5], 0x77);
  assert.equal(rd(vga, 0xa0005), 0x77);
  // Odd/even (mode 3): char to plane 0, attribute to plane 1 of the same position.
  sr(vga, 4, 0x02); gr(vga, 5, 0x10); gr(vga, 6, 0x0e); gr(vga, 4, 0);
  wr(vga, 0xb8002, 0x41); wr(vga, 0xb8003, 0x1f);
  assert.deepEqual([b[4], b[5]], [0x41, 0x1f]);
  assert.equal(rd(vga, 0xb8003), 0x1f);
  // Outside the selected map: nothing decodes.
  assert.equal(rd(vga, 0xa0000), 0xff);
  wr(vga, 0xa0000, 0x12);
  assert.notEqual(b[0], 0x12);
});

test('text mode: a glyph from plane 2 becomes exact pixels through the attribute palette and DAC; text reads back', () => {
  const { vga, clock } = card();
  // Load a glyph for 'A' into plane 2 the way a VGA BIOS does.
  const glyph = [0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe, 0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00];
  sr(vga, 2, 0x04); sr(vga, 4, 0x06); gr(vga, 4, 0x02); gr(vga, 5, 0x00); gr(vga, 6, 0x04);
  glyph.forEach((row, y) => wr(vga, 0xa0000 + 0x41 * 32 + y, row));
  sr(vga, 2, 0x03); sr(vga, 4, 0x02); gr(vga, 4, 0x00); gr(vga, 5, 0x10); gr(vga, 6, 0x0e);
  const text = 'Hello, VGA';
  [...'A' + text].forEach((c, i) => { wr(vga, 0xb8000 + 2 * i, c.charCodeAt(0)); wr(vga, 0xb8001 + 2 * i, 0x1f); });
  cr(vga, 0x0a, 0x20); // cursor off
  const f = vga.refresh(true);
  assert.equal(f.width, 720);
  assert.equal(f.height, 400);
  assert.equal(f.text?.split('\n')[0], 'A' + text);
  assert.equal(f.text?.split('\n').length, 25);
  const px = new Uint32Array(f.surface);
  const white = 0xffffff, blue = 0x0000a8; // 6-bit 0x2A widened as QEMU does
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 9; x++) {
      const want = x < 8 && (glyph[y]! & (0x80 >> x)) !== 0 ? white : blue;
      assert.equal(px[y * 720 + x], want, `pixel ${x},${y}`);
    }
  }
  // Nothing changed: no rectangles; one cell changed: one cell's rectangle.
  assert.deepEqual(vga.refresh(false).rects, []);
  wr(vga, 0xb8000 + 2 * 81, 0x42);
  assert.deepEqual(vga.refresh(false).rects, [9, 16, 9, 16]);
  // The cursor (mode 3: scan lines 13-14) on cell (0,2), in its visible blink phase, covers all 9 dots.
  cr(vga, 0x0a, 0x0d); cr(vga, 0x0e, 0); cr(vga, 0x0f, 160);
  clock.advance(300);
  const withCursor = new Uint32Array(vga.refresh(false).surface);
  for (let x = 0; x < 9; x++) {
    assert.equal(withCursor[(32 + 13) * 720 + x], 0xa8a8a8, `cursor dot ${x}`);
    assert.equal(withCursor[(32 + 12) * 720 + x], 0, `above the cursor ${x}`);
  }
  clock.advance(267);
  assert.equal(new Uint32Array(vga.refresh(false).surface)[(32 + 13) * 720], 0, 'blinked off');
  // CP437 box drawing maps to Unicode.
  wr(vga, 0xb8000 + 160 * 2, 0xc9); wr(vga, 0xb8000 + 160 * 2 + 2, 0xcd);
  assert.equal(vga.refresh(false).text?.split('\n')[2], '╔═');
});

test('mode 13h: a chain-4 pixel shows its DAC colour at 320x200', () => {
  const { vga } = card();
  out(vga, 0x3c2, 0x63);
  sr(vga, 1, 0x01); sr(vga, 2, 0x0f); sr(vga, 4, 0x0e);
  gr(vga, 5, 0x40); gr(vga, 6, 0x05);
  cr(vga, 0x11, 0x0e); // unprotect CR0-7
  cr(vga, 1, 0x4f); cr(vga, 7, 0x1f); cr(vga, 9, 0x41); cr(vga, 0x12, 0x8f); cr(vga, 0x13, 0x28);
  inb(vga, 0x3da); out(vga, 0x3c0, 0x10); out(vga, 0x3c0, 0x41); out(vga, 0x3c0, 0x20);
  out(vga, 0x3c8, 5); out(vga, 0x3c9, 63); out(vga, 0x3c9, 0); out(vga, 0x3c9, 32);
  wr(vga, 0xa0000 + 3 * 320 + 10, 5);
  const f = vga.refresh(false);
  assert.equal(f.width, 320);
  assert.equal(f.height, 200);
  assert.equal(f.text, null);
  const px = new Uint32Array(f.surface);
  assert.equal(px[3 * 320 + 10], 0xff0080);
  assert.equal(px[3 * 320 + 11], 0x000000);
  assert.deepEqual(vga.refresh(false).rects, []);
  wr(vga, 0xa0000 + 100 * 320, 5);
  assert.deepEqual(vga.refresh(false).rects, [0, 89, 320, 14], 'only the lines on the written page (28672..32767)');
});

test('16-colour planar (mode 12h geometry): plane bits make the attribute colour', () => {
  const { vga } = card();
  out(vga, 0x3c2, 0xe3);
  sr(vga, 1, 0x01); sr(vga, 2, 0x0f); sr(vga, 4, 0x06);
  gr(vga, 5, 0x00); gr(vga, 6, 0x05); gr(vga, 8, 0xff);
  cr(vga, 0x11, 0x0c);
  cr(vga, 1, 0x4f); cr(vga, 7, 0x3e); cr(vga, 9, 0x40); cr(vga, 0x12, 0xdf); cr(vga, 0x13, 0x28);
  inb(vga, 0x3da); out(vga, 0x3c0, 0x10); out(vga, 0x3c0, 0x01); out(vga, 0x3c0, 0x20);
  // Leftmost pixel colour 12 (planes 2 and 3): write mode 2.
  gr(vga, 5, 0x02); gr(vga, 8, 0x80);
  rd(vga, 0xa0000);
  wr(vga, 0xa0000, 12);
  const f = vga.refresh(false);
  assert.equal(f.width, 640);
  assert.equal(f.height, 480);
  const px = new Uint32Array(f.surface);
  assert.equal(px[0], 0xff5757, 'attribute 12 -> DAC 0x3C (light red)');
  assert.equal(px[1], 0);
});

/** A DAC entry as the renderer widens it (6 to 8 bits, as QEMU does). */
function dacColour(vga: StdVga, i: number): number {
  const w = (v: number): number => (v << 2) | ((v & 1) * 3);
  const d = vga.regs.dac;
  return (w(d[i * 3]!) << 16) | (w(d[i * 3 + 1]!) << 8) | w(d[i * 3 + 2]!);
}
const ar = (vga: StdVga, i: number, v: number): void => { inb(vga, 0x3da); out(vga, 0x3c0, i); out(vga, 0x3c0, v); out(vga, 0x3c0, 0x20); };
/** The surface pixel (x, y). */
const pixel = (f: { width: number; surface: SharedArrayBuffer }, x: number, y: number): number => new Uint32Array(f.surface)[y * f.width + x]!;

/** Mode 4's registers (IBM VGA BIOS parameter table): 320x200, 4 colours, CGA banks at B8000. */
function mode4(vga: StdVga): void {
  out(vga, 0x3c2, 0x63);
  sr(vga, 1, 0x09); sr(vga, 2, 0x03); sr(vga, 3, 0x00); sr(vga, 4, 0x02);
  gr(vga, 5, 0x30); gr(vga, 6, 0x0f); gr(vga, 8, 0xff);
  cr(vga, 0x11, 0x0e);
  cr(vga, 1, 0x27); cr(vga, 7, 0x1f); cr(vga, 9, 0xc1); cr(vga, 0x12, 0x8f); cr(vga, 0x13, 0x14);
  cr(vga, 0x17, 0xa2); cr(vga, 0x18, 0xff); cr(vga, 0x0c, 0); cr(vga, 0x0d, 0); cr(vga, 8, 0);
  [0x00, 0x13, 0x15, 0x17].forEach((v, i) => ar(vga, i, v));
  ar(vga, 0x10, 0x01); ar(vga, 0x12, 0x03); ar(vga, 0x13, 0); ar(vga, 0x14, 0);
}

/** Mode 12h's registers: 640x480, 16 colours, planar. */
function mode12(vga: StdVga): void {
  out(vga, 0x3c2, 0xe3);
  sr(vga, 1, 0x01); sr(vga, 2, 0x0f); sr(vga, 4, 0x06);
  gr(vga, 5, 0x00); gr(vga, 6, 0x05); gr(vga, 8, 0xff);
  cr(vga, 0x11, 0x0c);
  cr(vga, 1, 0x4f); cr(vga, 7, 0x3e); cr(vga, 9, 0x40); cr(vga, 0x12, 0xdf); cr(vga, 0x13, 0x28); cr(vga, 0x17, 0xe3); cr(vga, 0x18, 0xff);
  ar(vga, 0x10, 0x01); ar(vga, 0x12, 0x0f);
}

test('CGA mode 4: 2-bit pixels from the even and odd bytes, even lines in the first 8 KiB bank, odd in the second; preset row scan', () => {
  const { vga } = card();
  mode4(vga);
  const b8 = (off: number, v: number): void => wr(vga, 0xb8000 + off, v);
  b8(0, 0b00011011);      // line 0: pixels 0-3 = colours 0, 1, 2, 3
  b8(1, 0b11000000);      // pixels 4-7: 3, 0, 0, 0
  b8(0x2000, 0b10000000); // line 1, pixel 0: colour 2
  b8(80, 0b01000000);     // line 2, pixel 0: colour 1
  b8(0x2000 + 80 + 79, 0b00000011); // line 3, pixel 319: colour 3
  const f = vga.refresh(false);
  assert.equal(`${f.width}x${f.height}`, '320x200');
  const c = [0x00, 0x13, 0x15, 0x17].map((i) => dacColour(vga, i));
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((x) => pixel(f, x, 0)), [c[0], c[1], c[2], c[3], c[3], c[0]]);
  assert.equal(pixel(f, 0, 1), c[2]);
  assert.equal(pixel(f, 0, 2), c[1]);
  assert.equal(pixel(f, 319, 3), c[3]);
  assert.equal(pixel(f, 0, 3), c[0]);
  // Plane enable without plane 1 hides the odd bytes' pixels.
  ar(vga, 0x12, 0x01);
  assert.equal(pixel(vga.refresh(false), 4, 0), c[0]);
  ar(vga, 0x12, 0x03);
  // Preset row scan 1: the first line comes from the odd bank, the next from the even bank's second line.
  cr(vga, 8, 0x01);
  const g = vga.refresh(false);
  assert.equal(pixel(g, 0, 0), c[2]);
  assert.equal(pixel(g, 0, 1), c[1]);
});

test('mode 6 geometry (640x200, one bit a pixel, CGA banks, byte mode) through the planar path', () => {
  const { vga } = card();
  mode4(vga);
  sr(vga, 1, 0x01); sr(vga, 4, 0x06); gr(vga, 5, 0x00); gr(vga, 6, 0x0d);
  cr(vga, 1, 0x4f); cr(vga, 0x13, 0x28); cr(vga, 0x17, 0xc2);
  ar(vga, 0, 0x00); ar(vga, 1, 0x17); ar(vga, 0x12, 0x01);
  wr(vga, 0xb8000, 0x80);          // line 0, pixel 0
  wr(vga, 0xb8000 + 0x2000, 0x01); // line 1, pixel 7
  wr(vga, 0xb8000 + 80 + 79, 0x01); // line 2, pixel 639
  const f = vga.refresh(false);
  assert.equal(`${f.width}x${f.height}`, '640x200');
  const on = dacColour(vga, 0x17);
  assert.equal(pixel(f, 0, 0), on);
  assert.equal(pixel(f, 1, 0), 0);
  assert.equal(pixel(f, 7, 1), on);
  assert.equal(pixel(f, 639, 2), on);
  assert.equal(pixel(f, 0, 2), 0);
});

test('start address, line compare split, pel panning and byte panning (mode 12h geometry)', () => {
  const { vga, vram } = card();
  mode12(vga);
  const b = vram.bytes;
  b.fill(0, 0, 0x40000); // no BIOS text screen in the planes
  // Plane 0's first byte of memory lines 0, 15 and 25: the leftmost pixel colour 1.
  for (const line of [0, 15, 25]) b[line * 80 * 4] = 0x80;
  // Memory line 25, pixels 8 and 11 (second byte: bits 7 and 4): colour 1.
  b[(25 * 80 + 1) * 4] = 0x90;
  vram.markDirty(0, 0x10000);
  let f = vga.refresh(false);
  assert.equal(`${f.width}x${f.height}`, '640x480');
  const one = dacColour(vga, 1);
  const litRows = (fr: typeof f, x: number): number[] => Array.from({ length: fr.height }, (_, y) => y).filter((y) => pixel(fr, x, y) !== 0);
  assert.deepEqual(litRows(f, 0), [0, 15, 25]);
  assert.equal(pixel(f, 0, 15), one);
  // Start 10 lines down (no VRAM write: the moved lines are redrawn all the same).
  cr(vga, 0x0c, (800 >> 8) & 0xff); cr(vga, 0x0d, 800 & 0xff);
  f = vga.refresh(false);
  assert.ok(f.rects.length > 0);
  assert.deepEqual(litRows(f, 0), [5, 15]);
  // Line compare 99 (CR18 = 99, CR07 bit 4 and CR09 bit 6 clear): lines from 100 on show memory from address 0.
  cr(vga, 0x18, 99); cr(vga, 7, 0x2e); cr(vga, 9, 0x00);
  f = vga.refresh(false);
  assert.deepEqual(litRows(f, 0), [5, 15, 100, 115, 125]);
  // Line compare 300 needs bit 8 (CR07 bit 4): 300 = 0x12C.
  cr(vga, 0x18, 0x2c); cr(vga, 7, 0x3e);
  assert.deepEqual(litRows(vga.refresh(false), 0), [5, 15, 301, 316, 326]);
  // Pel panning 3: memory pixel 11 shows at x 8, pixel 8 at x 5, on both sides of the split.
  ar(vga, 0x13, 3);
  f = vga.refresh(false);
  assert.deepEqual([litRows(f, 5), litRows(f, 8)], [[15, 326], [15, 326]]);
  // AR10 bit 5: the lines after the split are not panned.
  ar(vga, 0x10, 0x21);
  f = vga.refresh(false);
  assert.deepEqual([litRows(f, 5), litRows(f, 8), litRows(f, 11)], [[15], [15, 326], [326]]);
  ar(vga, 0x10, 0x01); ar(vga, 0x13, 0);
  // Byte panning (CR08 bits 6-5) = 1: one character (8 pixels) further, memory pixels 8 and 11
  // at x 0 and 3; the split restarts at address 0 itself, unpanned.
  cr(vga, 8, 0x20);
  f = vga.refresh(false);
  assert.deepEqual(litRows(f, 0), [15, 301, 316, 326]);
  assert.deepEqual(litRows(f, 3), [15]);
});

test('256 colours: pel panning counts pixel pairs; line compare in double-height lines', () => {
  const { vga, vram } = card();
  out(vga, 0x3c2, 0x63);
  sr(vga, 1, 0x01); sr(vga, 2, 0x0f); sr(vga, 4, 0x0e);
  gr(vga, 5, 0x40); gr(vga, 6, 0x05);
  cr(vga, 0x11, 0x0e);
  cr(vga, 1, 0x4f); cr(vga, 7, 0x0f); cr(vga, 9, 0x01); cr(vga, 0x12, 0x8f); cr(vga, 0x13, 0x28); cr(vga, 0x17, 0xa3);
  ar(vga, 0x10, 0x41);
  vram.bytes.fill(0, 0, 0x40000); // no BIOS text screen
  wr(vga, 0xa0000 + 10 * 320 + 5, 7);
  let f = vga.refresh(false);
  assert.notEqual(pixel(f, 5, 10), 0);
  ar(vga, 0x13, 2); // one pixel
  f = vga.refresh(false);
  assert.notEqual(pixel(f, 4, 10), 0);
  assert.equal(pixel(f, 5, 10), 0);
  ar(vga, 0x13, 0);
  // Split at scan line 99 (the second scan line of pixel line 49): pixel line 50 shows memory line 0.
  cr(vga, 0x0c, 0); cr(vga, 0x0d, 0x50); // start 320 pixels (one line) down
  cr(vga, 0x18, 99);
  f = vga.refresh(false);
  assert.notEqual(pixel(f, 5, 9), 0);
  assert.notEqual(pixel(f, 5, 60), 0);
  assert.equal(pixel(f, 5, 10), 0);
});

test('text: line compare restarts the rows after the one holding it at address 0; byte panning moves the start', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  for (let row = 0; row < 40; row++) for (let col = 0; col < 3; col++) b[(row * 80 + col) * 4] = 0x41 + (row % 26);
  vram.markDirty(0, 0x10000);
  cr(vga, 0x0c, 0); cr(vga, 0x0d, 160); // two rows down
  // Line compare 53 (row 3's sixth scan line): CR07 bit 4 and CR09 bit 6 (its bits 8 and 9) clear.
  cr(vga, 0x18, 16 * 3 + 5); cr(vga, 7, 0x0f); cr(vga, 9, 0x0f);
  let lines = (vga.refresh(false).text ?? '').split('\n');
  assert.deepEqual(lines.slice(0, 6), ['CCC', 'DDD', 'EEE', 'FFF', 'AAA', 'BBB']);
  cr(vga, 8, 0x20);
  lines = (vga.refresh(false).text ?? '').split('\n');
  assert.deepEqual(lines.slice(0, 2), [`${'CC'.padEnd(79)}D`, `${'DD'.padEnd(79)}E`], 'each row one character on, into the next');
});

test('text: pel panning moves the cells left (9-dot: 8 none, 0-7 one to eight dots), the preset row scan moves them up', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  b.fill(0, 0, 0x40000);
  b[(0x41 * 32 + 0) * 4 + 2] = 0x80; // 'A': leftmost dot on scan line 0
  b[(0x41 * 32 + 3) * 4 + 2] = 0x01; // and the 8th dot on scan line 3
  b[1 * 4] = 0x41; b[1 * 4 + 1] = 0x07; // at column 1
  vram.markDirty(0, 0x40000);
  const grey = dacColour(vga, 0x07);
  const lit = (): string[] => {
    const f = vga.refresh(false);
    const out: string[] = [];
    for (let y = 0; y < 16; y++) for (let x = 0; x < 27; x++) if (pixel(f, x, y) === grey) out.push(`${x},${y}`);
    return out;
  };
  assert.deepEqual(lit(), ['9,0', '16,3']);
  ar(vga, 0x13, 0);
  assert.deepEqual(lit(), ['8,0', '15,3']);
  ar(vga, 0x13, 3);
  assert.deepEqual(lit(), ['5,0', '12,3']);
  ar(vga, 0x13, 8);
  cr(vga, 8, 2);
  assert.deepEqual(lit(), ['16,1']);
  cr(vga, 8, 0);
  assert.deepEqual(lit(), ['9,0', '16,3'], 'back in place, every cell redrawn');
});

test('VBE DISPI: 1024x768x32 through the LFB, GETCAPS, video memory size; modes bigger than VRAM are refused', () => {
  const { vga } = card();
  assert.equal(dispiRead(vga, 0), 0xb0c5);
  assert.equal(dispiRead(vga, 0xa), VRAM >>> 16);
  dispi(vga, 4, 0x02);
  assert.equal(dispiRead(vga, 1), 16000);
  dispi(vga, 4, 0);
  dispi(vga, 1, 1024); dispi(vga, 2, 768); dispi(vga, 3, 32); dispi(vga, 4, 0x41);
  assert.ok(vga.dispi.enabled);
  vga.lfbRegion.write((1 * 1024 + 2) * 4, 4, 0x00123456);
  let f = vga.refresh(false);
  assert.equal(f.width, 1024);
  assert.equal(f.height, 768);
  assert.equal(new Uint32Array(f.surface)[1024 + 2], 0x123456);
  assert.deepEqual(vga.refresh(false).rects, []);
  vga.lfbRegion.write(700 * 4096, 4, 0xffffff);
  assert.deepEqual(vga.refresh(false).rects, [0, 700, 1024, 1]);
  // 16 bpp through the MMIO BAR's DISPI registers.
  vga.mmioRegion.write(0x500 + 2 * 4, 2, 0);
  vga.mmioRegion.write(0x500 + 2 * 3, 2, 16);
  vga.mmioRegion.write(0x500 + 2 * 4, 2, 0xc1);
  assert.equal(vga.mmioRegion.read(0x500 + 2 * 3, 2), 16);
  vga.lfbRegion.write(0, 2, 0xf800);
  f = vga.refresh(false);
  assert.equal(new Uint32Array(f.surface)[0], 0xff0000);
  // 4096x4096x32 is 64 MiB: refused, the display stays off.
  dispi(vga, 4, 0);
  dispi(vga, 1, 4096); dispi(vga, 2, 4096); dispi(vga, 3, 32); dispi(vga, 4, 0x41);
  assert.equal(vga.dispi.enabled, false);
  assert.equal(vga.dispi.refused, 1);
  dispi(vga, 3, 13); dispi(vga, 1, 640); dispi(vga, 2, 480); dispi(vga, 4, 0x01);
  assert.equal(vga.dispi.enabled, false, 'an unsupported depth is refused');
  // Growing an enabled mode past VRAM is refused too; panning stays inside VRAM.
  dispi(vga, 3, 32); dispi(vga, 4, 0x41);
  dispi(vga, 2, 0xffff);
  assert.equal(dispiRead(vga, 2), 480);
  dispi(vga, 9, 0xffff);
  const m = vga.dispi.linearMode()!;
  assert.ok(m.start + m.pitch * m.height <= VRAM);
  vga.refresh(true);
});

test('VBE 4 bpp is planar: 800x600 through the attribute palette, written with write mode 2; banks move the window', () => {
  const { vga, vram } = card();
  dispi(vga, 1, 800); dispi(vga, 2, 600); dispi(vga, 3, 4); dispi(vga, 4, 0x01);
  assert.ok(vga.dispi.enabled);
  assert.equal(dispiRead(vga, 7), Math.floor(VRAM / 400), 'virtual height from a 400-byte pitch');
  sr(vga, 2, 0x0f); gr(vga, 5, 0x02); gr(vga, 8, 0x80);
  rd(vga, 0xa0000);
  wr(vga, 0xa0000, 12);
  // 100 lines of 100 groups down: group 10000 = pixel (0, 100).
  rd(vga, 0xa0000 + 10000);
  wr(vga, 0xa0000 + 10000, 9);
  const f = vga.refresh(false);
  assert.equal(`${f.width}x${f.height}`, '800x600');
  const px = new Uint32Array(f.surface);
  assert.equal(px[0], 0xff5757);
  assert.equal(px[1], 0);
  assert.equal(px[100 * 800], 0x5757ff, 'attribute 9 -> DAC 0x39 (light blue)');
  // With 8 bpp, bank 2 puts window offset 0 at VRAM byte 0x20000.
  dispi(vga, 4, 0); dispi(vga, 3, 8); dispi(vga, 4, 0x01); dispi(vga, 5, 2);
  wr(vga, 0xa0000, 0x5a);
  assert.equal(vga.memory.region.read(0, 1), 0x5a);
  assert.equal(vram.bytes[0x20000], 0x5a);
});

test('PCI: identity, ROM BAR sizing and decode, LFB mapping follows BAR0 and memory decode', () => {
  const rom = new Uint8Array(readFileSync('/usr/share/seabios/vgabios-stdvga.bin'));
  const { vga, vram } = card(rom);
  const c = vga.config;
  assert.equal(c.get32(0), 0x11111234);
  assert.equal(c.get32(8) >>> 8, 0x030000);
  c.write(PCI_ROM_ADDRESS, 4, 0xfffffffe);
  assert.equal(c.get32(PCI_ROM_ADDRESS) >>> 0, 0xffff0000, '64 KiB ROM');
  c.write(PCI_ROM_ADDRESS, 4, 0xfeb00001);
  assert.deepEqual(vga.extraDecodes(), [], 'no decode without memory space enable');
  c.write(PCI_BASE_ADDRESS_0, 4, 0xfd000000);
  c.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
  vga.configWritten(PCI_COMMAND, 2);
  assert.equal(vram.linearBase, 0xfd000000);
  const d = vga.extraDecodes();
  assert.equal(d.length, 1);
  assert.equal(d[0]!.base, 0xfeb00000);
  assert.equal(d[0]!.region.read(0, 2), 0xaa55, 'the option ROM signature');
  c.write(PCI_COMMAND, 2, 0);
  vga.configWritten(PCI_COMMAND, 2);
  assert.equal(vram.linearBase, 0);
  // The ROM's own 8x16 font is found and loaded into plane 2 at reset ('A' row 2 = 0x10).
  assert.notEqual(findFont8x16(rom), null);
  assert.equal(vram.bytes[((0x41 * 32 + 2) << 2) + 2], 0x10);
  // The MMIO BAR's extension registers (Linux's bochs driver reads them at revision >= 2).
  assert.equal(vga.mmioRegion.read(0x600, 4), 8);
  assert.equal(vga.mmioRegion.read(0x604, 4), 0x1e1e1e1e);
});

test('state round-trips; impossible state is refused', () => {
  const { vga } = card();
  dispi(vga, 1, 800); dispi(vga, 2, 600); dispi(vga, 3, 8); dispi(vga, 4, 0x41);
  out(vga, 0x3c8, 1); out(vga, 0x3c9, 9);
  const s = vga.saveState();
  const { vga: other } = card();
  other.loadState(JSON.parse(JSON.stringify(s)), 1);
  assert.deepEqual(other.saveState(), s);
  assert.equal(other.refresh(false).width, 800);
  assert.throws(() => other.loadState({ ...s, latch: -1 }, 1));
  assert.throws(() => other.loadState({ ...s, dispi: { index: 0, regs: [1] } }, 1));
  // A bank past video memory (the register write wraps into it) is refused.
  const regs = [...s.dispi.regs];
  regs[5] = VRAM >>> 16;
  const kept = other.saveState();
  assert.throws(() => other.loadState({ ...s, regs: { ...s.regs, misc: 0x01 }, dispi: { index: 0, regs } }, 1), /bank/);
  assert.deepEqual(other.saveState(), kept, 'a refused state leaves the card as it was');
  regs[5] = (VRAM >>> 16) - 1;
  other.loadState({ ...s, dispi: { index: 0, regs } }, 1);
});

test('seeded fuzz over every window and refresh: no throw, reads fit their width', () => {
  const { vga, clock } = card();
  const seed = fuzzSeed();
  fuzzRegions([vga.regs.region, vga.dispiRegion, vga.mmioRegion, vga.memory.region, vga.memory.region, vga.lfbRegion, vga.regs.region], 60_000, seed, (rand) => {
    clock.advance(rand() * 300);
    // Steer the DISPI index into its real registers often, with odd sizes.
    vga.dispiRegion.write(0, 2, Math.floor(rand() * 12));
    vga.dispiRegion.write(1, 2, rand() < 0.5 ? Math.floor(rand() * 4096) : Math.floor(rand() * 0x10000));
    const f = vga.refresh(rand() < 0.2);
    assert.ok(f.width * f.height * 4 <= f.surface.byteLength, `seed ${seed}: surface too small`);
    for (let i = 0; i < f.rects.length; i += 4) {
      assert.ok(f.rects[i]! + f.rects[i + 2]! <= f.width && f.rects[i + 1]! + f.rects[i + 3]! <= f.height, `seed ${seed}: rect outside the frame`);
    }
  });
});
