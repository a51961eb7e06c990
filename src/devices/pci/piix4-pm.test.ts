// PIIX4 PM: the PM timer's rate against a fake clock, TMR_STS on bit-23 toggles, S5 powering
// off, the power button raising the SCI, PMBA moving the block, and a seeded fuzz.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PioBus, MmioBus } from '../bus.js';
import { FakeClock, FakeIrq, FakeSystem, FakeTimers, fuzzRegions, fuzzSeed } from '../testing.js';
import { PciHost } from './pci-host.js';
import {
  GPE0_EN, GPE0_STS, PIIX4_PMBA, PIIX4_PMREGMISC, PM1_CNT, PM1_EN, PM1_STS, PM_TIMER_HZ, PM_TMR, PWRBTN_EN, PWRBTN_STS,
  Piix4Pm, SCI_EN, SLP_EN, TMR_EN, TMR_STS,
} from './piix4-pm.js';

const BASE = 0x600;

function setup() {
  const clock = new FakeClock(0, 1000);
  const timers = new FakeTimers(clock);
  const sci = new FakeIrq();
  const sys = new FakeSystem();
  const pm = new Piix4Pm('pm', sci, sys, clock, timers, BASE);
  const pio = new PioBus();
  const host = new PciHost('host', pio, new MmioBus());
  pio.map(0xcf8, host.addressRegion);
  pio.map(0xcfc, host.dataRegion);
  host.attach(1, 3, pm);
  return { clock, timers, sci, sys, pm, pio, host };
}

test('PIIX4 PM: identity and the block decoding at its reset PMBA', () => {
  const { pio } = setup();
  pio.write(0xcf8, 4, 0x80000000 | (1 << 11) | (3 << 8));
  assert.equal(pio.read(0xcfc, 4), 0x71138086);
  pio.write(0xcf8, 4, 0x80000000 | (1 << 11) | (3 << 8) | 0x08);
  assert.equal(pio.read(0xcfc, 4), 0x06800003, 'class 0680, revision 3');
  assert.equal(pio.read(BASE + PM1_CNT, 2) & SCI_EN, SCI_EN, 'SCI_EN reads 1: already in ACPI mode');
  pio.write(BASE + PM1_CNT, 2, 0);
  assert.equal(pio.read(BASE + PM1_CNT, 2) & SCI_EN, SCI_EN);
});

test('PIIX4 PM: the PM timer counts 3.579545 MHz and sets TMR_STS on bit 23', () => {
  const { pio, clock } = setup();
  const t0 = pio.read(BASE + PM_TMR, 4);
  clock.advance(1000);
  const t1 = pio.read(BASE + PM_TMR, 4);
  assert.equal((t1 - t0) & 0xffffff, PM_TIMER_HZ & 0xffffff, 'one second of ticks, modulo 2^24');
  assert.ok(t1 <= 0xffffff, '24 bits');
  assert.equal(pio.read(BASE + PM1_STS, 2) & TMR_STS, 0, 'bit 23 toggles every 2^23 ticks, 2.34 s');
  clock.advance(1500);
  assert.equal(pio.read(BASE + PM1_STS, 2) & TMR_STS, TMR_STS, 'bit 23 toggled by 2.5 s');
  pio.write(BASE + PM1_STS, 2, TMR_STS);
  assert.equal(pio.read(BASE + PM1_STS, 2) & TMR_STS, 0, 'cleared by writing 1');
  clock.advance((1 << 23) / PM_TIMER_HZ * 1000 + 1);
  assert.equal(pio.read(BASE + PM1_STS, 2) & TMR_STS, TMR_STS, 'set again one half-period later');
  // The word halves of the timer agree with the dword.
  const lo = pio.read(BASE + PM_TMR, 2);
  const hi = pio.read(BASE + PM_TMR + 2, 2);
  assert.equal((hi << 16) | lo, pio.read(BASE + PM_TMR, 4));
});

test('PIIX4 PM: TMR_EN raises the SCI when bit 23 next toggles', () => {
  const { pio, sci, timers } = setup();
  timers.advance(1);
  pio.write(BASE + PM1_STS, 2, TMR_STS);
  pio.write(BASE + PM1_EN, 2, TMR_EN);
  assert.equal(sci.level, false);
  timers.advance(2400);
  assert.equal(sci.level, true, 'SCI after at most 2.35 s');
  pio.write(BASE + PM1_STS, 2, TMR_STS);
  assert.equal(sci.level, false);
});

test('PIIX4 PM: SLP_TYP 0 with SLP_EN is S5 and powers off', () => {
  const { pio, sys } = setup();
  pio.write(BASE + PM1_CNT, 2, (1 << 10)); // SLP_TYP 1 without SLP_EN
  assert.equal(sys.powerOffs, 0);
  pio.write(BASE + PM1_CNT, 2, (5 << 10) | SLP_EN);
  assert.equal(sys.powerOffs, 0, 'other sleep types are ignored');
  pio.write(BASE + PM1_CNT, 2, SLP_EN);
  assert.equal(sys.powerOffs, 1);
  assert.equal(pio.read(BASE + PM1_CNT, 2) & SLP_EN, 0, 'SLP_EN is write-only');
});

test('PIIX4 PM: the power button sets PWRBTN_STS and raises the SCI when enabled', () => {
  const { pio, pm, sci } = setup();
  pm.powerButton();
  assert.equal(pio.read(BASE + PM1_STS, 2) & PWRBTN_STS, PWRBTN_STS);
  assert.equal(sci.level, false, 'not enabled yet');
  pio.write(BASE + PM1_EN, 2, PWRBTN_EN);
  assert.equal(sci.level, true);
  assert.equal(pio.read(BASE, 4) >>> 16, PWRBTN_EN, 'PM1_EVT as one dword: status low, enable high');
  pio.write(BASE + PM1_STS, 2, PWRBTN_STS);
  assert.equal(sci.level, false);
  pio.write(BASE + GPE0_EN, 2, 0xffff);
  pio.write(BASE + GPE0_STS, 2, 0xffff);
  assert.equal(pio.read(BASE + GPE0_STS, 2), 0);
  assert.equal(sci.level, false);
});

test('PIIX4 PM: PMBA and PMREGMISC move and disable the block', () => {
  const { pio } = setup();
  const sel = (reg: number): void => pio.write(0xcf8, 4, 0x80000000 | (1 << 11) | (3 << 8) | reg);
  sel(PIIX4_PMBA);
  assert.equal(pio.read(0xcfc, 4), BASE | 1);
  pio.write(0xcfc, 4, 0xb000);
  assert.equal(pio.read(0xcfc, 4), 0xb001);
  assert.equal(pio.read(BASE + PM1_CNT, 2), 0xffff, 'the old place is empty');
  assert.equal(pio.read(0xb000 + PM1_CNT, 2) & SCI_EN, SCI_EN);
  sel(PIIX4_PMREGMISC);
  pio.write(0xcfc, 1, 0);
  assert.equal(pio.read(0xb000 + PM1_CNT, 2), 0xffff, 'PMIOSE off');
});

test('fuzz: random PM register and config traffic never throws', () => {
  const { pm, host, timers } = setup();
  fuzzRegions([pm.pmRegion, host.dataRegion], 30_000, fuzzSeed(), (rand) => {
    host.addressRegion.write(0, 4, 0x80000000 | (1 << 11) | (3 << 8) | (Math.floor(rand() * 64) << 2));
    if (rand() < 0.1) pm.powerButton();
    timers.advance(rand() * 50);
  });
});
