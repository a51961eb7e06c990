// qcow2 against Debian's qemu-img/qemu-io: images they make read back through us, images we write
// read back through them, and `qemu-img check` finds nothing wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { openDrive, createQcow2, type BlockBackend } from './block.js';
import { HAVE_QEMU_IMG, Rng, firstDiff, qemu, qemuCheck, scratch } from './test-util.js';

const MiB = 1024 * 1024;
const opts = { skip: HAVE_QEMU_IMG ? false : 'qemu-img not installed (apt-get install qemu-utils)' } as const;

async function readAll(d: BlockBackend): Promise<Uint8Array> {
  const b = new Uint8Array(d.sizeBytes);
  for (let off = 0; off < b.length; off += 4 * MiB) await d.read(off, b.subarray(off, Math.min(b.length, off + 4 * MiB)));
  return b;
}

function assertSame(got: Uint8Array, want: Uint8Array, what: string): void {
  const at = firstDiff(got, want);
  assert.equal(at, -1, `${what}: first difference at byte ${at} (got ${got[at]}, want ${want[at]})`);
}

function assertClean(file: string): void {
  const c = qemuCheck(file);
  assert.equal(c.corruptions, 0, c.text);
  assert.equal(c.leaks, 0, c.text);
  assert.equal(c.status, 0, c.text);
}

test('qcow2: images made by qemu-img (v3, v2, compressed, 4K clusters) read back identically', opts, async () => {
  const s = scratch();
  try {
    const raw = s.path('src.raw');
    const ref = new Rng(11).fill(new Uint8Array(6 * MiB + 3 * 512));
    ref.fill(0, 2 * MiB, 3 * MiB); // a hole: unallocated after convert
    writeFileSync(raw, ref);
    const variants: [string, string[]][] = [
      ['v3.qcow2', []],
      ['v2.qcow2', ['-o', 'compat=0.10']],
      ['c.qcow2', ['-c']],
      ['c4k.qcow2', ['-c', '-o', 'cluster_size=4096']],
      ['small.qcow2', ['-o', 'cluster_size=512']],
    ];
    for (const [name, extra] of variants) {
      qemu('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...extra, raw, s.path(name)]);
      const d = await openDrive({ file: s.path(name), readOnly: true });
      assert.equal(d.sizeBytes, ref.length, name);
      assertSame(await readAll(d), ref, name);
      // Unaligned-to-cluster, odd-sized reads agree too.
      const part = new Uint8Array(77 * 512);
      await d.read(1234 * 512, part);
      assertSame(part, ref.subarray(1234 * 512, 1311 * 512), `${name} partial`);
      await d.close();
    }
  } finally {
    s.cleanup();
  }
});

test('qcow2: data written by qemu-io (v2 and v3), zero clusters from write -z', opts, async () => {
  const s = scratch();
  try {
    for (const compat of ['1.1', '0.10']) {
      const f = s.path(`io-${compat}.qcow2`);
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, f, '16M']);
      qemu('qemu-io', ['-c', 'write -P 0x11 0 3M', '-c', 'write -P 0x22 5M 100k', '-c', 'write -z 1M 128k', '-c', 'write -z 8M 64k', f]);
      const d = await openDrive({ file: f });
      const want = new Uint8Array(16 * MiB);
      want.fill(0x11, 0, 3 * MiB);
      want.fill(0, MiB, MiB + 128 * 1024);
      want.fill(0x22, 5 * MiB, 5 * MiB + 100 * 1024);
      assertSame(await readAll(d), want, compat);
      // Overwrite part of a zero cluster: the rest of that cluster must still read as zeros.
      await d.write(MiB + 4096, new Uint8Array(512).fill(0x33));
      want.fill(0x33, MiB + 4096, MiB + 4608);
      await d.close();
      assertClean(f);
      qemu('qemu-img', ['convert', '-O', 'raw', f, s.path('out.raw')]);
      assertSame(readFileSync(s.path('out.raw')), want, `${compat} via qemu-img`);
    }
  } finally {
    s.cleanup();
  }
});

test('qcow2: random writes (partial clusters, across L2 tables) read back through qemu-img; check passes', opts, async () => {
  const seed = Date.now() % 100000;
  const s = scratch();
  try {
    for (const [cb, size] of [[16, 1200 * MiB], [9, 20 * MiB], [12, 12 * MiB]] as const) {
      const f = s.path(`w${cb}.qcow2`);
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${2 ** cb}`, f, String(size)]);
      const rng = new Rng(seed + cb);
      const shadow = new Map<number, Uint8Array>(); // sector → content (sparse model of the disk)
      const ranges: [number, number][] = [];
      const expected = (start: number, sectors: number): Uint8Array => {
        const b = new Uint8Array(sectors * 512);
        for (let k = 0; k < sectors; k++) b.set(shadow.get(start + k)!, k * 512);
        return b;
      };
      const d = await openDrive({ file: f });
      const l2span = 2 ** cb * 2 ** (cb - 3);
      for (let i = 0; i < (process.env.HVM_LONG === '1' ? 400 : 40); i++) {
        const sectors = 1 + rng.below(i % 10 === 0 ? 4096 : 300);
        // Every fourth write straddles an L2 table boundary.
        let start = i % 4 === 0 ? Math.max(0, (1 + rng.below(Math.floor(size / l2span) - 1)) * l2span / 512 - rng.below(sectors))
          : rng.below(size / 512 - sectors);
        start = Math.min(start, size / 512 - sectors);
        const data = rng.fill(new Uint8Array(sectors * 512));
        await d.write(start * 512, data);
        ranges.push([start, sectors]);
        for (let k = 0; k < sectors; k++) shadow.set(start + k, data.subarray(k * 512, k * 512 + 512));
        if (i % 20 === 19) await d.flush();
      }
      // Read back through our own backend first.
      for (const [start, sectors] of ranges) {
        const got = new Uint8Array(sectors * 512);
        await d.read(start * 512, got);
        assertSame(got, expected(start, sectors), `seed ${seed} cb ${cb} range at sector ${start} (ours)`);
      }
      await d.close();
      assertClean(f);
      qemu('qemu-img', ['convert', '-O', 'raw', f, s.path('out.raw')]);
      const fd = openSync(s.path('out.raw'), 'r');
      const sector = (n: number, count = 1): Uint8Array => {
        const b = new Uint8Array(512 * count);
        readSync(fd, b, 0, b.length, n * 512);
        return b;
      };
      try {
        for (const [start, sectors] of ranges) assertSame(sector(start, sectors), expected(start, sectors), `seed ${seed} cb ${cb} range at sector ${start}`);
        let nonzero = 0;
        for (let sec = 0; sec < size / 512; sec += 997) if (!shadow.has(sec) && sector(sec).some((b) => b !== 0)) nonzero++;
        assert.equal(nonzero, 0, `seed ${seed}: unwritten sectors must read as zeros`);
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    s.cleanup();
  }
});

test('qcow2: createQcow2 images (v3 and v2, several cluster sizes) pass qemu-img check', opts, async () => {
  const s = scratch();
  try {
    for (const [cb, version, size] of [[16, 3, 10 * 1024 * MiB], [9, 2, 64 * MiB], [21, 3, 100 * MiB], [12, 3, 3 * MiB + 512]] as const) {
      const f = s.path(`new-${cb}-${version}.qcow2`);
      await createQcow2(f, size, { clusterBits: cb, version });
      assertClean(f);
      const info = JSON.parse(qemu('qemu-img', ['info', '--output=json', f])) as { 'virtual-size': number; 'cluster-size': number };
      assert.equal(info['virtual-size'], size);
      assert.equal(info['cluster-size'], 2 ** cb);
      const d = await openDrive({ file: f, format: 'qcow2' });
      const before = statSync(f).size;
      await d.write(0, new Uint8Array(2 * MiB)); // zeros over unallocated clusters allocate nothing
      await d.flush();
      assert.equal(statSync(f).size, before);
      await d.write(size - 1024, new Uint8Array(1024).fill(0x99));
      await d.write(0, new Uint8Array(512).fill(0x98));
      await d.close();
      assertClean(f);
    }
  } finally {
    s.cleanup();
  }
});

test('qcow2: refcount table growth (512-byte clusters, many allocations) stays consistent', opts, async () => {
  const s = scratch();
  try {
    const f = s.path('grow.qcow2');
    await createQcow2(f, 64 * MiB, { clusterBits: 9 });
    const d = await openDrive({ file: f });
    const rng = new Rng(3);
    // 512-byte clusters: one refcount block covers 128 KiB, one table cluster 64 blocks (8 MiB).
    const data = rng.fill(new Uint8Array(4 * MiB));
    for (let off = 0; off < 24 * MiB; off += 4 * MiB) await d.write(off * 2, data);
    await d.close();
    assertClean(f);
    qemu('qemu-img', ['convert', '-O', 'raw', f, s.path('out.raw')]);
    const out = readFileSync(s.path('out.raw'));
    for (let off = 0; off < 24 * MiB; off += 4 * MiB) assertSame(out.subarray(off * 2, off * 2 + 4 * MiB), data, `at ${off * 2}`);
  } finally {
    s.cleanup();
  }
});

test('qcow2: backing chains read through; writes land in the overlay only', opts, async () => {
  const s = scratch();
  try {
    const base = s.path('base.raw');
    const ref = new Rng(21).fill(new Uint8Array(4 * MiB));
    writeFileSync(base, ref);
    qemu('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', base, s.path('base.qcow2')]);
    // mid: a qcow2 over the qcow2 base (relative name), top: over mid; mid gets its own data.
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', s.path('mid.qcow2')]);
    qemu('qemu-io', ['-c', 'write -P 0x44 1M 64k', s.path('mid.qcow2')]);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', s.path('top.qcow2'), '6M']);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', s.path('onraw.qcow2')]);
    const want = new Uint8Array(6 * MiB);
    want.set(ref);
    want.fill(0x44, MiB, MiB + 64 * 1024);
    const top = await openDrive({ file: s.path('top.qcow2') });
    assertSame(await readAll(top), want, 'top');
    // A partial-cluster write copies the rest of the cluster up from the chain.
    await top.write(MiB + 512, new Uint8Array(1024).fill(0x55));
    await top.write(5 * MiB, new Uint8Array(512).fill(0x56)); // past the backing file's end
    want.fill(0x55, MiB + 512, MiB + 1536);
    want.fill(0x56, 5 * MiB, 5 * MiB + 512);
    assertSame(await readAll(top), want, 'top after write');
    await top.close();
    assertClean(s.path('top.qcow2'));
    assertClean(s.path('mid.qcow2'));
    qemu('qemu-img', ['convert', '-O', 'raw', s.path('top.qcow2'), s.path('top.raw')]);
    assertSame(readFileSync(s.path('top.raw')), want, 'top via qemu-img');
    qemu('qemu-img', ['convert', '-O', 'raw', s.path('base.qcow2'), s.path('base-after.raw')]);
    assertSame(readFileSync(s.path('base-after.raw')), ref, 'base untouched');
    const onraw = await openDrive({ file: s.path('onraw.qcow2') });
    assertSame(await readAll(onraw), ref, 'qcow2 over raw');
    await onraw.close();
    // A chain that loops back on itself is refused, not followed forever.
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-b.qcow2', '-F', 'qcow2', s.path('loop-a.qcow2'), '1M']);
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-a.qcow2', '-F', 'qcow2', s.path('loop-b.qcow2'), '1M']);
    await assert.rejects(openDrive({ file: s.path('loop-a.qcow2') }), /backing chain deeper than/);
    await assert.rejects(openDrive({ file: s.path('onraw.qcow2'), readOnly: true }).then(async (d) => {
      await d.write(0, new Uint8Array(512));
    }), /read-only/);
  } finally {
    s.cleanup();
  }
});

test('qcow2: overwriting compressed clusters allocates new ones and frees the old', opts, async () => {
  const s = scratch();
  try {
    const raw = s.path('src.raw');
    const ref = new Uint8Array(2 * MiB);
    for (let i = 0; i < ref.length; i++) ref[i] = (i * 7) & 0xff ^ (i >> 12);
    writeFileSync(raw, ref);
    const f = s.path('c.qcow2');
    qemu('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, f]);
    const d = await openDrive({ file: f });
    await d.write(64 * 1024 + 512, new Uint8Array(512).fill(1));
    await d.write(0, new Uint8Array(2 * MiB).fill(2).subarray(0, 128 * 1024));
    ref.fill(2, 0, 128 * 1024);
    await d.close();
    assertClean(f);
    qemu('qemu-img', ['convert', '-O', 'raw', f, s.path('out.raw')]);
    assertSame(readFileSync(s.path('out.raw')), ref, 'after overwrite');
  } finally {
    s.cleanup();
  }
});
