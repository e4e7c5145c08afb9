/**
 * `--scrape`, `--metadata`, `--save-torrent` and `--probe` as a user runs them: the built
 * bin/dht-scrape.js in a child process (`npm test` builds first), on the local network only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';

const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
}

function run(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = start(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr }); });
  });
}

/** SHA-1 of the `info` value of a .torrent we wrote (it is the last key, spliced in verbatim). */
function infoHashOfTorrent(bytes: Buffer): string {
  const start = bytes.indexOf('4:info') + 6;
  return createHash('sha1').update(bytes.subarray(start, bytes.length - 1)).digest('hex');
}

interface SwarmDoc {
  infohash: string;
  peers: unknown[];
  swarm: { seeds: number; leechers: number; responders: number; saturated: boolean };
  metadata: { name: string; total_size: number; pieces: number; files: { path: string; length: number }[]; from: string } | null;
  metadata_attempts: { peer: string; outcome: string; reason?: string }[];
  torrent_file?: string;
  torrent_file_error?: string;
  probe: { peers: { reachable: boolean; completion: number | null; seed: boolean | null; reason?: string }[]; totals: Record<string, unknown> };
}

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dht-scrape-swarm-cli-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('dht-scrape <infohash> --scrape --metadata --probe', () => {
  it('--json: the estimate, the verified metadata, the saved .torrent and the probe, as new fields', async () => {
    const file = join(dir, 'local.torrent');
    const r = await run(['--testnet', '60', '--scrape', '--metadata', '--probe', '--save-torrent', file, '--json', '--timeout', '20']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as SwarmDoc;
    // The local network's torrents have 10 peers, every 3rd a seed: 4 seeds, 6 leechers.
    expect(Math.abs(doc.swarm.seeds - 4)).toBeLessThanOrEqual(1);
    expect(Math.abs(doc.swarm.leechers - 6)).toBeLessThanOrEqual(1);
    expect(doc.swarm.responders).toBeGreaterThan(0);
    expect(doc.peers.length).toBe(10);

    expect(doc.metadata?.name).toMatch(/^testnet torrent \d /);
    expect(doc.metadata!.files.map((f) => f.path.split('/').at(-1))).toEqual(['video.mkv', 'README.txt']);
    expect(doc.metadata!.total_size).toBe(doc.metadata!.files.reduce((n, f) => n + f.length, 0));
    expect(doc.metadata_attempts.some((a) => a.outcome === 'served')).toBe(true);
    expect(doc.torrent_file).toBe(file);
    expect(infoHashOfTorrent(await readFile(file))).toBe(doc.infohash);

    // 7 of the 10 peers are real seeders (3 seeds at 100%, 4 partial); 3 are dead addresses.
    expect(doc.probe.totals).toMatchObject({ probed: 10, reachable: 7, seeds: 3, leechers: 4, failures: { unreachable: 3 } });
    const completions = doc.probe.peers.filter((p) => p.reachable).map((p) => p.completion!);
    expect(completions.filter((c) => c === 1).length).toBe(3);
    expect(completions.every((c) => c >= 0 && c <= 1)).toBe(true);
  });

  it('for people: one summary block on stderr, peers alone on stdout', async () => {
    const r = await run(['--testnet', '60', '--scrape', '--metadata', '--probe', '--timeout', '20']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').every((line) => /^127\.\d+\.\d+\.\d+:\d+$/.test(line))).toBe(true);
    expect(r.stderr).toMatch(/Swarm: ~\d+ seeds, ~\d+ leechers \(BEP 33 estimate from \d+ nodes?\)/);
    expect(r.stderr).toMatch(/Name: testnet torrent \d/);
    expect(r.stderr).toMatch(/SHA-1 verified/);
    expect(r.stderr).toMatch(/Probe: 7 of 10 peers reachable: 3 seeds, 4 leechers/);
    expect(r.stderr).toMatch(/unreachable: cannot connect: ECONNREFUSED/);
  });

  it('a .torrent path that cannot be written is refused before any work: one line, exit 2', async () => {
    const path = join(dir, 'no', 'such', 'dir', 'x.torrent');
    const r = await run(['--testnet', '40', '--save-torrent', path, '--json', '--timeout', '20']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`dht-scrape: --save-torrent ${path}: the directory ${join(dir, 'no', 'such', 'dir')} does not exist`]);
  });

  it('an existing file is never replaced', async () => {
    const path = join(dir, 'precious.torrent');
    await writeFile(path, 'not ours\n');
    const r = await run(['--testnet', '40', '--save-torrent', path, '--timeout', '20']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the file exists');
    expect(await readFile(path, 'utf8')).toBe('not ours\n');
  });

  it('peers found but no metadata to save: torrent_file_error in --json, exit 4', async () => {
    // A network whose peers are only addresses (nothing listens there): no peer can give the metadata.
    const net = await Testnet.start({ nodes: 30, torrents: 1, peers: 3 });
    try {
      const path = join(dir, 'never.torrent');
      const r = await run([Buffer.from(net.torrents[0]!.infoHash).toString('hex'), '--bootstrap', formatEndpoint(net.bootstrap[0]!),
        '--no-state', '--bind', '127.0.0.1', '--port', '0', '--save-torrent', path, '--json', '--timeout', '10']);
      expect(r.code, r.stderr).toBe(4);
      const doc = JSON.parse(r.stdout) as SwarmDoc;
      expect(doc.peers).toHaveLength(3);
      expect(doc.torrent_file).toBeUndefined();
      expect(doc.torrent_file_error).toMatch(/no peer gave the metadata/);
      await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    } finally {
      await net.close();
    }
  });

  it('usage errors: swarm options need an info-hash, --seeders belongs to testnet', async () => {
    for (const args of [['crawl', '--probe'], ['crawl', '--scrape'], ['--testnet', '30', '--seeders', '2'], ['testnet', '--seeders', 'x'], ['--save-torrent', '', '--testnet', '30']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^dht-scrape: /);
    }
  });
});

describe('dht-scrape testnet --seeders, used by another process', () => {
  let testnet: ChildProcess;
  let described: { bootstrap: string[]; torrents: { infohash: string; peers: string[] }[] };
  beforeAll(async () => {
    testnet = start(['testnet', '--nodes', '40', '--torrents', '2', '--peers', '6', '--seeders', '2', '--ttl', '30', '--json']);
    described = await new Promise((resolve, reject) => {
      let out = '';
      testnet.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as typeof described);
      });
      testnet.once('close', (code) => reject(new Error(`testnet exited with ${code}`)));
    });
  });
  afterAll(async () => {
    if (testnet.exitCode === null) {
      const closed = new Promise((resolve) => testnet.once('close', resolve));
      testnet.kill('SIGTERM');
      await closed;
    }
  });

  it('its seeders serve metadata to a scrape joined through its bootstrap address', async () => {
    const torrent = described.torrents[1]!;
    const r = await run([torrent.infohash, '--bootstrap', described.bootstrap[0]!, '--no-state', '--bind', '127.0.0.1', '--port', '0',
      '--metadata', '--probe', '--json', '--timeout', '15']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as SwarmDoc;
    expect(doc.metadata?.name).toMatch(/^testnet torrent 2 /);
    expect(doc.probe.totals).toMatchObject({ probed: 6, reachable: 2, seeds: 1, leechers: 1 });
  });
});
