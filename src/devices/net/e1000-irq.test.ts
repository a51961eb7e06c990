// E1000 interrupt moderation with an injected clock: the device model's timer queue and the
// card read the same hand-moved time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E1000 } from './e1000.js';
import {
  ICR, ICR_LSC, ICR_RXT0, ICR_TXDW, ICS, IMS, ITR, RADV, RCTL, RCTL_BAM, RCTL_EN, RDBAL, RDH, RDLEN, RDT, RDTR, TADV, TCTL,
  TCTL_EN, TDBAL, TDH, TDLEN, TDT, TIDV,
} from './e1000-regs.js';
import { DELAY_FPD, DELAY_UNIT_MS, ITR_UNIT_MS } from './e1000-irq.js';
import { RecordingPort } from './net-testing.js';
import { FakeIrq, FakeMemory } from '../testing.js';
import { TimerQueue } from '../../devicemodel/timers.js';
import { BROADCAST_MAC, ethFrame, ETHERTYPE_IPV4 } from '../../net/packet.js';

const MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const RING = 0x1000, TXRING = 0x2000, BUF = 0x10000, TXBUF = 0x40000;

function setup(): { nic: E1000; irq: FakeIrq; mem: FakeMemory; port: RecordingPort; w: (o: number, v: number) => void; r: (o: number) => number; advance: (ms: number) => void } {
  let t = 1000;
  const timers = new TimerQueue(() => t);
  const irq = new FakeIrq();
  const mem = new FakeMemory(1 << 20);
  const port = new RecordingPort();
  const nic = new E1000('nic0', irq, mem, MAC, port, timers, () => t);
  const advance = (ms: number): void => { t += ms; timers.runDue(); };
  return { nic, irq, mem, port, w: (o, v) => nic.mmio.write(o, 4, v >>> 0), r: (o) => nic.mmio.read(o, 4), advance };
}

function rxRing(mem: FakeMemory, w: (o: number, v: number) => void, count: number): void {
  const v = new DataView(mem.u8.buffer);
  for (let i = 0; i < count; i++) { v.setUint32(RING + 16 * i, BUF + 2048 * i, true); v.setUint32(RING + 16 * i + 4, 0, true); }
  w(RDBAL, RING); w(RDLEN, count * 16); w(RDH, 0); w(RDT, count - 1);
  w(RCTL, RCTL_EN | RCTL_BAM);
}

const frame = ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(64));

/** Queues `n` legacy transmit descriptors (EOP|IFCS|RS, IDE when asked) and rings TDT. */
function transmit(mem: FakeMemory, w: (o: number, v: number) => void, r: (o: number) => number, n: number, ide: boolean): void {
  const v = new DataView(mem.u8.buffer);
  mem.u8.set(frame, TXBUF);
  let tail = r(TDT);
  for (let i = 0; i < n; i++) {
    const at = TXRING + 16 * tail;
    v.setUint32(at, TXBUF, true); v.setUint32(at + 4, 0, true);
    v.setUint32(at + 8, (frame.length | ((0x01 | 0x02 | 0x08 | (ide ? 0x80 : 0)) << 24)) >>> 0, true);
    v.setUint32(at + 12, 0, true);
    tail = (tail + 1) % 16;
  }
  w(TDT, tail);
}

test('e1000 RDTR: RXT0 waits for a quiet interval after the last frame; FPD flushes', () => {
  const { mem, w, r, port, irq, advance } = setup();
  rxRing(mem, w, 16);
  w(IMS, ICR_RXT0);
  w(RDTR, 100); // 102.4 µs
  port.deliver(frame);
  assert.equal(r(RDH), 1, 'the frame is stored at once');
  assert.equal(irq.level, false, 'RXT0 held back');
  advance(60 * DELAY_UNIT_MS);
  port.deliver(frame); // restarts the packet timer
  advance(60 * DELAY_UNIT_MS);
  assert.equal(irq.level, false, 'restarted by the second frame');
  advance(41 * DELAY_UNIT_MS);
  assert.equal(irq.level, true, 'fires 100 units after the last frame');
  assert.equal(r(ICR) & ICR_RXT0, ICR_RXT0);
  assert.equal(irq.level, false, 'reading ICR clears it');
  // FPD: a pending delay fires at once; the bit does not stay in the register.
  port.deliver(frame);
  assert.equal(irq.level, false);
  w(RDTR, 100 | DELAY_FPD);
  assert.equal(irq.level, true);
  assert.equal(r(RDTR), 100);
});

test('e1000 RADV: a steady stream still gets RXT0 within the absolute delay', () => {
  const { mem, w, r, port, irq, advance } = setup();
  rxRing(mem, w, 64);
  w(IMS, ICR_RXT0);
  w(RDTR, 50); w(RADV, 120);
  let firedAt = -1;
  for (let i = 0; i < 40 && firedAt < 0; i++) {
    port.deliver(frame);
    advance(30 * DELAY_UNIT_MS); // always inside RDTR's window
    if (irq.level) firedAt = (i + 1) * 30;
  }
  assert.ok(firedAt >= 120 && firedAt <= 150, `fired after ${firedAt} units`);
  r(ICR);
  // RDTR = 0: at once, whatever RADV says.
  w(RDTR, 0);
  port.deliver(frame);
  assert.equal(irq.level, true);
});

test('e1000 TIDV/TADV: descriptors with IDE delay TXDW; one without IDE signals at once', () => {
  const { mem, w, r, irq, port, advance } = setup();
  w(TDBAL, TXRING); w(TDLEN, 16 * 16); w(TDH, 0); w(TDT, 0); w(TCTL, TCTL_EN);
  w(IMS, ICR_TXDW);
  w(TIDV, 64); w(TADV, 100);
  transmit(mem, w, r, 2, true);
  assert.equal(port.sent.length, 2, 'sent at once');
  assert.equal(r(TDH), 2);
  assert.equal(irq.level, false, 'TXDW delayed');
  advance(50 * DELAY_UNIT_MS);
  transmit(mem, w, r, 1, true); // restarts TIDV; TADV keeps running
  advance(49 * DELAY_UNIT_MS);
  assert.equal(irq.level, false);
  advance(2 * DELAY_UNIT_MS);
  assert.equal(irq.level, true, 'TADV (100 units) bounds the delay');
  r(ICR);
  transmit(mem, w, r, 1, true);
  assert.equal(irq.level, false);
  transmit(mem, w, r, 1, false);
  assert.equal(irq.level, true, 'a descriptor without IDE signals at once');
  r(ICR);
  advance(200 * DELAY_UNIT_MS);
  assert.equal(irq.level, false, 'the delayed cause went with it');
  // TIDV with FPD flushes a pending delay.
  transmit(mem, w, r, 1, true);
  w(TIDV, 64 | DELAY_FPD);
  assert.equal(irq.level, true);
});

test('e1000 ITR: the line rises at most once per interval; causes are in ICR at once', () => {
  const { w, r, irq, advance } = setup();
  w(IMS, ICR_LSC | ICR_TXDW);
  w(ITR, 1000); // 256 µs
  w(ICS, ICR_LSC);
  assert.equal(irq.level, true, 'the first interrupt is not delayed');
  assert.equal(r(ICR), ICR_LSC);
  assert.equal(irq.level, false);
  advance(100 * 1000 * ITR_UNIT_MS / 256);
  w(ICS, ICR_TXDW);
  assert.equal(irq.level, false, 'inside the interval');
  assert.equal(r(ICS) & ICR_TXDW, ICR_TXDW, 'the cause is visible');
  advance(100 * ITR_UNIT_MS);
  assert.equal(irq.level, false);
  advance(1000 * ITR_UNIT_MS);
  assert.equal(irq.level, true, 'raised when the interval ended');
  // A cause cleared before the interval ends raises nothing.
  r(ICR);
  w(ICS, ICR_TXDW);
  w(ICR, ICR_TXDW);
  advance(2000 * ITR_UNIT_MS);
  assert.equal(irq.level, false);
  // ITR = 0: no throttling.
  w(ITR, 0);
  w(ICS, ICR_LSC); assert.equal(irq.level, true); r(ICR);
  w(ICS, ICR_LSC); assert.equal(irq.level, true);
});

test('e1000 moderation: reset drops pending delays', () => {
  const { mem, w, port, irq, advance, nic } = setup();
  rxRing(mem, w, 16);
  w(IMS, ICR_RXT0); w(RDTR, 100);
  port.deliver(frame);
  nic.reset();
  advance(1);
  assert.equal(irq.level, false);
});
