#!/usr/bin/env node
// Runs the compiled CLI (npm run build puts it in dist/).
import { existsSync } from 'node:fs';
const cli = new URL('../dist/src/control/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('hvm: not built yet: run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(cli.href);
const status = await main(process.argv.slice(2));
process.exit(status);
