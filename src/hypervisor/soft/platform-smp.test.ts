// The platform with several CPUs: logical destinations (flat and cluster models), lowest-priority
// arbitration, shorthands, INIT level de-assert, IOAPIC routing to an AP, and a CPU's power-up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoftPlatform, IOAPIC_BASE, type IpiKind } from './platform.js';

const LAPIC = 0xfee0_0000;
const ICR_LO = LAPIC + 0x300, ICR_HI = LAPIC + 0x310;

function platform(cpus: number): { p: SoftPlatform; ipis: [number, IpiKind, number][] } {
  const ipis: [number, IpiKind, number][] = [];
  const p = new SoftPlatform({ cpus, clock: () => 0, onIpi: (c, k, v) => ipis.push([c, k, v]) });
  for (let i = 0; i < cpus; i++) p.mmioWrite(i, LAPIC + 0xf0, 4, 0x1ff);
  return { p, ipis };
}

/** Vectors each CPU has pending, acknowledged and EOIed. */
function drain(p: SoftPlatform, cpus: number): number[][] {
  const got: number[][] = [];
  for (let i = 0; i < cpus; i++) {
    const ic = p.interruptController(i);
    const v: number[] = [];
    for (let n = 0; n < 256 && ic.hasInterrupt(); n++) { v.push(ic.acknowledge()); p.mmioWrite(i, LAPIC + 0xb0, 4, 0); }
    got.push(v);
  }
  return got;
}

function ipi(p: SoftPlatform, from: number, hi: number, lo: number): void {
  p.mmioWrite(from, ICR_HI, 4, hi);
  p.mmioWrite(from, ICR_LO, 4, lo);
}

test('logical destinations: flat model bit masks, cluster model cluster and member bits', () => {
  const { p } = platform(4);
  for (let i = 0; i < 4; i++) p.mmioWrite(i, LAPIC + 0xd0, 4, (1 << i) << 24);   // flat: LDR = 1 << id
  ipi(p, 0, 0x0a << 24, 0x800 | 0x40);                                         // CPUs 1 and 3
  assert.deepEqual(drain(p, 4), [[], [0x40], [], [0x40]]);
  // Cluster model: CPUs 0,1 in cluster 1, CPUs 2,3 in cluster 2, member bit 1 << (id & 1).
  for (let i = 0; i < 4; i++) {
    p.mmioWrite(i, LAPIC + 0xe0, 4, 0x0fff_ffff);
    p.mmioWrite(i, LAPIC + 0xd0, 4, ((((i >> 1) + 1) << 4) | (1 << (i & 1))) << 24);
  }
  ipi(p, 0, 0x22 << 24, 0x800 | 0x41);                                         // cluster 2, member 2: CPU 3
  ipi(p, 0, 0x13 << 24, 0x800 | 0x42);                                         // cluster 1, both: CPUs 0, 1
  ipi(p, 0, 0xf1 << 24, 0x800 | 0x43);                                         // every cluster, member 1: CPUs 0, 2
  assert.deepEqual(drain(p, 4), [[0x43, 0x42], [0x42], [0x43], [0x41]]);
});

test('lowest priority goes to one CPU: the lowest TPR, the lowest index on a tie', () => {
  const { p } = platform(3);
  for (let i = 0; i < 3; i++) p.mmioWrite(i, LAPIC + 0xd0, 4, 0xff00_0000);
  p.mmioWrite(0, LAPIC + 0x80, 4, 0x30);
  p.mmioWrite(1, LAPIC + 0x80, 4, 0x20);
  p.mmioWrite(2, LAPIC + 0x80, 4, 0x10);
  ipi(p, 0, 0xff << 24, 0x800 | 0x100 | 0x50);
  assert.deepEqual(drain(p, 3), [[], [], [0x50]]);
  p.mmioWrite(2, LAPIC + 0x80, 4, 0x20);
  ipi(p, 0, 0xff << 24, 0x800 | 0x100 | 0x51);
  assert.deepEqual(drain(p, 3), [[], [0x51], []]);
});

test('shorthands, physical broadcast, NMI; INIT de-assert and SIPI reach the start-up hook only', () => {
  const { p, ipis } = platform(3);
  ipi(p, 1, 0, 0xc0000 | 0x60);           // all but self
  ipi(p, 1, 0, 0x80000 | 0x61);           // all including self
  ipi(p, 1, 0, 0x40000 | 0x62);           // self
  ipi(p, 2, 0xff << 24, 0x63);            // physical broadcast
  assert.deepEqual(drain(p, 3), [[0x63, 0x61, 0x60], [0x63, 0x62, 0x61], [0x63, 0x61, 0x60]]);
  ipi(p, 0, 2 << 24, 0x400);
  assert.equal(p.interruptController(2).takeNmi(), true);
  assert.equal(p.interruptController(1).takeNmi(), false);
  ipi(p, 0, 1 << 24, 0xc500);             // INIT, level, assert
  ipi(p, 0, 1 << 24, 0x8500);             // INIT, level, de-assert: no start-up effect
  ipi(p, 0, 1 << 24, 0x0612);             // STARTUP, page 12000h
  ipi(p, 0, 0, 0xc0000 | 0x4600 | 0x13);  // STARTUP to all but self
  assert.deepEqual(ipis, [[1, 'init', 0], [1, 'startup', 0x12], [1, 'startup', 0x13], [2, 'startup', 0x13]]);
  assert.equal(p.mmioRead(1, LAPIC + 0xf0, 4), 0xff, 'INIT left CPU 1 APIC software-disabled');
  assert.equal(p.mmioRead(1, LAPIC + 0x20, 4), 0x0100_0000, 'but kept its ID');
});

test('the IOAPIC delivers to an AP, physical or logical', () => {
  const { p } = platform(2);
  p.mmioWrite(1, LAPIC + 0xd0, 4, 0x0200_0000);
  const rte = (pin: number, lo: number, hi: number): void => {
    p.mmioWrite(0, IOAPIC_BASE, 4, 0x10 + pin * 2 + 1); p.mmioWrite(0, IOAPIC_BASE + 0x10, 4, hi);
    p.mmioWrite(0, IOAPIC_BASE, 4, 0x10 + pin * 2); p.mmioWrite(0, IOAPIC_BASE + 0x10, 4, lo);
  };
  rte(4, 0x31, 1 << 24);                  // physical APIC 1
  rte(5, 0x800 | 0x32, 0x02 << 24);       // logical 02h: CPU 1
  p.pulseIrq(4);
  p.pulseIrq(5);
  assert.deepEqual(drain(p, 2), [[], [0x32, 0x31]]);
  p.pulseIrq(0);                          // pin 2 still masked: nothing
  assert.deepEqual(drain(p, 2), [[], []]);
});

test('resetCpu: the LAPIC and IA32_APIC_BASE back to power-up', () => {
  const { p } = platform(2);
  p.setApicBaseMsr(1, 0xfed0_0800);
  p.mmioWrite(1, 0xfed0_0080, 4, 0x40);
  p.resetCpu(1);
  assert.equal(p.apicBaseMsr(1), 0xfee0_0800);
  assert.equal(p.mmioRead(1, LAPIC + 0x80, 4), 0);
  assert.equal(p.mmioRead(1, LAPIC + 0xf0, 4), 0xff);
  assert.equal(p.cpuCount, 2);
});
