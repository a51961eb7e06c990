// The soft CPU's MMU on small programs: page faults (CR2, error code), 4 MiB pages, INVLPG,
// CR0.WP, user pages, and a REP MOVSD that faults half-way and resumes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason } from './cpu.js';

const RES_VEC = 0x600, RES_ERR = 0x604, RES_CR2 = 0x608;

/** Identity-maps the first 4 MiB with 4 KiB pages (PD at 0x20000, PT at 0x21000), paging on. */
const PAGING_ON = `
PD equ 0x20000
PT equ 0x21000
  mov edi, PT
  mov eax, 0x3
  mov ecx, 1024
fill_pt:
  stosd
  add eax, 0x1000
  loop fill_pt
  mov dword [PD], PT | 3
  mov eax, PD
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
`;

function run(body: string): ReturnType<typeof machine> & { stop: StopReason } {
  const m = machine(assemble(`%include "pm32.inc"\n${PAGING_ON}\n${body}`));
  const stop = m.cpu.run(2_000_000);
  return { ...m, stop };
}

test('page faults report CR2 and the error code', () => {
  const m = run(`
      mov dword [PT + 0x100*4], 0
      invlpg [0x100000]
      mov dword [FIXUP], f1
      mov eax, [0x100123]
    f1: mov eax, [RES_ERR]
      mov [0x700], eax
      mov eax, [RES_CR2]
      mov [0x704], eax
      mov dword [FIXUP], f2
      mov [0x100456], eax
    f2: mov eax, [RES_ERR]
      mov [0x708], eax
      mov dword [PT + 0x101*4], 0x101001
      invlpg [0x101000]
      mov dword [0x101010], 7
      mov eax, cr0
      or eax, 0x10000
      mov cr0, eax
      mov dword [FIXUP], f3
      mov dword [0x101020], 9
    f3: mov eax, [RES_ERR]
      mov [0x70c], eax
      mov eax, [RES_CR2]
      mov [0x710], eax
      mov eax, [RES_VEC]
      mov [0x714], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0, 'read of a not-present page');
  assert.equal(peek32(m, 0x704), 0x100123);
  assert.equal(peek32(m, 0x708), 2, 'write of a not-present page');
  assert.equal(peek32(m, 0x101010), 7, 'WP=0: supervisor writes a read-only page');
  assert.equal(peek32(m, 0x70c), 3, 'WP=1: protection fault on write');
  assert.equal(peek32(m, 0x710), 0x101020);
  assert.equal(peek32(m, 0x714), 14);
  assert.equal(peek32(m, 0x101020), 0);
  // Accessed and dirty bits.
  assert.equal(peek32(m, 0x21000 + 0x101 * 4) & 0x60, 0x60, 'A and D set by the write');
  assert.equal(peek32(m, 0x21000 + 0x102 * 4) & 0x60, 0, 'untouched page stays clean');
});

test('4 MiB pages and INVLPG after a PTE change', () => {
  const m = run(`
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov dword [PD + 4], 0x00000083
      mov dword [0x400700], 0xcafe
      mov dword [0x5000], 0xaaaa
      mov dword [0x6000], 0xbbbb
      mov dword [PD + 8], 0x22003
      mov dword [0x22000], 0x5003
      mov eax, [0x800000]
      mov [0x704], eax
      mov dword [0x22000], 0x6003
      mov eax, [0x800000]
      mov [0x708], eax
      invlpg [0x800000]
      mov eax, [0x800000]
      mov [0x70c], eax
      mov dword [PD + 4], 0
      invlpg [0x7ff000]
      mov dword [FIXUP], f1
      mov eax, [0x400700]
    f1: mov eax, [RES_CR2]
      mov [0x710], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0xcafe, 'write through the 4 MiB page landed at its physical address');
  assert.equal(peek32(m, 0x704), 0xaaaa);
  assert.equal(peek32(m, 0x708), 0xaaaa, 'stale translation until INVLPG');
  assert.equal(peek32(m, 0x70c), 0xbbbb, 'new translation after INVLPG');
  assert.equal(peek32(m, 0x710), 0x400700, 'INVLPG anywhere in a 4 MiB page drops all of it');
  assert.equal(peek32(m, 0x20004), 0, 'PDE cleared');
});

test('CMPXCHG8B', () => {
  const m = run(`
      mov dword [0x700], 1
      mov dword [0x704], 2
      mov eax, 1
      mov edx, 2
      mov ebx, 0x33
      mov ecx, 0x44
      lock cmpxchg8b [0x700]
      setz [0x710]
      mov eax, 5
      mov edx, 6
      cmpxchg8b [0x700]
      setz [0x711]
      mov [0x714], eax
      mov [0x718], edx
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0x33);
  assert.equal(peek32(m, 0x704), 0x44);
  assert.equal(m.dv.getUint8(0x710), 1);
  assert.equal(m.dv.getUint8(0x711), 0);
  assert.equal(peek32(m, 0x714), 0x33);
  assert.equal(peek32(m, 0x718), 0x44);
});

test('REP MOVSD faulting half-way leaves ECX/ESI/EDI consistent and resumes', () => {
  const m = run(`
      mov eax, pf_handler
      mov [0x3000 + 14*8], ax
      shr eax, 16
      mov [0x3000 + 14*8 + 6], ax
      mov dword [PT + 0x102*4], 0
      invlpg [0x102000]
      mov edi, 0x10000
      mov ecx, 16
      mov eax, 0x01010101
    pat: stosd
      add eax, 0x01010101
      loop pat
      mov esi, 0x10000
      mov edi, 0x101ff0
      mov ecx, 16
      cld
      rep movsd
      mov [0x720], ecx
      mov [0x724], esi
      mov [0x728], edi
      hlt
    pf_handler:
      mov [0x700], ecx
      mov [0x704], esi
      mov [0x708], edi
      mov eax, cr2
      mov [0x70c], eax
      pop eax
      mov [0x710], eax
      mov dword [PT + 0x102*4], 0x102003
      iretd
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 12, 'ECX at the fault: 4 moved');
  assert.equal(peek32(m, 0x704), 0x10010);
  assert.equal(peek32(m, 0x708), 0x102000);
  assert.equal(peek32(m, 0x70c), 0x102000);
  assert.equal(peek32(m, 0x710), 2, 'write to a not-present page');
  assert.equal(peek32(m, 0x720), 0);
  assert.equal(peek32(m, 0x724), 0x10040);
  assert.equal(peek32(m, 0x728), 0x102030);
  for (let i = 0; i < 16; i++) assert.equal(peek32(m, 0x101ff0 + i * 4), ((i + 1) * 0x01010101) >>> 0, `dword ${i}`);
});

test('user mode: ring 3 through IRET, a supervisor page faults with U/S, INT 0x2f returns to ring 0', () => {
  const m = run(`
      ; GDT with ring-3 code/data and a TSS (built at 0x4000)
      mov esi, gdt
      mov edi, 0x4000
      mov ecx, 6
      rep movsd
      mov dword [0x4018], 0x0000ffff
      mov dword [0x401c], 0x00cffa00
      mov dword [0x4020], 0x0000ffff
      mov dword [0x4024], 0x00cff200
      ; TSS at 0x5000, limit 0x67
      mov dword [0x4028], 0x50000067
      mov dword [0x402c], 0x00008900
      mov dword [0x5004], 0x8800
      mov dword [0x5008], 0x10
      mov word [0x2000], 6*8-1
      mov dword [0x2002], 0x4000
      lgdt [0x2000]
      mov ax, 0x28
      ltr ax
      ; user-accessible pages: PDE and the PTEs of 0x1000-0x1fff (code) and 0x7000 (stack)
      or dword [PD], 4
      or dword [PT + 1*4], 4
      or dword [PT + 7*4], 4
      ; a gate for int 0x2f with DPL 3
      mov eax, back_in_ring0
      mov [0x3000 + 0x2f*8], ax
      shr eax, 16
      mov [0x3000 + 0x2f*8 + 6], ax
      mov word [0x3000 + 0x2f*8 + 4], 0xee00
      mov dword [FIXUP], after_read
      mov ax, 0x23
      mov ds, ax
      mov es, ax
      push dword 0x23
      push dword 0x7ff0
      push dword 0x202
      push dword 0x1b
      push dword user_code
      iretd
    user_code:
      mov eax, [0x2000]
    after_read:
      int 0x2f
    back_in_ring0:
      mov [0x700], esp
      mov eax, [esp+4]
      mov [0x704], eax
      mov ax, ss
      mov [0x708], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, RES_VEC), 14, 'user read of a supervisor page');
  assert.equal(peek32(m, RES_ERR), 5, 'P | U/S');
  assert.equal(peek32(m, RES_CR2), 0x2000);
  assert.equal(peek32(m, 0x700), 0x8800 - 20, 'ring-0 stack from the TSS with SS:ESP EFLAGS CS EIP');
  assert.equal(peek32(m, 0x704), 0x1b, 'user CS pushed');
  assert.equal(peek32(m, 0x708) & 0xffff, 0x10);
});

test('a read-modify-write whose store faults changes no flags first (ADC dword and byte, INC, re-executed after a copy-on-write fault)', () => {
  // Page 0x103000 is present but read-only (CR0.WP on): each RMW faults on its store; the
  // handler makes the page writable and returns to re-execute it. The first try must not have
  // consumed the carry, or ADC adds it twice.
  const m = run(`
      mov eax, pf_handler
      mov [0x3000 + 14*8], ax
      shr eax, 16
      mov [0x3000 + 14*8 + 6], ax
      mov eax, cr0
      or eax, 0x10000
      mov cr0, eax
      mov dword [0x103000], 0
      mov dword [0x103004], 5
      mov byte [0x103008], 0x10
      mov dword [PT + 0x103*4], 0x103001
      invlpg [0x103000]
      mov dword [0x730], 0
      xor ebx, ebx
      stc
      adc dword [0x103000], 0       ; 0 + 0 + CF(1) = 1 with CF=0
      adc ebx, 0                    ; EBX += CF (0)
      mov dword [PT + 0x103*4], 0x103001
      invlpg [0x103000]
      stc
      adc byte [0x103008], 1        ; 0x10 + 1 + 1 = 0x12 with CF=0
      adc ebx, 0                    ; EBX += CF (0)
      mov dword [PT + 0x103*4], 0x103001
      invlpg [0x103000]
      stc
      inc dword [0x103004]          ; INC keeps CF = 1
      adc ebx, 0                    ; EBX += CF (1)
      mov [0x734], ebx
      hlt
    pf_handler:
      inc dword [0x730]
      mov dword [PT + 0x103*4], 0x103003
      invlpg [0x103000]
      add esp, 4
      clc                           ; the handler's own flags must not leak either
      iretd
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x730), 3, 'each RMW faulted once on its store');
  assert.equal(peek32(m, 0x103000), 1, 'ADC dword added the carry once');
  assert.equal(peek32(m, 0x103008) & 0xff, 0x12, 'ADC byte added the carry once');
  assert.equal(peek32(m, 0x103004), 6);
  assert.equal(peek32(m, 0x734), 1, 'CF after each re-executed RMW');
});
