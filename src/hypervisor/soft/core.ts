// The soft x86 core's register file and lazy status flags (the bottom layer of SoftCpu).
//
// Registers and segment caches live in typed arrays and hold int32 values. The six status flags
// are not computed by the instruction that defines them: it records its kind, operands and
// result (`cc*`), and CF/PF/AF/ZF/SF/OF are derived when something reads them.

import {
  ARITH_FLAGS, CpuFault, FLAG_1, FLAG_CF, PARITY, FLAG_VM,
} from './defs.js';

/** Lazy-flag operation kinds. */
export const CC_ADD = 0, CC_ADC = 1, CC_SUB = 2, CC_SBB = 3, CC_LOGIC = 4, CC_INC = 5, CC_DEC = 6,
  /** ZF/SF/PF from the result; CF, OF and AF as flag bits in `ccAux` (shifts, multiplies). */
  CC_SHIFT = 7,
  /** All six flags as bits in `ccAux`. */
  CC_FLAGS = 8;

/** Operand masks by size in bytes. */
export const MASK8 = 0xff, MASK16 = 0xffff, MASK32 = -1;

/** The register file, lazy flags and fault raising. */
export class CpuCore {
  /** EAX…EDI. */
  readonly regs = new Int32Array(8);
  /** Address of the current instruction (faults restart here) and of the next one. */
  eip = 0;
  nextEip = 0;
  /** Selector, base, limit (int32 form) and attributes of ES CS SS DS FS GS LDTR TR. */
  readonly segSel = new Int32Array(8);
  readonly segBase = new Int32Array(8);
  readonly segLimit = new Int32Array(8);
  readonly segAttr = new Int32Array(8);
  /**
   * Fast-path limits: an offset `o` with `(o >>> 0) <= segRLim[s]` may be read (4 bytes) without
   * further checks; -1 sends every access to the checking slow path (null, expand-down, no
   * read or write right).
   */
  readonly segRLim = new Float64Array(8);
  readonly segWLim = new Float64Array(8);
  /**
   * ES, SS and DS have base 0 and their fast limits span 4 GiB, and the stack is 32-bit (Linux's
   * flat segments): compiled regions run only then, and address memory through these segments
   * without base or limit (jit-exprs.ts).
   */
  flatData = false;
  /** EFLAGS without the six status flags (bit 1 always set). */
  eflags = FLAG_1;
  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  /** Current privilege level. */
  cpl = 0;
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0xffff;
  readonly dr = new Int32Array(8);

  ccOp = CC_FLAGS;
  ccRes = 0;
  ccA = 0;
  ccB = 0;
  ccMask = MASK32;
  ccAux = 0;

  /** The one fault object (see CpuFault). */
  readonly fault = new CpuFault();

  // ---- faults ----

  /** Throws the fault object for `vector` (with an error code when `code` is given). */
  raise(vector: number, errorCode?: number): never {
    const f = this.fault;
    f.vector = vector;
    f.hasCode = errorCode !== undefined;
    f.errorCode = errorCode ?? 0;
    f.shutdown = false;
    throw f;
  }

  gp(code: number): never { return this.raise(13, code & 0xffff); }
  ud(): never { return this.raise(6); }

  // ---- registers ----

  getReg8(r: number): number {
    return r < 4 ? this.regs[r]! & 0xff : (this.regs[r - 4]! >> 8) & 0xff;
  }

  setReg8(r: number, v: number): void {
    const regs = this.regs;
    if (r < 4) regs[r] = (regs[r]! & ~0xff) | (v & 0xff);
    else regs[r - 4] = (regs[r - 4]! & ~0xff00) | ((v & 0xff) << 8);
  }

  setReg16(r: number, v: number): void {
    this.regs[r] = (this.regs[r]! & ~0xffff) | (v & 0xffff);
  }

  getReg32(n: number): number { return this.regs[n & 7]!; }
  setReg32(n: number, v: number): void { this.regs[n & 7] = v; }

  /** Whether EFLAGS.VM is set (virtual-8086 mode). */
  get v86(): boolean { return (this.eflags & FLAG_VM) !== 0; }

  // ---- lazy flags ----

  /** Records an arithmetic result; returns it for chaining. */
  setCc(op: number, res: number, a: number, b: number, mask: number): number {
    this.ccOp = op;
    this.ccRes = res;
    this.ccA = a;
    this.ccB = b;
    this.ccMask = mask;
    return res & mask;
  }

  /** Records a result whose CF/OF/AF are known now (`aux` holds them as EFLAGS bits). */
  setCcShift(res: number, aux: number, mask: number): void {
    this.ccOp = CC_SHIFT;
    this.ccRes = res;
    this.ccAux = aux;
    this.ccMask = mask;
  }

  getCF(): number {
    const m = this.ccMask;
    switch (this.ccOp) {
      case CC_ADD: return ((this.ccRes & m) >>> 0) < ((this.ccA & m) >>> 0) ? 1 : 0;
      case CC_ADC: {
        const r = (this.ccRes & m) >>> 0, a = (this.ccA & m) >>> 0;
        return (this.ccAux & 1) !== 0 ? (r <= a ? 1 : 0) : (r < a ? 1 : 0);
      }
      case CC_SUB: return ((this.ccA & m) >>> 0) < ((this.ccB & m) >>> 0) ? 1 : 0;
      case CC_SBB: {
        const a = (this.ccA & m) >>> 0, b = (this.ccB & m) >>> 0;
        return (this.ccAux & 1) !== 0 ? (a <= b ? 1 : 0) : (a < b ? 1 : 0);
      }
      case CC_LOGIC: return 0;
      default: return this.ccAux & 1;
    }
  }

  getOF(): number {
    const sign = this.ccMask ^ (this.ccMask >>> 1);
    switch (this.ccOp) {
      case CC_ADD: case CC_ADC: case CC_INC:
        return ((this.ccA ^ this.ccRes) & (this.ccB ^ this.ccRes) & sign) !== 0 ? 1 : 0;
      case CC_SUB: case CC_SBB: case CC_DEC:
        return ((this.ccA ^ this.ccB) & (this.ccA ^ this.ccRes) & sign) !== 0 ? 1 : 0;
      case CC_LOGIC: return 0;
      default: return (this.ccAux >> 11) & 1;
    }
  }

  getZF(): number {
    if (this.ccOp === CC_FLAGS) return (this.ccAux >> 6) & 1;
    return (this.ccRes & this.ccMask) === 0 ? 1 : 0;
  }

  getSF(): number {
    if (this.ccOp === CC_FLAGS) return (this.ccAux >> 7) & 1;
    return (this.ccRes & (this.ccMask ^ (this.ccMask >>> 1))) !== 0 ? 1 : 0;
  }

  getPF(): number {
    if (this.ccOp === CC_FLAGS) return (this.ccAux >> 2) & 1;
    return PARITY[this.ccRes & 0xff]!;
  }

  getAF(): number {
    switch (this.ccOp) {
      case CC_LOGIC: return 0;
      case CC_SHIFT: case CC_FLAGS: return (this.ccAux >> 4) & 1;
      default: return ((this.ccA ^ this.ccB ^ this.ccRes) >> 4) & 1;
    }
  }

  /** The six status flags as EFLAGS bits. */
  getArith(): number {
    if (this.ccOp === CC_FLAGS) return this.ccAux & ARITH_FLAGS;
    return this.getCF() | (this.getPF() << 2) | (this.getAF() << 4) | (this.getZF() << 6) |
      (this.getSF() << 7) | (this.getOF() << 11);
  }

  /** Replaces the six status flags. */
  setArith(flags: number): void {
    this.ccOp = CC_FLAGS;
    this.ccAux = flags & ARITH_FLAGS;
    this.ccMask = MASK32;
  }

  /** Changes only CF. */
  setCF(cf: number): void {
    this.setArith((this.getArith() & ~FLAG_CF) | (cf & 1));
  }

  /** Full EFLAGS. */
  getEflags(): number {
    return (this.eflags & ~ARITH_FLAGS) | this.getArith();
  }

  /** Condition `cc` (the low nibble of Jcc/SETcc/CMOVcc). */
  cond(cc: number): boolean {
    let r: boolean;
    if (this.ccOp === CC_SUB && this.ccMask === MASK32) {
      const a = this.ccA, b = this.ccB;
      switch (cc >> 1) {
        case 1: r = (a >>> 0) < (b >>> 0); break;
        case 2: r = a === b; break;
        case 3: r = (a >>> 0) <= (b >>> 0); break;
        case 6: r = a < b; break;
        case 7: r = a <= b; break;
        default: r = this.condSlow(cc >> 1);
      }
    } else {
      r = this.condSlow(cc >> 1);
    }
    return (cc & 1) !== 0 ? !r : r;
  }

  private condSlow(c: number): boolean {
    switch (c) {
      case 0: return this.getOF() !== 0;
      case 1: return this.getCF() !== 0;
      case 2: return this.getZF() !== 0;
      case 3: return (this.getCF() | this.getZF()) !== 0;
      case 4: return this.getSF() !== 0;
      case 5: return this.getPF() !== 0;
      case 6: return this.getSF() !== this.getOF();
      default: return this.getZF() !== 0 || this.getSF() !== this.getOF();
    }
  }
}

