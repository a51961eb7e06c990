// The local APIC alone on a fake clock: timer one-shot/periodic/TSC-deadline, EOI, TPR masking,
// the illegal-vector error path, logical destinations and state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Lapic, APIC_EOI, APIC_ESR, APIC_ISR, APIC_IRR, APIC_LDR, APIC_LVR, APIC_LVT_ERROR, APIC_LVT_TIMER, APIC_PPR,
  APIC_SVR, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TPR, APIC_ICR_LO, APIC_ID, DeliveryMode,
} from './lapic.js';

function lapic(): { l: Lapic; t: { now: number }; eois: number[]; ipis: number[] } {
  const t = { now: 100 };
  const eois: number[] = [];
  const ipis: number[] = [];
  const l = new Lapic({
    id: 0, clock: () => t.now, tscHz: 1e9, onEoi: (v) => eois.push(v), sendIpi: (_f, lo) => ipis.push(lo),
  });
  l.writeRegister(APIC_SVR, 0x1ff);
  return { l, t, eois, ipis };
}

test('identity and version', () => {
  const { l } = lapic();
  assert.equal(l.readRegister(APIC_LVR), 0x00050014);
  assert.equal(l.readRegister(APIC_ID), 0);
  assert.equal(l.readRegister(APIC_LVT_TIMER), 0x10000, 'LVTs reset masked');
});

test('one-shot timer counts down on the bus clock and fires once', () => {
  const { l, t } = lapic();
  l.writeRegister(APIC_TDCR, 0x3);            // divide by 16
  l.writeRegister(APIC_LVT_TIMER, 0xec);
  l.writeRegister(APIC_TMICT, 1_000_000);      // 16 ms at 1 GHz / 16
  const start = t.now;
  t.now = start + 8;
  assert.equal(l.readRegister(APIC_TMCCT), 500_000);
  assert.equal(l.nextDeadline(), start + 16);
  l.update(t.now);
  assert.equal(l.pendingVector(), -1);
  t.now = start + 16;
  l.update(t.now);
  assert.equal(l.pendingVector(), 0xec);
  assert.equal(l.readRegister(APIC_TMCCT), 0);
  assert.equal(l.nextDeadline(), Infinity);
  assert.equal(l.acknowledge(), 0xec);
  assert.equal(l.readRegister(APIC_ISR + 0x70) >>> 12 & 1, 1);
  l.writeRegister(APIC_EOI, 0);
  assert.equal(l.readRegister(APIC_ISR + 0x70), 0);
});

test('periodic timer: one interrupt per period, reload, missed periods coalesce', () => {
  const { l, t } = lapic();
  l.writeRegister(APIC_TDCR, 0xb);            // divide by 1
  l.writeRegister(APIC_LVT_TIMER, 0x20000 | 0x30);
  l.writeRegister(APIC_TMICT, 4_000_000);      // 4 ms
  const start = t.now;
  let fired = 0;
  for (let ms = 1; ms <= 100; ms++) {
    t.now = start + ms;
    l.update(t.now);
    if (l.pendingVector() === 0x30) { fired++; l.acknowledge(); l.writeRegister(APIC_EOI, 0); }
  }
  assert.equal(fired, 25);
  t.now = start + 101;
  assert.equal(l.readRegister(APIC_TMCCT), 3_000_000);
  t.now = start + 1000.5;
  l.update(t.now);
  assert.equal(l.pendingVector(), 0x30);
  assert.ok(Math.abs(l.nextDeadline() - (start + 1004)) < 1e-6);
});

test('masked timer expires without an interrupt; mode change disarms', () => {
  const { l, t } = lapic();
  l.writeRegister(APIC_LVT_TIMER, 0x10040);
  l.writeRegister(APIC_TMICT, 1000);
  t.now += 1;
  l.update(t.now);
  assert.equal(l.pendingVector(), -1);
  l.writeRegister(APIC_LVT_TIMER, 0x20040);
  l.writeRegister(APIC_TMICT, 1000);
  l.writeRegister(APIC_LVT_TIMER, 0x00040);
  assert.equal(l.nextDeadline(), Infinity);
});

test('TSC-deadline mode', () => {
  const { l, t } = lapic();
  l.writeRegister(APIC_LVT_TIMER, 0x40000 | 0x41);
  l.writeRegister(APIC_TMICT, 5);              // ignored in TSC-deadline mode
  const tsc = 7_000_000;
  l.writeTscDeadline(tsc + 2_000_000, tsc);    // 2 ms ahead at 1 GHz
  assert.equal(l.readTscDeadline(), tsc + 2_000_000);
  assert.equal(l.nextDeadline(), t.now + 2);
  t.now += 2;
  l.update(t.now);
  assert.equal(l.pendingVector(), 0x41);
  assert.equal(l.readTscDeadline(), 0);
  l.acknowledge(); l.writeRegister(APIC_EOI, 0);
  l.writeTscDeadline(5, tsc);                  // already past: fires at once
  assert.equal(l.pendingVector(), 0x41);
});

test('TPR and in-service priority gate delivery by class', () => {
  const { l } = lapic();
  l.writeRegister(APIC_TPR, 0x50);
  l.accept(DeliveryMode.Fixed, 0x45, false);
  assert.equal(l.pendingVector(), -1, 'class 4 below TPR class 5');
  l.accept(DeliveryMode.Fixed, 0x61, false);
  assert.equal(l.pendingVector(), 0x61);
  assert.equal(l.acknowledge(), 0x61);
  assert.equal(l.readRegister(APIC_PPR), 0x60);
  l.accept(DeliveryMode.Fixed, 0x65, false);
  assert.equal(l.pendingVector(), -1, 'same class as in service');
  l.writeRegister(APIC_EOI, 0);
  assert.equal(l.pendingVector(), 0x65);
  l.writeRegister(APIC_TPR, 0x00);
  assert.equal(l.acknowledge(), 0x65);
  l.writeRegister(APIC_EOI, 0);
  assert.equal(l.acknowledge(), 0x45);
  assert.equal(l.acknowledge(), 0xff, 'nothing pending: the spurious vector');
});

test('EOI of a level-triggered vector is broadcast', () => {
  const { l, eois } = lapic();
  l.accept(DeliveryMode.Fixed, 0x80, true);
  l.accept(DeliveryMode.Fixed, 0x70, false);
  assert.equal(l.acknowledge(), 0x80);
  l.writeRegister(APIC_EOI, 0);
  assert.equal(l.acknowledge(), 0x70);
  l.writeRegister(APIC_EOI, 0);
  assert.deepEqual(eois, [0x80]);
});

test('software disable masks delivery and LVTs; illegal vectors set ESR', () => {
  const { l, ipis } = lapic();
  l.writeRegister(APIC_LVT_ERROR, 0xfe);
  l.accept(DeliveryMode.Fixed, 3, false);
  assert.equal(l.readRegister(APIC_IRR + 0x70) >>> 30 & 1, 1, 'error vector 0xfe pending');
  l.writeRegister(APIC_ESR, 0);
  assert.equal(l.readRegister(APIC_ESR), 0x40);
  l.writeRegister(APIC_ESR, 0);
  assert.equal(l.readRegister(APIC_ESR), 0);
  l.writeRegister(APIC_ICR_LO, 0x4005);        // fixed IPI with vector 5: send illegal
  assert.equal(ipis.length, 0);
  l.writeRegister(APIC_ESR, 0);
  assert.equal(l.readRegister(APIC_ESR), 0x20);
  l.writeRegister(APIC_SVR, 0xff);
  assert.equal(l.pendingVector(), -1);
  assert.equal(l.readRegister(APIC_LVT_ERROR) & 0x10000, 0x10000);
  l.writeRegister(APIC_LVT_ERROR, 0xfe);
  assert.equal(l.readRegister(APIC_LVT_ERROR), 0x100fe, 'mask sticks while disabled');
});

test('logical destinations: flat and cluster', () => {
  const { l } = lapic();
  l.writeRegister(APIC_LDR, 0x0400_0000);
  assert.ok(l.matches(0x04, true));
  assert.ok(l.matches(0xff, true));
  assert.ok(!l.matches(0x03, true));
  l.writeRegister(0x0e0, 0x0fff_ffff);         // DFR cluster model
  l.writeRegister(APIC_LDR, 0x2100_0000);
  assert.ok(l.matches(0x21, true));
  assert.ok(!l.matches(0x31, true));
  assert.ok(l.matches(0xf1, true));
  assert.ok(l.matches(0, false));
  assert.ok(l.matches(0xff, false));
});

test('state round-trips and rejects bad values', () => {
  const { l, t } = lapic();
  l.writeRegister(APIC_LVT_TIMER, 0x20033);
  l.writeRegister(APIC_TDCR, 0xb);
  l.writeRegister(APIC_TMICT, 2_000_000);
  t.now += 0.5;
  const s = l.saveState();
  const b = lapic();
  b.t.now = 7;
  b.l.loadState(JSON.parse(JSON.stringify(s)) as typeof s);
  assert.equal(b.l.readRegister(APIC_TMCCT), 1_500_000);
  assert.equal(b.l.nextDeadline(), 8.5);
  assert.throws(() => b.l.loadState({ ...s, irr: [1, 2] }));
  assert.throws(() => b.l.loadState({ ...s, tpr: 0x1ff }));
});
