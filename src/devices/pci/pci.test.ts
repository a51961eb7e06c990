// Register tests for the PCI core: config space masks and BAR sizing, configuration mechanism #1
// at every width and offset, BAR windows moving on the bus, PIIX3 PIRQ routing and reset
// control, the i440FX's PAM/SMRAM registers, and a seeded fuzz of the configuration ports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessSize, Device, IoRegion } from '../api.js';
import { MmioBus, PioBus } from '../bus.js';
import { FakeIrq, FakeSystem, fuzzRegions, fuzzSeed } from '../testing.js';
import {
  PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_INTERRUPT_LINE,
  PCI_STATUS, PCI_STATUS_INTERRUPT, PciConfigSpace,
} from './config-space.js';
import { I440fx, I440FX_PAM0, I440FX_SMRAM, SMRAM_D_LCK, SMRAM_D_OPEN } from './i440fx.js';
import { PciHost, pirqFor, type PciFunction } from './pci-host.js';
import { Piix3, PIIX3_PIRQRC } from './piix3.js';

class Recorder implements IoRegion {
  readonly log: string[] = [];
  constructor(readonly name: string, readonly size: number) {}
  read(offset: number, size: AccessSize): number { this.log.push(`r${offset}/${size}`); return 0x5a; }
  write(offset: number, size: AccessSize, value: number): void { this.log.push(`w${offset}/${size}=${value}`); }
}

/** A test function with an I/O BAR 0 (32 ports), a memory BAR 1 (4 KiB) and INTA#. */
class TestFn implements PciFunction, Device {
  readonly stateVersion = 1;
  readonly io = new Recorder('test.io', 32);
  readonly mem = new Recorder('test.mem', 4096);
  readonly config = new PciConfigSpace({ vendorId: 0x1234, deviceId: 0x5678, revision: 1, classCode: 0x020000, interruptPin: 1 });
  constructor(readonly id: string) {
    this.config.defineBar(0, { space: 'io', size: 32, region: this.io });
    this.config.defineBar(1, { space: 'mem32', size: 4096, region: this.mem });
  }
  reset(): void { this.config.reset(); }
  saveState(): unknown { return {}; }
  loadState(): void {}
}

function cfgAddr(slot: number, fn: number, reg: number): number {
  return (0x80000000 | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;
}

function machine() {
  const pio = new PioBus();
  const mmio = new MmioBus();
  const host = new PciHost('host.config', pio, mmio);
  pio.map(0xcf8, host.addressRegion);
  pio.map(0xcfc, host.dataRegion);
  const bridge = new I440fx('host');
  host.attach(0, 0, bridge);
  const isa = new Map<number, FakeIrq>();
  const apic = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
  const sys = new FakeSystem();
  const piix3 = new Piix3('isa', (n) => { const l = new FakeIrq(); isa.set(n, l); return l; }, apic, sys);
  host.attach(1, 0, piix3);
  host.setIrqRouter(piix3);
  host.setResetControl(piix3.resetControlRegion);
  const fn = new TestFn('nic');
  host.attach(3, 0, fn);
  const cfgRead = (slot: number, f: number, reg: number, size: AccessSize): number => {
    pio.write(0xcf8, 4, cfgAddr(slot, f, reg));
    return pio.read(0xcfc + (reg & 3), size);
  };
  const cfgWrite = (slot: number, f: number, reg: number, size: AccessSize, v: number): void => {
    pio.write(0xcf8, 4, cfgAddr(slot, f, reg));
    pio.write(0xcfc + (reg & 3), size, v);
  };
  return { pio, mmio, host, bridge, piix3, fn, isa, apic, sys, cfgRead, cfgWrite };
}

test('config space: read-only ids, writable masks, W1C status bits', () => {
  const c = new PciConfigSpace({ vendorId: 0x8086, deviceId: 0x1237, revision: 2, classCode: 0x060000 });
  c.write(0, 4, 0xffffffff);
  assert.equal(c.read(0, 4), 0x12378086, 'vendor and device ids are read-only');
  c.write(PCI_COMMAND, 2, 0xffff);
  assert.equal(c.read(PCI_COMMAND, 2), 0x0547, 'only the implemented command bits stick');
  c.set16(PCI_STATUS, 0xf900 | 0x0200);
  c.write(PCI_STATUS, 2, 0x8000);
  assert.equal(c.read(PCI_STATUS, 2), 0x7900 | 0x0200, 'writing 1 clears one error bit');
  c.write(PCI_STATUS, 2, 0x0000);
  assert.equal(c.read(PCI_STATUS, 2), 0x7900 | 0x0200, 'writing 0 clears nothing');
  assert.equal(c.read(8, 4), 0x06000002, 'class code and revision');
  c.write(PCI_INTERRUPT_LINE, 1, 11);
  assert.equal(c.read(PCI_INTERRUPT_LINE, 1), 11);
  c.reset();
  assert.equal(c.read(PCI_INTERRUPT_LINE, 1), 0);
});

test('config space: BAR sizing for I/O and 32-bit memory BARs', () => {
  const { fn } = machine();
  const c = fn.config;
  c.write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0, 4), 0xffffffe1, 'I/O BAR of 32 ports, bit 0 set');
  c.write(PCI_BASE_ADDRESS_0 + 4, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0 + 4, 4), 0xfffff000, '4 KiB memory BAR, non-prefetchable');
  c.write(PCI_BASE_ADDRESS_0 + 8, 4, 0xffffffff);
  assert.equal(c.read(PCI_BASE_ADDRESS_0 + 8, 4), 0, 'an unimplemented BAR reads 0');
  c.write(PCI_BASE_ADDRESS_0, 4, 0xc123);
  assert.equal(c.barAddress(0), 0xc120, 'the low address bits are not writable');
  assert.throws(() => c.defineBar(2, { space: 'io', size: 24, region: fn.io }));
});

test('host: CONFIG_ADDRESS reads back only as a dword; CONFIG_DATA at every width and offset', () => {
  const { pio, cfgRead } = machine();
  pio.write(0xcf8, 4, 0xffffffff);
  assert.equal(pio.read(0xcf8, 4), 0x80fffffc, 'reserved bits read zero');
  pio.write(0xcf8, 4, 0x80000000);
  assert.equal(pio.read(0xcf8, 2), 0xffff, 'a word access is not CONFIG_ADDRESS');
  assert.equal(pio.read(0xcf8, 4), 0x80000000);
  pio.write(0xcfa, 2, 0x1234);
  assert.equal(pio.read(0xcf8, 4), 0x80000000, 'a narrow write does not touch the latch');
  assert.equal(pio.read(0xcfc, 4), 0x12378086);
  assert.equal(pio.read(0xcfc, 2), 0x8086);
  assert.equal(pio.read(0xcfe, 2), 0x1237);
  assert.equal(pio.read(0xcfd, 1), 0x80);
  assert.equal(pio.read(0xcff, 1), 0x12);
  assert.equal(pio.read(0xcfd, 2), 0x3780, 'an unaligned word inside the dword');
  assert.equal(cfgRead(1, 0, 0, 4), 0x70008086, 'PIIX3 ISA bridge');
  assert.equal(cfgRead(1, 0, 0x0e, 1), 0x80, 'multi-function header');
  assert.equal(cfgRead(1, 0, 0x0a, 2), 0x0601);
  assert.equal(cfgRead(2, 0, 0, 4), 0xffffffff, 'an empty slot reads all ones');
  assert.equal(cfgRead(1, 1, 0, 2), 0xffff, 'the IDE function is not here yet');
  pio.write(0xcf8, 4, 0x80010000);
  assert.equal(pio.read(0xcfc, 4), 0xffffffff, 'bus 1 does not exist');
  pio.write(0xcf8, 4, 0x00000000);
  assert.equal(pio.read(0xcfc, 4), 0xffffffff, 'the enable bit is off');
});

test('host: BAR windows appear, move and vanish with BAR writes and command bits', () => {
  const { pio, mmio, fn, cfgWrite, cfgRead } = machine();
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0, 4, 0xc000);
  assert.equal(pio.read(0xc000, 1), 0xff, 'I/O decode is off');
  cfgWrite(3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO);
  assert.equal(pio.read(0xc004, 1), 0x5a);
  assert.deepEqual(fn.io.log, ['r4/1'], 'the device sees a BAR-relative offset');
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0, 4, 0xd000);
  assert.equal(pio.read(0xc004, 1), 0xff, 'the old window is gone');
  pio.write(0xd01f, 1, 7);
  assert.deepEqual(fn.io.log, ['r4/1', 'w31/1=7']);
  // Sizing leaves all ones in the BAR: nothing decodes while it is there.
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
  assert.equal(cfgRead(3, 0, PCI_BASE_ADDRESS_0, 4), 0xffffffe1);
  assert.equal(pio.read(0xd000, 1), 0xff);
  // A BAR over the configuration ports loses: the first claim wins.
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0, 4, 0xce0);
  assert.equal(pio.read(0xcf8, 4), cfgAddr(3, 0, PCI_BASE_ADDRESS_0));
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0 + 4, 4, 0xfebf0000);
  cfgWrite(3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
  assert.equal(mmio.read(0xfebf0010, 4), 0x5a);
  assert.equal(fn.mem.log.at(-1), 'r16/4');
  cfgWrite(3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO);
  assert.equal(mmio.read(0xfebf0010, 4), 0xffffffff, 'memory decode off unmaps');
});

test('host: overlapping BARs — the first claim wins, the other maps once the place is free', () => {
  const { host, mmio, fn, cfgWrite } = machine();
  const other = new TestFn('other');
  host.attach(4, 0, other);
  for (const slot of [3, 4]) {
    cfgWrite(slot, 0, PCI_BASE_ADDRESS_0 + 4, 4, 0xfeb00000);
    cfgWrite(slot, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
  }
  assert.equal(host.conflicts, 1);
  mmio.read(0xfeb00000, 4);
  assert.equal(fn.mem.log.length, 1, 'slot 3 claimed it first');
  assert.equal(other.mem.log.length, 0);
  cfgWrite(3, 0, PCI_BASE_ADDRESS_0 + 4, 4, 0xfea00000);
  mmio.read(0xfeb00000, 4);
  assert.equal(other.mem.log.length, 1, 'slot 4 decodes once slot 3 moved away');
  mmio.read(0xfea00000, 4);
  assert.equal(fn.mem.log.length, 2);
});

test('PIIX3: PIRQ routing to ISA IRQs and IOAPIC inputs 16-19', () => {
  const { fn, isa, apic, cfgWrite, cfgRead, host } = machine();
  assert.equal(cfgRead(1, 0, PIIX3_PIRQRC, 4), 0x80808080, 'all PIRQs unrouted at reset');
  const intx = host.intxLine(3, 0);
  const pirq = pirqFor(3, 1); // slot 3 INTA# → PIRQD
  assert.equal(pirq, 3);
  intx.set(true);
  assert.equal(apic[pirq]!.level, true, 'IOAPIC input 16 + PIRQ');
  assert.equal(isa.size, 0, 'no ISA line while unrouted');
  assert.equal(cfgRead(3, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
  cfgWrite(1, 0, PIIX3_PIRQRC + pirq, 1, 11);
  assert.equal(isa.get(11)?.level, true, 'routing a raised PIRQ raises its ISA line');
  cfgWrite(1, 0, PIIX3_PIRQRC + pirq, 1, 10);
  assert.equal(isa.get(11)?.level, false, 'the old line drops');
  assert.equal(isa.get(10)?.level, true);
  cfgWrite(3, 0, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
  assert.equal(apic[pirq]!.level, false, 'INTX_DISABLE masks the pin');
  assert.equal(isa.get(10)?.level, false);
  cfgWrite(3, 0, PCI_COMMAND, 2, 0);
  assert.equal(apic[pirq]!.level, true);
  intx.set(false);
  assert.equal(apic[pirq]!.level, false);
  assert.equal(isa.get(10)?.level, false);
  cfgWrite(1, 0, PIIX3_PIRQRC, 1, 0x0d);
  assert.equal(fn.config.get8(PCI_INTERRUPT_LINE), 0);
  assert.equal((fn as PciFunction).id, 'nic');
});

test('PIIX3: two functions sharing a PIRQ keep it raised until both drop', () => {
  const { host, apic } = machine();
  const a = new TestFn('a');
  const b = new TestFn('b');
  host.attach(4, 0, a); // INTA# of slot 4 → PIRQA
  host.attach(8, 0, b); // INTA# of slot 8 → PIRQA
  host.intxLine(4, 0).set(true);
  host.intxLine(8, 0).set(true);
  host.intxLine(4, 0).set(false);
  assert.equal(apic[0]!.level, true);
  host.intxLine(8, 0).set(false);
  assert.equal(apic[0]!.level, false);
});

test('PIIX3: reset control at 0xCF9', () => {
  const { pio, sys } = machine();
  pio.write(0xcf9, 1, 0x02);
  assert.equal(sys.resets, 0, 'SRST alone only selects the reset kind');
  assert.equal(pio.read(0xcf9, 1), 0x02);
  pio.write(0xcf9, 1, 0x06);
  assert.equal(sys.resets, 1, 'RCPU with SRST resets (the FADT reset value)');
  pio.write(0xcf8, 4, 0x80000000);
  assert.equal(pio.read(0xcf8, 4), 0x80000000, 'the dword latch is unaffected');
});

test('i440FX: PAM and SMRAM registers', () => {
  const { cfgWrite, cfgRead } = machine();
  cfgWrite(0, 0, I440FX_PAM0, 1, 0xff);
  assert.equal(cfgRead(0, 0, I440FX_PAM0, 1), 0x30, 'PAM0 has only the high nibble');
  cfgWrite(0, 0, I440FX_PAM0 + 3, 4, 0xffffffff); // PAM3..PAM6, one aligned dword
  assert.equal(cfgRead(0, 0, I440FX_PAM0 + 3, 4), 0x33333333, 'reserved bits 7:6 and 3:2 stay 0');
  assert.equal(cfgRead(0, 0, I440FX_SMRAM, 1), 0x02);
  cfgWrite(0, 0, I440FX_SMRAM, 1, SMRAM_D_OPEN);
  assert.equal(cfgRead(0, 0, I440FX_SMRAM, 1), 0x42);
  cfgWrite(0, 0, I440FX_SMRAM, 1, SMRAM_D_LCK | SMRAM_D_OPEN);
  assert.equal(cfgRead(0, 0, I440FX_SMRAM, 1), 0x12, 'D_LCK closes and locks');
  cfgWrite(0, 0, I440FX_SMRAM, 1, SMRAM_D_OPEN);
  assert.equal(cfgRead(0, 0, I440FX_SMRAM, 1), 0x12, 'locked until reset');
});

test('fuzz: random traffic on the configuration ports never throws', () => {
  const { host, pio } = machine();
  const seed = fuzzSeed();
  // Aim CONFIG_ADDRESS mostly at functions that exist, so BARs and routes get exercised.
  fuzzRegions([host.addressRegion, host.dataRegion, host.dataRegion], 50_000, seed, (rand) => {
    const slot = [0, 1, 3, 5][Math.floor(rand() * 4)]!;
    host.addressRegion.write(0, 4, cfgAddr(slot, rand() < 0.8 ? 0 : 3, Math.floor(rand() * 256)));
    host.intxLine(3, 0).set(rand() < 0.5);
    pio.read(Math.floor(rand() * 0x10000), 1);
  });
});
