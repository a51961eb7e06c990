// The foundation's guest programs under both accelerators: the same serial output and exit
// status from KVM and from the soft CPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { assemble } from '../support/asm.js';
import { runHvm } from '../support/hvm-child.js';

interface Program { source: string; expect: string; status: number }

const programs: Program[] = [
  { source: 'test/guest/programs/real-mode.asm', expect: 'real mode ok 42\n', status: (0x21 << 1) | 1 },
  { source: 'test/guest/programs/protected-mode.asm', expect: 'protected mode ok\nstring io ok\n', status: (0x10 << 1) | 1 },
  { source: 'test/guest/programs/pit-irq.asm', expect: '20 timer interrupts\n', status: (0x12 << 1) | 1 },
];

const kvmSkip = existsSync('/dev/kvm') ? false : 'no /dev/kvm on this host';

for (const accel of ['soft', 'kvm'] as const) {
  for (const p of programs) {
    test(`${p.source.split('/').pop()} under ${accel}`, { skip: accel === 'kvm' ? kvmSkip : false }, async () => {
      const rom = assemble(p.source);
      const r = await runHvm(['run', '--rom', rom, '--accel', accel, '--quiet', '-m', '16M'], { timeoutMs: 20_000 });
      assert.equal(r.stdout, p.expect, `stderr: ${r.stderr}`);
      assert.equal(r.status, p.status, `stderr: ${r.stderr}`);
    });
  }
}
