// Every exception vector an i686 raises (exceptions.asm) under the soft CPU and under QEMU's TCG,
// both held to the expected text below; and a triple fault that resets the PC and runs the ROM
// again (triple-fault.asm), or ends the run under --no-reboot.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assemble } from '../support/asm.js';
import { runHvm, type HvmRun } from '../support/hvm-child.js';

/** One line per case: vector, error code, CR2 for #PF; ` BAD` would mark a wrong one. */
const EXPECT = [
  '#DE e=0000',
  '#DB e=0000 dr6=ffff4ff0', // BS after a single step
  '#NMI skip (an interrupt, not an exception)',
  '#BP e=0000',
  '#OF e=0000',
  '#BR e=0000',
  '#UD e=0000', // ud2
  '#UD e=0000', // 0F FF (UD0)
  '#UD e=0000', // LOCK ADD with a register destination
  '#NM e=0000',
  '#DF e=0000', // #GP through a not-present gate: #NP while delivering it
  '#CSO skip (never raised after the i386)',
  '#TS e=0040', // JMP to a TSS whose limit is below 0x67
  '#NP e=0030',
  '#SS e=0030', // MOV SS of a not-present segment
  '#SS e=0000', // PUSH past a ring 3 stack segment's limit
  '#GP e=01f8', // a selector beyond the GDT limit
  '#GP e=0000', // HLT at CPL 3
  '#PF e=0000 cr2=00400000',
  '#PF e=0002 cr2=00400010',
  '#PF e=0007 cr2=00300004',
  '#MF e=0000',
  '#AC e=0000',
  '#MC skip (needs a hardware error)',
  '#XM e=0000',
].map((l) => `${l}\n`).join('');
/** DEBUG_EXIT 0x3c: every case as expected (0x3d: some case BAD). */
const STATUS = (0x3c << 1) | 1;
const STATUS_SOME_BAD = (0x3d << 1) | 1;

/**
 * What QEMU 7.2's TCG does not model, seen on this suite: it checks no segment limit on a data
 * or stack access, implements no alignment checking, and raises no SIMD floating-point
 * exception (MXCSR flags only). For these lines alone its run may print that no exception came.
 */
const QEMU_TCG_GAPS: ReadonlyMap<string, string> = new Map([
  ['#SS e=0000', 'none e=0000 BAD'],
  ['#AC e=0000', 'none e=0000 BAD'],
  ['#XM e=0000', 'none e=0000 BAD'],
]);

const haveQemu = spawnSync('qemu-system-i386', ['--version']).status === 0;

/**
 * QEMU's COM1 goes to a file: through `-serial stdio` QEMU 7.2 now and then lost characters in
 * the middle of a line (1 run in 6 here, more under load), which no guest-side wait prevents.
 */
function runQemu(rom: string, timeoutMs: number, reboot = false): Promise<HvmRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const serial = join(mkdtempSync(join(tmpdir(), 'hvm-qemu-serial-')), 'com1');
    const child = spawn('qemu-system-i386', ['-M', 'pc', '-accel', 'tcg', '-bios', rom, '-display', 'none',
      '-serial', `file:${serial}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=1', ...(reboot ? [] : ['-no-reboot']), '-m', '16'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('latin1'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      const out = existsSync(serial) ? readFileSync(serial, 'latin1') : '';
      rmSync(dirname(serial), { recursive: true, force: true });
      resolve({ status, stdout: stdout + out, stderr, ms: performance.now() - t0 });
    });
  });
}

test('exceptions.asm: every i686 exception vector under the soft CPU', async () => {
  const rom = assemble('test/guest/programs/exceptions.asm');
  const r = await runHvm(['run', '--rom', rom, '--accel', 'soft', '--quiet', '-m', '16M'], { timeoutMs: 30_000 });
  assert.equal(r.stdout, EXPECT, `stderr: ${r.stderr}`);
  assert.equal(r.status, STATUS, `stderr: ${r.stderr}`);
});

test('exceptions.asm: QEMU TCG prints the same lines', { skip: haveQemu ? false : 'qemu-system-i386 is not installed', timeout: 60_000 }, async (t) => {
  const rom = assemble('test/guest/programs/exceptions.asm');
  const q = await runQemu(rom, 30_000);
  const want = EXPECT.split('\n');
  const got = q.stdout.split('\n');
  assert.equal(got.length, want.length, `QEMU printed:\n${q.stdout}\nstderr: ${q.stderr}`);
  let gaps = 0;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const gap = QEMU_TCG_GAPS.get(want[i]!);
    assert.ok(gap !== undefined && got[i] === gap, `line ${i + 1}: QEMU printed ${JSON.stringify(got[i])}, expected ${JSON.stringify(want[i])}`);
    t.diagnostic(`QEMU TCG does not raise it: ${want[i]!}`);
    gaps++;
  }
  assert.equal(q.status, gaps === 0 ? STATUS : STATUS_SOME_BAD, `stderr: ${q.stderr}`);
});

test('exceptions.asm under KVM', { skip: 'kvm_pvm mis-handles int3 and other exceptions; the soft CPU and QEMU TCG are the references' }, () => {});

test('triple-fault.asm: the PC resets and the ROM runs again (soft CPU)', async () => {
  const rom = assemble('test/guest/programs/triple-fault.asm');
  const r = await runHvm(['run', '--rom', rom, '--accel', 'soft', '--quiet', '-m', '16M'], { timeoutMs: 20_000 });
  assert.equal(r.stdout, 'boot 1\nboot 2\n', `stderr: ${r.stderr}`);
  assert.equal(r.status, (0x2b << 1) | 1, `stderr: ${r.stderr}`);
});

test('triple-fault.asm: QEMU TCG resets and runs it again too', { skip: haveQemu ? false : 'qemu-system-i386 is not installed' }, async () => {
  const rom = assemble('test/guest/programs/triple-fault.asm');
  const q = await runQemu(rom, 20_000, true);
  assert.equal(q.stdout, 'boot 1\nboot 2\n', `stderr: ${q.stderr}`);
  assert.equal(q.status, (0x2b << 1) | 1, `stderr: ${q.stderr}`);
});

test('triple-fault.asm with --no-reboot: exits 0 after the first boot, saying why', async () => {
  const rom = assemble('test/guest/programs/triple-fault.asm');
  const r = await runHvm(['run', '--rom', rom, '--accel', 'soft', '--quiet', '-m', '16M', '--no-reboot'], { timeoutMs: 20_000 });
  assert.equal(r.stdout, 'boot 1\n', `stderr: ${r.stderr}`);
  assert.equal(r.status, 0, `stderr: ${r.stderr}`);
  assert.match(r.stderr, /triple fault.*no reboot/);
});
