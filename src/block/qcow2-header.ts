// qcow2 header: parsing with validation, header extensions, feature checks, and creating a fresh
// image. Written from QEMU's docs/interop/qcow2.txt (versions 2 and 3); section names below are
// that document's.

import { open } from 'node:fs/promises';
import { BlockError, describeFsError, writeFull } from './file-io.js';

/** "QFI\xfb" (== Header ==, bytes 0-3). */
export const QCOW2_MAGIC = 0x514649fb;
/** Version 2 header length; version 3 headers are at least V3_HEADER_MIN bytes. */
export const V2_HEADER_LEN = 72;
export const V3_HEADER_MIN = 104;

// Header field offsets (== Header ==).
export const HDR_REFCOUNT_TABLE_OFFSET = 48;
export const HDR_AUTOCLEAR = 88;

// incompatible_features bits.
export const INCOMPAT_DIRTY = 1n << 0n; // refcounts may be stale (lazy refcounts)
export const INCOMPAT_CORRUPT = 1n << 1n; // any structure may be corrupt: never write
export const INCOMPAT_DATA_FILE = 1n << 2n; // external data file
export const INCOMPAT_COMPRESSION = 1n << 3n; // non-zlib compression type
export const INCOMPAT_EXTL2 = 1n << 4n; // extended L2 entries (subclusters)

// Header extension types (=== Header extensions ===).
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_TABLE = 0x6803f857;

/** QEMU's own limits, which we share: cluster size 512 B..2 MiB, L1 ≤ 32 MiB, refcount table ≤ 8 MiB. */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;
/** Largest virtual disk we accept (2^53 is where a JS number stops being exact). */
export const MAX_VIRTUAL_SIZE = 2 ** 52;
/** L1/L2 entry bits 9-55: the host offset (== Cluster mapping ==). */
const OFFSET_HI_MASK = 0x00ffffff;

/** The parsed, validated header of a qcow2 image. */
export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  /** Virtual disk size in bytes, as stored. */
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  incompatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Feature name table entries, keyed `${type}:${bit}` (type 0 = incompatible). */
  featureNames: Map<string, string>;
}

/** Entries per L2 table for a cluster size. */
export function l2Entries(clusterBits: number): number {
  return 2 ** (clusterBits - 3);
}

/** L1 entries needed to map `size` bytes. */
export function l1EntriesFor(size: number, clusterBits: number): number {
  const perL1 = 2 ** clusterBits * l2Entries(clusterBits);
  return Math.ceil(size / perL1);
}

/** Host offset from a big-endian L1/L2/refcount-table entry (bits 9-55), or -1 if it is over 2^53. */
export function entryOffset(dv: DataView, at: number): number {
  const hi = dv.getUint32(at) & OFFSET_HI_MASK;
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + ((dv.getUint32(at + 4) & 0xfffffe00) >>> 0);
}

function u64(dv: DataView, at: number, what: string, where: string): number {
  const v = dv.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BlockError(`${where}: corrupt qcow2 header: ${what} ${v} is too large`);
  return Number(v);
}

/** Parses and validates the header in `buf` (the start of the file, up to one cluster). */
export function parseQcow2Header(buf: Uint8Array, fileSize: number, where: string): Qcow2Header {
  const bad = (msg: string): BlockError => new BlockError(`${where}: corrupt qcow2 header: ${msg}`);
  if (buf.length < V2_HEADER_LEN) throw bad('file too short');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0) !== QCOW2_MAGIC) throw bad('bad magic');
  const version = dv.getUint32(4);
  if (version === 1) throw new BlockError(`${where}: qcow version 1 is not supported (convert it: qemu-img convert -O qcow2)`);
  if (version !== 2 && version !== 3) throw new BlockError(`${where}: unsupported qcow2 version ${version}`);
  const clusterBits = dv.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw bad(`cluster_bits ${clusterBits} out of range ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const cs = 2 ** clusterBits;
  const h: Qcow2Header = {
    version,
    clusterBits,
    size: u64(dv, 24, 'size', where),
    l1Size: dv.getUint32(36),
    l1TableOffset: u64(dv, 40, 'l1_table_offset', where),
    refcountTableOffset: u64(dv, 48, 'refcount_table_offset', where),
    refcountTableClusters: dv.getUint32(56),
    nbSnapshots: dv.getUint32(60),
    incompatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_LEN,
    backingFile: null,
    backingFormat: null,
    featureNames: new Map(),
  };
  if (dv.getUint32(32) !== 0) throw new BlockError(`${where}: encrypted qcow2 images are not supported`);
  if (version === 3) {
    if (buf.length < V3_HEADER_MIN) throw bad('file too short for a version 3 header');
    h.incompatible = dv.getBigUint64(72);
    h.autoclear = dv.getBigUint64(88);
    h.refcountOrder = dv.getUint32(96);
    h.headerLength = dv.getUint32(100);
    if (h.headerLength < V3_HEADER_MIN || h.headerLength % 8 !== 0 || h.headerLength > Math.min(cs, buf.length)) {
      throw bad(`header_length ${h.headerLength}`);
    }
    if (h.refcountOrder > 6) throw bad(`refcount_order ${h.refcountOrder} (at most 6)`);
    // compression_type (byte 104) must be 0 (zlib) unless the compression-type feature bit says otherwise.
    if (h.headerLength > 104 && buf[104] !== 0 && !(h.incompatible & INCOMPAT_COMPRESSION)) {
      throw bad(`compression_type ${buf[104]} without its feature bit`);
    }
  }
  if (h.size > MAX_VIRTUAL_SIZE) throw bad(`virtual size ${h.size} is too large`);
  // L1: big enough for the disk, not absurd, aligned, inside the file.
  const need = l1EntriesFor(h.size, clusterBits);
  if (h.l1Size < need) throw bad(`L1 table has ${h.l1Size} entries, the disk size needs ${need}`);
  if (h.l1Size * 8 > MAX_L1_BYTES) throw bad(`L1 table of ${h.l1Size} entries is too large`);
  checkArea(bad, 'L1 table', h.l1TableOffset, h.l1Size * 8, cs, fileSize, h.l1Size > 0);
  if (h.refcountTableClusters === 0) throw bad('refcount table has no clusters');
  if (h.refcountTableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) throw bad(`refcount table of ${h.refcountTableClusters} clusters is too large`);
  checkArea(bad, 'refcount table', h.refcountTableOffset, h.refcountTableClusters * cs, cs, fileSize, true);
  if (h.l1Size > 0 && overlaps(h.l1TableOffset, h.l1Size * 8, h.refcountTableOffset, h.refcountTableClusters * cs)) {
    throw bad('L1 table overlaps the refcount table');
  }
  if (h.nbSnapshots > 0) checkArea(bad, 'snapshot table', u64(dv, 64, 'snapshots_offset', where), 1, cs, fileSize, true);
  parseExtensions(dv, h, cs, bad);
  // Backing file name (== Header ==, bytes 8-19): at most 1023 bytes, inside the first cluster.
  const backingOffset = u64(dv, 8, 'backing_file_offset', where);
  if (backingOffset !== 0) {
    const len = dv.getUint32(16);
    if (len === 0 || len > 1023 || backingOffset + len > Math.min(cs, buf.length)) throw bad('backing file name out of range');
    h.backingFile = Buffer.from(buf.subarray(backingOffset, backingOffset + len)).toString('utf8');
  }
  return h;
}

function overlaps(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

function checkArea(bad: (m: string) => BlockError, what: string, off: number, len: number, cs: number, fileSize: number, present: boolean): void {
  if (!present) return;
  if (off % cs !== 0) throw bad(`${what} offset ${off} is not cluster-aligned`);
  if (off === 0) throw bad(`${what} overlaps the header`);
  if (off + len > fileSize) throw bad(`${what} at ${off} (+${len}) is past the end of the file (${fileSize} bytes)`);
}

/** Walks header extensions after the header; unknown ones are skipped, every length is bounded. */
function parseExtensions(dv: DataView, h: Qcow2Header, cs: number, bad: (m: string) => BlockError): void {
  const limit = Math.min(cs, dv.byteLength);
  let at = h.headerLength;
  for (let n = 0; n < 1024 && at + 8 <= limit; n++) {
    const type = dv.getUint32(at);
    const len = dv.getUint32(at + 4);
    if (type === EXT_END) return;
    const data = at + 8;
    if (len > limit - data) throw bad(`header extension 0x${type.toString(16)} overruns the first cluster`);
    const bytes = new Uint8Array(dv.buffer, dv.byteOffset + data, len);
    if (type === EXT_BACKING_FORMAT) {
      h.backingFormat = Buffer.from(bytes).toString('utf8');
    } else if (type === EXT_FEATURE_TABLE) {
      for (let e = 0; e + 48 <= len; e += 48) {
        const nameBytes = bytes.subarray(e + 2, e + 48);
        const z = nameBytes.indexOf(0);
        h.featureNames.set(`${bytes[e]}:${bytes[e + 1]}`, Buffer.from(z < 0 ? nameBytes : nameBytes.subarray(0, z)).toString('utf8'));
      }
    }
    at = data + Math.ceil(len / 8) * 8;
  }
}

/**
 * Refuses images whose incompatible features we cannot honour. Dirty (lazy refcounts) and corrupt
 * images open read-only only: we do not rebuild refcounts; `qemu-img check -r all` does.
 */
export function checkFeatures(h: Qcow2Header, readOnly: boolean, where: string): void {
  const known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT;
  const unknown = h.incompatible & ~known;
  if (unknown !== 0n) {
    const names: string[] = [];
    for (let bit = 0n; bit < 64n; bit++) {
      if ((unknown >> bit) & 1n) names.push(h.featureNames.get(`0:${bit}`) ?? incompatName(bit));
    }
    throw new BlockError(`${where}: qcow2 image uses unsupported features: ${names.join(', ')}`);
  }
  if (readOnly) return;
  if (h.incompatible & INCOMPAT_CORRUPT) {
    throw new BlockError(`${where}: qcow2 image is marked corrupt; open it readonly=on or repair it (qemu-img check -r all)`);
  }
  if (h.incompatible & INCOMPAT_DIRTY) {
    throw new BlockError(`${where}: qcow2 image is dirty (lazy refcounts); repair it first (qemu-img check -r all) or open it readonly=on`);
  }
  if (h.refcountOrder !== 4) {
    throw new BlockError(`${where}: refcount_bits=${2 ** h.refcountOrder} images can only be opened readonly=on (16 is supported for writing)`);
  }
  if (h.nbSnapshots > 0) {
    throw new BlockError(`${where}: qcow2 image has ${h.nbSnapshots} internal snapshots; writing it is not supported (use readonly=on or snapshot=on)`);
  }
}

function incompatName(bit: bigint): string {
  switch (bit) {
    case 2n: return 'external data file';
    case 3n: return 'compression type (zstd)';
    case 4n: return 'extended L2 entries';
    default: return `incompatible feature bit ${bit}`;
  }
}

/** Options for createQcow2. */
export interface CreateQcow2Options {
  /** 9..21; default 16 (64 KiB clusters, as qemu-img). */
  clusterBits?: number;
  version?: 2 | 3;
  backingFile?: string;
  backingFormat?: 'raw' | 'qcow2';
}

/**
 * Creates an empty qcow2 image of `sizeBytes`: header (+ extensions) in cluster 0, then the
 * refcount table, its refcount blocks and the L1 table, all refcounted 1. 16-bit refcounts.
 */
export async function createQcow2(path: string, sizeBytes: number, opts: CreateQcow2Options = {}): Promise<void> {
  const cb = opts.clusterBits ?? 16;
  const version = opts.version ?? 3;
  if (!Number.isInteger(cb) || cb < MIN_CLUSTER_BITS || cb > MAX_CLUSTER_BITS) throw new BlockError(`${path}: cluster_bits ${cb} out of range`);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || sizeBytes % 512 !== 0 || sizeBytes > MAX_VIRTUAL_SIZE) {
    throw new BlockError(`${path}: bad disk size ${sizeBytes} (a multiple of 512 up to 2^52)`);
  }
  const cs = 2 ** cb;
  const l1Size = l1EntriesFor(sizeBytes, cb);
  if (l1Size * 8 > MAX_L1_BYTES) throw new BlockError(`${path}: ${sizeBytes} bytes needs a larger cluster size`);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = cs / 2;
  // Metadata clusters: header, refcount table, refcount blocks, L1. Iterate to a fixed point.
  let rtClusters = 1;
  let rbClusters = 1;
  for (let n = 0; n < 16; n++) {
    const meta = 1 + rtClusters + rbClusters + l1Clusters;
    rbClusters = Math.ceil(meta / perBlock);
    rtClusters = Math.max(1, Math.ceil((rbClusters * 8) / cs));
  }
  const total = 1 + rtClusters + rbClusters + l1Clusters;
  const rtOff = cs;
  const rbOff = rtOff + rtClusters * cs;
  const l1Off = rbOff + rbClusters * cs;
  const img = new Uint8Array(total * cs);
  const dv = new DataView(img.buffer);
  // Header.
  dv.setUint32(0, QCOW2_MAGIC);
  dv.setUint32(4, version);
  dv.setUint32(20, cb);
  dv.setBigUint64(24, BigInt(sizeBytes));
  dv.setUint32(36, l1Size);
  dv.setBigUint64(40, BigInt(l1Off));
  dv.setBigUint64(48, BigInt(rtOff));
  dv.setUint32(56, rtClusters);
  let at = V2_HEADER_LEN;
  if (version === 3) {
    dv.setUint32(96, 4);
    dv.setUint32(100, V3_HEADER_MIN);
    at = V3_HEADER_MIN;
    if (opts.backingFormat !== undefined) at = putExtension(img, at, EXT_BACKING_FORMAT, Buffer.from(opts.backingFormat));
    at = putExtension(img, at, EXT_END, new Uint8Array(0));
  }
  if (opts.backingFile !== undefined) {
    const name = Buffer.from(opts.backingFile, 'utf8');
    if (name.length === 0 || name.length > 1023 || at + name.length > cs) throw new BlockError(`${path}: backing file name too long`);
    dv.setBigUint64(8, BigInt(at));
    dv.setUint32(16, name.length);
    img.set(name, at);
  }
  // Refcount table → blocks; every metadata cluster has refcount 1.
  for (let b = 0; b < rbClusters; b++) dv.setBigUint64(rtOff + b * 8, BigInt(rbOff + b * cs));
  for (let c = 0; c < total; c++) dv.setUint16(rbOff + c * 2, 1);
  let fh;
  try {
    fh = await open(path, 'wx');
  } catch (err) {
    throw describeFsError(path, err);
  }
  try {
    await writeFull(fh, img, 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function putExtension(img: Uint8Array, at: number, type: number, data: Uint8Array): number {
  const dv = new DataView(img.buffer);
  dv.setUint32(at, type);
  dv.setUint32(at + 4, data.length);
  img.set(data, at + 8);
  return at + 8 + Math.ceil(data.length / 8) * 8;
}
