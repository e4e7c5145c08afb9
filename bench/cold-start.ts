/**
 * Cold start (issue 12): what a user runs. One 1,000-node local network in this process (our
 * Testnet, 20-80 ms one-way delay applied to what its nodes send AND receive, so that clients we
 * cannot wrap still cross one delay per direction; then with 10% loss too), and per torrent three
 * FRESH processes, taking turns: `bin/dht-scrape.js <hash> --bootstrap ONE --no-state` (its
 * `--version` start-up time measured and taken off), a new bittorrent-dht node that looks up at
 * once (cold-peer-dht.mjs, timed from its creation), a new libtorrent session asked dht_get_peers
 * at once (cold-libtorrent.py, timed from the session's creation; skipped, loudly, without
 * python3-libtorrent). Each knows only ONE bootstrap node.
 *
 * Then the same on the `internet` preset at 5,000 nodes (issue 16; `--conditions ideal|internet`
 * in run.ts picks one), whose targets go to the summary.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Testnet, formatEndpoint, type Faults, type TestnetTorrent } from '../dist/index.js';
import { heading, median, num, percent, quantile, ratio, table } from './report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}bin/dht-scrape.js`;
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** `ownFirstMs`: the CLI's own clock (`first peer after N ms`, from its command's start), for our client only. */
interface ColdSample { firstMs: number | null; durationMs: number; queries: number; found: number; wanted: number; ownFirstMs?: number | null }
type Client = 'dht-scrape (CLI)' | 'bittorrent-dht' | 'libtorrent';

/**
 * Torrents per network, one fresh run of each client per torrent. The issue asks at least 10; at
 * 10, the medians of the same commit moved by 30-60 ms from run to run (docs/performance.md).
 */
const TORRENTS = 20;

/** One network the cold start runs on: the `ideal` preset with injected faults, or the `internet` preset as it is. */
interface ColdNetwork { preset: 'ideal' | 'internet'; faults: Faults; nodes?: number; seed?: number; torrents: number }
const NETWORKS: readonly ColdNetwork[] = [
  { preset: 'ideal', faults: { latencyMs: [20, 80] }, torrents: TORRENTS },
  { preset: 'ideal', faults: { latencyMs: [20, 80], loss: 0.1 }, torrents: TORRENTS },
  // Issue 16's targets are on this one: 5,000 nodes; its nodes delay and drop what they send
  // (log-normal), no faults added. 10 torrents: past about 8 minutes of fresh clients joining and
  // leaving (bittorrent-dht and libtorrent are not read-only), a few torrents became unfindable for
  // all three clients alike (24-torrent runs of 2026-12-06); 10 take about 4 minutes.
  { preset: 'internet', faults: {}, nodes: 5_000, seed: 1, torrents: 10 },
];

export interface ColdTarget { figure: string; target: string; measured: string; met: boolean }

export async function runColdStartBench(
  options: { torrents?: number; nodes?: number; presets?: readonly ('ideal' | 'internet')[]; log?: (l: string) => void } = {},
): Promise<ColdTarget[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const startup = cliStartupMs();
  const libtorrent = hasLibtorrent();
  if (!libtorrent) log('SKIPPED: libtorrent column: /usr/bin/python3 cannot import libtorrent (apt-get install python3-libtorrent).');
  const clients: Client[] = ['dht-scrape (CLI)', 'bittorrent-dht', ...(libtorrent ? ['libtorrent' as const] : [])];
  const targets: ColdTarget[] = [];
  for (const network of NETWORKS.filter((n) => (options.presets ?? ['ideal', 'internet']).includes(n.preset))) {
    const { faults, preset } = network;
    const nodes = options.nodes ?? network.nodes ?? 1_000;
    const net = await Testnet.start({
      nodes, torrents: options.torrents ?? network.torrents, peers: 10, conditions: preset,
      ...(Object.keys(faults).length > 0 ? { faults: { ...faults, inbound: true } } : {}), ...(network.seed !== undefined ? { seed: network.seed } : {}),
    });
    const bootstrap = formatEndpoint(net.bootstrap[0]!);
    const samples: Record<string, ColdSample[]> = Object.fromEntries(clients.map((c) => [c, []]));
    try {
      for (const [t, torrent] of net.torrents.entries()) {
        for (let k = 0; k < clients.length; k++) {
          const client = clients[(t + k) % clients.length]!;
          const address = `127.201.${t}.${k + 1}`;
          samples[client]!.push(await runClient(client, torrent, bootstrap, address, startup));
        }
      }
    } finally {
      await net.close();
    }
    log(format(faults, samples, clients, startup, nodes, preset));
    if (preset === 'internet') targets.push(...internetTargets(samples, clients, nodes));
  }
  return targets;
}

/** Issue 16's targets, on the internet preset: every lookup finds a peer; first peer <= 1.0x the faster peer; queries <= libtorrent's. */
function internetTargets(samples: Record<string, ColdSample[]>, clients: Client[], nodes: number): ColdTarget[] {
  const ours = samples['dht-scrape (CLI)']!;
  const firstOf = (s: ColdSample[]): number => median(s.filter((x) => x.firstMs !== null).map((x) => x.firstMs!));
  const success = ours.filter((x) => x.found > 0).length / ours.length;
  const fastest = Math.min(...clients.filter((c) => c !== 'dht-scrape (CLI)').map((c) => firstOf(samples[c]!)));
  const where = `internet, ${num(nodes)} nodes`;
  const out: ColdTarget[] = [
    { figure: `cold lookups finding a peer, ${where}`, target: '100%', measured: percent(success), met: success === 1 },
    { figure: `cold first peer vs the faster peer, ${where}`, target: '<= 1.0x', measured: ratio(firstOf(ours), fastest), met: firstOf(ours) <= fastest },
    { figure: `cold first peer on the CLI's own clock vs the faster peer, ${where}`, target: '<= 1.0x', measured: ratio(ownFirst(ours), fastest), met: ownFirst(ours) <= fastest },
  ];
  const lt = samples['libtorrent'];
  if (lt !== undefined) {
    const q = median(ours.map((x) => x.queries));
    const theirs = median(lt.map((x) => x.queries));
    out.push({ figure: `cold get_peers vs libtorrent, ${where}`, target: '<= 1x', measured: ratio(q, theirs), met: q <= theirs });
  }
  return out;
}

function runClient(client: Client, torrent: TestnetTorrent, bootstrap: string, address: string, startupMs: number): Promise<ColdSample> {
  const hex = Buffer.from(torrent.infoHash).toString('hex');
  const wanted = new Set(torrent.peers.map(formatEndpoint));
  if (client === 'dht-scrape (CLI)') return runCli(hex, bootstrap, wanted, startupMs);
  const [cmd, args] = client === 'bittorrent-dht'
    ? [process.execPath, [`${BENCH}cold-peer-dht.mjs`, bootstrap, hex, address]]
    : [PYTHON, [`${BENCH}cold-libtorrent.py`, bootstrap, hex, address]];
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: BENCH, timeout: 30_000 }, (_error, stdout) => {
      try {
        const r = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { first: number | null; duration: number; queries: number; peers: string[] };
        resolve({ firstMs: r.first, durationMs: r.duration, queries: r.queries, found: r.peers.filter((p) => wanted.has(p)).length, wanted: wanted.size });
      } catch {
        resolve({ firstMs: null, durationMs: Number.NaN, queries: Number.NaN, found: 0, wanted: wanted.size });
      }
    });
  });
}

/** A fresh CLI process: time to its first peer line and to its exit, minus its start-up time. */
function runCli(hex: string, bootstrap: string, wanted: Set<string>, startupMs: number): Promise<ColdSample> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, hex, '--bootstrap', bootstrap, '--no-state', '--timeout', '15'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let firstMs: number | null = null;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { firstMs ??= performance.now() - started - startupMs; stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('close', () => {
      const found = stdout.split('\n').filter((l) => wanted.has(l.trim())).length;
      const queries = Number(/(\d+) queries/.exec(stderr)?.[1] ?? Number.NaN);
      const own = /first peer after (\d+) ms/.exec(stderr)?.[1];
      // A run that found no peer keeps its output (the summary: queries, timeouts, closest bits) for whoever must say why.
      if (found === 0) writeFileSync(`${tmpdir()}/dht-scrape-cold-failed-${hex}-${Date.now()}.log`, `${stdout}\n${stderr}`);
      resolve({ firstMs, durationMs: performance.now() - started - startupMs, queries, found, wanted: wanted.size, ownFirstMs: own === undefined ? null : Number(own) });
    });
  });
}

/** Median wall time of `dht-scrape --version`: Node's start-up and our module loading. */
function cliStartupMs(): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [CLI, '--version'], { stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Median time to first peer on the CLI's own clock: from its command's start (after Node's start-up
 * and module loading, as the other two clients are timed from their DHT's creation), with no
 * subtraction of a separately measured start-up, whose own noise (and the process exit it includes)
 * moves the other figure by tens of ms.
 */
function ownFirst(samples: ColdSample[]): number {
  return median(samples.flatMap((x) => (typeof x.ownFirstMs === 'number' ? [x.ownFirstMs] : [])));
}

function hasLibtorrent(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function format(faults: Faults, samples: Record<string, ColdSample[]>, clients: Client[], startupMs: number, nodes: number, preset: 'ideal' | 'internet'): string {
  const firsts = (s: ColdSample[]): number[] => s.filter((x) => x.firstMs !== null).map((x) => x.firstMs!);
  const spread = (xs: number[]): string => `${num(median(xs))} (${num(quantile(xs, 0.1))}-${num(quantile(xs, 0.9))})`;
  const rows = clients.map((c) => {
    const s = samples[c]!;
    return [c, spread(firsts(s)), spread(s.map((x) => x.durationMs)), num(median(s.map((x) => x.queries))),
      percent(s.filter((x) => x.found > 0).length / s.length), percent(s.filter((x) => x.found === x.wanted).length / s.length)];
  });
  const theirs = clients.filter((c) => c !== 'dht-scrape (CLI)').map((c) => median(firsts(samples[c]!)));
  const fastest = Math.min(...theirs);
  const ours = median(firsts(samples['dht-scrape (CLI)']!));
  const oursOwn = ownFirst(samples['dht-scrape (CLI)']!);
  const lossy = (faults.loss ?? 0) > 0;
  const bt = samples['bittorrent-dht']!;
  return [
    heading(`Cold start: fresh processes, ONE bootstrap node of a ${nodes}-node testnet, ${preset === 'internet' ? 'internet preset (seed 1)' : `ideal, latency 20-80 ms one way${lossy ? ' + 10% loss' : ''}`} (${samples['dht-scrape (CLI)']!.length} torrents, clients taking turns)`),
    table(['client (fresh process)', 'first peer ms: median (p10-p90)', 'duration ms: median (p10-p90)', 'get_peers', 'success', 'complete'], rows),
    `dht-scrape start-up (--version, taken off): ${num(startupMs)} ms. First peer vs the faster peer: ${ratio(ours, fastest)} (target <= 1.0x).` +
      ` On the CLI's own clock (its \`first peer after\`, no subtraction): ${num(oursOwn)} ms, ${ratio(oursOwn, fastest)}.` +
      (lossy ? ` Duration vs bittorrent-dht: ${ratio(median(samples['dht-scrape (CLI)']!.map((x) => x.durationMs)), median(bt.map((x) => x.durationMs)))} (target <= 0.5x).` : ''),
  ].join('\n');
}
