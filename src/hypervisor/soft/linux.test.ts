// Regressions found booting Debian's i386 686 kernel on the soft CPU (linux-harness.ts): one
// small program per instruction or rule the kernel met that the core got wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason, type FpuUnit } from './cpu.js';
import type { DecodedOperand } from './api.js';

function runToHalt(src: string): ReturnType<typeof machine> & { stop: StopReason } {
  const m = machine(assemble(src));
  const stop = m.cpu.run(1_000_000);
  return { ...m, stop };
}

test('no x87 attached, EM=0: FNINIT/FNSTSW/FNSTCW store nothing (the boot code\'s FPU probe); EM=1 raises #NM', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      mov dword [0x700], 0xffffffff
      fninit
      fnstsw [0x700]
      fnstcw [0x702]
      mov eax, [RES_COUNT]
      mov [0x704], eax
      mov eax, cr0
      or eax, 4
      mov cr0, eax
      mov dword [FIXUP], after
      fninit
    after:
      mov eax, [RES_VEC]
      mov [0x708], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0xffffffff, 'nothing stored');
  assert.equal(peek32(m, 0x704), 0, 'no exception with EM=0');
  assert.equal(peek32(m, 0x708), 7, '#NM with EM=1');
});

test('a 32-bit MMIO read of 0xFFFFFFFF compares equal to -1 (the stack-protector check on a floating bus)', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      mov eax, [0x10000000]
      sub eax, [0x10000000]
      setz [0x700]
      mov eax, [0x10000000]
      cmp eax, [0x10000000]
      setz [0x701]
      mov eax, -1
      cmp eax, [0x10000000]
      setz [0x702]
      cmp word [0x10000000], 0xffff
      setz [0x703]
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0x01010101);
});

test('x87 operands above 2 GiB reach the unit as unsigned linear addresses; register forms as -1', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      fnstcw [0xc1de4820]
      fld st1
      fnstcw [0x1234]
      hlt
  `));
  const seen: number[] = [];
  const fpu: FpuUnit = { exec: (_op: number, d: DecodedOperand) => { seen.push(d.ea); }, fwait: () => {}, reset: () => {} };
  m.cpu.attachUnits(fpu, null);
  assert.equal(m.cpu.run(1_000_000), StopReason.Halted);
  assert.deepEqual(seen, [0xc1de4820, -1, 0x1234]);
});
