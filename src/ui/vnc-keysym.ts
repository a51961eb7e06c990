// X keysyms (as VNC clients send them, RFC 6143 §7.5.4; values from X11's keysymdef.h) to PC
// scan code set 1 make codes on a US keyboard, the form the PS/2 keyboard takes from the host.

/** Left Shift's set 1 code, for symbols that need Shift when the client did not press it. */
export const SC_LSHIFT = 0x2a;
const SC_RSHIFT = 0x36;

/** Unshifted and shifted characters of each US key (set 1 code). */
const US_KEYS: ReadonlyArray<readonly [number, string, string]> = [
  [0x02, '1', '!'], [0x03, '2', '@'], [0x04, '3', '#'], [0x05, '4', '$'], [0x06, '5', '%'],
  [0x07, '6', '^'], [0x08, '7', '&'], [0x09, '8', '*'], [0x0a, '9', '('], [0x0b, '0', ')'],
  [0x0c, '-', '_'], [0x0d, '=', '+'], [0x1a, '[', '{'], [0x1b, ']', '}'], [0x27, ';', ':'],
  [0x28, '\'', '"'], [0x29, '`', '~'], [0x2b, '\\', '|'], [0x33, ',', '<'], [0x34, '.', '>'],
  [0x35, '/', '?'], [0x39, ' ', ' '],
  ...[...'qwertyuiop'].map((c, i) => [0x10 + i, c, c.toUpperCase()] as const),
  ...[...'asdfghjkl'].map((c, i) => [0x1e + i, c, c.toUpperCase()] as const),
  ...[...'zxcvbnm'].map((c, i) => [0x2c + i, c, c.toUpperCase()] as const),
];

/** Keysyms of the function and keypad keys (keysymdef.h) -> set 1 code (0xE0xx extended). */
const SPECIAL: ReadonlyMap<number, number> = new Map([
  [0xff08, 0x0e], [0xff09, 0x0f], [0xfe20, 0x0f] /* ISO_Left_Tab */, [0xff0d, 0x1c], [0xff1b, 0x01],
  [0xffff, 0xe053], [0xff50, 0xe047], [0xff51, 0xe04b], [0xff52, 0xe048], [0xff53, 0xe04d],
  [0xff54, 0xe050], [0xff55, 0xe049], [0xff56, 0xe051], [0xff57, 0xe04f], [0xff63, 0xe052],
  [0xff61, 0xe037] /* Print */, [0xff13, 0xe11d45] /* Pause */, [0xff6b, 0xe11d45] /* Break */,
  [0xff14, 0x46], [0xff15, 0x54], [0xff67, 0xe05d], [0xff7f, 0x45],
  // Keypad.
  [0xff8d, 0xe01c], [0xff95, 0x47], [0xff96, 0x4b], [0xff97, 0x48], [0xff98, 0x4d], [0xff99, 0x50],
  [0xff9a, 0x49], [0xff9b, 0x51], [0xff9c, 0x4f], [0xff9d, 0x4c], [0xff9e, 0x52], [0xff9f, 0x53],
  [0xffaa, 0x37], [0xffab, 0x4e], [0xffac, 0x53], [0xffad, 0x4a], [0xffae, 0x53], [0xffaf, 0xe035],
  [0xffb0, 0x52], [0xffb1, 0x4f], [0xffb2, 0x50], [0xffb3, 0x51], [0xffb4, 0x4b], [0xffb5, 0x4c],
  [0xffb6, 0x4d], [0xffb7, 0x47], [0xffb8, 0x48], [0xffb9, 0x49], [0xffbd, 0x59] /* KP_Equal */,
  // F1..F12.
  [0xffbe, 0x3b], [0xffbf, 0x3c], [0xffc0, 0x3d], [0xffc1, 0x3e], [0xffc2, 0x3f], [0xffc3, 0x40],
  [0xffc4, 0x41], [0xffc5, 0x42], [0xffc6, 0x43], [0xffc7, 0x44], [0xffc8, 0x57], [0xffc9, 0x58],
  // Modifiers.
  [0xffe1, SC_LSHIFT], [0xffe2, SC_RSHIFT], [0xffe3, 0x1d], [0xffe4, 0xe01d], [0xffe5, 0x3a],
  [0xffe7, 0x38] /* Meta_L */, [0xffe8, 0xe038] /* Meta_R */, [0xffe9, 0x38], [0xffea, 0xe038],
  [0xffeb, 0xe05b], [0xffec, 0xe05c], [0xfe03, 0xe038] /* ISO_Level3_Shift (AltGr) */,
]);

/** A keysym's key: its set 1 code, and whether the character needs Shift on a US keyboard. */
export interface KeyMapping { code: number; shifted: boolean }

const LATIN: ReadonlyMap<number, KeyMapping> = (() => {
  const m = new Map<number, KeyMapping>();
  for (const [code, plain, shift] of US_KEYS) {
    m.set(plain.charCodeAt(0), { code, shifted: false });
    if (shift !== plain) m.set(shift.charCodeAt(0), { code, shifted: true });
  }
  return m;
})();

/** The key for a keysym, or null for keysyms a US PC keyboard has no key for. */
export function keysymToKey(keysym: number): KeyMapping | null {
  const latin = LATIN.get(keysym);
  if (latin !== undefined) return latin;
  const code = SPECIAL.get(keysym);
  return code === undefined ? null : { code, shifted: false };
}

/** True for a Shift keysym. */
export function isShiftKeysym(keysym: number): boolean { return keysym === 0xffe1 || keysym === 0xffe2; }
