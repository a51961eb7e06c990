// The user-mode network's DHCP server (RFC 2131, options RFC 2132): one lease, 10.0.2.15,
// with the gateway as router and server, and the DNS address. DISCOVER gets an OFFER,
// REQUEST an ACK (or a NAK for another address).

import { get32 } from '../checksum.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_OFFSET = 240;
/** Option codes. */
const OPT_PAD = 0, OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_REQUESTED_IP = 50, OPT_LEASE = 51,
  OPT_MSG_TYPE = 53, OPT_SERVER_ID = 54, OPT_END = 255;
/** Message types (option 53). */
export const DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPACK = 5, DHCPNAK = 6;
const LEASE_SECONDS = 86400;

/** Addresses the server hands out. */
export interface DhcpConfig { server: Uint8Array; client: Uint8Array; router: Uint8Array; dns: Uint8Array; mask: Uint8Array }

/** A parsed request: the fields a reply needs. */
export interface DhcpRequest { type: number; xid: number; flags: number; chaddr: Uint8Array; requested: Uint8Array | null; ciaddr: Uint8Array }

/** Parses a BOOTP/DHCP request from a UDP payload; null when malformed or not a request. */
export function parseDhcp(p: Uint8Array): DhcpRequest | null {
  if (p.length < OPTIONS_OFFSET + 1 || p[0] !== BOOTREQUEST || p[1] !== 1 || p[2] !== 6) return null;
  if (get32(p, 236) !== MAGIC_COOKIE) return null;
  let type = 0;
  let requested: Uint8Array | null = null;
  // Options: code, length, value; bounded by the payload.
  for (let i = OPTIONS_OFFSET; i < p.length;) {
    const code = p[i]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) { i++; continue; }
    const len = p[i + 1];
    if (len === undefined || i + 2 + len > p.length) return null;
    if (code === OPT_MSG_TYPE && len === 1) type = p[i + 2]!;
    if (code === OPT_REQUESTED_IP && len === 4) requested = p.slice(i + 2, i + 6);
    i += 2 + len;
  }
  if (type === 0) return null;
  return { type, xid: get32(p, 4), flags: (p[10]! << 8) | p[11]!, chaddr: p.slice(28, 34), requested, ciaddr: p.slice(12, 16) };
}

/** The reply to a request (OFFER, ACK or NAK), or null when the request needs none. */
export function dhcpReply(req: DhcpRequest, cfg: DhcpConfig): Uint8Array | null {
  let type: number;
  if (req.type === DHCPDISCOVER) type = DHCPOFFER;
  else if (req.type === DHCPREQUEST) {
    const want = req.requested ?? req.ciaddr;
    type = want.every((b, i) => b === cfg.client[i]) ? DHCPACK : DHCPNAK;
  } else return null;
  const p = new Uint8Array(OPTIONS_OFFSET + 64);
  p[0] = BOOTREPLY; p[1] = 1; p[2] = 6;
  p[4] = req.xid >>> 24; p[5] = (req.xid >>> 16) & 0xff; p[6] = (req.xid >>> 8) & 0xff; p[7] = req.xid & 0xff;
  p[10] = req.flags >>> 8; p[11] = req.flags & 0xff;
  if (type !== DHCPNAK) p.set(cfg.client, 16);       // yiaddr
  p.set(cfg.server, 20);                             // siaddr
  p.set(req.chaddr, 28);
  p[236] = 0x63; p[237] = 0x82; p[238] = 0x53; p[239] = 0x63;
  let i = OPTIONS_OFFSET;
  const opt = (code: number, value: ArrayLike<number>): void => { p[i++] = code; p[i++] = value.length; p.set(value, i); i += value.length; };
  opt(OPT_MSG_TYPE, [type]);
  opt(OPT_SERVER_ID, cfg.server);
  if (type !== DHCPNAK) {
    opt(OPT_LEASE, [LEASE_SECONDS >>> 24, (LEASE_SECONDS >>> 16) & 0xff, (LEASE_SECONDS >>> 8) & 0xff, LEASE_SECONDS & 0xff]);
    opt(OPT_SUBNET, cfg.mask);
    opt(OPT_ROUTER, cfg.router);
    opt(OPT_DNS, cfg.dns);
  }
  p[i++] = OPT_END;
  return p.subarray(0, Math.max(i, 300)); // BOOTP's minimum message size
}
