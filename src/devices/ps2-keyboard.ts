// A PS/2 (MF2) keyboard: the command protocol of the IBM PS/2 Keyboard Technical Reference
// ("Commands from the System") and scan code sets 1, 2 (the default) and 3.
//
// The host presses keys as PC scan code set 1 make codes (0x01..0x7f, 0xE0xx for extended keys,
// 0xE11D45 for Pause; see DISPLAY-SPEC "Keyboard and mouse"). The keyboard sends them in the set
// the guest chose with 0xF0; the 8042 then translates set 2 back to set 1 if its command byte
// asks (that is the controller's job: see i8042.ts and `SET2_TO_SET1` here).

import { expectInt } from './api.js';
import { ByteRing, expectBool, expectBytes } from './byte-ring.js';

// Protocol bytes (keyboard -> host).
const PS2_ACK = 0xfa;
const PS2_RESEND = 0xfe;
const PS2_BAT_OK = 0xaa;
const PS2_ECHO = 0xee;
// Commands (host -> keyboard).
const KBD_CMD_SET_LEDS = 0xed;
const KBD_CMD_ECHO = 0xee;
const KBD_CMD_SCANSET = 0xf0;
const KBD_CMD_GETID = 0xf2;
const KBD_CMD_SET_REP = 0xf3;
const KBD_CMD_ENABLE = 0xf4;
const KBD_CMD_RESET_DIS = 0xf5;
const KBD_CMD_RESET_DEF = 0xf6;
const KBD_CMD_SET3_FIRST = 0xf7; // 0xf7..0xfd: set-3 per-key modes (acknowledged, not kept)
const KBD_CMD_SET3_LAST = 0xfd;
const KBD_CMD_RESEND = 0xfe;
const KBD_CMD_RESET = 0xff;
const KBD_ID = [0xab, 0x83] as const; // MF2 keyboard
const TYPEMATIC_DEFAULT = 0x2b;       // 10.9 characters/s, 500 ms delay

/** Set 1's break bit; set 2/3's break prefix. */
const SET1_BREAK = 0x80;
const SET2_BREAK = 0xf0;
const PREFIX_E0 = 0xe0;
const PREFIX_E1 = 0xe1;
/** The host's code for Pause (set 1: E1 1D 45). */
export const KEY_PAUSE = 0xe11d45;
/** The host's code for Print Screen (set 1: E0 2A E0 37, "fake shift" then the key). */
export const KEY_PRINT_SCREEN = 0xe037;

/** Bytes the keyboard buffers for the controller (key sequences plus command answers). */
export const KBD_QUEUE_MAX = 256;

/**
 * The 8042's translation table (IBM AT Technical Reference, keyboard controller): set 2 code
 * -> set 1 code. Index 0x83 (F7, the one set 2 code above 0x7f) and 0x84 (SysRq) included;
 * codes >= 0x80 otherwise pass unchanged.
 */
export const SET2_TO_SET1: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const low = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
  ];
  low.forEach((v, i) => { t[i] = v; });
  for (let i = 0x80; i < 0x100; i++) t[i] = i;
  t[0x83] = 0x41;
  t[0x84] = 0x54;
  return t;
})();

/** Set 1 code (0x00..0x7f) -> set 2 code: the inverse of the 8042 table (0 = no such key). */
const SET1_TO_SET2: Uint8Array = (() => {
  const t = new Uint8Array(128);
  t[0x41] = 0x83; // F7 is the one key whose set 2 code is above 0x7f
  t[0x54] = 0x84; // Alt+SysRq
  for (let s = 1; s < 0x80; s++) {
    const k = SET2_TO_SET1[s]!;
    if (k < 0x80 && t[k] === 0) t[k] = s;
  }
  return t;
})();

/**
 * Set 3 differs from set 2 for these keys (set 1 code, or 0xE0xx for extended -> set 3 code);
 * every other key has its set 2 code. Set 3 has no E0 prefixes.
 */
const SET3_OVERRIDES: ReadonlyMap<number, number> = new Map([
  [0x01, 0x08], [0x3b, 0x07], [0x3c, 0x0f], [0x3d, 0x17], [0x3e, 0x1f], [0x3f, 0x27], [0x40, 0x2f],
  [0x41, 0x37], [0x42, 0x3f], [0x43, 0x47], [0x44, 0x4f], [0x57, 0x56], [0x58, 0x5e],
  [0x1d, 0x11], [0x38, 0x19], [0x3a, 0x14], [0x2b, 0x5c], [0x45, 0x76], [0x46, 0x5f],
  [0x37, 0x7e], [0x4a, 0x84], [0x4e, 0x7c],
  [0xe01d, 0x58], [0xe038, 0x39], [0xe01c, 0x79], [0xe035, 0x77], [0xe037, 0x57],
  [0xe052, 0x67], [0xe047, 0x6e], [0xe049, 0x6f], [0xe053, 0x64], [0xe04f, 0x65], [0xe051, 0x6d],
  [0xe048, 0x63], [0xe04b, 0x61], [0xe050, 0x60], [0xe04d, 0x6a],
  [0xe05b, 0x8b], [0xe05c, 0x8c], [0xe05d, 0x8d],
]);
const SET3_PAUSE = 0x62;

/** True for a code the host may send: set 1 make codes, their E0 forms, and Pause. */
export function isHostKeyCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code === KEY_PAUSE) return true;
  const low = code & 0xff;
  const hi = code >>> 8;
  return low >= 1 && low < 0x80 && (hi === 0 || hi === PREFIX_E0);
}

/** The bytes a key event produces in scan code set `set` (1, 2 or 3), or [] for no such key. */
export function scanBytes(code: number, down: boolean, set: number): number[] {
  if (!isHostKeyCode(code)) return [];
  if (code === KEY_PAUSE) {
    // Pause has no break code: the whole sequence is sent on press.
    if (!down) return [];
    if (set === 1) return [PREFIX_E1, 0x1d, 0x45, PREFIX_E1, 0x9d, 0xc5];
    if (set === 3) return [SET3_PAUSE, SET2_BREAK, SET3_PAUSE];
    return [PREFIX_E1, 0x14, 0x77, PREFIX_E1, SET2_BREAK, 0x14, SET2_BREAK, 0x77];
  }
  const ext = (code >>> 8) === PREFIX_E0;
  const low = code & 0x7f;
  if (set === 1) {
    const one = (b: number): number[] => ext ? [PREFIX_E0, b] : [b];
    if (code === KEY_PRINT_SCREEN) return down ? [PREFIX_E0, 0x2a, PREFIX_E0, 0x37] : [PREFIX_E0, 0xb7, PREFIX_E0, 0xaa];
    return one(down ? low : low | SET1_BREAK);
  }
  if (set === 3) {
    const s3 = SET3_OVERRIDES.get(code) ?? SET1_TO_SET2[low]!;
    if (s3 === 0) return [];
    return down ? [s3] : [SET2_BREAK, s3];
  }
  const s2 = SET1_TO_SET2[low]!;
  if (s2 === 0) return [];
  if (code === KEY_PRINT_SCREEN) {
    return down ? [PREFIX_E0, 0x12, PREFIX_E0, 0x7c] : [PREFIX_E0, SET2_BREAK, 0x7c, PREFIX_E0, SET2_BREAK, 0x12];
  }
  const pre = ext ? [PREFIX_E0] : [];
  return down ? [...pre, s2] : [...pre, SET2_BREAK, s2];
}

/** Saved state of the keyboard. */
export interface Ps2KeyboardState {
  out: number[]; pendingCmd: number; scanSet: number; scanning: boolean; leds: number; typematic: number;
}

/** A PS/2 MF2 keyboard: commands from the controller, key events from the host. */
export class Ps2Keyboard {
  /** Bytes for the controller, oldest first (answers and scan codes in the order produced). */
  readonly out = new ByteRing(KBD_QUEUE_MAX);
  private pendingCmd = -1;
  private scanSet = 2;
  private scanning = true;
  /** LED bits from 0xED: bit 0 Scroll Lock, bit 1 Num Lock, bit 2 Caps Lock. */
  leds = 0;
  private typematic = TYPEMATIC_DEFAULT;
  /** Key sequences dropped because the queue was full (the guest stopped reading). */
  dropped = 0;

  /** The scan code set in use (1, 2 or 3). */
  get set(): number { return this.scanSet; }
  /** The typematic byte from 0xF3 (bits 0-4 rate, 5-6 delay). */
  get typematicByte(): number { return this.typematic; }

  /** A host key event (set 1 code, see the header); dropped while scanning is disabled. */
  key(code: number, down: boolean): void {
    if (!this.scanning) return;
    const bytes = scanBytes(code, down, this.scanSet);
    // A sequence goes in whole or not at all, so the guest never sees half a key.
    if (bytes.length === 0) return;
    if (this.out.capacity - this.out.length < bytes.length) { this.dropped++; return; }
    for (const b of bytes) this.out.push(b);
  }

  /** A byte the controller sends to the keyboard. */
  receive(b: number): void {
    if (this.pendingCmd >= 0) {
      const cmd = this.pendingCmd;
      this.pendingCmd = -1;
      // LED, rate and scan-set arguments are all below 0x80: a command byte where the argument
      // belongs is taken as a new command, as a real keyboard does.
      if (b >= KBD_CMD_SET_LEDS) { this.receive(b); return; }
      if (cmd === KBD_CMD_SET_LEDS) { this.leds = b & 7; this.ack(); }
      else if (cmd === KBD_CMD_SET_REP) { this.typematic = b & 0x7f; this.ack(); }
      else if (b === 0) { this.ack(); this.push(this.scanSet); } // the 8042 translates 1/2/3 to 43/41/3F
      else if (b <= 3) { this.scanSet = b; this.ack(); }
      else this.push(PS2_RESEND);
      return;
    }
    switch (b) {
      case KBD_CMD_SET_LEDS: case KBD_CMD_SET_REP: case KBD_CMD_SCANSET:
        // These stop scanning until the argument arrives (IBM ref); the queue is cleared so the
        // ACK and answer are not behind stale keys.
        this.out.clear();
        this.ack();
        this.pendingCmd = b;
        return;
      case KBD_CMD_ECHO: this.push(PS2_ECHO); return;
      case KBD_CMD_GETID: this.out.clear(); this.ack(); for (const id of KBD_ID) this.push(id); return;
      case KBD_CMD_ENABLE: this.out.clear(); this.scanning = true; this.ack(); return;
      case KBD_CMD_RESET_DIS: this.out.clear(); this.defaults(); this.scanning = false; this.ack(); return;
      case KBD_CMD_RESET_DEF: this.out.clear(); this.defaults(); this.scanning = true; this.ack(); return;
      case KBD_CMD_RESET:
        this.reset();
        this.ack();
        this.push(PS2_BAT_OK);
        return;
      case KBD_CMD_RESEND: this.ack(); return;
      default:
        if (b >= KBD_CMD_SET3_FIRST && b <= KBD_CMD_SET3_LAST) { this.ack(); return; }
        this.push(PS2_RESEND);
    }
  }

  private ack(): void { this.push(PS2_ACK); }
  private push(b: number): void { this.out.push(b); }

  private defaults(): void { this.typematic = TYPEMATIC_DEFAULT; this.scanSet = 2; }

  reset(): void {
    this.out.clear();
    this.pendingCmd = -1;
    this.defaults();
    this.scanning = true;
    this.leds = 0;
  }

  save(): Ps2KeyboardState {
    return { out: this.out.toArray(), pendingCmd: this.pendingCmd, scanSet: this.scanSet, scanning: this.scanning, leds: this.leds, typematic: this.typematic };
  }

  /** `s` is already a record; validates everything, then applies. */
  load(s: Record<string, unknown>): void {
    const out = expectBytes(s, 'out', KBD_QUEUE_MAX);
    const pendingCmd = expectInt(s, 'pendingCmd', -1, 0xff);
    if (pendingCmd >= 0 && pendingCmd !== KBD_CMD_SET_LEDS && pendingCmd !== KBD_CMD_SET_REP && pendingCmd !== KBD_CMD_SCANSET) {
      throw new Error(`bad device state: keyboard pendingCmd=${pendingCmd}`);
    }
    const scanSet = expectInt(s, 'scanSet', 1, 3);
    const scanning = expectBool(s, 'scanning');
    const leds = expectInt(s, 'leds', 0, 7);
    const typematic = expectInt(s, 'typematic', 0, 0x7f);
    this.out.fill(out);
    this.pendingCmd = pendingCmd; this.scanSet = scanSet; this.scanning = scanning; this.leds = leds; this.typematic = typematic;
  }
}
