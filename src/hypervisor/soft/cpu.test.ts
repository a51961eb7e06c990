// The soft CPU on small programs: real mode, protected mode, interrupts and exceptions, HLT.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, peek32 } from './test-util.js';
import { StopReason } from './cpu.js';

const RES_VEC = 0x600;

function runToHalt(src: string, mb = 8): ReturnType<typeof machine> & { stop: StopReason } {
  const m = machine(assemble(src), mb);
  const stop = m.cpu.run(1_000_000);
  return { ...m, stop };
}

test('real mode arithmetic and flags', () => {
  const m = runToHalt(`
    bits 16
    org 0x1000
      mov ax, 0x1234
      add ax, 0xedcc
      pushf
      pop bx
      mov [0x500], bx
      mov [0x502], ax
      mov al, 0x7f
      inc al
      pushf
      pop word [0x504]
      mov cx, 10
      xor dx, dx
    l1: add dx, cx
      loop l1
      mov [0x506], dx
      mov ax, 100
      mov bl, 7
      div bl
      mov [0x508], ax
      mov eax, 0x12345678
      mov ecx, 0x9abcdef0
      mul ecx
      mov [0x50a], eax
      mov [0x50e], edx
      mov al, 0x19
      add al, 0x28
      daa
      mov [0x512], al
      stc
      mov al, 1
      rcl al, 1
      mov [0x513], al
      mov ax, 0x8000
      sar ax, 15
      mov [0x514], ax
      mov ax, 0xfff0
      mov bx, 0x0010
      cmp ax, bx
      setb [0x516]
      setg [0x517]
      seta [0x518]
      mov si, 0x100
      mov word [si+0x422], 0xbeef
      mov ax, [0x522]
      mov [0x524], ax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  const dv = m.dv;
  assert.equal(dv.getUint16(0x500, true), 0x0057, 'flags after 0x1234+0xedcc');
  assert.equal(dv.getUint16(0x502, true), 0);
  assert.equal(dv.getUint16(0x504, true), 0x0893, 'flags after inc 0x7f (CF kept)');
  assert.equal(dv.getUint16(0x506, true), 55);
  assert.equal(dv.getUint16(0x508, true), 0x020e);
  const prod = 0x12345678n * 0x9abcdef0n;
  assert.equal(BigInt(dv.getUint32(0x50a, true)), prod & 0xffffffffn);
  assert.equal(BigInt(dv.getUint32(0x50e, true)), prod >> 32n);
  assert.equal(dv.getUint8(0x512), 0x47, 'DAA');
  assert.equal(dv.getUint8(0x513), 3, 'RCL through CF');
  assert.equal(dv.getUint16(0x514, true), 0xffff, 'SAR');
  assert.equal(dv.getUint8(0x516), 0, 'setb');
  assert.equal(dv.getUint8(0x517), 0, 'setg (-16 > 16 is false)');
  assert.equal(dv.getUint8(0x518), 1, 'seta');
  assert.equal(dv.getUint16(0x524, true), 0xbeef);
});

test('protected mode, string I/O and port I/O', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      mov esi, msg
      mov ecx, msg_len
      mov dx, 0xe9
      cld
      rep outsb
      mov edi, 0x700
      mov ecx, 4
      mov dx, 0x60
      rep insb
      mov eax, 0x11223344
      out 0x80, eax
      in ax, 0x61
      mov [0x704], eax
      hlt
    msg: db "hello"
    msg_len equ $ - msg
  `));
  m.io.input.push(0x41, 0x42, 0x43, 0x44, 0x5555);
  const stop = m.cpu.run(100_000);
  assert.equal(stop, StopReason.Halted);
  assert.equal(m.io.text(0xe9), 'hello');
  assert.equal(new TextDecoder().decode(m.ram.u8.subarray(0x700, 0x704)), 'ABCD');
  const w = m.io.writes.find((x) => x.port === 0x80);
  assert.deepEqual(w, { port: 0x80, size: 4, value: 0x11223344 });
  assert.equal(peek32(m, 0x704) & 0xffff, 0x5555);
  assert.equal(m.cpu.getState().cs.db, 1);
});

test('INT n and IRET through the IDT', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      mov eax, handler
      mov [0x3000 + 0x2f*8], ax
      shr eax, 16
      mov [0x3000 + 0x2f*8 + 6], ax
      mov ebx, 5
      mov esi, esp
      int 0x2f
      int 0x2f
      mov [0x700], ebx
      sub esi, esp
      mov [0x704], esi
      hlt
    handler:
      add ebx, 10
      mov eax, [esp+4]
      mov [0x708], eax
      iretd
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 25);
  assert.equal(peek32(m, 0x704), 0, 'stack balanced');
  assert.equal(peek32(m, 0x708), 0x08, 'CS pushed');
});

test('#UD for undefined opcodes and illegal LOCK', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      mov dword [FIXUP], u1
      ud2
    u1: mov eax, [RES_VEC]
      mov [0x700], eax
      mov dword [FIXUP], u2
      db 0x0f, 0xff
    u2: mov eax, [RES_VEC]
      mov [0x704], eax
      mov dword [FIXUP], u3
      db 0xf0, 0x01, 0xd8
    u3: mov dword [FIXUP], u4
      db 0x0f, 0x38, 0x00, 0xc0
    u4: mov dword [FIXUP], u5
      lock add [0x710], eax
      db 0x0f, 0x0b
    u5: mov eax, [RES_COUNT]
      mov [0x708], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 6);
  assert.equal(peek32(m, 0x704), 6);
  assert.equal(peek32(m, 0x708), 5, 'ud2, 0f ff, lock on register, 0f 38, 0f 0b (legal lock add ran)');
});

test('#DE points at the DIV; #GP on a bad selector carries its index', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      mov dword [FIXUP], after_div
      xor ecx, ecx
      mov eax, 10
    the_div:
      div ecx
    after_div:
      mov eax, [RES_VEC]
      mov [0x700], eax
      mov eax, [RES_EIP]
      mov [0x704], eax
      mov dword [0x708], the_div
      mov dword [FIXUP], after_gp
      mov ax, 0x1233
      mov ds, ax
    after_gp:
      mov eax, [RES_VEC]
      mov [0x70c], eax
      mov eax, [RES_ERR]
      mov [0x710], eax
      mov ax, ds
      mov [0x714], eax
      mov eax, 0x80000000
      cdq
      mov ecx, -1
      mov dword [FIXUP], after_idiv
      idiv ecx
    after_idiv:
      mov eax, [RES_COUNT]
      mov [0x718], eax
      hlt
  `);
  assert.equal(m.stop, StopReason.Halted);
  assert.equal(peek32(m, 0x700), 0);
  assert.equal(peek32(m, 0x704), peek32(m, 0x708), '#DE is a fault: EIP of the DIV');
  assert.equal(peek32(m, 0x70c), 13);
  assert.equal(peek32(m, 0x710), 0x1230);
  assert.equal(peek32(m, 0x714) & 0xffff, 0x10, 'DS unchanged');
  assert.equal(peek32(m, 0x718), 3, 'IDIV overflow raises #DE');
});

test('triple fault returns Shutdown', () => {
  const m = runToHalt(`
    %include "pm32.inc"
      lidt [bad_idt]
      int3
      hlt
    bad_idt: dw 0
      dd 0
  `);
  assert.equal(m.stop, StopReason.Shutdown);
});

test('HLT returns Halted and resumes on an interrupt', () => {
  const m = machine(assemble(`
    %include "pm32.inc"
      sti
      hlt
      mov dword [0x700], 1
      cli
      hlt
  `));
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  assert.equal(m.cpu.halted, true);
  assert.equal(peek32(m, 0x700), 0);
  assert.equal(m.cpu.canWake(), false);
  m.intc.pending.push(0x21);
  assert.equal(m.cpu.canWake(), true);
  assert.equal(m.cpu.run(100_000), StopReason.Halted);
  assert.equal(peek32(m, RES_VEC), 0x21);
  assert.equal(peek32(m, 0x700), 1);
  assert.equal(m.cpu.getState().rflags & 0x200n, 0n);
});


test('the elements of a repeated string instruction count toward the run budget', () => {
  // A 4 MiB `rep stosd` retires as one instruction; run(2000) must still return long before it
  // ends (four elements per instruction of budget), so the caller's per-slice work (timers, the
  // VRAM dirty-page sync) keeps its pace while the guest fills a framebuffer.
  const m = machine(assemble(`
    %include "pm32.inc"
    test_main:
      mov edi, 0x100000
      mov ecx, 1 << 20
      mov eax, 0x5a5a5a5a
      rep stosd
      hlt
  `));
  assert.equal(m.cpu.run(2000), StopReason.Budget);
  const left = m.cpu.regs[1]! >>> 0;
  assert.ok(left > 0 && left >= (1 << 20) - 4 * 2000 - 4096, `ECX ${left} after run(2000)`);
  let stop = StopReason.Budget;
  for (let i = 0; i < 1000 && stop === StopReason.Budget; i++) stop = m.cpu.run(2000);
  assert.equal(stop, StopReason.Halted);
  assert.equal(m.cpu.regs[1], 0);
  assert.equal(peek32(m, 0x100000 + 4 * ((1 << 20) - 1)), 0x5a5a5a5a);
});
