// A VNC client's keyboard and pointer, turned into the Vm's input (DISPLAY-SPEC): X keysyms into
// PC scan codes (vnc-keysym.ts, US layout), absolute pointer positions into relative motion,
// RFB's button mask into the Vm's buttons and wheel clicks.

import { isShiftKeysym, keysymToKey, SC_LSHIFT } from './vnc-keysym.js';
import type { VncTarget } from './vnc-server.js';

// RFB pointer buttons (§7.5.5): bits 0-2 left, middle, right; 3 and 4 the wheel up and down.
const RFB_LEFT = 0x01;
const RFB_MIDDLE = 0x02;
const RFB_RIGHT = 0x04;
const RFB_WHEEL_UP = 0x08;
const RFB_WHEEL_DOWN = 0x10;
// The Vm's buttons (DISPLAY-SPEC): bit 0 left, 1 right, 2 middle.
const VM_LEFT = 1;
const VM_RIGHT = 2;
const VM_MIDDLE = 4;

/** One client's input state: where its pointer was, which Shift keys it holds. */
export class VncInput {
  private last: { x: number; y: number; buttons: number } | null = null;
  private shiftsDown = 0;

  constructor(private readonly target: Pick<VncTarget, 'sendKey' | 'sendPointer'>) {}

  /** A KeyEvent (§7.5.4). */
  key(down: boolean, keysym: number): void {
    if (isShiftKeysym(keysym)) this.shiftsDown = Math.max(0, this.shiftsDown + (down ? 1 : -1));
    const k = keysymToKey(keysym);
    if (k === null) return;
    // A shifted symbol typed without Shift held (clients that send characters): press Shift
    // around the key, as a person would.
    if (down && k.shifted && this.shiftsDown === 0) {
      this.target.sendKey(SC_LSHIFT, true);
      this.target.sendKey(k.code, true);
      this.target.sendKey(SC_LSHIFT, false);
      return;
    }
    this.target.sendKey(k.code, down);
  }

  /** A PointerEvent (§7.5.5): absolute position and button mask. */
  pointer(mask: number, x: number, y: number): void {
    const prev = this.last ?? { x, y, buttons: 0 };
    let dz = 0;
    const pressed = mask & ~prev.buttons;
    if (pressed & RFB_WHEEL_UP) dz--;
    if (pressed & RFB_WHEEL_DOWN) dz++;
    let buttons = 0;
    if (mask & RFB_LEFT) buttons |= VM_LEFT;
    if (mask & RFB_RIGHT) buttons |= VM_RIGHT;
    if (mask & RFB_MIDDLE) buttons |= VM_MIDDLE;
    const prevButtons = ((prev.buttons & RFB_LEFT) ? VM_LEFT : 0) | ((prev.buttons & RFB_RIGHT) ? VM_RIGHT : 0) | ((prev.buttons & RFB_MIDDLE) ? VM_MIDDLE : 0);
    const dx = x - prev.x;
    const dy = y - prev.y;
    this.last = { x, y, buttons: mask };
    if (dx !== 0 || dy !== 0 || dz !== 0 || buttons !== prevButtons) this.target.sendPointer(dx, dy, dz, buttons);
  }
}
