// The ways a guest starts without firmware of its own choosing: the Linux x86 boot protocol
// (Documentation/arch/x86/boot.rst), a BIOS-style ROM image at the reset vector, and a flat
// real-mode binary. Each loads guest RAM and returns the boot vCPU's initial state.

import type { GuestRam } from '../hypervisor/memory.js';
import { type CpuState, realSegment, resetState } from '../hypervisor/vcpu.js';
import {
  CAN_USE_HEAP, HDR_CMD_LINE_PTR, HDR_HEAP_END_PTR, HDR_LOADFLAGS, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE,
  HDR_SETUP_SECTS, HDR_TYPE_OF_LOADER, HDR_VID_MODE, LOADER_TYPE_UNDEFINED, XLF_KERNEL_64, parseSetupHeader,
  type SetupHeader,
} from './bzimage.js';
import { ACPI_AREA_BYTES, ACPI_AREA_START, HIGH_MEMORY_START, LEGACY_HOLE_START, pcE820Map, writeE820 } from './e820.js';
import { type AcpiTables, linkAcpiTables } from './acpi/tables.js';
import {
  IDENTITY_MAP_BYTES, longModeEntry, protectedModeEntry, writeBootGdt, writeIdentityMap,
} from './entry-state.js';
import { buildMpTable, type MpPciIrq } from './mptable.js';
import type { Vmlinux } from './vmlinux.js';

export { checkBzImage } from './bzimage.js';

/** Where the loader puts its pieces in low memory (all below the EBDA, above the IVT/BDA). */
const GDT_ADDR = 0x1000;
const BOOT_STACK = 0x7000;
const ZERO_PAGE = 0x7000;
/** struct screen_info fields at the start of boot_params (include/uapi/linux/screen_info.h). */
const SI_ORIG_VIDEO_MODE = 0x06;
const SI_ORIG_VIDEO_COLS = 0x07;
const SI_ORIG_VIDEO_LINES = 0x0e;
const SI_ORIG_VIDEO_IS_VGA = 0x0f;
const SI_ORIG_VIDEO_POINTS = 0x10;
const PAGE_TABLES = 0x9000;
const CMDLINE_ADDR = 0x20000;
/** Longest command line the loader accepts when the kernel does not say (protocol < 2.06). */
const CMDLINE_DEFAULT_MAX = 255;
/** The 64-bit entry sits this far past the protected-mode kernel's start. */
const ENTRY64_OFFSET = 0x200;
/** BIOS shadow: the top of the ROM also appears below 1 MiB (0xE0000–0xFFFFF). */
const BIOS_SHADOW_BYTES = 128 * 1024;
const PAGE = 4096;
/** boot_params.acpi_rsdp_addr (u64), read by kernels of boot protocol 2.14 and later. */
const BP_ACPI_RSDP_ADDR = 0x070;
const PROTOCOL_ACPI_RSDP_ADDR = 0x020e;
/** Under direct boot the RSDP goes at the start of the ACPI area (Linux also finds it by
 *  scanning 0xE0000–0xFFFFF on 16-byte boundaries) and the tables 64 bytes on (FACS alignment). */
const RSDP_ADDR = ACPI_AREA_START;
const ACPI_TABLES_ADDR = ACPI_AREA_START + 64;

/** What loadLinux needs. */
export interface LinuxBoot {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
  cpus: number;
  /** Use the 64-bit entry when the kernel has one (x86-64 kernels under KVM). Default: true. */
  allowLongMode?: boolean;
  /** ACPI tables to install (machines with the PIIX4 PM); without them, only the MP table. */
  acpi?: AcpiTables;
  /** PCI INTx routes the MP table lists (machines with PCI). */
  pciIrqs?: readonly MpPciIrq[];
  /**
   * The bzImage's kernel, decompressed on the host (vmlinux.ts): loaded at its physical
   * addresses and entered at startup_32, skipping the kernel's own decompressor.
   */
  vmlinux?: Vmlinux;
  /**
   * The machine has a VGA in 80x25 text mode: boot_params.screen_info says so (as a BIOS-based
   * loader would), so the kernel's vgacon drives it. Without it vgacon finds no screen.
   */
  vgaText?: boolean;
}

/** Where things went, for tests and the monitor. */
export interface LinuxLayout {
  state: CpuState;
  header: SetupHeader;
  kernelAddr: number;
  initrdAddr: number;
  longMode: boolean;
}

function region(ram: GuestRam, gpa: number, len: number, what: string): Uint8Array {
  const v = ram.view(gpa, len);
  if (v === null) throw new Error(`${what} (${len} bytes at 0x${gpa.toString(16)}) does not fit in guest RAM`);
  return v;
}

/**
 * Loads a bzImage with the 32-bit (or 64-bit) boot protocol entry: boot_params with the
 * kernel's own setup header, the e820 map and command line, the protected-mode kernel at
 * 1 MiB, the initrd as high as the kernel allows, and an MP table for SMP.
 */
export function loadLinux(ram: GuestRam, o: LinuxBoot): LinuxLayout {
  const hdr = parseSetupHeader(o.kernel);
  const lowRam = ram.layout.lowRamBytes;
  const kernelAddr = HIGH_MEMORY_START;
  // The kernel decompresses to its preferred address (a relocatable one too: its decompressor
  // never goes below LOAD_PHYSICAL_ADDR) and needs init_size bytes from there.
  const runStart = Math.max(kernelAddr, hdr.prefAddress);
  let needed = Math.max(kernelAddr + hdr.kernelBytes, runStart + hdr.initSize);
  if (o.vmlinux !== undefined) needed = Math.max(...o.vmlinux.segments.map((seg) => seg.paddr + seg.memSize));
  if (needed > lowRam) {
    throw new Error(`the kernel needs ${Math.ceil(needed / 2 ** 20)} MiB of RAM to decompress; the guest has ${Math.floor(lowRam / 2 ** 20)} MiB`);
  }
  const cmdMax = hdr.cmdlineSize > 0 ? hdr.cmdlineSize : CMDLINE_DEFAULT_MAX;
  const cmd = new TextEncoder().encode(o.cmdline);
  if (cmd.length > cmdMax) throw new Error(`the kernel command line is ${cmd.length} bytes; this kernel takes at most ${cmdMax}`);

  if (o.vmlinux !== undefined) {
    for (const seg of o.vmlinux.segments) {
      const v = region(ram, seg.paddr, seg.memSize, 'a kernel segment');
      v.set(seg.data);
      v.fill(0, seg.data.length);
    }
  } else {
    region(ram, kernelAddr, hdr.kernelBytes, 'the kernel').set(o.kernel.subarray(hdr.setupBytes));
  }
  const cmdView = region(ram, CMDLINE_ADDR, cmd.length + 1, 'the command line');
  cmdView.set(cmd);
  cmdView[cmd.length] = 0;

  let initrdAddr = 0;
  if (o.initrd !== undefined && o.initrd.length > 0) {
    // As high as possible: below initrd_addr_max and the end of low RAM, page-aligned.
    const top = Math.min(lowRam, hdr.initrdAddrMax + 1 > 0 ? hdr.initrdAddrMax + 1 : lowRam);
    initrdAddr = Math.floor((top - o.initrd.length) / PAGE) * PAGE;
    if (initrdAddr < needed) {
      throw new Error(`the initrd (${Math.ceil(o.initrd.length / 2 ** 20)} MiB) does not fit beside the kernel in ${Math.floor(lowRam / 2 ** 20)} MiB of RAM`);
    }
    region(ram, initrdAddr, o.initrd.length, 'the initrd').set(o.initrd);
  }

  const zp = region(ram, ZERO_PAGE, PAGE, 'boot_params');
  zp.fill(0);
  // boot_params.hdr is the kernel's own setup header, from setup_sects up to its end.
  zp.set(o.kernel.subarray(HDR_SETUP_SECTS, hdr.headerEnd), HDR_SETUP_SECTS);
  const dv = new DataView(zp.buffer, zp.byteOffset, zp.byteLength);
  dv.setUint16(HDR_VID_MODE, 0xffff, true);                 // "normal" text mode
  dv.setUint8(HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
  dv.setUint8(HDR_LOADFLAGS, hdr.loadflags | CAN_USE_HEAP);
  dv.setUint16(HDR_HEAP_END_PTR, 0xfe00, true);
  dv.setUint32(HDR_CMD_LINE_PTR, CMDLINE_ADDR, true);
  dv.setUint32(HDR_RAMDISK_IMAGE, initrdAddr, true);
  dv.setUint32(HDR_RAMDISK_SIZE, initrdAddr === 0 ? 0 : o.initrd!.length, true);
  if (o.vgaText === true) {
    // struct screen_info at offset 0: mode 3, 80x25, a VGA, 16-line characters, cursor at 0,0.
    zp[SI_ORIG_VIDEO_MODE] = 3;
    zp[SI_ORIG_VIDEO_COLS] = 80;
    zp[SI_ORIG_VIDEO_LINES] = 25;
    zp[SI_ORIG_VIDEO_IS_VGA] = 1;
    dv.setUint16(SI_ORIG_VIDEO_POINTS, 16, true);
  }
  writeE820(zp, pcE820Map(ram.layout, o.acpi !== undefined ? { acpiTables: true } : {}));
  buildMpTable(ram, o.cpus, o.pciIrqs !== undefined ? { pciIrqs: o.pciIrqs } : {});
  if (o.acpi !== undefined) {
    const rsdp = installAcpi(ram, o.acpi);
    if (hdr.version >= PROTOCOL_ACPI_RSDP_ADDR) dv.setBigUint64(BP_ACPI_RSDP_ADDR, BigInt(rsdp), true);
  }

  const longMode = o.vmlinux === undefined && (o.allowLongMode ?? true) && (hdr.xloadflags & XLF_KERNEL_64) !== 0;
  const entry = o.vmlinux !== undefined ? o.vmlinux.entry : kernelAddr;
  const gdtLimit = writeBootGdt(ram, GDT_ADDR, longMode);
  region(ram, PAGE_TABLES, IDENTITY_MAP_BYTES, 'the boot page tables');
  const state = longMode
    ? longModeEntry(GDT_ADDR, gdtLimit, kernelAddr + ENTRY64_OFFSET, ZERO_PAGE, BOOT_STACK, writeIdentityMap(ram, PAGE_TABLES))
    : protectedModeEntry(GDT_ADDR, gdtLimit, entry, ZERO_PAGE, BOOT_STACK);
  return { state, header: hdr, kernelAddr, initrdAddr, longMode };
}

/** Links the ACPI tables into the ACPI area below the BIOS and returns the RSDP's address. */
export function installAcpi(ram: GuestRam, t: AcpiTables): number {
  if (ACPI_TABLES_ADDR + t.tables.length > ACPI_AREA_START + ACPI_AREA_BYTES) {
    throw new Error(`the ACPI tables (${t.tables.length} bytes) do not fit in the ${ACPI_AREA_BYTES / 1024} KiB ACPI area`);
  }
  const linked = linkAcpiTables(t, ACPI_TABLES_ADDR);
  region(ram, RSDP_ADDR, linked.rsdp.length, 'the ACPI RSDP').set(linked.rsdp);
  region(ram, ACPI_TABLES_ADDR, linked.tables.length, 'the ACPI tables').set(linked.tables);
  return RSDP_ADDR;
}

/**
 * A BIOS-style ROM: mapped just below 4 GiB (the VM must be created with romBytes equal to its
 * size) and its top 128 KiB shadowed below 1 MiB, as a PC chipset shows it; the CPU starts at
 * the reset vector F000:FFF0.
 */
export function loadFirmwareImage(ram: GuestRam, image: Uint8Array): CpuState {
  const rom = ram.rom();
  if (rom.length !== image.length) throw new Error(`the ROM region is ${rom.length} bytes but the image is ${image.length}`);
  rom.set(image);
  const shadow = Math.min(BIOS_SHADOW_BYTES, image.length);
  region(ram, HIGH_MEMORY_START - shadow, shadow, 'the BIOS shadow').set(image.subarray(image.length - shadow));
  return resetState();
}

/** A flat real-mode binary at `at` (below 640 KiB), entered at its first byte with interrupts off. */
export function loadFlatBinary(ram: GuestRam, image: Uint8Array, at: number): CpuState {
  if (!Number.isInteger(at) || at < 0x500 || at + image.length > LEGACY_HOLE_START) {
    throw new Error(`a flat binary of ${image.length} bytes at 0x${at.toString(16)} must lie between 0x500 and 0x${LEGACY_HOLE_START.toString(16)}`);
  }
  region(ram, at, image.length, 'the flat binary').set(image);
  const s = resetState();
  const seg = at >>> 4;
  s.cs = realSegment(seg, 0xb);
  s.rip = BigInt(at & 0xf);
  s.ss = realSegment(0);
  s.rsp = BigInt(Math.min(at, 0xfffe) & ~1);
  return s;
}
