// Diffs the soft CPU against QEMU's TCG, instruction by instruction, on a firmware image
// (DESIGN.md, "The soft CPU's oracles"). QEMU logs the whole register state before every
// instruction (`-singlestep -d cpu,nochain`); the soft CPU steps the same image and compares.
// Results the soft CPU cannot know (IN, INS, CPUID, RDTSC, RDMSR, MMIO reads) are replayed from
// QEMU's next state. Stops at the first divergence and prints both states; a hardware interrupt
// in QEMU (which this harness does not model) ends the comparison as a legitimate parting.
//
//   node dist/src/hypervisor/soft/trace-qemu.js [bios.bin] [seconds of QEMU logging]
//
// test/oracle/qemu-tcg.test.ts runs it in CI on SeaBIOS and on the project's guest programs.

import { spawnSync } from 'node:child_process';
import { createReadStream, readFileSync, mkdtempSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GuestRam, memoryLayout } from '../memory.js';
import { resetState } from '../vcpu.js';
import type { CpuIo } from './api.js';
import { SoftCpu } from './cpu.js';

const RAM_MB = 64;

/** How a comparison ended. */
export interface TraceResult {
  /** Instructions whose register state matched QEMU's before they ran. */
  agreed: number;
  /**
   * 'end': QEMU's log ran out; 'interrupt': QEMU took a hardware interrupt; 'string-input': an
   * INS stored device data in memory, which the log does not show (both legitimate partings);
   * 'divergence'.
   */
  outcome: 'end' | 'interrupt' | 'string-input' | 'divergence';
  /** The last instructions and the differing registers, for a divergence. */
  report: string;
}

interface QState { gpr: number[]; eip: number; efl: number; cs: number; csBase: number; ss: number; ds: number; es: number; cr0: number; hlt: boolean }

function hex(n: number): string { return (n >>> 0).toString(16).padStart(8, '0'); }

/** Runs `biosPath` under QEMU's TCG for `seconds`, then steps the soft CPU through the same trace. */
export async function traceAgainstQemu(biosPath: string, seconds: number): Promise<TraceResult> {
  const bios = biosPath;
  const dir = mkdtempSync(join(tmpdir(), 'hvm-trace-'));
  const log = join(dir, 'qemu.log');
  spawnSync('timeout', [String(seconds), 'qemu-system-i386', '-accel', 'tcg', '-singlestep', '-d', 'cpu,nochain,int', '-D', log,
    '-bios', bios, '-display', 'none', '-m', String(RAM_MB), '-nodefaults', '-serial', 'none'], { stdio: 'ignore' });

  const image = new Uint8Array(readFileSync(bios));
  const layout = memoryLayout(RAM_MB << 20, image.length);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  ram.rom().set(image);
  // The top of the image also shows below 1 MiB (at most 128 KiB of it), as the chipset maps it.
  const shadow = Math.min(0x20000, image.length);
  ram.u8.set(image.subarray(image.length - shadow), 0x100000 - shadow);
  let readHappened = false;
  const io: CpuIo = {
    portRead: () => { readHappened = true; return 0; },
    portWrite: () => undefined,
    mmioRead: () => { readHappened = true; return 0; },
    mmioWrite: () => undefined,
  };
  const cpu = new SoftCpu({ ram, io, intc: { hasInterrupt: () => false, acknowledge: () => 0, takeNmi: () => false }, clock: () => 0, id: 0 });
  const s0 = resetState();
  s0.rdx = 0x663n;
  cpu.setState(s0);

  const lines = createInterface({ input: createReadStream(log), crlfDelay: Infinity });
  let cur: Partial<QState> & { gpr?: number[] } = {};
  let prev: QState | null = null;
  let prevReplay = false;
  let n = 0;
  const history: string[] = [];
  for await (const line of lines) {
    if (line.includes('Servicing hardware INT')) {
      // QEMU delivered an external interrupt, which this harness does not model: the runs part here.
      return { agreed: n, outcome: 'interrupt', report: `QEMU took a hardware interrupt after ${n} instructions` };
    }
    if (line.startsWith('EAX=')) {
      const m = /EAX=(\w+) EBX=(\w+) ECX=(\w+) EDX=(\w+)/.exec(line)!;
      cur = { gpr: [parseInt(m[1]!, 16), parseInt(m[3]!, 16), parseInt(m[4]!, 16), parseInt(m[2]!, 16)] };
    } else if (line.startsWith('ESI=')) {
      const m = /ESI=(\w+) EDI=(\w+) EBP=(\w+) ESP=(\w+)/.exec(line)!;
      cur.gpr!.push(parseInt(m[4]!, 16), parseInt(m[3]!, 16), parseInt(m[1]!, 16), parseInt(m[2]!, 16));
    } else if (line.startsWith('EIP=')) {
      const m = /EIP=(\w+) EFL=(\w+).*HLT=(\d)/.exec(line)!;
      cur.eip = parseInt(m[1]!, 16); cur.efl = parseInt(m[2]!, 16); cur.hlt = m[3] === '1';
    } else if (/^(ES|CS|SS|DS) =/.test(line)) {
      const m = /^(\w\w) =(\w+) (\w+)/.exec(line)!;
      const sel = parseInt(m[2]!, 16);
      if (m[1] === 'CS') { cur.cs = sel; cur.csBase = parseInt(m[3]!, 16); }
      else if (m[1] === 'SS') cur.ss = sel; else if (m[1] === 'DS') cur.ds = sel; else cur.es = sel;
    } else if (line.startsWith('CR0=')) {
      cur.cr0 = parseInt(line.slice(4, 12), 16);
    } else if (line.startsWith('EFER=')) {
      const q = cur as QState;
      // Replay the results of the previous instruction's reads.
      if (prevReplay) {
        for (let r = 0; r < 8; r++) cpu.regs[r] = q.gpr[r]!;
        cpu.setArith(q.efl);
      }
      const st = cpu.getState();
      const mine = [st.rax, st.rcx, st.rdx, st.rbx, st.rsp, st.rbp, st.rsi, st.rdi].map((x) => Number(x));
      const diffs: string[] = [];
      for (let r = 0; r < 8; r++) if (mine[r] !== q.gpr[r]) diffs.push(`${['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'][r]} ${hex(mine[r]!)} qemu ${hex(q.gpr[r]!)}`);
      if (Number(st.rip) !== q.eip) diffs.push(`eip ${hex(Number(st.rip))} qemu ${hex(q.eip)}`);
      if (st.cs.selector !== q.cs) diffs.push(`cs ${st.cs.selector.toString(16)} qemu ${q.cs.toString(16)}`);
      if ((Number(st.rflags) & 0xcd5) !== (q.efl & 0xcd5)) diffs.push(`eflags ${hex(Number(st.rflags))} qemu ${hex(q.efl)}`);
      if (st.ss.selector !== q.ss || st.ds.selector !== q.ds || st.es.selector !== q.es) diffs.push('segment selectors');
      if ((Number(st.cr0) & 0x8000000f) !== (q.cr0 & 0x8000000f)) diffs.push(`cr0 ${hex(Number(st.cr0))} qemu ${hex(q.cr0)}`);
      if (diffs.length > 0) {
        if (prev !== null && (q.eip !== prev.eip) && prev.hlt) return { agreed: n, outcome: 'interrupt', report: 'QEMU left HLT by an interrupt' };
        const report = `${history.slice(-12).join('\n')}\nDIVERGENCE after ${n} instructions at ${q.cs.toString(16)}:${hex(q.eip)}: ${diffs.join('; ')}`;
        return { agreed: n, outcome: 'divergence', report };
      }
      history.push(`${n} ${q.cs.toString(16)}:${hex(q.eip)} eax=${hex(q.gpr[0]!)} ecx=${hex(q.gpr[1]!)} edx=${hex(q.gpr[2]!)} ebx=${hex(q.gpr[3]!)} esp=${hex(q.gpr[4]!)} efl=${hex(q.efl)}`);
      if (history.length > 64) history.shift();
      // Step: decide whether this instruction's results come from QEMU.
      const lin = (q.csBase + q.eip) >>> 0;
      const b0 = ram.u8[lin]!, b1 = ram.u8[lin + 1]!;
      readHappened = false;
      cpu.step();
      const replayOpcode = (b0 === 0x0f && (b1 === 0xa2 || b1 === 0x31 || b1 === 0x32));
      // INS (6C/6D, after any prefixes) writes device data to memory: registers can be replayed,
      // memory cannot, so the comparison stops there.
      let k = lin;
      while (k < lin + 4 && [0xf3, 0xf2, 0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e].includes(ram.u8[k]!)) k++;
      if (readHappened && (ram.u8[k] === 0x6c || ram.u8[k] === 0x6d)) {
        return { agreed: n + 1, outcome: 'string-input', report: `INS at ${hex(q.eip)}: device data in memory from here on` };
      }
      prevReplay = readHappened || replayOpcode;
      prev = q;
      n++;
    }
  }
  return { agreed: n, outcome: 'end', report: `${n} instructions agree (end of QEMU's log)` };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await traceAgainstQemu(process.argv[2] ?? '/usr/share/seabios/bios-256k.bin', Number(process.argv[3] ?? 2));
  console.log(r.outcome === 'divergence' ? r.report : `${r.agreed} instructions agree (${r.outcome})`);
  if (r.outcome === 'divergence') process.exitCode = 1;
}
