// Two cards joined by the socket backend over host UDP: an e1000 transmits, an RTL8139
// receives the same frame into its ring (no guests: the cards are driven through registers).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpSocketBackend } from './socket.js';
import { E1000 } from '../devices/net/e1000.js';
import { CR, CR_RE, CR_TE, RBSTART, RCR, RCR_APM, CBR, Rtl8139 } from '../devices/net/rtl8139.js';
import { TCTL, TCTL_EN, TDBAL, TDLEN, TDT } from '../devices/net/e1000-regs.js';
import { FakeIrq, FakeMemory } from '../devices/testing.js';
import { ethFrame, ETHERTYPE_IPV4 } from './packet.js';
import { freePort } from '../../test/support/host-io.js';

test('socket backend: an e1000 frame reaches an RTL8139 on the other end', async () => {
  const macA = new Uint8Array([0x52, 0x54, 0, 0, 0, 1]);
  const macB = new Uint8Array([0x52, 0x54, 0, 0, 0, 2]);
  // Ports the kernel picked a moment ago, so parallel runs do not collide.
  const portA = await freePort('udp');
  let portB = await freePort('udp');
  for (let n = 0; n < 10 && portB === portA; n++) portB = await freePort('udp');
  const a = new UdpSocketBackend({ host: '127.0.0.1', port: portB }, { host: '127.0.0.1', port: portA });
  const b = new UdpSocketBackend({ host: '127.0.0.1', port: portA }, { host: '127.0.0.1', port: portB });
  const memA = new FakeMemory(1 << 20), memB = new FakeMemory(1 << 20);
  const e1000 = new E1000('a', new FakeIrq(), memA, macA, a);
  const rtl = new Rtl8139('b', new FakeIrq(), memB, macB, b);
  rtl.io.write(RBSTART, 4, 0x10000);
  rtl.io.write(RCR, 4, RCR_APM);
  rtl.io.write(CR, 1, CR_RE | CR_TE);
  const frame = ethFrame(macB, macA, ETHERTYPE_IPV4, new Uint8Array(100).fill(0x5a));
  memA.u8.set(frame, 0x8000);
  const v = new DataView(memA.u8.buffer);
  v.setUint32(0x1000, 0x8000, true);
  v.setUint32(0x1008, (frame.length | ((0x01 | 0x02 | 0x08) << 24)) >>> 0, true);
  const w = (o: number, x: number): void => e1000.mmio.write(o, 4, x);
  w(TDBAL, 0x1000); w(TDLEN, 128); w(TCTL, TCTL_EN); w(TDT, 1);
  const t0 = Date.now();
  while (rtl.io.read(CBR, 2) === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
  assert.ok(rtl.io.read(CBR, 2) > 0, 'the frame arrived');
  assert.deepEqual(memB.u8.subarray(0x10004, 0x10004 + frame.length), frame);
  a.close(); b.close();
});
