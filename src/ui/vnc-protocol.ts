// The RFB protocol's wire formats (RFC 6143): pixel formats and the conversion of hvm's
// 0x00RRGGBB frames into whatever true-colour format a client asked for, the client-to-server
// message framing, and the server's messages. No sockets here: vnc-server.ts does the I/O.

/** RFC 6143 §7.4: a pixel format as sent in ServerInit and SetPixelFormat. */
export interface PixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number; greenMax: number; blueMax: number;
  redShift: number; greenShift: number; blueShift: number;
}

/** The server's own format: 32 bpp little-endian 0x00RRGGBB, i.e. hvm's frame pixels as they are. */
export const SERVER_FORMAT: PixelFormat = {
  bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true,
  redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0,
};

export const PROTOCOL_VERSION = 'RFB 003.008\n';
export const VERSION_BYTES = 12;

// Security types (§7.1.2).
export const SEC_INVALID = 0;
export const SEC_NONE = 1;
export const SEC_VNC_AUTH = 2;
export const SEC_RESULT_OK = 0;
export const SEC_RESULT_FAILED = 1;
export const VNC_CHALLENGE_BYTES = 16;

// Client-to-server message types (§7.5).
export const MSG_SET_PIXEL_FORMAT = 0;
export const MSG_SET_ENCODINGS = 2;
export const MSG_FB_UPDATE_REQUEST = 3;
export const MSG_KEY_EVENT = 4;
export const MSG_POINTER_EVENT = 5;
export const MSG_CLIENT_CUT_TEXT = 6;

// Server-to-client message types (§7.6).
export const MSG_FB_UPDATE = 0;

// Encodings (§7.7, §7.8).
export const ENC_RAW = 0;
export const ENC_COPY_RECT = 1;
export const ENC_ZLIB = 6;
export const ENC_DESKTOP_SIZE = -223;
/** CompressLevel pseudo-encodings -256..-247 (the RFB community specification): zlib level 0..9. */
export const ENC_COMPRESS_LEVEL_0 = -256;

/** Encodings one SetEncodings may list before the client is judged hostile. */
export const MAX_ENCODINGS = 1024;
/** ClientCutText longer than this closes the client (the text is ignored anyway). */
export const MAX_CUT_TEXT = 1 << 20;

/** A parsed client-to-server message. */
export type ClientMessage =
  | { type: 'set-pixel-format'; format: PixelFormat }
  | { type: 'set-encodings'; encodings: number[] }
  | { type: 'update-request'; incremental: boolean; x: number; y: number; w: number; h: number }
  | { type: 'key'; down: boolean; keysym: number }
  | { type: 'pointer'; buttons: number; x: number; y: number }
  | { type: 'cut-text'; length: number };

/** A message that cannot be accepted: the client is closed with this reason. */
export class ProtocolError extends Error {}

/** Reads a pixel format from 16 bytes at `off` (§7.4); throws ProtocolError for a format hvm cannot serve. */
export function parsePixelFormat(b: Buffer, off: number): PixelFormat {
  const bpp = b[off]!;
  if (bpp !== 8 && bpp !== 16 && bpp !== 32) throw new ProtocolError(`unsupported bits-per-pixel ${bpp}`);
  const f: PixelFormat = {
    bitsPerPixel: bpp, depth: b[off + 1]!, bigEndian: b[off + 2]! !== 0, trueColour: b[off + 3]! !== 0,
    redMax: b.readUInt16BE(off + 4), greenMax: b.readUInt16BE(off + 6), blueMax: b.readUInt16BE(off + 8),
    redShift: b[off + 10]!, greenShift: b[off + 11]!, blueShift: b[off + 12]!,
  };
  if (!f.trueColour) throw new ProtocolError('colour-map pixel formats are not supported');
  for (const s of [f.redShift, f.greenShift, f.blueShift]) if (s >= bpp) throw new ProtocolError(`colour shift ${s} outside ${bpp} bits`);
  return f;
}

/** Writes a pixel format as 16 bytes (§7.4). */
export function writePixelFormat(f: PixelFormat, b: Buffer, off: number): void {
  b[off] = f.bitsPerPixel; b[off + 1] = f.depth; b[off + 2] = f.bigEndian ? 1 : 0; b[off + 3] = f.trueColour ? 1 : 0;
  b.writeUInt16BE(f.redMax, off + 4); b.writeUInt16BE(f.greenMax, off + 6); b.writeUInt16BE(f.blueMax, off + 8);
  b[off + 10] = f.redShift; b[off + 11] = f.greenShift; b[off + 12] = f.blueShift;
  b.fill(0, off + 13, off + 16);
}

/**
 * Parses one client message at the start of `b` (normal phase, §7.5). Returns the message and
 * its length, or null when more bytes are needed. Throws ProtocolError for unknown types and
 * hostile sizes.
 */
export function parseClientMessage(b: Buffer): { msg: ClientMessage; bytes: number } | null {
  if (b.length < 1) return null;
  switch (b[0]) {
    case MSG_SET_PIXEL_FORMAT:
      if (b.length < 20) return null;
      return { msg: { type: 'set-pixel-format', format: parsePixelFormat(b, 4) }, bytes: 20 };
    case MSG_SET_ENCODINGS: {
      if (b.length < 4) return null;
      const n = b.readUInt16BE(2);
      if (n > MAX_ENCODINGS) throw new ProtocolError(`SetEncodings lists ${n} encodings`);
      if (b.length < 4 + 4 * n) return null;
      const encodings: number[] = [];
      for (let i = 0; i < n; i++) encodings.push(b.readInt32BE(4 + 4 * i));
      return { msg: { type: 'set-encodings', encodings }, bytes: 4 + 4 * n };
    }
    case MSG_FB_UPDATE_REQUEST:
      if (b.length < 10) return null;
      return {
        msg: { type: 'update-request', incremental: b[1]! !== 0, x: b.readUInt16BE(2), y: b.readUInt16BE(4), w: b.readUInt16BE(6), h: b.readUInt16BE(8) },
        bytes: 10,
      };
    case MSG_KEY_EVENT:
      if (b.length < 8) return null;
      return { msg: { type: 'key', down: b[1]! !== 0, keysym: b.readUInt32BE(4) }, bytes: 8 };
    case MSG_POINTER_EVENT:
      if (b.length < 6) return null;
      return { msg: { type: 'pointer', buttons: b[1]!, x: b.readUInt16BE(2), y: b.readUInt16BE(4) }, bytes: 6 };
    case MSG_CLIENT_CUT_TEXT: {
      if (b.length < 8) return null;
      const length = b.readUInt32BE(4);
      if (length > MAX_CUT_TEXT) throw new ProtocolError(`ClientCutText of ${length} bytes`);
      // The header alone is the message; the text is skipped by the caller as it arrives.
      return { msg: { type: 'cut-text', length }, bytes: 8 };
    }
    default:
      throw new ProtocolError(`unknown message type ${b[0]}`);
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Converts 0x00RRGGBB pixels into one client pixel format, by per-channel lookup tables. */
export class PixelConverter {
  readonly bytesPerPixel: number;
  private readonly r = new Uint32Array(256);
  private readonly g = new Uint32Array(256);
  private readonly b = new Uint32Array(256);
  /** The server format exactly: rows are copied as they are. */
  private readonly identity: boolean;

  constructor(readonly format: PixelFormat) {
    this.bytesPerPixel = format.bitsPerPixel / 8;
    for (let c = 0; c < 256; c++) {
      // Scale 0..255 to 0..max, rounding (so 255 is always max and 0 is 0).
      this.r[c] = (Math.floor((c * format.redMax + 127) / 255) << format.redShift) >>> 0;
      this.g[c] = (Math.floor((c * format.greenMax + 127) / 255) << format.greenShift) >>> 0;
      this.b[c] = (Math.floor((c * format.blueMax + 127) / 255) << format.blueShift) >>> 0;
    }
    const f = format;
    this.identity = f.bitsPerPixel === 32 && !f.bigEndian && f.redMax === 255 && f.greenMax === 255 && f.blueMax === 255
      && f.redShift === 16 && f.greenShift === 8 && f.blueShift === 0;
  }

  /** One pixel value in the client's format (before byte ordering). */
  pixel(rgb: number): number {
    return (this.r[(rgb >>> 16) & 0xff]! | this.g[(rgb >>> 8) & 0xff]! | this.b[rgb & 0xff]!) >>> 0;
  }

  /** Writes the w*h rectangle at (x, y) of a `stride`-wide frame into `out` at `off`; returns the end offset. */
  rect(pixels: Uint32Array, stride: number, x: number, y: number, w: number, h: number, out: Buffer, off: number): number {
    const bpp = this.bytesPerPixel;
    if (this.identity) {
      const src = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
      // Whole rows are one run of memory: one copy.
      if (x === 0 && w === stride) return off + src.copy(out, off, y * stride * 4, (y + h) * stride * 4);
      for (let row = 0; row < h; row++) {
        const start = ((y + row) * stride + x) * 4;
        src.copy(out, off, start, start + w * 4);
        off += w * 4;
      }
      return off;
    }
    const be = this.format.bigEndian;
    if (bpp === 4 && !be && (out.byteOffset + off) % 4 === 0 && LITTLE_ENDIAN_HOST) {
      // 32 bpp in another channel order (BGR, say): whole words through a view, no per-byte writes.
      const o32 = new Uint32Array(out.buffer, out.byteOffset + off, w * h);
      const r = this.r, g = this.g, b = this.b;
      let k = 0;
      for (let row = 0; row < h; row++) {
        for (let i = (y + row) * stride + x, end = i + w; i < end; i++) {
          const p = pixels[i]!;
          o32[k++] = r[(p >>> 16) & 0xff]! | g[(p >>> 8) & 0xff]! | b[p & 0xff]!;
        }
      }
      return off + w * h * 4;
    }
    for (let row = 0; row < h; row++) {
      let i = (y + row) * stride + x;
      for (let col = 0; col < w; col++, i++) {
        const v = this.pixel(pixels[i]!);
        if (bpp === 1) out[off] = v;
        else if (bpp === 2) { if (be) out.writeUInt16BE(v & 0xffff, off); else out.writeUInt16LE(v & 0xffff, off); }
        else if (be) out.writeUInt32BE(v, off); else out.writeUInt32LE(v, off);
        off += bpp;
      }
    }
    return off;
  }
}

/** ServerInit (§7.3.2): size, the server's pixel format, the desktop name. */
export function serverInit(width: number, height: number, name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(24 + n.length);
  b.writeUInt16BE(width, 0);
  b.writeUInt16BE(height, 2);
  writePixelFormat(SERVER_FORMAT, b, 4);
  b.writeUInt32BE(n.length, 20);
  n.copy(b, 24);
  return b;
}

/** A FramebufferUpdate header (§7.6.1) for `rects` rectangles. */
export function updateHeader(rects: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = MSG_FB_UPDATE;
  b.writeUInt16BE(rects, 2);
  return b;
}

/** A rectangle header: position, size, encoding. */
export function rectHeader(x: number, y: number, w: number, h: number, encoding: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(x, 0); b.writeUInt16BE(y, 2); b.writeUInt16BE(w, 4); b.writeUInt16BE(h, 6);
  b.writeInt32BE(encoding, 8);
  return b;
}

/** A failure reason string (u32 length + text), as SecurityResult and the version-3.3 failure send. */
export function reasonString(text: string): Buffer {
  const t = Buffer.from(text, 'utf8');
  const b = Buffer.alloc(4 + t.length);
  b.writeUInt32BE(t.length, 0);
  t.copy(b, 4);
  return b;
}
