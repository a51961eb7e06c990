// A standalone boot of a Linux bzImage on the soft CPU, without the device model: the 32-bit
// boot protocol (Documentation/arch/x86/boot.rst), a serial port that prints to stdout, and the
// soft platform's PIC/PIT when it is built (a silent interrupt controller until then). For
// finding where the CPU diverges from a real one; not part of the VMM.
//
//   node dist/src/hypervisor/soft/linux-harness.js <bzImage> [initrd] [cmdline]
//
// Environment: HVM_SYSMAP=<System.map> names kernel addresses; HVM_MEM_MB (default 256);
// HVM_MAX_SECONDS stops the run; HVM_FPU=0 leaves the x87/SSE units out even when present,
// HVM_SSE=0 the SSE unit (a P6 with x87 only); HVM_VMLINUX=<ELF vmlinux> skips the decompressor;
// HVM_TRACE_AT=<instructions> single-steps from that count on, printing EIP and registers;
// HVM_TRACE_N (default 200) instructions of it.

import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestRam, memoryLayout } from '../memory.js';
import {
  parseSetupHeader, HDR_SETUP_SECTS, HDR_TYPE_OF_LOADER, HDR_LOADFLAGS, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE,
  HDR_CMD_LINE_PTR, HDR_HEAP_END_PTR, LOADER_TYPE_UNDEFINED, CAN_USE_HEAP,
} from '../../firmware/bzimage.js';
import { pcE820Map, writeE820 } from '../../firmware/e820.js';
import { writeBootGdt, protectedModeEntry } from '../../firmware/entry-state.js';
import type { CpuIo, InterruptController } from './api.js';
import { SoftCpu, StopReason, type FpuUnit, type SseUnit } from './cpu.js';
import { IntKind } from './transfer.js';
import { Uart16550 } from '../../devices/uart16550.js';

const ZERO_PAGE = 0x7000;
const GDT_AT = 0x6000;
const CMDLINE_AT = 0x20000;
const KERNEL_AT = 0x100000;
const STACK_TOP = 0x6000;
const COM1 = 0x3f8;
const LSR = COM1 + 5;
const LSR_THRE_TEMT = 0x60;
const SLICE = 200_000;
const REPORT_MS = 3000;
const DEFAULT_CMDLINE = 'nokaslr console=ttyS0 earlyprintk=serial,ttyS0,115200 nolapic noapic acpi=off lpj=1000000 ' +
  'tsc_early_khz=1000000 loglevel=8';

const here = dirname(fileURLToPath(import.meta.url));

/** Kernel symbols from System.map, for naming addresses. */
class Symbols {
  private addrs: number[] = [];
  private names: string[] = [];
  constructor(path: string | undefined) {
    if (path === undefined || !existsSync(path)) return;
    const rows: [number, string][] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [a, t, n] = line.split(' ');
      if (a === undefined || n === undefined || t === undefined || !/[tTwW]/.test(t)) continue;
      rows.push([parseInt(a, 16), n]);
    }
    rows.sort((x, y) => x[0] - y[0]);
    this.addrs = rows.map((r) => r[0]);
    this.names = rows.map((r) => r[1]);
  }
  name(addr: number): string {
    const a = addr >>> 0;
    let lo = 0, hi = this.addrs.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= a) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (best < 0 || a - this.addrs[best]! > 0x10000) {
      // Before paging the kernel runs at its physical address (virtual - PAGE_OFFSET).
      return a < 0x40000000 && a >= 0x100000 ? this.name(a + 0xc0000000) : '';
    }
    return `${this.names[best]}+0x${(a - this.addrs[best]!).toString(16)}`;
  }
}

const hex = (v: number, w = 8): string => (v >>> 0).toString(16).padStart(w, '0');

/** SoftCpu that reports the exceptions it delivers (the harness's view into the run loop). */
class TracedCpu extends SoftCpu {
  exceptions = 0;
  onException: ((vec: number, code: number) => void) | null = null;
  override interrupt(vec: number, retEip: number, code: number, kind: IntKind): void {
    if (kind === IntKind.Exception) { this.exceptions++; this.onException?.(vec, code); }
    super.interrupt(vec, retEip, code, kind);
  }
}

function loadPlatform(): Promise<unknown> {
  const p = join(here, 'platform.js');
  return existsSync(p) ? import(p) : Promise.resolve(null);
}

async function loadUnits(cpu: SoftCpu): Promise<string> {
  if (process.env.HVM_FPU === '0') return 'no x87/SSE (HVM_FPU=0)';
  if (!existsSync(join(here, 'x87.js'))) return 'no x87/SSE (x87.ts not built)';
  let fpu: FpuUnit;
  try {
    const x = (await import(join(here, 'x87.js'))) as { X87: new (c: SoftCpu) => FpuUnit };
    fpu = new x.X87(cpu);
  } catch (e) {
    return `no x87/SSE (x87.js does not load: ${(e as Error).message.split('\n')[0]})`;
  }
  let sse: SseUnit | null = null;
  try {
    if (process.env.HVM_SSE !== '0' && existsSync(join(here, 'sse.js'))) {
      const s = (await import(join(here, 'sse.js'))) as { Sse: new (c: SoftCpu, f: FpuUnit) => SseUnit };
      sse = new s.Sse(cpu, fpu);
    }
  } catch { sse = null; }
  cpu.attachUnits(fpu, sse);
  return sse !== null ? 'x87 + SSE attached' : 'x87 attached';
}

/**
 * Loads an uncompressed ELF32 vmlinux at its physical addresses (skips the decompressor, which
 * does the same with nokaslr); returns the physical entry point.
 */
function loadElf(ram: GuestRam, elf: Uint8Array): number {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46 || elf[4] !== 1) throw new Error('HVM_VMLINUX is not an ELF32 file');
  const phoff = dv.getUint32(28, true), phentsize = dv.getUint16(42, true), phnum = dv.getUint16(44, true);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== 1) continue;
    const off = dv.getUint32(ph + 4, true), paddr = dv.getUint32(ph + 12, true);
    const filesz = dv.getUint32(ph + 16, true), memsz = dv.getUint32(ph + 20, true);
    const v = ram.view(paddr, memsz);
    if (v === null) throw new Error(`ELF segment at 0x${hex(paddr)} is not in RAM`);
    v.fill(0);
    v.set(elf.subarray(off, off + filesz));
  }
  return dv.getUint32(24, true);
}

interface PlatformLike {
  ownsPort(p: number): boolean;
  portRead(p: number, size: 1 | 2 | 4): number;
  portWrite(p: number, size: 1 | 2 | 4, v: number): void;
  ownsMmio(gpa: number): boolean;
  setIrq(line: number, level: boolean): void;
  mmioRead(cpu: number, gpa: number, size: 1 | 2 | 4): number;
  mmioWrite(cpu: number, gpa: number, size: 1 | 2 | 4, v: number): void;
  update(nowMs: number): void;
  interruptController(cpu: number): InterruptController;
}

async function main(): Promise<void> {
  const [kernelPath, initrdPath, cmdlineArg] = process.argv.slice(2);
  if (kernelPath === undefined) {
    console.error('usage: linux-harness <bzImage> [initrd|-] [cmdline]');
    process.exit(2);
  }
  const cmdline = cmdlineArg ?? DEFAULT_CMDLINE;
  const kernel = new Uint8Array(readFileSync(kernelPath));
  const hdr = parseSetupHeader(kernel);
  const memMb = Number(process.env.HVM_MEM_MB ?? 256);
  const layout = memoryLayout(memMb * 1024 * 1024);
  const ram = new GuestRam(GuestRam.allocate(layout), layout);
  const syms = new Symbols(process.env.HVM_SYSMAP);

  // boot_params: zeroed, the image's setup header copied in, then the loader's fields.
  const zp = ram.view(ZERO_PAGE, 4096)!;
  zp.fill(0);
  zp.set(kernel.subarray(HDR_SETUP_SECTS, hdr.headerEnd), HDR_SETUP_SECTS);
  const zdv = new DataView(zp.buffer, zp.byteOffset, 4096);
  zdv.setUint8(HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
  zdv.setUint8(HDR_LOADFLAGS, hdr.loadflags | CAN_USE_HEAP);
  zdv.setUint16(HDR_HEAP_END_PTR, 0xfe00, true);
  zdv.setUint32(HDR_CMD_LINE_PTR, CMDLINE_AT, true);
  const cmd = new TextEncoder().encode(cmdline);
  if (cmd.length > hdr.cmdlineSize) throw new Error('command line too long');
  ram.u8.set(cmd, CMDLINE_AT);
  ram.u8[CMDLINE_AT + cmd.length] = 0;
  writeE820(zp, pcE820Map(layout));
  let entry = KERNEL_AT;
  const vmlinux = process.env.HVM_VMLINUX;
  if (vmlinux !== undefined) entry = loadElf(ram, new Uint8Array(readFileSync(vmlinux)));
  else ram.u8.set(kernel.subarray(hdr.setupBytes), KERNEL_AT);
  if (initrdPath !== undefined && initrdPath !== '-') {
    const initrd = new Uint8Array(readFileSync(initrdPath));
    const top = Math.min(hdr.initrdAddrMax + 1, layout.lowRamBytes);
    const at = (top - initrd.length) & ~0xfff;
    ram.u8.set(initrd, at);
    zdv.setUint32(HDR_RAMDISK_IMAGE, at, true);
    zdv.setUint32(HDR_RAMDISK_SIZE, initrd.length, true);
    console.error(`[harness] initrd ${initrd.length} bytes at 0x${hex(at)}`);
  }
  const gdtLimit = writeBootGdt(ram, GDT_AT, false);

  // Devices: COM1 prints, the platform (when built) owns PIC/PIT/…, everything else floats.
  const plat = await loadPlatform() as { SoftPlatform?: new (o: { cpus: number; clock: () => number }) => PlatformLike } | null;
  // HVM_DETERMINISTIC=<instructions per ms>: guest time from the instruction count (idle time
  // skipped to the next timer deadline), so a run repeats exactly.
  const ipms = Number(process.env.HVM_DETERMINISTIC ?? 0);
  let idleMs = 0;
  let cpuRef: SoftCpu | null = null;
  const clock = ipms > 0 ? (): number => (cpuRef !== null ? cpuRef.instructionsRetired / ipms : 0) + idleMs : (): number => performance.now();
  const platform = plat?.SoftPlatform !== undefined ? new plat.SoftPlatform({ cpus: 1, clock }) : null;
  let serialLine = '';
  const lastLines: string[] = [];
  const printSerial = (bytes: Uint8Array): void => {
    for (const ch of bytes) {
      process.stdout.write(String.fromCharCode(ch));
      if (ch === 10) { lastLines.push(serialLine); if (lastLines.length > 20) lastLines.shift(); serialLine = ''; } else if (ch !== 13) serialLine += String.fromCharCode(ch);
    }
  };
  // The project's 16550 on IRQ 4 once the platform exists (Linux's tty layer needs a UART that
  // passes the 8250 probe); before that, a write-only stand-in.
  const uart = platform !== null ? new Uart16550('com1', {
    set: (level) => platform.setIrq(4, level),
    pulse: () => { platform.setIrq(4, true); platform.setIrq(4, false); },
  }, { write: printSerial, onInput: () => undefined }) : null;
  const io: CpuIo = {
    portRead(p, size) {
      if (platform !== null && platform.ownsPort(p)) return platform.portRead(p, size);
      if (uart !== null && p >= COM1 && p < COM1 + 8) return uart.region.read(p - COM1, size);
      if (p === LSR) return LSR_THRE_TEMT;
      if (p >= COM1 && p < COM1 + 8) return p === COM1 + 6 ? 0xb0 : 0;
      return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    },
    portWrite(p, size, v) {
      if (platform !== null && platform.ownsPort(p)) { platform.portWrite(p, size, v); return; }
      if (uart !== null && p >= COM1 && p < COM1 + 8) { uart.region.write(p - COM1, size, v); return; }
      if (p === COM1) printSerial(Uint8Array.of(v & 0xff));
    },
    mmioRead(gpa, size) {
      if (platform !== null && platform.ownsMmio(gpa)) return platform.mmioRead(0, gpa, size);
      return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    },
    mmioWrite(gpa, size, v) {
      if (platform !== null && platform.ownsMmio(gpa)) platform.mmioWrite(0, gpa, size, v);
    },
  };
  const silent: InterruptController = { hasInterrupt: () => false, acknowledge: () => 0xff, takeNmi: () => false };
  const intc = platform !== null ? platform.interruptController(0) : silent;
  const cpu = new TracedCpu({ ram, io, intc, clock, id: 0 });
  cpuRef = cpu;
  const units = await loadUnits(cpu);
  cpu.setState(protectedModeEntry(GDT_AT, gdtLimit, entry, ZERO_PAGE, STACK_TOP));

  // Guest memory as the CPU would see it, by a page walk that changes nothing (no A/D bits, no
  // CR2, no TLB fill): the harness's own reads must not disturb the guest.
  const dvRam = new DataView(ram.u8.buffer, ram.u8.byteOffset, ram.u8.byteLength);
  const peek8 = (linear: number): number => {
    const lin = linear >>> 0;
    let pa = lin;
    if ((cpu.cr0 & 0x80000000) !== 0) {
      const pdeAt = ram.ramOffset(((cpu.cr3 & ~0xfff) >>> 0) + (lin >>> 22) * 4);
      if (pdeAt < 0) return -1;
      const pde = dvRam.getUint32(pdeAt, true);
      if ((pde & 1) === 0) return -1;
      if ((pde & 0x80) !== 0 && (cpu.cr4 & 0x10) !== 0) pa = ((pde & 0xffc00000) >>> 0) + (lin & 0x3fffff);
      else {
        const pteAt = ram.ramOffset(((pde & ~0xfff) >>> 0) + ((lin >>> 12) & 0x3ff) * 4);
        if (pteAt < 0) return -1;
        const pte = dvRam.getUint32(pteAt, true);
        if ((pte & 1) === 0) return -1;
        pa = ((pte & ~0xfff) >>> 0) + (lin & 0xfff);
      }
    }
    const o = ram.ramOffset(pa);
    return o < 0 ? -1 : ram.u8[o]!;
  };
  const peek32 = (lin: number): number | null => {
    let v = 0;
    for (let i = 3; i >= 0; i--) {
      const b = peek8(lin + i);
      if (b < 0) return null;
      v = (v << 8) | b;
    }
    return v >>> 0;
  };
  const dump = (why: string): void => {
    const s = cpu.getState();
    const eip = Number(s.rip);
    const lin = (s.cs.base + eip) >>> 0;
    const bytes: string[] = [];
    for (let i = 0; i < 16; i++) {
      const b = peek8(lin + i); if (b < 0) { bytes.push('??'); break; } bytes.push(hex(b, 2));
    }
    const r = (v: bigint): string => hex(Number(v));
    console.error(`\n[harness] ${why} at ${hex(s.cs.selector, 4)}:${hex(eip)} ${syms.name(eip)} after ${cpu.instructionsRetired} instructions`);
    console.error(`  bytes ${bytes.join(' ')}`);
    console.error(`  eax=${r(s.rax)} ebx=${r(s.rbx)} ecx=${r(s.rcx)} edx=${r(s.rdx)} esi=${r(s.rsi)} edi=${r(s.rdi)} ebp=${r(s.rbp)} esp=${r(s.rsp)}`);
    console.error(`  eflags=${r(s.rflags)} cr0=${r(s.cr0)} cr2=${r(s.cr2)} cr3=${r(s.cr3)} cr4=${r(s.cr4)} cpl=${cpu.cpl}`);
    console.error(`  cs=${hex(s.cs.selector, 4)} ds=${hex(s.ds.selector, 4)} es=${hex(s.es.selector, 4)} ss=${hex(s.ss.selector, 4)} fs=${hex(s.fs.selector, 4)} gs=${hex(s.gs.selector, 4)} gdt=${hex(s.gdt.base)}/${hex(s.gdt.limit, 4)} idt=${hex(s.idt.base)}/${hex(s.idt.limit, 4)}`);
    try {
      const sp = (s.ss.base + Number(s.rsp)) | 0;
      const words: string[] = [];
      const nWords = Number(process.env.HVM_STACK_WORDS ?? 8);
      for (let i = 0; i < nWords; i++) {
        const w = peek32(sp + i * 4);
        if (w === null) break;
        const n = syms.name(w);
        words.push(hex(w) + (n !== '' ? `(${n})` : ''));
      }
      console.error(`  stack ${words.join(' ')}`);
    } catch { /* unmapped stack */ }
    // Frame-pointer backtrace (the 686 kernel is built with CONFIG_FRAME_POINTER).
    try {
      let bp = Number(s.rbp) | 0;
      const frames: string[] = [];
      for (let i = 0; i < 16 && bp !== 0; i++) {
        const ret = peek32(s.ss.base + bp + 4);
        if (ret === null) break;
        frames.push(`${hex(ret)} ${syms.name(ret)}`);
        bp = peek32(s.ss.base + bp) ?? 0;
      }
      console.error(`  backtrace ${frames.join(' <- ')}`);
    } catch { /* unmapped frame */ }
  };

  // Exceptions: #UD and anything that is not an ordinary page fault is printed (rate-limited).
  const exCounts = new Map<number, number>();
  // User-mode trace (for diffing against QEMU's `-d cpu -dfilter` log): from the first fault
  // taken in ring 3, every ring-3 instruction's registers before it executes.
  const userTracePath = process.env.HVM_USER_TRACE;
  let userTraceLeft = Number(process.env.HVM_USER_TRACE_N ?? 200000);
  let userTracing = false;
  const userTrace: string[] = [];
  const userTraceCr3 = process.env.HVM_USER_TRACE_CR3 !== undefined ? parseInt(process.env.HVM_USER_TRACE_CR3, 16) | 0 : -1;
  const writeUserTrace = (): void => {
    if (userTracePath === undefined || userTrace.length === 0) return;
    writeFileSync(userTracePath, userTrace.join('\n') + '\n');
    console.error(`[harness] user trace (${userTrace.length} instructions) written to ${userTracePath}`);
    userTrace.length = 0;
  };
  // HVM_PEEK=<eip>:<addr>:<len> (hex): memory at a linear address when an exception hits at eip.
  const peek = (process.env.HVM_PEEK ?? '').split(':').map((x) => parseInt(x, 16));
  cpu.onException = (vec, code) => {
    if (peek.length === 3 && cpu.eip === (peek[0]! | 0)) {
      const out: string[] = [];
      for (let i = 0; i < peek[2]!; i++) {
        const b = peek8(peek[1]! + i); out.push(b < 0 ? '??' : hex(b, 2));
      }
      console.error(`[harness] peek ${hex(peek[1]!)}: ${out.join(' ')}`);
    }
    if (userTracePath !== undefined && !userTracing && (cpu.segSel[1]! & 3) === 3) userTracing = true;
    const n = (exCounts.get(vec) ?? 0) + 1;
    exCounts.set(vec, n);
    if (vec === 14 && n > 5) return;
    if (n > 20) return;
    dump(`exception ${vec}${code >= 0 ? ` (error code ${hex(code, 4)})` : ''}${vec === 14 ? ` cr2=${hex(cpu.cr2)}` : ''}`);
  };

  console.error(`[harness] protocol ${hdr.version.toString(16)}, setup ${hdr.setupBytes} bytes, kernel ${hdr.kernelBytes} bytes, ` +
    `${memMb} MiB, platform ${platform !== null ? 'SoftPlatform' : 'none (silent interrupt controller)'}, ${units}`);
  console.error(`[harness] cmdline: ${cmdline}`);

  const maxMs = Number(process.env.HVM_MAX_SECONDS ?? 120) * 1000;
  const traceAt = process.env.HVM_TRACE_AT !== undefined ? Number(process.env.HVM_TRACE_AT) : Infinity;
  let traceN = Number(process.env.HVM_TRACE_N ?? 200);
  const t0 = performance.now();
  let lastReport = t0, lastCount = 0, kernelIns = 0, decompIns = 0, kernelMs = 0, decompMs = 0;
  let haltedSpins = 0;
  // HVM_WATCH_PTE=<page directory>:<linear> (hex): reports each change of that PTE between slices.
  const watch = (process.env.HVM_WATCH_PTE ?? '').split(':').filter((x) => x !== '').map((x) => parseInt(x, 16));
  let lastPte = -2;
  const slice = Number(process.env.HVM_SLICE ?? SLICE);
  const sliceAfter = Number(process.env.HVM_SLICE_AFTER ?? 0);
  for (;;) {
    const now = performance.now();
    platform?.update(clock());
    if (watch.length === 2) {
      const dv = new DataView(ram.u8.buffer, ram.u8.byteOffset);
      const pde = dv.getUint32((watch[0]! & ~0xfff) + (watch[1]! >>> 22) * 4, true);
      const pte = (pde & 1) !== 0 && (pde & 0xfffff000) < layout.lowRamBytes ? dv.getUint32((pde & 0xfffff000) + ((watch[1]! >>> 12) & 0x3ff) * 4, true) : -1;
      if (pte !== lastPte) {
        console.error(`[harness] watch ${hex(watch[1]!)}: pde ${hex(pde)} pte ${hex(pte)} at ${cpu.instructionsRetired} eip ${hex(cpu.eip)} ${syms.name(cpu.eip)} cr3 ${hex(cpu.cr3)}`);
        lastPte = pte;
      }
    }
    if (cpu.instructionsRetired >= traceAt && traceN > 0) {
      const s = cpu.getState();
      const r = (v: bigint): string => hex(Number(v));
      console.error(`T ${cpu.instructionsRetired} ${hex(s.cs.selector, 4)}:${r(s.rip)} ${syms.name(Number(s.rip))} eax=${r(s.rax)} ebx=${r(s.rbx)} ecx=${r(s.rcx)} edx=${r(s.rdx)} esi=${r(s.rsi)} edi=${r(s.rdi)} ebp=${r(s.rbp)} esp=${r(s.rsp)} fl=${r(s.rflags)}`);
      traceN--;
      if (cpu.step() === StopReason.Shutdown) { dump('triple fault'); break; }
      continue;
    }
    if (userTracing && userTraceLeft > 0) {
      for (let i = 0; i < 10000 && userTraceLeft > 0; i++) {
        if (cpu.cpl === 3 && (userTraceCr3 < 0 || cpu.cr3 === userTraceCr3)) {
          const g = cpu.regs;
          userTrace.push(`${hex(cpu.eip)} ${hex(g[0]!)} ${hex(g[3]!)} ${hex(g[1]!)} ${hex(g[2]!)} ${hex(g[6]!)} ${hex(g[7]!)} ${hex(g[5]!)} ${hex(g[4]!)} ${hex(cpu.getEflags() & 0xcd5, 3)}`);
          userTraceLeft--;
        }
        if (cpu.step() === StopReason.Shutdown) break;
      }
      if (userTraceLeft === 0) writeUserTrace();
      if (performance.now() - t0 > maxMs) { dump('time limit'); break; }
      if (!cpu.halted || (cpu.getEflags() & 0x200) !== 0) continue;
    }
    const before = cpu.instructionsRetired;
    const inKernel = (cpu.eip >>> 0) >= 0xc0000000;
    const sl = before >= sliceAfter ? slice : SLICE;
    const budget = Number.isFinite(traceAt) ? Math.min(sl, Math.max(1, traceAt - before)) : sl;
    const stop = cpu.run(budget);
    const t1 = performance.now();
    if (inKernel) { kernelIns += cpu.instructionsRetired - before; kernelMs += t1 - now; } else { decompIns += cpu.instructionsRetired - before; decompMs += t1 - now; }
    if (stop === StopReason.Shutdown) { dump('triple fault'); break; }
    if (stop === StopReason.Halted) {
      if ((cpu.getEflags() & 0x200) === 0) { dump('HLT with interrupts disabled'); break; }
      haltedSpins++;
      if (platform === null && haltedSpins > 100) { dump('HLT and no interrupt source'); break; }
      const next = platform !== null ? (platform as unknown as { nextDeadline(): number }).nextDeadline() : now + 1;
      if (ipms > 0) { idleMs += Number.isFinite(next) ? Math.max(0.001, next - clock()) : 1; continue; }
      const wait = Math.max(0, Math.min(10, next - performance.now()));
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (t1 - lastReport >= REPORT_MS) {
      const rate = (cpu.instructionsRetired - lastCount) / ((t1 - lastReport) / 1000);
      console.error(`\n[harness] ${((t1 - t0) / 1000).toFixed(1)} s: ${cpu.instructionsRetired} instructions, ${(rate / 1e6).toFixed(1)} M/s now, ${cpu.blocksDecoded} blocks decoded, ${cpu.cacheFlushes} flushes, eip ${hex(cpu.eip)} ${syms.name(cpu.eip)}`);
      lastReport = t1; lastCount = cpu.instructionsRetired;
    }
    if (t1 - t0 > maxMs) { dump('time limit'); break; }
  }
  if (userTracing) writeUserTrace();
  const mips = (n: number, ms: number): string => (ms > 0 ? (n / ms / 1000).toFixed(1) : '-');
  console.error(`[harness] below 0xC0000000 (decompressor, early boot, user): ${decompIns} instructions, ${mips(decompIns, decompMs)} M/s; kernel: ${kernelIns} instructions, ${mips(kernelIns, kernelMs)} M/s; exceptions ${[...exCounts].map(([v, n]) => `#${v}x${n}`).join(' ')}`);
  console.error(`[harness] last serial lines:\n${[...lastLines, serialLine].join('\n')}`);
  process.exit(0);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
