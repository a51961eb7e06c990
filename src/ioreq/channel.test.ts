import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { IoreqChannel, IoreqClient, ioreqChannelBytes } from './channel.js';

const script = new URL('./channel-test-worker.js', import.meta.url);

function run(data: object): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { workerData: data });
    w.once('message', (m) => { resolve(m as Record<string, number>); void w.terminate(); });
    w.once('error', reject);
  });
}

test('two vCPUs hammer the channel: every answer right, posted writes ordered before reads', async () => {
  const vcpus = 2;
  const buffer = new SharedArrayBuffer(ioreqChannelBytes(vcpus));
  const server = run({ role: 'server', buffer, vcpus, vcpu: -1, n: 0 });
  const n = 20_000;
  const clients = await Promise.all([0, 1].map((vcpu) => run({ role: 'client', buffer, vcpus, vcpu, n })));
  for (const c of clients) assert.equal(c.errors, 0);
  new IoreqClient(new IoreqChannel(buffer, vcpus), 0).pioWrite(0xdead, 1, 0);
  const s = await server;
  assert.ok(s.served! >= 2 * n * 3, `served ${s.served}`);
});

test('a slot refuses a buffer too small for its vCPUs', () => {
  assert.throws(() => new IoreqChannel(new SharedArrayBuffer(64), 2), /too small/);
});
