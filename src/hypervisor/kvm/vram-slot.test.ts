// VRAM as a KVM memory slot with dirty logging: a tiny flat 32-bit guest stores to and loads
// from the framebuffer without exits, KVM's dirty log reaches VramShare.takeDirty, and moving
// the slot makes the old address MMIO again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeDirtyPages as dirty } from '../../devices/testing.js';
import { ExitReason } from '../exits.js';
import { ControlBlock } from '../control.js';
import { VramShare } from '../vram.js';
import { KvmVramSlot } from './vram-slot.js';
import { kvmSkip, tinyGuest } from './test-fixture.js';

const skip = kvmSkip();
const LFB = 0xfd00_0000;
const LFB2 = 0xfe00_0000;
const VRAM = 1024 * 1024;

const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];


test('VRAM slot: stores land in VRAM, KVM dirty log in takeDirty, the slot moves', { skip }, () => {
  const g = tinyGuest([
    0xc7, 0x05, ...u32(LFB), ...u32(0x11223344), //  mov dword [LFB], 0x11223344
    0xc6, 0x05, ...u32(LFB + 0x3005), 0x5a, //       mov byte [LFB+0x3005], 0x5a
    0xa1, ...u32(LFB + 0x5000), //                  mov eax, [LFB+0x5000]
    0xe7, 0x80, //                                  out 0x80, eax
    0xc7, 0x05, ...u32(LFB + 0x7000), ...u32(1), //  mov dword [LFB+0x7000], 1
    0xe7, 0x81, //                                  out 0x81, eax
    0xa1, ...u32(LFB), //                           mov eax, [LFB]   (moved away: MMIO)
    0xa1, ...u32(LFB2), //                          mov eax, [LFB2]
    0xe7, 0x82, //                                  out 0x82, eax
    0x66, 0xc7, 0x05, ...u32(0xb8000), 0x41, 0x07, // mov word [0xb8000], 0x0741 (VGA window: MMIO)
    0xe7, 0x83, //                                  out 0x83, eax
  ], { mode: 'flat32', ramBytes: 1024 * 1024, vramBytes: VRAM });
  try {
    const control = new ControlBlock(ControlBlock.allocate());
    const share = new VramShare(g.ram, control, VramShare.allocateDirty(VRAM), new KvmVramSlot(g.vm.vmFd, g.ram.vram));
    share.bytes.set(u32(0xdeadbeef), 0x5000);
    share.setLinearMapping(LFB, VRAM);
    let x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Io, x.message);
    assert.equal(x.ioPort, 0x80);
    assert.deepEqual([...x.ioData.subarray(0, 4)], u32(0xdeadbeef), 'load from VRAM');
    const v = new DataView(share.bytes.buffer, share.bytes.byteOffset);
    assert.equal(v.getUint32(0, true), 0x11223344);
    assert.equal(share.bytes[0x3005], 0x5a);
    assert.deepEqual(dirty(share), [0, 3], 'KVM logged exactly the written pages');
    assert.deepEqual(dirty(share), [], 'and the log was cleared');

    x = g.vcpu.run();
    assert.equal(x.ioPort, 0x81, x.message);
    assert.deepEqual(dirty(share), [7]);

    share.setLinearMapping(LFB2, VRAM);
    x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Mmio, x.message);
    assert.deepEqual([x.mmioAddr, x.mmioLen, x.mmioWrite], [LFB, 4, false]);
    g.vcpu.completeRead(x, 0xffffffff);
    x = g.vcpu.run();
    assert.equal(x.ioPort, 0x82, x.message);
    assert.deepEqual([...x.ioData.subarray(0, 4)], u32(0x11223344), 'load from the moved slot');
    x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Mmio, x.message);
    assert.deepEqual([x.mmioAddr, x.mmioLen, x.mmioWrite, x.mmioData[0], x.mmioData[1]], [0xb8000, 2, true, 0x41, 0x07]);
    x = g.vcpu.run();
    assert.equal(x.ioPort, 0x83, x.message);
    share.setLinearMapping(0, 0);
  } finally { g.close(); }
});
