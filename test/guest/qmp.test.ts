// The QMP monitor on a real guest: `hvm run --qmp unix:…` boots the default Debian guest (soft
// CPU, an e1000 on the user-mode NAT, a CD-ROM) and a QMP client drives it the way a QEMU
// user's tools would. What is asserted is what the guest did: no console echo while stopped, the
// echo after cont, the e1000's carrier as Linux reports it after set_link, the disc Linux reads
// after eject / blockdev-change-medium / HMP change, and the guest's own ACPI power-off after
// system_powerdown — then SHUTDOWN and exit status 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnHvm } from '../support/hvm-child.js';
import { guestSkip, until } from '../support/guest.js';
import { QmpClient } from '../../src/control/qmp-client.js';
import { Vm } from '../../src/hypervisor/vm.js';

const skip = guestSkip;
/** Removable media through the monitor need Vm.changeMedia (the IDE media-change work). */
const haveMedia = typeof (Vm.prototype as { changeMedia?: unknown }).changeMedia === 'function';

/** The first CD-ROM sector's marker, printed after `tag` (split by quotes: the typed echo never matches). */
const readCd = (tag: string): string =>
  `echo "${tag.slice(0, 3)}""${tag.slice(3)}-$(dd if=/dev/sr0 bs=2048 count=1 2>&1 | head -c 16 | tr -c 'A-Za-z0-9 -' _)"\n`;

/**
 * Waits until the carrier of eth0 is not `from` (bounded) and prints it after `tag`. The tag is
 * split by quotes in the command line, so the shell's echo of what was typed never contains it.
 */
const carrierWait = (from: 0 | 1, tag: string): string =>
  `i=0; while [ "$(cat /sys/class/net/eth0/carrier)" = ${from} ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; echo "${tag.slice(0, 3)}""${tag.slice(3)}-$(cat /sys/class/net/eth0/carrier)"\n`;

test('QMP on the default guest: status, stop/cont hold the console, set_link, eject/change, system_powerdown', { skip, timeout: 900_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvm-qmp-guest-'));
  const sock = join(dir, 'qmp.sock');
  // Two 64 KiB "discs" whose first sector starts with a marker.
  const disc = (name: string): string => {
    const f = join(dir, `${name}.iso`);
    const b = Buffer.alloc(64 * 1024);
    b.write(`HVM-MEDIUM-${name}`);
    writeFileSync(f, b);
    return f;
  };
  const discA = disc('A');
  const discB = disc('B');
  const hvm = spawnHvm(['run', '--accel', 'soft', '--nic', 'user,model=e1000', ...(haveMedia ? ['--cdrom', discA] : []),
    '--qmp', `unix:${sock},server,nowait`]);
  const exited = hvm.exited.then((e) => e.status);
  const both = (): string => `${hvm.out()}\n--- stderr ---\n${hvm.err()}`;
  const type = (s: string): void => { hvm.write(s); };
  // Kernel messages (the e1000's link lines) may follow the prompt: look for a prompt after `marker`.
  const promptAfter = (marker: string): Promise<void> =>
    until(() => { const i = hvm.out().lastIndexOf(marker); return i >= 0 && hvm.out().indexOf('hvm# ', i) >= 0; }, 30_000, `the prompt after ${marker}`, both);
  let qmp: QmpClient | null = null;
  try {
    await until(() => existsSync(sock) || hvm.child.exitCode !== null, 60_000, 'the QMP socket', both);
    qmp = await QmpClient.connect(sock);
    const q = qmp;
    await until(() => /HVM-GUEST-READY[\s\S]*hvm# /.test(hvm.out()), 480_000, 'the guest shell prompt', both);
    assert.deepEqual(await q.execute('query-status'), { status: 'running', singlestep: false, running: true });

    // The e1000's cable is in: Linux reports carrier 1 once the interface is up.
    type('modprobe e1000; i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; ' +
      `ifconfig eth0 up; ${carrierWait(0, 'CARRIER-UP')}`);
    await until(() => /CARRIER-UP-\d?\r?\n/.test(hvm.out()), 180_000, 'the carrier after ifconfig up', both);
    assert.match(hvm.out(), /CARRIER-UP-1/, both());
    await promptAfter('CARRIER-UP-');

    // stop: the vCPU is held, so the console echoes nothing, not even the typed characters.
    await q.execute('stop');
    await q.waitEvent('STOP', 5000);
    assert.deepEqual(await q.execute('query-status'), { status: 'paused', singlestep: false, running: false });
    assert.equal(await q.execute('human-monitor-command', { 'command-line': 'info status' }), 'VM status: paused\r\n');
    await new Promise((r) => setTimeout(r, 300)); // output already on its way from the device model
    const before = hvm.out().length;
    type('echo MARK-$((6*7))\n');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(hvm.out().slice(before), '', 'the console printed nothing while the VM was stopped');

    // cont: the guest takes the input it was given and answers.
    await q.execute('cont');
    await q.waitEvent('RESUME', 5000);
    await until(() => hvm.out().slice(before).includes('MARK-42'), 120_000, 'the command typed while stopped to run after cont', both);
    assert.deepEqual(await q.execute('query-status'), { status: 'running', singlestep: false, running: true });

    // set_link: the guest's driver sees the cable go and come back.
    await promptAfter('MARK-42');
    await q.execute('set_link', { name: 'nic0', up: false });
    type(carrierWait(1, 'CARRIER-DOWN'));
    await until(() => /CARRIER-DOWN-\d?\r?\n/.test(hvm.out()), 120_000, 'the carrier after set_link down', both);
    assert.match(hvm.out(), /CARRIER-DOWN-0/, both());
    await promptAfter('CARRIER-DOWN-');
    await q.execute('set_link', { name: 'nic0', up: true });
    type(carrierWait(0, 'CARRIER-BACK'));
    await until(() => /CARRIER-BACK-\d?\r?\n/.test(hvm.out()), 120_000, 'the carrier after set_link up', both);
    assert.match(hvm.out(), /CARRIER-BACK-1/, both());

    // eject / blockdev-change-medium / HMP change: the guest reads no medium, then the new disc.
    if (haveMedia) {
      await promptAfter('CARRIER-BACK-');
      type('modprobe ata_piix; modprobe sr_mod; i=0; while [ ! -e /dev/sr0 ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; ' + readCd('MEDIA-A'));
      await until(() => /MEDIA-A-[^\r\n]*\r?\n/.test(hvm.out()), 180_000, 'the first disc read', both);
      assert.match(hvm.out(), /MEDIA-A-HVM-MEDIUM-A/, both());
      await promptAfter('MEDIA-A-');
      await q.execute('eject', { id: 'ide1-cd0' });
      type(readCd('MEDIA-E'));
      await until(() => /MEDIA-E-[^\r\n]*\r?\n/.test(hvm.out()), 120_000, 'a read with no disc', both);
      assert.doesNotMatch(hvm.out(), /MEDIA-E-HVM-MEDIUM/, 'no disc after eject');
      await promptAfter('MEDIA-E-');
      await q.execute('blockdev-change-medium', { id: 'ide1-cd0', filename: discB, format: 'raw' });
      type(readCd('MEDIA-B'));
      await until(() => /MEDIA-B-[^\r\n]*\r?\n/.test(hvm.out()), 120_000, 'the second disc read', both);
      assert.match(hvm.out(), /MEDIA-B-HVM-MEDIUM-B/, both());
      await promptAfter('MEDIA-B-');
      assert.equal(await q.execute('human-monitor-command', { 'command-line': `change ide1-cd0 ${discA}` }), '');
      type(readCd('MEDIA-H'));
      await until(() => /MEDIA-H-[^\r\n]*\r?\n/.test(hvm.out()), 120_000, 'the disc changed through HMP', both);
      assert.match(hvm.out(), /MEDIA-H-HVM-MEDIUM-A/, both());
      await promptAfter('MEDIA-H-');
    }

    // system_powerdown: the ACPI power button; the guest's acpid powers it off.
    const n = q.events.length;
    await q.execute('system_powerdown');
    await q.waitEvent('POWERDOWN', 5000, n);
    const shutdown = await q.waitEvent('SHUTDOWN', 180_000, n);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
    let timer: NodeJS.Timeout | undefined;
    const status = await Promise.race([exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 60_000); })]);
    clearTimeout(timer);
    assert.equal(status, 0, both());
    assert.match(hvm.out(), /power button: powering off/, 'the guest shut itself down on the button');
    assert.equal(existsSync(sock), false, 'the socket is removed when hvm exits');
  } finally {
    qmp?.close();
    hvm.kill();
  }
});
