// Kicking a vCPU thread out of KVM_RUN from another thread (pause, stop, reset).
//
// KVM_RUN returns EINTR when a signal is pending for the thread that runs it, and right away when
// kvm_run.immediate_exit is set as it starts. A kick therefore (1) sets immediate_exit in that
// vCPU's kvm_run, so a kick landing just before KVM_RUN is not lost, then (2) sends the thread a
// signal. The vCPU clears immediate_exit after KVM_RUN comes back with EINTR.
//
// Choices, and why:
// - The signal is a real-time one, SIGRTMIN + KICK_SIGNAL_OFFSET: SIGUSR1 is Node's inspector
//   signal, SIGUSR2 and SIGPROF are used by profilers, and glibc keeps the two lowest RT signals
//   for itself (__libc_current_sigrtmin() accounts for them).
// - The handler must be native code that does nothing: a JavaScript callback cannot run in a
//   signal handler. It is glibc's `abs` found through dlsym: it takes one int (the signal
//   number), reads only that register, writes no memory and not errno. Its return value is
//   discarded and the kernel restores every register at sigreturn.
// - SA_RESTART, so the signal landing anywhere else (a futex wait in the JS engine, a write)
//   restarts that call; KVM_RUN returns EINTR whatever the flags.
// - tgkill(pid, gettid) rather than pthread_kill(pthread_self): a pthread_t of a thread that has
//   exited is a dangling pointer, while a stale kernel tid at worst signals another thread of
//   this process, which the no-op handler makes harmless.
//
// The vCPU thread publishes its tid and its kvm_run address in a small shared slot; the slot's
// lock word keeps a kick from writing into a kvm_run the vCPU is unmapping.

import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { KVM_RUN_IMMEDIATE_EXIT } from './abi.js';
import { ESRCH, errnoText, installSignalHandler, lastErrno, libc } from './ffi.js';

/** Offset of the kick signal above SIGRTMIN. */
export const KICK_SIGNAL_OFFSET = 6;

const LOCK = 0;
const TID = 1;
const RUN_LO = 2;
const RUN_HI = 3;
const KICKS = 4;
const SLOT_WORDS = 8;
/** Bytes of one vCPU's kick slot. */
export const KICK_SLOT_BYTES = SLOT_WORDS * 4;

/** A vCPU's kick slot: shared memory, so it can be posted to any worker. */
export type KickSlot = SharedArrayBuffer;

/** A fresh, empty kick slot. */
export function allocateKickSlot(): KickSlot {
  return new SharedArrayBuffer(KICK_SLOT_BYTES);
}

let handlerSignal = 0;

/** The kick signal number; installs its no-op handler on first use (process-wide). */
export function kickSignal(): number {
  if (handlerSignal !== 0) return handlerSignal;
  const c = libc();
  const sig = c.sigrtmin() + KICK_SIGNAL_OFFSET;
  const RTLD_DEFAULT = 0;
  const noop = c.dlsym(RTLD_DEFAULT, 'abs');
  if (noop === 0) throw new Error('dlsym(abs) failed: no native no-op to use as the vCPU kick handler');
  installSignalHandler(sig, noop);
  handlerSignal = sig;
  return sig;
}

function lock(w: Int32Array): void {
  // Held only across two short libc calls by either side.
  while (Atomics.compareExchange(w, LOCK, 0, 1) !== 0) { /* spin */ }
}

function unlock(w: Int32Array): void {
  Atomics.store(w, LOCK, 0);
}

/** The vCPU thread: records which thread runs this vCPU and where its kvm_run is mapped. */
export function publishRunner(slot: KickSlot, runAddr: number): void {
  kickSignal();
  const w = new Int32Array(slot);
  lock(w);
  Atomics.store(w, RUN_LO, runAddr % 0x1_0000_0000);
  Atomics.store(w, RUN_HI, Math.floor(runAddr / 0x1_0000_0000));
  Atomics.store(w, TID, libc().gettid());
  unlock(w);
}

/** The vCPU thread, before it unmaps kvm_run: no kick touches it afterwards. */
export function withdrawRunner(slot: KickSlot): void {
  const w = new Int32Array(slot);
  lock(w);
  Atomics.store(w, TID, 0);
  Atomics.store(w, RUN_LO, 0);
  Atomics.store(w, RUN_HI, 0);
  unlock(w);
}

/**
 * Makes the vCPU's current or next KVM_RUN return (run() then reports Interrupted). Callable from
 * any thread. Returns false when no thread has published itself for this vCPU yet (the caller's
 * request word, set before the kick, is then seen before the first KVM_RUN).
 */
export function kickVcpu(slot: KickSlot): boolean {
  const sig = kickSignal();
  const c = libc();
  const w = new Int32Array(slot);
  lock(w);
  try {
    const tid = Atomics.load(w, TID);
    if (tid === 0) return false;
    const run = (Atomics.load(w, RUN_LO) >>> 0) + (Atomics.load(w, RUN_HI) >>> 0) * 0x1_0000_0000;
    c.memsetAt(run + KVM_RUN_IMMEDIATE_EXIT, 1, 1);
    Atomics.add(w, KICKS, 1);
    if (c.tgkill(c.getpid(), tid, sig) !== 0) {
      const e = lastErrno();
      // ESRCH: the thread is gone; immediate_exit alone stops a later KVM_RUN.
      if (e !== ESRCH) throw new Error(`tgkill: ${errnoText(e)}`);
    }
    return true;
  } finally {
    unlock(w);
  }
}

/** Kicks delivered to this slot so far (for tests and stats). */
export function kickCount(slot: KickSlot): number {
  return Atomics.load(new Int32Array(slot), KICKS);
}

const envKey = (vcpuFd: number): string => `hvm:kvm-kick:${vcpuFd}`;

/**
 * Makes `slot` findable by vCPU fd in workers created after this call (worker environment data),
 * so a KvmVcpu built from the fd alone still publishes itself where KvmVm.kick looks.
 */
export function registerKickSlot(vcpuFd: number, slot: KickSlot | undefined): void {
  setEnvironmentData(envKey(vcpuFd), slot);
}

/** The slot registered for `vcpuFd` by the thread that created this worker, if any. */
export function lookupKickSlot(vcpuFd: number): KickSlot | undefined {
  const v = getEnvironmentData(envKey(vcpuFd));
  return v instanceof SharedArrayBuffer && v.byteLength >= KICK_SLOT_BYTES ? v : undefined;
}
