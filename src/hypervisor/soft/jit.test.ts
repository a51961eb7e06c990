// The block compiler (jit.ts) against the interpreter: generated programs of the instructions it
// translates inline (and some it leaves to the interpreter) run once with the compiler off and
// once with every block compiled from its second execution on; registers, EFLAGS and memory
// must match after every iteration, and a fault in the middle of a compiled block must leave
// the state of the instruction before it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, machine, type TestMachine } from './test-util.js';
import { StopReason } from './cpu.js';
import { X87 } from './x87.js';
import { Sse } from './sse.js';

const REGS = ['eax', 'ecx', 'edx', 'ebx', 'ebp', 'esi', 'edi'];
const REGS8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'shl', 'shr', 'sar', 'rcl', 'rcr'];
const JCC = ['jo', 'jno', 'jb', 'jae', 'je', 'jne', 'jbe', 'ja', 'js', 'jns', 'jp', 'jnp', 'jl', 'jge', 'jle', 'jg'];

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s >>> 0; };
}

function program(seed: number): string {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[r() % a.length]!;
  const imm = (): string => pick(['0', '1', '-1', '0x7fffffff', '0x80000000', '0xff', `${r() | 0}`, `${r() % 100}`]);
  const mem = (): string => `[0x20000 + ${(r() % 32) * 4}]`;
  const lines: string[] = [];
  let label = 0;
  for (let i = 0; i < 48; i++) {
    const a = pick(REGS), b = pick(REGS);
    switch (r() % 19) {
      case 0: lines.push(`${pick(ALU)} ${a}, ${b}`); break;
      case 1: lines.push(`${pick(ALU)} ${a}, ${imm()}`); break;
      case 2: lines.push(`${pick(ALU)} ${a}, dword ${mem()}`); break;
      case 3: lines.push(`${pick(ALU)} dword ${mem()}, ${a}`); break;
      case 4: lines.push(`${pick(['inc', 'dec'])} ${a}`); break;
      case 5: lines.push(`${pick(SHIFTS)} ${a}, ${pick(['1', '3', '7', '16', '31', 'cl'])}`); break;
      case 6: lines.push(`mov ${a}, ${pick([b, imm(), `dword ${mem()}`])}`); break;
      case 7: lines.push(`mov dword ${mem()}, ${pick([a, imm()])}`); break;
      case 8: lines.push(`mov ${pick(REGS8)}, ${pick([pick(REGS8), `${r() & 0xff}`, `byte ${mem()}`])}`); break;
      case 9: lines.push(`${pick(['movzx', 'movsx'])} ${a}, ${pick(['bl', 'ch', 'si', `byte ${mem()}`, `word ${mem()}`])}`); break;
      case 10: lines.push(`lea ${a}, [${b} + ${pick(REGS)}*${pick(['1', '2', '4', '8'])} + ${r() % 1000}]`); break;
      case 11: lines.push(`push ${a}`, `pop ${b}`); break;
      case 12: lines.push(`${pick(['test', 'cmp'])} ${a}, ${b}`, `${pick(JCC)} .l${label}`, `xor ${b}, ${imm()}`, `.l${label}:`); label++; break;
      case 13:
        lines.push(r() % 2 === 0 ? `${pick(['setc', 'setz', 'setl', 'seta', 'setnbe', 'setge', 'sets', 'seto', 'setp'])} ${pick(REGS8)}`
          : `${pick(['cmovb', 'cmovae', 'cmove', 'cmovne', 'cmovl', 'cmovg', 'cmovs', 'cmovo'])} ${a}, ${pick([b, `dword ${mem()}`])}`);
        break;
      case 14: lines.push(`${pick(['cdq', 'cwde', 'nop', 'stc', 'clc', 'cmc'])}`); break;
      case 15:
        lines.push(pick([`imul ${a}, ${b}`, `imul ${a}, dword ${mem()}`, `neg ${a}`, `not ${a}`, `test ${a}, ${imm()}`,
          `test ${pick(REGS8)}, ${pick(REGS8)}`, `test byte ${mem()}, ${r() & 0xff}`, `${pick(ALU)} byte ${mem()}, ${r() & 0xff}`,
          `${pick(ALU)} ${pick(REGS8)}, ${r() & 0xff}`, `push dword ${mem()}`, `pop dword ${mem()}`, `mov ${a.slice(1)}, ${b.slice(1)}`]));
        break;
      case 17: {
        // Byte ALU in every form, and a byte compare or test feeding a branch.
        const r8 = pick(REGS8), s8 = pick(REGS8);
        lines.push(pick([`${pick(ALU)} ${r8}, ${s8}`, `${pick(ALU)} ${r8}, byte ${mem()}`, `${pick(ALU)} byte ${mem()}, ${r8}`,
          `${pick(ALU)} al, ${r() & 0xff}`, `test al, ${r() & 0xff}`]));
        lines.push(`${pick(['cmp', 'test', 'sub', 'and'])} ${r8}, ${pick([s8, r8, `${r() & 0xff}`])}`, `${pick(JCC)} .l${label}`, `xor ${b}, ${imm()}`, `.l${label}:`);
        label++;
        break;
      }
      case 18:
        lines.push(pick([`${pick(['inc', 'dec'])} dword ${mem()}`, `xchg ${a}, ${b}`, `xchg dword ${mem()}, ${a}`,
          `cmpxchg ${a}, ${b}`, `cmpxchg dword ${mem()}, ${a}`, `call dword [0x2f100]`, `call dword [0x2f100]`]));
        if (r() % 4 === 0) { lines.push(`mov ${a}, .l${label}`, `jmp ${a}`, `xor ${b}, ${imm()}`, `.l${label}:`); label++; }
        break;
      default: lines.push(`${pick(ALU)} ${a}, ${b}`, `${pick(SHIFTS)} ${b}, ${1 + (r() % 31)}`); break;
    }
  }
  // Three iterations, each recording the registers and flags at 0x30000 + 64 × iteration.
  return `
    %include "pm32.inc"
    test_main:
      mov dword [0x2f000], 0
      mov dword [0x2f100], just_ret
      mov eax, 0x12345678
      mov ebx, 0x9abcdef0
      mov ecx, 5
      mov edx, -7
      mov esi, 0x10
      mov edi, 0x80000000
      mov ebp, 3
    again:
      ${lines.join('\n      ')}
      push eax
      mov eax, [0x2f000]
      shl eax, 6
      add eax, 0x30000
      mov [eax + 4], ebx
      mov [eax + 8], ecx
      mov [eax + 12], edx
      mov [eax + 16], esi
      mov [eax + 20], edi
      mov [eax + 24], ebp
      pop dword [eax]
      pushfd
      pop dword [eax + 28]
      mov eax, [eax]
      inc dword [0x2f000]
      cmp dword [0x2f000], 3
      jb again
      hlt
    just_ret:
      ret
  `;
}

function runTo(m: TestMachine): void {
  let stop = StopReason.Budget;
  for (let i = 0; i < 100 && stop === StopReason.Budget; i++) stop = m.cpu.run(100_000);
  assert.equal(stop, StopReason.Halted);
}

function snapshot(m: TestMachine): { regs: number[]; flags: number; eip: number; mem: string } {
  return {
    regs: [...m.cpu.regs],
    flags: m.cpu.getEflags(),
    eip: m.cpu.eip,
    mem: Buffer.from(m.ram.u8.subarray(0x20000, 0x30100)).toString('hex'),
  };
}

/** Runs `image` interpreted and with every block compiled; the end states must be equal. */
/**
 * Runs `image` to its HLT with the compiler at threshold `th` (0: off) and no bound on compiles
 * per page, with the x87/SSE units when `units`: the final state, the vector and faulting EIP
 * the gate stub recorded, and the regions compiled.
 */
function runRecorded(image: Uint8Array, th: number, units = false): { snap: ReturnType<typeof snapshot>; vec: number; eip: number; compiled: number } {
  const m = machine(image);
  if (units) { const x87 = new X87(m.cpu); m.cpu.attachUnits(x87, new Sse(m.cpu, x87)); }
  m.cpu.jitThreshold = th;
  m.cpu.pageCompileLimit = 1 << 20;
  runTo(m);
  return { snap: snapshot(m), vec: m.dv.getUint32(0x600, true), eip: m.dv.getUint32(0x614, true), compiled: m.cpu.regionsCompiled };
}

/**
 * Runs `image` interpreted and with every block compiled (runRecorded): the two runs must end
 * alike (state, vector and faulting EIP recorded) after compiling something. Returns the
 * interpreted run and the compared memory (from 0x20000).
 */
function compiledMatches(image: Uint8Array, what = ''): { base: ReturnType<typeof runRecorded>; mem: Buffer } {
  const [a, b] = [runRecorded(image, 0), runRecorded(image, 1)];
  assert.ok(b.compiled > 0, what);
  assert.deepEqual(b, { ...a, compiled: b.compiled }, what);
  return { base: a, mem: Buffer.from(b.snap.mem, 'hex') };
}

function matchesInterpreter(image: Uint8Array, what: string): void {
  const a = machine(image);
  a.cpu.jitThreshold = 0;
  runTo(a);
  const b = machine(image);
  b.cpu.jitThreshold = 1;
  b.cpu.pageCompileLimit = 1 << 20;
  runTo(b);
  assert.ok(b.cpu.regionsCompiled > 0, 'something compiled');
  assert.deepEqual(snapshot(b), snapshot(a), what);
}

test('compiled blocks match the interpreter on generated integer programs', () => {
  for (let seed = 1; seed <= 64; seed++) matchesInterpreter(assemble(program(seed * 7919)), `seed ${seed * 7919}`);
});

test('byte compares, subtractions and tests feed every condition as in the interpreter', () => {
  // Each (a, b) pair under CMP, SUB, TEST and AND on byte registers, then each Jcc: a byte of
  // memory records whether the branch fell through.
  const pairs = [[5, 5], [3, 200], [200, 3], [0x80, 0x7f], [0x7f, 0x80], [0, 0], [0xff, 1]];
  const lines: string[] = [];
  let n = 0;
  for (const [a, b] of pairs) {
    for (const op of ['cmp', 'sub', 'test', 'and']) {
      for (const jcc of JCC) {
        lines.push(`mov al, ${a}`, `mov dh, ${b}`, `${op} al, dh`, `${jcc} .l${n}`, `mov byte [0x20000 + ${n}], 1`, `.l${n}:`);
        n++;
      }
    }
  }
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      mov ecx, 3
    again:
      ${lines.join('\n      ')}
      dec ecx
      jnz again
      hlt
  `);
  matchesInterpreter(image, 'byte conditions');
});

test('a fault in the middle of a compiled block leaves the state after the previous instruction', () => {
  // FS is loaded with the null selector on the third pass, so the FS access faults (#GP) in the
  // middle of a block that is compiled by then; the gate stub records the faulting EIP and
  // resumes at `resume`. (FS: regions run only while ES, SS and DS are flat.) Each kind of
  // access the regions compile inline: only their slow path sets EIP for the fault.
  const accesses = ['mov [fs:0x20004], edx', 'mov edi, [fs:0x20004]', 'add [fs:0x20004], edx', 'movzx edi, byte [fs:0x20004]',
    'movsx edi, word [fs:0x20004]', 'mov byte [fs:0x20004], dl', 'push dword [fs:0x20004]', 'inc dword [fs:0x20004]',
    'xchg [fs:0x20004], edx', 'cmp edx, [fs:0x20004]', 'sub dl, [fs:0x20004]'];
  for (const access of accesses) {
    const image = assemble(`
      %include "pm32.inc"
      test_main:
        mov dword [FIXUP], resume
        mov ecx, 0
        mov ebx, 100
      again:
        cmp ecx, 2
        jne go
        xor eax, eax
        mov fs, ax
        jmp go                    ; (falling through would start a new block, run interpreted)
      go:
        add ebx, ecx
        sub ebx, 1
        mov [0x20000], ebx
        xor edx, ebx
      fault_here:
        ${access}
        add ebx, 0x1000
        inc ecx
        jmp again
      resume:
        mov [0x20008], ebx
        mov [0x2000c], edx
        pushfd
        pop dword [0x20010]
        hlt
    `);
    assert.equal(compiledMatches(image, access).base.vec, 13, access);
  }
});

test('a data segment that is not flat sends its blocks to the interpreter, also mid-region', () => {
  // Regions address ES, SS and DS without base or limit while all three are flat. DS gets base
  // 0x100 on some passes, by a MOV DS (interpreted) in the middle of a compiled block: the
  // stores after it, and the next passes' blocks, must land 0x100 higher as in the interpreter.
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      lgdt [b_gdt_desc]
      mov ecx, 0
    again:
      mov eax, [ss:selectors + ecx * 4]
      add ebx, ecx
      mov ds, ax
      mov [0x20000 + ecx * 4], ecx
      add [0x20040], ebx
      push dword [0x20040]
      pop dword [0x20080 + ecx * 4]
      mov es, ax
      mov byte [es:0x200c0 + ecx], cl
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      inc ecx
      cmp ecx, 7
      jb again
      hlt
    selectors:
      dd 0x10, 0x10, 0x10, 0x18, 0x10, 0x18, 0x18
    align 8
    b_gdt:
      dq 0
      dq 0x00cf9a000000ffff
      dq 0x00cf92000000ffff
      dq 0x00cf92000100ffff       ; base 0x100, 4 GiB
    b_gdt_desc:
      dw b_gdt_desc - b_gdt - 1
      dd b_gdt
  `);
  const { mem } = compiledMatches(image);
  // Pass 3 stored its ECX at base 0x100, pass 2 at base 0.
  assert.equal(mem.readUInt32LE(0x100 + 3 * 4), 3);
  assert.equal(mem.readUInt32LE(2 * 4), 2);
  assert.equal(mem.readUInt32LE(3 * 4), 0);
});

test('a 16-bit stack segment sends the blocks that push and pop to the interpreter', () => {
  // Regions push and pop through ESP (they run while SS is 32-bit). On some passes SS is a
  // 16-bit segment: PUSH and POP then move SP only, so the values go to 0x8ff8.. and the high
  // half of ESP stays, where a 32-bit push would have written 0x28ff8.. (in the compared memory).
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      lgdt [s_gdt_desc]
      mov ecx, 0
    again:
      mov eax, [stack_sel + ecx * 4]
      mov edx, esp
      mov ss, ax
      mov esp, 0x29000
      push ecx
      push dword 0x1234
      pop dword [0x20100 + ecx * 4]
      pop ebx
      mov [0x20140 + ecx * 4], esp
      mov ax, 0x10
      mov ss, ax
      mov esp, edx
      inc ecx
      cmp ecx, 6
      jb again
      hlt
    stack_sel:
      dd 0x10, 0x10, 0x10, 0x20, 0x10, 0x20
    align 8
    s_gdt:
      dq 0
      dq 0x00cf9a000000ffff
      dq 0x00cf92000000ffff
      dq 0
      dq 0x008f92000000ffff       ; 16-bit (B=0), base 0, 4 GiB
    s_gdt_desc:
      dw s_gdt_desc - s_gdt - 1
      dd s_gdt
  `);
  const { mem } = compiledMatches(image);
  assert.equal(mem.readUInt32LE(0x28ff8 - 0x20000), 0x1234, 'a 32-bit pass pushed at 0x28ff8');
  assert.equal(mem.readUInt32LE(0x100 + 5 * 4), 0x1234);
});

test('a byte ADC whose store faults leaves the flags of the instruction before it', () => {
  // FS becomes a read-only data segment on the fourth pass of a block that is compiled by then
  // (its first run is interpreted): the ADC's read succeeds and its store faults (#GP), as a
  // store to a copy-on-write page would; the restarted instruction must see the CF the CMP left
  // (CF=1, SF=1), not the ADC's own result (0xff + 1 + 1: SF=0).
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      lgdt [ro_gdt_desc]
      mov dword [FIXUP], resume
      mov byte [0x20004], 0xff
      mov ecx, 0
      mov edx, 1
    again:
      mov eax, [selectors + ecx * 4]
      mov fs, ax
      cmp ecx, 5
      adc byte [fs:0x20004], dl
      mov byte [0x20004], 0xff
      inc ecx
      jmp again
    resume:
      pushfd
      pop dword [0x20010]
      hlt
    selectors:
      dd 0x10, 0x10, 0x10, 0x18
    align 8
    ro_gdt:
      dq 0
      dq 0x00cf9a000000ffff
      dq 0x00cf92000000ffff
      dq 0x00cf91000000ffff       ; read-only, accessed (no descriptor write into this code page)
    ro_gdt_desc:
      dw ro_gdt_desc - ro_gdt - 1
      dd ro_gdt
  `);
  const { base } = compiledMatches(image);
  assert.equal(base.vec, 13);
  assert.equal(base.snap.flags & 0x81, 0x81, 'CF and SF from the CMP');
});

test('a compiled region (loops over several blocks, near calls, code it rewrites) matches the interpreter', () => {
  // One page of code: a loop whose body branches, calls a function in the same page through a
  // direct and an indirect call, calls a PC thunk (mov ebx, [esp]; ret), on its fifth pass
  // rewrites the immediate of an instruction further on in the loop (the region must leave and
  // run the new code) and on its twentieth turns the thunk into mov edx, [esp]. A function on the
  // next page becomes a PC thunk on the thirtieth pass (a call compiled as an ordinary call must
  // run the new code).
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      mov ecx, 0
      mov ebx, 7
      mov esi, 0
      mov edi, 0
      mov dword [0x2f004], fn
    again:
      test ecx, 1
      jz even
      add ebx, ecx
      jmp joined
    even:
      xor ebx, 0x55
      call fn
    joined:
      call [0x2f004]
      add ebp, ebx
      call pc_thunk
      add edi, ebx
      call fn2
      add edi, ebx
      cmp ecx, 30
      jne no_patch3
      mov dword [fn2], 0xc3241c8b
    no_patch3:
      cmp ecx, 5
      jne no_patch
      mov dword [patched + 1], 1000
    no_patch:
      cmp ecx, 20
      jne no_patch2
      mov byte [pc_thunk + 1], 0x14
    no_patch2:
    patched:
      mov eax, 3
      add esi, eax
      mov [0x20000 + ecx * 4], ebx
      inc ecx
      cmp ecx, 40
      jb again
      mov [0x20100], esi
      mov [0x20104], edi
      hlt
    pc_thunk:
      mov ebx, [esp]
      ret
    fn:
      rol ebx, 3
      lea edx, [ebx + ecx * 2 + 1]
      sub ebx, edx
      ret
    align 4096
    fn2:
      nop
      nop
      nop
      ret
  `);
  const results = [0, 1, 5, 50].map((th) => {
    const m = machine(image);
    m.cpu.jitThreshold = th;
    runTo(m);
    return { snap: snapshot(m), compiled: m.cpu.regionsCompiled };
  });
  assert.ok(results.slice(1).every((r) => r.compiled > 0), 'regions compiled');
  assert.equal(results[0]!.snap.mem.slice(0x100 * 2, 0x104 * 2), Buffer.from(Uint32Array.of(3 * 5 + 1000 * 35).buffer).toString('hex'));
  for (const r of results.slice(1)) assert.deepEqual(r.snap, results[0]!.snap);
});

test('step() runs one instruction where the block is compiled', () => {
  // `again` is a block of one instruction, compiled into the loop's region with the rest.
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      mov dword [0x20000], again
      mov dword [0x20004], a1
      mov ecx, 0
    again:
      jmp a1
    a1:
      inc ecx
      cmp ecx, 100000
      jb again
      hlt
  `);
  const m = machine(image);
  m.cpu.jitThreshold = 1;
  m.cpu.pageCompileLimit = 1 << 20;
  for (let i = 0; i < 5; i++) assert.equal(m.cpu.run(2000), StopReason.Budget);
  assert.ok(m.cpu.regionsCompiled > 0, 'the loop compiled');
  m.cpu.eip = m.dv.getUint32(0x20000, true);
  const ecx = m.cpu.regs[1], before = m.cpu.instructionsRetired;
  m.cpu.step();
  assert.equal(m.cpu.instructionsRetired - before, 1);
  assert.equal(m.cpu.eip, m.dv.getUint32(0x20004, true), 'EIP after the JMP');
  assert.equal(m.cpu.regs[1], ecx, 'ECX as before');
});

test('compiled SSE2 string-function instructions match the SSE unit, and raise #NM with CR0.TS set', () => {
  // MOVDQA/MOVDQU loads, MOVD, PSHUFD, PUNPCKLBW, PXOR, PCMPEQB and PMOVMSKB on pseudo-random
  // data with bytes that compare equal or differ in bit 0 only; the results go to memory through the interpreter's
  // MOVDQU stores. Then CR0.TS is set and the loop's first PXOR (compiled by then) must raise #NM.
  const image = assemble(`
    %include "pm32.inc"
    test_main:
      mov dword [FIXUP], resume
      mov eax, cr4
      or eax, 0x200
      mov cr4, eax
      mov edi, 0x21000
      mov eax, 12345
      mov ecx, 96
    fill:
      imul eax, eax, 1103515245
      add eax, 12345
      mov [edi], eax
      mov edx, eax
      and edx, 0x01ff0101
      mov [edi + 0x400], edx
      add edi, 4
      dec ecx
      jnz fill
      xor ecx, ecx
      xor ebx, ebx
    again:
      cmp ecx, 150
      jne go
      mov eax, cr0
      or eax, 8
      mov cr0, eax
    go:
      pxor xmm7, xmm6
      mov esi, ecx
      and esi, 15
      shl esi, 4
      movdqa xmm0, [0x21000 + esi]
      movdqu xmm1, [0x21003 + esi]
      movdqa xmm4, xmm0
      pxor xmm4, [0x21400 + esi]
      pcmpeqb xmm4, xmm0
      pmovmskb edx, xmm4
      add ebx, edx
      pcmpeqb xmm1, [0x21010 + esi]
      pmovmskb edx, xmm1
      xor ebx, edx
      movd xmm2, ecx
      pshufd xmm2, xmm2, 0x1b
      movd xmm3, [0x21000 + esi + 4]
      punpcklbw xmm3, xmm0
      punpcklbw xmm2, xmm2
      movdqa xmm5, xmm3
      pshufd xmm6, xmm0, 0x4e
      movdqu [0x22000 + esi], xmm2
      movdqu [0x22100 + esi], xmm3
      movdqu [0x22200 + esi], xmm5
      movdqu [0x22300 + esi], xmm6
      movdqu [0x22400 + esi], xmm7
      inc ecx
      cmp ecx, 200
      jb again
    resume:
      mov [0x20000], ebx
      mov [0x20004], ecx
      hlt
  `);
  const results = [0, 1, 20].map((th) => runRecorded(image, th, true));
  assert.equal(results[0]!.vec, 7, '#NM');
  assert.equal(results[0]!.snap.regs[1], 150, 'at the pass that set CR0.TS');
  for (const r of results.slice(1)) {
    assert.ok(r.compiled > 0);
    assert.deepEqual(r, { ...results[0]!, compiled: r.compiled });
  }
});
