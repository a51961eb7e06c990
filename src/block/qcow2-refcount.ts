// qcow2 refcounts (== Host cluster management ==): the refcount table and its blocks, cluster
// allocation at the end of the file, refcount block allocation and refcount table growth.
// 16-bit refcounts only (refcount_order 4, the default); other orders are refused for writing.
//
// Changes are cached and written back by Qcow2Backend.writeBack in an order that keeps the image
// consistent at every step: new refcounts reach the disk before any table points at the clusters
// they count, and decrements (freed clusters, an old refcount table) only after the tables that
// stopped pointing at them are on disk. A crash can leak clusters; it cannot make a reference
// with a refcount of 0.

import type { FileHandle } from 'node:fs/promises';
import { BlockError, readFull, writeFull } from './file-io.js';
import { MAX_REFCOUNT_TABLE_BYTES, entryOffset } from './qcow2-header.js';

/** Clean refcount blocks kept in memory. */
const BLOCK_CACHE_MAX = 256;
/** Clusters with a surprising non-zero refcount skipped before allocation gives up. */
const FREE_SCAN_MAX = 65536;
/** Nesting of block creation / table growth; each level moves past at most one block. */
const NEST_MAX = 8;

/** The refcount structures of a writable image. */
export class Refcounts {
  private readonly cs: number;
  private readonly perBlock: number;
  private table: number[];
  private tableDirty = false;
  /** Set when the refcount table moved: the header's refcount_table_offset/clusters must be rewritten. */
  headerDirty = false;
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly dirtyBlocks = new Set<number>();
  private pendingFree: number[] = [];
  /** Cluster indices holding refcount blocks (for metadata overlap checks). */
  private readonly blockClusters = new Set<number>();
  /** Next cluster index to try when allocating; everything from here up is assumed free. */
  private nextFree: number;

  private constructor(
    private readonly fh: FileHandle,
    private readonly where: string,
    clusterBits: number,
    table: number[],
    public tableOffset: number,
    public tableClusters: number,
    fileSize: number,
  ) {
    this.cs = 2 ** clusterBits;
    this.perBlock = this.cs / 2;
    this.table = table;
    for (const off of table) if (off !== 0) this.blockClusters.add(off / this.cs);
    this.nextFree = Math.ceil(fileSize / this.cs);
  }

  /**
   * Reads and validates the refcount table: every block cluster-aligned, inside the file, not
   * overlapping the header, the table itself or `reserved` (the L1 table), and not shared.
   */
  static async load(
    fh: FileHandle, where: string, clusterBits: number, tableOffset: number, tableClusters: number,
    fileSize: number, reserved: { off: number; len: number },
  ): Promise<Refcounts> {
    const cs = 2 ** clusterBits;
    const raw = new Uint8Array(tableClusters * cs);
    await readFull(fh, raw, tableOffset);
    const dv = new DataView(raw.buffer);
    const table: number[] = new Array<number>(raw.length / 8).fill(0);
    const seen = new Set<number>();
    const bad = (i: number, msg: string): BlockError => new BlockError(`${where}: corrupt qcow2 refcount table: block ${i} ${msg}`);
    for (let i = 0; i < table.length; i++) {
      if (dv.getUint32(i * 8) === 0 && dv.getUint32(i * 8 + 4) === 0) continue;
      const off = entryOffset(dv, i * 8);
      if (off < 0 || off >= fileSize) throw bad(i, `at ${off < 0 ? 'a huge offset' : off} is past the end of the file`);
      if ((dv.getUint32(i * 8 + 4) & (cs - 1)) !== 0) throw bad(i, 'is not cluster-aligned');
      if (off === 0) throw bad(i, 'overlaps the header');
      if (off >= tableOffset && off < tableOffset + raw.length) throw bad(i, `at ${off} points into the refcount table itself`);
      if (off >= reserved.off && off < reserved.off + reserved.len) throw bad(i, `at ${off} overlaps the L1 table`);
      if (seen.has(off)) throw bad(i, `at ${off} is shared with another refcount block`);
      seen.add(off);
      table[i] = off;
    }
    return new Refcounts(fh, where, clusterBits, table, tableOffset, tableClusters, fileSize);
  }

  /** Number of dirty structures, for the write-back threshold. */
  get dirtyCount(): number {
    return this.dirtyBlocks.size + (this.tableDirty ? 1 : 0);
  }

  /** True if anything (refcounts, the table, pending frees) waits to be written. */
  get dirty(): boolean {
    return this.dirtyCount > 0 || this.headerDirty || this.pendingFree.length > 0;
  }

  /** End of the allocated area in bytes (clusters past the file's end may be allocated but unwritten). */
  get allocatedEnd(): number {
    return this.nextFree * this.cs;
  }

  /** True if [off, off+len) touches the refcount table or a refcount block. */
  overlapsMetadata(off: number, len: number): boolean {
    const tEnd = this.tableOffset + this.tableClusters * this.cs;
    if (off < tEnd && this.tableOffset < off + len) return true;
    const first = Math.floor(off / this.cs);
    const last = Math.floor((off + len - 1) / this.cs);
    for (let c = first; c <= last; c++) if (this.blockClusters.has(c)) return true;
    return false;
  }

  /** Refcount of cluster `c` (0 where no block exists). */
  async get(c: number): Promise<number> {
    const idx = Math.floor(c / this.perBlock);
    const off = this.table[idx] ?? 0;
    if (off === 0) return 0;
    const blk = await this.block(off);
    return (blk[(c % this.perBlock) * 2]! << 8) | blk[(c % this.perBlock) * 2 + 1]!;
  }

  /** Sets the refcount of cluster `c`, creating its refcount block (and growing the table) if needed. */
  async set(c: number, value: number, nest = 0): Promise<void> {
    if (value < 0 || value > 0xffff) throw new BlockError(`${this.where}: refcount ${value} out of range`);
    const idx = Math.floor(c / this.perBlock);
    if (idx >= this.table.length) await this.growTable(idx, nest + 1);
    if ((this.table[idx] ?? 0) === 0) await this.createBlock(idx, nest + 1);
    const off = this.table[idx]!;
    const blk = await this.block(off);
    const at = (c % this.perBlock) * 2;
    blk[at] = value >>> 8;
    blk[at + 1] = value & 0xff;
    this.dirtyBlocks.add(off);
  }

  /** Allocates `n` contiguous clusters (refcount 1) at the end of the image; returns the first index. */
  async allocate(n: number): Promise<number> {
    for (let tries = 0; tries < FREE_SCAN_MAX; tries++) {
      const start = this.nextFree;
      let busy = -1;
      for (let c = start; c < start + n; c++) if ((await this.get(c)) !== 0) busy = c;
      if (busy >= 0) {
        this.nextFree = busy + 1;
        continue;
      }
      this.nextFree = start + n;
      // Setting a refcount may create a block, which takes the next free cluster (past our range).
      for (let c = start; c < start + n; c++) await this.set(c, 1);
      return start;
    }
    throw new BlockError(`${this.where}: no free clusters found (corrupt refcounts?)`);
  }

  /** Queues clusters whose refcount drops by one once the tables that used them are on disk. */
  freeLater(first: number, count: number): void {
    for (let c = first; c < first + count; c++) this.pendingFree.push(c);
  }

  /** Writes dirty refcount blocks, then the table (blocks first, so the table never points at garbage). */
  async writeDirty(): Promise<boolean> {
    let wrote = false;
    for (const off of [...this.dirtyBlocks].sort((a, b) => a - b)) {
      const blk = this.blocks.get(off);
      if (blk !== undefined) await writeFull(this.fh, blk, off);
      this.dirtyBlocks.delete(off);
      wrote = true;
    }
    if (this.tableDirty) {
      const raw = new Uint8Array(this.tableClusters * this.cs);
      const dv = new DataView(raw.buffer);
      for (let i = 0; i < this.table.length; i++) dv.setBigUint64(i * 8, BigInt(this.table[i]!));
      await writeFull(this.fh, raw, this.tableOffset);
      this.tableDirty = false;
      wrote = true;
    }
    this.trimCache();
    return wrote;
  }

  /** Applies queued decrements in memory (the caller writes them with writeDirty). */
  async applyPendingFrees(): Promise<boolean> {
    const list = this.pendingFree;
    this.pendingFree = [];
    for (const c of list) {
      const v = await this.get(c);
      if (v > 0) await this.set(c, v - 1);
    }
    return list.length > 0;
  }

  private async block(off: number): Promise<Uint8Array> {
    const hit = this.blocks.get(off);
    if (hit !== undefined) return hit;
    const blk = new Uint8Array(this.cs);
    await readFull(this.fh, blk, off);
    this.blocks.set(off, blk);
    return blk;
  }

  private trimCache(): void {
    if (this.blocks.size <= BLOCK_CACHE_MAX) return;
    for (const off of this.blocks.keys()) {
      if (this.blocks.size <= BLOCK_CACHE_MAX / 2) break;
      if (!this.dirtyBlocks.has(off)) this.blocks.delete(off);
    }
  }

  /** Takes the next free cluster for a metadata structure. */
  private async takeFree(): Promise<number> {
    for (let n = 0; n < FREE_SCAN_MAX; n++) {
      const c = this.nextFree++;
      if ((await this.get(c)) === 0) return c;
    }
    throw new BlockError(`${this.where}: no free clusters found (corrupt refcounts?)`);
  }

  private async createBlock(idx: number, nest: number): Promise<void> {
    if (nest > NEST_MAX) throw new BlockError(`${this.where}: refcount block allocation did not converge`);
    const c = await this.takeFree();
    const off = c * this.cs;
    this.blocks.set(off, new Uint8Array(this.cs));
    this.dirtyBlocks.add(off);
    this.blockClusters.add(c);
    this.table[idx] = off;
    this.tableDirty = true;
    await this.set(c, 1, nest);
  }

  /** Moves the refcount table to a bigger one at the end of the file; the old one is freed later. */
  private async growTable(minIdx: number, nest: number): Promise<void> {
    if (nest > NEST_MAX) throw new BlockError(`${this.where}: refcount table growth did not converge`);
    const perCluster = this.cs / 8;
    const want = Math.max(this.table.length * 2, minIdx + 1 + 8);
    const clusters = Math.ceil(want / perCluster);
    if (clusters * this.cs > MAX_REFCOUNT_TABLE_BYTES) {
      throw new BlockError(`${this.where}: image too large: the refcount table would exceed ${MAX_REFCOUNT_TABLE_BYTES} bytes`);
    }
    let start = this.nextFree;
    for (let n = 0; n < FREE_SCAN_MAX; n++) {
      let busy = -1;
      for (let c = start; c < start + clusters; c++) if ((await this.get(c)) !== 0) busy = c;
      if (busy < 0) break;
      start = busy + 1;
    }
    this.nextFree = start + clusters;
    this.freeLater(this.tableOffset / this.cs, this.tableClusters);
    const grown = this.table.slice();
    while (grown.length < clusters * perCluster) grown.push(0);
    this.table = grown;
    this.tableOffset = start * this.cs;
    this.tableClusters = clusters;
    this.tableDirty = true;
    this.headerDirty = true;
    for (let c = start; c < start + clusters; c++) await this.set(c, 1, nest);
  }
}
