// The --drive / --disk / --cdrom parser: QEMU's key=value form, positions, and one-line errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriveArgError, parseDrives, splitDriveOptions } from './drive-args.js';

test('--drive: QEMU form with index, format, media, readonly', () => {
  const d = parseDrives(['file=a.qcow2,format=qcow2,if=ide,index=1', 'file=cd.iso,media=cdrom,readonly=on'], [], []);
  assert.deepEqual(d, [
    { file: 'a.qcow2', format: 'qcow2', media: 'disk', readOnly: false, bus: 0, unit: 1 },
    { file: 'cd.iso', format: 'auto', media: 'cdrom', readOnly: true, bus: 1, unit: 0 },
  ]);
  assert.equal(splitDriveOptions('file=a,,b.img').get('file'), 'a,b.img');
});

test('--disk and --cdrom take the first free positions', () => {
  const d = parseDrives([], ['d1', 'd2'], ['c.iso']);
  assert.deepEqual(d.map((x) => [x.file, x.bus, x.unit, x.media]), [['d1', 0, 0, 'disk'], ['d2', 0, 1, 'disk'], ['c.iso', 1, 0, 'cdrom']]);
  const e = parseDrives(['file=x,index=0'], ['d'], []);
  assert.deepEqual(e.map((x) => [x.file, x.bus, x.unit]), [['x', 0, 0], ['d', 0, 1]]);
});

test('bad drive options are one-line errors', () => {
  for (const [args, re] of [
    [['file=a,format=vmdk'], /format=vmdk/], [['file=a,media=tape'], /media=tape/], [['file=a,if=scsi'], /if=scsi/],
    [['file=a,index=7'], /index=7/], [['file=a,readonly=maybe'], /readonly/], [['file=a,bogus=1'], /unknown option bogus/],
    [['format=raw'], /needs file/], [['file=a,index=0', 'file=b,index=0'], /used twice/], [['nonsense'], /key=value/],
    [['file=a', 'file=b', 'file=c', 'file=d', 'file=e'], /too many/],
  ] as const) {
    assert.throws(() => parseDrives(args, [], []), (e: unknown) => e instanceof DriveArgError && re.test(e.message) && !e.message.includes('\n'));
  }
});
