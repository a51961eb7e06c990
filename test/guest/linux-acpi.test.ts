// The Debian i386 guest on the pc machine with ACPI on (no acpi=off), under the soft CPU: the
// PCI functions with their ids and classes, no ACPI errors or firmware-bug lines, the host's
// host's power button reaching the guest's ACPI fixed-event handler (the button driver), and poweroff ending in S5 with status 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../../src/hypervisor/vm.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { machines } from '../../src/machine/pc.js';

const skip = guestSkip;

/** Runs after boot: facts to check, then a wait for the power button; init powers off after. */
const SCRIPT = `
for d in /sys/bus/pci/devices/*; do echo "PCI $(basename $d) $(cat $d/vendor) $(cat $d/device) $(cat $d/class)"; done
echo "ACPI-ERRORS $(dmesg | grep -ciE 'ACPI (BIOS )?(Error|Warning)|Firmware Bug|ACPI Exception')"
dmesg | grep -iE 'ACPI (BIOS )?(Error|Warning)|Firmware Bug|ACPI Exception'
grep -q 'Power Button' /proc/bus/input/devices && echo HAVE-PWRBTN
# The initramfs has no evdev to read the key from: count ACPICA's fixed power-button events.
n() { awk '{print $1}' /sys/firmware/acpi/interrupts/ff_pwr_btn; }
echo "HVM-WAITING-FOR-BUTTON $(n)"
i=0; while [ "$(n)" = 0 ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
echo "HVM-BUTTON-PRESSED $(n) $(grep -c . /proc/interrupts) $(grep acpi /proc/interrupts)"
# The guest's acpid powers it off on the button; this script would otherwise wait here.
sleep 600
`;


test('Linux with ACPI: PCI ids, no ACPI errors, power button, poweroff through S5', { skip, timeout: 600_000 }, async () => {
  const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=button ' +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const machine = machines['pc']!;
  const vm = await Vm.create({
    memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft',
    boot: defaultGuestLoader(machine, cmdline),
  });
  let out = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
  await vm.start();
  try {
    await until(() => /HVM-WAITING-FOR-BUTTON/.test(out), 480_000, 'the guest to wait for the button', () => out);
    for (const [dev, id, cls] of [['0000:00:00.0', '0x8086 0x1237', '0x060000'], ['0000:00:01.0', '0x8086 0x7000', '0x060100'],
      ['0000:00:01.3', '0x8086 0x7113', '0x068000']] as const) {
      assert.ok(out.includes(`PCI ${dev} ${id} ${cls}`), `${dev} ${id} ${cls} in:\n${out}`);
    }
    assert.match(out, /ACPI-ERRORS 0\b/, out);
    assert.match(out, /HAVE-PWRBTN/, 'the button module bound the fixed-feature power button');
    vm.powerButton();
    // The guest's acpid powers it off at once; the script may or may not print its count first.
    const exit = await Promise.race([vm.waitForExit(), new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no power-off within 120 s of the button:\n${out.slice(-2000)}`)), 120_000))]);
    const pressed = /HVM-BUTTON-PRESSED (\d+)/.exec(out);
    if (pressed) assert.notEqual(pressed[1], '0', 'the fixed power-button event was counted');
    assert.equal(exit.reason, 'poweroff', out.slice(-2000));
    assert.match(out, /power button: powering off/, 'the guest shut itself down on the button (busybox acpid)');
    assert.ok(!out.includes('HVM-CMD-EXIT'), 'the power-off came from the button, not from the end of the script');
    assert.equal(exit.status, 0);
  } finally {
    await vm.stop().catch(() => {});
  }
});
