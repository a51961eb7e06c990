// QMP's input framing: a stream of JSON texts with no required separator, split the way QEMU's
// json-streamer does (qobject/json-streamer.c): a top-level object or array ends when its
// braces balance, strings (double- or QEMU's single-quoted) hide braces, and a 0xFF byte resets
// the parser. Clients differ: socat sends a line per message, python's qemu.qmp sends none.
// Everything the peer controls is bounded: message size, nesting depth.

/** The largest message accepted (QEMU allows 64 MiB; no QMP command here needs more than a path). */
export const QMP_MAX_MESSAGE_BYTES = 1 << 20;
/** The deepest nesting accepted (QEMU's MAX_NESTING). */
export const QMP_MAX_NESTING = 1024;

/** One framed input: a JSON value's text, or a framing error to answer with GenericError. */
export type QmpFrame = { kind: 'json'; text: string } | { kind: 'error'; desc: string };

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
/** Never valid in UTF-8 JSON; QEMU's documented way for a client to reset the parser. */
const RESET_BYTE = 0xff;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Splits a byte stream into JSON texts; feed it chunks with push(). */
export class QmpStreamSplitter {
  private parts: Buffer[] = [];
  private bytes = 0;
  private depth = 0;
  /** 0 outside a string, else the quote byte that opened it. */
  private quote = 0;
  private escape = false;
  /** A top-level bare token (a number, `true`, garbage): answered with an error when it ends. */
  private scalar = false;
  /** After an oversized message: drop bytes up to the next newline, then start afresh. */
  private discarding = false;

  /**
   * Appends the frames completed by `chunk` to `out`, at most `max` of them: it stops right after
   * the `max`-th and returns how many bytes it consumed (the caller pushes the rest later).
   */
  push(chunk: Uint8Array, out: QmpFrame[], max = Infinity): number {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const stopAt = out.length + max;
    let start = this.inMessage() ? 0 : -1;
    let i = 0;
    for (; i < buf.length && out.length < stopAt; i++) {
      const b = buf[i]!;
      if (b === RESET_BYTE) { this.clear(); this.discarding = false; start = -1; continue; }
      if (this.discarding) {
        if (b === NEWLINE) this.discarding = false;
        continue;
      }
      if (start < 0) {
        // Between messages: skip white space; anything else begins one.
        if (isSpace(b)) continue;
        start = i;
        this.bytes = 0;
        if (b === RBRACE || b === RBRACKET) {
          out.push({ kind: 'error', desc: 'JSON parse error, expecting value' });
          start = -1;
          continue;
        }
        if (b !== LBRACE && b !== LBRACKET) this.scalar = true;
      }
      this.bytes++;
      if (this.bytes > QMP_MAX_MESSAGE_BYTES) {
        out.push({ kind: 'error', desc: `JSON parse error, message longer than ${QMP_MAX_MESSAGE_BYTES} bytes` });
        this.clear();
        this.discarding = b !== NEWLINE;
        start = -1;
        continue;
      }
      if (this.quote !== 0) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === this.quote) {
          this.quote = 0;
          if (this.scalar && this.depth === 0) { this.finish(buf, start, i + 1, out); start = -1; }
        }
        continue;
      }
      if (this.scalar) {
        if (b === DQUOTE || b === SQUOTE) {
          // A top-level string: it ends at its closing quote (if it is the token's first byte).
          if (i === start && this.parts.length === 0) { this.quote = b; continue; }
        }
        if (isSpace(b) || b === LBRACE || b === LBRACKET || b === RBRACE || b === RBRACKET) {
          this.finish(buf, start, i, out);
          start = -1;
          // The structural byte that ended the token begins the next message.
          if (!isSpace(b)) i--;
        }
        continue;
      }
      if (b === DQUOTE || b === SQUOTE) { this.quote = b; continue; }
      if (b === LBRACE || b === LBRACKET) {
        if (++this.depth > QMP_MAX_NESTING) {
          out.push({ kind: 'error', desc: `JSON parse error, nesting deeper than ${QMP_MAX_NESTING}` });
          this.clear();
          this.discarding = true;
          start = -1;
        }
        continue;
      }
      if (b === RBRACE || b === RBRACKET) {
        if (--this.depth === 0) { this.finish(buf, start, i + 1, out); start = -1; }
      }
    }
    if (start >= 0 && this.inMessage()) {
      // Copy: the caller's buffer may be reused.
      this.parts.push(Buffer.from(buf.subarray(start, i)));
    }
    return i;
  }

  /** A token still open at the end of the stream (a bare number with no newline after it). */
  end(out: QmpFrame[]): void {
    if (this.scalar && this.quote === 0) this.finish(Buffer.alloc(0), 0, 0, out);
    this.clear();
  }

  private inMessage(): boolean {
    return this.depth > 0 || this.scalar;
  }

  private finish(buf: Buffer, start: number, end: number, out: QmpFrame[]): void {
    const last = buf.subarray(start, end);
    const text = (this.parts.length === 0 ? last : Buffer.concat([...this.parts, last])).toString('utf8');
    const wasScalar = this.scalar;
    this.clear();
    if (!wasScalar) { out.push({ kind: 'json', text }); return; }
    // QEMU parses bare values and then rejects them as not being objects; garbage is a lexer error.
    try {
      JSON.parse(text);
      out.push({ kind: 'json', text });
    } catch {
      out.push({ kind: 'error', desc: `JSON parse error, invalid keyword '${text.slice(0, 64)}'` });
    }
  }

  private clear(): void {
    this.parts = [];
    this.bytes = 0;
    this.depth = 0;
    this.quote = 0;
    this.escape = false;
    this.scalar = false;
  }
}
