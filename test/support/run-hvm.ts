// Runs the hvm CLI as a user would (a child process) and collects what the guest printed.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './asm.js';

/** What one run produced. */
export interface HvmRun { status: number | null; stdout: string; stderr: string; ms: number }

/** Runs `hvm <args>` with optional stdin text; kills it after `timeoutMs`. */
export function runHvm(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<HvmRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('latin1'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    if (opts.input !== undefined) child.stdin.write(opts.input);
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
