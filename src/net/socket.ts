// The socket backend: two VMs on one Ethernet segment over a host socket, as QEMU's
// `-netdev socket` joins them (so the two interoperate): over UDP one frame per datagram
// (`udp=…,localaddr=…`), over TCP (`listen=:PORT` on one side, `connect=HOST:PORT` on the
// other) each frame preceded by its length as a 4-byte big-endian number (QEMU's net/socket.c).

import { createSocket, type Socket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { ETH_HLEN, ETH_MAX_JUMBO, FrameQueue, type EthernetPort, type FrameReceiver } from './ethernet.js';

/** Host:port pair. */
export interface HostPort { host: string; port: number }

/** Parses "127.0.0.1:5000" (a host error when malformed). */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^([^:]*):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port > 0 && port < 65536)) throw new Error(`${what}: "${text}" is not host:port`);
  return { host: m[1] === '' ? '127.0.0.1' : m[1]!, port };
}

/** One end of a UDP-joined segment. */
export class UdpSocketBackend implements EthernetPort {
  private readonly sock: Socket;
  private readonly rx = new FrameQueue();
  dropped = 0;
  constructor(private readonly peer: HostPort, local: HostPort, onError: (e: Error) => void = () => {}) {
    this.sock = createSocket('udp4');
    this.sock.on('error', onError);
    this.sock.on('message', (msg) => {
      if (msg.length < ETH_HLEN || msg.length > ETH_MAX_JUMBO) { this.dropped++; return; }
      this.rx.push(new Uint8Array(msg));
    });
    this.sock.bind(local.port, local.host);
  }
  send(frame: Uint8Array): void { this.sock.send(frame, this.peer.port, this.peer.host); }
  onFrame(receiver: FrameReceiver): void { this.rx.setReceiver(receiver); }
  ready(): void { this.rx.drain(); }
  close(): void { try { this.sock.close(); } catch { /* already closed */ } }
}

/** Frames a TCP backend queues toward a slow peer before it drops (bounds host memory). */
const TCP_TX_MAX_BYTES = 4 << 20;
/** How often the connecting side tries again while the listening side is not there (ms). */
const TCP_RETRY_MS = 500;

/**
 * One end of a TCP-joined segment. The listening side takes one peer at a time (a second
 * connection is refused while one is up); the connecting side retries until the listener is
 * there and again after it goes, so two VMs may start in either order.
 */
export class TcpSocketBackend implements EthernetPort {
  private readonly rx = new FrameQueue();
  private server: Server | null = null;
  private conn: TcpSocket | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  /** Bytes of a frame stream not yet split into frames (bounded by one frame and its length). */
  private pending: Buffer = Buffer.alloc(0);
  dropped = 0;

  constructor(mode: { listen: HostPort } | { connect: HostPort }, private readonly onError: (e: Error) => void = () => {}) {
    if ('listen' in mode) {
      const srv = createServer((s) => {
        if (this.conn !== null || this.closed) { s.destroy(); return; }
        this.attach(s);
      });
      srv.on('error', (e) => this.onError(new Error(`listen ${mode.listen.host}:${mode.listen.port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
      srv.listen(mode.listen.port, mode.listen.host);
      this.server = srv;
    } else {
      this.dial(mode.connect);
    }
  }

  /** Whether a peer is connected (for tests). */
  get connected(): boolean { return this.conn !== null; }

  send(frame: Uint8Array): void {
    const c = this.conn;
    if (c === null || c.writableLength > TCP_TX_MAX_BYTES) { this.dropped++; return; }
    const len = Buffer.alloc(4);
    len.writeUInt32BE(frame.length, 0);
    c.write(Buffer.concat([len, frame]));
  }

  onFrame(receiver: FrameReceiver): void { this.rx.setReceiver(receiver); }
  ready(): void { this.rx.drain(); }

  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.conn?.destroy();
    this.conn = null;
    this.server?.close();
    this.server = null;
  }

  private dial(to: HostPort): void {
    if (this.closed) return;
    const s = createConnection({ host: to.host, port: to.port });
    let up = false;
    s.on('connect', () => { up = true; this.attach(s); });
    s.on('error', () => { /* 'close' follows */ });
    s.on('close', () => {
      if (this.conn === s) this.conn = null;
      if (!this.closed) this.retry = setTimeout(() => this.dial(to), up ? 0 : TCP_RETRY_MS);
    });
  }

  private attach(s: TcpSocket): void {
    this.conn = s;
    this.pending = Buffer.alloc(0);
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => this.input(s, d));
    s.on('error', () => { /* 'close' follows */ });
    s.on('close', () => { if (this.conn === s) this.conn = null; });
  }

  /** Splits the stream into frames; a length no Ethernet frame has ends the connection. */
  private input(s: TcpSocket, d: Buffer): void {
    let buf = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len < ETH_HLEN || len > ETH_MAX_JUMBO) { this.dropped++; s.destroy(); this.pending = Buffer.alloc(0); return; }
      if (buf.length < 4 + len) break;
      this.rx.push(new Uint8Array(buf.subarray(4, 4 + len)));
      buf = buf.subarray(4 + len);
    }
    this.pending = Buffer.from(buf);
  }
}
