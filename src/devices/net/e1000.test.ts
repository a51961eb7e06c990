import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E1000, EEPROM_SUM, EEPROM_WORDS } from './e1000.js';
import {
  EECD, EECD_CS, EECD_DI, EECD_DO, EECD_REQ, EECD_SK, EERD, ICR, ICR_LSC, ICR_RXO, ICR_RXT0, ICR_TXDW, ICS, IMC, IMS,
  MDIC, MPC, RCTL, RCTL_BAM, RCTL_EN, RCTL_SECRC, RDBAL, RDH, RDLEN, RDT, STATUS, STATUS_LU, TCTL, TCTL_EN, TDBAL, TDH,
  TDLEN, TDT,
} from './e1000-regs.js';
import { RecordingPort } from './net-testing.js';
import { FakeIrq, FakeMemory, fuzzRegions, fuzzSeed, seededRandom } from '../testing.js';
import { BROADCAST_MAC, ethFrame, ETHERTYPE_IPV4, ip4, ipv4HeaderOk, l4ChecksumOk, tcpPacket, udpPacket, TCP_ACK, TCP_PSH, TCP_FIN } from '../../net/packet.js';
import { get16, get32 } from '../../net/checksum.js';

const MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const RAM = 1 << 20;

function setup(): { nic: E1000; irq: FakeIrq; mem: FakeMemory; port: RecordingPort; w: (o: number, v: number) => void; r: (o: number) => number } {
  const irq = new FakeIrq();
  const mem = new FakeMemory(RAM);
  const port = new RecordingPort();
  const nic = new E1000('nic0', irq, mem, MAC, port);
  return { nic, irq, mem, port, w: (o, v) => nic.mmio.write(o, 4, v >>> 0), r: (o) => nic.mmio.read(o, 4) };
}

/** Reads one EEPROM word the way Linux's e1000_read_eeprom does on an 82540 (Microwire). */
function microwireRead(w: (o: number, v: number) => void, r: (o: number) => number, addr: number): number {
  w(EECD, EECD_REQ);
  assert.ok((r(EECD) & (1 << 7)) !== 0, 'EECD grant');
  w(EECD, EECD_REQ | EECD_CS);
  const out = (bits: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) {
      const di = ((bits >>> i) & 1) !== 0 ? EECD_DI : 0;
      w(EECD, EECD_REQ | EECD_CS | di);
      w(EECD, EECD_REQ | EECD_CS | di | EECD_SK);
      w(EECD, EECD_REQ | EECD_CS | di);
    }
  };
  out(0x6, 3);
  out(addr, 6);
  let v = 0;
  for (let i = 0; i < 16; i++) {
    w(EECD, EECD_REQ | EECD_CS | EECD_SK);
    v = (v << 1) | ((r(EECD) & EECD_DO) !== 0 ? 1 : 0);
    w(EECD, EECD_REQ | EECD_CS);
  }
  w(EECD, 0);
  return v;
}

test('e1000: PCI identity and BARs', () => {
  const { nic } = setup();
  assert.equal(nic.config.get32(0), 0x100e8086);
  assert.equal(nic.config.get32(8) >>> 8, 0x020000);
  nic.config.write(0x10, 4, 0xffffffff);
  assert.equal(nic.config.get32(0x10), (~(0x20000 - 1)) >>> 0);
});

test('e1000: EEPROM through Microwire bit-banging and EERD holds the MAC and sums to 0xBABA', () => {
  const { w, r } = setup();
  let sum = 0;
  const words: number[] = [];
  for (let a = 0; a < EEPROM_WORDS; a++) { const v = microwireRead(w, r, a); words.push(v); sum = (sum + v) & 0xffff; }
  assert.equal(sum, EEPROM_SUM);
  assert.deepEqual(words.slice(0, 3), [0x5452, 0x1200, 0x5634]);
  w(EERD, (1 << 8) | 1);
  assert.equal(r(EERD) >>> 16, 0x1200);
  assert.ok((r(EERD) & 0x10) !== 0);
});

test('e1000: MDIC reads the M88 PHY id and link status', () => {
  const { w, r } = setup();
  const phyRead = (reg: number): number => { w(MDIC, (2 << 26) | (1 << 21) | (reg << 16)); const v = r(MDIC); assert.ok((v & (1 << 28)) !== 0); return v & 0xffff; };
  assert.equal((phyRead(2) << 16 | phyRead(3)) & 0xfffffff0, 0x01410c20);
  assert.ok((phyRead(1) & 0x24) === 0x24, 'link up, autonegotiation complete');
  w(MDIC, (2 << 26) | (2 << 21) | (1 << 16));
  assert.ok((r(MDIC) & (1 << 30)) !== 0, 'a missing PHY address errors');
});

test('e1000: ICS/IMS/IMC and read-to-clear ICR drive one line', () => {
  const { w, r, irq } = setup();
  w(ICS, ICR_TXDW);
  assert.equal(irq.level, false, 'masked');
  w(IMS, ICR_TXDW | ICR_RXT0);
  assert.equal(irq.level, true);
  w(IMC, ICR_TXDW);
  assert.equal(irq.level, false);
  w(IMS, ICR_TXDW);
  assert.equal(r(ICR), ICR_TXDW);
  assert.equal(irq.level, false, 'reading ICR cleared it');
  assert.equal(r(ICR), 0);
});

test('e1000: link down and up from the host raise LSC and move STATUS.LU', () => {
  const { nic, w, r, irq } = setup();
  w(IMS, ICR_LSC);
  nic.setLink(false);
  assert.equal(r(STATUS) & STATUS_LU, 0);
  assert.equal(irq.level, true);
  assert.equal(r(ICR) & ICR_LSC, ICR_LSC);
  nic.setLink(true);
  assert.equal(r(STATUS) & STATUS_LU, STATUS_LU);
});

const RING = 0x1000;
const BUF = 0x10000;

function putDesc(mem: FakeMemory, at: number, addr: number, lower: number, upper: number): void {
  const v = new DataView(mem.u8.buffer);
  v.setUint32(at, addr, true); v.setUint32(at + 4, 0, true); v.setUint32(at + 8, lower >>> 0, true); v.setUint32(at + 12, upper >>> 0, true);
}

function txRing(w: (o: number, v: number) => void, count: number): void {
  w(TDBAL, RING); w(TDLEN, count * 16); w(TDH, 0); w(TDT, 0); w(TCTL, TCTL_EN);
}

test('e1000: a context + data descriptor pair sends a UDP frame with IP and UDP checksums inserted', () => {
  const { mem, w, r, port, irq } = setup();
  txRing(w, 8);
  w(IMS, ICR_TXDW);
  const pkt = udpPacket(ip4('10.0.2.15'), 1234, ip4('10.0.2.2'), 53, new TextEncoder().encode('hello checksum offload'));
  const frame = ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, pkt);
  // Spoil both checksums: the card must fill them in (the UDP one seeded with the pseudo sum as Linux does).
  frame[14 + 10] = 0; frame[14 + 11] = 0;
  const pseudo = (0x0a00 + 0x020f + 0x0a00 + 0x0202 + 17 + (pkt.length - 20)) % 0xffff;
  frame[14 + 26] = pseudo >>> 8; frame[14 + 27] = pseudo & 0xff;
  mem.u8.set(frame, BUF);
  // Context: IPCSS 14, IPCSO 24, IPCSE 33, TUCSS 34, TUCSO 40, TUCSE 0; TUCMD IP; RS.
  const ctxLower = (0x08 | 0x20 | 0x02) << 24;
  const v = new DataView(mem.u8.buffer);
  putDesc(mem, RING, 0, 0, 0);
  v.setUint8(RING, 14); v.setUint8(RING + 1, 24); v.setUint16(RING + 2, 33, true);
  v.setUint8(RING + 4, 34); v.setUint8(RING + 5, 40); v.setUint16(RING + 6, 0, true);
  v.setUint32(RING + 8, ctxLower, true);
  // Data: DTYP 1, DEXT|EOP|IFCS|RS, POPTS IXSM|TXSM.
  putDesc(mem, RING + 16, BUF, frame.length | (1 << 20) | ((0x20 | 0x01 | 0x02 | 0x08) << 24), (0x03 << 8));
  w(TDT, 2);
  assert.equal(r(TDH), 2);
  assert.equal(port.sent.length, 1);
  const out = port.sent[0]!;
  assert.ok(ipv4HeaderOk(out, 14), 'IP checksum inserted');
  assert.ok(l4ChecksumOk(out, 14), 'UDP checksum inserted');
  assert.equal(mem.u8[RING + 16 + 12]! & 1, 1, 'DD written back');
  assert.equal(irq.level, true);
});

test('e1000: TSO splits a TCP packet into MSS-sized segments with fixed headers', () => {
  const { mem, w, port } = setup();
  txRing(w, 8);
  const payload = new Uint8Array(3000).map((_, i) => i & 0xff);
  const pkt = tcpPacket(ip4('10.0.2.15'), 40000, ip4('10.0.2.2'), 80, 1000, 5, TCP_ACK | TCP_PSH | TCP_FIN, 65535, payload);
  const frame = ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, pkt);
  // As Linux does for TSO: IP length and checksum zero, TCP checksum = pseudo sum without length.
  frame[16] = 0; frame[17] = 0; frame[24] = 0; frame[25] = 0;
  const ps = (0x0a00 + 0x020f + 0x0a00 + 0x0202 + 6) & 0xffff;
  frame[50] = ps >>> 8; frame[51] = ps & 0xff;
  mem.u8.set(frame, BUF);
  const v = new DataView(mem.u8.buffer);
  const hdr = 54, mss = 1000;
  putDesc(mem, RING, 0, 0, 0);
  v.setUint8(RING, 14); v.setUint8(RING + 1, 24); v.setUint16(RING + 2, 33, true);
  v.setUint8(RING + 4, 34); v.setUint8(RING + 5, 50); v.setUint16(RING + 6, 0, true);
  v.setUint32(RING + 8, (payload.length | ((0x20 | 0x04 | 0x08) << 24) | (0x03 << 24)) >>> 0, true);
  v.setUint8(RING + 13, hdr); v.setUint16(RING + 14, mss, true);
  // Two data descriptors: header + part of the payload, then the rest.
  putDesc(mem, RING + 16, BUF, 1000 | (1 << 20) | ((0x20 | 0x04) << 24), 0x03 << 8);
  putDesc(mem, RING + 32, BUF + 1000, (frame.length - 1000) | (1 << 20) | ((0x20 | 0x04 | 0x01 | 0x08) << 24), 0x03 << 8);
  w(TDT, 3);
  assert.equal(port.sent.length, 3);
  port.sent.forEach((f, i) => {
    assert.equal(f.length, hdr + mss);
    assert.ok(ipv4HeaderOk(f, 14), `segment ${i} IP header`);
    assert.ok(l4ChecksumOk(f, 14), `segment ${i} TCP checksum`);
    assert.equal(get32(f, 38), 1000 + i * mss, 'sequence number');
    assert.equal(get16(f, 14 + 2), 20 + 20 + mss);
    assert.equal(f[47]! & (TCP_FIN | TCP_PSH), i === 2 ? TCP_FIN | TCP_PSH : 0);
    assert.deepEqual(f.subarray(hdr), payload.subarray(i * mss, (i + 1) * mss));
  });
});

test('e1000: a data buffer outside RAM drops the packet; a tail outside the ring does nothing', () => {
  const { mem, w, r, port } = setup();
  txRing(w, 8); // TDLEN is a multiple of 128 bytes
  putDesc(mem, RING, 0, 0, 0);
  new DataView(mem.u8.buffer).setUint32(RING, RAM - 8, true);
  new DataView(mem.u8.buffer).setUint32(RING + 8, 100 | ((0x01 | 0x08) << 24), true);
  const writesBefore = mem.writes;
  w(TDT, 1);
  assert.equal(port.sent.length, 0);
  assert.equal(r(TDH), 1);
  assert.equal(mem.writes, writesBefore + 1, 'only the DD write-back');
  w(TDT, 1000);
  assert.equal(r(TDH), 1, 'a tail beyond TDLEN is not chased');
});

test('e1000: a full ring of chained descriptors is walked once per TDT write (bounded)', () => {
  const { mem, w, r, port } = setup();
  const n = 64;
  txRing(w, n);
  for (let i = 0; i < n; i++) putDesc(mem, RING + 16 * i, BUF, 60, 0); // no EOP: one endless packet
  w(TDH, 5); w(TDT, 4); // head one past tail: n-1 descriptors
  assert.equal(r(TDH), 4);
  assert.equal(port.sent.length, 0);
});

function rxRing(mem: FakeMemory, w: (o: number, v: number) => void, count: number, tail: number): void {
  for (let i = 0; i < count; i++) putDesc(mem, RING + 16 * i, BUF + 2048 * i, 0, 0);
  w(RDBAL, RING); w(RDLEN, count * 16); w(RDH, 0); w(RDT, tail);
  w(RCTL, RCTL_EN | RCTL_BAM);
}

test('e1000: receive fills descriptors, sets DD/EOP, length with FCS, RXT0', () => {
  const { mem, w, r, port, irq } = setup();
  rxRing(mem, w, 8, 4);
  w(IMS, ICR_RXT0);
  const f = ethFrame(MAC, BROADCAST_MAC, ETHERTYPE_IPV4, udpPacket(ip4('10.0.2.2'), 67, ip4('10.0.2.15'), 68, new Uint8Array(100)));
  assert.equal(port.deliver(f), true);
  assert.equal(r(RDH), 1);
  assert.equal(mem.u8[RING + 12]! & 3, 3);
  assert.equal(new DataView(mem.u8.buffer).getUint16(RING + 8, true), f.length + 4);
  assert.deepEqual(mem.u8.subarray(BUF, BUF + f.length), f);
  assert.equal(irq.level, true);
  w(RCTL, RCTL_EN | RCTL_SECRC); // strip CRC, no broadcast
  port.deliver(f);
  assert.equal(new DataView(mem.u8.buffer).getUint16(RING + 16 + 8, true), f.length);
  assert.equal(port.deliver(ethFrame(BROADCAST_MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(50))), true);
  assert.equal(r(RDH), 2, 'broadcast filtered without BAM');
});

test('e1000: a ring with no free descriptors keeps the frame, counts a miss and raises RXO', () => {
  const { mem, w, r, port } = setup();
  rxRing(mem, w, 8, 0);
  w(IMS, ICR_RXO);
  const f = ethFrame(MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(100));
  assert.equal(port.deliver(f), false);
  assert.equal(r(MPC), 1);
  assert.equal(r(ICR) & ICR_RXO, ICR_RXO);
  // An over-length frame is dropped outright.
  w(RDT, 4);
  assert.equal(port.deliver(ethFrame(MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(3000))), true);
  assert.equal(r(RDH), 0);
  // A descriptor buffer outside RAM: the descriptor completes, RAM outside is untouched.
  putDesc(mem, RING, RAM - 10, 0, 0);
  assert.equal(port.deliver(f), true);
  assert.equal(r(RDH), 1);
});

test('e1000: seeded fuzz of BAR0/BAR1 with frames from the host stays inside RAM', () => {
  const seed = fuzzSeed();
  const { nic, mem, port } = setup();
  const rand = seededRandom(seed ^ 0x5a5a);
  // Aim the guest-visible rings at RAM and beyond, and the ring registers at small values.
  const t0 = Date.now();
  fuzzRegions([nic.mmio, nic.io, { ...nic.mmio, name: 'rings', size: 0x40, read: (o, s) => nic.mmio.read(0x2800 + o, s), write: (o, s, v) => { nic.mmio.write(0x2800 + (o & 0x1c), s, v & 0x3fff); nic.mmio.write(0x3800 + (o & 0x1c), s, v & 0x3fff); nic.mmio.write(0x100, 4, 0x02); nic.mmio.write(0x400, 4, 0x02); } }],
  20000, seed, () => {
    const len = Math.floor(rand() * 2000);
    port.deliver(Uint8Array.from({ length: len }, () => Math.floor(rand() * 256)));
    if (rand() < 0.01) nic.setLink(rand() < 0.5);
  });
  assert.ok(Date.now() - t0 < 20_000, `bounded time (seed ${seed})`);
  assert.ok(mem.u8.length === RAM);
});

test('e1000: a frame needing more descriptors than are free is kept, with RXO; small buffers chain with EOP last', () => {
  const { mem, w, r, port } = setup();
  rxRing(mem, w, 8, 1);
  w(RCTL, RCTL_EN | (3 << 16)); // 256-byte buffers
  const f = ethFrame(MAC, MAC, ETHERTYPE_IPV4, new Uint8Array(600));
  assert.equal(port.deliver(f), false, 'one free descriptor, three needed');
  assert.equal(r(ICR) & ICR_RXO, ICR_RXO);
  w(RDT, 5);
  assert.equal(port.deliver(f), true);
  assert.equal(r(RDH), 3);
  const st = [0, 1, 2].map((i) => mem.u8[RING + 16 * i + 12]! & 3);
  assert.deepEqual(st, [1, 1, 3], 'DD on each, EOP on the last');
  const lens = [0, 1, 2].map((i) => new DataView(mem.u8.buffer).getUint16(RING + 16 * i + 8, true));
  assert.deepEqual(lens, [256, 256, f.length + 4 - 512]);
});

test('e1000: state saves and loads into a fresh card; impossible state is refused', () => {
  const { nic, w } = setup();
  w(IMS, ICR_TXDW); w(RDBAL, 0x4000); w(RDLEN, 256); nic.setLink(false);
  const s = JSON.parse(JSON.stringify(nic.saveState())) as ReturnType<E1000['saveState']>;
  const other = new E1000('nic0', new FakeIrq(), new FakeMemory(RAM), MAC, null);
  other.loadState(s, 1);
  for (const reg of [IMS, RDBAL, RDLEN, STATUS]) assert.equal(other.mmio.read(reg, 4), nic.mmio.read(reg, 4));
  assert.equal(other.linkUp, false);
  assert.throws(() => other.loadState({ ...s, phy: [1, 2] }, 1));
  assert.throws(() => other.loadState(s, 2));
});

test('e1000: zero-length and over-length transmit descriptors complete without sending', () => {
  const { mem, w, r, port } = setup();
  txRing(w, 8);
  putDesc(mem, RING, BUF, 0 | ((0x01 | 0x08) << 24), 0);                                   // legacy, length 0, EOP|RS
  putDesc(mem, RING + 16, BUF, 0xfffff | (1 << 20) | ((0x20 | 0x01 | 0x08) << 24), 0);     // data, 1 MiB: past the FIFO
  putDesc(mem, RING + 32, BUF, 60 | ((0x01 | 0x08) << 24), 0);                             // a good one after
  w(TDT, 3);
  assert.equal(r(TDH), 3);
  assert.equal(port.sent.length, 1, 'only the good frame');
  assert.equal(port.sent[0]!.length, 60);
  for (let i = 0; i < 3; i++) assert.equal(mem.u8[RING + 16 * i + 12]! & 1, 1, `DD on descriptor ${i}`);
});
