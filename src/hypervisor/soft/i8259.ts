// The 8259A programmable interrupt controller pair of a PC (Intel 8259A datasheet, order 231468):
// master at 0x20/0x21, slave at 0xA0/0xA1 cascaded on master IR2, plus the PIIX3 edge/level
// control registers (ELCR, ports 0x4D0/0x4D1). Served on the soft CPU's thread.
//
// Model choices: an edge line latches its IRR bit on a rising edge and keeps it until INTA even
// if the line falls again (a pulse that came and went is still an interrupt, as the device model
// reports pulses); a level line's IRR bit follows the line, so a request that vanishes before
// INTA yields the spurious IRQ 7 (or 15: the master's IR2 latched the slave's INT as an edge, so
// the master acknowledges IR2 and the slave has nothing to give). Special fully nested mode is
// not modelled.

/** ICW1 (written to the even port with bit 4 set). */
const ICW1_IC4 = 0x01;    // ICW4 will follow
const ICW1_SNGL = 0x02;   // single chip, no ICW3
const ICW1_LTIM = 0x08;   // level-triggered mode for every input of this chip
const ICW1_INIT = 0x10;   // marks the word as ICW1
/** ICW4. */
const ICW4_AEOI = 0x02;   // automatic end of interrupt
/** OCW2 (even port, bits 4:3 = 00): bits 7:5 select the command, bits 2:0 the level. */
const OCW2_ROTATE_AEOI_CLEAR = 0;
const OCW2_EOI = 1;
const OCW2_NOP = 2;
const OCW2_SPECIFIC_EOI = 3;
const OCW2_ROTATE_AEOI_SET = 4;
const OCW2_ROTATE_EOI = 5;
const OCW2_SET_PRIORITY = 6;
const OCW2_ROTATE_SPECIFIC_EOI = 7;
/** OCW3 (even port, bits 4:3 = 01). */
const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01;    // read ISR (else IRR) on the next even-port read
const OCW3_RR = 0x02;     // RIS is valid
const OCW3_POLL = 0x04;   // the next read is a poll (an INTA in disguise)
const OCW3_SMM = 0x20;    // special mask mode value
const OCW3_ESMM = 0x40;   // SMM is valid
/** Poll word: bit 7 set when an interrupt was pending, bits 2:0 its level. */
const POLL_INT = 0x80;
/** PIIX3 ELCR: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered. */
const ELCR_MASK_MASTER = 0xf8;
const ELCR_MASK_SLAVE = 0xde;
/** The master input the slave's INT drives. */
const CASCADE_IR = 2;
/** Priority returned when no bit is set. */
const NO_PRIORITY = 8;

/** Saved state of one 8259A. */
export interface I8259ChipState {
  irr: number; isr: number; imr: number; lines: number; elcr: number;
  base: number; priorityAdd: number; initStep: number; icw4: boolean; single: boolean; ltim: boolean;
  autoEoi: boolean; rotateOnAutoEoi: boolean; readIsr: boolean; poll: boolean; specialMask: boolean;
}

/** Saved state of the PIC pair. */
export interface I8259State { stateVersion: number; master: I8259ChipState; slave: I8259ChipState }

/** One 8259A chip. */
class Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current input levels (for edge detection and level-triggered IRR). */
  lines = 0;
  elcr = 0;
  base = 0;
  /** The level with the highest priority is `priorityAdd` (rotation). */
  priorityAdd = 0;
  /** 0: ready for OCWs; 1: expecting ICW2; 2: ICW3; 3: ICW4. */
  initStep = 0;
  icw4 = false;
  single = false;
  ltim = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  readIsr = false;
  poll = false;
  specialMask = false;

  constructor(private readonly elcrMask: number) {}

  /** Inputs that are level-triggered. */
  levelMask(): number { return this.ltim ? 0xff : this.elcr; }

  setLine(n: number, level: boolean): void {
    const bit = 1 << n;
    if (level) {
      if ((this.levelMask() & bit) !== 0 || (this.lines & bit) === 0) this.irr |= bit;
      this.lines |= bit;
    } else {
      if ((this.levelMask() & bit) !== 0) this.irr &= ~bit;
      this.lines &= ~bit;
    }
  }

  /** Priority (0 = highest) of the best bit of `mask`, or NO_PRIORITY. */
  priority(mask: number): number {
    for (let p = 0; p < 8; p++) if ((mask & (1 << ((p + this.priorityAdd) & 7))) !== 0) return p;
    return NO_PRIORITY;
  }

  /** The level this chip would present at INTA now, or -1 (its INT output is low). */
  pending(): number {
    const req = this.priority(this.irr & ~this.imr);
    if (req === NO_PRIORITY) return -1;
    const inService = this.priority(this.specialMask ? this.isr & ~this.imr : this.isr);
    return req < inService ? (req + this.priorityAdd) & 7 : -1;
  }

  /** INTA for level `n`: moves it in service (or rotates in auto-EOI), clears an edge request. */
  intack(n: number): void {
    const bit = 1 << n;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (n + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if ((this.levelMask() & bit) === 0) this.irr &= ~bit;
  }

  /** A poll read: acknowledge the pending level if any. */
  pollRead(): number {
    const n = this.pending();
    if (n < 0) return 0;
    this.intack(n);
    return POLL_INT | n;
  }

  /** ICW1: restart initialisation. */
  icw1(v: number): void {
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.icw4 = (v & ICW1_IC4) !== 0;
    this.single = (v & ICW1_SNGL) !== 0;
    this.ltim = (v & ICW1_LTIM) !== 0;
    // The edge sense latch is reset: a line already high must fall and rise again.
    this.irr = this.lines & this.levelMask();
    this.initStep = 1;
  }

  writeCommand(v: number): void {
    if ((v & ICW1_INIT) !== 0) { this.icw1(v); return; }
    if ((v & OCW3_SELECT) !== 0) {
      if ((v & OCW3_POLL) !== 0) this.poll = true;
      if ((v & OCW3_RR) !== 0) this.readIsr = (v & OCW3_RIS) !== 0;
      if ((v & OCW3_ESMM) !== 0) this.specialMask = (v & OCW3_SMM) !== 0;
      return;
    }
    const level = v & 7;
    switch (v >> 5) {
      case OCW2_ROTATE_AEOI_CLEAR: this.rotateOnAutoEoi = false; break;
      case OCW2_ROTATE_AEOI_SET: this.rotateOnAutoEoi = true; break;
      case OCW2_EOI:
      case OCW2_ROTATE_EOI: {
        const p = this.priority(this.isr);
        if (p === NO_PRIORITY) break;
        const n = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << n);
        if (v >> 5 === OCW2_ROTATE_EOI) this.priorityAdd = (n + 1) & 7;
        break;
      }
      case OCW2_SPECIFIC_EOI: this.isr &= ~(1 << level); break;
      case OCW2_ROTATE_SPECIFIC_EOI: this.isr &= ~(1 << level); this.priorityAdd = (level + 1) & 7; break;
      case OCW2_SET_PRIORITY: this.priorityAdd = (level + 1) & 7; break;
      case OCW2_NOP: break;
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 1:
        this.base = v & 0xf8;
        this.initStep = this.single ? (this.icw4 ? 3 : 0) : 2;
        return;
      case 2:
        // ICW3 (cascade wiring) is fixed by the board.
        this.initStep = this.icw4 ? 3 : 0;
        return;
      case 3:
        this.autoEoi = (v & ICW4_AEOI) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  readCommand(): number {
    if (this.poll) { this.poll = false; return this.pollRead(); }
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    if (this.poll) { this.poll = false; return this.pollRead(); }
    return this.imr;
  }

  writeElcr(v: number): void {
    this.elcr = v & this.elcrMask;
    // A line that became level-triggered reports its current level.
    const lm = this.levelMask();
    this.irr = (this.irr & ~lm) | (this.lines & lm);
  }

  save(): I8259ChipState {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, lines: this.lines, elcr: this.elcr, base: this.base,
      priorityAdd: this.priorityAdd, initStep: this.initStep, icw4: this.icw4, single: this.single,
      ltim: this.ltim, autoEoi: this.autoEoi, rotateOnAutoEoi: this.rotateOnAutoEoi, readIsr: this.readIsr,
      poll: this.poll, specialMask: this.specialMask,
    };
  }

  load(s: I8259ChipState): void {
    this.irr = s.irr; this.isr = s.isr; this.imr = s.imr; this.lines = s.lines; this.elcr = s.elcr & this.elcrMask;
    this.base = s.base & 0xf8; this.priorityAdd = s.priorityAdd; this.initStep = s.initStep; this.icw4 = s.icw4;
    this.single = s.single; this.ltim = s.ltim; this.autoEoi = s.autoEoi; this.rotateOnAutoEoi = s.rotateOnAutoEoi;
    this.readIsr = s.readIsr; this.poll = s.poll; this.specialMask = s.specialMask;
  }
}

function isByte(v: unknown): v is number { return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xff; }

function checkChip(s: unknown, what: string): I8259ChipState {
  if (typeof s !== 'object' || s === null) throw new Error(`i8259 state: ${what} is not an object`);
  const r = s as Record<string, unknown>;
  for (const k of ['irr', 'isr', 'imr', 'lines', 'elcr', 'base', 'priorityAdd', 'initStep']) {
    if (!isByte(r[k])) throw new Error(`i8259 state: ${what}.${k} is not a byte`);
  }
  for (const k of ['icw4', 'single', 'ltim', 'autoEoi', 'rotateOnAutoEoi', 'readIsr', 'poll', 'specialMask']) {
    if (typeof r[k] !== 'boolean') throw new Error(`i8259 state: ${what}.${k} is not a boolean`);
  }
  if ((r['priorityAdd'] as number) > 7 || (r['initStep'] as number) > 3) throw new Error(`i8259 state: ${what} out of range`);
  return r as unknown as I8259ChipState;
}

/** The cascaded 8259A pair; `intr` is the master's INT output to the CPU. */
export class I8259 {
  static readonly stateVersion = 1;
  private readonly master = new Chip(ELCR_MASK_MASTER);
  private readonly slave = new Chip(ELCR_MASK_SLAVE);
  /** The master's INT output (recomputed after every change). */
  intr = false;

  /** Drives ISA line `line` (0..15); line 2 is the cascade and ignored. */
  setIrq(line: number, level: boolean): void {
    if (line < 0 || line > 15 || line === CASCADE_IR) return;
    if (line < 8) this.master.setLine(line, level);
    else this.slave.setLine(line - 8, level);
    this.updateIrq();
  }

  /** Recomputes the cascade input and the INT output. */
  private updateIrq(): void {
    this.master.setLine(CASCADE_IR, this.slave.pending() >= 0);
    this.intr = this.master.pending() >= 0;
  }

  /** The INTA cycle: the vector of the best request, moved in service; spurious 7/15 if none. */
  acknowledge(): number {
    let vector: number;
    const n = this.master.pending();
    if (n < 0) {
      vector = this.master.base + 7;
    } else {
      this.master.intack(n);
      if (n === CASCADE_IR) {
        const s = this.slave.pending();
        if (s < 0) {
          vector = this.slave.base + 7;
        } else {
          this.slave.intack(s);
          vector = this.slave.base + s;
          // The slave's INT stayed high (auto-EOI, special mask): its next request still needs
          // the master, which would otherwise wait for an edge that never comes.
          if (this.slave.pending() >= 0) this.master.irr |= 1 << CASCADE_IR;
        }
      } else {
        vector = this.master.base + n;
      }
    }
    this.updateIrq();
    return vector;
  }

  /** Port read: 0x20/0x21, 0xA0/0xA1, 0x4D0/0x4D1. */
  read(port: number): number {
    let v = 0xff;
    switch (port) {
      case 0x20: v = this.master.readCommand(); break;
      case 0x21: v = this.master.readData(); break;
      case 0xa0: v = this.slave.readCommand(); break;
      case 0xa1: v = this.slave.readData(); break;
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
      default: return 0xff;
    }
    this.updateIrq();
    return v;
  }

  /** Port write: 0x20/0x21, 0xA0/0xA1, 0x4D0/0x4D1. */
  write(port: number, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case 0x20: this.master.writeCommand(v); break;
      case 0x21: this.master.writeData(v); break;
      case 0xa0: this.slave.writeCommand(v); break;
      case 0xa1: this.slave.writeData(v); break;
      case 0x4d0: this.master.writeElcr(v); break;
      case 0x4d1: this.slave.writeElcr(v); break;
      default: return;
    }
    this.updateIrq();
  }

  saveState(): I8259State {
    return { stateVersion: I8259.stateVersion, master: this.master.save(), slave: this.slave.save() };
  }

  /** Validates everything first, then loads. */
  loadState(s: I8259State): void {
    if (typeof s !== 'object' || s === null || s.stateVersion !== I8259.stateVersion) {
      throw new Error('i8259 state: unsupported version');
    }
    const m = checkChip(s.master, 'master');
    const sl = checkChip(s.slave, 'slave');
    this.master.load(m);
    this.slave.load(sl);
    this.updateIrq();
  }
}
