// Hardware task switching and the TSS (SDM vol. 3, ch. 7): saving and loading task state, the
// busy bits and back link, inner-ring stack pointers for privilege changes, and the I/O
// permission bitmap.

import { Segmentation, descAttr, descBase, descLimit } from './segmentation.js';
import {
  ATTR_P, ATTR_S, ATTR_UNUSABLE, CR0_PG, CR0_TS, CS, DS, ES, FLAG_IOPL, FLAG_NT, FLAG_VM, FS, GS, LDTR, SS, SYS_LDT, TR, TYPE_CODE, TYPE_CONFORMING, TYPE_READABLE, TYPE_WRITABLE, CR0_PE,
} from './defs.js';

/** Why a task switch happens (it decides the busy bits, NT and the back link). */
export const enum TaskReason { Jmp = 0, Call = 1, Iret = 2 }

/** The task layer of SoftCpu. */
export class Tasks extends Segmentation {
  /** Called when CR3 changes (TLB flush); the CPU layer overrides it. */
  cr3Changed(): void { this.flushTlb(true); }

  /** Updates CPL-dependent state after the caches changed (overridden above). */
  modeChanged(): void { this.refreshSegFast(); }

  /** The TSS's stack for ring `dpl`: sets `tssSs`/`tssSp` or raises #TS. */
  tssSs = 0;
  tssSp = 0;
  readTssStack(dpl: number): void {
    const attr = this.segAttr[TR]!;
    const base = this.segBase[TR]!;
    const limit = this.segLimit[TR]! >>> 0;
    const trSel = this.segSel[TR]! & ~3;
    if ((attr & 8) !== 0) {
      const off = 4 + dpl * 8;
      if (off + 5 > limit) this.raise(10, trSel);
      this.tssSp = this.srd32((base + off) | 0);
      this.tssSs = this.srd16((base + off + 4) | 0);
    } else {
      const off = 2 + dpl * 4;
      if (off + 3 > limit) this.raise(10, trSel);
      this.tssSp = this.srd16((base + off) | 0);
      this.tssSs = this.srd16((base + off + 2) | 0);
    }
  }

  /** IN/OUT/INS/OUTS permission: #GP(0) unless CPL ≤ IOPL or the TSS bitmap allows it. */
  checkIo(port: number, size: number): void {
    if ((this.cr0 & CR0_PE) === 0) return;
    const iopl = (this.eflags & FLAG_IOPL) >> 12;
    if ((this.eflags & FLAG_VM) === 0 && this.cpl <= iopl) return;
    const attr = this.segAttr[TR]!;
    const limit = this.segLimit[TR]! >>> 0;
    if ((attr & 0xf) !== 11 || limit < 103) this.gp(0);
    const base = this.segBase[TR]!;
    const map = this.srd16((base + 102) | 0);
    const off = map + (port >>> 3);
    if (off + 1 > limit) this.gp(0);
    const bits = this.srd16((base + off) | 0);
    const mask = ((1 << size) - 1) << (port & 7);
    if ((bits & mask) !== 0) this.gp(0);
  }

  /** Flips the busy bit of the TSS descriptor `sel` in the GDT. */
  private setBusy(sel: number, busy: boolean): void {
    const a = (this.gdtBase + (sel & ~7) + 5) | 0;
    const b = this.srd8(a);
    this.swr8(a, busy ? b | 2 : b & ~2);
  }

  /**
   * Switches to the task whose TSS selector is `sel` (SDM vol. 3, 7.3). `retEip` is saved as the
   * old task's EIP. Faults after the commit point are delivered in the new task.
   */
  taskSwitch(sel: number, reason: TaskReason, retEip: number): void {
    sel &= 0xffff;
    const idx = sel & ~3;
    if ((sel & 4) !== 0) this.raise(reason === TaskReason.Iret ? 10 : 13, idx);
    if (!this.readDescriptor(sel)) this.raise(reason === TaskReason.Iret ? 10 : 13, idx);
    const lo = this.descLo, hi = this.descHi;
    const attr = descAttr(hi);
    const type = attr & 0x1f;
    if (reason === TaskReason.Iret) {
      if (type !== 3 && type !== 11) this.raise(10, idx);
    } else if (type !== 1 && type !== 9) {
      this.gp(idx);
    }
    if ((attr & ATTR_P) === 0) this.raise(11, idx);
    const nbase = descBase(lo, hi);
    const nlimit = descLimit(lo, hi) >>> 0;
    const n32 = (type & 8) !== 0;
    if (nlimit < (n32 ? 0x67 : 0x2b)) this.raise(10, idx);

    // Read the new task's state before changing anything.
    const rd = (o: number): number => (n32 ? this.srd32((nbase + o) | 0) : this.srd16((nbase + o) | 0));
    const newRegs = new Int32Array(8);
    let neip: number, nflags: number, ncr3 = this.cr3, nldt: number;
    const nsel = new Int32Array(6);
    if (n32) {
      ncr3 = this.srd32((nbase + 28) | 0);
      neip = this.srd32((nbase + 32) | 0);
      nflags = this.srd32((nbase + 36) | 0);
      for (let r = 0; r < 8; r++) newRegs[r] = this.srd32((nbase + 40 + r * 4) | 0);
      for (let s = 0; s < 6; s++) nsel[s] = this.srd16((nbase + 72 + s * 4) | 0);
      nldt = this.srd16((nbase + 96) | 0);
    } else {
      neip = rd(14);
      nflags = rd(16) | (this.getEflags() & 0xffff0000 & ~FLAG_VM);
      for (let r = 0; r < 8; r++) newRegs[r] = (this.regs[r]! & ~0xffff) | rd(18 + r * 2);
      for (let s = 0; s < 4; s++) nsel[s] = rd(34 + s * 2);
      nsel[FS] = 0; nsel[GS] = 0;
      nldt = rd(42);
    }

    // Save the old task.
    const obase = this.segBase[TR]!;
    const o32 = (this.segAttr[TR]! & 8) !== 0;
    let oflags = this.getEflags();
    if (reason === TaskReason.Iret) oflags &= ~FLAG_NT;
    if (o32) {
      this.swr32((obase + 32) | 0, retEip);
      this.swr32((obase + 36) | 0, oflags);
      for (let r = 0; r < 8; r++) this.swr32((obase + 40 + r * 4) | 0, this.regs[r]!);
      for (let s = 0; s < 6; s++) this.swr16((obase + 72 + s * 4) | 0, this.segSel[s]!);
    } else {
      this.swr16((obase + 14) | 0, retEip);
      this.swr16((obase + 16) | 0, oflags);
      for (let r = 0; r < 8; r++) this.swr16((obase + 18 + r * 2) | 0, this.regs[r]!);
      for (let s = 0; s < 4; s++) this.swr16((obase + 34 + s * 2) | 0, this.segSel[s]!);
    }
    const oldTr = this.segSel[TR]!;
    if (reason === TaskReason.Jmp || reason === TaskReason.Iret) this.setBusy(oldTr, false);
    if (reason === TaskReason.Call) {
      if (n32) this.swr16(nbase, oldTr); else this.swr16(nbase, oldTr);
      nflags |= FLAG_NT;
    }
    if (reason !== TaskReason.Iret) this.setBusy(sel, true);

    // Commit: the rest happens in the new task.
    this.setSegCache(TR, sel, nbase, nlimit, (attr | 2) & 0xf0ff);
    this.cr0 |= CR0_TS;
    if (n32 && (this.cr0 & CR0_PG) !== 0 && ncr3 !== this.cr3) { this.cr3 = ncr3; this.cr3Changed(); }
    else if (n32) this.cr3 = ncr3;
    for (let r = 0; r < 8; r++) this.regs[r] = newRegs[r]!;
    this.nextEip = n32 ? neip : neip & 0xffff;
    this.eflags = (nflags & ~0x8d5) | 2;
    this.setArith(nflags);
    // Selectors first (so a fault shows them), caches after the checks.
    for (let s = 0; s < 6; s++) this.segSel[s] = nsel[s]!;
    this.segSel[LDTR] = nldt;
    if ((nflags & FLAG_VM) !== 0) {
      this.setCpl(3);
      for (let s = 0; s < 6; s++) this.loadSegReal(s, nsel[s]!);
      this.loadLdtTask(nldt);
      this.modeChanged();
      return;
    }
    this.loadLdtTask(nldt);
    this.setCpl(nsel[CS]! & 3);
    this.modeChanged();
    this.loadSegTask(SS, nsel[SS]!);
    this.loadSegTask(CS, nsel[CS]!);
    for (const s of [ES, DS, FS, GS]) this.loadSegTask(s, nsel[s]!);
  }

  private loadLdtTask(sel: number): void {
    if ((sel & ~3) === 0) { this.setSegCache(LDTR, sel, 0, 0, ATTR_UNUSABLE); return; }
    if ((sel & 4) !== 0 || !this.readDescriptor(sel)) this.raise(10, sel & ~3);
    const attr = descAttr(this.descHi);
    if ((attr & ATTR_S) !== 0 || (attr & 0xf) !== SYS_LDT) this.raise(10, sel & ~3);
    if ((attr & ATTR_P) === 0) this.raise(10, sel & ~3);
    this.setSegCache(LDTR, sel, descBase(this.descLo, this.descHi), descLimit(this.descLo, this.descHi), attr);
  }

  /** Segment loads of a task switch: like MOV, but errors are #TS (SDM vol. 3, 7.3 step 13). */
  private loadSegTask(s: number, sel: number): void {
    const idx = sel & ~3;
    if (idx === 0) {
      if (s === CS || s === SS) this.raise(10, 0);
      this.setSegCache(s, sel, 0, 0, ATTR_UNUSABLE);
      return;
    }
    if (!this.readDescriptor(sel)) this.raise(10, idx);
    const attr = descAttr(this.descHi);
    const type = attr & 0xf;
    const dpl = (attr >> 5) & 3;
    const rpl = sel & 3;
    if ((attr & ATTR_S) === 0) this.raise(10, idx);
    if (s === CS) {
      if ((type & TYPE_CODE) === 0) this.raise(10, idx);
      if ((type & TYPE_CONFORMING) !== 0 ? dpl > rpl : dpl !== rpl) this.raise(10, idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
    } else if (s === SS) {
      if ((type & TYPE_CODE) !== 0 || (type & TYPE_WRITABLE) === 0 || dpl !== this.cpl || rpl !== this.cpl) this.raise(10, idx);
      if ((attr & ATTR_P) === 0) this.raise(12, idx);
    } else {
      if ((type & (TYPE_CODE | TYPE_READABLE)) === TYPE_CODE) this.raise(10, idx);
      const conf = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
      if (!conf && (rpl > dpl || this.cpl > dpl)) this.raise(10, idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
    }
    this.setAccessed(sel);
    this.setSegCache(s, sel, descBase(this.descLo, this.descHi), descLimit(this.descLo, this.descHi), descAttr(this.descHi));
  }
}
