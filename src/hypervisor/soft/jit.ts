// The soft x86 core's region compiler: the hot decoded blocks (32-bit code) of one code page are
// translated to the source of a JavaScript function, a region (more than one per page when its
// hot code exceeds a region's source budget), and compiled with `new Function`, so V8
// optimizes it like any code (DESIGN.md, "The soft CPU is the hot path"). The
// common integer instructions are translated inline with their operands as constants; every
// other instruction runs through the interpreter (`execBlock` on its record), so the translation
// may cover any subset. A region is a loop over a `switch` on EIP's offset in the page: a branch
// to another block of the region stays in the function, as does a near return or indirect jump
// the interpreter ran; anything leaving the page, or changing more than EIP and the stack, goes
// back to the run loop.
//
// The compiled function behaves as running its blocks with `execBlock` does: it returns the
// number of instructions completed and leaves EIP after them; before anything that can fault
// (the slow path of a memory access, a failed check) it sets EIP to the instruction's own
// address, and it changes no register or flag before the fault point, so a fault mid-block
// leaves the state as after the previous instruction (EIP is not kept current in between). A store
// that hits decoded code (`smc`) ends the region after that instruction. The function lives and
// dies with the decoded blocks of its page (the block cache's invalidation covers it). The
// expressions for operands, flags and conditions are in jit-exprs.ts.

import type { SoftCpu } from './cpu.js';
import { HELPERS, pcThunkAt } from './jit-helpers.js';
import {
  M_MEM, R_DISP, R_IMM, R_LEN, R_M, R_SSEPFX, REC,
} from './decoder.js';
import { isInlineSse, translateSse } from './jit-sse.js';
import { CC_ADC, CC_ADD, CC_DEC, CC_FLAGS, CC_INC, CC_LOGIC, CC_SBB, CC_SHIFT, CC_SUB } from './core.js';
import {
  Cls, NONE, cfExpr, classify, condExpr, eaExpr, isRotate, keptFlags, ld16Expr, ld32Expr, ld8Expr, reg8Get, reg8Set,
  st32Stmt, st8Stmt, type FlagState,
} from './jit-exprs.js';

/**
 * A compiled region: returns the number of instructions completed. `nest` is 1 when a sibling
 * region calls it (see compileRegions).
 */
export type JitFn = (c: SoftCpu, nest?: number) => number;


// ---- translation ----

/** Instructions a region runs at most per call (about; whole blocks) before the run loop's turn. */
const LOOP_MAX = 1000;

/**
 * One block of a region: its first record, record count and offset in the code page;
 * compileRegions sets `part` to the index of the function it is in (undefined: left out).
 */
export interface RegionBlock { p: number; n: number; off: number; part?: number | undefined }

/**
 * Generated source of one region at most (characters): TurboFan never optimizes a function past
 * 60 KB of bytecode (silently: it stays in the baseline tier), and its compile time grows faster
 * than the function. A page of 256 blocks in one function left bench/linux's shell loop running
 * such functions unoptimized (101 s instead of 50 s) and --guest-decompress's decompressor too
 * (boot 108 s instead of 26 s). With memory accesses inline the code is denser: at 48,000
 * characters the largest regions reached 46-49 KB of bytecode (median 12-15 KB), and budgets of
 * 96,000 and 150,000 left the loop at 49 and 67 s; 32,000 to 56,000 measured alike. 40,000 keeps
 * a margin below the limit.
 */
const MAX_REGION_SOURCE = 40_000;

/**
 * Ops after which a region goes on to the next block when the interpreter ran them as the last
 * record of a block: near transfers that change nothing but EIP and the stack. Anything else
 * (far transfers, mode or paging changes, I/O, HLT, PAUSE) returns to the run loop.
 */
function continuesRegion(op: number, m: number): boolean {
  if (op === 0x2c3 || op === 0x2c2 || op === 0x2e8 || op === 0x2e9 || op === 0x2eb) return true;
  if ((op >= 0x270 && op <= 0x27f) || (op >= 0x380 && op <= 0x38f) || (op >= 0x2e0 && op <= 0x2e3)) return true;
  return op === 0x2ff && (((m >> 3) & 7) === 2 || ((m >> 3) & 7) === 4);
}

/**
 * Translates the `n` records at `p` (one decoded block, 32-bit code) to the body of a `case`
 * of a region function (see compileRegion); returns how many were translated inline.
 */
function translateBlock(c: SoftCpu, p: number, n: number, lin: number, out: string[], dump: boolean): number {
  const ins = c.ins;
  // Flag liveness: a flag result is dead when a later register-only instruction overwrites all
  // six flags and nothing between can fault or read them.
  const cls: Cls[] = [];
  for (let k = 0; k < n; k++) cls.push(classify(ins, p + k * REC));
  const dead: boolean[] = new Array<boolean>(n).fill(false);
  for (let k = 0; k < n; k++) {
    const op = ins[p + k * REC]!;
    if (cls[k] === Cls.Other && !isRotate(ins, p + k * REC) && !(op >= 0x240 && op <= 0x24f)) continue;
    for (let j = k + 1; j < n; j++) {
      if (cls[j] === Cls.Writer) { dead[k] = true; break; }
      if (cls[j] !== Cls.Quiet) break;
    }
  }
  /** After the interpreter: the TLB in use (user or supervisor) as it left it. */
  const reTlb = 'TR = c.tlbR; TW = c.tlbW;';
  /** Leaves the block with `k` instructions done and EIP set: on to the region's next block. */
  const exit = (k: number): string => `D += ${k}; break;`;

  // A run of records left to the interpreter: first index, record, EIP offset and length.
  let pendK = 0, pendP = 0, pendD = 0, pendCount = 0;
  const flush = (endsBlock: boolean): void => {
    if (pendCount === 0) return;
    out.push(`c.eip = ((E + ${pendD}) | 0);`);
    if (endsBlock) {
      const lastP = pendP + (pendCount - 1) * REC;
      if (continuesRegion(ins[lastP]!, ins[lastP + R_M]!)) {
        const q = `q${pendK}`;
        out.push(`const ${q} = execBlock(c, ${pendP}, ${pendCount});`);
        out.push(`if (${q} !== ${pendCount} || c.flatData !== true) return D + ${pendK} + ${q};`);
        out.push(reTlb);
        out.push(exit(pendK + pendCount));
      } else {
        out.push(`return D + ${pendK} + execBlock(c, ${pendP}, ${pendCount});`);
      }
    } else {
      const q = `q${pendK}`;
      out.push(`const ${q} = execBlock(c, ${pendP}, ${pendCount});`);
      out.push(`if (${q} !== ${pendCount} || c.smc === true || c.flatData !== true) return D + ${pendK} + ${q};`);
      out.push(reTlb);
    }
    pendCount = 0;
  };
  let fs: FlagState = NONE;
  let inline = 0;
  let d = 0;
  let ended = false;
  for (let k = 0; k < n; k++) {
    const P = p + k * REC;
    const op = ins[P]!, m = ins[P + R_M]!, disp = ins[P + R_DISP]!, imm = ins[P + R_IMM]!;
    const len = ins[P + R_LEN]!;
    const ek = `((E + ${d}) | 0)`;
    const nextOff = d + len;
    const en = `((E + ${nextOff}) | 0)`;
    const last = k === n - 1;
    const mem = (m & M_MEM) !== 0;
    const rm = m & 7, rg = (m >> 3) & 7, seg = (m >> 20) & 7;
    const fault = `c.eip = ${ek};`;
    const smcCheck = `if (c.smc === true) { c.eip = ${en}; return D + ${k + 1}; }`;
    const cur: string[] = [];
    const t = (s: string): void => { cur.push(s); };
    const v = (name: string): string => `${name}${k}`;
    let done = true;

    /** ALU kind `kk` on locals a/b: code for the result, and the flag commit. */
    const alu = (kk: number, a: string, b: string): { pre: string; res: string; commit: string } => {
      const res = v('v');
      let pre: string, commit: string;
      switch (kk) {
        case 0: pre = `const ${res} = (${a} + ${b}) | 0;`;
          commit = `c.ccOp = ${CC_ADD}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = -1;`;
          fs = { kind: 'add', a, b, res }; break;
        case 2: case 3: {
          const cf = v('cf');
          pre = `const ${cf} = ${cfExpr(fs)}; const ${res} = (${a} ${kk === 2 ? '+' : '-'} ${b} ${kk === 2 ? '+' : '-'} ${cf}) | 0;`;
          commit = `c.ccAux = ${cf}; c.ccOp = ${kk === 2 ? CC_ADC : CC_SBB}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = -1;`;
          fs = NONE; break;
        }
        case 1: case 4: case 6:
          pre = `const ${res} = ${a} ${kk === 1 ? '|' : kk === 4 ? '&' : '^'} ${b};`;
          commit = `c.ccOp = ${CC_LOGIC}; c.ccRes = ${res}; c.ccMask = -1;`;
          fs = { kind: 'logic', a: '', b: '', res }; break;
        default: pre = `const ${res} = (${a} - ${b}) | 0;`;
          commit = `c.ccOp = ${CC_SUB}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = -1;`;
          fs = { kind: 'sub', a, b, res }; break;
      }
      if (dead[k]) commit = '';
      return { pre, res, commit };
    };

    /** ALU kind `kk` on the r/m32 operand and `src`; a memory operand is read, then written. */
    const aluRm = (kk: number, src: string): void => {
      const a = v('a'), b = v('b');
      if (!mem) {
        t(`const ${a} = r[${rm}], ${b} = ${src};`);
        const x = alu(kk, a, b);
        t(x.pre); t(x.commit);
        if (kk !== 7) t(`r[${rm}] = ${x.res};`);
        return;
      }
      const o = v('o');
      t(`const ${o} = ${eaExpr(m, disp)}; const ${a} = ${ld32Expr(seg, o, ek)}, ${b} = ${src};`);
      const x = alu(kk, a, b);
      t(x.pre);
      if (kk !== 7) t(st32Stmt(seg, o, x.res, ek));
      t(x.commit);
      if (kk !== 7) t(smcCheck);
    };

    /** ALU kind `kk` on byte locals a/b (0..255): code for the result (0..255), and the flag commit. */
    const alu8 = (kk: number, a: string, b: string): { pre: string; res: string; commit: string } => {
      const res = v('v'), fs0 = fs;
      switch (kk) {
        case 0:
          fs = NONE;
          return { pre: `const ${res} = (${a} + ${b}) & 255;`, res, commit: `c.ccOp = ${CC_ADD}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = 255;` };
        case 1: case 4: case 6:
          fs = { kind: 'logic8', a: '', b: '', res };
          return { pre: `const ${res} = ${a} ${kk === 1 ? '|' : kk === 4 ? '&' : '^'} ${b};`, res, commit: `c.ccOp = ${CC_LOGIC}; c.ccRes = ${res}; c.ccMask = 255;` };
        case 5: case 7:
          fs = { kind: 'sub8', a, b, res };
          return { pre: `const ${res} = (${a} - ${b}) & 255;`, res, commit: `c.ccOp = ${CC_SUB}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = 255;` };
        default: {
          // ADC/SBB: CF read before, flags committed after the store (a store that faults, say on
          // a copy-on-write page, must leave CF as it was: the instruction runs again).
          const cf = v('cf');
          fs = NONE;
          return {
            pre: `const ${cf} = ${cfExpr(fs0)}; const ${res} = (${a} ${kk === 2 ? '+' : '-'} ${b} ${kk === 2 ? '+' : '-'} ${cf}) & 255;`,
            res,
            commit: `c.ccAux = ${cf}; c.ccOp = ${kk === 2 ? CC_ADC : CC_SBB}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${b}; c.ccMask = 255;`,
          };
        }
      }
    };

    if (op >= 0x200 && op < 0x240 && ((op & 7) === 1 || (op & 7) === 3 || (op & 7) === 5)) {
      // ALU r/m32,r32 ; r32,r/m32 ; EAX,imm32
      const kk = (op >> 3) & 7, form = op & 7;
      const a = v('a'), b = v('b');
      if (form === 5) {
        t(`const ${a} = r[0], ${b} = ${imm};`);
        const x = alu(kk, a, b);
        t(x.pre); t(x.commit);
        if (kk !== 7) t(`r[0] = ${x.res};`);
      } else if (form === 3) {
        if (mem) { t(`const ${b} = ${ld32Expr(seg, eaExpr(m, disp), ek)};`); } else t(`const ${b} = r[${rm}];`);
        t(`const ${a} = r[${rg}];`);
        const x = alu(kk, a, b);
        t(x.pre); t(x.commit);
        if (kk !== 7) t(`r[${rg}] = ${x.res};`);
      } else {
        aluRm(kk, `r[${rg}]`);
      }
    } else if (op === 0x281 || op === 0x283) {
      aluRm(rg, `${imm}`);
    } else if (op === 0x285 || op === 0x2a9) {
      const a = v('a'), b = v('b');
      if (op === 0x2a9) t(`const ${a} = r[0], ${b} = ${imm};`);
      else if (mem) { t(`const ${a} = ${ld32Expr(seg, eaExpr(m, disp), ek)}, ${b} = r[${rg}];`); }
      else t(`const ${a} = r[${rm}], ${b} = r[${rg}];`);
      const x = alu(4, a, b);
      t(x.pre); t(x.commit);
    } else if (op === 0x289) {
      if (mem) { t(st32Stmt(seg, eaExpr(m, disp), `r[${rg}]`, ek)); t(smcCheck); }
      else t(`r[${rm}] = r[${rg}];`);
    } else if (op === 0x28b) {
      if (mem) { t(`r[${rg}] = ${ld32Expr(seg, eaExpr(m, disp), ek)};`); }
      else t(`r[${rg}] = r[${rm}];`);
    } else if (op === 0x2c7) {
      if (mem) { t(st32Stmt(seg, eaExpr(m, disp), imm, ek)); t(smcCheck); }
      else t(`r[${rm}] = ${imm};`);
    } else if (op >= 0x2b8 && op <= 0x2bf) {
      t(`r[${op & 7}] = ${imm};`);
    } else if (op >= 0xb0 && op <= 0xb7) {
      t(reg8Set(op & 7, `${imm}`));
    } else if (op === 0x88) {
      if (mem) { t(st8Stmt(seg, eaExpr(m, disp), reg8Get(rg), ek)); t(smcCheck); }
      else t(reg8Set(rm, reg8Get(rg)));
    } else if (op === 0x8a) {
      if (mem) { t(reg8Set(rg, ld8Expr(seg, eaExpr(m, disp), ek))); }
      else t(reg8Set(rg, reg8Get(rm)));
    } else if (op === 0xc6) {
      if (mem) { t(st8Stmt(seg, eaExpr(m, disp), imm & 0xff, ek)); t(smcCheck); }
      else t(reg8Set(rm, `${imm}`));
    } else if (op === 0x28d) {
      t(`r[${rg}] = ${eaExpr(m, disp)};`);
    } else if (op === 0x2a1) {
      t(`r[0] = ${ld32Expr(seg, eaExpr(m, disp), ek)};`);
    } else if (op === 0x2a3) {
      t(st32Stmt(seg, eaExpr(m, disp), 'r[0]', ek)); t(smcCheck);
    } else if (op === 0x3b6 || op === 0x3be) {
      const src = mem ? ld8Expr(seg, eaExpr(m, disp), ek) : reg8Get(rm);
      t(op === 0x3b6 ? `r[${rg}] = ${src};` : `r[${rg}] = (${src} << 24) >> 24;`);
    } else if (op === 0x3b7 || op === 0x3bf) {
      const src = mem ? ld16Expr(seg, eaExpr(m, disp), ek) : `(r[${rm}] & 65535)`;
      t(op === 0x3b7 ? `r[${rg}] = ${src};` : `r[${rg}] = (${src} << 16) >> 16;`);
    } else if (op >= 0x240 && op <= 0x24f) {
      const n0 = op & 7, a = v('a'), res = v('v'), cf = v('cf');
      const inc = op < 0x248;
      t(`const ${a} = r[${n0}], ${res} = (${a} ${inc ? '+' : '-'} 1) | 0;`);
      if (!dead[k]) {
        t(`const ${cf} = ${cfExpr(fs)};`);
        t(`c.ccAux = ${cf}; c.ccOp = ${inc ? CC_INC : CC_DEC}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = 1; c.ccMask = -1;`);
      }
      t(`r[${n0}] = ${res};`);
      fs = { kind: 'incdec', a, b: '1', res };
    } else if (op === 0x290) {
      // NOP
    } else if (op === 0x299) {
      t('r[2] = r[0] >> 31;');
    } else if (op === 0x298) {
      t('r[0] = (r[0] << 16) >> 16;');
    } else if ((op === 0x2c1 || op === 0x2d1) && !mem && ((op === 0x2d1 ? 1 : imm & 31) !== 0) && rg !== 2 && rg !== 3) {
      const cnt = op === 0x2d1 ? 1 : imm & 31;
      const a = v('a'), res = v('v');
      t(`const ${a} = r[${rm}];`);
      switch (rg) {
        case 0: case 1: {
          // ROL/ROR: CF and OF only.
          t(rg === 0 ? `const ${res} = (${a} << ${cnt}) | (${a} >>> ${32 - cnt});` : `const ${res} = (${a} >>> ${cnt}) | (${a} << ${32 - cnt});`);
          if (!dead[k]) {
            const cf = rg === 0 ? `(${res} & 1)` : `((${res} >>> 31) & 1)`;
            const of = rg === 0 ? `(((${res} >>> 31) & 1) ^ (${res} & 1))` : `(((${res} >>> 31) ^ (${res} >>> 30)) & 1)`;
            const kept = keptFlags(fs);
            if (kept === null) t(`c.setArith((c.getArith() & ~2049) | ${cf} | (${of} << 11));`);
            else t(`c.ccOp = ${CC_FLAGS}; c.ccAux = ${kept} | ${cf} | (${of} << 11); c.ccMask = -1;`);
          }
          fs = NONE;
          break;
        }
        case 4: case 6: // SHL
          t(`const ${res} = ${a} << ${cnt};`);
          if (!dead[k]) t(`c.ccOp = ${CC_SHIFT}; c.ccRes = ${res}; c.ccAux = ((${a} >>> ${32 - cnt}) & 1) | ((((${res} >>> 31) ^ (${a} >>> ${32 - cnt})) & 1) << 11); c.ccMask = -1;`);
          fs = { kind: 'shift', a: '', b: '', res };
          break;
        case 5: // SHR
          t(`const ${res} = ${a} >>> ${cnt} | 0;`);
          if (!dead[k]) t(`c.ccOp = ${CC_SHIFT}; c.ccRes = ${res}; c.ccAux = ((${a} >>> ${cnt - 1}) & 1) | ((((${a} >>> ${cnt - 1}) >>> 31) & 1) << 11); c.ccMask = -1;`);
          fs = { kind: 'shift', a: '', b: '', res };
          break;
        default: // SAR
          t(`const ${res} = ${a} >> ${cnt};`);
          if (!dead[k]) t(`c.ccOp = ${CC_SHIFT}; c.ccRes = ${res}; c.ccAux = (${a} >> ${cnt - 1}) & 1; c.ccMask = -1;`);
          fs = { kind: 'shift', a: '', b: '', res };
          break;
      }
      t(`r[${rm}] = ${res};`);
    } else if (op === 0x2d3 && !mem) {
      // Shift/rotate by CL: count 0 changes nothing (not even flags).
      const cnt = v('n');
      t(`const ${cnt} = r[1] & 31; if (${cnt} !== 0) r[${rm}] = c.shift(${rg}, r[${rm}], ${cnt}, 4);`);
      fs = NONE;
    } else if (op === 0x3af) {
      const src = v('b');
      if (mem) { t(`const ${src} = ${ld32Expr(seg, eaExpr(m, disp), ek)};`); } else t(`const ${src} = r[${rm}];`);
      t(`r[${rg}] = c.imulTrunc(r[${rg}], ${src}, 4);`);
      fs = NONE;
    } else if (op === 0x2f7 && !mem && (rg === 0 || rg === 2 || rg === 3)) {
      const a = v('a');
      t(`const ${a} = r[${rm}];`);
      if (rg === 2) {
        t(`r[${rm}] = ~${a};`);
      } else if (rg === 0) {
        const x = alu(4, a, `${imm}`);
        t(x.pre); t(x.commit);
      } else {
        const res = v('v');
        t(`const ${res} = (0 - ${a}) | 0;`);
        if (!dead[k]) t(`c.ccOp = ${CC_SUB}; c.ccRes = ${res}; c.ccA = 0; c.ccB = ${a}; c.ccMask = -1;`);
        t(`r[${rm}] = ${res};`);
        fs = { kind: 'sub', a: '0', b: a, res };
      }
    } else if (op >= 0x190 && op <= 0x19f && !mem) {
      // SETcc r8: flags unchanged.
      t(reg8Set(rm, `(${condExpr(fs, op & 0xf)} ? 1 : 0)`));
    } else if (op >= 0x340 && op <= 0x34f) {
      // CMOVcc r32, r/m32: the memory operand is read (and may fault) whatever the condition.
      const src = v('b');
      if (mem) { t(`const ${src} = ${ld32Expr(seg, eaExpr(m, disp), ek)};`); } else t(`const ${src} = r[${rm}];`);
      t(`if (${condExpr(fs, op & 0xf)}) r[${rg}] = ${src};`);
    } else if (op === 0x84 || (op === 0xf6 && rg === 0)) {
      // TEST r/m8, r8 / imm8
      const a = v('a');
      if (mem) { t(`const ${a} = ${ld8Expr(seg, eaExpr(m, disp), ek)};`); } else t(`const ${a} = ${reg8Get(rm)};`);
      const b = op === 0x84 ? reg8Get(rg) : `${imm & 0xff}`;
      t(`c.ccOp = ${CC_LOGIC}; c.ccRes = ${a} & ${b}; c.ccMask = 255;`);
      fs = NONE;
    } else if ((op < 0x40 && (op & 7) < 6 && (op & 1) === 0) || op === 0x80 || op === 0x82 || op === 0xa8) {
      // ALU on bytes: r/m8,r8 (x0) ; r8,r/m8 (x2) ; AL,imm8 (x4) ; r/m8,imm8 (80/82) ; TEST AL,imm8 (A8)
      const form = op >= 0x80 ? (op === 0xa8 ? 4 : 0) : op & 7;
      const kk = op === 0xa8 ? 4 : op >= 0x80 ? rg : (op >> 3) & 7;
      const writes = kk !== 7 && op !== 0xa8;
      const a = v('a'), b = v('b'), o = v('o');
      const src = op >= 0x80 || form === 4 ? `${imm & 0xff}` : reg8Get(rg);
      if (form === 4) t(`const ${a} = r[0] & 255, ${b} = ${src};`);
      else if (form === 2) {
        if (mem) { t(`const ${b} = ${ld8Expr(seg, eaExpr(m, disp), ek)}, ${a} = ${reg8Get(rg)};`); }
        else t(`const ${a} = ${reg8Get(rg)}, ${b} = ${reg8Get(rm)};`);
      } else if (mem) { t(`const ${o} = ${eaExpr(m, disp)}; const ${a} = ${ld8Expr(seg, o, ek)}, ${b} = ${src};`); }
      else t(`const ${a} = ${reg8Get(rm)}, ${b} = ${src};`);
      const x = alu8(kk, a, b);
      t(x.pre);
      if (writes) {
        if (form === 4) t(reg8Set(0, x.res));
        else if (form === 2) t(reg8Set(rg, x.res));
        else if (mem) { t(st8Stmt(seg, o, x.res, ek)); }
        else t(reg8Set(rm, x.res));
      }
      t(x.commit);
      if (writes && mem && form === 0) t(smcCheck);
    } else if (op === 0x2ff && (rg === 0 || rg === 1) && mem) {
      // INC/DEC m32
      const a = v('a'), o = v('o'), res = v('v'), cf = v('cf');
      t(`const ${o} = ${eaExpr(m, disp)}; const ${a} = ${ld32Expr(seg, o, ek)}, ${res} = (${a} ${rg === 0 ? '+' : '-'} 1) | 0;`);
      t(st32Stmt(seg, o, res, ek));
      t(`const ${cf} = ${cfExpr(fs)};`);
      t(`c.ccAux = ${cf}; c.ccOp = ${rg === 0 ? CC_INC : CC_DEC}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = 1; c.ccMask = -1;`);
      fs = { kind: 'incdec', a, b: '1', res };
      t(smcCheck);
    } else if (op === 0x2ff && (rg === 2 || rg === 4)) {
      // CALL/JMP r/m32 (near, absolute): on to the target inside the region when it is there.
      const tgt = v('t'), sp = v('s');
      t(`const ${tgt} = ${mem ? ld32Expr(seg, eaExpr(m, disp), ek) : `r[${rm}]`};`);
      t(`if ((${tgt} >>> 0) > (c.segLimit[1] >>> 0)) { ${fault} c.gp(0); }`);
      if (rg === 2) t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, en, ek)} r[4] = ${sp};`);
      t(`c.eip = ${tgt};`);
      if (rg === 2) t(`if (c.smc === true) return D + ${k + 1};`);
      t(exit(k + 1));
      ended = true;
    } else if (op === 0x287) {
      // XCHG r/m32, r32
      const a = v('a'), o = v('o');
      if (mem) {
        t(`const ${o} = ${eaExpr(m, disp)}; const ${a} = ${ld32Expr(seg, o, ek)}; ${st32Stmt(seg, o, `r[${rg}]`, ek)} r[${rg}] = ${a};`);
        t(smcCheck);
      } else t(`const ${a} = r[${rm}]; r[${rm}] = r[${rg}]; r[${rg}] = ${a};`);
    } else if (op === 0x3b1) {
      // CMPXCHG r/m32, r32: flags of EAX - dest; the destination is written either way.
      const a = v('a'), d0 = v('d'), o = v('o'), res = v('v');
      if (mem) { t(`const ${o} = ${eaExpr(m, disp)}; const ${d0} = ${ld32Expr(seg, o, ek)}, ${a} = r[0];`); }
      else t(`const ${d0} = r[${rm}], ${a} = r[0];`);
      t(`const ${res} = (${a} - ${d0}) | 0;`);
      const wr = (val: string): string => mem ? st32Stmt(seg, o, val, ek) : `r[${rm}] = ${val};`;
      t(`if (${res} === 0) { ${wr(`r[${rg}]`)} } else { ${wr(d0)} r[0] = ${d0}; }`);
      t(`c.ccOp = ${CC_SUB}; c.ccRes = ${res}; c.ccA = ${a}; c.ccB = ${d0}; c.ccMask = -1;`);
      fs = { kind: 'sub', a, b: d0, res };
      if (mem) t(smcCheck);
    } else if (op === 0x89 && !mem) {
      t(`r[${rm}] = (r[${rm}] & -65536) | (r[${rg}] & 65535);`);
    } else if (op === 0x2ff && rg === 6) {
      // PUSH r/m32
      const val = v('a'), sp = v('s');
      t(`const ${val} = ${mem ? ld32Expr(seg, eaExpr(m, disp), ek) : `r[${rm}]`};`);
      t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, val, ek)} r[4] = ${sp};`);
      t(smcCheck);
    } else if (op >= 0x250 && op <= 0x257) {
      const val = v('a'), sp = v('s');
      t(`const ${val} = r[${op & 7}];`);
      t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, val, ek)} r[4] = ${sp};`);
      t(smcCheck);
    } else if (op === 0x268 || op === 0x26a) {
      const sp = v('s');
      t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, imm, ek)} r[4] = ${sp};`);
      t(smcCheck);
    } else if (op >= 0x258 && op <= 0x25f) {
      const sp = v('s'), val = v('a');
      t(`const ${sp} = r[4]; const ${val} = ${ld32Expr(2, sp, ek)}; r[4] = (${sp} + 4) | 0; r[${op & 7}] = ${val};`);
    } else if ((op >= 0x270 && op <= 0x27f) || (op >= 0x380 && op <= 0x38f)) {
      const cc = op & 0xf;
      const tgt = v('t');
      t(`if (${condExpr(fs, cc)}) { const ${tgt} = (${en} + ${imm}) | 0; if ((${tgt} >>> 0) > (c.segLimit[1] >>> 0)) { ${fault} c.gp(0); } c.eip = ${tgt}; } else c.eip = ${en};`);
      t(exit(k + 1));
      ended = true;
    } else if (op === 0x2eb || op === 0x2e9) {
      const tgt = v('t');
      t(`const ${tgt} = (${en} + ${imm}) | 0; if ((${tgt} >>> 0) > (c.segLimit[1] >>> 0)) { ${fault} c.gp(0); } c.eip = ${tgt};`);
      t(exit(k + 1));
      ended = true;
    } else if (op === 0x2e8) {
      const tgt = v('t'), sp = v('s');
      t(`const ${tgt} = (${en} + ${imm}) | 0; if ((${tgt} >>> 0) > (c.segLimit[1] >>> 0)) { ${fault} c.gp(0); }`);
      // A call of a PC thunk runs its MOV and RET here (ESP back where it was) and goes on after
      // the call (see pcThunk), checked when the call runs: the target's code may change. A target
      // that is no thunk now is called as any function (its code runs, whatever it has become).
      const th = v('h');
      if (pcThunkAt(c, (lin + nextOff + imm) | 0) === -1) {
        t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, en, ek)} r[4] = ${sp};`);
      } else {
        t(`const ${sp} = (r[4] - 4) | 0; ${st32Stmt(2, sp, en, ek)} const ${th} = pcThunk(c, ${tgt}); ` +
          `if (${th} >= 0) { r[${th}] = ${en}; c.eip = ${en}; ${exit(k + 3)} } r[4] = ${sp};`);
      }
      t(`c.eip = ${tgt}; ${exit(k + 1)}`);
      ended = true;
    } else if (op === 0x2c3) {
      const tgt = v('t'), sp = v('s');
      t(`const ${sp} = r[4]; const ${tgt} = ${ld32Expr(2, sp, ek)}; if ((${tgt} >>> 0) > (c.segLimit[1] >>> 0)) { ${fault} c.gp(0); } r[4] = (${sp} + 4) | 0; c.eip = ${tgt};`);
      t(exit(k + 1));
      ended = true;
    } else if (op >= 0x100 && c.sse !== null && isInlineSse(op, ins[P + R_SSEPFX]!, m)) {
      for (const l of translateSse(op, ins[P + R_SSEPFX]!, m, disp, imm, v, `${fault} return D + ${k} + execBlock(c, ${P}, 1);`, ek)) t(l);
    } else {
      done = false;
    }
    if (done) {
      inline++;
      flush(false);
      out.push(...cur);
    } else {
      // The interpreter runs this record (it computes nextEip and moves EIP on), together with
      // the untranslated ones right after it.
      if (cur.length > 0) { flush(false); out.push(...cur); }
      if (pendCount === 0) { pendK = k; pendP = P; pendD = d; }
      if (dump) out.push(`// interpreter: op 0x${op.toString(16)} modrm 0x${(m >>> 24).toString(16)}`);
      pendCount++;
      fs = NONE;
      if (last) { flush(true); ended = true; }
    }
    d = nextOff;
  }
  if (!ended) { out.push(`c.eip = ((E + ${d}) | 0);`); out.push(exit(n)); }
  return inline;
}

/**
 * Translates the blocks of one code page to at most `maxParts` functions (regions), each a loop
 * that runs the block at EIP, then the one the block left EIP at, while EIP stays in the page at
 * a block of the region, the code segment is flat and fewer than LOOP_MAX instructions have run;
 * then it returns to the run loop (events, budget). Every block of a region may be its entry.
 * Blocks come hottest first (the entry first of all); each region takes them while its source
 * budget lasts, the next region the rest. A region that reaches a block of a sibling (another
 * region of this compile) calls the sibling and goes on when it returns: a page whose hot code
 * needs several functions does not go back to the run loop between them (bench/linux's shell
 * loop: a third of all region exits went to a sibling). Only an outermost region calls a
 * sibling, so a call nests one deep. Sets each block's `part` to its region's index; a part with
 * nothing translated inline (a page of PLT stubs, say) is left out, and the parts after it.
 */
export function compileRegions(c: SoftCpu, blocks: readonly RegionBlock[], maxParts: number): JitFn[] {
  const dump = typeof process !== 'undefined' && process.env['HVM_JIT_DUMP'] !== undefined;
  // The blocks' page, linear (the run loop compiles from one of them: EIP is there).
  const page = (c.segBase[1]! + c.eip) & -4096;
  const srcs: string[][] = [], inl: number[] = [];
  for (const b of blocks) {
    const part: string[] = [`case ${b.off}: {`];
    inl.push(translateBlock(c, b.p, b.n, (page + b.off) | 0, part, dump));
    part.push('}');
    srcs.push(part);
    b.part = undefined;
  }
  // Each part's budget leaves room for the sibling case labels of the whole page.
  const budget = MAX_REGION_SOURCE - 12 * blocks.length;
  const parts: number[][] = [];
  let rest = blocks.map((_, k) => k);
  while (parts.length < maxParts && rest.length > 0) {
    const mine: number[] = [], left: number[] = [];
    let size = 0, inline = 0;
    for (const k of rest) {
      const len = srcs[k]!.reduce((t, x) => t + x.length + 1, 0);
      if (mine.length === 0 || size + len <= budget) { mine.push(k); size += len; inline += inl[k]!; } else left.push(k);
    }
    if (inline === 0) break;
    parts.push(mine);
    rest = left;
  }
  if (parts.length === 0) return [];
  parts.forEach((mine, j) => { for (const k of mine) blocks[k]!.part = j; });
  const sib: JitFn[] = [];
  const fns = parts.map((mine, j) => {
    const out: string[] = [];
    for (const k of mine) out.push(...srcs[k]!);
    parts.forEach((other, i) => {
      if (i === j) return;
      out.push(other.map((k) => `case ${blocks[k]!.off}:`).join(' ') +
        ` { if (nest === 1) return D; const k = S[${i}](c, 1); D += k; if (k === 0) return D; break; }`);
    });
    const body = `const { ld32, st32, ld8, st8, ld16, ldL32, execBlock, pcThunk, PAR } = H;\n` +
      `return function jitRegion(c, nest) {\n` +
      `if (c.flatData !== true) return 0;\n` +
      `const r = c.regs, cs = c.segBase[1], L0 = (cs + c.eip) & -4096, flat = c.segLimit[1] === -1;\n` +
      `const SB = c.segBase, RL = c.segRLim, WL = c.segWLim, M32 = c.m32, U8 = c.u8;\n` +
      `let TR = c.tlbR, TW = c.tlbW, lE = 0, lL = 0, lO = 0;\n` +
      `const X = c.sse !== null ? c.sse.xmm : null;\n` +
      `let D = 0;\nfor (;;) {\nconst E = c.eip, lin = (cs + E) | 0;\nif ((lin & -4096) !== L0) return D;\n` +
      `switch (lin & 4095) {\n${out.join('\n')}\ndefault: return D;\n}\n` +
      `if (D >= ${LOOP_MAX} || !flat || c.smc === true) return D;\n}\n};`;
    if (dump) console.error(`// region ${j} at ${page >>> 0}\n${body}`);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const factory = new Function('H', 'S', body) as (h: typeof HELPERS, s: JitFn[]) => JitFn;
    return factory(HELPERS, sib);
  });
  sib.push(...fns);
  return fns;
}
