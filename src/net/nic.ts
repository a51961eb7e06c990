// NIC specifications as plain data (they cross to the device-model thread in a message), the
// `--nic` argument parser, and opening a NIC's backend on the device-model thread.

import { parseMac, type EthernetPort } from './ethernet.js';
import { PcapWriter, withPcap } from './pcap.js';
import { parseHostPort, TcpSocketBackend, UdpSocketBackend } from './socket.js';
import { checkIfname, TapBackend } from './tap.js';
import { parseDnsUpstream } from './user/dns.js';
import { parseHostFwd, UserNet, type HostFwd } from './user/user-net.js';

/** The card models. */
export type NicModel = 'e1000' | 'rtl8139';

/** One NIC: card, MAC, backend and an optional capture file. */
export interface NicSpec {
  model: NicModel;
  mac: string;
  backend: NicBackendSpec;
  pcap?: string;
  /** PCI revision (rtl8139: 0x10, C mode under 8139too, by default; 0x20 for 8139cp's C+ mode). */
  revision?: number;
}

/** Where a NIC's frames go. */
export type NicBackendSpec =
  /** The user-mode NAT; `dns` (IPV4[:PORT]) overrides the host's resolver for 10.0.2.3. */
  | { kind: 'user'; hostfwd: HostFwd[]; dns?: string }
  /** QEMU's socket backend over UDP (`udp` the peer, `localaddr` this end). */
  | { kind: 'socket'; udp: string; localaddr: string }
  /** QEMU's socket backend over TCP: one side `listen`s (HOST:PORT), the other `connect`s. */
  | { kind: 'socket-tcp'; listen: string }
  | { kind: 'socket-tcp'; connect: string }
  /** A host tap interface. */
  | { kind: 'tap'; ifname: string };

/** The MAC for the n-th NIC when none is given: QEMU's 52:54:00:12:34:56, counting up. */
export function defaultMac(n: number): string {
  return `52:54:00:12:34:${(0x56 + n).toString(16).padStart(2, '0')}`;
}

/**
 * Parses one `--nic` value: `user[,model=…][,mac=…][,hostfwd=…][,dns=IP[:PORT]][,pcap=FILE][,rev=N]`,
 * `socket,udp=HOST:PORT,localaddr=HOST:PORT[,…]`, `socket,listen=[HOST]:PORT[,…]`,
 * `socket,connect=HOST:PORT[,…]`, `tap,ifname=NAME[,…]`, or `none` (null). Throws a one-line error.
 */
export function parseNicArg(text: string, index: number): NicSpec | null {
  const [kind, ...opts] = text.split(',');
  if (kind === 'none' && opts.length === 0) return null;
  if (kind !== 'user' && kind !== 'socket' && kind !== 'tap') throw new Error(`--nic: "${kind ?? ''}" is not user, socket, tap or none`);
  let model: NicModel = 'e1000';
  let mac = defaultMac(index);
  let pcap: string | undefined;
  let revision: number | undefined;
  const hostfwd: HostFwd[] = [];
  let udp: string | undefined, localaddr: string | undefined, listen: string | undefined, connect: string | undefined;
  let dns: string | undefined, ifname: string | undefined;
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? '' : o.slice(eq + 1);
    switch (key) {
      case 'model':
        if (value !== 'e1000' && value !== 'rtl8139') throw new Error(`--nic: model "${value}" is not e1000 or rtl8139`);
        model = value; break;
      case 'mac': {
        const m = parseMac(value);
        if (m === null || (m[0]! & 1) !== 0) throw new Error(`--nic: mac "${value}" is not a unicast aa:bb:cc:dd:ee:ff`);
        mac = value.toLowerCase(); break;
      }
      case 'pcap': if (value === '') throw new Error('--nic: pcap= needs a file name'); pcap = value; break;
      case 'rev': {
        const r = Number(value);
        if (value === '' || !Number.isInteger(r) || r < 0 || r > 0xff) throw new Error(`--nic: rev "${value}" is not a PCI revision 0..0xff`);
        revision = r; break;
      }
      case 'hostfwd':
        if (kind !== 'user') throw new Error('--nic: hostfwd= is for the user backend');
        hostfwd.push(parseHostFwd(value)); break;
      case 'dns':
        if (kind !== 'user') throw new Error('--nic: dns= is for the user backend');
        parseDnsUpstream(value); dns = value; break;
      case 'udp': case 'localaddr': case 'listen': case 'connect':
        if (kind !== 'socket') throw new Error(`--nic: ${key}= is for the socket backend`);
        parseHostPort(value, `--nic ${key}=`);
        if (key === 'udp') udp = value; else if (key === 'localaddr') localaddr = value;
        else if (key === 'listen') listen = value; else connect = value;
        break;
      case 'ifname':
        if (kind !== 'tap') throw new Error('--nic: ifname= is for the tap backend');
        ifname = checkIfname(value); break;
      default: throw new Error(`--nic: unknown option "${key}"`);
    }
  }
  let backend: NicBackendSpec;
  if (kind === 'user') backend = { kind: 'user', hostfwd, ...(dns !== undefined ? { dns } : {}) };
  else if (kind === 'tap') {
    if (ifname === undefined) throw new Error('--nic tap needs ifname=NAME');
    backend = { kind: 'tap', ifname };
  } else {
    const ways = [udp !== undefined || localaddr !== undefined, listen !== undefined, connect !== undefined].filter((x) => x).length;
    if (ways !== 1) throw new Error('--nic socket needs one of udp=HOST:PORT,localaddr=HOST:PORT or listen=[HOST]:PORT or connect=HOST:PORT');
    if (listen !== undefined) backend = { kind: 'socket-tcp', listen };
    else if (connect !== undefined) backend = { kind: 'socket-tcp', connect };
    else {
      if (udp === undefined || localaddr === undefined) throw new Error('--nic socket needs udp=HOST:PORT and localaddr=HOST:PORT');
      backend = { kind: 'socket', udp, localaddr };
    }
  }
  if (revision !== undefined && model !== 'rtl8139') throw new Error('--nic: rev= is for model=rtl8139');
  return { model, mac, backend, ...(pcap !== undefined ? { pcap } : {}), ...(revision !== undefined ? { revision } : {}) };
}

/** Opens a NIC's backend (on the device-model thread). */
export function openNicBackend(spec: NicSpec, onError: (e: Error) => void): EthernetPort {
  const b = spec.backend;
  let port: EthernetPort;
  switch (b.kind) {
    case 'user': port = new UserNet(b.hostfwd, onError, b.dns !== undefined ? { dns: parseDnsUpstream(b.dns) } : {}); break;
    case 'socket': port = new UdpSocketBackend(parseHostPort(b.udp, 'udp'), parseHostPort(b.localaddr, 'localaddr'), onError); break;
    case 'socket-tcp':
      port = new TcpSocketBackend('listen' in b ? { listen: parseHostPort(b.listen, 'listen') } : { connect: parseHostPort(b.connect, 'connect') }, onError);
      break;
    case 'tap': port = new TapBackend(b.ifname); break;
  }
  return spec.pcap !== undefined ? withPcap(port, new PcapWriter(spec.pcap)) : port;
}
