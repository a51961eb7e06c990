// A small QMP client: connects to a unix or TCP monitor (hvm's or QEMU's), negotiates, runs
// commands by id and collects events. Tests and tools use it; every wait is bounded.

import { connect, type Socket } from 'node:net';
import { QmpStreamSplitter, type QmpFrame } from './qmp-stream.js';

/** An {"error": …} reply, as a rejection. */
export class QmpReplyError extends Error {
  constructor(readonly errorClass: string, desc: string) { super(desc); }
}

/** A received event. */
export interface QmpClientEvent { event: string; data?: Record<string, unknown>; timestamp: { seconds: number; microseconds: number } }

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One connection to a QMP server. */
export class QmpClient {
  /** Every event received, in order. */
  readonly events: QmpClientEvent[] = [];
  /** Every message received (greeting, replies, events), in order. */
  readonly received: Record<string, unknown>[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly splitter = new QmpStreamSplitter();
  private closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      const frames: QmpFrame[] = [];
      this.splitter.push(b, frames);
      for (const f of frames) {
        if (f.kind !== 'json') continue;
        let m: unknown;
        try { m = JSON.parse(f.text); } catch { continue; } // a broken server line is skipped, not thrown
        if (typeof m === 'object' && m !== null && !Array.isArray(m)) this.onMessage(m as Record<string, unknown>);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error('QMP connection closed'));
      this.pending.clear();
      this.notify();
    });
  }

  /** Connects (unix path or TCP) and waits for the greeting; negotiates unless `negotiate` is false. */
  static async connect(to: string | { host: string; port: number }, opts: { negotiate?: boolean; timeoutMs?: number } = {}): Promise<QmpClient> {
    const socket = typeof to === 'string' ? connect(to) : connect(to.port, to.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new QmpClient(socket);
    await c.waitFor(() => c.received.length > 0, opts.timeoutMs ?? 10_000, 'the QMP greeting');
    if (opts.negotiate !== false) await c.execute('qmp_capabilities');
    return c;
  }

  /** The greeting ({"QMP": …}). */
  get greeting(): Record<string, unknown> | undefined { return this.received[0]; }

  /** Runs a command; resolves to its "return" value, rejects with QmpReplyError. */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    const id = this.nextId++;
    const msg = { execute: command, ...(args !== undefined ? { arguments: args } : {}), id };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Sends raw bytes (for hostile-input tests). */
  sendRaw(data: string | Uint8Array): void { this.socket.write(data); }

  /** Resolves with the first event named `name` at index >= `from`. */
  async waitEvent(name: string, timeoutMs: number, from = 0): Promise<QmpClientEvent> {
    let found: QmpClientEvent | undefined;
    await this.waitFor(() => (found = this.events.slice(from).find((e) => e.event === name)) !== undefined, timeoutMs, `the ${name} event`);
    return found!;
  }

  /** Resolves when `cond` holds (checked on every message); rejects after `timeoutMs`. */
  waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (cond()) { clearTimeout(timer); resolve(); return true; }
        if (this.closed) { clearTimeout(timer); reject(new Error(`QMP connection closed while waiting for ${what}`)); return true; }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received.slice(-5))}`));
      }, timeoutMs);
      const waiter = (): void => { if (check()) this.waiters = this.waiters.filter((w) => w !== waiter); };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** Closes the connection. */
  close(): void { this.socket.destroy(); }

  private onMessage(m: Record<string, unknown>): void {
    this.received.push(m);
    if (typeof m['event'] === 'string') this.events.push(m as unknown as QmpClientEvent);
    const id = m['id'];
    if (typeof id === 'number') {
      const p = this.pending.get(id);
      if (p !== undefined) {
        this.pending.delete(id);
        const err = m['error'] as { class?: string; desc?: string } | undefined;
        if (err !== undefined) p.reject(new QmpReplyError(err.class ?? 'GenericError', err.desc ?? ''));
        else p.resolve(m['return']);
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
