// The Internet checksum (RFC 1071): a ones' complement sum of 16-bit big-endian words.

/** Adds bytes [start, end) to a running 32-bit sum (an odd last byte is padded with zero). */
export function sumBytes(buf: Uint8Array, start: number, end: number, sum = 0): number {
  let s = sum;
  let i = start;
  for (; i + 1 < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  // Fold often enough that the sum stays a small integer.
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Folds a running sum and complements it: the value stored in a checksum field. */
export function finishSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The checksum of bytes [start, end). */
export function checksum(buf: Uint8Array, start: number, end: number, sum = 0): number {
  return finishSum(sumBytes(buf, start, end, sum));
}

/** The IPv4 pseudo-header sum for protocol `proto` and L4 length `len`, from the IP header at `ip`. */
export function pseudoSum4(buf: Uint8Array, ip: number, proto: number, len: number): number {
  return sumBytes(buf, ip + 12, ip + 20, proto + len);
}

/** Writes a big-endian u16. */
export function put16(buf: Uint8Array, off: number, v: number): void { buf[off] = (v >>> 8) & 0xff; buf[off + 1] = v & 0xff; }
/** Writes a big-endian u32. */
export function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff; buf[off + 1] = (v >>> 16) & 0xff; buf[off + 2] = (v >>> 8) & 0xff; buf[off + 3] = v & 0xff;
}
/** Reads a big-endian u16 (0 past the end). */
export function get16(buf: Uint8Array, off: number): number { return ((buf[off] ?? 0) << 8) | (buf[off + 1] ?? 0); }
/** Reads a big-endian u32 (0 past the end). */
export function get32(buf: Uint8Array, off: number): number { return ((get16(buf, off) << 16) | get16(buf, off + 2)) >>> 0; }
