import { test } from 'node:test';
import assert from 'node:assert/strict';
import { I8042 } from './i8042.js';
import { FakeIrq, FakeSystem, fuzzRegions, fuzzSeed } from './testing.js';

function setup() {
  const kbdIrq = new FakeIrq();
  const auxIrq = new FakeIrq();
  const sys = new FakeSystem();
  const kbc = new I8042('i8042', kbdIrq, auxIrq, sys);
  const status = (): number => kbc.commandRegion.read(0, 1);
  const cmd = (v: number): void => kbc.commandRegion.write(0, 1, v);
  const data = (v: number): void => kbc.dataRegion.write(0, 1, v);
  const read = (): number => kbc.dataRegion.read(0, 1);
  /** Reads every byte waiting (bounded). */
  const drain = (): number[] => {
    const out: number[] = [];
    for (let n = 0; n < 64 && (status() & 0x01); n++) out.push(read());
    return out;
  };
  return { kbc, kbdIrq, auxIrq, sys, status, cmd, data, read, drain };
}

test('controller self-test answers 0x55 and sets SYS; interface tests answer 0', () => {
  const { cmd, status, drain } = setup();
  assert.equal(status() & 0x05, 0, 'empty, SYS clear at power-on');
  cmd(0xaa);
  assert.equal(status() & 0x0d, 0x0d, 'OBF, SYS, A2');
  assert.deepEqual(drain(), [0x55]);
  cmd(0xab);
  assert.deepEqual(drain(), [0x00]);
  cmd(0xa9);
  assert.deepEqual(drain(), [0x00]);
});

test('command byte read/write, enable/disable bits', () => {
  const { cmd, data, drain } = setup();
  cmd(0x20);
  assert.deepEqual(drain(), [0x03]);
  cmd(0x60); data(0x47);
  cmd(0x20);
  assert.deepEqual(drain(), [0x47]);
  cmd(0xad); cmd(0xa7);
  cmd(0x20);
  assert.deepEqual(drain(), [0x77]);
  cmd(0xae); cmd(0xa8);
  cmd(0x20);
  assert.deepEqual(drain(), [0x47]);
});

test('0xFE pulses the reset line', () => {
  const { cmd, sys } = setup();
  cmd(0xff);
  assert.equal(sys.resets, 0, '0xFF pulses nothing');
  cmd(0xfe);
  assert.equal(sys.resets, 1);
});

test('output port: read back, write with bit 0 clear resets', () => {
  const { cmd, data, drain, sys } = setup();
  cmd(0xd0);
  assert.deepEqual(drain(), [0x03]);
  cmd(0xd1); data(0x03);
  assert.equal(sys.resets, 0);
  cmd(0xd1); data(0x02);
  assert.equal(sys.resets, 1);
});

test('keyboard reset, identify and acknowledged commands through port 0x60', () => {
  const { data, drain, kbdIrq } = setup();
  data(0xff);
  assert.equal(kbdIrq.level, true);
  assert.deepEqual(drain(), [0xfa, 0xaa]);
  assert.equal(kbdIrq.level, false);
  data(0xf2);
  assert.deepEqual(drain(), [0xfa, 0xab, 0x83]);
  for (const c of [0xf4, 0xf5]) { data(c); assert.deepEqual(drain(), [0xfa]); }
  for (const c of [0xed, 0xf3]) { data(c); data(0x02); assert.deepEqual(drain(), [0xfa, 0xfa]); }
  data(0xf0); data(0x00);
  assert.deepEqual(drain(), [0xfa, 0xfa, 0x02], 'F0 00 reports the scan code set');
  data(0xee);
  assert.deepEqual(drain(), [0xee]);
});

test('each byte is a fresh IRQ 1 edge', () => {
  const { data, read, kbdIrq } = setup();
  data(0xff);
  kbdIrq.history.length = 0;
  read();
  assert.deepEqual(kbdIrq.history, [false, true], 'line dropped, then raised for the next byte');
  read();
  assert.deepEqual(kbdIrq.history, [false, true, false]);
});

test('aux device through 0xD4 raises IRQ 12 with AUX OBF', () => {
  const { cmd, data, status, drain, auxIrq, kbdIrq } = setup();
  cmd(0xd4); data(0xff);
  assert.equal(status() & 0x21, 0x21);
  assert.equal(auxIrq.level, true);
  assert.equal(kbdIrq.level, false);
  assert.deepEqual(drain(), [0xfa, 0xaa, 0x00]);
  cmd(0xd4); data(0xf2);
  assert.deepEqual(drain(), [0xfa, 0x00]);
  cmd(0xd4); data(0xf3); cmd(0xd4); data(100);
  assert.deepEqual(drain(), [0xfa, 0xfa]);
  cmd(0xd4); data(0xf4);
  assert.deepEqual(drain(), [0xfa]);
});

test('D2/D3 loop bytes back as keyboard or aux data (Linux aux probe)', () => {
  const { cmd, data, status, read } = setup();
  cmd(0xd3); data(0x5a);
  assert.equal(status() & 0x21, 0x21);
  assert.equal(read(), 0x5a);
  cmd(0xd2); data(0xa5);
  assert.equal(status() & 0x21, 0x01);
  assert.equal(read(), 0xa5);
});

test('CTR interrupt enables gate the lines; disabled interfaces hold device data', () => {
  const { cmd, data, drain, kbdIrq, read } = setup();
  cmd(0x60); data(0x00);
  data(0xf4);
  assert.equal(kbdIrq.level, false);
  assert.deepEqual(drain(), [0xfa]);
  cmd(0xad);
  data(0xf4);
  assert.deepEqual(drain(), [], 'keyboard disabled: ack waits in its queue');
  cmd(0xae);
  assert.equal(read(), 0xfa);
});

test('save/load round-trips and rejects bad state', () => {
  const a = setup();
  a.cmd(0x60); a.data(0x45); a.data(0xff); a.cmd(0xd4); a.data(0xf3);
  const s = a.kbc.saveState();
  const b = setup();
  b.kbc.loadState(JSON.parse(JSON.stringify(s)), 2);
  assert.deepEqual(b.kbc.saveState(), s);
  assert.equal(b.kbdIrq.level, true);
  assert.throws(() => b.kbc.loadState({ ...s, obf: 3 }, 2));
  assert.throws(() => b.kbc.loadState({ ...s, kbd: { ...s.kbd, scanSet: 9 } }, 2));
  assert.throws(() => b.kbc.loadState({ ...s, ctrlQueue: [0x200] }, 2));
  assert.deepEqual(b.kbc.saveState(), s, 'a rejected load changes nothing');
});

test('fuzz: random port traffic never throws', () => {
  const { kbc } = setup();
  fuzzRegions([kbc.dataRegion, kbc.commandRegion], 50_000, fuzzSeed());
  kbc.loadState(JSON.parse(JSON.stringify(kbc.saveState())), 2); // any reachable state reloads
  kbc.reset();
});
