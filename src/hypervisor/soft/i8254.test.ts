// The 8254 PIT on a fake clock: mode 2/3 periods, IRQ0 counts, latch and read-back, mode 0 on
// counter 2 gated through port 0x61 as Linux's pit_calibrate_tsc uses it, the refresh toggle.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { I8254, PIT_HZ } from './i8254.js';

function pit(): { p: I8254; t: { now: number }; irqs: { n: number } } {
  const t = { now: 1000 };
  const irqs = { n: 0 };
  const p = new I8254({ clock: () => t.now, irq0: () => { irqs.n++; } });
  return { p, t, irqs };
}

const msForTicks = (n: number): number => (n * 1000) / PIT_HZ;

function readWord(p: I8254, port: number): number { return p.read(port) | (p.read(port) << 8); }

test('mode 2 rate generator: count and IRQ0 once per period', () => {
  const { p, t, irqs } = pit();
  const latch = 11932;                       // ~100 Hz, Linux's LATCH for HZ=100
  p.write(0x43, 0x34);                       // counter 0, LSB/MSB, mode 2
  p.write(0x40, latch & 0xff);
  p.write(0x40, latch >> 8);
  const start = t.now;
  assert.equal(readWord(p, 0x40), latch);
  t.now = start + msForTicks(100.5);
  p.write(0x43, 0x00);                       // latch counter 0
  assert.equal(readWord(p, 0x40), latch - 100);
  assert.ok(Math.abs(p.nextDeadline() - (start + msForTicks(latch))) < 1e-9);
  // One simulated second, stepping 1 ms: ~100 interrupts.
  for (let ms = 1; ms <= 1000; ms++) { t.now = start + ms; p.update(t.now); }
  const expected = Math.floor((1000 * PIT_HZ) / 1000 / latch);
  assert.equal(irqs.n, expected);
});

test('mode 3 square wave: counts by two, IRQ0 per full period', () => {
  const { p, t, irqs } = pit();
  p.write(0x43, 0x36);                       // counter 0, LSB/MSB, mode 3
  p.write(0x40, 0x00);
  p.write(0x40, 0x10);                       // 4096
  const start = t.now;
  t.now = start + msForTicks(10.5);
  p.write(0x43, 0x00);
  assert.equal(readWord(p, 0x40), 4096 - 20);
  for (let ms = 1; ms <= 500; ms++) { t.now = start + ms; p.update(t.now); }
  assert.equal(irqs.n, Math.floor((500 * PIT_HZ) / 1000 / 4096));
});

test('a slow host gets one tick, not a storm', () => {
  const { p, t, irqs } = pit();
  p.write(0x43, 0x34);
  p.write(0x40, 0x9c); p.write(0x40, 0x2e); // 11932
  t.now += 1000;
  p.update(t.now);
  assert.equal(irqs.n, 1);
  p.update(t.now);
  assert.equal(irqs.n, 1);
  assert.ok(p.nextDeadline() > t.now);
  t.now = p.nextDeadline();
  p.update(t.now);
  assert.equal(irqs.n, 2);
});

test('mode 0 on counter 0: one IRQ0 at terminal count', () => {
  const { p, t, irqs } = pit();
  p.write(0x43, 0x30);
  p.write(0x40, 0xe8); p.write(0x40, 0x03); // 1000
  t.now += msForTicks(999);
  p.update(t.now);
  assert.equal(irqs.n, 0);
  t.now += msForTicks(2);
  p.update(t.now);
  t.now += 100;
  p.update(t.now);
  assert.equal(irqs.n, 1);
  assert.equal(p.nextDeadline(), Infinity);
});

test('read-back: status then count, latched values survive counting', () => {
  const { p, t } = pit();
  p.write(0x43, 0xb0);                       // counter 2, LSB/MSB, mode 0
  p.write(0x42, 0x34); p.write(0x42, 0x12);
  t.now += msForTicks(0x34);
  p.write(0x43, 0xc8);                       // read-back count+status of counter 2
  t.now += 5;
  const status = p.read(0x42);
  assert.equal(status & 0x3f, 0x30, 'RW=3, mode 0, binary');
  assert.equal(status & 0x40, 0, 'count loaded');
  assert.equal(status & 0x80, 0, 'OUT low before terminal count');
  assert.equal(readWord(p, 0x42), 0x1200);
  p.write(0x43, 0xe8);                       // status only
  assert.equal(p.read(0x42) & 0x80, 0x80, 'OUT high after terminal count');
  p.write(0x43, 0x91);                       // counter 2, LSB only, mode 0, BCD
  p.write(0x43, 0xe8);
  assert.equal(p.read(0x42), 0x51 | 0x40, 'BCD kept in status, null count until written');
});

test('port 0x61: refresh toggles, gate and speaker bits read back', () => {
  const { p } = pit();
  const a = p.read(0x61), b = p.read(0x61);
  assert.notEqual(a & 0x10, b & 0x10);
  p.write(0x61, 0x03);
  assert.equal(p.read(0x61) & 0x03, 0x03);
  p.write(0x61, 0x00);
  assert.equal(p.read(0x61) & 0x03, 0x00);
});

test("pit_calibrate_tsc: counter 2 mode 0 gated by port 0x61, OUT in bit 5", () => {
  const { p, t } = pit();
  const latch = Math.floor(PIT_HZ / (1000 / 50));   // CAL_MS = 50
  p.write(0x61, (p.read(0x61) & ~0x02) | 0x01);     // gate high, speaker off
  p.write(0x43, 0xb0);
  p.write(0x42, latch & 0xff);
  p.write(0x42, latch >> 8);
  const start = t.now;
  let loops = 0;
  while ((p.read(0x61) & 0x20) === 0) { t.now += 0.01; loops++; assert.ok(loops < 100_000); }
  assert.ok(Math.abs(t.now - start - 50) < 0.02, `OUT rose after ${t.now - start} ms`);
});

test('gate low pauses mode 0 counting; quick_pit_calibrate reads the MSB', () => {
  const { p, t } = pit();
  p.write(0x61, 0x01);
  p.write(0x43, 0xb0);
  p.write(0x42, 0xff); p.write(0x42, 0xff);
  t.now += msForTicks(256 * 3);
  p.read(0x42);                              // LSB, then the MSB as Linux's pit_expect_msb does
  assert.equal(p.read(0x42), 0xff - 3);
  p.write(0x61, 0x00);                       // gate low: counting stops
  t.now += 10;
  p.write(0x43, 0x80);
  const frozen = readWord(p, 0x42);
  t.now += 10;
  p.write(0x43, 0x80);
  assert.equal(readWord(p, 0x42), frozen);
  p.write(0x61, 0x01);
  t.now += msForTicks(100);
  p.write(0x43, 0x80);
  assert.equal(readWord(p, 0x42), frozen - 100);
});

test('mode 2 on counter 2 reloads on a gate rising edge; gate low holds OUT high', () => {
  const { p, t } = pit();
  p.write(0x61, 0x01);
  p.write(0x43, 0xb4);
  p.write(0x42, 100); p.write(0x42, 0);
  t.now += msForTicks(40);
  p.write(0x61, 0x00);
  assert.equal(p.read(0x61) & 0x20, 0x20);
  p.write(0x61, 0x01);
  p.write(0x43, 0x80);
  assert.equal(readWord(p, 0x42), 100);
});

test('state round-trips relative to the clock', () => {
  const { p, t } = pit();
  p.write(0x43, 0x34);
  p.write(0x40, 0x00); p.write(0x40, 0x80);
  t.now += msForTicks(50);
  const s = p.saveState();
  const b = pit();
  b.t.now = 5;
  b.p.loadState(JSON.parse(JSON.stringify(s)) as typeof s);
  b.p.write(0x43, 0x00);
  assert.equal(readWord(b.p, 0x40), 0x8000 - 50);
  assert.throws(() => b.p.loadState({ ...s, counters: [] }));
});
