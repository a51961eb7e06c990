import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ps2Mouse } from './ps2-mouse.js';

/** Sends command bytes, returning everything the mouse queued after each. */
function send(m: Ps2Mouse, ...bytes: number[]): number[] {
  const out: number[] = [];
  for (const b of bytes) { m.receive(b); while (m.out.length > 0) out.push(m.out.shift()); }
  return out;
}
function take(m: Ps2Mouse): number[] {
  const out: number[] = [];
  for (let n = 0; n < 100; n++) { m.flush(); if (m.out.length === 0) break; out.push(m.out.shift()); }
  return out;
}

test('reset, ID, status request, defaults', () => {
  const m = new Ps2Mouse();
  assert.deepEqual(send(m, 0xff), [0xfa, 0xaa, 0x00]);
  assert.deepEqual(send(m, 0xf2), [0xfa, 0x00]);
  assert.deepEqual(send(m, 0xe9), [0xfa, 0x00, 0x02, 100]);
  assert.deepEqual(send(m, 0xe8, 3, 0xf3, 40, 0xe7, 0xf4, 0xe9), [0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x30, 0x03, 40]);
  assert.deepEqual(send(m, 0xf6, 0xe9), [0xfa, 0xfa, 0x00, 0x02, 100]);
  assert.deepEqual(send(m, 0xe1), [0xfe], 'unknown command: resend');
});

test('stream mode: 3-byte packets with sign bits, y up, buttons; nothing while disabled', () => {
  const m = new Ps2Mouse();
  m.move(5, 3, 0, 0);
  assert.deepEqual(take(m), [], 'reporting off after reset');
  send(m, 0xf4);
  m.move(5, 3, 0, 0);
  assert.deepEqual(take(m), [0x28, 0x05, 0xfd], 'dx +5, dy 3 down = -3 (Y sign)');
  m.move(-2, -7, 0, 1);
  assert.deepEqual(take(m), [0x19, 0xfe, 0x07], 'left button, X sign');
  m.move(0, 0, 0, 0);
  assert.deepEqual(take(m), [0x08, 0x00, 0x00], 'button release alone makes a packet');
  m.move(0, 0, 3, 6);
  assert.deepEqual(take(m), [0x0e, 0x00, 0x00], 'no wheel without the knock; right+middle');
});

test('big motion is split into in-range packets (no motion lost)', () => {
  const m = new Ps2Mouse();
  send(m, 0xf4);
  m.move(600, -300, 0, 0);
  assert.deepEqual(take(m), [0x08, 0xff, 0xff, 0x08, 0xff, 0x2d, 0x08, 0x5a, 0x00]);
  m.move(-600, 0, 0, 0);
  assert.deepEqual(take(m), [0x18, 0x00, 0x00, 0x18, 0x00, 0x00, 0x18, 0xa8, 0x00], "-256 is the most one packet holds");
});

test('IntelliMouse: 200,100,80 gives ID 3 and 4-byte packets with the wheel', () => {
  const m = new Ps2Mouse();
  assert.deepEqual(send(m, 0xf3, 200, 0xf3, 100, 0xf3, 80, 0xf2), [0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x03]);
  send(m, 0xf4);
  m.move(1, -1, 2, 0);
  assert.deepEqual(take(m), [0x08, 0x01, 0x01, 0x02]);
  m.move(0, 0, -1, 0);
  assert.deepEqual(take(m), [0x08, 0x00, 0x00, 0xff], 'wheel up = -1');
  m.move(0, 0, 10, 0);
  assert.deepEqual(take(m), [0x08, 0, 0, 0x07, 0x08, 0, 0, 0x03], 'wheel beyond 4 bits splits');
  assert.deepEqual(send(m, 0xff, 0xf2), [0xfa, 0xaa, 0x00, 0xfa, 0x00], 'reset drops the wheel');
});

test('remote mode: read data reports the total with overflow bits', () => {
  const m = new Ps2Mouse();
  send(m, 0xf0);
  m.move(300, 10, 0, 0);
  assert.deepEqual(take(m), [], 'remote mode streams nothing');
  assert.deepEqual(send(m, 0xeb), [0xfa, 0x68, 0xff, 0xf6]);
  assert.deepEqual(send(m, 0xeb), [0xfa, 0x08, 0x00, 0x00], 'counters cleared');
  assert.deepEqual(send(m, 0xe9), [0xfa, 0x40, 0x02, 100]);
});

test('2:1 scaling in stream mode; wrap mode echoes', () => {
  const m = new Ps2Mouse();
  send(m, 0xe7, 0xf4);
  m.move(4, 0, 0, 0);
  assert.deepEqual(take(m), [0x08, 0x06, 0x00]);
  m.move(-5, 0, 0, 0);
  assert.deepEqual(take(m), [0x18, 0xf7, 0x00]);
  assert.deepEqual(send(m, 0xee, 0x12, 0x34, 0xec), [0xfa, 0x12, 0x34, 0xfa]);
});

test('save/load round-trips and rejects bad state', () => {
  const m = new Ps2Mouse();
  send(m, 0xf3, 200, 0xf3, 100, 0xf3, 80, 0xf4);
  m.move(3, 3, 1, 1);
  const s = m.save();
  const n = new Ps2Mouse();
  n.load(JSON.parse(JSON.stringify(s)) as Record<string, unknown>);
  assert.deepEqual(n.save(), s);
  assert.throws(() => n.load({ ...s, id: 7 }));
  assert.throws(() => n.load({ ...s, dx: 1e9 }));
});
