import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsaDebugExit } from './isa-debug-exit.js';
import { PciStub } from './pci-stub.js';
import { Port80 } from './port80.js';
import { FakeSystem, fuzzRegions, fuzzSeed } from './testing.js';

test('port80 remembers the last code', () => {
  const p = new Port80('post');
  assert.equal(p.region.read(0, 1), 0);
  p.region.write(0, 1, 0x1234);
  assert.equal(p.region.read(0, 1), 0x34);
  assert.equal(p.region.read(0, 2), 0xff34);
  const s = p.saveState();
  const q = new Port80('post');
  q.loadState(s, 1);
  assert.equal(q.region.read(0, 1), 0x34);
  assert.throws(() => q.loadState({ last: 256 }, 1));
  fuzzRegions([p.region], 10_000, fuzzSeed());
});

test('isa-debug-exit: a write requests exit with the value; reads are zero', () => {
  const sys = new FakeSystem();
  const d = new IsaDebugExit('debug-exit', sys);
  assert.equal(d.region.read(0, 1), 0);
  d.region.write(0, 1, 0x10);
  d.region.write(0, 1, 0x00); // the rest of a split wide write
  assert.deepEqual(sys.exits, [0x10]);
  d.reset();
  d.region.write(0, 1, 0x31);
  assert.deepEqual(sys.exits, [0x10, 0x31]);
  assert.throws(() => d.loadState({ exited: 1 }, 1));
  fuzzRegions([d.region], 10_000, fuzzSeed());
});

test('pci-stub: CONFIG_ADDRESS reads back, CONFIG_DATA is all ones', () => {
  const p = new PciStub('pci');
  const r = p.region;
  r.write(3, 1, 0x01); // Linux pokes 0xCFB first: not a CONFIG_ADDRESS access
  assert.equal(r.read(0, 4), 0);
  r.write(0, 4, 0x80000000);
  assert.equal(r.read(0, 4), 0x80000000);
  assert.equal(p.enabled, true);
  r.write(0, 4, 0xffffffff);
  assert.equal(r.read(0, 4), 0x80fffffc, 'reserved bits read zero');
  r.write(0, 4, 0x80000800);
  assert.equal(r.read(4, 4), 0xffffffff);
  assert.equal(r.read(4, 2), 0xffff);
  assert.equal(r.read(6, 2), 0xffff);
  assert.equal(r.read(7, 1), 0xff);
  r.write(4, 4, 0);
  assert.equal(r.read(4, 4), 0xffffffff);
  assert.equal(r.read(0, 2), 0xffff, 'narrow reads are not CONFIG_ADDRESS');
  assert.equal(r.read(0, 4), 0x80000800);
  const q = new PciStub('pci');
  q.loadState(p.saveState(), 1);
  assert.equal(q.region.read(0, 4), 0x80000800);
  assert.throws(() => q.loadState({ configAddress: 3 }, 1));
  fuzzRegions([r], 10_000, fuzzSeed());
});
