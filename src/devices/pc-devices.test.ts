// The `pc` machine's devices built through machine/factories.ts and reached through the port
// bus at their real addresses, as the ioreq server would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuestMemory, IrqLine } from './api.js';
import { buildMachine } from '../machine/build.js';
import { pc } from '../machine/pc.js';
import { PCI_HOLE_START } from '../hypervisor/memory.js';
import { FakeClock, FakeIrq, FakeSystem, FakeTimers, fuzzSeed, seededRandom } from './testing.js';

const noMemory: GuestMemory = { view: () => null, read: () => false, write: () => false };

function build() {
  const lines = new Map<number, FakeIrq>();
  const sys = new FakeSystem();
  const posted: [string, number[]][] = [];
  const m = buildMachine(pc, {
    mem: noMemory,
    irq: (line): IrqLine => { const l = new FakeIrq(); lines.set(line, l); return l; },
    timers: new FakeTimers(new FakeClock()),
    // A 5 GiB layout as memoryLayout would split it (this build caps RAM lower, the RTC does not).
    layout: { ramBytes: 5 * 1024 ** 3, lowRamBytes: PCI_HOLE_START, highRamBytes: 5 * 1024 ** 3 - PCI_HOLE_START, romBytes: 0 },
    cpus: 1,
    system: sys,
    postOutput: (id, bytes) => posted.push([id, Array.from(bytes)]),
  });
  return { m, lines, sys, posted };
}

test('pc devices answer at their ports', () => {
  const { m, lines, sys, posted } = build();
  for (const b of Buffer.from('ok')) m.pio.write(0x3f8, 1, b);
  m.flushOutput();
  assert.deepEqual(posted, [['serial0', [0x6f, 0x6b]]]);
  m.pio.write(0x3f9, 1, 0x02);
  m.pio.write(0x3fc, 1, 0x08);
  assert.equal(lines.get(4)?.level, true, 'COM1 THRE on IRQ 4');
  m.chardevInput('serial0', Uint8Array.of(0x41));
  assert.equal(m.pio.read(0x3fd, 1) & 1, 1);
  assert.equal(m.pio.read(0x3f8, 1), 0x41);

  m.pio.write(0x70, 1, 0x34);
  assert.equal(m.pio.read(0x71, 1), 0x00);
  m.pio.write(0x70, 1, 0x35);
  assert.equal(m.pio.read(0x71, 1), 0xdf, '3.5 GiB below 4 GiB');

  m.pio.write(0xcf8, 4, 0x80000000);
  assert.equal(m.pio.read(0xcf8, 4), 0x80000000);
  assert.equal(m.pio.read(0xcfc, 4), 0x12378086, 'the i440FX host bridge at 00:00.0');
  m.pio.write(0xcf8, 4, 0x80000000 | (2 << 11));
  assert.equal(m.pio.read(0xcfc, 4), 0xffffffff, 'nothing at 00:02.0');

  m.pio.write(0x80, 1, 0x42);
  assert.equal(m.pio.read(0x80, 1), 0x42);

  m.pio.write(0x64, 1, 0xaa);
  assert.equal(m.pio.read(0x64, 1) & 1, 1);
  assert.equal(m.pio.read(0x60, 1), 0x55);
  m.pio.write(0x64, 1, 0xfe);
  assert.equal(sys.resets, 1);

  m.pio.write(0xf4, 4, 0x10);
  assert.deepEqual(sys.exits, [0x10], 'a split 32-bit write exits once with the low byte');
  m.reset();
});

test('fuzz: random port I/O over the whole pc ISA space never throws', () => {
  const { m } = build();
  const seed = fuzzSeed();
  const rand = seededRandom(seed);
  const ports = [0x3f8, 0x70, 0x60, 0x64, 0x80, 0xf4, 0xcf8, 0xcfc, 0x510, 0x514, 0x600, 0x608];
  const sizes = [1, 2, 4] as const;
  try {
    for (let i = 0; i < 30_000; i++) {
      const port = ports[Math.floor(rand() * ports.length)]! + Math.floor(rand() * 8);
      const size = sizes[Math.floor(rand() * 3)]!;
      if (rand() < 0.5) m.pio.read(port, size);
      else m.pio.write(port, size, Math.floor(rand() * 2 ** 32));
      if (rand() < 0.01) m.chardevInput('serial0', Uint8Array.of(Math.floor(rand() * 256)));
    }
  } catch (e) {
    throw new Error(`fuzz failed with seed ${seed}: ${String(e)}`);
  }
});

test('pc: PCI functions, the PM block at 0x600 and fw_cfg with the ACPI files', async () => {
  const { m } = build();
  const id = (slot: number, fn: number): number => {
    m.pio.write(0xcf8, 4, (0x80000000 | (slot << 11) | (fn << 8)) >>> 0);
    return m.pio.read(0xcfc, 4);
  };
  assert.equal(id(0, 0), 0x12378086);
  assert.equal(id(1, 0), 0x70008086);
  assert.equal(id(1, 3), 0x71138086);
  m.pio.write(0xcf8, 4, (0x80000000 | (1 << 11) | 0x60) >>> 0);
  assert.equal(m.pio.read(0xcfc, 4), 0x0b0b0a0a, 'PIRQA-D routed to 10, 10, 11, 11 from reset (the DSDT PIC table)');
  assert.equal(m.pio.read(0x604, 2) & 1, 1, 'PM1_CNT.SCI_EN at the FADT address');
  m.pio.write(0x510, 2, 0x0000);
  const sig = [0, 1, 2, 3].map(() => m.pio.read(0x511, 1));
  assert.equal(String.fromCharCode(...sig), 'QEMU');
  const { FwCfg } = await import('./fw-cfg.js');
  const fw = m.devices.get('fw_cfg');
  assert.ok(fw instanceof FwCfg);
  for (const f of ['etc/e820', 'etc/acpi/tables', 'etc/acpi/rsdp', 'etc/table-loader', 'etc/boot-fail-wait', 'etc/sercon-port']) {
    assert.ok(fw.file(f) !== undefined, f);
  }
  assert.equal(fw.file('etc/e820')!.length, 40, 'RAM below the hole and above 4 GiB');
  assert.equal(m.powerButton(), true);
  m.reset();
  assert.equal(id(0, 0), 0x12378086, 'functions survive a reset');
  assert.equal(m.pio.read(0x604, 2) & 1, 1, 'the PM block is back at its reset base');
});
