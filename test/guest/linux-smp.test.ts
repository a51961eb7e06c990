// The Debian i386 guest with two soft CPUs on the pc machine, ACPI on: Linux finds both CPUs in
// the MADT, wakes CPU 1 with INIT/SIPI, takes local timer interrupts and IPIs on both, and runs
// a command pinned to each CPU (busybox taskset; /proc/self/stat field 39 is the CPU it ran on).
// One boot; the script's end powers the guest off through S5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../../src/hypervisor/vm.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { machines } from '../../src/machine/pc.js';

const SCRIPT = `
echo "NPROC $(nproc)"
echo "PROCESSORS $(grep -c ^processor /proc/cpuinfo)"
dmesg | grep -E 'smp: Brought up|smpboot: Total of' | sed 's/^/DMESG /'
for c in 0 1; do echo "RAN-ON $c $(busybox taskset $((1 << c)) awk '{print $39}' /proc/self/stat)"; done
awk '$1 == "LOC:" || $1 == "CAL:" || $1 == "RES:" {print "IRQ", $1, $2, $3}' /proc/interrupts
`;

test('Linux on two soft CPUs: MADT, INIT/SIPI, both CPUs run', { skip: guestSkip, timeout: 900_000 }, async () => {
  const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 ' +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const machine = machines['pc']!;
  const vm = await Vm.create({ memoryBytes: 256 * 2 ** 20, cpus: 2, accel: 'soft', boot: defaultGuestLoader(machine, cmdline) });
  let out = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
  await vm.start();
  try {
    await until(() => /HVM-CMD-EXIT=\d+\r?\n/.test(out), 840_000, 'the guest script to finish', () => out);
    assert.match(out, /NPROC 2\r?\n/, out);
    assert.match(out, /PROCESSORS 2\r?\n/, out);
    assert.match(out, /DMESG .*smp: Brought up 1 node, 2 CPUs/, out);
    assert.match(out, /RAN-ON 0 0\r?\n/, out);
    assert.match(out, /RAN-ON 1 1\r?\n/, out);
    // Local APIC timer interrupts on both CPUs, and IPIs (function calls or reschedules) taken.
    const loc = /IRQ LOC: (\d+) (\d+)/.exec(out);
    assert.ok(loc !== null && Number(loc[1]) > 0 && Number(loc[2]) > 0, `LOC on both CPUs:\n${out}`);
    const ipis = [...out.matchAll(/IRQ (?:CAL|RES): (\d+) (\d+)/g)].reduce((n, m) => n + Number(m[1]) + Number(m[2]), 0);
    assert.ok(ipis > 0, `IPIs delivered:\n${out}`);
    assert.match(out, /HVM-CMD-EXIT=0/, out);
    const exit = await Promise.race([vm.waitForExit(), new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no power-off after the script:\n${out.slice(-2000)}`)), 120_000))]);
    assert.equal(exit.reason, 'poweroff', out.slice(-2000));
  } finally {
    await vm.stop().catch(() => {});
  }
});
