// Intel 82441FX PCI and Memory Controller (PMC), the i440FX host bridge at 00:00.0 (82441FX
// datasheet, §3.2: configuration registers). Its configuration ports (0xCF8/0xCFC) are the
// PciHost beside it; this function is the bridge's own configuration space.
//
// PAM0–PAM6 (0x59–0x5F) choose, per 16 KiB/64 KiB segment of 0xC0000–0xFFFFF, whether reads
// and writes go to DRAM or to the PCI bus (the BIOS ROM). In this machine the BIOS shadow below
// 1 MiB is already plain RAM holding a copy of the ROM's top (firmware/boot.ts), so the
// registers only store what the guest writes: SeaBIOS's "make the shadow writable, copy, make
// it read-only" sequence works on RAM that never stopped being writable.

import type { AccessSize } from '../api.js';
import { expectRecord } from '../api.js';
import { PciConfigSpace } from './config-space.js';
import type { PciFunction } from './pci-host.js';

export const I440FX_VENDOR_ID = 0x8086;
export const I440FX_DEVICE_ID = 0x1237;
const I440FX_REVISION = 0x02;
const CLASS_BRIDGE_HOST = 0x060000;

/** PMC configuration registers. */
export const I440FX_PMCCFG = 0x50;   // u16: PMC configuration
export const I440FX_PAM0 = 0x59;     // u8: 0xF0000–0xFFFFF in bits 5:4 (bits 3:0 reserved)
export const I440FX_PAM6 = 0x5f;     // u8: last PAM register (0xEC000–0xEFFFF)
export const I440FX_DRB0 = 0x60;     // u8 ×8: DRAM row boundaries (stored)
export const I440FX_SMRAM = 0x72;    // u8: system management RAM control
/** SMRAM bits. */
export const SMRAM_C_BASE_SEG = 0x07; // read-only 010b: SMRAM at 0xA0000
export const SMRAM_G_SMRAME = 0x08;   // global SMRAM enable
export const SMRAM_D_LCK = 0x10;      // lock: D_OPEN and D_LCK become read-only until reset
export const SMRAM_D_CLS = 0x20;
export const SMRAM_D_OPEN = 0x40;
const SMRAM_RESET = 0x02;

/** Saved state: the configuration space bytes. */
export interface I440fxState { config: number[] }

/** The host bridge function. */
export class I440fx implements PciFunction {
  readonly stateVersion = 1;
  readonly config = new PciConfigSpace({
    vendorId: I440FX_VENDOR_ID, deviceId: I440FX_DEVICE_ID, revision: I440FX_REVISION, classCode: CLASS_BRIDGE_HOST,
  });

  constructor(readonly id: string) {
    const c = this.config;
    c.setMask(I440FX_PMCCFG, 2, 0xffff);
    for (let r = I440FX_PAM0; r <= I440FX_PAM6; r++) c.writable[r] = r === I440FX_PAM0 ? 0x30 : 0x33;
    for (let i = 0; i < 8; i++) c.writable[I440FX_DRB0 + i] = 0xff;
    c.set8(I440FX_SMRAM, SMRAM_RESET);
    c.writable[I440FX_SMRAM] = SMRAM_G_SMRAME | SMRAM_D_LCK | SMRAM_D_CLS | SMRAM_D_OPEN;
    c.snapshotReset();
  }

  /** PAM register `n` (0..6), for the monitor and tests. */
  pam(n: number): number { return this.config.get8(I440FX_PAM0 + n); }

  configWritten(offset: number, size: AccessSize): void {
    if (offset <= I440FX_SMRAM && offset + size > I440FX_SMRAM) {
      const c = this.config;
      let v = c.get8(I440FX_SMRAM);
      // D_LCK forces D_OPEN off and freezes D_OPEN/D_LCK/G_SMRAME until reset (§3.2.23).
      if ((v & SMRAM_D_LCK) !== 0) {
        v &= ~SMRAM_D_OPEN;
        c.set8(I440FX_SMRAM, v);
        c.writable[I440FX_SMRAM] = SMRAM_D_CLS;
      }
    }
  }

  reset(): void {
    this.config.reset();
    this.config.writable[I440FX_SMRAM] = SMRAM_G_SMRAME | SMRAM_D_LCK | SMRAM_D_CLS | SMRAM_D_OPEN;
  }

  saveState(): I440fxState { return { config: this.config.save() }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported i440fx state version ${version}`);
    const s = expectRecord(state, this.id);
    this.config.load(s['config'], this.id);
    this.config.writable[I440FX_SMRAM] = (this.config.get8(I440FX_SMRAM) & SMRAM_D_LCK) !== 0
      ? SMRAM_D_CLS : SMRAM_G_SMRAME | SMRAM_D_LCK | SMRAM_D_CLS | SMRAM_D_OPEN;
  }
}
