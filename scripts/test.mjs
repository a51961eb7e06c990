// `npm test`: installs what is missing, then runs every unit test (dist/src/**/*.test.js) and
// the guest tests (dist/test/**/*.test.js) with Node's test runner. HVM_LONG=1 lengthens the
// long-running suites (oracle case counts, guest loops); CI runs the short forms.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const setup = spawnSync('sh', ['scripts/setup.sh'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

// The default guest (Debian kernel + busybox initramfs) that the guest tests boot: built once
// from Debian's packages and cached. Without a mirror those tests skip and say why.
const image = spawnSync(process.execPath, ['bin/hvm.js', 'image', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (image.status !== 0) process.stderr.write('test: the default guest could not be built; the tests that boot it will be skipped\n');

function find(dir, out) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) find(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = [...find('dist/src', []), ...find('dist/test', [])].sort();
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
