// Segmentation of the soft x86 core (SDM vol. 3, ch. 3 and 5): hidden descriptor caches,
// descriptor-table reads, the checks of MOV/POP to a segment register, segment-checked memory
// access (limits, rights, null selectors) and the stack.

import { Mmu } from './mmu.js';
import {
  ATTR_DB, ATTR_P, ATTR_S, ATTR_UNUSABLE, CR0_PE, CS, DS, ES, FLAG_VM, FS, GS, LDTR, SS, TR, ESP,
  TYPE_CODE, TYPE_EXPDOWN, TYPE_READABLE, TYPE_WRITABLE, TYPE_CONFORMING,
} from './defs.js';

/** Descriptor helpers over the two 32-bit halves. */
export function descBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
}
export function descLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & (1 << 23)) !== 0 ? ((raw << 12) | 0xfff) : raw;
}
export function descAttr(hi: number): number {
  return (hi >>> 8) & 0xf0ff;
}

/** The segmentation layer of SoftCpu. */
export class Segmentation extends Mmu {
  /** CS.D: default operand and address size 32. */
  code32 = false;
  /** SS.B: the stack pointer is ESP (else SP). */
  ss32 = false;
  /** Descriptor halves of the last `readDescriptor`. */
  descLo = 0;
  descHi = 0;

  /** Protected mode without virtual-8086: descriptor rules apply. */
  get protectedMode(): boolean {
    return (this.cr0 & CR0_PE) !== 0 && (this.eflags & FLAG_VM) === 0;
  }

  setCpl(cpl: number): void {
    this.cpl = cpl;
    this.setUserMode(cpl === 3);
  }

  /** Loads a hidden cache as is. */
  setSegCache(s: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[s] = sel & 0xffff;
    this.segBase[s] = base | 0;
    this.segLimit[s] = limit | 0;
    this.segAttr[s] = attr;
    if (s === CS) { this.code32 = (attr & ATTR_DB) !== 0; this.epoch++; }
    else if (s === SS) this.ss32 = (attr & ATTR_DB) !== 0;
    this.segFast(s);
  }

  /** Recomputes the fast-path limits of segment `s`. */
  segFast(s: number): void {
    if (s > GS) return;
    const attr = this.segAttr[s]!;
    const lim = this.segLimit[s]! >>> 0;
    const loose = (this.cr0 & CR0_PE) === 0 || (this.eflags & FLAG_VM) !== 0;
    const type = attr & 0xf;
    let r = lim >= 3 ? lim - 3 : -1;
    let w = r;
    if (!loose) {
      if ((attr & ATTR_UNUSABLE) !== 0 || (attr & ATTR_P) === 0) { r = -1; w = -1; }
      else if ((type & TYPE_CODE) !== 0) { w = -1; if ((type & TYPE_READABLE) === 0) r = -1; }
      else {
        if ((type & TYPE_EXPDOWN) !== 0) { r = -1; w = -1; }
        if ((type & TYPE_WRITABLE) === 0) w = -1;
      }
    } else if ((type & (TYPE_CODE | TYPE_EXPDOWN)) === TYPE_EXPDOWN) { r = -1; w = -1; }
    this.segRLim[s] = r;
    this.segWLim[s] = w;
    this.checkFlatData();
  }

  /** Recomputes `flatData` (after ES, SS or DS changed). */
  private checkFlatData(): void {
    const b = this.segBase, rl = this.segRLim, wl = this.segWLim, full = 0xfffffffc;
    this.flatData = this.ss32 && (b[ES]! | b[SS]! | b[DS]!) === 0 && rl[ES] === full && rl[SS] === full &&
      rl[DS] === full && wl[ES] === full && wl[SS] === full && wl[DS] === full;
  }

  /** After a mode change (PE or VM): all fast limits again. */
  refreshSegFast(): void {
    for (let s = ES; s <= GS; s++) this.segFast(s);
  }

  /** Real or virtual-8086 mode load: base = selector × 16. */
  loadSegReal(s: number, sel: number): void {
    sel &= 0xffff;
    if ((this.eflags & FLAG_VM) !== 0) {
      // Virtual-8086 mode: the caches are fixed (SDM vol. 3, 20.1.1).
      this.setSegCache(s, sel, sel << 4, 0xffff, (s === CS ? 0xb : 0x3) | ATTR_S | ATTR_P | (3 << 5));
      return;
    }
    this.segSel[s] = sel;
    this.segBase[s] = sel << 4;
    if (s === SS) this.segFast(s);
    else this.checkFlatData();
    if (s === CS) this.epoch++;
  }

  /** Reads the descriptor of `sel` into descLo/descHi; false when beyond the table limit. */
  readDescriptor(sel: number): boolean {
    let base: number, limit: number;
    if ((sel & 4) !== 0) {
      if ((this.segAttr[LDTR]! & ATTR_UNUSABLE) !== 0) return false;
      base = this.segBase[LDTR]!; limit = this.segLimit[LDTR]! >>> 0;
    } else {
      base = this.gdtBase; limit = this.gdtLimit >>> 0;
    }
    const idx = sel & ~7;
    if (idx + 7 > limit) return false;
    this.descLo = this.srd32((base + idx) | 0);
    this.descHi = this.srd32((base + idx + 4) | 0);
    return true;
  }

  /** Sets the accessed bit of the descriptor `sel` (already read into descHi). */
  setAccessed(sel: number): void {
    if ((this.descHi & 0x100) !== 0) return;
    this.descHi |= 0x100;
    const base = (sel & 4) !== 0 ? this.segBase[LDTR]! : this.gdtBase;
    this.swr8((base + (sel & ~7) + 5) | 0, (this.descHi >>> 8) & 0xff);
  }

  /** MOV/POP to a data segment register or SS, with every protected-mode check. */
  loadSeg(s: number, sel: number): void {
    sel &= 0xffff;
    if (!this.protectedMode) { this.loadSegReal(s, sel); return; }
    if ((sel & ~3) === 0) {
      if (s === SS) this.gp(0);
      this.setSegCache(s, sel, 0, 0, ATTR_UNUSABLE);
      return;
    }
    if (!this.readDescriptor(sel)) this.gp(sel & ~3);
    const hi = this.descHi;
    const attr = descAttr(hi);
    const type = attr & 0xf;
    const dpl = (attr >> 5) & 3;
    const rpl = sel & 3;
    if ((attr & ATTR_S) === 0) this.gp(sel & ~3);
    if (s === SS) {
      if (rpl !== this.cpl || dpl !== this.cpl || (type & TYPE_CODE) !== 0 || (type & TYPE_WRITABLE) === 0) this.gp(sel & ~3);
      if ((attr & ATTR_P) === 0) this.raise(12, sel & ~3);
    } else {
      if ((type & (TYPE_CODE | TYPE_READABLE)) === TYPE_CODE) this.gp(sel & ~3);
      const conformingCode = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
      if (!conformingCode && (rpl > dpl || this.cpl > dpl)) this.gp(sel & ~3);
      if ((attr & ATTR_P) === 0) this.raise(11, sel & ~3);
    }
    this.setAccessed(sel);
    this.setSegCache(s, sel, descBase(this.descLo, hi), descLimit(this.descLo, hi), descAttr(this.descHi));
  }

  // ---- segment-checked memory access ----

  /** The linear address of `[off, off+size)` in segment `s`, after the exact checks. */
  segAddr(s: number, off: number, size: number, write: boolean): number {
    const attr = this.segAttr[s]!;
    const o = off >>> 0;
    const lim = this.segLimit[s]! >>> 0;
    const loose = (this.cr0 & CR0_PE) === 0 || (this.eflags & FLAG_VM) !== 0;
    if (!loose) {
      if ((attr & ATTR_UNUSABLE) !== 0) this.segFault(s);
      const type = attr & 0xf;
      if (write && ((type & TYPE_CODE) !== 0 || (type & TYPE_WRITABLE) === 0)) this.gp(0);
      if (!write && (type & (TYPE_CODE | TYPE_READABLE)) === TYPE_CODE) this.gp(0);
    }
    if ((attr & (TYPE_CODE | TYPE_EXPDOWN)) === TYPE_EXPDOWN) {
      const upper = (attr & ATTR_DB) !== 0 ? 0xffffffff : 0xffff;
      if (o <= lim || o + size - 1 > upper) this.segFault(s);
    } else if (o + size - 1 > lim) {
      this.segFault(s);
    }
    return (this.segBase[s]! + off) | 0;
  }

  private segFault(s: number): never {
    return s === SS ? this.raise(12, 0) : this.gp(0);
  }

  rd8(s: number, off: number): number {
    if ((off >>> 0) <= this.segRLim[s]!) return this.lrd8((this.segBase[s]! + off) | 0);
    return this.lrd8(this.segAddr(s, off, 1, false));
  }
  rd16(s: number, off: number): number {
    if ((off >>> 0) <= this.segRLim[s]!) return this.lrd16((this.segBase[s]! + off) | 0);
    return this.lrd16(this.segAddr(s, off, 2, false));
  }
  rd32(s: number, off: number): number {
    if ((off >>> 0) <= this.segRLim[s]!) return this.lrd32((this.segBase[s]! + off) | 0);
    return this.lrd32(this.segAddr(s, off, 4, false));
  }
  wr8(s: number, off: number, v: number): void {
    if ((off >>> 0) <= this.segWLim[s]!) { this.lwr8((this.segBase[s]! + off) | 0, v); return; }
    this.lwr8(this.segAddr(s, off, 1, true), v);
  }
  wr16(s: number, off: number, v: number): void {
    if ((off >>> 0) <= this.segWLim[s]!) { this.lwr16((this.segBase[s]! + off) | 0, v); return; }
    this.lwr16(this.segAddr(s, off, 2, true), v);
  }
  wr32(s: number, off: number, v: number): void {
    if ((off >>> 0) <= this.segWLim[s]!) { this.lwr32((this.segBase[s]! + off) | 0, v); return; }
    this.lwr32(this.segAddr(s, off, 4, true), v);
  }
  /** Reads `size` (1, 2 or 4) bytes. */
  rdSz(s: number, off: number, size: number): number {
    return size === 4 ? this.rd32(s, off) : size === 2 ? this.rd16(s, off) : this.rd8(s, off);
  }
  wrSz(s: number, off: number, size: number, v: number): void {
    if (size === 4) this.wr32(s, off, v); else if (size === 2) this.wr16(s, off, v); else this.wr8(s, off, v);
  }
  /**
   * Reads the destination of a read-modify-write with the write's checks (segment limit and
   * paging for writing) done first, as the CPU does: an instruction whose store would fault
   * raises the fault before it changes anything — flags included, which ADC/SBB/RCL/RCR
   * re-executed after a copy-on-write fault would otherwise read back modified.
   */
  rmwSz(s: number, off: number, size: number): number {
    const lin = (off >>> 0) <= this.segWLim[s]! ? (this.segBase[s]! + off) | 0 : this.segAddr(s, off, size, true);
    if (this.tlbW[lin >>> 12] === -1 || (lin & 0xfff) + size > 0x1000) this.probe(lin, size, true, this.userMode);
    return size === 4 ? this.lrd32(lin) : size === 2 ? this.lrd16(lin) : this.lrd8(lin);
  }
  /** Checks a whole write (limit and paging) before any byte of it is stored. */
  checkSegWrite(s: number, off: number, size: number): void {
    const lin = this.segAddr(s, off, size, true);
    this.probe(lin, size, true, this.userMode);
  }

  // ---- stack ----

  push32(v: number): void {
    if (this.ss32) {
      const sp = (this.regs[ESP]! - 4) | 0;
      this.wr32(SS, sp, v);
      this.regs[ESP] = sp;
    } else {
      const sp = (this.regs[ESP]! - 4) & 0xffff;
      this.wr32(SS, sp, v);
      this.setReg16(ESP, sp);
    }
  }

  push16(v: number): void {
    if (this.ss32) {
      const sp = (this.regs[ESP]! - 2) | 0;
      this.wr16(SS, sp, v);
      this.regs[ESP] = sp;
    } else {
      const sp = (this.regs[ESP]! - 2) & 0xffff;
      this.wr16(SS, sp, v);
      this.setReg16(ESP, sp);
    }
  }

  pushSz(v: number, size: number): void {
    if (size === 4) this.push32(v); else this.push16(v);
  }

  pop32(): number {
    if (this.ss32) {
      const sp = this.regs[ESP]!;
      const v = this.rd32(SS, sp);
      this.regs[ESP] = (sp + 4) | 0;
      return v;
    }
    const sp = this.regs[ESP]! & 0xffff;
    const v = this.rd32(SS, sp);
    this.setReg16(ESP, sp + 4);
    return v;
  }

  pop16(): number {
    if (this.ss32) {
      const sp = this.regs[ESP]!;
      const v = this.rd16(SS, sp);
      this.regs[ESP] = (sp + 2) | 0;
      return v;
    }
    const sp = this.regs[ESP]! & 0xffff;
    const v = this.rd16(SS, sp);
    this.setReg16(ESP, sp + 2);
    return v;
  }

  popSz(size: number): number {
    return size === 4 ? this.pop32() : this.pop16();
  }

  /** Reads the stack `n` bytes above the top without popping. */
  peekSz(n: number, size: number): number {
    const sp = this.ss32 ? (this.regs[ESP]! + n) | 0 : (this.regs[ESP]! + n) & 0xffff;
    return size === 4 ? this.rd32(SS, sp) : this.rd16(SS, sp);
  }

  /** Adds to the stack pointer at the stack's width. */
  addSp(n: number): void {
    if (this.ss32) this.regs[ESP] = (this.regs[ESP]! + n) | 0;
    else this.setReg16(ESP, this.regs[ESP]! + n);
  }

  /** Selector and caches of the data segments, for the checks on privilege return. */
  static readonly DATA_SEGS = [ES, DS, FS, GS] as const;
  static readonly SYSTEM_SEGS = [LDTR, TR] as const;
}
