// Assembles the project's test programs with Debian's nasm at test time, into a temp dir.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (dist/test/support → ../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const outDir = mkdtempSync(join(tmpdir(), 'hvm-asm-'));

/** Assembles `source` (a path relative to the repo root) to a flat binary; returns its path. */
export function assemble(source: string, patch?: (image: Uint8Array) => void): string {
  const src = join(repoRoot, source);
  const name = source.replace(/[/.]/g, '_');
  const out = join(outDir, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-I', `${dirname(src)}/`, '-o', out, src]);
  if (patch) {
    const image = new Uint8Array(readFileSync(out));
    patch(image);
    writeFileSync(out, image);
  }
  return out;
}

/** A scratch path in the same temp dir. */
export function scratch(name: string): string { return join(outDir, name); }
