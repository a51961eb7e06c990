// The `pc` machine: QEMU's i440FX/PIIX3 PC — the host bridge at 00:00.0, the PIIX3 ISA bridge
// at 00:01.0 (its IDE function 00:01.1 belongs to the storage model), the PIIX4 power
// management function at 00:01.3 — and the ISA devices at their traditional ports and lines.

import type { MachineDescription } from './description.js';

/** Ports served in the hypervisor under both accelerators (KVM in-kernel, or TypeScript on the soft CPU's thread). */
export const HYPERVISOR_PORTS: readonly (readonly [number, number])[] = [
  [0x20, 2], [0xa0, 2],   // 8259A PIC pair
  [0x40, 4], [0x61, 1],   // 8254 PIT and the port-B speaker/gate bits
  [0x4d0, 2],             // ELCR (PIIX3 edge/level control)
];

/** Where the PIIX4 PM I/O block sits (QEMU's and SeaBIOS's choice); the FADT points here. */
export const PC_PM_BASE = 0x600;
/** The SCI's ISA line. */
export const PC_SCI_IRQ = 9;
/** Where PIRQA#-D# go in the PIC interrupt model. */
export const PC_PIRQ_ISA_IRQS: readonly number[] = [10, 10, 11, 11];

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
    // SeaBIOS's log port.
    { device: 'isa-debugcon', id: 'debugcon', ports: [0x402], chardev: 'debugcon' },
    { device: 'i440fx', id: 'host', ports: [0xcf8, 0xcfc], pci: { slot: 0, fn: 0 } },
    // irqs: PIRQA#-D# routed to ISA IRQs 10, 10, 11, 11 from reset (SeaBIOS's choice), so a
    // directly booted guest in PIC mode finds PCI interrupts where the DSDT's _PRT says.
    { device: 'piix3', id: 'isa', ports: [], pci: { slot: 1, fn: 0 }, irqs: PC_PIRQ_ISA_IRQS },
    // 00:01.1: the PIIX3 IDE function (8086:7010): legacy command/control ports of both channels, IRQ 14 and 15.
    { device: 'piix-ide', id: 'ide', ports: [0x1f0, 0x3f6, 0x170, 0x376], irqs: [14, 15], pci: { slot: 1, fn: 1 } },
    { device: 'piix4-pm', id: 'pm', ports: [], pci: { slot: 1, fn: 3, ioBase: PC_PM_BASE }, irqs: [PC_SCI_IRQ] },
    { device: 'fw-cfg', id: 'fw_cfg', ports: [0x510, 0x514] },
  ],
};

/** Machines by name, for the CLI. */
export const machines: Readonly<Record<string, MachineDescription>> = { pc };
