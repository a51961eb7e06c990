// Far control transfers of the soft x86 core (SDM vol. 3, ch. 5.8 and 6.12; vol. 2 JMP, CALL,
// RET, IRET, INT n): interrupt and exception delivery through the IVT or IDT (interrupt, trap
// and task gates, ring changes with the TSS stack, from virtual-8086 mode), far JMP/CALL through
// code segments, call gates and tasks, far RET and IRET to the same or an outer ring or to
// virtual-8086 mode.
//
// Every routine reads and checks everything it needs, writes the new stack, and only then
// commits registers, so a fault inside leaves the CPU as it was before the instruction.

import { Tasks, TaskReason } from './tasks.js';
import { descAttr, descBase, descLimit } from './segmentation.js';
import {
  ATTR_DB, ATTR_P, ATTR_S, ATTR_UNUSABLE, CR0_PE, CS, DS, ES, ESP, FLAG_AC, FLAG_IF, FLAG_IOPL, FLAG_NT,
  FLAG_RF, FLAG_TF, FLAG_VIF, FLAG_VIP, FLAG_VM, FS, GS, SS, TR, TYPE_CODE, TYPE_CONFORMING, TYPE_WRITABLE,
  SYS_CALLGATE16, SYS_CALLGATE32, SYS_TASKGATE, SYS_TSS16_AVAIL, SYS_TSS32_AVAIL, EFLAGS_VALID,
  TYPE_READABLE,
} from './defs.js';

const DATA_SEGS = [ES, DS, FS, GS] as const;

/** How an interrupt was raised (decides the DPL check and the EXT bit). */
export const enum IntKind { Exception = 0, External = 1, Software = 2 }

/** The far-transfer layer of SoftCpu. */
export class Transfer extends Tasks {
  // ---- shared checks ----

  /** Reads and checks a code segment for a transfer; returns its attributes. */
  private codeDesc(sel: number, ext: number): number {
    const idx = sel & ~3;
    if (idx === 0) this.gp(ext);
    if (!this.readDescriptor(sel)) this.gp(idx | ext);
    const attr = descAttr(this.descHi);
    if ((attr & ATTR_S) === 0 || (attr & TYPE_CODE) === 0) this.gp(idx | ext);
    return attr;
  }

  /** Loads CS from descLo/descHi with RPL = `cpl` and sets the CPL. */
  private commitCs(sel: number, cpl: number): void {
    this.setAccessed(sel);
    this.setSegCache(CS, (sel & ~3) | cpl, descBase(this.descLo, this.descHi), descLimit(this.descLo, this.descHi),
      descAttr(this.descHi));
    if (cpl !== this.cpl) { this.setCpl(cpl); this.modeChanged(); }
  }

  /** Checks a new SS for a ring change to `dpl`; descriptor left in descLo/descHi. */
  private checkStackSeg(sel: number, dpl: number, fault: number, ext: number): void {
    const idx = sel & ~3;
    if (idx === 0) this.raise(fault, ext);
    if (!this.readDescriptor(sel)) this.raise(fault, idx | ext);
    const attr = descAttr(this.descHi);
    const type = attr & 0xf;
    if ((sel & 3) !== dpl || ((attr >> 5) & 3) !== dpl || (attr & ATTR_S) === 0 ||
        (type & TYPE_CODE) !== 0 || (type & TYPE_WRITABLE) === 0) this.raise(fault, idx | ext);
    if ((attr & ATTR_P) === 0) this.raise(12, idx | ext);
  }

  /** Checks a jump target offset against the new CS limit. */
  private checkLimit(eip: number, limit: number): void {
    if ((eip >>> 0) > (limit >>> 0)) this.gp(0);
  }

  // ---- interrupts and exceptions ----

  /**
   * Delivers vector `vec`; `retEip` is the EIP pushed (the faulting instruction for faults,
   * the next one for traps and INT n); `code` < 0 for none.
   */
  interrupt(vec: number, retEip: number, code: number, kind: IntKind): void {
    const ext = kind === IntKind.Software ? 0 : 1;
    if ((this.cr0 & CR0_PE) === 0) { this.interruptReal(vec, retEip); return; }
    if ((this.eflags & FLAG_VM) !== 0 && kind === IntKind.Software && (this.eflags & FLAG_IOPL) !== FLAG_IOPL) this.gp(0);
    const gidx = vec * 8 + 2 + ext;
    if (vec * 8 + 7 > (this.idtLimit >>> 0)) this.gp(gidx);
    const glo = this.srd32((this.idtBase + vec * 8) | 0);
    const ghi = this.srd32((this.idtBase + vec * 8 + 4) | 0);
    const gtype = (ghi >>> 8) & 0x1f;
    if (gtype !== 5 && gtype !== 6 && gtype !== 7 && gtype !== 14 && gtype !== 15) this.gp(gidx);
    if (kind === IntKind.Software && ((ghi >>> 13) & 3) < this.cpl) this.gp(vec * 8 + 2);
    if ((ghi & 0x8000) === 0) this.raise(11, gidx);
    if (gtype === SYS_TASKGATE) {
      this.taskGateSwitch(glo >>> 16, TaskReason.Call, retEip);
      if (code >= 0) {
        if ((this.segAttr[TR]! & 8) !== 0) this.push32(code); else this.push16(code);
      }
      return;
    }
    const gate32 = (gtype & 8) !== 0;
    const sel = glo >>> 16;
    const off = gate32 ? (glo & 0xffff) | (ghi & 0xffff0000) : glo & 0xffff;
    const attr = this.codeDesc(sel, ext);
    const dpl = (attr >> 5) & 3;
    if (dpl > this.cpl) this.gp((sel & ~3) | ext);
    if ((attr & ATTR_P) === 0) this.raise(11, (sel & ~3) | ext);
    const csLo = this.descLo, csHi = this.descHi;
    const fromVm = (this.eflags & FLAG_VM) !== 0;
    const flags = this.getEflags();
    const sz = gate32 ? 4 : 2;
    const oldCs = this.segSel[CS]!;
    if ((attr & TYPE_CONFORMING) === 0 && dpl < this.cpl) {
      if (fromVm && dpl !== 0) this.gp(sel & ~3);
      this.readTssStack(dpl);
      const nss = this.tssSs, nsp = this.tssSp;
      this.checkStackSeg(nss, dpl, 10, ext);
      const ssLo = this.descLo, ssHi = this.descHi;
      const ssBase = descBase(ssLo, ssHi);
      const ss32 = (descAttr(ssHi) & ATTR_DB) !== 0;
      let sp = ss32 ? nsp : nsp & 0xffff;
      const put = (v: number): void => {
        sp = ss32 ? (sp - sz) | 0 : (sp - sz) & 0xffff;
        if (sz === 4) this.swr32((ssBase + sp) | 0, v); else this.swr16((ssBase + sp) | 0, v);
      };
      if (fromVm) {
        put(this.segSel[GS]!); put(this.segSel[FS]!); put(this.segSel[DS]!); put(this.segSel[ES]!);
      }
      put(this.segSel[SS]!); put(this.regs[ESP]!); put(flags); put(oldCs); put(retEip);
      if (code >= 0) put(code);
      // Commit.
      this.descLo = ssLo; this.descHi = ssHi;
      this.setAccessed(nss);
      this.setSegCache(SS, nss, ssBase, descLimit(ssLo, ssHi), descAttr(ssHi));
      if (ss32) this.regs[ESP] = sp; else this.setReg16(ESP, sp);
      if (fromVm) {
        for (const s of DATA_SEGS) this.setSegCache(s, 0, 0, 0, ATTR_UNUSABLE);
      }
      this.eflags &= ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM | (gtype & 1 ? 0 : FLAG_IF));
      this.descLo = csLo; this.descHi = csHi;
      this.commitCs(sel, dpl);
      this.refreshSegFast();
    } else {
      if (fromVm) this.gp(sel & ~3);
      this.checkLimit(off, descLimit(csLo, csHi));
      let sp = this.ss32 ? this.regs[ESP]! : this.regs[ESP]! & 0xffff;
      const put = (v: number): void => {
        sp = this.ss32 ? (sp - sz) | 0 : (sp - sz) & 0xffff;
        if (sz === 4) this.wr32(SS, sp, v); else this.wr16(SS, sp, v);
      };
      put(flags); put(oldCs); put(retEip);
      if (code >= 0) put(code);
      if (this.ss32) this.regs[ESP] = sp; else this.setReg16(ESP, sp);
      this.eflags &= ~(FLAG_TF | FLAG_NT | FLAG_RF | (gtype & 1 ? 0 : FLAG_IF));
      this.descLo = csLo; this.descHi = csHi;
      this.commitCs(sel, this.cpl);
    }
    this.nextEip = off;
  }

  private interruptReal(vec: number, retEip: number): void {
    if (vec * 4 + 3 > (this.idtLimit >>> 0)) this.gp(0);
    const ip = this.lrd16((this.idtBase + vec * 4) | 0);
    const cs = this.lrd16((this.idtBase + vec * 4 + 2) | 0);
    const sp0 = this.regs[ESP]! & 0xffff;
    const s1 = (sp0 - 2) & 0xffff, s2 = (sp0 - 4) & 0xffff, s3 = (sp0 - 6) & 0xffff;
    this.wr16(SS, s1, this.getEflags());
    this.wr16(SS, s2, this.segSel[CS]!);
    this.wr16(SS, s3, retEip);
    this.setReg16(ESP, s3);
    this.eflags &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
    this.loadSegReal(CS, cs);
    this.nextEip = ip;
  }

  /** A task gate's (or JMP/CALL's) switch with the TSS selector's checks done by taskSwitch. */
  private taskGateSwitch(tss: number, reason: TaskReason, retEip: number): void {
    this.taskSwitch(tss, reason, retEip);
    this.checkLimit(this.nextEip, this.segLimit[CS]!);
  }

  // ---- far JMP / CALL ----

  farJmp(sel: number, off: number, sz: number): void {
    sel &= 0xffff;
    if (!this.protectedMode) {
      this.loadSegReal(CS, sel);
      this.nextEip = sz === 4 ? off : off & 0xffff;
      return;
    }
    const idx = sel & ~3;
    if (idx === 0) this.gp(0);
    if (!this.readDescriptor(sel)) this.gp(idx);
    const attr = descAttr(this.descHi);
    const dpl = (attr >> 5) & 3;
    if ((attr & ATTR_S) !== 0) {
      if ((attr & TYPE_CODE) === 0) this.gp(idx);
      if ((attr & TYPE_CONFORMING) !== 0 ? dpl > this.cpl : ((sel & 3) > this.cpl || dpl !== this.cpl)) this.gp(idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
      const eip = sz === 4 ? off : off & 0xffff;
      this.checkLimit(eip, descLimit(this.descLo, this.descHi));
      this.commitCs(sel, this.cpl);
      this.nextEip = eip;
      return;
    }
    const type = attr & 0xf;
    if (type === SYS_CALLGATE16 || type === SYS_CALLGATE32) {
      if (dpl < this.cpl || dpl < (sel & 3)) this.gp(idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
      const lo = this.descLo, hi = this.descHi;
      const tsel = lo >>> 16;
      const toff = type === SYS_CALLGATE32 ? (lo & 0xffff) | (hi & 0xffff0000) : lo & 0xffff;
      const cattr = this.codeDesc(tsel, 0);
      const cdpl = (cattr >> 5) & 3;
      if ((cattr & TYPE_CONFORMING) !== 0 ? cdpl > this.cpl : cdpl !== this.cpl) this.gp(tsel & ~3);
      if ((cattr & ATTR_P) === 0) this.raise(11, tsel & ~3);
      this.checkLimit(toff, descLimit(this.descLo, this.descHi));
      this.commitCs(tsel, this.cpl);
      this.nextEip = toff;
      return;
    }
    if (type === SYS_TASKGATE || type === SYS_TSS16_AVAIL || type === SYS_TSS32_AVAIL) {
      if (dpl < this.cpl || dpl < (sel & 3)) this.gp(idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
      const tss = type === SYS_TASKGATE ? this.descLo >>> 16 : sel;
      this.taskGateSwitch(tss, TaskReason.Jmp, this.nextEip);
      return;
    }
    this.gp(idx);
  }

  farCall(sel: number, off: number, sz: number): void {
    sel &= 0xffff;
    const retEip = this.nextEip;
    const oldCs = this.segSel[CS]!;
    if (!this.protectedMode) {
      const eip = sz === 4 ? off : off & 0xffff;
      this.pushPair(oldCs, retEip, sz);
      this.loadSegReal(CS, sel);
      this.nextEip = eip;
      return;
    }
    const idx = sel & ~3;
    if (idx === 0) this.gp(0);
    if (!this.readDescriptor(sel)) this.gp(idx);
    const attr = descAttr(this.descHi);
    const dpl = (attr >> 5) & 3;
    if ((attr & ATTR_S) !== 0) {
      if ((attr & TYPE_CODE) === 0) this.gp(idx);
      if ((attr & TYPE_CONFORMING) !== 0 ? dpl > this.cpl : ((sel & 3) > this.cpl || dpl !== this.cpl)) this.gp(idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
      const eip = sz === 4 ? off : off & 0xffff;
      this.checkLimit(eip, descLimit(this.descLo, this.descHi));
      const lo = this.descLo, hi = this.descHi;
      this.pushPair(oldCs, retEip, sz);
      this.descLo = lo; this.descHi = hi;
      this.commitCs(sel, this.cpl);
      this.nextEip = eip;
      return;
    }
    const type = attr & 0xf;
    if (type === SYS_TASKGATE || type === SYS_TSS16_AVAIL || type === SYS_TSS32_AVAIL) {
      if (dpl < this.cpl || dpl < (sel & 3)) this.gp(idx);
      if ((attr & ATTR_P) === 0) this.raise(11, idx);
      const tss = type === SYS_TASKGATE ? this.descLo >>> 16 : sel;
      this.taskGateSwitch(tss, TaskReason.Call, retEip);
      return;
    }
    if (type !== SYS_CALLGATE16 && type !== SYS_CALLGATE32) this.gp(idx);
    if (dpl < this.cpl || dpl < (sel & 3)) this.gp(idx);
    if ((attr & ATTR_P) === 0) this.raise(11, idx);
    const glo = this.descLo, ghi = this.descHi;
    const gsz = type === SYS_CALLGATE32 ? 4 : 2;
    const tsel = glo >>> 16;
    const toff = gsz === 4 ? (glo & 0xffff) | (ghi & 0xffff0000) : glo & 0xffff;
    const params = ghi & 0x1f;
    const cattr = this.codeDesc(tsel, 0);
    const cdpl = (cattr >> 5) & 3;
    if (cdpl > this.cpl) this.gp(tsel & ~3);
    if ((cattr & ATTR_P) === 0) this.raise(11, tsel & ~3);
    const csLo = this.descLo, csHi = this.descHi;
    this.checkLimit(toff, descLimit(csLo, csHi));
    if ((cattr & TYPE_CONFORMING) === 0 && cdpl < this.cpl) {
      this.readTssStack(cdpl);
      const nss = this.tssSs, nsp = this.tssSp;
      this.checkStackSeg(nss, cdpl, 10, 0);
      const ssLo = this.descLo, ssHi = this.descHi;
      const ssBase = descBase(ssLo, ssHi);
      const ss32 = (descAttr(ssHi) & ATTR_DB) !== 0;
      let sp = ss32 ? nsp : nsp & 0xffff;
      const put = (v: number): void => {
        sp = ss32 ? (sp - gsz) | 0 : (sp - gsz) & 0xffff;
        if (gsz === 4) this.swr32((ssBase + sp) | 0, v); else this.swr16((ssBase + sp) | 0, v);
      };
      const oldSs = this.segSel[SS]!, oldEsp = this.regs[ESP]!;
      put(oldSs); put(oldEsp);
      for (let i = params - 1; i >= 0; i--) put(this.peekSz(i * gsz, gsz));
      put(oldCs); put(retEip);
      this.descLo = ssLo; this.descHi = ssHi;
      this.setAccessed(nss);
      this.setSegCache(SS, nss, ssBase, descLimit(ssLo, ssHi), descAttr(ssHi));
      if (ss32) this.regs[ESP] = sp; else this.setReg16(ESP, sp);
      this.descLo = csLo; this.descHi = csHi;
      this.commitCs(tsel, cdpl);
    } else {
      this.pushPair(oldCs, retEip, gsz);
      this.descLo = csLo; this.descHi = csHi;
      this.commitCs(tsel, this.cpl);
    }
    this.nextEip = toff;
  }

  /** Pushes CS then EIP without moving ESP until both are written. */
  private pushPair(cs: number, eip: number, sz: number): void {
    const sp0 = this.regs[ESP]!;
    if (sz === 4) { this.push32(cs); try { this.push32(eip); } catch (e) { this.regs[ESP] = sp0; throw e; } }
    else { this.push16(cs); try { this.push16(eip); } catch (e) { this.regs[ESP] = sp0; throw e; } }
  }

  // ---- far RET / IRET ----

  farRet(sz: number, imm: number): void {
    const eip = this.peekSz(0, sz);
    const sel = this.peekSz(sz, sz) & 0xffff;
    if (!this.protectedMode) {
      this.loadSegReal(CS, sel);
      this.nextEip = sz === 4 ? eip : eip & 0xffff;
      this.addSp(2 * sz + imm);
      return;
    }
    this.returnTo(sel, sz === 4 ? eip : eip & 0xffff, sz, 2 * sz + imm, imm, false, 0);
  }

  /**
   * Protected-mode return to `sel:eip` (RET far or IRET); `pop` bytes are the frame below the
   * outer SS:ESP, `flags` the new EFLAGS for IRET (-1 for RET).
   */
  private returnTo(sel: number, eip: number, sz: number, pop: number, imm: number, isIret: boolean, flags: number): void {
    const rpl = sel & 3;
    if (rpl < this.cpl) this.gp(sel & ~3);
    const attr = this.codeDesc(sel, 0);
    const dpl = (attr >> 5) & 3;
    if ((attr & TYPE_CONFORMING) !== 0 ? dpl > rpl : dpl !== rpl) this.gp(sel & ~3);
    if ((attr & ATTR_P) === 0) this.raise(11, sel & ~3);
    const csLo = this.descLo, csHi = this.descHi;
    this.checkLimit(eip, descLimit(csLo, csHi));
    const oldCpl = this.cpl;
    if (rpl === oldCpl) {
      this.addSp(pop);
      this.descLo = csLo; this.descHi = csHi;
      this.commitCs(sel, rpl);
      if (isIret) this.writeFlagsIret(flags, sz, oldCpl);
      this.nextEip = eip;
      return;
    }
    const nsp = this.peekSz(pop, sz);
    const nss = this.peekSz(pop + sz, sz) & 0xffff;
    this.checkStackSeg(nss, rpl, 13, 0);
    const ssLo = this.descLo, ssHi = this.descHi;
    this.descLo = csLo; this.descHi = csHi;
    this.commitCs(sel, rpl);
    if (isIret) this.writeFlagsIret(flags, sz, oldCpl);
    this.descLo = ssLo; this.descHi = ssHi;
    this.setAccessed(nss);
    this.setSegCache(SS, nss, descBase(ssLo, ssHi), descLimit(ssLo, ssHi), descAttr(ssHi));
    const spv = (nsp + imm) | 0;
    if (this.ss32) this.regs[ESP] = sz === 4 ? spv : spv & 0xffff; else this.setReg16(ESP, spv);
    this.nextEip = eip;
    // Data segments the outer ring may not use become null (SDM vol. 2, RET).
    for (const s of DATA_SEGS) {
      const a = this.segAttr[s]!;
      if ((a & ATTR_UNUSABLE) !== 0) continue;
      const sdpl = (a >> 5) & 3;
      const conf = (a & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
      if (!conf && sdpl < rpl) this.setSegCache(s, 0, 0, 0, ATTR_UNUSABLE);
    }
  }

  /** EFLAGS as IRET loads them at privilege `cpl` (before the return). */
  private writeFlagsIret(v: number, sz: number, cpl: number): void {
    let mask = FLAG_TF | FLAG_NT | FLAG_RF | FLAG_AC | 0x8d5 | (1 << 10) | (1 << 21) | FLAG_VIF | FLAG_VIP;
    const iopl = (this.eflags & FLAG_IOPL) >> 12;
    if (cpl === 0) mask |= FLAG_IOPL;
    if (cpl <= iopl) mask |= FLAG_IF;
    if (sz === 2) mask &= 0xffff;
    this.writeEflags(v, mask);
  }

  /** Writes the EFLAGS bits in `mask` (never VM: callers handle mode changes). */
  writeEflags(v: number, mask: number): void {
    mask &= EFLAGS_VALID & ~FLAG_VM;
    const cur = this.getEflags();
    const n = (cur & ~mask) | (v & mask);
    this.setArith(n);
    this.eflags = (n & ~0x8d5) | 2;
  }

  iret(sz: number): void {
    if ((this.cr0 & CR0_PE) === 0) {
      const eip = this.peekSz(0, sz);
      const cs = this.peekSz(sz, sz) & 0xffff;
      const fl = this.peekSz(2 * sz, sz);
      this.checkLimit(sz === 4 ? eip : eip & 0xffff, this.segLimit[CS]!);
      this.addSp(3 * sz);
      this.loadSegReal(CS, cs);
      this.writeEflags(fl, sz === 4 ? 0x257fd5 | FLAG_IOPL | FLAG_NT : 0xffff);
      this.nextEip = sz === 4 ? eip : eip & 0xffff;
      return;
    }
    if ((this.eflags & FLAG_VM) !== 0) {
      if ((this.eflags & FLAG_IOPL) !== FLAG_IOPL) this.gp(0);
      const eip = this.peekSz(0, sz);
      const cs = this.peekSz(sz, sz) & 0xffff;
      const fl = this.peekSz(2 * sz, sz);
      this.addSp(3 * sz);
      this.loadSegReal(CS, cs);
      this.writeEflags(fl, (sz === 4 ? 0x257fd5 | FLAG_NT : 0xffff) & ~FLAG_IOPL);
      this.nextEip = sz === 4 ? eip : eip & 0xffff;
      return;
    }
    if ((this.eflags & FLAG_NT) !== 0) {
      const link = this.srd16(this.segBase[TR]!);
      this.taskGateSwitch(link, TaskReason.Iret, this.nextEip);
      return;
    }
    const eip = this.peekSz(0, sz);
    const sel = this.peekSz(sz, sz) & 0xffff;
    const fl = this.peekSz(2 * sz, sz);
    if (sz === 4 && (fl & FLAG_VM) !== 0 && this.cpl === 0) { this.iretToV86(eip, sel, fl); return; }
    this.returnTo(sel, sz === 4 ? eip : eip & 0xffff, sz, 3 * sz, 0, true, fl);
  }

  private iretToV86(eip: number, cs: number, fl: number): void {
    const esp = this.peekSz(12, 4);
    const ss = this.peekSz(16, 4);
    const es = this.peekSz(20, 4), ds = this.peekSz(24, 4), fs = this.peekSz(28, 4), gs = this.peekSz(32, 4);
    this.writeEflags(fl, EFLAGS_VALID);
    this.eflags |= FLAG_VM;
    this.setCpl(3);
    this.loadSegReal(CS, cs); this.loadSegReal(SS, ss);
    this.loadSegReal(ES, es); this.loadSegReal(DS, ds); this.loadSegReal(FS, fs); this.loadSegReal(GS, gs);
    this.regs[ESP] = esp;
    this.nextEip = eip & 0xffff;
    this.modeChanged();
  }

  /** Whether `sel` names a segment LAR/LSL/VERR/VERW may look at; sets descLo/descHi. */
  probeDesc(sel: number, forLar: boolean): boolean {
    if ((sel & ~3) === 0 || !this.readDescriptor(sel)) return false;
    const attr = descAttr(this.descHi);
    const dpl = (attr >> 5) & 3;
    if ((attr & ATTR_S) === 0) {
      const t = attr & 0xf;
      const okLsl = t === 1 || t === 2 || t === 3 || t === 9 || t === 11;
      const okLar = okLsl || t === 4 || t === 5 || t === 12;
      if (!(forLar ? okLar : okLsl)) return false;
    } else if ((attr & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING)) {
      return true;
    }
    return dpl >= this.cpl && dpl >= (sel & 3);
  }

  /** VERR/VERW check. */
  verify(sel: number, write: boolean): boolean {
    if ((sel & ~3) === 0 || !this.readDescriptor(sel)) return false;
    const attr = descAttr(this.descHi);
    if ((attr & ATTR_S) === 0) return false;
    const type = attr & 0xf;
    const dpl = (attr >> 5) & 3;
    const conf = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
    if (!conf && (dpl < this.cpl || dpl < (sel & 3))) return false;
    if (write) return (type & TYPE_CODE) === 0 && (type & TYPE_WRITABLE) !== 0;
    return (type & TYPE_CODE) === 0 || (type & TYPE_READABLE) !== 0;
  }
}
