// Builds a machine description into buses and devices on the device-model thread: a loop
// over the description's entries, each turned into a device by its factory.

import type { Device, GuestMemory, IoRegion, IrqLine, SystemControl } from '../devices/api.js';
import { hostClock } from '../devices/api.js';
import { MmioBus, PioBus } from '../devices/bus.js';
import type { PciFunction } from '../devices/pci/pci-host.js';
import { PciHost } from '../devices/pci/pci-host.js';
import type { Timers } from '../devicemodel/timers.js';
import type { EthernetPort } from '../net/ethernet.js';
import type { IdeDriveConfig } from '../devices/ide/piix-ide.js';
import { ThreadCharPort } from '../devicemodel/thread-chardev.js';
import type { MemoryLayout } from '../hypervisor/memory.js';
import type { VramShare } from '../hypervisor/vram.js';
import type { DeviceEntry, MachineDescription } from './description.js';
import { deviceFactories } from './factories.js';

/** Host services a machine is built with. */
export interface BuildContext {
  mem: GuestMemory;
  irq: (line: number) => IrqLine;
  timers: Timers;
  layout: MemoryLayout;
  cpus: number;
  system: SystemControl;
  postOutput: (id: string, bytes: Uint8Array) => void;
  /** A network card's backend, by the card's device id (null: no cable). */
  ethernet?: (id: string) => EthernetPort | null;
  /** Drives for the IDE controller, already opened (on the device-model thread). */
  drives?: readonly IdeDriveConfig[];
  /** The display memory and its mapping/dirty tracking (null or absent: the machine has no VRAM). */
  vram?: VramShare | null;
}

/** What a factory hands back: the device and its port regions, in the entry's `ports` order. */
export interface BuiltDevice {
  device: Device;
  regions: IoRegion[];
  /** The device as a PCI function, for entries with a `pci` place. */
  pciFunction?: PciFunction;
  /** A PCI host bridge's bus-0 configuration mechanism (the i440fx entry). */
  pciHost?: PciHost;
}

/** Everything a factory may use for one entry. */
export interface FactoryContext extends BuildContext {
  entry: DeviceEntry;
  irqs: IrqLine[];
  chardev: ThreadCharPort | null;
  clock: typeof hostClock;
  machine: MachineDescription;
  pio: PioBus;
  mmio: MmioBus;
  /** The machine's PCI host, once its entry has been built. */
  pciHost: PciHost | null;
  /** A PCI entry's INTx line (its pin comes from its config space); a dead line otherwise. */
  intx: IrqLine;
}

/** A built machine: the buses the ioreq server dispatches on, and the devices. */
export interface BuiltMachine {
  pio: PioBus;
  mmio: MmioBus;
  devices: Map<string, Device>;
  chardevInput(id: string, bytes: Uint8Array): void;
  flushOutput(): void;
  reset(): void;
  /** The PCI host, if the machine has PCI. */
  pciHost: PciHost | null;
  /** Presses the ACPI power button; false when the machine has none. */
  powerButton(): boolean;
}

/** A device with a host-side power button (the PIIX4 PM function). */
interface HasPowerButton { powerButton(): void }
function hasPowerButton(d: Device): d is Device & HasPowerButton {
  return typeof (d as Partial<HasPowerButton>).powerButton === 'function';
}

const deadLine: IrqLine = { set: () => {}, pulse: () => {} };

/** Instantiates every device of `desc` and maps its regions. */
export function buildMachine(desc: MachineDescription, ctx: BuildContext): BuiltMachine {
  const pio = new PioBus();
  const mmio = new MmioBus();
  const devices = new Map<string, Device>();
  const chardevs = new Map<string, ThreadCharPort>();
  let pciHost: PciHost | null = null;
  for (const entry of desc.devices) {
    if (devices.has(entry.id)) throw new Error(`machine ${desc.name}: duplicate device id ${entry.id}`);
    let chardev: ThreadCharPort | null = null;
    if (entry.chardev !== undefined) {
      chardev = new ThreadCharPort(entry.chardev, ctx.postOutput);
      chardevs.set(entry.chardev, chardev);
    }
    const factory = deviceFactories[entry.device];
    const intx = entry.pci !== undefined && pciHost !== null ? pciHost.intxLine(entry.pci.slot, entry.pci.fn) : deadLine;
    const built = factory({
      ...ctx, entry, irqs: (entry.irqs ?? []).map(ctx.irq), chardev, clock: hostClock,
      machine: desc, pio, mmio, pciHost, intx,
    });
    if (built.regions.length !== entry.ports.length) {
      throw new Error(`machine ${desc.name}: ${entry.id} has ${built.regions.length} port regions but ${entry.ports.length} ports are given`);
    }
    built.regions.forEach((r, i) => pio.map(entry.ports[i]!, r));
    if (built.pciHost !== undefined) {
      if (pciHost !== null) throw new Error(`machine ${desc.name}: ${entry.id} is a second PCI host`);
      pciHost = built.pciHost;
      devices.set(`${entry.id}.config`, pciHost);
    }
    if (entry.pci !== undefined) {
      if (pciHost === null) throw new Error(`machine ${desc.name}: ${entry.id} is a PCI function but no PCI host comes before it`);
      if (built.pciFunction === undefined) throw new Error(`machine ${desc.name}: ${entry.device} is not a PCI function`);
      pciHost.attach(entry.pci.slot, entry.pci.fn, built.pciFunction);
    }
    devices.set(entry.id, built.device);
  }
  const host = pciHost;
  return {
    pio, mmio, devices,
    chardevInput: (id, bytes) => chardevs.get(id)?.deliver(bytes),
    flushOutput: () => { for (const c of chardevs.values()) c.flush(); },
    reset: () => { for (const d of devices.values()) d.reset(); host?.refreshAll(); },
    pciHost: host,
    powerButton: () => {
      for (const d of devices.values()) if (hasPowerButton(d)) { d.powerButton(); return true; }
      return false;
    },
  };
}
