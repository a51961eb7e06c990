// The default Linux guest with the std VGA, driven through hvm's VNC server by an RFB client:
// keys typed over VNC reach a shell on tty1 through the PS/2 keyboard (the guest's atkbd), the
// command's effect shows on COM1 and its echo on the VGA screen; the client's framebuffer equals
// the Vm's own frame pixel for pixel; and pointer motion arrives in the guest as PS/2 mouse
// packets (psmouse reads them as an IntelliMouse; the guest prints /dev/input/mice to COM1);
// `modprobe bochs` typed over VNC switches to a 1024x768 framebuffer, which the client follows
// through DesktopSize; and the framebuffer console scrolling (`seq`) arrives as CopyRect, the
// client's framebuffer built from incremental updates equalling the Vm's frame.
//
// psmouse is a module in Debian's kernel: the mouse half runs when the guest image carries it
// (hvm.modules=psmouse) or when HVM_TEST_PSMOUSE_KO names a psmouse.ko for the guest's kernel,
// which is then appended to the initramfs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vm, type BootLoader } from '../../src/hypervisor/vm.js';
import { machines } from '../../src/machine/pc.js';
import { VncServer } from '../../src/ui/vnc-server.js';
import { pngToPixels } from '../../src/ui/screenshot.js';
import { RfbClient } from '../support/rfb-client.js';
import { defaultGuest, defaultGuestLoader, guestSkip, until } from '../support/guest.js';
import { appendToInitrd } from '../../src/guest/initrd-append.js';

const psmouseKo = process.env['HVM_TEST_PSMOUSE_KO'];
const imageHasPsmouse = defaultGuest !== null && existsSync(defaultGuest.kernel) && (() => {
  try {
    const manifest = JSON.parse(readFileSync(defaultGuest.kernel.replace(/[^/]*$/, 'manifest.json'), 'utf8')) as { modules?: string[] };
    return (manifest.modules ?? []).some((m) => /\/psmouse\.ko/.test(m));
  } catch { return false; }
})();
const mouseSkip = psmouseKo !== undefined && existsSync(psmouseKo) ? false : imageHasPsmouse ? false
  : 'psmouse is not in the guest image (set HVM_TEST_PSMOUSE_KO=path/to/psmouse.ko to test the mouse)';

/** The default guest with the VGA text screen described in boot_params, and psmouse.ko appended if given. */
function loader(cmdline: string): BootLoader {
  const extra = psmouseKo !== undefined && existsSync(psmouseKo) ? [{ path: 'psmouse.ko', data: readFileSync(psmouseKo), mode: 0o644 }] : [];
  return defaultGuestLoader(machines['pc']!, cmdline, { vgaText: true, initrd: (i) => (extra.length > 0 ? appendToInitrd(i, extra) : i) });
}

// /dev/console is tty0 (the last console=), so markers go to COM1 explicitly.
const SCRIPT = `
S=/dev/ttyS0
if [ -e /psmouse.ko ]; then insmod /psmouse.ko; else modprobe psmouse 2>/dev/null; fi
sleep 1
echo "MOUSE-DEV $(grep -o 'Name=.*PS/2.*' /proc/bus/input/devices | grep -v -i keyboard)" > $S
if grep -q 'PS/2.*Mouse' /proc/bus/input/devices; then
  ( exec 3</dev/input/mice; n=0; while [ $n -lt 50 ]; do echo "MOUSE:$(dd bs=3 count=1 <&3 2>/dev/null | od -An -tx1)" > $S; n=$((n+1)); done ) &
fi
sh -i </dev/tty1 >/dev/tty1 2>&1 &
sleep 1
echo HVM-INPUT-READY > $S
sleep 900
`;

test('VNC: typing reaches the guest shell through the PS/2 keyboard; the screen and pointer follow', { skip: guestSkip, timeout: 900_000 }, async (t) => {
  const cmdline = 'console=ttyS0 console=tty0 quiet lpj=1000000 tsc_early_khz=1000000 cryptomgr.notests ' +
    `hvm.cmd=${Buffer.from(SCRIPT).toString('base64')}`;
  const vm = await Vm.create({ memoryBytes: 256 * 2 ** 20, cpus: 1, accel: 'soft', vga: 'std', boot: loader(cmdline) });
  let serial = '';
  vm.on('serial', (_id: string, b: Uint8Array) => { serial += Buffer.from(b).toString('latin1'); });
  // On a display :N (the real peer gvnccapture takes a display number, not a port).
  let vnc: VncServer | null = null;
  let display = 0;
  for (let i = 0; i < 20 && vnc === null; i++) {
    display = 40 + Math.floor(Math.random() * 60);
    vnc = await VncServer.listen(vm, { port: 5900 + display }).catch(() => null);
  }
  if (vnc === null) throw new Error('no free VNC display');
  await vm.start();
  let client: RfbClient | null = null;
  const show = (): string => `serial:\n${serial.slice(-2500)}`;
  try {
    await until(() => serial.includes('HVM-INPUT-READY'), 600_000, 'the guest script to start the tty1 shell', show);
    client = await RfbClient.connect(vnc.port);
    client.setEncodings([6, 0, -223]);
    client.requestUpdate(false);
    await client.readUpdate();

    await t.test('keys typed over VNC run a command in the tty1 shell', async () => {
      client!.type('echo KBD-$((6*7))-OK >/dev/ttyS0\n');
      await until(() => /KBD-42-OK/.test(serial), 120_000, 'the typed command\'s output on COM1', show);
      client!.type('echo SCREEN-$((7*6))\n');
      let text = '';
      for (let n = 0; n < 480 && !text.includes('SCREEN-42'); n++) {
        text = (await vm.refreshDisplay()).text ?? '';
        if (!text.includes('SCREEN-42')) await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(text, /^SCREEN-42$/m, `the echo on the VGA screen:\n${text}`);
      assert.ok(text.includes('echo KBD-$((6*7))-OK >/dev/ttyS0'), `the typed line (shifted symbols too) echoed on tty1:\n${text}`);
    });

    await t.test('the VNC client sees the Vm\'s frame pixel for pixel', async () => {
      let same = false;
      let last = '';
      for (let attempt = 0; attempt < 10 && !same; attempt++) {
        // The cursor blinks: take the two views close together and retry on a mismatch.
        const f = await vm.refreshDisplay();
        client!.requestUpdate(false);
        await client!.readUpdate();
        const c = client!.screen;
        last = `${c.width}x${c.height} vs ${f.width}x${f.height}`;
        if (c.width !== f.width || c.height !== f.height) continue;
        let diff = 0;
        for (let i = 0; i < f.pixels.length; i++) if (c.pixels[i] !== f.pixels[i]) diff++;
        last += `, ${diff} pixels differ`;
        same = diff === 0;
      }
      assert.ok(same, last);
    });

    const gvnc = spawnSync('sh', ['-c', 'command -v gvnccapture']).status === 0;
    await t.test('gvnccapture\'s PNG equals Vm.screenshot\'s pixel for pixel', { skip: gvnc ? false : 'gvnccapture is not installed (scripts/setup.sh)' }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hvm-vnc-guest-'));
      let last = '';
      let same = false;
      for (let attempt = 0; attempt < 8 && !same; attempt++) {
        // The text cursor blinks: retry until both captures fall in the same phase.
        // Asynchronously: the VNC server runs on this thread's event loop.
        const status = await new Promise<number | null>((resolve) => {
          const p = spawn('gvnccapture', ['--quiet', `127.0.0.1:${display}`, join(dir, 'theirs.png')], { stdio: 'ignore' });
          const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
          p.on('close', (code) => { clearTimeout(timer); resolve(code); });
        });
        await vm.screenshot(join(dir, 'ours.png'));
        assert.equal(status, 0, 'gvnccapture exit status');
        const a = pngToPixels(readFileSync(join(dir, 'theirs.png')));
        const b = pngToPixels(readFileSync(join(dir, 'ours.png')));
        let diff = 0;
        for (let i = 0; i < b.pixels.length; i++) if (a.pixels[i] !== b.pixels[i]) diff++;
        last = `${a.width}x${a.height} vs ${b.width}x${b.height}, ${diff} pixels differ`;
        same = a.width === b.width && a.height === b.height && diff === 0;
      }
      assert.ok(same, last);
    });

    await t.test('pointer motion arrives as PS/2 packets (/dev/input/mice)', { skip: mouseSkip }, async () => {
      assert.match(serial, /MOUSE-DEV .*ImPS\/2/, 'psmouse found the IntelliMouse (the 200,100,80 knock)');
      client!.pointer(100, 100);
      client!.pointer(110, 105);
      await until(() => /MOUSE: 28 0a fb/.test(serial), 60_000, 'a packet: right 10, down 5', show);
      client!.pointer(110, 105, 1);
      await until(() => /MOUSE: 09 00 00/.test(serial), 60_000, 'left button down', show);
      client!.pointer(90, 125, 0);
      await until(() => /MOUSE: 38 ec ec/.test(serial), 60_000, 'left up, moved left 20 and down 20', show);
    });

    await t.test('a mode set typed over VNC (modprobe bochs) reaches the client as DesktopSize', async () => {
      client!.type('modprobe bochs\n');
      const t0 = Date.now();
      while (client!.screen.width !== 1024 && Date.now() - t0 < 240_000) {
        client!.requestUpdate(true);
        await client!.readUpdate();
      }
      assert.deepEqual([client!.screen.width, client!.screen.height], [1024, 768], 'the bochs DRM framebuffer console');
      assert.ok(client!.encodingsSeen.has(-223), 'a DesktopSize rectangle');
      let last = '';
      let same = false;
      for (let attempt = 0; attempt < 10 && !same; attempt++) {
        const f = await vm.refreshDisplay();
        client!.requestUpdate(false);
        await client!.readUpdate();
        let diff = 0;
        for (let i = 0; i < f.pixels.length; i++) if (client!.screen.pixels[i] !== f.pixels[i]) diff++;
        last = `${f.width}x${f.height}: ${diff} pixels differ`;
        same = f.width === 1024 && diff === 0;
      }
      assert.ok(same, last);
    });

    await t.test('the framebuffer console scrolling reaches the client as CopyRect, decoding to the Vm\'s frame exactly', async (st) => {
      const c = client!;
      assert.equal(c.screen.width, 1024, 'the bochs framebuffer console is up');
      c.setEncodings([1, 6, 0, -223]);
      const copies0 = c.copyRects;
      // A still cursor (no blink), then bursts of lines a second apart, so that some update
      // falls between bursts: fbcon scrolls the whole screen for each line. Typed a piece at a
      // time, as the keyboard's queue holds 256 bytes of scan codes.
      const line = 'echo 0 >/sys/class/graphics/fbcon/cursor_blink; for i in 1 2 3 4 5 6; do seq 1 12; sleep 1; done; echo SCROLL-DONE >/dev/ttyS0\n';
      for (let i = 0; i < line.length; i += 16) {
        c.type(line.slice(i, i + 16));
        await new Promise((r) => setTimeout(r, 300));
      }
      let streaming = true;
      let updates = 0;
      let streamError = '';
      const stream = (async () => {
        while (streaming) { c.requestUpdate(true); await c.readUpdate(); updates++; }
      })().catch((e: Error) => { streamError = e.message; });
      await until(() => serial.includes('SCROLL-DONE'), 300_000, 'seq to finish scrolling',
        () => `${show()}\nupdates ${updates}, CopyRects ${c.copyRects - copies0}${streamError ? `, client: ${streamError}` : ''}`);
      await new Promise((r) => setTimeout(r, 1000));
      streaming = false;
      c.type(' '); // a change, so the request outstanding is answered
      await stream;
      assert.equal(streamError, '', 'the client decoded every update');
      st.diagnostic(`${c.copyRects - copies0} CopyRect rectangles in ${updates} updates, ${c.bytesReceived} bytes received in all`);
      assert.ok(c.copyRects > copies0, `CopyRect rectangles: ${c.copyRects - copies0} in ${updates} updates`);
      // Only incremental updates from here: the client's framebuffer is what the copies made of it.
      let same = false;
      let last = '';
      for (let attempt = 0; attempt < 20 && !same; attempt++) {
        const f = await vm.refreshDisplay();
        let diff = 0;
        for (let i = 0; i < f.pixels.length; i++) if (c.screen.pixels[i] !== f.pixels[i]) diff++;
        last = `${f.width}x${f.height}: ${diff} pixels differ`;
        same = f.width === c.screen.width && f.height === c.screen.height && diff === 0;
        // What differs is owed to the client: an incremental request brings it.
        if (!same) { c.requestUpdate(true); await c.readUpdate(); }
      }
      assert.ok(same, last);
    });
  } finally {
    client?.close();
    await vnc.close();
    await vm.stop().catch(() => {});
  }
});
