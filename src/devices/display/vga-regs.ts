// The VGA register file (IBM VGA Technical Reference; FreeVGA's register pages): misc output,
// input status, sequencer (SR), CRT controller (CR), graphics controller (GR), attribute
// controller (AR) and the DAC, decoded on ports 0x3B0-0x3DF. A Cirrus or other SVGA model
// extends it by overriding the index masks and the read/write hooks of one register group.
//
// Every index the guest writes is masked to its group's width and every array has 256 entries,
// so no guest value reaches past an array.

import type { IoRegion } from '../api.js';
import { byteRegion } from './vga-pci.js';

/** The port block's first port and size (0x3B0-0x3DF). */
export const VGA_PORT_BASE = 0x3b0;
export const VGA_PORT_COUNT = 0x30;

// Ports, as offsets from 0x3B0.
const P_CRTC_INDEX_MONO = 0x04;   // 0x3B4
const P_CRTC_DATA_MONO = 0x05;    // 0x3B5
const P_STATUS1_MONO = 0x0a;      // 0x3BA: input status 1 (read), feature control (write)
const P_AR_INDEX = 0x10;          // 0x3C0: attribute index/data flip-flop
const P_AR_DATA_READ = 0x11;      // 0x3C1
const P_MISC_WRITE = 0x12;        // 0x3C2: misc output (write), input status 0 (read)
const P_SR_INDEX = 0x14;          // 0x3C4
const P_SR_DATA = 0x15;           // 0x3C5
const P_PEL_MASK = 0x16;          // 0x3C6
const P_DAC_READ_INDEX = 0x17;    // 0x3C7: read index (write), DAC state (read)
const P_DAC_WRITE_INDEX = 0x18;   // 0x3C8
const P_DAC_DATA = 0x19;          // 0x3C9
const P_FEATURE_READ = 0x1a;      // 0x3CA
const P_MISC_READ = 0x1c;         // 0x3CC
const P_GR_INDEX = 0x1e;          // 0x3CE
const P_GR_DATA = 0x1f;           // 0x3CF
const P_CRTC_INDEX_COLOR = 0x24;  // 0x3D4
const P_CRTC_DATA_COLOR = 0x25;   // 0x3D5
const P_STATUS1_COLOR = 0x2a;     // 0x3DA

/** Misc output register bits. */
export const MISC_IO_ADDRESS_SELECT = 0x01; // 1: CRTC at 0x3Dx (colour), 0: 0x3Bx (mono)
export const MISC_RAM_ENABLE = 0x02;

/** Input status 1 bits. */
export const ST1_DISPLAY_INACTIVE = 0x01;
export const ST1_VERTICAL_RETRACE = 0x08;

/** Sequencer registers. */
export const SR_RESET = 0x00;
export const SR_CLOCKING_MODE = 0x01;
export const SR01_DOT8 = 0x01;          // 8-dot characters (else 9)
export const SR01_DOT_CLOCK_DIV2 = 0x08;
export const SR01_SCREEN_OFF = 0x20;
export const SR_MAP_MASK = 0x02;
export const SR_CHAR_MAP_SELECT = 0x03;
export const SR_MEMORY_MODE = 0x04;
export const SR04_EXT_MEM = 0x02;
export const SR04_ODD_EVEN_DISABLE = 0x04; // 1: sequential (planar) addressing for writes
export const SR04_CHAIN4 = 0x08;

/** Graphics controller registers. */
export const GR_SET_RESET = 0x00;
export const GR_ENABLE_SET_RESET = 0x01;
export const GR_COLOR_COMPARE = 0x02;
export const GR_DATA_ROTATE = 0x03;
export const GR_READ_MAP_SELECT = 0x04;
export const GR_MODE = 0x05;
export const GR05_WRITE_MODE = 0x03;
export const GR05_READ_MODE = 0x08;
export const GR05_ODD_EVEN = 0x10;
export const GR05_SHIFT_256 = 0x40;
export const GR_MISC = 0x06;
export const GR06_GRAPHICS = 0x01;
export const GR06_MEMORY_MAP_SHIFT = 2;
export const GR_COLOR_DONT_CARE = 0x07;
export const GR_BIT_MASK = 0x08;

/** CRT controller registers. */
export const CR_H_DISPLAY_END = 0x01;
export const CR_OVERFLOW = 0x07;
export const CR_PRESET_ROW_SCAN = 0x08; // bits 4-0 preset row scan, 6-5 byte panning
export const CR_MAX_SCAN_LINE = 0x09;
export const CR09_DOUBLE_SCAN = 0x80;
export const CR_CURSOR_START = 0x0a;
export const CR0A_CURSOR_OFF = 0x20;
export const CR_CURSOR_END = 0x0b;
export const CR_START_ADDR_HI = 0x0c;
export const CR_START_ADDR_LO = 0x0d;
export const CR_CURSOR_HI = 0x0e;
export const CR_CURSOR_LO = 0x0f;
export const CR_V_SYNC_END = 0x11;
export const CR11_PROTECT = 0x80;       // CR0-CR7 read-only (except CR7 bit 4)
export const CR_V_DISPLAY_END = 0x12;
export const CR_OFFSET = 0x13;
export const CR_MODE_CONTROL = 0x17;
export const CR17_COMPAT_CGA = 0x01;      // 0: row scan bit 0 replaces memory address bit 13
export const CR17_COMPAT_HERCULES = 0x02; // 0: row scan bit 1 replaces memory address bit 14
export const CR17_BYTE_MODE = 0x40;       // 1: byte addressing, 0: word
export const CR_LINE_COMPARE = 0x18;

/** Attribute controller registers. */
export const AR_INDEX_PAS = 0x20;       // palette address source: 0 blanks the screen
export const AR_MODE_CONTROL = 0x10;
export const AR10_GRAPHICS = 0x01;
export const AR10_LINE_GRAPHICS = 0x04; // 9th dot of 0xC0-0xDF copies the 8th
export const AR10_BLINK = 0x08;
export const AR10_PIXEL_PANNING = 0x20;
export const AR10_8BIT = 0x40;
export const AR10_P54_SELECT = 0x80;
export const AR_OVERSCAN = 0x11;
export const AR_PLANE_ENABLE = 0x12;
export const AR_H_PEL_PANNING = 0x13;
export const AR_COLOR_SELECT = 0x14;
const AR_COUNT = 0x15;

/** Writable bits of the standard SR and GR registers (undefined ones read as written zero). */
const SR_MASK = [0x03, 0x3d, 0x0f, 0x3f, 0x0e];
const GR_MASK = [0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff];

/** Mode 3 (80x25 text, 720x400) as the IBM VGA BIOS's parameter table sets it. */
export const MODE3 = {
  misc: 0x67,
  sr: [0x03, 0x00, 0x03, 0x00, 0x02],
  cr: [0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff],
  ar: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x0c, 0x00, 0x0f, 0x08, 0x00],
  gr: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff],
} as const;

/** Plain-data state of the register file. */
export interface VgaRegsState {
  misc: number; featureControl: number;
  srIndex: number; sr: number[];
  grIndex: number; gr: number[];
  crIndex: number; cr: number[];
  arIndex: number; arFlipFlop: number; ar: number[];
  dac: number[]; dacReadIndex: number; dacWriteIndex: number; dacSub: number; dacState: number; pelMask: number;
}

/** The register file and its ports. */
export class VgaRegs {
  misc = 0;
  featureControl = 0;
  srIndex = 0;
  readonly sr = new Uint8Array(256);
  grIndex = 0;
  readonly gr = new Uint8Array(256);
  crIndex = 0;
  readonly cr = new Uint8Array(256);
  arIndex = 0;
  /** 0: the next 0x3C0 write is an index, 1: data. Reading input status 1 resets it. */
  arFlipFlop = 0;
  readonly ar = new Uint8Array(256);
  /** 256 entries of R, G, B (6 bits each, or 8 with the VBE 8-bit DAC). */
  readonly dac = new Uint8Array(768);
  dacReadIndex = 0;
  dacWriteIndex = 0;
  /** Which of R, G, B the next data access is. */
  dacSub = 0;
  /** 0x3C7 read: 0 after a write index, 3 after a read index. */
  dacState = 0;
  pelMask = 0xff;
  /** Input status 1's retrace and display bits, toggled on every read so polling loops end. */
  private status1 = 0;
  /** Counts changes that reshape the screen (mode, geometry, fonts): the renderer redraws all. */
  modeGeneration = 0;
  /** Counts palette changes (DAC, attribute palette). */
  paletteGeneration = 0;
  /** Index masks: SVGA models widen them to reach their extension registers. */
  protected srIndexMask = 0x07;
  protected grIndexMask = 0x0f;

  /** The port block 0x3B0-0x3DF. */
  readonly region: IoRegion;

  constructor(name: string) {
    // A word write to an index port writes the index, then the data (out dx, ax).
    this.region = byteRegion(`${name}.vga-ports`, VGA_PORT_COUNT, (p) => this.readPort(p), (p, v) => this.writePort(p, v));
    this.reset();
  }

  /** Back to mode 3 with the standard EGA palette in the DAC, as the BIOS leaves a VGA. */
  reset(): void {
    this.sr.fill(0); this.gr.fill(0); this.cr.fill(0); this.ar.fill(0); this.dac.fill(0);
    this.misc = MODE3.misc;
    this.featureControl = 0;
    this.sr.set(MODE3.sr); this.cr.set(MODE3.cr); this.ar.set(MODE3.ar); this.gr.set(MODE3.gr);
    this.srIndex = this.grIndex = this.crIndex = 0;
    this.arIndex = AR_INDEX_PAS;
    this.arFlipFlop = 0;
    for (let i = 0; i < 64; i++) {
      // EGA colour i: bits 2,1,0 = R,G,B at 2/3 intensity; bits 5,4,3 = r,g,b at 1/3.
      this.dac[i * 3] = ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15;
      this.dac[i * 3 + 1] = ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15;
      this.dac[i * 3 + 2] = (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15;
    }
    this.dacReadIndex = this.dacWriteIndex = this.dacSub = this.dacState = 0;
    this.pelMask = 0xff;
    this.status1 = 0;
    this.modeGeneration++;
    this.paletteGeneration++;
  }

  /** The CRTC sits at 0x3Dx in colour mode, 0x3Bx in mono: the other block does not decode. */
  private get colorIo(): boolean { return (this.misc & MISC_IO_ADDRESS_SELECT) !== 0; }

  /** One port read; ports that decode nothing read as 0xFF. */
  readPort(p: number): number {
    switch (p) {
      case P_CRTC_INDEX_MONO: return this.colorIo ? 0xff : this.crIndex;
      case P_CRTC_DATA_MONO: return this.colorIo ? 0xff : this.readCr(this.crIndex);
      case P_CRTC_INDEX_COLOR: return this.colorIo ? this.crIndex : 0xff;
      case P_CRTC_DATA_COLOR: return this.colorIo ? this.readCr(this.crIndex) : 0xff;
      case P_STATUS1_MONO: return this.colorIo ? 0xff : this.readStatus1();
      case P_STATUS1_COLOR: return this.colorIo ? this.readStatus1() : 0xff;
      case P_AR_INDEX: return this.arIndex;
      case P_AR_DATA_READ: return (this.arIndex & 0x1f) < AR_COUNT ? this.ar[this.arIndex & 0x1f]! : 0;
      case P_MISC_WRITE: return 0x10; // input status 0: switch sense high (a colour monitor)
      case P_SR_INDEX: return this.srIndex;
      case P_SR_DATA: return this.readSr(this.srIndex);
      case P_PEL_MASK: return this.pelMask;
      case P_DAC_READ_INDEX: return this.dacState;
      case P_DAC_WRITE_INDEX: return this.dacWriteIndex;
      case P_DAC_DATA: {
        const v = this.dac[this.dacReadIndex * 3 + this.dacSub]!;
        if (++this.dacSub === 3) { this.dacSub = 0; this.dacReadIndex = (this.dacReadIndex + 1) & 0xff; }
        return v;
      }
      case P_FEATURE_READ: return this.featureControl;
      case P_MISC_READ: return this.misc;
      case P_GR_INDEX: return this.grIndex;
      case P_GR_DATA: return this.readGr(this.grIndex);
      default: return 0xff;
    }
  }

  /** One port write. */
  writePort(p: number, v: number): void {
    switch (p) {
      case P_CRTC_INDEX_MONO: if (!this.colorIo) this.crIndex = v; break;
      case P_CRTC_DATA_MONO: if (!this.colorIo) this.writeCr(this.crIndex, v); break;
      case P_CRTC_INDEX_COLOR: if (this.colorIo) this.crIndex = v; break;
      case P_CRTC_DATA_COLOR: if (this.colorIo) this.writeCr(this.crIndex, v); break;
      case P_STATUS1_MONO: if (!this.colorIo) this.featureControl = v & 0x03; break;
      case P_STATUS1_COLOR: if (this.colorIo) this.featureControl = v & 0x03; break;
      case P_AR_INDEX:
        if (this.arFlipFlop === 0) {
          if ((v ^ this.arIndex) & AR_INDEX_PAS) this.modeGeneration++;
          this.arIndex = v & 0x3f;
        } else {
          this.writeAr(this.arIndex & 0x1f, v);
        }
        this.arFlipFlop ^= 1;
        break;
      case P_MISC_WRITE: this.misc = v; this.modeGeneration++; break;
      case P_SR_INDEX: this.srIndex = v & this.srIndexMask; break;
      case P_SR_DATA: this.writeSr(this.srIndex, v); break;
      case P_PEL_MASK: this.pelMask = v; this.paletteGeneration++; break;
      case P_DAC_READ_INDEX: this.dacReadIndex = v; this.dacSub = 0; this.dacState = 3; break;
      case P_DAC_WRITE_INDEX: this.dacWriteIndex = v; this.dacSub = 0; this.dacState = 0; break;
      case P_DAC_DATA:
        this.dac[this.dacWriteIndex * 3 + this.dacSub] = v & this.dacDataMask();
        if (++this.dacSub === 3) { this.dacSub = 0; this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff; }
        this.paletteGeneration++;
        break;
      case P_GR_INDEX: this.grIndex = v & this.grIndexMask; break;
      case P_GR_DATA: this.writeGr(this.grIndex, v); break;
      default: break;
    }
  }

  /** 6-bit DAC unless a subclass (VBE's 8-bit DAC switch) says otherwise. */
  protected dacDataMask(): number { return 0x3f; }

  private readStatus1(): number {
    this.arFlipFlop = 0;
    // Drivers wait for retrace to start, then to end: alternate so each wait ends after one read.
    this.status1 ^= ST1_VERTICAL_RETRACE | ST1_DISPLAY_INACTIVE;
    return this.status1;
  }

  /** Sequencer read: standard registers, or a subclass's extension. */
  protected readSr(i: number): number { return this.sr[i & 0xff]!; }
  protected writeSr(i: number, v: number): void {
    const idx = i & 0xff;
    this.sr[idx] = v & (SR_MASK[idx] ?? 0);
    this.modeGeneration++;
  }

  protected readGr(i: number): number { return this.gr[i & 0xff]!; }
  protected writeGr(i: number, v: number): void {
    const idx = i & 0xff;
    const before = this.gr[idx]!;
    this.gr[idx] = v & (GR_MASK[idx] ?? 0);
    // Only the mode, misc (text/graphics, memory map) and plane reads change what is shown.
    if ((idx === GR_MODE || idx === GR_MISC) && before !== this.gr[idx]) this.modeGeneration++;
  }

  protected readCr(i: number): number { return this.cr[i & 0xff]!; }
  protected writeCr(i: number, v: number): void {
    const idx = i & 0xff;
    if (idx <= CR_OVERFLOW && (this.cr[CR_V_SYNC_END]! & CR11_PROTECT) !== 0) {
      // CR0-CR7 are write-protected; only CR7's line compare bit 4 still takes writes.
      if (idx === CR_OVERFLOW) this.cr[idx] = (this.cr[idx]! & ~0x10) | (v & 0x10);
      return;
    }
    const before = this.cr[idx]!;
    this.cr[idx] = v;
    // Cursor position and start address are read per cell by the renderer; the rest reshapes.
    if (before !== v && (idx < CR_CURSOR_START || idx > CR_CURSOR_LO)) this.modeGeneration++;
  }

  protected writeAr(i: number, v: number): void {
    if (i >= AR_COUNT) return;
    const mask = i < 0x10 ? 0x3f : i === AR_PLANE_ENABLE ? 0x3f : i === AR_H_PEL_PANNING || i === AR_COLOR_SELECT ? 0x0f : 0xff;
    this.ar[i] = v & mask;
    if (i < 0x10 || i === AR_COLOR_SELECT || i === AR_MODE_CONTROL) this.paletteGeneration++;
    if (i >= 0x10) this.modeGeneration++;
  }

  /** True while the attribute controller's PAS bit lets the palette drive the screen. */
  get screenEnabled(): boolean { return (this.arIndex & AR_INDEX_PAS) !== 0 && (this.sr[SR_CLOCKING_MODE]! & SR01_SCREEN_OFF) === 0; }

  saveState(): VgaRegsState {
    return {
      misc: this.misc, featureControl: this.featureControl,
      srIndex: this.srIndex, sr: Array.from(this.sr), grIndex: this.grIndex, gr: Array.from(this.gr),
      crIndex: this.crIndex, cr: Array.from(this.cr), arIndex: this.arIndex, arFlipFlop: this.arFlipFlop, ar: Array.from(this.ar),
      dac: Array.from(this.dac), dacReadIndex: this.dacReadIndex, dacWriteIndex: this.dacWriteIndex,
      dacSub: this.dacSub, dacState: this.dacState, pelMask: this.pelMask,
    };
  }

  loadState(s: Record<string, unknown>): void {
    const byte = (k: string, max = 0xff): number => {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`bad device state: vga ${k}`);
      return v;
    };
    const bytes = (k: string, len: number): number[] => {
      const v = s[k];
      if (!Array.isArray(v) || v.length !== len || !v.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 0xff)) {
        throw new Error(`bad device state: vga ${k}`);
      }
      return v as number[];
    };
    const sr = bytes('sr', 256), gr = bytes('gr', 256), cr = bytes('cr', 256), ar = bytes('ar', 256), dac = bytes('dac', 768);
    const vals = {
      misc: byte('misc'), featureControl: byte('featureControl'), srIndex: byte('srIndex'), grIndex: byte('grIndex'),
      crIndex: byte('crIndex'), arIndex: byte('arIndex'), arFlipFlop: byte('arFlipFlop', 1), dacReadIndex: byte('dacReadIndex'),
      dacWriteIndex: byte('dacWriteIndex'), dacSub: byte('dacSub', 2), dacState: byte('dacState'), pelMask: byte('pelMask'),
    };
    Object.assign(this, vals);
    this.sr.set(sr); this.gr.set(gr); this.cr.set(cr); this.ar.set(ar); this.dac.set(dac);
    this.modeGeneration++;
    this.paletteGeneration++;
  }
}
