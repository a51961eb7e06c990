// A PS/2 mouse (IBM PS/2 Mouse Technical Reference: "Commands", "Data Report") with Microsoft's
// IntelliMouse wheel extension: setting the sample rate to 200, 100, 80 in a row switches the
// device ID to 3 and its packets to four bytes, the fourth carrying the wheel.
//
// Host motion arrives as relative deltas (dy positive = down, as on screen); PS/2 reports y
// positive = up. Resolution is stored and reported but does not scale host deltas (a host pixel
// is one count whatever the guest chose, as QEMU does), so absolute-to-relative tracking in the
// VNC server stays exact.

import { expectInt } from './api.js';
import { ByteRing, expectBool, expectBytes } from './byte-ring.js';

const PS2_ACK = 0xfa;
const PS2_RESEND = 0xfe;
const PS2_BAT_OK = 0xaa;

// Commands (host -> mouse).
const AUX_CMD_SET_SCALE11 = 0xe6;
const AUX_CMD_SET_SCALE21 = 0xe7;
const AUX_CMD_SET_RES = 0xe8;
const AUX_CMD_GETINFO = 0xe9;   // status request: ACK, status, resolution, sample rate
const AUX_CMD_SET_STREAM = 0xea;
const AUX_CMD_READ_DATA = 0xeb; // remote mode poll: ACK, then one packet
const AUX_CMD_RESET_WRAP = 0xec;
const AUX_CMD_SET_WRAP = 0xee;
const AUX_CMD_SET_REMOTE = 0xf0;
const AUX_CMD_GETID = 0xf2;
const AUX_CMD_SET_RATE = 0xf3;
const AUX_CMD_ENABLE = 0xf4;
const AUX_CMD_DISABLE = 0xf5;
const AUX_CMD_SET_DEFAULT = 0xf6;
const AUX_CMD_RESEND = 0xfe;
const AUX_CMD_RESET = 0xff;

/** Device IDs: the plain PS/2 mouse and the IntelliMouse (wheel). */
const AUX_ID_PS2 = 0x00;
const AUX_ID_IMPS = 0x03;
/** The sample-rate sequence that turns on the wheel (Microsoft IntelliMouse spec). */
const IMPS_KNOCK = [200, 100, 80] as const;

// Status byte (answer to 0xE9).
const STATUS_RIGHT = 0x01;
const STATUS_MIDDLE = 0x02;
const STATUS_LEFT = 0x04;
const STATUS_SCALE21 = 0x10;
const STATUS_ENABLED = 0x20;
const STATUS_REMOTE = 0x40;

// Packet byte 0.
const PKT_LEFT = 0x01;
const PKT_RIGHT = 0x02;
const PKT_MIDDLE = 0x04;
const PKT_ALWAYS1 = 0x08;
const PKT_XSIGN = 0x10;
const PKT_YSIGN = 0x20;
const PKT_XOVF = 0x40;
const PKT_YOVF = 0x80;

/** Movement counters are 9-bit two's complement: -256..255. */
const COUNT_MIN = -256;
const COUNT_MAX = 255;
/** The IntelliMouse wheel count is 4-bit signed: -8..7. */
const WHEEL_MIN = -8;
const WHEEL_MAX = 7;
/** Host motion held while the guest is not reading; beyond this the mouse saturates. */
const ACCUM_MAX = 1 << 16;

const RATE_DEFAULT = 100;
const RES_DEFAULT = 2; // 4 counts/mm

/** Bytes the mouse buffers for the controller (answers plus a few packets). */
export const AUX_QUEUE_MAX = 16;

/** Host buttons (DISPLAY-SPEC): bit 0 left, bit 1 right, bit 2 middle. */
export const BUTTON_LEFT = 1;
export const BUTTON_RIGHT = 2;
export const BUTTON_MIDDLE = 4;

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** Saved state of the mouse. */
export interface Ps2MouseState {
  out: number[]; pendingCmd: number; sampleRate: number; resolution: number; reporting: boolean;
  remote: boolean; wrap: boolean; scale21: boolean; id: number; rates: number[];
  dx: number; dy: number; dz: number; buttons: number; sentButtons: number;
}

/** A PS/2 mouse with the IntelliMouse wheel. */
export class Ps2Mouse {
  /** Bytes for the controller, oldest first. */
  readonly out = new ByteRing(AUX_QUEUE_MAX);
  private pendingCmd = -1;
  private sampleRate = RATE_DEFAULT;
  private resolution = RES_DEFAULT;
  private reporting = false;
  private remote = false;
  private wrap = false;
  private scale21 = false;
  private id = AUX_ID_PS2;
  /** The last three sample rates set (for the IntelliMouse knock). */
  private rates: number[] = [];
  /** Motion not yet reported (PS/2 orientation: y up, z down). */
  private dx = 0;
  private dy = 0;
  private dz = 0;
  private buttons = 0;
  /** Buttons as last reported, so a click with no motion still makes a packet. */
  private sentButtons = 0;

  /** Bytes per movement packet: 3, or 4 with the wheel on. */
  get packetBytes(): number { return this.id === AUX_ID_IMPS ? 4 : 3; }

  /** Host motion: dx right, dy down (screen), dz wheel clicks down, buttons as BUTTON_*. */
  move(dx: number, dy: number, dz: number, buttons: number): void {
    this.dx = clamp(this.dx + Math.trunc(dx), -ACCUM_MAX, ACCUM_MAX);
    this.dy = clamp(this.dy - Math.trunc(dy), -ACCUM_MAX, ACCUM_MAX);
    this.dz = clamp(this.dz + Math.trunc(dz), -ACCUM_MAX, ACCUM_MAX);
    this.buttons = buttons & (BUTTON_LEFT | BUTTON_RIGHT | BUTTON_MIDDLE);
    this.flush();
  }

  /**
   * Stream mode: turns held motion into packets while whole packets fit in the queue. Motion
   * larger than one packet's range is split over several (none lost, overflow bits clear).
   * Called after host input and whenever the controller takes a byte.
   */
  flush(): void {
    if (!this.reporting || this.remote || this.wrap) return;
    for (let n = 0; n < AUX_QUEUE_MAX && this.hasNews() && this.out.capacity - this.out.length >= this.packetBytes; n++) {
      this.packet(true);
    }
  }

  private hasNews(): boolean {
    return this.dx !== 0 || this.dy !== 0 || (this.id === AUX_ID_IMPS && this.dz !== 0) || this.buttons !== this.sentButtons;
  }

  /**
   * Emits one packet. Stream packets carry at most one packet's range and keep the rest; a
   * remote-mode read reports everything held, with the overflow bit where it does not fit,
   * and clears the counters (PS/2 ref: "Read Data").
   */
  private packet(carry: boolean): void {
    let b0 = PKT_ALWAYS1;
    if (this.buttons & BUTTON_LEFT) b0 |= PKT_LEFT;
    if (this.buttons & BUTTON_RIGHT) b0 |= PKT_RIGHT;
    if (this.buttons & BUTTON_MIDDLE) b0 |= PKT_MIDDLE;
    let x = clamp(this.dx, COUNT_MIN, COUNT_MAX);
    let y = clamp(this.dy, COUNT_MIN, COUNT_MAX);
    const z = this.id === AUX_ID_IMPS ? clamp(this.dz, WHEEL_MIN, WHEEL_MAX) : 0;
    if (!carry) {
      if (x !== this.dx) b0 |= PKT_XOVF;
      if (y !== this.dy) b0 |= PKT_YOVF;
      this.dx = 0; this.dy = 0;
    } else {
      this.dx -= x; this.dy -= y;
    }
    if (this.id === AUX_ID_IMPS) this.dz = carry ? this.dz - z : 0;
    else this.dz = 0;
    if (this.scale21 && !this.remote) { x = scale21(x); y = scale21(y); }
    if (x < 0) b0 |= PKT_XSIGN;
    if (y < 0) b0 |= PKT_YSIGN;
    this.out.push(b0);
    this.out.push(x & 0xff);
    this.out.push(y & 0xff);
    if (this.id === AUX_ID_IMPS) this.out.push(z & 0xff);
    this.sentButtons = this.buttons;
  }

  /** A byte the controller sends to the mouse (0xD4). */
  receive(b: number): void {
    // Any byte from the host aborts a packet in progress (the device discards its output).
    if (this.wrap && b !== AUX_CMD_RESET_WRAP && b !== AUX_CMD_RESET) { this.out.push(b); return; }
    this.out.clear();
    if (this.pendingCmd >= 0) {
      const cmd = this.pendingCmd;
      this.pendingCmd = -1;
      if (cmd === AUX_CMD_SET_RATE) {
        this.sampleRate = b;
        this.rates.push(b);
        if (this.rates.length > IMPS_KNOCK.length) this.rates.shift();
        if (this.rates.length === IMPS_KNOCK.length && this.rates.every((r, i) => r === IMPS_KNOCK[i])) this.id = AUX_ID_IMPS;
      } else {
        this.resolution = b & 3;
      }
      this.out.push(PS2_ACK);
      return;
    }
    switch (b) {
      case AUX_CMD_SET_RATE: case AUX_CMD_SET_RES:
        this.pendingCmd = b;
        this.out.push(PS2_ACK);
        return;
      case AUX_CMD_SET_SCALE11: this.scale21 = false; this.out.push(PS2_ACK); return;
      case AUX_CMD_SET_SCALE21: this.scale21 = true; this.out.push(PS2_ACK); return;
      case AUX_CMD_GETINFO: {
        let st = 0;
        if (this.buttons & BUTTON_LEFT) st |= STATUS_LEFT;
        if (this.buttons & BUTTON_RIGHT) st |= STATUS_RIGHT;
        if (this.buttons & BUTTON_MIDDLE) st |= STATUS_MIDDLE;
        if (this.scale21) st |= STATUS_SCALE21;
        if (this.reporting) st |= STATUS_ENABLED;
        if (this.remote) st |= STATUS_REMOTE;
        this.out.push(PS2_ACK);
        this.out.push(st);
        this.out.push(this.resolution);
        this.out.push(this.sampleRate);
        return;
      }
      case AUX_CMD_SET_STREAM: this.remote = false; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_SET_REMOTE: this.remote = true; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_READ_DATA: this.out.push(PS2_ACK); this.packet(false); return;
      case AUX_CMD_SET_WRAP: this.wrap = true; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_RESET_WRAP: this.wrap = false; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_GETID: this.out.push(PS2_ACK); this.out.push(this.id); return;
      case AUX_CMD_ENABLE: this.reporting = true; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_DISABLE: this.reporting = false; this.clearMotion(); this.out.push(PS2_ACK); return;
      case AUX_CMD_SET_DEFAULT: this.defaults(); this.out.push(PS2_ACK); return;
      case AUX_CMD_RESEND: this.out.push(PS2_ACK); return;
      case AUX_CMD_RESET:
        this.reset();
        this.out.push(PS2_ACK);
        this.out.push(PS2_BAT_OK);
        this.out.push(AUX_ID_PS2);
        return;
      default: this.out.push(PS2_RESEND);
    }
  }

  private clearMotion(): void { this.dx = 0; this.dy = 0; this.dz = 0; this.sentButtons = this.buttons; }

  /** 0xF6: rate 100, resolution 4 counts/mm, scaling 1:1, stream mode, reporting off. */
  private defaults(): void {
    this.sampleRate = RATE_DEFAULT;
    this.resolution = RES_DEFAULT;
    this.scale21 = false;
    this.remote = false;
    this.reporting = false;
    this.clearMotion();
  }

  reset(): void {
    this.out.clear();
    this.pendingCmd = -1;
    this.defaults();
    this.wrap = false;
    this.id = AUX_ID_PS2;
    this.rates = [];
  }

  save(): Ps2MouseState {
    return {
      out: this.out.toArray(), pendingCmd: this.pendingCmd, sampleRate: this.sampleRate, resolution: this.resolution,
      reporting: this.reporting, remote: this.remote, wrap: this.wrap, scale21: this.scale21, id: this.id,
      rates: [...this.rates], dx: this.dx, dy: this.dy, dz: this.dz, buttons: this.buttons, sentButtons: this.sentButtons,
    };
  }

  /** `s` is already a record; validates everything, then applies. */
  load(s: Record<string, unknown>): void {
    const out = expectBytes(s, 'out', AUX_QUEUE_MAX);
    const pendingCmd = expectInt(s, 'pendingCmd', -1, 0xff);
    if (pendingCmd >= 0 && pendingCmd !== AUX_CMD_SET_RATE && pendingCmd !== AUX_CMD_SET_RES) {
      throw new Error(`bad device state: mouse pendingCmd=${pendingCmd}`);
    }
    const sampleRate = expectInt(s, 'sampleRate', 0, 0xff);
    const resolution = expectInt(s, 'resolution', 0, 3);
    const reporting = expectBool(s, 'reporting');
    const remote = expectBool(s, 'remote');
    const wrap = expectBool(s, 'wrap');
    const scale = expectBool(s, 'scale21');
    const id = expectInt(s, 'id', 0, 0xff);
    if (id !== AUX_ID_PS2 && id !== AUX_ID_IMPS) throw new Error(`bad device state: mouse id=${id}`);
    const rates = expectBytes(s, 'rates', IMPS_KNOCK.length);
    const dx = expectInt(s, 'dx', -ACCUM_MAX, ACCUM_MAX);
    const dy = expectInt(s, 'dy', -ACCUM_MAX, ACCUM_MAX);
    const dz = expectInt(s, 'dz', -ACCUM_MAX, ACCUM_MAX);
    const buttons = expectInt(s, 'buttons', 0, 7);
    const sentButtons = expectInt(s, 'sentButtons', 0, 7);
    this.out.fill(out);
    this.pendingCmd = pendingCmd; this.sampleRate = sampleRate; this.resolution = resolution;
    this.reporting = reporting; this.remote = remote; this.wrap = wrap; this.scale21 = scale; this.id = id;
    this.rates = rates; this.dx = dx; this.dy = dy; this.dz = dz; this.buttons = buttons; this.sentButtons = sentButtons;
  }
}

/** 2:1 scaling (PS/2 ref table): 1->1, 2->1, 3->3, 4->6, 5->9, else doubled; sign kept. */
function scale21(v: number): number {
  const a = Math.abs(v);
  const m = a <= 1 ? a : a === 2 ? 1 : a === 3 ? 3 : a === 4 ? 6 : a === 5 ? 9 : 2 * a;
  return clamp(Math.sign(v) * m, COUNT_MIN, COUNT_MAX);
}
