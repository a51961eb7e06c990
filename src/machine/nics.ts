// Adds NICs to a machine description: each one a PCI function in the next free slot (from
// slot 3, where QEMU's pc puts its first NIC), its id `nic0`, `nic1`, …

import type { NicSpec } from '../net/nic.js';
import type { DeviceEntry, MachineDescription } from './description.js';

const FIRST_NIC_SLOT = 3;
const LAST_SLOT = 31;

/** The NIC's device id in the machine. */
export function nicId(n: number): string { return `nic${n}`; }

/** `desc` with one PCI entry per NIC. */
export function withNics(desc: MachineDescription, nics: readonly NicSpec[]): MachineDescription {
  if (nics.length === 0) return desc;
  const used = new Set(desc.devices.flatMap((d) => (d.pci !== undefined ? [d.pci.slot] : [])));
  const added: DeviceEntry[] = [];
  let slot = FIRST_NIC_SLOT;
  nics.forEach((nic, n) => {
    while (used.has(slot) && slot <= LAST_SLOT) slot++;
    if (slot > LAST_SLOT) throw new Error(`machine ${desc.name}: no free PCI slot for ${nicId(n)}`);
    used.add(slot);
    added.push({ device: nic.model, id: nicId(n), ports: [], pci: { slot, fn: 0 }, mac: nic.mac, ...(nic.revision !== undefined ? { revision: nic.revision } : {}) });
  });
  return { ...desc, devices: [...desc.devices, ...added] };
}
