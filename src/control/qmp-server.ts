// The QMP server: QEMU's `-qmp unix:PATH,server,nowait` / `tcp:HOST:PORT,server,nowait`
// listeners and the per-connection protocol (docs/interop/qmp-spec.rst): a greeting, the
// capabilities negotiation, then {"execute", "arguments", "id"} in and {"return"|"error", "id"}
// out, with events to every negotiated client. A client can send anything and leave at any
// moment; none of that reaches the VM except through a well-formed command.

import { createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { QmpStreamSplitter, type QmpFrame } from './qmp-stream.js';
import { QmpError, type QmpEventMessage, type QmpMonitor } from './qmp-monitor.js';

/** Where to listen, parsed from QEMU's chardev spelling. */
export type QmpListenSpec =
  | { transport: 'unix'; path: string; wait: boolean }
  | { transport: 'tcp'; host: string; port: number; wait: boolean };

/** Connections served at once; more are told so and closed. */
export const QMP_MAX_CLIENTS = 16;
/**
 * Commands pending from one client (parsed, not yet answered) before its input is no longer
 * parsed or read: backpressure, not an error, as QEMU suspends a busy monitor's reading.
 */
export const QMP_MAX_QUEUED_PER_CLIENT = 16;
/** Unread replies and events buffered for one client before it is dropped. */
const MAX_OUTPUT_BYTES = 4 << 20;
/** How long close() waits for replies and the SHUTDOWN event to reach clients. */
const CLOSE_FLUSH_MS = 1000;

/** Parses `unix:PATH,server,nowait` or `tcp:[HOST]:PORT,server,nowait`; throws a one-line Error. */
export function parseQmpSpec(text: string): QmpListenSpec {
  const [addr = '', ...opts] = text.split(',');
  let server = false;
  let wait = true;
  for (const o of opts) {
    if (o === 'server' || o === 'server=on') server = true;
    else if (o === 'server=off') server = false;
    else if (o === 'nowait' || o === 'wait=off') wait = false;
    else if (o === 'wait' || o === 'wait=on') wait = true;
    else throw new Error(`--qmp ${text}: unknown option "${o}" (use server,nowait)`);
  }
  let spec: QmpListenSpec;
  if (addr.startsWith('unix:')) {
    const path = addr.slice(5);
    if (path.length === 0) throw new Error(`--qmp ${text}: no socket path`);
    spec = { transport: 'unix', path, wait };
  } else if (addr.startsWith('tcp:')) {
    const m = /^tcp:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(addr);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port > 65535) throw new Error(`--qmp ${text}: expected tcp:HOST:PORT`);
    const host = m[1]!.replace(/^\[|\]$/g, '');
    spec = { transport: 'tcp', host: host.length === 0 ? '127.0.0.1' : host, port, wait };
  } else {
    throw new Error(`--qmp ${text}: expected unix:PATH,server,nowait or tcp:HOST:PORT,server,nowait`);
  }
  if (!server) throw new Error(`--qmp ${text}: hvm only listens: add ,server,nowait`);
  return spec;
}

/** A QMP listener bound to one monitor. */
export class QmpServer {
  private readonly sessions = new Set<QmpSession>();
  /** Commands from every client run one at a time, in arrival order (QEMU's monitor lock). */
  private queue: Promise<void>;
  private firstClient: (() => void) | null = null;
  private closed = false;
  /** The most commands one client has had pending at once (for tests and statistics). */
  peakQueued = 0;

  private constructor(private readonly server: Server, private readonly spec: QmpListenSpec,
                      readonly monitor: QmpMonitor, readonly address: string) {
    this.queue = monitor.ready;
    server.on('connection', (s: Socket) => this.accept(s));
    server.on('error', () => undefined);
  }

  /** Listens (a stale unix socket file is replaced, as QEMU does); rejects with a one-line Error. */
  static async listen(spec: QmpListenSpec, monitor: QmpMonitor): Promise<QmpServer> {
    const server = createServer({ allowHalfOpen: true });
    if (spec.transport === 'unix') {
      let isSocket = false;
      try { isSocket = lstatSync(spec.path).isSocket(); } catch { /* absent: fine */ }
      if (isSocket) unlinkSync(spec.path);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`--qmp: cannot listen on ${describe(spec)}: ${e.code ?? e.message}`)));
      if (spec.transport === 'unix') server.listen(spec.path, resolve);
      else server.listen(spec.port, spec.host, resolve);
    });
    const a = server.address();
    const address = spec.transport === 'unix' ? `unix:${spec.path}`
      : typeof a === 'object' && a !== null ? `tcp:${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : describe(spec);
    return new QmpServer(server, spec, monitor, address);
  }

  /** Resolves when the first client connects (QEMU's `wait`). */
  waitForClient(): Promise<void> {
    if (this.sessions.size > 0) return Promise.resolve();
    return new Promise((resolve) => { this.firstClient = resolve; });
  }

  /** Flushes what clients have not read yet (bounded), closes them and the listener. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // server.close() reports only once every connection is gone: end them (bounded) first.
    const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const ends = [...this.sessions].map((s) => s.end());
    await Promise.race([Promise.all(ends), new Promise((r) => setTimeout(r, CLOSE_FLUSH_MS))]);
    for (const s of this.sessions) s.destroy();
    await listening;
    if (this.spec.transport === 'unix') {
      try { if (lstatSync(this.spec.path).isSocket()) unlinkSync(this.spec.path); } catch { /* already gone */ }
    }
  }

  /** Runs `job` after every command queued before it (from any client); resolves when it has run. */
  run(job: () => Promise<void>): Promise<void> {
    const p = this.queue.then(job, job);
    this.queue = p.catch(() => undefined);
    return this.queue;
  }

  private accept(socket: Socket): void {
    if (this.closed || this.sessions.size >= QMP_MAX_CLIENTS) {
      socket.on('error', () => undefined);
      socket.end(`${JSON.stringify({ error: { class: 'GenericError', desc: `too many QMP clients (at most ${QMP_MAX_CLIENTS})` } })}\r\n`);
      return;
    }
    const session = new QmpSession(socket, this, () => this.sessions.delete(session));
    this.sessions.add(session);
    this.firstClient?.();
    this.firstClient = null;
  }
}

function describe(spec: QmpListenSpec): string {
  return spec.transport === 'unix' ? `unix:${spec.path}` : `tcp:${spec.host}:${spec.port}`;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One client connection. */
class QmpSession {
  private negotiated = false;
  private queued = 0;
  private readonly splitter = new QmpStreamSplitter();
  /** Input read but not parsed yet because QMP_MAX_QUEUED_PER_CLIENT commands are pending. */
  private unparsed: Buffer[] = [];
  private drainScheduled = false;
  private inputEnded = false;
  private unsubscribe: (() => void) | null = null;
  private tail: Promise<void> = Promise.resolve();
  private readonly done: Promise<void>;

  constructor(private readonly socket: Socket, private readonly server: QmpServer, onClose: () => void) {
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay?.(true);
    socket.on('error', () => undefined); // ECONNRESET and friends: the close handler cleans up
    socket.on('close', () => { this.unsubscribe?.(); this.unsubscribe = null; onClose(); });
    socket.on('data', (chunk: Buffer) => this.input(chunk));
    // A client that shuts down its sending side (socat at the end of its input) still gets the
    // replies to what it sent; the connection closes after the last one.
    socket.on('end', () => {
      this.inputEnded = true;
      this.drain();
    });
    const monitor = server.monitor;
    this.send({ QMP: { version: monitor.versionInfo(), capabilities: [] } });
  }

  /** Ends the connection once written data is flushed. */
  end(): Promise<void> {
    this.socket.end();
    return this.done;
  }

  destroy(): void { this.socket.destroy(); }

  private send(obj: unknown): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    // A client that reads nothing does not make the monitor buffer without bound.
    if (s.writableLength > MAX_OUTPUT_BYTES) { s.destroy(); return; }
    s.write(`${JSON.stringify(obj)}\r\n`);
  }

  private input(chunk: Buffer): void {
    this.unparsed.push(chunk);
    this.drain();
  }

  /**
   * Parses input while fewer than QMP_MAX_QUEUED_PER_CLIENT commands are pending; the rest waits
   * (with the socket paused, so a flood stays in the kernel's socket buffer, not here).
   */
  private drain(): void {
    while (this.unparsed.length > 0 && this.queued < QMP_MAX_QUEUED_PER_CLIENT) {
      const chunk = this.unparsed[0]!;
      const frames: QmpFrame[] = [];
      const used = this.splitter.push(chunk, frames, QMP_MAX_QUEUED_PER_CLIENT - this.queued);
      if (used < chunk.length) this.unparsed[0] = chunk.subarray(used);
      else this.unparsed.shift();
      for (const f of frames) this.frame(f);
    }
    if (this.unparsed.length > 0) { this.socket.pause(); return; }
    if (!this.socket.destroyed) this.socket.resume();
    if (this.inputEnded) {
      // The client shut down its sending side: answer what it sent, then close.
      this.inputEnded = false;
      const out: QmpFrame[] = [];
      this.splitter.end(out);
      for (const f of out) this.frame(f);
      void this.tail.then(() => { this.unsubscribe?.(); this.unsubscribe = null; this.socket.end(); });
    }
  }

  private frame(f: QmpFrame): void {
    // Replies leave in this client's order.
    this.queued++;
    if (this.queued > this.server.peakQueued) this.server.peakQueued = this.queued;
    this.tail = this.tail.then(() => this.handle(f)).catch(() => undefined).then(() => {
      this.queued--;
      // Parse more on a later turn of the event loop, so a flood of commands answered without
      // waiting on anything still lets other clients (and the VM's messages) in between.
      if (this.unparsed.length > 0 && !this.drainScheduled) {
        this.drainScheduled = true;
        setImmediate(() => { this.drainScheduled = false; if (!this.socket.destroyed) this.drain(); });
      }
    });
  }

  private async handle(f: QmpFrame): Promise<void> {
    if (f.kind === 'error') { this.send({ error: { class: 'GenericError', desc: f.desc } }); return; }
    let msg: unknown;
    try {
      msg = JSON.parse(f.text);
    } catch (e) {
      this.send({ error: { class: 'GenericError', desc: `JSON parse error, ${(e as Error).message.slice(0, 200)}` } });
      return;
    }
    const id: { id?: Json } = isObject(msg) && 'id' in msg ? { id: msg['id']! } : {};
    const fail = (cls: string, desc: string): void => this.send({ ...id, error: { class: cls, desc } });
    if (!isObject(msg)) { fail('GenericError', 'QMP input must be a JSON object'); return; }
    for (const key of Object.keys(msg)) {
      if (key !== 'execute' && key !== 'arguments' && key !== 'id') { fail('GenericError', `QMP input member '${key}' is unexpected`); return; }
    }
    const name = msg['execute'];
    if (name === undefined) { fail('GenericError', "QMP input lacks member 'execute'"); return; }
    if (typeof name !== 'string') { fail('GenericError', "QMP input member 'execute' must be a string"); return; }
    const args = msg['arguments'] ?? {};
    if (!isObject(args)) { fail('GenericError', "QMP input member 'arguments' must be an object"); return; }
    if (name === 'qmp_capabilities') { this.capabilities(args, fail, id); return; }
    if (!this.negotiated) { fail('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'"); return; }
    const monitor = this.server.monitor;
    if (!monitor.has(name)) { fail('CommandNotFound', `The command ${name} has not been found`); return; }
    await this.server.run(async () => {
      try {
        const ret = await monitor.execute(name, args);
        this.send({ ...id, return: ret ?? {} });
      } catch (e) {
        if (e instanceof QmpError) fail(e.errorClass, e.message);
        else fail('GenericError', (e as Error).message);
      }
    });
  }

  private capabilities(args: Record<string, Json>, fail: (cls: string, desc: string) => void, id: { id?: Json }): void {
    if (this.negotiated) { fail('CommandNotFound', 'Capabilities negotiation is already complete, command ignored'); return; }
    for (const key of Object.keys(args)) {
      if (key !== 'enable') { fail('GenericError', `Parameter '${key}' is unexpected`); return; }
    }
    const enable = args['enable'];
    if (enable !== undefined) {
      if (!Array.isArray(enable)) { fail('GenericError', "Invalid parameter type for 'enable', expected: array"); return; }
      for (const c of enable) {
        if (typeof c !== 'string') { fail('GenericError', "Invalid parameter type for 'enable[0]', expected: string"); return; }
        fail('GenericError', `Capability '${c}' not available`);
        return;
      }
    }
    this.negotiated = true;
    this.unsubscribe = this.server.monitor.subscribe((e: QmpEventMessage) => this.send(e));
    this.send({ ...id, return: {} });
  }
}
