// human-monitor-command: a few of QEMU's HMP commands, for tools that speak HMP through QMP
// (virsh qemu-monitor-command --hmp, scripts written against `info status`). As in QEMU, a
// command's failure is text in the reply ("Error: …"), not a QMP error.

import type { QmpMonitor } from './qmp-monitor.js';

/** The HMP help text; each line is a command this monitor runs. */
export const HMP_HELP = [
  'change device filename [format] -- insert a medium',
  'cont|c -- resume emulation',
  'eject [-f] device -- eject a removable medium',
  'help|? -- this list',
  'info status -- the VM status',
  'info version -- hvm version',
  'quit|q -- quit the emulator',
  'screendump filename -- save the screen as PNG',
  'set_link name on|off -- plug or unplug a network card',
  'stop|s -- stop emulation',
  'system_powerdown -- press the power button',
  'system_reset -- reset the system',
];

/** The largest command line looked at (the QMP message bound already limits it). */
const HMP_MAX_WORDS = 16;

/** Runs one HMP command line; resolves to its output text. */
export async function hmpExecute(monitor: QmpMonitor, line: string): Promise<string> {
  const words = line.trim().split(/\s+/).filter((w) => w.length > 0).slice(0, HMP_MAX_WORDS);
  const [cmd, ...rest] = words;
  if (cmd === undefined) return '';
  try {
    return await run(monitor, cmd, rest);
  } catch (e) {
    return `Error: ${(e as Error).message}\r\n`;
  }
}

function need(rest: string[], n: number, usage: string): void {
  if (rest.length < n) throw new Error(`usage: ${usage}`);
}

async function run(monitor: QmpMonitor, cmd: string, rest: string[]): Promise<string> {
  switch (cmd) {
    case 'info': {
      const what = rest[0];
      if (what === 'status') {
        const s = monitor.status;
        return `VM status: ${s === 'prelaunch' ? 'paused (prelaunch)' : s}\r\n`;
      }
      if (what === 'version') return `${monitor.versionInfo().package}\r\n`;
      return `info: unknown or unsupported item '${what ?? ''}' (status, version)\r\n`;
    }
    case 'help': case '?': return HMP_HELP.map((l) => `${l}\r\n`).join('');
    case 'stop': case 's': await monitor.stop(); return '';
    case 'cont': case 'c': monitor.cont(); return '';
    case 'system_reset': await monitor.systemReset(); return '';
    case 'system_powerdown': monitor.systemPowerdown(); return '';
    case 'quit': case 'q': monitor.quit(); return '';
    case 'screendump':
      need(rest, 1, 'screendump filename');
      await monitor.screendump(rest[0]!, 'png');
      return '';
    case 'eject': {
      const args = rest[0] === '-f' ? rest.slice(1) : rest;
      need(args, 1, 'eject [-f] device');
      await monitor.changeMedium(args[0]!, null);
      return '';
    }
    case 'change':
      need(rest, 2, 'change device filename [format]');
      if (rest[2] !== undefined && rest[2] !== 'raw' && rest[2] !== 'qcow2') throw new Error(`Unknown driver '${rest[2]}' (raw or qcow2)`);
      await monitor.changeMedium(rest[0]!, rest[1]!, rest[2] as 'raw' | 'qcow2' | undefined);
      return '';
    case 'set_link':
      need(rest, 2, 'set_link name on|off');
      if (rest[1] !== 'on' && rest[1] !== 'off') throw new Error('set_link: the state is on or off');
      monitor.setLink(rest[0]!, rest[1] === 'on');
      return '';
    default:
      return `unknown command: '${cmd}'\r\n`;
  }
}
