// What the guest tests share: the cached default guest, a loader that boots it on the pc
// machine the way the CLI does (host-side decompression, the machine's ACPI and MP tables),
// and a deadline-bounded wait that fails with the guest's last output.

import type { Vm } from '../../src/hypervisor/vm.js';
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

export interface GuestLoaderOptions {
  /** Rewrites the initramfs (appends files, a script). */
  initrd?: (initrd: Uint8Array) => Uint8Array;
  /** boot_params.screen_info describes the VGA text screen (for vgacon and the DRM drivers). */
  vgaText?: boolean;
}

/** Boots the default guest on `machine` with `cmdline`; its kernel is decompressed once, here. */
export function defaultGuestLoader(machine: MachineDescription, cmdline: string, opts: GuestLoaderOptions = {}): BootLoader {
  if (defaultGuest === null) throw new Error('the default i386 guest is not built');
  const kernel = new Uint8Array(readFileSync(defaultGuest.kernel));
  const raw = new Uint8Array(readFileSync(defaultGuest.initrd));
  const initramfs = opts.initrd !== undefined ? opts.initrd(raw) : raw;
  const elf = extractVmlinux(kernel);
  const vmlinux = elf !== null ? parseVmlinux(elf) : undefined;
  return (ram, cpus) => [loadLinux(ram, {
    kernel, initrd: initramfs, cmdline, cpus, vgaText: opts.vgaText === true, ...(vmlinux !== undefined ? { vmlinux } : {}),
    ...pcLinuxBootTables(machine, ram.layout.lowRamBytes, cpus),
  }).state];
}

/** The VM's text screen, read every `everyMs` (at most 10,000 times) until stop(). */
export class ScreenText {
  text = '';
  private polling = true;
  private readonly done: Promise<void>;

  constructor(vm: Vm, everyMs = 250) {
    this.done = (async (): Promise<void> => {
      for (let n = 0; this.polling && n < 10_000; n++) {
        this.text = (await vm.refreshDisplay()).text ?? '';
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.polling = false;
    await this.done.catch(() => {});
  }
}
