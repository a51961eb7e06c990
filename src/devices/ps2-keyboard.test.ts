import { test } from 'node:test';
import assert from 'node:assert/strict';
import { I8042 } from './i8042.js';
import { KEY_PAUSE, KEY_PRINT_SCREEN, SET2_TO_SET1, scanBytes } from './ps2-keyboard.js';
import { FakeIrq, FakeSystem, fuzzSeed, seededRandom } from './testing.js';

function setup() {
  const kbdIrq = new FakeIrq();
  const auxIrq = new FakeIrq();
  const kbc = new I8042('i8042', kbdIrq, auxIrq, new FakeSystem());
  const status = (): number => kbc.commandRegion.read(0, 1);
  const cmd = (v: number): void => kbc.commandRegion.write(0, 1, v);
  const data = (v: number): void => kbc.dataRegion.write(0, 1, v);
  const drain = (): number[] => {
    const out: number[] = [];
    for (let n = 0; n < 512 && (status() & 0x01); n++) out.push(kbc.dataRegion.read(0, 1));
    return out;
  };
  const ctr = (v: number): void => { cmd(0x60); data(v); };
  return { kbc, kbdIrq, auxIrq, status, cmd, data, drain, ctr };
}

test('set 2 (default): make and break of plain and E0 keys, Pause, Print Screen', () => {
  const { kbc, drain, kbdIrq } = setup();
  kbc.sendKey(0x1e, true);   // A
  assert.equal(kbdIrq.level, true);
  kbc.sendKey(0x1e, false);
  kbc.sendKey(0xe048, true); // up arrow
  kbc.sendKey(0xe048, false);
  kbc.sendKey(0x41, true);   // F7: set 2 0x83
  kbc.sendKey(0x41, false);
  kbc.sendKey(0xe01d, true); // right Ctrl
  assert.deepEqual(drain(), [0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75, 0x83, 0xf0, 0x83, 0xe0, 0x14]);
  kbc.sendKey(KEY_PAUSE, true);
  kbc.sendKey(KEY_PAUSE, false);
  assert.deepEqual(drain(), [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77], 'Pause: make only');
  kbc.sendKey(KEY_PRINT_SCREEN, true);
  kbc.sendKey(KEY_PRINT_SCREEN, false);
  assert.deepEqual(drain(), [0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]);
});

test('controller translation (CTR bit 6) turns set 2 into set 1', () => {
  const { kbc, drain, ctr } = setup();
  ctr(0x47);
  kbc.sendKey(0x1e, true); kbc.sendKey(0x1e, false);
  kbc.sendKey(0xe048, true); kbc.sendKey(0xe048, false);
  kbc.sendKey(0x41, true); kbc.sendKey(0x41, false);
  kbc.sendKey(0x01, true); kbc.sendKey(0x01, false);
  assert.deepEqual(drain(), [0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8, 0x41, 0xc1, 0x01, 0x81]);
  kbc.sendKey(KEY_PAUSE, true);
  assert.deepEqual(drain(), [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
  kbc.sendKey(KEY_PRINT_SCREEN, true); kbc.sendKey(KEY_PRINT_SCREEN, false);
  assert.deepEqual(drain(), [0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]);
});

test('every set 1 key survives set 2 + translation unchanged', () => {
  for (let code = 1; code < 0x80; code++) {
    for (const ext of [0, 0xe000]) {
      for (const down of [true, false]) {
        const s2 = scanBytes(ext | code, down, 2);
        if (s2.length === 0 || (ext | code) === KEY_PRINT_SCREEN) continue;
        const out: number[] = [];
        let brk = false;
        for (const b of s2) { if (b === 0xf0) { brk = true; continue; } out.push(SET2_TO_SET1[b]! | (brk ? 0x80 : 0)); brk = false; }
        assert.deepEqual(out, scanBytes(ext | code, down, 1), `code ${(ext | code).toString(16)} down=${down}`);
      }
    }
  }
});

test('scan set selection 0xF0: set 1 direct, set 3, query', () => {
  const { kbc, data, drain } = setup();
  data(0xf0); data(0x01);
  assert.deepEqual(drain(), [0xfa, 0xfa]);
  kbc.sendKey(0x1e, true); kbc.sendKey(0x1e, false); kbc.sendKey(0xe048, true);
  assert.deepEqual(drain(), [0x1e, 0x9e, 0xe0, 0x48]);
  data(0xf0); data(0x03);
  drain();
  kbc.sendKey(0x1e, true); kbc.sendKey(0x1e, false); kbc.sendKey(0xe048, true); kbc.sendKey(0x3b, true);
  assert.deepEqual(drain(), [0x1c, 0xf0, 0x1c, 0x63, 0x07], 'set 3: no E0, own codes for arrows and F1');
  data(0xf0); data(0x00);
  assert.deepEqual(drain(), [0xfa, 0xfa, 0x03]);
  data(0xf0); data(0x07);
  assert.deepEqual(drain(), [0xfa, 0xfe], 'bad set is refused');
});

test('F0 00 answers 0x41 for set 2 through the translator', () => {
  const { data, drain, ctr } = setup();
  ctr(0x47);
  data(0xf0); data(0x00);
  assert.deepEqual(drain(), [0xfa, 0xfa, 0x41]);
  data(0xf2);
  assert.deepEqual(drain(), [0xfa, 0xab, 0x41], 'ID translated as Linux expects');
});

test('LEDs, typematic, disable/enable, echo, reset', () => {
  const { kbc, data, drain } = setup();
  data(0xed); data(0x07);
  assert.deepEqual(drain(), [0xfa, 0xfa]);
  assert.equal(kbc.keyboard.leds, 7);
  data(0xf3); data(0x20);
  assert.deepEqual(drain(), [0xfa, 0xfa]);
  assert.equal(kbc.keyboard.typematicByte, 0x20);
  data(0xf5);
  assert.deepEqual(drain(), [0xfa]);
  kbc.sendKey(0x1e, true);
  assert.deepEqual(drain(), [], 'disabled keyboard sends nothing');
  data(0xf4);
  kbc.sendKey(0x1e, true);
  assert.deepEqual(drain(), [0xfa, 0x1c]);
  data(0xee);
  assert.deepEqual(drain(), [0xee]);
  data(0xed); data(0xf4);
  assert.deepEqual(drain(), [0xfa, 0xfa], 'a command in place of an argument is a new command');
  data(0xff);
  assert.deepEqual(drain(), [0xfa, 0xaa]);
  assert.equal(kbc.keyboard.leds, 0);
  data(0x12);
  assert.deepEqual(drain(), [0xfe], 'unknown command: resend');
});

test('controller keyboard disable (0xAD) holds keys; a full queue drops whole sequences', () => {
  const { kbc, cmd, drain } = setup();
  cmd(0xad);
  for (let i = 0; i < 200; i++) kbc.sendKey(0xe048, true);
  assert.deepEqual(drain(), []);
  cmd(0xae);
  const got = drain();
  assert.equal(got.length % 2, 0, 'never half an E0 sequence');
  assert.ok(got.length <= 256 && got.length >= 250);
  assert.ok(kbc.keyboard.dropped > 0);
});

test('keyboard and mouse bytes share the output buffer: AUX OBF marks mouse bytes', () => {
  const { kbc, cmd, data, status, drain } = setup();
  cmd(0xd4); data(0xf4);
  drain();
  kbc.sendKey(0x1e, true);
  kbc.sendPointer(1, 0, 0, 0);
  const seen: Array<[number, boolean]> = [];
  for (let n = 0; n < 10 && (status() & 1); n++) { const aux = (status() & 0x20) !== 0; seen.push([kbc.dataRegion.read(0, 1), aux]); }
  assert.deepEqual(seen, [[0x1c, false], [0x08, true], [0x01, true], [0x00, true]]);
});

test('fuzz: random controller/device commands and host input never throw, state reloads', () => {
  const seed = fuzzSeed();
  const rnd = seededRandom(seed);
  const { kbc, cmd, data, status } = setup();
  const cmds = [0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad, 0xae, 0xd2, 0xd3, 0xd4, 0xd4, 0xd4];
  const devCmds = [0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xf0, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xfe, 0xff, 0x00, 0x02, 0x03, 200, 100, 80];
  try {
    for (let i = 0; i < 30_000; i++) {
      const r = rnd();
      if (r < 0.2) cmd(cmds[Math.floor(rnd() * cmds.length)]!);
      else if (r < 0.5) data(rnd() < 0.8 ? devCmds[Math.floor(rnd() * devCmds.length)]! : Math.floor(rnd() * 256));
      else if (r < 0.7) kbc.dataRegion.read(0, 1);
      else if (r < 0.75) status();
      else if (r < 0.9) kbc.sendKey(rnd() < 0.05 ? KEY_PAUSE : (rnd() < 0.3 ? 0xe000 : 0) | (1 + Math.floor(rnd() * 0x7f)), rnd() < 0.5);
      else kbc.sendPointer(Math.floor(rnd() * 2000 - 1000), Math.floor(rnd() * 2000 - 1000), Math.floor(rnd() * 20 - 10), Math.floor(rnd() * 8));
      if (i % 5000 === 0) kbc.loadState(JSON.parse(JSON.stringify(kbc.saveState())), kbc.stateVersion);
    }
  } catch (e) {
    throw new Error(`seed ${seed}: ${(e as Error).message}`);
  }
});
