// Module selection on a synthetic /lib/modules tree: .modinfo parsing, the dependency closure,
// built-in and missing modules, and modules.dep in depmod's order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { formatModulesDep, moduleNameOf, parseModInfo, plainKoPath, resolveModules } from './kernel-modules.js';

/** Bytes that look like a module's .modinfo section inside some ELF noise. */
function fakeKo(info: Record<string, string>): Buffer {
  const strings = Object.entries(info).map(([k, v]) => `${k}=${v}\0`).join('');
  return Buffer.concat([Buffer.from('\x7fELF\0\0garbage\0'), Buffer.from(`license=GPL\0${strings}vermagic=6.1.0 SMP\0`, 'latin1')]);
}

function tree(files: Record<string, Record<string, string>>, builtin = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-mods-'));
  for (const [rel, info] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), fakeKo(info));
  }
  writeFileSync(join(dir, 'modules.builtin'), builtin);
  return dir;
}

test('parseModInfo reads depends and softdep', () => {
  const d = parseModInfo(fakeKo({ depends: 'scsi_mod,t10-pi', softdep: 'pre: crct10dif post: foo bar' }));
  assert.deepEqual(d, { depends: ['scsi_mod', 't10-pi'], softPre: ['crct10dif'], softPost: ['foo', 'bar'] });
  assert.deepEqual(parseModInfo(fakeKo({ depends: '' })), { depends: [], softPre: [], softPost: [] });
});

test('names and paths', () => {
  assert.equal(moduleNameOf('kernel/lib/crc-t10dif.ko.xz'), 'crc-t10dif');
  assert.equal(plainKoPath('kernel/lib/crc-t10dif.ko.xz'), 'kernel/lib/crc-t10dif.ko');
  assert.equal(plainKoPath('kernel/lib/x.ko'), 'kernel/lib/x.ko');
});

test('resolveModules closes over dependencies, dependencies first', () => {
  const dir = tree({
    'kernel/drivers/ata/ata_piix.ko': { depends: 'libata' },
    'kernel/drivers/ata/libata.ko': { depends: 'scsi_mod,scsi_common' },
    'kernel/drivers/scsi/scsi_mod.ko': { depends: 'scsi_common' },
    'kernel/drivers/scsi/scsi_common.ko': { depends: '' },
    'kernel/lib/crc-t10dif.ko': { depends: 'crct10dif_common', softdep: 'pre: crct10dif' },
    'kernel/crypto/crct10dif_common.ko': { depends: '' },
    'kernel/drivers/unused.ko': { depends: '' },
  }, 'kernel/drivers/acpi/button.ko\n');
  try {
    const set = resolveModules(dir, ['ata_piix', 'crc_t10dif', 'button', 'nosuch']);
    assert.deepEqual(set.order, [
      'kernel/drivers/scsi/scsi_common.ko',
      'kernel/drivers/scsi/scsi_mod.ko',
      'kernel/drivers/ata/libata.ko',
      'kernel/drivers/ata/ata_piix.ko',
      'kernel/crypto/crct10dif_common.ko',
      'kernel/lib/crc-t10dif.ko',
    ]);
    assert.deepEqual(set.builtin, ['button']);
    assert.deepEqual(set.missing, ['nosuch']);
    assert.deepEqual(set.softUnresolved, ['crct10dif']);
    const dep = formatModulesDep(set).trim().split('\n');
    // Every transitive dependency is listed; the one loaded first comes last.
    assert.ok(dep.includes('kernel/drivers/ata/ata_piix.ko: kernel/drivers/ata/libata.ko kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko'), dep.join('\n'));
    assert.ok(dep.includes('kernel/drivers/scsi/scsi_common.ko:'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
