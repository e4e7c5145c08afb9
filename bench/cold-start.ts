/**
 * Cold start (issue 12): what a user runs. One 1,000-node local network in this process (our
 * Testnet, 20-80 ms one-way delay applied to what its nodes send AND receive, so that clients we
 * cannot wrap still cross one delay per direction; then with 10% loss too), and per torrent three
 * FRESH processes, taking turns: `bin/dht-scrape.js <hash> --bootstrap ONE --no-state` (its
 * `--version` start-up time measured and taken off), a new bittorrent-dht node that looks up at
 * once (cold-peer-dht.mjs, timed from its creation), a new libtorrent session asked dht_get_peers
 * at once (cold-libtorrent.py, timed from the session's creation; skipped, loudly, without
 * python3-libtorrent). Each knows only ONE bootstrap node.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Testnet, formatEndpoint, type Faults, type TestnetTorrent } from '../dist/index.js';
import { heading, median, num, percent, quantile, ratio, table } from './report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}bin/dht-scrape.js`;
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = '/usr/bin/python3';

interface ColdSample { firstMs: number | null; durationMs: number; queries: number; found: number; wanted: number }
type Client = 'dht-scrape (CLI)' | 'bittorrent-dht' | 'libtorrent';

export async function runColdStartBench(options: { torrents?: number; nodes?: number; log?: (l: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((l: string) => console.log(l));
  const startup = cliStartupMs();
  const libtorrent = hasLibtorrent();
  if (!libtorrent) log('SKIPPED: libtorrent column: /usr/bin/python3 cannot import libtorrent (apt-get install python3-libtorrent).');
  const clients: Client[] = ['dht-scrape (CLI)', 'bittorrent-dht', ...(libtorrent ? ['libtorrent' as const] : [])];
  for (const faults of [{ latencyMs: [20, 80] }, { latencyMs: [20, 80], loss: 0.1 }] as Faults[]) {
    const net = await Testnet.start({ nodes: options.nodes ?? 1_000, torrents: options.torrents ?? 10, peers: 10, faults: { ...faults, inbound: true } });
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
    log(format(faults, samples, clients, startup, options.nodes ?? 1_000));
  }
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
      resolve({ firstMs, durationMs: performance.now() - started - startupMs, queries, found, wanted: wanted.size });
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

function hasLibtorrent(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function format(faults: Faults, samples: Record<string, ColdSample[]>, clients: Client[], startupMs: number, nodes: number): string {
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
  const lossy = (faults.loss ?? 0) > 0;
  const bt = samples['bittorrent-dht']!;
  return [
    heading(`Cold start: fresh processes, ONE bootstrap node of a ${nodes}-node testnet, latency 20-80 ms one way${lossy ? ' + 10% loss' : ''} (${samples['dht-scrape (CLI)']!.length} torrents, clients taking turns)`),
    table(['client (fresh process)', 'first peer ms: median (p10-p90)', 'duration ms: median (p10-p90)', 'get_peers', 'success', 'complete'], rows),
    `dht-scrape start-up (--version, taken off): ${num(startupMs)} ms. First peer vs the faster peer: ${ratio(ours, fastest)} (target <= 1.0x).` +
      (lossy ? ` Duration vs bittorrent-dht: ${ratio(median(samples['dht-scrape (CLI)']!.map((x) => x.durationMs)), median(bt.map((x) => x.durationMs)))} (target <= 0.5x).` : ''),
  ].join('\n');
}
