// appendToInitrd: the original bytes stay first, the extra archive starts on a 4-byte boundary
// and holds the files with their modes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendToInitrd } from './initrd-append.js';
import { parseCpio, S_IFMT, S_IFREG } from './cpio.js';

test('appendToInitrd pads to 4 bytes and appends a newc archive with the files', () => {
  const first = Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]); // 7 bytes: needs 1 byte of padding
  const out = appendToInitrd(first, [{ path: '/hvm-test.sh', data: Buffer.from('echo hi\n'), mode: 0o755 }, { path: 'x', data: new Uint8Array(3) }]);
  assert.deepEqual(Array.from(out.subarray(0, 7)), Array.from(first));
  assert.equal(out[7], 0, 'zero padding');
  const members = parseCpio(Buffer.from(out.subarray(8)));
  assert.deepEqual(members.map((m) => m.name), ['hvm-test.sh', 'x']);
  assert.equal(members[0]!.data.toString(), 'echo hi\n');
  assert.equal(members[0]!.mode & S_IFMT, S_IFREG);
  assert.equal(members[0]!.mode & 0o777, 0o755);
  assert.equal(members[1]!.mode & 0o777, 0o644);
});
