/**
 * Command-line parsing (node:util parseArgs). Every mistake becomes a UsageError with one clear
 * line; main() turns it into exit code 2.
 */
import { parseArgs } from 'node:util';
import { parseTarget, TargetError, type TorrentTarget } from '../wire/magnet.js';
import { EndpointSyntaxError, parseHostPort, type HostPort } from './bootstrap-nodes.js';

export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}

export const EXIT = { peersFound: 0, noPeers: 1, usage: 2, network: 3 } as const;

export const USAGE = `Usage:
  dht-scrape <infohash|magnet> [options]   find the peers of a torrent (scraper mode)
  dht-scrape [crawl] [options]             collect info_hashes from the DHT (crawler mode)
  dht-scrape testnet [options]             run a local DHT network on loopback

Scraper and crawler options:
  --testnet N          run a local network of N nodes in-process and use it (no internet needed);
                       without an info-hash, scrapes one of its torrents (add 'crawl' to crawl it)
  --bootstrap H:P      a node to join through (repeatable; default: the public routers)
  --port N             UDP port (default 6881; a free one if taken)
  --bind ADDR          address to bind (default 0.0.0.0; an IPv6 address for IPv6)
  --timeout S          seconds to run (default 30 scraping, 60 crawling; 0 crawls until stopped)
  --json               machine-readable output on stdout
  --state FILE         where to remember good nodes between runs (default: the user cache dir)
  --no-state           do not read or write the state file
  --alpha N            parallel queries per lookup (default 3)
  --rate N             packets per second we may send (default 500)
Scraper only:
  --announce PORT      also announce that we are a peer on PORT
  --scrape             estimate seeds and leechers from the nodes' BEP 33 bloom filters
  --metadata           fetch name, size and files from the peers (BEP 9), SHA-1 checked
  --save-torrent FILE  write the fetched metadata as a .torrent file (implies --metadata)
  --probe              connect to the peers found (at most 200): client, completion, seed or not
                       (--metadata and --probe use what is left of --timeout, at least 10 s each)
Crawler only:
  --output FILE        append NDJSON, one line per info_hash when first seen
  --resume FILE        reload an earlier output and continue without duplicates
  --top N              how many of the most requested info_hashes to list (default 10)
  --query-interval S   seconds between active sampling rounds (default 1)
  --max-infohashes N   most info_hashes kept (default 2000000); past it, new ones are only counted
  --metadata           add name, total_size and files to each line, fetched from the torrent's
                       peers (BEP 9; 4 at a time, 20 s each at most: a line waits for its name)
Local network (dht-scrape testnet):
  --nodes N --torrents M --peers P --ttl S (0 = until stopped; default 600)
  --seeders S          make the first S peers of each torrent real seeding peers (default 0)

  -h, --help           this help      -v, --version   the version

Exit codes: 0 peers found (or crawl done), 1 no peers found, 2 usage or input error,
3 network error (no bootstrap node answered).`;

export interface CommonOptions {
  bootstrap: HostPort[];
  port: number;
  portExplicit: boolean;
  bind: string | undefined;
  timeoutSeconds: number | undefined;
  json: boolean;
  statePath: string | undefined;
  noState: boolean;
  testnet: number | undefined;
  alpha: number | undefined;
  rate: number | undefined;
}

/** What a scrape adds besides the peers: BEP 33 counts, BEP 9 metadata, a peer probe. */
export interface SwarmOptions {
  /** --scrape */
  counts: boolean;
  /** --metadata (also set by --save-torrent) */
  metadata: boolean;
  probe: boolean;
  saveTorrent: string | undefined;
}

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'scrape'; target: TorrentTarget | undefined; announcePort: number | undefined; common: CommonOptions; swarm: SwarmOptions }
  | { kind: 'crawl'; output: string | undefined; resume: string | undefined; top: number; queryIntervalSeconds: number; maxInfoHashes: number; common: CommonOptions; metadata: boolean }
  | { kind: 'testnet'; nodes: number; torrents: number; peers: number; ttlSeconds: number; json: boolean; seeders: number };

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  testnet: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  port: { type: 'string' },
  bind: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  state: { type: 'string' },
  'no-state': { type: 'boolean' },
  alpha: { type: 'string' },
  rate: { type: 'string' },
  announce: { type: 'string' },
  scrape: { type: 'boolean' },
  metadata: { type: 'boolean' },
  probe: { type: 'boolean' },
  'save-torrent': { type: 'string' },
  seeders: { type: 'string' },
  output: { type: 'string' },
  resume: { type: 'string' },
  top: { type: 'string' },
  'query-interval': { type: 'string' },
  'max-infohashes': { type: 'string' },
  nodes: { type: 'string' },
  torrents: { type: 'string' },
  peers: { type: 'string' },
  ttl: { type: 'string' },
} as const;

export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  if (positionals.length > 1) throw new UsageError(`expected at most one info-hash or magnet, got ${positionals.length} arguments`);
  const first = positionals[0];

  if (first === 'testnet') {
    return {
      kind: 'testnet',
      nodes: integer(values.nodes, 'nodes', 50, 2, 10_000),
      torrents: integer(values.torrents, 'torrents', 5, 0, 1_000_000),
      peers: integer(values.peers, 'peers', 10, 0, 100_000),
      ttlSeconds: integer(values.ttl, 'ttl', 600, 0, 10_000_000),
      json: values.json === true,
      seeders: integer(values.seeders, 'seeders', 0, 0, 1_000),
    };
  }
  for (const name of ['nodes', 'torrents', 'peers', 'ttl', 'seeders'] as const) {
    if (values[name] !== undefined) throw new UsageError(`--${name} belongs to 'dht-scrape testnet'`);
  }

  const common: CommonOptions = {
    bootstrap: (values.bootstrap ?? []).map((text) => {
      try { return parseHostPort(text); } catch (error) {
        throw new UsageError(`--bootstrap: ${error instanceof EndpointSyntaxError ? error.message : String(error)}`);
      }
    }),
    port: integer(values.port, 'port', 6881, 0, 65535),
    portExplicit: values.port !== undefined,
    bind: values.bind,
    timeoutSeconds: values.timeout === undefined ? undefined : number(values.timeout, 'timeout', 0, 10_000_000),
    json: values.json === true,
    statePath: values.state,
    noState: values['no-state'] === true,
    testnet: values.testnet === undefined ? undefined : integer(values.testnet, 'testnet', 0, 2, 10_000),
    alpha: values.alpha === undefined ? undefined : integer(values.alpha, 'alpha', 3, 1, 32),
    rate: values.rate === undefined ? undefined : number(values.rate, 'rate', 1, 1_000_000),
  };
  if (common.testnet !== undefined && common.bootstrap.length > 0) {
    throw new UsageError('--testnet runs its own network; it cannot be combined with --bootstrap');
  }

  const crawlOnly = (['output', 'resume', 'top', 'query-interval', 'max-infohashes'] as const).filter((name) => values[name] !== undefined);
  // With --testnet and no info-hash, the main job is still a scrape (of one of its torrents);
  // `crawl`, or any crawler option, asks for the crawler instead.
  const crawl = first === 'crawl' || (first === undefined && (common.testnet === undefined || crawlOnly.length > 0));
  if (!crawl) {
    if (crawlOnly.length > 0) throw new UsageError(`--${crawlOnly[0]!} is a crawler option (run without an info-hash)`);
    let target: TorrentTarget | undefined;
    if (first !== undefined) {
      try { target = parseTarget(first); } catch (error) {
        throw new UsageError(error instanceof TargetError ? error.message : String(error));
      }
    }
    const announcePort = values.announce === undefined ? undefined : integer(values.announce, 'announce', 0, 1, 65535);
    const saveTorrent = values['save-torrent'];
    if (saveTorrent === '') throw new UsageError('--save-torrent needs a file name');
    const swarm: SwarmOptions = {
      counts: values.scrape === true,
      metadata: values.metadata === true || saveTorrent !== undefined,
      probe: values.probe === true,
      saveTorrent,
    };
    return { kind: 'scrape', target, announcePort, common, swarm };
  }
  if (values.announce !== undefined) throw new UsageError('--announce needs an info-hash to announce');
  for (const name of ['scrape', 'probe', 'save-torrent'] as const) {
    if (values[name] !== undefined) throw new UsageError(`--${name} needs an info-hash (scraper mode)`);
  }
  return {
    kind: 'crawl',
    output: values.output,
    resume: values.resume,
    top: integer(values.top, 'top', 10, 0, 10_000),
    queryIntervalSeconds: values['query-interval'] === undefined ? 1 : number(values['query-interval'], 'query-interval', 0.01, 86_400),
    maxInfoHashes: integer(values['max-infohashes'], 'max-infohashes', 2_000_000, 1, 20_000_000),
    common,
    metadata: values.metadata === true,
  };
}

function number(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function integer(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = number(text, name, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}
