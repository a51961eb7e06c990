// SeaBIOS with each VGA card and no disk, on the soft CPU: SeaBIOS finds the card's option ROM
// through its PCI ROM BAR and runs SeaVGABIOS (for the Cirrus CL-GD5446 its Cirrus build, which
// initialises only after the card passes its check: the SR6 unlock reads back 0x12), which sets
// mode 3; SeaBIOS's banner and its "No bootable device." then appear on the VGA text screen,
// read back through Vm.refreshDisplay().text, and still on COM1 (SeaBIOS's sercon in split mode).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Vm } from '../../src/hypervisor/vm.js';
import { loadFirmwareImage } from '../../src/firmware/boot.js';
import { ScreenText, until } from '../support/guest.js';

const SEABIOS = '/usr/share/seabios/bios-256k.bin';
const CARDS = [
  { vga: 'std', name: 'std VGA', rom: '/usr/share/seabios/vgabios-stdvga.bin' },
  { vga: 'cirrus', name: 'Cirrus CL-GD5446', rom: '/usr/share/seabios/vgabios-cirrus.bin' },
] as const;

for (const card of CARDS) {
  const skip = existsSync(SEABIOS) && existsSync(card.rom) ? false : 'Debian seabios package missing (scripts/setup.sh installs it)';
  test(`SeaBIOS and SeaVGABIOS print on the ${card.name} text screen; the frame is 720x400 text`, { skip, timeout: 330_000 }, async () => {
    const image = new Uint8Array(readFileSync(SEABIOS));
    const vm = await Vm.create({
      memoryBytes: 128 * 2 ** 20, cpus: 1, accel: 'soft', romBytes: image.length, vga: card.vga,
      boot: (ram, cpus) => Array.from({ length: cpus }, () => loadFirmwareImage(ram, image)),
    });
    let serial = '';
    vm.on('serial', (id: string, b: Uint8Array) => { if (id === 'serial0') serial += Buffer.from(b).toString('latin1'); });
    await vm.start();
    const shown = new ScreenText(vm);
    const screen = (): string => `VGA screen:\n${shown.text}\nserial:\n${serial.slice(-2000)}`;
    try {
      // SeaBIOS's last words, on the screen (and mirrored on COM1 by its sercon).
      await until(() => shown.text.includes('No bootable device.'), 280_000, 'SeaBIOS to give up booting on the screen', screen);
      const text = shown.text;
      assert.match(text, /^SeaBIOS \(version [^)]+\)$/m, screen());
      assert.ok(text.includes('No bootable device.'), screen());
      assert.match(text, /Booting from Hard Disk\.\.\./, screen());
      const f = await vm.refreshDisplay(true);
      assert.equal(f.width, 720);
      assert.equal(f.height, 400);
      assert.equal(f.pixels.length, 720 * 400);
      let area = 0;
      for (let i = 0; i < f.rects.length; i += 4) area += f.rects[i + 2]! * f.rects[i + 3]!;
      assert.equal(area, 720 * 400, 'a full refresh covers the whole screen');
      // Text is drawn with the VGA BIOS's font: the banner's row has lit pixels, an empty row does not.
      const row = text.split('\n').findIndex((l) => l.startsWith('SeaBIOS'));
      const lit = (r: number): number => {
        let n = 0;
        for (let y = r * 16; y < r * 16 + 16; y++) for (let x = 0; x < 720; x++) if (f.pixels[y * 720 + x] !== f.pixels[0]) n++;
        return n;
      };
      assert.ok(lit(row) > 200, `the banner row has glyph pixels (${lit(row)})`);
      assert.equal(lit(24), 0, 'the last row is empty');
      assert.match(serial, /SeaBIOS \(version [^)]*\)/, 'sercon still mirrors the screen on COM1');
    } finally {
      await shown.stop();
      await vm.stop().catch(() => {});
    }
  });
}
