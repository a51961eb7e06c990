// ACPI for a machine description: the configuration the tables are generated from, found in the
// description's entries (the PIIX4 PM function's I/O block and SCI line, the PIIX3's reset
// register), and the PCI interrupt routes the MP table lists to agree with the DSDT's _PRT.

import type { MachineDescription } from '../../machine/description.js';
import type { MpPciIrq } from '../mptable.js';
import { pciGsi, PRT_FIRST_SLOT, PRT_LAST_SLOT } from './dsdt.js';
import { type AcpiConfig, type AcpiTables, buildAcpiTables } from './tables.js';

/** PIIX3 reset control register and the value FADT.RESET_VALUE writes (SRST | RCPU). */
export const PIIX_RESET_PORT = 0xcf9;
export const PIIX_RESET_VALUE = 0x06;

/** The ACPI configuration of `machine`, or null when it has no ACPI hardware (no PIIX4 PM). */
export function acpiConfigFor(machine: MachineDescription, lowRamBytes: number, cpus: number): AcpiConfig | null {
  const pm = machine.devices.find((e) => e.device === 'piix4-pm');
  if (pm === undefined) return null;
  const pmBase = pm.pci?.ioBase;
  const sci = pm.irqs?.[0];
  if (pmBase === undefined || sci === undefined) throw new Error(`machine ${machine.name}: ${pm.id} needs pci.ioBase and an SCI irq`);
  const routes = machine.devices.find((e) => e.device === 'piix3')?.irqs;
  return {
    machine, cpus, lowRamBytes, pmBase, sciIrq: sci, resetPort: PIIX_RESET_PORT, resetValue: PIIX_RESET_VALUE,
    ...(routes !== undefined && routes.length === 4 ? { picRoutes: routes } : {}),
  };
}

/** Whether the machine has a PCI host (and so PCI INTx routes to list in the MP table). */
export function hasPci(machine: MachineDescription): boolean {
  return machine.devices.some((e) => e.device === 'i440fx');
}

/** Every slot's INTA#–INTD# on the IOAPIC input the PIIX3 wires its PIRQ to (as in _PRT). */
export function pcMpPciIrqs(): MpPciIrq[] {
  const out: MpPciIrq[] = [];
  for (let slot = PRT_FIRST_SLOT; slot <= PRT_LAST_SLOT; slot++) {
    for (let pin = 0; pin < 4; pin++) out.push({ device: slot, pin, ioapicPin: pciGsi(slot, pin) });
  }
  return out;
}

/** What direct Linux boot adds for `machine`: its ACPI tables and the MP table's PCI routes. */
export function pcLinuxBootTables(machine: MachineDescription, lowRamBytes: number, cpus: number): { acpi?: AcpiTables; pciIrqs?: MpPciIrq[] } {
  const acpi = acpiConfigFor(machine, lowRamBytes, cpus);
  return {
    ...(acpi !== null ? { acpi: buildAcpiTables(acpi) } : {}),
    ...(hasPci(machine) ? { pciIrqs: pcMpPciIrqs() } : {}),
  };
}
