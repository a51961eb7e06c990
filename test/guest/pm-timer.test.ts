// The PM timer's rate seen by a guest: PM ticks across a 30 ms PIT counter-2 countdown, as
// Linux's verify_pmtmr_rate measures it. A PM timer read is an ioreq to the device-model
// thread, so single samples carry that thread's wake-up latency (and on a loaded host, its
// scheduling delays); the rate itself must show in at least one of eight rounds within 2%.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { assemble } from '../support/asm.js';
import { runHvm } from '../support/hvm-child.js';

const EXPECTED = Math.round(3_579_545 * 0.030);
const kvmSkip = existsSync('/dev/kvm') ? false : 'no /dev/kvm on this host';

for (const accel of ['soft', 'kvm'] as const) {
  test(`PM timer at 3.579545 MHz against the PIT under ${accel}`, { skip: accel === 'kvm' ? kvmSkip : false }, async () => {
    const rom = assemble('test/guest/programs/pm-timer.asm');
    const r = await runHvm(['run', '--rom', rom, '--accel', accel, '--quiet', '-m', '16M'], { timeoutMs: 30_000 });
    assert.equal(r.status, (0x13 << 1) | 1, `stderr: ${r.stderr}`);
    const values = r.stdout.trim().split('\n').map((h) => parseInt(h, 16));
    assert.equal(values.length, 9, r.stdout);
    const rounds = values.slice(0, 8);
    const best = Math.min(...rounds.map((v) => Math.abs(v - EXPECTED) / EXPECTED));
    assert.ok(best < 0.02, `PM ticks per 30 ms: ${rounds.join(', ')} (expected ${EXPECTED})`);
  });
}
