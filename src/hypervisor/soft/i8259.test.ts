// The 8259A pair through its ports: Linux's init_8259A, priorities, EOI, masking, level vs edge,
// spurious IRQ 7/15, cascade vectors, poll mode, rotation and state save/load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { I8259 } from './i8259.js';

/** Programs the pair as Linux's init_8259A(auto_eoi) does, then unmasks `master`/`slave` masks. */
function linuxInit(autoEoi = false, masterMask = 0xfb, slaveMask = 0xff): I8259 {
  const p = new I8259();
  p.write(0x21, 0xff);
  p.write(0xa1, 0xff);
  p.write(0x20, 0x11);                 // ICW1: edge, cascade, ICW4
  p.write(0x21, 0x20);                 // ICW2: IRQ0-7 at 0x20
  p.write(0x21, 1 << 2);               // ICW3: slave on IR2
  p.write(0x21, autoEoi ? 0x03 : 0x01); // ICW4: 8086 mode (+AEOI)
  p.write(0xa0, 0x11);
  p.write(0xa1, 0x28);                 // IRQ8-15 at 0x28
  p.write(0xa1, 2);                    // slave ID
  p.write(0xa1, 0x01);
  p.write(0x21, masterMask);
  p.write(0xa1, slaveMask);
  return p;
}

function pulse(p: I8259, line: number): void { p.setIrq(line, true); p.setIrq(line, false); }
function readIsr(p: I8259, port: number): number { p.write(port, 0x0b); return p.read(port); }
function readIrr(p: I8259, port: number): number { p.write(port, 0x0a); return p.read(port); }

test('Linux init sequence, IRQ0 delivery and non-specific EOI', () => {
  const p = linuxInit(false, 0xfa);
  assert.equal(p.read(0x21), 0xfa);
  assert.equal(p.intr, false);
  pulse(p, 0);
  assert.equal(p.intr, true);
  assert.equal(readIrr(p, 0x20), 0x01);
  assert.equal(p.acknowledge(), 0x20);
  assert.equal(p.intr, false);
  assert.equal(readIsr(p, 0x20), 0x01);
  assert.equal(readIrr(p, 0x20), 0x00);
  p.write(0x20, 0x20);                 // non-specific EOI
  assert.equal(readIsr(p, 0x20), 0x00);
});

test('priorities: lower line first, nesting by a higher one, the rest after EOI', () => {
  const p = linuxInit(false, 0x00);
  pulse(p, 3);
  pulse(p, 1);
  assert.equal(p.acknowledge(), 0x21);
  assert.equal(p.intr, false, 'IRQ3 waits behind IRQ1 in service');
  pulse(p, 0);
  assert.equal(p.intr, true, 'IRQ0 nests over IRQ1');
  assert.equal(p.acknowledge(), 0x20);
  p.write(0x20, 0x20);                 // EOIs IRQ0 (highest in service)
  assert.equal(readIsr(p, 0x20), 0x02);
  assert.equal(p.intr, false);
  p.write(0x20, 0x61);                 // specific EOI for IRQ1
  assert.equal(p.intr, true);
  assert.equal(p.acknowledge(), 0x23);
});

test('rotation: rotate on non-specific EOI makes the served line lowest', () => {
  const p = linuxInit(false, 0x00);
  pulse(p, 1);
  assert.equal(p.acknowledge(), 0x21);
  p.write(0x20, 0xa0);                 // rotate on non-specific EOI: IR2 now highest, IR1 lowest
  pulse(p, 0);
  pulse(p, 4);
  assert.equal(p.acknowledge(), 0x24);
  p.write(0x20, 0xc7);                 // set priority: IR7 lowest, IR0 highest
  p.write(0x20, 0x64);                 // specific EOI IR4
  assert.equal(p.acknowledge(), 0x20);
});

test('masking holds a request until unmasked', () => {
  const p = linuxInit(false, 0xff);
  pulse(p, 1);
  assert.equal(p.intr, false);
  p.write(0x21, 0xfd);
  assert.equal(p.intr, true);
  assert.equal(p.acknowledge(), 0x21);
});

test('edge vs level per ELCR', () => {
  const p = linuxInit(false, 0xfb, 0xfb);
  p.write(0x4d1, 0xff);
  assert.equal(p.read(0x4d1), 0xde, 'IRQ 8 and 13 are always edge');
  p.write(0x4d0, 0xff);
  assert.equal(p.read(0x4d0), 0xf8, 'IRQ 0, 1, 2 are always edge');
  p.write(0x4d1, 0x04);                // IRQ10 level
  p.write(0x4d0, 0x00);
  p.setIrq(10, true);
  assert.equal(p.acknowledge(), 0x2a);
  p.write(0xa0, 0x20);
  p.write(0x20, 0x20);
  assert.equal(p.intr, true, 'a level line still high asks again');
  assert.equal(p.acknowledge(), 0x2a);
  p.setIrq(10, false);
  p.write(0xa0, 0x20);
  p.write(0x20, 0x20);
  assert.equal(p.intr, false);
  // Edge: a held-high line is one interrupt.
  p.write(0x4d1, 0x00);
  p.setIrq(10, true);
  assert.equal(p.acknowledge(), 0x2a);
  p.write(0xa0, 0x20);
  p.write(0x20, 0x20);
  assert.equal(p.intr, false);
  p.setIrq(10, false);
  p.setIrq(10, true);
  assert.equal(p.intr, true);
});

test('spurious IRQ 7 and 15 when a level request vanishes before INTA', () => {
  const p = linuxInit(false, 0x00, 0x00);
  p.write(0x4d0, 0x20);                // IRQ5 level
  p.write(0x4d1, 0x08);                // IRQ11 level
  p.setIrq(5, true);
  assert.equal(p.intr, true);
  p.setIrq(5, false);
  assert.equal(p.acknowledge(), 0x27);
  assert.equal(readIsr(p, 0x20), 0, 'spurious 7 sets no ISR bit');
  p.setIrq(11, true);
  assert.equal(p.intr, true);
  p.setIrq(11, false);
  assert.equal(p.acknowledge(), 0x2f);
  assert.equal(readIsr(p, 0xa0), 0, 'spurious 15 sets no slave ISR bit');
  assert.equal(readIsr(p, 0x20), 0x04, 'the master has IR2 in service (Linux EOIs it)');
});

test('cascade: slave vectors, slave priorities, and master blocking behind IR2', () => {
  const p = linuxInit(false, 0xfb, 0x00);
  pulse(p, 12);
  pulse(p, 8);
  assert.equal(p.acknowledge(), 0x28);
  assert.equal(readIsr(p, 0x20), 0x04);
  assert.equal(readIsr(p, 0xa0), 0x01);
  assert.equal(p.intr, false);
  p.write(0xa0, 0x20);
  p.write(0x20, 0x20);
  assert.equal(p.intr, true);
  assert.equal(p.acknowledge(), 0x2c);
});

test('auto-EOI leaves ISR empty and the slave keeps asking', () => {
  const p = linuxInit(true, 0xfb, 0x00);
  p.write(0xa0, 0x11); p.write(0xa1, 0x28); p.write(0xa1, 2); p.write(0xa1, 0x03); p.write(0xa1, 0x00);
  pulse(p, 9);
  pulse(p, 10);
  assert.equal(p.acknowledge(), 0x29);
  assert.equal(readIsr(p, 0xa0), 0);
  assert.equal(readIsr(p, 0x20), 0);
  assert.equal(p.acknowledge(), 0x2a);
  assert.equal(p.intr, false);
});

test('poll mode acknowledges through a read', () => {
  const p = linuxInit(false, 0x00);
  pulse(p, 6);
  p.write(0x20, 0x0c);                 // OCW3 poll
  assert.equal(p.read(0x20), 0x86);
  assert.equal(readIsr(p, 0x20), 0x40);
  p.write(0x20, 0x0c);
  assert.equal(p.read(0x20), 0x00);
});

test('special mask mode lets lower lines through while a higher one is in service', () => {
  const p = linuxInit(false, 0x00);
  pulse(p, 1);
  assert.equal(p.acknowledge(), 0x21);
  pulse(p, 5);
  assert.equal(p.intr, false);
  p.write(0x21, 0x02);                 // mask IR1 (in service)
  p.write(0x20, 0x68);                 // OCW3: set special mask mode
  assert.equal(p.intr, true);
  assert.equal(p.acknowledge(), 0x25);
});

test('state round-trips and bad state is rejected', () => {
  const p = linuxInit(false, 0x00);
  pulse(p, 3);
  const s = p.saveState();
  const q = new I8259();
  q.loadState(JSON.parse(JSON.stringify(s)) as typeof s);
  assert.equal(q.intr, true);
  assert.equal(q.acknowledge(), 0x23);
  assert.throws(() => q.loadState({ ...s, master: { ...s.master, imr: 300 } }));
  assert.throws(() => q.loadState({ ...s, stateVersion: 99 }));
});
