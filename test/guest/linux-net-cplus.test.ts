// The Debian i386 guest on the soft CPU with an RTL8139 at PCI revision 0x20, so Linux binds
// 8139cp and drives the chip in C+ mode (descriptor rings, checksum offload): udhcpc, ping to
// the gateway, and wget of a host file over the user NAT with a matching md5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Vm } from '../../src/hypervisor/vm.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { machines } from '../../src/machine/pc.js';
import { withNics } from '../../src/machine/nics.js';
import type { NicSpec } from '../../src/net/nic.js';

const skip = guestSkip;

function script(port: number): string {
  return `
cat > /tmp/dhcp.sh <<'END'
#!/bin/sh
case "$1" in
  bound|renew) ifconfig "$interface" "$ip" netmask "$subnet" up; ip route add default via "$router" dev "$interface"; echo "LEASE $interface $ip" ;;
esac
END
chmod +x /tmp/dhcp.sh
echo "DRIVER $(basename $(readlink /sys/class/net/eth0/device/driver))"
ifconfig eth0 up
udhcpc -i eth0 -n -q -t 10 -T 2 -s /tmp/dhcp.sh && echo DHCP-OK
ping -c 1 -W 10 10.0.2.2 && echo PING-OK
wget -q -O /tmp/f http://10.0.2.2:${port}/file && echo WGET-OK
echo "MD5 $(md5sum /tmp/f | cut -d' ' -f1)"
`;
}


test('Linux 8139cp drives the RTL8139 in C+ mode: DHCP, ping, wget md5', { skip, timeout: 900_000 }, async () => {
  const file = randomBytes(200 * 1024);
  const md5 = createHash('md5').update(file).digest('hex');
  const server: Server = createServer((_req, res) => { res.writeHead(200, { 'content-length': file.length }); res.end(file); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const nics: NicSpec[] = [{ model: 'rtl8139', mac: '52:54:00:12:34:58', backend: { kind: 'user', hostfwd: [] }, revision: 0x20 }];
  const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=8139cp ' +
    `hvm.cmd=${Buffer.from(script(port)).toString('base64')}`;
  const machine = withNics(machines['pc']!, nics);
  const vm = await Vm.create({
    memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft', nics,
    boot: defaultGuestLoader(machine, cmdline),
  });
  let out = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
  await vm.start();
  try {
    await until(() => /HVM-CMD-EXIT/.test(out), 800_000, 'the script to finish', () => out);
    assert.match(out, /DRIVER 8139cp/, out.slice(-4000));
    assert.match(out, /LEASE eth0 10\.0\.2\.15/, out.slice(-4000));
    assert.match(out, /PING-OK/, out.slice(-4000));
    assert.match(out, /WGET-OK/, out.slice(-4000));
    assert.match(out, new RegExp(`MD5 ${md5}`), out.slice(-4000));
  } finally {
    await vm.stop().catch(() => {});
    server.close();
  }
});
