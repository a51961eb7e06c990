// System features of the soft CPU on small programs: SYSENTER/SYSEXIT and MSRs, hardware task
// switching, call gates with parameter copy, virtual-8086 mode, double fault, single-step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason } from './cpu.js';

const RES_VEC = 0x600, RES_ERR = 0x604;

/**
 * A GDT at 0x4000: 08 kernel code, 10 kernel data, 18 user code, 20 user data, 28 TSS1 (0x5000),
 * 30 TSS2 (0x5100), 38 call gate (DPL 3, 2 dword parameters) to 08:gate_target if defined.
 * TSS1.SS0:ESP0 = 10:8800. A DPL-3 interrupt gate 0x2f leads to `ring0_exit` (records CS in
 * 0x7f0 and halts).
 */
const SYS = `
      mov esi, gdt
      mov edi, 0x4000
      mov ecx, 6
      rep movsd
      mov dword [0x4018], 0x0000ffff
      mov dword [0x401c], 0x00cffa00
      mov dword [0x4020], 0x0000ffff
      mov dword [0x4024], 0x00cff200
      mov dword [0x4028], 0x50000067
      mov dword [0x402c], 0x00008900
      mov dword [0x4030], 0x51000067
      mov dword [0x4034], 0x00008900
%ifdef HAS_GATE
      mov eax, gate_target
      mov [0x4038], ax
      mov word [0x403a], 0x08
      mov word [0x403c], 0xec02
      shr eax, 16
      mov [0x403e], ax
%endif
      mov dword [0x5004], 0x8800
      mov dword [0x5008], 0x10
      mov word [0x2000], 8*8-1
      mov dword [0x2002], 0x4000
      lgdt [0x2000]
      mov ax, 0x28
      ltr ax
      mov eax, ring0_exit
      mov [0x3000 + 0x2f*8], ax
      shr eax, 16
      mov [0x3000 + 0x2f*8 + 6], ax
      mov word [0x3000 + 0x2f*8 + 4], 0xee00
      jmp sys_done
    ring0_exit:
      mov ax, 0x10
      mov ds, ax
      mov eax, [esp+4]
      mov [0x7f0], eax
      hlt
    sys_done:
`;

function run(body: string, defs = ''): ReturnType<typeof machine> & { stop: StopReason } {
  const m = machine(assemble(`${defs}\n%include "pm32.inc"\n${SYS}\n${body}`));
  const stop = m.cpu.run(1_000_000);
  return { ...m, stop };
}

test('SYSEXIT to ring 3 and SYSENTER back; RDMSR/WRMSR; #GP for an unknown MSR', () => {
  const m = run(`
      mov ecx, 0x174
      mov eax, 0x08
      xor edx, edx
      wrmsr
      mov ecx, 0x175
      mov eax, 0x8800
      wrmsr
      mov ecx, 0x176
      mov eax, k_entry
      wrmsr
      rdmsr
      mov [0x714], eax
      mov dword [FIXUP], after_bad
      mov ecx, 0x12345
      rdmsr
    after_bad:
      mov eax, [RES_VEC]
      mov [0x718], eax
      mov ecx, 0x7000
      mov edx, u_code
      sysexit
    u_code:
      mov ax, cs
      mov [0x700], eax
      mov [0x704], esp
      sysenter
    k_entry:
      mov ax, cs
      mov [0x708], eax
      mov ax, ss
      mov [0x70c], eax
      mov [0x710], esp
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700) & 0xffff, 0x1b);
  assert.equal(peek32(m, 0x704), 0x7000);
  assert.equal(peek32(m, 0x708) & 0xffff, 0x08);
  assert.equal(peek32(m, 0x70c) & 0xffff, 0x10);
  assert.equal(peek32(m, 0x710), 0x8800);
  assert.equal(peek32(m, 0x718), 13);
  assert.ok(peek32(m, 0x714) > 0x1000);
});

test('CALL to a TSS switches tasks; IRET with NT returns', () => {
  const m = run(`
      mov dword [0x5100+32], task2
      mov dword [0x5100+36], 2
      mov dword [0x5100+40], 0x1111
      mov dword [0x5100+56], 0x7800
      mov dword [0x5100+72], 0x10
      mov dword [0x5100+76], 0x08
      mov dword [0x5100+80], 0x10
      mov dword [0x5100+84], 0x10
      mov dword [0x5100+88], 0x10
      mov dword [0x5100+92], 0x10
      mov eax, 0x3333
      mov ebx, 0x2222
      call 0x30:0
      mov [0x700], eax
      mov [0x704], ebx
      str ax
      mov [0x708], eax
      smsw ax
      mov [0x70c], eax
      mov al, [0x4035]
      mov [0x720], al
      hlt
    task2:
      mov [0x710], eax
      mov [0x714], ebx
      pushfd
      pop dword [0x718]
      movzx eax, word [0x5100]
      mov [0x71c], eax
      mov al, [0x4035]
      mov [0x721], al
      mov ebx, 0x5555
      iretd
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x710), 0x1111, 'task 2 registers from its TSS');
  assert.equal(peek32(m, 0x714), 0);
  assert.equal(peek32(m, 0x718) & 0x4000, 0x4000, 'NT set in the called task');
  assert.equal(peek32(m, 0x71c), 0x28, 'back link');
  assert.equal(m.dv.getUint8(0x721), 0x8b, 'TSS2 busy while running');
  assert.equal(peek32(m, 0x700), 0x3333, 'task 1 registers restored');
  assert.equal(peek32(m, 0x704), 0x2222);
  assert.equal(peek32(m, 0x708) & 0xffff, 0x28);
  assert.equal(peek32(m, 0x70c) & 8, 8, 'CR0.TS set by the switch');
  assert.equal(m.dv.getUint8(0x720), 0x89, 'TSS2 not busy after IRET');
  assert.equal(peek32(m, 0x5100 + 40), 0x8b, 'task 2 state saved on IRET (EAX)');
  assert.equal(peek32(m, 0x5100 + 52), 0x5555, 'task 2 state saved on IRET (EBX)');
});

test('call gate from ring 3 copies parameters; RETF n returns to ring 3', () => {
  const m = run(`
      mov ax, 0x23
      mov ds, ax
      mov es, ax
      push dword 0x23
      push dword 0x7000
      push dword 0x2
      push dword 0x1b
      push dword user
      iretd
    user:
      push dword 0xaaaa
      push dword 0xbbbb
      call 0x3b:0
      mov [0x700], eax
      mov [0x704], esp
      mov ax, cs
      mov [0x708], eax
      int 0x2f
    gate_target:
      mov eax, [esp+8]
      add eax, [esp+12]
      mov ebx, [esp+16]
      mov [0x720], ebx
      mov ecx, [esp+20]
      mov [0x724], ecx
      mov ecx, [esp+4]
      mov [0x728], ecx
      mov [0x72c], esp
      retf 8
  `, '%define HAS_GATE');
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0x16665);
  assert.equal(peek32(m, 0x704), 0x7000, 'parameters popped by RETF 8');
  assert.equal(peek32(m, 0x708) & 0xffff, 0x1b);
  assert.equal(peek32(m, 0x720), 0x7000 - 8, 'old ESP on the inner stack');
  assert.equal(peek32(m, 0x724), 0x23, 'old SS');
  assert.equal(peek32(m, 0x728), 0x1b, 'old CS');
  assert.equal(peek32(m, 0x72c), 0x8800 - 24, 'inner stack from the TSS');
  assert.equal(peek32(m, 0x7f0) & 0xffff, 0x1b);
});

test('IRET to virtual-8086 mode; INT n from v86 reaches the ring-0 handler with the v86 frame', () => {
  const m = run(`
      mov eax, v86_int
      mov [0x3000 + 0x2e*8], ax
      shr eax, 16
      mov [0x3000 + 0x2e*8 + 6], ax
      mov word [0x3000 + 0x2e*8 + 4], 0xee00
      push dword 0
      push dword 0
      push dword 0x0050
      push dword 0
      push dword 0x0070
      push dword 0x0100
      push dword 0x23002
      push dword 0x0100
      push dword v86code - 0x1000
      iretd
    bits 16
    v86code:
      mov ax, 0x1234
      add ax, 0x1111
      mov [0x10], ax
      push ax
      int 0x2e
    bits 32
    v86_int:
      mov ax, 0x10
      mov ds, ax
      mov eax, [esp+8]
      mov [0x700], eax
      mov eax, [esp+4]
      mov [0x704], eax
      mov eax, [esp+12]
      mov [0x708], eax
      mov eax, [esp+24]
      mov [0x70c], eax
      mov eax, esp
      mov [0x710], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700) & 0x20000, 0x20000, 'pushed EFLAGS has VM');
  assert.equal(peek32(m, 0x704), 0x100, 'v86 CS');
  assert.equal(peek32(m, 0x708), 0xfe, 'v86 SP after one push');
  assert.equal(peek32(m, 0x70c), 0x50, 'v86 DS');
  assert.equal(m.dv.getUint16(0x510, true), 0x2345, 'v86 store through DS<<4');
  assert.equal(m.dv.getUint16(0x7fe, true), 0x2345, 'v86 push through SS<<4');
  assert.equal(peek32(m, 0x710), 0x8800 - 36, 'nine-dword v86 frame on the ring-0 stack');
});

test('a fault while delivering a fault becomes #DF', () => {
  const m = run(`
      mov byte [0x3000 + 13*8 + 5], 0x0e
      mov dword [FIXUP], after
      mov ax, 0x1233
      mov ds, ax
    after:
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, RES_VEC), 8);
  assert.equal(peek32(m, RES_ERR), 0);
});

test('TF single-steps: one #DB after each instruction', () => {
  const m = run(`
      pushfd
      or dword [esp], 0x100
      popfd
      nop
      nop
      mov eax, 1
      pushfd
      and dword [esp], ~0x100
      popfd
      mov eax, [RES_COUNT]
      mov [0x700], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, RES_VEC), 1);
  assert.equal(peek32(m, 0x700), 6);
});
