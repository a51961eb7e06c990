// What the guest benches share: one engine run (hvm, QEMU or v86 as a child process) whose
// serial console is its stdout, timed from process start, bounded by a deadline and killed at
// the end; tools looked up on PATH; the result table. (In bench/support/ so that `npm run
// bench` does not run it as a bench.)

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTool } from '../../src/guest/host-tools.js';

/** The repository root (dist/bench/support → ../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The hvm CLI's entry point. */
export const hvmBin = join(repoRoot, 'bin/hvm.js');

/** Lines of serial output kept for a failure's reason. */
const TAIL_LINES = 5;
/** Bytes of stderr kept for a failure's reason. */
const STDERR_KEEP = 2000;

/** What a run's output handlers can do. */
export interface EngineControl {
  /** Ends the run (the first call counts): no reason means the work is done. */
  end(reason?: string): void;
}

/** How one engine run is watched. */
export interface EngineOptions {
  /** The run fails after this many seconds. */
  timeoutS: number;
  /** What an early exit did not reach, for its reason ("exited (1) before X"). */
  before: string;
  /** Each complete output line (CRs removed), with host seconds since the process started. */
  onLine?: (line: string, at: number, run: EngineControl) => void;
  /** Each output chunk as it arrives (latin1), with host seconds since the process started. */
  onChunk?: (chunk: string, at: number, run: EngineControl) => void;
  /** Awaited before the process is killed (e.g. a host-side transfer finishing); may return a failure. */
  settle?: (reason: string | undefined) => Promise<string | undefined>;
  /** After a run ended without a reason, the process gets this long to exit by itself (not awaited). */
  graceMs?: number;
}

/** How a run ended. */
export interface EngineEnd {
  /** Undefined when a handler ended the run as done. */
  reason: string | undefined;
  /** `reason` with the last serial lines and stderr, for the report. */
  explain(reason: string): string;
}

/** Runs `cmd args` with stdout as the serial console until a handler ends it, it exits, or the deadline. */
export function runEngine(cmd: string, args: string[], opts: EngineOptions): Promise<EngineEnd> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail: string[] = [];
    let pending = '';
    let stderr = '';
    let finished = false;
    const explain = (reason: string): string => {
      const last = tail.filter((l) => l.trim() !== '').slice(-TAIL_LINES).join(' | ');
      return `${reason}${last ? ` (last serial lines: ${last})` : ''}${stderr.trim() ? ` (stderr: ${stderr.trim().slice(-300)})` : ''}`;
    };
    const end = async (why?: string): Promise<void> => {
      if (finished) return;
      finished = true;
      clearTimeout(timeout);
      const reason = opts.settle !== undefined ? await opts.settle(why) : why;
      const grace = why === undefined ? opts.graceMs ?? 0 : 0;
      if (grace === 0) child.kill('SIGKILL');
      else {
        const kill = setTimeout(() => child.kill('SIGKILL'), grace);
        child.once('exit', () => clearTimeout(kill));
        if (child.exitCode !== null || child.signalCode !== null) clearTimeout(kill);
      }
      done({ reason, explain });
    };
    const control: EngineControl = { end: (reason) => void end(reason) };
    const timeout = setTimeout(() => void end(`timed out after ${opts.timeoutS} s`), opts.timeoutS * 1000);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      const at = (performance.now() - t0) / 1000;
      opts.onChunk?.(chunk, at, control);
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r/g, '');
        pending = pending.slice(nl + 1);
        tail.push(line);
        if (tail.length > 20) tail = tail.slice(-10);
        opts.onLine?.(line, at, control);
      }
      // A console that never prints a newline does not grow without bound.
      if (pending.length > 8192) { tail.push(pending.slice(-200)); pending = ''; }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { stderr = (stderr + s).slice(-STDERR_KEEP); });
    child.on('error', (e) => void end(`cannot start ${cmd}: ${e.message}`));
    child.on('close', (code, signal) => void end(`exited (${signal ?? code}) before ${opts.before}`));
  });
}

/**
 * The positive integer in environment variable `name`, or `dflt` when it is unset; anything else
 * ends the benchmark with a one-line error (exit 2).
 */
export function envCount(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  process.stderr.write(`${name}: "${raw}" is not a positive whole number\n`);
  process.exit(2);
}

/** Null when `cmd` is on PATH, else why a run needing it is skipped. */
export function missingTool(cmd: string, debianPackage: string): string | null {
  return findTool(cmd) !== null ? null : `${cmd} not on PATH (Debian: ${debianPackage})`;
}

/** `a / b` as "1.23x", or "-" when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a) || !Number.isFinite(b) ? '-' : `${(a / b).toFixed(2)}x`;
}

/** Rows as aligned text: the first `leftColumns` columns padded right, the others left. */
export function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
