// DNS for the user-mode NAT: queries the guest sends to 10.0.2.3:53 go out of one host UDP
// socket to an upstream resolver (the `dns=` option of `--nic user`, else the first IPv4
// nameserver in the host's /etc/resolv.conf). Each query gets a fresh 16-bit ID (RFC 1035
// 4.1.1) so answers from the one socket map back to the guest's port and original ID; the
// number outstanding is bounded and unanswered queries are forgotten after a few seconds.

import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { get16, put16 } from '../checksum.js';

/** Queries waiting for an answer before new ones are dropped. */
export const DNS_MAX_OUTSTANDING = 64;
/** How long a query waits for its answer (ms). */
export const DNS_TIMEOUT_MS = 5000;
const DNS_HLEN = 12;
const DNS_MAX_UDP = 1472; // what fits one Ethernet frame as UDP

/** Upstream resolver address. */
export interface DnsUpstream { host: string; port: number }

/** The host's first IPv4 nameserver from /etc/resolv.conf (port 53), or null. */
export function hostResolver(path = '/etc/resolv.conf'): DnsUpstream | null {
  try {
    const m = /^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(readFileSync(path, 'latin1'));
    return m === null ? null : { host: m[1]!, port: 53 };
  } catch { return null; }
}

/** Parses a `dns=` value: `HOST` or `HOST:PORT` with an IPv4 host (a host error when malformed). */
export function parseDnsUpstream(text: string): DnsUpstream {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (m === null || m[1]!.split('.').some((p) => Number(p) > 255) || !(port > 0 && port < 65536)) {
    throw new Error(`dns: "${text}" is not IPV4ADDR[:PORT]`);
  }
  return { host: m[1]!, port };
}

interface Pending { guestIp: Uint8Array; guestPort: number; guestId: number; sent: number }

/** Counters, for tests. */
export interface DnsStats { queries: number; answers: number; dropped: number }

/** Forwards the guest's DNS queries and maps the answers back. */
export class DnsForwarder {
  private sock: Socket | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = (Math.random() * 0x10000) >>> 0;
  readonly stats: DnsStats = { queries: 0, answers: 0, dropped: 0 };

  /**
   * `deliver` sends an answer to the guest (from 10.0.2.3:53 to `guestIp:guestPort`).
   * `now` is injected for tests.
   */
  constructor(
    private readonly upstream: DnsUpstream | null,
    private readonly deliver: (guestIp: Uint8Array, guestPort: number, data: Uint8Array) => void,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A query from the guest; false when it was dropped (no upstream, malformed, too many). */
  query(guestIp: Uint8Array, guestPort: number, data: Uint8Array): boolean {
    if (this.upstream === null || data.length < DNS_HLEN || (data[2]! & 0x80) !== 0) { this.stats.dropped++; return false; }
    this.expire();
    if (this.pending.size >= DNS_MAX_OUTSTANDING) { this.stats.dropped++; return false; }
    let id = this.nextId;
    for (let n = 0; this.pending.has(id) && n < 0x10000; n++) id = (id + 1) & 0xffff; // bounded: the map is small
    this.nextId = (id + 1) & 0xffff;
    this.pending.set(id, { guestIp: guestIp.slice(), guestPort, guestId: get16(data, 0), sent: this.now() });
    const out = Buffer.from(data);
    out.writeUInt16BE(id, 0);
    this.stats.queries++;
    this.socket().send(out, this.upstream.port, this.upstream.host);
    return true;
  }

  /** Outstanding queries (for tests). */
  get outstanding(): number { return this.pending.size; }

  close(): void {
    try { this.sock?.close(); } catch { /* already closed */ }
    this.sock = null;
    this.pending.clear();
  }

  private socket(): Socket {
    if (this.sock !== null) return this.sock;
    const s = createSocket('udp4');
    s.on('message', (msg, rinfo) => this.answer(new Uint8Array(msg), rinfo.address, rinfo.port));
    s.on('error', () => { /* a send to an unreachable resolver: the query times out */ });
    this.sock = s;
    return s;
  }

  private answer(msg: Uint8Array, from: string, port: number): void {
    this.expire();
    const up = this.upstream;
    if (up === null || from !== up.host || port !== up.port || msg.length < DNS_HLEN || msg.length > DNS_MAX_UDP || (msg[2]! & 0x80) === 0) {
      this.stats.dropped++; return;
    }
    const id = get16(msg, 0);
    const p = this.pending.get(id);
    if (p === undefined) { this.stats.dropped++; return; }
    this.pending.delete(id);
    put16(msg, 0, p.guestId);
    this.stats.answers++;
    this.deliver(p.guestIp, p.guestPort, msg);
  }

  private expire(): void {
    const now = this.now();
    for (const [id, p] of this.pending) if (now - p.sent > DNS_TIMEOUT_MS) this.pending.delete(id);
  }
}
