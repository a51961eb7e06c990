// The Bochs VBE "DISPI" interface (Bochs iodev/vga.h, QEMU hw/display/vga.c; the register
// layout Linux's bochs DRM driver and SeaBIOS's vgabios program): an index/data pair at
// 0x1CE/0x1CF (and in the std VGA's MMIO BAR at 0x500) that sets a linear mode of any size
// that fits video memory. As in Bochs, a mode larger than video memory is refused: the enable
// write leaves the display disabled.

import type { LinearMode } from './vga-render.js';

export const VBE_DISPI_INDEX_ID = 0x0;
export const VBE_DISPI_INDEX_XRES = 0x1;
export const VBE_DISPI_INDEX_YRES = 0x2;
export const VBE_DISPI_INDEX_BPP = 0x3;
export const VBE_DISPI_INDEX_ENABLE = 0x4;
export const VBE_DISPI_INDEX_BANK = 0x5;
export const VBE_DISPI_INDEX_VIRT_WIDTH = 0x6;
export const VBE_DISPI_INDEX_VIRT_HEIGHT = 0x7;
export const VBE_DISPI_INDEX_X_OFFSET = 0x8;
export const VBE_DISPI_INDEX_Y_OFFSET = 0x9;
export const VBE_DISPI_INDEX_VIDEO_MEMORY_64K = 0xa;
/** Registers 0..NB-1 are stored; VIDEO_MEMORY_64K is computed. */
const VBE_DISPI_INDEX_NB = 0xa;

export const VBE_DISPI_ID0 = 0xb0c0;
export const VBE_DISPI_ID5 = 0xb0c5;

/** ENABLE register bits. */
export const VBE_DISPI_ENABLED = 0x01;
export const VBE_DISPI_GETCAPS = 0x02;
export const VBE_DISPI_8BIT_DAC = 0x20;
export const VBE_DISPI_LFB_ENABLED = 0x40;
export const VBE_DISPI_NOCLEARMEM = 0x80;

/** What GETCAPS reports (QEMU's limits). */
export const VBE_DISPI_MAX_XRES = 16000;
export const VBE_DISPI_MAX_YRES = 12000;
export const VBE_DISPI_MAX_BPP = 32;

const VALID_BPP = new Set([4, 8, 15, 16, 24, 32]);

/** What the card does when the mode switches. */
export interface DispiHost {
  /** The display was enabled (true) or disabled; `clear` asks for the visible memory to be zeroed. */
  modeChanged(enabled: boolean, clear: boolean): void;
}

/** The DISPI register file. */
export class VbeDispi {
  index = 0;
  readonly regs = new Uint16Array(VBE_DISPI_INDEX_NB);
  /** Mode-change requests refused because the mode did not fit (or had a bad depth). */
  refused = 0;

  constructor(private readonly vramBytes: number, private readonly host: DispiHost) { this.reset(); }

  reset(): void {
    this.regs.fill(0);
    this.regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    this.index = 0;
  }

  get enabled(): boolean { return (this.regs[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_ENABLED) !== 0; }
  /** 64 KiB banks in video memory (the bank register counts modulo this). */
  private get banks(): number { return Math.max(1, this.vramBytes >>> 16); }
  /** VRAM offset of the bank the A0000-AFFFF window shows. */
  get bankOffset(): number { return this.regs[VBE_DISPI_INDEX_BANK]! << 16; }
  get dac8(): boolean { return (this.regs[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_8BIT_DAC) !== 0; }

  private bytesPerPixel(bpp: number): number { return (bpp + 7) >> 3; }

  /**
   * Bytes from one line to the next: 4 bpp is planar (eight pixels in each 4-byte group of the
   * four planes), so a line of `w` pixels takes w/2 bytes of VRAM, as in QEMU.
   */
  private pitchOf(virtWidth: number, bpp: number): number {
    return bpp === 4 ? virtWidth >> 1 : virtWidth * this.bytesPerPixel(bpp);
  }

  /** VRAM byte of pixel (x, 0) in a line. */
  private xBytes(x: number, bpp: number): number {
    return bpp === 4 ? (x >> 3) << 2 : x * this.bytesPerPixel(bpp);
  }

  /** The mode as the renderer needs it, or null while disabled. */
  linearMode(): LinearMode | null {
    if (!this.enabled) return null;
    const r = this.regs;
    const bpp = r[VBE_DISPI_INDEX_BPP]!;
    const pitch = this.pitchOf(r[VBE_DISPI_INDEX_VIRT_WIDTH]!, bpp);
    return {
      width: r[VBE_DISPI_INDEX_XRES]!, height: r[VBE_DISPI_INDEX_YRES]!, bpp, pitch,
      start: r[VBE_DISPI_INDEX_Y_OFFSET]! * pitch + this.xBytes(r[VBE_DISPI_INDEX_X_OFFSET]!, bpp), dac8: this.dac8,
    };
  }

  readIndex(): number { return this.index; }
  writeIndex(v: number): void { this.index = v & 0xffff; }

  readData(): number {
    const i = this.index;
    const r = this.regs;
    if (i === VBE_DISPI_INDEX_VIDEO_MEMORY_64K) return Math.min(0xffff, this.vramBytes >>> 16);
    if (i >= VBE_DISPI_INDEX_NB) return 0;
    if ((r[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_GETCAPS) !== 0 && i >= VBE_DISPI_INDEX_XRES && i <= VBE_DISPI_INDEX_BPP) {
      return [0, VBE_DISPI_MAX_XRES, VBE_DISPI_MAX_YRES, VBE_DISPI_MAX_BPP][i]!;
    }
    if (i === VBE_DISPI_INDEX_VIRT_HEIGHT) {
      const pitch = this.pitchOf(r[VBE_DISPI_INDEX_VIRT_WIDTH]!, r[VBE_DISPI_INDEX_BPP]!);
      return pitch === 0 ? 0 : Math.min(0xffff, Math.floor(this.vramBytes / pitch));
    }
    return r[i]!;
  }

  writeData(value: number): void {
    const v = value & 0xffff;
    const r = this.regs;
    switch (this.index) {
      case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5) r[VBE_DISPI_INDEX_ID] = v;
        break;
      case VBE_DISPI_INDEX_XRES:
      case VBE_DISPI_INDEX_YRES:
      case VBE_DISPI_INDEX_BPP: {
        const old = r[this.index]!;
        r[this.index] = v;
        if (this.enabled && !this.fits()) { r[this.index] = old; this.refused++; }
        else if (this.enabled) this.fixVirtual();
        break;
      }
      case VBE_DISPI_INDEX_ENABLE: this.writeEnable(v); break;
      case VBE_DISPI_INDEX_BANK: {
        r[VBE_DISPI_INDEX_BANK] = v % this.banks;
        break;
      }
      case VBE_DISPI_INDEX_VIRT_WIDTH:
      case VBE_DISPI_INDEX_X_OFFSET:
      case VBE_DISPI_INDEX_Y_OFFSET:
        r[this.index] = v;
        if (this.enabled) this.fixVirtual();
        break;
      default: break; // VIRT_HEIGHT and VIDEO_MEMORY_64K are computed; unknown indices ignored
    }
  }

  /** True when the programmed mode has a supported depth and fits video memory. */
  private fits(): boolean {
    const r = this.regs;
    const xres = r[VBE_DISPI_INDEX_XRES]!, yres = r[VBE_DISPI_INDEX_YRES]!, bpp = r[VBE_DISPI_INDEX_BPP]!;
    if (!VALID_BPP.has(bpp) || xres === 0 || yres === 0) return false;
    return this.pitchOf(xres, bpp) * yres <= this.vramBytes;
  }

  /** Keeps the virtual width at least the visible width and the panned frame inside video memory. */
  private fixVirtual(): void {
    const r = this.regs;
    const xres = r[VBE_DISPI_INDEX_XRES]!, yres = r[VBE_DISPI_INDEX_YRES]!;
    const bpp = r[VBE_DISPI_INDEX_BPP]!;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH]! < xres || this.pitchOf(r[VBE_DISPI_INDEX_VIRT_WIDTH]!, bpp) * yres > this.vramBytes) r[VBE_DISPI_INDEX_VIRT_WIDTH] = xres;
    const pitch = Math.max(1, this.pitchOf(r[VBE_DISPI_INDEX_VIRT_WIDTH]!, bpp));
    const maxY = Math.floor(this.vramBytes / pitch) - yres;
    if (r[VBE_DISPI_INDEX_Y_OFFSET]! > maxY) r[VBE_DISPI_INDEX_Y_OFFSET] = Math.max(0, maxY);
    if (r[VBE_DISPI_INDEX_X_OFFSET]! + xres > r[VBE_DISPI_INDEX_VIRT_WIDTH]!) r[VBE_DISPI_INDEX_X_OFFSET] = r[VBE_DISPI_INDEX_VIRT_WIDTH]! - xres;
    // A panned frame whose last line would run past VRAM falls back to no panning.
    const end = r[VBE_DISPI_INDEX_Y_OFFSET]! * pitch + this.xBytes(r[VBE_DISPI_INDEX_X_OFFSET]!, bpp) + (yres - 1) * pitch + this.pitchOf(xres, bpp);
    if (end > this.vramBytes) { r[VBE_DISPI_INDEX_X_OFFSET] = 0; r[VBE_DISPI_INDEX_Y_OFFSET] = 0; }
  }

  private writeEnable(v: number): void {
    const r = this.regs;
    const was = this.enabled;
    if ((v & VBE_DISPI_ENABLED) !== 0 && !was) {
      if (!this.fits()) {
        // Bochs: "VBE: not enough memory for this mode" (or an unsupported depth) - stay disabled.
        this.refused++;
        r[VBE_DISPI_INDEX_ENABLE] = v & (VBE_DISPI_GETCAPS | VBE_DISPI_8BIT_DAC);
        return;
      }
      r[VBE_DISPI_INDEX_ENABLE] = v;
      r[VBE_DISPI_INDEX_BANK] = 0;
      this.fixVirtual();
      this.host.modeChanged(true, (v & VBE_DISPI_NOCLEARMEM) === 0);
      return;
    }
    r[VBE_DISPI_INDEX_ENABLE] = v;
    if ((v & VBE_DISPI_ENABLED) === 0 && was) {
      r[VBE_DISPI_INDEX_BANK] = 0;
      this.host.modeChanged(false, false);
    } else if (was) {
      this.host.modeChanged(true, false); // 8-bit DAC switched while enabled
    }
  }

  saveState(): { index: number; regs: number[] } { return { index: this.index, regs: Array.from(this.regs) }; }

  loadState(s: Record<string, unknown>): void {
    const index = s['index'];
    const regs = s['regs'];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 0xffff ||
      !Array.isArray(regs) || regs.length !== VBE_DISPI_INDEX_NB || !regs.every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff)) {
      throw new Error('bad device state: vbe dispi');
    }
    // As a bank write wraps into video memory, a saved bank past it is no state this card can be in.
    if ((regs as number[])[VBE_DISPI_INDEX_BANK]! >= this.banks) throw new Error('bad device state: vbe dispi bank past video memory');
    this.index = index;
    this.regs.set(regs as number[]);
  }
}
