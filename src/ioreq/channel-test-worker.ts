// Worker side of channel.test.ts: either the device-model server or one vCPU client.

import { parentPort, workerData } from 'node:worker_threads';
import { IoreqChannel, IoreqClient, IoreqDir, IoreqKind, IoreqServer, type IoreqRecord } from './channel.js';

interface Data { role: 'server' | 'client'; buffer: SharedArrayBuffer; vcpus: number; vcpu: number; n: number }
const d = workerData as Data;
const ch = new IoreqChannel(d.buffer, d.vcpus);

if (d.role === 'server') {
  // Per vCPU: posted writes seen so far; a read of port 0x100 answers that count.
  const posted = new Array<number>(d.vcpus).fill(0);
  let stop = false;
  const server = new IoreqServer(ch, {
    handle(r: IoreqRecord): void {
      if (r.kind === IoreqKind.Pio && r.dir === IoreqDir.Write && r.addr === 0x80) { posted[r.data >>> 16]! ++; return; }
      if (r.kind === IoreqKind.Pio && r.dir === IoreqDir.Write && r.addr === 0xdead) { stop = true; return; }
      if (r.kind === IoreqKind.Pio && r.addr === 0x100) { r.data = posted[r.vcpu]!; return; }
      if (r.count > 0) {
        for (let i = 0; i < r.count; i++) r.stringData[i] = (r.stringData[i]! + 1) & 0xff;
        return;
      }
      if (r.kind === IoreqKind.Mmio && r.size === 8) { r.data = r.addr + 1; r.dataHigh = r.vcpu; return; }
      if (r.dir === IoreqDir.Read) r.data = (r.addr * 2 + r.vcpu) | 0;
    },
  });
  const loop = (): void => {
    server.serve(5, 0.2);
    if (stop) { parentPort!.postMessage({ served: server.served }); return; }
    setImmediate(loop);
  };
  loop();
} else {
  const c = new IoreqClient(ch, d.vcpu);
  let errors = 0;
  let posted = 0;
  const t0 = performance.now();
  for (let i = 0; i < d.n; i++) {
    const port = (i * 7) & 0xff; // below 0x100, the posted-count port
    if (c.pioRead(port, 1) !== port * 2 + d.vcpu) errors++;
    // A posted write carries the vCPU number in its high half; the read after it must see it.
    if (c.postWrite(IoreqKind.Pio, 0x80, 1, (d.vcpu << 16) | 1)) posted++;
    else c.pioWrite(0x80, 1, (d.vcpu << 16) | 1), posted++;
    if (c.pioRead(0x100, 4) !== posted) errors++;
    if (i % 100 === 0) {
      c.data.fill(7, 0, 64);
      c.pioReadString(0x60, 1, 64);
      for (let k = 0; k < 64; k++) if (c.data[k] !== 8) errors++;
      if (c.mmioRead(0xfee0_0000 + i, 8) !== ((0xfee0_0000 + i + 1) | 0) || c.lastHigh !== d.vcpu) errors++;
    }
  }
  parentPort!.postMessage({ errors, usPerRoundTrip: ((performance.now() - t0) * 1000) / (d.n * 2), sleeps: c.sleeps });
}
