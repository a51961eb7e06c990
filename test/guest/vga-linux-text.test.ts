// The default Linux guest with the std VGA in text mode (booted directly, its boot_params saying
// "80x25 VGA" as a BIOS loader's would): vgacon drives the screen, /dev/console is tty0, and the
// init script's output and a kernel message appear in Vm.refreshDisplay().text; kernel messages
// also still reach COM1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../../src/hypervisor/vm.js';
import { machines } from '../../src/machine/pc.js';
import { defaultGuestLoader, guestSkip, ScreenText, until } from '../support/guest.js';

const SCRIPT = `
echo "<3>hvm-kmsg: a kernel message on every console" > /dev/kmsg
echo "VGACON $(dmesg | grep -o 'colour VGA+ [0-9x]*')"
echo "ANSWER $((6 * 7))"
echo HVM-VGA-SCRIPT-DONE
sleep 600
`;

test('Linux vgacon: kernel messages and the init script output on the VGA text screen', { skip: guestSkip, timeout: 600_000 }, async () => {
  const cmdline = 'console=ttyS0 console=tty0 quiet lpj=1000000 tsc_early_khz=1000000 cryptomgr.notests ' +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const vm = await Vm.create({ memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft', vga: 'std', boot: defaultGuestLoader(machines['pc']!, cmdline, { vgaText: true }) });
  let serial = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { serial += Buffer.from(b).toString('latin1'); });
  await vm.start();
  const screen = new ScreenText(vm);
  const show = (): string => `VGA screen:\n${screen.text}\nserial:\n${serial.slice(-2500)}`;
  try {
    const text = (): string => screen.text;
    await until(() => text().includes('HVM-VGA-SCRIPT-DONE'), 480_000, 'the script output on the VGA screen', show);
    assert.match(text(), /^ANSWER 42$/m, show());
    assert.match(text(), /^VGACON colour VGA\+ 80x25$/m, show());
    assert.match(text(), /hvm-kmsg: a kernel message on every console/, show());
    assert.match(serial, /hvm-kmsg: a kernel message on every console/, 'kernel messages still reach COM1');
    assert.ok(!serial.includes('ANSWER 42'), '/dev/console is tty0, so the script output is only on the screen');
    const f = await vm.refreshDisplay(true);
    assert.equal(f.width, 720);
    assert.equal(f.height, 400);
  } finally {
    await screen.stop();
    await vm.stop().catch(() => {});
  }
});
