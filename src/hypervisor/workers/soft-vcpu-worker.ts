// The soft accelerator's thread: the project's x86 CPU(s) and the interrupt controllers and
// timers that KVM would keep in the kernel (PIC, PIT, IOAPIC, LAPIC). Port and MMIO accesses the
// platform does not own go to the device model through the ioreq channel.

import { parentPort } from 'node:worker_threads';
import { ControlBlock, VcpuRequest, IRQ_LINES } from '../control.js';
import { IoreqChannel, IoreqClient, IoreqKind } from '../../ioreq/channel.js';
import { GuestRam } from '../memory.js';
import type { ToVcpu } from '../messages.js';
import { SoftCpu, StopReason } from '../soft/cpu.js';
import { SoftPlatform } from '../soft/platform.js';
import type { CpuIo, InterruptController } from '../soft/api.js';
import { X87 } from '../soft/x87.js';
import { Sse } from '../soft/sse.js';
import { HostRequests } from './vcpu-common.js';
import { postedPorts } from '../../machine/posted.js';

/** Instructions per slice between timer updates and host-request checks. */
const SLICE_INSTRUCTIONS = 50_000;
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

  sync(): void {
    const g = this.control.irqGeneration();
    if (g === this.generation) return;
    this.generation = g;
    for (let line = 0; line < IRQ_LINES; line++) {
      const edges = this.control.irqEdges(line);
      const level = this.control.irqLevel(line);
      if (edges !== this.edges[line]) {
        this.edges[line] = edges;
        // A pulse that came and went since the last look is still an edge.
        if (level === 0) this.platform.pulseIrq(line);
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
  const platform = new SoftPlatform({ cpus: 1, clock });
  const mirror = new IrqMirror(control, platform);
  const posted = postedPorts('pc');
  const io: CpuIo = {
    portRead(p, size) {
      if (platform.ownsPort(p)) return platform.portRead(p, size);
      if (size === 4 && p === control.pmTimerPort()) return pmTimerNow();
      const v = client.pioRead(p, size);
      mirror.sync();
      return v;
    },
    portWrite(p, size, v) {
      if (platform.ownsPort(p)) { platform.portWrite(p, size, v); return; }
      if (posted[p] === 1 && client.postWrite(IoreqKind.Pio, p, size, v)) return;
      client.pioWrite(p, size, v);
      mirror.sync();
    },
    mmioRead(gpa, size) {
      // The core may hand over addresses in int32 form; devices decode unsigned ones.
      gpa >>>= 0;
      if (platform.ownsMmio(gpa)) return platform.mmioRead(0, gpa, size);
      return client.mmioRead(gpa, size);
    },
    mmioWrite(gpa, size, v) {
      gpa >>>= 0;
      if (platform.ownsMmio(gpa)) { platform.mmioWrite(0, gpa, size, v); return; }
      client.mmioWrite(gpa, size, v);
    },
  };
  const inner = platform.interruptController(0);
  const intc: InterruptController = {
    hasInterrupt: () => { mirror.sync(); return inner.hasInterrupt(); },
    acknowledge: () => inner.acknowledge(),
    takeNmi: () => inner.takeNmi(),
  };
  const cpu = new SoftCpu({ ram, io, intc, clock, id: 0 });
  const x87 = new X87(cpu);
  cpu.attachUnits(x87, new Sse(cpu, x87));
  cpu.onApicBaseWrite = (v) => platform.setApicBaseMsr(0, v);
  cpu.setState(m.states[0]!);
  platform.setApicBaseMsr(0, cpu.apicBase >>> 0);
  host.post({ kind: 'ready', info: 'soft CPU' });
  void loop(cpu, platform, mirror, control, host);
});

async function loop(cpu: SoftCpu, platform: SoftPlatform, mirror: IrqMirror, control: ControlBlock,
                    host: HostRequests): Promise<void> {
  for (;;) {
    if (host.pending() !== 0) {
      const r = await host.park();
      if (r === 'stop') return;
      if (r !== null) cpu.setState(r[0]!);
      if (host.pending() & VcpuRequest.Stop) return;
    }
    mirror.sync();
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
