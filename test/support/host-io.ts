// What tests (and benches) share for talking to the host: a deadline-bounded poll that fails
// with the last output it was given, and loopback ports that were free a moment ago (bind port
// 0 and read it back, so parallel runs do not collide on fixed numbers).

import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { closeSync, openSync, readSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** Resolves when `cond` holds; rejects after `ms` with `what` and the tail of `out()`. */
export function until(cond: () => boolean, ms: number, what = 'a condition', out: () => string = () => ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (cond()) { clearInterval(poll); resolve(); }
      else if (Date.now() - t0 > ms) { clearInterval(poll); reject(new Error(`timed out waiting for ${what}:\n${out().slice(-3000)}`)); }
    }, 20);
  });
}

/** Which protocols a port from freePort() must be free for. */
export type PortKind = 'tcp' | 'udp' | 'tcp+udp';

/** Tries at most this many ports before giving up (each was free an instant before). */
const FREE_PORT_TRIES = 100;

/** A loopback port free a moment ago for `kind` (default TCP); the caller binds it next. */
export async function freePort(kind: PortKind = 'tcp'): Promise<number> {
  for (let n = 0; n < FREE_PORT_TRIES; n++) {
    const port = kind === 'udp' ? await bindUdp(0) : await listenTcp();
    if (kind !== 'tcp+udp' || await bindUdp(port) !== 0) return port;
  }
  throw new Error(`no free loopback ${kind} port in ${FREE_PORT_TRIES} tries`);
}

/** Listens on a kernel-chosen TCP port, closes, and returns it. */
async function listenTcp(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Binds UDP `port` (0: the kernel picks), closes, and returns the port bound, or 0 when it was taken. */
async function bindUdp(port: number): Promise<number> {
  const u = createSocket('udp4');
  const bound = await new Promise<number>((r) => {
    u.once('error', () => r(0));
    u.bind(port, '127.0.0.1', () => r(u.address().port));
  });
  await new Promise<void>((r) => { try { u.close(() => r()); } catch { r(); } });
  return bound;
}

/** `len` bytes of `file` at offset `at` (a disk image read back on the host). */
export function readAt(file: string, at: number, len: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, at);
    return b;
  } finally { closeSync(fd); }
}

/** MD5 in hex, as the guest's md5sum prints it. */
export const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
