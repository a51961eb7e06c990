// A guest program on three soft CPUs (test/guest/programs/smp.asm): the BSP starts each AP with
// INIT-SIPI-SIPI, every AP records its APIC ID, and fixed, logical, shorthand, NMI and
// lowest-priority IPIs and an IOAPIC interrupt routed to CPU 1 arrive where they should; and a
// machine reset (smp-reset.asm) stops the APs until they are started again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../support/asm.js';
import { runHvm } from '../support/hvm-child.js';

const EXPECT = [
  'smp: bsp up', 'cpu 1 up', 'cpu 2 up', 'second sipi ignored', 'lock inc ok', 'fixed ipi 0->1->0 ok',
  'logical ipi ok', 'shorthand ipis ok', 'nmi ok', 'lowest priority -> cpu 1', 'ioapic irq0 -> cpu 1 ok', '',
].join('\n');

test('smp.asm on three soft CPUs: start-up IPIs, IPIs of every kind, IOAPIC to an AP', async () => {
  const rom = assemble('test/guest/programs/smp.asm');
  const r = await runHvm(['run', '--rom', rom, '--accel', 'soft', '--smp', '3', '--quiet', '-m', '16M'], { timeoutMs: 60_000 });
  assert.equal(r.stdout, EXPECT, `stderr: ${r.stderr}`);
  assert.equal(r.status, (0x13 << 1) | 1, `stderr: ${r.stderr}`);
});

test('smp-reset.asm: a triple fault resets every CPU; APs wait for a STARTUP IPI again', async () => {
  const rom = assemble('test/guest/programs/smp-reset.asm');
  const r = await runHvm(['run', '--rom', rom, '--accel', 'soft', '--smp', '2', '--quiet', '-m', '16M'], { timeoutMs: 60_000 });
  assert.equal(r.stdout, 'boot 1: ap up\nboot 2: ap stopped, up again\n', `stderr: ${r.stderr}`);
  assert.equal(r.status, (0x15 << 1) | 1, `stderr: ${r.stderr}`);
});
