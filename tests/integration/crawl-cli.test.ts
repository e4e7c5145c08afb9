/**
 * `dht-scrape crawl` as a user runs it: the built bin/dht-scrape.js in a child process (`npm test`
 * builds first). Loopback only: --testnet, or --bootstrap to a local network started here, and
 * never the state file.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCrawlLine } from '../../src/crawl/crawl-log.js';
import { idToHex } from '../../src/wire/id.js';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';

const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

interface Finished { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

interface Cli {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  /** Resolves once stdout holds at least `n` lines. */
  lines(n: number): Promise<void>;
  done: Promise<Finished>;
}

const children = new Set<Cli['child']>();

function cli(args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: { n: number; resolve: () => void }[] = [];
  const count = (): number => stdout.split('\n').length - 1;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters.splice(0)) if (count() >= w.n) w.resolve(); else waiters.push(w);
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<Finished>((resolve, reject) => {
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      children.delete(child);
      for (const w of waiters.splice(0)) w.resolve();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    lines: (n) => new Promise<void>((resolve) => { if (count() >= n) resolve(); else waiters.push({ n, resolve }); }),
    done,
  };
}

/** Resolves once the file exists with some content (fs.watch on its directory: no polling). */
function fileHasContent(path: string, dir: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => { try { return statSync(path).size > 0; } catch { return false; } };
    if (check()) return resolve();
    const watcher = watch(dir, () => { if (check()) { watcher.close(); resolve(); } });
    if (check()) { watcher.close(); resolve(); }
  });
}

/** Every line of a log file, each required to be a complete crawl line; and the file ends with a newline. */
function readLog(path: string): { hashes: string[]; raw: string[] } {
  const text = readFileSync(path, 'utf8');
  if (text.length > 0) expect(text.endsWith('\n')).toBe(true);
  const raw = text.split('\n').filter((l) => l !== '');
  const hashes = raw.map((line) => {
    const record = parseCrawlLine(line);
    expect(record, line).toBeDefined();
    return idToHex(record!.infoHash);
  });
  return { hashes, raw };
}

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'crawl-cli-')); });
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('dht-scrape crawl: stopping', () => {
  it('Ctrl+C mid-crawl exits 0 with a file of whole NDJSON lines and the summary', async () => {
    const file = join(dir, 'crawl.ndjson');
    const run = cli(['crawl', '--testnet', '300', '--output', file, '--no-state', '--json', '--timeout', '120']);
    await run.lines(200);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(0);
    const { hashes, raw } = readLog(file);
    expect(hashes.length).toBeGreaterThanOrEqual(200);
    expect(new Set(hashes).size).toBe(hashes.length);
    // --json put the very same lines on stdout.
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(raw);
    expect(r.stderr).toContain('Stopping...');
    expect(r.stderr).toMatch(new RegExp(`${hashes.length.toLocaleString('en-US')} info_hashes \\(.*\\) in [\\d.]+ s \\(aborted\\)`));
    expect(r.stderr).toMatch(/queries sent: [\d,]+ \(.*sample_infohashes/);
    expect(r.stderr).toContain('Top 10 by distinct sources:');
  }, 60_000);

  it('even a SIGKILL leaves only whole lines in the file', async () => {
    const file = join(dir, 'crawl.ndjson');
    const run = cli(['crawl', '--testnet', '100', '--output', file, '--no-state', '--timeout', '120']);
    await fileHasContent(file, dir);
    run.child.kill('SIGKILL');
    const r = await run.done;
    expect(r.signal).toBe('SIGKILL');
    expect(readLog(file).hashes.length).toBeGreaterThan(0);
  }, 60_000);

  it('stops by itself at --timeout, with --top lists; past --max-infohashes new ones are counted, not kept', async () => {
    const file = join(dir, 'crawl.ndjson');
    const r = await cli(['crawl', '--testnet', '60', '--timeout', '5', '--top', '3', '--max-infohashes', '100', '--output', file, '--no-state']).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/100 info_hashes \(100 new\) in [\d.]+ s \(timeout\)/);
    expect(r.stderr).toContain('the info_hash table is full (100)');
    expect(r.stderr).toMatch(/table full: [1-9][\d,]* new info_hashes dropped \(cap 100\)/);
    expect(readLog(file).hashes).toHaveLength(100);
    expect(r.stderr).toMatch(/local network: found [\d,]+ of its 420 torrents/);
    const top = r.stderr.split('Top 3 by distinct sources:\n')[1]!.split('\n').filter((l) => /^ {2}[0-9a-f]{40} /.test(l));
    expect(top).toHaveLength(3);
    expect(r.stderr).not.toContain('\x1b');
  }, 40_000);

  it('exits 3 when no bootstrap node answers, and suggests --testnet', async () => {
    const r = await cli(['crawl', '--bootstrap', '127.0.0.1:9', '--timeout', '3', '--no-state', '--port', '0', '--bind', '127.0.0.1']).done;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/none of 1 bootstrap node\(s\) answered/);
    expect(r.stderr).toContain('--testnet');
    expect(r.stdout).toBe('');
  }, 30_000);
});

describe('dht-scrape crawl: SIGHUP (the terminal closed)', () => {
  let net: Testnet;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 60, torrents: 300, peers: 2, node: { sampleIntervalSeconds: 2 } });
  }, 30_000);
  afterAll(async () => { await net?.close(); });

  it('stops like SIGTERM: whole lines kept, the summary printed, the state saved, exit 0', async () => {
    const file = join(dir, 'crawl.ndjson');
    const state = join(dir, 'state.json');
    const run = cli(['crawl', '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--state', state, '--port', '0', '--bind', '127.0.0.1',
      '--output', file, '--json', '--timeout', '60'], 60_000, { XDG_CACHE_HOME: join(dir, 'cache'), HOME: dir });
    await run.lines(20);
    run.child.kill('SIGHUP');
    const r = await run.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/info_hashes \(.*\) in [\d.]+ s \(aborted\)/);
    expect(readLog(file).hashes.length).toBeGreaterThanOrEqual(20);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { networks: Record<string, { nodes: unknown[] }> };
    expect(saved.networks[`bootstrap ${formatEndpoint(net.bootstrap[0]!)}`]!.nodes.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('dht-scrape crawl: a write that fails', () => {
  it('--output /dev/full: the first failed write stops the crawl at once, says so, exits 4', async () => {
    const r = await cli(['crawl', '--testnet', '100', '--output', '/dev/full', '--no-state', '--timeout', '60']).done;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot write \/dev\/full: ENOSPC.*stopping the crawl/);
    // Stopped at the failure, not at the timeout, and the failure came before the summary.
    expect(r.stderr).toMatch(/info_hashes \(.*\) in [\d.]+ s \(aborted\)/);
    expect(r.stderr.indexOf('cannot write')).toBeLessThan(r.stderr.indexOf('info_hashes ('));
  }, 60_000);

  it('a file that cannot grow (ulimit -f) keeps every whole line written before the failure', async () => {
    const file = join(dir, 'crawl.ndjson');
    // RLIMIT_FSIZE of 16 blocks: writes past it fail with EFBIG (Node ignores SIGXFSZ).
    const child = spawn('/bin/sh', ['-c', 'ulimit -f 16 && exec "$0" "$@"', process.execPath, BIN,
      'crawl', '--testnet', '100', '--output', file, '--no-state', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    children.delete(child);
    expect(code).toBe(4);
    expect(stderr).toMatch(/cannot write .*EFBIG/);
    const { hashes } = readLog(file);
    expect(hashes.length).toBeGreaterThan(10);
  }, 60_000);
});

describe('dht-scrape crawl: a log file it cannot use', () => {
  it('exits 2 before touching the network, naming the file', async () => {
    const file = join(dir, 'missing-dir', 'crawl.ndjson');
    const r = await cli(['crawl', '--bootstrap', '127.0.0.1:9', '--output', file, '--no-state', '--port', '0', '--bind', '127.0.0.1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not exist');
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toContain('bootstrap');
  }, 30_000);
});

describe('dht-scrape crawl --resume: a file that is not a crawl log', () => {
  it.each([
    ['100 kB of random bytes', (): Buffer => randomBytes(100_000)],
    ['more invalid lines than valid ones', (): Buffer => Buffer.from(
      `${'{"infohash":"0123456789abcdef0123456789abcdef01234567","first_seen":"2024-01-01T00:00:00.000Z","source":"sample","from":"127.0.0.1:1"}'}\nname,size\nubuntu.iso,4\n`)],
  ])('%s: refused with exit 2, the file untouched', async (_name, content) => {
    const file = join(dir, 'data.bin');
    const bytes = content();
    writeFileSync(file, bytes);
    const r = await cli(['crawl', '--bootstrap', '127.0.0.1:9', '--timeout', '2', '--resume', file, '--no-state', '--port', '0', '--bind', '127.0.0.1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a crawl log');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  }, 30_000);
});

describe('dht-scrape crawl --output: a file that is there already (never written over unless ours)', () => {
  it.each([
    ['a text file', (): Buffer => Buffer.from('my notes\nline two\n')],
    ['100 kB of random bytes', (): Buffer => randomBytes(100_000)],
  ])('%s: refused with one line, exit 2, the file untouched', async (_name, content) => {
    const file = join(dir, 'notes.txt');
    const bytes = content();
    writeFileSync(file, bytes);
    const r = await cli(['crawl', '--bootstrap', '127.0.0.1:9', '--timeout', '2', '--output', file, '--no-state', '--port', '0', '--bind', '127.0.0.1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--output ${file}: the file exists and is not a crawl log`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  }, 30_000);

  it('a directory: refused with one line, exit 2', async () => {
    const r = await cli(['crawl', '--bootstrap', '127.0.0.1:9', '--timeout', '2', '--output', dir, '--no-state', '--port', '0', '--bind', '127.0.0.1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`dht-scrape: --output ${dir}: is a directory (give a file name)`]);
  }, 30_000);
});

describe('dht-scrape crawl --resume', () => {
  let net: Testnet;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 100, torrents: 700, peers: 2, node: { sampleIntervalSeconds: 2 } });
  }, 30_000);
  afterAll(async () => { await net?.close(); });

  it('reloads an earlier output, skips its torn last line, and appends without duplicates', async () => {
    const file = join(dir, 'crawl.ndjson');
    const common = ['crawl', '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--no-state', '--port', '0', '--bind', '127.0.0.1'];
    const first = await cli([...common, '--timeout', '2', '--output', file]).done;
    expect(first.code).toBe(0);
    const earlier = readLog(file);
    expect(earlier.hashes.length).toBeGreaterThan(0);
    // A crash in the middle of a write (not ours: ours are whole lines) leaves a partial line.
    appendFileSync(file, '{"infohash":"0123');

    const second = await cli([...common, '--timeout', '8', '--resume', file, '--json']).done;
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`Resumed ${earlier.hashes.length} info_hashes from ${file} (skipped a torn last line)`);
    const after = readLog(file);
    expect(new Set(after.hashes).size).toBe(after.hashes.length);
    expect(after.raw.slice(0, earlier.raw.length)).toEqual(earlier.raw);
    // --json printed only the new lines.
    expect(second.stdout.split('\n').filter((l) => l !== '')).toEqual(after.raw.slice(earlier.raw.length));
    // The second crawl sampled the whole network again (so it met the resumed hashes) and wrote each once.
    const torrents = new Set(net.torrents.map((t) => idToHex(t.infoHash)));
    expect(after.hashes.filter((h) => torrents.has(h)).length).toBeGreaterThanOrEqual(0.99 * torrents.size);
    expect(second.stderr).toMatch(new RegExp(`\\(${after.hashes.length - earlier.hashes.length} new, ${earlier.hashes.length} resumed\\)`));
  }, 60_000);

  it('--output to an earlier crawl log of ours appends to it (its lines kept), and says so', async () => {
    const file = join(dir, 'crawl.ndjson');
    const common = ['crawl', '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--no-state', '--port', '0', '--bind', '127.0.0.1'];
    expect((await cli([...common, '--timeout', '2', '--output', file]).done).code).toBe(0);
    const earlier = readLog(file);
    const second = await cli([...common, '--timeout', '2', '--output', file]).done;
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`Appending to ${file} (${earlier.raw.length} lines already`);
    const after = readLog(file);
    expect(after.raw.slice(0, earlier.raw.length)).toEqual(earlier.raw);
    expect(after.raw.length).toBeGreaterThan(earlier.raw.length);
  }, 60_000);

  it('keeps a whole last line that lacks only its newline, and adds the newline', async () => {
    const file = join(dir, 'crawl.ndjson');
    const common = ['crawl', '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--no-state', '--port', '0', '--bind', '127.0.0.1'];
    expect((await cli([...common, '--timeout', '2', '--output', file]).done).code).toBe(0);
    const earlier = readLog(file);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n$/, ''));
    const second = await cli([...common, '--timeout', '2', '--resume', file]).done;
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`Resumed ${earlier.hashes.length} info_hashes from ${file}\n`);
    expect(readLog(file).raw.slice(0, earlier.raw.length)).toEqual(earlier.raw);
  }, 60_000);
});
