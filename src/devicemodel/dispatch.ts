// Serves one ioreq against the buses: single accesses, string I/O through the slot's data area,
// and 8-byte MMIO split into two 4-byte halves.

import type { IoreqHandler, IoreqRecord } from '../ioreq/channel.js';
import { IoreqDir, IoreqKind, SLOT_DATA_BYTES } from '../ioreq/channel.js';
import type { AccessSize } from '../devices/api.js';
import type { MmioBus, PioBus } from '../devices/bus.js';

function accessSize(n: number): AccessSize | 0 {
  return n === 1 || n === 2 || n === 4 ? n : 0;
}

/** Routes requests to the port and MMIO buses. Never throws on guest input. */
export class IoDispatcher implements IoreqHandler {
  constructor(private readonly pio: PioBus, private readonly mmio: MmioBus) {}

  handle(r: IoreqRecord): void {
    if (r.kind === IoreqKind.Pio) this.port(r);
    else this.memory(r);
  }

  private port(r: IoreqRecord): void {
    const size = accessSize(r.size);
    if (size === 0) { r.data = -1; return; }
    if (r.count === 0) {
      if (r.dir === IoreqDir.Read) r.data = this.pio.read(r.addr, size);
      else this.pio.write(r.addr, size, r.data >>> 0);
      return;
    }
    // String I/O: elements packed little-endian in the slot's data area, bounded by its size.
    const n = Math.min(r.count, Math.floor(SLOT_DATA_BYTES / size));
    const d = r.stringData;
    for (let i = 0, o = 0; i < n; i++, o += size) {
      if (r.dir === IoreqDir.Read) {
        const v = this.pio.read(r.addr, size);
        d[o] = v & 0xff;
        if (size > 1) d[o + 1] = (v >>> 8) & 0xff;
        if (size > 2) { d[o + 2] = (v >>> 16) & 0xff; d[o + 3] = (v >>> 24) & 0xff; }
      } else {
        let v = d[o]!;
        if (size > 1) v |= d[o + 1]! << 8;
        if (size > 2) v |= (d[o + 2]! << 16) | (d[o + 3]! << 24);
        this.pio.write(r.addr, size, v >>> 0);
      }
    }
  }

  private memory(r: IoreqRecord): void {
    if (r.size === 8) {
      if (r.dir === IoreqDir.Read) {
        r.data = this.mmio.read(r.addr, 4);
        r.dataHigh = this.mmio.read(r.addr + 4, 4);
      } else {
        this.mmio.write(r.addr, 4, r.data >>> 0);
        this.mmio.write(r.addr + 4, 4, r.dataHigh >>> 0);
      }
      return;
    }
    const size = accessSize(r.size);
    if (size === 0) { r.data = -1; return; }
    if (r.dir === IoreqDir.Read) r.data = this.mmio.read(r.addr, size);
    else this.mmio.write(r.addr, size, r.data >>> 0);
  }
}
