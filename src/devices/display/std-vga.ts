// QEMU's standard VGA as a PCI function (1234:1111, class 0300; QEMU hw/display/vga-pci.c and
// docs/specs/standard-vga.rst): the VGA core on the legacy ports and the 0xA0000 window, the
// Bochs VBE DISPI registers at 0x1CE/0x1CF, and three PCI windows:
//   BAR0  the linear framebuffer (prefetchable, the size of VRAM), mapped into the guest as
//         RAM through VramShare.setLinearMapping, and served here as MMIO until it is;
//   BAR2  4 KiB of MMIO: EDID at 0x000 (none here), the VGA ports 0x3C0-0x3DF at 0x400, the
//         DISPI registers at 0x500 (16 bits each), QEMU's extension registers at 0x600;
//   ROM   the expansion ROM BAR (offset 0x30) with SeaBIOS's vgabios-stdvga.bin, which
//         SeaBIOS finds there and runs (its optionroms.c maps the ROM BARs of VGA devices).

import type { AccessSize, Clock, Device, IoRegion } from '../api.js';
import { expectInt, expectRecord } from '../api.js';
import { PciConfigSpace, PCI_COMMAND_MEMORY, type PciDecode } from '../pci/config-space.js';
import type { PciFunction } from '../pci/pci-host.js';
import { ExpansionRom } from '../pci/expansion-rom.js';
import { VgaMemory, type VideoMemory } from './vga-memory.js';
import { VgaRegs, GR_MISC, GR06_GRAPHICS, GR_MODE, GR05_SHIFT_256, SR_MEMORY_MODE, SR04_CHAIN4, SR04_ODD_EVEN_DISABLE, SR_MAP_MASK, CR_MODE_CONTROL } from './vga-regs.js';
import { VgaRenderer, type RenderResult } from './vga-render.js';
import { VbeDispi, VBE_DISPI_LFB_ENABLED, VBE_DISPI_INDEX_ENABLE } from './vbe-dispi.js';
import { findFont8x16, PCI_CLASS_DISPLAY_VGA, QEMU_SUBSYSTEM, QEMU_SUBSYSTEM_VENDOR, touchesLinearMapping, writeBiosTextScreen } from './vga-pci.js';

export const STDVGA_VENDOR_ID = 0x1234;
export const STDVGA_DEVICE_ID = 0x1111;
/** Revision 2: the MMIO BAR has QEMU's extension registers (Linux's bochs driver checks >= 2). */
const STDVGA_REVISION = 2;

/** BAR2 layout (QEMU's PCI_VGA_* offsets). */
export const MMIO_SIZE = 0x1000;
const MMIO_IOPORT_OFFSET = 0x400;   // VGA ports 0x3C0-0x3DF
const MMIO_IOPORT_SIZE = 0x20;
const MMIO_BOCHS_OFFSET = 0x500;    // DISPI index n at 0x500 + 2n
const MMIO_BOCHS_SIZE = 0x16;
const MMIO_QEXT_OFFSET = 0x600;
const QEXT_REG_SIZE = 0x0;           // size of the extension block (read-only)
const QEXT_REG_BYTEORDER = 0x4;      // framebuffer byte order
const QEXT_SIZE = 8;
const QEXT_LITTLE_ENDIAN = 0x1e1e1e1e;
const QEXT_BIG_ENDIAN = 0xbebebebe;

/** Where the legacy pieces decode. */
export const VBE_DISPI_IOPORT = 0x1ce;
/** 0x1CE: index (16-bit), 0x1CF: data (16-bit, so the block reaches 0x1D0). */
const VBE_PORT_COUNT = 3;

/** Saved state. */
export interface StdVgaState {
  config: number[];
  regs: Record<string, unknown>;
  dispi: { index: number; regs: number[] };
  latch: number;
  byteOrder: number;
}

/** The standard VGA card. */
export class StdVga implements PciFunction, Device<StdVgaState> {
  readonly stateVersion = 1;
  readonly config: PciConfigSpace;
  readonly regs: VgaRegs;
  readonly memory: VgaMemory;
  readonly dispi: VbeDispi;
  /** Ports 0x1CE-0x1D0. */
  readonly dispiRegion: IoRegion;
  /** BAR0 served as MMIO (before the CPU maps VRAM there, or if it cannot). */
  readonly lfbRegion: IoRegion;
  readonly mmioRegion: IoRegion;
  readonly rom: ExpansionRom;
  private readonly renderer: VgaRenderer;
  private readonly font: Uint8Array | null;
  private byteOrder = QEXT_LITTLE_ENDIAN;
  private fontWrites = 0;
  private lfbBase = -1;

  constructor(readonly id: string, private readonly vram: VideoMemory, rom: Uint8Array, clock: Clock) {
    const size = vram.bytes.length;
    if (size < 0x40000 || (size & (size - 1)) !== 0) throw new Error(`${id}: VRAM must be a power of two of at least 256 KiB`);
    this.regs = new VgaRegsVbe(id, () => this.dispi.dac8);
    // The DISPI bank register is the one record of the 64 KiB bank the A0000 window shows.
    this.memory = new VgaMemory(id, this.regs, vram, () => this.dispi.bankOffset);
    this.dispi = new VbeDispi(size, { modeChanged: (enabled, clear) => this.dispiModeChanged(enabled, clear) });
    this.renderer = new VgaRenderer(this.regs, vram, clock, () => this.fontWrites + this.memory.plane2Writes);
    this.rom = new ExpansionRom(id, rom);
    this.font = findFont8x16(rom);
    this.dispiRegion = {
      name: `${id}.vbe-dispi`, size: VBE_PORT_COUNT,
      read: (offset, sz) => {
        const v = offset === 0 ? this.dispi.readIndex() : offset === 1 ? this.dispi.readData() : this.dispi.readData() >>> 8;
        return sz === 1 ? v & 0xff : v & 0xffff;
      },
      write: (offset, _size, value) => {
        if (offset === 0) this.dispi.writeIndex(value);
        else if (offset === 1) this.dispi.writeData(value);
      },
    };
    this.lfbRegion = {
      name: `${id}.lfb`, size,
      read: (offset, sz) => this.lfbRead(offset, sz),
      write: (offset, sz, value) => this.lfbWrite(offset, sz, value),
    };
    this.mmioRegion = {
      name: `${id}.mmio`, size: MMIO_SIZE,
      read: (offset, sz) => this.mmioRead(offset, sz),
      write: (offset, sz, value) => this.mmioWrite(offset, sz, value),
    };
    this.config = new PciConfigSpace({
      vendorId: STDVGA_VENDOR_ID, deviceId: STDVGA_DEVICE_ID, revision: STDVGA_REVISION,
      classCode: PCI_CLASS_DISPLAY_VGA, subsystemVendorId: QEMU_SUBSYSTEM_VENDOR, subsystemId: QEMU_SUBSYSTEM,
    });
    this.config.defineBar(0, { space: 'mem32', size, prefetchable: true, region: this.lfbRegion });
    this.config.defineBar(2, { space: 'mem32', size: MMIO_SIZE, region: this.mmioRegion });
    this.rom.define(this.config);
    this.config.snapshotReset();
    this.reset();
  }

  // ---- PCI ---------------------------------------------------------------------------------------

  /** The expansion ROM decodes when enabled in its BAR and memory decode is on. */
  extraDecodes(): readonly PciDecode[] {
    return this.rom.decodes(this.config);
  }

  configWritten(offset: number, size: AccessSize): void {
    if (touchesLinearMapping(offset, size)) this.updateLinearMapping();
  }

  /** Tells VRAM sharing where BAR0 decodes now (0 when memory decode is off or the BAR unset). */
  private updateLinearMapping(): void {
    const base = this.config.barAddress(0);
    const size = this.vram.bytes.length;
    const on = (this.config.command & PCI_COMMAND_MEMORY) !== 0 && base !== 0 && base + size <= 0x1_0000_0000;
    const want = on ? base : 0;
    if (want === this.lfbBase) return;
    this.lfbBase = want;
    this.vram.setLinearMapping(want, want === 0 ? 0 : size);
  }

  // ---- windows -----------------------------------------------------------------------------------

  private lfbRead(offset: number, size: AccessSize): number {
    const b = this.vram.bytes;
    let v = 0;
    for (let i = 0; i < size; i++) v |= (b[offset + i] ?? 0xff) << (8 * i);
    return v >>> 0;
  }

  private lfbWrite(offset: number, size: AccessSize, value: number): void {
    const b = this.vram.bytes;
    if (offset < 0 || offset + size > b.length) return;
    for (let i = 0; i < size; i++) b[offset + i] = (value >>> (8 * i)) & 0xff;
    this.vram.markDirty(offset, size);
  }

  private mmioRead(offset: number, size: AccessSize): number {
    if (offset >= MMIO_IOPORT_OFFSET && offset + size <= MMIO_IOPORT_OFFSET + MMIO_IOPORT_SIZE) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.regs.readPort(offset - MMIO_IOPORT_OFFSET + 0x10 + i) << (8 * i);
      return v >>> 0;
    }
    if (offset >= MMIO_BOCHS_OFFSET && offset + size <= MMIO_BOCHS_OFFSET + MMIO_BOCHS_SIZE) {
      const save = this.dispi.index;
      this.dispi.index = (offset - MMIO_BOCHS_OFFSET) >> 1;
      const v = this.dispi.readData();
      this.dispi.index = save;
      return size === 1 ? (v >>> (8 * (offset & 1))) & 0xff : v & 0xffff;
    }
    if (offset >= MMIO_QEXT_OFFSET && offset + size <= MMIO_QEXT_OFFSET + QEXT_SIZE) {
      const reg = (offset - MMIO_QEXT_OFFSET) & ~3;
      const v = reg === QEXT_REG_SIZE ? QEXT_SIZE : this.byteOrder;
      return size === 4 ? v >>> 0 : (v >>> (8 * (offset & 3))) & (size === 1 ? 0xff : 0xffff);
    }
    return 0; // the EDID block (no EDID here) and the gaps read as zero
  }

  private mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset >= MMIO_IOPORT_OFFSET && offset + size <= MMIO_IOPORT_OFFSET + MMIO_IOPORT_SIZE) {
      for (let i = 0; i < size; i++) this.regs.writePort(offset - MMIO_IOPORT_OFFSET + 0x10 + i, (value >>> (8 * i)) & 0xff);
      return;
    }
    if (offset >= MMIO_BOCHS_OFFSET && offset + size <= MMIO_BOCHS_OFFSET + MMIO_BOCHS_SIZE && size === 2 && (offset & 1) === 0) {
      const save = this.dispi.index;
      this.dispi.index = (offset - MMIO_BOCHS_OFFSET) >> 1;
      this.dispi.writeData(value);
      this.dispi.index = save;
      return;
    }
    if (offset === MMIO_QEXT_OFFSET + QEXT_REG_BYTEORDER && size === 4) {
      // Only the two documented values switch; this model always stores little-endian pixels.
      if (value === QEXT_LITTLE_ENDIAN || value === QEXT_BIG_ENDIAN) this.byteOrder = value >>> 0;
    }
  }

  // ---- DISPI mode switches -----------------------------------------------------------------------

  /** Sets the VGA registers a linear mode needs (as QEMU's vbe_update_vgaregs), and clears VRAM. */
  private dispiModeChanged(enabled: boolean, clear: boolean): void {
    const regs = this.regs;
    if (enabled) {
      const m = this.dispi.linearMode();
      if (clear && m !== null) {
        const end = Math.min(this.vram.bytes.length, m.pitch * m.height);
        this.vram.bytes.fill(0, 0, end);
        this.vram.markDirty(0, end);
      }
      // Graphics mode, memory map A0000-AFFFF (the 64 KiB bank window); chain-4 over all planes
      // for the packed depths, planar addressing for 4 bpp (QEMU's vbe_update_vgaregs).
      regs.gr[GR_MISC] = (regs.gr[GR_MISC]! & ~0x0c) | 0x04 | GR06_GRAPHICS;
      if (m?.bpp === 4) {
        regs.gr[GR_MODE] = regs.gr[GR_MODE]! & ~0x60;
        regs.sr[SR_MEMORY_MODE] = (regs.sr[SR_MEMORY_MODE]! & ~SR04_CHAIN4) | SR04_ODD_EVEN_DISABLE;
      } else {
        regs.gr[GR_MODE] = (regs.gr[GR_MODE]! & ~0x60) | GR05_SHIFT_256;
        regs.sr[SR_MEMORY_MODE] = regs.sr[SR_MEMORY_MODE]! | SR04_CHAIN4;
        regs.sr[SR_MAP_MASK] = 0x0f;
      }
      regs.cr[CR_MODE_CONTROL] = regs.cr[CR_MODE_CONTROL]! | 3;
    }
    regs.modeGeneration++;
    regs.paletteGeneration++;
  }

  /** Draws the screen: what changed since the last refresh, or everything when `full`. */
  refresh(full: boolean): RenderResult {
    return this.renderer.render(full, this.dispi.linearMode());
  }

  /** True while the guest has the linear framebuffer enabled (DISPI LFB bit). */
  get lfbEnabled(): boolean { return (this.dispi.regs[VBE_DISPI_INDEX_ENABLE]! & VBE_DISPI_LFB_ENABLED) !== 0; }

  // ---- Device ------------------------------------------------------------------------------------

  reset(): void {
    this.config.reset();
    this.regs.reset();
    this.dispi.reset();
    this.memory.latch = 0;
    this.byteOrder = QEXT_LITTLE_ENDIAN;
    this.lfbBase = -1;
    this.updateLinearMapping();
    writeBiosTextScreen(this.vram, this.font);
    this.fontWrites++;
  }

  saveState(): StdVgaState {
    return {
      config: this.config.save(), regs: this.regs.saveState() as unknown as Record<string, unknown>,
      dispi: this.dispi.saveState(), latch: this.memory.latch >>> 0, byteOrder: this.byteOrder >>> 0,
    };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported std-vga state version ${version}`);
    const s = expectRecord(state, this.id);
    const latch = expectInt(s, 'latch', 0, 0xffffffff);
    const byteOrder = expectInt(s, 'byteOrder', 0, 0xffffffff);
    const before = { regs: this.regs.saveState() as unknown as Record<string, unknown>, dispi: this.dispi.saveState(), config: this.config.save() };
    try {
      this.regs.loadState(expectRecord(s['regs'], `${this.id} regs`));
      this.dispi.loadState(expectRecord(s['dispi'], `${this.id} dispi`));
      this.config.load(s['config'], this.id);
    } catch (e) {
      // Nothing of a refused state stays: the parts already taken go back to what they were.
      this.regs.loadState(before.regs);
      this.dispi.loadState(before.dispi);
      this.config.load(before.config, this.id);
      throw e;
    }
    this.memory.latch = latch | 0;
    this.byteOrder = byteOrder;
    this.lfbBase = -1;
    this.updateLinearMapping();
    this.fontWrites++;
  }
}

/** The VGA registers with the DISPI 8-bit DAC switch. */
class VgaRegsVbe extends VgaRegs {
  constructor(name: string, private readonly dac8: () => boolean) { super(name); }
  protected override dacDataMask(): number { return this.dac8 !== undefined && this.dac8() ? 0xff : 0x3f; }
}
