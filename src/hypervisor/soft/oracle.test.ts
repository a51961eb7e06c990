// The soft CPU against the host CPU (x86-64): the same instruction bytes, operands and input
// flags run natively (a small C harness that copies them into an executable page) and on the
// soft CPU; results and the flags the SDM defines for each instruction must match. Undefined
// flags are not compared (the host may be AMD). Skipped when gcc is missing.
//
// HVM_LONG=1 runs 20× more cases; the seed is printed on failure (HVM_SEED=n repeats a run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine } from './test-util.js';
import { flatSegment, resetState } from '../vcpu.js';
import { StopReason } from './cpu.js';

const HARNESS = `
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
int main(void) {
  unsigned char *code = mmap(0, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  char hex[64]; unsigned a, b, c, d, fl; uint32_t out[5];
  while (scanf("%63s %x %x %x %x %x", hex, &a, &b, &c, &d, &fl) == 6) {
    unsigned char *p = code;
    *p++ = 0x53; *p++ = 0x56;                       /* push rbx; push rsi */
    *p++ = 0xb8; memcpy(p, &a, 4); p += 4;           /* mov eax, a */
    *p++ = 0xbb; memcpy(p, &b, 4); p += 4;
    *p++ = 0xb9; memcpy(p, &c, 4); p += 4;
    *p++ = 0xba; memcpy(p, &d, 4); p += 4;
    *p++ = 0x68; memcpy(p, &fl, 4); p += 4;          /* push fl; popfq */
    *p++ = 0x9d;
    for (size_t i = 0; hex[i] && hex[i+1]; i += 2) { unsigned v; sscanf(hex + i, "%2x", &v); *p++ = v; }
    *p++ = 0x9c; *p++ = 0x5e;                        /* pushfq; pop rsi */
    *p++ = 0x89; *p++ = 0x07; *p++ = 0x89; *p++ = 0x5f; *p++ = 0x04;
    *p++ = 0x89; *p++ = 0x4f; *p++ = 0x08; *p++ = 0x89; *p++ = 0x57; *p++ = 0x0c;
    *p++ = 0x89; *p++ = 0x77; *p++ = 0x10;
    *p++ = 0x5e; *p++ = 0x5b; *p++ = 0xc3;           /* pop rsi; pop rbx; ret */
    ((void (*)(uint32_t *))code)(out);
    printf("%x %x %x %x %x\\n", out[0], out[1], out[2], out[3], out[4]);
  }
  return 0;
}
`;

const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ALL = CF | PF | AF | ZF | SF | OF;
const SZP = SF | ZF | PF;

interface Case { bytes: number[]; a: number; b: number; c: number; d: number; flags: number; mask: number; regs: number }

/** A template: bytes, and which flags/registers are defined for given operands. */
interface Template {
  name: string;
  bytes: number[];
  /** Flag mask and register mask (bit per EAX EBX ECX EDX) defined for these operands. */
  defined(a: number, b: number, c: number, d: number): [number, number] | null;
}

const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const REGS_AB = 0b0011;

function templates(): Template[] {
  const t: Template[] = [];
  for (let k = 0; k < 8; k++) {
    const logic = k === 1 || k === 4 || k === 6;
    const fm = logic ? ALL & ~AF : ALL;
    t.push({ name: `${ALU_NAMES[k]} eax,ebx`, bytes: [k * 8 + 1, 0xd8], defined: () => [fm, REGS_AB] });
    t.push({ name: `${ALU_NAMES[k]} ax,bx`, bytes: [0x66, k * 8 + 1, 0xd8], defined: () => [fm, REGS_AB] });
    t.push({ name: `${ALU_NAMES[k]} al,bl`, bytes: [k * 8, 0xd8], defined: () => [fm, REGS_AB] });
    t.push({ name: `${ALU_NAMES[k]} bl,ah`, bytes: [k * 8, 0xe3], defined: () => [fm, REGS_AB] });
    t.push({ name: `${ALU_NAMES[k]} eax,imm8`, bytes: [0x83, 0xc0 | (k << 3), 0x85], defined: () => [fm, REGS_AB] });
  }
  for (const [name, bytes] of [['inc', [0xff, 0xc0]], ['dec', [0xff, 0xc8]], ['inc8', [0xfe, 0xc0]], ['dec16', [0x66, 0xff, 0xc8]]] as const) {
    t.push({ name, bytes: [...bytes], defined: () => [ALL, REGS_AB] });
  }
  t.push({ name: 'neg', bytes: [0xf7, 0xd8], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'neg8', bytes: [0xf6, 0xd8], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'not16', bytes: [0x66, 0xf7, 0xd0], defined: () => [ALL, REGS_AB] });
  const SH = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
  for (let k = 0; k < 8; k++) {
    for (const [sz, pre, opc] of [[32, [], 0xd3], [16, [0x66], 0xd3], [8, [], 0xd2]] as const) {
      t.push({
        name: `${SH[k]}${sz} cl`, bytes: [...pre, opc, 0xc0 | (k << 3)],
        defined: (_a, _b, c) => {
          const cnt = c & 31;
          if (cnt === 0) return [ALL, REGS_AB | 4];
          const rot = k < 4;
          const of = (rot ? (k < 2 ? (cnt & (sz - 1)) === 1 || (sz < 32 && cnt === 1) : cnt === 1) : cnt === 1) ? OF : 0;
          if (rot) {
            // ROL/ROR of 8/16 bits by a multiple of the width: CF is defined (the SDM masks first).
            return [CF | of | SZP | AF, REGS_AB | 4];
          }
          if (sz < 32 && cnt > sz) return [0, REGS_AB | 4];
          return [CF | of | SZP, REGS_AB | 4];
        },
      });
    }
  }
  for (const [name, bytes] of [['shld', [0x0f, 0xa5, 0xd8]], ['shrd', [0x0f, 0xad, 0xd8]]] as const) {
    t.push({
      name, bytes: [...bytes], defined: (_a, _b, c) => {
        const cnt = c & 31;
        if (cnt === 0) return [ALL, REGS_AB | 4];
        return [CF | SZP | (cnt === 1 ? OF : 0), REGS_AB | 4];
      },
    });
    t.push({
      name: `${name}16`, bytes: [0x66, ...bytes], defined: (_a, _b, c) => {
        const cnt = c & 31;
        if (cnt === 0) return [ALL, REGS_AB | 4];
        if (cnt > 16) return null;
        return [CF | SZP | (cnt === 1 ? OF : 0), REGS_AB | 4];
      },
    });
  }
  t.push({ name: 'mul', bytes: [0xf7, 0xe3], defined: () => [CF | OF, 0b1011] });
  t.push({ name: 'imul', bytes: [0xf7, 0xeb], defined: () => [CF | OF, 0b1011] });
  t.push({ name: 'mul8', bytes: [0xf6, 0xe3], defined: () => [CF | OF, 0b1011] });
  t.push({ name: 'imul16', bytes: [0x66, 0xf7, 0xeb], defined: () => [CF | OF, 0b1011] });
  t.push({ name: 'imul eax,ebx', bytes: [0x0f, 0xaf, 0xc3], defined: () => [CF | OF, REGS_AB] });
  t.push({ name: 'imul eax,ebx,imm', bytes: [0x69, 0xc3, 0x39, 0x30, 0x00, 0x80], defined: () => [CF | OF, REGS_AB] });
  t.push({ name: 'imul16 ax,bx,imm8', bytes: [0x66, 0x6b, 0xc3, 0x9c], defined: () => [CF | OF, REGS_AB] });
  t.push({
    name: 'div', bytes: [0xf7, 0xf3],
    defined: (a, b, _c, d) => {
      const bb = BigInt(b >>> 0);
      if (bb === 0n) return null;
      const n = (BigInt(d >>> 0) << 32n) | BigInt(a >>> 0);
      return n / bb > 0xffffffffn ? null : [0, 0b1011];
    },
  });
  t.push({
    name: 'idiv', bytes: [0xf7, 0xfb],
    defined: (a, b, _c, d) => {
      const bb = BigInt(b | 0);
      if (bb === 0n) return null;
      const n = BigInt.asIntN(64, (BigInt(d >>> 0) << 32n) | BigInt(a >>> 0));
      const q = n / bb;
      return q > 0x7fffffffn || q < -0x80000000n ? null : [0, 0b1011];
    },
  });
  t.push({
    name: 'div8', bytes: [0xf6, 0xf3],
    defined: (a, b) => ((b & 0xff) === 0 || Math.floor((a & 0xffff) / (b & 0xff)) > 0xff ? null : [0, 0b1011]),
  });
  t.push({
    name: 'idiv16', bytes: [0x66, 0xf7, 0xfb],
    defined: (a, b, _c, d) => {
      const dv = (b << 16) >> 16;
      if (dv === 0) return null;
      const q = Math.trunc((((d & 0xffff) << 16) | (a & 0xffff)) / dv);
      return q > 32767 || q < -32768 ? null : [0, 0b1011];
    },
  });
  t.push({ name: 'bsf', bytes: [0x0f, 0xbc, 0xc3], defined: (_a, b) => [ZF, b === 0 ? 0b0010 : REGS_AB] });
  t.push({ name: 'bsr', bytes: [0x0f, 0xbd, 0xc3], defined: (_a, b) => [ZF, b === 0 ? 0b0010 : REGS_AB] });
  for (const [name, opc] of [['bt', 0xa3], ['bts', 0xab], ['btr', 0xb3], ['btc', 0xbb]] as const) {
    t.push({ name, bytes: [0x0f, opc, 0xd8], defined: () => [CF, REGS_AB] });
    t.push({ name: `${name} imm`, bytes: [0x0f, 0xba, 0xe0 | ((opc >> 3) & 3) << 3, 0x2b], defined: () => [CF, REGS_AB] });
  }
  t.push({ name: 'xadd', bytes: [0x0f, 0xc1, 0xd8], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'cmpxchg', bytes: [0x0f, 0xb1, 0xcb], defined: () => [ALL, 0b0111] });
  t.push({ name: 'cmpxchg8', bytes: [0x0f, 0xb0, 0xcb], defined: () => [ALL, 0b0111] });
  t.push({ name: 'cwde', bytes: [0x98], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'cdq', bytes: [0x99], defined: () => [ALL, 0b1011] });
  t.push({ name: 'cwd', bytes: [0x66, 0x99], defined: () => [ALL, 0b1011] });
  t.push({ name: 'movsx', bytes: [0x0f, 0xbe, 0xc3], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'movzx16', bytes: [0x0f, 0xb7, 0xc3], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'bswap', bytes: [0x0f, 0xc8], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'sahf', bytes: [0x9e], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'lahf', bytes: [0x9f], defined: () => [ALL, REGS_AB] });
  t.push({ name: 'cmc', bytes: [0xf5], defined: () => [ALL, REGS_AB] });
  for (let cc = 0; cc < 16; cc++) {
    t.push({ name: `set${cc}`, bytes: [0x0f, 0x90 + cc, 0xc0], defined: () => [ALL, REGS_AB] });
    t.push({ name: `cmov${cc}`, bytes: [0x0f, 0x40 + cc, 0xc3], defined: () => [ALL, REGS_AB] });
  }
  return t;
}

const SPECIAL = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

function hasGcc(): boolean {
  return spawnSync('gcc', ['--version']).status === 0;
}

test('ALU, shifts, multiply/divide, bit ops and flags match the host CPU', { skip: !hasGcc() && 'gcc not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-oracle-'));
  writeFileSync(join(dir, 'h.c'), HARNESS);
  execFileSync('gcc', ['-O1', '-o', join(dir, 'h'), join(dir, 'h.c')]);
  const seed = Number(process.env['HVM_SEED'] ?? Date.now() % 1_000_000);
  const rand = rng(seed);
  const pick = (): number => ((rand() & 3) === 0 ? SPECIAL[rand() % SPECIAL.length]! : rand()) >>> 0;
  const perTemplate = process.env['HVM_LONG'] === '1' ? 400 : 20;
  const cases: (Case & { name: string })[] = [];
  for (const tp of templates()) {
    for (let i = 0; i < perTemplate; i++) {
      const a = pick(), b = pick(), d = pick();
      const c = (rand() & 1) === 0 ? rand() % 40 : pick();
      const flags = (rand() & ALL) | 2;
      const def = tp.defined(a, b, c, d);
      if (def === null) continue;
      cases.push({ name: tp.name, bytes: tp.bytes, a, b, c, d, flags, mask: def[0], regs: def[1] });
    }
  }
  const hex = (n: number): string => (n >>> 0).toString(16);
  const input = cases.map((k) => `${k.bytes.map((x) => x.toString(16).padStart(2, '0')).join('')} ${hex(k.a)} ${hex(k.b)} ${hex(k.c)} ${hex(k.d)} ${hex(k.flags)}`).join('\n') + '\n';
  const out = execFileSync(join(dir, 'h'), { input, maxBuffer: 64 << 20 }).toString().trim().split('\n');
  assert.equal(out.length, cases.length);

  const m = machine(new Uint8Array(0));
  const s = resetState();
  s.cr0 = 0x11n;
  s.cs = flatSegment(8, 0xb);
  s.ds = flatSegment(0x10, 0x3); s.es = flatSegment(0x10, 0x3); s.ss = flatSegment(0x10, 0x3);
  s.rsp = 0x8000n;
  m.cpu.setState(s);
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i++) {
    const k = cases[i]!;
    const code = [0xb8, ...le(k.a), 0xbb, ...le(k.b), 0xb9, ...le(k.c), 0xba, ...le(k.d), 0x68, ...le(k.flags), 0x9d,
      ...k.bytes, 0x9c, 0x5e, 0xf4];
    m.ram.u8.set(code, 0x1000);
    m.cpu.invalidatePhysPage(1);
    m.cpu.eip = 0x1000;
    m.cpu.regs[4] = 0x8000;
    m.cpu.halted = false;
    const stop = m.cpu.run(100);
    const want = out[i]!.split(' ').map((x) => parseInt(x, 16) >>> 0);
    const got = [m.cpu.regs[0]!, m.cpu.regs[3]!, m.cpu.regs[1]!, m.cpu.regs[2]!, m.cpu.regs[6]!].map((x) => x >>> 0);
    const bad: string[] = [];
    if (stop !== StopReason.Halted) bad.push(`stop ${stop}`);
    for (let r = 0; r < 4; r++) {
      if ((k.regs & (1 << r)) !== 0 && want[r] !== got[r]) bad.push(`${['eax', 'ebx', 'ecx', 'edx'][r]} ${hex(got[r]!)} want ${hex(want[r]!)}`);
    }
    if (((want[4]! ^ got[4]!) & k.mask) !== 0) bad.push(`flags ${hex(got[4]! & ALL)} want ${hex(want[4]! & ALL)} (mask ${hex(k.mask)})`);
    if (bad.length > 0 && failures.length < 20) {
      failures.push(`${k.name} a=${hex(k.a)} b=${hex(k.b)} c=${hex(k.c)} d=${hex(k.d)} fl=${hex(k.flags)}: ${bad.join(', ')}`);
    }
  }
  assert.deepEqual(failures, [], `seed ${seed}`);
});

function le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
