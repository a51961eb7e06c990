// The display adapter: `--vga std|cirrus|none`. The std VGA is a PCI function in slot 2 (where
// QEMU's pc puts its VGA), claiming the legacy VGA ports, the DISPI ports and the 0xA0000
// window; its option ROM is SeaBIOS's vgabios-stdvga.bin from Debian's seabios package. The
// Cirrus CL-GD5446 (`--vga cirrus`) takes the same slot with 4 MiB of VRAM and vgabios-cirrus.bin.

import { readFileSync } from 'node:fs';
import { StdVga } from '../devices/display/std-vga.js';
import { CirrusVga, CIRRUS_VRAM_BYTES } from '../devices/display/cirrus-vga.js';
import { LocalVram } from '../devices/display/vga-memory.js';
import type { BuiltDevice, FactoryContext } from './build.js';
import type { MachineDescription } from './description.js';

/** Display adapters `--vga` names. */
export type VgaKind = 'std' | 'cirrus' | 'none';
export const VGA_KINDS: readonly VgaKind[] = ['std', 'cirrus', 'none'];

/** The std VGA's video memory (QEMU's default vgamem_mb=16). */
export const STD_VGA_VRAM_BYTES = 16 * 1024 * 1024;
/** Its option ROM. */
export const STD_VGA_ROM = '/usr/share/seabios/vgabios-stdvga.bin';
/** The legacy window's guest-physical base. */
export const VGA_WINDOW_BASE = 0xa0000;
/** The display device's id in the machine. */
export const VGA_ID = 'vga';
const VGA_SLOT = 2;

/** Video memory a VGA kind needs (0: none). */
export function vramBytesFor(kind: VgaKind): number {
  return kind === 'std' ? STD_VGA_VRAM_BYTES : kind === 'cirrus' ? CIRRUS_VRAM_BYTES : 0;
}

/** `desc` with the display adapter `kind` added; a host error for a kind not built yet. */
export function withVga(desc: MachineDescription, kind: VgaKind): MachineDescription {
  if (kind === 'none') return desc;
  if (desc.devices.some((d) => d.pci?.slot === VGA_SLOT)) throw new Error(`machine ${desc.name}: PCI slot ${VGA_SLOT} is taken, no room for the VGA`);
  if (kind === 'cirrus') return { ...desc, devices: [...desc.devices, { device: 'cirrus-vga', id: VGA_ID, ports: [0x3b0], pci: { slot: VGA_SLOT, fn: 0 } }] };
  // Before the NICs (withNics picks free slots from 3 on) and after the PCI host.
  return { ...desc, devices: [...desc.devices, { device: 'std-vga', id: VGA_ID, ports: [0x3b0, 0x1ce], pci: { slot: VGA_SLOT, fn: 0 } }] };
}

/** Builds the std VGA over the machine's VRAM (or VRAM of its own, reached only as MMIO). */
export function stdVgaFactory(ctx: FactoryContext): BuiltDevice {
  let rom: Uint8Array;
  try {
    rom = new Uint8Array(readFileSync(STD_VGA_ROM));
  } catch (e) {
    throw new Error(`${ctx.entry.id}: cannot read the VGA BIOS ${STD_VGA_ROM} (Debian package seabios): ${(e as Error).message}`);
  }
  const vram = ctx.vram ?? new LocalVram(STD_VGA_VRAM_BYTES);
  const d = new StdVga(ctx.entry.id, vram, rom, ctx.clock);
  ctx.mmio.map(VGA_WINDOW_BASE, d.memory.region);
  return { device: d, regions: [d.regs.region, d.dispiRegion], pciFunction: d };
}

/** The Cirrus CL-GD5446's option ROM (SeaBIOS's Cirrus VGA BIOS). */
export const CIRRUS_VGA_ROM = '/usr/share/seabios/vgabios-cirrus.bin';

/** Builds the CL-GD5446 (`--vga cirrus`) over the machine's 4 MiB of VRAM. */
export function cirrusVgaFactory(ctx: FactoryContext): BuiltDevice {
  let rom: Uint8Array;
  try {
    rom = new Uint8Array(readFileSync(CIRRUS_VGA_ROM));
  } catch (e) {
    throw new Error(`${ctx.entry.id}: cannot read the VGA BIOS ${CIRRUS_VGA_ROM} (Debian package seabios): ${(e as Error).message}`);
  }
  const vram = ctx.vram ?? new LocalVram(CIRRUS_VRAM_BYTES);
  const d = new CirrusVga(ctx.entry.id, vram, rom, ctx.clock);
  ctx.mmio.map(VGA_WINDOW_BASE, d.window);
  return { device: d, regions: [d.regs.region], pciFunction: d };
}
