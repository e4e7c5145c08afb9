/** The built CLI (bin/dht-scrape.js; `npm test` builds first) run in a child process by tests. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

export interface CliRun { code: number | null; stdout: string; stderr: string; ms: number }

/** Run `dht-scrape args`, killed if it outlives its own --timeout by far; `env` is added to the environment. */
export function runCli(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: dht-scrape ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
  });
}
