// VRAM as guest memory through a whole Vm: a small guest stores to a linear framebuffer the host
// mapped at 0xFD000000 and reads it back; the bytes appear in VRAM with exactly their pages
// dirty; the mapping moves to 0xFE000000 while the guest runs (the old address then reads as
// unassigned MMIO). Under the soft CPU and under KVM (a memory slot with dirty logging).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeDirtyPages as dirty } from '../../src/devices/testing.js';
import { existsSync, readFileSync } from 'node:fs';
import { assemble } from '../support/asm.js';
import { until } from '../support/guest.js';
import { Vm } from '../../src/hypervisor/vm.js';
import type { SharedVm } from '../../src/hypervisor/messages.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';
import { vramShareFor } from '../../src/devicemodel/vram.js';

const kvmSkip = existsSync('/dev/kvm') ? false : 'no /dev/kvm on this host';
const VRAM = 1024 * 1024;


for (const accel of ['soft', 'kvm'] as const) {
  test(`guest stores to a linear framebuffer land in VRAM under ${accel}`, { skip: accel === 'kvm' ? kvmSkip : false, timeout: 60_000 }, async () => {
    const image = new Uint8Array(readFileSync(assemble('test/guest/programs/vram.asm')));
    const vm = await Vm.create({
      memoryBytes: 16 * 2 ** 20, cpus: 1, accel, romBytes: image.length, vramBytes: VRAM,
      boot: (ram) => [loadFirmwareImage(ram, image)],
    });
    // No display card here: the test maps VRAM itself, as the card does when its BAR is set.
    const shared = (vm as unknown as { shared: SharedVm }).shared;
    const share = vramShareFor(shared, vm.ram, vm.control)!;
    assert.equal(share.bytes.length, VRAM);
    share.bytes.set([0xef, 0xbe, 0xad, 0xde], 0x3000);
    share.setLinearMapping(0xfd00_0000, VRAM);
    let out = '';
    vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
    const command = async (c: string, reply: RegExp): Promise<string> => {
      const from = out.length;
      vm.sendInput('serial0', Buffer.from(c));
      await until(() => reply.test(out.slice(from)), 20_000, `the answer to '${c}'`);
      return reply.exec(out.slice(from))![1]!;
    };
    try {
      await vm.start();
      await until(() => out.includes('ready\n'), 20_000, 'the guest in protected mode');
      assert.deepEqual(dirty(share), [], 'nothing dirty before the guest writes');

      assert.equal(await command('w', /w([0-9a-f]{8})\n/), 'a5ada3ff', 'the guest read back what it stored');
      const v = new DataView(share.bytes.buffer, share.bytes.byteOffset);
      for (const i of [0, 1, 511, 1023]) assert.equal(v.getUint32(i * 4, true), i);
      assert.equal(share.bytes[0x5007], 0x5a);
      assert.equal(v.getUint32(0x20000, true), 0xa5a5a5a5);
      assert.equal(v.getUint32(0x21ffc, true), 0xa5a5a5a5);
      assert.equal(v.getUint32(0x22000, true), 0);
      assert.deepEqual(dirty(share), [0, 5, 0x20, 0x21]);

      assert.equal(await command('a', /a([0-9a-f]{8})\n/), 'deadbeef');
      share.setLinearMapping(0xfe00_0000, VRAM);
      assert.equal(await command('a', /a([0-9a-f]{8})\n/), 'ffffffff', 'the old address is unassigned now');
      assert.equal(await command('b', /b([0-9a-f]{8})\n/), 'deadbeef', 'the new address is VRAM');

      vm.sendInput('serial0', Buffer.from('q'));
      const exit = await vm.waitForExit();
      assert.equal(exit.status, (0x15 << 1) | 1, exit.message);
    } finally {
      await vm.stop();
    }
  });
}
