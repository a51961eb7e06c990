// Machine descriptions as data: which devices, at which ports, with which interrupt lines.
// `build.ts` turns one into buses and devices on the device-model thread; adding a device to
// a machine is one entry here.

/** The device models a machine can name (one file each in src/devices/). */
export type DeviceModel =
  | 'uart16550' | 'mc146818-rtc' | 'i8042' | 'isa-debug-exit' | 'port80' | 'pci-stub'
  | 'i440fx' | 'piix3' | 'piix4-pm' | 'fw-cfg' | 'isa-debugcon' | 'piix-ide' | 'e1000' | 'rtl8139'
  | 'std-vga' | 'cirrus-vga';

/** Where a PCI function sits on bus 0. */
export interface PciPlace {
  slot: number;
  fn: number;
  /** Where the function's non-BAR I/O block decodes from reset (the PIIX4 PM block's PMBA). */
  ioBase?: number;
}

/**
 * One device. An ISA device's `ports` are mapped by the builder; a PCI function (`pci` set) is
 * attached to the machine's PCI host (the `i440fx` entry, which comes first and whose `ports`
 * are the configuration ports) and its windows move with its BARs.
 */
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
  /** Bus 0 slot and function, for PCI functions. */
  pci?: PciPlace;
  /** A network card's MAC address (aa:bb:cc:dd:ee:ff). */
  mac?: string;
  /** A PCI revision other than the model's default (the RTL8139's 0x20 makes Linux use 8139cp). */
  revision?: number;
}

/** A whole machine. */
export interface MachineDescription {
  readonly name: string;
  readonly devices: readonly DeviceEntry[];
  /** Ports the hypervisor serves itself (PIC, PIT, …) rather than the device model. */
  readonly hypervisorPorts: readonly (readonly [number, number])[];
}
