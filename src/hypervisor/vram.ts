// Display memory shared between the display card (device model), the vCPUs and the renderer.
//
// VRAM lives in the guest-RAM buffer after the ROM (memory.ts). The card's linear-framebuffer BAR
// says where the guest sees it; setLinearMapping() publishes that address in the control block,
// and from then on the CPU reads and writes VRAM there as RAM instead of exiting per access
// (soft CPU: soft/mmu.ts; KVM: a memory slot with dirty logging, kvm/vram-slot.ts). Until a CPU
// has seen the mapping, its accesses still arrive as MMIO, which the card serves over `bytes`.
//
// Which 4 KiB pages changed is kept in a shared bitmap (one bit per page, Int32 words): the soft
// CPU and device-side writers set bits with Atomics.or, takeDirty() clears the bits it reports
// with Atomics.and, so a bit set concurrently is either reported now or by the next call.

import type { ControlBlock } from './control.js';
import type { GuestRam } from './memory.js';

export const VRAM_PAGE_SHIFT = 12;
export const VRAM_PAGE = 1 << VRAM_PAGE_SHIFT;
/** The IOAPIC and LAPIC pages sit here; a BAR over them is not mapped as VRAM. */
const APIC_WINDOW_START = 0xfec0_0000;
const APIC_WINDOW_END = 0xff00_0000;

/** KVM's side of the mapping: a memory slot over VRAM with dirty logging (kvm/vram-slot.ts). */
export interface VramSlot {
  /** Places the slot at `gpa` over the first `size` bytes of VRAM (0: removes it). */
  map(gpa: number, size: number): void;
  /** ORs the pages KVM saw written since the last call into `bitmap` (clearing KVM's log). */
  collect(bitmap: Int32Array): void;
}

/** Bytes of the dirty bitmap for `vramBytes` of VRAM (at least one word). */
export function vramDirtyBytes(vramBytes: number): number {
  const pages = Math.ceil(vramBytes / VRAM_PAGE);
  return Math.max(1, Math.ceil(pages / 32)) * 4;
}

/** One thread's handle on VRAM, its guest-physical mapping and its dirty pages. */
export class VramShare {
  /** The VRAM (the same bytes as `ram.vram`). */
  readonly bytes: Uint8Array;
  /** Number of 4 KiB pages. */
  readonly pages: number;
  /** The dirty bitmap: bit p of word p>>5 for page p. */
  readonly dirtyWords: Int32Array;

  constructor(readonly ram: GuestRam, readonly control: ControlBlock, dirty: SharedArrayBuffer,
    private readonly slot: VramSlot | null = null) {
    this.bytes = ram.vram;
    this.pages = this.bytes.length >>> VRAM_PAGE_SHIFT;
    this.dirtyWords = new Int32Array(dirty);
    if (this.dirtyWords.length * 32 < this.pages) throw new Error('VRAM dirty bitmap too small for the VRAM');
  }

  /** A dirty bitmap for `vramBytes` of VRAM. */
  static allocateDirty(vramBytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(vramDirtyBytes(vramBytes));
  }

  /** Guest-physical base of the linear framebuffer (0: unmapped). */
  get base(): number { return this.control.vramBase(); }
  /** Bytes of VRAM mapped there. */
  get size(): number { return this.control.vramSize(); }

  /**
   * Maps the first `size` bytes of VRAM at guest-physical `gpa` (the LFB BAR's base; 0 unmaps).
   * Takes what the guest programmed, so it never throws for guest values: a base that is not
   * page-aligned, runs past 4 GiB or overlaps RAM or ROM leaves VRAM unmapped (then the card's
   * MMIO region serves the BAR), and the size is cut to whole pages of the VRAM there is.
   */
  setLinearMapping(gpa: number, size: number): void {
    let base = Number.isInteger(gpa) && gpa > 0 && gpa % VRAM_PAGE === 0 ? gpa : 0;
    let bytes = Number.isInteger(size) && size > 0 ? Math.min(size, this.bytes.length) : 0;
    bytes -= bytes % VRAM_PAGE;
    if (bytes === 0 || base + bytes > 2 ** 32 || this.overlapsMemory(base, bytes)) { base = 0; bytes = 0; }
    if (base === this.control.vramBase() && bytes === this.control.vramSize()) return;
    // KVM: the slot moves here. Soft CPU: it reads the control words at its next check.
    if (this.slot !== null) {
      // The old slot's log goes into the bitmap before the slot moves.
      if (this.control.vramSize() !== 0) this.slot.collect(this.dirtyWords);
      try {
        this.slot.map(base, bytes);
      } catch {
        // KVM refused the place (another slot there): the BAR is served as MMIO instead.
        base = 0; bytes = 0;
        this.slot.map(0, 0);
      }
    }
    this.control.setVramMapping(base, bytes);
  }

  /** Marks `[offset, offset+len)` of VRAM changed (device-side writes: MMIO path, blits). */
  markDirty(offset: number, len: number): void {
    if (!(len > 0) || !(offset < this.bytes.length) || offset + len <= 0) return;
    const first = Math.max(0, Math.floor(offset)) >>> VRAM_PAGE_SHIFT;
    const last = (Math.min(this.bytes.length, Math.ceil(offset + len)) - 1) >>> VRAM_PAGE_SHIFT;
    const w = this.dirtyWords;
    for (let p = first; p <= last;) {
      const word = p >>> 5;
      const lo = p & 31;
      const hi = Math.min(31, lo + (last - p));
      const bits = hi === 31 && lo === 0 ? -1 : (((1 << (hi - lo)) * 2 - 1) << lo);
      if ((w[word]! & bits) !== bits) Atomics.or(w, word, bits);
      p += hi - lo + 1;
    }
  }

  /**
   * Sets out[p] to 1 for every page written since the last call and to 0 for the others (for
   * p < min(out.length, pages)), and forgets them; true when any page was dirty. Folds in KVM's
   * dirty log. Pages beyond `out` stay dirty.
   */
  takeDirty(out: Uint8Array): boolean {
    if (this.slot !== null && this.control.vramSize() !== 0) this.slot.collect(this.dirtyWords);
    const w = this.dirtyWords;
    const n = Math.min(out.length, this.pages);
    let any = false;
    for (let word = 0; word * 32 < n; word++) {
      const lo = word * 32;
      const count = Math.min(32, n - lo);
      const mask = count === 32 ? -1 : (1 << count) - 1;
      let bits = 0;
      if ((w[word]! & mask) !== 0) bits = Atomics.and(w, word, ~mask) & mask;
      for (let i = 0; i < count; i++) out[lo + i] = (bits >>> i) & 1;
      if (bits !== 0) any = true;
    }
    // The soft CPU caches write translations only for pages whose bit is set; tell it they went.
    if (any) this.control.bumpVramGeneration();
    return any;
  }

  /** Whether `[gpa, gpa+len)` touches RAM, ROM or the IOAPIC/LAPIC window (which win on a PC). */
  private overlapsMemory(gpa: number, len: number): boolean {
    const l = this.ram.layout;
    const end = gpa + len;
    if (gpa < l.lowRamBytes) return true;
    if (l.romBytes > 0 && end > this.ram.romBase) return true;
    return end > APIC_WINDOW_START && gpa < APIC_WINDOW_END;
  }
}

/** What a soft vCPU does when the VRAM generation moves (soft/mmu.ts). */
export interface VramMapper {
  vramChanged(base: number, size: number): void;
}

/**
 * The soft vCPU thread's side: one compare of the generation word per check (after every exit
 * and once per run slice — the mapping only moves through an exit, and writes made through a
 * stale write entry are marked dirty again when the CPU drops it), passing a new mapping or a
 * taken bitmap to the CPU.
 */
export class VramWatch {
  private seen: number;

  constructor(private readonly control: ControlBlock, private readonly cpu: VramMapper) {
    this.seen = control.vramGeneration();
    cpu.vramChanged(control.vramBase(), control.vramSize());
  }

  sync(): void {
    const g = this.control.vramGeneration();
    if (g === this.seen) return;
    this.seen = g;
    this.cpu.vramChanged(this.control.vramBase(), this.control.vramSize());
  }
}
