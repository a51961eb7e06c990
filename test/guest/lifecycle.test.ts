// The Vm object's lifecycle, driven through its API as the monitor and tests will: start,
// pause (no guest output while paused), resume, reset (the guest boots again), console input,
// stop — under the soft CPU and under KVM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { assemble } from '../support/asm.js';
import { Vm } from '../../src/hypervisor/vm.js';
import { until } from '../support/guest.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';

const kvmSkip = existsSync('/dev/kvm') ? false : 'no /dev/kvm on this host';


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const accel of ['soft', 'kvm'] as const) {
  test(`start, pause, resume, reset, input and stop under ${accel}`, { skip: accel === 'kvm' ? kvmSkip : false, timeout: 60_000 }, async () => {
    const image = new Uint8Array(readFileSync(assemble('test/guest/programs/ticker.asm')));
    const vm = await Vm.create({ memoryBytes: 16 * 2 ** 20, cpus: 1, accel, romBytes: image.length, boot: (ram) => [loadFirmwareImage(ram, image)] });
    let out = '';
    vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
    await vm.start();
    await until(() => out.startsWith('boot\n') && out.length > 8, 20_000, 'the first ticks');

    await vm.pause();
    await sleep(50);
    const frozen = out.length;
    await sleep(300);
    assert.equal(out.length, frozen, 'no guest output while paused');
    vm.resume();
    await until(() => out.length > frozen + 2, 20_000, 'ticks after resume');

    let resets = 0;
    vm.on('reset', () => { resets++; });
    const before = out.length;
    await vm.reset();
    assert.equal(resets, 1);
    await until(() => out.indexOf('boot\n', before) >= 0, 20_000, 'the guest booting again after reset');

    vm.sendInput('serial0', Buffer.from('q'));
    const exit = await vm.waitForExit();
    assert.equal(exit.reason, 'debug-exit');
    assert.equal(exit.status, (0x2a << 1) | 1);
  });

  test(`stop ends a running VM under ${accel}`, { skip: accel === 'kvm' ? kvmSkip : false, timeout: 60_000 }, async () => {
    const image = new Uint8Array(readFileSync(assemble('test/guest/programs/ticker.asm')));
    const vm = await Vm.create({ memoryBytes: 16 * 2 ** 20, cpus: 1, accel, romBytes: image.length, boot: (ram) => [loadFirmwareImage(ram, image)] });
    let out = '';
    vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
    await vm.start();
    await until(() => out.startsWith('boot\n'), 20_000, 'boot');
    await vm.stop();
    const exit = await vm.waitForExit();
    assert.equal(exit.reason, 'stopped');
  });
}
