// FramebufferUpdate bodies for the VNC server (RFC 6143 §7.6.1, §7.7): a CopyRect for rows that
// moved, then Raw rectangles, written straight into one Buffer (no per-rectangle buffers to
// concatenate); and the pieces of a zlib rectangle.

import zlib from 'node:zlib';
import { ENC_COPY_RECT, ENC_RAW, ENC_ZLIB, MSG_FB_UPDATE, type PixelConverter } from './vnc-protocol.js';
import type { Rect, RowMove } from './vnc-scroll.js';

/** zlib level when the client sends no CompressLevel: fast, as the screen changes again in 30 ms. */
export const ZLIB_LEVEL_DEFAULT = 1;

const RECT_HEADER_BYTES = 12;
const COPY_RECT_BYTES = RECT_HEADER_BYTES + 4;

/**
 * A whole FramebufferUpdate: `move` (if any) as a CopyRect `width` pixels wide first, so its
 * source rows are still as the client had them, then `rects` Raw from the `stride`-wide frame.
 * Written into `scratch` when it is big enough (a buffer the socket no longer holds: a fresh
 * 3 MB buffer per frame costs more in page faults than the copy into it).
 */
export function rawUpdate(conv: PixelConverter, src: Uint32Array, stride: number, move: RowMove | null, rects: readonly Rect[],
                          width: number, scratch: Buffer | null = null): Buffer {
  let bytes = 4 + (move !== null ? COPY_RECT_BYTES : 0);
  for (const r of rects) bytes += RECT_HEADER_BYTES + r.w * r.h * conv.bytesPerPixel;
  const out = scratch !== null && scratch.length >= bytes ? scratch.subarray(0, bytes) : Buffer.allocUnsafeSlow(bytes);
  out[0] = MSG_FB_UPDATE;
  out[1] = 0;
  out.writeUInt16BE(rects.length + (move !== null ? 1 : 0), 2);
  let off = 4;
  if (move !== null) {
    off = writeRectHeader(out, off, 0, move.dstY, width, move.h, ENC_COPY_RECT);
    off = out.writeUInt16BE(0, off);
    off = out.writeUInt16BE(move.srcY, off);
  }
  for (const r of rects) {
    off = writeRectHeader(out, off, r.x, r.y, r.w, r.h, ENC_RAW);
    off = conv.rect(src, stride, r.x, r.y, r.w, r.h, out, off);
  }
  return out;
}

/**
 * Each rectangle's pixels in the client's format (what zlib compresses), as views into one
 * buffer: `scratch` when it is big enough and no compression still reads it.
 */
export function rectPixels(conv: PixelConverter, src: Uint32Array, stride: number, rects: readonly Rect[], scratch: Buffer | null): { buffer: Buffer; views: Buffer[] } {
  let bytes = 0;
  for (const r of rects) bytes += r.w * r.h * conv.bytesPerPixel;
  const buf = scratch !== null && scratch.length >= bytes ? scratch : Buffer.allocUnsafeSlow(bytes);
  const views: Buffer[] = [];
  let off = 0;
  for (const r of rects) {
    const end = conv.rect(src, stride, r.x, r.y, r.w, r.h, buf, off);
    views.push(buf.subarray(off, end));
    off = end;
  }
  return { buffer: buf, views };
}

/** A zlib rectangle's header and the length of its compressed data that follows. */
export function zlibRectHeader(r: Rect, zlibBytes: number): Buffer {
  const b = Buffer.allocUnsafe(RECT_HEADER_BYTES + 4);
  writeRectHeader(b, 0, r.x, r.y, r.w, r.h, ENC_ZLIB);
  b.writeUInt32BE(zlibBytes, RECT_HEADER_BYTES);
  return b;
}

/** Compresses `data` on a connection's zlib stream with a sync flush, so the client can decode it at once. */
export function deflateFlushed(d: zlib.Deflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer): void => { chunks.push(c); };
    d.on('data', onData);
    d.write(data);
    d.flush(zlib.constants.Z_SYNC_FLUSH, () => { d.off('data', onData); resolve(Buffer.concat(chunks)); });
  });
}

function writeRectHeader(b: Buffer, off: number, x: number, y: number, w: number, h: number, encoding: number): number {
  b.writeUInt16BE(x, off); b.writeUInt16BE(y, off + 2); b.writeUInt16BE(w, off + 4); b.writeUInt16BE(h, off + 6);
  b.writeInt32BE(encoding, off + 8);
  return off + RECT_HEADER_BYTES;
}
