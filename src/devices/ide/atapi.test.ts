// Register-level tests of the ATAPI CD-ROM (signature, IDENTIFY PACKET, the PACKET protocol
// with byte-count limits, media change) and a seeded fuzz over every IDE port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemBackend, rig, settle } from './ide-test-util.js';
import { REG_DEVICE, REG_ERROR, REG_LBAH, REG_LBAM, REG_NSECT, REG_STATUS, ST_DRQ, ST_ERR } from './ata.js';
import { IR_COD, IR_IO, type AtapiCdrom } from './atapi.js';
import { fuzzRegions, fuzzSeed, seededRandom } from '../testing.js';

function cdRig(sectors = 10) {
  const iso = new MemBackend(sectors * 2048, true);
  for (let s = 0; s < sectors * 4; s++) iso.sectors.set(s, new Uint8Array(512).fill(s & 0xff));
  const r = rig([{ bus: 1, unit: 0, media: 'cdrom', backend: iso }]);
  const c = r.ch(1);
  const cd = r.ide.channels[1].drives[0] as AtapiCdrom;
  /** Sends a packet and collects the data phase; returns the data, the final status and error. */
  const packet = async (cdb: number[], limit = 0xfffe) => {
    c.inb(REG_STATUS);
    c.out(REG_DEVICE, 0xa0);
    c.out(REG_ERROR, 0); c.out(REG_LBAM, limit & 0xff); c.out(REG_LBAH, limit >>> 8);
    c.out(REG_STATUS, 0xa0);
    assert.equal(c.alt() & ST_DRQ, ST_DRQ);
    assert.equal(c.inb(REG_NSECT) & 3, IR_COD);
    const p = [...cdb, ...new Array<number>(12 - cdb.length).fill(0)];
    c.writeBytes(Uint8Array.from(p));
    await settle();
    const chunks: number[] = [];
    const blocks: number[] = [];
    for (let n = 0; n < 1000 && (c.alt() & ST_DRQ) !== 0; n++) {
      assert.equal(c.inb(REG_NSECT) & 3, IR_IO);
      const len = c.inb(REG_LBAM) | (c.inb(REG_LBAH) << 8);
      blocks.push(len);
      c.inb(REG_STATUS);
      chunks.push(...c.readBytes(len));
      await settle();
    }
    assert.equal(c.inb(REG_NSECT) & 3, IR_IO | IR_COD, 'completion phase');
    return { data: Uint8Array.from(chunks), status: c.inb(REG_STATUS), error: c.inb(REG_ERROR), blocks };
  };
  return { iso, c, cd, packet, ...r };
}

test('ATAPI: packet signature after reset, IDENTIFY DEVICE aborts, IDENTIFY PACKET DEVICE', () => {
  const { c } = cdRig();
  c.ctl(0x04); c.ctl(0x00);
  assert.deepEqual([c.inb(REG_NSECT), c.inb(3), c.inb(REG_LBAM), c.inb(REG_LBAH)], [1, 1, 0x14, 0xeb]);
  c.out(REG_STATUS, 0xec);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  assert.equal(c.inb(REG_LBAM) | (c.inb(REG_LBAH) << 8), 0xeb14);
  c.out(REG_STATUS, 0xa1);
  const b = c.readBytes(512);
  assert.equal(b[0]! | (b[1]! << 8), 0x8580);
  assert.equal(Buffer.from(b.subarray(54, 70)).swap16().toString('latin1').trim(), 'HVM DVD-ROM');
});

test('ATAPI: INQUIRY, READ CAPACITY, oversized allocation lengths are clipped', async () => {
  const { packet } = cdRig();
  const inq = await packet([0x12, 0, 0, 0, 36]);
  assert.equal(inq.data.length, 36);
  assert.equal(inq.data[0], 0x05);
  assert.equal(Buffer.from(inq.data.subarray(8, 16)).toString('latin1'), 'HVM     ');
  const big = await packet([0x12, 0, 0, 0xff, 0xff]);
  assert.equal(big.data.length, 36, 'allocation length larger than the data');
  const short = await packet([0x12, 0, 0, 0, 5]);
  assert.equal(short.data.length, 5);
  const cap = await packet([0x25]);
  assert.deepEqual(Array.from(cap.data), [0, 0, 0, 9, 0, 0, 8, 0]);
  const sense = await packet([0x03, 0, 0, 0, 0xff]);
  assert.equal(sense.data.length, 18);
  const toc = await packet([0x43, 0, 0, 0, 0, 0, 0, 0, 0xff]);
  assert.equal(toc.data[3], 1);
  assert.equal(toc.data[4 + 8 + 2], 0xaa);
  const ms = await packet([0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 0xff]);
  assert.equal(ms.data[8], 0x2a);
  const cfg = await packet([0x46, 0, 0, 0, 0, 0, 0, 0, 0xff]);
  assert.equal(cfg.data[7], 0x08);
  const gesn = await packet([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8]);
  assert.equal(gesn.data.length, 8);
  assert.equal(gesn.data[5], 0x02, 'media present');
});

test('ATAPI READ(10)/(12): data in blocks bounded by the byte-count limit; past the end is ILLEGAL REQUEST', async () => {
  const { packet } = cdRig();
  const r = await packet([0x28, 0, 0, 0, 0, 2, 0, 0, 3], 4096);
  assert.equal(r.data.length, 3 * 2048);
  assert.deepEqual(r.blocks, [4096, 2048]);
  for (let i = 0; i < 3 * 2048; i++) assert.equal(r.data[i], (8 + Math.floor(i / 512)) & 0xff);
  const odd = await packet([0xa8, 0, 0, 0, 0, 9, 0, 0, 0, 1], 1001);
  assert.equal(odd.data.length, 2048);
  assert.ok(odd.blocks.every((n) => n <= 1001));
  const bad = await packet([0x28, 0, 0, 0, 0, 9, 0, 0, 2]);
  assert.equal(bad.status & ST_ERR, ST_ERR);
  assert.equal(bad.error >>> 4, 0x5);
  const sense = await packet([0x03, 0, 0, 0, 18]);
  assert.deepEqual([sense.data[2], sense.data[12]], [0x5, 0x21]);
});

test('ATAPI media change: eject → NOT READY; insert → UNIT ATTENTION, REQUEST SENSE says medium may have changed', async () => {
  const { packet, cd } = cdRig();
  const eject = await packet([0x1b, 0, 0, 0, 0x02]);
  assert.equal(eject.status & ST_ERR, 0);
  const nr = await packet([0x00]);
  assert.equal(nr.error >>> 4, 0x2);
  assert.equal((await packet([0x03, 0, 0, 0, 18])).data[12], 0x3a);
  const disc = new MemBackend(100 * 2048, true);
  cd.insert(disc);
  const gesn = await packet([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8]);
  assert.equal(gesn.data[4], 2, 'new media event');
  const ua = await packet([0x00]);
  assert.equal(ua.status & ST_ERR, ST_ERR);
  assert.equal(ua.error >>> 4, 0x6);
  const sense = await packet([0x03, 0, 0, 0, 18]);
  assert.deepEqual([sense.data[2], sense.data[12]], [0x6, 0x28]);
  assert.equal((await packet([0x00])).status & ST_ERR, 0);
  const cap = await packet([0x25]);
  assert.deepEqual(Array.from(cap.data.subarray(0, 4)), [0, 0, 0, 99]);
  // REQUEST SENSE right after a change reports the unit attention itself.
  cd.insert(new MemBackend(20 * 2048, true));
  const s2 = await packet([0x03, 0, 0, 0, 18]);
  assert.deepEqual([s2.data[2], s2.data[12]], [0x6, 0x28]);
  // A locked tray refuses the eject.
  await packet([0x1e, 0, 0, 0, 1]);
  const refused = await packet([0x1b, 0, 0, 0, 0x02]);
  assert.equal(refused.error >>> 4, 0x5);
});

test('ATAPI DMA: IDENTIFY PACKET offers DMA; READ(10) and INQUIRY with the DMA bit go through the bus master', async () => {
  const { c, bm, mem, irqs } = cdRig();
  c.out(REG_DEVICE, 0xa0);
  c.out(REG_STATUS, 0xa1);
  const id = c.readBytes(512);
  const word = (n: number): number => id[2 * n]! | (id[2 * n + 1]! << 8);
  assert.equal(word(49) & 0x0100, 0x0100, 'DMA supported');
  assert.equal(word(63) & 0x07, 0x07, 'multiword DMA 0-2');
  c.out(REG_ERROR, 0x03); c.out(REG_NSECT, 0x22); c.out(REG_STATUS, 0xef); // SET FEATURES: MWDMA2
  await settle();
  c.out(REG_STATUS, 0xa1);
  const id2 = c.readBytes(512);
  assert.equal(id2[127], 0x04, 'word 63: MWDMA2 selected');
  /** PACKET with FEATURES=DMA; the bus master is started after the packet, as Linux does. */
  const dmaPacket = async (cdb: number[], table: number): Promise<number> => {
    c.inb(REG_STATUS);
    bm.write(8 + 2, 1, 0x06); // secondary channel: clear interrupt and error
    bm.write(8 + 4, 4, table);
    bm.write(8, 1, 0x08);     // RWCON: device to memory
    c.out(REG_ERROR, 0x01); c.out(REG_LBAM, 0); c.out(REG_LBAH, 0);
    c.out(REG_STATUS, 0xa0);
    assert.equal(c.inb(REG_NSECT) & 3, IR_COD);
    c.writeBytes(Uint8Array.from([...cdb, ...new Array<number>(12 - cdb.length).fill(0)]));
    await settle();
    assert.equal(c.alt() & ST_DRQ, ST_DRQ, 'waiting for the bus master');
    bm.write(8, 1, 0x09);     // start
    await settle();
    return bm.read(8 + 2, 1);
  };
  const dv = new DataView(mem.u8.buffer);
  const prd = (table: number, list: [number, number, boolean][]): void => list.forEach(([a, n, eot], i) => {
    dv.setUint32(table + 8 * i, a, true);
    dv.setUint32(table + 8 * i + 4, (n & 0xffff) | (eot ? 0x80000000 : 0), true);
  });
  prd(0x1000, [[0x10000, 4096, false], [0x20000, 2048, true]]);
  const before = irqs[1].history.filter((l) => l).length;
  const bmis = await dmaPacket([0x28, 0, 0, 0, 0, 2, 0, 0, 3], 0x1000);
  assert.equal(bmis & 7, 0x04, 'bus master: interrupt, not active, no error');
  assert.ok(irqs[1].history.filter((l) => l).length > before && irqs[1].level, 'the drive interrupted');
  assert.equal(c.inb(REG_NSECT) & 3, IR_IO | IR_COD, 'completion phase');
  assert.equal(c.inb(REG_STATUS) & (ST_ERR | ST_DRQ), 0);
  for (let i = 0; i < 4096; i++) assert.equal(mem.u8[0x10000 + i], (8 + Math.floor(i / 512)) & 0xff);
  for (let i = 0; i < 2048; i++) assert.equal(mem.u8[0x20000 + i], (16 + Math.floor(i / 512)) & 0xff);
  prd(0x1000, [[0x30000, 96, true]]);
  assert.equal((await dmaPacket([0x12, 0, 0, 0, 96], 0x1000)) & 7, 0x05, '36 bytes into a 96-byte PRD: interrupt, still active (PRDs longer than the transfer)');
  assert.equal(Buffer.from(mem.u8.subarray(0x30008, 0x30010)).toString('latin1'), 'HVM     ', 'INQUIRY by DMA');
  // A PRD outside RAM: the bus master's error bit, and CHECK CONDITION (medium error) from the drive.
  prd(0x1000, [[0xfffff000, 2048, true]]);
  const bad = await dmaPacket([0x28, 0, 0, 0, 0, 0, 0, 0, 1], 0x1000);
  assert.equal(bad & 0x02, 0x02, 'bus master error');
  assert.equal(c.inb(REG_STATUS) & ST_ERR, ST_ERR);
  assert.equal(c.inb(REG_ERROR) >>> 4, 0x3, 'sense key MEDIUM ERROR');
});

test('fuzz: random accesses to every IDE port and the bus master never throw and DMA stays in RAM', async () => {
  const seed = fuzzSeed();
  const disk = new MemBackend(4 * 2 ** 20);
  const iso = new MemBackend(64 * 2048, true);
  const r = rig([
    { bus: 0, unit: 0, media: 'disk', backend: disk },
    { bus: 0, unit: 1, media: 'disk', backend: new MemBackend(1 << 20) },
    { bus: 1, unit: 0, media: 'cdrom', backend: iso },
  ], 256 * 1024);
  const regions = [...r.ide.regions, r.bm];
  const rand = seededRandom(seed ^ 0x5a5a);
  const t0 = Date.now();
  for (let round = 0; round < 40; round++) {
    fuzzRegions(regions, 500, (seed + round) >>> 0, (rnd) => {
      // Host events: media changes, and a plausible PRD table somewhere in RAM.
      if (rnd() < 0.3) (r.ide.channels[1].drives[0] as AtapiCdrom).insert(iso);
      const at = Math.floor(rnd() * 0x3fff) * 8;
      new DataView(r.mem.u8.buffer).setUint32(at, Math.floor(rand() * 0x40000), true);
    });
    await settle(3);
  }
  assert.ok(Date.now() - t0 < 30_000, `fuzz took too long (seed ${seed})`);
});
