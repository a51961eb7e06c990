// Two Debian i386 guests on the soft CPU joined by the socket backend (host UDP on loopback):
// one with an e1000, one with an RTL8139, static addresses on one segment; each pings the other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../../src/hypervisor/vm.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { machines } from '../../src/machine/pc.js';
import { withNics } from '../../src/machine/nics.js';
import type { NicSpec } from '../../src/net/nic.js';

const skip = guestSkip;

function script(me: string, peer: string): string {
  return `
ifconfig eth0 ${me} netmask 255.255.255.0 up
n=0; while [ $n -lt 150 ]; do ping -c 1 -W 2 ${peer} >/dev/null 2>&1 && break; n=$((n+1)); done
[ $n -lt 150 ] && echo "PING-PEER-OK ${peer}"
# Stay up a while so the peer's pings are answered too.
sleep 30
`;
}


async function boot(nic: NicSpec, me: string, peer: string, module: string): Promise<{ vm: Vm; out: () => string }> {
  const cmdline = `console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=${module} ` +
    `hvm.cmd=${Buffer.from(script(me, peer)).toString('base64')}`;
  const machine = withNics(machines['pc']!, [nic]);
  const vm = await Vm.create({
    memoryBytes: 128 * 2 ** 20, cpus: 1, accel: 'soft', nics: [nic],
    boot: defaultGuestLoader(machine, cmdline),
  });
  let out = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
  return { vm, out: () => out };
}

test('two guests joined by the socket backend ping each other (e1000 <-> RTL8139)', { skip, timeout: 900_000 }, async () => {
  const a = await boot({ model: 'e1000', mac: '52:54:00:00:aa:01', backend: { kind: 'socket', udp: '127.0.0.1:47631', localaddr: '127.0.0.1:47630' } },
    '10.0.9.1', '10.0.9.2', 'e1000');
  const b = await boot({ model: 'rtl8139', mac: '52:54:00:00:aa:02', backend: { kind: 'socket', udp: '127.0.0.1:47630', localaddr: '127.0.0.1:47631' } },
    '10.0.9.2', '10.0.9.1', '8139too');
  await Promise.all([a.vm.start(), b.vm.start()]);
  try {
    // Wait for the whole line: serial output arrives in pieces.
    await until(() => /PING-PEER-OK \S+\r?\n/.test(a.out()) && /PING-PEER-OK \S+\r?\n/.test(b.out()), 800_000, 'both pings',
      () => `A:\n${a.out().slice(-1500)}\nB:\n${b.out().slice(-1500)}`);
    assert.match(a.out(), /PING-PEER-OK 10\.0\.9\.2/);
    assert.match(b.out(), /PING-PEER-OK 10\.0\.9\.1/);
  } finally {
    await Promise.all([a.vm.stop().catch(() => {}), b.vm.stop().catch(() => {})]);
  }
});
