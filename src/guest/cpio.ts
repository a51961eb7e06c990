// cpio "newc" archive writer (SVR4 portable format without checksum, magic 070701), the format
// the Linux kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst). Every header field is 8 ASCII hex digits; the header plus the NUL-terminated
// name is padded to a multiple of 4 bytes, and so is the file data. The archive ends with an
// entry named "TRAILER!!!". All mtimes are 0 so the same inputs give the same bytes.

/** File-type bits of st_mode (the `S_IF*` values cpio stores in c_mode). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

const NEWC_MAGIC = '070701';
const HEADER_LEN = 110;
const TRAILER_NAME = 'TRAILER!!!';
/** newc fields are 8 hex digits: anything larger cannot be represented. */
const FIELD_MAX = 0xffffffff;

/** One archive member, as added to a `CpioWriter`. */
export type CpioEntry =
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

interface HeaderFields {
  ino: number;
  mode: number;
  nlink: number;
  filesize: number;
  rdevMajor: number;
  rdevMinor: number;
  namesize: number;
}

function hex8(v: number, what: string): string {
  if (!Number.isInteger(v) || v < 0 || v > FIELD_MAX) throw new Error(`cpio: ${what} ${v} does not fit a newc field`);
  return v.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Archive paths are relative ("bin/sh"), without "./", "..", or empty components. */
function normalizePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new Error(`cpio: empty path '${path}'`);
  if (parts.includes('..')) throw new Error(`cpio: path '${path}' contains '..'`);
  return parts.join('/');
}

/**
 * In-memory newc writer: `add()` entries (parents first, as the kernel creates them in order),
 * then `finish()` for the archive bytes. Inode numbers are assigned sequentially from 1.
 */
export class CpioWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly seen = new Set<string>();
  private nextIno = 1;
  private length = 0;
  private finished = false;

  /** Appends one member; throws on a duplicate path or after `finish()`. */
  add(entry: CpioEntry): void {
    if (this.finished) throw new Error('cpio: archive already finished');
    const name = normalizePath(entry.path);
    if (this.seen.has(name)) throw new Error(`cpio: duplicate path '${name}'`);
    this.seen.add(name);
    const ino = this.nextIno++;
    switch (entry.kind) {
      case 'file':
        this.emit(name, { ino, mode: S_IFREG | ((entry.mode ?? 0o644) & 0o7777), nlink: 1, filesize: entry.data.length, rdevMajor: 0, rdevMinor: 0, namesize: 0 }, entry.data);
        break;
      case 'dir':
        this.emit(name, { ino, mode: S_IFDIR | ((entry.mode ?? 0o755) & 0o7777), nlink: 2, filesize: 0, rdevMajor: 0, rdevMinor: 0, namesize: 0 }, null);
        break;
      case 'symlink': {
        // A symlink's data is its target, without a terminating NUL.
        const target = Buffer.from(entry.target, 'utf8');
        this.emit(name, { ino, mode: S_IFLNK | 0o777, nlink: 1, filesize: target.length, rdevMajor: 0, rdevMinor: 0, namesize: 0 }, target);
        break;
      }
      case 'chardev':
        this.emit(name, { ino, mode: S_IFCHR | ((entry.mode ?? 0o600) & 0o7777), nlink: 1, filesize: 0, rdevMajor: entry.major, rdevMinor: entry.minor, namesize: 0 }, null);
        break;
    }
  }

  /** True when `path` was already added (so callers can create parent directories once). */
  has(path: string): boolean {
    return this.seen.has(normalizePath(path));
  }

  /** Appends the TRAILER!!! entry and returns the whole archive. */
  finish(): Buffer {
    if (!this.finished) {
      this.emit(TRAILER_NAME, { ino: 0, mode: 0, nlink: 1, filesize: 0, rdevMajor: 0, rdevMinor: 0, namesize: 0 }, null);
      this.finished = true;
    }
    return Buffer.concat(this.chunks, this.length);
  }

  private emit(name: string, f: HeaderFields, data: Uint8Array | null): void {
    const nameBytes = Buffer.from(name + '\0', 'utf8');
    const header =
      NEWC_MAGIC +
      hex8(f.ino, 'inode') +
      hex8(f.mode, 'mode') +
      hex8(0, 'uid') +
      hex8(0, 'gid') +
      hex8(f.nlink, 'nlink') +
      hex8(0, 'mtime') +
      hex8(f.filesize, 'file size') +
      hex8(0, 'devmajor') +
      hex8(0, 'devminor') +
      hex8(f.rdevMajor, 'rdevmajor') +
      hex8(f.rdevMinor, 'rdevminor') +
      hex8(nameBytes.length, 'name size') +
      hex8(0, 'check');
    this.push(Buffer.from(header, 'ascii'));
    this.push(nameBytes);
    this.push(Buffer.alloc(pad4(HEADER_LEN + nameBytes.length)));
    if (data !== null && data.length > 0) {
      this.push(data);
      this.push(Buffer.alloc(pad4(data.length)));
    }
  }

  private push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }
}

/** One member read back by `parseCpio` (used by tests and for inspecting built images). */
export interface CpioMember {
  name: string;
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** Parses a newc archive up to its trailer; throws on a malformed header. */
export function parseCpio(buf: Buffer): CpioMember[] {
  const out: CpioMember[] = [];
  let off = 0;
  const field = (i: number): number => {
    const s = buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8);
    if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new Error(`cpio: bad header field at ${off}`);
    return parseInt(s, 16);
  };
  while (off + HEADER_LEN <= buf.length) {
    if (buf.toString('ascii', off, off + 6) !== NEWC_MAGIC) throw new Error(`cpio: bad magic at ${off}`);
    const namesize = field(11);
    const filesize = field(6);
    const nameStart = off + HEADER_LEN;
    const name = buf.toString('utf8', nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(HEADER_LEN + namesize);
    if (dataStart + filesize > buf.length) throw new Error(`cpio: truncated member '${name}'`);
    if (name === TRAILER_NAME) return out;
    out.push({
      name,
      ino: field(0),
      mode: field(1),
      nlink: field(4),
      mtime: field(5),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: buf.subarray(dataStart, dataStart + filesize),
    });
    off = dataStart + filesize + pad4(filesize);
  }
  throw new Error('cpio: no TRAILER!!! entry');
}
