import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desEncryptBlock, vncAuthResponse } from './des.js';
import { PixelConverter, ProtocolError, parseClientMessage, parsePixelFormat, serverInit, type PixelFormat } from './vnc-protocol.js';
import { keysymToKey } from './vnc-keysym.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

test('DES: FIPS and OpenSSL vectors; VNC Authentication mirrors the key bits', () => {
  assert.equal(Buffer.from(desEncryptBlock(hex('133457799bbcdff1'), hex('0123456789abcdef'))).toString('hex'), '85e813540f0ab405');
  assert.equal(Buffer.from(desEncryptBlock(hex('0123456789abcdef'), hex('0000000000000000'))).toString('hex'), 'd5d44ff720683d0d');
  // openssl enc -des-ecb -K cea6c64ea62e0000 (= "secret" with each byte's bits mirrored).
  assert.equal(Buffer.from(vncAuthResponse('secret', hex('000102030405060708090a0b0c0d0e0f'))).toString('hex'),
    'ee22539f33a5983ec12f9c2edbc995dd');
  assert.deepEqual(vncAuthResponse('secret', new Uint8Array(16)), vncAuthResponse('secret\0\0ignored', new Uint8Array(16)),
    'only 8 bytes of password count');
});

function fmt(p: Partial<PixelFormat>): PixelFormat {
  return { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0, ...p };
}
function convert(f: PixelFormat, pixels: number[]): string {
  const c = new PixelConverter(f);
  const out = Buffer.alloc(pixels.length * c.bytesPerPixel);
  c.rect(Uint32Array.from(pixels), pixels.length, 0, 0, pixels.length, 1, out, 0);
  return out.toString('hex');
}

test('pixel formats: 32/16/8 bpp, shifts, byte order (byte-exact)', () => {
  const px = [0x00ff0000, 0x0000ff00, 0x000000ff, 0x00ffffff, 0x00123456];
  assert.equal(convert(fmt({}), px), '0000ff00' + '00ff0000' + 'ff000000' + 'ffffff00' + '56341200', 'server format copied');
  assert.equal(convert(fmt({ bigEndian: true }), px), '00ff0000' + '0000ff00' + '000000ff' + '00ffffff' + '00123456');
  assert.equal(convert(fmt({ redShift: 0, blueShift: 16 }), [0x00123456]), '12345600', 'BGR0');
  const rgb565 = fmt({ bitsPerPixel: 16, depth: 16, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 });
  // 0x123456: r 0x12*31/255 -> 2, g 0x34*63/255 -> 13, b 0x56*31/255 -> 10: 2<<11|13<<5|10 = 0x11aa.
  assert.equal(convert(rgb565, [0x00ff0000, 0x0000ff00, 0x000000ff, 0x00123456]), '00f8' + 'e007' + '1f00' + 'aa11');
  assert.equal(convert({ ...rgb565, bigEndian: true }, [0x00ff0000, 0x00123456]), 'f800' + '11aa');
  const bgr233 = fmt({ bitsPerPixel: 8, depth: 8, redMax: 7, greenMax: 7, blueMax: 3, redShift: 0, greenShift: 3, blueShift: 6 });
  assert.equal(convert(bgr233, [0x00ff0000, 0x0000ff00, 0x000000ff, 0x00ffffff, 0x00808080, 0]), '07' + '38' + 'c0' + 'ff' + 'a4' + '00');
});

test('a rectangle inside a wider frame', () => {
  const c = new PixelConverter(fmt({ bitsPerPixel: 16, redMax: 31, greenMax: 63, blueMax: 31, redShift: 11, greenShift: 5, blueShift: 0 }));
  const frame = Uint32Array.from([0, 0, 0, 0, 0xff0000, 0x00ff00, 0, 0x0000ff, 0xffffff]);
  const out = Buffer.alloc(8);
  assert.equal(c.rect(frame, 3, 1, 1, 2, 2, out, 0), 8);
  assert.equal(out.toString('hex'), '00f8e007' + '1f00ffff');
});

test('client messages: partial input waits, sizes and hostile values', () => {
  assert.equal(parseClientMessage(Buffer.from([3, 1, 0, 0])), null, 'partial update request');
  assert.deepEqual(parseClientMessage(Buffer.from([3, 1, 0, 1, 0, 2, 0, 3, 0, 4, 99])),
    { msg: { type: 'update-request', incremental: true, x: 1, y: 2, w: 3, h: 4 }, bytes: 10 });
  assert.deepEqual(parseClientMessage(Buffer.from([4, 1, 0, 0, 0, 0, 0xff, 0x0d])), { msg: { type: 'key', down: true, keysym: 0xff0d }, bytes: 8 });
  assert.deepEqual(parseClientMessage(Buffer.from([5, 0x18, 1, 0, 0, 2])), { msg: { type: 'pointer', buttons: 0x18, x: 256, y: 2 }, bytes: 6 });
  const enc = Buffer.from([2, 0, 0, 2, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0x21]);
  assert.deepEqual(parseClientMessage(enc), { msg: { type: 'set-encodings', encodings: [6, -223] }, bytes: 12 });
  assert.equal(parseClientMessage(enc.subarray(0, 9)), null);
  assert.throws(() => parseClientMessage(Buffer.from([2, 0, 0xff, 0xff])), ProtocolError, 'too many encodings');
  assert.throws(() => parseClientMessage(Buffer.from([6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff])), ProtocolError, 'huge cut text');
  assert.deepEqual(parseClientMessage(Buffer.from([6, 0, 0, 0, 0, 0, 0, 5])), { msg: { type: 'cut-text', length: 5 }, bytes: 8 });
  assert.throws(() => parseClientMessage(Buffer.from([77])), ProtocolError, 'unknown type');
  const pf = Buffer.alloc(20);
  pf[4] = 24; pf[7] = 1;
  assert.throws(() => parseClientMessage(pf), ProtocolError, '24 bpp');
  const cmap = Buffer.alloc(16); cmap[0] = 8; cmap[3] = 0;
  assert.throws(() => parsePixelFormat(cmap, 0), /colour-map/);
});

test('ServerInit carries size, the 32-bpp format and the name', () => {
  assert.equal(serverInit(640, 480, 'hvm').toString('hex'),
    '028001e0' + '20180001' + '00ff00ff00ff' + '100800' + '000000' + '00000003' + Buffer.from('hvm').toString('hex'));
});

test('keysyms: US layout, shifted symbols, function and modifier keys', () => {
  assert.deepEqual(keysymToKey(0x61), { code: 0x1e, shifted: false });
  assert.deepEqual(keysymToKey(0x41), { code: 0x1e, shifted: true });
  assert.deepEqual(keysymToKey(0x21), { code: 0x02, shifted: true }, '!');
  assert.deepEqual(keysymToKey(0x7c), { code: 0x2b, shifted: true }, '|');
  assert.deepEqual(keysymToKey(0x20), { code: 0x39, shifted: false });
  assert.deepEqual(keysymToKey(0xff0d), { code: 0x1c, shifted: false });
  assert.deepEqual(keysymToKey(0xff52), { code: 0xe048, shifted: false }, 'Up');
  assert.deepEqual(keysymToKey(0xffc9), { code: 0x58, shifted: false }, 'F12');
  assert.deepEqual(keysymToKey(0xffe4), { code: 0xe01d, shifted: false }, 'Control_R');
  assert.deepEqual(keysymToKey(0xff13), { code: 0xe11d45, shifted: false }, 'Pause');
  assert.equal(keysymToKey(0x20ac), null, 'Euro sign: no US key');
});

test('32-bpp formats other than the server\'s: the word path equals the byte path, aligned or not', () => {
  const frame = Uint32Array.from({ length: 7 * 5 }, (_, i) => (i * 0x0a1b2c3d) & 0xffffff);
  for (const f of [fmt({ redShift: 0, blueShift: 16 }), fmt({ redShift: 24, greenShift: 16, blueShift: 8 })]) {
    const c = new PixelConverter(f);
    const aligned = Buffer.alloc(4 + 3 * 2 * 4);
    const unaligned = Buffer.alloc(1 + 3 * 2 * 4);
    assert.equal(c.rect(frame, 7, 2, 1, 3, 2, aligned, 4), aligned.length);
    assert.equal(c.rect(frame, 7, 2, 1, 3, 2, unaligned, 1), unaligned.length);
    assert.equal(aligned.subarray(4).toString('hex'), unaligned.subarray(1).toString('hex'));
    const want = [9, 10, 11, 16, 17, 18].map((i) => { const v = Buffer.alloc(4); v.writeUInt32LE(c.pixel(frame[i]!)); return v.toString('hex'); }).join('');
    assert.equal(aligned.subarray(4).toString('hex'), want);
  }
});
