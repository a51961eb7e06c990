// SoftCpu: the project's i686 integer core. This file holds the run loop (interrupts, HLT,
// faults, double and triple faults), the decoded-block cache keyed by physical address (its hot
// 32-bit code pages go to the region compiler, jit.ts, as jit-policy.ts picks them) and the seams
// to the x87/SSE units;
// the state exchange with CpuState is in cpu-state.ts, the fast REP MOVS/STOS in exec-string.ts.
//
// Layers, bottom up: CpuCore (registers, lazy flags) → Mmu (paging, TLB) → Segmentation →
// Tasks (TSS) → Transfer (far transfers, interrupts) → Alu (operands, arithmetic) → System
// (CR/MSR/CPUID…) → SoftCpu.

import type { GuestRam } from '../memory.js';
import type { CpuState } from '../vcpu.js';
import type { CpuIo, DecodedOperand, FpuHost, InterruptController } from './api.js';
import { System, TSC_HZ, CPUID_CORE, CPUID_FPU, CPUID_MMX, CPUID_FXSR, CPUID_SSE, CPUID_SSE2 } from './system.js';
import {
  M_MEM, R_DISP, R_IMM, R_M, R_PFX, R_SSEPFX, REC, P_O32, STOP_DECODE, decodeOne, isSse0F, type ByteSource,
} from './decoder.js';
import { execBlock } from './exec.js';
import { loadCpuState, saveCpuState } from './cpu-state.js';
import type { JitFn } from './jit.js';
import { JIT_THRESHOLD, MAX_PAGE_COMPILES, compilePage, type BlockTable } from './jit-policy.js';
import { IntKind } from './transfer.js';
import { CR0_EM, CR0_PE, CR0_TS, CS, ES, FLAG_IF, FLAG_TF, FLAG_VM, FaultClass, faultClass } from './defs.js';

/** Why `run` returned. */
export const enum StopReason {
  /** The instruction budget ran out; tick the timers and call again. */
  Budget = 0,
  /** HLT with no deliverable interrupt; sleep until one is pending, then call again. */
  Halted = 1,
  /** Triple fault: the PC resets. */
  Shutdown = 2,
}

/** The x87/MMX unit as the core drives it. */
export interface FpuUnit {
  exec(op: number, d: DecodedOperand): void;
  fwait(): void;
  reset(): void;
  /** CPUID leaf 1 EDX bits the unit implements (default: FPU). */
  readonly cpuidEdx?: number;
}

/** The SSE unit (and the MMX forms of the 0F map) as the core drives it. */
export interface SseUnit {
  /** Returns false for #UD. */
  exec0F(op: number, prefix: number, d: DecodedOperand): boolean;
  reset(): void;
  /** XMM0-7, four dwords each (compiled regions read and write them: jit-sse.ts). */
  readonly xmm: Int32Array;
  /** CPUID leaf 1 EDX bits the unit implements (default: MMX FXSR SSE SSE2). */
  readonly cpuidEdx?: number;
}

export interface SoftCpuOptions {
  ram: GuestRam;
  io: CpuIo;
  intc: InterruptController;
  /** Monotonic milliseconds (drives the TSC). */
  clock: () => number;
  id: number;
}

/** A decoded operand with the instruction's imm8 (SSE shuffles, shifts and compares need it). */
export interface UnitOperand extends DecodedOperand { imm: number }

const MAX_BLOCKS = 1 << 16;
const MAX_RECORDS = 1 << 19;
/** Instructions per block at most. */
const BLOCK_MAX = 64;
const HASH_BITS = 17;

/** The soft x86 CPU (i686 integer core). */
export class SoftCpu extends System implements FpuHost, ByteSource {
  readonly id: number;
  readonly intc: InterruptController;
  readonly tscHz = TSC_HZ;
  instructionsRetired = 0;
  /** Blocks decoded and whole-cache flushes so far (statistics for tuning the block cache). */
  blocksDecoded = 0;
  cacheFlushes = 0;
  fpu: FpuUnit | null = null;
  sse: SseUnit | null = null;
  /** 1 for 0F opcodes that go to the SSE unit. */
  readonly sseOps = new Uint8Array(256);
  /** Instructions per block at most (1 while stepping). */
  private stepLimit = BLOCK_MAX;
  /**
   * Elements moved or stored by repeated string instructions since the run loop last looked: a
   * REP slice retires as one instruction but may store 16 KiB, so four elements count as one
   * instruction of the run's budget. Without this a `rep stosd` fill of the framebuffer ran
   * 50 ms per run slice, and the VRAM dirty-page sync that follows each slice fell behind the
   * display's 30 ms refresh (bench/display: 17.5 fps instead of 33).
   */
  stringWork = 0;
  /** True inside step(): repeated string instructions do one element per step. */
  stepping = false;
  private nmiPending = false;
  private nmiBlocked = false;
  private readonly dOp: UnitOperand = { modrm: 0, reg: 0, rm: 0, ea: -1, imm: 0 };
  private curPfx = 0;

  // Block cache.
  private readonly blkKey = new Int32Array(MAX_BLOCKS);
  private readonly blkMode = new Uint8Array(MAX_BLOCKS);
  private readonly blkStart = new Int32Array(MAX_BLOCKS);
  private readonly blkCount = new Int32Array(MAX_BLOCKS);
  private readonly blkBytes = new Int32Array(MAX_BLOCKS);
  private readonly blkGen = new Int32Array(MAX_BLOCKS);
  private readonly blkPage2 = new Int32Array(MAX_BLOCKS);
  private readonly blkGen2 = new Int32Array(MAX_BLOCKS);
  private readonly blkVpn2 = new Int32Array(MAX_BLOCKS);
  private readonly hash = new Int32Array(1 << HASH_BITS).fill(-1);
  /** Link to the block that followed, valid while `epoch` and the EIP match. */
  private readonly blkNext = new Int32Array(2 * MAX_BLOCKS);
  private readonly blkNextEip = new Int32Array(2 * MAX_BLOCKS);
  private readonly blkNextEpoch = new Int32Array(2 * MAX_BLOCKS);
  private nBlocks = 0;
  private insTop = 0;
  /** Compiled form of each block once hot (null before, or when nothing in it compiles). */
  private readonly blkFn: (JitFn | null)[] = new Array<JitFn | null>(MAX_BLOCKS).fill(null);
  private readonly blkHits = new Int32Array(MAX_BLOCKS);
  /** Instructions run in a block before it is compiled; 0: the compiler is off. */
  jitThreshold = JIT_THRESHOLD;
  /** The block cache's arrays as the compile policy reads them. */
  private readonly blockTable: BlockTable;
  /** Compiles of one code page per version of its code at most (tests raise it to compile every block). */
  pageCompileLimit = MAX_PAGE_COMPILES;
  /** Regions compiled so far. */
  regionsCompiled = 0;
  // Decoder byte source state.
  private decPageLin = 0;
  private decPageOff = 0;
  private decFirst = true;
  private decPage2 = -1;
  private decVpn2 = 0;
  private decCsBase = 0;
  private decCsLimit = 0;

  constructor(o: SoftCpuOptions) {
    super(o.ram, o.io);
    this.id = o.id;
    this.apicId = o.id;
    this.intc = o.intc;
    this.clock = o.clock;
    this.ins = new Int32Array(MAX_RECORDS * REC);
    this.blockTable = {
      key: this.blkKey, mode: this.blkMode, start: this.blkStart, count: this.blkCount, gen: this.blkGen,
      page2: this.blkPage2, hits: this.blkHits, fn: this.blkFn,
      pageJits: new Uint8Array(this.pageGen.length), pageJitGen: new Int32Array(this.pageGen.length),
    };
    for (let b = 0; b < 256; b++) this.sseOps[b] = isSse0F(b) ? 1 : 0;
    this.updateCpuid();
  }

  /** Attaches the x87/MMX and SSE units (CPUID follows what is attached). */
  attachUnits(fpu: FpuUnit | null, sse: SseUnit | null): void {
    this.fpu = fpu;
    this.sse = sse;
    this.updateCpuid();
  }

  private updateCpuid(): void {
    let edx = CPUID_CORE;
    if (this.fpu !== null) edx |= this.fpu.cpuidEdx ?? CPUID_FPU;
    if (this.sse !== null) edx |= this.sse.cpuidEdx ?? (CPUID_MMX | CPUID_FXSR | CPUID_SSE | CPUID_SSE2);
    this.cpuidEdx = edx;
  }

  /** CPUID as the guest sees it (for the host's inspection). */
  cpuid(leaf: number): { eax: number; ebx: number; ecx: number; edx: number } {
    this.cpuidLeaf(leaf);
    const o = this.cpuidOut;
    return { eax: o[0]! >>> 0, ebx: o[1]! >>> 0, ecx: o[2]! >>> 0, edx: o[3]! >>> 0 };
  }

  // ---- run loop ----

  /** Runs up to `maxInstructions` (approximately: whole blocks). */
  run(maxInstructions: number): StopReason {
    let budget = maxInstructions;
    let prev = -1;
    for (;;) {
      try {
        while (budget > 0) {
          // After MOV SS/POP SS/STI exactly one instruction runs before events are checked.
          const shadowed = this.shadow;
          if (shadowed) this.shadow = false;
          else if (this.pollEvents()) { prev = -1; continue; }
          if (this.halted) return StopReason.Halted;
          // Two links per block (both ways of a conditional branch), the newer in slot 0.
          let b = -1;
          if (prev >= 0) {
            const l = prev << 1, eip = this.eip, ep = this.epoch;
            if (this.blkNextEip[l] === eip && this.blkNextEpoch[l] === ep) b = this.blkNext[l]!;
            else if (this.blkNextEip[l + 1] === eip && this.blkNextEpoch[l + 1] === ep) b = this.blkNext[l + 1]!;
            if (b >= 0 && (this.pageGen[this.blkKey[b]! >>> 12] !== this.blkGen[b] || this.blkPage2[b]! >= 0)) b = this.lookupBlock();
            else if (b < 0) {
              b = this.lookupBlock();
              if (this.blkKey[b]! >= 0 && this.blkKey[prev]! >= 0) {
                if (this.blkNextEpoch[l] === ep) {
                  this.blkNext[l + 1] = this.blkNext[l]!;
                  this.blkNextEip[l + 1] = this.blkNextEip[l]!;
                  this.blkNextEpoch[l + 1] = ep;
                }
                this.blkNext[l] = b;
                this.blkNextEip[l] = eip;
                this.blkNextEpoch[l] = ep;
              }
            }
          } else {
            b = this.lookupBlock();
          }
          prev = this.blkKey[b]! >= 0 ? b : -1;
          this.smc = false;
          if ((this.eflags & FLAG_TF) !== 0) { budget--; this.singleStep(b); continue; }
          if (shadowed) {
            prev = -1;
            const n1 = execBlock(this, this.blkStart[b]!, 1);
            budget -= n1;
            this.instructionsRetired += n1;
            continue;
          }
          const cnt = this.blkCount[b]!;
          let n = 0;
          const f = this.blkFn[b] ?? null;
          // A region runs on to other blocks: never while stepping. It runs nothing (0) where its
          // data segments are not flat: the interpreter runs the block.
          if (f !== null && !this.stepping) n = f(this);
          if (n === 0) {
            const hits = this.blkHits[b]! + cnt;
            this.blkHits[b] = hits;
            if (hits >= this.jitThreshold && hits - cnt < this.jitThreshold && prev >= 0 && this.blkMode[b] === 1) this.compile(b);
            n = execBlock(this, this.blkStart[b]!, cnt < this.stepLimit ? cnt : this.stepLimit);
          }
          budget -= n;
          this.instructionsRetired += n;
          if (this.stringWork !== 0) { budget -= this.stringWork >> 2; this.stringWork = 0; }
        }
        return StopReason.Budget;
      } catch (e) {
        if (e !== this.fault) throw e;
        prev = -1;
        budget--;
        this.instructionsRetired++;
        if (!this.deliverFault()) return StopReason.Shutdown;
      }
    }
  }

  /** TF=1: one instruction, then the single-step #DB trap (SDM vol. 3, 17.3.1.4). */
  private singleStep(b: number): void {
    const before = this.eip;
    execBlock(this, this.blkStart[b]!, 1);
    this.instructionsRetired++;
    // A repeated string instruction traps after each iteration; INT n already left through its gate.
    if (this.eip === before && !this.halted) return;
    this.dr[6] = this.dr[6]! | 0x4000;
    this.interrupt(1, this.eip, -1, IntKind.External);
    this.eip = this.nextEip;
  }

  /**
   * Executes exactly one instruction, or delivers one pending event or fault (for debuggers and
   * trace comparison).
   */
  step(): StopReason {
    this.stepLimit = 1;
    this.stepping = true;
    try {
      return this.run(1);
    } finally {
      this.stepLimit = BLOCK_MAX;
      this.stepping = false;
    }
  }

  /**
   * SMP (set by the worker): PAUSE ends the run slice, so a CPU spinning on a lock or on another
   * CPU's answer gives way at once, as pause-loop exiting does under KVM. It leaves through the
   * HLT exit: `halted` and `pauseHalt` set; the worker clears both and runs another CPU.
   */
  yieldOnPause = false;
  /** The CPU is `halted` only because PAUSE yielded (cleared when an event is delivered). */
  pauseHalt = false;

  /** PAUSE (F3 90): a spin-wait hint; yields the slice under SMP (see yieldOnPause). */
  pause(): void {
    if (!this.yieldOnPause) return;
    this.halted = true;
    this.pauseHalt = true;
  }

  /** Whether an interrupt or NMI would end HLT now. */
  canWake(): boolean {
    if (!this.nmiPending && this.intc.takeNmi()) this.nmiPending = true;
    if (this.nmiPending && !this.nmiBlocked) return true;
    return (this.eflags & FLAG_IF) !== 0 && this.intc.hasInterrupt();
  }

  /** Delivers a pending NMI or interrupt; true when one was delivered. */
  private pollEvents(): boolean {
    if (!this.nmiPending && this.intc.takeNmi()) this.nmiPending = true;
    if (this.nmiPending && !this.nmiBlocked) {
      this.nmiPending = false;
      this.nmiBlocked = true;
      this.halted = false;
      this.pauseHalt = false;
      this.interrupt(2, this.eip, -1, IntKind.External);
      this.eip = this.nextEip;
      return true;
    }
    if ((this.eflags & FLAG_IF) !== 0 && this.intc.hasInterrupt()) {
      const vec = this.intc.acknowledge() & 0xff;
      this.halted = false;
      this.pauseHalt = false;
      this.interrupt(vec, this.eip, -1, IntKind.External);
      this.eip = this.nextEip;
      return true;
    }
    return false;
  }

  /** Delivers the fault in `this.fault`, escalating to #DF; false on a triple fault. */
  private deliverFault(): boolean {
    const f = this.fault;
    let vec = f.vector;
    let code = f.hasCode ? f.errorCode : -1;
    for (let tries = 0; tries < 3; tries++) {
      try {
        if ((this.cr0 & CR0_PE) === 0) code = -1;
        this.interrupt(vec, this.eip, code, IntKind.Exception);
        this.eip = this.nextEip;
        this.halted = false;
        return true;
      } catch (e) {
        if (e !== f) throw e;
        if (vec === 8) return false;
        const first = faultClass(vec), second = faultClass(f.vector);
        if ((first === FaultClass.Contributory && second === FaultClass.Contributory) ||
            (first === FaultClass.PageFault && second !== FaultClass.Benign)) {
          vec = 8; code = 0;
        } else {
          vec = f.vector; code = f.hasCode ? f.errorCode : -1;
        }
      }
    }
    return false;
  }

  /** IRET ends NMI blocking. */
  override iret(sz: number): void {
    super.iret(sz);
    this.nmiBlocked = false;
  }

  // ---- block cache ----

  private lookupBlock(): number {
    const lin = (this.segBase[CS]! + this.eip) | 0;
    let e = this.tlbR[lin >>> 12]!;
    if (e === -1) {
      this.xlate(lin, false, this.userMode);
      e = this.tlbR[lin >>> 12]!;
      if (e === -1) return this.decodeBlock(lin, -1, -1);
    }
    const off = e ^ lin;
    const mode = this.code32 ? 1 : 0;
    // Two-way: a block lives at its slot or the neighbour (the previous holder moves there).
    const h = Math.imul(off + mode, 0x9e3779b1) >>> (32 - HASH_BITS);
    const b = this.hash[h]!;
    if (b >= 0 && this.blockFits(b, off, mode)) return b;
    const b2 = this.hash[h ^ 1]!;
    if (b2 >= 0 && this.blockFits(b2, off, mode)) return b2;
    return this.decodeBlock(lin, off, h);
  }

  /** Whether cached block `b` is the code at buffer offset `off` in `mode`, still valid here. */
  private blockFits(b: number, off: number, mode: number): boolean {
    return this.blkKey[b] === off && this.blkMode[b] === mode &&
      this.pageGen[off >>> 12] === this.blkGen[b] &&
      (this.eip >>> 0) + this.blkBytes[b]! - 1 <= (this.segLimit[CS]! >>> 0) &&
      (this.blkPage2[b]! < 0 || this.page2Valid(b));
  }

  /** Compiles the code page of block `b` (jit-policy.ts). */
  private compile(b: number): void {
    compilePage(this, this.blockTable, this.nBlocks, b);
  }

  private page2Valid(b: number): boolean {
    const vpn = this.blkVpn2[b]!;
    const e = this.tlbR[vpn]!;
    if (e === -1) return false;
    const page = (e ^ (vpn << 12)) >>> 12;
    return page === this.blkPage2[b] && this.pageGen[page] === this.blkGen2[b];
  }

  /** Drops every decoded block. */
  flushBlocks(): void {
    this.cacheFlushes++;
    this.epoch++;
    this.hash.fill(-1);
    this.nBlocks = 0;
    this.insTop = 0;
    // Shared with other CPUs (SMP), the marks may cover their blocks: left set, a stale mark
    // only costs one slow write (which clears it).
    if (this.codePeers === null) this.codeMask.fill(0);
  }

  private decodeBlock(lin: number, off: number, h: number): number {
    if (this.nBlocks >= MAX_BLOCKS || this.insTop + BLOCK_MAX * REC > this.ins.length) this.flushBlocks();
    const b = this.nBlocks;
    const start = this.insTop;
    this.blocksDecoded++;
    this.blkFn[b] = null;
    this.blkHits[b] = 0;
    this.decPageLin = lin & ~0xfff;
    this.decPageOff = off < 0 ? -1 : off - (lin & 0xfff);
    this.decFirst = true;
    this.decPage2 = -1;
    this.decCsBase = this.segBase[CS]!;
    this.decCsLimit = this.segLimit[CS]! >>> 0;
    let eip = this.eip;
    let n = 0;
    let bytes = 0;
    const c32 = this.code32;
    while (n < BLOCK_MAX) {
      let term: boolean;
      try {
        term = decodeOne(this, this.ins, start + n * REC, this.decCsBase, eip, c32);
      } catch (e) {
        if (e === STOP_DECODE) break;
        throw e;
      }
      const len = this.ins[start + n * REC + 5]!;
      n++;
      bytes += len;
      eip = c32 ? (eip + len) | 0 : (eip + len) & 0xffff;
      this.decFirst = false;
      if (term) break;
      if ((((this.decCsBase + eip) | 0) & ~0xfff) !== this.decPageLin) break;
    }
    if (off < 0) return this.oneShot(b, start, n, bytes);
    this.blkKey[b] = off;
    this.blkNextEpoch[2 * b] = this.epoch - 1;
    this.blkNextEpoch[2 * b + 1] = this.epoch - 1;
    this.blkMode[b] = c32 ? 1 : 0;
    this.blkStart[b] = start;
    this.blkCount[b] = n;
    this.blkBytes[b] = bytes;
    this.blkGen[b] = this.pageGen[off >>> 12]!;
    this.blkPage2[b] = this.decPage2;
    this.blkVpn2[b] = this.decVpn2;
    this.blkGen2[b] = this.decPage2 >= 0 ? this.pageGen[this.decPage2]! : 0;
    const inPage1 = Math.min(bytes, 0x1000 - (off & 0xfff));
    this.markCode(off, inPage1);
    if (this.decPage2 >= 0) this.markCode(this.decPage2 << 12, bytes - inPage1);
    const old = this.hash[h]!;
    if (old >= 0 && this.blkKey[old] !== off) this.hash[h ^ 1] = old;
    this.hash[h] = b;
    this.nBlocks++;
    this.insTop += n * REC;
    return b;
  }

  /** A block decoded from MMIO: run once, never cached. */
  private oneShot(b: number, start: number, n: number, bytes: number): number {
    this.blkStart[b] = start;
    this.blkCount[b] = n;
    this.blkBytes[b] = bytes;
    this.blkKey[b] = -1;
    return b;
  }

  /** ByteSource for the decoder: instruction bytes with CS-limit and page checks. */
  fetch(lin: number): number {
    const offInSeg = (lin - this.decCsBase) >>> 0;
    if (offInSeg > this.decCsLimit) {
      if (!this.decFirst) throw STOP_DECODE;
      this.gp(0);
    }
    if ((lin & ~0xfff) === this.decPageLin) {
      if (this.decPageOff < 0) return this.readSlow(lin, 1, this.userMode);
      return this.u8[this.decPageOff + (lin & 0xfff)]!;
    }
    if (!this.decFirst) throw STOP_DECODE;
    // The first instruction straddles into the next page.
    const vpn = lin >>> 12;
    let e = this.tlbR[vpn]!;
    if (e === -1) { this.xlate(lin, false, this.userMode); e = this.tlbR[vpn]!; }
    if (e === -1) return this.readSlow(lin, 1, this.userMode);
    const o = e ^ lin;
    this.decPage2 = o >>> 12;
    this.decVpn2 = vpn;
    return this.u8[o]!;
  }

  /** Decoded code in guest-physical page `pfn` was overwritten by a device (DMA). */
  override invalidatePhysPage(pfn: number): void {
    super.invalidatePhysPage(pfn);
  }

  // ---- x87 / SSE seams ----

  private fillOperand(p: number): UnitOperand {
    const m = this.ins[p + R_M]!;
    const d = this.dOp;
    d.modrm = m >>> 24;
    d.reg = (m >> 3) & 7;
    d.rm = m & 7;
    // Unsigned, so a kernel address above 2 GiB is not mistaken for the register form (-1).
    d.ea = (m & M_MEM) !== 0 ? (this.segBase[(m >> 20) & 7]! + this.ea(m, this.ins[p + R_DISP]!)) >>> 0 : -1;
    d.imm = this.ins[p + R_IMM]!;
    this.curPfx = this.ins[p + R_PFX]!;
    return d;
  }

  execFpu(op: number, p: number): void {
    if ((this.cr0 & (CR0_EM | CR0_TS)) !== 0) this.raise(7);
    // No coprocessor and EM=0: an ESC instruction reads a floating bus and stores nothing (a
    // 386 without a 387). Linux's and the decompressor's FNINIT/FNSTSW probe rely on it.
    if (this.fpu === null) return;
    this.fpu.exec(op, this.fillOperand(p));
  }

  execSse(b: number, p: number): void {
    if (this.sse === null) this.ud();
    if (b !== 0xae) {
      if ((this.cr0 & CR0_EM) !== 0) this.ud();
      if ((this.cr0 & CR0_TS) !== 0) this.raise(7);
    }
    if (!this.sse.exec0F(b, this.ins[p + R_SSEPFX]!, this.fillOperand(p))) this.ud();
  }

  // FpuHost
  read8(lin: number): number { return this.lrd8(lin); }
  read16(lin: number): number { return this.lrd16(lin); }
  read32(lin: number): number { return this.lrd32(lin); }
  write8(lin: number, v: number): void { this.lwr8(lin, v); }
  write16(lin: number, v: number): void { this.lwr16(lin, v); }
  write32(lin: number, v: number): void { this.lwr32(lin, v); }
  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void {
    this.setArith((zf ? 0x40 : 0) | (pf ? 4 : 0) | (cf ? 1 : 0));
  }
  get instrCs(): number { return this.segSel[CS]!; }
  get instrEip(): number { return this.eip; }
  get opsize16(): boolean { return (this.curPfx & P_O32) === 0; }
  get realMode(): boolean { return (this.cr0 & CR0_PE) === 0 || (this.eflags & FLAG_VM) !== 0; }

  // ---- state ----

  override cr3Changed(): void { this.flushTlb(true); }

  override modeChanged(): void {
    this.refreshSegFast();
  }

  getState(): CpuState { return saveCpuState(this); }

  setState(s: CpuState): void {
    loadCpuState(this, s);
    this.halted = false;
    this.shadow = false;
    this.flushTlb(false);
    this.flushBlocks();
  }
}
