// The socket backend: two VMs on one Ethernet segment over host UDP, one frame per datagram
// (what QEMU's `-netdev socket,udp=…,localaddr=…` sends, so the two interoperate).

import { createSocket, type Socket } from 'node:dgram';
import { ETH_HLEN, ETH_MAX_JUMBO, FrameQueue, type EthernetPort, type FrameReceiver } from './ethernet.js';

/** Host:port pair. */
export interface HostPort { host: string; port: number }

/** Parses "127.0.0.1:5000" (a host error when malformed). */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^([^:]*):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port > 0 && port < 65536)) throw new Error(`${what}: "${text}" is not host:port`);
  return { host: m[1] === '' ? '127.0.0.1' : m[1]!, port };
}

/** One end of a UDP-joined segment. */
export class UdpSocketBackend implements EthernetPort {
  private readonly sock: Socket;
  private readonly rx = new FrameQueue();
  dropped = 0;
  constructor(private readonly peer: HostPort, local: HostPort, onError: (e: Error) => void = () => {}) {
    this.sock = createSocket('udp4');
    this.sock.on('error', onError);
    this.sock.on('message', (msg) => {
      if (msg.length < ETH_HLEN || msg.length > ETH_MAX_JUMBO) { this.dropped++; return; }
      this.rx.push(new Uint8Array(msg));
    });
    this.sock.bind(local.port, local.host);
  }
  send(frame: Uint8Array): void { this.sock.send(frame, this.peer.port, this.peer.host); }
  onFrame(receiver: FrameReceiver): void { this.rx.setReceiver(receiver); }
  ready(): void { this.rx.drain(); }
  close(): void { try { this.sock.close(); } catch { /* already closed */ } }
}
