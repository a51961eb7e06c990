// Intel 8042 keyboard controller as on the IBM PC/AT (IBM AT Technical Reference, "Keyboard
// Controller"; command set as Linux's drivers/input/serio/i8042.h spells it), with a PS/2
// keyboard (ps2-keyboard.ts) and mouse (ps2-mouse.ts) on its two ports.
//
// Two regions: the data port (0x60) and the command/status port (0x64). The controller owns one
// output buffer; it is refilled from the controller's own responses first, then the keyboard's
// queue, then the mouse's. With CTR_XLATE set, keyboard bytes pass through the 8042's set 2 ->
// set 1 translation on their way into the output buffer (0xF0 is swallowed and sets bit 7 of
// the next byte), whatever set the keyboard is in, as on the real chip.

import type { AccessSize, Device, IoRegion, IrqLine, SystemControl } from './api.js';
import { expectInt, expectRecord } from './api.js';
import { expectBool, expectBytes } from './byte-ring.js';
import { Ps2Keyboard, SET2_TO_SET1, type Ps2KeyboardState } from './ps2-keyboard.js';
import { Ps2Mouse, type Ps2MouseState } from './ps2-mouse.js';

// Status register (read at 0x64).
const STR_OBF = 0x01;     // output buffer full
const STR_IBF = 0x02;     // input buffer full (commands complete at once, so never set)
const STR_SYS = 0x04;     // system flag (self-test passed / CTR bit 2)
const STR_A2 = 0x08;      // last write was to the command port
const STR_INH = 0x10;     // 1 = keyboard not inhibited (keylock)
const STR_AUXOBF = 0x20;  // output buffer holds aux (mouse) data

// Controller command byte (CTR, internal RAM byte 0).
const CTR_KBDINT = 0x01;  // IRQ 1 on keyboard data
const CTR_AUXINT = 0x02;  // IRQ 12 on aux data
const CTR_SYS = 0x04;
const CTR_KBDDIS = 0x10;  // keyboard interface disabled
const CTR_AUXDIS = 0x20;  // aux interface disabled
const CTR_XLATE = 0x40;   // translate set 2 to set 1
const CTR_DEFAULT = CTR_KBDINT | CTR_AUXINT;

// Controller commands (written to 0x64).
const CMD_CTL_RCTR = 0x20;   // 0x20..0x3f read internal RAM
const CMD_CTL_WCTR = 0x60;   // 0x60..0x7f write internal RAM (+1 byte)
const CMD_PASSWORD_TEST = 0xa4;
const CMD_AUX_DISABLE = 0xa7;
const CMD_AUX_ENABLE = 0xa8;
const CMD_AUX_TEST = 0xa9;
const CMD_CTL_TEST = 0xaa;
const CMD_KBD_TEST = 0xab;
const CMD_KBD_DISABLE = 0xad;
const CMD_KBD_ENABLE = 0xae;
const CMD_READ_OUTPORT = 0xd0;
const CMD_WRITE_OUTPORT = 0xd1;
const CMD_KBD_LOOP = 0xd2;   // next data byte appears as keyboard output
const CMD_AUX_LOOP = 0xd3;   // next data byte appears as aux output
const CMD_AUX_SEND = 0xd4;   // next data byte goes to the aux device
const CMD_A20_DISABLE = 0xdd;
const CMD_A20_ENABLE = 0xdf;
const CMD_READ_TEST_INPUTS = 0xe0;
const CMD_PULSE_FIRST = 0xf0; // 0xf0..0xff pulse output-port bits 0-3 low for each clear bit
const RAM_SIZE = 32;
const RAM_INDEX_MASK = 0x1f;

// Responses.
const CTL_TEST_OK = 0x55;
const IF_TEST_OK = 0x00;
const PASSWORD_NOT_INSTALLED = 0xf1;

// Output port (0xd0/0xd1).
const OUT_RESET = 0x01;   // active low: writing 0 resets the CPU
const OUT_A20 = 0x02;
const OUT_OBF = 0x10;     // mirrors keyboard OBF
const OUT_AUXOBF = 0x20;  // mirrors aux OBF
const OUT_DEFAULT = OUT_RESET | OUT_A20;
const OUT_STORED = 0xff & ~(OUT_OBF | OUT_AUXOBF);

/** Controller responses not yet read (each command answers at most one byte). */
const CTRL_QUEUE_MAX = 8;
/** Tags a controller-queue entry as aux data. */
const FROM_AUX = 0x100;
/** The set 2 break prefix the translator folds into the next byte's bit 7. */
const SET2_BREAK = 0xf0;
const SET1_BREAK = 0x80;

const enum Source { None = 0, Kbd = 1, Aux = 2 }

/** Saved state of the controller and its two devices. */
export interface I8042State {
  ram: number[]; sys: boolean; a2: boolean; outBuf: number; obf: number; pendingCmd: number;
  outport: number; ctrlQueue: number[]; xlateBreak: boolean; kbd: Ps2KeyboardState; aux: Ps2MouseState;
}

/** The 8042 keyboard controller: data port region, then command/status port region. */
export class I8042 implements Device<I8042State> {
  readonly stateVersion = 2;
  readonly dataRegion: IoRegion;
  readonly commandRegion: IoRegion;
  readonly keyboard = new Ps2Keyboard();
  readonly mouse = new Ps2Mouse();

  /** Internal RAM; byte 0 is the command byte (CTR). */
  private readonly ram = new Uint8Array(RAM_SIZE);
  private sys = false;
  private a2 = false;
  private outBuf = 0;
  private obf: Source = Source.None;
  /** A controller command waiting for its data byte, or -1. */
  private pendingCmd = -1;
  private outport = OUT_DEFAULT;
  /** Controller responses and D2/D3 loop bytes (FROM_AUX tags aux data). */
  private ctrlQueue: number[] = [];
  /** The translator swallowed a set 2 break prefix (0xF0): the next byte gets bit 7. */
  private xlateBreak = false;
  private kbdLevel = false;
  private auxLevel = false;

  constructor(readonly id: string, private readonly kbdIrq: IrqLine, private readonly auxIrq: IrqLine,
              private readonly system: SystemControl) {
    this.dataRegion = {
      name: `${id}-data`, size: 1,
      read: (_o, size) => this.widen(this.readData(), size),
      write: (_o, _s, value) => this.writeData(value & 0xff),
    };
    this.commandRegion = {
      name: `${id}-cmd`, size: 1,
      read: (_o, size) => this.widen(this.readStatus(), size),
      write: (_o, _s, value) => this.writeCommand(value & 0xff),
    };
    this.ram[0] = CTR_DEFAULT;
  }

  private get ctr(): number { return this.ram[0]!; }
  private set ctr(v: number) { this.ram[0] = v; }

  reset(): void {
    this.ram.fill(0);
    this.ctr = CTR_DEFAULT;
    this.sys = false;
    this.a2 = false;
    this.outBuf = 0;
    this.obf = Source.None;
    this.pendingCmd = -1;
    this.outport = OUT_DEFAULT;
    this.ctrlQueue = [];
    this.xlateBreak = false;
    this.keyboard.reset();
    this.mouse.reset();
    this.updateIrq();
  }

  /** A wider read of a one-port register: the upper bytes float high. */
  private widen(v: number, size: AccessSize): number {
    return size === 1 ? v : size === 2 ? (0xff00 | v) : (0xffffff00 | v) >>> 0;
  }

  private readStatus(): number {
    let s = STR_INH;
    if (this.obf !== Source.None) s |= STR_OBF;
    if (this.obf === Source.Aux) s |= STR_AUXOBF;
    if (this.sys) s |= STR_SYS;
    if (this.a2) s |= STR_A2;
    // STR_IBF stays clear: every write is consumed at once.
    return s;
  }

  private readData(): number {
    const v = this.outBuf; // an empty buffer reads its last value, as the chip's latch does
    if (this.obf !== Source.None) {
      this.obf = Source.None;
      // Drop the lines before refilling so the next byte is a fresh edge for the 8259.
      this.updateIrq();
      this.refill();
      this.updateIrq();
    }
    return v;
  }

  private writeData(v: number): void {
    this.a2 = false;
    const cmd = this.pendingCmd;
    this.pendingCmd = -1;
    if (cmd >= CMD_CTL_WCTR && cmd < CMD_CTL_WCTR + RAM_SIZE) {
      this.ram[cmd & RAM_INDEX_MASK] = v;
      if ((cmd & RAM_INDEX_MASK) === 0) this.sys = (v & CTR_SYS) !== 0;
    } else if (cmd === CMD_WRITE_OUTPORT) {
      this.writeOutport(v);
    } else if (cmd === CMD_KBD_LOOP) {
      this.respond(v);
    } else if (cmd === CMD_AUX_LOOP) {
      this.respond(v | FROM_AUX);
    } else if (cmd === CMD_AUX_SEND) {
      this.mouse.receive(v);
    } else {
      this.keyboard.receive(v);
    }
    this.refill();
    this.updateIrq();
  }

  private writeCommand(cmd: number): void {
    this.a2 = true;
    this.pendingCmd = -1;
    if (cmd >= CMD_CTL_RCTR && cmd < CMD_CTL_RCTR + RAM_SIZE) {
      this.respond(this.ram[cmd & RAM_INDEX_MASK]!);
    } else if ((cmd >= CMD_CTL_WCTR && cmd < CMD_CTL_WCTR + RAM_SIZE)
      || cmd === CMD_WRITE_OUTPORT || cmd === CMD_KBD_LOOP || cmd === CMD_AUX_LOOP || cmd === CMD_AUX_SEND) {
      this.pendingCmd = cmd;
    } else if (cmd >= CMD_PULSE_FIRST) {
      // Bit 0 clear in the mask pulses the reset line (0xfe is the usual one).
      if ((cmd & OUT_RESET) === 0) this.system.reset();
    } else {
      this.controllerCommand(cmd);
    }
    this.refill();
    this.updateIrq();
  }

  private controllerCommand(cmd: number): void {
    switch (cmd) {
      case CMD_PASSWORD_TEST: this.respond(PASSWORD_NOT_INSTALLED); return;
      case CMD_AUX_DISABLE: this.ctr |= CTR_AUXDIS; return;
      case CMD_AUX_ENABLE: this.ctr &= ~CTR_AUXDIS; return;
      case CMD_AUX_TEST: this.respond(IF_TEST_OK); return;
      case CMD_CTL_TEST: this.sys = true; this.respond(CTL_TEST_OK); return;
      case CMD_KBD_TEST: this.respond(IF_TEST_OK); return;
      case CMD_KBD_DISABLE: this.ctr |= CTR_KBDDIS; return;
      case CMD_KBD_ENABLE: this.ctr &= ~CTR_KBDDIS; return;
      case CMD_READ_OUTPORT: {
        let v = this.outport;
        if (this.obf === Source.Kbd) v |= OUT_OBF;
        if (this.obf === Source.Aux) v |= OUT_AUXOBF;
        this.respond(v);
        return;
      }
      case CMD_A20_DISABLE: this.outport &= ~OUT_A20; return;
      case CMD_A20_ENABLE: this.outport |= OUT_A20; return;
      case CMD_READ_TEST_INPUTS: this.respond(0); return;
      default: return; // unknown commands are ignored, as the 8042 firmware does
    }
  }

  private writeOutport(v: number): void {
    this.outport = v & OUT_STORED;
    // The output port's bit 0 drives the CPU reset line, active low. A20 is not gated: the
    // guest sees A20 always enabled, whatever it writes to bit 1.
    if ((v & OUT_RESET) === 0) this.system.reset();
  }

  private respond(tagged: number): void {
    if (this.ctrlQueue.length < CTRL_QUEUE_MAX) this.ctrlQueue.push(tagged);
  }

  /** Fills an empty output buffer: controller bytes, then keyboard, then mouse. */
  private refill(): void {
    if (this.obf !== Source.None) return;
    const c = this.ctrlQueue.shift();
    if (c !== undefined) {
      this.outBuf = c & 0xff;
      this.obf = (c & FROM_AUX) ? Source.Aux : Source.Kbd;
      return;
    }
    if (!(this.ctr & CTR_KBDDIS)) {
      // Bounded by the keyboard queue: each pass consumes a byte.
      while (this.keyboard.out.length > 0) {
        const b = this.keyboard.out.shift();
        if (!(this.ctr & CTR_XLATE)) { this.outBuf = b; this.obf = Source.Kbd; return; }
        if (b === SET2_BREAK) { this.xlateBreak = true; continue; }
        this.outBuf = SET2_TO_SET1[b]! | (this.xlateBreak ? SET1_BREAK : 0);
        this.xlateBreak = false;
        this.obf = Source.Kbd;
        return;
      }
    }
    if (!(this.ctr & CTR_AUXDIS)) {
      this.mouse.flush();
      if (this.mouse.out.length > 0) {
        this.outBuf = this.mouse.out.shift();
        this.obf = Source.Aux;
      }
    }
  }

  /** A host key event (set 1 code, DISPLAY-SPEC); the guest gets it as IRQ 1 data. */
  sendKey(code: number, down: boolean): void {
    this.keyboard.key(code, down);
    this.refill();
    this.updateIrq();
  }

  /** Host pointer motion (dy positive = down), wheel clicks and buttons; IRQ 12 data. */
  sendPointer(dx: number, dy: number, dz: number, buttons: number): void {
    this.mouse.move(dx, dy, dz, buttons);
    this.refill();
    this.updateIrq();
  }

  /** IRQ 1 while keyboard data waits and CTR_KBDINT; IRQ 12 likewise for aux data. */
  private updateIrq(): void {
    const kbd = this.obf === Source.Kbd && (this.ctr & CTR_KBDINT) !== 0;
    const aux = this.obf === Source.Aux && (this.ctr & CTR_AUXINT) !== 0;
    if (kbd !== this.kbdLevel) { this.kbdLevel = kbd; this.kbdIrq.set(kbd); }
    if (aux !== this.auxLevel) { this.auxLevel = aux; this.auxIrq.set(aux); }
  }

  /** The command byte's translation bit (set 2 -> set 1). */
  get translating(): boolean { return (this.ctr & CTR_XLATE) !== 0; }

  saveState(): I8042State {
    return {
      ram: Array.from(this.ram), sys: this.sys, a2: this.a2, outBuf: this.outBuf, obf: this.obf,
      pendingCmd: this.pendingCmd, outport: this.outport, ctrlQueue: [...this.ctrlQueue],
      xlateBreak: this.xlateBreak, kbd: this.keyboard.save(), aux: this.mouse.save(),
    };
  }

  loadState(state: unknown, version: number): void {
    if (version !== this.stateVersion) throw new Error(`${this.id}: unsupported i8042 state version ${version}`);
    const s = expectRecord(state, this.id);
    const ram = expectBytes(s, 'ram', RAM_SIZE);
    if (ram.length !== RAM_SIZE) throw new Error(`bad device state: ram must hold ${RAM_SIZE} bytes`);
    const sys = expectBool(s, 'sys');
    const a2 = expectBool(s, 'a2');
    const outBuf = expectInt(s, 'outBuf', 0, 0xff);
    const obf = expectInt(s, 'obf', Source.None, Source.Aux) as Source;
    const pendingCmd = expectInt(s, 'pendingCmd', -1, 0xff);
    const outport = expectInt(s, 'outport', 0, OUT_STORED);
    const xlateBreak = expectBool(s, 'xlateBreak');
    const cq = s['ctrlQueue'];
    if (!Array.isArray(cq) || cq.length > CTRL_QUEUE_MAX
      || !(cq as unknown[]).every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= (FROM_AUX | 0xff))) {
      throw new Error('bad device state: ctrlQueue');
    }
    // Validate both devices on scratch copies before touching the live ones.
    const kbdState = expectRecord(s['kbd'], `${this.id}.kbd`);
    const auxState = expectRecord(s['aux'], `${this.id}.aux`);
    new Ps2Keyboard().load(kbdState);
    new Ps2Mouse().load(auxState);
    this.ram.set(ram);
    this.sys = sys; this.a2 = a2; this.outBuf = outBuf; this.obf = obf; this.pendingCmd = pendingCmd;
    this.outport = outport;
    this.ctrlQueue = [...(cq as number[])];
    this.xlateBreak = xlateBreak;
    this.keyboard.load(kbdState);
    this.mouse.load(auxState);
    this.kbdLevel = false; this.auxLevel = false;
    this.kbdIrq.set(false); this.auxIrq.set(false);
    this.updateIrq();
  }
}
