// The host side of removable media (Vm.changeMedia on the device-model thread): drive ids as
// QEMU names them, eject and insert of real image files, and what the guest's drive reports —
// media events (GET EVENT STATUS NOTIFICATION), UNIT ATTENTION, the new capacity — and the
// refusals: unknown ids, hard disks, a tray the guest has locked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atapiPacket, MemBackend, rig } from '../devices/ide/ide-test-util.js';
import { ideDriveId, type IdeDriveConfig } from '../devices/ide/piix-ide.js';
import { changeMedia } from './media-change.js';

const GESN = [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8];

test('drive ids follow QEMU: ide<bus>-hd<unit>, ide<bus>-cd<unit>', () => {
  assert.equal(ideDriveId(1, 0, 'cdrom'), 'ide1-cd0');
  assert.equal(ideDriveId(0, 1, 'disk'), 'ide0-hd1');
  const { ide } = rig([{ bus: 0, unit: 0, media: 'disk', backend: new MemBackend(1 << 20) }, { bus: 1, unit: 0, media: 'cdrom', backend: null }]);
  assert.ok(ide.driveById('ide0-hd0') !== null);
  assert.ok(ide.driveById('ide1-cd0') !== null);
  for (const bad of ['ide0-cd0', 'ide1-hd0', 'ide1-cd1', 'ide2-cd0', 'cdrom', '']) assert.equal(ide.driveById(bad), null, bad);
});

test('changeMedia: eject, insert a file, locked tray, refusals', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-media-'));
  try {
    const isoA = join(dir, 'a.iso');
    const isoB = join(dir, 'b.iso');
    writeFileSync(isoA, Buffer.alloc(10 * 2048, 0xaa));
    writeFileSync(isoB, Buffer.alloc(30 * 2048, 0xbb));
    const first = new MemBackend(10 * 2048, true);
    const drives: IdeDriveConfig[] = [
      { bus: 0, unit: 0, media: 'disk', backend: new MemBackend(1 << 20) },
      { bus: 1, unit: 0, media: 'cdrom', backend: first },
    ];
    const r = rig(drives);
    const c = r.ch(1);
    const pkt = (cdb: number[]) => atapiPacket(c, cdb);
    assert.equal((await pkt([0x00])).status & 1, 0, 'TEST UNIT READY with the first disc');

    await assert.rejects(changeMedia(r.ide, drives, 'ide1-cd1', null), /no IDE drive ide1-cd1/);
    await assert.rejects(changeMedia(r.ide, drives, 'ide0-hd0', null), /hard disk/);
    await assert.rejects(changeMedia(null, drives, 'ide1-cd0', null), /no IDE drive/);

    // Eject: the tray opens, empty; a removal event; NOT READY, medium not present.
    await changeMedia(r.ide, drives, 'ide1-cd0', null);
    assert.equal(drives[1]!.backend, null);
    const ev = await pkt(GESN);
    assert.deepEqual([ev.data[4], ev.data[5]], [3, 0x01], 'media removal; tray open, no medium');
    const nr = await pkt([0x00]);
    assert.equal(nr.error >>> 4, 0x2);
    assert.equal((await pkt([0x03, 0, 0, 0, 18])).data[12], 0x3a);

    // Insert: the tray closes on the new disc; a new-media event, then UNIT ATTENTION, then the new size.
    await changeMedia(r.ide, drives, 'ide1-cd0', isoB);
    assert.ok(drives[1]!.backend !== null);
    const ev2 = await pkt(GESN);
    assert.deepEqual([ev2.data[4], ev2.data[5]], [2, 0x02], 'new media; tray closed, medium present');
    assert.equal((await pkt([0x00])).error >>> 4, 0x6, 'UNIT ATTENTION');
    const sense = await pkt([0x03, 0, 0, 0, 18]);
    assert.deepEqual([sense.data[2], sense.data[12]], [0x6, 0x28], 'REQUEST SENSE: medium may have changed');
    assert.equal((await pkt([0x00])).status & 1, 0, 'ready once the unit attention was reported');
    assert.deepEqual(Array.from((await pkt([0x25])).data.subarray(0, 4)), [0, 0, 0, 29]);
    const rd = await pkt([0x28, 0, 0, 0, 0, 3, 0, 0, 1]);
    assert.equal(rd.data.length, 2048);
    assert.ok(rd.data.every((b) => b === 0xbb), 'reads the new image');

    // Change with a disc in: straight to the other one.
    await changeMedia(r.ide, drives, 'ide1-cd0', isoA);
    assert.equal((await pkt([0x00])).error >>> 4, 0x6);
    assert.deepEqual(Array.from((await pkt([0x25])).data.subarray(0, 4)), [0, 0, 0, 9]);

    // The guest locks the tray: the host's eject is refused and the guest hears an eject request.
    await pkt([0x1e, 0, 0, 0, 1]);
    await assert.rejects(changeMedia(r.ide, drives, 'ide1-cd0', null), /locked the tray/);
    assert.equal((await pkt(GESN)).data[4], 1, 'eject request event');
    assert.equal((await pkt([0x00])).status & 1, 0, 'the disc is still in');
    await assert.rejects(changeMedia(r.ide, drives, 'ide1-cd0', join(dir, 'missing.iso')), /locked/);
    await pkt([0x1e, 0, 0, 0, 0]);
    await assert.rejects(changeMedia(r.ide, drives, 'ide1-cd0', join(dir, 'missing.iso')), /no such file/);
    assert.equal((await pkt([0x00])).status & 1, 0, 'a failed insert leaves the disc in');
    for (const d of drives) await d.backend?.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
