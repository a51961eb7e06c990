// The ioreq round trip, against QEMU: one guest program (a loop of UART status reads) under
// this project (KVM and the soft CPU) and under `qemu-system-x86_64 -enable-kvm -M microvm`, in
// one run. Two run lengths per engine cancel start-up time; prints µs per exit and the ratio.
//
//   npm run bench -- ioreq          (HVM_BENCH_EXITS=N sets the longer run's exit count)

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { assemble } from '../test/support/asm.js';
import { envCount, hvmBin } from './support/engine.js';

const SHORT = 100_000;
const LONG = envCount('HVM_BENCH_EXITS', 1_100_000);

function image(count: number): string {
  return assemble('bench/programs/pio-loop.asm', (img) => {
    new DataView(img.buffer, img.byteOffset).setUint32(0x100, count, true);
  });
}

function seconds(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 1) throw new Error(`${cmd} exited with ${r.status}: ${r.stderr?.toString().trim()}`);
  return s;
}

/** µs per exit from two runs of different lengths. */
function perExit(run: (img: string) => number, shortCount: number, longCount: number): number {
  const a = run(image(shortCount));
  const b = run(image(longCount));
  return ((b - a) * 1e6) / (longCount - shortCount);
}

const hvm = (accel: string) => (img: string): number =>
  seconds(process.execPath, [hvmBin, 'run', '--rom', img, '--accel', accel, '--quiet', '-m', '16M']);
const qemu = (img: string): number =>
  seconds('qemu-system-x86_64', ['-M', 'microvm', '-enable-kvm', '-bios', img, '-display', 'none', '-serial', 'null',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=1', '-no-reboot']);

const rows: string[] = [];
if (existsSync('/dev/kvm')) {
  const q = perExit(qemu, SHORT, LONG);
  const k = perExit(hvm('kvm'), SHORT, LONG);
  rows.push(`qemu -enable-kvm -M microvm : ${q.toFixed(2)} us/exit`);
  rows.push(`hvm --accel kvm             : ${k.toFixed(2)} us/exit   ratio hvm/qemu = ${(k / q).toFixed(2)}x (goal <= 1.25x)`);
  const s = perExit(hvm('soft'), SHORT, LONG);
  rows.push(`hvm --accel soft            : ${s.toFixed(2)} us/exit   ratio hvm-soft/qemu-kvm = ${(s / q).toFixed(2)}x`);
} else {
  const s = perExit(hvm('soft'), SHORT, LONG);
  rows.push(`hvm --accel soft            : ${s.toFixed(2)} us/exit   (no /dev/kvm: QEMU KVM comparison skipped)`);
}
process.stdout.write(`ioreq round trip (UART LSR reads, ${LONG - SHORT} exits)\n${rows.join('\n')}\n`);
