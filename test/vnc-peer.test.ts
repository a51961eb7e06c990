// Real VNC clients against hvm's VNC server: gtk-vnc's gvnccapture (Debian's gvncviewer) saves
// the screen as PNG, which must equal hvm's own PNG screenshot of the same frame pixel for
// pixel; TightVNC's vncsnapshot (an RFB 3.3 client that asks for a BGR pixel format and logs in
// with a vncpasswd file) must get a JPEG of the right size, and be refused with a wrong password.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DisplayFrame } from '../src/devices/display/frame.js';
import { VncServer, type VncTarget } from '../src/ui/vnc-server.js';
import { frameToPng, pngToPixels } from '../src/ui/screenshot.js';
import { desEncryptBlock } from '../src/ui/des.js';

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A display with a pattern every channel and position shows in. */
function patternFrame(width: number, height: number): DisplayFrame {
  const pixels = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels[y * width + x] = ((x * 7 & 0xff) << 16) | ((y * 5 & 0xff) << 8) | ((x ^ y) & 0xff);
  }
  return { width, height, pixels, rects: [0, 0, width, height], text: null };
}

const target = (f: DisplayFrame): VncTarget => ({
  refreshDisplay: () => Promise.resolve(f), sendKey: () => undefined, sendPointer: () => undefined,
});

/** Listens on some display :N in 40..99 (the peers take a display number, not a port). */
async function listenOnDisplay(t: VncTarget, password: string | null): Promise<{ server: VncServer; display: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const display = 40 + Math.floor(Math.random() * 60);
    try {
      return { server: await VncServer.listen(t, { port: 5900 + display, password }), display };
    } catch { /* taken: try another */ }
  }
  throw new Error('no free VNC display in :40..:99');
}

/** Runs a command to completion (bounded), returning its status and output. */
function runPeer(cmd: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, out }); });
  });
}

/** The size in a JPEG's SOF0/SOF2 header. */
function jpegSize(b: Buffer): { width: number; height: number } | null {
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1]!;
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return null;
}

/** A vncpasswd file: the password DES-encrypted with VNC's fixed key (bits mirrored like the auth key). */
function vncpasswdFile(password: string): Buffer {
  const fixed = [23, 82, 107, 6, 35, 78, 88, 7].map((b) => { let m = 0; for (let j = 0; j < 8; j++) m |= ((b >> j) & 1) << (7 - j); return m; });
  const pw = new Uint8Array(8);
  Buffer.from(password, 'latin1').copy(pw, 0, 0, 8);
  return Buffer.from(desEncryptBlock(Uint8Array.from(fixed), pw));
}

test('gvnccapture saves the same pixels as hvm\'s own PNG screenshot', { skip: have('gvnccapture') ? false : 'gvnccapture is not installed (scripts/setup.sh: gvncviewer)' }, async () => {
  const frame = patternFrame(400, 300);
  const { server, display } = await listenOnDisplay(target(frame), null);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'hvm-vnc-peer-'));
    const file = join(dir, 'cap.png');
    const r = await runPeer('gvnccapture', ['--quiet', `127.0.0.1:${display}`, file]);
    assert.equal(r.status, 0, r.out);
    const theirs = pngToPixels(readFileSync(file));
    const ours = pngToPixels(frameToPng(frame));
    assert.deepEqual([theirs.width, theirs.height], [400, 300]);
    let diff = 0;
    for (let i = 0; i < ours.pixels.length; i++) if (theirs.pixels[i] !== ours.pixels[i]) diff++;
    assert.equal(diff, 0, 'pixels that differ');
  } finally {
    await server.close();
  }
});

test('vncsnapshot (RFB 3.3, BGR pixels, VNC Authentication) gets the screen; a wrong password is refused', { skip: have('vncsnapshot') ? false : 'vncsnapshot is not installed (scripts/setup.sh)' }, async () => {
  const frame = patternFrame(320, 200);
  const { server, display } = await listenOnDisplay(target(frame), 'sekrit');
  try {
    const dir = mkdtempSync(join(tmpdir(), 'hvm-vnc-peer-'));
    writeFileSync(join(dir, 'good'), vncpasswdFile('sekrit'));
    writeFileSync(join(dir, 'bad'), vncpasswdFile('nope'));
    const file = join(dir, 'cap.jpg');
    const ok = await runPeer('vncsnapshot', ['-passwd', join(dir, 'good'), `127.0.0.1:${display}`, file]);
    assert.equal(ok.status, 0, ok.out);
    assert.deepEqual(jpegSize(readFileSync(file)), { width: 320, height: 200 });
    const bad = await runPeer('vncsnapshot', ['-passwd', join(dir, 'bad'), `127.0.0.1:${display}`, join(dir, 'bad.jpg')]);
    assert.notEqual(bad.status, 0, 'refused');
    assert.ok(server.rejected >= 1, 'the server counted the failed login');
  } finally {
    await server.close();
  }
});
