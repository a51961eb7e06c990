// Screenshots: a DisplayFrame (0x00RRGGBB pixels) as a PNG file, written with pngjs.

import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import type { DisplayFrame } from '../devices/display/frame.js';

/** PNG colour type 2: 8-bit RGB, no alpha (the guest's screen has none). */
const PNG_COLOR_RGB = 2;

/** Encodes a frame as PNG bytes; throws if the frame is empty (no display, or none set up yet). */
export function frameToPng(frame: DisplayFrame): Buffer {
  const { width, height, pixels } = frame;
  if (width === 0 || height === 0) throw new Error('the guest has no display to capture (is --vga set, and has the guest set a mode?)');
  if (pixels.length < width * height) throw new Error(`display frame holds ${pixels.length} pixels, want ${width}x${height}`);
  const png = new PNG({ width, height });
  const rgba = png.data;
  for (let i = 0, o = 0; i < width * height; i++, o += 4) {
    const p = pixels[i]!;
    rgba[o] = (p >>> 16) & 0xff;
    rgba[o + 1] = (p >>> 8) & 0xff;
    rgba[o + 2] = p & 0xff;
    rgba[o + 3] = 0xff;
  }
  return PNG.sync.write(png, { colorType: PNG_COLOR_RGB });
}

/** Decodes a PNG into 0x00RRGGBB pixels (for tests and comparisons with other tools' captures). */
export function pngToPixels(bytes: Buffer): { width: number; height: number; pixels: Uint32Array } {
  const png = PNG.sync.read(bytes);
  const pixels = new Uint32Array(png.width * png.height);
  for (let i = 0, o = 0; i < pixels.length; i++, o += 4) {
    pixels[i] = ((png.data[o]! << 16) | (png.data[o + 1]! << 8) | png.data[o + 2]!) >>> 0;
  }
  return { width: png.width, height: png.height, pixels };
}

/** Writes a frame to `path` as PNG. */
export async function writeScreenshot(frame: DisplayFrame, path: string): Promise<void> {
  await writeFile(path, frameToPng(frame));
}

/** The first hvm-screen-<n>.png name (n from 0) for which `exists` is false, for interactive screenshots. */
export function nextScreenshotName(exists: (name: string) => boolean, max = 10_000): string {
  for (let n = 0; n < max; n++) {
    const name = `hvm-screen-${n}.png`;
    if (!exists(name)) return name;
  }
  throw new Error(`too many screenshots (hvm-screen-0..${max - 1}.png all exist)`);
}
