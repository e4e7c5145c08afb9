/**
 * Every examples/*.ts runs as a user would run it (compiled, in its own process), ends by itself
 * and exits 0. Each prints a fact the test can check against what it did.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, compileExamples, type CompiledExamples } from './helpers/compile-examples.js';

const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const TIMEOUT_MS = 60_000;

interface Run { code: number | null; stdout: string; stderr: string }

function runNode(script: string, args: readonly string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: ROOT, timeout: TIMEOUT_MS, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('examples/', () => {
  let compiled: CompiledExamples;
  let scratch: string;
  const runs = new Map<string, Promise<Run>>();
  beforeAll(async () => {
    compiled = await compileExamples();
    scratch = await mkdtemp(join(tmpdir(), 'dht-scrape-example-out-'));
  }, 120_000);
  afterAll(async () => {
    await compiled?.remove();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  /** Each example once; the checks below share its output. */
  function run(name: string, args: readonly string[] = []): Promise<Run> {
    let r = runs.get(name);
    if (r === undefined) runs.set(name, (r = runNode(compiled.script(name), args)));
    return r;
  }

  it('has the five advertised examples', () => {
    expect(EXAMPLES).toEqual(expect.arrayContaining(['announce', 'crawl-to-file', 'decode-packet', 'find-peers', 'local-network']));
  });

  it.each(EXAMPLES)('%s exits 0', async (name) => {
    const args = name === 'crawl-to-file' ? [join(scratch, 'crawl.ndjson')] : [];
    const { code, stderr } = await run(name, args);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, TIMEOUT_MS + 5_000);

  it('find-peers: the lookup converges and reports the peers it printed', async () => {
    const { stdout } = await run('find-peers');
    const peers = stdout.split('\n').filter((l) => l.trim().startsWith('peer '));
    const done = /done: (\d+) peer values in (\d+) queries, \d+ ms \((\w+)\)/.exec(stdout);
    expect(done).not.toBeNull();
    expect(Number(done![1])).toBe(peers.length);
    expect(peers.length).toBeGreaterThan(0);
  });

  it('announce: the leecher finds the port the seeder announced', async () => {
    expect((await run('announce')).stdout).toMatch(/the leecher found 127\.0\.0\.1:51413 /);
  });

  it('crawl-to-file: the file holds one complete NDJSON line per distinct info-hash', async () => {
    const file = join(scratch, 'crawl.ndjson');
    const { stdout } = await run('crawl-to-file', [file]);
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
    const records = lines.map((l) => JSON.parse(l) as { infohash: string; source: string });
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.infohash)).size).toBe(records.length);
    for (const r of records) expect(r.infohash).toMatch(/^[0-9a-f]{40}$/);
    expect(stdout).toContain(`${records.length} info-hashes in`);
  });

  it('decode-packet: decodes its hex argument, and fails on a broken one', async () => {
    const sample = await run('decode-packet');
    const hex = /^hex: ([0-9a-f]+)$/m.exec(sample.stdout)![1]!;
    const mine = await runNode(compiled.script('decode-packet'), [hex]);
    expect(mine.code).toBe(0);
    expect(mine.stdout).toMatch(/response from [0-9a-f]{40}: id, nodes, token, values; 1 nodes, 1 peers/);
    const broken = await runNode(compiled.script('decode-packet'), [hex.slice(0, -2)]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('invalid: undecodable packet');
  }, TIMEOUT_MS);
});
