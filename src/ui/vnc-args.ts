// `--vnc` and `--vnc-password-file`, QEMU's forms: `:N` listens on 127.0.0.1 port 5900+N,
// `HOST:N` on HOST (`[::1]:N` for IPv6).

import { readFileSync } from 'node:fs';

/** The first VNC port; display N listens on VNC_PORT_BASE + N. */
export const VNC_PORT_BASE = 5900;
/** VNC Authentication uses 8 bytes of password. */
export const VNC_PASSWORD_MAX = 8;

/** Where the VNC server listens. */
export interface VncListenSpec { host: string; port: number; display: number }

/** Parses `:N`, `HOST:N` or `[V6]:N`; throws a one-line error otherwise. */
export function parseVncSpec(text: string): VncListenSpec {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (m === null) throw new Error(`--vnc: "${text}" is not :N or HOST:N (display N listens on port ${VNC_PORT_BASE}+N)`);
  const display = Number(m[3]);
  if (VNC_PORT_BASE + display > 65535) throw new Error(`--vnc: display ${display} is beyond port 65535`);
  const host = m[1] ?? (m[2] === undefined || m[2] === '' ? '127.0.0.1' : m[2]);
  return { host, port: VNC_PORT_BASE + display, display };
}

/** Reads the password (the file's first line); throws a one-line error for a missing or empty one. */
export function readVncPassword(path: string): { password: string; truncated: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`--vnc-password-file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line.length === 0) throw new Error(`--vnc-password-file ${path}: the first line (the password) is empty`);
  return { password: line.slice(0, VNC_PASSWORD_MAX), truncated: line.length > VNC_PASSWORD_MAX };
}
