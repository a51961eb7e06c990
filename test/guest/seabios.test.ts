// SeaBIOS (Debian's bios-256k.bin) on the pc machine with no disk: its screen on COM1 (the
// machine has no display, so fw_cfg's etc/sercon-port sends it there) shows the banner and ends
// at "No bootable device."; its log on the debug port (0x402, --debugcon) shows it found
// fw_cfg, set up PCI (i440FX, PIIX3, PIIX4 PM at 0x600) and installed the project's ACPI tables
// through the table-loader.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/asm.js';
import { hardwareKvmSkip } from '../../src/hypervisor/kvm/test-fixture.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const DONE = 'No bootable device.';

/** Runs hvm until `until` appears in its output (then kills it) or the timeout passes. */
function runUntil(args: string[], until: string, timeoutMs: number): Promise<{ out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const done = (): void => { child.kill('SIGKILL'); };
    const timer = setTimeout(done, timeoutMs);
    const take = (b: Buffer): void => { out += b.toString('latin1'); if (out.includes(until)) done(); };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', () => { clearTimeout(timer); resolve({ out, ms: performance.now() - t0 }); });
  });
}

const noBios = existsSync(SEABIOS) ? false : `${SEABIOS} missing (scripts/setup.sh installs seabios)`;
// kvm_pvm stops SeaBIOS with an emulation error right after it relocates its init code.
const kvmSkip = hardwareKvmSkip('SeaBIOS');

for (const accel of ['soft', 'kvm'] as const) {
  test(`SeaBIOS reaches "no bootable device" with the project's fw_cfg and ACPI under ${accel}`,
    { skip: noBios || (accel === 'kvm' ? kvmSkip : false) }, async () => {
      // Two vCPUs: SeaBIOS wakes the AP with INIT/SIPI and counts it (soft: both on one thread).
      const cpus = 2;
      const dir = mkdtempSync(join(tmpdir(), 'hvm-seabios-'));
      const logFile = join(dir, 'debugcon.log');
      let out: string;
      let log: string;
      try {
        ({ out } = await runUntil(['run', '--firmware', 'bios', '--accel', accel, '--quiet', '-m', '128M', '--smp', String(cpus),
          '--debugcon', logFile], DONE, 90_000));
        log = readFileSync(logFile, 'latin1');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      assert.match(out, /SeaBIOS \(version [^)]*\)\r?\n/, `the banner on the serial console:\n${out}`);
      assert.ok(out.includes(DONE), out);
      assert.ok(!out.includes('Found QEMU fw_cfg'), 'the debug log stays off the console');
      for (const line of [
        'SeaBIOS (version', 'Found QEMU fw_cfg', 'QEMU fw_cfg DMA interface supported',
        'qemu/e820: addr 0x0000000000000000 len 0x0000000008000000 [RAM]',
        'PCI: init bdf=00:00.0 id=8086:1237', 'PCI: init bdf=00:01.0 id=8086:7000', 'PCI: init bdf=00:01.3 id=8086:7113',
        // Not DONE: the test stops hvm as soon as DONE reaches the console, so the debug log's
        // last bytes may not be written yet (DONE is asserted on the console above).
        'Using pmtimer, ioport 0x608', 'ACPI: parse DSDT', 'Found 1 serial ports',
      ]) assert.ok(log.includes(line), `missing "${line}" in:\n${log}`);
      assert.ok(log.includes(`Found ${cpus} cpu(s)`), 'the CPU count from fw_cfg');
    });
}
