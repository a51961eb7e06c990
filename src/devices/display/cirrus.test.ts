// The CL-GD5446 without a guest: extension registers (unlock, chip id, hidden DAC, cursor
// position), the PCI windows, every raster operation of the BitBLT engine against a reference
// computed here, backwards copies, solid fill, colour expansion at 8/16/24/32 bpp (opaque and
// transparent), pattern fills, system-to-screen blits, hostile blits refused or clipped, the
// SVGA render modes with the hardware cursor, and a seeded fuzz of every window.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CirrusVga, CIRRUS_VRAM_BYTES, CIRRUS_BAR0_SIZE } from './cirrus-vga.js';
import { LocalVram } from './vga-memory.js';
import { FakeClock, fuzzRegions, fuzzSeed } from '../testing.js';
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MEMORY } from '../pci/config-space.js';

function card(): { vga: CirrusVga; vram: LocalVram; clock: FakeClock } {
  const vram = new LocalVram(CIRRUS_VRAM_BYTES);
  const clock = new FakeClock();
  return { vga: new CirrusVga('vga', vram, new Uint8Array(0), clock), vram, clock };
}
const out = (vga: CirrusVga, port: number, v: number): void => vga.regs.region.write(port - 0x3b0, 1, v);
const inb = (vga: CirrusVga, port: number): number => vga.regs.region.read(port - 0x3b0, 1);
const sr = (vga: CirrusVga, i: number, v: number): void => { out(vga, 0x3c4, i); out(vga, 0x3c5, v); };
const srRead = (vga: CirrusVga, i: number): number => { out(vga, 0x3c4, i); return inb(vga, 0x3c5); };
const gr = (vga: CirrusVga, i: number, v: number): void => { out(vga, 0x3ce, i); out(vga, 0x3cf, v); };
const grRead = (vga: CirrusVga, i: number): number => { out(vga, 0x3ce, i); return inb(vga, 0x3cf); };
const cr = (vga: CirrusVga, i: number, v: number): void => { out(vga, 0x3d4, i); out(vga, 0x3d5, v); };
const crRead = (vga: CirrusVga, i: number): number => { out(vga, 0x3d4, i); return inb(vga, 0x3d5); };

/** Sets the hidden DAC register the way Linux's cirrus driver does (four reads of 0x3C6, then a write). */
function writeHdr(vga: CirrusVga, v: number): void {
  inb(vga, 0x3c8); // a DAC index access re-arms the count (the BIOS has made one by the time Linux runs)
  for (let i = 0; i < 4; i++) inb(vga, 0x3c6);
  out(vga, 0x3c6, v);
}

interface BltParams {
  width: number; height: number; dst: number; src?: number; dstPitch: number; srcPitch?: number;
  mode?: number; rop?: number; modeExt?: number; fg?: number; bg?: number; skip?: number; key?: number;
}
/** Programs a blit through the graphics controller ports and starts it. */
function blt(vga: CirrusVga, p: BltParams): void {
  const w = p.width - 1, h = p.height - 1, src = p.src ?? 0, sp = p.srcPitch ?? 0, fg = p.fg ?? 0, bg = p.bg ?? 0;
  gr(vga, 0x20, w & 0xff); gr(vga, 0x21, w >> 8);
  gr(vga, 0x22, h & 0xff); gr(vga, 0x23, h >> 8);
  gr(vga, 0x24, p.dstPitch & 0xff); gr(vga, 0x25, (p.dstPitch >> 8) & 0x1f);
  gr(vga, 0x26, sp & 0xff); gr(vga, 0x27, (sp >> 8) & 0x1f);
  gr(vga, 0x28, p.dst & 0xff); gr(vga, 0x29, (p.dst >> 8) & 0xff); gr(vga, 0x2a, (p.dst >> 16) & 0x3f);
  gr(vga, 0x2c, src & 0xff); gr(vga, 0x2d, (src >> 8) & 0xff); gr(vga, 0x2e, (src >> 16) & 0x3f);
  gr(vga, 0x2f, p.skip ?? 0);
  gr(vga, 0x30, p.mode ?? 0); gr(vga, 0x32, p.rop ?? 0x0d); gr(vga, 0x33, p.modeExt ?? 0);
  gr(vga, 0x01, fg & 0xff); gr(vga, 0x11, (fg >> 8) & 0xff); gr(vga, 0x13, (fg >> 16) & 0xff); gr(vga, 0x15, (fg >>> 24) & 0xff);
  gr(vga, 0x00, bg & 0xff); gr(vga, 0x10, (bg >> 8) & 0xff); gr(vga, 0x12, (bg >> 16) & 0xff); gr(vga, 0x14, (bg >>> 24) & 0xff);
  gr(vga, 0x34, (p.key ?? 0) & 0xff); gr(vga, 0x35, ((p.key ?? 0) >> 8) & 0xff);
  gr(vga, 0x31, 0x02);
}

/** Pseudo-random bytes (a fixed LCG). */
function fill(b: Uint8Array, from: number, len: number, seed: number): void {
  let x = seed;
  for (let i = 0; i < len; i++) { x = (x * 1103515245 + 12345) >>> 0; b[from + i] = x >>> 24; }
}

test('extension registers: SR6 unlock, CR27 chip id, memory size, hidden DAC, GR0/GR1 shadows, cursor position', () => {
  const { vga } = card();
  assert.equal(srRead(vga, 0x06), 0x0f, 'locked after reset');
  sr(vga, 0x06, 0x92);
  assert.equal(srRead(vga, 0x06), 0x12, 'unlock (bits 0x17 compared)');
  sr(vga, 0x06, 0x00);
  assert.equal(srRead(vga, 0x06), 0x0f);
  sr(vga, 0x06, 0x12);
  assert.equal(crRead(vga, 0x27), 0xb8, 'CR27: CL-GD5446');
  // SeaBIOS's cirrus_get_memsize: SR0F bits 4:3 = 3 and bit 7 -> 4 MiB.
  const sr0f = srRead(vga, 0x0f);
  assert.equal((sr0f >> 3) & 3, 3);
  assert.ok((sr0f & 0x80) !== 0);
  // Hidden DAC: four reads of 0xFF, the fifth is the register; a write after four reads sets it.
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => inb(vga, 0x3c6)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'hidden from reset');
  writeHdr(vga, 0xc1);
  inb(vga, 0x3c8);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => inb(vga, 0x3c6)), [0xff, 0xff, 0xff, 0xff, 0xc1]);
  out(vga, 0x3c6, 0x55); // not after four reads: ignored
  inb(vga, 0x3c8);
  for (let i = 0; i < 4; i++) inb(vga, 0x3c6);
  assert.equal(inb(vga, 0x3c6), 0xc1);
  // GR0/GR1 keep 8 bits for the blitter while the VGA's set/reset sees 4.
  gr(vga, 0x01, 0xa5);
  assert.equal(grRead(vga, 0x01), 0xa5);
  assert.equal(vga.regs.gr[0x01], 0x05);
  gr(vga, 0x21, 0xff);
  assert.equal(grRead(vga, 0x21), 0x1f, 'width high byte has 5 bits');
  // SR10/SR11 position: the index's bits 7:5 are the low bits.
  sr(vga, 0xb0, 0x12); sr(vga, 0x31, 0x08);
  assert.equal(vga.regs.cursorX, (0x12 << 3) | 5);
  assert.equal(vga.regs.cursorY, (0x08 << 3) | 1);
  assert.equal(srRead(vga, 0x10), 0x12);
  // CR1B/CR1D start address and offset bits.
  cr(vga, 0x0c, 0x12); cr(vga, 0x0d, 0x34); cr(vga, 0x1b, 0x1d); cr(vga, 0x1d, 0x80); cr(vga, 0x13, 0x40);
  assert.equal(vga.regs.startAddress, (0x1234 | 0x10000 | (0xc << 15) | (0x80 << 12)) * 4);
  assert.equal(vga.regs.lineOffset, (0x40 | 0x100) * 8);
  // Unknown indices read 0xFF and never reach past the arrays.
  assert.equal(crRead(vga, 0x3f), 0xff);
  assert.equal(grRead(vga, 0x3f), 0xff);
});

test('PCI: 1013:00B8, BAR0 32 MiB prefetchable, BAR1 4 KiB, LFB mapped for plain access only, MMIO reaches the ports', () => {
  const { vga, vram } = card();
  assert.equal(vga.config.get32(0), 0x00b81013);
  vga.config.write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  assert.equal(vga.config.get32(PCI_BASE_ADDRESS_0), (~(CIRRUS_BAR0_SIZE - 1) | 0x08) >>> 0);
  vga.config.write(PCI_BASE_ADDRESS_0 + 4, 4, 0xffffffff);
  assert.equal(vga.config.get32(PCI_BASE_ADDRESS_0 + 4), 0xfffff000);
  vga.config.write(PCI_BASE_ADDRESS_0, 4, 0xf0000000);
  vga.configWritten(PCI_BASE_ADDRESS_0, 4);
  vga.config.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
  vga.configWritten(PCI_COMMAND, 2);
  assert.equal(vram.linearBase, 0xf0000000, 'VRAM mapped at BAR0');
  // The 8-byte addressing mode needs the device: the mapping steps aside.
  gr(vga, 0x0b, 0x02);
  assert.equal(vram.linearBase, 0);
  gr(vga, 0x0b, 0x00);
  assert.equal(vram.linearBase, 0xf0000000);
  // BAR1 offset 0x04 is port 0x3C4; 0x100+ the BitBLT registers (0x140 = GR31).
  vga.mmioRegion.write(0x04, 1, 0x06); vga.mmioRegion.write(0x05, 1, 0x12);
  assert.equal(vga.regs.sr[0x06], 0x12);
  vga.mmioRegion.write(0x100 + 0x08, 2, 0x0123);
  assert.equal(vga.regs.gr[0x20], 0x23);
  assert.equal(vga.regs.gr[0x21], 0x01);
  // LFB as MMIO: VRAM bytes; the gap past VRAM reads 0xFF.
  vga.lfbRegion.write(0x100, 4, 0xdeadbeef);
  assert.equal(vga.lfbRegion.read(0x100, 4), 0xdeadbeef);
  assert.equal(vga.lfbRegion.read(0x800000, 1), 0xff);
});

const REF: Record<number, (s: number, d: number) => number> = {
  0x00: () => 0, 0x05: (s, d) => s & d, 0x06: (_s, d) => d, 0x09: (s, d) => s & ~d, 0x0b: (_s, d) => ~d, 0x0d: (s) => s,
  0x0e: () => 0xff, 0x50: (s, d) => ~s & d, 0x59: (s, d) => s ^ d, 0x6d: (s, d) => s | d, 0x90: (s, d) => ~s | ~d,
  0x95: (s, d) => ~(s ^ d), 0xad: (s, d) => s | ~d, 0xd0: (s) => ~s, 0xd6: (s, d) => ~s | d, 0xda: (s, d) => ~s & ~d,
};

test('BitBLT: all 16 raster operations on a small rectangle match the reference', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  const W = 12, H = 5, SP = 64, DP = 80, SRC = 0x10000, DST = 0x20000;
  for (const [code, f] of Object.entries(REF)) {
    const rop = Number(code);
    fill(b, SRC, SP * H, 7 + rop);
    fill(b, DST - 16, DP * (H + 1), 99 + rop);
    const before = b.slice(DST - 16, DST + DP * (H + 1));
    blt(vga, { width: W, height: H, dst: DST, src: SRC, dstPitch: DP, srcPitch: SP, rop });
    assert.equal(vga.regs.gr[0x31]! & 0x03, 0, 'idle after the blit');
    for (let y = 0; y < H; y++) for (let x = -4; x < W + 4; x++) {
      const a = DST + y * DP + x;
      const d0 = before[a - (DST - 16)]!;
      const want = x >= 0 && x < W ? f(b[SRC + y * SP + x]!, d0) & 0xff : d0;
      assert.equal(b[a], want, `rop 0x${rop.toString(16)} at ${x},${y}`);
    }
  }
  assert.equal(vga.blt.completed, 16);
});

test('BitBLT: overlapping forward and backward copies move a block like memmove', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  const P = 32;
  fill(b, 0, P * 16, 3);
  const ref = b.slice(0, P * 16);
  // Down and right by (3, 2): a backwards blit from the bottom-right byte.
  const W = 10, H = 6, sx = 4, sy = 3, dx = 7, dy = 5;
  const last = (x: number, y: number): number => (y + H - 1) * P + x + W - 1;
  blt(vga, { width: W, height: H, src: last(sx, sy), dst: last(dx, dy), dstPitch: P, srcPitch: P, mode: 0x01 });
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(b[(dy + y) * P + dx + x], ref[(sy + y) * P + sx + x]);
  // And back up-left forwards: the original block content returns.
  const moved = b.slice(0, P * 16);
  blt(vga, { width: W, height: H, src: dy * P + dx, dst: sy * P + sx, dstPitch: P, srcPitch: P });
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(b[(sy + y) * P + sx + x], moved[(dy + y) * P + dx + x]);
});

test('BitBLT: solid fill at 16 bpp, colour expansion at 8/16/24/32 bpp (opaque and transparent), patterns', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  // Solid fill: colour expand + pattern + solid-fill extension, 16 bpp.
  blt(vga, { width: 8, height: 3, dst: 0x1000, dstPitch: 16, mode: 0xc0 | 0x10, modeExt: 0x04, fg: 0xbeef, rop: 0x0d });
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) assert.equal(b[0x1000 + y * 16 + 2 * x]! | (b[0x1001 + y * 16 + 2 * x]! << 8), 0xbeef);
  assert.equal(b[0x1008], 0, 'only the width filled');
  // Colour expansion from VRAM bits: 0b10110010 0b01... per line (lines packed).
  const bits = [0xb2, 0x4d];
  for (const pw of [1, 2, 3, 4]) {
    for (const transparent of [false, true]) {
      const DST = 0x40000, P = 64, SRC = 0x30000;
      b.fill(0x77, DST, DST + P * 2);
      b[SRC] = bits[0]!; b[SRC + 1] = bits[1]!;
      const fg = 0x11223344, bg = 0x55667788;
      blt(vga, { width: 8 * pw, height: 2, src: SRC, dst: DST, dstPitch: P, mode: 0x80 | ((pw - 1) << 4) | (transparent ? 0x08 : 0), fg, bg });
      for (let y = 0; y < 2; y++) for (let x = 0; x < 8; x++) {
        const on = (bits[y]! & (0x80 >> x)) !== 0;
        for (let i = 0; i < pw; i++) {
          const want = on ? (fg >>> (8 * i)) & 0xff : transparent ? 0x77 : (bg >>> (8 * i)) & 0xff;
          assert.equal(b[DST + y * P + x * pw + i], want, `pw ${pw} transparent ${transparent} pixel ${x},${y} byte ${i}`);
        }
      }
    }
  }
  // An 8x8 pixel pattern tiled at 8 bpp over 20x10.
  const PAT = 0x50000;
  for (let i = 0; i < 64; i++) b[PAT + i] = i + 1;
  blt(vga, { width: 20, height: 10, src: PAT, dst: 0x60000, dstPitch: 32, mode: 0x40 });
  for (let y = 0; y < 10; y++) for (let x = 0; x < 20; x++) assert.equal(b[0x60000 + y * 32 + x], (y & 7) * 8 + (x & 7) + 1);
  // A mono pattern expanded (opaque) at 8 bpp.
  for (let i = 0; i < 8; i++) b[0x51000 + i] = 0x80 >> i;
  blt(vga, { width: 8, height: 8, src: 0x51000, dst: 0x61000, dstPitch: 8, mode: 0xc0, fg: 9, bg: 1 });
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) assert.equal(b[0x61000 + y * 8 + x], x === y ? 9 : 1);
  // Transparent copy with a key colour (8 bpp): key bytes leave the destination alone.
  b.set([1, 2, 5, 3, 5], 0x52000);
  b.fill(0xee, 0x62000, 0x62005);
  blt(vga, { width: 5, height: 1, src: 0x52000, dst: 0x62000, dstPitch: 8, srcPitch: 8, mode: 0x08, key: 5 });
  assert.deepEqual(Array.from(b.slice(0x62000, 0x62005)), [1, 2, 0xee, 3, 0xee]);
});

test('BitBLT: system-to-screen source through the window, the LFB and the BitBLT aperture', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  sr(vga, 0x07, 0x01); // SVGA mode: the window goes through the banks and takes blit data
  // A 6x2 copy at 8 bpp: lines of source come padded to dwords (8 bytes each).
  blt(vga, { width: 6, height: 2, dst: 0x2000, dstPitch: 16, mode: 0x04 });
  assert.ok(vga.blt.systemSourceActive);
  for (let i = 0; i < 16; i++) vga.window.write(i, 1, 0x10 + i);
  assert.ok(!vga.blt.systemSourceActive, 'done after height lines');
  assert.deepEqual(Array.from(b.slice(0x2000, 0x2006)), [0x10, 0x11, 0x12, 0x13, 0x14, 0x15]);
  assert.deepEqual(Array.from(b.slice(0x2010, 0x2016)), [0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d]);
  // Colour expansion of 16 pixels at 16 bpp, 3 lines of 2 bytes, written as dwords into the aperture (padding ignored).
  blt(vga, { width: 32, height: 3, dst: 0x3000, dstPitch: 64, mode: 0x84 | 0x10, fg: 0xffff, bg: 0x0000 });
  vga.lfbRegion.write(0x1000000, 2, 0x0ff0); vga.lfbRegion.write(0x1000000, 2, 0xaa55); vga.lfbRegion.write(0x1000000, 2, 0x0001);
  assert.ok(!vga.blt.systemSourceActive);
  const px = (x: number, y: number): number => b[0x3000 + y * 64 + 2 * x]! | (b[0x3001 + y * 64 + 2 * x]! << 8);
  // Line 0's bytes are 0xF0 then 0x0F (little-endian word 0x0FF0).
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 15].map((x) => px(x, 0)), [0xffff, 0xffff, 0xffff, 0xffff, 0, 0, 0, 0, 0, 0xffff]);
  assert.equal(px(7, 2), 0xffff, 'line 2: byte 0x01');
  assert.equal(px(0, 2), 0);
  // Through the LFB too (not mapped while the blit waits for data).
  blt(vga, { width: 4, height: 1, dst: 0x4000, dstPitch: 4, mode: 0x04, rop: 0x59 });
  b.set([1, 1, 1, 1], 0x4000);
  vga.lfbRegion.write(0x12345, 4, 0x04030201);
  assert.deepEqual(Array.from(b.slice(0x4000, 0x4004)), [0, 3, 2, 5]);
});

test('BitBLT: hostile blits are refused or wrapped: past the end, zero pitch, huge, backwards past the start', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  fill(b, 0, CIRRUS_VRAM_BYTES, 5);
  const before = b.slice();
  const end = CIRRUS_VRAM_BYTES;
  const cases: BltParams[] = [
    { width: 256, height: 4, dst: end - 100, dstPitch: 256, src: 0, srcPitch: 256 },            // runs off the end
    { width: 16, height: 4, dst: 0, dstPitch: 256, src: end - 8, srcPitch: 256 },               // source off the end
    { width: 16, height: 16, dst: 0x1000, dstPitch: 0, src: 0, srcPitch: 16 },                  // zero pitch
    { width: 8192, height: 8192, dst: 0, dstPitch: 1, src: 0, srcPitch: 1 },                    // work beyond any screen
    { width: 64, height: 64, dst: 0x100, dstPitch: 0x1000, src: 0x200000, srcPitch: 64, mode: 0x01 }, // backwards below 0
    { width: 16, height: 2, dst: end - 16, dstPitch: 0x1fff, mode: 0xc0, modeExt: 0x04, fg: 0xff }, // fill past the end
    { width: 16, height: 2, dst: 0, dstPitch: 16, mode: 0x02 },                                 // screen-to-system
    { width: 16, height: 2, dst: 0, dstPitch: 16, mode: 0x38 | 0x08 },                          // 32 bpp key colour
  ];
  for (const c of cases) {
    const t0 = Date.now();
    blt(vga, c);
    assert.ok(Date.now() - t0 < 2000, 'bounded');
    assert.equal(vga.regs.gr[0x31]! & 0x03, 0, 'idle');
    assert.ok(!vga.blt.systemSourceActive);
  }
  assert.equal(vga.blt.refused, cases.length);
  assert.equal(vga.blt.completed, 0);
  assert.ok(b.every((v, i) => v === before[i]), 'VRAM untouched');
  // Addresses beyond 4 MiB wrap into VRAM (GR2A/GR2E keep 6 bits, the engine masks to 22).
  blt(vga, { width: 4, height: 1, dst: 0x3ffff0 + 0x400000, dstPitch: 4, mode: 0xc0, modeExt: 0x04, fg: 0xab });
  assert.equal(vga.blt.completed, 1);
  assert.deepEqual(Array.from(b.slice(0x3ffff0, 0x3ffff4)), [0xab, 0xab, 0xab, 0xab]);
});

test('render: SVGA 16 bpp mode as Linux sets it, 8/24/32 bpp, and the 32x32 / 64x64 hardware cursor', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  b.fill(0); // no text-mode leftovers
  sr(vga, 0x06, 0x12);
  cr(vga, 0x11, 0x20); // unprotect CR0-7
  cr(vga, 0x01, 640 / 8 - 1); cr(vga, 0x12, (480 - 1) & 0xff); cr(vga, 0x07, ((480 - 1) >> 8 & 1) << 1 | ((480 - 1) >> 9 & 1) << 6);
  cr(vga, 0x13, (640 * 2) / 8); cr(vga, 0x1b, 0x22);
  sr(vga, 0x07, 0x17); writeHdr(vga, 0xc1);
  gr(vga, 0x05, 0x40); gr(vga, 0x06, 0x01);
  inb(vga, 0x3da); out(vga, 0x3c0, 0x20);
  // Pixel (3, 2) red in 5-6-5.
  b[2 * 1280 + 6] = 0x00; b[2 * 1280 + 7] = 0xf8;
  let f = vga.refresh(true);
  assert.deepEqual([f.width, f.height, f.text], [640, 480, null]);
  let px = new Uint32Array(f.surface);
  assert.equal(px[2 * 640 + 3], 0xff0000);
  assert.equal(px[0], 0);
  // 5-5-5 with the hidden DAC's Sierra setting.
  writeHdr(vga, 0xc0);
  b[2 * 1280 + 6] = 0x00; b[2 * 1280 + 7] = 0x7c;
  f = vga.refresh(false);
  assert.equal(new Uint32Array(f.surface)[2 * 640 + 3], 0xff0000);
  // 32 bpp: SR7 0x19, pitch 2560.
  sr(vga, 0x07, 0x19); cr(vga, 0x13, (640 * 4 / 8) & 0xff); cr(vga, 0x1b, 0x22 | (((640 * 4) >> 7) & 0x10));
  b.set([0x33, 0x22, 0x11, 0], 5 * 2560 + 4 * 7);
  f = vga.refresh(false);
  px = new Uint32Array(f.surface);
  assert.equal(px[5 * 640 + 7], 0x112233);
  // 24 bpp.
  sr(vga, 0x07, 0x15); cr(vga, 0x13, (640 * 3 / 8) & 0xff); cr(vga, 0x1b, 0x22);
  b.set([0x66, 0x55, 0x44], 1 * 1920 + 3 * 2);
  f = vga.refresh(false);
  assert.equal(new Uint32Array(f.surface)[640 + 2], 0x445566);
  // 8 bpp through the DAC.
  sr(vga, 0x07, 0x11); cr(vga, 0x13, 640 / 8); cr(vga, 0x1b, 0x22);
  out(vga, 0x3c8, 9); out(vga, 0x3c9, 0x3f); out(vga, 0x3c9, 0); out(vga, 0x3c9, 0x3f);
  b[640 * 4 + 4] = 9;
  f = vga.refresh(false);
  px = new Uint32Array(f.surface);
  assert.equal(px[640 * 4 + 4], 0xff00ff);
  // The 32x32 cursor at (100, 50): pattern 0, plane 0 row 0 all ones (invert), row 1 both planes (colour 15).
  vga.refresh(true);
  const base = CIRRUS_VRAM_BYTES - 16 * 1024;
  b.fill(0, base, base + 256);
  b.fill(0xff, base, base + 4);            // row 0 plane 0
  b.fill(0xff, base + 4, base + 8);        // row 1 plane 0
  b.fill(0xff, base + 128 + 4, base + 132 + 4); // row 1 plane 1
  b.fill(0xff, base + 128 + 8, base + 128 + 12); // row 2 plane 1 only: colour 0
  sr(vga, 0x12, 0x02); // hidden DAC access
  out(vga, 0x3c8, 0); out(vga, 0x3c9, 0); out(vga, 0x3c9, 0x3f); out(vga, 0x3c9, 0);     // colour 0: green
  out(vga, 0x3c8, 15); out(vga, 0x3c9, 0x3f); out(vga, 0x3c9, 0x3f); out(vga, 0x3c9, 0x3f); // colour 15: white
  sr(vga, 0x12, 0x01); sr(vga, 0x10 | ((100 & 7) << 5), 100 >> 3); sr(vga, 0x11 | ((50 & 7) << 5), 50 >> 3);
  f = vga.refresh(false);
  px = new Uint32Array(f.surface);
  const bgPixel = px[50 * 640 + 99]!;
  assert.equal(px[50 * 640 + 100], bgPixel ^ 0xffffff, 'row 0 inverts');
  assert.equal(px[51 * 640 + 131], 0xffffff, 'row 1 colour 15');
  assert.equal(px[52 * 640 + 110], 0x00ff00, 'row 2 colour 0');
  assert.equal(px[53 * 640 + 110], bgPixel, 'row 3 transparent');
  assert.ok(f.rects.some((_, i) => i % 4 === 0 && f.rects[i] === 100 && f.rects[i + 1] === 50), 'the cursor box is reported');
  // Moving it puts the screen back under the old place.
  sr(vga, 0x10 | ((300 & 7) << 5), 300 >> 3);
  f = vga.refresh(false);
  px = new Uint32Array(f.surface);
  assert.equal(px[50 * 640 + 100], bgPixel);
  assert.equal(px[51 * 640 + 300 + 31], 0xffffff);
  // 64x64: SR12 bit 2, lines of 16 bytes (8 plane 0, 8 plane 1), pattern select bits 5:2.
  b.fill(0, base, base + 1024);
  b.fill(0xff, base + 16 * 63, base + 16 * 64); // last row: both planes
  sr(vga, 0x12, 0x05); sr(vga, 0x13, 0);
  f = vga.refresh(false);
  px = new Uint32Array(f.surface);
  assert.equal(px[(50 + 63) * 640 + 300 + 63], 0xffffff);
  assert.equal(px[(50 + 62) * 640 + 300 + 63], bgPixel);
  // Back in VGA text mode the cursor is gone and the frame is text.
  sr(vga, 0x07, 0x00); gr(vga, 0x06, 0x0e); gr(vga, 0x05, 0x10);
  f = vga.refresh(false);
  assert.notEqual(f.text, null);
});

test('seeded fuzz over every window, blits and refresh: no throw, frames consistent', () => {
  const { vga, clock } = card();
  const seed = fuzzSeed();
  const ports = vga.regs.region;
  fuzzRegions([ports, ports, vga.mmioRegion, vga.mmioRegion, vga.window, vga.lfbRegion, ports], 40_000, seed, (rand) => {
    clock.advance(rand() * 300);
    // Steer into the extension registers and the blitter often.
    const r = rand();
    if (r < 0.3) { out(vga, 0x3ce, 0x20 + Math.floor(rand() * 0x1a)); out(vga, 0x3cf, Math.floor(rand() * 256)); }
    else if (r < 0.4) { out(vga, 0x3c4, Math.floor(rand() * 256)); out(vga, 0x3c5, Math.floor(rand() * 256)); }
    else if (r < 0.45) { out(vga, 0x3ce, 0x31); out(vga, 0x3cf, 0x02); }
    else if (r < 0.5) vga.lfbRegion.write(0x1000000 + Math.floor(rand() * 0x400000), 4, Math.floor(rand() * 0x1_0000_0000));
    if (rand() < 0.05) {
      const f = vga.refresh(rand() < 0.2);
      assert.ok(f.width * f.height * 4 <= f.surface.byteLength, `seed ${seed}: surface too small`);
      for (let i = 0; i < f.rects.length; i += 4) {
        assert.ok(f.rects[i]! + f.rects[i + 2]! <= f.width && f.rects[i + 1]! + f.rects[i + 3]! <= f.height, `seed ${seed}: rect outside the frame`);
      }
    }
  });
  const s = vga.saveState();
  const { vga: other } = card();
  other.loadState(JSON.parse(JSON.stringify(s)), vga.stateVersion);
  assert.deepEqual(other.saveState(), s, 'state round-trips');
});

test('banked window, write modes 4/5, BitBLT through BAR1 and 0xB8000, backwards transparent copy at 16 bpp', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  sr(vga, 0x07, 0x01);
  // Dual banks of 16 KiB granularity: A0000 -> bank 0 at 3*16K, A8000 -> bank 1 at 5*16K.
  gr(vga, 0x0b, 0x21); gr(vga, 0x09, 3); gr(vga, 0x0a, 5);
  vga.window.write(0x10, 1, 0xaa);
  vga.window.write(0x8010, 1, 0xbb);
  assert.equal(b[3 * 0x4000 + 0x10], 0xaa);
  assert.equal(b[5 * 0x4000 + 0x10], 0xbb);
  assert.equal(vga.window.read(0x8010, 1), 0xbb);
  // Write mode 5 with extended write modes (GRB bit 2): 8 pixels of fg/bg from one byte.
  gr(vga, 0x0b, 0x04); gr(vga, 0x09, 0); gr(vga, 0x05, 0x05); gr(vga, 0x01, 0x11); gr(vga, 0x00, 0x22);
  vga.window.write(0x100, 1, 0b10100001);
  assert.deepEqual(Array.from(b.slice(0x100, 0x108)), [0x11, 0x22, 0x11, 0x22, 0x22, 0x22, 0x22, 0x11]);
  gr(vga, 0x05, 0x00); gr(vga, 0x0b, 0x00);
  // A solid fill programmed with dword writes through BAR1's BitBLT registers (0x100 + QEMU's CIRRUS_MMIO_*).
  const m = vga.mmioRegion;
  m.write(0x100 + 0x04, 4, 0x5a);            // foreground
  m.write(0x100 + 0x08, 2, 15); m.write(0x100 + 0x0a, 2, 1); // 16x2
  m.write(0x100 + 0x0c, 2, 32);              // destination pitch
  m.write(0x100 + 0x10, 4, 0x7000);          // destination
  m.write(0x100 + 0x18, 1, 0xc0); m.write(0x100 + 0x1a, 1, 0x0d); m.write(0x100 + 0x1b, 1, 0x04);
  m.write(0x100 + 0x40, 1, 0x02);            // start
  assert.equal(m.read(0x100 + 0x40, 1) & 0x01, 0, 'idle');
  assert.ok(b.slice(0x7000, 0x7010).every((v) => v === 0x5a) && b.slice(0x7020, 0x7030).every((v) => v === 0x5a));
  assert.equal(b[0x7010], 0);
  // The same registers at 0xB8000 with SR17 bit 2 (and not bit 6).
  sr(vga, 0x17, 0x04);
  vga.window.write(0x18000 + 0x04, 1, 0x6b);
  vga.window.write(0x18000 + 0x10, 4, 0x7100);
  vga.window.write(0x18000 + 0x40, 1, 0x02);
  assert.equal(b[0x7100], 0x6b);
  assert.equal(vga.window.read(0x18000 + 0x04, 1), 0x6b);
  sr(vga, 0x17, 0x00);
  // Backwards transparent copy at 16 bpp: key 0x1234 pixels keep the destination.
  const P = 16;
  const src = [0x1111, 0x1234, 0x3333, 0x4444];
  src.forEach((v, i) => { b[0x8000 + 2 * i] = v & 0xff; b[0x8001 + 2 * i] = v >> 8; });
  b.fill(0xee, 0x9000, 0x9000 + 8);
  blt(vga, { width: 8, height: 1, src: 0x8000 + 7, dst: 0x9000 + 7, dstPitch: P, srcPitch: P, mode: 0x01 | 0x08 | 0x10, key: 0x1234 });
  const got = [0, 1, 2, 3].map((i) => b[0x9000 + 2 * i]! | (b[0x9001 + 2 * i]! << 8));
  assert.deepEqual(got, [0x1111, 0xeeee, 0x3333, 0x4444]);
});

test('write modes 4/5 at the end of VRAM wrap both their stores and their dirty mark to the start', () => {
  const { vga, vram } = card();
  const b = vram.bytes;
  const pages = new Uint8Array(Math.ceil(b.length / 4096));
  vram.takeDirty(pages);
  sr(vga, 0x07, 0x01);
  gr(vga, 0x0b, 0x04); gr(vga, 0x05, 0x05); gr(vga, 0x01, 0x11); gr(vga, 0x00, 0x22);
  vga.lfbRegion.write(b.length - 3, 1, 0xff);
  assert.deepEqual(Array.from(b.slice(b.length - 3)), [0x11, 0x11, 0x11]);
  assert.deepEqual(Array.from(b.slice(0, 5)), [0x11, 0x11, 0x11, 0x11, 0x11]);
  assert.ok(vram.takeDirty(pages));
  assert.equal(pages[pages.length - 1], 1, 'the last page');
  assert.equal(pages[0], 1, 'the wrapped stores\' page');
  assert.equal(pages.reduce((a, v) => a + v, 0), 2);
});
