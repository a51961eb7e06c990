// The CLI's drive options: QEMU's `--drive file=…,format=…,media=…,readonly=on,if=ide,index=N`
// and the short `--disk FILE` / `--cdrom FILE`, turned into the IDE positions the device model
// opens. Index N is bus N/2, unit N%2 (QEMU's numbering); short forms take the first free
// position: disks primary master then slave (then the secondary channel), a CD-ROM secondary
// master first.

import type { DriveSpec } from '../hypervisor/messages.js';

/** A bad drive option (the CLI prints it as one line and exits 1). */
export class DriveArgError extends Error {}

const IDE_POSITIONS = 4;
const DISK_ORDER = [0, 1, 2, 3] as const;
const CDROM_ORDER = [2, 3, 1, 0] as const;

/** Splits QEMU's `key=value,key=value` (a doubled comma is a literal comma in a value). */
export function splitDriveOptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === ',' && text[i + 1] === ',') { cur += ','; i++; }
    else if (ch === ',') { parts.push(cur); cur = ''; }
    else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new DriveArgError(`--drive: "${p}" is not key=value`);
    const key = p.slice(0, eq);
    if (out.has(key)) throw new DriveArgError(`--drive: ${key} given twice`);
    out.set(key, p.slice(eq + 1));
  }
  return out;
}

function onOff(v: string, what: string): boolean {
  if (v === 'on' || v === 'true' || v === 'yes') return true;
  if (v === 'off' || v === 'false' || v === 'no') return false;
  throw new DriveArgError(`--drive: ${what}=${v} is not on or off`);
}

/** Turns the parsed options into drive specs at distinct IDE positions. */
export function parseDrives(drive: readonly string[], disks: readonly string[], cdroms: readonly string[]): DriveSpec[] {
  const taken: (DriveSpec | undefined)[] = new Array<DriveSpec | undefined>(IDE_POSITIONS).fill(undefined);
  const place = (index: number, d: Omit<DriveSpec, 'bus' | 'unit'>): void => {
    if (taken[index] !== undefined) throw new DriveArgError(`--drive: IDE index ${index} is used twice`);
    taken[index] = { ...d, bus: (index >> 1) as 0 | 1, unit: (index & 1) as 0 | 1 };
  };
  const later: { order: readonly number[]; d: Omit<DriveSpec, 'bus' | 'unit'> }[] = [];
  for (const text of drive) {
    const o = splitDriveOptions(text);
    const known = new Set(['file', 'format', 'media', 'readonly', 'if', 'index']);
    for (const k of o.keys()) if (!known.has(k)) throw new DriveArgError(`--drive: unknown option ${k} (known: ${[...known].join(', ')})`);
    const iface = o.get('if') ?? 'ide';
    if (iface !== 'ide') throw new DriveArgError(`--drive: if=${iface} is not supported (only ide)`);
    const media = o.get('media') ?? 'disk';
    if (media !== 'disk' && media !== 'cdrom') throw new DriveArgError(`--drive: media=${media} is not disk or cdrom`);
    const format = o.get('format') ?? 'auto';
    if (format !== 'raw' && format !== 'qcow2' && format !== 'auto') throw new DriveArgError(`--drive: format=${format} is not raw or qcow2`);
    const file = o.get('file');
    if ((file === undefined || file === '') && media === 'disk') throw new DriveArgError('--drive: a disk needs file=…');
    const readOnly = o.has('readonly') ? onOff(o.get('readonly')!, 'readonly') : false;
    const d = { file: file === undefined || file === '' ? null : file, format, media, readOnly } as const;
    const idx = o.get('index');
    if (idx !== undefined) {
      if (!/^[0-3]$/.test(idx)) throw new DriveArgError(`--drive: index=${idx} is not 0..3`);
      place(Number(idx), d);
    } else {
      later.push({ order: media === 'cdrom' ? CDROM_ORDER : DISK_ORDER, d });
    }
  }
  for (const f of disks) later.push({ order: DISK_ORDER, d: { file: f, format: 'auto', media: 'disk', readOnly: false } });
  for (const f of cdroms) later.push({ order: CDROM_ORDER, d: { file: f, format: 'auto', media: 'cdrom', readOnly: true } });
  for (const { order, d } of later) {
    const free = order.find((i) => taken[i] === undefined);
    if (free === undefined) throw new DriveArgError(`too many drives: IDE has ${IDE_POSITIONS} positions`);
    place(free, d);
  }
  return taken.filter((d): d is DriveSpec => d !== undefined);
}
