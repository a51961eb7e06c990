// Test support for the soft CPU: assembles a nasm program at test time, loads it at 0x1000 of a
// small guest RAM in real mode, with a fake CpuIo that records port writes and a fake interrupt
// controller the test drives.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestRam, memoryLayout } from '../memory.js';
import { realSegment, resetState } from '../vcpu.js';
import type { CpuIo, InterruptController } from './api.js';
import { SoftCpu } from './cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The source tree's testdata (tests run from dist/, the .inc files stay in src/). */
const testdata = resolve(here, '../../../../src/hypervisor/soft/testdata');
let workDir = '';

/** Assembles `source` (nasm, flat binary); `%include "pm32.inc"` finds the shared prelude. */
export function assemble(source: string): Uint8Array {
  if (workDir === '') {
    workDir = mkdtempSync(join(tmpdir(), 'hvm-softcpu-'));
    copyFileSync(join(testdata, 'pm32.inc'), join(workDir, 'pm32.inc'));
  }
  const name = `t${Math.random().toString(36).slice(2)}`;
  const src = join(workDir, `${name}.asm`);
  const out = join(workDir, `${name}.bin`);
  writeFileSync(src, source);
  execFileSync('nasm', ['-f', 'bin', '-I', `${workDir}/`, '-o', out, src]);
  return new Uint8Array(readFileSync(out));
}

/** Port accesses as the fake device side saw them. */
export class FakeIo implements CpuIo {
  readonly writes: { port: number; size: number; value: number }[] = [];
  readonly input: number[] = [];
  mmio = new Map<number, number>();
  portRead(port: number, size: 1 | 2 | 4): number {
    void port; void size;
    return this.input.shift() ?? 0xffffffff;
  }
  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    this.writes.push({ port, size, value });
  }
  mmioRead(gpa: number, size: 1 | 2 | 4): number {
    void size;
    return this.mmio.get(gpa) ?? 0xffffffff;
  }
  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void {
    void size;
    this.mmio.set(gpa, value);
  }
  /** Bytes written to `port`, as a string. */
  text(port: number): string {
    return this.writes.filter((w) => w.port === port).map((w) => String.fromCharCode(w.value & 0xff)).join('');
  }
}

/** An interrupt controller whose pending vectors the test pushes. */
export class FakeIntc implements InterruptController {
  readonly pending: number[] = [];
  nmi = false;
  hasInterrupt(): boolean { return this.pending.length > 0; }
  acknowledge(): number { return this.pending.shift() ?? 0xff; }
  takeNmi(): boolean { const n = this.nmi; this.nmi = false; return n; }
}

export interface TestMachine {
  cpu: SoftCpu;
  ram: GuestRam;
  io: FakeIo;
  intc: FakeIntc;
  dv: DataView;
  now: { t: number };
}

/** A CPU with `mb` MiB of RAM and `image` at 0x1000, in real mode at 0000:1000. */
export function machine(image: Uint8Array, mb = 8, loadAt = 0x1000): TestMachine {
  const layout = memoryLayout(mb * 1024 * 1024);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  ram.u8.set(image, loadAt);
  const io = new FakeIo();
  const intc = new FakeIntc();
  const now = { t: 0 };
  const cpu = new SoftCpu({ ram, io, intc, clock: () => now.t, id: 0 });
  const s = resetState();
  s.cs = realSegment(0, 0xb);
  s.rip = BigInt(loadAt);
  cpu.setState(s);
  return { cpu, ram, io, intc, dv: new DataView(ram.u8.buffer, ram.u8.byteOffset), now };
}

/** Little-endian u32 of guest RAM. */
export function peek32(m: TestMachine, gpa: number): number {
  return m.dv.getUint32(gpa, true);
}
