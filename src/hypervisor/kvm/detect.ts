// Is KVM usable here, and is it hardware virtualization? /dev/kvm can exist without VT-x/AMD-V:
// the kvm_pvm module (PVM, paravirtualized KVM for hosts that are themselves guests) answers the
// same ioctls but runs only small guest programs, not a stock kernel — `--accel auto` must not
// pick it.

import { existsSync, readFileSync } from 'node:fs';
import { KVM_API_VERSION, KVM_GET_API_VERSION } from './abi.js';
import { EACCES, ENOENT, EPERM, O_CLOEXEC, O_RDWR, errnoText, lastErrno, libc } from './ffi.js';

/** What detectKvm found. */
export interface KvmDetection {
  /** /dev/kvm opens and speaks API version 12. */
  available: boolean;
  /** Backed by VT-x or AMD-V (kvm_intel / kvm_amd), so stock kernels run. */
  hardwareBacked: boolean;
  /** Which kernel module serves /dev/kvm, e.g. "kvm_intel (VT-x)" or "kvm_pvm (no VT-x/AMD-V)". */
  backend: string;
  /** One sentence for the user: why KVM is or is not available. */
  reason: string;
}

/** The host facts detection looks at; tests pass fakes. */
export interface KvmProbe {
  platform: string;
  deviceExists: boolean;
  /** Result of opening /dev/kvm and asking its API version: a version, or an errno. */
  open: { version: number } | { errno: number; text: string };
  /** The first "flags" line of /proc/cpuinfo ('' when unreadable). */
  cpuFlags: string;
  /** Which of kvm_intel, kvm_amd, kvm_pvm appear under /sys/module. */
  modules: ReadonlySet<string>;
}

/** The KVM device; HVM_KVM_DEVICE overrides it (tests point it at a missing path). */
const DEV_KVM = process.env['HVM_KVM_DEVICE'] ?? '/dev/kvm';

/** Probes this host. */
export function probeHost(): KvmProbe {
  const modules = new Set<string>();
  for (const m of ['kvm_intel', 'kvm_amd', 'kvm_pvm']) if (existsSync(`/sys/module/${m}`)) modules.add(m);
  let cpuFlags = '';
  try {
    const m = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    cpuFlags = m?.[1] ?? '';
  } catch { /* not Linux, or /proc not mounted */ }
  const deviceExists = process.platform === 'linux' && existsSync(DEV_KVM);
  let open: KvmProbe['open'] = { errno: ENOENT, text: 'not present' };
  if (deviceExists) open = openAndAsk();
  return { platform: process.platform, deviceExists, open, cpuFlags, modules };
}

function openAndAsk(): KvmProbe['open'] {
  let c;
  try { c = libc(); } catch (e) { return { errno: -1, text: `cannot load libc through koffi: ${(e as Error).message}` }; }
  const fd = c.open(DEV_KVM, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) { const e = lastErrno(); return { errno: e, text: errnoText(e) }; }
  const version = c.ioctlInt(fd, KVM_GET_API_VERSION, 0);
  const e = lastErrno();
  c.close(fd);
  return version < 0 ? { errno: e, text: `KVM_GET_API_VERSION: ${errnoText(e)}` } : { version };
}

/** Decides from probed facts (pure, so each branch is testable). */
export function classifyKvm(p: KvmProbe): KvmDetection {
  const no = (reason: string): KvmDetection => ({ available: false, hardwareBacked: false, backend: 'none', reason });
  if (p.platform !== 'linux') return no(`KVM needs Linux (this host is ${p.platform})`);
  if (!p.deviceExists) return no(`${DEV_KVM} does not exist (KVM is not loaded, or not passed into this container)`);
  if ('errno' in p.open) {
    if (p.open.errno === EACCES || p.open.errno === EPERM) {
      return no(`${DEV_KVM} is not accessible to this user (${p.open.text}): add the user to the group that owns it, usually "kvm"`);
    }
    return no(`${DEV_KVM} cannot be opened: ${p.open.text}`);
  }
  if (p.open.version !== KVM_API_VERSION) return no(`${DEV_KVM} speaks KVM API version ${p.open.version}, not ${KVM_API_VERSION}`);
  const flags = new Set(p.cpuFlags.split(/\s+/));
  let backend: string;
  let hardwareBacked = false;
  if (p.modules.has('kvm_pvm')) backend = 'kvm_pvm (no VT-x/AMD-V)';
  else if (flags.has('vmx') && p.modules.has('kvm_intel')) { backend = 'kvm_intel (VT-x)'; hardwareBacked = true; }
  else if (flags.has('svm') && p.modules.has('kvm_amd')) { backend = 'kvm_amd (AMD-V)'; hardwareBacked = true; }
  else backend = 'an unknown KVM backend (no vmx/svm in /proc/cpuinfo, no kvm_intel/kvm_amd)';
  const reason = hardwareBacked
    ? `${DEV_KVM} API ${KVM_API_VERSION}, hardware-backed by ${backend}`
    : `${DEV_KVM} API ${KVM_API_VERSION} is served by ${backend}: small guest programs run, stock kernels do not`;
  return { available: true, hardwareBacked, backend, reason };
}

/** Whether KVM can run guests here, and whether it is hardware virtualization. */
export function detectKvm(): KvmDetection {
  return classifyKvm(probeHost());
}
