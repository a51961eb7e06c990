// `hvm`: a thin layer over the Vm API. Host mistakes (bad flags, unreadable files) print one
// line and exit non-zero; the exit status otherwise follows the guest (QEMU's conventions).

import { parseArgs } from 'node:util';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { totalmem } from 'node:os';
import { Vm, type BootLoader, type VmConfig } from '../hypervisor/vm.js';
import { checkBzImage, loadLinux, loadFirmwareImage, loadFlatBinary } from '../firmware/boot.js';
import { XLF_KERNEL_64 } from '../firmware/bzimage.js';
import { extractVmlinux, parseVmlinux, type Vmlinux } from '../firmware/vmlinux.js';
import { pcLinuxBootTables } from '../firmware/acpi/pc.js';
import { machines } from '../machine/pc.js';
import { StdioConsole } from '../chardev/stdio.js';
import { buildDefaultGuest } from '../guest/image-build.js';
import { parseDrives } from './drive-args.js';
import { parseNicArg, type NicSpec } from '../net/nic.js';
import type { DriveSpec } from '../hypervisor/messages.js';
import { QmpMonitor } from './qmp-monitor.js';
import { QmpServer, parseQmpSpec, type QmpListenSpec } from './qmp-server.js';
import { VncServer } from '../ui/vnc-server.js';
import { parseVncSpec, readVncPassword, type VncListenSpec } from '../ui/vnc-args.js';
import { nextScreenshotName } from '../ui/screenshot.js';

/** The default guest's kernel command line. */
export const DEFAULT_GUEST_APPEND = 'console=ttyS0 cryptomgr.notests';

/** A host-side mistake: printed as one line, exit status 1. */
export class UsageError extends Error {}

/** Debian's seabios package's 256 KiB image, what --firmware bios boots. */
const SEABIOS_ROM = '/usr/share/seabios/bios-256k.bin';

const HELP = `hvm — a PC virtual machine monitor (KVM or its own x86 CPU)

Usage:
  hvm run [options]          boot a guest (with no --kernel/--rom: the default Debian guest)
  hvm image build [--arch i386|amd64]
                             build the default guest from Debian packages (cached)
  hvm demo                   build the default guest if needed and boot it
  hvm --help

Options for run:
  --kernel FILE        Linux bzImage, booted through the Linux boot protocol
  --initrd FILE        initial ramdisk for --kernel
  --append TEXT        kernel command line (default: "console=ttyS0"; for the
                       default guest "console=ttyS0 cryptomgr.notests")
  --rom FILE           a BIOS-style ROM image; the CPU starts at its reset vector
  --firmware bios|none bios: SeaBIOS (${SEABIOS_ROM}), its log on
                       the console; none (default): direct boot, the project's ACPI tables
  --flat FILE          a flat real-mode binary, loaded at --load-addr (default 0x7c00)
  --load-addr ADDR     where --flat is loaded
  -m, --memory SIZE    guest RAM: 256M, 1G, or MiB as a number (default 256M)
  --smp N              number of vCPUs (default 1)
  --accel kvm|soft|auto
                       kvm: Linux KVM; soft: the project's own x86 CPU;
                       auto (default): KVM where hardware-backed, soft otherwise
  --no-reboot          exit instead of resetting on a guest reset or triple fault
  --guest-decompress   soft CPU: run the bzImage's own decompressor instead of
                       decompressing the kernel on the host (slower, same kernel)
  --quiet              do not print which accelerator was chosen
  --debugcon FILE      write the debug port's output (0x402: SeaBIOS's log) to FILE
  --drive OPTS         an IDE drive, QEMU's form: file=FILE,format=raw|qcow2,
                       media=disk|cdrom,readonly=on,if=ide,index=0..3
  --disk FILE          a hard disk at the first free IDE position (primary first)
  --cdrom FILE         a CD-ROM (ISO image) at the first free position (secondary master first)
  --nic user[,model=e1000|rtl8139][,mac=52:54:00:12:34:56][,hostfwd=tcp::8022-:22]
      [,hostfwd=udp::5353-:53][,dns=IP[:PORT]][,pcap=FILE][,rev=0x20]
                       a network card on the user-mode NAT (10.0.2.15 by DHCP,
                       gateway 10.0.2.2 = the host's loopback, DNS 10.0.2.3 forwarded
                       to dns= or the host's first nameserver in /etc/resolv.conf);
                       rev=0x20 (rtl8139): Linux then drives it in C+ mode, 8139cp
  --nic socket,udp=HOST:PORT,localaddr=HOST:PORT[,model=…][,mac=…][,pcap=FILE]
                       a card on a UDP-joined segment with another VM
  --nic socket,listen=[HOST]:PORT | socket,connect=HOST:PORT[,…]
                       the same over TCP (QEMU's length-prefixed frames); the
                       connecting side retries until the listener is there
  --nic tap,ifname=NAME[,…]
                       a card on a host tap interface (/dev/net/tun; needs the right)
  --nic none           no network card (the default); --nic may be repeated
  --vga std|cirrus|none
                       display adapter: std is QEMU's standard VGA (1234:1111, Bochs
                       VBE, 16 MiB VRAM), cirrus a Cirrus CL-GD5446 (1013:00b8, 4 MiB);
                       default std with --vnc, else none (SeaBIOS also mirrors its
                       screen on COM1 with a VGA)
  --qmp unix:PATH,server,nowait | tcp:[HOST]:PORT,server,nowait
                       a QMP monitor (QEMU's protocol; HOST defaults to 127.0.0.1);
                       without nowait the guest starts once a client connects; repeatable
  --vnc :N | HOST:N    a VNC server (RFB 3.8) for the display on port 5900+N (HOST
                       defaults to 127.0.0.1): the screen, the PS/2 keyboard and mouse
  --vnc-password-file FILE
                       VNC Authentication with the file's first line (8 characters count)

The serial console (COM1) is on stdin/stdout. On a terminal, Ctrl-A X quits,
Ctrl-A S saves the screen as hvm-screen-<n>.png and Ctrl-A H lists the other keys;
piped stdin is passed through unchanged.
Exit status: 0 after a guest power-off; (V << 1) | 1 after the guest writes V to
isa-debug-exit (port 0xf4); 1 for a usage or host error; 2 when the VM fails.`;

/** Parses "256M", "1G", "512K" or a number of MiB into bytes. */
export function parseMemory(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--memory: cannot read "${text}" (use e.g. 256M or 1G)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const bytes = unit === 'K' ? n * 1024 : unit === 'G' ? n * 2 ** 30 : n * 2 ** 20;
  if (bytes === 0) throw new UsageError('--memory: must be more than 0');
  if (bytes > totalmem()) throw new UsageError(`--memory: ${text} is more than this host has (${Math.floor(totalmem() / 2 ** 20)} MiB)`);
  return bytes;
}

function readInput(path: string, what: string): Uint8Array {
  try {
    if (!statSync(path).isFile()) throw new UsageError(`${what} ${path}: not a regular file`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UsageError(`${what} ${path}: ${why}`);
  }
}

function parseNumber(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what}: "${text}" is not a whole number`);
  return n;
}

/** The IDE drives --drive/--disk/--cdrom ask for; their files must exist (the device model opens them). */
function drivesFor(o: RunOptions): DriveSpec[] {
  let drives: DriveSpec[];
  try {
    drives = parseDrives(o.drive ?? [], o.disk ?? [], o.cdrom ?? []);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const d of drives) {
    if (d.file === null) continue;
    try {
      if (!statSync(d.file).isFile()) throw new UsageError(`drive ${d.file}: not a regular file`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`drive ${d.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  return drives;
}

/** `--vga`: the display adapter (a VNC server implies one, as QEMU's pc always has one). */
function vgaFor(o: RunOptions): 'std' | 'cirrus' | 'none' {
  const v = o.vga ?? (o.vnc !== undefined ? 'std' : 'none');
  if (v === 'std' || v === 'cirrus' || v === 'none') return v;
  throw new UsageError(`--vga: "${v}" is not std, cirrus or none`);
}

/** The network cards --nic asks for (none by default). */
function nicsFor(o: RunOptions): NicSpec[] {
  const out: NicSpec[] = [];
  for (const text of o.nic ?? []) {
    try {
      const spec = parseNicArg(text, out.length);
      // The capture file is opened by the device model; a path it cannot write is a usage error here.
      if (spec?.pcap !== undefined) {
        try { closeSync(openSync(spec.pcap, 'w')); } catch (e) { throw new Error(`--nic pcap=${spec.pcap}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
      }
      if (spec !== null) out.push(spec);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return out;
}

/** Options for `run`, as parsed. */
interface RunOptions {
  kernel?: string; initrd?: string; append?: string; rom?: string; flat?: string; 'load-addr'?: string;
  firmware?: string; memory?: string; smp?: string; accel?: string; 'no-reboot'?: boolean; quiet?: boolean;
  debugcon?: string;
  'guest-decompress'?: boolean;
  drive?: string[]; disk?: string[]; cdrom?: string[];
  nic?: string[];
  vga?: string;
  qmp?: string[];
  vnc?: string; 'vnc-password-file'?: string;
}

/** What a boot loader needs besides RAM: for Linux on the soft CPU, the host-side decompression. */
interface BootPlan {
  boot: BootLoader;
  romBytes: number;
  kernel64: boolean;
  /** Decompresses a bzImage's kernel on the host for the next boots; false if it cannot. */
  hostDecompress: (() => boolean) | null;
}

async function bootLoaderFor(o: RunOptions, log: (s: string) => void): Promise<BootPlan> {
  const firmware = o.firmware ?? 'none';
  if (firmware !== 'bios' && firmware !== 'none') throw new UsageError(`--firmware: "${firmware}" is not bios or none`);
  if (firmware === 'bios' && (o.rom !== undefined || o.flat !== undefined || o.kernel !== undefined)) {
    throw new UsageError('--firmware bios boots SeaBIOS; it does not combine with --rom, --flat or --kernel');
  }
  const romPath = firmware === 'bios' ? SEABIOS_ROM : o.rom;
  if (romPath !== undefined) {
    const image = readInput(romPath, firmware === 'bios' ? '--firmware bios:' : '--rom');
    if (image.length === 0 || image.length % 4096 !== 0 || image.length > 16 * 2 ** 20) {
      throw new UsageError(`--rom ${romPath}: a ROM image must be a non-empty multiple of 4 KiB, at most 16 MiB`);
    }
    return { boot: (ram, cpus) => Array.from({ length: cpus }, () => loadFirmwareImage(ram, image)), romBytes: image.length, kernel64: false, hostDecompress: null };
  }
  if (o.flat !== undefined) {
    const image = readInput(o.flat, '--flat');
    const at = o['load-addr'] !== undefined ? parseNumber(o['load-addr'], '--load-addr') : 0x7c00;
    return { boot: (ram, cpus) => Array.from({ length: cpus }, () => loadFlatBinary(ram, image, at)), romBytes: 0, kernel64: false, hostDecompress: null };
  }
  let kernelPath: string;
  let initrdPath = o.initrd;
  if (o.kernel !== undefined) {
    kernelPath = o.kernel;
  } else {
    if (initrdPath !== undefined) throw new UsageError('--initrd needs --kernel');
    const guest = await buildDefaultGuest({ arch: 'i386', log });
    kernelPath = guest.kernel;
    initrdPath = guest.initrd;
  }
  const kernel = readInput(kernelPath, '--kernel');
  const initrd = initrdPath !== undefined ? readInput(initrdPath, '--initrd') : undefined;
  // The default guest skips the crypto self-tests: their RSA-4096 private-key checks are ~3
  // billion instructions, most of a soft-CPU boot. A kernel the user names gets a plain console.
  const cmdline = o.append ?? (o.kernel === undefined ? DEFAULT_GUEST_APPEND : 'console=ttyS0');
  // Check the image now, so a bad file is a usage error rather than a VM failure.
  let kernel64: boolean;
  try {
    kernel64 = (checkBzImage(kernel).xloadflags & XLF_KERNEL_64) !== 0;
  } catch (e) {
    throw new UsageError(`--kernel ${kernelPath}: ${(e as Error).message}`);
  }
  const machine = machines['pc']!;
  let vmlinux: Vmlinux | undefined;
  const hostDecompress = (): boolean => {
    const elf = extractVmlinux(kernel);
    if (elf !== null) vmlinux = parseVmlinux(elf);
    return elf !== null;
  };
  const boot: BootLoader = (ram, cpus) => {
    // ACPI tables when the machine has the PIIX4 PM; the MP table lists PCI routes to match.
    const { state } = loadLinux(ram, {
      kernel, cmdline, cpus, ...(initrd ? { initrd } : {}), ...(vmlinux ? { vmlinux } : {}),
      ...pcLinuxBootTables(machine, ram.layout.lowRamBytes, cpus),
      ...(vgaFor(o) !== 'none' ? { vgaText: true } : {}), // any VGA starts in 80x25 text
    });
    return [state, ...Array.from({ length: cpus - 1 }, () => state)];
  };
  return { boot, romBytes: 0, kernel64, hostDecompress };
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, strict: true,
    options: {
      kernel: { type: 'string' }, initrd: { type: 'string' }, append: { type: 'string' },
      rom: { type: 'string' }, flat: { type: 'string' }, 'load-addr': { type: 'string' }, firmware: { type: 'string' },
      memory: { type: 'string', short: 'm' }, smp: { type: 'string' }, accel: { type: 'string' },
      'no-reboot': { type: 'boolean' }, quiet: { type: 'boolean' }, 'guest-decompress': { type: 'boolean' },
      debugcon: { type: 'string' },
      drive: { type: 'string', multiple: true }, disk: { type: 'string', multiple: true },
      cdrom: { type: 'string', multiple: true },
      nic: { type: 'string', multiple: true },
      vga: { type: 'string' },
      qmp: { type: 'string', multiple: true },
      vnc: { type: 'string' }, 'vnc-password-file': { type: 'string' },
    },
  });
  const o = values as RunOptions;
  const accel = o.accel ?? 'auto';
  if (accel !== 'kvm' && accel !== 'soft' && accel !== 'auto') throw new UsageError(`--accel: "${accel}" is not kvm, soft or auto`);
  const log = (s: string): void => { if (!o.quiet) process.stderr.write(`hvm: ${s}\n`); };
  const memoryBytes = parseMemory(o.memory ?? '256M');
  const cpus = o.smp !== undefined ? parseNumber(o.smp, '--smp') : 1;
  // The debug port's output (SeaBIOS's log) goes to --debugcon's file, or nowhere.
  let debugFd: number | null = null;
  if (o.debugcon !== undefined) {
    try { debugFd = openSync(o.debugcon, 'w'); } catch (e) { throw new UsageError(`--debugcon ${o.debugcon}: ${(e as Error).message}`); }
  }
  const drives = drivesFor(o);
  let qmpSpecs: QmpListenSpec[];
  try { qmpSpecs = (o.qmp ?? []).map(parseQmpSpec); } catch (e) { throw new UsageError((e as Error).message); }
  let vncSpec: VncListenSpec | null = null;
  let vncPassword: string | null = null;
  try {
    if (o.vnc !== undefined) vncSpec = parseVncSpec(o.vnc);
    if (o['vnc-password-file'] !== undefined) {
      if (vncSpec === null) throw new Error('--vnc-password-file needs --vnc');
      const p = readVncPassword(o['vnc-password-file']);
      vncPassword = p.password;
      if (p.truncated) log('--vnc-password-file: VNC Authentication uses only the first 8 characters');
    }
  } catch (e) { throw new UsageError((e as Error).message); }
  const { boot, romBytes, kernel64, hostDecompress } = await bootLoaderFor(o, log);
  const nics = nicsFor(o);
  const vga = vgaFor(o);
  const config: VmConfig = { memoryBytes, cpus, accel, romBytes, boot, drives, nics, vga };
  let vm: Vm;
  try {
    vm = await Vm.create(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (kernel64 && vm.accel.kind === 'soft') {
    throw new UsageError('--kernel: this is an x86-64 kernel; the soft CPU is a 32-bit i686, so it needs --accel kvm on a host with hardware KVM (or an i386 kernel)');
  }
  vm.rebootOnReset = !o['no-reboot'];
  log(`accelerator: ${vm.accel.why}`);
  // The kernel's own decompressor is ~2 billion instructions on the soft CPU; the host's takes
  // a fraction of a second and hands startup_32 the same kernel and boot_params.
  if (vm.accel.kind === 'soft' && hostDecompress !== null && !o['guest-decompress']) {
    if (hostDecompress()) log('kernel decompressed on the host (--guest-decompress runs its own decompressor)');
  }
  // QMP listeners open before the guest runs (commands wait until it does); `wait` waits for a client.
  const monitor = new QmpMonitor(vm);
  const qmpServers: QmpServer[] = [];
  const closeQmp = async (): Promise<void> => { await Promise.all(qmpServers.map((s) => s.close())); monitor.dispose(); };
  try {
    for (const spec of qmpSpecs) qmpServers.push(await QmpServer.listen(spec, monitor));
  } catch (e) {
    await closeQmp();
    throw new UsageError((e as Error).message);
  }
  for (const [i, s] of qmpServers.entries()) {
    log(`QMP monitor on ${s.address}`);
    if (qmpSpecs[i]!.wait) { process.stderr.write(`hvm: waiting for a QMP client on ${s.address}\n`); await s.waitForClient(); }
  }
  let vnc: VncServer | null = null;
  if (vncSpec !== null) {
    try {
      vnc = await VncServer.listen(vm, { host: vncSpec.host, port: vncSpec.port, password: vncPassword });
    } catch (e) {
      await closeQmp();
      throw new UsageError(`--vnc ${o.vnc!}: ${(e as Error).message}`);
    }
    log(`VNC server on ${vncSpec.host}:${vncSpec.port} (display :${vncSpec.display})`);
  }
  const screenshot = (): void => {
    const name = nextScreenshotName((n) => existsSync(n));
    vm.screenshot(name).then(() => process.stderr.write(`\r\nhvm: screen saved as ${name}\r\n`),
      (e: Error) => process.stderr.write(`\r\nhvm: screenshot: ${e.message}\r\n`));
  };
  const console = new StdioConsole({ onQuit: () => void vm.stop(), onScreenshot: screenshot });
  vm.on('serial', (id: string, bytes: Uint8Array) => {
    if (id === 'serial0') console.write(bytes); // COM1 is the console
    else if (id === 'debugcon' && debugFd !== null) writeSync(debugFd, bytes);
  });
  console.onInput((bytes: Uint8Array) => vm.sendInput('serial0', bytes));
  try {
    await vm.start();
  } catch (e) {
    // An image the device model could not open is a host mistake like a missing file.
    const msg = (e as Error).message;
    await closeQmp();
    await vnc?.close();
    if (msg.startsWith('drive: ')) { await vm.stop(); throw new UsageError(msg); }
    throw e;
  }
  monitor.started();
  const exit = await vm.waitForExit();
  await console.close();
  await closeQmp(); // after the SHUTDOWN event has reached the clients (bounded)
  await vnc?.close();
  if (exit.reason === 'error') process.stderr.write(`hvm: ${exit.message}\n`);
  else if (exit.reason === 'halted') log(exit.message);
  else if (exit.refusedReset) process.stderr.write(`hvm: ${exit.message}\n`); // even with --quiet: why the guest stopped
  return exit.status;
}

/** Entry point: returns the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') { process.stdout.write(`${HELP}\n`); return 0; }
    if (cmd === 'run') {
      if (rest.includes('--help') || rest.includes('-h')) { process.stdout.write(`${HELP}\n`); return 0; }
      return await run(rest);
    }
    if (cmd === 'demo') return await run(rest);
    if (cmd === 'image' && rest[0] === 'build') {
      const { values } = parseArgs({ args: rest.slice(1), options: { arch: { type: 'string' } }, strict: true });
      const arch = values.arch ?? 'i386';
      if (arch !== 'i386' && arch !== 'amd64') throw new UsageError(`--arch: "${arch}" is not i386 or amd64`);
      const g = await buildDefaultGuest({ arch, log: (s: string) => process.stderr.write(`hvm: ${s}\n`) });
      process.stdout.write(`kernel ${g.kernel}\ninitrd ${g.initrd}\n`);
      return 0;
    }
    throw new UsageError(`unknown command "${cmd}" (try hvm --help)`);
  } catch (e) {
    const err = e as Error & { code?: string };
    // parseArgs reports unknown or malformed options with a code; those are usage errors too.
    const usage = e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`hvm: ${err.message}\n`);
    return usage ? 1 : 2;
  }
}
