// What the guest tests share: the cached default guest, a loader that boots it on the pc
// machine the way the CLI does (host-side decompression, the machine's ACPI and MP tables),
// and a deadline-bounded wait that fails with the guest's last output.

import { readFileSync } from 'node:fs';
import { loadLinux } from '../../src/firmware/boot.js';
import { pcLinuxBootTables } from '../../src/firmware/acpi/pc.js';
import { extractVmlinux, parseVmlinux } from '../../src/firmware/vmlinux.js';
import { defaultCacheDir, readCachedGuest } from '../../src/guest/image-build.js';
import type { BootLoader } from '../../src/hypervisor/vm.js';
import type { MachineDescription } from '../../src/machine/description.js';

export { until } from './host-io.js';

/** The default i386 guest, or null when it has not been built. */
export const defaultGuest = readCachedGuest(defaultCacheDir('i386'), 'i386');

/** A test's skip reason when the default guest is missing. */
export const guestSkip: false | string = defaultGuest === null ? 'the default i386 guest is not built (hvm image build)' : false;

/**
 * Boots the default guest on `machine` with `cmdline`; its kernel is decompressed once, here.
 * `initrd` may change the initramfs first (append files to it).
 */
export function defaultGuestLoader(machine: MachineDescription, cmdline: string, initrd = (i: Uint8Array): Uint8Array => i): BootLoader {
  if (defaultGuest === null) throw new Error('the default i386 guest is not built');
  const kernel = new Uint8Array(readFileSync(defaultGuest.kernel));
  const initramfs = initrd(new Uint8Array(readFileSync(defaultGuest.initrd)));
  const elf = extractVmlinux(kernel);
  const vmlinux = elf !== null ? parseVmlinux(elf) : undefined;
  return (ram, cpus) => [loadLinux(ram, {
    kernel, initrd: initramfs, cmdline, cpus, ...(vmlinux !== undefined ? { vmlinux } : {}),
    ...pcLinuxBootTables(machine, ram.layout.lowRamBytes, cpus),
  }).state];
}
