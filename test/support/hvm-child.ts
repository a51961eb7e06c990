// The hvm CLI as a child process, run as a user would: either to completion with some stdin
// (runHvm: what the guest printed, the exit status), or long-running (spawnHvm): a test waits
// for text on the guest's serial console (the child's stdout), types into it (stdin), and can
// kill the process at a chosen moment (SIGKILL, to test what survives a crash).

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
  /** Resolves once `cond` holds (checked on output and every 20 ms); rejects if hvm exits first or after `ms`. */
  until(cond: () => boolean, ms: number, what: string): Promise<void>;
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
    waitFor: (re, ms, from = 0) => {
      const once = new RegExp(re.source, re.flags.replace('g', ''));
      let m: RegExpExecArray | null = null;
      return until(() => (m = once.exec(stdout.slice(from))) !== null, ms, String(re)).then(() => m!);
    },
    until,
  };

  function until(cond: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) {
          done();
          resolve();
        } else if (!running) {
          done();
          reject(new Error(`hvm exited before ${what}:\n${stderr.slice(-1000)}\n${stdout.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}:\n${stderr.slice(-1000)}\n${stdout.slice(-3000)}`));
      }, ms);
      // Conditions on files (a socket appearing) change without output.
      const poll = setInterval(check, 20);
      const done = (): void => { clearTimeout(timer); clearInterval(poll); waiters.delete(check); };
      waiters.add(check);
      check();
    });
  }
}

/** What one run to completion produced. */
export interface HvmRun { status: number | null; stdout: string; stderr: string; ms: number }

/** Runs `hvm <args>` to its end with optional stdin text; kills it after `timeoutMs`. */
export async function runHvm(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<HvmRun> {
  const t0 = performance.now();
  const vm = spawnHvm(args, opts.timeoutMs ?? 30_000);
  if (opts.input !== undefined) vm.write(opts.input);
  vm.child.stdin?.end();
  const { status } = await vm.exited;
  return { status, stdout: vm.out(), stderr: vm.err(), ms: performance.now() - t0 };
}
