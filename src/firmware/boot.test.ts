// The boot loaders against a synthetic bzImage: boot_params fields, the e820 map, initrd
// placement, the entry state, and the errors a bad image or too little RAM give.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam, memoryLayout } from '../hypervisor/memory.js';
import { loadFirmwareImage, loadFlatBinary, loadLinux } from './boot.js';
import {
  HDR_BOOT_FLAG, HDR_CMDLINE_SIZE, HDR_CMD_LINE_PTR, HDR_HEADER, HDR_INITRD_ADDR_MAX, HDR_INIT_SIZE, HDR_JUMP,
  HDR_LOADFLAGS, HDR_PREF_ADDRESS, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE, HDR_RELOCATABLE_KERNEL, HDR_SETUP_SECTS,
  HDR_SYSSIZE, HDR_TYPE_OF_LOADER, HDR_VERSION, HDR_XLOADFLAGS, XLF_KERNEL_64,
} from './bzimage.js';
import { E820_RAM, readE820 } from './e820.js';

function fakeBzImage(opts: { kernelBytes?: number; version?: number; initSize?: number; xloadflags?: number } = {}): Uint8Array {
  const setup = 5 * 512;
  const kernelBytes = opts.kernelBytes ?? 64 * 1024;
  const img = new Uint8Array(setup + kernelBytes);
  const dv = new DataView(img.buffer);
  img[HDR_SETUP_SECTS] = 4;
  dv.setUint32(HDR_SYSSIZE, kernelBytes / 16, true);
  dv.setUint16(HDR_BOOT_FLAG, 0xaa55, true);
  img[HDR_JUMP] = 0xeb;
  img[HDR_JUMP + 1] = 0x66;
  dv.setUint32(HDR_HEADER, 0x53726448, true);
  dv.setUint16(HDR_VERSION, opts.version ?? 0x020f, true);
  img[HDR_LOADFLAGS] = 0x01;
  dv.setUint32(HDR_INITRD_ADDR_MAX, 0x7fffffff, true);
  img[HDR_RELOCATABLE_KERNEL] = 1;
  dv.setUint16(HDR_XLOADFLAGS, opts.xloadflags ?? 0, true);
  dv.setUint32(HDR_CMDLINE_SIZE, 2047, true);
  dv.setBigUint64(HDR_PREF_ADDRESS, 0x1000000n, true);
  dv.setUint32(HDR_INIT_SIZE, opts.initSize ?? 0x200000, true);
  for (let i = 0; i < kernelBytes; i++) img[setup + i] = (i * 7) & 0xff;
  return img;
}

function ram(mib: number): GuestRam {
  const layout = memoryLayout(mib * 2 ** 20);
  return new GuestRam(GuestRam.allocate(layout), layout);
}

test('loadLinux fills boot_params, places kernel, command line and initrd', () => {
  const r = ram(64);
  const kernel = fakeBzImage();
  const initrd = new Uint8Array(100_000).fill(0x5a);
  const out = loadLinux(r, { kernel, initrd, cmdline: 'console=ttyS0 quiet', cpus: 1 });
  assert.equal(out.longMode, false);
  assert.equal(out.kernelAddr, 0x100000);
  assert.deepEqual(r.view(0x100000, 16), kernel.subarray(2560, 2576));
  const zp = r.view(0x7000, 4096)!;
  const dv = new DataView(zp.buffer, zp.byteOffset, 4096);
  assert.equal(zp[HDR_TYPE_OF_LOADER], 0xff);
  assert.equal(dv.getUint32(HDR_HEADER, true), 0x53726448, 'the setup header is copied');
  const cmdPtr = dv.getUint32(HDR_CMD_LINE_PTR, true);
  assert.equal(new TextDecoder().decode(r.view(cmdPtr, 19)!), 'console=ttyS0 quiet');
  assert.equal(r.view(cmdPtr + 19, 1)![0], 0);
  const initrdAddr = dv.getUint32(HDR_RAMDISK_IMAGE, true);
  assert.equal(dv.getUint32(HDR_RAMDISK_SIZE, true), initrd.length);
  assert.equal(initrdAddr % 4096, 0);
  assert.ok(initrdAddr + initrd.length <= 64 * 2 ** 20, 'initrd inside RAM');
  assert.ok(initrdAddr > 48 * 2 ** 20, 'initrd placed high');
  assert.deepEqual(r.view(initrdAddr, initrd.length), initrd);
  const e820 = readE820(zp);
  const ram1m = e820.find((e) => e.addr === 0x100000);
  assert.deepEqual(ram1m, { addr: 0x100000, size: 63 * 2 ** 20, type: E820_RAM });
  // The 32-bit entry: flat protected mode, ESI = boot_params, interrupts off.
  assert.equal(out.state.rip, 0x100000n);
  assert.equal(out.state.rsi, 0x7000n);
  assert.equal(out.state.cr0 & 1n, 1n);
  assert.equal(out.state.rflags & 0x200n, 0n);
  assert.equal(out.state.cs.selector, 0x10);
  assert.equal(out.state.ds.selector, 0x18);
});

test('an x86-64 kernel gets the 64-bit entry with an identity map', () => {
  const r = ram(64);
  const out = loadLinux(r, { kernel: fakeBzImage({ xloadflags: XLF_KERNEL_64 }), cmdline: '', cpus: 2 });
  assert.equal(out.longMode, true);
  assert.equal(out.state.rip, 0x100200n);
  assert.equal(out.state.efer & 0x400n, 0x400n);
  assert.notEqual(out.state.cr3, 0n);
  const i32 = loadLinux(ram(64), { kernel: fakeBzImage({ xloadflags: XLF_KERNEL_64 }), cmdline: '', cpus: 1, allowLongMode: false });
  assert.equal(i32.longMode, false);
});

test('loadLinux refuses what would not fit, with a reason', () => {
  assert.throws(() => loadLinux(ram(4), { kernel: fakeBzImage({ initSize: 16 * 2 ** 20 }), cmdline: '', cpus: 1 }), /needs 32 MiB of RAM/);
  assert.throws(() => loadLinux(ram(40), { kernel: fakeBzImage(), initrd: new Uint8Array(30 * 2 ** 20), cmdline: '', cpus: 1 }), /initrd .* does not fit/);
  assert.throws(() => loadLinux(ram(64), { kernel: fakeBzImage(), cmdline: 'x'.repeat(3000), cpus: 1 }), /command line is 3000 bytes/);
  assert.throws(() => loadLinux(ram(64), { kernel: fakeBzImage({ version: 0x0204 }), cmdline: '', cpus: 1 }), /boot protocol 2.04 too old/);
  assert.throws(() => loadLinux(ram(64), { kernel: new Uint8Array(8192), cmdline: '', cpus: 1 }), /not a bzImage/);
});

test('a ROM image appears at the top of 4 GiB and shadowed below 1 MiB', () => {
  const img = new Uint8Array(65536);
  img[0xfff0] = 0xea;
  img[0] = 0x90;
  const layout = memoryLayout(16 * 2 ** 20, img.length);
  const r = new GuestRam(GuestRam.allocate(layout), layout);
  const s = loadFirmwareImage(r, img);
  assert.equal(s.rip, 0xfff0n);
  assert.equal(s.cs.base, 0xffff0000);
  assert.equal(r.u8[r.romOffsetOf(0xfffffff0)], 0xea);
  assert.equal(r.view(0xffff0, 1)![0], 0xea);
  assert.equal(r.view(0xf0000, 1)![0], 0x90);
});

test('a flat binary is entered at its first byte in real mode', () => {
  const r = ram(16);
  const s = loadFlatBinary(r, Uint8Array.of(0xf4), 0x7c00);
  assert.equal(s.cs.base + Number(s.rip), 0x7c00);
  assert.equal(r.view(0x7c00, 1)![0], 0xf4);
  assert.throws(() => loadFlatBinary(r, new Uint8Array(0x1000), 0x9f800), /must lie between/);
});

test('loadLinux with ACPI tables: RSDP in the BIOS scan area, boot_params.acpi_rsdp_addr, an ACPI e820 range', async () => {
  const { acpiConfigFor, pcMpPciIrqs } = await import('./acpi/pc.js');
  const { buildAcpiTables } = await import('./acpi/tables.js');
  const { pc } = await import('../machine/pc.js');
  const { E820_ACPI } = await import('./e820.js');
  const r = ram(64);
  const acpi = buildAcpiTables(acpiConfigFor(pc, r.layout.lowRamBytes, 2)!);
  loadLinux(r, { kernel: fakeBzImage({ version: 0x020f }), cmdline: '', cpus: 2, acpi, pciIrqs: pcMpPciIrqs() });
  const zp = r.view(0x7000, 4096)!;
  const dv = new DataView(zp.buffer, zp.byteOffset, 4096);
  const rsdp = Number(dv.getBigUint64(0x070, true));
  assert.equal(rsdp, 0xe0000);
  assert.equal(rsdp % 16, 0);
  assert.equal(new TextDecoder().decode(r.view(rsdp, 8)!), 'RSD PTR ');
  const rsdt = new DataView(r.u8.buffer, r.u8.byteOffset + rsdp).getUint32(16, true);
  assert.equal(new TextDecoder().decode(r.view(rsdt, 4)!), 'RSDT');
  const acpiRange = readE820(zp).find((e) => e.type === E820_ACPI);
  assert.ok(acpiRange !== undefined && acpiRange.addr <= rsdt && rsdt < acpiRange.addr + acpiRange.size);
  // An older kernel finds the RSDP by scanning; the field stays 0.
  const r2 = ram(64);
  loadLinux(r2, { kernel: fakeBzImage({ version: 0x020a }), cmdline: '', cpus: 1, acpi });
  assert.equal(new DataView(r2.view(0x7000, 4096)!.slice().buffer).getBigUint64(0x070, true), 0n);
  assert.equal(new TextDecoder().decode(r2.view(0xe0000, 8)!), 'RSD PTR ');
});
