/**
 * Installs bench/'s own dependencies (the libraries dht-scrape is compared with, and tsx to run the
 * TypeScript benchmarks) when they are missing or older than bench/package-lock.json. They live in
 * bench/node_modules only: dht-scrape itself has no runtime dependencies.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bench = fileURLToPath(new URL('.', import.meta.url));
const lock = new URL('./package-lock.json', import.meta.url);
const installed = new URL('./node_modules/.package-lock.json', import.meta.url);

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error('bench: installing the comparison libraries into bench/node_modules (npm ci)...');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: bench, stdio: 'inherit', shell: process.platform === 'win32' });
}
