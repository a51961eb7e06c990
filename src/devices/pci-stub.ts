// PCI configuration mechanism #1 with nothing behind it (PCI Local Bus Specification 3.0,
// §3.2.2.3.2): CONFIG_ADDRESS at offset 0 (0xCF8) and CONFIG_DATA at offsets 4-7 (0xCFC-0xCFF).
// Only 32-bit accesses at offset 0 reach CONFIG_ADDRESS; Linux's pci_check_type1 writes
// 0x80000000 there and expects to read it back. Every function answers "no device" (all ones).
// A placeholder until the i440FX host bridge lands.

import type { AccessSize, Device, IoRegion } from './api.js';
import { expectInt, expectRecord } from './api.js';

const CONFIG_ADDRESS = 0x0; // 32-bit only
// CONFIG_DATA is offsets 4..7 (0xCFC..0xCFF), any width: no function answers there.
const CONFIG_ADDRESS_ENABLE = 0x80000000; // bit 31
const CONFIG_ADDRESS_RESERVED = 0x7f000003; // bits 30:24 and 1:0 read as zero
const CONFIG_ADDRESS_WRITABLE = ~CONFIG_ADDRESS_RESERVED >>> 0;
const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;

/** Saved state of the stub. */
export interface PciStubState { configAddress: number }

/** Configuration mechanism #1 with an empty bus. */
export class PciStub implements Device<PciStubState> {
  readonly stateVersion = 1;
  readonly region: IoRegion;
  private configAddress = 0;

  constructor(readonly id: string) {
    this.region = {
      name: id,
      size: 8,
      read: (offset, size) => this.read(offset, size),
      write: (offset, size, value) => this.write(offset, size, value),
    };
  }

  private read(offset: number, size: AccessSize): number {
    if (offset === CONFIG_ADDRESS && size === 4) return this.configAddress;
    // CONFIG_DATA: no device at any bus/device/function. Narrow reads of 0xCF8-0xCFB are not
    // CONFIG_ADDRESS accesses and find nothing either.
    return ALL_ONES[size];
  }

  private write(offset: number, size: AccessSize, value: number): void {
    if (offset === CONFIG_ADDRESS && size === 4) this.configAddress = (value & CONFIG_ADDRESS_WRITABLE) >>> 0;
    // CONFIG_DATA writes go to a function that does not exist; narrow writes to 0xCF8-0xCFB
    // are other chipset registers (mechanism #2's CSE, PIIX's TRC at 0xCF9) this stub lacks.
  }

  /** The enable bit, for tests and the monitor. */
  get enabled(): boolean { return (this.configAddress & CONFIG_ADDRESS_ENABLE) !== 0; }

  reset(): void { this.configAddress = 0; }

  saveState(): PciStubState { return { configAddress: this.configAddress }; }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported pci-stub state version ${version}`);
    const s = expectRecord(state, this.id);
    const a = expectInt(s, 'configAddress', 0, 0xffffffff);
    if ((a & CONFIG_ADDRESS_RESERVED) !== 0) throw new Error(`bad device state: configAddress has reserved bits set`);
    this.configAddress = a;
  }
}
