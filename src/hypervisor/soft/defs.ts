// Architectural constants of the soft x86 core (Intel SDM vol. 1 ch. 3, vol. 3 ch. 2-7) and the
// one fault object the core throws inside an instruction and catches in its run loop.

/** General-purpose register numbers (ModRM order). */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

/** Segment register numbers (ModRM sreg order), then LDTR and TR in the same arrays. */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;

/** EFLAGS bits (SDM vol. 1, 3.4.3). */
export const FLAG_CF = 1 << 0;
export const FLAG_1 = 1 << 1;
export const FLAG_PF = 1 << 2;
export const FLAG_AF = 1 << 4;
export const FLAG_ZF = 1 << 6;
export const FLAG_SF = 1 << 7;
export const FLAG_TF = 1 << 8;
export const FLAG_IF = 1 << 9;
export const FLAG_DF = 1 << 10;
export const FLAG_OF = 1 << 11;
export const FLAG_IOPL = 3 << 12;
export const FLAG_NT = 1 << 14;
export const FLAG_RF = 1 << 16;
export const FLAG_VM = 1 << 17;
export const FLAG_AC = 1 << 18;
export const FLAG_VIF = 1 << 19;
export const FLAG_VIP = 1 << 20;
export const FLAG_ID = 1 << 21;
/** The six status flags kept lazily. */
export const ARITH_FLAGS = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
/** Bits of EFLAGS that exist on this CPU (the rest read as 0, bit 1 as 1). */
export const EFLAGS_VALID = 0x3f7fd5;

/** CR0 bits (SDM vol. 3, 2.5). */
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

/** CR4 bits implemented here. */
export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
/** CR4 bits a guest may set on this model (PAE is not offered: non-PAE P6). */
export const CR4_VALID = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_PCE |
  CR4_OSFXSR | CR4_OSXMMEXCPT;

/** Page-table entry bits (SDM vol. 3, 4.3). */
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
export const PTE_PS = 1 << 7;
export const PTE_G = 1 << 8;

/** Page-fault error code bits. */
export const PFEC_P = 1, PFEC_W = 2, PFEC_U = 4;

/**
 * Segment attribute word kept in the hidden caches, laid out like the descriptor's bits 40-55
 * shifted down (VMX access-rights layout): type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14,
 * G 15; bit 16 marks an unusable (null-loaded) segment.
 */
export const ATTR_TYPE = 0xf;
export const ATTR_S = 1 << 4;
export const ATTR_P = 1 << 7;
export const ATTR_AVL = 1 << 12;
export const ATTR_L = 1 << 13;
export const ATTR_DB = 1 << 14;
export const ATTR_G = 1 << 15;
export const ATTR_UNUSABLE = 1 << 16;
/** Type bits of code/data descriptors. */
export const TYPE_ACCESSED = 1, TYPE_WRITABLE = 2, TYPE_READABLE = 2, TYPE_EXPDOWN = 4, TYPE_CONFORMING = 4;
export const TYPE_CODE = 8;

/** System descriptor types (S=0). */
export const SYS_TSS16_AVAIL = 1, SYS_LDT = 2, SYS_TSS16_BUSY = 3, SYS_CALLGATE16 = 4, SYS_TASKGATE = 5,
  SYS_INTGATE16 = 6, SYS_TRAPGATE16 = 7, SYS_TSS32_AVAIL = 9, SYS_TSS32_BUSY = 11, SYS_CALLGATE32 = 12,
  SYS_INTGATE32 = 14, SYS_TRAPGATE32 = 15;

/** MSR numbers this model implements. */
export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_BIOS_SIGN_ID = 0x8b;
export const MSR_IA32_MTRRCAP = 0xfe;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MCG_CAP = 0x179;
export const MSR_IA32_MCG_STATUS = 0x17a;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_PHYSBASE0 = 0x200;
export const MSR_MTRR_FIX64K = 0x250;
export const MSR_MTRR_FIX16K_80000 = 0x258;
export const MSR_MTRR_FIX16K_A0000 = 0x259;
export const MSR_MTRR_FIX4K_C0000 = 0x268;
export const MSR_MTRR_FIX4K_F8000 = 0x26f;
export const MSR_IA32_PAT = 0x277;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_IA32_PLATFORM_ID = 0x17;
export const MSR_IA32_EBL_CR_POWERON = 0x2a;
export const MSR_IA32_PERFEVTSEL0 = 0x186;
export const MSR_IA32_PERFEVTSEL1 = 0x187;
export const MSR_IA32_PERFCTR0 = 0xc1;
export const MSR_IA32_PERFCTR1 = 0xc2;

/** Exception classes for the double-fault rules (SDM vol. 3, table 6-5). */
export const enum FaultClass { Benign = 0, Contributory = 1, PageFault = 2, DoubleFault = 3 }

/** Classifies an exception vector for the double-fault rules. */
export function faultClass(vector: number): FaultClass {
  if (vector === 0 || (vector >= 10 && vector <= 13)) return FaultClass.Contributory;
  if (vector === 14) return FaultClass.PageFault;
  if (vector === 8) return FaultClass.DoubleFault;
  return FaultClass.Benign;
}

/** Whether the exception pushes an error code (in protected mode). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/** The exception the core throws inside an instruction; one instance per CPU, reused. */
export class CpuFault {
  vector = 0;
  errorCode = 0;
  hasCode = false;
  /** Set when the fault is a triple fault that must stop the CPU. */
  shutdown = false;
}

/** Parity flag lookup: 1 where the byte has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, n = 0;
  while (b !== 0) { n += b & 1; b >>= 1; }
  PARITY[i] = (n & 1) === 0 ? 1 : 0;
}
