/**
 * `npm run example <name>`: run examples/<name>.ts (compiled to examples/.build by the script).
 * With no name, list them.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const names = readdirSync(here).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
const name = process.argv[2];
if (name === undefined || !names.includes(name)) {
  console.log(`usage: npm run example <name>, one of: ${names.join(', ')}`);
  process.exitCode = name === undefined ? 0 : 2;
} else {
  // The example reads its own arguments from argv[2] on, as when it is run directly.
  process.argv.splice(2, 1);
  await import(`../${name}.js`);
}
