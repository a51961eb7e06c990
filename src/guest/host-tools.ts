// Finding and running the host's Debian tools (apt-get, dpkg-deb, depmod, xz) for the guest
// builder: PATH plus the sbin directories a non-root PATH often lacks, and a spawn wrapper that
// hands output to a logger line by line.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** Absolute path of an executable on PATH (or in the sbin directories), or null. */
export function findTool(name: string, path: string = process.env['PATH'] ?? ''): string | null {
  const dirs = [...path.split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* not here */ }
  }
  return null;
}

/** What a finished child process left. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; `onLine` sees each stdout/stderr line as it arrives. */
export function run(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; onLine?: (line: string, stream: 'stdout' | 'stderr') => void; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] };
    const partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      const text = partial[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const l of lines) {
        out[stream].push(l);
        opts.onLine?.(l, stream);
      }
    };
    child.stdout.on('data', (c: Buffer) => feed('stdout', c));
    child.stderr.on('data', (c: Buffer) => feed('stderr', c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of ['stdout', 'stderr'] as const) {
        if (partial[s] !== '') {
          out[s].push(partial[s]);
          opts.onLine?.(partial[s], s);
        }
      }
      resolve({ code: code ?? (signal ? 128 : 1), stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') });
    });
  });
}
