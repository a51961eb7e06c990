// The CL-GD5446 BitBLT engine (CL-GD5446 Technical Reference Manual, "BitBLT Engine"; register
// use as QEMU hw/display/cirrus_vga.c and cirrus_vga_rop*.h implement it, which is what the
// guests' drivers were tested against):
//   GR20/21 width-1 (bytes), GR22/23 height-1, GR24/25 destination pitch, GR26/27 source pitch,
//   GR28-2A destination, GR2C-2E source (VRAM byte addresses), GR2F skip-left (pixels),
//   GR30 mode (backwards, system source, transparency, 8/16/24/32 bpp, pattern, colour expand),
//   GR32 raster operation, GR33 mode extension (solid fill, inverted expansion, dword rows),
//   GR34/35 transparent colour, GR31 start/reset/status, colours in GR0/GR1 and GR10-GR15.
//
// Guest values are hostile: every VRAM address is wrapped to the VRAM size, blits whose
// rectangles run past VRAM (or have a zero pitch) are refused as QEMU refuses them, and the
// work of one blit is bounded (width*height at most the VRAM size) so no blit hangs the
// device model. A refused blit just ends (GR31 reads idle).

import type { VideoMemory } from './vga-memory.js';
import { BLT_BUSY, BLT_FIFOUSED, BLT_RESET, BLT_START, type CirrusRegs } from './cirrus-regs.js';

/** GR30 mode bits. */
export const BLTMODE_BACKWARDS = 0x01;
export const BLTMODE_MEMSYSDEST = 0x02;
export const BLTMODE_MEMSYSSRC = 0x04;
export const BLTMODE_TRANSPARENTCOMP = 0x08;
export const BLTMODE_PIXELWIDTH_SHIFT = 4;
export const BLTMODE_PATTERNCOPY = 0x40;
export const BLTMODE_COLOREXPAND = 0x80;
/** GR33 mode extension bits. */
export const BLTMODEEXT_DWORDGRANULARITY = 0x01;
export const BLTMODEEXT_COLOREXPINV = 0x02;
export const BLTMODEEXT_SOLIDFILL = 0x04;

/** Bytes the host buffers for one line of system-to-screen source (QEMU's CIRRUS_BLTBUFSIZE). */
export const BLT_BUF_SIZE = 8192;

type Rop = (s: number, d: number) => number;

/** The raster operations the 5446 defines (GR32), as byte functions of source and destination. */
export const CIRRUS_ROPS: ReadonlyMap<number, Rop> = new Map<number, Rop>([
  [0x00, () => 0],                          // 0
  [0x05, (s, d) => s & d],                  // S and D
  [0x06, (_s, d) => d],                     // D (no-op)
  [0x09, (s, d) => s & ~d & 0xff],          // S and not D
  [0x0b, (_s, d) => ~d & 0xff],             // not D
  [0x0d, (s) => s],                         // S
  [0x0e, () => 0xff],                       // 1
  [0x50, (s, d) => ~s & d & 0xff],          // not S and D
  [0x59, (s, d) => s ^ d],                  // S xor D
  [0x6d, (s, d) => s | d],                  // S or D
  [0x90, (s, d) => (~s | ~d) & 0xff],       // not S or not D
  [0x95, (s, d) => ~(s ^ d) & 0xff],        // S xnor D
  [0xad, (s, d) => (s | ~d) & 0xff],        // S or not D
  [0xd0, (s) => ~s & 0xff],                 // not S
  [0xd6, (s, d) => (~s | d) & 0xff],        // not S or D
  [0xda, (s, d) => ~(s | d) & 0xff],        // not S and not D
]);
/** An undefined ROP code leaves the destination alone (QEMU maps them to the no-op). */
const ROP_NOP = (_s: number, d: number): number => d;

/** One blit's parameters, latched from the registers when it starts. */
interface Blit {
  width: number;      // bytes per line
  height: number;
  dst: number;
  src: number;
  dstPitch: number;   // signed (negative for backwards blits)
  srcPitch: number;
  mode: number;
  modeExt: number;
  rop: Rop;
  pw: number;         // bytes per pixel
  fg: number[];
  bg: number[];
}

/** The BitBLT engine of one card. */
export class CirrusBlt {
  /** Counts blits run and refused (tests and debugging). */
  completed = 0;
  refused = 0;
  private readonly mask: number;
  private readonly buf = new Uint8Array(BLT_BUF_SIZE);
  /** System-to-screen: bytes of the current source line buffered, and the line's size (0 = idle). */
  private bufFill = 0;
  private bufLen = 0;
  /** Lines still to come from the CPU. */
  private linesLeft = 0;
  private cur: Blit | null = null;

  constructor(private readonly regs: CirrusRegs, private readonly vram: VideoMemory,
    /** Called when a system-to-screen blit starts or ends (the LFB fast path must step aside). */
    private readonly onSystemSource: () => void) {
    const size = vram.bytes.length;
    if ((size & (size - 1)) !== 0) throw new Error('cirrus: VRAM must be a power of two');
    this.mask = size - 1;
  }

  /** True while the CPU is feeding a system-to-screen blit its source. */
  get systemSourceActive(): boolean { return this.bufLen !== 0; }

  /** GR31 was written. */
  control(old: number, value: number): void {
    if ((old & BLT_RESET) !== 0 && (value & BLT_RESET) === 0) this.reset();
    else if ((old & BLT_START) === 0 && (value & BLT_START) !== 0) this.start();
  }

  /** Ends any blit: GR31 reads idle, the system source buffer is dropped. */
  reset(): void {
    this.regs.gr[0x31] = this.regs.gr[0x31]! & ~(BLT_START | BLT_BUSY | BLT_FIFOUSED);
    const wasActive = this.bufLen !== 0;
    this.bufFill = this.bufLen = this.linesLeft = 0;
    this.cur = null;
    if (wasActive) this.onSystemSource();
  }

  /** Starts the blit the registers describe (QEMU cirrus_bitblt_start). */
  start(): void {
    const gr = this.regs.gr;
    if (this.bufLen !== 0) this.reset();
    gr[0x31] = gr[0x31]! | BLT_BUSY;
    const width = (gr[0x20]! | (gr[0x21]! << 8)) + 1;
    const height = (gr[0x22]! | (gr[0x23]! << 8)) + 1;
    const mode = gr[0x30]!;
    const modeExt = gr[0x33]!;
    const pw = ((mode >> BLTMODE_PIXELWIDTH_SHIFT) & 3) + 1;
    const fg = [this.regs.shadowGr1, gr[0x11]!, gr[0x13]!, gr[0x15]!];
    const bg = [this.regs.shadowGr0, gr[0x10]!, gr[0x12]!, gr[0x14]!];
    const b: Blit = {
      width, height, mode, modeExt, pw, fg, bg,
      dst: (gr[0x28]! | (gr[0x29]! << 8) | (gr[0x2a]! << 16)) & this.mask,
      src: (gr[0x2c]! | (gr[0x2d]! << 8) | (gr[0x2e]! << 16)) & this.mask,
      dstPitch: gr[0x24]! | (gr[0x25]! << 8),
      srcPitch: gr[0x26]! | (gr[0x27]! << 8),
      rop: CIRRUS_ROPS.get(gr[0x32]!) ?? ROP_NOP,
    };
    if (!this.run(b)) { this.refused++; this.reset(); }
  }

  /** Sets the blit going; false to refuse it. */
  private run(b: Blit): boolean {
    const { mode } = b;
    // Bound the work: no sensible blit writes more bytes than VRAM holds.
    if (b.width > BLT_BUF_SIZE || b.width * b.height > this.vram.bytes.length) return false;
    if ((mode & BLTMODE_MEMSYSDEST) !== 0) return false; // screen-to-system: not modelled (QEMU neither)
    const expand = (mode & BLTMODE_COLOREXPAND) !== 0;
    const pattern = (mode & BLTMODE_PATTERNCOPY) !== 0;
    if ((b.modeExt & BLTMODEEXT_SOLIDFILL) !== 0 && expand && pattern &&
      (mode & (BLTMODE_MEMSYSSRC | BLTMODE_TRANSPARENTCOMP)) === 0) {
      if (this.unsafe(b.dstPitch, b.dst, b)) return false;
      this.solidFill(b);
      return this.done(b);
    }
    if (!expand && (mode & BLTMODE_TRANSPARENTCOMP) !== 0 && b.pw > 2) return false; // key colour: 8/16 bpp only
    const backwards = !expand && !pattern && (mode & BLTMODE_BACKWARDS) !== 0 && (mode & BLTMODE_MEMSYSSRC) === 0;
    if (backwards) { b.dstPitch = -b.dstPitch; b.srcPitch = -b.srcPitch; }
    if (this.unsafe(b.dstPitch, b.dst, b)) return false;
    if ((mode & BLTMODE_MEMSYSSRC) !== 0) return this.startSystemSource(b);
    if (pattern) {
      // The 8x8 pattern sits aligned in VRAM: 8 bytes of bits, or 8 lines of 8 pixels (32 bytes a line at 24 bpp).
      const size = expand ? 8 : b.pw === 3 ? 256 : 64 * b.pw;
      b.src &= ~(size - 1);
      if (b.src + size > this.vram.bytes.length) return false;
      this.patternOp(b, this.vram.bytes, b.src);
      return this.done(b);
    }
    if (expand) {
      this.expandOp(b, this.vram.bytes, b.src, this.mask, b.height);
      return this.done(b);
    }
    if (this.unsafe(b.srcPitch, b.src, b)) return false;
    this.copyOp(b, this.vram.bytes, b.src, this.mask, b.height, backwards);
    return this.done(b);
  }

  /** QEMU's blit_region_is_unsafe: a zero pitch or a rectangle past either end of VRAM. */
  private unsafe(pitch: number, addr: number, b: Blit): boolean {
    if (pitch === 0) return true;
    const size = this.vram.bytes.length;
    if (pitch < 0) return addr + (b.height - 1) * pitch - b.width < -1 || addr >= size;
    return addr + (b.height - 1) * pitch + b.width > size;
  }

  private done(b: Blit): boolean {
    this.markRows(b, b.dst, b.height);
    this.completed++;
    this.reset();
    return true;
  }

  private markRows(b: Blit, dst: number, rows: number): void {
    const size = this.vram.bytes.length;
    const lo = b.dstPitch < 0 ? dst + (rows - 1) * b.dstPitch - b.width + 1 : dst;
    const hi = b.dstPitch < 0 ? dst + 1 : dst + (rows - 1) * b.dstPitch + b.width;
    const a = Math.max(0, lo), e = Math.min(size, hi);
    if (e > a) this.vram.markDirty(a, e - a);
  }

  // ---- the operations --------------------------------------------------------------------------

  /** Raster operation of a colour (bytes `col`) onto the pixel at `d`. */
  private putPixel(b: Blit, d: number, col: number[]): void {
    const v = this.vram.bytes, m = this.mask;
    for (let i = 0; i < b.pw; i++) {
      const a = (d + i) & m;
      v[a] = b.rop(col[i]!, v[a]!);
    }
  }

  private solidFill(b: Blit): void {
    for (let y = 0; y < b.height; y++) {
      const row = b.dst + y * b.dstPitch;
      for (let x = 0; x + b.pw <= b.width; x += b.pw) this.putPixel(b, row + x, b.fg);
    }
  }

  /** Copies `rows` lines from `src` (in `s`, addresses wrapped by `sMask`), forwards or backwards. */
  private copyOp(b: Blit, s: Uint8Array, src: number, sMask: number, rows: number, backwards: boolean): void {
    const v = this.vram.bytes, m = this.mask, rop = b.rop;
    const transparent = (b.mode & BLTMODE_TRANSPARENTCOMP) !== 0;
    const key = this.regs.gr[0x34]! | (b.pw === 2 ? this.regs.gr[0x35]! << 8 : 0);
    const dir = backwards ? -1 : 1;
    for (let y = 0; y < rows; y++) {
      const drow = b.dst + y * b.dstPitch, srow = src + y * b.srcPitch;
      if (!transparent) {
        for (let x = 0; x < b.width; x++) {
          const d = (drow + dir * x) & m;
          v[d] = rop(s[(srow + dir * x) & sMask]!, v[d]!);
        }
        continue;
      }
      for (let x = 0; x + b.pw <= b.width; x += b.pw) {
        // Backwards, a pixel's bytes are at addresses x+1 and x (from the end).
        const o = backwards ? -(x + b.pw - 1) : x;
        let p = 0;
        for (let i = 0; i < b.pw; i++) p |= s[(srow + o + i) & sMask]! << (8 * i);
        if (p === key) continue;
        for (let i = 0; i < b.pw; i++) {
          const d = (drow + o + i) & m;
          v[d] = rop(s[(srow + o + i) & sMask]!, v[d]!);
        }
      }
    }
  }

  /** Mono source bits (MSB first, lines packed, or `linePitch` bytes a line) expanded to colours. */
  private expandOp(b: Blit, s: Uint8Array, src: number, sMask: number, rows: number, linePitch = 0): void {
    const transparent = (b.mode & BLTMODE_TRANSPARENTCOMP) !== 0;
    const inv = (b.modeExt & BLTMODEEXT_COLOREXPINV) !== 0 ? 0xff : 0;
    const skip = this.regs.gr[0x2f]! & 7;
    let sp = src;
    for (let y = 0; y < rows; y++) {
      if (linePitch !== 0) sp = src + y * linePitch;
      const row = b.dst + y * b.dstPitch;
      let bitmask = 0x80 >> skip;
      let bits = s[sp++ & sMask]! ^ inv;
      for (let x = skip * b.pw; x + b.pw <= b.width; x += b.pw) {
        if (bitmask === 0) { bitmask = 0x80; bits = s[sp++ & sMask]! ^ inv; }
        const on = (bits & bitmask) !== 0;
        if (on) this.putPixel(b, row + x, transparent && inv !== 0 ? b.bg : b.fg);
        else if (!transparent) this.putPixel(b, row + x, b.bg);
        bitmask >>= 1;
      }
    }
  }

  /** An 8x8 pattern (mono bits or pixels at `pat` in `s`) tiled over the destination. */
  private patternOp(b: Blit, s: Uint8Array, pat: number): void {
    const expand = (b.mode & BLTMODE_COLOREXPAND) !== 0;
    const gr2f = this.regs.gr[0x2f]!;
    const sMask = s.length - 1;
    if (expand) {
      const transparent = (b.mode & BLTMODE_TRANSPARENTCOMP) !== 0;
      const inv = (b.modeExt & BLTMODEEXT_COLOREXPINV) !== 0 ? 0xff : 0;
      const skip = gr2f & 7;
      for (let y = 0; y < b.height; y++) {
        const bits = s[(pat + (y & 7)) & sMask]! ^ inv;
        const row = b.dst + y * b.dstPitch;
        let bit = 7 - skip;
        for (let x = skip * b.pw; x + b.pw <= b.width; x += b.pw) {
          const on = ((bits >> bit) & 1) !== 0;
          if (on) this.putPixel(b, row + x, transparent && inv !== 0 ? b.bg : b.fg);
          else if (!transparent) this.putPixel(b, row + x, b.bg);
          bit = (bit - 1) & 7;
        }
      }
      return;
    }
    const v = this.vram.bytes, m = this.mask, rop = b.rop;
    const rowBytes = 8 * b.pw;
    const linePitch = b.pw === 3 ? 32 : rowBytes;
    const skip = b.pw === 3 ? gr2f & 0x1f : (gr2f & 7) * b.pw;
    for (let y = 0; y < b.height; y++) {
      const line = pat + (y & 7) * linePitch;
      const row = b.dst + y * b.dstPitch;
      let px = skip % rowBytes;
      for (let x = skip; x < b.width; x++) {
        const d = (row + x) & m;
        v[d] = rop(s[(line + px) & sMask]!, v[d]!);
        if (++px === rowBytes) px = 0;
      }
    }
  }

  // ---- system-to-screen ------------------------------------------------------------------------

  /** QEMU cirrus_bitblt_cputovideo: the CPU writes the source, a line (or the pattern) at a time. */
  private startSystemSource(b: Blit): boolean {
    const expand = (b.mode & BLTMODE_COLOREXPAND) !== 0;
    let lineLen: number;
    if ((b.mode & BLTMODE_PATTERNCOPY) !== 0) {
      lineLen = expand ? 8 : (b.pw === 3 ? 256 : 64 * b.pw);
      this.linesLeft = 1;
    } else {
      if (expand) {
        const pixels = Math.floor(b.width / b.pw);
        // Dword granularity: each line's bits start on a dword boundary.
        lineLen = (b.modeExt & BLTMODEEXT_DWORDGRANULARITY) !== 0 ? ((pixels + 31) >> 5) * 4 : (pixels + 7) >> 3;
      } else {
        lineLen = (b.width + 3) & ~3; // lines of source always come in whole dwords
      }
      this.linesLeft = b.height;
    }
    if (lineLen === 0 || lineLen > BLT_BUF_SIZE) return false;
    this.cur = b;
    this.bufLen = lineLen;
    this.bufFill = 0;
    this.regs.gr[0x31] = this.regs.gr[0x31]! | BLT_FIFOUSED;
    this.onSystemSource();
    return true;
  }

  /** One byte of source from the CPU (through the window, the LFB or the BitBLT aperture). */
  systemWrite(byte: number): void {
    const b = this.cur;
    if (b === null || this.bufLen === 0) return;
    this.buf[this.bufFill++] = byte & 0xff;
    if (this.bufFill < this.bufLen) return;
    this.bufFill = 0;
    if ((b.mode & BLTMODE_PATTERNCOPY) !== 0) {
      this.patternOp(b, this.buf, 0);
      this.markRows(b, b.dst, b.height);
      this.finish();
      return;
    }
    if ((b.mode & BLTMODE_COLOREXPAND) !== 0) this.expandOp(b, this.buf, 0, BLT_BUF_SIZE - 1, 1);
    else this.copyOp(b, this.buf, 0, BLT_BUF_SIZE - 1, 1, false);
    this.markRows(b, b.dst, 1);
    b.dst = (b.dst + b.dstPitch) & this.mask;
    if (--this.linesLeft <= 0) this.finish();
  }

  private finish(): void {
    this.completed++;
    this.reset();
  }
}
