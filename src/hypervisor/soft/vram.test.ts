// VRAM as a linear framebuffer under the soft CPU: guest stores at the mapping land in
// VramShare.bytes with exactly their pages dirty, loads come back (TLB-cached), takeDirty
// clears, and moving the mapping drops stale translations (the old address is MMIO again).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam, memoryLayout } from '../memory.js';
import { ControlBlock } from '../control.js';
import { VramShare, VramWatch } from '../vram.js';
import { realSegment, resetState } from '../vcpu.js';
import { SoftCpu, StopReason } from './cpu.js';
import { FakeIntc, FakeIo, assemble } from './test-util.js';

const VRAM = 1024 * 1024;
const LFB = 0xfd00_0000;
const LFB2 = 0xfe00_0000;

function vramMachine(source: string): { cpu: SoftCpu; ram: GuestRam; io: FakeIo; share: VramShare; watch: VramWatch; dv: DataView } {
  const layout = memoryLayout(8 * 1024 * 1024, 0, VRAM);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  ram.u8.set(assemble(`%include "pm32.inc"\n${source}`), 0x1000);
  const control = new ControlBlock(ControlBlock.allocate());
  const share = new VramShare(ram, control, VramShare.allocateDirty(VRAM));
  const io = new FakeIo();
  const cpu = new SoftCpu({ ram, io, intc: new FakeIntc(), clock: () => 0, id: 0 });
  cpu.attachVramDirty(share.dirtyWords);
  const s = resetState();
  s.cs = realSegment(0, 0xb);
  s.rip = 0x1000n;
  cpu.setState(s);
  const watch = new VramWatch(control, cpu);
  return { cpu, ram, io, share, watch, dv: new DataView(ram.u8.buffer, ram.u8.byteOffset) };
}

/** Runs to the next HLT. */
function runToHlt(cpu: SoftCpu): void {
  cpu.halted = false;
  assert.equal(cpu.run(5_000_000), StopReason.Halted);
}

function dirtyPages(share: VramShare): number[] {
  const out = new Uint8Array(share.pages);
  share.takeDirty(out);
  const pages: number[] = [];
  out.forEach((d, p) => { if (d !== 0) pages.push(p); });
  return pages;
}

test('guest stores and loads through a linear framebuffer mapping; dirty pages; the mapping moves', () => {
  const m = vramMachine(`
      ; phase 1: stores of each size, a REP STOSD over two pages, loads back
      mov dword [${LFB}], 0x11223344
      mov byte [${LFB + 0x3005}], 0x5a
      mov word [${LFB + 0xffffe}], 0xbeef
      mov edi, ${LFB + 0x10000}
      mov eax, 0xa5a5a5a5
      mov ecx, 0x800
      cld
      rep stosd
      mov eax, [${LFB}]
      mov [0x700], eax
      mov eax, [${LFB + 0x5000}]
      mov [0x704], eax
      hlt
      ; phase 2: pages 0 and 5 again (page 0's translation is cached by now)
      mov dword [${LFB + 4}], 0x55667788
      mov dword [${LFB + 0x5008}], 0x99
      hlt
      ; phase 3: after the move, the old address is MMIO and the new one VRAM
      mov eax, [${LFB}]
      mov [0x708], eax
      mov eax, [${LFB2}]
      mov [0x70c], eax
      mov dword [${LFB2 + 0x2000}], 0x12345678
      mov dword [${LFB + 0x4000}], 0x87654321
      ; the legacy VGA window is the display card's: MMIO
      mov word [0xb8000], 0x0741
      mov eax, [0xa0000]
      mov [0x710], eax
      hlt
  `);
  const { cpu, share, watch, dv, io } = m;
  share.bytes.set([0xef, 0xbe, 0xad, 0xde], 0x5000);
  share.setLinearMapping(LFB, VRAM);
  watch.sync();
  assert.equal(share.base, LFB);

  runToHlt(cpu);
  const v = new DataView(share.bytes.buffer, share.bytes.byteOffset);
  assert.equal(v.getUint32(0, true), 0x11223344);
  assert.equal(share.bytes[0x3005], 0x5a);
  assert.equal(v.getUint16(0xffffe, true), 0xbeef);
  assert.equal(v.getUint32(0x10000, true), 0xa5a5a5a5);
  assert.equal(v.getUint32(0x11ffc, true), 0xa5a5a5a5);
  assert.equal(v.getUint32(0x12000, true), 0, 'REP STOSD stopped at its count');
  assert.equal(dv.getUint32(0x700, true), 0x11223344, 'load of a stored value');
  assert.equal(dv.getUint32(0x704, true), 0xdeadbeef, 'load of a host-written value');
  assert.equal(io.mmio.size, 0, 'no access went out as MMIO');
  assert.deepEqual(dirtyPages(share), [0, 3, 0x10, 0x11, 0xff]);
  assert.equal(share.takeDirty(new Uint8Array(share.pages)), false, 'takeDirty cleared the bits');

  // The CPU drops its VRAM write entries when it sees the bitmap was taken, marking their pages
  // once more (a store may have used them in between); after that, nothing is dirty.
  watch.sync();
  assert.deepEqual(dirtyPages(share), [0, 3, 0x10, 0x11, 0xff]);
  watch.sync();
  assert.deepEqual(dirtyPages(share), []);

  runToHlt(cpu);
  assert.equal(v.getUint32(4, true), 0x55667788);
  assert.equal(v.getUint32(0x5008, true), 0x99);
  assert.deepEqual(dirtyPages(share), [0, 5], 'stores after takeDirty mark their pages again');

  share.setLinearMapping(LFB2, VRAM);
  watch.sync();
  runToHlt(cpu);
  assert.equal(dv.getUint32(0x708, true), 0xffffffff, 'old address reads as unassigned MMIO');
  assert.equal(dv.getUint32(0x70c, true), 0x11223344, 'new address reads VRAM');
  assert.equal(v.getUint32(0x2000, true), 0x12345678);
  assert.equal((io.mmio.get(LFB + 0x4000) ?? 0) >>> 0, 0x87654321, 'a store to the old address went out as MMIO');
  assert.equal(v.getUint32(0x4000, true), 0, '...and not to VRAM');
  assert.ok(dirtyPages(share).includes(2));
  assert.equal(io.mmio.get(0xb8000), 0x0741, 'text-mode store to the VGA window went out as MMIO');
  assert.equal(dv.getUint16(0xb8000, true), 0, '...not into RAM');
  assert.equal(dv.getUint32(0x710, true), 0xffffffff);
});

test('with paging: a cached translation to VRAM goes when the mapping is removed', () => {
  const m = vramMachine(`
      ; identity-map 0..4 MiB, map 4 MiB..8 MiB linear to the LFB with 4 KiB pages
      mov edi, 0x21000
      mov eax, 0x3
      mov ecx, 1024
    f1: stosd
      add eax, 0x1000
      loop f1
      mov edi, 0x22000
      mov eax, ${LFB} | 3
      mov ecx, 256
    f2: stosd
      add eax, 0x1000
      loop f2
      mov dword [0x20000], 0x21003
      mov dword [0x20004], 0x22003
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov dword [0x400000 + 0x7000], 0xc0ffee
      mov eax, [0x400000 + 0x7000]
      mov [0x700], eax
      hlt
      mov eax, [0x400000 + 0x7000]
      mov [0x704], eax
      hlt
  `);
  const { cpu, share, watch, dv } = m;
  share.setLinearMapping(LFB, VRAM);
  watch.sync();
  runToHlt(cpu);
  assert.equal(dv.getUint32(0x700, true), 0xc0ffee);
  assert.equal(new DataView(share.bytes.buffer, share.bytes.byteOffset).getUint32(0x7000, true), 0xc0ffee);
  assert.deepEqual(dirtyPages(share), [7]);
  share.setLinearMapping(0, 0);
  watch.sync();
  runToHlt(cpu);
  assert.equal(dv.getUint32(0x704, true), 0xffffffff, 'unmapped: MMIO');
});
