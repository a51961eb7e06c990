// Packet capture in the classic libpcap format (LINKTYPE_ETHERNET), which Wireshark and tshark
// read: a 24-byte global header, then a 16-byte record header before each frame.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { EthernetPort, FrameReceiver } from './ethernet.js';

const PCAP_MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;

/** Appends frames to a pcap file. */
export class PcapWriter {
  private fd: number | null;
  frames = 0;
  constructor(path: string, private readonly nowMs: () => number = () => Date.now()) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6);  // version 2.4
    h.writeInt32LE(0, 8); h.writeUInt32LE(0, 12);  // GMT offset, accuracy
    h.writeUInt32LE(SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writeSync(this.fd, h);
  }
  /** Records one frame with the current time. */
  write(frame: Uint8Array): void {
    if (this.fd === null) return;
    const t = this.nowMs();
    const len = Math.min(frame.length, SNAPLEN);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(t / 1000), 0);
    h.writeUInt32LE(Math.floor((t % 1000) * 1000), 4);
    h.writeUInt32LE(len, 8);
    h.writeUInt32LE(frame.length, 12);
    writeSync(this.fd, h);
    writeSync(this.fd, frame, 0, len);
    this.frames++;
  }
  close(): void { if (this.fd !== null) { closeSync(this.fd); this.fd = null; } }
}

/** Wraps a backend so every frame in either direction is also written to `pcap`. */
export function withPcap(inner: EthernetPort, pcap: PcapWriter): EthernetPort {
  return {
    send: (frame) => { pcap.write(frame); inner.send(frame); },
    onFrame: (receiver: FrameReceiver) => inner.onFrame((frame) => {
      const ok = receiver(frame);
      if (ok) pcap.write(frame); // recorded once, when the card takes it
      return ok;
    }),
    ready: () => inner.ready(),
    close: () => { inner.close(); pcap.close(); },
  };
}
