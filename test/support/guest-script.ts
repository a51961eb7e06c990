// Long guest scripts for the default guest: the kernel command line holds at most 2047 bytes,
// so instead of `hvm.cmd=<base64 script>` the script travels as a file in a second cpio archive
// appended to the initramfs (the kernel unpacks concatenated archives, compressed or not), and
// hvm.cmd only says `sh /hvm-test.sh`.

import { appendToInitrd } from '../../src/guest/initrd-append.js';
import type { BootLoader } from '../../src/hypervisor/vm.js';
import type { MachineDescription } from '../../src/machine/description.js';
import { defaultGuestLoader } from './guest.js';

/** Where the script lands in the guest. */
export const SCRIPT_PATH = '/hvm-test.sh';

/** The default initramfs followed by an uncompressed archive holding `script` at SCRIPT_PATH. */
export function initrdWithScript(initrd: Uint8Array, script: string): Uint8Array {
  return appendToInitrd(initrd, [{ path: SCRIPT_PATH, data: Buffer.from(script), mode: 0o755 }]);
}

/** Boots the default guest with `cmdline` plus hvm.cmd running `script` (any length) from the initramfs. */
export function scriptGuestLoader(machine: MachineDescription, cmdline: string, script: string): BootLoader {
  const full = `${cmdline} hvm.cmd=${Buffer.from(`sh ${SCRIPT_PATH}\n`).toString('base64')}`;
  return defaultGuestLoader(machine, full, { initrd: (initrd) => initrdWithScript(initrd, script) });
}
