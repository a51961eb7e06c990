// Host-file helpers shared by the block backends: whole-buffer positional reads and writes on a
// node:fs/promises FileHandle, and one-line messages for the host errors a user can fix.
//
// Why FileHandle and not a worker: FileHandle.read/write/datasync run on libuv's thread pool,
// so the device-model thread never blocks on the disk, and the guest buffer is handed to the
// syscall without a copy. A worker would add a postMessage hop (and a copy, unless the buffer
// were shared) for no gain; only CPU-bound work (inflate) could justify one, and node:zlib's
// asynchronous API already runs that on the same pool.

import type { FileHandle } from 'node:fs/promises';

/** A host-side error from a block backend: a bad file, a corrupt image, a refused operation. */
export class BlockError extends Error {
  override name = 'BlockError';
}

/** Bound on read/write syscalls per request, so a file that keeps returning 0 cannot spin us. */
const MAX_SHORT_IO = 1024;

/**
 * Reads `dst.length` bytes at `pos`; bytes past the end of the file read as zeros.
 * Returns how many bytes came from the file.
 */
export async function readFull(fh: FileHandle, dst: Uint8Array, pos: number): Promise<number> {
  let done = 0;
  for (let n = 0; n < MAX_SHORT_IO && done < dst.length; n++) {
    const { bytesRead } = await fh.read(dst, done, dst.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  if (done < dst.length) dst.fill(0, done);
  return done;
}

/** Writes all of `src` at `pos`. */
export async function writeFull(fh: FileHandle, src: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  for (let n = 0; n < MAX_SHORT_IO && done < src.length; n++) {
    const { bytesWritten } = await fh.write(src, done, src.length - done, pos + done);
    if (bytesWritten === 0) break;
    done += bytesWritten;
  }
  if (done < src.length) throw new BlockError(`short write at offset ${pos} (${done} of ${src.length} bytes)`);
}

/** True when every byte of `b` is zero (checked a word at a time where aligned). */
export function isZero(b: Uint8Array): boolean {
  let i = 0;
  if ((b.byteOffset & 3) === 0) {
    const words = b.length >>> 2;
    const w = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let j = 0; j < words; j++) if (w[j] !== 0) return false;
    i = words << 2;
  }
  for (; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** A one-line description of a host fs error (`ENOENT` → "no such file"). */
export function describeFsError(file: string, err: unknown): BlockError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied (for a read-only disk use readonly=on)',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system (use readonly=on)',
    EISDIR: 'is a directory',
    ELOOP: 'too many symbolic links',
    ENOTDIR: 'a path component is not a directory',
    EMFILE: 'too many open files',
  };
  const msg = why[code] ?? (err instanceof Error ? err.message : String(err));
  return new BlockError(`${file}: ${msg}`);
}

/** Runs async jobs one at a time, in call order; a failed job does not stop the queue. */
export class Serializer {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job, job);
    this.tail = p.then(noop, noop);
    return p;
  }
}

function noop(): void {}

/** Throws unless [offset, offset+len) is 512-byte aligned and inside a disk of `sizeBytes`. */
export function checkRange(sizeBytes: number, where: string, offset: number, len: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 512 !== 0 || len % 512 !== 0) {
    throw new BlockError(`${where}: request at ${offset}+${len} is not sector-aligned`);
  }
  if (offset + len > sizeBytes) {
    throw new BlockError(`${where}: request at ${offset}+${len} is past the end of the disk (${sizeBytes} bytes)`);
  }
}
