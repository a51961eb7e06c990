// Contracts inside the soft accelerator: what the integer core offers the x87/SSE units and the
// platform (PIC, PIT, LAPIC, IOAPIC), and what it needs from them. Kept small so each part lives
// in its own files and can be tested alone.

/** Exception vectors (Intel SDM vol. 3, table 6-1). */
export const enum Vector {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
  TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19,
}

/**
 * Memory and fault services of the integer core, as the x87 and SSE units use them. Addresses
 * are linear (segment base already added by the core's ModRM decoding); every access may throw
 * the core's fault object (a page fault, #GP) which the core's run loop catches and delivers.
 */
export interface CoreMemory {
  read8(lin: number): number;
  read16(lin: number): number;
  read32(lin: number): number;
  write8(lin: number, v: number): void;
  write16(lin: number, v: number): void;
  write32(lin: number, v: number): void;
  /** Faults now (before any byte is written) if `[lin, lin+len)` is not writable. */
  checkWrite(lin: number, len: number): void;
  /** Faults now if `[lin, lin+len)` is not readable. */
  checkRead(lin: number, len: number): void;
}

/** What the x87/MMX and SSE units need from the core. */
export interface FpuHost extends CoreMemory {
  /** Raises an exception: never returns (throws the core's fault object). */
  raise(vector: number, errorCode?: number): never;
  readonly cr0: number;
  readonly cr4: number;
  /** General-purpose register by number (EAX=0 … EDI=7), for MOVD/PEXTRW/CVTSS2SI/PMOVMSKB. */
  getReg32(n: number): number;
  setReg32(n: number, v: number): void;
  /** Jcc-style condition `cc` (0-15) on the current EFLAGS, for FCMOVcc. */
  cond(cc: number): boolean;
  /** EFLAGS bits for COMISS/UCOMISS/FCOMI: sets ZF, PF, CF; clears OF, SF, AF. */
  setCompareFlags(zf: boolean, pf: boolean, cf: boolean): void;
  /** Code selector and EIP of the current instruction (for FSTENV/FSAVE's FIP/FCS). */
  readonly instrCs: number;
  readonly instrEip: number;
  /** Whether the operand size of the current instruction is 16 bits (FSTENV/FLDENV layouts). */
  readonly opsize16: boolean;
  /** Whether the CPU is in real or virtual-8086 mode (FSTENV layout). */
  readonly realMode: boolean;
}

/**
 * Decoded operand of one x87/SSE instruction: `ea >= 0` is a linear address, otherwise the ModRM
 * `rm` field names a register. `reg` is ModRM bits 5:3.
 */
export interface DecodedOperand {
  modrm: number;
  reg: number;
  rm: number;
  /** Linear address of the memory operand (unsigned, 0 to 0xFFFFFFFF), or -1 for a register operand. */
  ea: number;
  /** The instruction's imm8 (SSE shuffles, shifts and compares); 0 when it has none. */
  imm: number;
}

/** The interrupt controllers as one CPU sees them (PIC in legacy mode; LAPIC once enabled). */
export interface InterruptController {
  /** True when an external maskable interrupt waits for this CPU (checked when IF=1). */
  hasInterrupt(): boolean;
  /** The INTA cycle: returns the vector and moves it in service. */
  acknowledge(): number;
  /** A pending NMI (taken whatever IF says); reading it clears it. */
  takeNmi(): boolean;
}

/** Port and MMIO accesses the core cannot serve from RAM. */
export interface CpuIo {
  portRead(port: number, size: 1 | 2 | 4): number;
  portWrite(port: number, size: 1 | 2 | 4, value: number): void;
  mmioRead(gpa: number, size: 1 | 2 | 4): number;
  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void;
}
