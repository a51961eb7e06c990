// The typed vCPU exit union, decoded once at the accelerator's edge into one preallocated
// record per vCPU (no allocation per exit).

/** Why a vCPU stopped running guest code. */
export const enum ExitReason {
  /** Port I/O the device model must serve (KVM_EXIT_IO). */
  Io = 1,
  /** An access to guest-physical memory that is not RAM (KVM_EXIT_MMIO). */
  Mmio = 2,
  /** HLT with nothing to wake it inside the accelerator. */
  Hlt = 3,
  /** Triple fault: a PC resets. */
  Shutdown = 4,
  /** The hardware refused to enter the guest (bad state). */
  FailEntry = 5,
  /** The accelerator could not emulate something; the message says what. */
  InternalError = 6,
  /** The guest asked for reset or power-off through the accelerator (PSCI-like, KVM_EXIT_SYSTEM_EVENT). */
  SystemEvent = 7,
  /** The host asked the vCPU to stop running (pause, stop, a signal). */
  Interrupted = 8,
}

/** KVM_SYSTEM_EVENT_* types. */
export const enum SystemEventType { Shutdown = 1, Reset = 2, Crash = 3 }

/** One vCPU exit. Only the fields of the current `reason` are meaningful. */
export interface VcpuExit {
  reason: ExitReason;
  /** Io: 0 = out (write), 1 = in (read). */
  ioIn: boolean;
  ioPort: number;
  ioSize: 1 | 2 | 4;
  /** Io: number of elements (string I/O moves several). */
  ioCount: number;
  /** Io: the data bytes (ioSize * ioCount), in the accelerator's own buffer. */
  ioData: Uint8Array;
  /** Mmio: guest-physical address, length and direction; data in mmioData (8 bytes). */
  mmioAddr: number;
  mmioLen: number;
  mmioWrite: boolean;
  mmioData: Uint8Array;
  /** SystemEvent type. */
  eventType: number;
  /** FailEntry/InternalError: the raw codes and a human message. */
  hwReason: number;
  suberror: number;
  message: string;
}

/** A fresh exit record (once per vCPU). */
export function newExitRecord(): VcpuExit {
  return {
    reason: ExitReason.Interrupted, ioIn: false, ioPort: 0, ioSize: 1, ioCount: 0, ioData: new Uint8Array(0),
    mmioAddr: 0, mmioLen: 0, mmioWrite: false, mmioData: new Uint8Array(8), eventType: 0, hwReason: 0,
    suberror: 0, message: '',
  };
}
