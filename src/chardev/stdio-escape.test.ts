import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { StdioConsole } from './stdio.js';

/** A fake terminal: stdin in raw mode, stdout collected. */
function terminal(): { input: NodeJS.ReadStream; output: NodeJS.WriteStream; written: () => string } {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input }) as unknown as NodeJS.ReadStream;
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => { text += b.toString(); });
  return { input, output: out as unknown as NodeJS.WriteStream, written: () => text };
}

test('Ctrl-A S asks for a screenshot, Ctrl-A X quits, other bytes reach the guest', async () => {
  const t = terminal();
  let shots = 0;
  let quits = 0;
  const got: number[] = [];
  const c = new StdioConsole({ input: t.input, output: t.output, onQuit: () => { quits++; }, onScreenshot: () => { shots++; } });
  c.onInput((b) => got.push(...b));
  (t.input as unknown as PassThrough).write(Buffer.from([0x61, 0x01, 0x73, 0x62, 0x01, 0x53, 0x01, 0x01, 0x01, 0x68]));
  await new Promise((r) => setImmediate(r));
  assert.equal(shots, 2, 'C-a s and C-a S');
  assert.deepEqual(got, [0x61, 0x62, 0x01], 'a, b and a literal C-a');
  assert.match(t.written(), /C-a s\s+save the screen as hvm-screen-<n>\.png/);
  (t.input as unknown as PassThrough).write(Buffer.from([0x01, 0x78]));
  await new Promise((r) => setImmediate(r));
  assert.equal(quits, 1);
  await c.close();
});
