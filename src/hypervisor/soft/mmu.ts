// Linear and physical memory of the soft x86 core: 32-bit paging with 4 KiB and 4 MiB pages
// (SDM vol. 3, 4.3), a software TLB, RAM/ROM/MMIO dispatch, and the "page holds decoded code"
// tracking that keeps the block cache honest.
//
// The TLB keeps, per virtual page and per privilege (supervisor/user) and direction (read/write),
// `bufferOffsetOfPage ^ linearPage` in an Int32Array, or -1. A hit turns a linear address into an
// index of the RAM buffer with one XOR. Pages that are MMIO, or that hold decoded code (for
// writes), or that lie beyond 2 GiB of buffer, get no entry and take the slow path every time.

import type { GuestRam } from '../memory.js';
import type { CpuIo } from './api.js';
import { CpuCore } from './core.js';
import {
  CR0_AM, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, PFEC_P, PFEC_U, PFEC_W, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS,
  PTE_RW, PTE_US, FLAG_AC,
} from './defs.js';

const TLB_ENTRIES = 1 << 20;
/** Pages remembered for flushing; a fuller TLB is flushed whole. */
const TLB_LIST_MAX = 8192;
const TLBS_LISTED = 1, TLBS_GLOBAL = 2, TLBS_LARGE = 4;
/** Buffer offsets the fast path may use (int32-safe). */
const FAST_LIMIT = 0x8000_0000;
/** Code tracking granularity inside a page: 32 lines of 128 bytes. */
const CODE_LINE_SHIFT = 7;

/** The MMU layer of SoftCpu. */
export class Mmu extends CpuCore {
  readonly u8: Uint8Array;
  readonly m16: Uint16Array;
  readonly m32: Int32Array;
  readonly ram: GuestRam;
  readonly io: CpuIo;

  readonly tlbRS = new Int32Array(TLB_ENTRIES).fill(-1);
  readonly tlbWS = new Int32Array(TLB_ENTRIES).fill(-1);
  readonly tlbRU = new Int32Array(TLB_ENTRIES).fill(-1);
  readonly tlbWU = new Int32Array(TLB_ENTRIES).fill(-1);
  /** The arrays for the current privilege (user when CPL = 3). */
  tlbR: Int32Array;
  tlbW: Int32Array;
  userMode = false;
  private readonly tlbState = new Uint8Array(TLB_ENTRIES);
  /** Per 4 MiB region: 1 when a large page filled entries in it (INVLPG drops the region). */
  private readonly tlbLarge = new Uint8Array(1024);
  private readonly tlbList = new Int32Array(TLB_LIST_MAX);
  private tlbLen = 0;

  /** Per buffer page: generation (bumped when decoded code in it is overwritten). */
  pageGen: Int32Array;
  /** Per buffer page: bit n set when 128-byte line n holds decoded code. */
  codeMask: Int32Array;
  /**
   * SMP (shareCodeTracking): every CPU of one guest, each with its own TLB and block cache but
   * one `pageGen`/`codeMask`, so a store by any CPU invalidates code every CPU decoded. Null
   * for a lone CPU.
   */
  codePeers: Mmu[] | null = null;
  /** Set when a store hit decoded code; the executing block stops after this instruction. */
  smc = false;
  /**
   * VRAM as the linear framebuffer (src/hypervisor/vram.ts): guest-physical [vramBase,
   * vramBase+vramSize) is VRAM at buffer offset `ram.vramOffset`; vramSize 0 when unmapped.
   * Reads of its pages get TLB entries; a write entry is installed only by a write that has
   * just set the page's bit in `vramDirty`, and dropped when the bitmap is taken.
   */
  private vramBase = 0;
  private vramSize = 0;
  private vramDirty: Int32Array | null = null;
  /**
   * Bumped whenever a linear→physical translation, CS, the CPL or the block cache may have
   * changed: block-to-block links made in an older epoch are not followed.
   */
  epoch = 0;

  constructor(ram: GuestRam, io: CpuIo) {
    super();
    this.ram = ram;
    this.io = io;
    this.u8 = ram.u8;
    if ((this.u8.byteOffset & 3) !== 0) throw new Error('guest RAM must be 4-byte aligned in its buffer');
    const words = this.u8.length >>> 2;
    this.m16 = new Uint16Array(this.u8.buffer, this.u8.byteOffset, words * 2);
    this.m32 = new Int32Array(this.u8.buffer, this.u8.byteOffset, words);
    const pages = Math.ceil(this.u8.length / 4096);
    this.pageGen = new Int32Array(pages);
    this.codeMask = new Int32Array(pages);
    this.tlbR = this.tlbRS;
    this.tlbW = this.tlbWS;
  }

  /** Selects the TLB arrays for CPL 3 or not. */
  setUserMode(user: boolean): void {
    this.epoch++;
    this.userMode = user;
    this.tlbR = user ? this.tlbRU : this.tlbRS;
    this.tlbW = user ? this.tlbWU : this.tlbWS;
  }

  // ---- physical memory ----

  /** Buffer offset of RAM, ROM or mapped VRAM at `pa`, or -1 (MMIO / unmapped). */
  physOffset(pa: number): number {
    const o = this.ram.ramOffset(pa);
    if (o >= 0) return o;
    const r = this.ram.romOffsetOf(pa);
    return r >= 0 ? r : this.vramOffsetOf(pa);
  }

  /** Buffer offset of VRAM at `pa` while it is mapped there, or -1. */
  private vramOffsetOf(pa: number): number {
    const d = (pa >>> 0) - this.vramBase;
    return d >= 0 && d < this.vramSize ? this.ram.vramOffset + d : -1;
  }

  /** Sets the page of VRAM buffer offset `o` dirty (a store is about to land there). */
  private vramMark(o: number): void {
    const page = (o - this.ram.vramOffset) >>> 12;
    const w = this.vramDirty;
    if (w === null) return;
    const bit = 1 << (page & 31);
    if ((w[page >>> 5]! & bit) === 0) Atomics.or(w, page >>> 5, bit);
  }

  /** Gives the CPU the VRAM dirty bitmap its stores to mapped VRAM set (VramShare.dirtyWords). */
  attachVramDirty(words: Int32Array): void { this.vramDirty = words; }

  /**
   * The VramShare generation moved: `base`/`size` is the mapping now. A moved mapping drops
   * every translation; otherwise the bitmap was taken, so write entries to VRAM pages go (their
   * pages marked dirty again: a store may have used them after the bitmap was taken).
   */
  vramChanged(base: number, size: number): void {
    base >>>= 0;
    if (base !== this.vramBase || size !== this.vramSize) {
      this.vramBase = base;
      this.vramSize = size;
      this.flushTlb(false);
      return;
    }
    if (size === 0) return;
    const lo = this.ram.vramOffset, hi = lo + size;
    const list = this.tlbList, ws = this.tlbWS, wu = this.tlbWU;
    for (let i = 0; i < this.tlbLen; i++) {
      const vpn = list[i]!;
      const lp = vpn << 12;
      const a = ws[vpn]!;
      if (a !== -1) {
        const o = (a ^ lp) >>> 0;
        if (o >= lo && o < hi) { ws[vpn] = -1; this.vramMark(o); }
      }
      const b = wu[vpn]!;
      if (b !== -1) {
        const o = (b ^ lp) >>> 0;
        if (o >= lo && o < hi) { wu[vpn] = -1; this.vramMark(o); }
      }
    }
  }

  physRead(pa: number, size: 1 | 2 | 4): number {
    const o = this.ram.ramOffset(pa);
    if (o >= 0) return this.bufRead(o, size);
    const r = this.ram.romOffsetOf(pa);
    if (r >= 0) return this.bufRead(r, size);
    const vo = this.vramOffsetOf(pa);
    if (vo >= 0) return this.bufRead(vo, size);
    if ((pa & (size - 1)) === 0) {
      // Devices answer unsigned (0xFFFFFFFF for a floating bus); the core keeps int32 form.
      const d = this.io.mmioRead(pa, size);
      return size === 4 ? d | 0 : d & (size === 1 ? 0xff : 0xffff);
    }
    let v = 0;
    for (let i = 0; i < size; i++) v |= (this.io.mmioRead(pa + i, 1) & 0xff) << (i * 8);
    return v;
  }

  physWrite(pa: number, size: 1 | 2 | 4, v: number): void {
    const o = this.ram.ramOffset(pa);
    if (o >= 0) {
      const page = o >>> 12;
      if (this.codeMask[page] !== 0) this.codeWritten(o, size);
      this.bufWrite(o, size, v);
      return;
    }
    if (this.ram.romOffsetOf(pa) >= 0) return;
    const vo = this.vramOffsetOf(pa);
    if (vo >= 0) {
      this.vramMark(vo);
      if (this.codeMask[vo >>> 12] !== 0) this.codeWritten(vo, size);
      this.bufWrite(vo, size, v);
      return;
    }
    if ((pa & (size - 1)) === 0) { this.io.mmioWrite(pa, size, v); return; }
    for (let i = 0; i < size; i++) this.io.mmioWrite(pa + i, 1, (v >>> (i * 8)) & 0xff);
  }

  private bufRead(o: number, size: number): number {
    const u8 = this.u8;
    if (size === 1) return u8[o]!;
    if (size === 2) return u8[o]! | (u8[o + 1]! << 8);
    return u8[o]! | (u8[o + 1]! << 8) | (u8[o + 2]! << 16) | (u8[o + 3]! << 24);
  }

  private bufWrite(o: number, size: number, v: number): void {
    const u8 = this.u8;
    u8[o] = v;
    if (size === 1) return;
    u8[o + 1] = v >> 8;
    if (size === 2) return;
    u8[o + 2] = v >> 16;
    u8[o + 3] = v >> 24;
  }

  /** A store of `size` bytes at buffer offset `o` into a page holding code. */
  private codeWritten(o: number, size: number): void {
    const page = o >>> 12;
    const first = (o & 0xfff) >>> CODE_LINE_SHIFT;
    const last = Math.min(0xfff, (o & 0xfff) + size - 1) >>> CODE_LINE_SHIFT;
    let bits = 0;
    for (let l = first; l <= last; l++) bits |= 1 << l;
    if ((this.codeMask[page]! & bits) === 0) return;
    this.pageGen[page] = (this.pageGen[page]! + 1) | 0;
    this.codeMask[page] = 0;
    this.smc = true;
  }

  /** Marks `[o, o+len)` (one page) as holding decoded code; drops write entries to it. */
  markCode(o: number, len: number): void {
    const page = o >>> 12;
    const first = (o & 0xfff) >>> CODE_LINE_SHIFT;
    const last = ((o & 0xfff) + Math.max(len, 1) - 1) >>> CODE_LINE_SHIFT;
    let bits = 0;
    for (let l = first; l <= last && l < 32; l++) bits |= 1 << l;
    const old = this.codeMask[page]!;
    this.codeMask[page] = old | bits;
    if (old !== 0) return;
    const peers = this.codePeers;
    if (peers !== null) { for (const c of peers) c.dropWritesTo(page); return; }
    this.dropWritesTo(page);
  }

  /**
   * Makes `cpus` share decoded-code tracking (SMP): one page-generation and code-line map for
   * all, and a page that becomes code loses its write entries in every CPU's TLB. Call before
   * any of them runs.
   */
  static shareCodeTracking(cpus: Mmu[]): void {
    const first = cpus[0];
    if (first === undefined || cpus.length < 2) return;
    for (const c of cpus) {
      c.pageGen = first.pageGen;
      c.codeMask = first.codeMask;
      c.codePeers = cpus;
    }
  }

  /** Drops this CPU's write entries to buffer page `page` (it now holds decoded code). */
  dropWritesTo(page: number): void {
    const list = this.tlbList, ws = this.tlbWS, wu = this.tlbWU;
    for (let i = 0; i < this.tlbLen; i++) {
      const vpn = list[i]!;
      const lp = vpn << 12;
      const a = ws[vpn]!;
      if (a !== -1 && ((a ^ lp) >>> 12) === page) ws[vpn] = -1;
      const b = wu[vpn]!;
      if (b !== -1 && ((b ^ lp) >>> 12) === page) wu[vpn] = -1;
    }
  }

  /** Forgets decoded code in guest-physical page `pfn` (DMA wrote it). */
  invalidatePhysPage(pfn: number): void {
    const o = this.physOffset(pfn * 4096);
    if (o < 0) return;
    const page = Math.floor(o / 4096);
    if (this.codeMask[page] === 0) return;
    this.pageGen[page] = (this.pageGen[page]! + 1) | 0;
    this.codeMask[page] = 0;
  }

  // ---- TLB ----

  /** Drops all translations, or all but global ones. */
  flushTlb(keepGlobal: boolean): void {
    this.epoch++;
    const list = this.tlbList, st = this.tlbState;
    let kept = 0;
    for (let i = 0; i < this.tlbLen; i++) {
      const vpn = list[i]!;
      const s = st[vpn]!;
      if (s === 0) continue;
      if (keepGlobal && (s & TLBS_GLOBAL) !== 0) { list[kept++] = vpn; continue; }
      this.tlbRS[vpn] = -1; this.tlbWS[vpn] = -1; this.tlbRU[vpn] = -1; this.tlbWU[vpn] = -1;
      st[vpn] = 0;
    }
    this.tlbLen = kept;
    if (!keepGlobal) this.tlbLarge.fill(0);
  }

  /** INVLPG: drops the translation of `lin` (the whole 4 MiB page for large pages). */
  invalidatePage(lin: number): void {
    this.epoch++;
    const vpn = lin >>> 12;
    if (this.tlbLarge[vpn >>> 10] !== 0) {
      const first = vpn & ~0x3ff;
      for (let v = first; v < first + 1024; v++) this.dropVpn(v);
    } else {
      this.dropVpn(vpn);
    }
  }

  private dropVpn(vpn: number): void {
    this.tlbRS[vpn] = -1; this.tlbWS[vpn] = -1; this.tlbRU[vpn] = -1; this.tlbWU[vpn] = -1;
    // Stays listed (with no global mark) so the list never holds a page twice.
    if (this.tlbState[vpn] !== 0) this.tlbState[vpn] = TLBS_LISTED;
  }

  private tlbFill(vpn: number, pageOff: number, user: boolean, write: boolean, flags: number): void {
    const s = this.tlbState[vpn]!;
    if ((s & TLBS_LISTED) === 0) {
      if (this.tlbLen >= TLB_LIST_MAX) this.flushTlb(false);
      this.tlbList[this.tlbLen++] = vpn;
    }
    this.tlbState[vpn] = TLBS_LISTED | flags;
    if ((flags & TLBS_LARGE) !== 0) this.tlbLarge[vpn >>> 10] = 1;
    const e = pageOff ^ (vpn << 12);
    if (user) { this.tlbRU[vpn] = e; if (write) this.tlbWU[vpn] = e; }
    else { this.tlbRS[vpn] = e; if (write) this.tlbWS[vpn] = e; }
  }

  /**
   * Translates `lin` for an access (page walk on a miss, setting A and D bits); fills the TLB
   * when the page is RAM or ROM. Returns the physical address; raises #PF.
   */
  xlate(lin: number, write: boolean, user: boolean): number {
    const vpn = lin >>> 12;
    let pa: number;
    let flags = 0;
    let writable = write;
    if ((this.cr0 & CR0_PG) === 0) {
      pa = lin >>> 0;
      writable = true;
    } else {
      const pdeAddr = ((this.cr3 & 0xfffff000) >>> 0) + ((lin >>> 22) << 2);
      const pde = this.physRead(pdeAddr, 4);
      const err = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
      if ((pde & PTE_P) === 0) return this.pageFault(lin, err);
      if ((pde & PTE_PS) !== 0 && (this.cr4 & CR4_PSE) !== 0) {
        this.checkPerm(lin, pde, write, user, err);
        const upd = pde | PTE_A | (write ? PTE_D : 0);
        if (upd !== pde) this.physWrite(pdeAddr, 4, upd);
        pa = ((pde & 0xffc00000) >>> 0) + (lin & 0x3ff000);
        flags = TLBS_LARGE;
        if ((pde & PTE_G) !== 0 && (this.cr4 & CR4_PGE) !== 0) flags |= TLBS_GLOBAL;
        writable = (upd & PTE_D) !== 0 && this.permits(pde, true, user);
      } else {
        const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin >>> 12) & 0x3ff) << 2);
        const pte = this.physRead(pteAddr, 4);
        if ((pte & PTE_P) === 0) return this.pageFault(lin, err);
        const eff = pte & (pde | ~(PTE_RW | PTE_US));
        this.checkPerm(lin, eff, write, user, err);
        if ((pde & PTE_A) === 0) this.physWrite(pdeAddr, 4, pde | PTE_A);
        const upd = pte | PTE_A | (write ? PTE_D : 0);
        if (upd !== pte) this.physWrite(pteAddr, 4, upd);
        pa = ((pte & 0xfffff000) >>> 0);
        if ((pte & PTE_G) !== 0 && (this.cr4 & CR4_PGE) !== 0) flags |= TLBS_GLOBAL;
        writable = (upd & PTE_D) !== 0 && this.permits(eff, true, user);
      }
    }
    const pagePa = pa - (pa & 0xfff);
    let off = this.ram.ramOffset(pagePa);
    if (off >= 0) {
      if (off < FAST_LIMIT) this.tlbFill(vpn, off, user, writable && this.codeMask[off >>> 12] === 0, flags);
    } else if ((off = this.ram.romOffsetOf(pagePa)) >= 0) {
      if (off < FAST_LIMIT) this.tlbFill(vpn, off, user, false, flags);
    } else if ((off = this.vramOffsetOf(pagePa)) >= 0) {
      // VRAM: a write entry only for this write, whose page is marked dirty here (vramChanged).
      const w = write && writable && this.codeMask[off >>> 12] === 0;
      if (w) this.vramMark(off);
      if (off < FAST_LIMIT) this.tlbFill(vpn, off, user, w, flags);
    }
    return pagePa + (lin & 0xfff);
  }

  private permits(e: number, write: boolean, user: boolean): boolean {
    if (user) {
      if ((e & PTE_US) === 0) return false;
      return !write || (e & PTE_RW) !== 0;
    }
    return !write || (e & PTE_RW) !== 0 || (this.cr0 & CR0_WP) === 0;
  }

  private checkPerm(lin: number, e: number, write: boolean, user: boolean, err: number): void {
    if (!this.permits(e, write, user)) this.pageFault(lin, err | PFEC_P);
  }

  private pageFault(lin: number, err: number): never {
    this.cr2 = lin;
    return this.raise(14, err);
  }

  // ---- linear memory, current privilege ----

  /**
   * A misaligned 16/32-bit data access at CPL 3 with CR0.AM and EFLAGS.AC set raises #AC(0)
   * (SDM vol. 3, 6.15 "Interrupt 17"); callers check the alignment, this checks the enables.
   */
  private alignCheck(): void {
    if (this.userMode && (this.cr0 & CR0_AM) !== 0 && (this.eflags & FLAG_AC) !== 0) this.raise(17, 0);
  }

  lrd8(lin: number): number {
    const e = this.tlbR[lin >>> 12]!;
    if (e !== -1) return this.u8[e ^ lin]!;
    return this.readSlow(lin, 1, this.userMode);
  }

  lrd16(lin: number): number {
    const e = this.tlbR[lin >>> 12]!;
    if (e !== -1 && (lin & 0xfff) !== 0xfff) {
      const o = e ^ lin;
      if ((o & 1) === 0) return this.m16[o >> 1]!;
      this.alignCheck();
      return this.u8[o]! | (this.u8[o + 1]! << 8);
    }
    if ((lin & 1) !== 0) this.alignCheck();
    return this.readSlow(lin, 2, this.userMode);
  }

  lrd32(lin: number): number {
    const e = this.tlbR[lin >>> 12]!;
    if (e !== -1 && (lin & 0xfff) <= 0xffc) {
      const o = e ^ lin;
      if ((o & 3) === 0) return this.m32[o >> 2]!;
      this.alignCheck();
      const u8 = this.u8;
      return u8[o]! | (u8[o + 1]! << 8) | (u8[o + 2]! << 16) | (u8[o + 3]! << 24);
    }
    if ((lin & 3) !== 0) this.alignCheck();
    return this.readSlow(lin, 4, this.userMode);
  }

  lwr8(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12]!;
    if (e !== -1) { this.u8[e ^ lin] = v; return; }
    this.writeSlow(lin, 1, v, this.userMode);
  }

  lwr16(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12]!;
    if (e !== -1 && (lin & 0xfff) !== 0xfff) {
      const o = e ^ lin;
      if ((o & 1) === 0) { this.m16[o >> 1] = v; return; }
      this.alignCheck();
      this.u8[o] = v; this.u8[o + 1] = v >> 8;
      return;
    }
    if ((lin & 1) !== 0) this.alignCheck();
    this.writeSlow(lin, 2, v, this.userMode);
  }

  lwr32(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12]!;
    if (e !== -1 && (lin & 0xfff) <= 0xffc) {
      const o = e ^ lin;
      if ((o & 3) === 0) { this.m32[o >> 2] = v; return; }
      this.alignCheck();
      const u8 = this.u8;
      u8[o] = v; u8[o + 1] = v >> 8; u8[o + 2] = v >> 16; u8[o + 3] = v >> 24;
      return;
    }
    if ((lin & 3) !== 0) this.alignCheck();
    this.writeSlow(lin, 4, v, this.userMode);
  }

  /** Faults now unless `[lin, lin+len)` is writable at the current privilege. */
  checkWrite(lin: number, len: number): void {
    this.probe(lin, len, true, this.userMode);
  }

  checkRead(lin: number, len: number): void {
    this.probe(lin, len, false, this.userMode);
  }

  /** Translates every page of `[lin, lin+len)` for the access (raising #PF). */
  probe(lin: number, len: number, write: boolean, user: boolean): void {
    if (len <= 0) return;
    const t = write ? (user ? this.tlbWU : this.tlbWS) : (user ? this.tlbRU : this.tlbRS);
    let p = lin & ~0xfff;
    const end = (lin + len - 1) & ~0xfff;
    for (let n = 0; n < 1 + (len >>> 12) + 1; n++) {
      if (t[p >>> 12] === -1) this.xlate(p === (lin & ~0xfff) ? lin : p, write, user);
      if (p === end) break;
      p = (p + 0x1000) | 0;
    }
  }

  readSlow(lin: number, size: 1 | 2 | 4, user: boolean): number {
    if ((lin & 0xfff) + size > 0x1000) {
      this.probe(lin, size, false, user);
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readSlow((lin + i) | 0, 1, user) << (8 * i);
      return v;
    }
    const t = user ? this.tlbRU : this.tlbRS;
    const e = t[lin >>> 12]!;
    if (e !== -1) {
      const o = e ^ lin;
      return this.bufRead(o, size);
    }
    const pa = this.xlate(lin, false, user);
    return this.physRead(pa, size);
  }

  writeSlow(lin: number, size: 1 | 2 | 4, v: number, user: boolean): void {
    if ((lin & 0xfff) + size > 0x1000) {
      this.probe(lin, size, true, user);
      for (let i = 0; i < size; i++) this.writeSlow((lin + i) | 0, 1, v >>> (8 * i), user);
      return;
    }
    const t = user ? this.tlbWU : this.tlbWS;
    const e = t[lin >>> 12]!;
    if (e !== -1) { this.bufWrite(e ^ lin, size, v); return; }
    const pa = this.xlate(lin, true, user);
    this.physWrite(pa, size, v);
  }

  // ---- linear memory, supervisor (descriptor tables, TSS, IDT) ----

  srd8(lin: number): number { return this.readSlow(lin, 1, false); }
  srd16(lin: number): number { return this.readSlow(lin, 2, false); }
  srd32(lin: number): number { return this.readSlow(lin, 4, false); }
  swr8(lin: number, v: number): void { this.writeSlow(lin, 1, v, false); }
  swr16(lin: number, v: number): void { this.writeSlow(lin, 2, v, false); }
  swr32(lin: number, v: number): void { this.writeSlow(lin, 4, v, false); }
}
