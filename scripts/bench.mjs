// `npm run bench [-- name…]`: runs the benchmarks in dist/bench (all, or those named).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
const names = process.argv.slice(2);
const all = readdirSync('dist/bench').filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3));
for (const n of names.length ? names : all) {
  const r = spawnSync(process.execPath, [`dist/bench/${n}.js`], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
