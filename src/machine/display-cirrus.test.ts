// `--vga cirrus`: the CL-GD5446 joins the pc machine in slot 2 with its legacy ports and the
// 0xA0000 window; it answers as a 5446 there and at 00:02.0 (1013:00B8) with 4 MiB of VRAM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuestMemory, IrqLine } from '../devices/api.js';
import { FakeClock, FakeIrq, FakeSystem, FakeTimers } from '../devices/testing.js';
import { buildMachine } from './build.js';
import { pc } from './pc.js';
import { CIRRUS_VRAM_BYTES } from '../devices/display/cirrus-vga.js';
import { vramBytesFor, withVga } from './display.js';

const noMemory: GuestMemory = { view: () => null, read: () => false, write: () => false };

test('a pc with --vga cirrus: slot 2, 4 MiB VRAM, SR6 unlock and CR27 on the ports, the window, PCI id', () => {
  const desc = withVga(pc, 'cirrus');
  assert.deepEqual(desc.devices.find((d) => d.device === 'cirrus-vga')?.pci, { slot: 2, fn: 0 });
  assert.equal(vramBytesFor('cirrus'), CIRRUS_VRAM_BYTES);
  const m = buildMachine(desc, {
    mem: noMemory,
    irq: (): IrqLine => new FakeIrq(),
    timers: new FakeTimers(new FakeClock()),
    layout: { ramBytes: 64 << 20, lowRamBytes: 64 << 20, highRamBytes: 0, romBytes: 0 },
    cpus: 1,
    system: new FakeSystem(),
    postOutput: () => {},
  });
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
