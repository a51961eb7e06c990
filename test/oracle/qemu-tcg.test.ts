// The soft CPU against QEMU's TCG (DESIGN.md, "The soft CPU's oracles"): SeaBIOS and the
// project's guest programs run under qemu-system-i386 with every instruction's register state
// logged, and the soft CPU steps the same images; every state must match up to the end of the
// log or the first hardware interrupt (where the runs legitimately part).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { assemble } from '../support/asm.js';
import { traceAgainstQemu } from '../../src/hypervisor/soft/trace-qemu.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const haveQemu = spawnSync('qemu-system-i386', ['--version']).status === 0;
const skip = haveQemu ? false : 'qemu-system-i386 is not installed';
const LONG = process.env['HVM_LONG'] === '1';

test('SeaBIOS under the soft CPU matches QEMU TCG instruction by instruction', { skip: skip || (!existsSync(SEABIOS) && 'no SeaBIOS image'), timeout: 300_000 }, async () => {
  const r = await traceAgainstQemu(SEABIOS, LONG ? 8 : 2);
  assert.notEqual(r.outcome, 'divergence', r.report);
  assert.ok(r.agreed > 20_000, `only ${r.agreed} instructions compared (${r.outcome})`);
});

for (const program of ['real-mode', 'protected-mode', 'pit-irq']) {
  test(`${program}.asm under the soft CPU matches QEMU TCG`, { skip, timeout: 120_000 }, async () => {
    const r = await traceAgainstQemu(assemble(`test/guest/programs/${program}.asm`), 1);
    assert.notEqual(r.outcome, 'divergence', r.report);
    assert.ok(r.agreed > 20, `only ${r.agreed} instructions compared (${r.outcome})`);
  });
}
