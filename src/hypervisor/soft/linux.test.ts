// Regressions found booting Debian's i386 686 kernel on the soft CPU (linux-harness.ts): one
// small program per instruction or rule the kernel met that the core got wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason } from './cpu.js';

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
