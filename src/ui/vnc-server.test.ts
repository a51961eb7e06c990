import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { DisplayFrame } from '../devices/display/frame.js';
import { VncServer, type VncTarget } from './vnc-server.js';
import { RfbClient } from '../../test/support/rfb-client.js';
import { seededRandom } from '../devices/testing.js';

/** A display whose pixels the test paints, with the rectangles it reports as changed. */
class FakeDisplay implements VncTarget {
  width = 64;
  height = 48;
  pixels = new Uint32Array(64 * 48);
  private pending: number[] = [];
  keys: Array<[number, boolean]> = [];
  moves: Array<[number, number, number, number]> = [];
  refreshes = 0;

  paint(x: number, y: number, w: number, h: number, rgb: number): void {
    for (let r = y; r < y + h; r++) this.pixels.fill(rgb, r * this.width + x, r * this.width + x + w);
    this.pending.push(x, y, w, h);
  }
  /** Reports the rectangle as changed without painting (the test wrote the pixels itself). */
  touch(x: number, y: number, w: number, h: number): void { this.pending.push(x, y, w, h); }
  resize(w: number, h: number): void {
    this.width = w; this.height = h;
    this.pixels = new Uint32Array(w * h);
    this.pending = [0, 0, w, h];
  }
  refreshDisplay(full = false): Promise<DisplayFrame> {
    this.refreshes++;
    const rects = full ? [0, 0, this.width, this.height] : this.pending;
    this.pending = [];
    return Promise.resolve({ width: this.width, height: this.height, pixels: this.pixels, rects, text: null });
  }
  sendKey(code: number, down: boolean): void { this.keys.push([code, down]); }
  sendPointer(dx: number, dy: number, dz: number, buttons: number): void { this.moves.push([dx, dy, dz, buttons]); }
}

async function withServer(fn: (d: FakeDisplay, s: VncServer) => Promise<void>, password: string | null = null): Promise<void> {
  const d = new FakeDisplay();
  d.paint(0, 0, 64, 48, 0x00204060);
  const s = await VncServer.listen(d, { port: 0, password, pollMs: 10 });
  try { await fn(d, s); } finally { await s.close(); }
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
};

test('handshake, full raw update, then incremental updates of changed rectangles only', async () => {
  await withServer(async (d, s) => {
    const c = await RfbClient.connect(s.port);
    assert.deepEqual([c.screen.width, c.screen.height, c.screen.name], [64, 48, 'hvm']);
    c.setEncodings([0]);
    c.requestUpdate(false);
    assert.equal(await c.readUpdate(), 1);
    assert.deepEqual(c.screen.pixels, d.pixels);
    d.paint(10, 5, 3, 2, 0x00ff0000);
    c.requestUpdate(true);
    const h = await c.read(4);
    assert.equal(h.readUInt16BE(2), 1);
    const r = await c.read(12);
    assert.deepEqual([r.readUInt16BE(0), r.readUInt16BE(2), r.readUInt16BE(4), r.readUInt16BE(6), r.readInt32BE(8)], [10, 5, 3, 2, 0]);
    assert.equal((await c.read(24)).toString('hex'), '0000ff00'.repeat(6));
    c.close();
  });
});

test('zlib: one stream across updates decodes to the frame; DesktopSize on a mode change', async () => {
  await withServer(async (d, s) => {
    const c = await RfbClient.connect(s.port);
    c.setEncodings([6, 0, -223]);
    c.requestUpdate(false);
    await c.readUpdate();
    assert.deepEqual(c.screen.pixels, d.pixels);
    for (let i = 0; i < 5; i++) {
      d.paint(i * 7, i * 3, 20, 9, 0x00010203 * (i + 1));
      c.requestUpdate(true);
      await c.readUpdate();
      assert.deepEqual(c.screen.pixels, d.pixels, `update ${i}`);
    }
    assert.ok(c.encodingsSeen.has(6) && !c.encodingsSeen.has(0), 'zlib preferred as the client listed it first');
    d.resize(80, 25);
    d.paint(0, 0, 80, 25, 0x00abcdef);
    c.requestUpdate(true);
    await c.readUpdate();
    assert.deepEqual([c.screen.width, c.screen.height], [80, 25], 'DesktopSize');
    c.requestUpdate(false);
    await c.readUpdate();
    assert.deepEqual(c.screen.pixels, d.pixels);
    c.close();
  });
});

test('keys become set 1 codes; shifted symbols get Shift; pointer absolute becomes relative, wheel', async () => {
  await withServer(async (d, s) => {
    const c = await RfbClient.connect(s.port);
    c.type('a!');
    c.key(0xffe1, true); c.key(0x41, true); c.key(0x41, false); c.key(0xffe1, false);
    c.key(0xff52, true); c.key(0xff52, false);
    await until(() => d.keys.length >= 12, 'keys arrive');
    assert.deepEqual(d.keys, [
      [0x1e, true], [0x1e, false],
      [0x2a, true], [0x02, true], [0x2a, false], [0x02, false],
      [0x2a, true], [0x1e, true], [0x1e, false], [0x2a, false],
      [0xe048, true], [0xe048, false],
    ]);
    c.pointer(100, 100);
    c.pointer(110, 95);
    c.pointer(110, 95, 1);
    c.pointer(110, 95, 0x10);
    c.pointer(110, 95, 0);
    c.pointer(110, 95, 0x08);
    c.pointer(105, 99, 0x04);
    await until(() => d.moves.length >= 5, 'pointer events arrive');
    // The first event only sets the origin; a wheel release alone moves nothing.
    assert.deepEqual(d.moves, [[10, -5, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 0, -1, 0], [-5, 4, 0, 2]]);
    c.close();
  });
});

test('VNC Authentication: right password in, wrong password refused with a reason', async () => {
  await withServer(async (_d, s) => {
    const ok = await RfbClient.connect(s.port, 'hunter2');
    assert.equal(ok.screen.width, 64);
    ok.close();
    await assert.rejects(RfbClient.connect(s.port, 'wrong'), /security failed: authentication failed/);
    await assert.rejects(RfbClient.connect(s.port, null), /server offers security 2/);
  }, 'hunter2');
});

/** Opens a raw socket through the handshake (3.8, None) and returns it. */
async function rawClient(port: number): Promise<{ sock: net.Socket; closed: Promise<void> }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  let got = Buffer.alloc(0);
  sock.on('data', (b: Buffer) => { got = Buffer.concat([got, b]); });
  await until(() => got.length >= 12, 'version');
  sock.write('RFB 003.008\n');
  await until(() => got.length >= 14, 'security types');
  sock.write(Buffer.from([1]));
  await until(() => got.length >= 18, 'security result');
  sock.write(Buffer.from([0]));
  await until(() => got.length >= 18 + 24 + 3, 'ServerInit');
  return { sock, closed };
}

test('hostile clients are closed alone; the server keeps serving others', async () => {
  await withServer(async (d, s) => {
    const good = await RfbClient.connect(s.port);
    good.setEncodings([0]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['unknown message type', Buffer.from([0x42, 0, 0, 0]), /unknown message type 66/],
      ['huge cut text', Buffer.from([6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), /ClientCutText/],
      ['bad encodings count', Buffer.from([2, 0, 0xff, 0xff]), /encodings/],
      ['colour map format', Buffer.concat([Buffer.from([0, 0, 0, 0, 8, 8, 0, 0]), Buffer.alloc(12)]), /colour-map/],
    ];
    for (const [what, bytes, reason] of cases) {
      const { sock, closed } = await rawClient(s.port);
      sock.write(bytes);
      await closed;
      assert.match(s.lastRejection, reason, what);
    }
    // Garbage instead of a version.
    const g = net.connect(s.port, '127.0.0.1');
    g.on('error', () => undefined);
    const gClosed = new Promise<void>((resolve) => g.on('close', () => resolve()));
    g.resume();
    g.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await gClosed;
    // A small cut text is skipped, even split across packets.
    const { sock: cut } = await rawClient(s.port);
    cut.write(Buffer.from([6, 0, 0, 0, 0, 0, 0, 10, 1, 2, 3]));
    cut.write(Buffer.from([4, 5, 6, 7, 8, 9, 10, 4, 1, 0, 0, 0, 0, 0, 0x61]));
    await until(() => d.keys.length === 1, 'key after cut text');
    assert.deepEqual(d.keys, [[0x1e, true]]);
    cut.destroy();
    // Disconnects mid-message and mid-frame.
    for (let i = 0; i < 5; i++) {
      const { sock } = await rawClient(s.port);
      sock.write(Buffer.from([2, 0, 0, 5, 0, 0]));
      sock.write(Buffer.from([3, 0, 0, 0, 0, 0, 0, 64, 0, 48]));
      sock.destroy();
    }
    good.requestUpdate(false);
    await good.readUpdate();
    assert.deepEqual(good.screen.pixels, d.pixels);
    await until(() => s.clientCount === 1, 'dead clients are gone');
    good.close();
  });
});

test('a client flooding requests and disconnecting during zlib compression never breaks the server', async () => {
  await withServer(async (d, s) => {
    d.resize(640, 480);
    for (let i = 0; i < 20; i++) {
      const c = await RfbClient.connect(s.port);
      c.setEncodings([6]);
      for (let k = 0; k < 10; k++) c.requestUpdate(false);
      d.paint(0, 0, 640, 480, i);
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, 5));
      c.close();
    }
    const c = await RfbClient.connect(s.port);
    c.setEncodings([6]);
    c.requestUpdate(false);
    await c.readUpdate();
    assert.deepEqual(c.screen.pixels, d.pixels);
    c.close();
  });
});

test('frames others fetch (screenshots, QMP) still reach the clients\' change lists', async () => {
  const { EventEmitter } = await import('node:events');
  const inner = new FakeDisplay();
  const bus = new EventEmitter();
  // Like the Vm: every refresh, whoever asked, is also emitted as 'display-frame'.
  const target: VncTarget = {
    refreshDisplay: async (full) => { const f = await inner.refreshDisplay(full); bus.emit('display-frame', f); return f; },
    sendKey: () => undefined, sendPointer: () => undefined,
    on: (e, l) => bus.on(e, l), off: (e, l) => bus.off(e, l),
  };
  const s = await VncServer.listen(target, { port: 0, pollMs: 10 });
  try {
    const c = await RfbClient.connect(s.port);
    c.setEncodings([0]);
    c.requestUpdate(false);
    await c.readUpdate();
    inner.paint(1, 2, 3, 4, 0x00abcdef);
    await target.refreshDisplay(false); // a screenshot takes the rectangles first
    c.requestUpdate(true);
    await c.readUpdate();
    assert.deepEqual(c.screen.pixels, inner.pixels);
    c.close();
  } finally {
    await s.close();
  }
  assert.equal(bus.listenerCount('display-frame'), 0, 'close unsubscribes');
});

test('a client that floods requests and never reads gets a bounded backlog', async () => {
  await withServer(async (d, s) => {
    d.resize(1024, 768);
    const { sock } = await rawClient(s.port);
    sock.pause();
    const req = Buffer.from([3, 0, 0, 0, 0, 0, 4, 0, 3, 0]);
    for (let i = 0; i < 2000; i++) sock.write(req);
    await new Promise((r) => setTimeout(r, 500));
    // 2000 full frames would be 6 GB; the server stops at its high-water mark.
    const good = await RfbClient.connect(s.port);
    good.setEncodings([0]);
    good.requestUpdate(false);
    await good.readUpdate();
    assert.deepEqual(good.screen.pixels, d.pixels);
    good.close();
    sock.destroy();
  });
});

/** Fills rows [y0, y1) like a text console: glyph-ish runs on a background, some blank rows. */
function textRows(d: FakeDisplay, y0: number, y1: number, rnd: () => number): void {
  for (let y = y0; y < y1; y++) {
    const row = d.pixels.subarray(y * d.width, (y + 1) * d.width);
    row.fill(0x00000000);
    if (y % 16 < 2 || rnd() < 0.15) continue; // the gaps between lines, and empty lines
    const len = Math.floor(rnd() * d.width);
    for (let x = 0; x < len; x++) if (rnd() < 0.4) row[x] = 0x00aaaaaa;
  }
}

/** Scrolls rows [top, bottom) of the screen by dy (positive: content moves up, as a console), new rows drawn. */
function scroll(d: FakeDisplay, top: number, bottom: number, dy: number, rnd: () => number): void {
  const w = d.width;
  if (dy > 0) {
    d.pixels.copyWithin(top * w, (top + dy) * w, bottom * w);
    textRows(d, bottom - dy, bottom, rnd);
  } else {
    d.pixels.copyWithin((top - dy) * w, top * w, (bottom + dy) * w);
    textRows(d, top, top - dy, rnd);
  }
  d.touch(0, top, w, bottom - top);
}

const sameFrame = (c: RfbClient, d: FakeDisplay, what: string): void => {
  assert.deepEqual([c.screen.width, c.screen.height], [d.width, d.height], what);
  let diff = 0;
  for (let i = 0; i < d.pixels.length; i++) if (c.screen.pixels[i] !== d.pixels[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} pixels differ`);
};

test('CopyRect: console scrolls by various distances, up and down, arrive as a copy plus the new rows', async () => {
  await withServer(async (d, s) => {
    d.resize(320, 200);
    const rnd = seededRandom(1);
    textRows(d, 0, 200, rnd);
    const c = await RfbClient.connect(s.port);
    c.setEncodings([1, 0, -223]);
    c.requestUpdate(false);
    await c.readUpdate();
    sameFrame(c, d, 'first frame');
    for (const dy of [16, 1, -16, -1, 48, -100, 150, 199 - 8]) {
      const copies = c.copyRects;
      const bytes = c.bytesReceived;
      scroll(d, 0, 200, dy, rnd);
      c.requestUpdate(true);
      await c.readUpdate();
      sameFrame(c, d, `scroll by ${dy}`);
      assert.equal(c.copyRects, copies + 1, `scroll by ${dy}: one CopyRect`);
      // The copy replaces (200 - |dy|) rows of 320 pixels; the new rows go raw.
      assert.ok(c.bytesReceived - bytes <= 4 + 16 + 12 * 2 + Math.abs(dy) * 320 * 4, `scroll by ${dy}: ${c.bytesReceived - bytes} bytes`);
    }
    // A scroll region (rows 20-180) with static lines around it, and a request for part of the screen.
    scroll(d, 20, 180, 32, rnd);
    c.requestUpdate(true);
    await c.readUpdate();
    sameFrame(c, d, 'scroll region');
    // The same pixels reported as changed: nothing moved, nothing sent; the request waits for a real change.
    const copies = c.copyRects;
    const bytes = c.bytesReceived;
    d.touch(0, 0, 320, 200);
    c.requestUpdate(true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.bytesReceived, bytes, 'no update for a screen redrawn the same');
    d.touch(0, 0, 320, 200);
    d.paint(5, 100, 2, 1, 0x00123456);
    await c.readUpdate();
    sameFrame(c, d, 'identity, then one change');
    assert.equal(c.copyRects, copies, 'no CopyRect for an unchanged screen');
    assert.equal(c.bytesReceived - bytes, 4 + 12 + 320 * 4, 'only the changed row is sent');
    c.close();
  });
});

test('CopyRect only for clients that list it; zlib clients get it too', async () => {
  await withServer(async (d, s) => {
    d.resize(256, 128);
    const rnd = seededRandom(2);
    textRows(d, 0, 128, rnd);
    const plain = await RfbClient.connect(s.port);
    plain.setEncodings([0]);
    const z = await RfbClient.connect(s.port);
    z.setEncodings([6, 1]);
    for (const c of [plain, z]) { c.requestUpdate(false); await c.readUpdate(); }
    scroll(d, 0, 128, 16, rnd);
    for (const c of [plain, z]) { c.requestUpdate(true); await c.readUpdate(); sameFrame(c, d, 'after the scroll'); }
    assert.equal(plain.copyRects, 0, 'a client without CopyRect in SetEncodings gets none');
    assert.equal(z.copyRects, 1, 'a zlib client that lists CopyRect gets one');
    plain.close();
    z.close();
  });
});

for (const [seed, encoding] of [[7, 0], [11, 6]] as const) {
  test(`CopyRect randomized (seed ${seed}, ${encoding === 0 ? 'Raw' : 'zlib'}): scrolls, paints, partial requests and pixel format changes decode to the frame exactly`, async () => {
    await withServer(async (d, s) => {
      d.resize(200, 150);
      const rnd = seededRandom(seed);
      const int = (n: number): number => Math.floor(rnd() * n);
      textRows(d, 0, 150, rnd);
      const c = await RfbClient.connect(s.port);
      c.setEncodings([1, encoding, -223]);
      c.requestUpdate(false);
      await c.readUpdate();
      for (let step = 0; step < 150; step++) {
        const op = int(5);
        if (op <= 1) {
          const top = int(100);
          const bottom = top + 20 + int(150 - top - 20 + 1);
          const dy = (1 + int(bottom - top - 1)) * (int(2) === 0 ? 1 : -1);
          scroll(d, top, bottom, dy, rnd);
        } else if (op === 2) {
          const x = int(200); const y = int(150);
          d.paint(x, y, Math.min(1 + int(60), 200 - x), Math.min(1 + int(60), 150 - y), int(0x1000000));
          if (int(4) === 0) {
            // SetPixelFormat (the same 32-bpp format): the server must forget what the client holds.
            const pf = Buffer.from([0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
            c.socket.write(pf);
          }
        } else if (op === 3) {
          const y = int(150);
          d.pixels.fill(int(0x1000000), y * 200, y * 200 + int(200));
          d.touch(0, y, 200, 1);
        } else {
          // Part of the screen: what is outside stays owed and comes with a later full request.
          const y = int(140);
          const b = Buffer.alloc(10);
          b[0] = 3; b[1] = 1;
          b.writeUInt16BE(y, 4); b.writeUInt16BE(200, 6); b.writeUInt16BE(1 + int(150 - y), 8);
          d.paint(0, y, 200, 1, (d.pixels[y * 200]! + 1) & 0xffffff); // a change inside the area
          c.socket.write(b);
          await c.readUpdate();
          continue;
        }
        d.paint(0, 0, 1, 1, (d.pixels[0]! + 1) & 0xffffff); // always something to send
        c.requestUpdate(true);
        await c.readUpdate();
        sameFrame(c, d, `step ${step} (op ${op})`);
      }
      assert.ok(c.copyRects > 20, `${c.copyRects} CopyRects`);
      c.close();
    });
  });
}

test('updates come at the refresh cadence, each gathering what the guest drew meanwhile', async () => {
  const d = new FakeDisplay();
  // A guest that draws all the time: every refresh finds a new row.
  let n = 0;
  const target: VncTarget = {
    refreshDisplay: (full) => { d.paint(0, n % 48, 64, 1, n + 1); n++; return d.refreshDisplay(full); },
    sendKey: () => undefined, sendPointer: () => undefined,
  };
  const s = await VncServer.listen(target, { port: 0, pollMs: 40 });
  try {
    const c = await RfbClient.connect(s.port);
    c.setEncodings([6, 1, -256 + 9]);
    c.requestUpdate(false);
    await c.readUpdate();
    const t0 = Date.now();
    let updates = 0;
    while (Date.now() - t0 < 600) { c.requestUpdate(true); await c.readUpdate(); updates++; }
    // 600 ms at one refresh period per update: about 15, never one per request answered at once.
    assert.ok(updates >= 6 && updates <= 600 / 40 + 2, `${updates} updates in 600 ms`);
    assert.ok(d.refreshes <= 2 + updates * (1 + 12 / 3), `${d.refreshes} refreshes for ${updates} updates (gathering is bounded)`);
    c.close();
  } finally {
    await s.close();
  }
});
