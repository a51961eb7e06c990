// Raw images: the disk is the file, byte for byte. Sparse-friendly: zeros written past the end of
// the file are not written at all (the hole already reads as zeros), and a file shorter than the
// disk reads as zeros up to the disk's size.

import { open, type FileHandle } from 'node:fs/promises';
import type { BlockBackend } from './block.js';
import { BlockError, checkRange, describeFsError, isZero, readFull, writeFull } from './file-io.js';

/** Granularity at which zero runs past EOF are skipped. */
const SPARSE_CHUNK = 64 * 1024;

/** A raw image file. */
export class RawBackend implements BlockBackend {
  readonly sectorSize = 512;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
    /** Host file length as far as we know; only grows (we never truncate). */
    private fileEnd: number,
  ) {}

  /** Opens `file`; the disk size is the file size rounded up to a sector unless `sizeBytes` is given. */
  static async open(file: string, readOnly: boolean, sizeBytes?: number): Promise<RawBackend> {
    let fh: FileHandle;
    try {
      fh = await open(file, readOnly ? 'r' : 'r+');
    } catch (err) {
      throw describeFsError(file, err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() && !st.isBlockDevice()) throw new BlockError(`${file}: not a regular file`);
      const size = sizeBytes ?? Math.ceil(st.size / 512) * 512;
      if (size % 512 !== 0) throw new BlockError(`${file}: disk size ${size} is not a multiple of 512`);
      return new RawBackend(fh, file, size, readOnly, st.size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.checkOpen();
    checkRange(this.sizeBytes, this.file, offset, dst.length);
    await readFull(this.fh, dst, offset);
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new BlockError(`${this.file}: write to a read-only disk`);
    checkRange(this.sizeBytes, this.file, offset, src.length);
    const end = offset + src.length;
    // Below the known end of file every byte is written as given: we do not know what is there.
    const dense = Math.max(0, Math.min(end, this.fileEnd) - offset);
    if (dense > 0) await writeFull(this.fh, src.subarray(0, dense), offset);
    // Past it, write only the chunks that hold data; the rest stays a hole (reads as zeros).
    let runStart = -1;
    let lastEnd = offset + dense;
    for (let pos = dense; pos < src.length; pos += SPARSE_CHUNK) {
      const chunk = src.subarray(pos, Math.min(src.length, pos + SPARSE_CHUNK));
      if (!isZero(chunk)) {
        if (runStart < 0) runStart = pos;
        continue;
      }
      if (runStart >= 0) {
        await writeFull(this.fh, src.subarray(runStart, pos), offset + runStart);
        lastEnd = offset + pos;
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      await writeFull(this.fh, src.subarray(runStart), offset + runStart);
      lastEnd = end;
    }
    this.fileEnd = Math.max(this.fileEnd, lastEnd);
  }

  async flush(): Promise<void> {
    this.checkOpen();
    if (this.readOnly) return;
    try {
      await this.fh.datasync();
    } catch (err) {
      throw describeFsError(this.file, err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockError(`${this.file}: disk is closed`);
  }
}
