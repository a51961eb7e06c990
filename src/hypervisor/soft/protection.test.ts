// Protection and event rules of the soft CPU: the TSS I/O bitmap, IOPL-sensitive instructions,
// data segments nulled on a return to ring 3, LAR/LSL/VERR/VERW, interrupt shadows, NMI,
// self-modifying code and DMA invalidation, real-mode interrupts through the IVT.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason } from './cpu.js';

/** GDT at 0x4000 (08 code, 10 data, 18 user code, 20 user data, 28 TSS at 0x5000 with an I/O bitmap). */
const RING3 = `
      mov esi, gdt
      mov edi, 0x4000
      mov ecx, 6
      rep movsd
      mov dword [0x4018], 0x0000ffff
      mov dword [0x401c], 0x00cffa00
      mov dword [0x4020], 0x0000ffff
      mov dword [0x4024], 0x00cff200
      mov dword [0x4028], 0x50000000 + 0x68 + 0x20
      mov dword [0x402c], 0x00008900
      mov dword [0x5004], 0x8800
      mov dword [0x5008], 0x10
      mov word [0x5066], 0x68
      mov dword [0x5068 + 0x10], 0xfffffffe
      mov word [0x2000], 6*8-1
      mov dword [0x2002], 0x4000
      lgdt [0x2000]
      mov ax, 0x28
      ltr ax
      mov eax, ring0_exit
      mov [0x3000 + 0x2f*8], ax
      shr eax, 16
      mov [0x3000 + 0x2f*8 + 6], ax
      mov word [0x3000 + 0x2f*8 + 4], 0xee00
      jmp ring3_setup_done
    ring0_exit:
      mov ax, 0x10
      mov ds, ax
      hlt
    ring3_setup_done:
`;

function run(body: string): ReturnType<typeof machine> & { stop: StopReason } {
  const m = machine(assemble(`%include "pm32.inc"\n${RING3}\n${body}`));
  const stop = m.cpu.run(1_000_000);
  return { ...m, stop };
}

test('ring 3 with IOPL 0: I/O bitmap, CLI #GP, POPF keeps IF, DS nulled by IRET', () => {
  const m = run(`
      push dword 0x23
      push dword 0x7000
      push dword 0x202
      push dword 0x1b
      push dword user
      iretd
    user:
      mov ax, ds
      mov [ss:0x700], eax
      mov ax, 0x23
      mov ds, ax
      mov al, 0x5a
      out 0x80, al
      mov dword [FIXUP], after_out
      out 0x81, al
    after_out:
      mov eax, [RES_VEC]
      mov [0x704], eax
      mov dword [RES_VEC], 0
      mov dword [FIXUP], after_cli
      cli
    after_cli:
      mov eax, [RES_VEC]
      mov [0x708], eax
      pushfd
      and dword [esp], ~0x200
      popfd
      pushfd
      pop eax
      mov [0x70c], eax
      int 0x2f
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700) & 0xffff, 0, 'DS (DPL 0) nulled on IRET to ring 3');
  assert.deepEqual(m.io.writes.filter((w) => w.port === 0x80).map((w) => w.value), [0x5a], 'port 0x80 allowed by the bitmap');
  assert.equal(m.io.writes.filter((w) => w.port === 0x81).length, 0);
  assert.equal(peek32(m, 0x704), 13, 'port 0x81 denied: #GP');
  assert.equal(peek32(m, 0x708), 13, 'CLI at CPL 3 > IOPL: #GP');
  assert.equal(peek32(m, 0x70c) & 0x200, 0x200, 'POPF at CPL 3 > IOPL leaves IF');
});

test('LAR, LSL, VERR, VERW', () => {
  const m = run(`
      mov ax, 0x1b
      lar eax, ax
      mov [0x700], eax
      mov ax, 0x1b
      lsl ebx, ax
      mov [0x704], ebx
      mov ax, 0x28
      lsl ebx, ax
      mov [0x708], ebx
      mov ax, 0x1230
      mov ebx, 0x1234
      lsl ebx, ax
      setz [0x70c]
      mov [0x710], ebx
      mov ax, 0x08
      verr ax
      setz [0x714]
      verw ax
      setz [0x715]
      mov ax, 0x10
      verw ax
      setz [0x716]
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0x00cffa00 & 0x00ffff00);
  assert.equal(peek32(m, 0x704), 0xffffffff);
  assert.equal(peek32(m, 0x708), 0x88, 'TSS limit');
  assert.equal(m.dv.getUint8(0x70c), 0, 'beyond the GDT: ZF=0');
  assert.equal(peek32(m, 0x710), 0x1234, 'destination unchanged');
  assert.equal(m.dv.getUint8(0x714), 1, 'code readable');
  assert.equal(m.dv.getUint8(0x715), 0, 'code not writable');
  assert.equal(m.dv.getUint8(0x716), 1, 'data writable');
});

test('STI and MOV SS hold off a pending interrupt for one instruction', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      mov eax, handler
      mov [0x3000 + 0x21*8], ax
      shr eax, 16
      mov [0x3000 + 0x21*8 + 6], ax
      sti
      mov dword [0x700], 1
      mov dword [0x704], 2
      cli
      mov dword [0x710], 0
      hlt
    handler:
      mov eax, [0x700]
      mov [0x708], eax
      mov eax, [0x704]
      mov [0x70c], eax
      iretd
  `));
  m.intc.pending.push(0x21);
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  assert.equal(peek32(m, 0x708), 1, 'the instruction after STI ran first');
  assert.equal(peek32(m, 0x70c), 0, 'and only that one');
  assert.equal(m.intc.pending.length, 0, 'delivered before CLI');
});

test('NMI wakes HLT with IF=0 and is blocked until IRET', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      mov eax, nmi
      mov [0x3000 + 2*8], ax
      shr eax, 16
      mov [0x3000 + 2*8 + 6], ax
      hlt
      hlt
    nmi:
      inc dword [0x700]
      mov ecx, 2000
    nmi_spin:
      dec ecx
      jnz nmi_spin
      mov eax, [0x700]
      mov ebx, [0x720]
      mov [0x724 + ebx*4], eax
      inc dword [0x720]
      iretd
  `));
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  m.intc.nmi = true;
  m.cpu.run(60);
  m.intc.nmi = true;
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  assert.equal(peek32(m, 0x720), 2);
  assert.deepEqual([peek32(m, 0x724), peek32(m, 0x728)], [1, 2], 'the second NMI waited for the first IRET');
});

test('self-modifying code: a store into the current block and into an older block', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      mov ebx, 0
    again:
      mov byte [patch + 1], 0x42
    patch:
      mov al, 0x11
      mov [0x700 + ebx], al
      mov byte [patch2 + 1], 0x77
      inc ebx
      cmp ebx, 2
      jb again
      jmp patch2
    patch2:
      mov cl, 0x33
      mov [0x710], cl
      hlt
  `));
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  assert.equal(m.dv.getUint8(0x700), 0x42);
  assert.equal(m.dv.getUint8(0x701), 0x42);
  assert.equal(m.dv.getUint8(0x710), 0x77);
});

test('invalidatePhysPage drops decoded code a device overwrote', () => {
  const m = machine(assemble(`
    bits 16
    org 0x1000
    top:
      mov ax, 0x1111
      mov [0x700], ax
      hlt
      jmp top
  `));
  assert.equal(m.cpu.run(1000), StopReason.Halted);
  assert.equal(m.dv.getUint16(0x700, true), 0x1111);
  m.ram.u8[0x1001] = 0x22;
  m.ram.u8[0x1002] = 0x22;
  m.cpu.invalidatePhysPage(1);
  m.intc.pending.length = 0;
  const s = m.cpu.getState();
  s.rip = 0x1000n;
  m.cpu.setState(s);
  assert.equal(m.cpu.run(1000), StopReason.Halted);
  assert.equal(m.dv.getUint16(0x700, true), 0x2222);
});

test('real mode: INT n through the IVT, IRET, and an external interrupt', () => {
  const m = machine(assemble(`
    bits 16
    org 0x1000
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov sp, 0x9000
      mov word [0x10*4], h10
      mov word [0x10*4+2], 0
      mov word [0x08*4], h08
      mov word [0x08*4+2], 0
      mov bx, 7
      int 0x10
      mov [0x700], bx
      sti
      hlt
      mov [0x704], sp
      cli
      hlt
    h10:
      add bx, 3
      pushf
      pop word [0x702]
      iret
    h08:
      inc word [0x706]
      iret
  `));
  assert.equal(m.cpu.run(10_000), StopReason.Halted);
  assert.equal(m.dv.getUint16(0x700, true), 10);
  assert.equal(m.dv.getUint16(0x702, true) & 0x200, 0, 'IF cleared in the handler');
  m.intc.pending.push(0x08);
  assert.equal(m.cpu.run(10_000), StopReason.Halted);
  assert.equal(m.dv.getUint16(0x706, true), 1);
  assert.equal(m.dv.getUint16(0x704, true), 0x9000);
});


test('#AC(0): a misaligned access at CPL 3 with CR0.AM and EFLAGS.AC, and not otherwise', () => {
  const m = run(`
      mov eax, cr0
      or eax, 0x40000
      mov cr0, eax
      mov eax, [0x7001]
      push dword 0x23
      push dword 0x7000
      push dword 0x40002
      push dword 0x1b
      push dword user
      iretd
    user:
      mov ax, 0x23
      mov ds, ax
      mov eax, [0x7000]
      mov ax, [0x7002]
      mov eax, [RES_COUNT]
      mov [0x700], eax
      mov dword [FIXUP], after_rd
      mov eax, [0x7001]
    after_rd:
      mov eax, [RES_VEC]
      mov [0x704], eax
      mov eax, [RES_ERR]
      mov [0x708], eax
      mov dword [RES_VEC], 0
      mov dword [FIXUP], after_wr
      mov word [0x7003], 1
    after_wr:
      mov eax, [RES_VEC]
      mov [0x70c], eax
      mov dword [RES_VEC], 0
      pushfd
      and dword [esp], ~0x40000
      popfd
      mov eax, [0x7001]
      mov eax, [RES_VEC]
      mov [0x710], eax
      int 0x2f
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0, 'aligned at CPL 3 and misaligned at CPL 0: no #AC');
  assert.equal(peek32(m, 0x704), 17, 'misaligned dword load: #AC');
  assert.equal(peek32(m, 0x708), 0, 'error code 0');
  assert.equal(peek32(m, 0x70c), 17, 'misaligned word store: #AC');
  assert.equal(peek32(m, 0x710), 0, 'EFLAGS.AC clear: no #AC');
});
