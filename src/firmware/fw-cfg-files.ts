// What the `pc` machine's fw_cfg offers firmware (QEMU docs/specs/fw_cfg.txt and what SeaBIOS
// reads in src/fw/paravirt.c): CPU counts, RAM size, the e820 map, the ACPI tables with their
// linker/loader script, the boot order and how long to wait after a failed boot.

import { FW_CFG_BOOT_MENU, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_NOGRAPHIC, FW_CFG_RAM_SIZE, type FwCfg, le } from '../devices/fw-cfg.js';
import { FOUR_GIB, type MemoryLayout } from '../hypervisor/memory.js';
import type { MachineDescription } from '../machine/description.js';
import { ACPI_RSDP_FILE, ACPI_TABLES_FILE, TABLE_LOADER_FILE, tableLoader } from './acpi/loader.js';
import { acpiConfigFor } from './acpi/pc.js';
import { buildAcpiTables } from './acpi/tables.js';
import { E820_RAM } from './e820.js';

/** struct e820_entry as QEMU's etc/e820 holds it: u64 address, u64 length, u32 type (LE). */
const E820_ENTRY_BYTES = 20;
/** SeaBIOS's etc/boot-fail-wait: seconds before rebooting after no boot device; -1 never. */
const BOOT_FAIL_WAIT_NEVER = 0xffffffff;

/** What the files are built from. */
export interface FwCfgContent {
  machine: MachineDescription;
  layout: MemoryLayout;
  cpus: number;
  /** OpenFirmware device paths, one a line (SeaBIOS's "bootorder"); absent for the default. */
  bootOrder?: readonly string[];
}

/** The RAM of `layout` as etc/e820 entries (SeaBIOS carves the legacy holes itself). */
export function fwCfgE820(layout: MemoryLayout): Uint8Array {
  const entries: [number, number][] = [[0, layout.lowRamBytes]];
  if (layout.highRamBytes > 0) entries.push([FOUR_GIB, layout.highRamBytes]);
  const out = new Uint8Array(entries.length * E820_ENTRY_BYTES);
  const dv = new DataView(out.buffer);
  entries.forEach(([addr, len], i) => {
    dv.setBigUint64(i * E820_ENTRY_BYTES, BigInt(addr), true);
    dv.setBigUint64(i * E820_ENTRY_BYTES + 8, BigInt(len), true);
    dv.setUint32(i * E820_ENTRY_BYTES + 16, E820_RAM, true);
  });
  return out;
}

/** Fills `fw` with the machine's items and files. */
export function populateFwCfg(fw: FwCfg, c: FwCfgContent): void {
  fw.addItem(FW_CFG_RAM_SIZE, le(8, c.layout.ramBytes));
  fw.addItem(FW_CFG_NB_CPUS, le(2, c.cpus));
  fw.addItem(FW_CFG_MAX_CPUS, le(2, c.cpus));
  fw.addItem(FW_CFG_NOGRAPHIC, le(2, 0));
  fw.addItem(FW_CFG_BOOT_MENU, le(2, 0));
  fw.addFile('etc/e820', fwCfgE820(c.layout));
  fw.addFile('etc/boot-fail-wait', le(4, BOOT_FAIL_WAIT_NEVER));
  // SeaBIOS's text screen goes to the first serial port (its "sercon"), as under QEMU with no
  // VGA. With a VGA it still does: SeaBIOS 1.16's sercon then runs in split mode, passing int 10h
  // to the VGA BIOS and mirroring the text on the serial port, so serial consoles keep working.
  const com1 = c.machine.devices.find((e) => e.device === 'uart16550');
  if (com1 !== undefined) fw.addFile('etc/sercon-port', le(2, com1.ports[0]!));
  if (c.bootOrder !== undefined && c.bootOrder.length > 0) {
    fw.addFile('bootorder', new TextEncoder().encode(c.bootOrder.join('\n') + '\0'));
  }
  const acpi = acpiConfigFor(c.machine, c.layout.lowRamBytes, c.cpus);
  if (acpi !== null) {
    const t = buildAcpiTables(acpi);
    fw.addFile(ACPI_TABLES_FILE, t.tables);
    fw.addFile(ACPI_RSDP_FILE, t.rsdp);
    fw.addFile(TABLE_LOADER_FILE, tableLoader(t));
  }
}
