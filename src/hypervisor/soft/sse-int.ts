// Integer SIMD operations of the MMX and SSE2 maps (Intel SDM vol. 2, the P* instructions), on
// a 64-byte work area: operand A (destination) at bytes 0-15, B (source) at 16-31, scratch at
// 32-47. `len` is 8 for MMX registers and 16 for XMM registers; results go to A.

/** Typed views over one work area. */
export class Lanes {
  readonly buf = new ArrayBuffer(64);
  readonly u8 = new Uint8Array(this.buf);
  readonly i8 = new Int8Array(this.buf);
  readonly u16 = new Uint16Array(this.buf);
  readonly i16 = new Int16Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly i32 = new Int32Array(this.buf);
}

const B8 = 16, B16 = 8, B32 = 4; // offsets of B in 8/16/32-bit lanes
const T8 = 32;

function satS8(v: number): number { return v > 127 ? 127 : v < -128 ? -128 : v; }
function satU8(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }
function satS16(v: number): number { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
function satU16(v: number): number { return v > 65535 ? 65535 : v < 0 ? 0 : v; }

/** The shift count of a register/memory operand: B's low 64 bits, saturated. */
export function shiftCount(l: Lanes): number {
  return l.u32[B32 + 1] !== 0 ? 255 : l.u32[B32]! > 255 ? 255 : l.u32[B32]!;
}

/** Shifts A's lanes: kind 0 logical right, 1 arithmetic right, 2 left; width 2, 4 or 8 bytes. */
export function shift(l: Lanes, len: number, width: number, kind: number, n: number): void {
  if (width === 2) {
    for (let i = 0; i < len / 2; i++) {
      if (kind === 1) l.i16[i] = l.i16[i]! >> (n > 15 ? 15 : n);
      else l.u16[i] = n > 15 ? 0 : kind === 0 ? l.u16[i]! >>> n : l.u16[i]! << n;
    }
  } else if (width === 4) {
    for (let i = 0; i < len / 4; i++) {
      if (kind === 1) l.i32[i] = l.i32[i]! >> (n > 31 ? 31 : n);
      else l.u32[i] = n > 31 ? 0 : kind === 0 ? l.u32[i]! >>> n : l.u32[i]! << n;
    }
  } else {
    for (let i = 0; i < len / 8; i++) {
      const lo = l.u32[2 * i]!, hi = l.u32[2 * i + 1]!;
      let rl = 0, rh = 0;
      if (n < 64) {
        if (kind === 0) {
          if (n === 0) { rl = lo; rh = hi; } else if (n < 32) { rl = (lo >>> n) | (hi << (32 - n)); rh = hi >>> n; } else { rl = hi >>> (n - 32); }
        } else {
          if (n === 0) { rl = lo; rh = hi; } else if (n < 32) { rh = (hi << n) | (lo >>> (32 - n)); rl = lo << n; } else { rh = lo << (n - 32); }
        }
      }
      l.u32[2 * i] = rl; l.u32[2 * i + 1] = rh;
    }
  }
}

/** PSRLDQ (right) / PSLLDQ (left) of A by n bytes. */
export function shiftBytes(l: Lanes, right: boolean, n: number): void {
  const u8 = l.u8;
  for (let i = 0; i < 16; i++) u8[T8 + i] = u8[i]!;
  for (let i = 0; i < 16; i++) {
    const j = right ? i + n : i - n;
    u8[i] = j >= 0 && j < 16 ? u8[T8 + j]! : 0;
  }
}

/**
 * The two-operand integer operation for 0F opcode `op`: A = A op B. Returns false when `op`
 * is not one of them.
 */
export function intOp(l: Lanes, op: number, len: number): boolean {
  const u8 = l.u8, i8 = l.i8, u16 = l.u16, i16 = l.i16, u32 = l.u32, i32 = l.i32;
  const n8 = len, n16 = len >> 1, n32 = len >> 2;
  switch (op) {
    case 0xfc: for (let i = 0; i < n8; i++) u8[i] = u8[i]! + u8[B8 + i]!; return true;
    case 0xfd: for (let i = 0; i < n16; i++) u16[i] = u16[i]! + u16[B16 + i]!; return true;
    case 0xfe: for (let i = 0; i < n32; i++) i32[i] = (i32[i]! + i32[B32 + i]!) | 0; return true;
    case 0xd4: case 0xfb: // PADDQ PSUBQ
      for (let i = 0; i < n32; i += 2) {
        const lo = op === 0xd4 ? u32[i]! + u32[B32 + i]! : u32[i]! - u32[B32 + i]!;
        const c = op === 0xd4 ? (lo > 0xffffffff ? 1 : 0) : (lo < 0 ? -1 : 0);
        u32[i] = lo >>> 0;
        u32[i + 1] = (op === 0xd4 ? u32[i + 1]! + u32[B32 + i + 1]! : u32[i + 1]! - u32[B32 + i + 1]!) + c;
      }
      return true;
    case 0xf8: for (let i = 0; i < n8; i++) u8[i] = u8[i]! - u8[B8 + i]!; return true;
    case 0xf9: for (let i = 0; i < n16; i++) u16[i] = u16[i]! - u16[B16 + i]!; return true;
    case 0xfa: for (let i = 0; i < n32; i++) i32[i] = (i32[i]! - i32[B32 + i]!) | 0; return true;
    case 0xec: for (let i = 0; i < n8; i++) i8[i] = satS8(i8[i]! + i8[B8 + i]!); return true;
    case 0xed: for (let i = 0; i < n16; i++) i16[i] = satS16(i16[i]! + i16[B16 + i]!); return true;
    case 0xdc: for (let i = 0; i < n8; i++) u8[i] = satU8(u8[i]! + u8[B8 + i]!); return true;
    case 0xdd: for (let i = 0; i < n16; i++) u16[i] = satU16(u16[i]! + u16[B16 + i]!); return true;
    case 0xe8: for (let i = 0; i < n8; i++) i8[i] = satS8(i8[i]! - i8[B8 + i]!); return true;
    case 0xe9: for (let i = 0; i < n16; i++) i16[i] = satS16(i16[i]! - i16[B16 + i]!); return true;
    case 0xd8: for (let i = 0; i < n8; i++) u8[i] = satU8(u8[i]! - u8[B8 + i]!); return true;
    case 0xd9: for (let i = 0; i < n16; i++) u16[i] = satU16(u16[i]! - u16[B16 + i]!); return true;
    case 0xd5: for (let i = 0; i < n16; i++) i16[i] = Math.imul(i16[i]!, i16[B16 + i]!); return true;
    case 0xe5: for (let i = 0; i < n16; i++) i16[i] = Math.imul(i16[i]!, i16[B16 + i]!) >> 16; return true;
    case 0xe4: for (let i = 0; i < n16; i++) u16[i] = (u16[i]! * u16[B16 + i]!) >>> 16; return true;
    case 0xf4: // PMULUDQ
      for (let i = 0; i < n32; i += 2) {
        const a = u32[i]!, b = u32[B32 + i]!;
        const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
        const lo = al * bl, mid = al * bh + ah * bl;
        const low = lo + (mid % 65536) * 65536;
        u32[i] = low >>> 0;
        u32[i + 1] = ah * bh + Math.floor(mid / 65536) + Math.floor(low / 4294967296);
      }
      return true;
    case 0xf5: // PMADDWD
      for (let i = 0; i < n32; i++) {
        i32[i] = (Math.imul(i16[2 * i]!, i16[B16 + 2 * i]!) + Math.imul(i16[2 * i + 1]!, i16[B16 + 2 * i + 1]!)) | 0;
      }
      return true;
    case 0xf6: // PSADBW
      for (let q = 0; q < len; q += 8) {
        let s = 0;
        for (let i = 0; i < 8; i++) s += Math.abs(u8[q + i]! - u8[B8 + q + i]!);
        for (let i = 0; i < 4; i++) u16[(q >> 1) + i] = i === 0 ? s : 0;
      }
      return true;
    case 0xe0: for (let i = 0; i < n8; i++) u8[i] = (u8[i]! + u8[B8 + i]! + 1) >>> 1; return true;
    case 0xe3: for (let i = 0; i < n16; i++) u16[i] = (u16[i]! + u16[B16 + i]! + 1) >>> 1; return true;
    case 0xda: for (let i = 0; i < n8; i++) u8[i] = Math.min(u8[i]!, u8[B8 + i]!); return true;
    case 0xde: for (let i = 0; i < n8; i++) u8[i] = Math.max(u8[i]!, u8[B8 + i]!); return true;
    case 0xea: for (let i = 0; i < n16; i++) i16[i] = Math.min(i16[i]!, i16[B16 + i]!); return true;
    case 0xee: for (let i = 0; i < n16; i++) i16[i] = Math.max(i16[i]!, i16[B16 + i]!); return true;
    case 0x74: for (let i = 0; i < n8; i++) u8[i] = u8[i] === u8[B8 + i] ? 0xff : 0; return true;
    case 0x75: for (let i = 0; i < n16; i++) u16[i] = u16[i] === u16[B16 + i] ? 0xffff : 0; return true;
    case 0x76: for (let i = 0; i < n32; i++) i32[i] = i32[i] === i32[B32 + i] ? -1 : 0; return true;
    case 0x64: for (let i = 0; i < n8; i++) u8[i] = i8[i]! > i8[B8 + i]! ? 0xff : 0; return true;
    case 0x65: for (let i = 0; i < n16; i++) u16[i] = i16[i]! > i16[B16 + i]! ? 0xffff : 0; return true;
    case 0x66: for (let i = 0; i < n32; i++) i32[i] = i32[i]! > i32[B32 + i]! ? -1 : 0; return true;
    case 0xdb: case 0x54: for (let i = 0; i < n32; i++) i32[i] = i32[i]! & i32[B32 + i]!; return true;
    case 0xdf: case 0x55: for (let i = 0; i < n32; i++) i32[i] = ~i32[i]! & i32[B32 + i]!; return true;
    case 0xeb: case 0x56: for (let i = 0; i < n32; i++) i32[i] = i32[i]! | i32[B32 + i]!; return true;
    case 0xef: case 0x57: for (let i = 0; i < n32; i++) i32[i] = i32[i]! ^ i32[B32 + i]!; return true;
    case 0x63: case 0x67: case 0x6b: pack(l, op, len); return true;
    case 0x60: case 0x61: case 0x62: case 0x6c: unpack(l, op === 0x6c ? 8 : 1 << (op - 0x60), len, false); return true;
    case 0x68: case 0x69: case 0x6a: case 0x6d: unpack(l, op === 0x6d ? 8 : 1 << (op - 0x68), len, true); return true;
    case 0xd1: case 0xd2: case 0xd3: shift(l, len, 1 << (op - 0xd0), 0, shiftCount(l)); return true;
    case 0xe1: case 0xe2: shift(l, len, 1 << (op - 0xe0), 1, shiftCount(l)); return true;
    case 0xf1: case 0xf2: case 0xf3: shift(l, len, 1 << (op - 0xf0), 2, shiftCount(l)); return true;
    default: return false;
  }
}

/** PACKSSWB (63), PACKUSWB (67), PACKSSDW (6B). */
function pack(l: Lanes, op: number, len: number): void {
  const u8 = l.u8, i16 = l.i16, i32 = l.i32;
  if (op === 0x6b) {
    const n = len >> 2;
    for (let i = 0; i < n; i++) { l.i16[16 + i] = satS16(i32[i]!); l.i16[16 + n + i] = satS16(i32[4 + i]!); }
    for (let i = 0; i < 2 * n; i++) l.i16[i] = l.i16[16 + i]!;
    return;
  }
  const n = len >> 1;
  for (let i = 0; i < n; i++) {
    const a = i16[i]!, b = i16[8 + i]!;
    u8[T8 + i] = op === 0x63 ? satS8(a) & 0xff : satU8(a);
    u8[T8 + n + i] = op === 0x63 ? satS8(b) & 0xff : satU8(b);
  }
  for (let i = 0; i < len; i++) u8[i] = u8[T8 + i]!;
}

/** PUNPCKLxx and PUNPCKHxx with element size `w` bytes: interleave the low or high halves of A and B. */
function unpack(l: Lanes, w: number, len: number, high: boolean): void {
  const u8 = l.u8;
  const half = len >> 1, base = high ? half : 0;
  for (let e = 0; e < half / w; e++) {
    for (let k = 0; k < w; k++) {
      u8[T8 + 2 * e * w + k] = u8[base + e * w + k]!;
      u8[T8 + (2 * e + 1) * w + k] = u8[16 + base + e * w + k]!;
    }
  }
  for (let i = 0; i < len; i++) u8[i] = u8[T8 + i]!;
}
