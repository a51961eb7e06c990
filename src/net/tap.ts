// The tap backend: the card's frames go to and come from a host tap interface (Linux
// Documentation/networking/tuntap.rst). /dev/net/tun is opened non-blocking, TUNSETIFF attaches
// it to `ifname` as IFF_TAP with IFF_NO_PI (whole Ethernet frames, no packet-information
// prefix), and the device-model thread polls it with non-blocking reads. Where the device is
// missing or not permitted the backend throws a one-line error and the VM does not start.

import { koffi, lastErrno, libc, errnoText, EAGAIN, O_CLOEXEC, O_RDWR } from '../hypervisor/kvm/ffi.js';
import { ETH_HLEN, ETH_MAX_JUMBO, FrameQueue, type EthernetPort, type FrameReceiver } from './ethernet.js';

/** <linux/if_tun.h>: TUNSETIFF = _IOW('T', 202, int); flags in struct ifreq. */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const O_NONBLOCK = 0o4000;
const IFNAMSIZ = 16;
/** struct ifreq: the name, then the union whose first member is short ifr_flags. */
const IFREQ_BYTES = 40;
const IFREQ_FLAGS = 16;
/** How often the device is polled (ms), and the most frames taken per poll. */
const POLL_MS = 1;
const FRAMES_PER_POLL = 64;

/** The tun/tap device node. */
export const TUN_PATH = '/dev/net/tun';

interface TapCalls { read(fd: number, buf: Uint8Array, n: number): number; write(fd: number, buf: Uint8Array, n: number): number }
let calls: TapCalls | null = null;

function tapCalls(): TapCalls {
  if (calls !== null) return calls;
  const lib = koffi().load('libc.so.6');
  const read = lib.func('read', 'intptr_t', ['int', 'void *', 'size_t']);
  const write = lib.func('write', 'intptr_t', ['int', 'void *', 'size_t']);
  calls = {
    read: (fd, buf, n) => Number(read(fd, buf, n) as number | bigint),
    write: (fd, buf, n) => Number(write(fd, buf, n) as number | bigint),
  };
  return calls;
}

/** Checks an interface name as the kernel would take it (a host error when not). */
export function checkIfname(name: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) throw new Error(`tap: ifname "${name}" is not 1-15 letters, digits or _.:-`);
  return name;
}

/** One tap interface as an Ethernet port. */
export class TapBackend implements EthernetPort {
  private fd: number;
  private readonly rx = new FrameQueue();
  private readonly buf = new Uint8Array(ETH_MAX_JUMBO);
  private readonly poll: NodeJS.Timeout;
  dropped = 0;

  /** Opens `ifname` (created if it does not exist and the host allows it); throws a one-line error. */
  constructor(readonly ifname: string, path = TUN_PATH) {
    checkIfname(ifname);
    if (process.platform !== 'linux') throw new Error(`tap: needs Linux's ${TUN_PATH} (this host is ${process.platform})`);
    const c = libc();
    const fd = c.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) throw new Error(`tap: cannot open ${path}: ${errnoText(lastErrno())}`);
    const ifr = new Uint8Array(IFREQ_BYTES);
    ifr.set(new TextEncoder().encode(ifname).subarray(0, IFNAMSIZ - 1), 0);
    new DataView(ifr.buffer).setUint16(IFREQ_FLAGS, IFF_TAP | IFF_NO_PI, true);
    if (c.ioctlPtr(fd, TUNSETIFF, ifr) < 0) {
      const err = lastErrno();
      c.close(fd);
      throw new Error(`tap: cannot attach ${ifname} (TUNSETIFF): ${errnoText(err)}`);
    }
    this.fd = fd;
    tapCalls();
    this.poll = setInterval(() => this.pollDevice(), POLL_MS);
  }

  send(frame: Uint8Array): void {
    if (this.fd < 0) return;
    // A full device queue (EAGAIN) drops the frame, as a cable would.
    if (tapCalls().write(this.fd, frame, frame.length) !== frame.length) this.dropped++;
  }

  onFrame(receiver: FrameReceiver): void { this.rx.setReceiver(receiver); }
  ready(): void { this.rx.drain(); }

  close(): void {
    clearInterval(this.poll);
    if (this.fd >= 0) libc().close(this.fd);
    this.fd = -1;
  }

  /** Takes what the host has queued, a bounded number of frames per call. */
  private pollDevice(): void {
    const t = tapCalls();
    for (let n = 0; n < FRAMES_PER_POLL && this.fd >= 0; n++) {
      const got = t.read(this.fd, this.buf, this.buf.length);
      if (got < 0) {
        if (lastErrno() !== EAGAIN) this.dropped++;
        return;
      }
      if (got < ETH_HLEN) { this.dropped++; continue; }
      this.rx.push(this.buf.slice(0, got));
    }
  }
}
