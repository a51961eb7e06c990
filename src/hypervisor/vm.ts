// The Vm: guest RAM, the ioreq channel, the control block, and the threads that run a guest —
// one device-model worker, and vCPU workers (KVM: one per vCPU; soft: one for all CPUs).
// The CLI, the monitor and tests all drive a guest through this object.

import type { NicSpec } from '../net/nic.js';
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { GuestRam, memoryLayout } from './memory.js';
import { ControlBlock, VcpuRequest, VcpuRunState, CONTROL_MAX_VCPUS } from './control.js';
import { IoreqChannel, ioreqChannelBytes } from '../ioreq/channel.js';
import type { CpuState } from './vcpu.js';
import type { DriveSpec, FromDeviceModel, FromVcpu, SharedVm, ToDeviceModel, ToVcpu } from './messages.js';
import { chooseAccelerator, type AccelChoice } from './accel.js';
import type { KvmVm } from './kvm/kvm-vm.js';
import { VramShare } from './vram.js';
import { vramBytesFor } from '../machine/display.js';
import { emptyFrame, type DisplayFrame } from '../devices/display/frame.js';
import { ideDriveId } from '../devices/ide/piix-ide.js';

/** How the guest starts: the caller loads RAM and returns each vCPU's initial state. */
export type BootLoader = (ram: GuestRam, cpus: number) => CpuState[];

/** What to build. */
export interface VmConfig {
  memoryBytes: number;
  cpus: number;
  accel: 'kvm' | 'soft' | 'auto';
  /** Firmware ROM mapped below 4 GiB (bytes; 0 for none). */
  romBytes?: number;
  machine?: string;
  /** Network cards and their backends (QEMU's -nic). */
  nics?: NicSpec[];
  /** Drives for the IDE controller (QEMU's -drive). */
  drives?: DriveSpec[];
  /** Display memory (bytes; multiple of 64 KiB, at most 64 MiB; 0 or absent for none). */
  vramBytes?: number;
  /** The display adapter (`--vga`); std brings 16 MiB of VRAM, cirrus 4 MiB, unless vramBytes says otherwise. Default none. */
  vga?: 'std' | 'cirrus' | 'none';
  boot: BootLoader;
}

/** How a VM ended. */
export interface VmExit {
  /** poweroff, the guest's isa-debug-exit status, a triple fault under --no-reboot, or a host error. */
  reason: 'poweroff' | 'debug-exit' | 'halted' | 'error' | 'stopped';
  /** The process exit status this maps to (QEMU's conventions). */
  status: number;
  message: string;
  /** Set when the exit is a guest reset or triple fault refused under --no-reboot. */
  refusedReset?: true;
}

const workerUrl = (rel: string): URL => new URL(rel, import.meta.url);

/** One virtual machine. Events: 'serial' (id, bytes), 'exit' (VmExit), 'reset', 'display-frame' (DisplayFrame). */
export class Vm extends EventEmitter {
  readonly ram: GuestRam;
  readonly control: ControlBlock;
  readonly accel: AccelChoice;
  private readonly shared: SharedVm;
  private deviceModel: Worker | null = null;
  private vcpuWorkers: Worker[] = [];
  private exited: VmExit | null = null;
  private resetting = false;
  /** Reset on triple fault / reset requests (a PC's behaviour); false exits instead (QEMU's -no-reboot). */
  rebootOnReset = true;
  /** Resets so far. */
  resets = 0;
  /** Set while the host keeps the guest paused (QMP `stop`): a reset then leaves the vCPUs paused. */
  holdPaused = false;

  private constructor(readonly config: VmConfig, accel: AccelChoice, private readonly kvm: KvmVm | null) {
    super();
    const layout = memoryLayout(config.memoryBytes, config.romBytes ?? 0, config.vramBytes ?? vramBytesFor(config.vga ?? 'none'));
    const buffer = GuestRam.allocate(layout);
    const offset = kvm ? kvm.alignedOffset(buffer) : 0;
    this.ram = new GuestRam(buffer, layout, offset);
    this.accel = accel;
    const controlBuf = ControlBlock.allocate();
    this.control = new ControlBlock(controlBuf);
    this.shared = {
      ram: buffer, ramOffset: offset, layout, ioreq: new SharedArrayBuffer(ioreqChannelBytes(config.cpus)),
      control: controlBuf, cpus: config.cpus, accel: accel.kind, kvmVmFd: kvm ? kvm.vmFd : -1,
      vramDirty: VramShare.allocateDirty(layout.vramBytes ?? 0),
    };
    if (kvm) kvm.mapMemory(this.ram);
  }

  /** Validates the configuration, picks the accelerator and allocates guest RAM. */
  static async create(config: VmConfig): Promise<Vm> {
    if (!Number.isInteger(config.cpus) || config.cpus < 1 || config.cpus > CONTROL_MAX_VCPUS) {
      throw new Error(`--smp must be between 1 and ${CONTROL_MAX_VCPUS}`);
    }
    const accel = chooseAccelerator(config.accel);
    let kvm: KvmVm | null = null;
    if (accel.kind === 'kvm') {
      const { KvmVm: Kvm } = await import('./kvm/kvm-vm.js');
      kvm = new Kvm(config.cpus);
    }
    return new Vm(config, accel, kvm);
  }

  /** Loads the guest, starts the device model, then the vCPUs. */
  async start(): Promise<void> {
    const states = this.config.boot(this.ram, this.config.cpus);
    this.deviceModel = new Worker(workerUrl('../devicemodel/worker.js'));
    const dmReady = new Promise<void>((resolve, reject) => {
      const dm = this.deviceModel!;
      dm.on('message', (m: FromDeviceModel) => {
        if (m.kind === 'ready') resolve();
        else if (m.kind === 'error') reject(new Error(m.message));
        this.onDeviceModel(m);
      });
      dm.on('error', (e) => { reject(e); this.finish({ reason: 'error', status: 2, message: `device model: ${e.message}` }); });
    });
    this.deviceModel.postMessage({ kind: 'init', shared: this.shared, machine: this.config.machine ?? 'pc', drives: this.config.drives ?? [], nics: this.config.nics ?? [], vga: this.config.vga ?? 'none' } satisfies ToDeviceModel);
    await dmReady;

    const groups: number[][] = this.accel.kind === 'kvm'
      ? Array.from({ length: this.config.cpus }, (_, i) => [i])
      : [Array.from({ length: this.config.cpus }, (_, i) => i)];
    const script = this.accel.kind === 'kvm' ? './workers/kvm-vcpu-worker.js' : './workers/soft-vcpu-worker.js';
    const ready: Promise<void>[] = [];
    for (const ids of groups) {
      const w = new Worker(workerUrl(script));
      this.vcpuWorkers.push(w);
      ready.push(new Promise<void>((resolve, reject) => {
        w.on('message', (m: FromVcpu) => {
          if (m.kind === 'ready') resolve();
          this.onVcpu(m);
        });
        w.on('error', (e) => { reject(e); this.finish({ reason: 'error', status: 2, message: `vCPU thread: ${e.message}` }); });
      }));
      w.postMessage({
        kind: 'init', shared: this.shared, vcpuIds: ids, states: ids.map((i) => states[i]!),
        kvmVcpuFds: this.kvm ? ids.map((i) => this.kvm!.vcpuFd(i)) : [],
      } satisfies ToVcpu);
    }
    await Promise.all(ready);
  }

  /** Console input for a character device (e.g. 'serial0'). */
  sendInput(id: string, bytes: Uint8Array): void {
    this.deviceModel?.postMessage({ kind: 'chardev-in', id, bytes } satisfies ToDeviceModel);
    this.wakeHost();
  }

  /**
   * A key press or release on the PS/2 keyboard: `code` is a PC scan code set 1 make code
   * (0x01..0x7f), 0xE000|code for extended keys, 0xE11D45 for Pause.
   */
  sendKey(code: number, down: boolean): void {
    const low = code & 0xff;
    const ok = Number.isInteger(code) && (code === 0xe11d45 || (low >= 1 && low < 0x80 && (code >>> 8 === 0 || code >>> 8 === 0xe0)));
    if (!ok) throw new Error(`bad key code 0x${Number(code).toString(16)}`);
    this.deviceModel?.postMessage({ kind: 'input-key', code, down } satisfies ToDeviceModel);
    this.wakeHost();
  }

  /** PS/2 mouse input: relative motion (dy positive = down), wheel clicks (positive = down), buttons bit 0 left, 1 right, 2 middle. */
  sendPointer(dx: number, dy: number, dz: number, buttons: number): void {
    if (![dx, dy, dz, buttons].every(Number.isInteger)) throw new Error('pointer motion must be integers');
    this.deviceModel?.postMessage({ kind: 'input-pointer', dx, dy, dz, buttons: buttons & 7 } satisfies ToDeviceModel);
    this.wakeHost();
  }

  /** Presses the ACPI power button (an ACPI-aware guest shuts down; see the 'exit' event). */
  /** Plugs (true) or unplugs a network card's cable, by its id (`nic0`, …): the guest sees a link change. */
  setNicLink(id: string, up: boolean): void {
    const n = /^nic(\d+)$/.exec(id);
    if (n === null || Number(n[1]) >= (this.config.nics?.length ?? 0)) throw new Error(`no network card ${id}`);
    this.deviceModel?.postMessage({ kind: 'nic-link', id, up } satisfies ToDeviceModel);
    this.wakeHost();
  }

  /**
   * Changes the medium of a CD-ROM drive, as QMP's `eject` (`file` null: the tray opens, empty)
   * and `blockdev-change-medium` (`file`: that image, read-only, format probed) do. Drive ids
   * are QEMU's: `ide<bus>-cd<unit>`, so `--cdrom` makes `ide1-cd0` (hard disks are
   * `ide<bus>-hd<unit>` and refuse). The guest sees a media event and UNIT ATTENTION. Rejects
   * with a one-line error for an unknown drive, a tray the guest has locked, a bad file.
   */
  changeMedia(id: string, file: string | null, format?: 'raw' | 'qcow2'): Promise<void> {
    const dm = this.deviceModel;
    if (dm === null || this.exited !== null) return Promise.reject(new Error('the VM is not running'));
    const known = (this.config.drives ?? []).map((d) => ideDriveId(d.bus, d.unit, d.media));
    if (!known.includes(id)) return Promise.reject(new Error(`no drive ${id} (this VM has: ${known.join(', ') || 'none'})`));
    const seq = ++this.mediaSeq;
    return new Promise((resolve, reject) => {
      this.mediaWaiters.set(seq, (error) => (error === null ? resolve() : reject(new Error(error))));
      dm.postMessage({ kind: 'change-media', seq, id, file, ...(format !== undefined ? { format } : {}) } satisfies ToDeviceModel);
      this.wakeHost();
    });
  }

  /** changeMedia calls waiting for the device model, by sequence number. */
  private readonly mediaWaiters = new Map<number, (error: string | null) => void>();
  private mediaSeq = 0;
  private hostChannel: IoreqChannel | null = null;

  /** Wakes the device model out of its ioreq wait so it reads a message just posted. */
  private wakeHost(): void {
    this.hostChannel ??= new IoreqChannel(this.shared.ioreq, this.shared.cpus);
    this.hostChannel.wakeForHost();
  }

  /**
   * The guest's screen: pixels, the rectangles changed since the previous call (everything when
   * `full`), and a text mode's text. A machine without a display answers 0x0.
   */
  refreshDisplay(full = false): Promise<DisplayFrame> {
    const dm = this.deviceModel;
    if (dm === null || this.exited !== null) return Promise.resolve(emptyFrame());
    return new Promise((resolve) => {
      this.frameWaiters.push(resolve);
      dm.postMessage({ kind: 'display-refresh', full } satisfies ToDeviceModel);
      this.wakeHost();
    });
  }

  /** Writes the guest's screen to `path` as PNG (QMP's screendump); rejects if there is no display. */
  async screenshot(path: string): Promise<void> {
    const { writeScreenshot } = await import('../ui/screenshot.js');
    await writeScreenshot(await this.refreshDisplay(false), path);
  }

  /** Callers of refreshDisplay waiting for their frame, answered in order. */
  private frameWaiters: ((f: DisplayFrame) => void)[] = [];

  powerButton(): void {
    this.deviceModel?.postMessage({ kind: 'power-button' } satisfies ToDeviceModel);
    this.wakeHost();
  }

  /** Pauses every vCPU and waits until each has stopped running guest code. */
  async pause(): Promise<void> {
    for (let i = 0; i < this.config.cpus; i++) this.control.setRequest(i, VcpuRequest.Pause);
    this.kickAll();
    for (let i = 0; i < this.config.cpus; i++) {
      const idx = this.control.stateIndex(i);
      while (this.control.runState(i) === VcpuRunState.Running && this.exited === null) {
        const r = Atomics.waitAsync(this.control.words, idx, VcpuRunState.Running, 100);
        await (r.async ? r.value : Promise.resolve());
        this.kickAll();
      }
    }
  }

  /** Lets paused vCPUs run again. */
  resume(): void {
    for (let i = 0; i < this.config.cpus; i++) this.control.clearRequest(i, VcpuRequest.Pause);
  }

  /** A platform reset: vCPUs paused, devices reset, the guest loaded again, vCPUs restarted. */
  async reset(): Promise<void> {
    if (this.resetting || this.exited) return;
    this.resetting = true;
    try {
      await this.pause();
      await this.request(this.deviceModel!, { kind: 'reset' }, 'reset-done');
      this.ram.u8.fill(0, 0, this.ram.layout.ramBytes);
      const states = this.config.boot(this.ram, this.config.cpus);
      const groups = this.accel.kind === 'kvm' ? states.map((s) => [s]) : [states];
      await Promise.all(this.vcpuWorkers.map((w, i) =>
        this.request(w, { kind: 'set-state', states: groups[i]! }, 'state-set')));
      this.resets++;
      this.emit('reset');
      if (!this.holdPaused) this.resume();
    } finally {
      this.resetting = false;
    }
  }

  /** Stops the VM; resolves once every thread has ended. */
  async stop(): Promise<void> {
    this.finish({ reason: 'stopped', status: 0, message: 'stopped by the host' });
  }

  /** Resolves when the VM ends. */
  waitForExit(): Promise<VmExit> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((resolve) => this.once('exit', resolve));
  }

  private request(w: Worker, msg: ToDeviceModel | ToVcpu, answer: string): Promise<void> {
    return new Promise((resolve) => {
      const on = (m: { kind: string }): void => { if (m.kind === answer) { w.off('message', on); resolve(); } };
      w.on('message', on);
      w.postMessage(msg);
      this.wakeHost();
    });
  }

  private kickAll(): void {
    this.control.wake();
    this.kvm?.kickAll();
  }

  private onDeviceModel(m: FromDeviceModel): void {
    switch (m.kind) {
      case 'chardev-out': this.emit('serial', m.id, m.bytes); break;
      case 'display-frame': {
        const frame: DisplayFrame = { width: m.width, height: m.height, pixels: new Uint32Array(m.surface, 0, m.width * m.height), rects: m.rects, text: m.text };
        this.frameWaiters.shift()?.(frame);
        // Every frame, whoever asked for it: the VNC server keeps its change lists from all of
        // them, so a screenshot taken meanwhile does not swallow rectangles a client needs.
        this.emit('display-frame', frame);
        break;
      }
      case 'system':
        if (m.event === 'exit') this.finish({ reason: 'debug-exit', status: m.status, message: `guest wrote to isa-debug-exit (status ${m.status})` });
        else if (m.event === 'poweroff') this.finish({ reason: 'poweroff', status: 0, message: 'guest powered off' });
        else this.onResetRequest('guest requested a reset');
        break;
      case 'change-media-done': {
        const w = this.mediaWaiters.get(m.seq);
        this.mediaWaiters.delete(m.seq);
        w?.(m.error);
        break;
      }
      case 'error': this.finish({ reason: 'error', status: 2, message: m.message }); break;
      default: break;
    }
  }

  private onVcpu(m: FromVcpu): void {
    if (m.kind !== 'stopped') return;
    if (m.reason === 'shutdown') this.onResetRequest(m.message);
    else if (m.reason === 'halted-forever') this.finish({ reason: 'halted', status: 0, message: m.message });
    else this.finish({ reason: 'error', status: 2, message: m.message });
  }

  private onResetRequest(why: string): void {
    if (!this.rebootOnReset) { this.finish({ reason: 'poweroff', status: 0, message: `${why} (no reboot)`, refusedReset: true }); return; }
    this.reset().catch((e: Error) => this.finish({ reason: 'error', status: 2, message: `reset failed: ${e.message}` }));
  }

  private finish(exit: VmExit): void {
    if (this.exited) return;
    this.exited = exit;
    for (const w of this.frameWaiters.splice(0)) w(emptyFrame());
    for (const w of this.mediaWaiters.values()) w('the VM stopped');
    this.mediaWaiters.clear();
    for (let i = 0; i < this.config.cpus; i++) this.control.setRequest(i, VcpuRequest.Stop);
    this.kickAll();
    const dm = this.deviceModel;
    if (dm) {
      // Let the device model flush console output before it goes.
      dm.postMessage({ kind: 'stop' } satisfies ToDeviceModel);
      this.wakeHost();
    }
    const all = [...this.vcpuWorkers, ...(dm ? [dm] : [])];
    const end = (): void => {
      for (const w of all) void w.terminate();
      this.kvm?.close();
      this.emit('exit', exit);
    };
    if (dm && (this.config.drives?.length ?? 0) > 0) {
      // Drives close on the device-model thread (qcow2 metadata, fdatasync): wait for that, bounded.
      let done = false;
      const once = (): void => { if (!done) { done = true; end(); } };
      dm.on('message', (m: FromDeviceModel) => { if (m.kind === 'stopped') once(); });
      setTimeout(once, 10_000);
    } else {
      setTimeout(end, 20);
    }
  }
}
