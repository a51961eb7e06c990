import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BMSR, CAPR, CBR, CR, CR9346, CR_BUFE, CR_RE, CR_RST, CR_TE, IMR, ISR, ISR_LINKCHG, ISR_ROK, ISR_RXOVW, ISR_TER, ISR_TOK,
  MAR0, MPC, MSR, RBSTART, RCR, RCR_AB, RCR_AM, RCR_APM, RCR_WRAP, Rtl8139, TCR, TSAD0, TSD0, TSD_OWN, TSD_TABT, TSD_TOK,
} from './rtl8139.js';
import { RecordingPort } from './net-testing.js';
import { FakeIrq, FakeMemory, fuzzRegions, fuzzSeed, seededRandom } from '../testing.js';
import { BROADCAST_MAC, ethFrame, ETHERTYPE_IPV4, ip4, ipv4HeaderOk, l4ChecksumOk, tcpPacket, TCP_ACK } from '../../net/packet.js';

const MAC = new Uint8Array([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
const RAM = 1 << 20;

function setup(): { nic: Rtl8139; irq: FakeIrq; mem: FakeMemory; port: RecordingPort; w: (o: number, s: 1 | 2 | 4, v: number) => void; r: (o: number, s: 1 | 2 | 4) => number } {
  const irq = new FakeIrq();
  const mem = new FakeMemory(RAM);
  const port = new RecordingPort();
  const nic = new Rtl8139('nic1', irq, mem, MAC, port);
  return { nic, irq, mem, port, w: (o, s, v) => nic.io.write(o, s, v >>> 0), r: (o, s) => nic.io.read(o, s) };
}

/** 8139too's read_eeprom, verbatim in logic. */
function readEeprom(w: (o: number, s: 1 | 2 | 4, v: number) => void, r: (o: number, s: 1 | 2 | 4) => number, location: number, addrLen: number): number {
  const EE_CS = 0x08, EE_SHIFT_CLK = 0x04, EE_DATA_WRITE = 0x02, EE_DATA_READ = 0x01, EE_ENB = 0x80 | EE_CS;
  const cmd = location | (6 << addrLen);
  w(CR9346, 1, EE_ENB & ~EE_CS);
  w(CR9346, 1, EE_ENB);
  for (let i = 4 + addrLen; i >= 0; i--) {
    const d = (cmd & (1 << i)) !== 0 ? EE_DATA_WRITE : 0;
    w(CR9346, 1, EE_ENB | d);
    w(CR9346, 1, EE_ENB | d | EE_SHIFT_CLK);
  }
  w(CR9346, 1, EE_ENB);
  let v = 0;
  for (let i = 16; i > 0; i--) {
    w(CR9346, 1, EE_ENB | EE_SHIFT_CLK);
    v = (v << 1) | ((r(CR9346, 1) & EE_DATA_READ) !== 0 ? 1 : 0);
    w(CR9346, 1, EE_ENB);
  }
  w(CR9346, 1, 0);
  return v;
}

test('rtl8139: PCI identity with revision 0x10 (8139too, not 8139cp)', () => {
  const { nic, r } = setup();
  assert.equal(nic.config.get32(0), 0x813910ec);
  assert.equal(nic.config.get8(8), 0x10);
  assert.equal(r(TCR, 4) & 0x7cc00000, 0x74000000, 'RTL8139C version bits');
  assert.ok((r(BMSR, 2) & 4) !== 0);
  assert.equal(r(MSR, 1) & 4, 0, 'LINKB clear: link up');
});

test('rtl8139: 93C46 EEPROM read as 8139too does gives 6-bit addressing and the MAC', () => {
  const { w, r } = setup();
  assert.notEqual(readEeprom(w, r, 0, 8), 0x8129, 'so 8139too picks 6 address bits');
  assert.equal(readEeprom(w, r, 0, 6), 0x8139);
  const mac = [7, 8, 9].map((a) => readEeprom(w, r, a, 6));
  assert.deepEqual(mac, [0x5452, 0xab00, 0xefcd]);
});

test('rtl8139: reset self-clears, ISR is write-1-to-clear and masked by IMR', () => {
  const { w, r, irq, nic } = setup();
  w(CR, 1, CR_RST);
  assert.equal(r(CR, 1) & CR_RST, 0);
  w(IMR, 2, ISR_LINKCHG);
  nic.setLink(false);
  assert.equal(irq.level, true);
  assert.equal(r(MSR, 1) & 4, 4);
  w(ISR, 2, ISR_LINKCHG);
  assert.equal(irq.level, false);
  assert.equal(r(ISR, 2), 0);
});

test('rtl8139: a TSD write sends the buffer, sets OWN|TOK and TOK in ISR; bad ones abort', () => {
  const { w, r, mem, port, irq } = setup();
  w(CR, 1, CR_TE | CR_RE);
  w(IMR, 2, ISR_TOK | ISR_TER);
  const f = ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(60).fill(7));
  mem.u8.set(f, 0x8000);
  w(TSAD0 + 4, 4, 0x8000);
  w(TSD0 + 4, 4, f.length);
  assert.equal(port.sent.length, 1);
  assert.deepEqual(port.sent[0], f);
  assert.equal(r(TSD0 + 4, 4) & (TSD_OWN | TSD_TOK), TSD_OWN | TSD_TOK);
  assert.equal(r(ISR, 2) & ISR_TOK, ISR_TOK);
  assert.equal(irq.level, true);
  w(TSAD0, 4, RAM - 10);
  w(TSD0, 4, 100);
  assert.equal(port.sent.length, 1, 'a buffer outside RAM is not sent');
  assert.ok((r(TSD0, 4) & TSD_TABT) !== 0);
  assert.ok((r(ISR, 2) & ISR_TER) !== 0);
});

test('rtl8139: receive writes header+frame+CRC into the ring, moves CBR, clears BUFE; wraps', () => {
  const { w, r, mem, port } = setup();
  w(RBSTART, 4, 0x10000);
  w(RCR, 4, RCR_APM | RCR_AB | RCR_WRAP); // 8K ring
  w(CR, 1, CR_RE | CR_TE);
  assert.equal(r(CR, 1) & CR_BUFE, CR_BUFE);
  const f = ethFrame(MAC, BROADCAST_MAC, ETHERTYPE_IPV4, new Uint8Array(86).fill(0x42)); // 100 bytes
  assert.equal(port.deliver(f), true);
  assert.equal(r(CR, 1) & CR_BUFE, 0);
  const v = new DataView(mem.u8.buffer);
  assert.equal(v.getUint16(0x10000, true) & 1, 1, 'ROK');
  assert.equal(v.getUint16(0x10002, true), 104);
  assert.deepEqual(mem.u8.subarray(0x10004, 0x10004 + 100), f);
  assert.equal(r(CBR, 2), 108);
  assert.equal(r(ISR, 2) & ISR_ROK, ISR_ROK);
  // The driver consumes it: CAPR = cur_rx - 16.
  w(CAPR, 2, (108 - 16) & 0xffff);
  assert.equal(r(CR, 1) & CR_BUFE, CR_BUFE);
  // Fill the ring until it refuses; frames for another station are filtered.
  assert.equal(port.deliver(ethFrame(new Uint8Array([2, 0, 0, 0, 0, 1]), MAC, ETHERTYPE_IPV4, new Uint8Array(86))), true);
  assert.equal(r(CBR, 2), 108);
  let n = 0;
  while (port.deliver(f) && n < 1000) n++;
  assert.ok(n > 70 && n < 80, `about 8K/108 frames fit (${n})`);
  assert.equal(r(ISR, 2) & ISR_RXOVW, ISR_RXOVW);
  assert.equal(r(MPC, 4), 1);
});

test('rtl8139: the multicast filter uses the CRC hash in MAR', () => {
  const { w, r, port } = setup();
  w(RBSTART, 4, 0x10000);
  w(RCR, 4, RCR_APM | RCR_AM);
  w(CR, 1, CR_RE);
  const mc = new Uint8Array([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
  const frame = ethFrame(mc, MAC, ETHERTYPE_IPV4, new Uint8Array(50));
  port.deliver(frame);
  assert.equal(r(CBR, 2), 0, 'filtered with MAR clear');
  for (let i = 0; i < 8; i++) w(MAR0 + i, 1, 0xff);
  assert.equal(port.deliver(frame), true);
  assert.ok(r(CBR, 2) > 0, 'taken once its hash bit is set');
});

test('rtl8139: seeded fuzz of the register file with host frames stays inside RAM', () => {
  const seed = fuzzSeed();
  const { nic, port, mem } = setup();
  const rand = seededRandom(seed ^ 0x8139);
  fuzzRegions([nic.io, nic.mmio], 20000, seed, () => {
    const len = Math.floor(rand() * 1800);
    port.deliver(Uint8Array.from({ length: len }, () => Math.floor(rand() * 256)));
    if (rand() < 0.01) nic.setLink(rand() < 0.5);
  });
  assert.equal(mem.u8.length, RAM);
});

test('rtl8139: state saves and loads into a fresh card; impossible state is refused', () => {
  const { nic, w, r } = setup();
  w(RBSTART, 4, 0x12340); w(IMR, 2, 0x25);
  const s = JSON.parse(JSON.stringify(nic.saveState())) as ReturnType<Rtl8139['saveState']>;
  const other = new Rtl8139('nic1', new FakeIrq(), new FakeMemory(RAM), MAC, null);
  other.loadState(s, 1);
  assert.equal(other.io.read(RBSTART, 4), r(RBSTART, 4));
  assert.equal(other.io.read(IMR, 2), 0x25);
  assert.throws(() => other.loadState({ ...s, cbr: -1 }, 1));
});

test('rtl8139 C+: a TX descriptor with IPCS|TCPCS sends a checksummed frame and gives the descriptor back', () => {
  const { w, r, mem, port } = setup();
  const v = new DataView(mem.u8.buffer);
  w(CR, 1, CR_TE | CR_RE);
  w(0xe0, 2, 0x3); // CpTxOn | CpRxOn
  w(0x20, 4, 0x4000); w(0x24, 4, 0);
  const pkt = tcpPacket(ip4('10.0.2.15'), 4000, ip4('10.0.2.2'), 80, 1, 2, TCP_ACK, 1000, new Uint8Array(300).fill(3));
  const f = ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, pkt);
  f[24] = 0; f[25] = 0; f[50] = 0x12; f[51] = 0x34; // spoil both checksums
  mem.u8.set(f, 0x9000);
  const OWN = 1 << 31, EOR = 1 << 30, FS = 1 << 29, LS = 1 << 28;
  v.setUint32(0x4000, (OWN | FS | LS | (1 << 18) | (1 << 16) | f.length) >>> 0, true);
  v.setUint32(0x4008, 0x9000, true);
  v.setUint32(0x4010, (OWN | EOR | FS | LS | 60) >>> 0, true); // a second frame, last in the ring
  v.setUint32(0x4018, RAM - 8, true); // outside RAM: dropped
  w(0xd9, 1, 0x40);
  assert.equal(port.sent.length, 1);
  assert.ok(ipv4HeaderOk(port.sent[0]!, 14) && l4ChecksumOk(port.sent[0]!, 14));
  assert.equal(v.getUint32(0x4000, true) & OWN, 0, 'OWN cleared');
  assert.equal(v.getUint32(0x4010, true) & OWN, 0);
  assert.equal(r(ISR, 2) & ISR_TOK, ISR_TOK);
  // Every descriptor owned by the chip and none marked EOR: one poll walks a bounded number.
  for (let i = 0; i < 2048; i++) v.setUint32(0x20000 + 16 * i, (OWN | FS | LS | 60) >>> 0, true);
  w(0x20, 4, 0x20000);
  w(0xd9, 1, 0x40);
  assert.ok(port.sent.length <= 1 + 1024);
});

test('rtl8139 C+: receive fills the next owned descriptor; none owned keeps the frame', () => {
  const { w, r, mem, port } = setup();
  const v = new DataView(mem.u8.buffer);
  w(RCR, 4, RCR_APM | RCR_AB);
  w(CR, 1, CR_TE | CR_RE);
  w(0xe4, 4, 0x5000); w(0xe8, 4, 0);
  w(0xe0, 2, 0x3);
  const OWN = 1 << 31, EOR = 1 << 30;
  v.setUint32(0x5000, (OWN | 1536) >>> 0, true); v.setUint32(0x5008, 0xa000, true);
  v.setUint32(0x5010, (OWN | EOR | 1536) >>> 0, true); v.setUint32(0x5018, 0xb000, true);
  const f = ethFrame(MAC, BROADCAST_MAC, ETHERTYPE_IPV4, new Uint8Array(100).fill(1));
  assert.equal(port.deliver(f), true);
  assert.equal(port.deliver(f), true);
  const s0 = v.getUint32(0x5000, true);
  assert.equal(s0 & OWN, 0);
  assert.equal(s0 & 0x1fff, f.length + 4);
  assert.equal((s0 >>> 28) & 3, 3, 'FS|LS');
  assert.deepEqual(mem.u8.subarray(0xb000, 0xb000 + f.length), f);
  assert.equal(port.deliver(f), false, 'the ring wrapped to a descriptor the driver has not given back');
  assert.equal(r(ISR, 2) & (ISR_ROK | ISR_RXOVW), ISR_ROK | ISR_RXOVW);
});
