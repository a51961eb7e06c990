// The QMP monitor's commands and events, independent of any socket: what `stop`, `eject` or
// `human-monitor-command` do to a VM, argument checking with QEMU's error texts (qapi's
// qobject-input-visitor), and the asynchronous events (SHUTDOWN, RESET, STOP, RESUME,
// POWERDOWN) every negotiated client receives. Schemas follow QEMU's qapi/*.json.

import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { VmExit } from '../hypervisor/vm.js';
import { hmpExecute } from './qmp-hmp.js';

/** The error classes QMP clients see (QEMU's QapiErrorClass). */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotFound';

/** A command's failure, answered as {"error": {"class", "desc"}}. */
export class QmpError extends Error {
  constructor(readonly errorClass: QmpErrorClass, desc: string) { super(desc); }
}

/** What the monitor needs of a VM (the Vm class, or a fake in tests). */
export interface QmpTarget extends Pick<EventEmitter, 'on' | 'off'> {
  pause(): Promise<void>;
  resume(): void;
  reset(): Promise<void>;
  stop(): Promise<void>;
  powerButton(): void;
  setNicLink(id: string, up: boolean): void;
  /** Keeps a reset from letting a host-paused guest run (QMP `stop` survives `system_reset`). */
  holdPaused: boolean;
  /** Writes the display as a PNG (present when the build has a display). */
  screenshot?(path: string): Promise<void>;
  /** Inserts (file) or ejects (null) removable media by drive id. */
  changeMedia?(id: string, file: string | null, format?: 'raw' | 'qcow2'): Promise<void>;
}

/** An event as sent on the wire. */
export interface QmpEventMessage {
  event: 'SHUTDOWN' | 'RESET' | 'STOP' | 'RESUME' | 'POWERDOWN';
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** QEMU's RunState names the monitor reports. */
export type QmpRunState = 'prelaunch' | 'running' | 'paused' | 'shutdown';

type ArgType = 'str' | 'bool' | 'int' | 'str-list';
interface ArgSpec { type: ArgType; optional?: true }
type Args = Record<string, unknown>;
interface CommandDef {
  args: Record<string, ArgSpec>;
  run: (a: Args) => unknown;
}

const TYPE_NAMES: Record<ArgType, string> = { str: 'string', bool: 'boolean', int: 'integer', 'str-list': 'array' };

function typeOk(v: unknown, t: ArgType): boolean {
  switch (t) {
    case 'str': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'int': return typeof v === 'number' && Number.isSafeInteger(v);
    case 'str-list': return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

/** hvm's version, from package.json, as QEMU's {major, minor, micro}. */
export function hvmVersion(): { major: number; minor: number; micro: number; text: string } {
  let text = '0.0.0';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') text = pkg.version;
  } catch { /* a stripped install: report 0.0.0 */ }
  const [major = 0, minor = 0, micro = 0] = text.split(/[.-]/).map((s) => Number.parseInt(s, 10) || 0);
  return { major, minor, micro, text };
}

/** Image formats the block layer opens (the storage helper's probe decides when absent). */
const MEDIUM_FORMATS = new Set(['raw', 'qcow2']);

/** The monitor: one per VM, shared by every QMP connection. */
export class QmpMonitor {
  private state: QmpRunState = 'prelaunch';
  private readonly listeners = new Set<(e: QmpEventMessage) => void>();
  private readonly commands: Map<string, CommandDef>;
  private hostReset = false;
  private quitRequested = false;
  private readonly version = hvmVersion();
  private startedResolve: () => void = () => undefined;
  /** Resolves once the VM runs: commands wait for it (QEMU's prelaunch has no vCPUs to pause here). */
  readonly ready: Promise<void> = new Promise((resolve) => { this.startedResolve = resolve; });
  private readonly onReset = (): void => {
    const host = this.hostReset;
    this.hostReset = false;
    this.emitEvent('RESET', { guest: !host, reason: host ? 'host-qmp-system-reset' : 'guest-reset' });
  };
  private readonly onExit = (exit: VmExit): void => {
    if (this.state === 'shutdown') return; // `quit` already said so
    this.state = 'shutdown';
    this.emitEvent('SHUTDOWN', { guest: exit.reason === 'poweroff' || exit.reason === 'debug-exit' || exit.reason === 'halted', reason: this.shutdownCause(exit) });
  };

  constructor(private readonly target: QmpTarget) {
    target.on('reset', this.onReset);
    target.on('exit', this.onExit);
    this.commands = this.table();
  }

  /** The VM is running: queued commands may go. */
  started(): void {
    if (this.state === 'prelaunch') this.state = 'running';
    this.startedResolve();
  }

  /** The current run state (query-status). */
  get status(): QmpRunState { return this.state; }

  /** The greeting's version object. */
  versionInfo(): { qemu: { major: number; minor: number; micro: number }; package: string } {
    return { qemu: { major: this.version.major, minor: this.version.minor, micro: this.version.micro }, package: `hvm ${this.version.text}` };
  }

  /** Receives every event from now on; returns the unsubscribe function. */
  subscribe(fn: (e: QmpEventMessage) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Detaches from the VM. */
  dispose(): void {
    this.target.off('reset', this.onReset);
    this.target.off('exit', this.onExit);
    this.listeners.clear();
  }

  /** Whether `name` is a command (for CommandNotFound before argument checks). */
  has(name: string): boolean { return this.commands.has(name) || name === 'qmp_capabilities'; }

  /** Checks `args` against the command's schema and runs it; throws QmpError. */
  async execute(name: string, args: Args): Promise<unknown> {
    const def = this.commands.get(name);
    if (def === undefined) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
    for (const key of Object.keys(args)) {
      if (!Object.hasOwn(def.args, key)) throw new QmpError('GenericError', `Parameter '${key}' is unexpected`);
    }
    for (const [key, spec] of Object.entries(def.args)) {
      const v = args[key];
      if (v === undefined) {
        if (spec.optional !== true) throw new QmpError('GenericError', `Parameter '${key}' is missing`);
        continue;
      }
      if (!typeOk(v, spec.type)) throw new QmpError('GenericError', `Invalid parameter type for '${key}', expected: ${TYPE_NAMES[spec.type]}`);
    }
    return await def.run(args);
  }

  /** Command names (query-commands). */
  commandNames(): string[] { return ['qmp_capabilities', ...this.commands.keys()]; }

  private emitEvent(event: QmpEventMessage['event'], data?: Record<string, unknown>): void {
    const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const msg: QmpEventMessage = { event, ...(data !== undefined ? { data } : {}), timestamp: { seconds: Math.floor(us / 1e6), microseconds: us % 1e6 } };
    for (const fn of [...this.listeners]) fn(msg);
  }

  private shutdownCause(exit: VmExit): string {
    if (this.quitRequested) return 'host-qmp-quit';
    switch (exit.reason) {
      case 'poweroff': return exit.refusedReset === true ? 'guest-reset' : 'guest-shutdown';
      case 'debug-exit': return 'guest-shutdown';
      case 'halted': return 'guest-panic';
      case 'error': return 'host-error';
      case 'stopped': return 'host-ui';
    }
  }

  private ended(): void {
    if (this.state === 'shutdown') throw new QmpError('GenericError', 'The VM has shut down');
  }

  /** QMP `stop`: pauses every vCPU (no STOP event when already paused, as QEMU). */
  async stop(): Promise<void> {
    this.ended();
    if (this.state === 'paused') return;
    this.target.holdPaused = true;
    await this.target.pause();
    if (this.state === 'shutdown') return;
    this.state = 'paused';
    this.emitEvent('STOP');
  }

  /** QMP `cont`. */
  cont(): void {
    this.ended();
    this.target.holdPaused = false;
    this.target.resume();
    if (this.state === 'paused') { this.state = 'running'; this.emitEvent('RESUME'); }
  }

  /** QMP `system_reset` (a paused guest stays paused). */
  async systemReset(): Promise<void> {
    this.ended();
    this.hostReset = true;
    try {
      await this.target.reset();
    } finally {
      this.hostReset = false; // a reset already under way emits nothing for this request
    }
  }

  /** QMP `system_powerdown`: the ACPI power button. */
  systemPowerdown(): void {
    this.ended();
    this.target.powerButton();
    this.emitEvent('POWERDOWN');
  }

  /** QMP `quit`: SHUTDOWN (host-qmp-quit) and the reply go out, then the VM stops (QEMU's order). */
  quit(): void {
    this.quitRequested = true;
    if (this.state !== 'shutdown') {
      this.state = 'shutdown';
      this.emitEvent('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
    }
    setImmediate(() => { void this.target.stop(); });
  }

  /** QMP `set_link`. */
  setLink(name: string, up: boolean): void {
    try {
      this.target.setNicLink(name, up);
    } catch {
      throw new QmpError('DeviceNotFound', `Device '${name}' not found`);
    }
  }

  /** QMP `screendump` (PNG only: the display writes PNG). */
  async screendump(filename: string, format: string | undefined): Promise<void> {
    this.ended();
    if (format !== undefined && format !== 'png') {
      throw new QmpError('GenericError', `Parameter 'format' does not accept value '${format}' here: hvm writes png (pass "format": "png")`);
    }
    const t = this.target;
    if (typeof t.screenshot !== 'function') throw new QmpError('GenericError', 'screendump is not supported by this build (no display)');
    try {
      await t.screenshot(filename);
    } catch (e) {
      throw new QmpError('GenericError', (e as Error).message);
    }
  }

  /** QMP `eject` (file null) and `blockdev-change-medium`. */
  async changeMedium(device: string, file: string | null, format?: 'raw' | 'qcow2'): Promise<void> {
    this.ended();
    const t = this.target;
    if (typeof t.changeMedia !== 'function') throw new QmpError('GenericError', 'removable media are not supported by this build');
    try {
      await t.changeMedia(device, file, format);
    } catch (e) {
      // Vm.changeMedia says "no drive ID (this VM has: …)"; QEMU's class and text, keeping the list.
      const msg = (e as Error).message;
      const unknown = /^no (?:such )?(?:drive|device) \S+(.*)$/i.exec(msg);
      if (unknown) throw new QmpError('DeviceNotFound', `Device '${device}' not found${unknown[1] ?? ''}`);
      throw new QmpError('GenericError', msg);
    }
  }

  private table(): Map<string, CommandDef> {
    const deviceOf = (a: Args): string => {
      const device = a['device'] as string | undefined;
      const id = a['id'] as string | undefined;
      if ((device === undefined) === (id === undefined)) throw new QmpError('GenericError', "Need exactly one of 'device' and 'id'");
      return (device ?? id)!;
    };
    const t: [string, CommandDef][] = [
      ['query-status', { args: {}, run: () => ({ status: this.state, singlestep: false, running: this.state === 'running' }) }],
      ['query-version', { args: {}, run: () => this.versionInfo() }],
      ['query-commands', { args: {}, run: () => this.commandNames().map((name) => ({ name })) }],
      ['stop', { args: {}, run: async () => { await this.stop(); return {}; } }],
      ['cont', { args: {}, run: () => { this.cont(); return {}; } }],
      ['system_reset', { args: {}, run: async () => { await this.systemReset(); return {}; } }],
      ['system_powerdown', { args: {}, run: () => { this.systemPowerdown(); return {}; } }],
      ['quit', { args: {}, run: () => { this.quit(); return {}; } }],
      ['set_link', { args: { name: { type: 'str' }, up: { type: 'bool' } }, run: (a) => { this.setLink(a['name'] as string, a['up'] as boolean); return {}; } }],
      ['screendump', {
        args: { filename: { type: 'str' }, device: { type: 'str', optional: true }, head: { type: 'int', optional: true }, format: { type: 'str', optional: true } },
        run: async (a) => { await this.screendump(a['filename'] as string, a['format'] as string | undefined); return {}; },
      }],
      ['eject', {
        args: { device: { type: 'str', optional: true }, id: { type: 'str', optional: true }, force: { type: 'bool', optional: true } },
        run: async (a) => { await this.changeMedium(deviceOf(a), null); return {}; },
      }],
      ['blockdev-change-medium', {
        args: {
          device: { type: 'str', optional: true }, id: { type: 'str', optional: true }, filename: { type: 'str' },
          format: { type: 'str', optional: true }, 'read-only-mode': { type: 'str', optional: true }, force: { type: 'bool', optional: true },
        },
        run: async (a) => {
          const format = a['format'] as string | undefined;
          if (format !== undefined && !MEDIUM_FORMATS.has(format)) throw new QmpError('GenericError', `Unknown driver '${format}' (raw or qcow2)`);
          await this.changeMedium(deviceOf(a), a['filename'] as string, format as 'raw' | 'qcow2' | undefined);
          return {};
        },
      }],
      ['human-monitor-command', {
        args: { 'command-line': { type: 'str' }, 'cpu-index': { type: 'int', optional: true } },
        run: async (a) => await hmpExecute(this, a['command-line'] as string),
      }],
    ];
    return new Map(t);
  }
}
