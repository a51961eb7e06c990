// A VNC server (RFB 3.8, RFC 6143; 3.3 and 3.7 clients too) showing the guest's display and
// feeding its PS/2 keyboard and mouse. Frames come from the Vm's refreshDisplay(), polled while a
// client has an update request outstanding; each client keeps its own list of changed
// rectangles, so one slow client never makes another miss a change.
//
// Encodings: Raw, zlib (encoding 6; one zlib stream per connection, as the RFB community
// specification's "ZLIB" section requires), CopyRect for rows that moved (a scrolling console;
// vnc-scroll.ts finds them against a copy of what the client was sent) and the DesktopSize
// pseudo-encoding when the guest changes mode. Updates are built in one buffer (vnc-encode.ts).
//
// A client that sends something hvm cannot accept (an unknown message, a huge cut text, a
// colour-map pixel format, too many encodings) is closed, alone; the VM never notices.

import net from 'node:net';
import zlib from 'node:zlib';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { DisplayFrame } from '../devices/display/frame.js';
import { vncAuthResponse } from './des.js';
import { VncInput } from './vnc-input.js';
import {
  ENC_COMPRESS_LEVEL_0, ENC_COPY_RECT, ENC_DESKTOP_SIZE, ENC_RAW, ENC_ZLIB, PixelConverter, PROTOCOL_VERSION, ProtocolError,
  SEC_NONE, SEC_RESULT_FAILED, SEC_RESULT_OK, SEC_VNC_AUTH, SERVER_FORMAT, VERSION_BYTES, VNC_CHALLENGE_BYTES,
  parseClientMessage, reasonString, rectHeader, serverInit, updateHeader, type ClientMessage,
} from './vnc-protocol.js';
import { bounds, ClientShadow, contains, intersect, withoutRows, type Rect, type RowMove } from './vnc-scroll.js';
import { deflateFlushed, rawUpdate, rectPixels, zlibRectHeader, ZLIB_LEVEL_DEFAULT } from './vnc-encode.js';

/** What the server drives: the Vm, or a fake in tests. */
export interface VncTarget {
  refreshDisplay(full?: boolean): Promise<DisplayFrame>;
  sendKey(code: number, down: boolean): void;
  sendPointer(dx: number, dy: number, dz: number, buttons: number): void;
  /**
   * Optional: every frame anyone fetched (the Vm's 'display-frame' event). With it the server
   * sees the rectangles of refreshes others asked for (screenshots, QMP), not only its own.
   */
  on?(event: 'display-frame', listener: (f: DisplayFrame) => void): unknown;
  off?(event: 'display-frame', listener: (f: DisplayFrame) => void): unknown;
}

/** Where to listen and how. */
export interface VncServerOptions {
  /** Default 127.0.0.1: the display is the guest's console, not for the network. */
  host?: string;
  /** TCP port; 0 picks a free one (see `port` after listen). */
  port: number;
  /** VNC Authentication password (only its first 8 bytes count, as in every VNC server); null: no security. */
  password?: string | null;
  /** The desktop name clients show. */
  name?: string;
  /** How often frames are fetched while a client waits for an update (ms). */
  pollMs?: number;
}

/** Screen shown before the guest has a display mode (or with no display at all). */
const PLACEHOLDER_WIDTH = 640;
const PLACEHOLDER_HEIGHT = 480;
/** How often a client with an outstanding request gets a refresh (ms), as QEMU's 30 ms display refresh. */
const POLL_MS_DEFAULT = 30;
/**
 * While each refresh finds more changed (the guest is drawing), the server looks again after
 * DEFER_STEP_MS, for up to DEFER_MAX_MS, and sends once: one update of a whole redraw rather
 * than a torn slice of it (libvncserver's deferUpdateTime, TigerVNC's DeferUpdate). A still
 * screen costs one more refresh, DEFER_STEP_MS after a change.
 */
const DEFER_STEP_MS = 3;
const DEFER_MAX_MS = 12;
/** A client that has not finished the handshake in this long is closed (ms). */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Bytes a client may have sent that do not yet form a message. */
const MAX_PENDING_INPUT = 64 * 1024;
/** Clients at once (QMP's bound too): a connection flood costs sockets, not unbounded memory. */
const MAX_CLIENTS = 16;
/**
 * Bytes queued to a client that does not read: beyond this no update is sent (the request waits,
 * later requests replace it), so a client flooding requests cannot grow hvm's memory.
 */
const OUTPUT_HIGH_WATER = 8 * 1024 * 1024;
/** Screens bigger than this (a guest may set 4096x4096) get no CopyRect: the copy of what each client holds is bounded. */
const MAX_SHADOW_PIXELS = 2560 * 1600;
/** Raw updates at least this big keep their buffer for the next one. */
const SCRATCH_MIN_BYTES = 64 * 1024;
/** Dirty rectangles kept per client before they are merged into their bounding box. */
const MAX_DIRTY_RECTS = 64;


const enum Phase { Version, Security, Auth, ClientInit, Normal, Closed }

/** The framebuffer as the server last saw it. */
interface Screen { width: number; height: number; pixels: Uint32Array; placeholder: boolean }

/** The VNC server. */
export class VncServer {
  private readonly clients = new Set<VncClient>();
  private screen: Screen = placeholder();
  private refreshing = false;
  /** Frames are being gathered: clients send when the gathering ends. */
  private deferring = false;
  private firstRefresh = true;
  /** The next refresh, while some client waits for an update. */
  private timer: NodeJS.Timeout | null = null;
  /** When the last refresh started (performance.now() ms). */
  private lastRefresh = -Infinity;
  private readonly pollMs: number;
  private closed = false;
  private readonly listener = (f: DisplayFrame): void => this.onFrame(f);
  /** True when frames arrive through the target's event rather than as refresh results. */
  private readonly subscribed: boolean;
  /** Clients closed for protocol errors, and the last reason (for logs and tests). */
  rejected = 0;
  lastRejection = '';

  private constructor(private readonly target: VncTarget, private readonly server: net.Server,
                      readonly options: Readonly<VncServerOptions>) {
    this.pollMs = options.pollMs ?? POLL_MS_DEFAULT;
    this.subscribed = typeof target.on === 'function' && typeof target.off === 'function';
    if (this.subscribed) target.on!('display-frame', this.listener);
  }

  /** Starts listening; resolves once the port is bound. */
  static async listen(target: VncTarget, options: VncServerOptions): Promise<VncServer> {
    const server = net.createServer();
    const vnc = new VncServer(target, server, options);
    server.on('connection', (s) => vnc.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    server.on('error', () => undefined);
    return vnc;
  }

  /** The bound TCP port. */
  get port(): number { return (this.server.address() as net.AddressInfo).port; }

  /** Clients connected now. */
  get clientCount(): number { return this.clients.size; }

  /** Stops listening and closes every client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.subscribed) this.target.off!('display-frame', this.listener);
    for (const c of this.clients) c.close();
    this.clients.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.closed || this.clients.size >= MAX_CLIENTS) { socket.destroy(); return; }
    socket.setNoDelay(true);
    const c = new VncClient(this, socket, this.target, this.options.password ?? null, this.options.name ?? 'hvm');
    this.clients.add(c);
    socket.on('close', () => { c.close(); this.clients.delete(c); });
  }

  /** @internal A client closed for a protocol error. */
  noteRejection(reason: string): void { this.rejected++; this.lastRejection = reason; }

  /** @internal The current framebuffer. */
  get current(): Screen { return this.screen; }

  /**
   * @internal A client wants a frame. Frames are fetched at most every pollMs, as QEMU's display
   * refresh: a request answered at once would catch the guest mid-drawing and send a sliver.
   */
  kick(): void { this.schedule(); }

  /** Arms the next refresh, pollMs after the last one, if some client is waiting. */
  private schedule(): void {
    if (this.closed || this.refreshing || this.timer !== null) return;
    let waiting = false;
    for (const c of this.clients) if (c.waiting) waiting = true;
    if (!waiting) return;
    const delay = Math.max(0, this.lastRefresh + this.pollMs - performance.now());
    this.timer = setTimeout(() => { this.timer = null; this.tick(); }, delay);
  }

  /** Fetches a frame if some client is waiting for one. */
  private tick(): void {
    if (this.closed || this.refreshing) return;
    let waiting = false;
    for (const c of this.clients) if (c.waiting) waiting = true;
    if (!waiting) return;
    this.refreshing = true;
    this.lastRefresh = performance.now();
    void this.gather().finally(() => { this.refreshing = false; this.schedule(); });
  }

  /** Refreshes until the guest stops drawing (bounded by DEFER_MAX_MS), then lets the clients send. */
  private async gather(): Promise<void> {
    const t0 = performance.now();
    this.deferring = true;
    try {
      let area = 0;
      for (;;) {
        const full = this.firstRefresh;
        this.firstRefresh = false;
        const f = await this.target.refreshDisplay(full);
        if (!this.subscribed) this.onFrame(f);
        let changed = 0;
        for (let i = 0; i + 3 < f.rects.length; i += 4) changed += f.rects[i + 2]! * f.rects[i + 3]!;
        area += changed;
        if (this.closed || changed === 0 || area >= f.width * f.height || performance.now() - t0 + DEFER_STEP_MS > DEFER_MAX_MS) break;
        await new Promise((r) => setTimeout(r, DEFER_STEP_MS));
      }
    } catch { /* the VM has stopped: keep the last screen */ } finally {
      this.deferring = false;
    }
    for (const c of this.clients) c.pump();
  }

  /** @internal Fetches one frame now (a new client needs the size for ServerInit). */
  async refreshNow(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    this.lastRefresh = performance.now();
    try {
      const full = this.firstRefresh;
      this.firstRefresh = false;
      const f = await this.target.refreshDisplay(full);
      if (!this.subscribed) this.onFrame(f);
    } catch { /* the VM has stopped: keep the last screen */ } finally {
      this.refreshing = false;
      this.schedule();
    }
  }

  private onFrame(f: DisplayFrame): void {
    if (this.closed) return;
    const s = this.screen;
    if (f.width === 0 || f.height === 0) {
      if (!s.placeholder) this.setScreen(placeholder());
    } else if (f.width !== s.width || f.height !== s.height || s.placeholder) {
      this.setScreen({ width: f.width, height: f.height, pixels: f.pixels, placeholder: false });
    } else {
      // Same size: the same surface, or a new view of it; the rectangles say what changed.
      this.screen = { ...s, pixels: f.pixels };
      for (const c of this.clients) c.addDirty(f.rects);
    }
    if (!this.deferring) for (const c of this.clients) c.pump();
  }

  private setScreen(s: Screen): void {
    const resized = s.width !== this.screen.width || s.height !== this.screen.height;
    this.screen = s;
    for (const c of this.clients) c.screenChanged(resized);
  }
}

function placeholder(): Screen {
  return { width: PLACEHOLDER_WIDTH, height: PLACEHOLDER_HEIGHT, pixels: new Uint32Array(PLACEHOLDER_WIDTH * PLACEHOLDER_HEIGHT), placeholder: true };
}

/** One connected client. */
class VncClient {
  private phase = Phase.Version;
  private input: Buffer = Buffer.alloc(0);
  /** Cut-text bytes still to skip. */
  private skip = 0;
  private minor = 8;
  private challenge: Buffer | null = null;
  private converter = new PixelConverter(SERVER_FORMAT);
  private useZlib = false;
  private desktopSize = false;
  private deflate: zlib.Deflate | null = null;
  /** zlib level for a new stream: the client's CompressLevel pseudo-encoding, else fast. */
  private zlibLevel = ZLIB_LEVEL_DEFAULT;
  /** The client listed CopyRect; then `shadow` is what it was sent. */
  private copyRect = false;
  private shadow: ClientShadow | null = null;
  /** The buffer of the last big Raw update, reused for the next. */
  private scratch: Buffer | null = null;
  /** The pixels of the last zlib update, reused for the next. */
  private zlibScratch: Buffer | null = null;
  /** The outstanding FramebufferUpdateRequest, if any (later requests replace earlier ones). */
  private request: { incremental: boolean; x: number; y: number; w: number; h: number } | null = null;
  private dirty: Rect[] = [];
  /** The framebuffer size this client knows. */
  private width = 0;
  private height = 0;
  private resizePending = false;
  private sending = false;
  private readonly keyboardMouse: VncInput;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(private readonly server: VncServer, private readonly socket: net.Socket, private readonly target: VncTarget,
              private readonly password: string | null, private readonly name: string) {
    this.keyboardMouse = new VncInput(target);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.close());
    socket.on('drain', () => this.pump());
    this.handshakeTimer = setTimeout(() => { if (this.phase !== Phase.Normal) this.close(); }, HANDSHAKE_TIMEOUT_MS);
    this.handshakeTimer.unref();
    this.send(Buffer.from(PROTOCOL_VERSION, 'latin1'));
  }

  /** True while this client has an update request the server has not answered. */
  get waiting(): boolean { return this.phase === Phase.Normal && this.request !== null; }

  private isOpen(): boolean { return this.phase !== Phase.Closed; }

  close(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    clearTimeout(this.handshakeTimer);
    this.deflate?.close();
    this.deflate = null;
    this.socket.destroy();
  }

  private send(b: Buffer): void {
    if (this.phase !== Phase.Closed && !this.socket.destroyed) this.socket.write(b);
  }

  private reject(reason: string): void {
    this.server.noteRejection(reason);
    this.close();
  }

  private onData(d: Buffer): void {
    if (this.phase === Phase.Closed) return;
    let data = d;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    this.input = this.input.length === 0 ? data : Buffer.concat([this.input, data]);
    try {
      // Each pass consumes at least one byte or stops: bounded by the input length.
      while (this.isOpen() && this.input.length > 0) {
        const used = this.step();
        if (used === 0) break;
        this.input = this.input.subarray(used);
        if (this.skip > 0) {
          const n = Math.min(this.skip, this.input.length);
          this.skip -= n;
          this.input = this.input.subarray(n);
        }
      }
    } catch (e) {
      if (e instanceof ProtocolError) { this.reject(e.message); return; }
      throw e;
    }
    if (this.input.length > MAX_PENDING_INPUT) this.reject('too much input without a message');
  }

  /** Handles one message at the start of the input; returns the bytes it used (0: need more). */
  private step(): number {
    const b = this.input;
    switch (this.phase) {
      case Phase.Version: {
        if (b.length < VERSION_BYTES) return 0;
        const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(b.subarray(0, VERSION_BYTES).toString('latin1'));
        if (m === null || Number(m[1]) !== 3) throw new ProtocolError('bad protocol version');
        const minor = Number(m[2]);
        this.minor = minor >= 8 ? 8 : minor === 7 ? 7 : 3;
        this.offerSecurity();
        return VERSION_BYTES;
      }
      case Phase.Security: {
        const chosen = b[0]!;
        const offered = this.password === null ? SEC_NONE : SEC_VNC_AUTH;
        if (chosen !== offered) {
          this.failSecurity('security type not offered');
          return 1;
        }
        if (chosen === SEC_VNC_AUTH) this.sendChallenge();
        else this.securityPassed(true);
        return 1;
      }
      case Phase.Auth: {
        if (b.length < VNC_CHALLENGE_BYTES) return 0;
        const want = vncAuthResponse(this.password ?? '', this.challenge!);
        if (timingSafeEqual(Buffer.from(want), b.subarray(0, VNC_CHALLENGE_BYTES))) this.securityPassed(false);
        else this.failSecurity('authentication failed');
        return VNC_CHALLENGE_BYTES;
      }
      case Phase.ClientInit:
        // The shared flag is ignored: every client shares the one display.
        this.phase = Phase.Normal;
        clearTimeout(this.handshakeTimer);
        void this.server.refreshNow().then(() => this.sendServerInit());
        return 1;
      case Phase.Normal: {
        const parsed = parseClientMessage(b);
        if (parsed === null) return 0;
        this.handle(parsed.msg);
        return parsed.bytes;
      }
      default:
        return 0;
    }
  }

  private offerSecurity(): void {
    const type = this.password === null ? SEC_NONE : SEC_VNC_AUTH;
    if (this.minor === 3) {
      // 3.3: the server decides and sends the type as a u32 (RFC 6143 Appendix A).
      const b = Buffer.alloc(4);
      b.writeUInt32BE(type, 0);
      this.send(b);
      if (type === SEC_VNC_AUTH) this.sendChallenge();
      else this.securityPassed(true);
      return;
    }
    this.send(Buffer.from([1, type]));
    this.phase = Phase.Security;
  }

  private sendChallenge(): void {
    this.challenge = randomBytes(VNC_CHALLENGE_BYTES);
    this.send(this.challenge);
    this.phase = Phase.Auth;
  }

  /** SecurityResult OK: always in 3.8; in 3.3/3.7 only after VNC Authentication. */
  private securityPassed(none: boolean): void {
    if (!none || this.minor === 8) {
      const r = Buffer.alloc(4);
      r.writeUInt32BE(SEC_RESULT_OK, 0);
      this.send(r);
    }
    this.phase = Phase.ClientInit;
  }

  private failSecurity(reason: string): void {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(SEC_RESULT_FAILED, 0);
    this.send(this.minor === 8 ? Buffer.concat([r, reasonString(reason)]) : r);
    this.server.noteRejection(reason);
    this.socket.end();
    this.phase = Phase.Closed;
    clearTimeout(this.handshakeTimer);
  }

  private sendServerInit(): void {
    if (this.phase === Phase.Closed) return;
    const s = this.server.current;
    this.width = s.width;
    this.height = s.height;
    this.send(serverInit(s.width, s.height, this.name));
    this.resetShadow();
    this.dirty = [];
    this.resizePending = false;
    this.pump();
  }

  private handle(m: ClientMessage): void {
    switch (m.type) {
      case 'set-pixel-format':
        this.converter = new PixelConverter(m.format);
        // What the client holds is in the old format: nothing of it may be copied any more.
        this.shadow?.forget();
        break;
      case 'set-encodings': {
        this.desktopSize = m.encodings.includes(ENC_DESKTOP_SIZE);
        // The first encoding the client lists that hvm can send is the one it prefers.
        const first = m.encodings.find((e) => e === ENC_RAW || e === ENC_ZLIB);
        this.useZlib = first === ENC_ZLIB;
        const level = m.encodings.find((e) => e >= ENC_COMPRESS_LEVEL_0 && e <= ENC_COMPRESS_LEVEL_0 + 9);
        if (level !== undefined) this.zlibLevel = level - ENC_COMPRESS_LEVEL_0;
        const copyRect = m.encodings.includes(ENC_COPY_RECT);
        if (copyRect !== this.copyRect) { this.copyRect = copyRect; this.resetShadow(); }
        break;
      }
      case 'update-request':
        this.request = { incremental: m.incremental, x: m.x, y: m.y, w: m.w, h: m.h };
        this.pump();
        this.server.kick();
        break;
      case 'key': this.keyboardMouse.key(m.down, m.keysym); break;
      case 'pointer': this.keyboardMouse.pointer(m.buttons, m.x, m.y); break;
      case 'cut-text': this.skip = m.length; break;
    }
  }

  /** @internal The server's framebuffer was replaced (new mode, or a new surface). */
  screenChanged(resized: boolean): void {
    const now = this.server.current;
    if (resized) this.resizePending = now.width !== this.width || now.height !== this.height;
    this.dirty = [{ x: 0, y: 0, w: now.width, h: now.height }];
  }

  /** @internal Rectangles (x,y,w,h quadruples) that changed. */
  addDirty(rects: readonly number[]): void {
    for (let i = 0; i + 3 < rects.length; i += 4) {
      this.dirty.push({ x: rects[i]!, y: rects[i + 1]!, w: rects[i + 2]!, h: rects[i + 3]! });
    }
    if (this.dirty.length > MAX_DIRTY_RECTS) this.dirty = [bounds(this.dirty)];
  }

  /** Answers the outstanding request if there is something to send. */
  pump(): void {
    if (this.phase !== Phase.Normal || this.width === 0 || this.request === null || this.sending) return;
    if (this.socket.writableLength > OUTPUT_HIGH_WATER) return; // 'drain' calls again
    const s = this.server.current;
    if (this.resizePending) {
      this.resizePending = false;
      if (this.desktopSize) {
        this.request = null;
        this.width = s.width;
        this.height = s.height;
        this.send(Buffer.concat([updateHeader(1), rectHeader(0, 0, s.width, s.height, ENC_DESKTOP_SIZE)]));
        this.resetShadow();
        this.dirty = [{ x: 0, y: 0, w: s.width, h: s.height }];
        return;
      }
    }
    // A client that cannot resize keeps its size: it sees the part of the screen that fits.
    const visible = { x: 0, y: 0, w: Math.min(this.width, s.width), h: Math.min(this.height, s.height) };
    const req = this.request;
    const area = intersect({ x: req.x, y: req.y, w: req.w, h: req.h }, visible);
    if (area === null) { if (!req.incremental) { this.request = null; this.writeUpdate([], null, s); } return; }
    let rects: Rect[];
    if (!req.incremental) {
      rects = [area];
    } else {
      rects = [];
      for (const d of this.dirty) { const r = intersect(d, area); if (r !== null) rects.push(r); }
      if (rects.length === 0) return; // wait until something changes
    }
    // Dirty rectangles wholly inside the area are sent now; the rest stay for a later request.
    this.dirty = this.dirty.filter((d) => !contains(area, d));
    this.request = null;
    if (rects.length > 16) rects = [bounds(rects)];
    // Rows that moved (a scroll) go as one CopyRect when the client holds them.
    let move: RowMove | null = null;
    if (req.incremental && this.shadow !== null && s.width === this.width && s.height === this.height && area.x === 0 && area.w === s.width) {
      const b = bounds(rects);
      move = this.shadow.findMove(s.pixels, b.y, b.y + b.h);
      if (move !== null) rects = withoutRows(rects, move.dstY, move.dstY + move.h);
    }
    // Rows redrawn the same as the client has them need not go again (the move changes none of these rows).
    if (req.incremental && this.shadow !== null) {
      const changed = this.shadow.changedParts(s.pixels, s.width, rects);
      if (changed.length <= 16) rects = changed.filter((r, i) => !changed.some((o, j) => j !== i && contains(o, r) && (j < i || !contains(r, o))));
      if (rects.length === 0 && move === null) { this.request = req; return; } // nothing new: the request waits
    }
    this.writeUpdate(rects, move, s);
  }

  /** A fresh shadow for the framebuffer size the client has (none unless it takes CopyRect). */
  private resetShadow(): void {
    const pixels = this.width * this.height;
    this.shadow = this.copyRect && pixels > 0 && pixels <= MAX_SHADOW_PIXELS ? new ClientShadow(this.width, this.height) : null;
  }

  private writeUpdate(rects: Rect[], move: RowMove | null, s: Screen): void {
    // With a shadow the pixels go through it, so it holds exactly what the client is sent even
    // if the renderer writes the surface meanwhile.
    let src = s.pixels;
    let stride = s.width;
    const shadow = this.shadow;
    if (shadow !== null) {
      if (move !== null) shadow.move(move);
      for (const r of rects) shadow.store(s.pixels, s.width, r);
      src = shadow.pixels;
      stride = shadow.width;
    }
    const conv = this.converter;
    if (!this.useZlib) {
      // The last update's buffer again once the socket has written all of it.
      const out = rawUpdate(conv, src, stride, move, rects, this.width, this.socket.writableLength === 0 ? this.scratch : null);
      if (out.buffer !== this.scratch?.buffer && out.length >= SCRATCH_MIN_BYTES) this.scratch = out;
      this.send(out);
      return;
    }
    // No compression is running (`sending` is false): the last update's pixel buffer is free.
    const { buffer, views: raws } = rectPixels(conv, src, stride, rects, this.zlibScratch);
    if (buffer !== this.zlibScratch && buffer.length >= SCRATCH_MIN_BYTES) this.zlibScratch = buffer;
    this.sending = true;
    void (async () => {
      try {
        const parts: Buffer[] = [updateHeader(rects.length + (move !== null ? 1 : 0))];
        if (move !== null) parts.push(rawUpdate(conv, src, stride, move, [], this.width).subarray(4));
        for (let i = 0; i < rects.length; i++) {
          const z = await this.compress(raws[i]!);
          parts.push(zlibRectHeader(rects[i]!, z.length), z);
        }
        this.send(Buffer.concat(parts));
      } catch {
        this.close();
      } finally {
        this.sending = false;
      }
      this.pump();
    })();
  }

  /** Compresses one rectangle's pixels on the connection's zlib stream. */
  private compress(data: Buffer): Promise<Buffer> {
    if (this.phase === Phase.Closed) return Promise.reject(new Error('closed'));
    this.deflate ??= zlib.createDeflate({ level: this.zlibLevel });
    return deflateFlushed(this.deflate, data);
  }
}
