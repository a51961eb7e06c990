// CopyRect for the VNC server (RFC 6143 §7.7.2): what one client's framebuffer holds, and the
// search for a vertical move between it and the new frame. A console that scrolls (fbcon
// printing `dmesg`) rewrites every row of the screen with the row some lines below; sending
// that as one CopyRect plus the new lines costs a few hundred bytes instead of a screen.
//
// The shadow is an exact copy of the pixels the client was sent (in the server's 0x00RRGGBB
// format), so a band is sent as a copy only after comparing it pixel for pixel: after applying
// the update, the client's framebuffer equals the frame. Row hashes only pick candidates; they
// sample a fixed set of columns, so equal rows always hash equal and a collision costs one
// comparison, never a wrong pixel. The same copy tells which redrawn rows did not change
// (changedParts), and the rectangle arithmetic the server uses lives here too.

/** A rectangle in framebuffer pixels. */
export interface Rect { x: number; y: number; w: number; h: number }

/** A vertical move: rows [srcY, srcY+h) of the client's framebuffer go to [dstY, dstY+h). */
export interface RowMove { srcY: number; dstY: number; h: number }

/** Columns sampled per row hash. */
const HASH_SAMPLES = 256;
/** Rows of a band below which a copy is not worth a rectangle (one text line of the 8x16 font is 16). */
export const MIN_MOVE_ROWS = 8;
/** A row hash seen more often than this in the shadow (blank lines) casts no vote. */
const MAX_HASH_REPEATS = 4;
/** Candidate distances verified pixel for pixel, best-voted first. */
const MAX_CANDIDATES = 3;
/** Dirty rows sampled before deciding a full search is worth it. */
const PROBE_ROWS = 24;

/** The client's framebuffer as hvm sent it. */
export class ClientShadow {
  readonly pixels: Uint32Array;
  /** Rows whose every pixel the client was sent (only these may be a copy's source). */
  readonly known: Uint8Array;
  /** Sampled hash of each shadow row. */
  readonly hashes: Int32Array;
  private readonly columns: Uint32Array;
  private readonly bytes: Buffer;

  constructor(readonly width: number, readonly height: number) {
    this.pixels = new Uint32Array(width * height);
    this.known = new Uint8Array(height);
    this.hashes = new Int32Array(height);
    this.columns = sampleColumns(width);
    this.bytes = Buffer.from(this.pixels.buffer, this.pixels.byteOffset, this.pixels.byteLength);
    for (let y = 0; y < height; y++) this.hashes[y] = rowHash(this.pixels, y * width, this.columns);
  }

  /** Forgets what the client holds (a new pixel format: its pixels are no longer ours to copy). */
  forget(): void { this.known.fill(0); }

  /** Records that rectangle r (inside this shadow) of a `stride`-wide frame was sent. */
  store(frame: Uint32Array, stride: number, r: Rect): void {
    const w = this.width;
    // Whole rows of a same-width frame are one run of memory: one copy.
    const whole = r.x === 0 && r.w === w && stride === w;
    if (whole) this.pixels.set(frame.subarray(r.y * w, (r.y + r.h) * w), r.y * w);
    for (let y = r.y; y < r.y + r.h; y++) {
      if (!whole) this.pixels.set(frame.subarray(y * stride + r.x, y * stride + r.x + r.w), y * w + r.x);
      this.hashes[y] = rowHash(this.pixels, y * w, this.columns);
    }
    if (r.x === 0 && r.w === w) this.known.fill(1, r.y, r.y + r.h);
  }

  /**
   * The parts of `rects` (runs of rows) whose pixels in the `stride`-wide frame differ from
   * what the client holds; rows it was never wholly sent count as different.
   */
  changedParts(frame: Uint32Array, stride: number, rects: readonly Rect[]): Rect[] {
    const w = this.width;
    const src = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const out: Rect[] = [];
    for (const r of rects) {
      let start = -1;
      for (let y = r.y; y <= r.y + r.h; y++) {
        const differs = y < r.y + r.h && (this.known[y] === 0
          || src.compare(this.bytes, (y * w + r.x) * 4, (y * w + r.x + r.w) * 4, (y * stride + r.x) * 4, (y * stride + r.x + r.w) * 4) !== 0);
        if (differs) { if (start < 0) start = y; continue; }
        if (start >= 0) out.push({ x: r.x, y: start, w: r.w, h: y - start });
        start = -1;
      }
    }
    return out;
  }

  /** Applies a move as the client does (overlapping source and destination allowed). */
  move(m: RowMove): void {
    const w = this.width;
    this.pixels.copyWithin(m.dstY * w, m.srcY * w, (m.srcY + m.h) * w);
    this.hashes.copyWithin(m.dstY, m.srcY, m.srcY + m.h);
    this.known.copyWithin(m.dstY, m.srcY, m.srcY + m.h);
  }

  /**
   * Finds the longest band of rows in [y0, y1) of `frame` that equals the shadow's rows some
   * distance away, or null when no band of MIN_MOVE_ROWS rows does.
   */
  findMove(frame: Uint32Array, y0: number, y1: number): RowMove | null {
    if (y1 - y0 < MIN_MOVE_ROWS) return null;
    const w = this.width;
    const cols = this.columns;
    // Shadow rows by hash (known rows only; repeated hashes are noise).
    const rowsByHash = new Map<number, number[]>();
    for (let y = 0; y < this.height; y++) {
      if (this.known[y] === 0) continue;
      const h = this.hashes[y]!;
      const list = rowsByHash.get(h);
      if (list === undefined) rowsByHash.set(h, [y]);
      else if (list.length <= MAX_HASH_REPEATS) list.push(y);
    }
    const votes = new Map<number, number>();
    const vote = (y: number, h: number): void => {
      const list = rowsByHash.get(h);
      if (list === undefined || list.length > MAX_HASH_REPEATS) return;
      for (const from of list) if (from !== y) votes.set(from - y, (votes.get(from - y) ?? 0) + 1);
    };
    // A cheap probe first: a redraw with new content (a video, the benchmark's fills) matches
    // nothing and costs PROBE_ROWS hashes.
    const newHashes = new Int32Array(y1 - y0);
    const step = Math.max(1, Math.floor((y1 - y0) / PROBE_ROWS));
    for (let y = y0; y < y1; y += step) {
      const h = rowHash(frame, y * w, cols);
      newHashes[y - y0] = h;
      if (h !== this.hashes[y]) vote(y, h);
    }
    if (votes.size === 0) return null;
    votes.clear();
    for (let y = y0; y < y1; y++) {
      const h = (y - y0) % step === 0 ? newHashes[y - y0]! : rowHash(frame, y * w, cols);
      newHashes[y - y0] = h;
      if (h !== this.hashes[y]) vote(y, h);
    }
    const candidates = [...votes].sort((a, b) => b[1] - a[1]).slice(0, MAX_CANDIDATES);
    const src = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    let best: RowMove | null = null;
    for (const [dy] of candidates) {
      // The longest run of rows equal to the shadow dy rows away, pixel for pixel.
      let runStart = -1;
      for (let y = y0; y <= y1; y++) {
        const from = y + dy;
        const ok = y < y1 && from >= 0 && from < this.height && this.known[from] === 1 && newHashes[y - y0] === this.hashes[from]
          && src.compare(this.bytes, from * w * 4, (from + 1) * w * 4, y * w * 4, (y + 1) * w * 4) === 0;
        if (ok) { if (runStart < 0) runStart = y; continue; }
        if (runStart >= 0 && y - runStart >= MIN_MOVE_ROWS && (best === null || y - runStart > best.h)) {
          best = { srcY: runStart + dy, dstY: runStart, h: y - runStart };
        }
        runStart = -1;
      }
    }
    return best;
  }
}

/** The rectangles of `rects` outside rows [y0, y1). */
export function withoutRows(rects: readonly Rect[], y0: number, y1: number): Rect[] {
  const out: Rect[] = [];
  for (const r of rects) {
    if (r.y + r.h <= y0 || r.y >= y1) { out.push(r); continue; }
    if (r.y < y0) out.push({ x: r.x, y: r.y, w: r.w, h: y0 - r.y });
    if (r.y + r.h > y1) out.push({ x: r.x, y: y1, w: r.w, h: r.y + r.h - y1 });
  }
  return out;
}

/** The overlap of two rectangles, or null. */
export function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.w, b.x + b.w);
  const y2 = Math.min(a.y + a.h, b.y + b.h);
  return x2 > x && y2 > y ? { x, y, w: x2 - x, h: y2 - y } : null;
}

/** True when r lies wholly inside outer. */
export function contains(outer: Rect, r: Rect): boolean {
  return r.x >= outer.x && r.y >= outer.y && r.x + r.w <= outer.x + outer.w && r.y + r.h <= outer.y + outer.h;
}

/** The bounding box of rectangles. */
export function bounds(rs: readonly Rect[]): Rect {
  let x = Infinity; let y = Infinity; let x2 = -Infinity; let y2 = -Infinity;
  for (const r of rs) { x = Math.min(x, r.x); y = Math.min(y, r.y); x2 = Math.max(x2, r.x + r.w); y2 = Math.max(y2, r.y + r.h); }
  return { x, y, w: x2 - x, h: y2 - y };
}

/** HASH_SAMPLES columns spread over the row (all of them in a narrow frame), the same for every row. */
function sampleColumns(width: number): Uint32Array {
  if (width <= HASH_SAMPLES) return Uint32Array.from({ length: width }, (_, i) => i);
  // An odd stride walks columns of every residue of a glyph cell (8 or 9 pixels wide), so a
  // short line of text still changes its rows' hashes.
  const cols = new Uint32Array(HASH_SAMPLES);
  const stride = (Math.floor(width / HASH_SAMPLES) | 1);
  for (let i = 0; i < HASH_SAMPLES; i++) cols[i] = (i * stride + (i >> 3)) % width;
  return cols;
}

/** FNV-1a over the sampled pixels of the row starting at `at`. */
function rowHash(p: Uint32Array, at: number, cols: Uint32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < cols.length; i++) h = Math.imul(h ^ p[at + cols[i]!]!, 0x01000193);
  return h;
}
