// Turns VGA registers and VRAM into pixels (0x00RRGGBB) and, in text modes, text: the
// alphanumeric modes (glyphs from plane 2, 8/9-dot cells, cursor, blink, attributes through
// the attribute palette and the DAC), the 256-colour chain-4 mode (13h), the 16-colour planar
// modes (0Dh-12h), and the linear VBE modes at 8/15/16/24/32 bits per pixel.
//
// Only what changed is redrawn: text cells are compared with what was drawn last, graphics
// lines are redrawn when a VRAM page they read was written; a register or palette change
// redraws everything.

import type { Clock } from '../api.js';
import { CP437 } from './cp437.js';
import { VRAM_PAGE, type VideoMemory } from './vga-memory.js';
import {
  AR10_BLINK, AR10_LINE_GRAPHICS, AR10_P54_SELECT, AR_COLOR_SELECT, AR_MODE_CONTROL, AR_PLANE_ENABLE,
  CR09_DOUBLE_SCAN, CR0A_CURSOR_OFF, CR_CURSOR_END, CR_CURSOR_HI, CR_CURSOR_LO, CR_CURSOR_START, CR_H_DISPLAY_END,
  CR_MAX_SCAN_LINE, CR_OFFSET, CR_OVERFLOW, CR_START_ADDR_HI, CR_START_ADDR_LO, CR_V_DISPLAY_END, GR05_SHIFT_256,
  GR06_GRAPHICS, GR_MISC, GR_MODE, SR01_DOT8, SR_CHAR_MAP_SELECT, SR_CLOCKING_MODE, type VgaRegs,
} from './vga-regs.js';

/** A linear (VBE) mode as the card's DISPI registers describe it. */
export interface LinearMode {
  width: number;
  height: number;
  /** 8, 15, 16, 24 or 32. */
  bpp: number;
  /** Bytes from one line to the next. */
  pitch: number;
  /** VRAM byte of the top-left visible pixel. */
  start: number;
  /** The DAC holds 8-bit values (VBE's 8-bit DAC switch) instead of 6-bit. */
  dac8: boolean;
}

/** One refresh's result, in the shape of the 'display-frame' message. */
export interface RenderResult {
  width: number;
  height: number;
  surface: SharedArrayBuffer;
  rects: number[];
  text: string | null;
}

/** Limits that keep a hostile register setting from asking for a huge surface. */
const MAX_WIDTH = 4096;
const MAX_HEIGHT = 4096;
/** A VGA shows at most 1024 scan lines; with 8-line characters that is 128 rows (cap the text it costs). */
const MAX_TEXT_ROWS = 128;
/** Font map select values 0-7 -> plane 2 offsets (IBM VGA, Character Map Select register). */
const FONT_OFFSETS = [0x0000, 0x4000, 0x8000, 0xc000, 0x2000, 0x6000, 0xa000, 0xe000];
/** A plane holds 64 KiB on a VGA; text and font addresses wrap there. */
const PLANE_MASK = 0xffff;
/** Cursor blinks every 16 frames, characters every 32, at about 60 Hz. */
const CURSOR_BLINK_MS = 267;
const CHAR_BLINK_MS = 533;

/** The renderer of one VGA. */
export class VgaRenderer {
  private width = 0;
  private height = 0;
  private surface = new SharedArrayBuffer(0);
  private pixels: Uint32Array = new Uint32Array(new SharedArrayBuffer(0));
  private readonly dirtyPages: Uint8Array;
  private modeGen = -1;
  private paletteGen = -1;
  private fontGen = -1;
  private geometry = '';
  /** What each text cell showed when last drawn (char | attr << 8 | cursor/blink flags), -1 unknown. */
  private cells = new Int32Array(0);
  /** DAC entries as 0x00RRGGBB. */
  private readonly palette = new Uint32Array(256);
  /** The 16 attribute colours through the attribute controller and the DAC. */
  private readonly palette16 = new Uint32Array(16);
  private readonly changedLines = new Uint8Array(MAX_HEIGHT);

  constructor(private readonly regs: VgaRegs, private readonly vram: VideoMemory, private readonly clock: Clock,
    /** Counts writes that reached plane 2 (fonts) through the legacy window. */
    private readonly fontWrites: () => number) {
    this.dirtyPages = new Uint8Array(Math.ceil(vram.bytes.length / VRAM_PAGE));
  }

  /** Draws what changed since the last call (everything when `full`). `linear` is the VBE mode, if enabled. */
  render(full: boolean, linear: LinearMode | null): RenderResult {
    const anyDirty = this.vram.takeDirty(this.dirtyPages);
    const regs = this.regs;
    const paletteChanged = regs.paletteGeneration !== this.paletteGen;
    if (regs.paletteGeneration !== this.paletteGen) { this.updatePalette(linear?.dac8 ?? false); this.paletteGen = regs.paletteGeneration; }
    let redrawAll = full || paletteChanged || regs.modeGeneration !== this.modeGen;
    this.modeGen = regs.modeGeneration;
    if (linear !== null) {
      if (linear.dac8 !== this.dac8) { this.updatePalette(linear.dac8); redrawAll = true; }
      return this.renderLinear(linear, redrawAll, anyDirty);
    }
    if (this.dac8) { this.updatePalette(false); redrawAll = true; }
    if (!regs.screenEnabled) return this.renderBlank(redrawAll);
    if ((regs.gr[GR_MISC]! & GR06_GRAPHICS) === 0) return this.renderText(redrawAll);
    return this.renderGraphics(redrawAll, anyDirty);
  }

  private dac8 = false;

  private updatePalette(dac8: boolean): void {
    this.dac8 = dac8;
    const d = this.regs.dac;
    for (let i = 0; i < 256; i++) {
      let r = d[i * 3]!, g = d[i * 3 + 1]!, b = d[i * 3 + 2]!;
      if (!dac8) { r = dac6to8(r); g = dac6to8(g); b = dac6to8(b); }
      this.palette[i] = (r << 16) | (g << 8) | b;
    }
    const ar = this.regs.ar;
    const mode = ar[AR_MODE_CONTROL]!;
    const sel = ar[AR_COLOR_SELECT]!;
    for (let c = 0; c < 16; c++) {
      let idx = ar[c]! & 0x3f;
      if ((mode & AR10_P54_SELECT) !== 0) idx = (idx & 0x0f) | ((sel & 0x03) << 4);
      idx |= (sel & 0x0c) << 4;
      this.palette16[c] = this.palette[idx & this.regs.pelMask]!;
    }
  }

  /** Makes the surface `w`x`h`; true when it is new (then everything is redrawn). */
  private resize(w: number, h: number, key: string): boolean {
    if (w === this.width && h === this.height && key === this.geometry) return false;
    if (w !== this.width || h !== this.height) {
      this.width = w;
      this.height = h;
      this.surface = new SharedArrayBuffer(w * h * 4);
      this.pixels = new Uint32Array(this.surface);
    }
    this.geometry = key;
    this.cells = new Int32Array(0);
    return true;
  }

  private result(rects: number[], text: string | null): RenderResult {
    return { width: this.width, height: this.height, surface: this.surface, rects, text };
  }

  private renderBlank(redrawAll: boolean): RenderResult {
    const w = this.width > 0 ? this.width : 640, h = this.height > 0 ? this.height : 480;
    const fresh = this.resize(w, h, 'blank');
    if (!fresh && !redrawAll) return this.result([], null);
    this.pixels.fill(0);
    return this.result([0, 0, w, h], null);
  }

  // ---- text modes ----------------------------------------------------------------------------

  private renderText(redrawAll: boolean): RenderResult {
    const regs = this.regs;
    const cr = regs.cr;
    const cols = cr[CR_H_DISPLAY_END]! + 1;
    const cw = (regs.sr[SR_CLOCKING_MODE]! & SR01_DOT8) !== 0 ? 8 : 9;
    const ch = (cr[CR_MAX_SCAN_LINE]! & 0x1f) + 1;
    const scan = verticalDisplayEnd(cr) / ((cr[CR_MAX_SCAN_LINE]! & CR09_DOUBLE_SCAN) !== 0 ? 2 : 1);
    const rows = Math.max(1, Math.min(Math.floor(scan / ch), Math.floor(MAX_HEIGHT / ch), MAX_TEXT_ROWS));
    const visibleCols = Math.min(cols, Math.floor(MAX_WIDTH / cw));
    const w = visibleCols * cw, h = rows * ch;
    const fresh = this.resize(w, h, `t${cols}x${rows}x${cw}x${ch}`);
    const fontGen = this.fontWrites();
    if (fresh || redrawAll || fontGen !== this.fontGen || this.cells.length !== visibleCols * rows) {
      this.cells = new Int32Array(visibleCols * rows).fill(-1);
    }
    this.fontGen = fontGen;
    const vram = this.vram.bytes;
    const start = (cr[CR_START_ADDR_HI]! << 8) | cr[CR_START_ADDR_LO]!;
    const lineOffset = cr[CR_OFFSET]! * 2;
    const cursor = (cr[CR_CURSOR_HI]! << 8) | cr[CR_CURSOR_LO]!;
    const cursorOn = (cr[CR_CURSOR_START]! & CR0A_CURSOR_OFF) === 0;
    const now = this.clock.monotonicMs();
    const cursorPhase = Math.floor(now / CURSOR_BLINK_MS) & 1;
    const charPhase = Math.floor(now / CHAR_BLINK_MS) & 1;
    const arMode = regs.ar[AR_MODE_CONTROL]!;
    const blinkEnabled = (arMode & AR10_BLINK) !== 0;
    const lineGraphics = (arMode & AR10_LINE_GRAPHICS) !== 0;
    const sr3 = regs.sr[SR_CHAR_MAP_SELECT]!;
    const fontA = FONT_OFFSETS[((sr3 >> 2) & 3) | ((sr3 >> 3) & 4)]!;
    const fontB = FONT_OFFSETS[(sr3 & 3) | ((sr3 >> 2) & 4)]!;
    const curStart = cr[CR_CURSOR_START]! & 0x1f, curEnd = cr[CR_CURSOR_END]! & 0x1f;
    const lines: string[] = [];
    const rects: number[] = [];
    const pal = this.palette16;
    const px = this.pixels;
    for (let row = 0; row < rows; row++) {
      let line = '';
      let minCol = -1, maxCol = -1;
      for (let col = 0; col < visibleCols; col++) {
        const addr = (start + row * lineOffset + col) & PLANE_MASK;
        const c = vram[addr * 4] ?? 0;
        const attr = vram[addr * 4 + 1] ?? 0;
        line += CP437[c]!;
        const hasCursor = cursorOn && addr === (cursor & PLANE_MASK) && cursorPhase === 1 ? 1 : 0;
        const blinkOff = blinkEnabled && (attr & 0x80) !== 0 && charPhase === 0 ? 1 : 0;
        const key = c | (attr << 8) | (hasCursor << 16) | (blinkOff << 17);
        const i = row * visibleCols + col;
        if (this.cells[i] === key) continue;
        this.cells[i] = key;
        if (minCol < 0) minCol = col;
        maxCol = col;
        const fg = pal[blinkOff === 1 ? (attr >> 4) & 7 : attr & 0xf]!;
        const bg = pal[blinkEnabled ? (attr >> 4) & 7 : attr >> 4]!;
        const font = (attr & 0x08) !== 0 ? fontA : fontB;
        const x0 = col * cw, y0 = row * ch;
        for (let y = 0; y < ch; y++) {
          let bits = vram[(((font + c * 32 + y) & PLANE_MASK) << 2) + 2] ?? 0;
          const cursorLine = hasCursor === 1 && y >= curStart && y <= curEnd;
          if (cursorLine) bits = 0xff;
          let o = (y0 + y) * w + x0;
          for (let b = 0x80; b !== 0; b >>= 1) px[o++] = (bits & b) !== 0 ? fg : bg;
          // The 9th dot is background, except that line-drawing characters (and the cursor) extend into it.
          if (cw === 9) px[o] = cursorLine || (lineGraphics && c >= 0xc0 && c <= 0xdf && (bits & 1) !== 0) ? fg : bg;
        }
      }
      lines.push(line.trimEnd());
      if (minCol >= 0) rects.push(minCol * cw, row * ch, (maxCol - minCol + 1) * cw, ch);
    }
    return this.result(rects, lines.join('\n'));
  }

  // ---- planar and chain-4 graphics modes -----------------------------------------------------

  private renderGraphics(redrawAll: boolean, anyDirty: boolean): RenderResult {
    const regs = this.regs;
    const cr = regs.cr;
    const is256 = (regs.gr[GR_MODE]! & GR05_SHIFT_256) !== 0;
    const w = Math.min(MAX_WIDTH, (cr[CR_H_DISPLAY_END]! + 1) * (is256 ? 4 : 8));
    const scanPerLine = ((cr[CR_MAX_SCAN_LINE]! & 0x1f) + 1) * ((cr[CR_MAX_SCAN_LINE]! & CR09_DOUBLE_SCAN) !== 0 ? 2 : 1);
    const h = Math.max(1, Math.min(MAX_HEIGHT, Math.floor(verticalDisplayEnd(cr) / scanPerLine)));
    const fresh = this.resize(w, h, `g${is256 ? 8 : 4}`);
    const all = fresh || redrawAll;
    if (!all && !anyDirty) return this.result([], null);
    const vram = this.vram.bytes;
    const start = ((cr[CR_START_ADDR_HI]! << 8) | cr[CR_START_ADDR_LO]!) << 2;
    const lineOffset = cr[CR_OFFSET]! << 3;
    const bytesPerLine = is256 ? w : w / 2; // interleaved VRAM bytes a line reads
    const px = this.pixels;
    const planeEnable = regs.ar[AR_PLANE_ENABLE]! & 0xf;
    const pal = is256 ? this.palette : this.palette16;
    this.changedLines.fill(0, 0, h);
    for (let y = 0; y < h; y++) {
      const lineStart = start + y * lineOffset;
      if (!all && !this.rangeDirty(lineStart, bytesPerLine)) continue;
      this.changedLines[y] = 1;
      let o = y * w;
      if (is256) {
        for (let x = 0; x < w; x++) px[o++] = pal[(vram[(lineStart + x) % vram.length] ?? 0) & regs.pelMask]!;
      } else {
        for (let n = 0; n < w / 8; n++) {
          const a = (lineStart + n * 4) % vram.length;
          const p0 = vram[a] ?? 0, p1 = vram[a + 1] ?? 0, p2 = vram[a + 2] ?? 0, p3 = vram[a + 3] ?? 0;
          for (let bit = 7; bit >= 0; bit--) {
            const c = (((p0 >> bit) & 1) | (((p1 >> bit) & 1) << 1) | (((p2 >> bit) & 1) << 2) | (((p3 >> bit) & 1) << 3)) & planeEnable;
            px[o++] = pal[c]!;
          }
        }
      }
    }
    return this.result(this.lineRects(h, w), null);
  }

  // ---- linear VBE modes ----------------------------------------------------------------------

  private renderLinear(m: LinearMode, redrawAll: boolean, anyDirty: boolean): RenderResult {
    const w = Math.max(1, Math.min(MAX_WIDTH, m.width)), h = Math.max(1, Math.min(MAX_HEIGHT, m.height));
    const fresh = this.resize(w, h, `l${m.bpp}`);
    const all = fresh || redrawAll;
    if (!all && !anyDirty) return this.result([], null);
    const vram = this.vram.bytes;
    const bytespp = (m.bpp + 7) >> 3;
    const lineBytes = m.bpp === 4 ? ((w + 7) >> 3) << 2 : w * bytespp;
    const px = this.pixels;
    const pal = this.palette;
    this.changedLines.fill(0, 0, h);
    for (let y = 0; y < h; y++) {
      const ls = m.start + y * m.pitch;
      if (!all && !this.rangeDirty(ls, lineBytes)) continue;
      this.changedLines[y] = 1;
      let o = y * w;
      if (ls < 0 || ls + lineBytes > vram.length) { px.fill(0, o, o + w); continue; }
      switch (m.bpp) {
        case 4: {
          // Planar: each 4-byte group holds bit planes 0-3 of eight pixels, through the attribute palette.
          const pal16 = this.palette16;
          const planeEnable = this.regs.ar[AR_PLANE_ENABLE]! & 0xf;
          for (let x = 0; x < w; x++) {
            const a = ls + ((x >> 3) << 2);
            const bit = 7 - (x & 7);
            const c = ((vram[a]! >> bit) & 1) | (((vram[a + 1]! >> bit) & 1) << 1) | (((vram[a + 2]! >> bit) & 1) << 2) | (((vram[a + 3]! >> bit) & 1) << 3);
            px[o++] = pal16[c & planeEnable]!;
          }
          break;
        }
        case 8:
          for (let x = 0; x < w; x++) px[o++] = pal[vram[ls + x]!]!;
          break;
        case 15:
          for (let x = 0, a = ls; x < w; x++, a += 2) {
            const v = vram[a]! | (vram[a + 1]! << 8);
            px[o++] = (expand5((v >> 10) & 31) << 16) | (expand5((v >> 5) & 31) << 8) | expand5(v & 31);
          }
          break;
        case 16:
          for (let x = 0, a = ls; x < w; x++, a += 2) {
            const v = vram[a]! | (vram[a + 1]! << 8);
            px[o++] = (expand5((v >> 11) & 31) << 16) | (expand6((v >> 5) & 63) << 8) | expand5(v & 31);
          }
          break;
        case 24:
          for (let x = 0, a = ls; x < w; x++, a += 3) px[o++] = (vram[a + 2]! << 16) | (vram[a + 1]! << 8) | vram[a]!;
          break;
        case 32:
          for (let x = 0, a = ls; x < w; x++, a += 4) px[o++] = (vram[a + 2]! << 16) | (vram[a + 1]! << 8) | vram[a]!;
          break;
        default:
          px.fill(0, o, o + w);
      }
    }
    return this.result(this.lineRects(h, w), null);
  }

  /** True when a page of [start, start+len) in VRAM was written. */
  private rangeDirty(start: number, len: number): boolean {
    if (len <= 0) return false;
    const size = this.vram.bytes.length;
    const s = ((start % size) + size) % size;
    const first = Math.floor(s / VRAM_PAGE);
    const last = Math.floor(Math.min(size - 1, s + len - 1) / VRAM_PAGE);
    for (let p = first; p <= last; p++) if (this.dirtyPages[p] === 1) return true;
    // A line that wraps past the end of VRAM continues at the start.
    if (s + len > size) return this.rangeDirty(0, s + len - size);
    return false;
  }

  /** Runs of changed lines as full-width rectangles. */
  private lineRects(h: number, w: number): number[] {
    const rects: number[] = [];
    for (let y = 0; y < h;) {
      if (this.changedLines[y] === 0) { y++; continue; }
      const y0 = y;
      while (y < h && this.changedLines[y] === 1) y++;
      rects.push(0, y0, w, y - y0);
    }
    return rects;
  }
}

/** The CRTC's vertical display end (CR12 with its overflow bits 8 and 9 in CR7) plus one. */
function verticalDisplayEnd(cr: Uint8Array): number {
  const ov = cr[CR_OVERFLOW]!;
  return (cr[CR_V_DISPLAY_END]! | ((ov & 0x02) << 7) | ((ov & 0x40) << 3)) + 1;
}

/** A 6-bit DAC value as 8 bits, the way QEMU widens it (its low bit fills the two new ones), so frames match QEMU's. */
function dac6to8(v: number): number {
  const x = v & 0x3f;
  return (x << 2) | ((x & 1) * 3);
}

function expand5(v: number): number { return (v << 3) | (v >> 2); }
function expand6(v: number): number { return (v << 2) | (v >> 4); }
