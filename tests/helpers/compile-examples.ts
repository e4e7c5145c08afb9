/**
 * Compile examples/ (and the src/ they import) into a fresh temporary directory, so tests run the
 * same JavaScript a user runs, without touching examples/.build, which `npm run demo` writes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface CompiledExamples {
  /** Path of the compiled examples/<name>.js. */
  script(name: string): string;
  remove(): Promise<void>;
}

export async function compileExamples(): Promise<CompiledExamples> {
  const outDir = await mkdtemp(join(tmpdir(), 'dht-scrape-examples-'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', join(ROOT, 'examples', 'tsconfig.json'), '--outDir', outDir, '--incremental', 'false', '--tsBuildInfoFile', 'null'], { cwd: ROOT });
  return {
    script: (name) => join(outDir, 'examples', `${name}.js`),
    remove: () => rm(outDir, { recursive: true, force: true }),
  };
}
