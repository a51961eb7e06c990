// Crash consistency: a child process writes and flushes, keeps writing (unflushed, with metadata
// write-backs in flight), and is SIGKILLed. `qemu-img check` must find no corruption (leaks are
// tolerated, as the spec allows after a crash) and every flushed byte must read back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { createQcow2, openDrive } from './block.js';
import { HAVE_QEMU_IMG, Rng, qemu, qemuCheck, scratch } from './test-util.js';

const MiB = 1024 * 1024;

/** A write the child performs: sectors filled from `seed` (a pattern both sides can compute). */
type Op = [offset: number, sectors: number, seed: number];

function pattern(op: Op): Uint8Array {
  const b = new Uint8Array(op[1] * 512);
  for (let i = 0; i < b.length; i++) b[i] = (op[2] + i * 131 + (i >>> 9)) & 0xff;
  return b;
}

/** The child: applies `flushed` ops, flushes, says so, then writes `after` ops in a loop until killed. */
const CHILD = `
const [blockUrl, file, flushedJson, afterJson] = process.argv.slice(2);
const { openDrive } = await import(blockUrl);
const pattern = ${pattern.toString()};
const d = await openDrive({ file });
for (const op of JSON.parse(flushedJson)) await d.write(op[0], pattern(op));
await d.flush();
process.stdout.write('FLUSHED\\n');
const after = JSON.parse(afterJson);
for (let round = 0; ; round++) {
  for (const op of after) await d.write(op[0], pattern([op[0], op[1], op[2] + round]));
  if (round % 3 === 2) await d.flush();
}
`;

function runChild(script: string, args: string[], killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child never flushed: ${err}`)); }, 10000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('FLUSHED') && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('exit', (_code, signal) => {
      clearTimeout(guard);
      if (timer !== undefined) clearTimeout(timer);
      if (signal === 'SIGKILL' && out.includes('FLUSHED')) resolve();
      else reject(new Error(`child exited (${String(signal)}) before the kill: ${err}`));
    });
  });
}

test('qcow2: SIGKILL after a flush leaves an image qemu-img check accepts, with the flushed data', {
  skip: HAVE_QEMU_IMG ? false : 'qemu-img not installed',
}, async () => {
  const seed = Date.now() % 100000;
  const s = scratch();
  try {
    const script = s.path('child.mjs');
    writeFileSync(script, CHILD);
    const blockUrl = new URL('./block.js', import.meta.url).href;
    for (const [round, cb, killMs] of [[0, 12, 0], [1, 12, 60], [2, 9, 150], [3, 16, 30]] as const) {
      const f = s.path(`crash${round}.qcow2`);
      await createQcow2(f, 32 * MiB, { clusterBits: cb });
      const rng = new Rng(seed + round);
      // Flushed writes in the first 16 MiB, post-flush writes (never checked) in the second.
      const flushed: Op[] = [];
      for (let i = 0; i < 40; i++) flushed.push([rng.below(16 * 2048 - 256) * 512, 1 + rng.below(256), rng.below(256)]);
      const after: Op[] = [];
      for (let i = 0; i < 40; i++) after.push([(16 * 2048 + rng.below(16 * 2048 - 256)) * 512, 1 + rng.below(256), rng.below(256)]);
      await runChild(script, [blockUrl, f, JSON.stringify(flushed), JSON.stringify(after)], killMs);
      const c = qemuCheck(f);
      if (process.env.HVM_DEBUG_CRASH) console.log(round, c.leaks, c.corruptions);
      assert.equal(c.corruptions, 0, `seed ${seed} round ${round}: ${c.text}`);
      assert.ok(c.status === 0 || c.status === 3, `seed ${seed} round ${round}: ${c.text}`);
      qemu('qemu-img', ['convert', '-O', 'raw', f, s.path('out.raw')]);
      const want = new Uint8Array(16 * MiB);
      for (const op of flushed) want.set(pattern(op), op[0]);
      const got = new Uint8Array(16 * MiB);
      const fd = openSync(s.path('out.raw'), 'r');
      readSync(fd, got, 0, got.length, 0);
      closeSync(fd);
      let at = -1;
      for (let i = 0; i < want.length && at < 0; i++) if (got[i] !== want[i]) at = i;
      assert.equal(at, -1, `seed ${seed} round ${round}: flushed data differs at byte ${at}`);
    }
  } finally {
    s.cleanup();
  }
});

test('qcow2: a crash after any single write syscall leaves no corruption (write log replay)', {
  skip: HAVE_QEMU_IMG ? false : 'qemu-img not installed',
}, async () => {
  const seed = Date.now() % 100000;
  const s = scratch();
  // Record every positional write the backend makes (FileHandle.prototype.write, this process only).
  const probe = await openFile(s.path('probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  const realWrite = proto.write;
  const log: { pos: number; data: Uint8Array }[] = [];
  proto.write = function (this: unknown, ...a: unknown[]): Promise<unknown> {
    const [buf, off, len, pos] = a as [Uint8Array, number, number, number];
    log.push({ pos, data: buf.slice(off, off + len) });
    return realWrite.apply(this, a);
  };
  try {
    for (const [cb, big] of [[9, false], [12, false], [9, true]] as const) {
      const f = s.path(`log${cb}${big ? "b" : ""}.qcow2`);
      await createQcow2(f, 16 * MiB, { clusterBits: cb });
      const d = await openDrive({ file: f });
      const rng = new Rng(seed + cb);
      await d.write(0, rng.fill(new Uint8Array(64 * 1024)));
      await d.flush();
      const before = s.path('before.qcow2');
      copyFileSync(f, before);
      log.length = 0;
      // Enough scattered writes to need new L2 tables, refcount blocks and (at 512 B) a bigger refcount table.
      for (let i = 0; i < 30; i++) await d.write(rng.below(8 * 2048 - 64) * 512, rng.fill(new Uint8Array((1 + rng.below(64)) * 512)));
      // 9 MiB more at 512-byte clusters outgrows the first refcount table (it covers 8 MiB): it moves.
      if (big) for (let off = 4 * MiB; off < 13 * MiB; off += MiB) await d.write(off, rng.fill(new Uint8Array(MiB)));
      await d.write(0, new Uint8Array(4096).fill(3)); // overwrite in place
      await d.flush();
      await d.close();
      const writes = log.slice();
      assert.ok(writes.length > 10, `only ${writes.length} writes logged`);
      const img = readFileSync(before);
      let grown = Buffer.from(img);
      const step = Math.max(1, Math.floor(writes.length / (process.env.HVM_LONG === '1' ? 400 : 16)));
      for (let k = 0; k <= writes.length; k++) {
        if (k > 0) {
          const w = writes[k - 1]!;
          if (w.pos + w.data.length > grown.length) grown = Buffer.concat([grown, Buffer.alloc(w.pos + w.data.length - grown.length)]);
          grown.set(w.data, w.pos);
        }
        // Sampled, plus every crash point next to a header write (the refcount table moving).
        const nearHeader = writes.slice(Math.max(0, k - 2), k + 2).some((w) => w.pos < 512);
        if (k % step !== 0 && k !== writes.length && !nearHeader) continue;
        const crashed = s.path('crashed.qcow2');
        writeFileSync(crashed, grown);
        const c = qemuCheck(crashed);
        assert.equal(c.corruptions, 0, `seed ${seed} cb ${cb}: crash after write ${k}/${writes.length}: ${c.text}`);
        if (k === writes.length) assert.equal(c.status, 0, `seed ${seed} cb ${cb}: final image: ${c.text}`);
      }
    }
  } finally {
    proto.write = realWrite;
    s.cleanup();
  }
});
