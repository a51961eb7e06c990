// The CL-GD5446 hardware cursor (CL-GD5446 Technical Reference Manual, "Hardware Cursor";
// QEMU cirrus_cursor_draw_line): shown in the SVGA modes while SR12 bit 0 is set, 32x32 or
// (SR12 bit 2) 64x64 pixels at SR10/SR11's position. Its two bit planes live in the last
// 16 KiB of VRAM: a 32x32 pattern (SR13 bits 5:0 select one of 64) is 128 bytes of plane 0
// (4 bytes a line) then 128 of plane 1; a 64x64 pattern (SR13 bits 5:2) has lines of 16 bytes,
// 8 of plane 0 then 8 of plane 1. Per pixel, plane bits (p1,p0): 00 transparent, 01 inverts
// the screen, 10 the hidden DAC's colour 0, 11 its colour 15.
//
// The cursor is drawn over the rendered frame; the pixels under it are kept and put back
// before the next render, so the renderer's own dirty tracking stays right.

import type { RenderResult } from './vga-render.js';
import type { VideoMemory } from './vga-memory.js';
import { SR12_CURSOR_LARGE, SR12_CURSOR_SHOW, type CirrusRegs } from './cirrus-regs.js';

const CURSOR_AREA = 16 * 1024;

function dac6to8(v: number): number { return ((v & 0x3f) << 2) | ((v & 0x3f) >> 4); }

/** Draws the cursor over frames and takes it off again. */
export class CirrusCursor {
  private surface: SharedArrayBuffer | null = null;
  private under = new Uint32Array(64 * 64);
  /** The drawn box (x, y, w, h in the surface), w = 0 when none. */
  private box = [0, 0, 0, 0];
  private key = '';

  constructor(private readonly regs: CirrusRegs, private readonly vram: VideoMemory) {}

  /** Puts back what the cursor covered. */
  beforeRender(): void {
    const [x0, y0, w, h] = this.box as [number, number, number, number];
    if (this.surface === null || w === 0) return;
    const px = new Uint32Array(this.surface);
    const sw = this.surfaceWidth;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = (y0 + y) * sw + x0 + x;
      if (i < px.length) px[i] = this.under[y * 64 + x]!;
    }
  }

  private surfaceWidth = 0;

  /** Draws the cursor on the frame just rendered; adds the rectangles it changed. */
  afterRender(r: RenderResult, svga: boolean): RenderResult {
    const regs = this.regs;
    const old = this.box.slice() as [number, number, number, number];
    const hadOld = this.surface === r.surface && old[2] > 0;
    this.box = [0, 0, 0, 0];
    const show = svga && (regs.sr[0x12]! & SR12_CURSOR_SHOW) !== 0 && r.width > 0 && r.height > 0;
    if (!show) {
      this.surface = r.surface;
      this.surfaceWidth = r.width;
      if (this.key !== '' && hadOld) r.rects.push(...old);
      this.key = '';
      return r;
    }
    const large = (regs.sr[0x12]! & SR12_CURSOR_LARGE) !== 0;
    const size = large ? 64 : 32;
    const b = this.vram.bytes;
    const base = b.length - CURSOR_AREA + (large ? (regs.sr[0x13]! & 0x3c) : (regs.sr[0x13]! & 0x3f)) * 256;
    const stride = large ? 16 : 4;
    const plane1 = large ? 8 : 128;
    const hp = regs.hiddenPalette;
    const color0 = (dac6to8(hp[0]!) << 16) | (dac6to8(hp[1]!) << 8) | dac6to8(hp[2]!);
    const color1 = (dac6to8(hp[45]!) << 16) | (dac6to8(hp[46]!) << 8) | dac6to8(hp[47]!);
    const cx = regs.cursorX, cy = regs.cursorY;
    const x0 = Math.min(cx, r.width), y0 = Math.min(cy, r.height);
    const w = Math.max(0, Math.min(size, r.width - cx)), h = Math.max(0, Math.min(size, r.height - cy));
    let sum = 0;
    for (let i = 0; i < size * stride; i++) sum = (sum * 31 + b[base + i]!) | 0;
    const key = `${cx},${cy},${size},${sum},${color0},${color1}`;
    const px = new Uint32Array(r.surface);
    for (let y = 0; y < h; y++) {
      const line = base + y * stride;
      for (let x = 0; x < w; x++) {
        const i = (y0 + y) * r.width + x0 + x;
        const cur = px[i]!;
        this.under[y * 64 + x] = cur;
        const bit = 7 - (x & 7);
        const p0 = (b[line + (x >> 3)]! >> bit) & 1;
        const p1 = (b[line + plane1 + (x >> 3)]! >> bit) & 1;
        switch (p0 | (p1 << 1)) {
          case 1: px[i] = cur ^ 0xffffff; break;
          case 2: px[i] = color0; break;
          case 3: px[i] = color1; break;
          default: break;
        }
      }
    }
    this.box = [x0, y0, w, h];
    const redrawn = (): boolean => {
      for (let i = 0; i < r.rects.length; i += 4) {
        if (r.rects[i + 1]! < y0 + h && r.rects[i + 1]! + r.rects[i + 3]! > y0 &&
          r.rects[i]! < x0 + w && r.rects[i]! + r.rects[i + 2]! > x0) return true;
      }
      return false;
    };
    if (key !== this.key || this.surface !== r.surface || redrawn()) {
      if (hadOld) r.rects.push(...old);
      if (w > 0 && h > 0) r.rects.push(x0, y0, w, h);
    }
    this.key = key;
    this.surface = r.surface;
    this.surfaceWidth = r.width;
    return r;
  }
}
