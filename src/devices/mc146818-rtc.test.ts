import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mc146818Rtc } from './mc146818-rtc.js';
import { FakeClock, FakeIrq, FakeTimers, fuzzRegions, fuzzSeed } from './testing.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const Y2K_EVE = Date.UTC(1999, 11, 31, 23, 59, 59);

function setup(wallMs = Y2K_EVE, mem = { ramBelow4g: 128 * MIB, ramAbove4g: 0 }) {
  const clock = new FakeClock(wallMs, 5000);
  const timers = new FakeTimers(clock);
  const irq = new FakeIrq();
  const rtc = new Mc146818Rtc('rtc', irq, clock, timers, mem);
  const rd = (reg: number): number => { rtc.region.write(0, 1, reg); return rtc.region.read(1, 1); };
  const wr = (reg: number, v: number): void => { rtc.region.write(0, 1, reg); rtc.region.write(1, 1, v); };
  return { rtc, clock, timers, irq, rd, wr };
}

const TIME = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32];

test('1999-12-31 23:59:59 in BCD, then the rollover to 2000', () => {
  const { rd, timers } = setup();
  assert.equal(rd(0x0b) & 0x06, 0x02, 'BCD, 24-hour after power-on');
  assert.deepEqual(TIME.map(rd), [0x59, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19]);
  timers.advance(1000);
  assert.deepEqual(TIME.map(rd), [0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]);
});

test('binary and 12-hour modes', () => {
  const { rd, wr } = setup();
  wr(0x0b, 0x06);
  assert.deepEqual(TIME.map(rd), [59, 59, 23, 6, 31, 12, 99, 19]);
  wr(0x0b, 0x04);
  assert.equal(rd(0x04), 0x80 | 11, 'binary 11 PM');
  wr(0x0b, 0x00);
  assert.equal(rd(0x04), 0x91, 'BCD 11 PM');
});

test('setting the time with SET, in BCD and 12-hour mode', () => {
  const { rd, wr, timers } = setup();
  wr(0x0b, 0x80);
  assert.equal(rd(0x0a) & 0x80, 0, 'no UIP while SET');
  wr(0x00, 0x30); wr(0x02, 0x15); wr(0x04, 0x87); // 7 PM
  wr(0x07, 0x04); wr(0x08, 0x07); wr(0x09, 0x24); wr(0x32, 0x20);
  timers.advance(5000);
  assert.equal(rd(0x00), 0x30, 'frozen while SET');
  wr(0x0b, 0x00); // run, still 12-hour: the chip never converts stored bytes between modes
  assert.deepEqual(TIME.map(rd), [0x30, 0x15, 0x87, 0x05, 0x04, 0x07, 0x24, 0x20], '2024-07-04 was a Thursday');
  wr(0x0b, 0x02);
  assert.equal(rd(0x04), 0x19);
  timers.advance(2000);
  assert.equal(rd(0x00), 0x32);
  // A write while running takes effect at once.
  wr(0x09, 0x25);
  assert.equal(rd(0x09), 0x25);
  assert.equal(rd(0x00), 0x32);
});

test('UIP is set only in the last 244 µs of a second', () => {
  const { rd, clock } = setup();
  assert.equal(rd(0x0a), 0x26);
  clock.advance(999.8);
  assert.equal(rd(0x0a), 0xa6);
  clock.advance(0.3);
  assert.equal(rd(0x0a), 0x26);
  assert.equal(rd(0x0d), 0x80, 'VRT');
});

test('periodic interrupt, register C read-to-clear with IRQF', () => {
  const { rd, wr, timers, irq } = setup();
  wr(0x0a, 0x26); // 1024 Hz
  wr(0x0b, 0x42); // PIE
  timers.advance(1.5);
  assert.equal(irq.level, true);
  assert.equal(rd(0x0c), 0xc0);
  assert.equal(irq.level, false);
  assert.equal(rd(0x0c), 0x00);
  timers.advance(1);
  assert.equal(irq.level, true, 'keeps ticking');
  wr(0x0b, 0x02);
  rd(0x0c);
  timers.advance(10);
  assert.equal(irq.level, false, 'PIE off stops it');
  assert.equal(timers.pending, 0);
});

test('update-ended and alarm interrupts', () => {
  const { rd, wr, timers, irq } = setup();
  wr(0x01, 0x30); // alarm at hh:mm:30 (the power-on 00:00:00 alarm would match midnight)
  wr(0x0b, 0x12); // UIE
  timers.advance(1000);
  assert.equal(irq.level, true);
  assert.equal(rd(0x0c) & 0xf0, 0x90);
  wr(0x0b, 0x22); // AIE only
  wr(0x01, 0xc0); wr(0x03, 0xc0); wr(0x05, 0xc0); // every second
  timers.advance(1000);
  assert.equal(rd(0x0c) & 0xb0, 0xb0, 'IRQF|AF|UF');
  wr(0x01, 0x45); // only at :45
  timers.advance(1000);
  assert.equal(irq.level, false);
  assert.equal(rd(0x0c) & 0xb0, 0x10, 'UF without AF');
});

test('memory-size bytes for 128 MiB', () => {
  const { rd } = setup();
  assert.deepEqual([rd(0x15), rd(0x16)], [0x80, 0x02], '640 KiB base');
  assert.deepEqual([rd(0x17), rd(0x18), rd(0x30), rd(0x31)], [0xff, 0xff, 0xff, 0xff], 'capped at 0xFFFF KiB');
  assert.deepEqual([rd(0x34), rd(0x35)], [0x00, 0x07], '112 MiB above 16 MiB = 0x700 * 64 KiB');
  assert.deepEqual([rd(0x5b), rd(0x5c), rd(0x5d)], [0, 0, 0]);
  assert.equal(rd(0x14), 0x02);
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += rd(i);
  assert.equal((rd(0x2e) << 8) | rd(0x2f), sum);
});

test('memory-size bytes for a 5 GiB layout (3.5 GiB below the PCI hole)', () => {
  const { rd } = setup(Y2K_EVE, { ramBelow4g: 0xe000_0000, ramAbove4g: 5 * GIB - 0xe000_0000 });
  assert.deepEqual([rd(0x34), rd(0x35)], [0x00, 0xdf], '(3584 - 16) MiB / 64 KiB = 0xDF00');
  assert.deepEqual([rd(0x5b), rd(0x5c), rd(0x5d)], [0x00, 0x60, 0x00], '1.5 GiB / 64 KiB = 0x6000');
  const small = setup(Y2K_EVE, { ramBelow4g: 8 * MIB, ramAbove4g: 0 });
  assert.deepEqual([small.rd(0x17), small.rd(0x18)], [0x00, 0x1c], '7 MiB = 7168 KiB');
  assert.deepEqual([small.rd(0x34), small.rd(0x35)], [0, 0]);
});

test('CMOS RAM, NMI bit and index masking', () => {
  const { rtc, rd, wr } = setup();
  wr(0x40, 0xab);
  rtc.region.write(0, 1, 0x80 | 0x40);
  assert.equal(rtc.region.read(1, 1), 0xab);
  assert.equal(rtc.nmiDisabled, true);
  assert.equal(rtc.region.read(0, 1), 0xff, 'index port is write-only');
  wr(0x0c, 0xff);
  wr(0x0d, 0x00);
  assert.equal(rd(0x0d), 0x80);
});

test('save/load round-trips and rejects bad state', () => {
  const a = setup();
  a.wr(0x50, 0x12);
  a.wr(0x0b, 0x80); a.wr(0x09, 0x42); a.wr(0x0b, 0x02);
  const s = a.rtc.saveState();
  const b = setup(Date.UTC(2030, 0, 1));
  b.rtc.loadState(JSON.parse(JSON.stringify(s)), 1);
  assert.equal(b.rd(0x50), 0x12);
  // The guest keeps its offset from host time: set to 1942 on a 1999 host, it is 1973 on a 2030 one.
  assert.equal(b.rd(0x09), 0x73, 'guest time offset carried over');
  assert.throws(() => b.rtc.loadState({ ...s, cmos: [1, 2] }, 1));
  assert.throws(() => b.rtc.loadState({ ...s, offsetMs: Infinity }, 1));
  assert.throws(() => b.rtc.loadState({ ...s, regC: 0x80 }, 1));
  assert.throws(() => b.rtc.loadState(s, 2));
});

test('fuzz: random index/data traffic and time never throws', () => {
  const { rtc, timers } = setup();
  const seed = fuzzSeed();
  fuzzRegions([rtc.region], 50_000, seed, (rand) => timers.advance(rand() * 50));
  rtc.loadState(JSON.parse(JSON.stringify(rtc.saveState())), 1); // any reachable state reloads
  rtc.reset();
  timers.advance(3000);
});
