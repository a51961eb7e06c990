// The soft accelerator's thread: the project's x86 CPU(s) and the interrupt controllers and
// timers that KVM would keep in the kernel (PIC, PIT, IOAPIC, LAPIC). Port and MMIO accesses the
// platform does not own go to the device model through the ioreq channel.

import { parentPort } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { ControlBlock, VcpuRequest, IRQ_LINES } from '../control.js';
import { IoreqChannel, IoreqClient, IoreqKind } from '../../ioreq/channel.js';
import { GuestRam } from '../memory.js';
import type { ToVcpu } from '../messages.js';
import { SoftCpu, StopReason } from '../soft/cpu.js';
import { SoftPlatform } from '../soft/platform.js';
import type { CpuIo, InterruptController } from '../soft/api.js';
import { SoftCpus } from './soft-cpus.js';
import { HostRequests } from './vcpu-common.js';
import { postedPorts } from '../../machine/posted.js';
import { VramWatch } from '../vram.js';

// V8's default inlining budget (920 bytecode bytes per function) leaves most calls of the soft
// CPU's small helpers as calls. A larger budget lets TurboFan inline them (when they were the
// compiled regions' memory helpers, a profile of md5 in the guest had 15% of the time in the
// load helper's own frame, 3% with this budget; the regions now generate those accesses inline,
// and the budget still gives md5 2.9 s instead of 3.1-3.2 s). Flags apply process-wide, to later
// compiles.
setFlagsFromString('--max-inlined-bytecode-size-cumulative=20000');
setFlagsFromString('--max-inlined-bytecode-size-absolute=20000');

/** Instructions per slice between timer updates and host-request checks. */
const SLICE_INSTRUCTIONS = 50_000;
/**
 * With several CPUs, instructions per CPU per round: short enough that a CPU spinning on a lock
 * or waiting for another's answer to an IPI gives way soon.
 */
const SMP_SLICE = 5_000;
/** Longest sleep while halted before re-checking (ms). */
const MAX_HALT_SLEEP_MS = 50;

/** ACPI PM timer ticks per millisecond (3.579545 MHz). */
const PM_TICKS_PER_MS = 3579.545;

/** The 24-bit ACPI PM timer, from a clock every thread shares (timeOrigin + now). */
function pmTimerNow(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * PM_TICKS_PER_MS) & 0xffffff;
}

const port = parentPort;
if (port === null) throw new Error('vCPU must run in a worker thread');

/** Mirrors the device model's line levels into the platform's controllers. */
class IrqMirror {
  private generation = -1;
  private readonly levels = new Int32Array(IRQ_LINES);
  private readonly edges = new Int32Array(IRQ_LINES);

  constructor(private readonly control: ControlBlock, private readonly platform: SoftPlatform) {}

  /** `hint`: a plain read of the generation first (the per-dispatch poll; see irqGenerationHint). */
  sync(hint = false): void {
    const g = hint ? this.control.irqGenerationHint() : this.control.irqGeneration();
    if (g === this.generation) return;
    this.generation = g;
    for (let line = 0; line < IRQ_LINES; line++) {
      const edges = this.control.irqEdges(line);
      const level = this.control.irqLevel(line);
      if (edges !== this.edges[line]) {
        this.edges[line] = edges;
        // A pulse that came and went since the last look is still an edge; so is a line that
        // fell and rose again while high (the i8042 reloading its output buffer within the
        // guest's read of the previous byte), or the edge would be lost.
        if (level === 0) this.platform.pulseIrq(line);
        else if (this.levels[line] !== 0) { this.platform.setIrq(line, false); this.platform.setIrq(line, true); }
      }
      if (level !== this.levels[line]) {
        this.levels[line] = level;
        this.platform.setIrq(line, level !== 0);
      }
    }
  }
}

port.once('message', (m: ToVcpu) => {
  if (m.kind !== 'init') return;
  const s = m.shared;
  const control = new ControlBlock(s.control);
  const host = new HostRequests(control, m.vcpuIds, port);
  const ram = new GuestRam(s.ram, s.layout, s.ramOffset);
  const client = new IoreqClient(new IoreqChannel(s.ioreq, s.cpus), 0);
  const clock = (): number => performance.now();
  const n = m.vcpuIds.length;
  // INIT and STARTUP IPIs go to the CPU set (built below, before any CPU runs).
  let cpus: SoftCpus | null = null;
  const platform = new SoftPlatform({ cpus: n, clock, onIpi: (t, kind, v) => cpus?.onIpi(t, kind, v) });
  const mirror = new IrqMirror(control, platform);
  const posted = postedPorts('pc');
  // The device model may have moved the framebuffer (a BAR write) while serving an exit.
  let vram: VramWatch | null = null;
  // One port/MMIO path per CPU: each reaches its own local APIC page. All share ioreq slot 0,
  // since only one runs at a time.
  const io = (cpu: number): CpuIo => ({
    portRead(p, size) {
      if (platform.ownsPort(p)) return platform.portRead(p, size);
      if (size === 4 && p === control.pmTimerPort()) return pmTimerNow();
      const v = client.pioRead(p, size);
      mirror.sync();
      vram?.sync();
      return v;
    },
    portWrite(p, size, v) {
      if (platform.ownsPort(p)) { platform.portWrite(p, size, v); return; }
      if (posted[p] === 1 && client.postWrite(IoreqKind.Pio, p, size, v)) return;
      client.pioWrite(p, size, v);
      mirror.sync();
      vram?.sync();
    },
    mmioRead(gpa, size) {
      // The core may hand over addresses in int32 form; devices decode unsigned ones.
      gpa >>>= 0;
      if (platform.ownsMmio(gpa, cpu)) return platform.mmioRead(cpu, gpa, size);
      const v = client.mmioRead(gpa, size);
      vram?.sync();
      return v;
    },
    mmioWrite(gpa, size, v) {
      gpa >>>= 0;
      if (platform.ownsMmio(gpa, cpu)) { platform.mmioWrite(cpu, gpa, size, v); return; }
      client.mmioWrite(gpa, size, v);
      vram?.sync();
    },
  });
  const intc = (cpu: number): InterruptController => {
    const inner = platform.interruptController(cpu);
    return {
      hasInterrupt: () => { mirror.sync(true); return inner.hasInterrupt(); },
      acknowledge: () => inner.acknowledge(),
      takeNmi: () => inner.takeNmi(),
    };
  };
  const set = new SoftCpus({ ram, platform, clock, io, intc });
  cpus = set;
  if ((s.layout.vramBytes ?? 0) > 0) {
    const dirty = new Int32Array(s.vramDirty);
    for (const c of set.cpus) c.attachVramDirty(dirty);
    vram = new VramWatch(control, n === 1 ? set.cpus[0]! : {
      vramChanged: (base, size) => { for (const c of set.cpus) c.vramChanged(base, size); },
    });
  }
  set.setStates(m.states, false);
  host.post({ kind: 'ready', info: n === 1 ? 'soft CPU' : `${n} soft CPUs` });
  if (n === 1) void loop(set.cpus[0]!, platform, mirror, control, host, vram);
  else void smpLoop(set, platform, mirror, control, host, vram);
});

async function loop(cpu: SoftCpu, platform: SoftPlatform, mirror: IrqMirror, control: ControlBlock,
                    host: HostRequests, vram: VramWatch | null): Promise<void> {
  for (;;) {
    if (host.pending() !== 0) {
      const r = await host.park();
      if (r === 'stop') return;
      if (r !== null) cpu.setState(r[0]!);
      if (host.pending() & VcpuRequest.Stop) return;
    }
    mirror.sync();
    vram?.sync();
    platform.update(performance.now());
    const stop = cpu.run(SLICE_INSTRUCTIONS);
    if (stop === StopReason.Halted) {
      if ((cpu.getState().rflags & 0x200n) === 0n) {
        host.post({ kind: 'stopped', reason: 'halted-forever', message: 'the CPU halted with interrupts disabled' });
        const s = await host.awaitNewState();
        if (s === 'stop') return;
        cpu.setState(s[0]!);
        continue;
      }
      const seen = Atomics.load(control.words, control.wakeIndex);
      mirror.sync();
      if (!cpu.canWake()) {
        const wait = Math.min(MAX_HALT_SLEEP_MS, Math.max(0, platform.nextDeadline() - performance.now()));
        if (wait > 0) Atomics.wait(control.words, control.wakeIndex, seen, wait);
      }
    } else if (stop === StopReason.Shutdown) {
      host.post({ kind: 'stopped', reason: 'shutdown', message: 'triple fault: the PC resets' });
      const s = await host.awaitNewState();
      if (s === 'stop') return;
      cpu.setState(s[0]!);
    }
  }
}

/**
 * Several CPUs on this thread, round-robin: each running CPU gets a slice of SMP_SLICE
 * instructions per round (a halted one only checks for an interrupt). The thread sleeps on the
 * wake word only when every CPU is halted or waiting for a STARTUP IPI with nothing to take. A
 * triple fault on any CPU resets the machine, as on a PC.
 */
async function smpLoop(set: SoftCpus, platform: SoftPlatform, mirror: IrqMirror, control: ControlBlock,
                       host: HostRequests, vram: VramWatch | null): Promise<void> {
  const cpus = set.cpus;
  const n = cpus.length;
  for (;;) {
    if (host.pending() !== 0) {
      const r = await host.park();
      if (r === 'stop') return;
      if (r !== null) set.setStates(r, true);
      if (host.pending() & VcpuRequest.Stop) return;
    }
    mirror.sync();
    vram?.sync();
    platform.update(performance.now());
    let running = 0;
    let shutdown = false;
    for (let i = 0; i < n; i++) {
      if (set.waitSipi[i] === 1) continue;
      const cpu = cpus[i]!;
      let stop: StopReason;
      for (let left = SMP_SLICE; ;) {
        const before = cpu.instructionsRetired;
        stop = cpu.run(left);
        if (!cpu.pauseHalt) break;
        // PAUSE ended the slice (a spin-wait): not halted, giving way to a CPU that can run; a
        // CPU spinning alone (a delay loop) goes on with the rest of its slice.
        cpu.pauseHalt = false;
        cpu.halted = false;
        stop = StopReason.Budget;
        if (set.ipisQueued) set.applyIpis();
        left -= cpu.instructionsRetired - before;
        if (left <= 0 || set.othersRunnable(i)) break;
      }
      if (set.ipisQueued) set.applyIpis();
      if (stop === StopReason.Budget) running++;
      else if (stop === StopReason.Shutdown) { shutdown = true; break; }
    }
    if (shutdown) {
      host.post({ kind: 'stopped', reason: 'shutdown', message: 'triple fault: the PC resets' });
      const s = await host.awaitNewState();
      if (s === 'stop') return;
      set.setStates(s, true);
      continue;
    }
    if (running > 0) continue;
    if (set.allStoppedForever()) {
      host.post({ kind: 'stopped', reason: 'halted-forever', message: 'every CPU halted with interrupts disabled' });
      const s = await host.awaitNewState();
      if (s === 'stop') return;
      set.setStates(s, true);
      continue;
    }
    const seen = Atomics.load(control.words, control.wakeIndex);
    mirror.sync();
    if (!set.anyRunnable()) {
      const wait = Math.min(MAX_HALT_SLEEP_MS, Math.max(0, platform.nextDeadline() - performance.now()));
      if (wait > 0) Atomics.wait(control.words, control.wakeIndex, seen, wait);
    }
  }
}
