// `--vga`: the std VGA or the CL-GD5446 joins the pc machine in slot 2 with its legacy ports
// (the std VGA also its DISPI ports) and the 0xA0000 window; none leaves the machine alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuestMemory, IrqLine } from '../devices/api.js';
import { FakeClock, FakeIrq, FakeSystem, FakeTimers } from '../devices/testing.js';
import { buildMachine } from './build.js';
import { pc } from './pc.js';
import { withNics } from './nics.js';
import { CIRRUS_VRAM_BYTES } from '../devices/display/cirrus-vga.js';
import type { MachineDescription } from './description.js';
import { STD_VGA_VRAM_BYTES, vramBytesFor, withVga } from './display.js';

const noMemory: GuestMemory = { view: () => null, read: () => false, write: () => false };

function build(desc: MachineDescription): ReturnType<typeof buildMachine> {
  return buildMachine(desc, {
    mem: noMemory,
    irq: (): IrqLine => new FakeIrq(),
    timers: new FakeTimers(new FakeClock()),
    layout: { ramBytes: 64 << 20, lowRamBytes: 64 << 20, highRamBytes: 0, romBytes: 0 },
    cpus: 1,
    system: new FakeSystem(),
    postOutput: () => {},
  });
}

test('withVga: std in slot 2 before the NICs, none unchanged', () => {
  assert.equal(withVga(pc, 'none'), pc);
  const desc = withNics(withVga(pc, 'std'), [{ model: 'e1000', mac: '52:54:00:12:34:56', backend: { kind: 'none' } } as never]);
  const vga = desc.devices.find((d) => d.device === 'std-vga');
  assert.deepEqual(vga?.pci, { slot: 2, fn: 0 });
  assert.equal(desc.devices.find((d) => d.id === 'nic0')?.pci?.slot, 3);
  assert.equal(vramBytesFor('std'), STD_VGA_VRAM_BYTES);
  assert.equal(vramBytesFor('none'), 0);
});

test('a pc with the std VGA answers at 0x3C0-0x3DF, 0x1CE and 0xA0000, and shows it at 00:02.0', () => {
  const m = build(withVga(pc, 'std'));
  m.pio.write(0x1ce, 2, 0);
  assert.equal(m.pio.read(0x1cf, 2), 0xb0c5, 'the DISPI ID');
  m.pio.write(0x3c4, 1, 2);
  assert.equal(m.pio.read(0x3c5, 1), 0x03, 'mode 3 map mask');
  m.mmio.write(0xb8000, 1, 0x48);
  assert.equal(m.mmio.read(0xb8000, 1), 0x48, 'the text window');
  m.pio.write(0xcf8, 4, 0x80001000);
  assert.equal(m.pio.read(0xcfc, 4), 0x11111234);
});

test('a pc with --vga cirrus: slot 2, 4 MiB VRAM, SR6 unlock and CR27 on the ports, the window, PCI id', () => {
  const desc = withVga(pc, 'cirrus');
  assert.deepEqual(desc.devices.find((d) => d.device === 'cirrus-vga')?.pci, { slot: 2, fn: 0 });
  assert.equal(vramBytesFor('cirrus'), CIRRUS_VRAM_BYTES);
  const m = build(desc);
  m.pio.write(0x3c4, 2, 0x1206);
  m.pio.write(0x3c4, 1, 0x06);
  assert.equal(m.pio.read(0x3c5, 1), 0x12, 'extensions unlocked');
  m.pio.write(0x3d4, 1, 0x27);
  assert.equal(m.pio.read(0x3d5, 1), 0xb8, 'CR27: CL-GD5446');
  m.mmio.write(0xb8000, 1, 0x48);
  assert.equal(m.mmio.read(0xb8000, 1), 0x48, 'the text window');
  m.pio.write(0xcf8, 4, 0x80001000);
  assert.equal(m.pio.read(0xcfc, 4), 0x00b81013);
});
