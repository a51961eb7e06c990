// An ACPI Machine Language encoder (ACPI 6.4, chapter 20: AML grammar; §6.4: resource data
// types), enough for a PC's DSDT: names, integers, strings, buffers, packages, scopes, devices,
// methods and resource templates. Every builder returns the encoded bytes of one term.

/** Opcodes (§20.2.5). */
const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const VAR_PACKAGE_OP = 0x13;
const METHOD_OP = 0x14;
const STORE_OP = 0x70;
const IF_OP = 0xa0;
const ELSE_OP = 0xa1;
const RETURN_OP = 0xa4;
const ARG0_OP = 0x68;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;     // after EXT_OP_PREFIX
const ROOT_CHAR = 0x5c;     // '\'
const PARENT_PREFIX = 0x5e; // '^'
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const NULL_NAME = 0x00;

/** PkgLength limits: 6 bits in one byte, then 4 + 8·n bits in 1 + n bytes (§20.2.4). */
const PKG_LENGTH_MAX = 0x0fff_ffff;

/** Joins terms into one byte string. */
export function cat(...parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * The PkgLength encoding for a package whose contents after the PkgLength are `bodyBytes`
 * long: the encoded value counts its own bytes too. One byte holds up to 63; longer forms put
 * the byte count in bits 7:6 of the lead byte, the low nibble in bits 3:0, then whole bytes.
 */
export function pkgLength(bodyBytes: number): number[] {
  if (!Number.isInteger(bodyBytes) || bodyBytes < 0) throw new Error(`AML PkgLength: bad length ${bodyBytes}`);
  if (bodyBytes + 1 <= 0x3f) return [bodyBytes + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = bodyBytes + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) out.push((total >>> (4 + 8 * i)) & 0xff);
      return out;
    }
  }
  throw new Error(`AML PkgLength: ${bodyBytes} bytes is more than ${PKG_LENGTH_MAX}`);
}

/** Decodes a PkgLength at `at` (for tests): the value and how many bytes it took. */
export function decodePkgLength(b: Uint8Array, at: number): { value: number; bytes: number } {
  const lead = b[at] ?? 0;
  const extra = lead >>> 6;
  if (extra === 0) return { value: lead & 0x3f, bytes: 1 };
  let v = lead & 0x0f;
  for (let i = 0; i < extra; i++) v |= (b[at + 1 + i] ?? 0) << (4 + 8 * i);
  return { value: v, bytes: 1 + extra };
}

function withPkgLength(lead: readonly number[], body: Uint8Array): Uint8Array {
  return cat(lead, pkgLength(body.length), body);
}

/** One 4-character NameSeg: a letter or '_', then letters, digits or '_', padded with '_'. */
export function nameSeg(seg: string): Uint8Array {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new Error(`AML: "${seg}" is not a NameSeg`);
  const s = seg.padEnd(4, '_');
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** A NameString: optional '\' or '^' prefixes, then dot-separated NameSegs. */
export function nameString(path: string): Uint8Array {
  const prefix: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) { prefix.push(ROOT_CHAR); rest = rest.slice(1); }
  else while (rest.startsWith('^')) { prefix.push(PARENT_PREFIX); rest = rest.slice(1); }
  const segs = rest === '' ? [] : rest.split('.').map(nameSeg);
  if (segs.length === 0) return cat(prefix, [NULL_NAME]);
  if (segs.length === 1) return cat(prefix, segs[0]!);
  if (segs.length === 2) return cat(prefix, [DUAL_NAME_PREFIX], segs[0]!, segs[1]!);
  if (segs.length > 255) throw new Error(`AML: name path ${path} has too many segments`);
  return cat(prefix, [MULTI_NAME_PREFIX, segs.length], ...segs);
}

/** An integer constant in the smallest encoding: ZeroOp, OneOp, byte, word, dword, qword. */
export function int(value: number | bigint): Uint8Array {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new Error(`AML: integer ${v} out of range`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  const [prefix, bytes] = v <= 0xffn ? [BYTE_PREFIX, 1] : v <= 0xffffn ? [WORD_PREFIX, 2] : v <= 0xffff_ffffn ? [DWORD_PREFIX, 4] : [QWORD_PREFIX, 8];
  const out = new Uint8Array(1 + bytes);
  out[0] = prefix;
  for (let i = 0; i < bytes; i++) out[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** A string constant (ASCII 0x01–0x7F, NUL-terminated). */
export function str(s: string): Uint8Array {
  const codes = Array.from(s, (c) => c.charCodeAt(0));
  if (codes.some((c) => c < 1 || c > 0x7f)) throw new Error(`AML: string "${s}" is not ASCII`);
  return cat([STRING_PREFIX], codes, [0]);
}

/** A Buffer with its size as an integer term and `bytes` as its initializer. */
export function buffer(bytes: Uint8Array | readonly number[]): Uint8Array {
  return withPkgLength([BUFFER_OP], cat(int(bytes.length), bytes));
}

/** A Package of up to 255 elements (a VarPackage beyond). */
export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length <= 255) return withPkgLength([PACKAGE_OP], cat([elements.length], ...elements));
  return withPkgLength([VAR_PACKAGE_OP], cat(int(elements.length), ...elements));
}

/** Name(path, value). */
export function name(path: string, value: Uint8Array): Uint8Array {
  return cat([NAME_OP], nameString(path), value);
}

/** Scope(path) { terms }. */
export function scope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([SCOPE_OP], cat(nameString(path), ...terms));
}

/** Device(path) { terms }. */
export function device(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], cat(nameString(path), ...terms));
}

/** Method(path, args, Serialized?) { terms }. */
export function method(path: string, args: number, serialized: boolean, terms: readonly Uint8Array[]): Uint8Array {
  if (!Number.isInteger(args) || args < 0 || args > 7) throw new Error(`AML: a method takes 0..7 arguments, not ${args}`);
  return withPkgLength([METHOD_OP], cat(nameString(path), [args | (serialized ? 0x08 : 0)], ...terms));
}

/** Return(term). */
export function ret(term: Uint8Array): Uint8Array { return cat([RETURN_OP], term); }

/** A reference to a named object, as a term argument. */
export function ref(path: string): Uint8Array { return nameString(path); }

/** ArgN, a method argument (0..6). */
export function arg(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 6) throw new Error(`AML: Arg${n} does not exist`);
  return Uint8Array.of(ARG0_OP + n);
}

/** Store(source, target). */
export function store(source: Uint8Array, target: Uint8Array): Uint8Array { return cat([STORE_OP], source, target); }

/** If (predicate) { then } Else { otherwise } — the Else left out when `otherwise` is absent. */
export function ifElse(predicate: Uint8Array, then: readonly Uint8Array[], otherwise?: readonly Uint8Array[]): Uint8Array {
  const ifTerm = withPkgLength([IF_OP], cat(predicate, ...then));
  return otherwise === undefined ? ifTerm : cat(ifTerm, withPkgLength([ELSE_OP], cat(...otherwise)));
}

/** The 32-bit compressed EISA id of "PNP0A03" (three letters, four hex digits). */
export function eisaIdValue(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new Error(`AML: "${id}" is not an EISA id`);
  const l = (i: number): number => id.charCodeAt(i) - 0x40;
  const h = (i: number): number => parseInt(id[i]!, 16);
  const b0 = (l(0) << 2) | (l(1) >>> 3);
  const b1 = ((l(1) & 7) << 5) | l(2);
  const b2 = (h(3) << 4) | h(4);
  const b3 = (h(5) << 4) | h(6);
  return (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
}

/** EISAID("PNP0A03") as an integer term. */
export function eisaId(id: string): Uint8Array { return int(eisaIdValue(id)); }

// ---- resource descriptors (§6.4) ---------------------------------------------------------------

const END_TAG = 0x79;          // small item 0xF, length 1
const IO_TAG = 0x47;           // small item 0x8, length 7
const IRQ_NO_FLAGS_TAG = 0x22; // small item 0x4, length 2
const DWORD_ADDRESS_TAG = 0x87;
const WORD_ADDRESS_TAG = 0x88;
const IO_DECODE_16 = 0x01;
/** Address space descriptor resource types and flags. */
const RESOURCE_MEMORY = 0;
const RESOURCE_IO = 1;
const RESOURCE_BUS = 2;
/** General flags: producer, positive decode, min and max fixed. */
const ADDRESS_MIN_MAX_FIXED = 0x0c;
const IO_ENTIRE_RANGE = 0x03;
const MEM_READ_WRITE = 0x01;
const MEM_CACHEABLE = 0x02;

function le16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

/** IO(Decode16, min, max, align, length). */
export function io(min: number, max: number, align: number, length: number): Uint8Array {
  return Uint8Array.from([IO_TAG, IO_DECODE_16, ...le16(min), ...le16(max), align & 0xff, length & 0xff]);
}

/** IRQNoFlags() { irqs } (ISA IRQs 0–15: high true, edge, exclusive). */
export function irqNoFlags(irqs: readonly number[]): Uint8Array {
  let mask = 0;
  for (const i of irqs) {
    if (!Number.isInteger(i) || i < 0 || i > 15) throw new Error(`AML: IRQ ${i} is not an ISA IRQ`);
    mask |= 1 << i;
  }
  return Uint8Array.from([IRQ_NO_FLAGS_TAG, ...le16(mask)]);
}

function wordAddress(type: number, typeFlags: number, min: number, max: number): Uint8Array {
  const body = [type, ADDRESS_MIN_MAX_FIXED, typeFlags, ...le16(0), ...le16(min), ...le16(max), ...le16(0), ...le16(max - min + 1)];
  return Uint8Array.from([WORD_ADDRESS_TAG, ...le16(body.length), ...body]);
}

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len). */
export function wordBusNumber(min: number, max: number): Uint8Array { return wordAddress(RESOURCE_BUS, 0, min, max); }

/** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len). */
export function wordIo(min: number, max: number): Uint8Array { return wordAddress(RESOURCE_IO, IO_ENTIRE_RANGE, min, max); }

/** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable|NonCacheable, ReadWrite, …). */
export function dwordMemory(min: number, max: number, cacheable: boolean): Uint8Array {
  const flags = MEM_READ_WRITE | (cacheable ? MEM_CACHEABLE : 0);
  const body = [RESOURCE_MEMORY, ADDRESS_MIN_MAX_FIXED, flags, ...le32(0), ...le32(min), ...le32(max), ...le32(0), ...le32(max - min + 1)];
  return Uint8Array.from([DWORD_ADDRESS_TAG, ...le16(body.length), ...body]);
}

/** ResourceTemplate() { descriptors }: a Buffer ending in an end tag whose checksum zeroes the sum. */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  const body = cat(...descriptors, [END_TAG, 0]);
  let sum = 0;
  for (const b of body) sum = (sum + b) & 0xff;
  body[body.length - 1] = (0x100 - sum) & 0xff;
  return buffer(body);
}
