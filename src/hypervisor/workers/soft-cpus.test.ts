// The soft CPU set without a worker: INIT/SIPI start-up of an AP (the second SIPI ignored, INIT
// sending it back to wait-for-SIPI), code one CPU decoded and another overwrote, and PAUSE
// giving way under SMP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam, memoryLayout } from '../memory.js';
import { realSegment, resetState } from '../vcpu.js';
import type { CpuIo } from '../soft/api.js';
import { StopReason } from '../soft/cpu.js';
import { SoftPlatform } from '../soft/platform.js';
import { assemble } from '../soft/test-util.js';
import { SoftCpus } from './soft-cpus.js';

const LAPIC = 0xfee0_0000;

function smp(cpus: number): { set: SoftCpus; p: SoftPlatform; ram: GuestRam } {
  const layout = memoryLayout(8 * 1024 * 1024);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  let set: SoftCpus | null = null;
  const p = new SoftPlatform({ cpus, clock: () => 0, onIpi: (t, k, v) => set?.onIpi(t, k, v) });
  const io = (cpu: number): CpuIo => ({
    portRead: () => 0xff, portWrite: () => {},
    mmioRead: (gpa, size) => p.mmioRead(cpu, gpa >>> 0, size),
    mmioWrite: (gpa, size, v) => p.mmioWrite(cpu, gpa >>> 0, size, v),
  });
  set = new SoftCpus({ ram, platform: p, clock: () => 0, io, intc: (i) => p.interruptController(i) });
  const bsp = resetState();
  bsp.cs = realSegment(0, 0xb);
  bsp.rip = 0x2000n;
  set.setStates([bsp], false);
  return { set, p, ram };
}

function sipi(p: SoftPlatform, set: SoftCpus, to: number, lo: number): void {
  p.mmioWrite(0, LAPIC + 0x310, 4, to << 24);
  p.mmioWrite(0, LAPIC + 0x300, 4, lo);
  set.applyIpis();
}

test('INIT-SIPI-SIPI starts an AP at VV00:0000; a second SIPI is ignored; INIT stops it again', () => {
  const { set, p, ram } = smp(2);
  ram.u8.set(assemble('bits 16\nmov byte [0x500], 0x42\nhlt\n'), 0x3000);
  assert.deepEqual([...set.waitSipi], [0, 1]);
  assert.equal(set.cpus[1]!.apicBase >>> 0, 0xfee0_0800, 'an AP is not the BSP');
  sipi(p, set, 1, 0xc500);
  sipi(p, set, 1, 0x8500);
  sipi(p, set, 1, 0x0603);
  assert.deepEqual([...set.waitSipi], [0, 0]);
  const ap = set.cpus[1]!;
  assert.equal(ap.getState().cs.base, 0x3000);
  assert.equal(ap.getState().cs.selector, 0x300);
  assert.equal(ap.run(1000), StopReason.Halted);
  assert.equal(ram.u8[0x500], 0x42);
  const eip = ap.eip;
  sipi(p, set, 1, 0x0603);
  assert.equal(ap.eip, eip, 'the second SIPI found the AP running and did nothing');
  sipi(p, set, 1, 0xc500);
  assert.deepEqual([...set.waitSipi], [0, 1]);
  assert.equal(ap.getState().rip, 0xfff0n);
  assert.equal(set.anyRunnable(), true, 'the BSP has not halted yet');
});

test('code decoded by one CPU and overwritten by another is decoded again', () => {
  const { set, p, ram } = smp(2);
  // CPU 0 at 2000h: mov byte [600h], 1 (its immediate at 2004h); hlt; jmp back.
  ram.u8.set(assemble('bits 16\norg 0x2000\nl: mov byte [0x600], 1\nhlt\njmp l\n'), 0x2000);
  // CPU 1 at 3000h: patches that immediate to 2.
  ram.u8.set(assemble('bits 16\nmov byte [0x2004], 2\nhlt\n'), 0x3000);
  const [c0, c1] = [set.cpus[0]!, set.cpus[1]!];
  assert.equal(c0.run(1000), StopReason.Halted);
  assert.equal(ram.u8[0x600], 1);
  sipi(p, set, 1, 0xc500);
  sipi(p, set, 1, 0x0603);
  assert.equal(c1.run(1000), StopReason.Halted);
  assert.equal(ram.u8[0x2004], 2);
  c0.halted = false;
  assert.equal(c0.run(1000), StopReason.Halted);
  assert.equal(ram.u8[0x600], 2, 'CPU 0 ran the new code');
  assert.equal(set.allStoppedForever(), true, 'both halted with IF=0');
});

test('PAUSE ends the slice under SMP and is a NOP for a lone CPU', () => {
  const code = assemble('bits 16\norg 0x2000\npause\nmov byte [0x700], 5\nhlt\n');
  const { set, ram } = smp(2);
  ram.u8.set(code, 0x2000);
  const c0 = set.cpus[0]!;
  assert.equal(c0.yieldOnPause, true);
  assert.equal(c0.run(1000), StopReason.Halted);
  assert.equal(c0.pauseHalt, true);
  assert.equal(ram.u8[0x700], 0);
  c0.pauseHalt = false;
  c0.halted = false;
  assert.equal(c0.run(1000), StopReason.Halted);
  assert.equal(c0.pauseHalt, false);
  assert.equal(ram.u8[0x700], 5);
  const one = smp(1);
  one.ram.u8.set(code, 0x2000);
  assert.equal(one.set.cpus[0]!.yieldOnPause, false);
  assert.equal(one.set.cpus[0]!.run(1000), StopReason.Halted);
  assert.equal(one.ram.u8[0x700], 5);
});
