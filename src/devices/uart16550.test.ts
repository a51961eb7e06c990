import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550 } from './uart16550.js';
import { FakeChar, FakeIrq, fuzzRegions, fuzzSeed } from './testing.js';

const THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function setup(): { uart: Uart16550; irq: FakeIrq; chr: FakeChar; w: (o: number, v: number) => void; r: (o: number) => number } {
  const irq = new FakeIrq();
  const chr = new FakeChar();
  const uart = new Uart16550('com1', irq, chr);
  return { uart, irq, chr, w: (o, v) => uart.region.write(o, 1, v), r: (o) => uart.region.read(o, 1) };
}

test('THR writes reach the backend; LSR shows THRE|TEMT', () => {
  const { chr, w, r } = setup();
  for (const b of Buffer.from('hi\n')) w(THR, b);
  assert.deepEqual(chr.output, [0x68, 0x69, 0x0a]);
  assert.equal(r(LSR) & 0x60, 0x60);
});

test('DLAB switches offsets 0/1 to the divisor latch', () => {
  const { chr, w, r } = setup();
  w(LCR, 0x83);
  w(DLL, 0x01);
  w(DLM, 0x02);
  assert.equal(r(DLL), 0x01);
  assert.equal(r(DLM), 0x02);
  assert.equal(chr.output.length, 0, 'a DLL write is not a transmit');
  w(LCR, 0x03);
  assert.equal(r(IER), 0, 'IER unaffected by DLM write');
  w(IER, 0x0f);
  w(LCR, 0x83);
  assert.equal(r(DLM), 0x02);
  w(LCR, 0x03);
  assert.equal(r(IER), 0x0f);
  w(IER, 0xff);
  assert.equal(r(IER), 0x0f, 'IER keeps 4 bits');
  w(SCR, 0x5a);
  assert.equal(r(SCR), 0x5a);
});

test('loopback: Linux autoconfig MSR check and TX feeding RX', () => {
  const { chr, w, r, irq, uart } = setup();
  w(MCR, 0x10 | 0x0a); // LOOP | RTS | OUT2
  assert.equal(r(MSR) & 0xf0, 0x90, 'CTS and DCD follow RTS and OUT2');
  w(MCR, 0x10 | 0x05); // LOOP | DTR | OUT1
  assert.equal(r(MSR) & 0xf0, 0x60, 'DSR and RI follow DTR and OUT1');
  w(IER, 0x01);
  w(THR, 0x42);
  assert.equal(chr.output.length, 0, 'loopback does not transmit');
  assert.equal(r(LSR) & 0x01, 1);
  assert.equal(r(IIR) & 0x0f, 0x04);
  assert.equal(irq.level, false, 'loopback disconnects the PC IRQ driver');
  assert.equal(r(RBR), 0x42);
  assert.equal(r(LSR) & 0x01, 0);
  w(MCR, 0x0b);
  assert.equal(r(MSR) & 0xf0, 0xb0, 'out of loopback the lines read connected');
  void uart;
});

test('MSR delta bits set on change and clear on read', () => {
  const { w, r } = setup();
  assert.equal(r(MSR), 0xb0);
  w(MCR, 0x10);
  assert.equal(r(MSR), 0x0b, 'CTS, DSR, DCD dropped: DCTS|DDSR|DDCD');
  assert.equal(r(MSR), 0x00);
  w(MCR, 0x14);
  assert.equal(r(MSR), 0x40);
  w(MCR, 0x10);
  assert.equal(r(MSR), 0x04, 'TERI on RI falling');
});

test('IER ETBEI with THR empty raises THRE; IIR read clears it; re-enabling re-arms', () => {
  const { w, r, irq } = setup();
  w(MCR, 0x08); // OUT2
  assert.equal(r(IIR), 0x01);
  w(IER, 0x02);
  assert.equal(irq.level, true);
  assert.equal(r(IIR), 0x02);
  assert.equal(irq.level, false, 'reading IIR clears THRE');
  assert.equal(r(IIR), 0x01);
  w(IER, 0x00);
  w(IER, 0x02);
  assert.equal(r(IIR), 0x02, 'Linux THRE-bug test: the interrupt is re-asserted');
  w(THR, 0x41);
  assert.equal(irq.level, true, 'transmit completes at once and THRE re-arms');
});

test('IRQ line is driven only with OUT2', () => {
  const { w, irq } = setup();
  w(IER, 0x02);
  assert.equal(irq.level, false);
  w(MCR, 0x08);
  assert.equal(irq.level, true);
  w(MCR, 0x00);
  assert.equal(irq.level, false);
});

test('IIR priority: line status > rx data > THRE > modem status', () => {
  const { w, r, chr } = setup();
  w(FCR, 0x07);
  w(IER, 0x0f);
  w(MCR, 0x08);
  w(MCR, 0x18); // loopback drops lines -> modem status deltas
  w(MCR, 0x08);
  assert.equal(r(IIR), 0xc2, 'THRE over modem status, FIFO bits set');
  assert.equal(r(IIR), 0xc0, 'then modem status');
  r(MSR);
  assert.equal(r(IIR), 0xc1);
  chr.send(Array.from({ length: 17 }, (_, i) => i));
  assert.equal(r(IIR), 0xc4, 'FIFO holds 16 >= trigger 1: rx data');
  // Overrun through loopback: FIFO full, one more byte.
  w(MCR, 0x18);
  w(THR, 0x99);
  assert.equal(r(IIR), 0xc6, 'overrun: line status first');
  const lsr = r(LSR);
  assert.equal(lsr & 0x03, 0x03, 'OE and DR');
  assert.equal(r(LSR) & 0x02, 0, 'OE clears on read');
  assert.equal(r(IIR) & 0x0f, 0x04);
});

test('RX FIFO trigger level and timeout; FCR clears', () => {
  const { w, r, chr } = setup();
  w(FCR, 0x81); // FIFO on, trigger 8
  w(IER, 0x01);
  chr.send([1, 2, 3]);
  assert.equal(r(IIR), 0xcc, 'below trigger: character timeout');
  chr.send([4, 5, 6, 7, 8]);
  assert.equal(r(IIR), 0xc4);
  w(FCR, 0x83);
  assert.equal(r(LSR) & 0x01, 0, 'RX cleared');
  assert.equal(r(IIR), 0xc1);
});

test('host input beyond the FIFO waits in the host queue, nothing lost', () => {
  const { w, r, chr } = setup();
  w(FCR, 0x01);
  const text = Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
  chr.send(text);
  const got: number[] = [];
  for (let n = 0; n < 200 && (r(LSR) & 0x01); n++) got.push(r(RBR));
  assert.deepEqual(got, text);
  assert.equal(r(LSR) & 0x02, 0, 'host input never overruns');
});

test('FIFO disabled: one-byte holding register, host queue feeds it', () => {
  const { r, chr } = setup();
  chr.send([10, 11, 12]);
  assert.equal(r(IIR), 0x01, 'no FIFO bits, no interrupt enabled');
  assert.deepEqual([r(RBR), r(RBR), r(RBR)], [10, 11, 12]);
  assert.equal(r(LSR) & 0x01, 0);
});

test('save/load round-trips and rejects bad state', () => {
  const a = setup();
  a.w(FCR, 0x41); a.w(IER, 0x05); a.w(MCR, 0x0b); a.w(SCR, 0x77);
  a.chr.send([1, 2, 3]);
  const s = a.uart.saveState();
  const b = setup();
  b.uart.loadState(JSON.parse(JSON.stringify(s)), a.uart.stateVersion);
  assert.deepEqual(b.uart.saveState(), s);
  assert.equal(b.r(RBR), 1);
  assert.throws(() => b.uart.loadState({ ...s, rxFifo: new Array(17).fill(0) }, 1));
  assert.throws(() => b.uart.loadState({ ...s, ier: 0x10 }, 1));
  assert.throws(() => b.uart.loadState(s, 99));
  assert.throws(() => b.uart.loadState(null, 1));
});

test('fuzz: random register traffic never throws', () => {
  const { uart, chr } = setup();
  const seed = fuzzSeed();
  fuzzRegions([uart.region], 50_000, seed, (rand) => chr.send([Math.floor(rand() * 256), Math.floor(rand() * 256)]));
  uart.loadState(JSON.parse(JSON.stringify(uart.saveState())), 1); // any reachable state reloads
  uart.reset();
});
