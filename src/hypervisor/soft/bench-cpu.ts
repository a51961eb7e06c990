// Micro benchmark of the soft CPU: a 7-instruction loop of ALU ops, a load and a store through
// the TLB and a branch (the loop DESIGN.md measures), with paging off and on; prints guest MIPS.
//
//   node dist/src/hypervisor/soft/bench-cpu.js [iterations]      HVM_JIT=0: interpreter only

import { assemble, machine } from './test-util.js';
import { StopReason } from './cpu.js';

const iterations = Number(process.argv[2] ?? 20_000_000);

function program(paging: boolean): string {
  return `
    %include "pm32.inc"
    ${paging ? `
      mov edi, 0x21000
      mov eax, 0x3
      mov ecx, 1024
    fill: stosd
      add eax, 0x1000
      loop fill
      mov dword [0x20000], 0x21003
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax` : ''}
      mov ecx, ${iterations}
      mov esi, 0x10000
      xor edx, edx
    l:
      mov eax, [esi]
      add eax, ecx
      xor eax, 0x55
      mov [esi+4], eax
      inc edx
      dec ecx
      jnz l
      hlt
  `;
}

for (const paging of [false, true]) {
  const m = machine(assemble(program(paging)));
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  let stop = StopReason.Budget;
  while (stop === StopReason.Budget) stop = m.cpu.run(1_000_000);
  const ms = performance.now() - t0;
  const u = process.cpuUsage(u0);
  const cpuMs = (u.user + u.system) / 1000;
  const n = m.cpu.instructionsRetired;
  // CPU time as well as wall time: the build machine is shared, and CPU time is the steadier one.
  console.log(`paging ${paging ? 'on ' : 'off'}: ${n} instructions in ${ms.toFixed(0)} ms = ${(n / ms / 1000).toFixed(1)} MIPS ` +
    `(${(n / cpuMs / 1000).toFixed(1)} MIPS of CPU time; ${m.cpu.regionsCompiled} regions compiled)`);
}
