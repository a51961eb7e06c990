// Messages between the main thread (the Vm object) and its worker threads. Only control flows
// here; guest I/O flows through the ioreq channel and the control block in shared memory.

import type { NicSpec } from '../net/nic.js';
import type { CpuState } from './vcpu.js';
import type { MemoryLayout } from './memory.js';

/** The shared memory every worker maps. */
export interface SharedVm {
  ram: SharedArrayBuffer;
  ramOffset: number;
  layout: MemoryLayout;
  ioreq: SharedArrayBuffer;
  control: SharedArrayBuffer;
  cpus: number;
  accel: 'kvm' | 'soft';
  /** KVM: the VM fd (process-wide), for driving interrupt lines from the device model. */
  kvmVmFd: number;
  /** The VRAM dirty bitmap (Int32 words, one bit per 4 KiB page; src/hypervisor/vram.ts). */
  vramDirty: SharedArrayBuffer;
}

/** A drive for the IDE controller, opened by the device model (so its I/O runs on that thread). */
export interface DriveSpec {
  file: string | null;
  format: 'raw' | 'qcow2' | 'auto';
  media: 'disk' | 'cdrom';
  readOnly: boolean;
  /** 0: primary channel, 1: secondary. */
  bus: 0 | 1;
  /** 0: master, 1: slave. */
  unit: 0 | 1;
}

/** Main → device model. */
export type ToDeviceModel =
  | { kind: 'init'; shared: SharedVm; machine: string; drives: DriveSpec[]; nics?: NicSpec[]; vga?: 'std' | 'cirrus' | 'none' }
  /** Draw the screen: what changed since the last refresh, or everything when `full`. */
  | { kind: 'display-refresh'; full: boolean }
  | { kind: 'chardev-in'; id: string; bytes: Uint8Array }
  /** A press of the machine's ACPI power button. */
  | { kind: 'power-button' }
  /** The host plugs or unplugs a network card's cable. */
  | { kind: 'nic-link'; id: string; up: boolean }
  /** A host key event: PC scan code set 1 make code (0xE0xx extended, 0xE11D45 Pause). */
  | { kind: 'input-key'; code: number; down: boolean }
  /** Host pointer motion: dy positive = down, dz wheel clicks (positive = down), buttons bit 0 left, 1 right, 2 middle. */
  | { kind: 'input-pointer'; dx: number; dy: number; dz: number; buttons: number }
  /** The host changes a CD-ROM's medium (`file` null: eject); answered by 'change-media-done'. */
  | { kind: 'change-media'; seq: number; id: string; file: string | null; format?: 'raw' | 'qcow2' }
  | { kind: 'reset' }
  | { kind: 'stop' };

/** Device model → main. */
export type FromDeviceModel =
  | { kind: 'ready' }
  | { kind: 'chardev-out'; id: string; bytes: Uint8Array }
  | { kind: 'system'; event: 'reset' | 'poweroff' }
  | { kind: 'system'; event: 'exit'; status: number }
  | { kind: 'reset-done' }
  /**
   * The answer to 'display-refresh': `surface` holds width*height pixels 0x00RRGGBB (a new buffer
   * when the size changes), `rects` x,y,w,h quadruples that changed, `text` a text mode's screen.
   */
  | { kind: 'display-frame'; width: number; height: number; surface: SharedArrayBuffer; rects: number[]; text: string | null }
  /** After 'stop': drives closed, the thread may end. */
  | { kind: 'stopped' }
  /** The answer to 'change-media': null, or why it failed (one line). */
  | { kind: 'change-media-done'; seq: number; error: string | null }
  | { kind: 'error'; message: string };

/** Main → a vCPU worker (soft: one worker runs every CPU; KVM: one worker per vCPU). */
export type ToVcpu =
  | { kind: 'init'; shared: SharedVm; vcpuIds: number[]; states: CpuState[]; kvmVcpuFds: number[] }
  | { kind: 'set-state'; states: CpuState[] };

/** Why a vCPU worker stopped the machine. */
export type VcpuStopReason = 'shutdown' | 'halted-forever' | 'error';

/** A vCPU worker → main. */
export type FromVcpu =
  | { kind: 'ready'; info: string }
  | { kind: 'state-set' }
  | { kind: 'stopped'; reason: VcpuStopReason; message: string }
  | { kind: 'stats'; exits: number; sleeps: number };
