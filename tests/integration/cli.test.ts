/**
 * The CLI as a user runs it: the built bin/dht-scrape.js in a child process (`npm test` builds
 * first). Loopback only: every run uses --testnet or a 127.x bootstrap, and never the state file.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { DhtNode } from '../../src/dht/node.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { idFromHex } from '../../src/wire/id.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

function run(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: undefined } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr, ms: Date.now() - started }); });
  });
}

const HASH = '0123456789abcdef0123456789abcdef01234567';

describe('dht-scrape <infohash> (scraper mode)', () => {
  it('exits 3 within its timeout when no bootstrap node answers, and suggests --testnet', async () => {
    const r = await run([HASH, '--bootstrap', '127.0.0.1:9', '--timeout', '4', '--no-state', '--port', '0', '--bind', '127.0.0.1']);
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(4_000 + 2_500);
    expect(r.stderr).toMatch(/none of 1 bootstrap node\(s\) answered/);
    expect(r.stderr).toContain('--testnet');
    expect(r.stdout).toBe('');
  });

  it('--json counts the queries that nobody answered: the silent router was asked, not "0 queries"', async () => {
    const r = await run([HASH, '--bootstrap', '127.0.0.1:9', '--timeout', '3', '--no-state', '--port', '0', '--bind', '127.0.0.1', '--json']);
    expect(r.code).toBe(3);
    const { stats } = JSON.parse(r.stdout) as { stats: { queries: number; responses: number; bootstrap_answered: number } };
    // The router's get_peers, asked again at its soft timeouts while nothing answers (docs/lookup.md).
    expect(stats.queries).toBeGreaterThanOrEqual(1);
    expect(stats.responses).toBe(0);
    expect(stats.bootstrap_answered).toBe(0);
  });

  it('reports how long it waited, not the --timeout it was given', async () => {
    const r = await run([HASH, '--bootstrap', '127.0.0.1:9', '--no-state', '--port', '0', '--bind', '127.0.0.1']);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain('within 30 s');
    const waited = Number(/gave up after ([\d.]+) s/.exec(r.stderr)?.[1]);
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThanOrEqual(r.ms / 1000);
  });

  it('--timeout 0 is refused for a scrape (it means "until stopped", a crawl\'s), exit 2', async () => {
    const r = await run([HASH, '--testnet', '20', '--timeout', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--timeout 0');
  });

  it('finds the peers of a local-network torrent and prints one ip:port a line', async () => {
    const r = await run(['--testnet', '60', '--timeout', '20']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(10);
    for (const line of lines) expect(line).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
    expect(r.stderr).toMatch(/10 peers for [0-9a-f]{40}/);
    // stderr is a pipe here: plain text, no escape codes.
    expect(r.stderr).not.toContain('\x1b');
  });

  it('--json prints one document with the peers and the lookup stats', async () => {
    const r = await run(['--testnet', '60', '--json', '--timeout', '20']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { infohash: string; peers: { address: string; port: number; seen_by: number }[]; stats: Record<string, number | null> };
    expect(doc.infohash).toMatch(/^[0-9a-f]{40}$/);
    expect(doc.peers.length).toBe(10);
    for (const p of doc.peers) expect(p.seen_by).toBeGreaterThanOrEqual(1);
    for (const key of ['queries', 'responses', 'timeouts', 'nodes_contacted', 'time_to_first_peer_ms', 'duration_ms']) {
      expect(doc.stats).toHaveProperty(key);
    }
    expect(doc.stats.responses).toBeGreaterThan(0);
    expect(doc.stats.queries).toBeGreaterThanOrEqual(doc.stats.responses!);
    // Times from the command's start include the lookup's own; the join alongside is reported.
    const stats = doc.stats as Record<string, number> & { join: Record<string, number | boolean> };
    expect(stats.duration_ms).toBeGreaterThanOrEqual(stats.lookup_duration_ms!);
    expect(stats.time_to_first_peer_ms).toBeGreaterThanOrEqual(stats.lookup_time_to_first_peer_ms!);
    expect(stats.join).toMatchObject({ routers_answered: expect.any(Number), ms: expect.any(Number), packets: expect.any(Number) });
  });

  it('exits 1 when the lookup finishes without peers', async () => {
    const r = await run([HASH, '--testnet', '40', '--timeout', '20']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/0 peers for 0123456789abcdef/);
  });

  it('takes a free port when the asked one is taken, and says so', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', resolve));
    const taken = blocker.address().port;
    try {
      const r = await run(['--testnet', '30', '--bind', '127.0.0.1', '--port', String(taken), '--timeout', '20']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`Port ${taken} is taken; using port`);
    } finally {
      blocker.close();
    }
  });
});

describe('a short --timeout on a slow network (issue 13, item 3)', () => {
  // One node whose every reply leaves 2 s late (a slow link), holding the torrent's 3 peers. A
  // --timeout of 5 s leaves time for its answer, but not if half of it goes to joining alone.
  const DELAY_MS = 2_000;
  let slow: DhtNode;
  beforeAll(async () => {
    slow = await DhtNode.create({ address: '127.0.0.1', port: 0, faults: { latencyMs: [DELAY_MS, DELAY_MS] }, sourceLimit: false });
    for (let i = 1; i <= 3; i++) slow.peers.announce(idFromHex(HASH), { address: `127.0.3.${i}`, port: 6881 }, false);
  });
  afterAll(async () => { await slow?.close(); });

  it('a node that answered is no network error: its peers are printed, exit 0', async () => {
    const r = await run([HASH, '--bootstrap', formatEndpoint(slow.local), '--timeout', '5', '--no-state', '--port', '0', '--bind', '127.0.0.1', '--json']);
    expect(r.stderr).not.toContain('network error');
    expect(r.code).toBe(EXIT.peersFound);
    const report = JSON.parse(r.stdout) as { peers: { address: string }[]; stats: { responses: number; bootstrap_answered: number } };
    expect(report.peers.map((p) => p.address).sort()).toEqual(['127.0.3.1', '127.0.3.2', '127.0.3.3']);
    expect(report.stats.bootstrap_answered).toBe(1);
  });

  it('a --timeout shorter than the node\'s delay is a network error that names the --timeout', async () => {
    const r = await run([HASH, '--bootstrap', formatEndpoint(slow.local), '--timeout', '1', '--no-state', '--port', '0', '--bind', '127.0.0.1']);
    expect(r.code).toBe(EXIT.network);
    expect(r.stderr).toMatch(/--timeout 1 s ran out/);
  });

  it('many torrents (scrape --from): the slow node\'s peers are found', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-scrape-slow-'));
    try {
      const list = join(dir, 'hashes.txt');
      await writeFile(list, `${HASH}\n`);
      const r = await run(['scrape', '--from', list, '--bootstrap', formatEndpoint(slow.local), '--timeout', '5', '--no-state', '--port', '0', '--bind', '127.0.0.1']);
      expect(r.stderr).not.toContain('network error');
      expect(r.code).toBe(EXIT.peersFound);
      const line = JSON.parse(r.stdout.trim()) as { peers: unknown[] };
      expect(line.peers).toHaveLength(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Last: a crawler is no read-only node, so the slow node keeps it in its table afterwards.
  it('a crawl joins through it with --timeout 4 (its join waits 3 s for a router, not half of 4), exit 0', async () => {
    const r = await run(['crawl', '--bootstrap', formatEndpoint(slow.local), '--timeout', '4', '--no-state', '--port', '0', '--bind', '127.0.0.1']);
    expect(r.stderr).not.toContain('network error');
    expect(r.code).toBe(EXIT.peersFound);
  });
});

describe('the state file', () => {
  let net: Testnet;
  let dir: string;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 60, torrents: 1, peers: 5 });
    dir = await mkdtemp(join(tmpdir(), 'dht-scrape-state-'));
  });
  afterAll(async () => {
    await net.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('remembers good nodes, so the next start works while the bootstrap router is down', async () => {
    const state = join(dir, 'state.json');
    const hash = Buffer.from(net.torrents[0]!.infoHash).toString('hex');
    const first = await run([hash, '--bootstrap', net.describe().bootstrap[0]!, '--state', state, '--bind', '127.0.0.1', '--port', '0']);
    expect(first.code).toBe(0);
    const saved = JSON.parse(await readFile(state, 'utf8')) as { id: string; networks: Record<string, { nodes: { address: string }[] }> };
    expect(saved.networks[`bootstrap ${net.describe().bootstrap[0]!}`]!.nodes.length).toBeGreaterThan(5);
    // The network's bootstrap node goes down: the saved nodes of this network are enough to join it.
    await net.nodes[0]!.close();
    const second = await run([hash, '--bootstrap', net.describe().bootstrap[0]!, '--state', state, '--bind', '127.0.0.1', '--port', '0', '--json']);
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { peers: unknown[] }).peers).toHaveLength(5);
    // The node kept its identity across runs.
    expect((JSON.parse(await readFile(state, 'utf8')) as { id: string }).id).toBe(saved.id);
  });

  it('--no-state neither reads nor writes the file', async () => {
    const state = join(dir, 'untouched.json');
    const r = await run([Buffer.from(net.torrents[0]!.infoHash).toString('hex'), '--bootstrap', net.describe().bootstrap[1]!, '--state', state, '--no-state', '--bind', '127.0.0.1', '--port', '0']);
    expect(r.code).toBe(0);
    await expect(readFile(state, 'utf8')).rejects.toThrow();
  });
});

describe('usage', () => {
  it.each([
    [['not-a-hash'], /40 hex|base32|magnet/i],
    [['--port', 'x'], /--port must be/],
    [['--frobnicate'], /Unknown option/i],
    [[HASH, '--output', 'x.ndjson'], /crawler option/],
    [['--testnet', '10', '--bootstrap', '127.0.0.1:1'], /cannot be combined/],
  ])('%j exits 2 with one clear line', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  // Issue 13 item 13: 1 means "the lookup ran and found no peer", nothing else. These failures
  // exited 1 on the code the issue was filed against.
  it.each([
    [[HASH, '--bind', 'nonsense', '--no-state'], EXIT.usage, /--bind needs an IP address/],
    [['crawl', '--testnet', '20', '--output', '/dev/full', '--timeout', '20', '--no-state'], EXIT.notWritten, /could not be written \(ENOSPC/],
  ])('a failure is not "no peers": %j exits with its own code', async (args, code, message) => {
    const r = await run(args);
    expect(r.code, r.stderr).not.toBe(EXIT.noPeers);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  }, 60_000);

  it('--help lists the options and exit codes; --version prints the version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const option of ['--bootstrap', '--port', '--bind', '--timeout', '--json', '--announce', '--testnet', 'Exit codes']) {
      expect(help.stdout).toContain(option);
    }
    // Every exit code, each its own meaning: failures never share 1 ("no peers") with an empty swarm.
    for (const [name, code] of Object.entries(EXIT)) {
      expect(help.stdout, name).toMatch(new RegExp(`^ +${code}  \\S`, 'm'));
    }
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
    const version = await run(['--version']);
    expect(version.stdout).toMatch(/^dht-scrape \d+\.\d+\.\d+/);
  });
});
