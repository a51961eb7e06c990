import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { RawBackend } from './raw.js';
import { openDrive, probeFormat } from './block.js';
import { Rng, firstDiff, scratch } from './test-util.js';

test('raw: write, flush, read back, and the file holds the bytes', async () => {
  const s = scratch();
  try {
    const f = s.path('d.raw');
    writeFileSync(f, new Uint8Array(4 * 1024 * 1024));
    const d = await openDrive({ file: f, format: 'raw' });
    assert.equal(d.sizeBytes, 4 * 1024 * 1024);
    assert.equal(d.readOnly, false);
    const rng = new Rng(1);
    const data = rng.fill(new Uint8Array(1024 * 1024 + 512));
    await d.write(512 * 3, data);
    await d.flush();
    const back = new Uint8Array(data.length);
    await d.read(512 * 3, back);
    assert.equal(firstDiff(back, data), -1);
    await d.close();
    const file = readFileSync(f);
    assert.equal(firstDiff(file.subarray(1536, 1536 + data.length), data), -1);
    await assert.rejects(d.read(0, new Uint8Array(512)), /closed/);
  } finally {
    s.cleanup();
  }
});

test('raw: a short file reads as zeros up to the declared size; zero writes past EOF stay holes', async () => {
  const s = scratch();
  try {
    const f = s.path('short.raw');
    writeFileSync(f, new Uint8Array(1000).fill(0x5a));
    const d = await RawBackend.open(f, false, 64 * 1024 * 1024);
    const b = new Uint8Array(2048).fill(0xff);
    await d.read(0, b);
    assert.equal(b[999], 0x5a);
    assert.equal(b[1000], 0);
    assert.equal(b[2047], 0);
    // 32 MiB of zeros past EOF: nothing written, the file does not grow.
    await d.write(16 * 1024 * 1024, new Uint8Array(32 * 1024 * 1024));
    assert.equal(statSync(f).size, 1000);
    // Data in the middle of a zero buffer past EOF: only the data chunk lands.
    const buf = new Uint8Array(8 * 1024 * 1024);
    buf.fill(7, 4 * 1024 * 1024, 4 * 1024 * 1024 + 512);
    await d.write(48 * 1024 * 1024, buf);
    await d.flush();
    const st = statSync(f);
    assert.equal(st.size, 52 * 1024 * 1024 + 64 * 1024);
    assert.ok(st.blocks * 512 < 1024 * 1024, `sparse: ${st.blocks} blocks allocated`);
    const r = new Uint8Array(1024);
    await d.read(52 * 1024 * 1024 - 512, r);
    assert.deepEqual([r[0], r[511], r[512], r[1023]], [0, 0, 7, 7]);
    // Zeros written below EOF are real writes (they overwrite data).
    await d.write(52 * 1024 * 1024, new Uint8Array(512));
    await d.read(52 * 1024 * 1024, r.subarray(0, 512));
    assert.equal(r[0], 0);
    await d.close();
  } finally {
    s.cleanup();
  }
});

test('raw: read-only refuses writes; ranges are checked', async () => {
  const s = scratch();
  try {
    const f = s.path('ro.raw');
    writeFileSync(f, new Uint8Array(1024 * 1024));
    const d = await openDrive({ file: f, readOnly: true });
    assert.equal(d.readOnly, true);
    await assert.rejects(d.write(0, new Uint8Array(512)), /read-only/);
    await assert.rejects(d.read(1024 * 1024 - 512, new Uint8Array(1024)), /past the end/);
    await assert.rejects(d.read(100, new Uint8Array(512)), /not sector-aligned/);
    await d.flush();
    await d.close();
  } finally {
    s.cleanup();
  }
});

test('openDrive: one-line errors for a missing file, a directory, bad formats, permissions', async () => {
  const s = scratch();
  try {
    await assert.rejects(openDrive({ file: s.path('nope.img') }), /nope\.img: no such file/);
    await assert.rejects(openDrive({ file: s.dir, format: 'raw' }), /is a directory|not a regular file/);
    const vmdk = s.path('x.vmdk');
    writeFileSync(vmdk, Buffer.concat([Buffer.from('KDMV'), Buffer.alloc(4096)]));
    await assert.rejects(openDrive({ file: vmdk }), /unsupported image format vmdk/);
    await assert.rejects(openDrive({ file: vmdk, format: 'vdi' as 'raw' }), /unknown format 'vdi'/);
    const q1 = s.path('q1.img');
    writeFileSync(q1, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1]), Buffer.alloc(4096)]));
    assert.equal(await probeFormat(q1), 'qcow2');
    await assert.rejects(openDrive({ file: q1 }), /qcow version 1 is not supported/);
    const locked = s.path('locked.raw');
    writeFileSync(locked, new Uint8Array(512));
    chmodSync(locked, 0o444);
    if (process.getuid?.() !== 0) await assert.rejects(openDrive({ file: locked }), /permission denied/);
    const ro = await openDrive({ file: locked, readOnly: true });
    await ro.close();
  } finally {
    s.cleanup();
  }
});

test('openDrive snapshot=on: writes go to a hidden overlay, the base file is untouched', async () => {
  const s = scratch();
  try {
    const f = s.path('base.raw');
    const orig = new Rng(5).fill(new Uint8Array(3 * 1024 * 1024));
    writeFileSync(f, orig);
    chmodSync(f, 0o444);
    const d = await openDrive({ file: f, snapshot: true });
    assert.equal(d.readOnly, false);
    assert.equal(d.sizeBytes, orig.length);
    const w = new Uint8Array(100 * 512).fill(0xee);
    await d.write(70 * 512, w);
    await d.flush();
    const b = new Uint8Array(orig.length);
    await d.read(0, b);
    const expect = orig.slice();
    expect.set(w, 70 * 512);
    assert.equal(firstDiff(b, expect), -1);
    await d.close();
    assert.equal(firstDiff(readFileSync(f), orig), -1);
  } finally {
    s.cleanup();
  }
});
