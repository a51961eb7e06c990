// The SSE2 integer instructions glibc's string functions (strlen, strchr, memchr…) run in a loop,
// translated inline for the region compiler (jit.ts): MOVDQA/MOVDQU loads, MOVD to an XMM
// register, PXOR, PCMPEQB, PUNPCKLBW, PSHUFD and PMOVMSKB. They behave as the SSE unit's
// (sse.ts): the same #NM/#UD conditions (the interpreter raises them: the generated code hands
// the instruction to it when CR0.EM/TS is set or CR4.OSFXSR clear), a 16-byte memory operand
// read whole before anything changes, #GP(0) for a misaligned one except MOVDQU's, at the linear
// address (the unit takes operands by linear address, as it does); MOVD's dword is an ordinary
// segment load (jit-exprs.ts). XMM registers are the unit's Int32Array, four little-endian
// dwords each; the generated code names it X.

import { M_MEM } from './decoder.js';
import { eaExpr, ld32Expr } from './jit-exprs.js';

/** Whether the record is one translateSse handles (opcode in the 0x1xx map form, its SSE prefix). */
export function isInlineSse(op: number, pfx: number, m: number): boolean {
  if (pfx === 0xf3) return op === 0x16f;
  if (pfx !== 0x66) return false;
  if (op === 0x1d7) return (m & M_MEM) === 0;
  return op === 0x16f || op === 0x16e || op === 0x1ef || op === 0x174 || op === 0x160 || op === 0x170;
}

/** Bytes 0 and 1 of `h` (a 16-bit value expression) to bytes 0 and 2. */
const spread = (h: string): string => `((${h} & 255) | ((${h} & 65280) << 8))`;

/**
 * Source lines for one such instruction (record fields as jit.ts has them); `v` names locals of
 * the instruction, `fallback` hands it to the interpreter, `at` is its address (EIP before a fault).
 */
export function translateSse(op: number, pfx: number, m: number, disp: number, imm: number,
                             v: (name: string) => string, fallback: string, at: string): string[] {
  const out: string[] = [];
  const fault = `c.eip = ${at};`;
  const mem = (m & M_MEM) !== 0, rg = (m >> 3) & 7, rm = m & 7, seg = (m >> 20) & 7;
  out.push(`if ((c.cr0 & 12) !== 0 || (c.cr4 & 512) === 0) { ${fallback} }`);
  const d = rg * 4;
  if (op === 0x16e) {
    // MOVD xmm, r/m32: the upper dwords cleared.
    const val = v('a');
    if (mem) out.push(`const ${val} = ${ld32Expr(seg, eaExpr(m, disp), at)};`);
    else out.push(`const ${val} = r[${rm}];`);
    out.push(`X[${d}] = ${val}; X[${d + 1}] = 0; X[${d + 2}] = 0; X[${d + 3}] = 0;`);
    return out;
  }
  if (op === 0x1d7) {
    // PMOVMSKB r32, xmm: the top bit of each byte. Per dword, bits 7/15/23/31 moved to 0/8/16/24
    // and gathered by one multiply into bits 21-24 (no two partial products share a bit).
    const s = rm * 4;
    const g = (k: number): string => `((Math.imul((X[${s + k}] >>> 7) & 16843009, 2113665) >>> 21) & 15)`;
    out.push(`r[${rg}] = ${g(0)} | (${g(1)} << 4) | (${g(2)} << 8) | (${g(3)} << 12);`);
    return out;
  }
  // The source: four dwords of an XMM register, or of memory read whole first.
  const w = [v('w0'), v('w1'), v('w2'), v('w3')];
  if (mem) {
    const a = v('l');
    out.push(fault);
    out.push(`const ${a} = (c.segBase[${seg}] + ${eaExpr(m, disp)}) | 0;`);
    if (pfx === 0x66) out.push(`if ((${a} & 15) !== 0) c.gp(0);`);
    else out.push(`if ((${a} & 4095) > 4080) c.checkRead(${a}, 16);`);
    // One translation for all four dwords when they are aligned in one page.
    const e = v('e'), f = v('f');
    out.push(`const ${e} = TR[${a} >>> 12], ${f} = ${e} !== -1 && (${a} & 3) === 0 && (${a} & 4095) <= 4080 ? (${e} ^ ${a}) >> 2 : -1;`);
    out.push(`const ${w.map((x, k) => `${x} = ${f} >= 0 ? M32[${f} + ${k}] : ldL32(c, (${a} + ${4 * k}) | 0)`).join(', ')};`);
  } else {
    out.push(`const ${w.map((x, k) => `${x} = X[${rm * 4 + k}]`).join(', ')};`);
  }
  switch (op) {
    case 0x16f: // MOVDQA / MOVDQU xmm, xmm/m128
      out.push(w.map((x, k) => `X[${d + k}] = ${x};`).join(' '));
      break;
    case 0x1ef: // PXOR
      out.push(w.map((x, k) => `X[${d + k}] ^= ${x};`).join(' '));
      break;
    case 0x174: // PCMPEQB: per byte, 0xff where equal. A byte of x is zero iff adding 0x7f to its
      // low seven bits carries nothing into bit 7 and its own bit 7 is clear.
      for (let k = 0; k < 4; k++) {
        const x = v(`x${k}`);
        out.push(`const ${x} = X[${d + k}] ^ ${w[k]}; X[${d + k}] = Math.imul((~(((${x} & 2139062143) + 2139062143) | ${x}) >>> 7) & 16843009, 255);`);
      }
      break;
    case 0x160: { // PUNPCKLBW: bytes 0-7 of destination and source interleaved
      const d0 = v('d0'), d1 = v('d1');
      out.push(`const ${d0} = X[${d}], ${d1} = X[${d + 1}];`);
      const lane = (dv: string, sv: string, hi: boolean): string => {
        const dh = hi ? `(${dv} >>> 16)` : dv, sh = hi ? `(${sv} >>> 16)` : sv;
        return `${spread(dh)} | (${spread(sh)} << 8)`;
      };
      out.push(`X[${d}] = ${lane(d0, w[0]!, false)}; X[${d + 1}] = ${lane(d0, w[0]!, true)}; ` +
        `X[${d + 2}] = ${lane(d1, w[1]!, false)}; X[${d + 3}] = ${lane(d1, w[1]!, true)};`);
      break;
    }
    default: // PSHUFD xmm, xmm/m128, imm8
      out.push([0, 1, 2, 3].map((k) => `X[${d + k}] = ${w[(imm >> (2 * k)) & 3]};`).join(' '));
      break;
  }
  return out;
}
