// Register-level tests of the ATA disk and the bus master: IDENTIFY, PIO and DMA transfers,
// LBA48, errors the guest can provoke (IDNF, bad PRD tables), FLUSH ordering and nIEN.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemBackend, patternSector, rig, settle } from './ide-test-util.js';
import { ER_IDNF, REG_DEVICE, REG_ERROR, REG_LBAH, REG_LBAL, REG_LBAM, REG_NSECT, REG_STATUS, ST_BSY, ST_DRDY, ST_DRQ, ST_ERR } from './ata.js';
import { BMIC, BMIC_RWCON, BMIC_SSBM, BMIDTP, BMIS, BMIS_ACTIVE, BMIS_ERROR, BMIS_INTR, PRD_EOT } from './bmdma.js';

const MiB = 2 ** 20;

function oneDisk(size = 8 * MiB) {
  const disk = new MemBackend(size);
  const r = rig([{ bus: 0, unit: 0, media: 'disk', backend: disk }]);
  return { disk, ...r, c: r.ch(0) };
}

type Ch = ReturnType<ReturnType<typeof rig>['ch']>;

/** Loads an LBA28 address and count and issues `cmd`. */
function lba28(c: Ch, lba: number, count: number, cmd: number): void {
  c.out(REG_NSECT, count & 0xff);
  c.out(REG_LBAL, lba & 0xff); c.out(REG_LBAM, (lba >>> 8) & 0xff); c.out(REG_LBAH, (lba >>> 16) & 0xff);
  c.out(REG_DEVICE, 0xe0 | ((lba >>> 24) & 0x0f));
  c.out(REG_STATUS, cmd);
}

/** Loads an LBA48 address and count (high bytes first) and issues `cmd`. */
function lba48(c: Ch, lba: number, count: number, cmd: number): void {
  c.out(REG_NSECT, count >>> 8); c.out(REG_LBAL, Math.floor(lba / 2 ** 24) & 0xff);
  c.out(REG_LBAM, Math.floor(lba / 2 ** 32) & 0xff); c.out(REG_LBAH, Math.floor(lba / 2 ** 40) & 0xff);
  c.out(REG_NSECT, count & 0xff); c.out(REG_LBAL, lba & 0xff);
  c.out(REG_LBAM, (lba >>> 8) & 0xff); c.out(REG_LBAH, (lba >>> 16) & 0xff);
  c.out(REG_DEVICE, 0x40);
  c.out(REG_STATUS, cmd);
}

function words(b: Uint8Array): number[] { return Array.from({ length: b.length / 2 }, (_, i) => b[2 * i]! | (b[2 * i + 1]! << 8)); }
function ataString(w: number[], first: number, count: number): string {
  let s = '';
  for (let i = first; i < first + count; i++) s += String.fromCharCode(w[i]! >>> 8, w[i]! & 0xff);
  return s.trimEnd();
}

test('IDENTIFY DEVICE: strings, geometry, LBA28/LBA48 sizes, DMA modes, write cache, flush, checksum', () => {
  const { c } = oneDisk(300 * 2 ** 30 / 1024); // 300 MiB
  c.out(REG_DEVICE, 0xa0);
  c.out(REG_STATUS, 0xec);
  assert.equal(c.alt() & ST_DRQ, ST_DRQ);
  assert.equal(c.irq.level, true);
  const raw = c.readBytes(512);
  const w = words(raw);
  assert.equal(w[0], 0x0040);
  assert.equal(ataString(w, 27, 20), 'HVM HARDDISK');
  assert.match(ataString(w, 10, 10), /^QM/);
  assert.equal(ataString(w, 23, 4), '2.5+');
  const sectors = 300 * 1024 * 2;
  assert.equal(w[60]! | (w[61]! << 16), sectors);
  assert.equal(w[100]! + w[101]! * 65536, sectors);
  assert.equal(w[3], 16); assert.equal(w[6], 63); assert.equal(w[1], Math.floor(sectors / (16 * 63)));
  assert.ok(w[83]! & (1 << 10), 'LBA48 supported');
  assert.ok(w[83]! & (1 << 12) && w[83]! & (1 << 13), 'FLUSH CACHE (EXT)');
  assert.ok(w[82]! & (1 << 5) && w[85]! & (1 << 5), 'write cache supported and enabled');
  assert.equal(w[63]! & 7, 7); assert.equal(w[88]! & 0x3f, 0x3f);
  assert.ok(w[49]! & 0x300);
  assert.equal(raw.reduce((a, b) => a + b, 0) & 0xff, 0, 'word 255 checksum');
  assert.equal(c.alt(), ST_DRDY | 0x10);
  c.inb(REG_STATUS);
  assert.equal(c.irq.level, false, 'reading status clears INTRQ');
});

test('PIO READ SECTORS: BSY while the backend works, DRQ and an interrupt per sector', async () => {
  const { disk, c } = oneDisk();
  disk.pattern(0, 16);
  lba28(c, 5, 2, 0x20);
  assert.equal(c.alt() & ST_BSY, ST_BSY);
  await settle();
  for (const s of [5, 6]) {
    assert.equal(c.alt() & (ST_BSY | ST_DRQ), ST_DRQ);
    assert.equal(c.irq.level, true);
    c.inb(REG_STATUS);
    assert.deepEqual(c.readBytes(512), patternSector(s));
  }
  assert.equal(c.alt(), ST_DRDY | 0x10);
});

test('32-bit data port reads are unsigned little-endian dwords (bytes >= 0x80 included)', async () => {
  const { disk, c, ide } = oneDisk();
  const s = new Uint8Array(512).fill(0xff);
  s[0] = 0x80; s[3] = 0xfe;
  disk.sectors.set(0, s);
  lba28(c, 0, 1, 0x20);
  await settle();
  const first = ide.regions[0]!.read(0, 4);
  assert.equal(first, 0xfeffff80);
  for (let i = 1; i < 128; i++) assert.equal(ide.regions[0]!.read(0, 4), 0xffffffff);
  assert.equal(c.alt() & ST_DRQ, 0);
});

test('READ MULTIPLE moves a block per DRQ; without SET MULTIPLE MODE it aborts', async () => {
  const { disk, c } = oneDisk();
  disk.pattern(0, 16);
  lba28(c, 0, 4, 0xc4);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  c.out(REG_NSECT, 4); c.out(REG_STATUS, 0xc6);
  assert.equal(c.alt() & ST_ERR, 0);
  lba28(c, 2, 8, 0xc4);
  await settle();
  for (let blk = 0; blk < 2; blk++) {
    assert.equal(c.alt() & ST_DRQ, ST_DRQ);
    const b = c.readBytes(2048);
    for (let i = 0; i < 4; i++) assert.deepEqual(b.subarray(i * 512, i * 512 + 512), patternSector(2 + blk * 4 + i));
  }
  assert.equal(c.alt() & ST_DRQ, 0);
});

test('PIO WRITE SECTORS: DRQ without an interrupt for the first sector, then the data reaches the backend', async () => {
  const { disk, c } = oneDisk();
  lba28(c, 10, 2, 0x30);
  assert.equal(c.alt() & ST_DRQ, ST_DRQ);
  assert.equal(c.irq.level, false);
  c.writeBytes(patternSector(100));
  await settle();
  assert.equal(c.irq.level, true);
  c.inb(REG_STATUS);
  c.writeBytes(patternSector(101));
  await settle();
  assert.equal(c.alt(), ST_DRDY | 0x10);
  assert.deepEqual(disk.sectors.get(10), patternSector(100));
  assert.deepEqual(disk.sectors.get(11), patternSector(101));
});

test('LBA48 beyond 128 GiB on a sparse disk; a sector count past the end is IDNF', async () => {
  const { disk, c } = oneDisk(200 * 2 ** 30);
  const lba = 0x1234_5678; // > 2^28 sectors (128 GiB)
  assert.ok(lba > 2 ** 28 && lba < disk.sizeBytes / 512);
  lba48(c, lba, 1, 0x34);
  c.writeBytes(patternSector(7));
  await settle();
  assert.deepEqual(disk.sectors.get(lba), patternSector(7));
  lba48(c, lba, 1, 0x24);
  await settle();
  assert.deepEqual(c.readBytes(512), patternSector(7));
  // LBA28 reports the 28-bit maximum; the last sector plus one is IDNF.
  const last = disk.sizeBytes / 512 - 1;
  lba48(c, last, 2, 0x24);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  assert.equal(c.inb(REG_ERROR), ER_IDNF);
  lba28(c, 16 * MiB / 512, 1, 0x20);
  await settle();
  assert.equal(c.alt() & ST_DRQ, ST_DRQ, 'LBA28 within the disk works');
});

test('FLUSH CACHE completes (interrupt) only after backend.flush() resolves; nIEN gates INTRQ', async () => {
  const { disk, c } = oneDisk();
  let open!: () => void;
  disk.flushGate = new Promise((r) => { open = r; });
  c.out(REG_STATUS, 0xe7);
  await settle();
  assert.equal(c.alt() & ST_BSY, ST_BSY);
  assert.equal(c.irq.level, false);
  open();
  await settle();
  assert.equal(disk.flushes, 1);
  assert.equal(c.alt(), ST_DRDY | 0x10);
  assert.equal(c.irq.level, true);
  c.inb(REG_STATUS);
  c.ctl(0x02);
  c.out(REG_STATUS, 0xea);
  await settle();
  assert.equal(disk.flushes, 2);
  assert.equal(c.irq.level, false, 'nIEN set: no INTRQ');
  c.ctl(0x00);
  assert.equal(c.irq.level, true, 'the pending interrupt shows once nIEN clears');
});

test('soft reset: signatures in the task file, SET FEATURES, CHECK POWER MODE', () => {
  const { c } = oneDisk();
  c.out(REG_NSECT, 0x55);
  c.ctl(0x04); assert.equal(c.alt() & ST_BSY, ST_BSY);
  c.ctl(0x00);
  assert.deepEqual([c.inb(REG_NSECT), c.inb(REG_LBAL), c.inb(REG_LBAM), c.inb(REG_LBAH), c.inb(REG_ERROR)], [1, 1, 0, 0, 1]);
  c.out(REG_ERROR, 0x03); c.out(REG_NSECT, 0x22); c.out(REG_STATUS, 0xef);
  assert.equal(c.alt() & ST_ERR, 0);
  c.out(REG_ERROR, 0x77); c.out(REG_STATUS, 0xef);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  c.out(REG_STATUS, 0xe5);
  assert.equal(c.inb(REG_NSECT), 0xff);
  c.out(REG_STATUS, 0x91); // INITIALIZE DEVICE PARAMETERS with sector count 0xff
  assert.equal(c.alt() & ST_ERR, 0);
});

/** Writes PRDs at `table`: [addr, bytes, eot]. */
function prds(mem: { u8: Uint8Array }, table: number, list: [number, number, boolean][]): void {
  const dv = new DataView(mem.u8.buffer);
  list.forEach(([addr, bytes, eot], i) => {
    dv.setUint32(table + 8 * i, addr, true);
    dv.setUint32(table + 8 * i + 4, (bytes & 0xffff) | (eot ? PRD_EOT : 0), true);
  });
}

test('bus-master READ DMA scatters into the PRDs; status interrupt, not active', async () => {
  const { disk, c, bm, mem } = oneDisk();
  disk.pattern(0, 64);
  prds(mem, 0x1000, [[0x2000, 512, false], [0x8000, 1024, true]]);
  bm.write(BMIDTP, 4, 0x1000);
  bm.write(BMIC, 1, BMIC_RWCON);
  lba28(c, 3, 3, 0xc8);
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.deepEqual(mem.u8.subarray(0x2000, 0x2200), patternSector(3));
  assert.deepEqual(mem.u8.subarray(0x8000, 0x8200), patternSector(4));
  assert.deepEqual(mem.u8.subarray(0x8200, 0x8400), patternSector(5));
  assert.equal(bm.read(BMIS, 1) & (BMIS_ACTIVE | BMIS_INTR | BMIS_ERROR), BMIS_INTR);
  assert.equal(c.irq.level, true);
  assert.equal(c.alt(), ST_DRDY | 0x10);
  bm.write(BMIS, 1, BMIS_INTR);
  assert.equal(bm.read(BMIS, 1) & BMIS_INTR, 0, 'interrupt bit is write-1-to-clear');
});

test('bus-master WRITE DMA EXT gathers from the PRDs (engine started before the command)', async () => {
  const { disk, c, bm, mem } = oneDisk();
  mem.u8.set(patternSector(40), 0x4000);
  mem.u8.set(patternSector(41), 0x6000);
  prds(mem, 0x1000, [[0x4000, 512, false], [0x6000, 512, true]]);
  bm.write(BMIDTP, 4, 0x1000);
  bm.write(BMIC, 1, BMIC_SSBM);
  lba48(c, 20, 2, 0x35);
  await settle();
  assert.deepEqual(disk.sectors.get(20), patternSector(40));
  assert.deepEqual(disk.sectors.get(21), patternSector(41));
  assert.equal(bm.read(BMIS, 1) & 7, BMIS_INTR);
});

test('PRD lists: over-long stays active, short stops without an interrupt', async () => {
  const { disk, c, bm, mem } = oneDisk();
  disk.pattern(0, 4);
  prds(mem, 0x1000, [[0x2000, 0, true]]); // 0 means 64 KiB: longer than one sector
  bm.write(BMIDTP, 4, 0x1000);
  lba28(c, 0, 1, 0xc8);
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.equal(bm.read(BMIS, 1) & 7, BMIS_INTR | BMIS_ACTIVE);
  assert.deepEqual(mem.u8.subarray(0x2000, 0x2200), patternSector(0));
  bm.write(BMIC, 1, 0); bm.write(BMIS, 1, 6); c.inb(REG_STATUS);
  prds(mem, 0x1000, [[0x2000, 512, true]]);
  lba28(c, 0, 2, 0xc8);
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.equal(bm.read(BMIS, 1) & 7, 0, 'short list: not active, no interrupt');
  assert.equal(c.irq.level, false);
  assert.equal(c.alt() & ST_DRQ, ST_DRQ, 'the drive still waits for the rest');
});

test('hostile PRDs: a table with no end within 64 KiB, and a PRD outside RAM, give the error bit', async () => {
  const { disk, c, bm, mem } = oneDisk();
  disk.pattern(0, 256);
  // 8192 two-byte entries without EOT cover 16 KiB: not the 128 KiB asked for.
  const list: [number, number, boolean][] = Array.from({ length: 8192 }, () => [0x80000, 2, false]);
  prds(mem, 0x10000, list);
  bm.write(BMIDTP, 4, 0x10000);
  lba28(c, 0, 0, 0xc8); // 256 sectors
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.equal(bm.read(BMIS, 1) & 7, BMIS_ERROR | BMIS_INTR);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  assert.equal(mem.writes, 0);
  bm.write(BMIC, 1, 0); bm.write(BMIS, 1, 6); c.inb(REG_STATUS);
  prds(mem, 0x1000, [[0xfff0_0000, 512, true]]);
  bm.write(BMIDTP, 4, 0x1000);
  lba28(c, 0, 1, 0xc8);
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.equal(bm.read(BMIS, 1) & 7, BMIS_ERROR | BMIS_INTR);
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  // A table pointer past the end of RAM.
  bm.write(BMIC, 1, 0); bm.write(BMIS, 1, 6);
  bm.write(BMIDTP, 4, 0xffff_fff0);
  lba28(c, 0, 1, 0xca);
  bm.write(BMIC, 1, BMIC_SSBM);
  await settle();
  assert.equal(bm.read(BMIS, 1) & BMIS_ERROR, BMIS_ERROR);
  assert.equal(disk.sectors.get(0)?.[0], patternSector(0)[0], 'nothing written');
});

test('a backend error during DMA ends the command with ERR and the bus-master error bit', async () => {
  const { disk, c, bm, mem } = oneDisk();
  disk.fail = true;
  prds(mem, 0x1000, [[0x2000, 512, true]]);
  bm.write(BMIDTP, 4, 0x1000);
  lba28(c, 0, 1, 0xc8);
  bm.write(BMIC, 1, BMIC_RWCON | BMIC_SSBM);
  await settle();
  assert.equal(c.alt() & ST_ERR, ST_ERR);
  assert.equal(bm.read(BMIS, 1) & BMIS_ERROR, BMIS_ERROR);
});

test('an absent slave reads zeros; a channel with no drives floats high', () => {
  const { c, ch } = oneDisk();
  c.out(REG_DEVICE, 0xb0);
  assert.equal(c.inb(REG_STATUS), 0);
  c.out(REG_NSECT, 0x55);
  assert.equal(c.inb(REG_NSECT), 0);
  assert.equal(ch(1).inb(REG_STATUS), 0xff);
});

test('bus-master registers: PRD pointer dword aligned and unsigned, W1C status, DMA-capable bits stored', () => {
  const { bm } = oneDisk();
  bm.write(BMIDTP, 4, 0x8000_0007);
  assert.equal(bm.read(BMIDTP, 4), 0x8000_0004);
  bm.write(BMIS, 1, 0x60);
  assert.equal(bm.read(BMIS, 1), 0x60);
  bm.write(8 + BMIC, 1, 0xff);
  assert.equal(bm.read(8 + BMIC, 1), BMIC_SSBM | BMIC_RWCON, 'secondary channel at offset 8');
  assert.equal(bm.read(8 + BMIS, 1) & BMIS_ACTIVE, BMIS_ACTIVE);
});
