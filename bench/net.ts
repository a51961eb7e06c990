// Network throughput and latency of the default i386 guest on the user-mode NAT, hvm's soft CPU
// against QEMU's TCG (`qemu-system-i386 -M pc -accel tcg -netdev user`) with the same card and
// the same guest, in one run, as ratios. Per engine and card:
//   - ping: round-trip time of `ping -c N 10.0.2.2` (the gateway), busybox's avg;
//   - guest→host: the guest pipes dd's zeros into busybox nc connected to a socket this bench
//     listens on (10.0.2.2 in the guest is the host's loopback); timed on the host from the
//     first byte to the end of the stream;
//   - host→guest: the guest runs `nc -l` behind a hostfwd port; the bench connects, writes the
//     bytes and half-closes; timed from connect until the guest closes (it has read them all).
// Cards: e1000 (Linux's e1000), and rtl8139 at revision 0x20 for hvm (QEMU's rtl8139 is 0x20),
// so Linux binds 8139cp (C+ mode) on both.
//
//   npm run bench -- net        HVM_BENCH_QUICK=1: 1 MiB per direction instead of 8 MiB
//                               HVM_BENCH_ENGINES=hvm,qemu   HVM_BENCH_CARDS=e1000,rtl8139
//                               HVM_BENCH_TIMEOUT=seconds per engine run (default 1800)
//                               HVM_BENCH_PCAP=DIR captures hvm's NIC traffic there
//
// Exits non-zero only if hvm itself fails to run the work.

import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { defaultCacheDir, readCachedGuest } from '../src/guest/image-build.js';
import { freePort } from '../test/support/host-io.js';
import { envCount, hvmBin, missingTool, ratio, runEngine, table } from './support/engine.js';
const QUICK = process.env['HVM_BENCH_QUICK'] === '1';
const MIB = QUICK ? 1 : 8;
const PINGS = QUICK ? 5 : 20;
const TIMEOUT_S = envCount('HVM_BENCH_TIMEOUT', 1800);
const GUEST_RX_PORT = 5002;
const EXIT_MARKER = 'HVM-CMD-EXIT=';
/** HVM_BENCH_PCAP=DIR: hvm's NIC traffic is captured to DIR/hvm-CARD.pcap (for looking into a slow run). */
const PCAP_DIR = process.env['HVM_BENCH_PCAP'];

type Card = 'e1000' | 'rtl8139';

function script(hostPort: number): string {
  return `cat > /tmp/dhcp.sh <<'EOF'
#!/bin/sh
case "$1" in bound|renew) ifconfig "$interface" "$ip" netmask "$subnet" up; ip route add default via "$router" dev "$interface" ;; esac
EOF
chmod +x /tmp/dhcp.sh
ifconfig lo up; ifconfig eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /tmp/dhcp.sh >/dev/null 2>&1 || echo HVM-NET-FAIL dhcp
ping -c 1 -W 10 10.0.2.2 >/dev/null 2>&1
echo "HVM-PING $(ping -c ${PINGS} -i 0.2 10.0.2.2 | tail -1)"
echo HVM-TX-BEGIN
dd if=/dev/zero bs=64k count=${MIB * 16} 2>/dev/null | nc 10.0.2.2 ${hostPort} || echo HVM-NET-FAIL tx
echo HVM-TX-END
(nc -l -p ${GUEST_RX_PORT} < /dev/null > /dev/null || echo HVM-NET-FAIL rx; echo HVM-RX-END) &
sleep 2
echo HVM-RX-LISTEN
wait
`;
}

interface Result {
  ok: boolean;
  reason?: string;
  rttMs?: number;     // busybox ping avg
  txMBps?: number;    // guest → host
  rxMBps?: number;    // host → guest
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Host → guest: connect to the hostfwd port, write the bytes, half-close; resolves at the guest's close. */
function sendToGuest(port: number, bytes: number): Promise<{ ms: number; closedEarly: boolean }> {
  return new Promise((done) => {
    const t0 = performance.now();
    const s = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunk = Buffer.alloc(64 * 1024);
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { s.once('drain', pump); return; }
      }
      s.end();
    };
    s.on('connect', pump);
    s.on('error', () => { /* 'close' follows */ });
    s.on('close', () => done({ ms: performance.now() - t0, closedEarly: left > 0 }));
  });
}

/** Runs one engine with one card: the guest script, with the host's sides of both transfers. */
async function runOne(cmd: string, args: (hostPort: number, fwdPort: number, append: string) => string[], card: Card): Promise<Result> {
  const total = MIB * 1024 * 1024;
  let txStart = 0, txEnd = 0, txBytes = 0;
  const sink = createServer((s) => {
    s.on('data', (d: Buffer) => { if (txBytes === 0) txStart = performance.now(); txBytes += d.length; });
    s.on('end', () => { txEnd = performance.now(); });
    s.on('error', () => {});
  });
  const hostPort = await listen(sink);
  const fwdPort = await freePort();
  const modules = card === 'e1000' ? 'e1000' : '8139cp';
  // no_timer_check: under host load QEMU's TCG can fail Linux's IO-APIC timer check (a panic).
  const append = `console=ttyS0 cryptomgr.notests no_timer_check hvm.modules=${modules} hvm.cmd=${Buffer.from(script(hostPort)).toString('base64')}`;
  const r: Result = { ok: false };
  let rx: Promise<{ ms: number; closedEarly: boolean }> | null = null;
  const end = await runEngine(cmd, args(hostPort, fwdPort, append), {
    timeoutS: TIMEOUT_S,
    before: 'the work ended',
    onLine: (line, _now, run) => {
      const p = /HVM-PING .*= [\d.]+\/([\d.]+)\/[\d.]+ ms/.exec(line);
      if (p) r.rttMs = Number(p[1]);
      const f = /HVM-NET-FAIL (\w+)/.exec(line);
      if (f) run.end(`the guest's ${f[1]} step failed`);
      if (line.includes('HVM-RX-LISTEN')) rx = sendToGuest(fwdPort, total);
      if (line.includes('HVM-RX-END') || line.includes(EXIT_MARKER)) run.end(rx === null ? 'the guest ended before host→guest' : undefined);
    },
    // The host→guest transfer ends before the guest goes.
    settle: async (reason) => {
      if (rx === null || reason !== undefined) return reason;
      const x = await rx;
      if (x.closedEarly) return 'the guest closed before the host had sent everything';
      r.rxMBps = total / 1048576 / (x.ms / 1000);
      return undefined;
    },
  });
  sink.close();
  let reason = end.reason;
  if (reason === undefined) {
    if (txBytes !== total) reason = `guest→host carried ${txBytes} of ${total} bytes`;
    else r.txMBps = total / 1048576 / ((txEnd - txStart) / 1000);
    if (r.rttMs === undefined) reason ??= 'no ping summary';
  }
  r.ok = reason === undefined;
  if (reason !== undefined) r.reason = end.explain(reason);
  return r;
}

async function main(): Promise<number> {
  const guest = readCachedGuest(defaultCacheDir('i386'), 'i386');
  if (!guest) {
    process.stderr.write(`net bench: no default guest in ${defaultCacheDir('i386')}; build it with \`node bin/hvm.js image build\`\n`);
    return 1;
  }
  const engines = new Set((process.env['HVM_BENCH_ENGINES'] ?? 'hvm,qemu').split(',').map((s) => s.trim()));
  const cards = (process.env['HVM_BENCH_CARDS'] ?? 'e1000,rtl8139').split(',').map((s) => s.trim()).filter((c): c is Card => c === 'e1000' || c === 'rtl8139');
  const hvm = (card: Card) => (_h: number, fwd: number, append: string): string[] => [hvmBin, 'run', '--accel', 'soft', '--quiet',
    '-m', '256M', '--kernel', guest.kernel, '--initrd', guest.initrd, '--append', append,
    '--nic', `user,model=${card}${card === 'rtl8139' ? ',rev=0x20' : ''},hostfwd=tcp:127.0.0.1:${fwd}-:${GUEST_RX_PORT}${PCAP_DIR !== undefined ? `,pcap=${join(PCAP_DIR, `hvm-${card}.pcap`)}` : ''}`];
  const qemu = (card: Card) => (_h: number, fwd: number, append: string): string[] => ['-M', 'pc', '-accel', 'tcg', '-m', '256', '-display', 'none',
    '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', append,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${fwd}-:${GUEST_RX_PORT}`, '-device', `${card},netdev=n0`];

  process.stdout.write(`net: ${MIB} MiB each way, ${PINGS} pings to the gateway${QUICK ? ' (HVM_BENCH_QUICK)' : ''}; user-mode NAT, same guest\n`);
  const results = new Map<string, Result>();
  let hvmFailed = false;
  const f = (x: number | undefined, unit: string): string => (x === undefined ? '-' : `${x.toFixed(2)} ${unit}`);
  for (const card of cards) {
    for (const [key, name, cmd, args] of [
      ['hvm', 'hvm --accel soft', process.execPath, hvm(card)],
      ['qemu', 'qemu-system-i386 -accel tcg', 'qemu-system-i386', qemu(card)],
    ] as const) {
      if (!engines.has(key)) continue;
      const why = key === 'qemu' ? missingTool('qemu-system-i386', 'qemu-system-x86') : null;
      if (why !== null) { process.stdout.write(`  ${name} ${card}: skipped: ${why}\n`); continue; }
      const r = await runOne(cmd, args, card);
      results.set(`${key}/${card}`, r);
      if (!r.ok && key === 'hvm') hvmFailed = true;
      process.stdout.write(`  ${name} ${card}: ping ${f(r.rttMs, 'ms')}, guest→host ${f(r.txMBps, 'MiB/s')}, host→guest ${f(r.rxMBps, 'MiB/s')}${r.ok ? '' : `  FAILED: ${r.reason}`}\n`);
    }
  }
  const rows: string[][] = [['card', 'hvm ping ms', 'QEMU ping ms', 'ping hvm/QEMU', 'tx hvm/QEMU', 'rx hvm/QEMU']];
  for (const card of cards) {
    const h = results.get(`hvm/${card}`), q = results.get(`qemu/${card}`);
    if (!h) continue;
    const s = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2));
    rows.push([card, s(h.rttMs), s(q?.rttMs), ratio(h.rttMs, q?.rttMs), ratio(h.txMBps, q?.txMBps), ratio(h.rxMBps, q?.rxMBps)]);
  }
  process.stdout.write(`\n${table(rows)}\n`);
  process.stdout.write('ping: lower is better (ratio > 1: hvm slower); tx/rx: throughput, higher is better (ratio > 1: hvm faster)\n');
  if (hvmFailed) process.stdout.write('hvm failed to run the work (see above)\n');
  return hvmFailed ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`net bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
