// fw_cfg: the traditional interface (signature, ID, file directory), DMA reads into guest
// memory, DMA errors for bad targets and writes, and a seeded fuzz of its ports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PioBus } from './bus.js';
import {
  FW_CFG_DMA_CTL_ERROR, FW_CFG_DMA_CTL_READ, FW_CFG_DMA_CTL_SELECT, FW_CFG_DMA_CTL_SKIP, FW_CFG_DMA_CTL_WRITE,
  FW_CFG_FILE_DIR, FW_CFG_ID, FW_CFG_SIGNATURE, FwCfg,
} from './fw-cfg.js';
import { FakeMemory, fuzzRegions, fuzzSeed } from './testing.js';

function setup(ram = 0x10000) {
  const mem = new FakeMemory(ram);
  const fw = new FwCfg('fw_cfg', mem);
  fw.addFile('etc/zeta', Uint8Array.of(9, 8, 7));
  fw.addFile('etc/alpha', new TextEncoder().encode('hello world'));
  const pio = new PioBus();
  pio.map(0x510, fw.selectorRegion);
  pio.map(0x514, fw.dmaRegion);
  const readItem = (key: number, n: number): number[] => {
    pio.write(0x510, 2, key);
    return Array.from({ length: n }, () => pio.read(0x511, 1));
  };
  /** Writes an FWCfgDmaAccess at `at` and starts it; returns the control word written back. */
  const dma = (at: number, control: number, length: number, address: number): number => {
    const dv = new DataView(mem.u8.buffer);
    dv.setUint32(at, control, false);
    dv.setUint32(at + 4, length, false);
    dv.setBigUint64(at + 8, BigInt(address), false);
    const bswap = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
    pio.write(0x514, 4, bswap(Math.floor(at / 2 ** 32)));
    pio.write(0x518, 4, bswap(at >>> 0));
    return dv.getUint32(at, false);
  };
  return { mem, fw, pio, readItem, dma };
}

test('fw_cfg: signature, ID with DMA, and the DMA register signature', () => {
  const { pio, readItem } = setup();
  assert.equal(String.fromCharCode(...readItem(FW_CFG_SIGNATURE, 4)), 'QEMU');
  assert.deepEqual(readItem(FW_CFG_ID, 4), [3, 0, 0, 0]);
  assert.deepEqual(readItem(FW_CFG_SIGNATURE, 6).slice(4), [0, 0], 'past the end reads 0');
  assert.deepEqual(readItem(0x1234, 2), [0, 0], 'a selector with no item reads 0');
  const sig = [pio.read(0x514, 4), pio.read(0x518, 4)];
  assert.equal(Buffer.from(Uint32Array.from(sig).buffer).toString('latin1'), 'QEMU CFG');
});

test('fw_cfg: the file directory is sorted by name, big-endian', () => {
  const { readItem } = setup();
  const dir = Uint8Array.from(readItem(FW_CFG_FILE_DIR, 4 + 2 * 64));
  const dv = new DataView(dir.buffer);
  assert.equal(dv.getUint32(0, false), 2);
  const entry = (i: number) => ({
    size: dv.getUint32(4 + i * 64, false), select: dv.getUint16(8 + i * 64, false),
    name: Buffer.from(dir.subarray(12 + i * 64, 12 + i * 64 + 56)).toString('latin1').replace(/\0+$/, ''),
  });
  assert.deepEqual(entry(0), { size: 11, select: 0x20, name: 'etc/alpha' });
  assert.deepEqual(entry(1), { size: 3, select: 0x21, name: 'etc/zeta' });
  assert.deepEqual(readItem(0x21, 3), [9, 8, 7], 'the zeta file moved to 0x21 and kept its data');
});

test('fw_cfg: DMA select+read, a read past the end zero-fills, skip moves the offset', () => {
  const { mem, dma } = setup();
  mem.u8.fill(0xee, 0x2000, 0x2020);
  assert.equal(dma(0x1000, (0x20 << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 5, 0x2000), 0);
  assert.equal(Buffer.from(mem.u8.subarray(0x2000, 0x2005)).toString(), 'hello');
  assert.equal(dma(0x1000, FW_CFG_DMA_CTL_SKIP, 1, 0), 0);
  assert.equal(dma(0x1000, FW_CFG_DMA_CTL_READ, 8, 0x2010), 0);
  assert.deepEqual(Array.from(mem.u8.subarray(0x2010, 0x2019)), [...Buffer.from('world'), 0, 0, 0, 0xee]);
});

test('fw_cfg: DMA outside RAM and DMA writes get the error bit and touch nothing', () => {
  const { mem, dma, fw, pio } = setup(0x10000);
  const before = mem.u8.slice();
  const ctl = dma(0x1000, (0x20 << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0x100, 0xfff0);
  assert.equal(ctl, FW_CFG_DMA_CTL_ERROR, 'a target crossing the end of RAM');
  const after = mem.u8.slice();
  after.set(before.subarray(0x1000, 0x1010), 0x1000);
  assert.deepEqual(after, before, 'only the descriptor changed');
  assert.equal(dma(0x1000, FW_CFG_DMA_CTL_WRITE, 4, 0x2000), FW_CFG_DMA_CTL_ERROR);
  assert.equal(dma(0x1000, FW_CFG_DMA_CTL_READ, 4, 2 ** 40), FW_CFG_DMA_CTL_ERROR);
  const writes = mem.writes;
  pio.write(0x514, 4, 0);
  pio.write(0x518, 4, 0xf8ff0000); // a descriptor at 0xFFF8 runs off the end of RAM
  assert.equal(mem.writes, writes + 0 + 0, 'nothing written for an unreadable descriptor');
  assert.ok(fw.dmaErrors >= 4);
});

test('fuzz: random fw_cfg port traffic never throws and DMA stays in RAM', () => {
  const { fw, mem } = setup(0x4000);
  fuzzRegions([fw.selectorRegion, fw.dmaRegion], 50_000, fuzzSeed(), (rand) => {
    // Plant a plausible descriptor now and then so DMA paths run.
    const dv = new DataView(mem.u8.buffer);
    const at = Math.floor(rand() * 0x3ff0);
    dv.setUint32(at, Math.floor(rand() * 2 ** 32), false);
    dv.setUint32(at + 4, Math.floor(rand() * 0x5000), false);
    dv.setBigUint64(at + 8, BigInt(Math.floor(rand() * 0x5000)), false);
    fw.dmaRegion.write(0, 4, 0);
    const be = (((at & 0xff) << 24) | ((at & 0xff00) << 8)) >>> 0;
    fw.dmaRegion.write(4, 4, be);
  });
});
