// The default guest as a user meets it: `hvm run` with no kernel options boots Debian's 686
// kernel on the soft CPU to a shell on the serial console; commands typed on stdin run there
// (integer, x87/SSE and timer work checked against values computed here); `reboot -f` resets
// the PC and it boots again; `poweroff -f` ends hvm with status 0. One VM, many checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../support/asm.js';
import { defaultCacheDir, readCachedGuest } from '../../src/guest/image-build.js';

const guest = readCachedGuest(defaultCacheDir('i386'), 'i386');
// The guest builder downloads from Debian's mirrors; `npm test` builds it first (scripts/test.mjs).
const skip = guest === null ? 'the default i386 guest is not built (run: node bin/hvm.js image build)' : false;

/** The guest shell's prompt (ash then asks for the cursor position, ESC [6n). */
const PROMPT = /hvm# /;

test('the default guest boots to a shell, runs typed commands, reboots, and powers off with status 0', { skip, timeout: 900_000 }, async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), 'run', '--accel', 'soft', '-m', '256M'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); });
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 850_000);

  /** Each step gets its own deadline, so a stuck guest fails with what it printed. */
  const waitFor = async (pattern: RegExp, from: number, what: string, ms = 300_000): Promise<number> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(out.slice(from));
      if (m) return from + m.index + m[0].length;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`hvm exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${out.slice(-3000)}\n${err}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${out.slice(-3000)}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const type = (line: string): void => { child.stdin.write(`${line}\n`); };

  try {
    let at = await waitFor(/HVM-GUEST-READY/, 0, 'the first boot');
    at = await waitFor(PROMPT, at, 'the shell prompt');
    type('echo "MD5=$(echo hello-hvm | md5sum)"');
    // busybox-static's awk has no libm, but its numbers are doubles (x87/SSE in the guest).
    type(`awk 'BEGIN { printf "AWK=%.6f\\n", 355 / 113 * 2.5 }'`);
    type('echo "YEAR=$(date +%Y)"');
    type('echo "FLAGS=$(grep -m1 ^flags /proc/cpuinfo)"');
    type('a=$(cut -d. -f1 /proc/uptime); sleep 2; b=$(cut -d. -f1 /proc/uptime); echo "SLEPT=$((b - a))"');
    type('echo "COUNT=$(seq 1 1000 | awk \'{ s += $1 } END { print s }\')"');
    at = await waitFor(/COUNT=\d+/, at, 'the commands');

    const md5 = createHash('md5').update('hello-hvm\n').digest('hex');
    assert.match(out, new RegExp(`MD5=${md5}`), 'md5sum in the guest matches the host');
    assert.match(out, /AWK=7\.853982/, 'floating point (x87/SSE) in the guest');
    assert.match(out, new RegExp(`YEAR=${new Date().getUTCFullYear()}`), 'the RTC gives the host year');
    const flags = /FLAGS=flags\s*:\s*(.*)/.exec(out)?.[1] ?? '';
    for (const f of ['fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'sse2']) assert.ok(flags.split(/\s+/).includes(f), `CPU flag ${f} in "${flags}"`);
    const slept = Number(/SLEPT=(\d+)/.exec(out)?.[1]);
    assert.ok(slept >= 1 && slept <= 4, `sleep 2 took ${slept} s of guest uptime`);
    assert.match(out, /COUNT=500500/);

    type('reboot -f');
    at = await waitFor(/HVM-GUEST-READY/, at, 'the second boot after reboot');
    at = await waitFor(PROMPT, at, 'the shell prompt after reboot');
    type('echo "SECOND=$((6 * 7))"');
    at = await waitFor(/SECOND=42/, at, 'a command after reboot');
    type('poweroff -f');
    const status = await exited;
    assert.equal(status, 0, `hvm status after poweroff\n${out.slice(-2000)}\n${err}`);
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
});
