// The Debian i386 guest on the soft CPU with two network cards on the user-mode NAT, one boot:
// an e1000 (Linux's e1000 driver) and an RTL8139 (8139too). On each in turn: udhcpc gets
// 10.0.2.15, ping reaches the gateway, and wget fetches a file from an HTTP server this test
// runs on the host's loopback (10.0.2.2 in the guest), whose md5 must match. The e1000's
// traffic is captured to a pcap file, checked for its header and frames; the host fetches the
// file back from the guest's httpd through a hostfwd port, then pulls the e1000's cable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Vm } from '../../src/hypervisor/vm.js';
import { defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { machines } from '../../src/machine/pc.js';
import { withNics } from '../../src/machine/nics.js';
import type { NicSpec } from '../../src/net/nic.js';
import { get as httpGet } from 'node:http';

/** GETs a URL into a buffer. */
function fetchBytes(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** A host TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const skip = guestSkip;

function script(port: number): string {
  return `
cat > /tmp/dhcp.sh <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew) ifconfig "$interface" "$ip" netmask "$subnet" up; ip route add default via "$router" dev "$interface"; echo "LEASE $interface $ip $router $dns" ;;
esac
EOF
chmod +x /tmp/dhcp.sh
ifconfig lo up
for n in /sys/class/net/eth*; do
  i=$(basename $n)
  drv=$(basename $(readlink $n/device/driver))
  echo "NIC $i $drv $(cat $n/address)"
done
for drv in 8139too e1000; do
  i=
  for n in /sys/class/net/eth*; do [ "$(basename $(readlink $n/device/driver))" = $drv ] && i=$(basename $n); done
  [ -z "$i" ] && { echo "NO-$drv"; continue; }
  ifconfig $i up
  udhcpc -i $i -n -q -t 10 -T 2 -s /tmp/dhcp.sh && echo "DHCP-OK $drv"
  ping -c 1 -W 10 10.0.2.2 && echo "PING-OK $drv"
  rm -f /tmp/f
  wget -q -O /tmp/f http://10.0.2.2:${port}/file && echo "WGET-OK $drv"
  echo "MD5 $drv $(md5sum /tmp/f | cut -d' ' -f1)"
  [ $drv = e1000 ] && break
  ip addr flush dev $i; ifconfig $i down
done
# The e1000 stays up: serve the fetched file for the host's hostfwd, then wait for the host to
# pull the cable.
mkdir -p /tmp/www && cp /tmp/f /tmp/www/file
httpd -p 8080 -h /tmp/www && echo "HTTPD-READY $(cat /sys/class/net/$i/carrier)"
n=0; while [ "$(cat /sys/class/net/$i/carrier)" = 1 ] && [ $n -lt 300 ]; do sleep 1; n=$((n+1)); done
echo "CARRIER $(cat /sys/class/net/$i/carrier) $(cat /sys/class/net/$i/operstate)"
`;
}


test('Linux on e1000 and RTL8139 over the user NAT: DHCP, ping, wget md5, hostfwd, link down', { skip, timeout: 900_000 }, async () => {
  const file = randomBytes(300 * 1024);
  const md5 = createHash('md5').update(file).digest('hex');
  const server: Server = createServer((req, res) => {
    if (req.url === '/file') { res.writeHead(200, { 'content-length': file.length }); res.end(file); }
    else { res.writeHead(404); res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'hvm-net-'));
  const pcap = join(dir, 'e1000.pcap');
  const fwdPort = await freePort();
  const nics: NicSpec[] = [
    { model: 'e1000', mac: '52:54:00:12:34:56', backend: { kind: 'user', hostfwd: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: fwdPort, guestPort: 8080 }] }, pcap },
    { model: 'rtl8139', mac: '52:54:00:12:34:57', backend: { kind: 'user', hostfwd: [] } },
  ];
  const cmdline = 'console=ttyS0 quiet lpj=1000000 tsc_early_khz=1000000 hvm.modules=e1000,8139too ' +
    `hvm.cmd=${Buffer.from(script(port)).toString('base64')}`;
  // The boot tables list the machine's PCI slots, so they are built from the machine with its NICs.
  const machine = withNics(machines['pc']!, nics);
  const vm = await Vm.create({
    memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft', nics,
    boot: defaultGuestLoader(machine, cmdline),
  });
  let out = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { out += Buffer.from(b).toString('latin1'); });
  await vm.start();
  try {
    await until(() => /HTTPD-READY \S+\r?\n|HVM-CMD-EXIT/.test(out), 800_000, 'the guest httpd', () => out);
    assert.match(out, /HTTPD-READY 1/, out.slice(-4000));
    // The host reaches the guest's httpd through hostfwd on the e1000's NAT.
    const viaFwd = await fetchBytes(`http://127.0.0.1:${fwdPort}/file`);
    assert.equal(createHash('md5').update(viaFwd).digest('hex'), md5, 'hostfwd fetch matches');
    // Pull the e1000's cable: the driver sees the carrier go.
    vm.setNicLink('nic0', false);
    await until(() => /HVM-CMD-EXIT/.test(out), 120_000, 'the script to finish', () => out);
    assert.match(out, /CARRIER 0 down/, out.slice(-2000));
    assert.match(out, /NIC eth\d e1000 52:54:00:12:34:56/, out);
    assert.match(out, /NIC eth\d 8139too 52:54:00:12:34:57/, out);
    assert.equal(out.match(/LEASE eth\d 10\.0\.2\.15 10\.0\.2\.2 10\.0\.2\.3/g)?.length, 2, out.slice(-4000));
    for (const drv of ['e1000', '8139too']) {
      assert.match(out, new RegExp(`DHCP-OK ${drv}`), out.slice(-4000));
      assert.match(out, new RegExp(`PING-OK ${drv}`), out.slice(-4000));
      assert.match(out, new RegExp(`WGET-OK ${drv}`), out.slice(-4000));
      assert.match(out, new RegExp(`MD5 ${drv} ${md5}`), out.slice(-4000));
    }
  } finally {
    await vm.stop().catch(() => {});
    server.close();
  }
  const cap = readFileSync(pcap);
  assert.equal(cap.readUInt32LE(0), 0xa1b2c3d4, 'pcap magic');
  assert.equal(cap.readUInt32LE(20), 1, 'LINKTYPE_ETHERNET');
  assert.ok(cap.length > 24 + 16 * 10, 'frames captured');
  // The DHCP server's reply (UDP 67 -> 68) is in the capture.
  assert.ok(cap.includes(Buffer.from([0x00, 0x43, 0x00, 0x44])), 'a DHCP reply in the capture');
  // Where Debian's tshark is installed, it reads the file and shows the DHCP exchange.
  const tshark = spawnSync('tshark', ['-r', pcap, '-Y', 'dhcp'], { encoding: 'utf8' });
  if (tshark.error === undefined) {
    assert.equal(tshark.status, 0, tshark.stderr);
    for (const m of ['DHCP Discover', 'DHCP Offer', 'DHCP Request', 'DHCP ACK']) assert.ok(tshark.stdout.includes(m), `${m} in:\n${tshark.stdout}`);
  }
  rmSync(dir, { recursive: true, force: true });
});
