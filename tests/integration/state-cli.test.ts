/**
 * The state file as a user meets it, through the built CLI in a child process: kept per network,
 * and never written over anything that is not ours. Every run passes --state in a temp dir and a
 * temp XDG_CACHE_HOME, so the user's real state is never read or written; loopback only.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { openSession } from '../../src/cli/session.js';
import { commonOptions, quietOutput } from '../helpers/session.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
const env = (): NodeJS.ProcessEnv => ({ XDG_CACHE_HOME: join(dir, 'cache'), HOME: dir, NO_COLOR: '1' });
const LOCAL = ['--bind', '127.0.0.1', '--port', '0'];

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dht-scrape-state-cli-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

interface StateDoc { format: string; id: string; id6?: string; networks: Record<string, { nodes: { address: string; port: number }[] }> }

describe('state is kept per network', () => {
  let a: Testnet;
  let b: Testnet;
  beforeAll(async () => {
    [a, b] = await Promise.all([Testnet.start({ nodes: 40, torrents: 1, peers: 5 }), Testnet.start({ nodes: 40, torrents: 1, peers: 7 })]);
  }, 30_000);
  afterAll(async () => { await Promise.all([a?.close(), b?.close()]); });

  it("a run on network B never starts from A's nodes, and each network's nodes are saved under its own name", async () => {
    const state = join(dir, 'networks.json');
    const hashA = Buffer.from(a.torrents[0]!.infoHash).toString('hex');
    const hashB = Buffer.from(b.torrents[0]!.infoHash).toString('hex');
    const bootA = formatEndpoint(a.bootstrap[0]!);
    const bootB = formatEndpoint(b.bootstrap[0]!);
    const first = await runCli([hashA, '--bootstrap', bootA, '--state', state, ...LOCAL], 30_000, env());
    expect(first.code).toBe(0);
    const second = await runCli([hashB, '--bootstrap', bootB, '--state', state, ...LOCAL, '--json'], 30_000, env());
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { peers: unknown[] }).peers).toHaveLength(7);

    const doc = JSON.parse(readFileSync(state, 'utf8')) as StateDoc;
    expect(doc.format).toBe('dht-scrape-state/2');
    const portsA = new Set(a.nodes.map((n) => n.local.port));
    const portsB = new Set(b.nodes.map((n) => n.local.port));
    const savedA = doc.networks[`bootstrap ${bootA}`]!.nodes;
    const savedB = doc.networks[`bootstrap ${bootB}`]!.nodes;
    expect(savedA.length).toBeGreaterThan(5);
    expect(savedB.length).toBeGreaterThan(5);
    expect(savedA.every((n) => portsA.has(n.port))).toBe(true);
    expect(savedB.every((n) => portsB.has(n.port))).toBe(true);
    // Loopback nodes never enter the public DHT's list.
    expect(doc.networks.public?.nodes ?? []).toEqual([]);

  }, 60_000);

  it("an old state file's loopback nodes are not used for another network", async () => {
    const state = join(dir, 'legacy.json');
    // The format before networks were kept apart: one list, here full of network A's nodes.
    writeFileSync(state, JSON.stringify({
      id: '11'.repeat(20),
      nodes: a.nodes.slice(0, 30).map((n) => ({ id: Buffer.from(n.id).toString('hex'), address: n.local.address, port: n.local.port })),
      saved: new Date().toISOString(),
    }));
    const hashA = Buffer.from(a.torrents[0]!.infoHash).toString('hex');
    // Joining network B, which does not hold A's torrent: with A's nodes as seeds it would find A's peers.
    const r = await runCli([hashA, '--bootstrap', formatEndpoint(b.bootstrap[0]!), '--state', state, ...LOCAL, '--json', '--timeout', '10'], 30_000, env());
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { peers: unknown[] }).peers).toEqual([]);
    // The file was ours (the old shape), so it was rewritten in the new one, the node's ID kept.
    const doc = JSON.parse(readFileSync(state, 'utf8')) as StateDoc;
    expect(doc.format).toBe('dht-scrape-state/2');
    expect(doc.id).toBe('11'.repeat(20));
    expect(doc.networks.public?.nodes ?? []).toEqual([]);
  }, 40_000);
});

describe('a dual-stack run keeps both families (BEP 32)', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 40, torrents: 1, peers: 4, dualStack: true, seed: 9 }); }, 30_000);
  afterAll(async () => { await net?.close(); });

  it("saves the IPv6 node's contacts and ID beside the IPv4 node's, and the next run's IPv6 node starts from them", async () => {
    const state = join(dir, 'dual.json');
    const hash = Buffer.from(net.torrents[0]!.infoHash).toString('hex');
    const both = ['--bootstrap', formatEndpoint(net.bootstrap[0]!), '--bootstrap', formatEndpoint(net.ipv6!.bootstrap[0]!), '--state', state, '--port', '0'];
    const first = await runCli([hash, ...both, '--json'], 40_000, env());
    expect(first.code).toBe(0);
    expect((JSON.parse(first.stdout) as { peers: unknown[] }).peers).toHaveLength(8);

    const doc = JSON.parse(readFileSync(state, 'utf8')) as StateDoc;
    expect(doc.format).toBe('dht-scrape-state/2');
    const [network, ...others] = Object.keys(doc.networks);
    expect(others).toEqual([]);
    const saved = doc.networks[network!]!.nodes;
    const saved4 = saved.filter((n) => !n.address.includes(':'));
    const saved6 = saved.filter((n) => n.address.includes(':'));
    const ports6 = new Set(net.ipv6!.nodes.map((n) => n.local.port));
    expect(saved4.length).toBeGreaterThan(5);
    // Every IPv6 node here shares ::1, and a CLI node on :: keeps one contact per address in its
    // table (BEP 42's per-IP rule; testnets lift it for their own nodes only): so one or a few.
    expect(saved6.length).toBeGreaterThan(0);
    expect(saved6.every((n) => n.address === '::1' && ports6.has(n.port))).toBe(true);
    // IPv4 first: a version that reads only the first 200 nodes (and uses only IPv4 ones) loses nothing.
    expect(saved.indexOf(saved6[0]!)).toBe(saved4.length);
    expect(doc.id6).toMatch(/^[0-9a-f]{40}$/);

    // The next run (same network): its IPv6 node takes the saved ID and joins through the saved nodes first.
    const common = commonOptions([hash, ...both]);
    const session = await openSession(common, quietOutput(), { bothFamilies: true });
    try {
      expect(session.node6).toBeDefined();
      expect(Buffer.from(session.node6!.id).toString('hex')).toBe(doc.id6);
      expect(Buffer.from(session.node.id).toString('hex')).toBe(doc.id);
      const first6 = saved6.slice(0, 32).map(({ address, port }) => ({ address, port }));
      expect(session.bootstrap6.slice(0, first6.length)).toEqual(first6);
      expect(session.bootstrap6.at(-1)).toEqual(net.ipv6!.bootstrap[0]);
    } finally {
      await session.close();
    }
  }, 60_000);
});

describe('--state never replaces what is not ours', () => {
  // A network that answers, so that a run that did not refuse would save its nodes over the file.
  let net: Testnet;
  let target: string[];
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 20, torrents: 1, peers: 3 });
    target = [Buffer.from(net.torrents[0]!.infoHash).toString('hex'), '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--timeout', '5', ...LOCAL];
  }, 30_000);
  afterAll(async () => { await net?.close(); });

  it('a file that is not a state file (a crawl log) is refused with one line, exit 2, untouched', async () => {
    const file = join(dir, 'mycrawl.ndjson');
    const log = '{"infohash":"0123456789abcdef0123456789abcdef01234567","first_seen":"2024-01-01T00:00:00.000Z","source":"sample","from":"127.0.0.1:1"}\n';
    writeFileSync(file, log);
    const r = await runCli([...target, '--state', file], 20_000, env());
    expect(readFileSync(file, 'utf8')).toBe(log);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not a dht-scrape state file');
  });

  it('a directory is refused, and no *.tmp is left behind', async () => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const r = await runCli([...target, '--state', folder], 20_000, env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a directory');
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('a file that is not a regular file (a FIFO, as /dev/null is a device) is refused and stays what it was', async () => {
    const fifo = join(dir, 'pipe.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = await runCli([...target, '--state', fifo], 20_000, env());
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not a regular file');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('a symbolic link is refused and stays a link', async () => {
    const real = join(dir, 'real.txt');
    const link = join(dir, 'link.json');
    writeFileSync(real, 'precious\n');
    symlinkSync(real, link);
    const r = await runCli([...target, '--state', link], 20_000, env());
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(real, 'utf8')).toBe('precious\n');
  });
});
