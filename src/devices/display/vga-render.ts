// Turns VGA registers and VRAM into pixels (0x00RRGGBB) and, in text modes, text: the
// alphanumeric modes (glyphs from plane 2, 8/9-dot cells, cursor, blink, attributes through
// the attribute palette and the DAC), the CGA-compatible modes 4/5 (2-bit interleaved pixels)
// and 6, the 16-colour planar modes (0Dh-12h), the 256-colour chain-4 mode (13h), and the
// linear VBE modes at 4/8/15/16/24/32 bits per pixel. In the VGA modes the start address, byte
// and pel panning, the preset row scan, the CGA/Hercules bank interleave and the line compare
// split are honoured (frames equal QEMU's screendumps where QEMU draws these: see
// test/guest/vga-qemu-peer.test.ts).
//
// Only what changed is redrawn: text cells are compared with what was drawn last, graphics
// lines are redrawn when a VRAM page they read was written or they now read elsewhere; a
// register or palette change redraws everything.

import type { Clock } from '../api.js';
import { CP437 } from './cp437.js';
import { VRAM_PAGE, type VideoMemory } from './vga-memory.js';
import {
  AR10_BLINK, AR10_LINE_GRAPHICS, AR10_P54_SELECT, AR10_PIXEL_PANNING, AR_COLOR_SELECT, AR_H_PEL_PANNING, AR_MODE_CONTROL,
  AR_PLANE_ENABLE, CR09_DOUBLE_SCAN, CR0A_CURSOR_OFF, CR17_BYTE_MODE, CR17_COMPAT_CGA, CR17_COMPAT_HERCULES, CR_CURSOR_END,
  CR_CURSOR_HI, CR_CURSOR_LO, CR_CURSOR_START, CR_H_DISPLAY_END, CR_LINE_COMPARE, CR_MAX_SCAN_LINE, CR_MODE_CONTROL, CR_OFFSET,
  CR_OVERFLOW, CR_PRESET_ROW_SCAN, CR_START_ADDR_HI, CR_START_ADDR_LO, CR_V_DISPLAY_END, GR06_GRAPHICS, GR_MISC, GR_MODE,
  SR01_DOT8, SR_CHAR_MAP_SELECT, SR_CLOCKING_MODE, type VgaRegs,
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
    // Byte panning (CR08 bits 6-5) moves the start by whole characters.
    const startAt = startAddress(cr) + ((cr[CR_PRESET_ROW_SCAN]! >> 5) & 3);
    const lineOffset = cr[CR_OFFSET]! * 2;
    const lc = lineCompare(cr);
    let rowStart = startAt;
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
    // Horizontal pel panning (AR13, FreeVGA's table: in 9-dot cells 8 means none and 0-7 shift
    // 1-8 dots) and the preset row scan (CR08 bits 4-0) move the whole character grid left and
    // up; while either is set, every cell is drawn (one more column and row fill the edges).
    const pel = regs.ar[AR_H_PEL_PANNING]!;
    const panX = cw === 9 ? (pel === 8 || pel > 8 ? 0 : pel + 1) : (pel < 8 ? pel : 0);
    const panY = Math.min(cr[CR_PRESET_ROW_SCAN]! & 0x1f, ch - 1);
    const shifted = panX !== 0 || panY !== 0;
    if (shifted || this.textShifted) this.cells.fill(-1);
    this.textShifted = shifted;
    const panReset = (arMode & AR10_PIXEL_PANNING) !== 0;
    let rowPanX = panX;
    const lines: string[] = [];
    const rects: number[] = [];
    const pal = this.palette16;
    const cell = { cw, ch, w, h, curStart, curEnd, lineGraphics };
    for (let row = 0; row < rows + (shifted ? 1 : 0); row++) {
      let line = '';
      let minCol = -1, maxCol = -1;
      for (let col = 0; col < visibleCols + (shifted ? 1 : 0); col++) {
        const addr = (rowStart + col) & PLANE_MASK;
        const c = vram[addr * 4] ?? 0;
        const attr = vram[addr * 4 + 1] ?? 0;
        const hasCursor = cursorOn && addr === (cursor & PLANE_MASK) && cursorPhase === 1 ? 1 : 0;
        const blinkOff = blinkEnabled && (attr & 0x80) !== 0 && charPhase === 0 ? 1 : 0;
        if (row < rows && col < visibleCols) {
          line += CP437[c]!;
          const key = c | (attr << 8) | (hasCursor << 16) | (blinkOff << 17);
          const i = row * visibleCols + col;
          if (this.cells[i] === key) continue;
          this.cells[i] = key;
          if (minCol < 0) minCol = col;
          maxCol = col;
        }
        const fg = pal[blinkOff === 1 ? (attr >> 4) & 7 : attr & 0xf]!;
        const bg = pal[blinkEnabled ? (attr >> 4) & 7 : attr >> 4]!;
        const font = (attr & 0x08) !== 0 ? fontA : fontB;
        this.drawCell(cell, col * cw - rowPanX, row * ch - panY, c, font, fg, bg, hasCursor === 1);
      }
      if (row < rows) lines.push(line.trimEnd());
      const line0 = row * ch;
      // The line compare split takes effect at character-row granularity, as QEMU draws it: the
      // row after the one holding the line compare scan line starts at address 0.
      if (line0 < lc && line0 + ch >= lc) {
        rowStart = 0;
        if (panReset) rowPanX = 0;
      } else {
        rowStart += lineOffset;
      }
      if (minCol >= 0 && !shifted) rects.push(minCol * cw, row * ch, (maxCol - minCol + 1) * cw, ch);
    }
    return this.result(shifted ? [0, 0, w, h] : rects, lines.join('\n'));
  }

  /** True while the last text frame was panned or preset (the next one redraws every cell). */
  private textShifted = false;

  /** One character cell with its top-left at (x0, y0), clipped to the surface. */
  private drawCell(g: { cw: number; ch: number; w: number; h: number; curStart: number; curEnd: number; lineGraphics: boolean },
    x0: number, y0: number, c: number, font: number, fg: number, bg: number, hasCursor: boolean): void {
    const vram = this.vram.bytes;
    const px = this.pixels;
    const { cw, ch, w, h } = g;
    const xFrom = Math.max(0, -x0), xTo = Math.min(cw, w - x0);
    for (let y = Math.max(0, -y0); y < ch && y0 + y < h; y++) {
      let bits = vram[(((font + c * 32 + y) & PLANE_MASK) << 2) + 2] ?? 0;
      const cursorLine = hasCursor && y >= g.curStart && y <= g.curEnd;
      if (cursorLine) bits = 0xff;
      // The 9th dot is background, except that line-drawing characters (and the cursor) extend into it.
      const ninth = cursorLine || (g.lineGraphics && c >= 0xc0 && c <= 0xdf && (bits & 1) !== 0);
      const o = (y0 + y) * w + x0;
      for (let x = xFrom; x < xTo; x++) px[o + x] = (x < 8 ? (bits & (0x80 >> x)) !== 0 : ninth) ? fg : bg;
    }
  }

  // ---- planar, CGA and chain-4 graphics modes ------------------------------------------------

  /**
   * The VGA graphics modes. The CRTC is followed scan line by scan line (IBM VGA Technical
   * Reference, "CRT Controller"; FreeVGA "CRTC Registers"): the start address (CR0C/CR0D) plus
   * the byte panning of the Preset Row Scan register (CR08 bits 6-5), the row scan counter that
   * starts at the preset row scan (CR08 bits 4-0) and advances the line address by the offset
   * register (CR13) when it passes the maximum scan line (CR09), double scanning (CR09 bit 7),
   * the CGA/Hercules interleave of the Mode Control register (CR17 bits 0/1 put row scan bits 0/1
   * on memory address bits 13/14, as QEMU does in VRAM-byte terms), and the line compare split
   * (CR18 with bit 8 in CR07 bit 4 and bit 9 in CR09 bit 6: the line after it starts again at
   * address 0, row scan 0, and with AR10 bit 5 without pel panning). The shift register mode
   * (GR05 bits 6-5) picks 16-colour planar, CGA 2-bit interleaved (modes 4/5) or 256-colour
   * pixels; horizontal pel panning (AR13) shifts the line left by 0-7 pixels (pairs in 256
   * colours). The surface has the mode's own resolution: the scan lines that only repeat the
   * one above (double scan, the character height of non-interleaved modes) are drawn once.
   */
  private renderGraphics(redrawAll: boolean, anyDirty: boolean): RenderResult {
    const regs = this.regs;
    const cr = regs.cr;
    const shift = (regs.gr[GR_MODE]! >> 5) & 3;
    const kind: 2 | 4 | 8 = shift === 0 ? 4 : shift === 1 ? 2 : 8;
    const w = Math.min(MAX_WIDTH, (cr[CR_H_DISPLAY_END]! + 1) * (kind === 8 ? 4 : 8));
    const cr17 = cr[CR_MODE_CONTROL]!;
    const interleave = (cr17 & (CR17_COMPAT_CGA | CR17_COMPAT_HERCULES)) !== (CR17_COMPAT_CGA | CR17_COMPAT_HERCULES);
    const maxScan = cr[CR_MAX_SCAN_LINE]! & 0x1f;
    const dscan = (cr[CR_MAX_SCAN_LINE]! & CR09_DOUBLE_SCAN) !== 0 ? 2 : 1;
    const vscale = dscan * (interleave ? 1 : maxScan + 1);
    const scanLines = Math.min(verticalDisplayEnd(cr), MAX_HEIGHT * vscale);
    const h = Math.max(1, Math.floor(scanLines / vscale));
    const fresh = this.resize(w, h, `g${kind}`);
    const all = fresh || redrawAll;
    if (this.lineAddr.length !== h) { this.lineAddr = new Int32Array(h).fill(-1); this.linePan = new Int8Array(h); }
    const vram = this.vram.bytes;
    const size = vram.length;
    const lineOffset = cr[CR_OFFSET]! << 3;
    const bytesPerLine = (kind === 8 ? w : w / 2) + 4; // interleaved VRAM bytes a line reads, panning included
    const pel = regs.ar[AR_H_PEL_PANNING]! & 7;
    const panReset = (regs.ar[AR_MODE_CONTROL]! & AR10_PIXEL_PANNING) !== 0;
    const lc = lineCompare(cr);
    const bankBit = 14 + ((cr17 & CR17_BYTE_MODE) !== 0 ? 1 : 0);
    const preset = cr[CR_PRESET_ROW_SCAN]!;
    let rowAddr = (startAddress(cr) + ((preset >> 5) & 3)) << 2;
    let rowScan = preset & 0x1f;
    let dsPhase = 0;
    let pan = pel;
    const px = this.pixels;
    const planeMask = EXPAND4_MASK[regs.ar[AR_PLANE_ENABLE]! & 0xf]!;
    const pal = kind === 8 ? this.palette : this.palette16;
    const pelMask = regs.pelMask;
    this.changedLines.fill(0, 0, h);
    for (let sl = 0, y = 0; sl < scanLines && y < h; sl++) {
      if (sl % vscale === 0) {
        let a = rowAddr;
        if ((cr17 & CR17_COMPAT_CGA) === 0) a = (a & ~(1 << bankBit)) | ((rowScan & 1) << bankBit);
        if ((cr17 & CR17_COMPAT_HERCULES) === 0) a = (a & ~0x8000) | ((rowScan & 2) << 14);
        a = ((a % size) + size) % size;
        const moved = this.lineAddr[y] !== a || this.linePan[y] !== pan;
        if (all || moved || (anyDirty && this.rangeDirty(a, bytesPerLine))) {
          this.lineAddr[y] = a;
          this.linePan[y] = pan;
          this.changedLines[y] = 1;
          this.drawGraphicsLine(kind, px, y * w, w, a, pan, planeMask, pal, pelMask);
        }
        y++;
      }
      if (++dsPhase === dscan) {
        dsPhase = 0;
        if (rowScan >= maxScan) { rowScan = 0; rowAddr += lineOffset; } else rowScan++;
      }
      if (sl === lc) {
        rowAddr = 0;
        rowScan = 0;
        dsPhase = 0;
        if (panReset) pan = 0;
      }
    }
    return this.result(this.lineRects(h, w), null);
  }

  /** VRAM address and pel panning each surface line was last drawn from (-1: not yet). */
  private lineAddr = new Int32Array(0);
  private linePan = new Int8Array(0);

  /** One graphics line of `w` pixels from VRAM byte `a` (addresses wrap at the end of VRAM), shifted left `pan` pixels. */
  private drawGraphicsLine(kind: 2 | 4 | 8, px: Uint32Array, o: number, w: number, a: number, pan: number,
    planeMask: number, pal: Uint32Array, pelMask: number): void {
    const vram = this.vram.bytes;
    const size = vram.length;
    if (kind === 8) {
      // 256 colours: pel panning counts pixel pairs (values 0, 2, 4, 6 shift 0-3 pixels).
      const s = a + (pan >> 1);
      for (let x = 0; x < w; x++) px[o++] = pal[vram[(s + x) % size]! & pelMask]!;
      return;
    }
    let group = -1, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    for (let x = 0; x < w; x++) {
      const q = x + pan;
      const g = q >> 3;
      if (g !== group) {
        group = g;
        const b = (a + g * 4) % size;
        const data = (vram[b]! | (vram[(b + 1) % size]! << 8) | (vram[(b + 2) % size]! << 16) | (vram[(b + 3) % size]! << 24)) & planeMask;
        d0 = data & 0xff; d1 = (data >>> 8) & 0xff; d2 = (data >>> 16) & 0xff; d3 = data >>> 24;
      }
      const i = q & 7;
      let c: number;
      if (kind === 4) {
        const bit = 7 - i;
        c = ((d0 >> bit) & 1) | (((d1 >> bit) & 1) << 1) | (((d2 >> bit) & 1) << 2) | (((d3 >> bit) & 1) << 3);
      } else {
        // CGA interleave (GR05 bit 5): 2-bit pixels, the first four from the even byte (planes 0
        // and 2), the next four from the odd one (planes 1 and 3), leftmost in the high bits.
        const bit = 6 - 2 * (i & 3);
        const lo = i < 4 ? d0 : d1, hi = i < 4 ? d2 : d3;
        c = ((lo >> bit) & 3) | (((hi >> bit) & 3) << 2);
      }
      px[o++] = pal[c]!;
    }
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

/** The line compare scan line: CR18, bit 8 in CR07 bit 4, bit 9 in CR09 bit 6. */
function lineCompare(cr: Uint8Array): number {
  return cr[CR_LINE_COMPARE]! | ((cr[CR_OVERFLOW]! & 0x10) << 4) | ((cr[CR_MAX_SCAN_LINE]! & 0x40) << 3);
}

/** The start address (CR0C high, CR0D low), in character positions. */
function startAddress(cr: Uint8Array): number {
  return (cr[CR_START_ADDR_HI]! << 8) | cr[CR_START_ADDR_LO]!;
}

/** Plane enable bits (AR12) as a mask over the four plane bytes of a VRAM word. */
const EXPAND4_MASK = new Int32Array(16);
for (let i = 0; i < 16; i++) {
  EXPAND4_MASK[i] = (i & 1 ? 0xff : 0) | (i & 2 ? 0xff00 : 0) | (i & 4 ? 0xff0000 : 0) | (i & 8 ? 0xff000000 : 0);
}

/** A 6-bit DAC value as 8 bits, the way QEMU widens it (its low bit fills the two new ones), so frames match QEMU's. */
function dac6to8(v: number): number {
  const x = v & 0x3f;
  return (x << 2) | ((x & 1) * 3);
}

function expand5(v: number): number { return (v << 3) | (v >> 2); }
function expand6(v: number): number { return (v << 2) | (v >> 4); }
