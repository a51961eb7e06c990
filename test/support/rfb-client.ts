// A small RFB client for tests (RFC 6143): handshake (None or VNC Authentication), pixel format
// and encodings, framebuffer updates (Raw, zlib, CopyRect, DesktopSize) into a 0x00RRGGBB array, key and
// pointer events. Written independently of the server so the two check each other.

import net from 'node:net';
import zlib from 'node:zlib';
import { vncAuthResponse } from '../../src/ui/des.js';

/** What the client knows of the remote framebuffer. */
export interface RfbScreen { width: number; height: number; name: string; pixels: Uint32Array }

/** A connected RFB client. */
export class RfbClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  private inflate: zlib.Inflate | null = null;
  screen: RfbScreen = { width: 0, height: 0, name: '', pixels: new Uint32Array(0) };
  /** Updates received so far. */
  updates = 0;
  /** Encodings seen in rectangles. */
  readonly encodingsSeen = new Set<number>();
  /** CopyRect rectangles applied. */
  copyRects = 0;
  /** Bytes the server has sent. */
  bytesReceived = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => { this.bytesReceived += d.length; this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Connects and completes the handshake (3.8). */
  static async connect(port: number, password: string | null = null, host = '127.0.0.1'): Promise<RfbClient> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new RfbClient(socket);
    const version = (await c.read(12)).toString('latin1');
    if (version !== 'RFB 003.008\n') throw new Error(`server version ${JSON.stringify(version)}`);
    socket.write('RFB 003.008\n');
    const n = (await c.read(1))[0]!;
    if (n === 0) throw new Error('server refused: ' + (await c.readString()));
    const types = [...(await c.read(n))];
    const want = password === null ? 1 : 2;
    if (!types.includes(want)) throw new Error(`server offers security ${types.join(',')}`);
    socket.write(Buffer.from([want]));
    if (want === 2) socket.write(vncAuthResponse(password!, await c.read(16)));
    const result = (await c.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security failed: ${await c.readString()}`);
    socket.write(Buffer.from([1]));
    const init = await c.read(24);
    const nameLen = init.readUInt32BE(20);
    const name = (await c.read(nameLen)).toString('utf8');
    const width = init.readUInt16BE(0);
    const height = init.readUInt16BE(2);
    c.screen = { width, height, name, pixels: new Uint32Array(width * height) };
    return c;
  }

  /** Reads exactly n bytes (rejects if the server closes first, or after 30 s). */
  async read(n: number): Promise<Buffer> {
    const t0 = Date.now();
    while (this.buf.length < n) {
      if (this.ended) throw new Error('server closed the connection');
      if (Date.now() - t0 > 30_000) throw new Error('read timed out');
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 1000); });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  private async readString(): Promise<string> {
    const len = (await this.read(4)).readUInt32BE(0);
    return (await this.read(len)).toString('utf8');
  }

  /** True once the server has closed the socket. */
  get closed(): boolean { return this.ended; }

  /** Waits until the server closes the connection (or `ms` passes). */
  async waitClosed(ms = 5000): Promise<boolean> {
    const t0 = Date.now();
    while (!this.ended && Date.now() - t0 < ms) await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    return this.ended;
  }

  /** SetEncodings. */
  setEncodings(encodings: number[]): void {
    const b = Buffer.alloc(4 + 4 * encodings.length);
    b[0] = 2;
    b.writeUInt16BE(encodings.length, 2);
    encodings.forEach((e, i) => b.writeInt32BE(e, 4 + 4 * i));
    this.socket.write(b);
  }

  /** FramebufferUpdateRequest for the whole screen. */
  requestUpdate(incremental: boolean): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(this.screen.width, 6);
    b.writeUInt16BE(this.screen.height, 8);
    this.socket.write(b);
  }

  /** Reads one FramebufferUpdate (the client must be in the default 32-bpp format) and applies it. */
  async readUpdate(): Promise<number> {
    const h = await this.read(4);
    if (h[0] !== 0) throw new Error(`unexpected server message ${h[0]}`);
    const n = h.readUInt16BE(2);
    for (let i = 0; i < n; i++) {
      const r = await this.read(12);
      const x = r.readUInt16BE(0); const y = r.readUInt16BE(2); const w = r.readUInt16BE(4); const hh = r.readUInt16BE(6);
      const enc = r.readInt32BE(8);
      this.encodingsSeen.add(enc);
      if (enc === -223) {
        this.screen = { ...this.screen, width: w, height: hh, pixels: new Uint32Array(w * hh) };
        continue;
      }
      if (enc === 1) {
        // CopyRect (RFC 6143 §7.7.2): source and destination may overlap; copy through a temporary.
        const src = await this.read(4);
        const sx = src.readUInt16BE(0); const sy = src.readUInt16BE(2);
        const W = this.screen.width;
        if (sx + w > W || sy + hh > this.screen.height || x + w > W || y + hh > this.screen.height) throw new Error('CopyRect outside the framebuffer');
        const tmp = new Uint32Array(w * hh);
        for (let row = 0; row < hh; row++) tmp.set(this.screen.pixels.subarray((sy + row) * W + sx, (sy + row) * W + sx + w), row * w);
        for (let row = 0; row < hh; row++) this.screen.pixels.set(tmp.subarray(row * w, (row + 1) * w), (y + row) * W + x);
        this.copyRects++;
        continue;
      }
      let data: Buffer;
      if (enc === 0) data = await this.read(w * hh * 4);
      else if (enc === 6) data = await this.inflateChunk(await this.read((await this.read(4)).readUInt32BE(0)), w * hh * 4);
      else throw new Error(`unexpected encoding ${enc}`);
      for (let row = 0; row < hh; row++) {
        for (let col = 0; col < w; col++) this.screen.pixels[(y + row) * this.screen.width + x + col] = data.readUInt32LE((row * w + col) * 4);
      }
    }
    this.updates++;
    return n;
  }

  private inflateChunk(z: Buffer, want: number): Promise<Buffer> {
    this.inflate ??= zlib.createInflate();
    const inf = this.inflate;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const on = (c: Buffer): void => { chunks.push(c); };
      inf.on('data', on);
      inf.write(z);
      inf.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        inf.off('data', on);
        const out = Buffer.concat(chunks);
        if (out.length !== want) throw new Error(`zlib rect: ${out.length} bytes, want ${want}`);
        resolve(out);
      });
    });
  }

  /** KeyEvent. */
  key(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b[0] = 4; b[1] = down ? 1 : 0;
    b.writeUInt32BE(keysym, 4);
    this.socket.write(b);
  }

  /** Presses and releases the keys of a string (shift handled for upper case and symbols by the server). */
  type(text: string): void {
    for (const ch of text) {
      const ks = ch === '\n' ? 0xff0d : ch.charCodeAt(0);
      this.key(ks, true);
      this.key(ks, false);
    }
  }

  /** PointerEvent. */
  pointer(x: number, y: number, buttons = 0): void {
    const b = Buffer.alloc(6);
    b[0] = 5; b[1] = buttons;
    b.writeUInt16BE(x, 2); b.writeUInt16BE(y, 4);
    this.socket.write(b);
  }

  close(): void { this.socket.destroy(); }
}
