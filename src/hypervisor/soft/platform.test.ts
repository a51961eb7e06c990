// The platform as the soft CPU sees it: PIC straight through while the LAPIC is off, virtual
// wire, IOAPIC routing with level-triggered remote IRR, the IRQ0 override, APIC base relocation,
// IPIs, timers via update/nextDeadline, state, and a seeded random port/MMIO fuzz.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoftPlatform, IOAPIC_BASE, type IpiKind } from './platform.js';

const LAPIC = 0xfee0_0000;

function platform(cpus = 1): { p: SoftPlatform; t: { now: number }; ipis: [number, IpiKind, number][] } {
  const t = { now: 50 };
  const ipis: [number, IpiKind, number][] = [];
  const p = new SoftPlatform({ cpus, clock: () => t.now, onIpi: (c, k, v) => ipis.push([c, k, v]) });
  return { p, t, ipis };
}

function initPic(p: SoftPlatform, masterMask: number, slaveMask = 0xff): void {
  for (const [port, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 4], [0x21, 1], [0xa0, 0x11], [0xa1, 0x28],
    [0xa1, 2], [0xa1, 1], [0x21, masterMask], [0xa1, slaveMask]] as const) p.portWrite(port, 1, v);
}

function ioapicWrite(p: SoftPlatform, reg: number, v: number): void {
  p.mmioWrite(0, IOAPIC_BASE, 4, reg);
  p.mmioWrite(0, IOAPIC_BASE + 0x10, 4, v);
}
function ioapicRead(p: SoftPlatform, reg: number): number {
  p.mmioWrite(0, IOAPIC_BASE, 4, reg);
  return p.mmioRead(0, IOAPIC_BASE + 0x10, 4);
}
function enableLapic(p: SoftPlatform): void { p.mmioWrite(0, LAPIC + 0xf0, 4, 0x1ff); }

test('ownership of ports and MMIO', () => {
  const { p } = platform();
  for (const port of [0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x4d0, 0x4d1]) assert.ok(p.ownsPort(port));
  for (const port of [0x22, 0x60, 0x64, 0x70, 0x3f8, 0x4d2]) assert.ok(!p.ownsPort(port));
  assert.ok(p.ownsMmio(LAPIC) && p.ownsMmio(LAPIC + 0xfff) && !p.ownsMmio(LAPIC + 0x1000));
  assert.ok(p.ownsMmio(IOAPIC_BASE) && p.ownsMmio(IOAPIC_BASE + 0xfff) && !p.ownsMmio(IOAPIC_BASE + 0x1000));
});

test('PIC interrupts reach the CPU while the LAPIC is software-disabled', () => {
  const { p } = platform();
  const ic = p.interruptController(0);
  initPic(p, 0xfe);
  assert.equal(p.portRead(0x20, 2), 0xfe00, 'a 16-bit IN reads 0x20 (IRR) and 0x21 (IMR)');
  assert.equal(ic.hasInterrupt(), false);
  p.pulseIrq(0);
  assert.equal(ic.hasInterrupt(), true);
  assert.equal(ic.acknowledge(), 0x20);
  assert.equal(ic.hasInterrupt(), false);
  p.portWrite(0x20, 1, 0x20);
});

test('virtual wire: LINT0 in ExtINT mode passes the PIC; masked LINT0 blocks it', () => {
  const { p } = platform();
  const ic = p.interruptController(0);
  initPic(p, 0xfd);
  enableLapic(p);
  p.mmioWrite(0, LAPIC + 0x350, 4, 0x700);
  p.pulseIrq(1);
  assert.equal(ic.hasInterrupt(), true);
  assert.equal(ic.acknowledge(), 0x21);
  p.portWrite(0x20, 1, 0x20);
  p.mmioWrite(0, LAPIC + 0x350, 4, 0x10700);
  p.pulseIrq(1);
  assert.equal(ic.hasInterrupt(), false);
  p.setApicBaseMsr(0, LAPIC);                 // hardware-disable: the PIC goes straight through
  assert.equal(ic.hasInterrupt(), true);
  assert.ok(!p.ownsMmio(LAPIC));
});

test('IOAPIC: identity, ISA IRQ0 on pin 2, edge delivery, masking', () => {
  const { p } = platform();
  const ic = p.interruptController(0);
  enableLapic(p);
  assert.equal(ioapicRead(p, 0x01), 0x00170011);
  assert.equal(ioapicRead(p, 0x10) & 0x10000, 0x10000, 'entries reset masked');
  ioapicWrite(p, 0x10 + 2 * 2, 0x30);         // pin 2: vector 0x30, fixed, physical, edge
  ioapicWrite(p, 0x10 + 2 * 2 + 1, 0);
  p.pulseIrq(0);
  assert.equal(ic.hasInterrupt(), true);
  assert.equal(ic.acknowledge(), 0x30);
  p.mmioWrite(0, LAPIC + 0xb0, 4, 0);
  ioapicWrite(p, 0x10 + 2 * 4, 0x10031);      // pin 4 masked
  p.pulseIrq(4);
  assert.equal(ic.hasInterrupt(), false);
  ioapicWrite(p, 0x10 + 2 * 4, 0x31);
  assert.equal(ic.hasInterrupt(), false, 'an edge while masked is lost');
  ioapicWrite(p, 0x10 + 2 * 5, 0x32 | 0x800); // logical destination 0x01
  ioapicWrite(p, 0x11 + 2 * 5, 0x0100_0000);
  p.pulseIrq(5);
  assert.equal(ic.hasInterrupt(), false, 'LDR 0 matches no logical destination');
  p.mmioWrite(0, LAPIC + 0xd0, 4, 0x0100_0000);
  p.pulseIrq(5);
  assert.equal(ic.acknowledge(), 0x32);
});

test('IOAPIC level-triggered: remote IRR until EOI, redelivery while asserted', () => {
  const { p } = platform();
  const ic = p.interruptController(0);
  enableLapic(p);
  ioapicWrite(p, 0x10 + 2 * 17, 0x8000 | 0x51);  // pin 17 level, vector 0x51
  p.setIrq(17, true);
  assert.equal(ioapicRead(p, 0x10 + 2 * 17) & 0x4000, 0x4000, 'remote IRR set');
  assert.equal(ic.acknowledge(), 0x51);
  assert.equal(ic.hasInterrupt(), false);
  p.mmioWrite(0, LAPIC + 0xb0, 4, 0);          // EOI: still asserted, so it comes again
  assert.equal(ic.hasInterrupt(), true);
  assert.equal(ic.acknowledge(), 0x51);
  p.setIrq(17, false);
  p.mmioWrite(0, LAPIC + 0xb0, 4, 0);
  assert.equal(ioapicRead(p, 0x10 + 2 * 17) & 0x4000, 0);
  assert.equal(ic.hasInterrupt(), false);
});

test('PIT IRQ0 through the IOAPIC and the LAPIC timer via update/nextDeadline', () => {
  const { p, t } = platform();
  const ic = p.interruptController(0);
  enableLapic(p);
  ioapicWrite(p, 0x10 + 2 * 2, 0x30);
  p.portWrite(0x43, 1, 0x34);
  p.portWrite(0x40, 1, 11932 & 0xff);
  p.portWrite(0x40, 1, 11932 >> 8);
  p.mmioWrite(0, LAPIC + 0x3e0, 4, 0xb);
  p.mmioWrite(0, LAPIC + 0x320, 4, 0xef);
  p.mmioWrite(0, LAPIC + 0x380, 4, 3_000_000);  // 3 ms
  assert.equal(p.nextDeadline(), t.now + 3);
  let pit = 0, lapic = 0;
  const start = t.now;
  while (t.now < start + 100) {
    t.now = Math.min(p.nextDeadline(), start + 100);
    p.update(t.now);
    while (ic.hasInterrupt()) {
      const v = ic.acknowledge();
      if (v === 0x30) pit++; else if (v === 0xef) lapic++;
      p.mmioWrite(0, LAPIC + 0xb0, 4, 0);
    }
  }
  assert.equal(pit, 9);
  assert.equal(lapic, 1);
});

test('APIC base relocation and IPIs', () => {
  const { p, ipis } = platform(2);
  assert.equal(p.apicBaseMsr(0), 0xfee00900);
  assert.equal(p.apicBaseMsr(1), 0xfee00800);
  p.setApicBaseMsr(0, 0xfed0_0800);
  assert.ok(p.ownsMmio(0xfed0_0020, 0) && !p.ownsMmio(LAPIC + 0x20, 0));
  assert.equal(p.mmioRead(0, 0xfed0_0020, 4), 0);
  assert.equal(p.mmioRead(1, LAPIC + 0x20, 4), 0x0100_0000);
  p.mmioWrite(0, 0xfed0_00f0, 4, 0x1ff);
  p.mmioWrite(1, LAPIC + 0xf0, 4, 0x1ff);
  p.mmioWrite(0, 0xfed0_0310, 4, 0x0100_0000);
  p.mmioWrite(0, 0xfed0_0300, 4, 0x4044);      // fixed vector 0x44 to APIC 1
  assert.equal(p.interruptController(1).acknowledge(), 0x44);
  p.mmioWrite(0, 0xfed0_0300, 4, 0xc4500);     // INIT to all but self
  p.mmioWrite(0, 0xfed0_0300, 4, 0xc4698);     // SIPI, page 0x98
  assert.deepEqual(ipis, [[1, 'init', 0], [1, 'startup', 0x98]]);
  p.mmioWrite(1, LAPIC + 0x300, 4, 0x44400);   // NMI to self
  assert.equal(p.interruptController(1).takeNmi(), true);
  assert.equal(p.interruptController(1).takeNmi(), false);
});

test('state round-trips; invalid state leaves the platform as it was', () => {
  const { p, t } = platform();
  initPic(p, 0xfb, 0xef);
  enableLapic(p);
  ioapicWrite(p, 0x10 + 2 * 12, 0x8000 | 0x61);
  p.setIrq(12, true);
  const s = p.saveState();
  const b = platform();
  b.t.now = t.now + 1000;
  b.p.loadState(JSON.parse(JSON.stringify(s)) as typeof s);
  assert.deepEqual(JSON.parse(JSON.stringify(b.p.saveState().ioapic)), JSON.parse(JSON.stringify(s.ioapic)));
  assert.equal(b.p.interruptController(0).acknowledge(), 0x61);
  const before = JSON.stringify(b.p.saveState());
  assert.throws(() => b.p.loadState({ ...s, lapics: [{ ...s.lapics[0]!, irr: [] }] }));
  assert.equal(JSON.stringify(b.p.saveState()), before);
  assert.throws(() => b.p.loadState({ ...s, apicBase: [] }));
});

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('seeded random port, MMIO, line and time fuzz never throws', () => {
  const ports = [0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x4d0, 0x4d1];
  const sizes = [1, 2, 4] as const;
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const pick = (n: number): number => Math.floor(r() * n);
    const { p, t } = platform(2);
    const began = Date.now();
    try {
      for (let i = 0; i < 5000; i++) {
        const cpu = pick(2);
        const size = sizes[pick(3)]!;
        const value = Math.floor(r() * 4294967296);
        switch (pick(9)) {
          case 0: p.portWrite(ports[pick(ports.length)]!, size, value); break;
          case 1: p.portRead(ports[pick(ports.length)]!, size); break;
          case 2: p.mmioWrite(cpu, LAPIC + pick(0x1000), size, pick(8) === 0 ? 0x1ff : value); break;
          case 3: p.mmioRead(cpu, LAPIC + pick(0x1000), size); break;
          case 4: p.mmioWrite(cpu, IOAPIC_BASE + (pick(2) === 0 ? pick(0x40) : 0x10), size, value); break;
          case 5: p.mmioRead(cpu, IOAPIC_BASE + pick(0x40), size); break;
          case 6: if (pick(2) === 0) p.setIrq(pick(26) - 1, r() < 0.5); else p.pulseIrq(pick(24)); break;
          case 7: {
            const ic = p.interruptController(cpu);
            if (ic.hasInterrupt()) ic.acknowledge();
            ic.takeNmi();
            break;
          }
          default:
            t.now += r() * 5;
            p.update(t.now);
            assert.ok(!Number.isNaN(p.nextDeadline()));
            if (pick(50) === 0) p.setApicBaseMsr(cpu, value);
            if (pick(100) === 0) p.loadState(p.saveState());
        }
      }
    } catch (e) {
      assert.fail(`seed ${seed}: ${String(e)}`);
    }
    assert.ok(Date.now() - began < 5000, `seed ${seed} took too long`);
  }
});
