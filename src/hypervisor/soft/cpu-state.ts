// The soft CPU's architectural state as the accelerator-neutral CpuState (KVM's shape), both
// ways: what a snapshot, a reset or a move between accelerators carries.

import type { CpuState, SegmentState } from '../vcpu.js';
import type { SoftCpu } from './cpu.js';
import { ATTR_UNUSABLE, CR0_ET, CR0_PE, EFLAGS_VALID, FLAG_1, FLAG_VM, LDTR, TR } from './defs.js';

/** The CPU's registers as CpuState. */
export function saveCpuState(c: SoftCpu): CpuState {
  const r = c.regs;
  const big = (v: number): bigint => BigInt(v >>> 0);
  const seg = (s: number): SegmentState => {
    const a = c.segAttr[s]!;
    return {
      selector: c.segSel[s]!, base: c.segBase[s]! >>> 0, limit: c.segLimit[s]! >>> 0,
      type: a & 0xf, s: (a >> 4) & 1, dpl: (a >> 5) & 3, present: (a >> 7) & 1, avl: (a >> 12) & 1,
      l: (a >> 13) & 1, db: (a >> 14) & 1, g: (a >> 15) & 1, unusable: (a & ATTR_UNUSABLE) !== 0 ? 1 : 0,
    };
  };
  return {
    rax: big(r[0]!), rcx: big(r[1]!), rdx: big(r[2]!), rbx: big(r[3]!),
    rsp: big(r[4]!), rbp: big(r[5]!), rsi: big(r[6]!), rdi: big(r[7]!),
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: big(c.eip), rflags: big(c.getEflags()),
    es: seg(0), cs: seg(1), ss: seg(2), ds: seg(3), fs: seg(4), gs: seg(5), ldt: seg(LDTR), tr: seg(TR),
    gdt: { base: c.gdtBase >>> 0, limit: c.gdtLimit & 0xffff },
    idt: { base: c.idtBase >>> 0, limit: c.idtLimit & 0xffff },
    cr0: big(c.cr0), cr2: big(c.cr2), cr3: big(c.cr3), cr4: big(c.cr4), cr8: 0n, efer: 0n,
    apicBase: big(c.apicBase),
  };
}

/** Loads registers, segment caches, descriptor tables and control registers from `s`. */
export function loadCpuState(c: SoftCpu, s: CpuState): void {
  const n = (v: bigint): number => Number(BigInt.asUintN(32, v)) | 0;
  const r = c.regs;
  r[0] = n(s.rax); r[1] = n(s.rcx); r[2] = n(s.rdx); r[3] = n(s.rbx);
  r[4] = n(s.rsp); r[5] = n(s.rbp); r[6] = n(s.rsi); r[7] = n(s.rdi);
  c.eip = n(s.rip);
  c.nextEip = c.eip;
  c.cr0 = n(s.cr0) | CR0_ET;
  c.cr2 = n(s.cr2);
  c.cr3 = n(s.cr3);
  c.cr4 = n(s.cr4);
  c.apicBase = n(s.apicBase);
  const fl = n(s.rflags);
  c.eflags = ((fl & EFLAGS_VALID) & ~0x8d5) | FLAG_1;
  c.setArith(fl);
  const segs = [s.es, s.cs, s.ss, s.ds, s.fs, s.gs, s.ldt, s.tr];
  for (let i = 0; i < 8; i++) {
    const g = segs[i]!;
    const attr = (g.type & 0xf) | ((g.s & 1) << 4) | ((g.dpl & 3) << 5) | ((g.present & 1) << 7) |
      ((g.avl & 1) << 12) | ((g.l & 1) << 13) | ((g.db & 1) << 14) | ((g.g & 1) << 15) |
      (g.unusable !== 0 ? ATTR_UNUSABLE : 0);
    c.setSegCache(i, g.selector, g.base, g.limit, attr);
  }
  c.gdtBase = s.gdt.base | 0; c.gdtLimit = s.gdt.limit & 0xffff;
  c.idtBase = s.idt.base | 0; c.idtLimit = s.idt.limit & 0xffff;
  const cpl = (c.cr0 & CR0_PE) === 0 ? 0 : (c.eflags & FLAG_VM) !== 0 ? 3 : c.segAttr[2]! >> 5 & 3;
  c.setCpl(cpl);
  c.refreshSegFast();
}
