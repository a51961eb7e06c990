// System instructions of the soft x86 core (SDM vol. 2 and vol. 3 ch. 2, 5, 9, 10, 11): control
// and debug registers, MSRs (the ones Linux and SeaBIOS touch), CPUID, SYSENTER/SYSEXIT,
// descriptor-table registers, EFLAGS rules of POPF/CLI/STI, and the bigger groups (F6/F7, FF,
// ENTER).

import { Alu, maskOf } from './alu.js';
import { M_MEM, OP_32, R_DISP, R_IMM, R_M } from './decoder.js';
import { descAttr, descBase, descLimit } from './segmentation.js';
import {
  ATTR_DB, ATTR_G, ATTR_P, ATTR_S, ATTR_UNUSABLE, CR0_CD, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR0_WP, CR4_DE, CR4_PAE, CR4_PGE, CR4_PSE, CR4_VALID, CS, EBP, ECX, EDX, ESP, FLAG_AC, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_VM, FLAG_ZF, LDTR, SS, SYS_LDT, TR, FLAG_TF, FLAG_DF, MSR_IA32_APIC_BASE, MSR_IA32_BIOS_SIGN_ID, MSR_IA32_EBL_CR_POWERON, MSR_IA32_MCG_CAP, MSR_IA32_MCG_STATUS, MSR_IA32_MISC_ENABLE, MSR_IA32_MTRRCAP, MSR_IA32_PAT, MSR_IA32_PERFCTR0, MSR_IA32_PERFCTR1, MSR_IA32_PERFEVTSEL0, MSR_IA32_PERFEVTSEL1, MSR_IA32_PLATFORM_ID, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_IA32_TSC, MSR_MTRR_DEF_TYPE, MSR_MTRR_FIX16K_80000, MSR_MTRR_FIX16K_A0000, MSR_MTRR_FIX4K_C0000, MSR_MTRR_FIX4K_F8000, MSR_MTRR_FIX64K, MSR_MTRR_PHYSBASE0,
} from './defs.js';
import { IntKind } from './transfer.js';

/** TSC frequency the guest sees (Hz); RDTSC is derived from the injected clock. */
export const TSC_HZ = 1_000_000_000;
/** Variable-range MTRR pairs (MTRRcap.VCNT). */
const MTRR_VAR = 8;

/** CPUID feature bits (leaf 1 EDX). */
export const CPUID_FPU = 1 << 0, CPUID_DE = 1 << 2, CPUID_PSE = 1 << 3, CPUID_TSC = 1 << 4,
  CPUID_MSR = 1 << 5, CPUID_CX8 = 1 << 8, CPUID_APIC = 1 << 9, CPUID_SEP = 1 << 11, CPUID_MTRR = 1 << 12,
  CPUID_PGE = 1 << 13, CPUID_CMOV = 1 << 15, CPUID_PAT = 1 << 16, CPUID_MMX = 1 << 23, CPUID_FXSR = 1 << 24,
  CPUID_SSE = 1 << 25, CPUID_SSE2 = 1 << 26;
/** What the integer core itself implements. */
export const CPUID_CORE = CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8 | CPUID_APIC | CPUID_SEP |
  CPUID_MTRR | CPUID_PGE | CPUID_CMOV | CPUID_PAT;
/** Family 6, model 8, stepping 3 (a P6 core). */
export const CPUID_SIGNATURE = 0x683;

/** The system-instruction layer of SoftCpu. */
export class System extends Alu {
  clock: () => number = () => 0;
  /** Leaf 1 EDX as currently advertised (core bits plus the attached units'). */
  cpuidEdx = CPUID_CORE;
  apicId = 0;
  tscOffset = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  apicBase = 0xfee00900;
  /** Told of IA32_APIC_BASE writes, so the platform's LAPIC follows (relocation, disable). */
  onApicBaseWrite: ((value: number) => void) | null = null;
  pat = [0x00070406, 0x00070406];
  miscEnable = 1;
  mtrrDefType = 0;
  readonly mtrrVar = new Int32Array(MTRR_VAR * 4);
  readonly mtrrFixed = new Int32Array(22);
  readonly perf = new Int32Array(4);
  /** Interrupt shadow after MOV SS, POP SS, STI. */
  shadow = false;
  halted = false;
  /** Scratch for POPA. */
  readonly scratch8 = new Int32Array(8);
  readonly cpuidOut = new Int32Array(4);

  // ---- helpers for the executor ----

  setZF(z: number): void {
    this.setArith((this.getArith() & ~FLAG_ZF) | (z !== 0 ? FLAG_ZF : 0));
  }

  checkCsLimit(t: number): void {
    if ((t >>> 0) > (this.segLimit[CS]! >>> 0)) this.gp(0);
  }

  /** Near jump to `t`, truncated to 16 bits unless `op` has 32-bit operand size. */
  jumpNear(t: number, op: number): void {
    if ((op & OP_32) === 0) t &= 0xffff;
    this.checkCsLimit(t);
    this.nextEip = t;
  }

  /** A supervisor-only instruction at CPL > 0 raises #GP(0). */
  requireCpl0(): void {
    if (this.cpl !== 0) this.gp(0);
  }

  /** Real and virtual-8086 mode make the protected-mode-only instructions #UD. */
  requireProtected(): void {
    if (!this.protectedMode) this.ud();
  }

  // ---- EFLAGS ----

  popf(sz: number): void {
    const v = this.peekSz(0, sz);
    const iopl = (this.eflags & FLAG_IOPL) >> 12;
    let mask = 0x8d5 | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID;
    if ((this.eflags & FLAG_VM) !== 0) {
      if (iopl !== 3) this.gp(0);
      mask |= FLAG_IF;
    } else {
      if (this.cpl === 0) mask |= FLAG_IOPL;
      if (this.cpl <= iopl) mask |= FLAG_IF;
    }
    if (sz === 2) mask &= 0xffff;
    this.addSp(sz);
    this.writeEflags(v, mask);
    this.eflags &= ~FLAG_RF;
  }

  cli(): void {
    if (this.protectedMode ? this.cpl > ((this.eflags & FLAG_IOPL) >> 12) : (this.eflags & FLAG_VM) !== 0 && (this.eflags & FLAG_IOPL) !== FLAG_IOPL) this.gp(0);
    this.eflags &= ~FLAG_IF;
  }

  sti(): void {
    if (this.protectedMode ? this.cpl > ((this.eflags & FLAG_IOPL) >> 12) : (this.eflags & FLAG_VM) !== 0 && (this.eflags & FLAG_IOPL) !== FLAG_IOPL) this.gp(0);
    if ((this.eflags & FLAG_IF) === 0) this.shadow = true;
    this.eflags |= FLAG_IF;
  }

  // ---- groups ----

  /** F6/F7: TEST NOT NEG MUL IMUL DIV IDIV. */
  group3(size: number, p: number): void {
    const m = this.ins[p + R_M]!;
    const reg = (m >> 3) & 7;
    const mask = maskOf(size);
    switch (reg) {
      case 0: case 1: this.alu(4, this.readRm(p, size), this.ins[p + R_IMM]!, mask); return;
      case 2: this.rmw(p, size, 0, mask); return;
      case 3: this.rmw(p, size, 1, mask); return;
      case 4: this.mul(this.readRm(p, size) & mask, size); return;
      case 5: this.imul1(this.readRm(p, size), size); return;
      case 6: this.div(this.readRm(p, size) & mask, size); return;
      default: this.idiv(this.readRm(p, size), size); return;
    }
  }

  /** Read-modify-write of the r/m operand: NOT (0), NEG (1), INC (2), DEC (3). */
  private rmw(p: number, size: number, kind: number, mask: number): void {
    const m = this.ins[p + R_M]!;
    if ((m & M_MEM) === 0) { this.setReg(m & 7, size, this.unop(kind, this.getReg(m & 7, size), mask)); return; }
    const s = (m >> 20) & 7, o = this.ea(m, this.ins[p + R_DISP]!);
    this.wrSz(s, o, size, this.unop(kind, this.rmwSz(s, o, size), mask));
  }

  private unop(kind: number, v: number, mask: number): number {
    switch (kind) {
      case 0: return ~v;
      case 1: return this.neg(v, mask);
      case 2: return this.inc(v, mask);
      default: return this.dec(v, mask);
    }
  }

  /** FF: INC DEC CALL CALLF JMP JMPF PUSH. */
  group5(sz: number, p: number): void {
    const m = this.ins[p + R_M]!;
    const reg = (m >> 3) & 7;
    const mask = maskOf(sz);
    switch (reg) {
      case 0: this.rmw(p, sz, 2, mask); return;
      case 1: this.rmw(p, sz, 3, mask); return;
      case 2: {
        const t = sz === 4 ? this.readRm(p, 4) : this.readRm(p, 2);
        this.checkCsLimit(t);
        this.pushSz(this.nextEip, sz);
        this.nextEip = t;
        return;
      }
      case 4: {
        const t = sz === 4 ? this.readRm(p, 4) : this.readRm(p, 2);
        this.checkCsLimit(t);
        this.nextEip = t;
        return;
      }
      case 3: case 5: {
        const s = (m >> 20) & 7, o = this.ea(m, this.ins[p + R_DISP]!);
        const off = this.rdSz(s, o, sz);
        const sel = this.rd16(s, (o + sz) | 0);
        if (reg === 3) this.farCall(sel, off, sz); else this.farJmp(sel, off, sz);
        return;
      }
      default: this.pushSz(this.readRm(p, sz), sz); return;
    }
  }

  /** ENTER size, level (SDM vol. 2, ENTER). */
  enter(size: number, level: number, sz: number): void {
    const regs = this.regs;
    const w = this.ss32;
    const wrap = (v: number): number => (w ? v | 0 : v & 0xffff);
    let sp = wrap(regs[ESP]!);
    let bp = wrap(regs[EBP]!);
    sp = wrap(sp - sz);
    this.wrSz(SS, sp, sz, regs[EBP]!);
    const frame = sp;
    if (level > 0) {
      for (let i = 1; i < level; i++) {
        bp = wrap(bp - sz);
        const v = this.rdSz(SS, bp, sz);
        sp = wrap(sp - sz);
        this.wrSz(SS, sp, sz, v);
      }
      sp = wrap(sp - sz);
      this.wrSz(SS, sp, sz, frame);
    }
    sp = wrap(sp - size);
    if (w) regs[ESP] = sp; else this.setReg16(ESP, sp);
    this.setReg(EBP, sz, frame);
  }

  // ---- control and debug registers ----

  readCr(n: number): number {
    switch (n) {
      case 0: return this.cr0;
      case 2: return this.cr2;
      case 3: return this.cr3;
      default: return this.cr4;
    }
  }

  writeCr(n: number, v: number): void {
    switch (n) {
      case 0: {
        if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) this.gp(0);
        if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) this.gp(0);
        const old = this.cr0;
        v = (v & (0xe005003f | 0)) | CR0_ET;
        this.cr0 = v;
        if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) this.flushTlb(false);
        if (((old ^ v) & CR0_PE) !== 0) this.modeChanged();
        return;
      }
      case 2: this.cr2 = v; return;
      case 3: this.cr3 = v; this.cr3Changed(); return;
      default: {
        if ((v & ~CR4_VALID) !== 0 || (v & CR4_PAE) !== 0) this.gp(0);
        const old = this.cr4;
        this.cr4 = v;
        if (((old ^ v) & (CR4_PSE | CR4_PGE | CR4_PAE)) !== 0) this.flushTlb(false);
      }
    }
  }

  readDr(n: number): number {
    if ((n === 4 || n === 5) && (this.cr4 & CR4_DE) !== 0) this.ud();
    if (n === 4) n = 6; else if (n === 5) n = 7;
    if (n === 6) return this.dr[6]! | 0xffff0ff0;
    if (n === 7) return this.dr[7]! | 0x400;
    return this.dr[n]!;
  }

  writeDr(n: number, v: number): void {
    if ((n === 4 || n === 5) && (this.cr4 & CR4_DE) !== 0) this.ud();
    if (n === 4) n = 6; else if (n === 5) n = 7;
    this.dr[n] = v;
  }

  // ---- MSRs ----

  tsc(): number {
    return Math.floor(this.clock() * (TSC_HZ / 1000)) + this.tscOffset;
  }

  /** RDMSR: returns the low word, the high word in `hi`; #GP(0) for unknown MSRs. */
  rdmsr(idx: number): number {
    this.hi = 0;
    switch (idx) {
      case MSR_IA32_TSC: { const t = this.tsc(); this.hi = Math.floor(t / 4294967296) | 0; return t | 0; }
      case MSR_IA32_APIC_BASE: return this.apicBase;
      case MSR_IA32_SYSENTER_CS: return this.sysenterCs;
      case MSR_IA32_SYSENTER_ESP: return this.sysenterEsp;
      case MSR_IA32_SYSENTER_EIP: return this.sysenterEip;
      case MSR_IA32_PAT: this.hi = this.pat[1]!; return this.pat[0]!;
      case MSR_IA32_MISC_ENABLE: return this.miscEnable;
      case MSR_IA32_MTRRCAP: return MTRR_VAR | 0x100 | 0x400;
      case MSR_MTRR_DEF_TYPE: return this.mtrrDefType;
      case MSR_IA32_BIOS_SIGN_ID: case MSR_IA32_PLATFORM_ID: case MSR_IA32_EBL_CR_POWERON: return 0;
      case MSR_IA32_MCG_CAP: case MSR_IA32_MCG_STATUS: return 0;
      case MSR_IA32_PERFEVTSEL0: return this.perf[0]!;
      case MSR_IA32_PERFEVTSEL1: return this.perf[1]!;
      case MSR_IA32_PERFCTR0: return this.perf[2]!;
      case MSR_IA32_PERFCTR1: return this.perf[3]!;
      default: {
        const f = fixedMtrrIndex(idx);
        if (f >= 0) { this.hi = this.mtrrFixed[f * 2 + 1]!; return this.mtrrFixed[f * 2]!; }
        if (idx >= MSR_MTRR_PHYSBASE0 && idx < MSR_MTRR_PHYSBASE0 + MTRR_VAR * 2) {
          const i = (idx - MSR_MTRR_PHYSBASE0) * 2;
          this.hi = this.mtrrVar[i + 1]!;
          return this.mtrrVar[i]!;
        }
        return this.gp(0);
      }
    }
  }

  wrmsr(idx: number, lo: number, hi: number): void {
    switch (idx) {
      case MSR_IA32_TSC: this.tscOffset = (hi >>> 0) * 4294967296 + (lo >>> 0) - Math.floor(this.clock() * (TSC_HZ / 1000)); return;
      case MSR_IA32_APIC_BASE: this.apicBase = (lo & 0xfffff900) | 0; this.onApicBaseWrite?.(this.apicBase >>> 0); return;
      case MSR_IA32_SYSENTER_CS: this.sysenterCs = lo & 0xffff; return;
      case MSR_IA32_SYSENTER_ESP: this.sysenterEsp = lo; return;
      case MSR_IA32_SYSENTER_EIP: this.sysenterEip = lo; return;
      case MSR_IA32_PAT: this.pat[0] = lo; this.pat[1] = hi; return;
      case MSR_IA32_MISC_ENABLE: this.miscEnable = lo; return;
      case MSR_MTRR_DEF_TYPE: this.mtrrDefType = lo & 0xcff; return;
      case MSR_IA32_BIOS_SIGN_ID: case MSR_IA32_MCG_STATUS: return;
      case MSR_IA32_PERFEVTSEL0: this.perf[0] = lo; return;
      case MSR_IA32_PERFEVTSEL1: this.perf[1] = lo; return;
      case MSR_IA32_PERFCTR0: this.perf[2] = lo; return;
      case MSR_IA32_PERFCTR1: this.perf[3] = lo; return;
      default: {
        const f = fixedMtrrIndex(idx);
        if (f >= 0) { this.mtrrFixed[f * 2] = lo; this.mtrrFixed[f * 2 + 1] = hi; return; }
        if (idx >= MSR_MTRR_PHYSBASE0 && idx < MSR_MTRR_PHYSBASE0 + MTRR_VAR * 2) {
          const i = (idx - MSR_MTRR_PHYSBASE0) * 2;
          this.mtrrVar[i] = lo; this.mtrrVar[i + 1] = hi & 0xf;
          return;
        }
        this.gp(0);
      }
    }
  }

  // ---- CPUID ----

  /** Fills cpuidOut (EAX EBX ECX EDX) for `leaf`. */
  cpuidLeaf(leaf: number): void {
    const o = this.cpuidOut;
    o.fill(0);
    const l = leaf >>> 0;
    if (l >= 0x80000000) {
      if (l === 0x80000000) { o[0] = 0x80000004 | 0; return; }
      if (l >= 0x80000002 && l <= 0x80000004) {
        const s = BRAND.padEnd(48, '\0');
        const base = (l - 0x80000002) * 16;
        for (let r = 0; r < 4; r++) {
          let v = 0;
          for (let b = 0; b < 4; b++) v |= s.charCodeAt(base + r * 4 + b) << (8 * b);
          o[r] = v;
        }
      }
      return;
    }
    switch (l > 2 ? 2 : l) {
      case 0: o[0] = 2; o[1] = 0x756e6547; o[3] = 0x49656e69; o[2] = 0x6c65746e; return;
      case 1: o[0] = CPUID_SIGNATURE; o[1] = (this.apicId << 24) | (1 << 16); o[2] = 0; o[3] = this.cpuidEdx; return;
      default: o[0] = 1; return;
    }
  }

  // ---- SYSENTER / SYSEXIT (SDM vol. 2) ----

  sysenter(): void {
    if ((this.cr0 & CR0_PE) === 0 || (this.sysenterCs & 0xfffc) === 0) this.gp(0);
    this.eflags &= ~(FLAG_VM | FLAG_IF | FLAG_RF);
    const cs = this.sysenterCs & 0xfffc;
    this.setCpl(0);
    this.setSegCache(CS, cs, 0, -1, 0xb | ATTR_S | ATTR_P | ATTR_DB | ATTR_G);
    this.setSegCache(SS, cs + 8, 0, -1, 0x3 | ATTR_S | ATTR_P | ATTR_DB | ATTR_G);
    this.regs[ESP] = this.sysenterEsp;
    this.nextEip = this.sysenterEip;
    this.modeChanged();
  }

  sysexit(): void {
    if ((this.cr0 & CR0_PE) === 0 || this.cpl !== 0 || (this.sysenterCs & 0xfffc) === 0 || this.v86) this.gp(0);
    const cs = this.sysenterCs & 0xfffc;
    this.setCpl(3);
    this.setSegCache(CS, (cs + 16) | 3, 0, -1, 0xb | ATTR_S | ATTR_P | ATTR_DB | ATTR_G | (3 << 5));
    this.setSegCache(SS, (cs + 24) | 3, 0, -1, 0x3 | ATTR_S | ATTR_P | ATTR_DB | ATTR_G | (3 << 5));
    this.regs[ESP] = this.regs[ECX]!;
    this.nextEip = this.regs[EDX]!;
    this.modeChanged();
  }

  // ---- descriptor-table registers ----

  /** LLDT (SDM vol. 2). */
  lldt(sel: number): void {
    this.requireCpl0();
    if ((sel & ~3) === 0) { this.setSegCache(LDTR, sel, 0, 0, ATTR_UNUSABLE); return; }
    if ((sel & 4) !== 0 || !this.readDescriptor(sel)) this.gp(sel & ~3);
    const attr = descAttr(this.descHi);
    if ((attr & ATTR_S) !== 0 || (attr & 0xf) !== SYS_LDT) this.gp(sel & ~3);
    if ((attr & ATTR_P) === 0) this.raise(11, sel & ~3);
    this.setSegCache(LDTR, sel, descBase(this.descLo, this.descHi), descLimit(this.descLo, this.descHi), attr);
  }

  /** LTR: loads TR and marks the TSS busy. */
  ltr(sel: number): void {
    this.requireCpl0();
    if ((sel & ~3) === 0 || (sel & 4) !== 0 || !this.readDescriptor(sel)) this.gp(sel & ~3);
    const attr = descAttr(this.descHi);
    const t = attr & 0x1f;
    if (t !== 1 && t !== 9) this.gp(sel & ~3);
    if ((attr & ATTR_P) === 0) this.raise(11, sel & ~3);
    const a = (this.gdtBase + (sel & ~7) + 5) | 0;
    this.swr8(a, this.srd8(a) | 2);
    this.setSegCache(TR, sel, descBase(this.descLo, this.descHi), descLimit(this.descLo, this.descHi), attr | 2);
  }

  /** The software interrupt entry used by INT n/INT3/INTO (exposed for tests). */
  softInt(vec: number): void {
    this.interrupt(vec, this.nextEip, -1, IntKind.Software);
  }

}

const BRAND = 'hvm soft CPU (P6 family)';

function fixedMtrrIndex(idx: number): number {
  if (idx === MSR_MTRR_FIX64K) return 0;
  if (idx === MSR_MTRR_FIX16K_80000) return 1;
  if (idx === MSR_MTRR_FIX16K_A0000) return 2;
  if (idx >= MSR_MTRR_FIX4K_C0000 && idx <= MSR_MTRR_FIX4K_F8000) return 3 + idx - MSR_MTRR_FIX4K_C0000;
  return -1;
}
