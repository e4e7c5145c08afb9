/** The built CLI (bin/dht-scrape.js; `npm test` builds first) run in a child process by tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

export interface CliRun { code: number | null; stdout: string; stderr: string; ms: number }

/** `node bin/dht-scrape.js args`, behind `prefix` (e.g. `ip netns exec NS`, which execs what follows). */
function spawnCli(args: string[], prefix: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { stdout: Readable; stderr: Readable } {
  const [command, ...rest] = [...prefix, process.execPath, BIN, ...args];
  return spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/**
 * Run `dht-scrape args`, killed if it outlives its own --timeout by far; `env` is added to the
 * environment; `prefix` runs it through another command (`ip netns exec NS` runs it in a namespace).
 */
export function runCli(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}, prefix: readonly string[] = []): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawnCli(args, prefix, env);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: dht-scrape ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** The first --json stdout line (seen already or still to come) that matches. */
  line(match: (line: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  done: Promise<CliRun>;
}

/** A long-running CLI (the crawler), read line by line as it prints; `prefix` as for runCli. */
export function startCli(args: string[], timeoutMs = 60_000, prefix: readonly string[] = []): CliProcess {
  const started = Date.now();
  const child = spawnCli(args, prefix);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stdout = '';
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (text) => {
    stdout += `${text}\n`;
    try { lines.push(JSON.parse(text) as Record<string, unknown>); } catch { return; }
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<CliRun>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      for (const wake of waiters) wake();
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
  let exited = false;
  void done.then(() => { exited = true; });
  return {
    child,
    done,
    line: (match, ms, what) => new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(match);
        if (found !== undefined) { finish(); resolve(found); } else if (exited) { finish(); reject(new Error(`waiting for ${what}: the CLI exited\n${stderr}`)); }
      };
      const timer = setTimeout(() => { finish(); reject(new Error(`waiting for ${what}: nothing within ${ms} ms\nstdout:\n${stdout.slice(-2_000)}\nstderr:\n${stderr}`)); }, ms);
      const finish = (): void => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
  };
}

/** A UDP port free right now on `address` (each party here has its own address, so nobody races for it). */
export async function freeUdpPort(address: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, address, resolve); });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

