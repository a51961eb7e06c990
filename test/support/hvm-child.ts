// The hvm CLI as a long-running child process a test talks to: it waits for text on the
// guest's serial console (the child's stdout), types into it (stdin), and can kill the process
// at a chosen moment (SIGKILL, to test what survives a crash).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './asm.js';

/** A running `hvm` child process. */
export interface HvmChild {
  readonly child: ChildProcess;
  /** Everything the guest printed so far (latin1). */
  out(): string;
  /** Everything hvm wrote to stderr so far. */
  err(): string;
  /** Resolves once `re` matches the output after offset `from` (default 0); rejects after `ms` with the output's tail. */
  waitFor(re: RegExp, ms: number, from?: number): Promise<RegExpExecArray>;
  /** Types `text` on the guest's console. */
  write(text: string): void;
  /** The exit status (null when killed by a signal) and signal. */
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGKILL) if the process still runs. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `hvm <args>`; a watchdog SIGKILLs it after `maxMs`. */
export function spawnHvm(args: string[], maxMs = 900_000): HvmChild {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (b: Buffer) => {
    stdout += b.toString('latin1');
    for (const w of [...waiters]) w();
  });
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  let running = true;
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (status, signal) => {
      running = false;
      clearTimeout(watchdog);
      for (const w of [...waiters]) w();
      resolve({ status, signal });
    });
  });
  const watchdog = setTimeout(() => child.kill('SIGKILL'), maxMs);
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    write: (text) => { if (running) child.stdin?.write(text); },
    kill: (signal = 'SIGKILL') => { if (running) child.kill(signal); },
    waitFor: (re, ms, from = 0) => new Promise((resolve, reject) => {
      const flags = re.flags.replace('g', '');
      const once = new RegExp(re.source, flags);
      const check = (): void => {
        const m = once.exec(stdout.slice(from));
        if (m) {
          done();
          resolve(m);
        } else if (!running) {
          done();
          reject(new Error(`hvm exited before ${re}:\n${stderr.slice(-1000)}\n${stdout.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${re}:\n${stderr.slice(-1000)}\n${stdout.slice(-3000)}`));
      }, ms);
      const done = (): void => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
  };
}
