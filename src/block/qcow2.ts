// qcow2 images, versions 2 and 3 (QEMU's docs/interop/qcow2.txt): L1/L2 mapping with an L2
// cache, unallocated clusters (zeros or the backing file), zero clusters (v3), compressed clusters
// (read only; raw deflate), backing files, and writes with cluster allocation and copy-on-write.
//
// Requests on one image run one at a time (a Serializer): allocation and the metadata caches need
// it, and the IDE has at most one command in flight per drive anyway. Large requests stay fast
// because runs of contiguous clusters become one read or write syscall.
//
// Crash consistency: guest data goes straight to the file (new data only into clusters nothing
// references yet); metadata changes are cached and written back by writeBack() in three phases,
// each ending with fdatasync: (1) refcount blocks, refcount table, header; (2) L2 tables, L1;
// (3) refcount decrements of clusters the new tables no longer use. Whatever the moment of a
// crash, every reference on disk has a refcount ≥ 1; the worst case is leaked clusters.

import { open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { inflateRaw } from 'node:zlib';
import type { BlockBackend, DriveFormat } from './block.js';
import { BlockError, Serializer, checkRange, describeFsError, isZero, readFull, writeFull } from './file-io.js';
import {
  HDR_AUTOCLEAR, HDR_REFCOUNT_TABLE_OFFSET, MAX_CLUSTER_BITS, checkFeatures, entryOffset, l2Entries,
  parseQcow2Header, type Qcow2Header,
} from './qcow2-header.js';
import { Refcounts } from './qcow2-refcount.js';

/** How Qcow2Backend.open gets its backing file (openImage, with the depth counted). */
export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** An already-open backing disk, instead of the one the header names (snapshot overlays). */
  backing?: BlockBackend;
  openBacking: (path: string, format: DriveFormat | 'auto') => Promise<BlockBackend>;
}

// L1/L2 entry bits, in the high 32-bit word (== Cluster mapping ==).
const HI_COPIED = 0x80000000; // refcount is exactly one: may be written in place
const HI_COMPRESSED = 0x40000000;
// Standard cluster descriptor bit 0 (low word): reads as zeros (version 3).
const LO_ZERO = 1;

const enum Kind { Unallocated, Zero, Normal, Compressed }

/** Memory for cached L2 tables. */
const L2_CACHE_BYTES = 32 * 1024 * 1024;
/** Dirty metadata structures allowed before a write triggers a write-back. */
const DIRTY_MAX = 64;

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function putEntry(b: Uint8Array, at: number, hi: number, lo: number): void {
  b[at] = hi >>> 24; b[at + 1] = (hi >>> 16) & 0xff; b[at + 2] = (hi >>> 8) & 0xff; b[at + 3] = hi & 0xff;
  b[at + 4] = lo >>> 24; b[at + 5] = (lo >>> 16) & 0xff; b[at + 6] = (lo >>> 8) & 0xff; b[at + 7] = lo & 0xff;
}

function inflate(src: Uint8Array, max: number): Promise<Buffer> {
  return new Promise((res, rej) => {
    inflateRaw(src, { maxOutputLength: max }, (err, out) => (err ? rej(err) : res(out)));
  });
}

/** One guest cluster's mapping, as lookup() found it. */
interface Mapping { kind: Kind; host: number; hi: number; lo: number }

/** A qcow2 image. */
export class Qcow2Backend implements BlockBackend {
  readonly sectorSize = 512;
  readonly sizeBytes: number;
  private readonly cs: number;
  private readonly clusterBits: number;
  private readonly l2n: number;
  private readonly l1dv: DataView;
  private l1DirtyLo = Number.MAX_SAFE_INTEGER;
  private l1DirtyHi = -1;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly l2CacheMax: number;
  private readonly dirtyL2 = new Set<number>();
  /** Offsets of every L2 table the active L1 references (for overlap checks). */
  private readonly l2Offsets: Set<number>;
  private readonly queue = new Serializer();
  private zKey = -1n;
  private zData: Uint8Array | null = null;
  private closed = false;
  private readonly m: Mapping = { kind: Kind.Unallocated, host: 0, hi: 0, lo: 0 };

  private constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
    private readonly h: Qcow2Header,
    private readonly l1: Uint8Array,
    l2Offsets: Set<number>,
    private readonly refcounts: Refcounts | null,
    private readonly backing: BlockBackend | null,
    private fileEnd: number,
  ) {
    this.clusterBits = h.clusterBits;
    this.cs = 2 ** h.clusterBits;
    this.l2n = l2Entries(h.clusterBits);
    this.sizeBytes = Math.floor(h.size / 512) * 512;
    this.l1dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    this.l2Offsets = l2Offsets;
    this.l2CacheMax = Math.max(16, Math.floor(L2_CACHE_BYTES / this.cs));
  }

  get readOnly(): boolean {
    return this.refcounts === null;
  }

  /** Opens and validates a qcow2 image (and its backing chain). */
  static async open(file: string, opts: Qcow2OpenOptions): Promise<Qcow2Backend> {
    let fh: FileHandle;
    try {
      fh = await open(file, opts.readOnly ? 'r' : 'r+');
    } catch (err) {
      throw describeFsError(file, err);
    }
    let backing: BlockBackend | null = null;
    try {
      const fileSize = (await fh.stat()).size;
      const head = new Uint8Array(Math.min(fileSize, 2 ** MAX_CLUSTER_BITS));
      await readFull(fh, head, 0);
      const h = parseQcow2Header(head, fileSize, file);
      checkFeatures(h, opts.readOnly, file);
      const cs = 2 ** h.clusterBits;
      const l1 = new Uint8Array(h.l1Size * 8);
      await readFull(fh, l1, h.l1TableOffset);
      const l2Offsets = validateL1(l1, h, fileSize, file);
      let refcounts: Refcounts | null = null;
      if (!opts.readOnly) {
        refcounts = await Refcounts.load(fh, file, h.clusterBits, h.refcountTableOffset, h.refcountTableClusters, fileSize,
          { off: h.l1TableOffset, len: h.l1Size * 8 });
        for (const off of l2Offsets) {
          if (refcounts.overlapsMetadata(off, cs)) throw new BlockError(`${file}: corrupt qcow2 image: L2 table at ${off} overlaps refcount metadata`);
        }
        if (h.autoclear !== 0n) {
          // We do not maintain bitmaps: clear the autoclear bits before writing (spec, autoclear_features).
          await writeFull(fh, new Uint8Array(8), HDR_AUTOCLEAR);
          await fh.datasync();
        }
      }
      backing = opts.backing ?? null;
      if (backing === null && h.backingFile !== null) backing = await openBackingFile(file, h, opts);
      return new Qcow2Backend(fh, file, h, l1, l2Offsets, refcounts, backing, fileSize);
    } catch (err) {
      await fh.close();
      if (backing !== null && backing !== opts.backing) await backing.close();
      throw err;
    }
  }

  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.queue.run(async () => {
      this.checkOpen();
      checkRange(this.sizeBytes, this.file, offset, dst.length);
      await this.readAt(offset, dst);
    });
  }

  write(offset: number, src: Uint8Array): Promise<void> {
    return this.queue.run(async () => {
      this.checkOpen();
      if (this.refcounts === null) throw new BlockError(`${this.file}: write to a read-only disk`);
      checkRange(this.sizeBytes, this.file, offset, src.length);
      const span = this.l2n * this.cs;
      for (let pos = 0; pos < src.length;) {
        const vo = offset + pos;
        const end = Math.min(offset + src.length, (Math.floor(vo / span) + 1) * span);
        await this.writeInL2(vo, src.subarray(pos, end - offset));
        pos = end - offset;
      }
      if (this.dirtyL2.size + this.refcounts.dirtyCount > DIRTY_MAX || this.l2Cache.size > 2 * this.l2CacheMax) {
        await this.writeBack();
      }
    });
  }

  flush(): Promise<void> {
    return this.queue.run(async () => {
      this.checkOpen();
      if (this.refcounts === null) return;
      if (!(await this.writeBack())) await this.sync();
    });
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      try {
        if (this.refcounts !== null && !(await this.writeBack())) await this.sync();
      } finally {
        this.closed = true;
        await this.fh.close();
        await this.backing?.close();
      }
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockError(`${this.file}: disk is closed`);
  }

  private async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw describeFsError(this.file, err);
    }
  }

  /** End of the host area a valid reference may point into. */
  private hostLimit(): number {
    return Math.max(this.fileEnd, this.refcounts?.allocatedEnd ?? 0);
  }

  // ---- mapping ----

  private async loadL2(off: number): Promise<Uint8Array> {
    const hit = this.l2Cache.get(off);
    if (hit !== undefined) {
      this.l2Cache.delete(off);
      this.l2Cache.set(off, hit);
      return hit;
    }
    const t = new Uint8Array(this.cs);
    await readFull(this.fh, t, off);
    this.l2Cache.set(off, t);
    if (this.l2Cache.size > this.l2CacheMax) {
      for (const k of this.l2Cache.keys()) {
        if (this.l2Cache.size <= this.l2CacheMax) break;
        if (!this.dirtyL2.has(k) && k !== off) this.l2Cache.delete(k);
      }
    }
    return t;
  }

  /** Fills `m` with the mapping of guest cluster `gc`; throws on an entry that points outside the file. */
  private async lookup(gc: number, m: Mapping): Promise<void> {
    const l1i = Math.floor(gc / this.l2n);
    const l2off = l1i * 8 < this.l1.length ? entryOffset(this.l1dv, l1i * 8) : 0;
    m.host = 0; m.hi = 0; m.lo = 0;
    if (l2off <= 0) {
      m.kind = Kind.Unallocated;
      return;
    }
    const l2 = await this.loadL2(l2off);
    const at = (gc % this.l2n) * 8;
    m.hi = u32(l2, at);
    m.lo = u32(l2, at + 4);
    if (m.hi & HI_COMPRESSED) {
      m.kind = Kind.Compressed;
      return;
    }
    const off = (m.hi & 0x00e00000) !== 0 ? -1 : (m.hi & 0x001fffff) * 0x100000000 + ((m.lo & 0xfffffe00) >>> 0);
    if (off < 0 || (off !== 0 && off >= this.hostLimit())) {
      throw new BlockError(`${this.file}: corrupt qcow2 image: cluster ${gc} maps to ${off < 0 ? 'a huge offset' : off}, past the end of the file`);
    }
    if (off % this.cs !== 0) throw new BlockError(`${this.file}: corrupt qcow2 image: cluster ${gc} maps to unaligned offset ${off}`);
    m.host = off;
    if (this.h.version === 3 && (m.lo & LO_ZERO)) m.kind = Kind.Zero;
    else m.kind = off === 0 ? Kind.Unallocated : Kind.Normal;
  }

  /** Host byte range [off, end) of a compressed cluster's data. */
  private compressedSpan(hi: number, lo: number): { off: number; end: number } {
    const x = 70 - this.clusterBits; // offset field width: 62 - (cluster_bits - 8)
    const v = (BigInt(hi) << 32n) | BigInt(lo);
    const off = Number(v & ((1n << BigInt(x)) - 1n));
    const nsec = Number((v >> BigInt(x)) & ((1n << BigInt(this.clusterBits - 8)) - 1n));
    return { off, end: (Math.floor(off / 512) + nsec + 1) * 512 };
  }

  private async readCompressed(hi: number, lo: number): Promise<Uint8Array> {
    const key = (BigInt(hi) << 32n) | BigInt(lo);
    if (key === this.zKey && this.zData !== null) return this.zData;
    const { off, end } = this.compressedSpan(hi, lo);
    const stop = Math.min(end, this.fileEnd);
    if (off >= stop) throw new BlockError(`${this.file}: corrupt qcow2 image: compressed cluster at ${off} is past the end of the file`);
    const span = new Uint8Array(stop - off); // at most 2 clusters: nsec has cluster_bits-8 bits
    await readFull(this.fh, span, off);
    let out: Buffer;
    try {
      out = await inflate(span, this.cs);
    } catch (err) {
      throw new BlockError(`${this.file}: corrupt compressed cluster at ${off}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (out.length !== this.cs) throw new BlockError(`${this.file}: corrupt compressed cluster at ${off}: inflates to ${out.length} bytes`);
    this.zKey = key;
    this.zData = out;
    return out;
  }

  private async readBacking(vo: number, dst: Uint8Array): Promise<void> {
    const n = this.backing === null ? 0 : Math.max(0, Math.min(dst.length, this.backing.sizeBytes - vo));
    if (n > 0) await this.backing!.read(vo, dst.subarray(0, n));
    if (n < dst.length) dst.fill(0, n);
  }

  /** Reads guest bytes; runs of contiguous clusters of one kind become one host read. */
  private async readAt(offset: number, dst: Uint8Array): Promise<void> {
    const m = this.m;
    let runKind = -1;
    let runDst = 0;
    let runLen = 0;
    let runHost = 0;
    const finish = async (): Promise<void> => {
      const part = dst.subarray(runDst, runDst + runLen);
      if (runKind === Kind.Zero) part.fill(0);
      else if (runKind === Kind.Unallocated) await this.readBacking(offset + runDst, part);
      else if (runKind === Kind.Normal) await readFull(this.fh, part, runHost);
      runKind = -1;
    };
    for (let pos = 0; pos < dst.length;) {
      const vo = offset + pos;
      const gc = Math.floor(vo / this.cs);
      const inOff = vo - gc * this.cs;
      const n = Math.min(this.cs - inOff, dst.length - pos);
      await this.lookup(gc, m);
      if (m.kind === Kind.Compressed) {
        if (runKind >= 0) await finish();
        const data = await this.readCompressed(m.hi, m.lo);
        dst.set(data.subarray(inOff, inOff + n), pos);
      } else if (runKind === m.kind && (m.kind !== Kind.Normal || runHost + runLen === m.host + inOff)) {
        runLen += n;
      } else {
        if (runKind >= 0) await finish();
        runKind = m.kind; runDst = pos; runLen = n; runHost = m.host + inOff;
      }
      pos += n;
    }
    if (runKind >= 0) await finish();
  }

  // ---- writing ----

  private markL1Dirty(i: number): void {
    this.l1DirtyLo = Math.min(this.l1DirtyLo, i);
    this.l1DirtyHi = Math.max(this.l1DirtyHi, i);
  }

  /** The L2 table for L1 index `l1i`, allocated (empty: everything reads through) if missing. */
  private async l2ForWrite(l1i: number): Promise<number> {
    const at = l1i * 8;
    const off = entryOffset(this.l1dv, at);
    if (off > 0) {
      const hi = this.l1dv.getUint32(at);
      if (!(hi & HI_COPIED)) {
        this.l1dv.setUint32(at, (hi | HI_COPIED) >>> 0);
        this.markL1Dirty(l1i);
      }
      return off;
    }
    const c = await this.refcounts!.allocate(1);
    const l2off = c * this.cs;
    this.l2Cache.set(l2off, new Uint8Array(this.cs));
    this.dirtyL2.add(l2off);
    this.l2Offsets.add(l2off);
    this.l1dv.setUint32(at, (HI_COPIED | Math.floor(l2off / 0x100000000)) >>> 0);
    this.l1dv.setUint32(at + 4, l2off % 0x100000000);
    this.markL1Dirty(l1i);
    return l2off;
  }

  /** Throws if a data write at [off, off+len) would land on metadata (a hostile or corrupt image). */
  private checkDataTarget(off: number, len: number): void {
    const l1End = this.h.l1TableOffset + this.l1.length;
    let clash = off < this.cs
      || (off < l1End && this.h.l1TableOffset < off + len)
      || this.refcounts!.overlapsMetadata(off, len);
    const first = Math.floor(off / this.cs) * this.cs;
    for (let c = first; !clash && c < off + len; c += this.cs) clash = this.l2Offsets.has(c);
    if (clash) throw new BlockError(`${this.file}: corrupt qcow2 image: data cluster at ${off} overlaps metadata`);
  }

  /** Writes `data` at guest offset `vo`; the range lies within one L2 table. */
  private async writeInL2(vo: number, data: Uint8Array): Promise<void> {
    const cs = this.cs;
    const l1i = Math.floor(vo / (this.l2n * cs));
    if (this.backing === null && entryOffset(this.l1dv, l1i * 8) === 0 && isZero(data)) return; // already zeros
    const l2off = await this.l2ForWrite(l1i);
    const g0 = Math.floor(vo / cs);
    const count = Math.floor((vo + data.length - 1) / cs) - g0 + 1;
    const maps: Mapping[] = [];
    for (let i = 0; i < count; i++) {
      const m: Mapping = { kind: Kind.Unallocated, host: 0, hi: 0, lo: 0 };
      await this.lookup(g0 + i, m);
      maps.push(m);
    }
    const inPlace = (m: Mapping): boolean => m.kind === Kind.Normal && (m.hi & HI_COPIED) !== 0;
    for (let i = 0; i < count;) {
      const first = maps[i]!;
      let j = i + 1;
      if (inPlace(first)) {
        while (j < count && inPlace(maps[j]!) && maps[j]!.host === first.host + (j - i) * cs) j++;
      } else {
        while (j < count && !inPlace(maps[j]!)) j++;
      }
      const runStart = Math.max(vo, (g0 + i) * cs);
      const runEnd = Math.min(vo + data.length, (g0 + j) * cs);
      const part = data.subarray(runStart - vo, runEnd - vo);
      if (inPlace(first)) {
        const host = first.host + (runStart - (g0 + i) * cs);
        this.checkDataTarget(host, part.length);
        await writeFull(this.fh, part, host);
        this.fileEnd = Math.max(this.fileEnd, host + part.length);
      } else {
        await this.allocateRun(l2off, g0 + i, maps.slice(i, j), runStart, part);
      }
      i = j;
    }
  }

  /** Writes `part` (guest offset `runStart`) into fresh clusters for guest clusters gFirst.., then maps them. */
  private async allocateRun(l2off: number, gFirst: number, old: Mapping[], runStart: number, part: Uint8Array): Promise<void> {
    const cs = this.cs;
    const n = old.length;
    // Zeros over clusters that already read as zeros (mkfs writes plenty): nothing to do.
    const readsZero = (m: Mapping): boolean => m.kind === Kind.Zero || (m.kind === Kind.Unallocated && this.backing === null);
    if (old.every(readsZero) && isZero(part)) return;
    const c0 = await this.refcounts!.allocate(n);
    const host = c0 * cs;
    const base = gFirst * cs;
    if (runStart === base && part.length === n * cs) {
      await writeFull(this.fh, part, host);
    } else {
      // Partial first/last cluster: copy the current guest contents (backing, zeros, old data) around it.
      const buf = new Uint8Array(n * cs);
      if (runStart > base) await this.readGuestCluster(gFirst, buf.subarray(0, cs));
      const endIn = runStart + part.length - base;
      if (endIn < n * cs && (n > 1 || runStart === base)) await this.readGuestCluster(gFirst + n - 1, buf.subarray((n - 1) * cs));
      buf.set(part, runStart - base);
      await writeFull(this.fh, buf, host);
    }
    this.fileEnd = Math.max(this.fileEnd, host + n * cs);
    const l2 = await this.loadL2(l2off);
    for (let i = 0; i < n; i++) {
      const o = old[i]!;
      if (o.kind === Kind.Compressed) {
        const { off, end } = this.compressedSpan(o.hi, o.lo);
        const fc = Math.floor(off / cs);
        this.refcounts!.freeLater(fc, Math.floor((end - 1) / cs) - fc + 1);
      } else if (o.host !== 0) {
        this.refcounts!.freeLater(o.host / cs, 1);
      }
      const h = host + i * cs;
      putEntry(l2, ((gFirst + i) % this.l2n) * 8, (HI_COPIED | Math.floor(h / 0x100000000)) >>> 0, h % 0x100000000);
    }
    this.l2Cache.set(l2off, l2);
    this.dirtyL2.add(l2off);
  }

  /** Reads guest cluster `gc` into `dst` (one cluster); the part past the disk's end reads as zeros. */
  private async readGuestCluster(gc: number, dst: Uint8Array): Promise<void> {
    const n = Math.max(0, Math.min(this.cs, this.sizeBytes - gc * this.cs));
    if (n > 0) await this.readAt(gc * this.cs, dst.subarray(0, n));
    dst.fill(0, n);
  }

  /**
   * Writes cached metadata back in crash-safe order (see the file header). Returns true if it
   * wrote anything (and so ended with an fdatasync).
   */
  private async writeBack(): Promise<boolean> {
    const rc = this.refcounts;
    if (rc === null) return false;
    const tables = this.dirtyL2.size > 0 || this.l1DirtyHi >= 0;
    if (!rc.dirty && !tables) return false;
    // Phase 1: refcounts for everything newly allocated (and the header if the table moved).
    await rc.writeDirty();
    if (rc.headerDirty) {
      const hdr = new Uint8Array(12);
      const dv = new DataView(hdr.buffer);
      dv.setBigUint64(0, BigInt(rc.tableOffset));
      dv.setUint32(8, rc.tableClusters);
      await writeFull(this.fh, hdr, HDR_REFCOUNT_TABLE_OFFSET);
      rc.headerDirty = false;
    }
    await this.sync();
    // Phase 2: the tables that reference the new clusters.
    if (tables) {
      for (const off of [...this.dirtyL2].sort((a, b) => a - b)) {
        const t = this.l2Cache.get(off);
        if (t !== undefined) await writeFull(this.fh, t, off);
        this.dirtyL2.delete(off);
        this.fileEnd = Math.max(this.fileEnd, off + this.cs);
      }
      if (this.l1DirtyHi >= 0) {
        const lo = this.l1DirtyLo * 8;
        const hi = (this.l1DirtyHi + 1) * 8;
        await writeFull(this.fh, this.l1.subarray(lo, hi), this.h.l1TableOffset + lo);
        this.l1DirtyLo = Number.MAX_SAFE_INTEGER;
        this.l1DirtyHi = -1;
      }
      await this.sync();
    }
    // Phase 3: release what the tables on disk no longer use.
    if (await rc.applyPendingFrees()) {
      await rc.writeDirty();
      await this.sync();
    }
    this.fileEnd = Math.max(this.fileEnd, rc.allocatedEnd);
    return true;
  }
}

/** Checks every L1 entry (aligned, inside the file, not on other metadata); returns the L2 offsets. */
function validateL1(l1: Uint8Array, h: Qcow2Header, fileSize: number, file: string): Set<number> {
  const cs = 2 ** h.clusterBits;
  const dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
  const out = new Set<number>();
  const rtEnd = h.refcountTableOffset + h.refcountTableClusters * cs;
  for (let i = 0; i < h.l1Size; i++) {
    const off = entryOffset(dv, i * 8);
    if (off === 0) continue;
    const bad = (msg: string): BlockError => new BlockError(`${file}: corrupt qcow2 image: L1 entry ${i}: L2 table ${msg}`);
    if (off < 0 || off + cs > fileSize) throw bad(`at ${off < 0 ? 'a huge offset' : off} is past the end of the file (${fileSize} bytes)`);
    if (off % cs !== 0) throw bad(`offset ${off} is not cluster-aligned`);
    if (off < cs) throw bad('overlaps the header');
    if (off < h.l1TableOffset + l1.length && h.l1TableOffset < off + cs) throw bad(`at ${off} overlaps the L1 table`);
    if (off < rtEnd && h.refcountTableOffset < off + cs) throw bad(`at ${off} overlaps the refcount table`);
    out.add(off);
  }
  return out;
}

async function openBackingFile(file: string, h: Qcow2Header, opts: Qcow2OpenOptions): Promise<BlockBackend> {
  const path = resolve(dirname(file), h.backingFile!);
  const fmt = h.backingFormat;
  if (fmt !== null && fmt !== 'raw' && fmt !== 'qcow2') throw new BlockError(`${file}: unsupported backing file format '${fmt}'`);
  try {
    return await opts.openBacking(path, fmt ?? 'auto');
  } catch (err) {
    throw new BlockError(`${file}: backing file: ${err instanceof Error ? err.message : String(err)}`);
  }
}
