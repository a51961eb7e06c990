import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameToPng, nextScreenshotName, pngToPixels } from './screenshot.js';

test('a frame round-trips through PNG pixel for pixel', () => {
  const width = 37;
  const height = 11;
  const pixels = new Uint32Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) & 0xffffff;
  const png = frameToPng({ width, height, pixels, rects: [], text: null });
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  assert.equal(png[25], 2, 'colour type 2 (RGB)');
  const back = pngToPixels(png);
  assert.deepEqual([back.width, back.height], [width, height]);
  assert.deepEqual(back.pixels, pixels);
});

test('an empty frame is an error; names count up', () => {
  assert.throws(() => frameToPng({ width: 0, height: 0, pixels: new Uint32Array(0), rects: [], text: null }), /no display/);
  const taken = new Set(['hvm-screen-0.png', 'hvm-screen-1.png']);
  assert.equal(nextScreenshotName((n) => taken.has(n)), 'hvm-screen-2.png');
});
