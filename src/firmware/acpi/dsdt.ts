// The DSDT of the `pc` machine, from its description: \_SB.PCI0 (the i440FX root bridge) with
// its bus, I/O and memory windows and the interrupt routing table, the ISA devices under
// PCI0.ISA, one processor device per vCPU, and \_S5.
//
// _PRT gives each slot's INTA#–INTD# as a fixed GSI: in the APIC interrupt model PIRQ[(slot +
// pin) & 3] drives IOAPIC input 16 + that PIRQ (devices/pci/piix3.ts says why); in the PIC
// model (the OS calls \_PIC(0)), the ISA IRQ the PIIX3 routes that PIRQ to from reset. So no
// ACPI link devices are needed and nothing has to program the route registers under direct
// Linux boot. A machine without reset routes gets the APIC table only.

import type { MachineDescription } from '../../machine/description.js';
import {
  arg, cat, device, dwordMemory, eisaId, ifElse, int, io, irqNoFlags, method, name, pkg, ref, resourceTemplate, ret, scope,
  store, str, wordBusNumber, wordIo,
} from './aml.js';

/** The first GSI PCI INTx lines reach (PIRQA#). */
export const PCI_GSI_BASE = 16;
/** Slots listed in _PRT (slot 0 is the host bridge). */
export const PRT_FIRST_SLOT = 1;
export const PRT_LAST_SLOT = 31;
/** Where the PCI MMIO window ends: the IOAPIC, HPET and LAPIC live above. */
export const PCI_MMIO_END = 0xfebfffff;
const PCI_CONFIG_PORT = 0xcf8;

/** The GSI of slot `slot`'s pin `pin` (0 = INTA#). */
export function pciGsi(slot: number, pin: number): number {
  return PCI_GSI_BASE + ((slot + pin) & 3);
}

/** What the DSDT is generated from. */
export interface DsdtConfig {
  machine: MachineDescription;
  cpus: number;
  /** RAM below the PCI hole: the PCI MMIO window starts here. */
  lowRamBytes: number;
  /** ISA IRQ of PIRQA#..D# in the PIC model (the PIIX3's reset routes), if the machine has them. */
  picRoutes?: readonly number[];
}

/** The ISA devices the description has, as ACPI devices (HID, resources). */
function isaDevices(machine: MachineDescription): Uint8Array[] {
  const out: Uint8Array[] = [];
  let uarts = 0;
  for (const e of machine.devices) {
    const irq = e.irqs ?? [];
    switch (e.device) {
      case 'uart16550': {
        uarts++;
        const base = e.ports[0]!;
        out.push(device(`COM${uarts}`, [
          name('_HID', eisaId('PNP0501')), name('_UID', int(uarts)),
          name('_CRS', resourceTemplate([io(base, base, 0, 8), irqNoFlags(irq.slice(0, 1))])),
        ]));
        break;
      }
      case 'mc146818-rtc': {
        const base = e.ports[0]!;
        out.push(device('RTC', [
          name('_HID', eisaId('PNP0B00')),
          name('_CRS', resourceTemplate([io(base, base, 1, 2), irqNoFlags(irq.slice(0, 1))])),
        ]));
        break;
      }
      case 'i8042': {
        const [data, cmd] = [e.ports[0]!, e.ports[1]!];
        out.push(device('KBD', [
          name('_HID', eisaId('PNP0303')),
          name('_CRS', resourceTemplate([io(data, data, 1, 1), io(cmd, cmd, 1, 1), irqNoFlags(irq.slice(0, 1))])),
        ]));
        out.push(device('MOU', [
          name('_HID', eisaId('PNP0F13')),
          name('_CRS', resourceTemplate([irqNoFlags(irq.slice(1, 2))])),
        ]));
        break;
      }
      default:
        break; // port 80, isa-debug-exit, fw_cfg: nothing an OS should bind a driver to
    }
  }
  return out;
}

/** A routing table; `gsi` maps slot and pin to the interrupt (a GSI, or an ISA IRQ in PIC mode). */
function prt(gsi: (slot: number, pin: number) => number): Uint8Array {
  const entries: Uint8Array[] = [];
  for (let slot = PRT_FIRST_SLOT; slot <= PRT_LAST_SLOT; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      // Address (slot << 16 | 0xFFFF: any function), pin, source 0 (a GSI), source index.
      entries.push(pkg([int(((slot << 16) | 0xffff) >>> 0), int(pin), int(0), int(gsi(slot, pin))]));
    }
  }
  return pkg(entries);
}

/** _PRT: a name, or with PIC routes a method choosing by the interrupt model \_PIC chose. */
function prtTerms(picRoutes: readonly number[] | undefined): Uint8Array[] {
  if (picRoutes === undefined || picRoutes.length !== 4) return [name('_PRT', prt(pciGsi))];
  const pic = (slot: number, pin: number): number => picRoutes[(slot + pin) & 3]!;
  return [
    name('PRTA', prt(pciGsi)),
    name('PRTP', prt(pic)),
    method('_PRT', 0, false, [ifElse(ref('\\PICF'), [ret(ref('PRTA'))], [ret(ref('PRTP'))])]),
  ];
}

/** The DSDT's AML body (the definition block's contents, without the table header). */
export function dsdtAml(c: DsdtConfig): Uint8Array {
  const crs = [
    wordBusNumber(0x00, 0xff),
    io(PCI_CONFIG_PORT, PCI_CONFIG_PORT, 1, 8),
    wordIo(0x0000, PCI_CONFIG_PORT - 1),
    wordIo(0x0d00, 0xffff),
    dwordMemory(0xa0000, 0xbffff, true),
  ];
  if (c.lowRamBytes <= PCI_MMIO_END) crs.push(dwordMemory(c.lowRamBytes, PCI_MMIO_END, false));
  const pci0 = device('PCI0', [
    // No _ADR beside _HID: a device has one or the other (iasl warns on both, as QEMU's does).
    name('_HID', eisaId('PNP0A03')),
    name('_UID', int(0)),
    name('_CRS', resourceTemplate(crs)),
    ...prtTerms(c.picRoutes),
    device('ISA', [name('_ADR', int(0x00010000)), ...isaDevices(c.machine)]),
  ]);
  const cpus: Uint8Array[] = [];
  for (let i = 0; i < c.cpus; i++) {
    cpus.push(device(`C${i.toString(16).toUpperCase().padStart(3, '0')}`, [name('_HID', str('ACPI0007')), name('_UID', int(i))]));
  }
  const picModel = c.picRoutes !== undefined && c.picRoutes.length === 4
    // \_PIC(model): 0 PIC, 1 APIC; remembered for _PRT. Before any call: PIC, as the spec says.
    ? [name('\\PICF', int(0)), method('\\_PIC', 1, false, [store(arg(0), ref('\\PICF'))])]
    : [];
  return cat(
    ...picModel,
    scope('\\_SB', [pci0, ...cpus]),
    // SLP_TYPa, SLP_TYPb, reserved, reserved: 0 is S5 on the PIIX4 PM (devices/pci/piix4-pm.ts).
    name('\\_S5', pkg([int(0), int(0), int(0), int(0)])),
  );
}
