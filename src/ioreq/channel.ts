// The ioreq channel: the one boundary between vCPU threads and the device-model thread.
//
// Modelled on Xen's ioreq page (xen/include/public/hvm/ioreq.h): one request slot per vCPU
// whose state moves READY -> IN_PROCESS -> RESPONSE_READY -> NONE, plus a buffered ring for
// writes that need no answer. Everything lives in one SharedArrayBuffer and moves through
// Atomics; nothing here allocates per request.
//
// Latency (DESIGN.md): a futex hop costs ~57 us, a bounded spin before sleeping brings the round
// trip to ~9 us. Both sides therefore spin for a bounded time before they sleep.

/** Slot states, in the order a request moves through them. */
export const enum IoreqState { None = 0, Ready = 1, InProcess = 2, ResponseReady = 3 }
/** What a request addresses. */
export const enum IoreqKind { Pio = 0, Mmio = 1 }
/** Direction: a write carries data to the device, a read brings data back. */
export const enum IoreqDir { Write = 0, Read = 1 }

// Slot words (Int32 indices inside one slot).
const S_STATE = 0;
const S_KIND = 1;
const S_DIR = 2;
const S_SIZE = 3;
const S_ADDR_LO = 4;
const S_ADDR_HI = 5;
const S_DATA_LO = 6;
const S_DATA_HI = 7;
/** For string I/O: how many elements of `size` bytes travel through the slot's data area. */
const S_COUNT = 8;
const SLOT_WORDS = 16;
/** Per-slot byte area for string I/O (INS/OUTS): at most one page, as KVM hands us. */
export const SLOT_DATA_BYTES = 4096;

// Header words.
const H_DOORBELL = 0;      // bumped by any vCPU that posts work; the device model sleeps on it
const H_SERVER_ASLEEP = 1; // 1 while the device model sleeps on the doorbell
const H_RING_HEAD = 2;     // buffered ring: next entry the device model reads
const H_RING_TAIL = 3;     // buffered ring: next entry a vCPU writes
const H_RING_LOCK = 4;     // vCPUs serialize ring producers with this word
const H_HOST_WAKE = 5;     // the host side (main thread) asks the device model to visit its event loop
const HEADER_WORDS = 16;

/** Buffered ring of posted writes: entries of 4 words (kind|size<<8, addr, data lo, data hi). */
export const RING_ENTRIES = 512;
const RING_ENTRY_WORDS = 4;

/** Spins before a waiter sleeps (each spin is one Atomics.load, a few ns). */
const CLIENT_SPIN = 20_000;

/** Bytes needed for a channel serving `vcpus` vCPUs. */
export function ioreqChannelBytes(vcpus: number): number {
  return (HEADER_WORDS + RING_ENTRIES * RING_ENTRY_WORDS + vcpus * SLOT_WORDS) * 4 + vcpus * SLOT_DATA_BYTES;
}

/** The shared layout; both sides construct one over the same buffer. */
export class IoreqChannel {
  readonly words: Int32Array;
  readonly vcpus: number;
  private readonly ringBase = HEADER_WORDS;
  private readonly slotBase = HEADER_WORDS + RING_ENTRIES * RING_ENTRY_WORDS;
  private readonly dataBase: number;

  constructor(readonly buffer: SharedArrayBuffer, vcpus: number) {
    if (buffer.byteLength < ioreqChannelBytes(vcpus)) throw new Error('ioreq buffer too small');
    this.vcpus = vcpus;
    this.words = new Int32Array(buffer);
    this.dataBase = (this.slotBase + vcpus * SLOT_WORDS) * 4;
  }

  /** The string-I/O data area of one slot. */
  slotData(vcpu: number): Uint8Array {
    return new Uint8Array(this.buffer, this.dataBase + vcpu * SLOT_DATA_BYTES, SLOT_DATA_BYTES);
  }

  slotIndex(vcpu: number): number { return this.slotBase + vcpu * SLOT_WORDS; }

  /** Wakes the device model if it sleeps. */
  ringDoorbell(): void {
    Atomics.add(this.words, H_DOORBELL, 1);
    if (Atomics.load(this.words, H_SERVER_ASLEEP) !== 0) Atomics.notify(this.words, H_DOORBELL);
  }

  /** Main thread: ask the device model to return to its event loop (a message is waiting). */
  wakeForHost(): void {
    Atomics.store(this.words, H_HOST_WAKE, 1);
    this.ringDoorbell();
  }

  // ---- ring fields, for the two sides below ----
  get ringHeadIndex(): number { return H_RING_HEAD; }
  get ringTailIndex(): number { return H_RING_TAIL; }
  ringEntry(i: number): number { return this.ringBase + (i % RING_ENTRIES) * RING_ENTRY_WORDS; }
  get doorbellIndex(): number { return H_DOORBELL; }
  get asleepIndex(): number { return H_SERVER_ASLEEP; }
  get hostWakeIndex(): number { return H_HOST_WAKE; }
  get ringLockIndex(): number { return H_RING_LOCK; }
}

/**
 * The vCPU side of one slot. `pioRead`/`pioWrite`/`mmioRead`/`mmioWrite` block the calling vCPU
 * until the device model answers, exactly as a Xen HVM vCPU is paused on an ioreq.
 */
export class IoreqClient {
  private readonly w: Int32Array;
  private readonly s: number;
  /** String-I/O bytes travel here (at most SLOT_DATA_BYTES). */
  readonly data: Uint8Array;
  /** Requests that had to sleep on the futex (for benchmarks and tuning). */
  sleeps = 0;

  constructor(private readonly ch: IoreqChannel, vcpu: number) {
    this.w = ch.words;
    this.s = ch.slotIndex(vcpu);
    this.data = ch.slotData(vcpu);
  }

  /** Port read of 1, 2 or 4 bytes. */
  pioRead(port: number, size: number): number {
    return this.request(IoreqKind.Pio, IoreqDir.Read, port, 0, size, 0, 0);
  }

  /** Port write of 1, 2 or 4 bytes. */
  pioWrite(port: number, size: number, value: number): void {
    this.request(IoreqKind.Pio, IoreqDir.Write, port, 0, size, value, 0);
  }

  /** String port read: `count` elements into `data`. */
  pioReadString(port: number, size: number, count: number): void {
    this.request(IoreqKind.Pio, IoreqDir.Read, port, 0, size, 0, count);
  }

  /** String port write: `count` elements from `data`. */
  pioWriteString(port: number, size: number, count: number): void {
    this.request(IoreqKind.Pio, IoreqDir.Write, port, 0, size, 0, count);
  }

  /** MMIO read of 1, 2, 4 or 8 bytes; the high half of an 8-byte read is in `lastHigh`. */
  mmioRead(gpa: number, size: number): number {
    return this.request(IoreqKind.Mmio, IoreqDir.Read, gpa >>> 0, Math.floor(gpa / 0x1_0000_0000), size, 0, 0);
  }

  /** MMIO write; for 8 bytes pass the high half in `high`. */
  mmioWrite(gpa: number, size: number, value: number, high = 0): void {
    this.request(IoreqKind.Mmio, IoreqDir.Write, gpa >>> 0, Math.floor(gpa / 0x1_0000_0000), size, value, 0, high);
  }

  /** High 32 bits of the last 8-byte read. */
  get lastHigh(): number { return this.w[this.s + S_DATA_HI]! >>> 0; }

  /**
   * Posts a write that needs no answer into the buffered ring; returns false when the ring is
   * full, and the caller then makes an ordinary request (which the device model serves only
   * after draining the ring, so order holds).
   */
  postWrite(kind: IoreqKind, addr: number, size: number, value: number): boolean {
    const ch = this.ch;
    const w = this.w;
    while (Atomics.compareExchange(w, ch.ringLockIndex, 0, 1) !== 0) { /* producers are vCPUs; short */ }
    const head = Atomics.load(w, ch.ringHeadIndex);
    const tail = w[ch.ringTailIndex]!;
    if (((tail - head) | 0) >= RING_ENTRIES) { Atomics.store(w, ch.ringLockIndex, 0); return false; }
    const e = ch.ringEntry(tail >>> 0);
    w[e] = kind | (size << 8);
    w[e + 1] = addr | 0;
    w[e + 2] = value | 0;
    w[e + 3] = 0;
    Atomics.store(w, ch.ringTailIndex, (tail + 1) | 0);
    Atomics.store(w, ch.ringLockIndex, 0);
    ch.ringDoorbell();
    return true;
  }

  private request(kind: IoreqKind, dir: IoreqDir, addrLo: number, addrHi: number, size: number,
                  value: number, count: number, high = 0): number {
    const w = this.w;
    const s = this.s;
    w[s + S_KIND] = kind;
    w[s + S_DIR] = dir;
    w[s + S_SIZE] = size;
    w[s + S_ADDR_LO] = addrLo | 0;
    w[s + S_ADDR_HI] = addrHi | 0;
    w[s + S_DATA_LO] = value | 0;
    w[s + S_DATA_HI] = high | 0;
    w[s + S_COUNT] = count;
    Atomics.store(w, s + S_STATE, IoreqState.Ready);
    this.ch.ringDoorbell();
    let spins = CLIENT_SPIN;
    for (;;) {
      const st = Atomics.load(w, s + S_STATE);
      if (st === IoreqState.ResponseReady) break;
      if (--spins > 0) continue;
      this.sleeps++;
      Atomics.wait(w, s + S_STATE, st, 50);
    }
    Atomics.store(w, s + S_STATE, IoreqState.None);
    return w[s + S_DATA_LO]!;
  }
}

/** One request as the device model sees it; a preallocated record, refilled per request. */
export interface IoreqRecord {
  vcpu: number;
  kind: IoreqKind;
  dir: IoreqDir;
  size: number;
  /** Port number or guest-physical address (up to 2^53). */
  addr: number;
  /** Low 32 bits of data (write: from the vCPU; read: the answer). */
  data: number;
  /** High 32 bits for 8-byte MMIO. */
  dataHigh: number;
  /** 0 for a single access; >0 for string I/O through `stringData`. */
  count: number;
  stringData: Uint8Array;
}

/** What serves requests on the device-model thread. */
export interface IoreqHandler {
  handle(req: IoreqRecord): void;
}

/** The device-model side: drains the ring, serves slots, spins, then sleeps. */
export class IoreqServer {
  private readonly w: Int32Array;
  private readonly rec: IoreqRecord;
  private readonly datas: Uint8Array[];
  /** Requests served, for statistics. */
  served = 0;

  constructor(private readonly ch: IoreqChannel, private readonly handler: IoreqHandler) {
    this.w = ch.words;
    this.datas = [];
    for (let v = 0; v < ch.vcpus; v++) this.datas.push(ch.slotData(v));
    this.rec = { vcpu: 0, kind: IoreqKind.Pio, dir: IoreqDir.Write, size: 1, addr: 0, data: 0, dataHigh: 0,
                 count: 0, stringData: this.datas[0]! };
  }

  /** Serves everything pending once; returns how many requests were served. */
  poll(): number {
    let n = this.drainRing();
    const w = this.w;
    for (let v = 0; v < this.ch.vcpus; v++) {
      const s = this.ch.slotIndex(v);
      if (Atomics.load(w, s + S_STATE) !== IoreqState.Ready) continue;
      // A slot's request may only be served after every write posted before it.
      n += this.drainRing();
      w[s + S_STATE] = IoreqState.InProcess;
      const r = this.rec;
      r.vcpu = v;
      r.kind = w[s + S_KIND]!;
      r.dir = w[s + S_DIR]!;
      r.size = w[s + S_SIZE]!;
      r.addr = (w[s + S_ADDR_LO]! >>> 0) + (w[s + S_ADDR_HI]! >>> 0) * 0x1_0000_0000;
      r.data = w[s + S_DATA_LO]!;
      r.dataHigh = w[s + S_DATA_HI]!;
      r.count = w[s + S_COUNT]!;
      r.stringData = this.datas[v]!;
      this.handler.handle(r);
      w[s + S_DATA_LO] = r.data | 0;
      w[s + S_DATA_HI] = r.dataHigh | 0;
      Atomics.store(w, s + S_STATE, IoreqState.ResponseReady);
      Atomics.notify(w, s + S_STATE);
      n++;
    }
    this.served += n;
    return n;
  }

  private drainRing(): number {
    const w = this.w;
    const ch = this.ch;
    let head = Atomics.load(w, ch.ringHeadIndex);
    const tail = Atomics.load(w, ch.ringTailIndex);
    let n = 0;
    const r = this.rec;
    // Bounded by the ring's size: a producer cannot run more than RING_ENTRIES ahead.
    for (; head !== tail && n < RING_ENTRIES; n++, head = (head + 1) | 0) {
      const e = ch.ringEntry(head >>> 0);
      const kindSize = w[e]!;
      r.vcpu = 0;
      r.kind = kindSize & 0xff;
      r.dir = IoreqDir.Write;
      r.size = kindSize >>> 8;
      r.addr = w[e + 1]! >>> 0;
      r.data = w[e + 2]!;
      r.dataHigh = w[e + 3]!;
      r.count = 0;
      this.handler.handle(r);
    }
    Atomics.store(w, ch.ringHeadIndex, head);
    return n;
  }

  /**
   * Serves requests until `budgetMs` passes, spinning `spinMs` after the last request before
   * sleeping on the doorbell. Returns early when the host asks for the event loop.
   */
  serve(budgetMs: number, spinMs: number): void {
    const w = this.w;
    const ch = this.ch;
    const end = performance.now() + budgetMs;
    let idleSince = performance.now();
    for (;;) {
      if (Atomics.load(w, ch.hostWakeIndex) !== 0) { Atomics.store(w, ch.hostWakeIndex, 0); return; }
      const bell = Atomics.load(w, ch.doorbellIndex);
      if (this.poll() > 0) { idleSince = performance.now(); continue; }
      const now = performance.now();
      if (now >= end) return;
      if (now - idleSince < spinMs) continue;
      Atomics.store(w, ch.asleepIndex, 1);
      // Re-check after announcing sleep, so a doorbell rung in between is not lost.
      if (Atomics.load(w, ch.doorbellIndex) === bell) Atomics.wait(w, ch.doorbellIndex, bell, end - now);
      Atomics.store(w, ch.asleepIndex, 0);
      idleSince = performance.now();
    }
  }
}
