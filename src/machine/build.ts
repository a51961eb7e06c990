// Builds a machine description into buses and devices on the device-model thread: a loop
// over the description's entries, each turned into a device by its factory.

import type { Device, GuestMemory, IoRegion, IrqLine, SystemControl } from '../devices/api.js';
import { hostClock } from '../devices/api.js';
import { MmioBus, PioBus } from '../devices/bus.js';
import type { Timers } from '../devicemodel/timers.js';
import { ThreadCharPort } from '../devicemodel/thread-chardev.js';
import type { MemoryLayout } from '../hypervisor/memory.js';
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
}

/** What a factory hands back: the device and its port regions, in the entry's `ports` order. */
export interface BuiltDevice {
  device: Device;
  regions: IoRegion[];
}

/** Everything a factory may use for one entry. */
export interface FactoryContext extends BuildContext {
  entry: DeviceEntry;
  irqs: IrqLine[];
  chardev: ThreadCharPort | null;
  clock: typeof hostClock;
}

/** A built machine: the buses the ioreq server dispatches on, and the devices. */
export interface BuiltMachine {
  pio: PioBus;
  mmio: MmioBus;
  devices: Map<string, Device>;
  chardevInput(id: string, bytes: Uint8Array): void;
  flushOutput(): void;
  reset(): void;
}

/** Instantiates every device of `desc` and maps its regions. */
export function buildMachine(desc: MachineDescription, ctx: BuildContext): BuiltMachine {
  const pio = new PioBus();
  const mmio = new MmioBus();
  const devices = new Map<string, Device>();
  const chardevs = new Map<string, ThreadCharPort>();
  for (const entry of desc.devices) {
    if (devices.has(entry.id)) throw new Error(`machine ${desc.name}: duplicate device id ${entry.id}`);
    let chardev: ThreadCharPort | null = null;
    if (entry.chardev !== undefined) {
      chardev = new ThreadCharPort(entry.chardev, ctx.postOutput);
      chardevs.set(entry.chardev, chardev);
    }
    const factory = deviceFactories[entry.device];
    const built = factory({ ...ctx, entry, irqs: (entry.irqs ?? []).map(ctx.irq), chardev, clock: hostClock });
    if (built.regions.length !== entry.ports.length) {
      throw new Error(`machine ${desc.name}: ${entry.id} has ${built.regions.length} port regions but ${entry.ports.length} ports are given`);
    }
    built.regions.forEach((r, i) => pio.map(entry.ports[i]!, r));
    devices.set(entry.id, built.device);
  }
  return {
    pio, mmio, devices,
    chardevInput: (id, bytes) => chardevs.get(id)?.deliver(bytes),
    flushOutput: () => { for (const c of chardevs.values()) c.flush(); },
    reset: () => { for (const d of devices.values()) d.reset(); },
  };
}
