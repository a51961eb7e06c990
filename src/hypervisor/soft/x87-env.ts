// x87 environment and state images (SDM vol. 1, 8.1.10 and figures 8-9 to 8-12): FSTENV/FLDENV
// and FSAVE/FRSTOR in their 16/32-bit, real/protected layouts; the x87 part of the FXSAVE image
// (vol. 1, table 10-2); FBLD/FBSTP packed BCD.

import type { X87 } from './x87.js';
import { CLS_NORMAL, CLS_ZERO, FE_IE, FE_PE, FMT_F80 } from './x87-float80.js';

const TWO32 = 4294967296;

/** Bytes of the environment image for the current operand size. */
function envSize(x: X87): number { return x.host.opsize16 ? 14 : 28; }

function writeEnv(x: X87, ea: number): void {
  const h = x.host;
  const cw = x.cw, sw = x.status, tw = x.tagWord();
  const real = h.realMode;
  const ip = real ? ((x.fcs << 4) + x.fip) | 0 : x.fip;
  const dp = real ? ((x.fds << 4) + x.fdp) | 0 : x.fdp;
  const fop = x.fop & 0x7ff;
  if (h.opsize16) {
    h.write16(ea, cw); h.write16(ea + 2, sw); h.write16(ea + 4, tw);
    if (real) {
      h.write16(ea + 6, ip);
      h.write16(ea + 8, (((ip >>> 16) & 0xf) << 12) | fop);
      h.write16(ea + 10, dp);
      h.write16(ea + 12, ((dp >>> 16) & 0xf) << 12);
    } else {
      h.write16(ea + 6, ip); h.write16(ea + 8, x.fcs); h.write16(ea + 10, dp); h.write16(ea + 12, x.fds);
    }
    return;
  }
  h.write32(ea, cw | 0xffff0000); h.write32(ea + 4, sw | 0xffff0000); h.write32(ea + 8, tw | 0xffff0000);
  if (real) {
    h.write32(ea + 12, (ip & 0xffff) | 0xffff0000);
    h.write32(ea + 16, ((ip >>> 4) & 0x0ffff000) | fop);
    h.write32(ea + 20, (dp & 0xffff) | 0xffff0000);
    h.write32(ea + 24, (dp >>> 4) & 0x0ffff000);
  } else {
    h.write32(ea + 12, ip); h.write32(ea + 16, (x.fcs & 0xffff) | (fop << 16));
    h.write32(ea + 20, dp); h.write32(ea + 24, (x.fds & 0xffff) | 0xffff0000);
  }
}

function readEnv(x: X87, ea: number): void {
  const h = x.host;
  let cw: number, sw: number, tw: number, ip: number, cs: number, op: number, dp: number, ds: number;
  if (h.opsize16) {
    cw = h.read16(ea); sw = h.read16(ea + 2); tw = h.read16(ea + 4);
    const a = h.read16(ea + 6), b = h.read16(ea + 8), c = h.read16(ea + 10), d = h.read16(ea + 12);
    if (h.realMode) { ip = a | ((b >> 12) << 16); cs = 0; op = b & 0x7ff; dp = c | ((d >> 12) << 16); ds = 0; }
    else { ip = a; cs = b; op = x.fop; dp = c; ds = d; }
  } else {
    cw = h.read16(ea); sw = h.read16(ea + 4); tw = h.read16(ea + 8);
    const a = h.read32(ea + 12), b = h.read32(ea + 16), c = h.read32(ea + 20), d = h.read32(ea + 24);
    if (h.realMode) {
      ip = (a & 0xffff) | ((b & 0x0ffff000) << 4); cs = 0; op = b & 0x7ff;
      dp = (c & 0xffff) | ((d & 0x0ffff000) << 4); ds = 0;
    } else { ip = a; cs = b & 0xffff; op = (b >>> 16) & 0x7ff; dp = c; ds = d & 0xffff; }
  }
  x.cw = (cw & 0x1f3f) | 0x40;
  x.setTagWord(tw);
  x.setStatus(sw);
  x.fip = ip; x.fcs = cs; x.fop = op; x.fdp = dp; x.fds = ds;
}

/** FNSTENV (the caller then masks all exceptions). */
export function fstenv(x: X87, ea: number): void {
  x.host.checkWrite(ea, envSize(x));
  writeEnv(x, ea);
}

export function fldenv(x: X87, ea: number): void {
  x.host.checkRead(ea, envSize(x));
  readEnv(x, ea);
}

/** FNSAVE: environment then ST(0)..ST(7) (the caller then reinitializes). */
export function fsave(x: X87, ea: number): void {
  const h = x.host, n = envSize(x);
  h.checkWrite(ea, n + 80);
  writeEnv(x, ea);
  for (let i = 0; i < 8; i++) {
    const p = x.phys(i), a = ea + n + 10 * i;
    h.write32(a, x.lo[p]!); h.write32(a + 4, x.hi[p]!); h.write16(a + 8, x.se[p]!);
  }
}

export function frstor(x: X87, ea: number): void {
  const h = x.host, n = envSize(x);
  h.checkRead(ea, n + 80);
  readEnv(x, ea);
  for (let i = 0; i < 8; i++) {
    const p = x.phys(i), a = ea + n + 10 * i;
    x.lo[p] = h.read32(a); x.hi[p] = h.read32(a + 4); x.se[p] = h.read16(a + 8);
  }
}

/** The x87 part of an FXSAVE image at `ea` (bytes 0-23 and the register area 32-159). */
export function fxsaveX87(x: X87, ea: number): void {
  const h = x.host;
  h.write16(ea, x.cw); h.write16(ea + 2, x.status);
  h.write16(ea + 4, x.abridgedTag()); h.write16(ea + 6, x.fop & 0x7ff);
  h.write32(ea + 8, x.fip); h.write32(ea + 12, x.fcs & 0xffff);
  h.write32(ea + 16, x.fdp); h.write32(ea + 20, x.fds & 0xffff);
  for (let i = 0; i < 8; i++) {
    const p = x.phys(i), a = ea + 32 + 16 * i;
    h.write32(a, x.lo[p]!); h.write32(a + 4, x.hi[p]!);
    h.write32(a + 8, x.se[p]! & 0xffff); h.write32(a + 12, 0);
  }
}

/** Loads the x87 part of an FXSAVE image (the caller checked readability). */
export function fxrstorX87(x: X87, ea: number): void {
  const h = x.host;
  x.cw = (h.read16(ea) & 0x1f3f) | 0x40;
  const sw = h.read16(ea + 2);
  x.setAbridgedTag(h.read8(ea + 4));
  x.fop = h.read16(ea + 6) & 0x7ff;
  x.fip = h.read32(ea + 8); x.fcs = h.read16(ea + 12);
  x.fdp = h.read32(ea + 16); x.fds = h.read16(ea + 20);
  x.setStatus(sw);
  for (let i = 0; i < 8; i++) {
    const p = x.phys(i), a = ea + 32 + 16 * i;
    x.lo[p] = h.read32(a); x.hi[p] = h.read32(a + 4); x.se[p] = h.read16(a + 8);
  }
}

/** FBLD: 18 BCD digits and a sign byte, pushed exactly. */
export function fbld(x: X87, ea: number): void {
  const h = x.host;
  h.checkRead(ea, 10);
  let hi = 0, lo = 0;
  for (let k = 8; k >= 0; k--) {
    const b = h.read8(ea + k);
    for (let n = 0; n < 2; n++) {
      const d = n === 0 ? b >> 4 : b & 15;
      const v = lo * 10 + d;
      const c = Math.floor(v / TWO32);
      lo = v - c * TWO32;
      hi = hi * 10 + c;
    }
  }
  const neg = (h.read8(ea + 9) & 0x80) !== 0;
  if (x.pushFaults()) return;
  const f = x.begin();
  f.loadAInt(hi | 0, lo | 0);
  f.aS = neg ? 1 : 0;
  f.convertExact(FMT_F80, 64);
  x.sw &= ~0x200;
  x.pushRaw(f.rSe, f.rHi, f.rLo);
}

/** FBSTP: ST(0) rounded per RC to 18 BCD digits, then popped. */
export function fbstp(x: X87, ea: number): void {
  const h = x.host;
  h.checkWrite(ea, 10);
  let ok = true, neg = false, hi = 0, lo = 0;
  const fault = x.isEmpty(0);
  if (fault) {
    if (!x.stackFault(false)) return;
    ok = false;
  } else {
    const f = x.begin();
    x.loadA(0);
    ok = (f.aCls === CLS_NORMAL || f.aCls === CLS_ZERO) && f.toInteger(f.rc) && !f.big;
    if (ok) {
      hi = f.rHi >>> 0; lo = f.rLo >>> 0; neg = f.rSe !== 0;
      // 10^18 = 0x0de0b6b3_a7640000
      if (hi > 0x0de0b6b3 || (hi === 0x0de0b6b3 && lo >= 0xa7640000)) ok = false;
    }
    if (!ok) {
      f.flags = (f.flags & ~FE_PE) | FE_IE;
      f.up = false;
      if ((x.cw & FE_IE) === 0) { x.finish(); return; }
    }
  }
  if (!ok) {
    for (let k = 0; k < 7; k++) h.write8(ea + k, 0);
    h.write8(ea + 7, 0xc0); h.write8(ea + 8, 0xff); h.write8(ea + 9, 0xff);
  } else {
    for (let k = 0; k < 9; k++) {
      let byte = 0;
      for (let n = 0; n < 2; n++) {
        const r = hi % 10;
        hi = (hi - r) / 10;
        const v = r * TWO32 + lo;
        const d = v % 10;
        lo = (v - d) / 10;
        byte |= d << (4 * n);
      }
      h.write8(ea + k, byte);
    }
    h.write8(ea + 9, neg ? 0x80 : 0);
  }
  if (!fault) x.finish();
  x.pop();
}
