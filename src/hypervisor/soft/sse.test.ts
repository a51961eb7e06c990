// The SSE/SSE2/MMX unit against the host CPU: each 0F-map instruction runs natively
// (test/oracle/native.ts) and on Sse from the same FXSAVE image (XMM, MMX, MXCSR with every
// rounding mode, DAZ and FZ; exceptions masked, since an unmasked one would trap on the host),
// memory operand, GPRs and flags; XMM/MMX registers, MXCSR flags, tags, memory, GPRs and
// EFLAGS must match.
//
// HVM_LONG=1 runs 10x more cases; HVM_SEED=n repeats a run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Oracle, nativeUnavailable, REC_FLAGS, REC_GPR, REC_MEM } from '../../../test/oracle/native.js';
import { X87 } from './x87.js';
import { Sse } from './sse.js';
import { FakeFault, FakeFpuHost, Rng, randF32, randF64, randI32, hexBytes } from './fpu-test-util.js';

const LONG = process.env['HVM_LONG'] === '1';
const SEED = Number(process.env['HVM_SEED'] ?? (Date.now() & 0xffff));
const CASES = LONG ? 1500 : 150;

interface Template {
  name: string;
  prefix: number;
  op: number;
  modrm: number;
  imm: number | null;
  /** Memory bytes written (compared from REC_MEM). */
  memOut: number;
  approx?: boolean;
  /** Compares EFLAGS / GPRs. */
  flags?: boolean;
  gpr?: boolean;
  /** LDMXCSR/FXRSTOR inputs: a valid image at the memory operand. */
  image?: 'mxcsr' | 'fx';
}

const REG = 0xca; // reg=1 (xmm1/mm1), rm=2
const MEM = 0x0e; // reg=1, [rsi]
const P4 = [0, 0x66, 0xf3, 0xf2];

function templates(): Template[] {
  const t: Template[] = [];
  const add = (name: string, prefix: number, op: number, modrm: number, imm: number | null = null, extra: Partial<Template> = {}): void => {
    t.push({ name: `${name}${prefix ? ` (${prefix.toString(16)})` : ''}${modrm < 0xc0 ? ' mem' : ''}${imm !== null ? ` imm=${imm.toString(16)}` : ''}`, prefix, op, modrm, imm, memOut: 0, ...extra });
  };
  const fl: [number, string][] = [[0x58, 'add'], [0x59, 'mul'], [0x5c, 'sub'], [0x5d, 'min'], [0x5e, 'div'], [0x5f, 'max'], [0x51, 'sqrt']];
  for (const [op, n] of fl) for (const p of P4) { add(n, p, op, REG); add(n, p, op, MEM); }
  for (let pred = 0; pred < 8; pred++) for (const p of P4) add('cmp', p, 0xc2, pred % 3 === 0 ? MEM : REG, pred);
  for (const p of [0, 0x66]) for (const op of [0x2e, 0x2f]) { add(op === 0x2e ? 'ucomis' : 'comis', p, op, REG, null, { flags: true }); add('comis', p, op, MEM, null, { flags: true }); }
  for (const p of P4) { add('cvt5a', p, 0x5a, REG); add('cvt5a', p, 0x5a, MEM); }
  for (const p of [0, 0x66, 0xf3]) { add('cvt5b', p, 0x5b, REG); add('cvt5b', p, 0x5b, MEM); }
  for (const p of [0x66, 0xf2, 0xf3]) { add('cvte6', p, 0xe6, REG); add('cvte6', p, 0xe6, MEM); }
  for (const p of [0xf3, 0xf2]) { add('cvtsi2s', p, 0x2a, 0xc8); add('cvtsi2s', p, 0x2a, MEM); }
  for (const p of [0, 0x66]) { add('cvtpi2p', p, 0x2a, REG); add('cvtpi2p', p, 0x2a, MEM); }
  for (const op of [0x2c, 0x2d]) {
    for (const p of [0xf3, 0xf2]) { add(`cvt${op.toString(16)}`, p, op, 0xc2, null, { gpr: true }); add(`cvt${op.toString(16)}`, p, op, 0x06, null, { gpr: true }); }
    for (const p of [0, 0x66]) { add(`cvt${op.toString(16)}`, p, op, REG); add(`cvt${op.toString(16)}`, p, op, MEM); }
  }
  for (const op of [0x52, 0x53]) for (const p of [0, 0xf3]) add(op === 0x52 ? 'rsqrt' : 'rcp', p, op, REG, null, { approx: true });
  for (const op of [0x54, 0x55, 0x56, 0x57, 0x14, 0x15]) for (const p of [0, 0x66]) { add(`op${op.toString(16)}`, p, op, REG); add(`op${op.toString(16)}`, p, op, MEM); }
  for (const p of P4) { add('movu10', p, 0x10, REG); add('movu10', p, 0x10, MEM); add('movu11', p, 0x11, REG); t.push({ ...t[t.length - 1]!, name: `movu11 (${p}) mem`, modrm: MEM, memOut: 16 }); }
  for (const p of [0, 0x66]) {
    add('movlp', p, 0x12, MEM); add('movhp', p, 0x16, MEM);
    t.push({ name: `movlp store ${p}`, prefix: p, op: 0x13, modrm: MEM, imm: null, memOut: 8 });
    t.push({ name: `movhp store ${p}`, prefix: p, op: 0x17, modrm: MEM, imm: null, memOut: 8 });
    add('movap', p, 0x28, REG); add('movap', p, 0x28, MEM); add('movap st', p, 0x29, REG);
    t.push({ name: `movap store ${p}`, prefix: p, op: 0x29, modrm: MEM, imm: null, memOut: 16 });
    t.push({ name: `movnt ${p}`, prefix: p, op: 0x2b, modrm: MEM, imm: null, memOut: 16 });
    add('movmskp', p, 0x50, 0xc2, null, { gpr: true });
    for (const imm of [0x1b, 0xe4, 0x4e, 0x01, 0x93]) { add('shufp', p, 0xc6, REG, imm); add('shufp', p, 0xc6, MEM, imm); }
  }
  add('movhlps', 0, 0x12, REG); add('movlhps', 0, 0x16, REG);
  // Integer MMX (no prefix) and SSE2 (66) forms.
  const ints: number[] = [];
  for (let op = 0x60; op <= 0x6d; op++) ints.push(op);
  ints.push(0x74, 0x75, 0x76);
  for (let op = 0xd1; op <= 0xfe; op++) if (![0xd6, 0xd7, 0xe6, 0xe7, 0xf0, 0xf7].includes(op)) ints.push(op);
  for (const op of ints) for (const p of [0, 0x66]) {
    if (p === 0 && (op === 0x6c || op === 0x6d)) continue;
    add(`int${op.toString(16)}`, p, op, REG); add(`int${op.toString(16)}`, p, op, MEM);
  }
  for (const p of [0, 0x66]) {
    add('movd to', p, 0x6e, 0xc8); add('movd to', p, 0x6e, MEM);
    add('movd from', p, 0x7e, 0xc8, null, { gpr: true });
    t.push({ name: `movd store ${p}`, prefix: p, op: 0x7e, modrm: MEM, imm: null, memOut: 4 });
    for (const [op, sub, imms] of [[0x71, 2, [0, 3, 15, 16]], [0x71, 4, [1, 15, 40]], [0x71, 6, [2, 17]], [0x72, 2, [5, 31, 32]], [0x72, 4, [3, 31, 200]], [0x72, 6, [7, 33]],
      [0x73, 2, [1, 33, 63, 64]], [0x73, 6, [4, 32, 65]], [0x73, 3, [1, 8, 15, 16, 20]], [0x73, 7, [3, 9, 17]]] as const) {
      if (p === 0 && (sub === 3 || sub === 7)) continue;
      for (const imm of imms) add(`shift${op.toString(16)}/${sub}`, p, op, 0xc2 | (sub << 3), imm);
    }
    for (const imm of [0, 3, 5]) { add('pinsrw', p, 0xc4, 0xc8, imm); add('pinsrw', p, 0xc4, MEM, imm); add('pextrw', p, 0xc5, 0xc2, imm, { gpr: true }); }
    add('pmovmskb', p, 0xd7, 0xc2, null, { gpr: true });
    t.push({ name: `movnt e7 ${p}`, prefix: p, op: 0xe7, modrm: MEM, imm: null, memOut: p ? 16 : 8 });
  }
  for (const p of [0, 0x66, 0xf3]) {
    add('mov6f', p, 0x6f, REG); add('mov6f', p, 0x6f, MEM); add('mov7f', p, 0x7f, REG);
    t.push({ name: `mov7f store ${p}`, prefix: p, op: 0x7f, modrm: MEM, imm: null, memOut: p ? 16 : 8 });
  }
  for (const p of P4) for (const imm of [0x1b, 0xe4, 0x00, 0xb1]) { add('pshuf', p, 0x70, REG, imm); if (imm === 0x1b) add('pshuf', p, 0x70, MEM, imm); }
  add('movq f3 7e', 0xf3, 0x7e, REG); add('movq f3 7e', 0xf3, 0x7e, MEM);
  add('movq d6', 0x66, 0xd6, REG);
  t.push({ name: 'movq d6 store', prefix: 0x66, op: 0xd6, modrm: MEM, imm: null, memOut: 8 });
  add('movq2dq', 0xf3, 0xd6, REG); add('movdq2q', 0xf2, 0xd6, REG);
  add('emms', 0, 0x77, 0xc0);
  t.push({ name: 'movnti', prefix: 0, op: 0xc3, modrm: 0x06, imm: null, memOut: 4 });
  t.push({ name: 'stmxcsr', prefix: 0, op: 0xae, modrm: 0x1e, imm: null, memOut: 4 });
  t.push({ name: 'ldmxcsr', prefix: 0, op: 0xae, modrm: 0x16, imm: null, memOut: 0, image: 'mxcsr' });
  t.push({ name: 'fxsave', prefix: 0, op: 0xae, modrm: 0x06, imm: null, memOut: 512 });
  t.push({ name: 'fxrstor', prefix: 0, op: 0xae, modrm: 0x0e, imm: null, memOut: 0, image: 'fx' });
  return t;
}

function bytesOf(t: Template): number[] {
  const b: number[] = [];
  if (t.prefix !== 0) b.push(t.prefix);
  b.push(0x0f, t.op);
  if (t.op !== 0x77) b.push(t.modrm); // EMMS has no ModRM
  if (t.imm !== null) b.push(t.imm);
  return b;
}

/** Random 16 bytes for an XMM register or memory operand. */
function fill16(dv: DataView, at: number, r: Rng): void {
  switch (r.int(4)) {
    case 0: for (let k = 0; k < 4; k++) dv.setUint32(at + 4 * k, randF32(r), true); break;
    case 1: for (let k = 0; k < 2; k++) { const [hi, lo] = randF64(r); dv.setUint32(at + 8 * k, lo, true); dv.setUint32(at + 8 * k + 4, hi, true); } break;
    case 2: for (let k = 0; k < 4; k++) dv.setInt32(at + 4 * k, randI32(r), true); break;
    default: for (let k = 0; k < 16; k++) dv.setUint8(at + k, r.pick([0, 0x7f, 0x80, 0xff, 1, r.int(256)])); break;
  }
}

function makeCase(b: Uint8Array, t: Template, r: Rng): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b.fill(0);
  dv.setUint16(0, 0x037f, true);
  dv.setUint16(2, r.int(8) << 11, true);
  b[4] = r.int(256);
  // MXCSR: all exceptions masked, random rounding, DAZ and FZ sometimes, some sticky flags.
  const mx = 0x1f80 | (r.int(4) << 13) | (r.chance(0.2) ? 0x40 : 0) | (r.chance(0.2) ? 0x8000 : 0) | (r.chance(0.3) ? r.int(64) : 0);
  dv.setUint32(24, mx, true);
  for (let i = 0; i < 8; i++) {
    const a = 32 + 16 * i;
    fill16(dv, a, r);
    dv.setUint16(a + 8, r.chance(0.5) ? 0xffff : r.u32() & 0xffff, true);
    dv.setUint32(a + 10, 0, true); dv.setUint16(a + 14, 0, true);
  }
  for (let i = 0; i < 8; i++) fill16(dv, 160 + 16 * i, r);
  // Half the time make xmm2 (the source) resemble xmm1 lane-wise, for compare/min/max.
  if (r.chance(0.2)) for (let k = 0; k < 16; k++) b[160 + 32 + k] = b[160 + 16 + k]!;
  dv.setUint32(REC_FLAGS, 2 | (r.u32() & 0x8d5), true);
  for (let k = 0; k < 6; k++) dv.setInt32(REC_GPR + 4 * k, randI32(r), true);
  fill16(dv, REC_MEM, r);
  if (r.chance(0.2)) for (let k = 0; k < 16; k++) b[REC_MEM + k] = b[160 + 16 + k]!;
  if (t.image === 'mxcsr') dv.setUint32(REC_MEM, 0x1f80 | (r.int(4) << 13) | (r.chance(0.3) ? 0x40 : 0) | (r.chance(0.3) ? 0x8000 : 0) | r.int(64), true);
  if (t.image === 'fx') {
    for (let k = 0; k < 512; k++) b[REC_MEM + k] = r.int(256);
    dv.setUint16(REC_MEM, 0x037f, true);
    dv.setUint16(REC_MEM + 2, r.int(8) << 11 | (r.u32() & 0x4700), true);
    dv.setUint32(REC_MEM + 24, 0x1f80 | (r.int(4) << 13), true);
  }
}

function f32At(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset).getFloat32(at, true);
}

function diff(t: Template, n: Uint8Array, s: Uint8Array): string {
  const out: string[] = [];
  const h = (b: Uint8Array, at: number, len: number): string => hexBytes(b, at, len);
  const cmp = (name: string, at: number, len: number): void => { if (h(n, at, len) !== h(s, at, len)) out.push(`${name} ${h(n, at, len)} got ${h(s, at, len)}`); };
  cmp('mxcsr', 24, 4);
  cmp('fsw.top', 3, 1);
  cmp('ftw', 4, 1);
  for (let i = 0; i < 8; i++) cmp(`mm/st${i}`, 32 + 16 * i, 10);
  for (let i = 0; i < 8; i++) {
    const a = 160 + 16 * i;
    if (t.approx && i === 1) {
      for (let k = 0; k < 4; k++) {
        const x = f32At(n, a + 4 * k), y = f32At(s, a + 4 * k);
        if (!(x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= 2 ** -11 * Math.abs(x))) out.push(`xmm1[${k}] ${x} got ${y}`);
      }
    } else cmp(`xmm${i}`, a, 16);
  }
  if (t.memOut === 512) {
    for (const [from, len] of [[0, 6], [24, 4], // not MXCSR_MASK: hosts differ (AMD has MM)
 [32, 10], [48, 10], [64, 10], [80, 10], [96, 10], [112, 10], [128, 10], [144, 10], [160, 128]] as const) cmp(`mem+${from}`, REC_MEM + from, len);
  } else if (t.memOut > 0) cmp('mem', REC_MEM, t.memOut);
  if (t.flags) { const m = (b: Uint8Array): number => (b[REC_FLAGS]! | (b[REC_FLAGS + 1]! << 8)) & 0x8d5; if (m(n) !== m(s)) out.push(`eflags ${h(n, REC_FLAGS, 2)} got ${h(s, REC_FLAGS, 2)}`); }
  if (t.gpr) cmp('gprs', REC_GPR, 24);
  return out.join('; ');
}

function describe(t: Template, b: Uint8Array): string {
  const code = bytesOf(t).map((x) => x.toString(16).padStart(2, '0')).join(' ');
  let s = `${t.name} [${code}] mxcsr=${hexBytes(b, 24, 4)} xmm1=${hexBytes(b, 176, 16)} xmm2=${hexBytes(b, 192, 16)}`;
  s += ` mm1=${hexBytes(b, 48, 8)} mm2=${hexBytes(b, 64, 8)} mem=${hexBytes(b, REC_MEM, 16)} eax=${hexBytes(b, REC_GPR, 4)}`;
  return s;
}

const why = nativeUnavailable();

test('SSE/SSE2/MMX instructions match the host CPU', { skip: why ?? false }, () => {
  const oracle = new Oracle(256);
  const host = new FakeFpuHost();
  const x87 = new X87(host);
  const sse = new Sse(host, x87);
  const r = new Rng(SEED);
  const failures: string[] = [];
  let total = 0;
  const input = new Uint8Array(2048);
  const trace = process.env['HVM_SSE_TRACE'] === '1';
  for (const t of templates()) {
    if (trace) process.stderr.write(`${t.name}\n`);
    const stub = oracle.stub(new Uint8Array(bytesOf(t)));
    let bad = 0;
    for (let done = 0; done < CASES; done += oracle.records) {
      const k = Math.min(oracle.records, CASES - done);
      const inputs: Uint8Array[] = [];
      for (let i = 0; i < k; i++) {
        makeCase(input, t, r);
        inputs.push(input.slice());
        oracle.record(i).set(input);
      }
      stub.run(oracle.batch, k);
      for (let i = 0; i < k; i++) {
        total++;
        host.mem.set(inputs[i]!);
        let fault = '';
        try {
          sse.fxrstor(0);
          const m = t.modrm;
          const ok = sse.exec0F(t.op, t.prefix, { modrm: m, reg: (m >> 3) & 7, rm: m & 7, ea: m < 0xc0 ? REC_MEM : -1, imm: t.imm ?? 0 });
          if (!ok) fault = 'soft returned #UD';
          sse.fxsave(0);
        } catch (e) {
          if (!(e instanceof FakeFault)) throw e;
          fault = `soft raised #${e.vector}`;
        }
        const d = fault !== '' ? fault : diff(t, oracle.record(i), host.mem);
        if (d !== '' && bad++ < 3) failures.push(`${describe(t, inputs[i]!)}\n    expected/got: ${d}`);
      }
    }
    if (bad > 3) failures.push(`${t.name}: ${bad} of ${CASES} cases differ`);
  }
  if (failures.length > 0) assert.fail(`seed ${SEED}, ${total} cases:\n${failures.slice(0, 80).join('\n')}`);
});

test('SSE state checks: OSFXSR, reserved MXCSR bits, alignment', () => {
  const host = new FakeFpuHost();
  const x87 = new X87(host);
  const sse = new Sse(host, x87);
  const op = (modrm: number, ea: number): { modrm: number; reg: number; rm: number; ea: number; imm: number } =>
    ({ modrm, reg: (modrm >> 3) & 7, rm: modrm & 7, ea, imm: 0 });
  const vec = (f: () => void): number => { try { f(); return -1; } catch (e) { if (e instanceof FakeFault) return e.vector; throw e; } };
  host.dv.setUint32(0x400, 0x10000, true);
  assert.equal(vec(() => sse.exec0F(0xae, 0, op(0x16, 0x400))), 13, 'LDMXCSR reserved bit: #GP');
  assert.equal(vec(() => sse.exec0F(0xae, 0, op(0x06, 0x408))), 13, 'FXSAVE misaligned: #GP');
  assert.equal(vec(() => sse.exec0F(0x28, 0, op(0x0e, 0x408))), 13, 'MOVAPS misaligned: #GP');
  assert.equal(sse.exec0F(0x10, 0, op(0x0e, 0x408)), true, 'MOVUPS misaligned is fine');
  host.cr4 = 0;
  assert.equal(vec(() => sse.exec0F(0x58, 0, op(0xca, -1))), 6, 'ADDPS without OSFXSR: #UD');
  assert.equal(vec(() => sse.exec0F(0xfe, 0, op(0xca, -1))), -1, 'MMX PADDD works without OSFXSR');
  host.cr4 = 0x200;
  host.dv.setUint32(0x400, 0x1f80 & ~0x100, true); // unmask DE
  sse.exec0F(0xae, 0, op(0x16, 0x400));
  host.dv.setUint32(0x410, 1, true); // a denormal
  sse.exec0F(0x10, 0xf3, op(0x0e, 0x410));
  assert.equal(vec(() => sse.exec0F(0x58, 0xf3, op(0xc9, -1))), 6, 'unmasked exception without OSXMMEXCPT: #UD');
  host.cr4 = 0x600;
  assert.equal(vec(() => sse.exec0F(0x58, 0xf3, op(0xc9, -1))), 19, 'unmasked exception: #XM');
  assert.notEqual(sse.mxcsr & 2, 0, 'DE flagged');
  assert.equal(sse.exec0F(0x78, 0, op(0xca, -1)), false, '0F 78: #UD');
});
