// A boot sector from test/guest/programs on a 1 MiB IDE disk, ready to be booted by Debian's
// SeaBIOS on a soft-CPU machine with the std VGA (SeaVGABIOS from its ROM BAR), with its COM1
// output collected. The machine is created, not started.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Vm } from '../../src/hypervisor/vm.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';
import { assemble, scratch } from './asm.js';

export const SEABIOS = '/usr/share/seabios/bios-256k.bin';

export interface BootSectorVm {
  vm: Vm;
  /** The disk image, for another machine (QEMU) to boot too. */
  disk: string;
  /** Everything the guest wrote to COM1 so far. */
  serial: () => string;
}

/** Assembles `program` (a path from the repository root) onto a disk and creates the machine that boots it. */
export async function bootSectorVm(program: string): Promise<BootSectorVm> {
  const disk = scratch(`${basename(program, '.asm')}.img`);
  const img = Buffer.alloc(1 << 20);
  readFileSync(assemble(program)).copy(img);
  writeFileSync(disk, img);
  const bios = new Uint8Array(readFileSync(SEABIOS));
  const vm = await Vm.create({
    memoryBytes: 64 * 2 ** 20, cpus: 1, accel: 'soft', romBytes: bios.length, vga: 'std',
    drives: [{ file: disk, format: 'raw', media: 'disk', readOnly: false, bus: 0, unit: 0 }],
    boot: (ram, cpus) => Array.from({ length: cpus }, () => loadFirmwareImage(ram, bios)),
  });
  let serial = '';
  vm.on('serial', (id: string, b: Uint8Array) => { if (id === 'serial0') serial += Buffer.from(b).toString('latin1'); });
  return { vm, disk, serial: () => serial };
}
