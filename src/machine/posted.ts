// Ports whose writes need no answer: the vCPU posts them into the ioreq channel's buffered ring
// and runs on (Linux's outb_p delay writes to port 0x80 on every slow port access).

import { machines } from './pc.js';

const cache = new Map<string, Uint8Array>();

/** A 64K table: 1 where writes to the port may be posted. */
export function postedPorts(machine: string): Uint8Array {
  let t = cache.get(machine);
  if (t) return t;
  t = new Uint8Array(0x10000);
  for (const d of machines[machine]?.devices ?? []) {
    if (d.device === 'port80') for (const p of d.ports) t[p] = 1;
  }
  cache.set(machine, t);
  return t;
}
