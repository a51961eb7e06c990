// One guest TCP connection carried over a host socket (RFC 793, reduced): the NAT terminates
// TCP on its side — it answers the guest's SYN once the host socket connects, acknowledges
// in-order data and writes it to the host, and sends what the host says in MSS-sized segments
// within the guest's window, going back to the last acknowledged byte when no ACK comes.

import type { Socket } from 'node:net';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../packet.js';

/** Sends one segment to the guest (the NAT fills in addresses and ports). */
export type SegmentOut = (flags: number, seq: number, ack: number, window: number, data: Uint8Array, mss: number) => void;

/** Bytes from the host held for the guest before the host socket is paused. */
const SEND_BUFFER_MAX = 256 * 1024;
/** Bytes in flight at most, whatever the guest's window says. */
const FLIGHT_MAX = 32 * 1024;
const MSS_MAX = 1460;
const MSS_DEFAULT = 536;
const RTO_MS = 400;
const RETRIES_MAX = 30;
/** The window the NAT advertises (no window scaling is offered). */
const WINDOW = 65535;

type State = 'connecting' | 'syn-sent' | 'syn-received' | 'established' | 'closed';

/** Sequence-space comparison: a after b. */
function after(a: number, b: number): boolean { return ((a - b) | 0) > 0; }

/** A parsed segment from the guest. */
export interface Segment { flags: number; seq: number; ack: number; window: number; data: Uint8Array; mss: number }

/** The state of one connection. */
export class TcpConn {
  private state: State;
  private sndUna: number;
  private sndNxt: number;
  private rcvNxt = 0;
  private guestWnd = 0;
  private mss = MSS_DEFAULT;
  /** Host bytes from sndUna on (sent but unacknowledged, then unsent). */
  private buf: Uint8Array = new Uint8Array(0);
  private hostEnded = false;
  private finSent = false;
  private guestFin = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;

  /**
   * Guest-initiated (`syn` given): waits for the host socket to connect, then answers SYN|ACK.
   * Host-initiated (hostfwd): sends the SYN to the guest now.
   */
  constructor(private readonly sock: Socket, private readonly out: SegmentOut, private readonly onClosed: () => void,
              syn: Segment | null, isn: number) {
    this.sndUna = isn >>> 0;
    this.sndNxt = isn >>> 0;
    sock.on('data', (d: Buffer) => this.hostData(d));
    sock.on('end', () => { this.hostEnded = true; this.pump(); });
    sock.on('error', () => this.abort());
    sock.on('close', () => { if (!this.hostEnded) { this.hostEnded = true; this.pump(); } });
    if (syn !== null) {
      this.state = 'connecting';
      this.rcvNxt = (syn.seq + 1) >>> 0;
      this.guestWnd = syn.window;
      this.mss = Math.min(MSS_MAX, syn.mss > 0 ? syn.mss : MSS_DEFAULT);
      sock.pause();
      sock.on('connect', () => { this.state = 'syn-received'; this.sendSynAck(); sock.resume(); });
    } else {
      this.state = 'syn-sent';
      sock.pause();
      this.out(TCP_SYN, this.sndNxt, 0, WINDOW, new Uint8Array(0), MSS_MAX);
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.arm();
    }
  }

  get closed(): boolean { return this.state === 'closed'; }

  private sendSynAck(): void {
    this.out(TCP_SYN | TCP_ACK, this.sndUna, this.rcvNxt, WINDOW, new Uint8Array(0), MSS_MAX);
    this.sndNxt = (this.sndUna + 1) >>> 0;
    this.arm();
  }

  private window(): number { return Math.max(0, WINDOW - this.sock.writableLength); }

  private ack(): void { this.out(TCP_ACK, this.sndNxt, this.rcvNxt, this.window(), new Uint8Array(0), 0); }

  /** A segment from the guest for this connection. */
  segment(s: Segment): void {
    if (this.state === 'closed') return;
    if ((s.flags & TCP_RST) !== 0) { this.close(true); return; }
    if (this.state === 'connecting') return; // the guest's retransmitted SYN: the answer comes on connect
    if (this.state === 'syn-sent') {
      if ((s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) && s.ack === this.sndNxt) {
        this.rcvNxt = (s.seq + 1) >>> 0;
        this.sndUna = s.ack;
        this.guestWnd = s.window;
        this.mss = Math.min(MSS_MAX, s.mss > 0 ? s.mss : MSS_DEFAULT);
        this.state = 'established';
        this.retries = 0;
        this.ack();
        this.sock.resume();
      }
      return;
    }
    if ((s.flags & TCP_SYN) !== 0) { if (this.state === 'syn-received') this.sendSynAck(); return; }
    if ((s.flags & TCP_ACK) !== 0) {
      if (this.state === 'syn-received' && s.ack === this.sndNxt) { this.state = 'established'; this.sndUna = s.ack; this.retries = 0; }
      if (after(s.ack, this.sndUna) && !after(s.ack, this.sndNxt)) {
        let n = (s.ack - this.sndUna) >>> 0;
        // The FIN takes a sequence number but no buffer byte.
        if (this.finSent && s.ack === this.sndNxt) n = Math.min(n, this.buf.length);
        this.buf = this.buf.subarray(Math.min(n, this.buf.length));
        this.sndUna = s.ack;
        this.retries = 0;
        if (this.buf.length < SEND_BUFFER_MAX / 2 && this.sock.isPaused() && this.state === 'established') this.sock.resume();
      }
      this.guestWnd = s.window;
    }
    if (this.state !== 'established') return;
    let advanced = false;
    if (s.data.length > 0) {
      if (s.seq === this.rcvNxt && !this.guestFin) {
        this.sock.write(s.data);
        this.rcvNxt = (this.rcvNxt + s.data.length) >>> 0;
      }
      advanced = true; // in order or not, the guest hears where we are
    }
    if ((s.flags & TCP_FIN) !== 0 && ((s.seq + s.data.length) >>> 0) === this.rcvNxt && !this.guestFin) {
      this.guestFin = true;
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.sock.end();
      advanced = true;
    }
    if (advanced) this.ack();
    this.pump();
  }

  private hostData(d: Buffer): void {
    if (this.state === 'closed') return;
    const b = new Uint8Array(this.buf.length + d.length);
    b.set(this.buf); b.set(d, this.buf.length);
    this.buf = b;
    if (this.buf.length > SEND_BUFFER_MAX) this.sock.pause();
    this.pump();
  }

  /** Sends what the window allows, then the FIN once the host has ended and all is sent. */
  private pump(): void {
    if (this.state !== 'established') return;
    const wnd = Math.min(this.guestWnd, FLIGHT_MAX);
    for (let n = 0; n < 64; n++) {
      const inFlight = (this.sndNxt - this.sndUna) >>> 0;
      const offset = Math.min(inFlight, this.buf.length);
      const room = wnd - inFlight;
      const len = Math.min(this.mss, this.buf.length - offset, room);
      if (len <= 0) break;
      this.out(TCP_ACK | TCP_PSH, this.sndNxt, this.rcvNxt, this.window(), this.buf.subarray(offset, offset + len), 0);
      this.sndNxt = (this.sndNxt + len) >>> 0;
    }
    const allSent = ((this.sndNxt - this.sndUna) >>> 0) >= this.buf.length;
    if (this.hostEnded && !this.finSent && allSent) {
      this.out(TCP_FIN | TCP_ACK, this.sndNxt, this.rcvNxt, this.window(), new Uint8Array(0), 0);
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.finSent = true;
    }
    if (this.finSent && this.guestFin && this.sndUna === this.sndNxt) { this.close(false); return; }
    if (this.sndUna !== this.sndNxt) this.arm();
  }

  private arm(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => { this.timer = null; this.timeout(); }, RTO_MS);
  }

  /** No ACK came: go back to the last acknowledged byte (and resend a lost SYN or FIN). */
  private timeout(): void {
    if (this.state === 'closed' || this.sndUna === this.sndNxt) return;
    if (++this.retries > RETRIES_MAX) { this.abort(); return; }
    if (this.state === 'syn-received') { this.sendSynAck(); return; }
    if (this.state === 'syn-sent') {
      this.out(TCP_SYN, this.sndUna, 0, WINDOW, new Uint8Array(0), MSS_MAX);
      this.arm();
      return;
    }
    this.sndNxt = this.sndUna;
    if (this.finSent) this.finSent = false;
    this.pump();
  }

  /** Host-side failure: RST to the guest. */
  private abort(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'connecting' || this.rcvNxt !== 0) this.out(TCP_RST | TCP_ACK, this.sndNxt, this.rcvNxt, 0, new Uint8Array(0), 0);
    this.close(true);
  }

  /** Ends the connection; `hard` destroys the host socket. */
  close(hard: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (hard) this.sock.destroy();
    else this.sock.end();
    this.onClosed();
  }
}
