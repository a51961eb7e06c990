// A PCI function's expansion ROM (PCI Local Bus Specification 3.0, §6.2.5.2): the ROM base
// address register at 0x30, sized to a power of two of at least 2 KiB, decoding only while its
// enable bit and the function's memory decode are both on. The VGA cards carry their VGA BIOS
// this way; SeaBIOS maps the ROM BARs of VGA devices and runs what it finds.

import type { IoRegion } from '../api.js';
import { PCI_COMMAND_MEMORY, type PciConfigSpace, type PciDecode } from './config-space.js';

export const PCI_ROM_ADDRESS = 0x30;
const PCI_ROM_ADDRESS_ENABLE = 0x01;
const PCI_ROM_ADDRESS_MASK = 0xfffff800;
const MIN_ROM_SIZE = 2048;

/** The ROM image and its read-only window. */
export class ExpansionRom {
  /** The window's size: the image rounded up to a power of two. */
  readonly size: number;
  readonly region: IoRegion;

  constructor(id: string, private readonly image: Uint8Array) {
    let size = MIN_ROM_SIZE;
    while (size < image.length) size *= 2;
    this.size = size;
    this.region = {
      name: `${id}.rom`, size,
      read: (offset, sz) => {
        let v = 0;
        for (let i = 0; i < sz; i++) v |= (this.image[offset + i] ?? 0xff) << (8 * i);
        return v >>> 0;
      },
      write: () => {},
    };
  }

  /** Makes the ROM BAR of `config` writable in the bits its size allows (call before snapshotReset). */
  define(config: PciConfigSpace): void {
    config.setMask(PCI_ROM_ADDRESS, 4, ((PCI_ROM_ADDRESS_MASK & ~(this.size - 1)) | PCI_ROM_ADDRESS_ENABLE) >>> 0);
  }

  /** Where the ROM decodes now: nothing unless enabled, placed, and memory decode is on. */
  decodes(config: PciConfigSpace): readonly PciDecode[] {
    const rom = config.get32(PCI_ROM_ADDRESS);
    const base = (rom & PCI_ROM_ADDRESS_MASK) >>> 0;
    if ((rom & PCI_ROM_ADDRESS_ENABLE) === 0 || base === 0 || (config.command & PCI_COMMAND_MEMORY) === 0) return [];
    if (base + this.size > 0x1_0000_0000) return [];
    return [{ space: 'mem', base, region: this.region }];
  }
}
