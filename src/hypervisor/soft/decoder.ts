// The soft x86 core's decoder (SDM vol. 2, ch. 2 and appendix A): prefixes, one- and two-byte
// opcode maps, ModRM/SIB effective-address forms and immediates, decoded once into fixed-size
// records of an Int32Array. A basic block is the run of records up to the first instruction
// that may change control flow or CPU mode.

/** Record layout: 8 int32 per instruction. */
export const REC = 8;
/** Operation id: opcode (0x000-0x0ff one-byte, 0x100-0x1ff 0F map) | 0x200 for 32-bit operand size. */
export const R_OP = 0;
/** Operand form (see M_*). */
export const R_M = 1;
export const R_DISP = 2;
export const R_IMM = 3;
export const R_IMM2 = 4;
/** Instruction length in bytes. */
export const R_LEN = 5;
/** Prefixes (see P_*). */
export const R_PFX = 6;
/** SSE mandatory prefix (0, 0x66, 0xf2, 0xf3). */
export const R_SSEPFX = 7;

/** Operand form bits: rm 0-2, reg 3-5, memory operand 6, base 8-10 (+11), index 12-14 (+15), scale 16-17, 16-bit address 18, segment 20-22, ModRM byte 24-31. */
export const M_MEM = 1 << 6;
export const M_HAS_BASE = 1 << 11;
export const M_HAS_INDEX = 1 << 15;
export const M_ADDR16 = 1 << 18;

export const P_REP = 1, P_REPNE = 2, P_LOCK = 4, P_A32 = 8, P_O32 = 16, P_SEGOVR = 32;
/** Segment for string sources (DS or the override) in bits 8-10 of R_PFX. */
export const P_SEG_SHIFT = 8;

/** Operation ids outside the opcode maps. */
export const OP_UD = 0x400;
/** Instruction longer than 15 bytes. */
export const OP_GP0 = 0x401;
/** Operand-size bit of the op id. */
export const OP_32 = 0x200;
/** PAUSE (F3 90): a NOP that ends its block, so a CPU spinning on another can yield (SMP). */
export const OP_PAUSE = 0x402;

const F_MODRM = 1;
const IMM_SHIFT = 1;
const IMM_NONE = 0, IMM_B = 1, IMM_BS = 2, IMM_Z = 3, IMM_W = 4, IMM_WB = 5, IMM_P = 6, IMM_O = 7;
const F_TERM = 1 << 5;
const F_INVALID = 1 << 6;
const F_BYTE = 1 << 7;

/** Per opcode (0-0x1ff): ModRM, immediate kind, ends-block, invalid, byte-sized. */
const TABLE = new Uint16Array(512);

function def(ops: number[] | [number, number], flags: number, imm = IMM_NONE, range = false): void {
  const list: number[] = [];
  if (range) for (let o = ops[0]!; o <= ops[1]!; o++) list.push(o);
  else list.push(...ops);
  for (const o of list) TABLE[o] = flags | (imm << IMM_SHIFT);
}

(function build(): void {
  // ALU families 00-3f.
  for (let k = 0; k < 8; k++) {
    const b = k * 8;
    def([b], F_MODRM | F_BYTE);
    def([b + 1, b + 3], F_MODRM);
    def([b + 2], F_MODRM | F_BYTE);
    def([b + 4], F_BYTE, IMM_B);
    def([b + 5], 0, IMM_Z);
  }
  def([0x06, 0x07, 0x0e, 0x16, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f], 0);
  def([0x17], F_TERM);
  def([0x40, 0x5f], 0, IMM_NONE, true);
  def([0x60, 0x61], 0);
  def([0x62, 0x63], F_MODRM);
  def([0x68], 0, IMM_Z);
  def([0x69], F_MODRM, IMM_Z);
  def([0x6a], 0, IMM_BS);
  def([0x6b], F_MODRM, IMM_BS);
  def([0x6c, 0x6e], F_TERM | F_BYTE);
  def([0x6d, 0x6f], F_TERM);
  def([0x70, 0x7f], F_TERM, IMM_BS, true);
  def([0x80, 0x82], F_MODRM | F_BYTE, IMM_B);
  def([0x81], F_MODRM, IMM_Z);
  def([0x83], F_MODRM, IMM_BS);
  def([0x84, 0x86, 0x88, 0x8a], F_MODRM | F_BYTE);
  def([0x85, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f], F_MODRM);
  def([0x90, 0x99], 0, IMM_NONE, true);
  def([0x9a], F_TERM, IMM_P);
  def([0x9b, 0x9c, 0x9e, 0x9f], 0);
  def([0x9d], F_TERM);
  def([0xa0, 0xa2], F_BYTE, IMM_O);
  def([0xa1, 0xa3], 0, IMM_O);
  def([0xa4, 0xa6, 0xaa, 0xac, 0xae], F_BYTE);
  def([0xa5, 0xa7, 0xab, 0xad, 0xaf], 0);
  def([0xa8], F_BYTE, IMM_B);
  def([0xa9], 0, IMM_Z);
  def([0xb0, 0xb7], F_BYTE, IMM_B, true);
  def([0xb8, 0xbf], 0, IMM_Z, true);
  def([0xc0], F_MODRM | F_BYTE, IMM_B);
  def([0xc1], F_MODRM, IMM_B);
  def([0xc2], F_TERM, IMM_W);
  def([0xc3, 0xcb, 0xcc, 0xce, 0xcf], F_TERM);
  def([0xc4, 0xc5], F_MODRM);
  def([0xc6], F_MODRM | F_BYTE, IMM_B);
  def([0xc7], F_MODRM, IMM_Z);
  def([0xc8], 0, IMM_WB);
  def([0xc9], 0);
  def([0xca], F_TERM, IMM_W);
  def([0xcd], F_TERM, IMM_B);
  def([0xd0, 0xd2], F_MODRM | F_BYTE);
  def([0xd1, 0xd3], F_MODRM);
  def([0xd4, 0xd5], F_BYTE, IMM_B);
  def([0xd6, 0xd7], F_BYTE);
  def([0xd8, 0xdf], F_MODRM, IMM_NONE, true);
  def([0xe0, 0xe3], F_TERM, IMM_BS, true);
  def([0xe4, 0xe6], F_TERM | F_BYTE, IMM_B);
  def([0xe5, 0xe7], F_TERM, IMM_B);
  def([0xe8, 0xe9], F_TERM, IMM_Z);
  def([0xea], F_TERM, IMM_P);
  def([0xeb], F_TERM, IMM_BS);
  def([0xec, 0xee], F_TERM | F_BYTE);
  def([0xed, 0xef], F_TERM);
  def([0xf1, 0xf4], F_TERM);
  def([0xf5, 0xf8, 0xf9, 0xfa, 0xfc, 0xfd], 0);
  def([0xfb], F_TERM);
  def([0xf6, 0xfe], F_MODRM | F_BYTE);
  def([0xf7, 0xff], F_MODRM);
  // Prefix bytes never reach the table as opcodes.
  def([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x0f], F_INVALID);

  // Two-byte map (0x100 + second byte). Unlisted entries are invalid.
  for (let o = 0x100; o < 0x200; o++) TABLE[o] = F_INVALID | F_TERM;
  def([0x100, 0x103], F_MODRM, IMM_NONE, true);
  def([0x101], F_MODRM | F_TERM);
  def([0x106, 0x108, 0x109], 0);
  def([0x10b], F_INVALID | F_TERM);
  def([0x110, 0x117], F_MODRM, IMM_NONE, true);
  def([0x118, 0x11f], F_MODRM, IMM_NONE, true);
  def([0x120, 0x123], F_MODRM | F_TERM, IMM_NONE, true);
  def([0x128, 0x12f], F_MODRM, IMM_NONE, true);
  def([0x130, 0x134, 0x135], F_TERM);
  def([0x131, 0x132, 0x133], 0);
  def([0x140, 0x14f], F_MODRM, IMM_NONE, true);
  def([0x150, 0x16f], F_MODRM, IMM_NONE, true);
  def([0x170, 0x173], F_MODRM, IMM_B, true);
  def([0x174, 0x176], F_MODRM);
  def([0x177], 0);
  def([0x17e, 0x17f], F_MODRM);
  def([0x180, 0x18f], F_TERM, IMM_Z, true);
  def([0x190, 0x19f], F_MODRM | F_BYTE, IMM_NONE, true);
  def([0x1a0, 0x1a1, 0x1a2, 0x1a8, 0x1a9], 0);
  def([0x1a3, 0x1a5, 0x1ab, 0x1ad, 0x1af], F_MODRM);
  def([0x1a4, 0x1ac], F_MODRM, IMM_B);
  def([0x1ae], F_MODRM);
  def([0x1b0], F_MODRM | F_BYTE);
  def([0x1b1, 0x1b2, 0x1b3, 0x1b4, 0x1b5, 0x1b6, 0x1b7, 0x1bb, 0x1bc, 0x1bd, 0x1be, 0x1bf], F_MODRM);
  def([0x1ba], F_MODRM, IMM_B);
  def([0x1c0], F_MODRM | F_BYTE);
  def([0x1c1, 0x1c3, 0x1c7], F_MODRM);
  def([0x1c2, 0x1c4, 0x1c5, 0x1c6], F_MODRM, IMM_B);
  def([0x1c8, 0x1cf], 0, IMM_NONE, true);
  def([0x1d0, 0x1fe], F_MODRM, IMM_NONE, true);
})();

/** Whether a two-byte opcode (0-0xff) belongs to the x87/MMX/SSE units' 0F space. */
export function isSse0F(b: number): boolean {
  return (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) ||
    b === 0xae || b === 0xc2 || b === 0xc3 || (b >= 0xc4 && b <= 0xc6) || (b >= 0xd0 && b <= 0xfe);
}

/** Thrown by the byte source when an instruction after the first cannot be fetched. */
export const STOP_DECODE = { stop: true };

/** Where the decoder reads instruction bytes from (the CPU implements it). */
export interface ByteSource {
  /** Byte at linear address `lin`; may fault (first instruction) or throw STOP_DECODE. */
  fetch(lin: number): number;
}

/**
 * Decodes one instruction at `eip` into `out[at..at+REC)`; returns its flags (F_TERM set when
 * it ends the block). `code32` is CS.D; `csBase` the code segment base.
 */
export function decodeOne(src: ByteSource, out: Int32Array, at: number, csBase: number, eip: number,
                          code32: boolean): boolean {
  let pos = eip;
  const next = (): number => {
    const b = src.fetch((csBase + pos) | 0);
    pos = code32 ? (pos + 1) | 0 : (pos + 1) & 0xffff;
    return b;
  };
  let o32 = code32, a32 = code32;
  let pfx = 0, seg = -1, ssePfx = 0, has66 = false;
  let b = 0;
  for (let n = 0; n < 15; n++) {
    b = next();
    if (b === 0x66) { o32 = !code32; has66 = true; continue; }
    if (b === 0x67) { a32 = !code32; continue; }
    if (b === 0xf0) { pfx |= P_LOCK; continue; }
    if (b === 0xf2) { pfx = (pfx & ~P_REP) | P_REPNE; ssePfx = 0xf2; continue; }
    if (b === 0xf3) { pfx = (pfx & ~P_REPNE) | P_REP; ssePfx = 0xf3; continue; }
    if (b === 0x26) { seg = 0; continue; }
    if (b === 0x2e) { seg = 1; continue; }
    if (b === 0x36) { seg = 2; continue; }
    if (b === 0x3e) { seg = 3; continue; }
    if (b === 0x64) { seg = 4; continue; }
    if (b === 0x65) { seg = 5; continue; }
    break;
  }
  if (ssePfx === 0 && has66) ssePfx = 0x66;
  let opc = b;
  if (b === 0x0f) opc = 0x100 | next();
  let flags = TABLE[opc]!;
  let m = 0, disp = 0, imm = 0, imm2 = 0;
  if ((flags & F_MODRM) !== 0) {
    const modrm = next();
    const mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    m = rm | (reg << 3) | (modrm << 24);
    // MOV to/from CR and DR ignore mod: always registers.
    if (mod !== 3 && (opc < 0x120 || opc > 0x123)) {
      m |= M_MEM;
      let dseg = 3;
      if (a32) {
        let base = rm, index = -1, scale = 0, hasBase = true;
        if (rm === 4) {
          const sib = next();
          scale = sib >> 6;
          index = (sib >> 3) & 7;
          if (index === 4) index = -1;
          base = sib & 7;
          if (base === 5 && mod === 0) { hasBase = false; disp = fetch32(next); }
        } else if (rm === 5 && mod === 0) {
          hasBase = false;
          disp = fetch32(next);
        }
        if (mod === 1) disp = (next() << 24) >> 24;
        else if (mod === 2) disp = fetch32(next);
        if (hasBase) { m |= (base << 8) | M_HAS_BASE; if (base === 4 || base === 5) dseg = 2; }
        if (index >= 0) m |= (index << 12) | M_HAS_INDEX | (scale << 16);
      } else {
        m |= M_ADDR16;
        switch (rm) {
          case 0: m |= (3 << 8) | M_HAS_BASE | (6 << 12) | M_HAS_INDEX; break;
          case 1: m |= (3 << 8) | M_HAS_BASE | (7 << 12) | M_HAS_INDEX; break;
          case 2: m |= (5 << 8) | M_HAS_BASE | (6 << 12) | M_HAS_INDEX; dseg = 2; break;
          case 3: m |= (5 << 8) | M_HAS_BASE | (7 << 12) | M_HAS_INDEX; dseg = 2; break;
          case 4: m |= (6 << 8) | M_HAS_BASE; break;
          case 5: m |= (7 << 8) | M_HAS_BASE; break;
          case 6: if (mod !== 0) { m |= (5 << 8) | M_HAS_BASE; dseg = 2; } break;
          default: m |= (3 << 8) | M_HAS_BASE; break;
        }
        if (mod === 0 && rm === 6) disp = next() | (next() << 8);
        else if (mod === 1) disp = (next() << 24) >> 24;
        else if (mod === 2) disp = next() | (next() << 8);
      }
      m |= (seg >= 0 ? seg : dseg) << 20;
    }
    // Forms that are invalid or end the block depending on ModRM.
    if (opc === 0xf6 || opc === 0xf7) {
      if (reg < 2) imm = opc === 0xf6 ? next() : (o32 ? fetch32(next) : fetch16s(next));
    } else if (opc === 0x8e) {
      if (reg === 1 || reg > 5) flags |= F_INVALID;
      if (reg === 2) flags |= F_TERM;
    } else if (opc === 0x8c) {
      if (reg > 5) flags |= F_INVALID;
    } else if (opc === 0xff) {
      if (reg >= 2 && reg <= 5) flags |= F_TERM;
      if (reg === 7 || ((reg === 3 || reg === 5) && mod === 3)) flags |= F_INVALID;
    } else if (opc === 0xfe) {
      if (reg > 1) flags |= F_INVALID;
    } else if (opc === 0x8f || opc === 0xc6 || opc === 0xc7) {
      if (reg !== 0) flags |= F_INVALID;
    } else if (opc === 0x8d || opc === 0x62 || opc === 0xc4 || opc === 0xc5 || opc === 0x1b2 || opc === 0x1b4 || opc === 0x1b5) {
      if (mod === 3) flags |= F_INVALID;
    } else if (opc === 0x1c7) {
      if (reg !== 1 || mod === 3) flags |= F_INVALID;
    } else if (opc === 0x100) {
      if (reg > 5 || (reg >= 2 && reg <= 3)) flags |= F_TERM;
      if (reg > 5) flags |= F_INVALID;
    } else if (opc === 0x101) {
      if (reg === 5 || (reg < 4 && mod === 3) || (reg === 7 && mod === 3)) flags |= F_INVALID;
    } else if (opc === 0x1ba) {
      if (reg < 4) flags |= F_INVALID;
    } else if (opc === 0x120 || opc === 0x122) {
      if (reg === 1 || reg > 4) flags |= F_INVALID;
    }
  }
  switch ((flags >> IMM_SHIFT) & 15) {
    case IMM_B: imm = next(); break;
    case IMM_BS: imm = (next() << 24) >> 24; break;
    case IMM_Z: imm = o32 ? fetch32(next) : fetch16s(next); break;
    case IMM_W: imm = next() | (next() << 8); break;
    case IMM_WB: imm = next() | (next() << 8); imm2 = next(); break;
    case IMM_P: imm = o32 ? fetch32(next) : next() | (next() << 8); imm2 = next() | (next() << 8); break;
    case IMM_O:
      disp = a32 ? fetch32(next) : next() | (next() << 8);
      m = M_MEM | ((seg >= 0 ? seg : 3) << 20) | (a32 ? 0 : M_ADDR16);
      break;
    default: break;
  }
  const len = code32 ? (pos - eip) | 0 : (pos - eip) & 0xffff;
  let op = opc | ((flags & F_BYTE) === 0 && o32 ? OP_32 : 0);
  if ((flags & F_INVALID) !== 0) { op = OP_UD; flags |= F_TERM; }
  if (len > 15) { op = OP_GP0; flags |= F_TERM; }
  // LOCK is legal only on read-modify-write memory forms (SDM vol. 2, LOCK).
  if ((pfx & P_LOCK) !== 0 && op !== OP_UD && !lockable(opc, m)) { op = OP_UD; flags |= F_TERM; }
  if (opc === 0x90 && (pfx & P_REP) !== 0 && op !== OP_UD && op !== OP_GP0) { op = OP_PAUSE; flags |= F_TERM; }
  if (a32) pfx |= P_A32;
  if (o32) pfx |= P_O32;
  if (seg >= 0) pfx |= P_SEGOVR;
  pfx |= (seg >= 0 ? seg : 3) << P_SEG_SHIFT;
  // REP string instructions run in slices and may repeat: they end the block.
  if ((pfx & (P_REP | P_REPNE)) !== 0 && ((opc >= 0xa4 && opc <= 0xa7) || (opc >= 0xaa && opc <= 0xaf))) flags |= F_TERM;
  out[at + R_OP] = op;
  out[at + R_M] = m;
  out[at + R_DISP] = disp;
  out[at + R_IMM] = imm;
  out[at + R_IMM2] = imm2;
  out[at + R_LEN] = len;
  out[at + R_PFX] = pfx;
  out[at + R_SSEPFX] = ssePfx;
  return (flags & F_TERM) !== 0;
}

function fetch32(next: () => number): number {
  return next() | (next() << 8) | (next() << 16) | (next() << 24);
}

function fetch16s(next: () => number): number {
  return ((next() | (next() << 8)) << 16) >> 16;
}

function lockable(opc: number, m: number): boolean {
  if ((m & M_MEM) === 0) return false;
  const reg = (m >> 3) & 7;
  if (opc < 0x40) return (opc & 7) < 2 && opc !== 0x38 && opc !== 0x39;
  switch (opc) {
    case 0x80: case 0x81: case 0x82: case 0x83: return reg !== 7;
    case 0x86: case 0x87: return true;
    case 0xf6: case 0xf7: return reg === 2 || reg === 3;
    case 0xfe: case 0xff: return reg < 2;
    case 0x1ab: case 0x1b3: case 0x1bb: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return true;
    case 0x1ba: return reg >= 5;
    case 0x1c7: return reg === 1;
    default: return false;
  }
}
