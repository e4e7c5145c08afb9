/**
 * Command-line parsing (node:util parseArgs). Every mistake becomes a UsageError with one clear
 * line; main() turns it into exit code 2.
 */
import type { GetCommand, PutCommand } from './item-command.js';
import { parseArgs } from 'node:util';
import { parseTarget, TargetError, type TorrentTarget } from '../wire/magnet.js';
import { idFromHex, type NodeId } from '../wire/id.js';
import { describeSocket, EndpointSyntaxError, familiesDifferMessage, parseHostPort, type HostPort } from './bootstrap-nodes.js';
import { closestName, normalizeArgv } from './argv.js';
import { UsageError } from './usage-error.js';
import { AddressRangeError, DEFAULT_ADDRESS_RANGE, parseAddressRange } from '../modes/address-range.js';
import { exitCodesHelp } from './exit-codes.js';
import { ipFamily } from '../wire/compact.js';

export { UsageError };

export { EXIT } from './exit-codes.js';

export const USAGE = `Usage:
  dht-scrape <infohash|magnet> [options]   find the peers of a torrent (scraper mode)
  dht-scrape scrape - [options]            many torrents: info-hashes or magnets from stdin, one a line
  dht-scrape [crawl] [options]             collect info_hashes from the DHT (crawler mode)
  dht-scrape testnet [options]             run a local DHT network on loopback
  dht-scrape ping HOST:PORT                ask one node whether it is there (KRPC ping)
  dht-scrape query HOST:PORT find_node|get_peers|sample_infohashes [TARGET]
                                           send one query and print the decoded reply
  dht-scrape lab [options]                 watch a local DHT work, live in the browser
  dht-scrape put [--key FILE [--salt S]] VALUE   store VALUE in the DHT (BEP 44); prints its target
  dht-scrape get TARGET|PUBLIC_KEY [--salt S]    fetch an item stored in the DHT (BEP 44)

Scraper and crawler options:
  --testnet N          run a local network of N nodes in-process and use it (no internet needed);
                       without an info-hash, scrapes one of its torrents (add 'crawl' to crawl it)
  --conditions C       how the local network behaves: ideal (default), internet, hostile, or a
                       JSON file (docs/testnet.md); with --testnet or 'dht-scrape testnet'
  --seed N             seed of the local network's random choices: the same seed, the same network
  --bootstrap H:P      a node to join through (repeatable; default: the public routers)
  --port N             UDP port (default 6881; a free one if taken)
  --bind ADDR          address to bind (default 0.0.0.0; an IPv6 address for IPv6)
  -4                   IPv4 only (default: a scrape or a crawl runs an IPv4 and an IPv6 node side
                       by side when the bootstrap offers both, BEP 32, and so does 'scrape -';
                       put, get, ping and query run one family: IPv4 unless -6 or --bind)
  -6                   IPv6 only (binds :: unless --bind)
  --dual-stack         with --testnet or 'dht-scrape testnet': IPv6 nodes on ::1 beside the IPv4
                       ones, torrents announced in both families (and with --testnet, a scrape or
                       crawl in both)
  --timeout S          seconds to run (default 30 scraping, 60 crawling; 0 crawls until stopped)
  --json               machine-readable output on stdout
  --state FILE         where to remember good nodes between runs (default: the user cache dir)
  --no-state           do not read or write the state file
  --alpha N            parallel queries per lookup (default 3)
  --rate N             packets per second we may send (default 500)
  --enforce-secure-ids keep nodes whose ID does not fit their address (BEP 42) out of our routing
                       table and lookups (off by default, as in libtorrent; local addresses exempt)
  --web [PORT]         show the run live in the browser: routing table, lookups, crawl (the URL
                       is printed; any free port unless PORT)
  --web-bind ADDR      the address the live view binds (default 127.0.0.1)
Output (any command):
  -q, --quiet          data on stdout and errors on stderr, nothing else (no progress, no summary)
  --trace              print each KRPC packet sent and received, decoded, on stderr
Scraper only:
  --announce PORT      also announce that we are a peer on PORT
  --scrape             estimate seeds and leechers from the nodes' BEP 33 bloom filters
  --metadata           fetch name, size and files from the peers (BEP 9), checked against the
                       info-hash (SHA-1; SHA-256 for a v2 torrent, BEP 52)
  --save-torrent PATH  write the fetched metadata as a .torrent file (implies --metadata; a v2
                       torrent with its piece layers); PATH a directory: the file is named after
                       the torrent, never overwriting one
  --tracker URL        also ask this tracker (udp://, http://, https://; repeatable), beside the
                       trackers a magnet names (tr=): seeders, leechers, completed, peers
  --no-trackers        ask no tracker, not even the magnet's
  --probe              connect to the peers found (at most 200): client, completion, seed or not
                       (--metadata and --probe use what is left of --timeout, at least 10 s each)
  --no-read-only       answer other nodes' queries; by default a scrape (and scrape -, ping,
                       query, put, get) is a BEP 43 read-only node, which nobody keeps in a
                       table, so it leaves no dead contact behind when it exits
Many torrents (dht-scrape scrape -):
  --from FILE          read the info-hashes or magnets from FILE instead of stdin
  --concurrency N      lookups at once on the one node (default 8); each torrent's NDJSON line
                       is printed as its lookup ends
One node (dht-scrape ping, dht-scrape query):
  --raw                also print the reply's bytes in hex
                       (they also take --bind, --port (default: any free one), --timeout
                       (default 5 s), --json, --trace)
Storing items (dht-scrape put, dht-scrape get):
  --key FILE           sign a mutable item with the ed25519 seed in FILE (64 hex digits; a new
                       one is written there if FILE does not exist, never over one that does)
  --salt S             the mutable item's salt (one key, many items)
Crawler only:
  --output FILE        append NDJSON, one line per info_hash when first seen
  --resume FILE        reload an earlier output and continue without duplicates
  --top N              how many of the most requested info_hashes to list (default 10)
  --query-interval S   seconds between active sampling rounds (default 1)
  --max-infohashes N   most info_hashes kept (default 2000000); past it, new ones are only counted
  --metadata           add name, total_size and files to each line, fetched from the torrent's
                       peers (BEP 9; 4 at a time, 20 s each at most: a line waits for its name)
  --capture-find-node  also record the targets of strangers' find_node queries (some clients look
                       a torrent up that way), as low-confidence sightings: source "find_node"
Local network (dht-scrape testnet):
  --nodes N --torrents M --peers P --ttl S (0 = until stopped; default 600)
  --seeders S          make the first S peers of each torrent real seeding peers (default 0)
  --address-range CIDR where the nodes live (default 127.0.0.0/8; e.g. 10.77.0.0/16 routed to lo
                       in a network namespace, for clients that refuse loopback; ::1/128 for IPv6)
Live view (dht-scrape lab, and --web PORT, --web-bind ADDR):
  --nodes N --torrents M --every S --ttl S (defaults 1000, 20, a lookup every 3 s, 600 s)

  -h, --help           this help      -v, --version   the version

${exitCodesHelp()}`;

export interface CommonOptions {
  bootstrap: HostPort[];
  port: number;
  portExplicit: boolean;
  bind: string | undefined;
  /** -4 / -6, or the family of --bind: one address family only. Undefined: both where offered (BEP 32). */
  family: 4 | 6 | undefined;
  /** --dual-stack: the local network (--testnet) runs IPv4 and IPv6 nodes. */
  dualStack: boolean;
  timeoutSeconds: number | undefined;
  json: boolean;
  statePath: string | undefined;
  noState: boolean;
  testnet: number | undefined;
  /** With --testnet: its conditions and seed. */
  lab: LabOptions;
  alpha: number | undefined;
  rate: number | undefined;
  /** --quiet: data and errors only. */
  quiet: boolean;
  /** --trace: every KRPC packet on stderr. */
  trace: boolean;
  /** --enforce-secure-ids: BEP 42 enforcement in our table and lookups. */
  enforceSecureIds: boolean;
}

/** The queries `dht-scrape query` can send, and what its TARGET is for each. */
export const QUERY_METHODS = ['find_node', 'get_peers', 'sample_infohashes'] as const;
export type QueryCommandMethod = (typeof QUERY_METHODS)[number];

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
  | { kind: 'scrape'; target: TorrentTarget | undefined; announcePort: number | undefined; common: CommonOptions; swarm: SwarmOptions; trackers: string[]; noTrackers: boolean; readOnly: boolean }
  | { kind: 'crawl'; output: string | undefined; resume: string | undefined; top: number; queryIntervalSeconds: number; maxInfoHashes: number; common: CommonOptions; metadata: boolean; captureFindNode: boolean }
  | { kind: 'testnet'; nodes: number; torrents: number; peers: number; ttlSeconds: number; json: boolean; seeders: number; quiet: boolean; addressRange: string; dualStack: boolean; lab: LabOptions }
  | { kind: 'batch'; from: string; concurrency: number; common: CommonOptions; readOnly: boolean }
  | { kind: 'ping'; to: HostPort; raw: boolean; common: CommonOptions }
  | { kind: 'query'; to: HostPort; method: QueryCommandMethod; target: NodeId | undefined; raw: boolean; common: CommonOptions }
  | PutCommand
  | GetCommand;

/** Options `dht-scrape testnet` takes; any other is refused rather than silently ignored. */
const TESTNET_OPTIONS = ['nodes', 'torrents', 'peers', 'ttl', 'seeders', 'json', 'quiet', 'address-range', 'conditions', 'seed', 'dual-stack'];
/** Options of the one-node commands (ping, query). */
const NODE_COMMAND_OPTIONS = ['bind', 'port', 'timeout', 'json', 'quiet', 'trace', 'raw'];
/** Options of `scrape -` besides the lookup's own. */
const BATCH_OPTIONS = ['from', 'concurrency', 'no-read-only', 'bootstrap', 'port', 'bind', 'timeout', 'json', 'state', 'no-state', 'testnet', 'conditions', 'seed', 'alpha', 'rate', 'quiet', 'trace', 'enforce-secure-ids'];

/** How a local network behaves (--conditions, a preset name or a JSON file) and its --seed. */
export interface LabOptions {
  conditions: string | undefined;
  seed: number | undefined;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  testnet: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  port: { type: 'string' },
  bind: { type: 'string' },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  'dual-stack': { type: 'boolean' },
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
  'no-read-only': { type: 'boolean' },
  'capture-find-node': { type: 'boolean' },
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
  quiet: { type: 'boolean', short: 'q' },
  trace: { type: 'boolean' },
  from: { type: 'string' },
  concurrency: { type: 'string' },
  raw: { type: 'boolean' },
  'address-range': { type: 'string' },
  conditions: { type: 'string' },
  seed: { type: 'string' },
  key: { type: 'string' },
  salt: { type: 'string' },
  tracker: { type: 'string', multiple: true },
  'no-trackers': { type: 'boolean' },
  'enforce-secure-ids': { type: 'boolean' },
} as const;

/** The commands named by a first word; anything else there is an info-hash or magnet. */
const COMMAND_WORDS = ['crawl', 'testnet', 'scrape', 'ping', 'query', 'put', 'get'];
/** Options of put and get besides the lookup's own. */
const ITEM_OPTIONS = ['key', 'salt', 'no-read-only', 'bootstrap', 'port', 'bind', 'timeout', 'json', 'state', 'no-state', 'testnet', 'alpha', 'rate', 'quiet', 'trace', 'enforce-secure-ids'];

export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: normalizeArgv(argv, OPTIONS), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const first = positionals[0];
  const given = Object.keys(values).filter((name) => values[name as keyof typeof values] !== undefined);
  const onlyThese = (allowed: readonly string[], where: string, hint: (name: string) => string = () => ''): void => {
    const stray = given.find((name) => !allowed.includes(name));
    if (stray !== undefined) throw new UsageError(`--${stray} does not apply to '${where}'${hint(stray)}`);
  };
  if (first !== undefined && !COMMAND_WORDS.includes(first) && positionals.length === 1 && /^[a-z]+$/.test(first) && first.length < 12) {
    const near = closestName(first, COMMAND_WORDS);
    if (near !== undefined) throw new UsageError(`unknown command ${JSON.stringify(first)} (did you mean ${near}?)`);
  }
  if (first === 'ping' || first === 'query') {
    onlyThese(NODE_COMMAND_OPTIONS, `dht-scrape ${first}`);
    return nodeCommand(first, positionals.slice(1), values.raw === true, commonOptions(values));
  }
  if (first === 'put' || first === 'get') {
    onlyThese(ITEM_OPTIONS, `dht-scrape ${first}`);
    const argument = positionals[1];
    if (argument === undefined || positionals.length > 2) throw new UsageError(`'dht-scrape ${first}' takes one ${first === 'put' ? 'value' : 'target or public key'}`);
    const readOnly = values['no-read-only'] !== true;
    if (first === 'put') return { kind: 'put', value: argument, keyFile: values.key, salt: values.salt, common: commonOptions(values), readOnly };
    if (values.key !== undefined) throw new UsageError("--key belongs to 'dht-scrape put' (get takes the public key itself)");
    return { kind: 'get', target: argument, salt: values.salt, common: commonOptions(values), readOnly };
  }
  for (const name of ['key', 'salt'] as const) {
    if (values[name] !== undefined) throw new UsageError(`--${name} belongs to 'dht-scrape put' and 'dht-scrape get'`);
  }
  if (first === 'scrape' && (positionals[1] === '-' || values.from !== undefined)) {
    onlyThese(BATCH_OPTIONS, 'dht-scrape scrape -');
    if (positionals.length > 2 || (positionals[1] === '-' && values.from !== undefined)) {
      throw new UsageError("'dht-scrape scrape' reads one list: '-' (stdin) or --from FILE");
    }
    if (values.from === '') throw new UsageError('--from needs a file name');
    return {
      kind: 'batch',
      from: values.from ?? '-',
      concurrency: integer(values.concurrency, 'concurrency', 8, 1, 256),
      common: commonOptions(values),
      readOnly: values['no-read-only'] !== true,
    };
  }
  for (const name of ['from', 'concurrency'] as const) {
    if (values[name] !== undefined) throw new UsageError(`--${name} belongs to 'dht-scrape scrape -' (many torrents)`);
  }
  if (values.raw !== undefined) throw new UsageError("--raw belongs to 'dht-scrape ping' and 'dht-scrape query'");
  // `scrape <info-hash>` is the same as `<info-hash>`.
  const targets = first === 'scrape' ? positionals.slice(1) : positionals;
  if (targets.length > 1) throw new UsageError(`expected at most one info-hash or magnet, got ${targets.length} arguments`);
  if (first === 'scrape' && targets.length === 0) throw new UsageError("'dht-scrape scrape' needs an info-hash, a magnet, or '-' to read them from stdin");

  if (first === 'testnet') {
    onlyThese(TESTNET_OPTIONS, 'dht-scrape testnet', (name) => (name === 'timeout' ? ' (the local network runs for --ttl S)' : ''));
    return {
      kind: 'testnet',
      nodes: integer(values.nodes, 'nodes', 50, 2, MAX_TESTNET_NODES),
      torrents: integer(values.torrents, 'torrents', 5, 0, 1_000_000),
      peers: integer(values.peers, 'peers', 10, 0, 100_000),
      ttlSeconds: integer(values.ttl, 'ttl', 600, 0, 10_000_000),
      json: values.json === true,
      seeders: integer(values.seeders, 'seeders', 0, 0, 1_000),
      quiet: values.quiet === true,
      addressRange: addressRange(values['address-range']),
      dualStack: dualStackRange(values['dual-stack'] === true, values['address-range']),
      lab: labOptions(values.conditions, values.seed),
    };
  }
  for (const name of ['nodes', 'torrents', 'peers', 'ttl', 'seeders', 'address-range'] as const) {
    if (values[name] !== undefined) throw new UsageError(`--${name} belongs to 'dht-scrape testnet'`);
  }

  const common = commonOptions(values);
  const targetText = targets[0];

  const crawlOnly = (['output', 'resume', 'top', 'query-interval', 'max-infohashes', 'capture-find-node'] as const).filter((name) => values[name] !== undefined);
  // With --testnet and no info-hash, the main job is still a scrape (of one of its torrents);
  // `crawl`, or any crawler option, asks for the crawler instead.
  const crawl = first === 'crawl' || (targetText === undefined && first !== 'scrape' && (common.testnet === undefined || crawlOnly.length > 0));
  if (!crawl) {
    if (crawlOnly.length > 0) throw new UsageError(`--${crawlOnly[0]!} is a crawler option (run without an info-hash)`);
    let target: TorrentTarget | undefined;
    if (targetText !== undefined) {
      try { target = parseTarget(targetText); } catch (error) {
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
    for (const url of values.tracker ?? []) if (!/^(udp|https?):\/\/./i.test(url)) throw new UsageError(`--tracker needs a udp://, http:// or https:// URL, got ${JSON.stringify(url.slice(0, 80))}`);
    return { kind: 'scrape', target, announcePort, common, swarm, trackers: values.tracker ?? [], noTrackers: values['no-trackers'] === true, readOnly: values['no-read-only'] !== true };
  }
  if (values.announce !== undefined) throw new UsageError('--announce needs an info-hash to announce');
  for (const name of ['scrape', 'probe', 'save-torrent', 'no-read-only'] as const) {
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
    captureFindNode: values['capture-find-node'] === true,
  };
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** The options every node-running command shares, checked against each other. */
function commonOptions(values: Values): CommonOptions {
  const bind = values.bind;
  if (bind !== undefined && ipFamily(bind) === 0) {
    throw new UsageError(`--bind needs an IP address of ours (e.g. 0.0.0.0, 127.0.0.1 or ::), got ${JSON.stringify(bind)}`);
  }
  if (values.ipv4 === true && values.ipv6 === true) throw new UsageError('-4 and -6 each pick one address family; give neither for both');
  const picked = values.ipv4 === true ? 4 : values.ipv6 === true ? 6 : undefined;
  const bindFamily = bind === undefined ? undefined : ipFamily(bind) === 6 ? 6 : 4;
  if (picked !== undefined && bindFamily !== undefined && picked !== bindFamily) {
    throw new UsageError(`-${picked} asks for IPv${picked} but --bind ${bind} is an IPv${bindFamily} address`);
  }
  const common: CommonOptions = {
    bootstrap: (values.bootstrap ?? []).map((text) => {
      try { return parseHostPort(text); } catch (error) {
        throw new UsageError(`--bootstrap: ${error instanceof EndpointSyntaxError ? error.message : String(error)}`);
      }
    }),
    port: integer(values.port, 'port', 6881, 0, 65535),
    portExplicit: values.port !== undefined,
    bind,
    family: picked ?? bindFamily,
    dualStack: values['dual-stack'] === true,
    timeoutSeconds: values.timeout === undefined ? undefined : number(values.timeout, 'timeout', 0, 10_000_000),
    json: values.json === true,
    statePath: values.state,
    noState: values['no-state'] === true,
    testnet: values.testnet === undefined ? undefined : integer(values.testnet, 'testnet', 0, 2, MAX_TESTNET_NODES),
    lab: labOptions(values.conditions, values.seed),
    alpha: values.alpha === undefined ? undefined : integer(values.alpha, 'alpha', 3, 1, 32),
    rate: values.rate === undefined ? undefined : number(values.rate, 'rate', 1, 1_000_000),
    quiet: values.quiet === true,
    trace: values.trace === true,
    enforceSecureIds: values['enforce-secure-ids'] === true,
  };
  if (common.testnet === undefined && (values.conditions !== undefined || values.seed !== undefined)) {
    throw new UsageError(`--${values.conditions !== undefined ? 'conditions' : 'seed'} shapes a local network: use it with --testnet N or 'dht-scrape testnet'`);
  }
  if (common.testnet !== undefined && common.bootstrap.length > 0) {
    throw new UsageError('--testnet runs its own network; it cannot be combined with --bootstrap');
  }
  if (common.quiet && common.trace) throw new UsageError('--quiet and --trace contradict each other');
  if (common.dualStack && common.testnet === undefined) {
    throw new UsageError('--dual-stack shapes a local network: use it with --testnet N (on a real network, both families are the default)');
  }
  if (common.dualStack && common.family !== undefined) {
    throw new UsageError(`--dual-stack runs both address families; it cannot be combined with ${bind !== undefined ? `--bind ${bind}` : `-${common.family}`}`);
  }
  // With neither -4/-6 nor --bind, each family's node takes the bootstrap addresses of its own.
  if (common.family !== undefined) checkFamilies(common.bootstrap, bind, '--bootstrap', common.family);
  return common;
}

/**
 * A socket is IPv4 or IPv6 (BEP 32 runs the two DHTs apart): an address of the other family can
 * never be reached from it, so say so now rather than after a silent timeout.
 */
function checkFamilies(endpoints: readonly HostPort[], bind: string | undefined, option: string, family?: 4 | 6): void {
  const ours = family ?? (bind !== undefined && ipFamily(bind) === 6 ? 6 : 4);
  const other = endpoints.find(({ host }) => ipFamily(host) !== 0 && ipFamily(host) !== ours);
  if (other === undefined) return;
  const theirs = ipFamily(other.host) === 6 ? 6 : 4;
  const shown = theirs === 6 ? `[${other.host}]:${other.port}` : `${other.host}:${other.port}`;
  throw new UsageError(familiesDifferMessage(`${option} ${shown} is an IPv${theirs} address`, theirs, ours, describeSocket(bind, family)));
}

/** `ping HOST:PORT` and `query HOST:PORT METHOD [TARGET]`. */
function nodeCommand(word: 'ping' | 'query', args: readonly string[], raw: boolean, common: CommonOptions): Command {
  const expected = word === 'ping' ? 1 : 3;
  if (args.length === 0 || args.length > expected || (word === 'query' && args.length < 2)) {
    throw new UsageError(word === 'ping' ? 'usage: dht-scrape ping HOST:PORT'
      : `usage: dht-scrape query HOST:PORT ${QUERY_METHODS.join('|')} [TARGET]`);
  }
  let to: HostPort;
  try { to = parseHostPort(args[0]!); } catch (error) {
    throw new UsageError(error instanceof EndpointSyntaxError ? error.message : String(error));
  }
  checkFamilies([to], common.bind, `dht-scrape ${word}`);
  if (word === 'ping') return { kind: 'ping', to, raw, common };
  const method = QUERY_METHODS.find((m) => m === args[1]);
  if (method === undefined) {
    const near = closestName(args[1]!, QUERY_METHODS);
    throw new UsageError(`unknown query ${JSON.stringify(args[1])}: expected ${QUERY_METHODS.join(', ')}${near !== undefined ? ` (did you mean ${near}?)` : ''}`);
  }
  return { kind: 'query', to, method, target: args[2] === undefined ? undefined : queryTarget(method, args[2]), raw, common };
}

/** get_peers takes what a scrape takes (info-hash or magnet); the others a 40-hex node ID. */
function queryTarget(method: QueryCommandMethod, text: string): NodeId {
  if (method === 'get_peers') {
    try { return parseTarget(text).infoHash; } catch (error) {
      throw new UsageError(error instanceof TargetError ? error.message : String(error));
    }
  }
  if (!/^[0-9a-f]{40}$/i.test(text)) throw new UsageError(`${method} TARGET must be a 40-character hex ID, got ${JSON.stringify(text)}`);
  return idFromHex(text);
}

/** --dual-stack puts IPv6 nodes on ::1 beside IPv4 ones: the --address-range must then be IPv4. */
function dualStackRange(dualStack: boolean, range: string | undefined): boolean {
  if (dualStack && range !== undefined && range.includes(':')) {
    throw new UsageError(`--dual-stack runs IPv6 nodes on ::1 beside IPv4 ones: --address-range must be IPv4, got ${range}`);
  }
  return dualStack;
}

/** Nodes in one local network: 19,000 fit a limit of 20,000 open files (docs/testnet.md). */
const MAX_TESTNET_NODES = 19_000;

function labOptions(conditions: string | undefined, seed: string | undefined): LabOptions {
  if (conditions === '') throw new UsageError('--conditions needs a preset name (ideal, internet, hostile) or a JSON file');
  return { conditions, seed: seed === undefined ? undefined : integer(seed, 'seed', 0, 0, 4_294_967_295) };
}

/** --address-range CIDR, normalised (127.0.0.1/8 -> 127.0.0.0/8). */
function addressRange(text: string | undefined): string {
  if (text === undefined) return DEFAULT_ADDRESS_RANGE;
  try { return parseAddressRange(text).text; } catch (error) {
    throw new UsageError(`--address-range: ${error instanceof AddressRangeError ? error.message : String(error)}`);
  }
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
