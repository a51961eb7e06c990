// Extra files for a built initramfs without rebuilding it: a second, uncompressed cpio archive
// appended to the first. The kernel unpacks concatenated archives in order (compressed or not,
// each starting on a 4-byte boundary, zero padding between them skipped), so the extra files
// land beside the default guest's. Tests and benchmarks use it for scripts longer than the
// kernel command line allows (2047 bytes on x86) and for small guest programs.

import { CpioWriter } from './cpio.js';

/** A file to add: its path in the guest (no leading slash needed), contents and mode. */
export interface ExtraFile { path: string; data: Uint8Array; mode?: number }

/** `initrd` followed by an archive holding `files` (their parent directories must exist or be listed first). */
export function appendToInitrd(initrd: Uint8Array, files: readonly ExtraFile[]): Uint8Array {
  const w = new CpioWriter();
  for (const f of files) w.add({ kind: 'file', path: f.path.replace(/^\/+/, ''), data: f.data, mode: f.mode ?? 0o644 });
  const extra = w.finish();
  const pad = (4 - (initrd.length % 4)) % 4;
  const out = new Uint8Array(initrd.length + pad + extra.length);
  out.set(initrd, 0);
  out.set(extra, initrd.length + pad);
  return out;
}
