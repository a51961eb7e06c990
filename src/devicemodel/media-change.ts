// Removable media from the host side (QMP's eject and blockdev-change-medium, Vm.changeMedia):
// on the device-model thread, opens the new image, swaps it into the ATAPI drive and closes the
// old one. The drive tells the guest as a real one does: a media event for GET EVENT STATUS
// NOTIFICATION and UNIT ATTENTION (medium may have changed) on its next command.

import { openDrive, type BlockBackend } from '../block/block.js';
import { AtapiCdrom } from '../devices/ide/atapi.js';
import type { IdeDriveConfig, PiixIde } from '../devices/ide/piix-ide.js';

/**
 * Ejects (`file` null) or changes the medium of the CD-ROM `id`. `drives` is the list of open
 * drives the device model closes at stop; its entry follows the change. Throws a one-line
 * error for an unknown id, a hard disk, a tray the guest has locked, or an unreadable file.
 */
export async function changeMedia(
  ide: PiixIde | null, drives: IdeDriveConfig[], id: string, file: string | null, format: 'raw' | 'qcow2' | 'auto' = 'auto',
): Promise<void> {
  const dev = ide?.driveById(id) ?? null;
  if (dev === null) throw new Error(`no IDE drive ${id} (drives are named ide<bus>-hd<unit> and ide<bus>-cd<unit>, e.g. ide1-cd0)`);
  if (!(dev instanceof AtapiCdrom)) throw new Error(`${id} is a hard disk: its medium is not removable`);
  if (dev.isLocked) {
    // As QEMU without force: the guest hears the button and may unlock and eject by itself.
    dev.requestEject();
    throw new Error(`${id}: the guest has locked the tray (an eject request was sent to the guest; try again once it unlocks)`);
  }
  const m = /^ide([01])-cd([01])$/.exec(id)!;
  const bus = Number(m[1]) as 0 | 1;
  const unit = Number(m[2]) as 0 | 1;
  let next: BlockBackend | null = null;
  // A named format is used as given: probing a guest-writable raw image could read a qcow2 header the guest wrote.
  if (file !== null) next = await openDrive({ file, format, readOnly: true });
  if (dev.isLocked) { // locked by the guest while the image opened
    await next?.close().catch(() => undefined);
    dev.requestEject();
    throw new Error(`${id}: the guest has locked the tray (an eject request was sent to the guest; try again once it unlocks)`);
  }
  const old = dev.eject();
  if (next !== null) dev.insert(next);
  let entry = drives.find((d) => d.bus === bus && d.unit === unit);
  if (entry === undefined) {
    entry = { bus, unit, media: 'cdrom', backend: null };
    drives.push(entry);
  }
  entry.backend = next;
  // A read still in flight on the old image fails and ends its command with an error, as a
  // read from a disc pulled out of a drive would.
  await old?.close().catch(() => undefined);
}
