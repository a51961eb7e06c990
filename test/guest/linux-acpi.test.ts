// The Debian i386 guest on the pc machine with ACPI on (no acpi=off), under the soft CPU: the
// PCI functions with their ids and classes, no ACPI errors or firmware-bug lines, the host's
// host's power button reaching the guest's ACPI fixed-event handler (the button driver), and poweroff ending in S5 with status 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Vm } from '../../src/hypervisor/vm.js';
import { loadLinux } from '../../src/firmware/boot.js';
import { pcLinuxBootTables } from '../../src/firmware/acpi/pc.js';
import { extractVmlinux, parseVmlinux } from '../../src/firmware/vmlinux.js';
import { defaultCacheDir, readCachedGuest } from '../../src/guest/image-build.js';
import { machines } from '../../src/machine/pc.js';

const guest = readCachedGuest(defaultCacheDir('i386'), 'i386');
const skip = guest === null ? 'the default i386 guest is not built (hvm image build)' : false;

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

function until(cond: () => boolean, ms: number, what: string, out: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (cond()) { clearInterval(poll); resolve(); }
      else if (Date.now() - t0 > ms) { clearInterval(poll); reject(new Error(`timed out waiting for ${what}:\n${out().slice(-3000)}`)); }
    }, 20);
  });
}

test('Linux with ACPI: PCI ids, no ACPI errors, power button, poweroff through S5', { skip, timeout: 600_000 }, async () => {
  const kernel = new Uint8Array(readFileSync(guest!.kernel));
  const initrd = new Uint8Array(readFileSync(guest!.initrd));
  const elf = extractVmlinux(kernel);
  const vmlinux = elf !== null ? parseVmlinux(elf) : undefined;
  const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=button ' +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const machine = machines['pc']!;
  const vm = await Vm.create({
    memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft',
    boot: (ram, cpus) => [loadLinux(ram, {
      kernel, initrd, cmdline, cpus, ...(vmlinux !== undefined ? { vmlinux } : {}),
      ...pcLinuxBootTables(machine, ram.layout.lowRamBytes, cpus),
    }).state],
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
