// Block backends: the interface the IDE controller uses, and openDrive(), which probes an image's
// format and opens it (raw or qcow2, read-only, or with a copy-on-write overlay in a temp file).
//
// Every operation is asynchronous (node:fs/promises; see file-io.ts for why not a worker), so the
// device-model thread never blocks on the disk. Errors are BlockError with a one-line message
// naming the file; the IDE turns a failed read/write/flush into an ATA error status.

import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BlockError, describeFsError, readFull } from './file-io.js';
import { RawBackend } from './raw.js';
import { Qcow2Backend } from './qcow2.js';
import { createQcow2 } from './qcow2-header.js';

export { BlockError, checkRange } from './file-io.js';
export { createQcow2 } from './qcow2-header.js';

/** A virtual disk: byte offsets, multiples of 512; requests may be large and concurrent. */
export interface BlockBackend {
  readonly sectorSize: 512;
  /** Size the guest sees, a multiple of 512. */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  read(offset: number, dst: Uint8Array): Promise<void>;
  write(offset: number, src: Uint8Array): Promise<void>;
  /** Resolves once everything written before it is on stable storage (fdatasync). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Image formats openDrive understands. */
export type DriveFormat = 'raw' | 'qcow2';

/** What `--drive file=…,format=…,readonly=on,snapshot=on` asks for. */
export interface OpenDriveOptions {
  file: string;
  format?: DriveFormat | 'auto';
  readOnly?: boolean;
  /** Writes go to a temporary qcow2 overlay (deleted at once, gone at close); the file is never written. */
  snapshot?: boolean;
}

/** Sector size every backend uses. */
export const SECTOR_SIZE = 512;

/** Longest backing chain followed before refusing (stops loops a realpath check might miss). */
export const MAX_BACKING_DEPTH = 16;

const QCOW_MAGIC = [0x51, 0x46, 0x49, 0xfb];

/** Magic numbers of formats we do not read, so the error can say what the file is. */
const FOREIGN_MAGIC: readonly { name: string; at: number; magic: string }[] = [
  { name: 'vmdk', at: 0, magic: 'KDMV' },
  { name: 'vdi', at: 64, magic: '\x7f\x10\xda\xbe' },
  { name: 'vhdx', at: 0, magic: 'vhdxfile' },
  { name: 'vpc (vhd)', at: 0, magic: 'conectix' },
  { name: 'qed', at: 0, magic: 'QED\x00' },
  { name: 'dmg', at: 0, magic: 'koly' },
];

/** Reads the first bytes of `file` and names its format: qcow2 or raw (or throws for a known foreign one). */
export async function probeFormat(file: string): Promise<DriveFormat> {
  let head: Uint8Array;
  try {
    const fh = await open(file, 'r');
    try {
      head = new Uint8Array(512);
      await readFull(fh, head, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw describeFsError(file, err);
  }
  if (QCOW_MAGIC.every((b, i) => head[i] === b)) return 'qcow2';
  for (const f of FOREIGN_MAGIC) {
    const bytes = Buffer.from(f.magic, 'latin1');
    if (bytes.every((b, i) => head[f.at + i] === b)) {
      throw new BlockError(`${file}: unsupported image format ${f.name} (convert it: qemu-img convert -O qcow2)`);
    }
  }
  return 'raw';
}

/** Opens an image as a backend (the recursion for backing files; `depth` counts links followed). */
export async function openImage(
  file: string, format: DriveFormat | 'auto', readOnly: boolean, depth = 0,
): Promise<BlockBackend> {
  if (depth > MAX_BACKING_DEPTH) throw new BlockError(`${file}: backing chain deeper than ${MAX_BACKING_DEPTH} (a loop?)`);
  const fmt = format === 'auto' ? await probeFormat(file) : format;
  if (fmt === 'raw') return RawBackend.open(file, readOnly);
  return Qcow2Backend.open(file, {
    readOnly,
    openBacking: (path, bfmt) => openImage(path, bfmt, true, depth + 1),
  });
}

/** Requests started on drives opened by openDrive, in this thread, not yet settled. */
let inFlight = 0;

/**
 * How many block requests are under way. The device model polls it: while the disk works it must
 * not sleep in the ioreq wait, or each completion (a libuv callback on its event loop) would
 * wait for the sleep to end — milliseconds per request instead of microseconds.
 */
export function blockRequestsInFlight(): number { return inFlight; }

/** Called when a request starts (the device model ends its ioreq wait so the event loop runs). */
let onStart: (() => void) | null = null;

/** Sets the hook called each time a block request starts (one per thread; null to remove). */
export function onBlockRequestStart(hook: (() => void) | null): void { onStart = hook; }

function tracked<T>(p: Promise<T>): Promise<T> {
  inFlight++;
  onStart?.();
  return p.finally(() => { inFlight--; });
}

/** A backend whose requests count in blockRequestsInFlight(). */
class TrackedBackend implements BlockBackend {
  readonly sectorSize = 512;
  constructor(private readonly inner: BlockBackend) {}
  get sizeBytes(): number { return this.inner.sizeBytes; }
  get readOnly(): boolean { return this.inner.readOnly; }
  read(offset: number, dst: Uint8Array): Promise<void> { return tracked(this.inner.read(offset, dst)); }
  write(offset: number, src: Uint8Array): Promise<void> { return tracked(this.inner.write(offset, src)); }
  flush(): Promise<void> { return tracked(this.inner.flush()); }
  close(): Promise<void> { return tracked(this.inner.close()); }
}

/** Opens a drive as the CLI describes it: probes the format and wires read-only and snapshot modes. */
export async function openDrive(opts: OpenDriveOptions): Promise<BlockBackend> {
  const format = opts.format ?? 'auto';
  if (format !== 'auto' && format !== 'raw' && format !== 'qcow2') {
    throw new BlockError(`${opts.file}: unknown format '${String(format)}' (use raw or qcow2)`);
  }
  const file = resolve(opts.file);
  if (!opts.snapshot) return new TrackedBackend(await openImage(file, format, opts.readOnly ?? false));
  const base = await openImage(file, format, true);
  try {
    return new TrackedBackend(await openSnapshotOverlay(base, opts.readOnly ?? false));
  } catch (err) {
    await base.close();
    throw err;
  }
}

/**
 * Puts a copy-on-write qcow2 overlay over `base` in a temp file that is unlinked as soon as it is
 * open, so guest writes cost disk space (not RAM) and vanish at close or on a crash.
 */
async function openSnapshotOverlay(base: BlockBackend, readOnly: boolean): Promise<BlockBackend> {
  const path = join(tmpdir(), `hvm-snapshot-${process.pid}-${randomBytes(6).toString('hex')}.qcow2`);
  await createQcow2(path, base.sizeBytes);
  try {
    return await Qcow2Backend.open(path, {
      readOnly,
      backing: base,
      openBacking: () => Promise.reject(new BlockError('snapshot overlay has no backing file name')),
    });
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
