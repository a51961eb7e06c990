// Real peers on hvm's QMP socket: socat (Debian's) pipes the same JSON lines into `hvm run
// --qmp unix:…` and into QEMU's own monitor (qemu-system-x86_64 -M none -S), and the replies
// must agree — error classes, QEMU's texts, ids — then `quit` ends both processes with status
// 0 after a SHUTDOWN event. QEMU is the oracle for the protocol, not hvm's own reading of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/asm.js';

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = !have('socat') ? 'socat is not installed (scripts/setup.sh)' : !have('qemu-system-x86_64') ? 'qemu-system-x86_64 is not installed' : false;

/** Lines both monitors answer the same way (nothing here depends on the machine). */
const SCRIPT = [
  '{"execute":"query-status","id":0}',
  'garbage',
  '[1]',
  '"str"',
  '{"foo":1,"id":7}',
  '{"id":"x"}',
  '{"execute":3}',
  '{"execute":"stop","arguments":[]}',
  '{"execute":"qmp_capabilities","id":1}',
  '{"execute":"qmp_capabilities"}',
  '{"execute":"no-such-command","id":"x"}',
  '{"execute":"set_link","arguments":{"name":"nic5","up":"yes"}}',
  '{"execute":"set_link","arguments":{"name":"nic5"}}',
  '{"execute":"set_link","arguments":{"name":"nic5","up":true,"zz":1}}',
  '{"execute":"set_link","arguments":{"name":"nic5","up":true},"id":[1,{"a":null}]}',
  '{"execute":"human-monitor-command","arguments":{"command-line":"frobnicate"}}',
  '{"execute":"human-monitor-command","arguments":{"command-line":"set_link nic5 on"}}',
  '{"execute":"stop","id":2} {"execute":"human-monitor-command","arguments":{"command-line":"info status"},"id":3}',
];

/** A monitor process under test, talked to through socat. */
interface Peer { proc: ChildProcess; socket: string }

function waitFile(path: string, ms: number, proc: ChildProcess, err: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (existsSync(path)) { clearInterval(poll); resolve(); } else if (proc.exitCode !== null || Date.now() - t0 > ms) {
        clearInterval(poll);
        reject(new Error(`no QMP socket ${path} (exit ${proc.exitCode}): ${err()}`));
      }
    }, 20);
  });
}

/** Pipes SCRIPT through socat, then quit; returns every line received and the process's exit status. */
async function converse(peer: Peer, stderr: () => string): Promise<{ lines: Record<string, unknown>[]; status: number | null }> {
  const socat = spawn('socat', ['-', `UNIX-CONNECT:${peer.socket}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  socat.stdout.on('data', (b: Buffer) => { text += b.toString(); });
  const parsed = (): Record<string, unknown>[] => text.split('\n').filter((l) => l.trim().length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
  const replies = (): number => parsed().filter((m) => 'return' in m || 'error' in m).length;
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${what}:\n${text}\n${stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const exited = new Promise<number | null>((r) => { if (peer.proc.exitCode !== null) r(peer.proc.exitCode); else peer.proc.once('exit', (c) => r(c)); });
  socat.stdin.write(`${SCRIPT.join('\n')}\n`);
  await until(() => replies() >= SCRIPT.length + 1, `${SCRIPT.length + 1} replies`);
  socat.stdin.write('{"execute":"quit","id":"bye"}\n');
  await until(() => parsed().some((m) => m['event'] === 'SHUTDOWN'), 'the SHUTDOWN event');
  let timer: NodeJS.Timeout | undefined;
  const status = await Promise.race([exited, new Promise<null>((r) => { timer = setTimeout(() => r(null), 20_000); })]);
  clearTimeout(timer);
  socat.kill();
  return { lines: parsed(), status };
}

/** Drops what legitimately differs: version numbers, timestamps, RESUME/STOP after -S. */
function normalize(lines: Record<string, unknown>[]): string[] {
  return lines.filter((m) => m['event'] !== 'STOP' && m['event'] !== 'RESUME').map((m) => {
    if ('QMP' in m) return JSON.stringify({ QMP: { capabilities: '…', version: '…' } });
    const { timestamp: _t, ...rest } = m;
    const ret = rest['return'];
    // `info status` says running for hvm and prelaunch for QEMU -S: compare the shape only.
    if (typeof ret === 'string' && ret.startsWith('VM status: ')) rest['return'] = 'VM status: …\r\n';
    return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))));
  });
}

test('socat drives hvm\'s QMP socket and gets the replies QEMU\'s own monitor gives', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-qmp-peer-'));
  // A guest that sleeps: sti; hlt; jmp back (no interrupt is ever programmed).
  const idle = join(dir, 'idle.bin');
  writeFileSync(idle, Buffer.from([0xfb, 0xf4, 0xeb, 0xfd]));

  const qemuSock = join(dir, 'qemu.sock');
  let qemuErr = '';
  const qemu = spawn('qemu-system-x86_64', ['-M', 'none', '-S', '-display', 'none', '-nodefaults', '-qmp', `unix:${qemuSock},server,nowait`], { stdio: ['ignore', 'ignore', 'pipe'] });
  qemu.stderr!.on('data', (b: Buffer) => { qemuErr += b.toString(); });
  const hvmSock = join(dir, 'hvm.sock');
  let hvmErr = '';
  const hvm = spawn(process.execPath, [join(repoRoot, 'bin/hvm.js'), 'run', '--flat', idle, '--accel', 'soft', '-m', '16M', '--quiet',
    '--qmp', `unix:${hvmSock},server,nowait`], { stdio: ['pipe', 'ignore', 'pipe'] });
  hvm.stderr!.on('data', (b: Buffer) => { hvmErr += b.toString(); });
  try {
    await waitFile(qemuSock, 20_000, qemu, () => qemuErr);
    await waitFile(hvmSock, 30_000, hvm, () => hvmErr);
    const q = await converse({ proc: qemu, socket: qemuSock }, () => qemuErr);
    const h = await converse({ proc: hvm, socket: hvmSock }, () => hvmErr);
    const qn = normalize(q.lines);
    const hn = normalize(h.lines);
    assert.deepEqual(hn, qn, `hvm:\n${hn.join('\n')}\nQEMU:\n${qn.join('\n')}`);
    const shutdown = h.lines.find((m) => m['event'] === 'SHUTDOWN') as { data: unknown; timestamp: { seconds: number } };
    assert.deepEqual(shutdown.data, { guest: false, reason: 'host-qmp-quit' });
    assert.ok(Math.abs(shutdown.timestamp.seconds - Date.now() / 1000) < 120);
    assert.equal(q.status, 0, qemuErr);
    assert.equal(h.status, 0, hvmErr);
    assert.equal(existsSync(hvmSock), false, 'hvm removes its socket on exit');
  } finally {
    qemu.kill('SIGKILL');
    hvm.kill('SIGKILL');
  }
});
