// The Cirrus Logic CL-GD5446 as QEMU's `-vga cirrus` presents it (PCI 1013:00B8, class 0300;
// QEMU hw/display/cirrus_vga.c), so SeaBIOS's vgabios-cirrus.bin and Linux's cirrus DRM driver
// accept it:
//   BAR0  32 MiB, prefetchable: the 4 MiB of VRAM at 0 (mapped into the guest as RAM through
//         VramShare.setLinearMapping while plain byte access is all it needs), the BitBLT
//         system-source aperture at 16 MiB; the rest decodes nothing;
//   BAR1  4 KiB of MMIO: the VGA ports 0x3C0-0x3DF at 0x000 (offset = port - 0x3C0), the
//         BitBLT registers at 0x100;
//   ROM   the expansion ROM BAR with vgabios-cirrus.bin.
// In the SVGA modes (SR7 bit 0) the 0xA0000 window is two banks into VRAM (GR9/GRA/GRB) and
// accepts the write modes 4/5 and system-to-screen BitBLT data; the BitBLT registers can also
// be reached at 0xB8000 (SR17 bit 2) or in the last 256 bytes of the LFB (SR17 bits 2 and 6).

import type { AccessSize, Clock, Device, IoRegion } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import { PciConfigSpace, PCI_COMMAND_MEMORY, type PciDecode } from '../pci/config-space.js';
import type { PciFunction } from '../pci/pci-host.js';
import { ExpansionRom } from '../pci/expansion-rom.js';
import { VgaMemory, VGA_WINDOW_SIZE, type VideoMemory } from './vga-memory.js';
import { VgaRenderer, type LinearMode, type RenderResult } from './vga-render.js';
import { byteRegion, findFont8x16, PCI_CLASS_DISPLAY_VGA, QEMU_SUBSYSTEM, QEMU_SUBSYSTEM_VENDOR, touchesLinearMapping, writeBiosTextScreen } from './vga-pci.js';
import {
  CirrusRegs, CIRRUS_ID_CLGD5446, GRB_BY16_ADDRESSING, GRB_BY8_ADDRESSING, GRB_DUAL_BANK, GRB_EXT_WRITE_MODES,
  GRB_16K_GRANULARITY, SR17_MMIO_ENABLE, SR17_MMIO_LINEAR, BLT_START, BLT_BUSY, BLT_FIFOUSED,
} from './cirrus-regs.js';
import { CirrusBlt } from './cirrus-blt.js';
import { CirrusCursor } from './cirrus-cursor.js';

export const CIRRUS_VENDOR_ID = 0x1013;
/** VRAM of a 5446 (QEMU's default vgamem_mb for cirrus). */
export const CIRRUS_VRAM_BYTES = 4 * 1024 * 1024;
/** BAR0: the whole linear aperture (QEMU's cirrus-pci-bar0). */
export const CIRRUS_BAR0_SIZE = 0x2000000;
/** The BitBLT system-source aperture inside BAR0 (QEMU's cirrus-bitblt-mmio). */
const BITBLT_APERTURE = 0x1000000;
const BITBLT_APERTURE_SIZE = 0x400000;
/** BAR1 (QEMU's CIRRUS_PNPMMIO_SIZE). */
export const CIRRUS_MMIO_SIZE = 0x1000;
const MMIO_BLT_OFFSET = 0x100;

/** The memory-mapped BitBLT registers (QEMU's CIRRUS_MMIO_*) -> graphics controller indexes. */
const MMIO_BLT_GR = new Int16Array(0x100).fill(-1);
[
  [0x00, 0x00], [0x01, 0x10], [0x02, 0x12], [0x03, 0x14],   // background colour
  [0x04, 0x01], [0x05, 0x11], [0x06, 0x13], [0x07, 0x15],   // foreground colour
  [0x08, 0x20], [0x09, 0x21], [0x0a, 0x22], [0x0b, 0x23],   // width, height
  [0x0c, 0x24], [0x0d, 0x25], [0x0e, 0x26], [0x0f, 0x27],   // destination, source pitch
  [0x10, 0x28], [0x11, 0x29], [0x12, 0x2a],                 // destination address
  [0x14, 0x2c], [0x15, 0x2d], [0x16, 0x2e],                 // source address
  [0x17, 0x2f], [0x18, 0x30], [0x1a, 0x32], [0x1b, 0x33],   // write mask (skip left), mode, ROP, mode ext
  [0x1c, 0x34], [0x1d, 0x35], [0x20, 0x38], [0x21, 0x39],   // transparent colour and its mask
  [0x40, 0x31],                                             // start/status
].forEach(([off, gr]) => { MMIO_BLT_GR[off!] = gr!; });

/** Saved state. */
export interface CirrusVgaState {
  config: number[];
  regs: Record<string, unknown>;
  latch: number;
}

/** The CL-GD5446 card. */
export class CirrusVga implements PciFunction, Device<CirrusVgaState> {
  readonly stateVersion = 1;
  readonly config: PciConfigSpace;
  readonly regs: CirrusRegs;
  readonly memory: VgaMemory;
  readonly blt: CirrusBlt;
  /** The 0xA0000 window, decoding as a VGA or through the Cirrus banks. */
  readonly window: IoRegion;
  readonly lfbRegion: IoRegion;
  readonly mmioRegion: IoRegion;
  readonly rom: ExpansionRom;
  private readonly renderer: VgaRenderer;
  private readonly cursor: CirrusCursor;
  private readonly font: Uint8Array | null;
  private readonly mask: number;
  private fontWrites = 0;
  private lfbBase = -1;

  constructor(readonly id: string, private readonly vram: VideoMemory, rom: Uint8Array, clock: Clock) {
    const size = vram.bytes.length;
    if (size !== CIRRUS_VRAM_BYTES) throw new Error(`${id}: the CL-GD5446 has 4 MiB of VRAM, not ${size} bytes`);
    this.mask = size - 1;
    this.regs = new CirrusRegs(id);
    this.memory = new VgaMemory(id, this.regs, vram);
    this.blt = new CirrusBlt(this.regs, vram, () => this.updateLinearMapping());
    this.regs.hooks = {
      bltControl: (old, v) => this.blt.control(old, v),
      bltAutostart: () => this.blt.start(),
      memoryAccessChanged: () => this.updateLinearMapping(),
    };
    this.renderer = new VgaRenderer(this.regs, vram, clock, () => this.fontWrites + this.memory.plane2Writes);
    this.cursor = new CirrusCursor(this.regs, vram);
    this.rom = new ExpansionRom(id, rom);
    this.font = findFont8x16(rom);
    this.window = byteRegion(`${id}.vga-window`, VGA_WINDOW_SIZE, (o) => this.windowRead(o), (o, v) => this.windowWrite(o, v));
    this.lfbRegion = byteRegion(`${id}.lfb`, CIRRUS_BAR0_SIZE, (o) => this.linearRead(o), (o, v) => this.linearWrite(o, v));
    this.mmioRegion = byteRegion(`${id}.mmio`, CIRRUS_MMIO_SIZE, (o) => this.mmioReadByte(o), (o, v) => this.mmioWriteByte(o, v));
    this.config = new PciConfigSpace({
      vendorId: CIRRUS_VENDOR_ID, deviceId: CIRRUS_ID_CLGD5446, revision: 0,
      classCode: PCI_CLASS_DISPLAY_VGA, subsystemVendorId: QEMU_SUBSYSTEM_VENDOR, subsystemId: QEMU_SUBSYSTEM,
    });
    this.config.defineBar(0, { space: 'mem32', size: CIRRUS_BAR0_SIZE, prefetchable: true, region: this.lfbRegion });
    this.config.defineBar(1, { space: 'mem32', size: CIRRUS_MMIO_SIZE, region: this.mmioRegion });
    this.rom.define(this.config);
    this.config.snapshotReset();
    this.reset();
  }

  // ---- PCI ---------------------------------------------------------------------------------------

  extraDecodes(): readonly PciDecode[] {
    return this.rom.decodes(this.config);
  }

  configWritten(offset: number, size: AccessSize): void {
    if (touchesLinearMapping(offset, size)) this.updateLinearMapping();
  }

  /**
   * VRAM is mapped at BAR0 as RAM only while plain byte access is right (QEMU's
   * cirrus_update_memory_access): not with the BitBLT registers in the LFB, a system-source
   * blit taking data, the 8/16-byte addressing or the colour expanding write modes.
   */
  private updateLinearMapping(): void {
    const base = this.config.barAddress(0);
    const size = this.vram.bytes.length;
    const regs = this.regs;
    const gr0b = regs.gr[0x0b]!;
    const mode = regs.gr[0x05]! & 7;
    const plain = (regs.sr[0x17]! & (SR17_MMIO_ENABLE | SR17_MMIO_LINEAR)) !== (SR17_MMIO_ENABLE | SR17_MMIO_LINEAR) &&
      !this.blt.systemSourceActive && (gr0b & GRB_BY8_ADDRESSING) === 0 && (gr0b & GRB_BY16_ADDRESSING) !== GRB_BY16_ADDRESSING &&
      (mode < 4 || mode > 5 || (gr0b & GRB_EXT_WRITE_MODES) === 0);
    const on = plain && (this.config.command & PCI_COMMAND_MEMORY) !== 0 && base !== 0 && base + CIRRUS_BAR0_SIZE <= 0x1_0000_0000;
    const want = on ? base : 0;
    if (want === this.lfbBase) return;
    this.lfbBase = want;
    this.vram.setLinearMapping(want, want === 0 ? 0 : size);
  }

  // ---- the 0xA0000 window (QEMU cirrus_vga_mem_read/write) ----------------------------------------

  /** Window offset (0..0xFFFF) -> VRAM address through bank 0 (A0000-A7FFF) or 1, or -1. */
  private bankAddress(offset: number): number {
    const gr = this.regs.gr;
    const bank = offset >> 15;
    const gr0b = gr[0x0b]!;
    let base = (gr0b & GRB_DUAL_BANK) !== 0 ? gr[0x09 + bank]! : gr[0x09]!;
    base *= (gr0b & GRB_16K_GRANULARITY) !== 0 ? 0x4000 : 0x1000;
    // A single bank spans both halves of the window.
    if ((gr0b & GRB_DUAL_BANK) === 0 && bank === 1) base += 0x8000;
    let a = base + (offset & 0x7fff);
    if (a >= this.vram.bytes.length) return -1;
    if ((gr0b & GRB_BY16_ADDRESSING) === GRB_BY16_ADDRESSING) a *= 16;
    else if ((gr0b & GRB_BY8_ADDRESSING) !== 0) a *= 8;
    return a & this.mask;
  }

  private get bltInWindow(): boolean { return (this.regs.sr[0x17]! & (SR17_MMIO_ENABLE | SR17_MMIO_LINEAR)) === SR17_MMIO_ENABLE; }

  private windowRead(offset: number): number {
    if (!this.regs.extended) return this.memory.readByte(offset);
    if (offset < 0x10000) {
      const a = this.bankAddress(offset);
      return a < 0 ? 0xff : this.vram.bytes[a]!;
    }
    if (offset >= 0x18000 && offset < 0x18100 && this.bltInWindow) return this.bltRegRead(offset & 0xff);
    return 0xff;
  }

  private windowWrite(offset: number, v: number): void {
    if (!this.regs.extended) { this.memory.writeByte(offset, v); return; }
    if (offset < 0x10000) {
      if (this.blt.systemSourceActive) { this.blt.systemWrite(v); return; }
      const a = this.bankAddress(offset);
      if (a >= 0) this.vramWrite(a, v);
      return;
    }
    if (offset >= 0x18000 && offset < 0x18100 && this.bltInWindow) this.bltRegWrite(offset & 0xff, v);
  }

  /** A CPU byte to VRAM: plain, or write mode 4/5 colour expansion (8 or 16 bpp). */
  private vramWrite(a: number, v: number): void {
    const regs = this.regs;
    const gr0b = regs.gr[0x0b]!;
    const mode = regs.gr[0x05]! & 7;
    const b = this.vram.bytes;
    if (mode < 4 || mode > 5 || (gr0b & GRB_EXT_WRITE_MODES) === 0) {
      b[a] = v;
      this.vram.markDirty(a, 1);
      return;
    }
    const wide = (gr0b & GRB_BY16_ADDRESSING) === GRB_BY16_ADDRESSING;
    for (let x = 0; x < 8; x++) {
      const on = (v & (0x80 >> x)) !== 0;
      if (!on && mode !== 5) continue;
      if (wide) {
        const d = (a + 2 * x) & this.mask;
        b[d] = on ? regs.shadowGr1 : regs.shadowGr0;
        b[(d + 1) & this.mask] = on ? regs.gr[0x11]! : regs.gr[0x10]!;
      } else {
        b[(a + x) & this.mask] = on ? regs.shadowGr1 : regs.shadowGr0;
      }
    }
    // The stores wrap at the end of VRAM; so does the dirty mark.
    const len = wide ? 16 : 8;
    const tail = Math.min(len, b.length - a);
    this.vram.markDirty(a, tail);
    if (tail < len) this.vram.markDirty(0, len - tail);
  }

  // ---- BAR0 (QEMU cirrus_linear_read/write and cirrus_linear_bitblt_*) --------------------------

  private linearAddress(offset: number): number {
    const gr0b = this.regs.gr[0x0b]!;
    let a = offset & this.mask;
    if ((gr0b & GRB_BY16_ADDRESSING) === GRB_BY16_ADDRESSING) a *= 16;
    else if ((gr0b & GRB_BY8_ADDRESSING) !== 0) a *= 8;
    return a & this.mask;
  }

  private bltInLfb(offset: number): boolean {
    return (this.regs.sr[0x17]! & (SR17_MMIO_ENABLE | SR17_MMIO_LINEAR)) === (SR17_MMIO_ENABLE | SR17_MMIO_LINEAR) &&
      (offset & this.mask) >= this.vram.bytes.length - 0x100;
  }

  private linearRead(offset: number): number {
    if (offset >= this.vram.bytes.length) return 0xff; // the gaps and the write-only BitBLT aperture
    if (this.bltInLfb(offset)) return this.bltRegRead(offset & 0xff);
    return this.vram.bytes[this.linearAddress(offset)]!;
  }

  private linearWrite(offset: number, v: number): void {
    if (offset >= BITBLT_APERTURE && offset < BITBLT_APERTURE + BITBLT_APERTURE_SIZE) { this.blt.systemWrite(v); return; }
    if (offset >= this.vram.bytes.length) return;
    if (this.bltInLfb(offset)) { this.bltRegWrite(offset & 0xff, v); return; }
    if (this.blt.systemSourceActive) { this.blt.systemWrite(v); return; }
    this.vramWrite(this.linearAddress(offset), v);
  }

  // ---- BAR1 ----------------------------------------------------------------------------------------

  private mmioReadByte(offset: number): number {
    if (offset < MMIO_BLT_OFFSET) return offset < 0x20 ? this.regs.readPort(offset + 0x10) : 0xff;
    return offset < MMIO_BLT_OFFSET + 0x100 ? this.bltRegRead(offset - MMIO_BLT_OFFSET) : 0xff;
  }

  private mmioWriteByte(offset: number, v: number): void {
    if (offset < MMIO_BLT_OFFSET) { if (offset < 0x20) this.regs.writePort(offset + 0x10, v); return; }
    if (offset < MMIO_BLT_OFFSET + 0x100) this.bltRegWrite(offset - MMIO_BLT_OFFSET, v);
  }

  /** The memory-mapped BitBLT registers go through the graphics controller's own write path. */
  private bltRegRead(off: number): number {
    const gr = MMIO_BLT_GR[off & 0xff]!;
    if (gr < 0) return 0xff;
    const save = this.regs.grIndex;
    this.regs.grIndex = gr;
    const v = this.regs.readPort(0x1f);
    this.regs.grIndex = save;
    return v;
  }

  private bltRegWrite(off: number, v: number): void {
    const gr = MMIO_BLT_GR[off & 0xff]!;
    if (gr < 0) return;
    const save = this.regs.grIndex;
    this.regs.grIndex = gr;
    this.regs.writePort(0x1f, v);
    this.regs.grIndex = save;
  }

  // ---- display -------------------------------------------------------------------------------------

  /** The SVGA mode the extension registers describe (QEMU cirrus_get_resolution/offsets), or null in VGA modes. */
  linearMode(): LinearMode | null {
    const regs = this.regs;
    if (!regs.extended) return null;
    const cr = regs.cr;
    let height = (cr[0x12]! | ((cr[0x07]! & 0x02) << 7) | ((cr[0x07]! & 0x40) << 3)) + 1;
    if ((cr[0x1a]! & 0x01) !== 0) height *= 2; // interlaced
    return { width: (cr[0x01]! + 1) * 8, height, bpp: regs.bpp, pitch: regs.lineOffset, start: regs.startAddress, dac8: false };
  }

  /** Draws the screen: what changed since the last refresh, or everything when `full`; the hardware cursor on top. */
  refresh(full: boolean): RenderResult {
    const mode = this.linearMode();
    this.cursor.beforeRender();
    const r = this.renderer.render(full, mode);
    return this.cursor.afterRender(r, mode !== null);
  }

  // ---- Device --------------------------------------------------------------------------------------

  reset(): void {
    this.config.reset();
    this.regs.reset();
    this.regs.cirrusReset();
    this.blt.reset();
    this.memory.latch = 0;
    this.lfbBase = -1;
    this.updateLinearMapping();
    writeBiosTextScreen(this.vram, this.font);
    this.fontWrites++;
  }

  saveState(): CirrusVgaState {
    // A blit the CPU is still feeding (system-to-screen) is not part of the state: the loaded
    // card is idle (GR31 without START/BUSY/FIFOUSED), as loadState leaves it.
    const regs = this.regs.saveState() as unknown as Record<string, unknown>;
    const gr = regs['gr'];
    if (Array.isArray(gr)) gr[0x31] = (gr[0x31] as number) & ~(BLT_START | BLT_BUSY | BLT_FIFOUSED);
    return { config: this.config.save(), regs, latch: this.memory.latch >>> 0 };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported cirrus-vga state version ${version}`);
    const s = expectRecord(state, this.id);
    const latch = expectInt(s, 'latch', 0, 0xffffffff);
    const before = { regs: this.regs.saveState() as unknown as Record<string, unknown>, config: this.config.save() };
    try {
      this.regs.loadState(expectRecord(s['regs'], `${this.id} regs`));
      this.config.load(s['config'], this.id);
    } catch (e) {
      // Nothing of a refused state stays.
      this.regs.loadState(before.regs);
      this.config.load(before.config, this.id);
      throw e;
    }
    this.blt.reset();
    this.memory.latch = latch | 0;
    this.lfbBase = -1;
    this.updateLinearMapping();
    this.fontWrites++;
  }
}
