// The pc machine's ACPI tables: checksums and pointers after linking, the linker/loader script
// replayed the way SeaBIOS runs it, and Debian's iasl disassembling every table (and compiling
// the DSDT back) without an error or warning.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pc } from '../../machine/pc.js';
import { acpiConfigFor, pcMpPciIrqs } from './pc.js';
import { ACPI_RSDP_FILE, ACPI_TABLES_FILE, tableLoader } from './loader.js';
import { type AcpiTables, buildAcpiTables, linkAcpiTables } from './tables.js';
import { pciGsi } from './dsdt.js';

const sum8 = (b: Uint8Array): number => b.reduce((a, x) => (a + x) & 0xff, 0);

function tables(cpus = 2, lowRam = 256 * 2 ** 20): AcpiTables {
  const c = acpiConfigFor(pc, lowRam, cpus);
  assert.ok(c !== null, 'the pc machine has ACPI');
  return buildAcpiTables(c);
}

/** The tables of a linked blob, by signature. */
function split(linked: { tables: Uint8Array }, t: AcpiTables): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const dv = new DataView(linked.tables.buffer);
  for (const [sig, off] of Object.entries(t.offsets)) {
    const len = sig === 'FACS' ? 64 : dv.getUint32(off + 4, true);
    out.set(sig, linked.tables.subarray(off, off + len));
  }
  return out;
}

test('linked tables: every checksum holds and every pointer lands on its table', () => {
  const t = tables();
  const base = 0xe0040;
  const linked = linkAcpiTables(t, base);
  const all = split(linked, t);
  for (const [sig, b] of all) {
    assert.equal(String.fromCharCode(...b.subarray(0, 4)), sig);
    if (sig !== 'FACS') assert.equal(sum8(b), 0, `${sig} checksum`);
  }
  assert.equal(sum8(linked.rsdp.subarray(0, 20)), 0, 'RSDP checksum');
  assert.equal(sum8(linked.rsdp), 0, 'RSDP extended checksum');
  const rv = new DataView(linked.rsdp.buffer);
  assert.equal(String.fromCharCode(...linked.rsdp.subarray(0, 8)), 'RSD PTR ');
  assert.equal(rv.getUint32(16, true), base + t.offsets['RSDT']!);
  assert.equal(Number(rv.getBigUint64(24, true)), base + t.offsets['XSDT']!);
  const fadt = new DataView(all.get('FACP')!.slice().buffer);
  assert.equal(fadt.getUint32(36, true), base + t.offsets['FACS']!);
  assert.equal(fadt.getUint32(40, true), base + t.offsets['DSDT']!);
  assert.equal((base + t.offsets['FACS']!) % 64, 0, 'FACS 64-byte aligned');
  assert.equal(fadt.getUint16(46, true), 9, 'SCI_INT');
  assert.equal(fadt.getUint32(56, true), 0x600, 'PM1a_EVT_BLK at the PIIX4 PM base');
  assert.equal(fadt.getUint32(76, true), 0x608, 'PM_TMR_BLK');
  const xsdt = new DataView(all.get('XSDT')!.slice().buffer);
  assert.equal(Number(xsdt.getBigUint64(36, true)), base + t.offsets['FACP']!);
  assert.equal(Number(xsdt.getBigUint64(44, true)), base + t.offsets['APIC']!);
});

test('MADT: one LAPIC per vCPU, the IOAPIC, the overrides and LINT1 NMI', () => {
  const t = tables(4);
  const madt = split(linkAcpiTables(t, 0x100000), t).get('APIC')!;
  const types: number[] = [];
  for (let at = 44; at < madt.length; at += madt[at + 1]!) types.push(madt[at]!);
  assert.deepEqual(types, [0, 0, 0, 0, 1, 2, 2, 4]);
});

test('the MP table PCI routes agree with _PRT', () => {
  const routes = pcMpPciIrqs();
  assert.equal(routes.length, 31 * 4);
  for (const r of routes) assert.equal(r.ioapicPin, pciGsi(r.device, r.pin));
  assert.equal(pciGsi(1, 0), 17, 'slot 1 INTA# is PIRQB# (the PIIX swizzle), GSI 17');
});

test('table-loader: replaying ALLOCATE/ADD_POINTER/ADD_CHECKSUM gives the directly linked tables', () => {
  const t = tables();
  const script = tableLoader(t);
  assert.equal(script.length % 128, 0);
  const files = new Map<string, { data: Uint8Array; addr: number }>([
    [ACPI_TABLES_FILE, { data: t.tables.slice(), addr: 0 }],
    [ACPI_RSDP_FILE, { data: t.rsdp.slice(), addr: 0 }],
  ]);
  const dv = new DataView(script.buffer);
  const nameAt = (at: number): string => Buffer.from(script.subarray(at, at + 56)).toString('latin1').replace(/\0+$/, '');
  const where = { high: 0x7fff0000, fseg: 0xf5000 };
  for (let at = 0; at < script.length; at += 128) {
    const cmd = dv.getUint32(at, true);
    if (cmd === 1) {
      const f = files.get(nameAt(at + 4))!;
      const align = dv.getUint32(at + 60, true);
      const zone = script[at + 64]!;
      f.addr = zone === 2 ? where.fseg : where.high;
      assert.equal(f.addr % align, 0);
    } else if (cmd === 2) {
      const dest = files.get(nameAt(at + 4))!;
      const src = files.get(nameAt(at + 60))!;
      const off = dv.getUint32(at + 116, true);
      const size = script[at + 120]!;
      const fv = new DataView(dest.data.buffer);
      if (size === 4) fv.setUint32(off, fv.getUint32(off, true) + src.addr, true);
      else fv.setBigUint64(off, fv.getBigUint64(off, true) + BigInt(src.addr), true);
    } else if (cmd === 3) {
      const f = files.get(nameAt(at + 4))!;
      const off = dv.getUint32(at + 60, true);
      const start = dv.getUint32(at + 64, true);
      const len = dv.getUint32(at + 68, true);
      f.data[off] = (f.data[off]! - sum8(f.data.subarray(start, start + len))) & 0xff; // SeaBIOS's arithmetic
    } else {
      assert.fail(`unknown command ${cmd}`);
    }
  }
  const direct = linkAcpiTables(t, where.high);
  assert.deepEqual(files.get(ACPI_TABLES_FILE)!.data, direct.tables);
  assert.deepEqual(files.get(ACPI_RSDP_FILE)!.data, direct.rsdp);
});

function iaslAvailable(): boolean {
  return spawnSync('iasl', ['-v'], { encoding: 'utf8' }).status === 0;
}

test('iasl disassembles every table without errors or warnings, and recompiles the DSDT', (t) => {
  if (!iaslAvailable()) { t.skip('iasl not installed (scripts/setup.sh installs acpica-tools)'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'hvm-acpi-'));
  try {
    for (const [cpus, lowRam] of [[1, 64 * 2 ** 20], [8, 0xe0000000]] as const) {
      const acpi = tables(cpus, lowRam);
      for (const [sig, b] of split(linkAcpiTables(acpi, 0xe0040), acpi)) {
        const file = join(dir, `${sig.toLowerCase()}.dat`);
        writeFileSync(file, b);
        const r = spawnSync('iasl', ['-d', file], { cwd: dir, encoding: 'utf8' });
        const out = `${r.stdout}${r.stderr}`;
        assert.equal(r.status, 0, `iasl -d ${sig}: ${out}`);
        assert.doesNotMatch(out, /error|warning/i, `iasl -d ${sig}`);
        assert.match(readFileSync(join(dir, `${sig.toLowerCase()}.dsl`), 'utf8'), new RegExp(`"${sig}"|${sig}`));
      }
      const r = spawnSync('iasl', ['-p', join(dir, 'recompiled'), join(dir, 'dsdt.dsl')], { cwd: dir, encoding: 'utf8' });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, out);
      assert.match(out, /0 Errors, 0 Warnings/, out);
      const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
      assert.match(dsl, /PNP0A03/);
      assert.match(dsl, /Method \(\\_PIC, 1/);
      assert.match(dsl, /Method \(_PRT, 0/);
      // Slot 1 INTA# is PIRQB#: GSI 17 in the APIC table, ISA IRQ 10 in the PIC table.
      assert.match(dsl, /Name \(PRTA,[\s\S]*?0x0001FFFF,\s*Zero,\s*Zero,\s*0x11/);
      assert.match(dsl, /Name \(PRTP,[\s\S]*?0x0001FFFF,\s*Zero,\s*Zero,\s*0x0A/);
      assert.equal((dsl.match(/ACPI0007/g) ?? []).length, cpus, 'a processor device per vCPU');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
