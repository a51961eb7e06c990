// The VRAM layout in guest memory and VramShare's mapping and dirty-page bookkeeping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam, memoryLayout, FOUR_GIB } from './memory.js';
import { ControlBlock } from './control.js';
import { VramShare, vramDirtyBytes, type VramSlot } from './vram.js';

const MiB = 1024 * 1024;

test('memory layout: VRAM after the ROM, validated sizes', () => {
  const l = memoryLayout(16 * MiB, 64 * 1024, 4 * MiB);
  assert.equal(l.vramBytes, 4 * MiB);
  assert.equal(memoryLayout(16 * MiB).vramBytes, 0);
  const ram = new GuestRam(GuestRam.allocate(l), l, 0);
  assert.equal(ram.vram.length, 4 * MiB);
  assert.equal(ram.vramOffset, 16 * MiB + 64 * 1024);
  assert.equal(ram.vram.byteOffset, ram.u8.byteOffset + ram.vramOffset);
  assert.equal(ram.u8.length, 16 * MiB + 64 * 1024 + 4 * MiB);
  // VRAM is not RAM: no guest-physical address reaches it through GuestMemory.
  ram.vram[0] = 0x77;
  assert.equal(ram.ramOffset(16 * MiB), -1);
  assert.equal(ram.rom().length, 64 * 1024);
  assert.equal(ram.rom()[0], 0, 'the ROM is not VRAM');
  assert.equal(ram.romOffsetOf(FOUR_GIB - 1), 16 * MiB + 64 * 1024 - 1);
  // The offset the KVM accelerator picks keeps VRAM page-aligned.
  const shifted = new GuestRam(GuestRam.allocate(l), l, 4096);
  assert.equal((shifted.vram.byteOffset - shifted.u8.byteOffset) % 4096, 0);
  assert.equal(new GuestRam(GuestRam.allocate(memoryLayout(2 * MiB)), memoryLayout(2 * MiB)).vram.length, 0);

  // With a display, the legacy VGA window is the card's (MMIO), not RAM.
  assert.equal(ram.vgaWindow, true);
  assert.equal(ram.ramOffset(0x9ffff), 0x9ffff);
  assert.equal(ram.ramOffset(0xa0000), -1);
  assert.equal(ram.ramOffset(0xb8000), -1);
  assert.equal(ram.ramOffset(0xbffff), -1);
  assert.equal(ram.ramOffset(0xc0000), 0xc0000);
  assert.equal(ram.view(0x9f000, 0x2000), null, 'a range into the window is refused');
  assert.equal(ram.view(0x90000, 0x40000), null, 'a range across the window is refused');
  assert.equal(ram.view(0xc0000, 16)?.length, 16);
  const plain = new GuestRam(GuestRam.allocate(memoryLayout(2 * MiB)), memoryLayout(2 * MiB));
  assert.equal(plain.vgaWindow, false);
  assert.equal(plain.ramOffset(0xb8000), 0xb8000, 'no display: the window is RAM');

  for (const bad of [1, 4096, 65 * 1024, 128 * MiB, -64 * 1024, 0.5]) {
    assert.throws(() => memoryLayout(16 * MiB, 0, bad), /video memory must be a multiple of 64 KiB and at most 64 MiB/);
  }
  assert.equal(memoryLayout(16 * MiB, 0, 64 * MiB).vramBytes, 64 * MiB);
});

class FakeSlot implements VramSlot {
  maps: [number, number][] = [];
  log = 0;
  refuse = false;
  map(gpa: number, size: number): void {
    if (this.refuse && size !== 0) throw new Error('EEXIST');
    this.maps.push([gpa, size]);
  }
  collect(bitmap: Int32Array): void { Atomics.or(bitmap, 0, this.log); this.log = 0; }
}

function share(vramBytes = 2 * MiB, slot: VramSlot | null = null): VramShare {
  const l = memoryLayout(16 * MiB, 64 * 1024, vramBytes);
  const ram = new GuestRam(GuestRam.allocate(l), l);
  return new VramShare(ram, new ControlBlock(ControlBlock.allocate()), VramShare.allocateDirty(vramBytes), slot);
}

function pagesOf(out: Uint8Array): number[] {
  const r: number[] = [];
  out.forEach((d, p) => { if (d) r.push(p); });
  return r;
}

test('VramShare: markDirty and takeDirty', () => {
  const s = share();
  assert.equal(s.pages, 512);
  assert.equal(vramDirtyBytes(2 * MiB), 64);
  assert.equal(s.bytes, s.ram.vram);
  const out = new Uint8Array(s.pages).fill(7);
  assert.equal(s.takeDirty(out), false);
  assert.deepEqual(pagesOf(out), [], 'clean pages are written as 0');

  s.markDirty(0, 1);
  s.markDirty(4095, 2);          // pages 0 and 1
  s.markDirty(31 * 4096, 4097);  // pages 31 and 32 (a word boundary)
  s.markDirty(100 * 4096, 64 * 4096); // 100..163: whole words in the middle
  s.markDirty(2 * MiB - 1, 100); // the last page, clipped
  s.markDirty(-10, 5);           // before VRAM: nothing
  s.markDirty(2 * MiB, 10);      // after VRAM: nothing
  s.markDirty(5 * 4096, 0);      // empty: nothing
  const gen = s.control.vramGeneration();
  assert.equal(s.takeDirty(out), true);
  const expect = [0, 1, 31, 32, ...Array.from({ length: 64 }, (_, i) => 100 + i), 511];
  assert.deepEqual(pagesOf(out), expect);
  assert.notEqual(s.control.vramGeneration(), gen, 'taking dirty pages bumps the generation');
  assert.equal(s.takeDirty(out), false);
  assert.deepEqual(pagesOf(out), []);

  // A short `out` takes only its pages; the rest stay dirty.
  s.markDirty(0, 2 * MiB);
  const part = new Uint8Array(40);
  assert.equal(s.takeDirty(part), true);
  assert.equal(pagesOf(part).length, 40);
  assert.equal(s.takeDirty(out), true);
  assert.deepEqual(pagesOf(out), Array.from({ length: 472 }, (_, i) => 40 + i));
});

test('VramShare: setLinearMapping publishes guest values safely', () => {
  const s = share();
  const gen = s.control.vramGeneration();
  s.setLinearMapping(0xfd00_0000, 16 * MiB);
  assert.equal(s.base, 0xfd00_0000);
  assert.equal(s.size, 2 * MiB, 'size clipped to the VRAM there is');
  assert.equal(s.control.vramGeneration(), gen + 1);
  s.setLinearMapping(0xfd00_0000, 16 * MiB);
  assert.equal(s.control.vramGeneration(), gen + 1, 'the same mapping again changes nothing');
  s.setLinearMapping(0xfe00_0000, 1 * MiB + 100);
  assert.deepEqual([s.base, s.size], [0xfe00_0000, 1 * MiB]);
  for (const [gpa, size] of [[0x1000, MiB], [0xfd00_0800, MiB], [0xffff_0000, MiB], [FOUR_GIB - 4096, 8192], [0xfee0_0000, 4096], [0xfeb0_0000, 2 * MiB], [0xfd00_0000, 0], [0xfd00_0000, 100]]) {
    s.setLinearMapping(gpa!, size!);
    assert.deepEqual([s.base, s.size], [0, 0], `0x${gpa!.toString(16)}+0x${size!.toString(16)} is refused`);
    s.setLinearMapping(0xfe00_0000, MiB);
  }
  s.setLinearMapping(0, 0);
  assert.deepEqual([s.base, s.size], [0, 0]);
});

test('VramShare: a KVM slot follows the mapping and its log is folded in', () => {
  const slot = new FakeSlot();
  const s = share(2 * MiB, slot);
  s.setLinearMapping(0xfd00_0000, 2 * MiB);
  s.setLinearMapping(0xe000_0000, 2 * MiB);
  slot.log = 0b1001;
  s.setLinearMapping(0, 0);
  assert.deepEqual(slot.maps, [[0xfd00_0000, 2 * MiB], [0xe000_0000, 2 * MiB], [0, 0]]);
  const out = new Uint8Array(s.pages);
  assert.equal(s.takeDirty(out), true, 'the log read before the slot went is kept');
  assert.deepEqual(pagesOf(out), [0, 3]);

  s.setLinearMapping(0xfd00_0000, 2 * MiB);
  slot.log = 0b100;
  assert.equal(s.takeDirty(out), true);
  assert.deepEqual(pagesOf(out), [2]);

  slot.refuse = true;
  s.setLinearMapping(0xe000_0000, 2 * MiB);
  assert.deepEqual([s.base, s.size], [0, 0], 'a place KVM refuses leaves the BAR to MMIO');
});
