// Micro benchmark of framebuffer stores on the soft CPU: a store loop over 1 MiB of plain RAM,
// of mapped VRAM (steady state: each page's first store after takeDirty takes the slow path and
// installs a write translation), and of VRAM where every store is such a first store (stride
// 4 KiB, the bitmap taken between rounds of 256). Prints ns per store.
//
//   node dist/src/hypervisor/soft/bench-vram.js [stores]

import { GuestRam, memoryLayout } from '../memory.js';
import { ControlBlock } from '../control.js';
import { VramShare, VramWatch } from '../vram.js';
import { realSegment, resetState } from '../vcpu.js';
import { SoftCpu } from './cpu.js';
import { FakeIntc, FakeIo, assemble } from './test-util.js';

const stores = Number(process.argv[2] ?? 10_000_000);
const LFB = 0xfd00_0000;
const VRAM = 1024 * 1024;

/** `count` stores to base + (i * stride mod 1 MiB), then HLT; repeats from the top when resumed. */
function program(base: number, stride: number, count: number): string {
  return `
    %include "pm32.inc"
    again:
      mov ecx, ${count}
      xor esi, esi
    l:
      mov edx, esi
      and edx, 0xfffff
      mov [edx + ${base}], ecx
      add esi, ${stride}
      dec ecx
      jnz l
      hlt
      jmp again
  `;
}

function setup(source: string): { cpu: SoftCpu; share: VramShare; watch: VramWatch } {
  const layout = memoryLayout(8 * 1024 * 1024, 0, VRAM);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  ram.u8.set(assemble(source), 0x1000);
  const control = new ControlBlock(ControlBlock.allocate());
  const share = new VramShare(ram, control, VramShare.allocateDirty(VRAM));
  const cpu = new SoftCpu({ ram, io: new FakeIo(), intc: new FakeIntc(), clock: () => 0, id: 0 });
  cpu.attachVramDirty(share.dirtyWords);
  const s = resetState();
  s.cs = realSegment(0, 0xb);
  s.rip = 0x1000n;
  cpu.setState(s);
  share.setLinearMapping(LFB, VRAM);
  const watch = new VramWatch(control, cpu);
  return { cpu, share, watch };
}

/** ns per store: `rounds` runs of `count` stores, taking the dirty bitmap between runs if asked. */
function measure(base: number, stride: number, count: number, rounds: number, take: boolean): number {
  const { cpu, share, watch } = setup(program(base, stride, count));
  const out = new Uint8Array(share.pages);
  const round = (): void => {
    cpu.halted = false;
    cpu.run(1e12);
    if (take) { share.takeDirty(out); watch.sync(); }
  };
  for (let i = 0; i < Math.min(rounds, 20); i++) round(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) round();
  return Number(process.hrtime.bigint() - t0) / (rounds * count);
}

const bulk = Math.max(1, Math.floor(stores / 1_000_000));
const small = Math.max(1, Math.floor(stores / 256));
const rows: [string, number][] = [
  ['RAM, sequential', measure(0x100000, 4, 1_000_000, bulk, false)],
  ['VRAM, sequential (bitmap taken every 1M stores)', measure(LFB, 4, 1_000_000, bulk, true)],
  ['RAM, one store per page, rounds of 256', measure(0x100000, 4096, 256, small, false)],
  ['VRAM, first store to each page (slow path)', measure(LFB, 4096, 256, small, true)],
];
for (const [what, ns] of rows) console.log(`${what.padEnd(50)} ${ns.toFixed(1)} ns/store`);
