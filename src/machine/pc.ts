// The `pc` machine: a PC's ISA devices at their traditional ports and lines. The i440FX/PIIX3
// PCI functions join this list when the PCI model lands.

import type { MachineDescription } from './description.js';

/** Ports served in the hypervisor under both accelerators (KVM in-kernel, or TypeScript on the soft CPU's thread). */
export const HYPERVISOR_PORTS: readonly (readonly [number, number])[] = [
  [0x20, 2], [0xa0, 2],   // 8259A PIC pair
  [0x40, 4], [0x61, 1],   // 8254 PIT and the port-B speaker/gate bits
  [0x4d0, 2],             // ELCR (PIIX3 edge/level control)
];

/** The default PC. */
export const pc: MachineDescription = {
  name: 'pc',
  hypervisorPorts: HYPERVISOR_PORTS,
  devices: [
    { device: 'uart16550', id: 'com1', ports: [0x3f8], irqs: [4], chardev: 'serial0' },
    { device: 'mc146818-rtc', id: 'rtc', ports: [0x70], irqs: [8] },
    { device: 'i8042', id: 'i8042', ports: [0x60, 0x64], irqs: [1, 12] },
    { device: 'port80', id: 'post', ports: [0x80] },
    { device: 'isa-debug-exit', id: 'debug-exit', ports: [0xf4] },
    { device: 'pci-stub', id: 'pci', ports: [0xcf8] },
  ],
};

/** Machines by name, for the CLI. */
export const machines: Readonly<Record<string, MachineDescription>> = { pc };
