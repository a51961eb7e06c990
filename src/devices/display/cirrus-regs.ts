// The Cirrus Logic CL-GD5446's extension registers on top of the VGA register file (CL-GD5446
// Technical Reference Manual, "Extension Registers"; QEMU hw/display/cirrus_vga.c for how the
// guests' drivers see them):
//   SR6        unlock: writing 0x12 (bits 0x17 compared) reads back 0x12, anything else 0x0F;
//   SR7        extended sequencer mode: bit 0 enables the SVGA modes, bits 3:1 the pixel depth;
//   SR10/SR11  hardware cursor X/Y: the index's bits 7:5 carry the position's low three bits;
//   SR12/SR13  cursor attributes (show, 64x64, hidden DAC access) and pattern select;
//   SR0F/SR15/SR17/SR1F  DRAM configuration, memory size, bus config and MCLK (read by the BIOS);
//   GR0/GR1    8-bit background/foreground colour (the VGA set/reset registers keep 4 bits);
//   GR5        bits 2:0 write modes 0-5 (4/5 are the colour expanding writes);
//   GR9/GRA/GRB  the window's two banks (4 or 16 KiB granularity) and the addressing flags;
//   GR10-GR15  colour bytes 1-3, GR20-GR39 the BitBLT engine;
//   CR1A/CR1B/CR1D  interlace, start address bits 16-19 and the offset's bit 8;
//   CR27       chip id (0xB8: a 5446);
//   0x3C6      the hidden DAC register: the fifth consecutive read returns it, a write right
//              after four reads sets it (bits 3:0 choose 5-5-5 or 5-6-5 in the 16-bit modes).

import { VgaRegs, type VgaRegsState } from './vga-regs.js';

/** The CL-GD5446's chip id in CR27 (and its PCI device id). */
export const CIRRUS_ID_CLGD5446 = 0xb8;

/** SR7 bits. */
export const SR7_EXTENDED = 0x01;
export const SR7_BPP_MASK = 0x0e;
const SR7_BPP_8 = 0x00;
const SR7_BPP_16_DOUBLEVCLK = 0x02;
const SR7_BPP_24 = 0x04;
const SR7_BPP_16 = 0x06;
const SR7_BPP_32 = 0x08;

/** SR12 hardware cursor bits. */
export const SR12_CURSOR_SHOW = 0x01;
export const SR12_CURSOR_HIDDENPEL = 0x02;
export const SR12_CURSOR_LARGE = 0x04;

/** SR17: memory-mapped BitBLT registers (bit 2) in the last 256 bytes of the LFB (bit 6 too) or at 0xB8000. */
export const SR17_MMIO_ENABLE = 0x04;
export const SR17_MMIO_LINEAR = 0x40;

/** GRB bits. */
export const GRB_DUAL_BANK = 0x01;
export const GRB_BY8_ADDRESSING = 0x02;
export const GRB_EXT_WRITE_MODES = 0x04;
export const GRB_BY16_ADDRESSING = 0x14; // 0x10 with 0x04: 16-bit colour expansion
export const GRB_16K_GRANULARITY = 0x20;

/** GR31 BitBLT start/status bits. */
export const BLT_BUSY = 0x01;
export const BLT_START = 0x02;
export const BLT_RESET = 0x04;
export const BLT_FIFOUSED = 0x10;
export const BLT_AUTOSTART = 0x80;

/** What the device does when the guest touches the blitter or the memory decode. */
export interface CirrusHooks {
  /** GR31 written: `old` and new values (the blitter starts on START rising, resets on RESET falling). */
  bltControl(old: number, value: number): void;
  /** GR2A written while GR31's auto-start bit is set. */
  bltAutostart(): void;
  /** SR7, SR17, GR5, GR9-GRB changed: the window and LFB decode may change. */
  memoryAccessChanged(): void;
}

/** Extra state of the Cirrus register file. */
export interface CirrusRegsState extends VgaRegsState {
  shadowGr0: number; shadowGr1: number; hiddenDac: number; hiddenDacLock: number;
  hiddenPalette: number[]; cursorX: number; cursorY: number;
}

const P_PEL_MASK = 0x16;        // 0x3C6
const P_DAC_READ_INDEX = 0x17;  // 0x3C7
const P_DAC_WRITE_INDEX = 0x18; // 0x3C8
const P_DAC_DATA = 0x19;        // 0x3C9

/** The VGA registers with the CL-GD5446's extensions. */
export class CirrusRegs extends VgaRegs {
  /** The full 8 bits written to GR0/GR1 (the blitter's colour byte 0). */
  shadowGr0 = 0;
  shadowGr1 = 0;
  hiddenDac = 0;
  /** Consecutive reads of 0x3C6 since a DAC index/data access (4 arm the hidden DAC; 5-6 from reset: disarmed). */
  hiddenDacLock = 5;
  /** 16 cursor colours reached through the DAC while SR12 bit 1 is set (only 0 and 15 are used). */
  readonly hiddenPalette = new Uint8Array(48);
  cursorX = 0;
  cursorY = 0;
  /** Bumped when the hardware cursor's position, shape select or colours change. */
  cursorGeneration = 0;
  hooks: CirrusHooks | null = null;

  constructor(name: string) {
    super(name);
    this.srIndexMask = 0xff; // SR10/SR11 take position bits in the index
    this.grIndexMask = 0x3f;
    this.cirrusReset();
  }

  /** The extension registers' reset values (after VgaRegs.reset), as a 4 MiB PCI 5446 shows them. */
  cirrusReset(): void {
    this.sr[0x06] = 0x0f;
    this.sr[0x0f] = 0x98;   // DRAM: 32-bit bus doubled (bits 4:3 = 11), bit 7 = 4 MiB
    this.sr[0x15] = 0x04;   // 4 MiB
    this.sr[0x17] = 0x20;   // PCI bus
    this.sr[0x1f] = 0x2d;   // MCLK
    this.gr[0x18] = 0x0f;
    this.cr[0x27] = CIRRUS_ID_CLGD5446;
    this.shadowGr0 = this.shadowGr1 = 0;
    this.hiddenDac = 0;
    this.hiddenDacLock = 5;
    this.hiddenPalette.fill(0);
    this.cursorX = this.cursorY = 0;
    this.cursorGeneration++;
  }

  /** True in the SVGA (packed pixel) modes. */
  get extended(): boolean { return (this.sr[0x07]! & SR7_EXTENDED) !== 0; }

  /** Bits per pixel of the extended mode (QEMU's cirrus_get_bpp), 0 in VGA modes. */
  get bpp(): number {
    if (!this.extended) return 0;
    switch (this.sr[0x07]! & SR7_BPP_MASK) {
      case SR7_BPP_8: return 8;
      case SR7_BPP_16_DOUBLEVCLK:
      case SR7_BPP_16: return (this.hiddenDac & 0xf) === 1 ? 16 : 15; // 1: XGA 5-6-5, else Sierra 5-5-5
      case SR7_BPP_24: return 24;
      case SR7_BPP_32: return 32;
      default: return 8;
    }
  }

  /** Display start in bytes: CR0C/CR0D with CR1B bits 0, 2, 3 and CR1D bit 7, in units of 4 bytes. */
  get startAddress(): number {
    const cr = this.cr;
    const a = (cr[0x0c]! << 8) | cr[0x0d]! | ((cr[0x1b]! & 0x01) << 16) | ((cr[0x1b]! & 0x0c) << 15) | ((cr[0x1d]! & 0x80) << 12);
    return a * 4;
  }

  /** Line pitch in bytes: CR13 with CR1B bit 4 as bit 8, in units of 8 bytes. */
  get lineOffset(): number { return (this.cr[0x13]! | ((this.cr[0x1b]! & 0x10) << 4)) * 8; }

  // ---- ports -----------------------------------------------------------------------------------

  override readPort(p: number): number {
    if (p === P_PEL_MASK) {
      // The hidden DAC (QEMU cirrus_read_hidden_dac): after a DAC index/data access, four reads
      // of 0xFF, then the register. From reset (count 5) it stays hidden until such an access.
      if (++this.hiddenDacLock === 5) { this.hiddenDacLock = 0; return this.hiddenDac; }
      if (this.hiddenDacLock > 5) this.hiddenDacLock = 6;
      return 0xff;
    }
    if (p === P_DAC_READ_INDEX || p === P_DAC_WRITE_INDEX) this.hiddenDacLock = 0;
    if (p === P_DAC_DATA) {
      this.hiddenDacLock = 0;
      if ((this.sr[0x12]! & SR12_CURSOR_HIDDENPEL) !== 0) {
        const v = this.hiddenPalette[(this.dacReadIndex & 0x0f) * 3 + this.dacSub]!;
        if (++this.dacSub === 3) { this.dacSub = 0; this.dacReadIndex = (this.dacReadIndex + 1) & 0xff; }
        return v;
      }
    }
    return super.readPort(p);
  }

  override writePort(p: number, v: number): void {
    if (p === P_PEL_MASK) {
      if (this.hiddenDacLock === 4) { this.hiddenDac = v & 0xff; this.modeGeneration++; }
      this.hiddenDacLock = 0;
      return; // the pel mask stays 0xFF on a Cirrus (as QEMU)
    }
    if (p === P_DAC_READ_INDEX || p === P_DAC_WRITE_INDEX) this.hiddenDacLock = 0;
    if (p === P_DAC_DATA) {
      this.hiddenDacLock = 0;
      if ((this.sr[0x12]! & SR12_CURSOR_HIDDENPEL) !== 0) {
        this.hiddenPalette[(this.dacWriteIndex & 0x0f) * 3 + this.dacSub] = v & 0x3f;
        if (++this.dacSub === 3) { this.dacSub = 0; this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff; }
        this.cursorGeneration++;
        return;
      }
    }
    super.writePort(p, v);
  }

  // ---- sequencer -------------------------------------------------------------------------------

  protected override readSr(i: number): number {
    if (i <= 0x04) return super.readSr(i);
    if ((i & 0x1f) === 0x10) return this.sr[0x10]!;
    if ((i & 0x1f) === 0x11) return this.sr[0x11]!;
    return i <= 0x1f ? this.sr[i]! : 0xff;
  }

  protected override writeSr(i: number, v: number): void {
    if (i <= 0x04) { super.writeSr(i, v); return; }
    if ((i & 0x1f) === 0x10) { this.sr[0x10] = v; this.cursorX = (v << 3) | (i >> 5); this.cursorGeneration++; return; }
    if ((i & 0x1f) === 0x11) { this.sr[0x11] = v; this.cursorY = (v << 3) | (i >> 5); this.cursorGeneration++; return; }
    switch (i) {
      case 0x06: this.sr[0x06] = (v & 0x17) === 0x12 ? 0x12 : 0x0f; return;
      case 0x07:
        if (this.sr[0x07] !== v) this.modeGeneration++;
        this.sr[0x07] = v;
        this.hooks?.memoryAccessChanged();
        return;
      case 0x17:
        this.sr[0x17] = (this.sr[0x17]! & 0x38) | (v & 0xc7);
        this.hooks?.memoryAccessChanged();
        return;
      case 0x12: case 0x13:
        this.sr[i] = v;
        this.cursorGeneration++;
        return;
      default:
        if (i >= 0x08 && i <= 0x1f) this.sr[i] = v;
    }
  }

  // ---- graphics controller ---------------------------------------------------------------------

  protected override readGr(i: number): number {
    if (i === 0x00) return this.shadowGr0;
    if (i === 0x01) return this.shadowGr1;
    return i < 0x3a ? this.gr[i]! : 0xff;
  }

  protected override writeGr(i: number, v: number): void {
    switch (i) {
      case 0x00: this.shadowGr0 = v; super.writeGr(i, v); return;
      case 0x01: this.shadowGr1 = v; super.writeGr(i, v); return;
      case 0x05:
        if (((this.gr[0x05]! ^ v) & 0x7f) !== 0) this.modeGeneration++;
        this.gr[0x05] = v & 0x7f;
        this.hooks?.memoryAccessChanged();
        return;
      case 0x09: case 0x0a: case 0x0b:
        this.gr[i] = v;
        this.hooks?.memoryAccessChanged();
        return;
      case 0x21: case 0x23: case 0x25: case 0x27: this.gr[i] = v & 0x1f; return;
      case 0x2e: this.gr[i] = v & 0x3f; return;
      case 0x2a:
        this.gr[i] = v & 0x3f;
        if ((this.gr[0x31]! & BLT_AUTOSTART) !== 0) this.hooks?.bltAutostart();
        return;
      case 0x31: {
        const old = this.gr[0x31]!;
        this.gr[0x31] = v;
        this.hooks?.bltControl(old, v);
        return;
      }
      default:
        if (i <= 0x08) super.writeGr(i, v);
        else if (i < 0x3a) this.gr[i] = v;
    }
  }

  // ---- CRT controller --------------------------------------------------------------------------

  protected override readCr(i: number): number {
    if (i <= 0x18) return super.readCr(i);
    switch (i) {
      case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: return this.cr[i]!;
      case 0x24: return this.arFlipFlop << 7;          // attribute controller toggle readback
      case 0x26: return this.arIndex & 0x3f;           // attribute controller index readback
      case 0x27: return CIRRUS_ID_CLGD5446;
      default: return 0xff;
    }
  }

  protected override writeCr(i: number, v: number): void {
    if (i <= 0x18) {
      const before = this.cr[i];
      super.writeCr(i, v);
      // The linear modes read the start address per frame: a pan redraws everything.
      if ((i === 0x0c || i === 0x0d) && before !== this.cr[i]) this.modeGeneration++;
      return;
    }
    if (i >= 0x19 && i <= 0x1d) {
      if (this.cr[i] !== v) this.modeGeneration++;
      this.cr[i] = v;
    }
  }

  // ---- state -----------------------------------------------------------------------------------

  override saveState(): CirrusRegsState {
    return {
      ...super.saveState(), shadowGr0: this.shadowGr0, shadowGr1: this.shadowGr1, hiddenDac: this.hiddenDac,
      hiddenDacLock: this.hiddenDacLock, hiddenPalette: Array.from(this.hiddenPalette), cursorX: this.cursorX, cursorY: this.cursorY,
    };
  }

  override loadState(s: Record<string, unknown>): void {
    const num = (k: string, max: number): number => {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`bad device state: cirrus ${k}`);
      return v;
    };
    const pal = s['hiddenPalette'];
    if (!Array.isArray(pal) || pal.length !== 48 || !pal.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 0xff)) {
      throw new Error('bad device state: cirrus hiddenPalette');
    }
    const vals = {
      shadowGr0: num('shadowGr0', 0xff), shadowGr1: num('shadowGr1', 0xff), hiddenDac: num('hiddenDac', 0xff),
      hiddenDacLock: num('hiddenDacLock', 6), cursorX: num('cursorX', 0x7ff), cursorY: num('cursorY', 0x7ff),
    };
    super.loadState(s);
    Object.assign(this, vals);
    this.hiddenPalette.set(pal as number[]);
    this.cursorGeneration++;
  }
}
