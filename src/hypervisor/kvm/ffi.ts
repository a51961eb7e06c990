// The few libc calls the KVM accelerator needs, through koffi. Loaded lazily, once per thread:
// the device model imports the KVM interrupt lines even when the VM runs on the soft CPU, and a
// host without libc.so.6 (macOS) must still be able to import this module.
//
// Pointers cross threads as plain numbers (user-space addresses are below 2^47, so a number
// holds them exactly); calls that take an address from another thread declare it `uintptr_t`.

import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');
/** An opaque native pointer as koffi returns it. */
export type NativePointer = object;

/** Linux open(2) flags and mmap(2) constants (x86-64). */
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x1;
/** sigaction(2) flag: restart interrupted system calls (KVM_RUN returns EINTR regardless). */
export const SA_RESTART = 0x10000000;

/** errno values this code tests for. */
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const ENOENT = 2;
export const E2BIG = 7;
export const ENXIO = 6;
export const EPERM = 1;
export const ESRCH = 3;

/** glibc's struct sigaction on x86-64: handler, sa_mask (128 bytes), sa_flags, sa_restorer. */
const SIGACTION_BYTES = 152;
const SIGACTION_FLAGS = 136;

/** Typed libc entry points (one set per thread). */
export interface Libc {
  readonly koffi: Koffi;
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** ioctl with a struct argument: the bytes of `arg` are passed by address, in place. */
  ioctlPtr(fd: number, request: number, arg: Uint8Array): number;
  /** ioctl with an integer argument (or none). */
  ioctlInt(fd: number, request: number, arg: number): number;
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): NativePointer | null;
  munmap(ptr: NativePointer, length: number): number;
  /** memmove(dst, src, 0): returns `dst`, i.e. the host address of a typed array's bytes. */
  addressOf(dst: Uint8Array, src: Uint8Array, n: number): number;
  /** memset at a raw address (a kvm_run mapped by another thread). */
  memsetAt(addr: number, c: number, n: number): number;
  getpid(): number;
  gettid(): number;
  tgkill(tgid: number, tid: number, sig: number): number;
  sigrtmin(): number;
  sigaction(sig: number, act: Uint8Array | null, old: Uint8Array | null): number;
  dlsym(handle: number, name: string): number;
  strerror(errnum: number): string;
}

let koffiModule: Koffi | null = null;
let libcInstance: Libc | null = null;

/** The koffi module, loaded on first use. */
export function koffi(): Koffi {
  if (koffiModule === null) koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
  return koffiModule;
}

/** libc for this thread, loaded on first use; throws a one-line error when it cannot be. */
export function libc(): Libc {
  if (libcInstance !== null) return libcInstance;
  if (process.platform !== 'linux') throw new Error(`KVM needs Linux (this host is ${process.platform})`);
  const k = koffi();
  const lib = k.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, int mode)');
  const close = lib.func('int close(int fd)');
  const ioctlPtr = lib.func('int ioctl(int fd, unsigned long request, void *arg)');
  // A second prototype of the same symbol, for requests whose argument is an integer.
  const ioctlInt = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
  const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const munmap = lib.func('int munmap(void *addr, size_t length)');
  const memmove = lib.func('intptr_t memmove(void *dst, void *src, size_t n)');
  const memsetAt = lib.func('memset', 'uintptr_t', ['uintptr_t', 'int', 'size_t']);
  const getpid = lib.func('int getpid(void)');
  const gettid = lib.func('int gettid(void)');
  const tgkill = lib.func('int tgkill(int tgid, int tid, int sig)');
  const sigrtmin = lib.func('int __libc_current_sigrtmin(void)');
  const sigaction = lib.func('int sigaction(int sig, void *act, void *old)');
  const dlsym = lib.func('intptr_t dlsym(intptr_t handle, const char *name)');
  const strerror = lib.func('const char *strerror(int errnum)');
  libcInstance = {
    koffi: k,
    open: (path, flags, mode) => open(path, flags, mode) as number,
    close: (fd) => close(fd) as number,
    ioctlPtr: (fd, request, arg) => ioctlPtr(fd, request, arg) as number,
    ioctlInt: (fd, request, arg) => ioctlInt(fd, request, arg) as number,
    mmap: (addr, length, prot, flags, fd, offset) => mmap(addr, length, prot, flags, fd, offset) as NativePointer | null,
    munmap: (ptr, length) => munmap(ptr, length) as number,
    addressOf: (dst, src, n) => Number(memmove(dst, src, n) as number | bigint),
    memsetAt: (addr, c, n) => Number(memsetAt(addr, c, n) as number | bigint),
    getpid: () => getpid() as number,
    gettid: () => gettid() as number,
    tgkill: (tgid, tid, sig) => tgkill(tgid, tid, sig) as number,
    sigrtmin: () => sigrtmin() as number,
    sigaction: (sig, act, old) => sigaction(sig, act, old) as number,
    dlsym: (handle, name) => Number(dlsym(handle, name) as number | bigint),
    strerror: (errnum) => strerror(errnum) as string,
  };
  return libcInstance;
}

/** errno of the last failing libc call on this thread (read it right after the call). */
export function lastErrno(): number {
  return koffi().errno();
}

/** "EACCES (Permission denied)"-style text for an errno. */
export function errnoText(errnum: number): string {
  const names = koffi().os.errno;
  let name = `errno ${errnum}`;
  for (const [k, v] of Object.entries(names)) if (v === errnum) { name = k; break; }
  return `${name} (${libc().strerror(errnum)})`;
}

/** Host address of the first byte of `u8` (works for SharedArrayBuffer-backed arrays). */
export function hostAddress(u8: Uint8Array): number {
  return libc().addressOf(u8, u8, 0);
}

/** Host address of a native pointer. */
export function pointerAddress(ptr: NativePointer): number {
  return Number(koffi().address(ptr));
}

/** Whether mmap returned MAP_FAILED (or nothing). */
export function isMapFailed(ptr: NativePointer | null): boolean {
  return ptr === null || koffi().address(ptr) === 0xffff_ffff_ffff_ffffn;
}

/** An ArrayBuffer over native memory (no copy); valid until that memory is unmapped. */
export function nativeView(ptr: NativePointer, length: number): ArrayBuffer {
  return koffi().view(ptr, length);
}

/**
 * Installs `handlerAddr` for signal `sig` (process-wide) with an empty mask and SA_RESTART, so
 * the signal interrupts KVM_RUN (which returns EINTR whatever the flags) while every other
 * system call it lands in restarts transparently.
 */
export function installSignalHandler(sig: number, handlerAddr: number): void {
  const c = libc();
  const cur = new Uint8Array(SIGACTION_BYTES);
  if (c.sigaction(sig, null, cur) !== 0) throw new Error(`sigaction(${sig}): ${errnoText(lastErrno())}`);
  const cv = new DataView(cur.buffer);
  if (Number(cv.getBigUint64(0, true)) === handlerAddr) return;
  const act = new Uint8Array(SIGACTION_BYTES);
  const v = new DataView(act.buffer);
  v.setBigUint64(0, BigInt(handlerAddr), true);
  v.setUint32(SIGACTION_FLAGS, SA_RESTART, true);
  if (c.sigaction(sig, act, null) !== 0) throw new Error(`sigaction(${sig}): ${errnoText(lastErrno())}`);
}
