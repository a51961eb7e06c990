// One KVM vCPU thread: KVM_RUN, decode the exit once, forward port and MMIO accesses to the
// device model through the ioreq channel, and answer host requests between runs.

import { parentPort } from 'node:worker_threads';
import { ControlBlock, VcpuRequest } from '../control.js';
import { ExitReason, SystemEventType } from '../exits.js';
import { IoreqChannel, IoreqClient, SLOT_DATA_BYTES } from '../../ioreq/channel.js';
import type { ToVcpu } from '../messages.js';
import { KvmVcpu } from '../kvm/kvm-vcpu.js';
import { formatRegisterDump } from '../kvm/kvm-vcpu.js';
import { HostRequests, readLe } from './vcpu-common.js';

const port = parentPort;
if (port === null) throw new Error('vCPU must run in a worker thread');

port.once('message', (m: ToVcpu) => {
  if (m.kind !== 'init') return;
  const id = m.vcpuIds[0]!;
  const control = new ControlBlock(m.shared.control);
  const host = new HostRequests(control, [id], port);
  const client = new IoreqClient(new IoreqChannel(m.shared.ioreq, m.shared.cpus), id);
  const vcpu = new KvmVcpu(m.kvmVcpuFds[0]!, id);
  vcpu.setState(m.states[0]!);
  host.post({ kind: 'ready', info: `KVM vCPU ${id}` });
  void loop(vcpu, client, host);
});

async function loop(vcpu: KvmVcpu, client: IoreqClient, host: HostRequests): Promise<void> {
  const d = client.data;
  for (;;) {
    const req = host.pending();
    if (req !== 0) {
      const r = await host.park();
      if (r === 'stop') return;
      if (r !== null) vcpu.setState(r[0]!);
      if (req & VcpuRequest.Stop) return;
    }
    const exit = vcpu.run();
    switch (exit.reason) {
      case ExitReason.Io: {
        const size = exit.ioSize;
        const io = exit.ioData;
        if (exit.ioCount === 1) {
          if (exit.ioIn) vcpu.completeRead(exit, client.pioRead(exit.ioPort, size));
          else client.pioWrite(exit.ioPort, size, readLe(io, 0, size));
          break;
        }
        // String I/O: KVM hands at most a page; move it through the slot's data area in pieces.
        const total = exit.ioCount * size;
        for (let done = 0; done < total;) {
          const n = Math.min(total - done, SLOT_DATA_BYTES - (SLOT_DATA_BYTES % size));
          if (exit.ioIn) {
            client.pioReadString(exit.ioPort, size, n / size);
            io.set(d.subarray(0, n), done);
          } else {
            d.set(io.subarray(done, done + n));
            client.pioWriteString(exit.ioPort, size, n / size);
          }
          done += n;
        }
        break;
      }
      case ExitReason.Mmio: {
        const len = exit.mmioLen;
        if (exit.mmioWrite) {
          const lo = readLe(exit.mmioData, 0, Math.min(len, 4));
          const hi = len === 8 ? readLe(exit.mmioData, 4, 4) : 0;
          client.mmioWrite(exit.mmioAddr, len, lo, hi);
        } else {
          const lo = client.mmioRead(exit.mmioAddr, len);
          vcpu.completeRead(exit, lo >>> 0, len === 8 ? client.lastHigh : 0);
        }
        break;
      }
      case ExitReason.Interrupted:
        break;
      case ExitReason.Hlt:
        // With the in-kernel irqchip HLT stays in the kernel; an exit here means nothing can wake us.
        host.post({ kind: 'stopped', reason: 'halted-forever', message: 'vCPU halted with no interrupt source' });
        if (await host.awaitNewState() === 'stop') return;
        break;
      case ExitReason.Shutdown: {
        host.post({ kind: 'stopped', reason: 'shutdown', message: 'triple fault: the PC resets' });
        const s = await host.awaitNewState();
        if (s === 'stop') return;
        vcpu.setState(s[0]!);
        break;
      }
      case ExitReason.SystemEvent:
        if (exit.eventType === SystemEventType.Reset) host.post({ kind: 'stopped', reason: 'shutdown', message: 'guest requested a reset' });
        else host.post({ kind: 'stopped', reason: 'halted-forever', message: 'guest powered off' });
        {
          const s = await host.awaitNewState();
          if (s === 'stop') return;
          vcpu.setState(s[0]!);
        }
        break;
      case ExitReason.FailEntry:
      case ExitReason.InternalError:
        host.post({ kind: 'stopped', reason: 'error', message: `${exit.message}\n${formatRegisterDump(vcpu.getState())}` });
        return;
    }
  }
}

