// Machine descriptions as data: which devices, at which ports, with which interrupt lines.
// `build.ts` turns one into buses and devices on the device-model thread; adding a device to
// a machine is one entry here.

/** The device models a machine can name (one file each in src/devices/). */
export type DeviceModel =
  | 'uart16550' | 'mc146818-rtc' | 'i8042' | 'isa-debug-exit' | 'port80' | 'pci-stub';

/** One device on the ISA side of the machine. */
export interface DeviceEntry {
  device: DeviceModel;
  /** Unique within the machine: snapshots and the monitor name devices by it. */
  id: string;
  /** Base port of each of the device's port regions, in the device's region order. */
  ports: readonly number[];
  /** ISA interrupt line, if the device raises one (several for the i8042: keyboard, aux). */
  irqs?: readonly number[];
  /** The host character backend it talks to (serial consoles). */
  chardev?: string;
}

/** A whole machine. */
export interface MachineDescription {
  readonly name: string;
  readonly devices: readonly DeviceEntry[];
  /** Ports the hypervisor serves itself (PIC, PIT, …) rather than the device model. */
  readonly hypervisorPorts: readonly (readonly [number, number])[];
}
