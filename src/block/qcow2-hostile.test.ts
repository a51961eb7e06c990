// Hostile and corrupt qcow2 images: every one gives a clean BlockError (which the IDE turns into an
// ATA error status), never a hang, a crash or an unbounded allocation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { openDrive, createQcow2, BlockError } from './block.js';
import { HAVE_QEMU_IMG, Rng, qemu, scratch } from './test-util.js';

const MiB = 1024 * 1024;
const opts = { skip: HAVE_QEMU_IMG ? false : 'qemu-img not installed' } as const;

/** A 4 MiB v3 image (64 KiB clusters) with data in clusters 0 and 17, as a patchable buffer. */
function baseImage(s: ReturnType<typeof scratch>): Buffer {
  const f = s.path('base.qcow2');
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f, '4M']);
  qemu('qemu-io', ['-c', 'write -P 0x61 0 64k', '-c', 'write -P 0x62 1088k 64k', f]);
  return readFileSync(f);
}

function be64(b: Buffer, at: number): number {
  return Number(b.readBigUInt64BE(at));
}

function patched(s: ReturnType<typeof scratch>, img: Buffer, name: string, edit: (b: Buffer) => void): string {
  const b = Buffer.from(img);
  edit(b);
  const f = s.path(name);
  writeFileSync(f, b);
  return f;
}

test('hostile qcow2 headers are refused at open with a one-line reason', opts, async () => {
  const s = scratch();
  try {
    const img = baseImage(s);
    const cases: [string, (b: Buffer) => void, RegExp, boolean?][] = [
      ['l1-past-eof', (b) => b.writeBigUInt64BE(BigInt(img.length + 64 * 1024 * 16), 40), /L1 table at \d+ .*past the end of the file/],
      ['l1-huge', (b) => b.writeBigUInt64BE(1n << 62n, 40), /l1_table_offset .* too large/],
      ['l1-unaligned', (b) => b.writeBigUInt64BE(BigInt(be64(img, 40) + 512), 40), /L1 table offset \d+ is not cluster-aligned/],
      ['cluster-bits-30', (b) => b.writeUInt32BE(30, 20), /cluster_bits 30 out of range 9\.\.21/],
      ['size-huge', (b) => b.writeBigUInt64BE(1n << 60n, 24), /size \d+ is too large/],
      ['size-vs-l1', (b) => b.writeBigUInt64BE(1n << 40n, 24), /L1 table has 1 entries, the disk size needs 2048/],
      ['l1-size-huge', (b) => b.writeUInt32BE(0x7fffffff, 36), /L1 table of \d+ entries is too large/],
      ['rt-clusters-huge', (b) => b.writeUInt32BE(0x10000000, 56), /refcount table of \d+ clusters is too large/],
      ['version-9', (b) => b.writeUInt32BE(9, 4), /unsupported qcow2 version 9/],
      ['encrypted', (b) => b.writeUInt32BE(1, 32), /encrypted qcow2 images are not supported/],
      ['extl2', (b) => b.writeBigUInt64BE(1n << 4n, 72), /unsupported features: extended L2 entries/],
      ['bit-40', (b) => b.writeBigUInt64BE(1n << 40n, 72), /unsupported features: incompatible feature bit 40/],
      ['compression-type', (b) => { b.writeUInt32BE(112, 100); b[104] = 1; }, /compression_type 1 without its feature bit/],
      ['header-length', (b) => b.writeUInt32BE(100, 100), /header_length 100/],
      ['ext-overrun', (b) => { const at = b.readUInt32BE(100); b.writeUInt32BE(0x12345678, at); b.writeUInt32BE(0xfffffff0, at + 4); }, /header extension 0x12345678 overruns/],
      ['dirty-rw', (b) => b.writeBigUInt64BE(1n, 72), /dirty \(lazy refcounts\)/],
      ['corrupt-rw', (b) => b.writeBigUInt64BE(2n, 72), /marked corrupt/],
      ['refcount-order-rw', (b) => b.writeUInt32BE(5, 96), /refcount_bits=32 images can only be opened readonly=on/],
      ['snapshots-rw', (b) => { b.writeUInt32BE(1, 60); b.writeBigUInt64BE(BigInt(be64(img, 48)), 64); }, /internal snapshots; writing it is not supported/],
      ['backing-name', (b) => { b.writeBigUInt64BE(200n, 8); b.writeUInt32BE(5000, 16); }, /backing file name out of range/],
      ['zeroed', (b) => b.fill(0, 50), /corrupt qcow2 header: /],
    ];
    for (const [name, edit, re] of cases) {
      const f = patched(s, img, `${name}.qcow2`, edit);
      await assert.rejects(openDrive({ file: f, format: "qcow2" }), (e: unknown) => {
        assert.ok(e instanceof BlockError, `${name}: ${String(e)}`);
        assert.match(e.message, re, name);
        assert.ok(!e.message.includes('\n'), `${name}: one line`);
        return true;
      }, name);
    }
    writeFileSync(s.path('short.qcow2'), img.subarray(0, 50));
    await assert.rejects(openDrive({ file: s.path('short.qcow2') }), /corrupt qcow2 header: file too short/);
    writeFileSync(s.path('cut.qcow2'), img.subarray(0, 3 * 64 * 1024));
    await assert.rejects(openDrive({ file: s.path('cut.qcow2') }), /past the end of the file/);
    // Dirty and corrupt images (and other refcount widths) still open read-only.
    for (const name of ['dirty-rw', 'corrupt-rw', 'refcount-order-rw']) {
      const d = await openDrive({ file: s.path(`${name}.qcow2`), readOnly: true });
      const b = new Uint8Array(512);
      await d.read(0, b);
      assert.equal(b[0], 0x61, name);
      await d.close();
    }
  } finally {
    s.cleanup();
  }
});

test('hostile qcow2 tables: L2 entries past EOF or on metadata, refcount loops, bad compressed data', opts, async () => {
  const s = scratch();
  try {
    const img = baseImage(s);
    const l1 = be64(img, 40);
    const rt = be64(img, 48);
    const l2 = be64(img, l1) & 0x00fffffffffffe00;
    // L1 entry pointing past EOF / unaligned: refused at open.
    let f = patched(s, img, 'l1e.qcow2', (b) => b.writeBigUInt64BE((1n << 63n) | BigInt(img.length * 4), l1));
    await assert.rejects(openDrive({ file: f }), /L1 entry 0: L2 table at \d+ is past the end of the file/);
    f = patched(s, img, 'l1u.qcow2', (b) => b.writeBigUInt64BE(BigInt(l2 + 4096), l1));
    await assert.rejects(openDrive({ file: f }), /L1 entry 0: L2 table offset \d+ is not cluster-aligned/);
    f = patched(s, img, 'l1rt.qcow2', (b) => b.writeBigUInt64BE(BigInt(rt), l1));
    await assert.rejects(openDrive({ file: f }), /L2 table at \d+ overlaps the refcount table/);
    // L2 entry pointing past EOF: open succeeds, reads and writes of that cluster fail cleanly.
    f = patched(s, img, 'l2e.qcow2', (b) => b.writeBigUInt64BE((1n << 63n) | BigInt(64 * MiB), l2));
    let d = await openDrive({ file: f });
    await assert.rejects(d.read(0, new Uint8Array(512)), /cluster 0 maps to \d+, past the end of the file/);
    await assert.rejects(d.write(512, new Uint8Array(512)), /past the end of the file/);
    const ok = new Uint8Array(512);
    await d.read(1088 * 1024, ok); // other clusters still work
    assert.equal(ok[0], 0x62);
    await d.close();
    // L2 entry with a huge offset.
    f = patched(s, img, 'l2h.qcow2', (b) => b.writeBigUInt64BE((1n << 63n) | (1n << 55n), l2));
    d = await openDrive({ file: f, readOnly: true });
    await assert.rejects(d.read(0, new Uint8Array(512)), /huge offset/);
    await d.close();
    // A data cluster that is really the L1 table: reading is harmless, writing would destroy metadata.
    f = patched(s, img, 'l2meta.qcow2', (b) => b.writeBigUInt64BE((1n << 63n) | BigInt(l1), l2));
    d = await openDrive({ file: f });
    await d.read(0, new Uint8Array(512));
    await assert.rejects(d.write(0, new Uint8Array(512)), /overlaps metadata/);
    await d.close();
    // A refcount table that points at itself, at the L1 table, or past EOF.
    for (const [name, target, re] of [
      ['rt-self', rt, /points into the refcount table itself/],
      ['rt-l1', l1, /overlaps the L1 table/],
      ['rt-eof', 1 << 30, /past the end of the file/],
    ] as const) {
      f = patched(s, img, `${name}.qcow2`, (b) => b.writeBigUInt64BE(BigInt(target), rt));
      await assert.rejects(openDrive({ file: f }), re, name);
      const ro = await openDrive({ file: f, readOnly: true }); // refcounts are not used for reading
      await ro.close();
    }
    f = patched(s, img, 'rt-dup.qcow2', (b) => b.writeBigUInt64BE(b.readBigUInt64BE(rt), rt + 8));
    await assert.rejects(openDrive({ file: f }), /shared with another refcount block/);
  } finally {
    s.cleanup();
  }
});

test('hostile compressed clusters: garbage deflate data and oversized spans give read errors', opts, async () => {
  const s = scratch();
  try {
    const raw = s.path('src.raw');
    writeFileSync(raw, new Rng(2).fill(new Uint8Array(256 * 1024)).map((v, i) => (i % 3 === 0 ? v : 0)));
    const f = s.path('c.qcow2');
    qemu('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, f]);
    const img = readFileSync(f);
    const l2 = be64(img, be64(img, 40)) & 0x00fffffffffffe00;
    const desc = img.readBigUInt64BE(l2);
    assert.ok(desc & (1n << 62n), 'cluster 0 is compressed');
    const dataOff = Number(desc & ((1n << 54n) - 1n));
    const g = patched(s, img, 'garbage.qcow2', (b) => b.fill(0xff, dataOff, dataOff + 64));
    const d = await openDrive({ file: g, readOnly: true });
    await assert.rejects(d.read(0, new Uint8Array(512)), /corrupt compressed cluster/);
    await d.close();
    // A descriptor whose data starts past the end of the file.
    const e = patched(s, img, 'ceof.qcow2', (b) => b.writeBigUInt64BE((1n << 62n) | BigInt(img.length + 4096), l2));
    const d2 = await openDrive({ file: e, readOnly: true });
    await assert.rejects(d2.read(0, new Uint8Array(512)), /compressed cluster at \d+ is past the end of the file/);
    await d2.close();
  } finally {
    s.cleanup();
  }
});

test('fuzzed qcow2 metadata: only BlockErrors, bounded time', async () => {
  const seed = Date.now() % 100000;
  const s = scratch();
  try {
    const f0 = s.path('f0.qcow2');
    await createQcow2(f0, 2 * MiB, { clusterBits: 12 });
    let d = await openDrive({ file: f0 });
    const rng = new Rng(seed);
    for (let i = 0; i < 8; i++) await d.write(rng.below(4000) * 512, rng.fill(new Uint8Array(4096)));
    await d.close();
    const img = readFileSync(f0);
    const meta = 5 * 4096; // header, refcount table, refcount block, L1, first L2
    const t0 = Date.now();
    let opened = 0;
    let refused = 0;
    for (let iter = 0; iter < 150; iter++) {
      const b = Buffer.from(img);
      for (let k = 1 + rng.below(6); k > 0; k--) {
        const at = rng.below(iter % 2 ? meta : b.length);
        b[at] = rng.below(4) === 0 ? 0xff : b[at]! ^ (1 << rng.below(8));
      }
      const f = s.path(`fz${iter}.qcow2`);
      writeFileSync(f, b);
      try {
        d = await openDrive({ file: f, readOnly: iter % 3 === 0 });
        opened++;
        try {
          const buf = new Uint8Array(64 * 1024);
          for (let off = 0; off + buf.length <= Math.min(d.sizeBytes, 2 * MiB); off += buf.length) await d.read(off, buf).catch(expectBlockError(seed, iter));
          if (!d.readOnly) {
            await d.write(rng.below(4000) * 512, new Uint8Array(8192).fill(1)).catch(expectBlockError(seed, iter));
            await d.flush().catch(expectBlockError(seed, iter));
          }
        } finally {
          await d.close().catch(expectBlockError(seed, iter));
        }
      } catch (e) {
        refused++;
        expectBlockError(seed, iter)(e);
      }
    }
    assert.ok(opened > 20 && refused > 5, `seed ${seed}: ${opened} opened, ${refused} refused`);
    assert.ok(Date.now() - t0 < 8000, `seed ${seed}: fuzzing took too long`);
  } finally {
    s.cleanup();
  }
});

function expectBlockError(seed: number, iter: number): (e: unknown) => void {
  return (e) => {
    if (!(e instanceof BlockError)) assert.fail(`seed ${seed} iteration ${iter}: not a BlockError: ${e instanceof Error ? e.stack : String(e)}`);
  };
}
