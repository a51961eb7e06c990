// AML encodings against the ACPI spec's grammar: PkgLength at its size boundaries, integers in
// their smallest form, name strings, EISA ids, and resource templates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arg, buffer, decodePkgLength, ifElse, ref, store, device, dwordMemory, eisaIdValue, int, io, irqNoFlags, method, name, nameString, pkg,
  pkgLength, resourceTemplate, ret, scope, str, wordBusNumber,
} from './aml.js';

test('PkgLength: one to four bytes, counting itself, at every boundary', () => {
  assert.deepEqual(pkgLength(0), [0x01]);
  assert.deepEqual(pkgLength(62), [0x3f], 'the largest one-byte length is 63');
  assert.deepEqual(pkgLength(63), [0x41, 0x04], '63 + 2 = 0x41');
  assert.deepEqual(pkgLength(0xffd), [0x4f, 0xff], '0xFFF is the largest two-byte length');
  assert.deepEqual(pkgLength(0xffe), [0x81, 0x00, 0x01], '0xFFE + 3 = 0x1001');
  assert.deepEqual(pkgLength(0xffffc), [0x8f, 0xff, 0xff], '0xFFFFF is the largest three-byte length');
  assert.deepEqual(pkgLength(0xffffd), [0xc1, 0x00, 0x00, 0x01]);
  assert.deepEqual(pkgLength(0x0ffffffb), [0xcf, 0xff, 0xff, 0xff]);
  assert.throws(() => pkgLength(0x0ffffffc));
  for (const n of [0, 1, 62, 63, 64, 100, 0xffd, 0xffe, 0xfff, 0x1234, 0xffffc, 0xffffd, 0x123456, 0x0ffffffb]) {
    const enc = Uint8Array.from(pkgLength(n));
    const d = decodePkgLength(enc, 0);
    assert.equal(d.bytes, enc.length);
    assert.equal(d.value, n + enc.length, `round trip of ${n}`);
  }
});

test('integers take the smallest encoding', () => {
  assert.deepEqual([...int(0)], [0x00]);
  assert.deepEqual([...int(1)], [0x01]);
  assert.deepEqual([...int(2)], [0x0a, 0x02]);
  assert.deepEqual([...int(0xff)], [0x0a, 0xff]);
  assert.deepEqual([...int(0x100)], [0x0b, 0x00, 0x01]);
  assert.deepEqual([...int(0xffff)], [0x0b, 0xff, 0xff]);
  assert.deepEqual([...int(0x10000)], [0x0c, 0x00, 0x00, 0x01, 0x00]);
  assert.deepEqual([...int(0xffffffff)], [0x0c, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...int(0x100000000)], [0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.throws(() => int(-1));
});

test('names, strings, EISA ids', () => {
  assert.deepEqual([...nameString('\\_SB.PCI0')], [0x5c, 0x2e, ...Buffer.from('_SB_PCI0')]);
  assert.deepEqual([...nameString('ISA')], [...Buffer.from('ISA_')]);
  assert.deepEqual([...nameString('^^FOO')], [0x5e, 0x5e, ...Buffer.from('FOO_')]);
  assert.deepEqual([...nameString('\\A.B.C')], [0x5c, 0x2f, 3, ...Buffer.from('A___B___C___')]);
  assert.deepEqual([...nameString('\\')], [0x5c, 0x00]);
  assert.throws(() => nameString('1ABC'));
  assert.throws(() => nameString('TOOLONG'));
  assert.deepEqual([...str('ACPI0007')], [0x0d, ...Buffer.from('ACPI0007'), 0]);
  assert.equal(eisaIdValue('PNP0A03'), 0x030ad041);
  assert.equal(eisaIdValue('PNP0501'), 0x0105d041);
  assert.equal(eisaIdValue('PNP0C0C'), 0x0c0cd041);
  assert.throws(() => eisaIdValue('pnp0a03'));
});

test('named objects, packages, scopes, devices, methods', () => {
  assert.deepEqual([...name('_UID', int(1))], [0x08, ...Buffer.from('_UID'), 0x01]);
  assert.deepEqual([...pkg([int(0), int(2)])], [0x12, 0x05, 0x02, 0x00, 0x0a, 0x02]);
  assert.deepEqual([...buffer([1, 2, 3])], [0x11, 0x06, 0x0a, 0x03, 1, 2, 3]);
  assert.deepEqual([...device('FOO', [])], [0x5b, 0x82, 0x05, ...Buffer.from('FOO_')]);
  assert.deepEqual([...scope('\\_SB', [])], [0x10, 0x06, 0x5c, ...Buffer.from('_SB_')]);
  assert.deepEqual([...method('_STA', 0, false, [ret(int(0x0f))])], [0x14, 0x09, ...Buffer.from('_STA'), 0x00, 0xa4, 0x0a, 0x0f]);
  // A device big enough for a two-byte PkgLength.
  const big = device('BIG', [name('_HID', buffer(new Array(100).fill(0)))]);
  const d = decodePkgLength(big, 2);
  assert.equal(d.bytes, 2);
  assert.equal(d.value, big.length - 2);
  // Packages of more than 255 elements become VarPackages.
  const many = pkg(new Array(300).fill(int(0)));
  assert.equal(many[0], 0x13);
});

test('If/Else, Store, Arg and references', () => {
  assert.deepEqual([...store(arg(0), ref('PICF'))], [0x70, 0x68, ...Buffer.from('PICF')]);
  assert.deepEqual([...ifElse(ref('PICF'), [ret(int(1))], [ret(int(0))])],
    [0xa0, 0x07, ...Buffer.from('PICF'), 0xa4, 0x01, 0xa1, 0x03, 0xa4, 0x00]);
  assert.deepEqual([...ifElse(ref('\\X'), [])], [0xa0, 0x06, 0x5c, ...Buffer.from('X___')]);
  assert.throws(() => arg(7));
});

test('resource descriptors and the end tag checksum', () => {
  assert.deepEqual([...io(0x3f8, 0x3f8, 0, 8)], [0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08]);
  assert.deepEqual([...irqNoFlags([4])], [0x22, 0x10, 0x00]);
  assert.deepEqual([...irqNoFlags([12])], [0x22, 0x00, 0x10]);
  assert.deepEqual([...wordBusNumber(0, 0xff)], [0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x00, 0, 0, 0x00, 0x01]);
  const mem = dwordMemory(0xa0000, 0xbffff, true);
  assert.equal(mem.length, 26);
  assert.deepEqual([...mem.subarray(0, 6)], [0x87, 0x17, 0x00, 0x00, 0x0c, 0x03]);
  assert.equal(new DataView(mem.buffer).getUint32(22, true), 0x20000, 'length');
  const rt = resourceTemplate([io(0x70, 0x70, 1, 2), irqNoFlags([8])]);
  // Buffer op, PkgLength, size, then the descriptors and 0x79 + checksum.
  const body = rt.subarray(rt.length - 13);
  assert.equal(body[body.length - 2], 0x79);
  assert.equal(body.reduce((a, b) => (a + b) & 0xff, 0), 0, 'the template sums to zero');
});
