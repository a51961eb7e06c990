// The device-model thread: every device lives here and serves the ioreq channel. It loops
// between the ioreq server (spin, then futex sleep) and Node's event loop, where host messages
// (console input, reset, stop) and asynchronous backends run.

import { parentPort } from 'node:worker_threads';
import { IoreqChannel, IoreqServer } from '../ioreq/channel.js';
import { GuestRam } from '../hypervisor/memory.js';
import { ControlBlock } from '../hypervisor/control.js';
import type { FromDeviceModel, ToDeviceModel } from '../hypervisor/messages.js';
import { buildMachine, type BuiltMachine } from '../machine/build.js';
import { machines } from '../machine/pc.js';
import type { MachineDescription } from '../machine/description.js';
import { TimerQueue } from './timers.js';
import { I8042 } from '../devices/i8042.js';
import { IoDispatcher } from './dispatch.js';
import { irqLinesFor } from './irq.js';
import { vramShareFor } from './vram.js';
import { VGA_ID, withVga } from '../machine/display.js';
import { StdVga } from '../devices/display/std-vga.js';
import { CirrusVga } from '../devices/display/cirrus-vga.js';
import type { EthernetPort } from '../net/ethernet.js';
import { openNicBackend } from '../net/nic.js';
import { nicId, withNics } from '../machine/nics.js';
import { blockRequestsInFlight, onBlockRequestStart, openDrive, type BlockBackend } from '../block/block.js';
import type { IdeDriveConfig } from '../devices/ide/piix-ide.js';
import type { DriveSpec } from '../hypervisor/messages.js';
import { PiixIde } from '../devices/ide/piix-ide.js';
import { changeMedia } from './media-change.js';

/** Opens every drive (closing those already open if one fails). */
async function openDrives(specs: readonly DriveSpec[]): Promise<IdeDriveConfig[]> {
  const out: IdeDriveConfig[] = [];
  try {
    for (const s of specs) {
      let backend: BlockBackend | null = null;
      if (s.file !== null) backend = await openDrive({ file: s.file, format: s.format, readOnly: s.readOnly || s.media === 'cdrom' });
      out.push({ bus: s.bus, unit: s.unit, media: s.media, backend });
    }
  } catch (e) {
    for (const d of out) await d.backend?.close().catch(() => undefined);
    throw e;
  }
  return out;
}

/** How long one service slice may keep the event loop waiting (ms). */
const SLICE_MS = 4;
/** How long the server spins after a request before it sleeps (ms). */
const SPIN_MS = 0.2;

const port = parentPort;
if (port === null) throw new Error('device model must run in a worker thread');
const post = (m: FromDeviceModel): void => port.postMessage(m);

let machine: BuiltMachine | null = null;
let server: IoreqServer | null = null;
let channel: IoreqChannel | null = null;
let stopped = false;
const timers = new TimerQueue();
/** A device with a cable the host can plug and unplug (the network cards). */
function hasLink(d: object): d is { setLink(up: boolean): void } {
  return typeof (d as { setLink?: unknown }).setLink === 'function';
}
/** The device that takes host keyboard and pointer input (the i8042), if the machine has one. */
function inputDevice(): { sendKey(code: number, down: boolean): void; sendPointer(dx: number, dy: number, dz: number, buttons: number): void } | null {
  const d = machine?.devices.get('i8042');
  return d instanceof I8042 ? d : null;
}
/** Network backends by card id (host sockets, capture files), closed on stop. */
const nicBackends = new Map<string, EthernetPort>();
/** The drives' backends, closed (metadata written, data synced) at stop. */
let openBackends: IdeDriveConfig[] = [];

function pump(): void {
  if (stopped || server === null || machine === null) return;
  try {
    // While a disk request is under way, only poll: its completion runs on this event loop.
    const slice = blockRequestsInFlight() > 0 ? 0 : Math.min(SLICE_MS, timers.msUntilNext());
    server.serve(slice, SPIN_MS);
    timers.runDue();
    machine.flushOutput();
  } catch (e) {
    post({ kind: 'error', message: `device model: ${(e as Error).message}` });
    stopped = true;
    return;
  }
  setImmediate(pump);
}

/** Builds the machine once its drives are open, and starts serving. */
function init(m: Extract<ToDeviceModel, { kind: 'init' }>, desc: MachineDescription, drives: IdeDriveConfig[]): void {
  const s = m.shared;
  try {
    const ram = new GuestRam(s.ram, s.layout, s.ramOffset);
    const control = new ControlBlock(s.control);
    channel = new IoreqChannel(s.ioreq, s.cpus);
    // A disk request started inside an ioreq handler: leave the ioreq wait at once, so the
    // event loop runs the request (and its completion) instead of sleeping out the slice.
    const ch = channel;
    onBlockRequestStart(() => ch.wakeForHost());
    machine = buildMachine(desc, {
      mem: ram,
      irq: irqLinesFor(s, control),
      timers,
      layout: s.layout,
      cpus: s.cpus,
      system: {
        reset: () => post({ kind: 'system', event: 'reset' }),
        powerOff: () => post({ kind: 'system', event: 'poweroff' }),
        exit: (v: number) => post({ kind: 'system', event: 'exit', status: ((v << 1) | 1) & 0xff }),
        pmTimerAt: (p: number) => control.setPmTimerPort(p),
      },
      postOutput: (id, bytes) => post({ kind: 'chardev-out', id, bytes }),
      ethernet: (id) => nicBackends.get(id) ?? null,
      drives,
      vram: vramShareFor(s, ram, control),
    });
    server = new IoreqServer(channel, new IoDispatcher(machine.pio, machine.mmio));
  } catch (e) {
    post({ kind: 'error', message: `device model: ${(e as Error).message}` });
    return;
  }
  post({ kind: 'ready' });
  setImmediate(pump);
}

port.on('message', (m: ToDeviceModel) => {
  switch (m.kind) {
    case 'init': {
      const base = machines[m.machine];
      if (base === undefined) { post({ kind: 'error', message: `unknown machine ${m.machine}` }); return; }
      const nics = m.nics ?? [];
      let desc: MachineDescription;
      try { desc = withNics(withVga(base, m.vga ?? 'none'), nics); } catch (e) { post({ kind: 'error', message: (e as Error).message }); return; }
      try {
        nics.forEach((spec, n) => nicBackends.set(nicId(n), openNicBackend(spec, (e) => post({ kind: 'error', message: `${nicId(n)}: ${e.message}` }))));
      } catch (e) { post({ kind: 'error', message: `network: ${(e as Error).message}` }); return; }
      void openDrives(m.drives).then((drives) => { openBackends = drives; init(m, desc, drives); },
        (e: Error) => post({ kind: 'error', message: `drive: ${e.message}` }));
      break;
    }
    case 'chardev-in':
      machine?.chardevInput(m.id, m.bytes);
      break;
    case 'display-refresh': {
      // The renderer runs here, on the device model's thread, between ioreq slices.
      const vga = machine?.devices.get(VGA_ID);
      if (vga instanceof StdVga || vga instanceof CirrusVga) {
        const f = vga.refresh(m.full);
        post({ kind: 'display-frame', width: f.width, height: f.height, surface: f.surface, rects: f.rects, text: f.text });
      } else {
        post({ kind: 'display-frame', width: 0, height: 0, surface: new SharedArrayBuffer(0), rects: [], text: null });
      }
      break;
    }
    case 'power-button':
      machine?.powerButton();
      break;
    case 'nic-link': {
      const nic = machine?.devices.get(m.id);
      if (nic !== undefined && hasLink(nic)) nic.setLink(m.up); // the Vm checked the id
      break;
    }
    case 'input-key':
      inputDevice()?.sendKey(m.code, m.down);
      break;
    case 'input-pointer':
      inputDevice()?.sendPointer(m.dx, m.dy, m.dz, m.buttons);
      break;
    case 'change-media': {
      const ide = machine?.devices.get('ide');
      void changeMedia(ide instanceof PiixIde ? ide : null, openBackends, m.id, m.file, m.format ?? 'auto').then(
        () => post({ kind: 'change-media-done', seq: m.seq, error: null }),
        (e: Error) => post({ kind: 'change-media-done', seq: m.seq, error: e.message }));
      break;
    }
    case 'reset':
      machine?.reset();
      post({ kind: 'reset-done' });
      break;
    case 'stop': {
      stopped = true;
      machine?.flushOutput();
      for (const b of nicBackends.values()) b.close();
      nicBackends.clear();
      // Close the drives first: a qcow2 writes its metadata and every image is synced.
      const drives = openBackends;
      openBackends = [];
      void Promise.allSettled(drives.map((d) => d.backend?.close())).then(() => {
        post({ kind: 'stopped' });
        port.close();
      });
      break;
    }
  }
});
