// Runs host machine code from the tests: the host CPU (x86-64) is the oracle for the soft CPU's
// instruction semantics. Code goes into an anonymous read-write-execute mapping made through
// libc's mmap (koffi), and is called like a C function.
//
// `BatchStub` wraps one instruction in a loop that, for each record of a buffer, loads the whole
// x87/SSE state (FXRSTOR), six GPRs, EFLAGS and a memory-operand pointer, runs the instruction,
// and stores everything back (FXSAVE), so thousands of cases cost one FFI call. The host's own
// x87/SSE state is saved around the batch (V8 relies on its MXCSR and control word).

import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

/** Record layout of a batch buffer (bytes). */
export const REC_FXSAVE = 0x000;
/** EAX, ECX, EDX, EBX, EBP, EDI in and out (32-bit each, in this order). */
export const REC_GPR = 0x200;
/** The GPR numbers (x86 encoding) held at REC_GPR + 4*k. */
export const REC_GPR_NUMS: readonly number[] = [0, 1, 2, 3, 5, 7];
/** RFLAGS in and out (8 bytes; give only status flags and bit 1 as input). */
export const REC_FLAGS = 0x218;
/** The memory operand: RSI points here while the instruction runs (1 KiB, 16-byte aligned). */
export const REC_MEM = 0x400;
export const REC_MEM_SIZE = 0x400;
/** Bytes per record. */
export const REC_SIZE = 0x800;

// Hand-assembled (nasm) prologue, per-record epilogue and tail of the batch loop; see the
// comments in BatchStub for the instructions they hold.
const PROLOGUE = hex(
  '53554154415541564989fc4989f54989d6410fae06' + // push rbx..r14; mov r12,rdi; mov r13,rsi; mov r14,rdx; fxsave [r14]
  '410fae0c24' + // loop: fxrstor [r12]
  '418b842400020000418b8c2404020000418b942408020000418b9c240c020000' + // mov eax..ebx,[r12+0x200..]
  '418bac2410020000418bbc2414020000' + // mov ebp,[r12+0x210]; mov edi,[r12+0x214]
  '498db42400040000' + // lea rsi,[r12+0x400]
  '41ffb424180200009d', // push qword [r12+0x218]; popfq
);
const LOOP_AT = 21;
const EPILOGUE = hex(
  '9c418f8424180200004189842400020000' + // pushfq; pop qword [r12+0x218]; mov [r12+0x200],eax
  '41898c2404020000418994240802000041899c240c020000' +
  '4189ac24100200004189bc2414020000' +
  '410fae0424' + // fxsave [r12]
  '4981c40008000049ffcd', // add r12,2048; dec r13
);
const TAIL = hex('410fae0efc415e415d415c5d5bc3'); // fxrstor [r14]; cld; pop r14..rbx; ret

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

let koffiMod: Koffi | null = null;
let libcFns: { mmap: (...a: unknown[]) => unknown; koffi: Koffi } | null = null;

function lib(): { mmap: (...a: unknown[]) => unknown; koffi: Koffi } {
  if (libcFns !== null) return libcFns;
  koffiMod ??= createRequire(import.meta.url)('koffi') as Koffi;
  const libc = koffiMod.load('libc.so.6');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  libcFns = { mmap: (...a: unknown[]) => mmap(...a) as unknown, koffi: koffiMod };
  return libcFns;
}

/** Why native stubs cannot run here, or null when they can (x86-64 Linux with koffi). */
export function nativeUnavailable(): string | null {
  if (process.platform !== 'linux') return `host is ${process.platform}, not linux`;
  if (process.arch !== 'x64') return `host is ${process.arch}, not x64`;
  try { lib(); } catch (e) { return `koffi: ${(e as Error).message}`; }
  return null;
}

/** A native mapping: its host address and a JS view of its bytes. */
export interface NativeRegion { readonly address: number; readonly bytes: Uint8Array }

/** Maps `len` bytes (page-aligned, zeroed) with the given protection. */
export function mapNative(len: number, exec: boolean): NativeRegion {
  const { mmap, koffi } = lib();
  const prot = PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0);
  const ptr = mmap(null, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const address = ptr === null ? -1 : Number(koffi.address(ptr));
  if (address === -1 || address === 0xffffffffffffffff) throw new Error(`mmap of ${len} bytes failed`);
  return { address, bytes: new Uint8Array(koffi.view(ptr, len)) };
}

/** Executable memory holding any number of functions `uint64_t f(uintptr_t, uintptr_t, uintptr_t)`. */
export class NativeCode {
  private readonly region: NativeRegion;
  private used = 0;
  private readonly proto: unknown;

  constructor(size = 1 << 20) {
    this.region = mapNative(size, true);
    const { koffi } = lib();
    this.proto = koffi.proto('uint64_t hvm_oracle_stub(uintptr_t a, uintptr_t b, uintptr_t c)');
  }

  /** Copies `code` in (16-byte aligned) and returns a caller for it. */
  install(code: Uint8Array): (a: number, b: number, c: number) => bigint {
    const at = (this.used + 15) & ~15;
    if (at + code.length > this.region.bytes.length) throw new Error('NativeCode: out of space');
    this.region.bytes.set(code, at);
    this.used = at + code.length;
    const { koffi } = lib();
    const fnAddr = this.region.address + at;
    const proto = this.proto;
    // koffi.call takes a pointer value; decode one from the address.
    const ptr = koffi.decode(new BigUint64Array([BigInt(fnAddr)]), 'void *') as unknown;
    return (a, b, c) => BigInt(koffi.call(ptr, proto as Parameters<Koffi['call']>[1], a, b, c) as number | bigint);
  }
}

/**
 * One instruction run over a batch of records (layout REC_*): for each record, FXRSTOR its
 * first 512 bytes, load EAX ECX EDX EBX EBP EDI and RFLAGS from it, point RSI at its memory
 * operand, run `instr`, then store RFLAGS, the GPRs and FXSAVE back into the record.
 * `instr` must use [rsi] for memory (ModRM mod=00 rm=110) and leave RSP, R12-R14 alone.
 */
export class BatchStub {
  private readonly call: (a: number, b: number, c: number) => bigint;

  constructor(code: NativeCode, instr: Uint8Array, private readonly scratch: NativeRegion) {
    const body = new Uint8Array(PROLOGUE.length + instr.length + EPILOGUE.length + 6 + TAIL.length);
    let n = 0;
    body.set(PROLOGUE, n); n += PROLOGUE.length;
    body.set(instr, n); n += instr.length;
    body.set(EPILOGUE, n); n += EPILOGUE.length;
    const rel = LOOP_AT - (n + 6); // jnz rel32 back to the loop head
    body.set([0x0f, 0x85, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff], n); n += 6;
    body.set(TAIL, n);
    this.call = code.install(body);
  }

  /** Runs records [0, count) of `batch` (a native region, 16-byte aligned). */
  run(batch: NativeRegion, count: number): void {
    if (count <= 0) return;
    if (count * REC_SIZE > batch.bytes.length) throw new Error('BatchStub: batch too small');
    this.call(batch.address, count, this.scratch.address);
  }
}

/** A ready-to-use oracle: executable memory, a host save area and a batch buffer of `records`. */
export class Oracle {
  readonly code: NativeCode;
  readonly batch: NativeRegion;
  private readonly hostSave: NativeRegion;
  private readonly stubs = new Map<string, BatchStub>();

  constructor(readonly records = 1024) {
    this.code = new NativeCode(1 << 20);
    this.batch = mapNative(records * REC_SIZE, false);
    this.hostSave = mapNative(4096, false);
  }

  /** The batch stub for an instruction encoding (cached). */
  stub(instr: Uint8Array): BatchStub {
    const key = Array.from(instr, (b) => b.toString(16).padStart(2, '0')).join('');
    let s = this.stubs.get(key);
    if (s === undefined) {
      s = new BatchStub(this.code, instr, this.hostSave);
      this.stubs.set(key, s);
    }
    return s;
  }

  /** The bytes of record `i`. */
  record(i: number): Uint8Array {
    return this.batch.bytes.subarray(i * REC_SIZE, (i + 1) * REC_SIZE);
  }
}
