// The PIIX3 IDE function (82371SB datasheet §2.6, PCI configuration of function 1): 8086:7010,
// class 01 01, programming interface 0x80 (bus master capable, both channels fixed in
// compatibility mode), so the channels sit at the legacy ports — 0x1F0–0x1F7/0x3F6 on IRQ 14 and
// 0x170–0x177/0x376 on IRQ 15 — and only BAR4 (bus-master registers, 16 bytes of I/O) is
// programmable. IDETIM (0x40 primary, 0x42 secondary) holds timings the emulation ignores;
// its bit 15, IDE decode enable, comes out of reset set, as firmware would leave it, because
// Linux's ata_piix skips a channel whose enable bit is clear.

import type { BlockBackend } from '../../block/block.js';
import type { GuestMemory, IoRegion, IrqLine } from '../api.js';
import { expectRecord } from '../api.js';
import { PciConfigSpace } from '../pci/config-space.js';
import type { PciFunction } from '../pci/pci-host.js';
import { AtaChannel } from './ata.js';
import { AtaDisk } from './ata-disk.js';
import { AtapiCdrom } from './atapi.js';
import { Bmdma, BmdmaChannel } from './bmdma.js';

export const PIIX3_IDE_VENDOR_ID = 0x8086;
export const PIIX3_IDE_DEVICE_ID = 0x7010;
const CLASS_IDE_BUSMASTER = 0x010180;
/** Configuration registers. */
export const PIIX_IDETIM_PRI = 0x40;   // u16
export const PIIX_IDETIM_SEC = 0x42;   // u16
export const PIIX_SIDETIM = 0x44;      // u8: slave timing
export const IDETIM_IDE = 0x8000;      // IDE decode enable
/** BAR4: the bus-master registers. */
export const PIIX_BMDMA_BAR = 4;
const BMDMA_BYTES = 16;

/** A drive attached to the controller. */
export interface IdeDriveConfig {
  /** 0: primary channel, 1: secondary. */
  bus: 0 | 1;
  /** 0: master, 1: slave. */
  unit: 0 | 1;
  media: 'disk' | 'cdrom';
  /** The image; null for an empty CD-ROM drive. */
  backend: BlockBackend | null;
}

/** A drive's id as QEMU names the IDE positions: `ide<bus>-hd<unit>` or `ide<bus>-cd<unit>` (`-cdrom` makes ide1-cd0). */
export function ideDriveId(bus: 0 | 1, unit: 0 | 1, media: 'disk' | 'cdrom'): string {
  return `ide${bus}-${media === 'disk' ? 'hd' : 'cd'}${unit}`;
}

/** Saved state: only the configuration space (drives restart idle). */
export interface PiixIdeState { config: number[] }

/** The PCI IDE function with its two channels and their drives. */
export class PiixIde implements PciFunction {
  readonly stateVersion = 1;
  readonly config = new PciConfigSpace({
    vendorId: PIIX3_IDE_VENDOR_ID, deviceId: PIIX3_IDE_DEVICE_ID, revision: 0, classCode: CLASS_IDE_BUSMASTER,
  });
  readonly channels: readonly [AtaChannel, AtaChannel];
  readonly bmdma: Bmdma;
  /** The legacy windows in the machine entry's port order: primary command, control, secondary command, control. */
  readonly regions: readonly IoRegion[];

  constructor(readonly id: string, irqs: readonly [IrqLine, IrqLine], mem: GuestMemory, drives: readonly IdeDriveConfig[]) {
    this.channels = [new AtaChannel(`${id}.ide0`, irqs[0]), new AtaChannel(`${id}.ide1`, irqs[1])];
    this.bmdma = new Bmdma(`${id}.bmdma`, [new BmdmaChannel(this.channels[0], mem), new BmdmaChannel(this.channels[1], mem)]);
    let serial = 1;
    for (const d of drives) {
      const ch = this.channels[d.bus];
      if (ch.drives[d.unit] !== null) throw new Error(`${id}: two drives at ide ${d.bus}.${d.unit}`);
      const ident = { serial: `QM0000${serial++}`, firmware: '2.5+', model: d.media === 'disk' ? 'HVM HARDDISK' : 'HVM DVD-ROM' };
      if (d.media === 'disk') {
        if (d.backend === null) throw new Error(`${id}: disk at ide ${d.bus}.${d.unit} has no image`);
        ch.attach(d.unit, new AtaDisk(ch.host, d.backend, ident));
      } else {
        ch.attach(d.unit, new AtapiCdrom(ch.host, d.backend, ident));
      }
    }
    this.regions = [this.channels[0].commandRegion, this.channels[0].controlRegion,
      this.channels[1].commandRegion, this.channels[1].controlRegion];
    const c = this.config;
    c.set16(PIIX_IDETIM_PRI, IDETIM_IDE);
    c.set16(PIIX_IDETIM_SEC, IDETIM_IDE);
    c.setMask(PIIX_IDETIM_PRI, 4, 0xffffffff);
    c.setMask(PIIX_SIDETIM, 1, 0xff);
    c.defineBar(PIIX_BMDMA_BAR, { space: 'io', size: BMDMA_BYTES, region: this.bmdma.region });
  }

  /**
   * The drive QEMU users call `id`: `ide<bus>-hd<unit>` for a hard disk, `ide<bus>-cd<unit>` for a
   * CD-ROM (so `ide1-cd0` is the drive `-cdrom` makes); null if there is none.
   */
  driveById(id: string): AtaDisk | AtapiCdrom | null {
    const m = /^ide([01])-(hd|cd)([01])$/.exec(id);
    if (m === null) return null;
    const d = this.channels[Number(m[1]) as 0 | 1].drives[Number(m[3]) as 0 | 1];
    if (d instanceof AtapiCdrom) return m[2] === 'cd' ? d : null;
    if (d instanceof AtaDisk) return m[2] === 'hd' ? d : null;
    return null;
  }

  reset(): void {
    this.config.reset();
    for (const ch of this.channels) ch.reset();
    this.bmdma.reset();
  }

  saveState(): PiixIdeState { return { config: this.config.save() }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported piix-ide state version ${version}`);
    const s = expectRecord(state, this.id);
    this.config.load(s['config'], this.id);
    for (const ch of this.channels) ch.reset();
    this.bmdma.reset();
  }
}
