/**
 * Scraper mode: find the peers of one torrent, reporting each peer once, with how many nodes named it.
 *
 * A scrape is what a user runs as a fresh process, so it starts asking at once: the get_peers
 * lookup toward the info-hash leaves in the first event-loop turn, from everything known: the
 * bootstrap addresses, asked get_peers directly like libtorrent's routers (a name's as soon as it
 * resolves), an earlier run's saved nodes by their IDs, closest first, and the table. Joining
 * (find_node for our own ID) runs alongside at low priority, never ahead of a lookup query, and
 * without the table fill: a one-shot command has no use for far buckets it will not keep. The
 * join asks the routers the lookup's get_peers rather than find_node, and the lookup takes that
 * reply too: the router's reply is all a cold lookup has to go on, and this way losing one of the
 * two costs nothing (BootstrapOptions.alongside).
 */
import type { NodeInfo, PeerInfo } from '../wire/compact.js';
import { idToHex, randomIdWithPrefix, type NodeId } from '../wire/id.js';
import { findNode, type Lookup, type LookupResult, type LookupStats } from '../dht/lookup.js';
import type { Candidate } from '../dht/lookup-state.js';
import type { BootstrapResult, DhtNode, Join } from '../dht/node.js';
import { SwarmScrape, type SwarmEstimate } from './swarm-size.js';
import type { Endpoint } from '../net/transport.js';

/** What to scrape, where to join, and the budget. */
export interface ScrapeOptions {
  infoHash: NodeId;
  bootstrap: readonly Endpoint[];
  /**
   * Bootstrap addresses still being resolved (each, a host name's): the lookup asks each as soon as
   * it is known, and the scrape does not wait for the slowest name before its first query. The
   * join goes through `bootstrap` only.
   */
  bootstrapLater?: readonly Promise<readonly Endpoint[]>[];
  /**
   * Nodes of an earlier run, with their IDs (the state file's saved contacts): the lookup's
   * candidates from the start, asked closest to the info-hash first and `startAlpha` at a time,
   * where a bootstrap address (no ID) is asked at once whatever its distance.
   */
  contacts?: readonly NodeInfo[];
  /** Overall budget for the lookup (and the join alongside it). Default 30 s. */
  timeoutMs?: number;
  /** Also announce ourselves on this port (BEP 5 announce_peer) once the lookup is done. */
  announcePort?: number;
  signal?: AbortSignal;
  /** Lookup parallelism once k nodes have answered (default 3); twice as many until then. */
  alpha?: number;
  /** BEP 33: ask for `scrape=1` and estimate the swarm's seeds and leechers from the bloom filters. */
  scrape?: boolean;
  /** When the command started (Date.now() clock), for the times the user waited. Default: now. */
  startedAt?: number;
}

export interface FoundPeer extends PeerInfo {
  /** How many distinct nodes returned this peer. */
  seenBy: number;
}

/** How the join alongside the lookup went, as far as it got before the scrape ended. */
export interface JoinReport extends BootstrapResult {
  /** False when the scrape ended first (the join is then stopped: a one-shot does not wait for it). */
  finished: boolean;
}

/** Reported while a scrape runs: each new peer once, and progress after each lookup event. */
export type ScrapeEvent =
  | { type: 'peer'; peer: FoundPeer }
  | { type: 'progress'; queried: number; responses: number; closestPrefixBits: number; peers: number; joining: boolean };

/** The scrape's outcome: what the CLI prints, and its --json document is made from. */
export interface ScrapeReport {
  infohash: string;
  peers: FoundPeer[];
  /** Routers that answered (the lookup's get_peers or the join's copy of it), and the join's figures. */
  bootstrap: JoinReport;
  /**
   * The lookup's figures, answered or not; undefined when it had no one to ask at all. Whether
   * anyone answered (a bootstrap node, a saved node, the table's) is `answered(report)`.
   */
  lookup: LookupStats | undefined;
  /** Since the command started (ScrapeOptions.startedAt): what the user waited for. */
  sinceStart: { timeToFirstPeerMs: number | null; durationMs: number };
  announcedTo: number | undefined;
  /** The BEP 33 estimate, when `scrape` was asked for and a lookup ran. */
  swarm?: SwarmEstimate;
  /** The filters behind `swarm`: another family's scrape merges with them (mergeReports). */
  swarmFilters?: SwarmScrape;
}

/** Whether anyone answered the scrape's lookup: without that, it learned nothing of the network. */
export function answered(report: ScrapeReport): boolean {
  return report.lookup !== undefined && (report.lookup.responses > 0 || report.lookup.itemsFound > 0);
}

/** Run a scrape on an already-bound node. Events arrive through `onEvent` as they happen. */
export async function scrape(node: DhtNode, options: ScrapeOptions, onEvent: (event: ScrapeEvent) => void = () => {}): Promise<ScrapeReport> {
  const started = options.startedAt ?? Date.now();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const signal = options.signal;
  const alpha = options.alpha ?? 3;
  // Cold: one router, no round trips known. Twice the parallelism until k nodes have answered
  // reaches the torrent's neighbourhood sooner, for a few more queries (docs/lookup.md).
  const lookupOptions = { ...(signal !== undefined ? { signal } : {}), alpha, startAlpha: COLD_WIDTH * alpha };
  // The lookup first, in this very turn; then the join, whose queries wait behind the lookup's.
  const found = new FoundPeers();
  // Stalled among dead nodes: look elsewhere at once, not after their hard timeouts (lookElsewhere).
  let elsewhere: Elsewhere | undefined;
  const lookElsewhereOnce = (): Elsewhere => (elsewhere ??= lookElsewhere(node, options.infoHash, deadline, signal));
  const first = node.findPeers(options.infoHash, {
    ...lookupOptions, routers: options.bootstrap, routersLater: options.bootstrapLater ?? [], contacts: options.contacts ?? [], timeoutMs: remaining(deadline), onStalled: () => { lookElsewhereOnce(); },
  });
  const stopJoin = new AbortController();
  const join = node.join(options.bootstrap, {
    timeoutMs: remaining(deadline),
    signal: signal === undefined ? stopJoin.signal : AbortSignal.any([signal, stopJoin.signal]),
    fillTable: false,
    priority: 'low',
    alongside: first,
    contacts: options.contacts ?? [],
  });
  const progress = new Progress(join, found, onEvent);
  let result = await follow(first, found, progress, onEvent);
  let stats = result.stats;
  if (stats.responses === 0 && signal?.aborted !== true) {
    // Nothing answered the lookup (every router silent, even asked again): the join may still
    // bring nodes in. Wait for it, then look up once more from the table.
    await join.result;
    if (node.tableSize > 0 && options.signal?.aborted !== true) {
      result = await follow(node.findPeers(options.infoHash, { ...lookupOptions, timeoutMs: remaining(deadline) }), found, progress, onEvent);
      stats = sumStats(stats, result.stats);
    }
  } else if (found.size === 0 && stats.ended === 'exhausted' && signal?.aborted !== true && Date.now() < deadline) {
    // The router answered, but every node it and its referrals named toward the info-hash (and
    // toward our own ID) was dead, and the table had nothing else: look elsewhere, then once more.
    stopJoin.abort();
    await lookElsewhereOnce().useful;
    if (options.signal?.aborted !== true) {
      result = await follow(node.findPeers(options.infoHash, { ...lookupOptions, timeoutMs: remaining(deadline) }), found, progress, onEvent);
      stats = sumStats(stats, result.stats);
    }
  }
  await elsewhere?.stop();
  const report: ScrapeReport = {
    infohash: idToHex(options.infoHash),
    peers: found.peers(),
    bootstrap: { ...join.progress(), routersAnswered: Math.max(join.progress().routersAnswered, stats.routersAnswered) },
    // Queries that went unanswered are still reported: a family whose nodes were all dead sent them.
    lookup: stats.queries > 0 ? stats : undefined,
    sinceStart: { timeToFirstPeerMs: found.firstAt === null ? null : found.firstAt - started, durationMs: 0 },
    announcedTo: undefined,
  };
  if (answered(report)) {
    if (options.scrape === true) {
      report.swarmFilters = await scrapeClosest(node, options.infoHash, result.closest);
      report.swarm = report.swarmFilters.estimate();
    }
    if (options.announcePort !== undefined) report.announcedTo = await node.announceTo(options.infoHash, result.closest, { port: options.announcePort });
  }
  // A one-shot command does not wait for its join: what it learned so far stays in the table.
  stopJoin.abort();
  report.sinceStart.durationMs = Date.now() - started;
  return report;
}

/**
 * How much wider than alpha a scrape's lookup starts (LookupStateOptions.startAlpha). Narrower
 * starts cost fewer queries on a clean network but lost lookups on the `internet` one, where half
 * the first round never answers (docs/lookup.md, "Wider while cold").
 */
const COLD_WIDTH = 2;

/** The find_node lookups of lookElsewhere: `useful` when they have put live nodes in the table. */
interface Elsewhere { useful: Promise<void>; stop(): Promise<void> }

/** How a scrape that met only dead nodes looks elsewhere (lookElsewhere): bits shared with the info-hash, queries per lookup. */
const ELSEWHERE_BITS = [0, 1, 2, 3];
const ELSEWHERE_QUERIES = 16;

/**
 * A scrape that met only dead nodes looks for others (docs/lookup.md, "Back to the table"): nodes
 * of other regions have their own contacts near the info-hash. find_node lookups toward a random
 * ID sharing exactly 0, 1, 2 or 3 leading bits with the info-hash (one in each of the halves,
 * quarters... of the keyspace next to its own, as a bucket refresh picks them). `useful` resolves when one of them has ended with a
 * node besides the router answering (it has put live nodes in the table; the others go on feeding
 * it, and the next lookup takes what they add when it runs out: LookupOptions.reseed), or when all
 * have. Not the first to end: one toward the dead region ends at once, because the RPC layer fails
 * queries to addresses that never answered (one per 10 s), and the router is all it has.
 */
function lookElsewhere(node: DhtNode, infoHash: NodeId, deadline: number, signal: AbortSignal | undefined): Elsewhere {
  const stop = new AbortController();
  const lookups = ELSEWHERE_BITS.map((bit) => node.lookup(randomIdWithPrefix(infoHash, bit), findNode, {
    timeoutMs: remaining(deadline), maxQueries: ELSEWHERE_QUERIES, signal: signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]),
  }).result);
  return { useful: firstUseful(lookups), stop: async () => { stop.abort(); await Promise.all(lookups); } };
}

/** Resolves when one lookup ends with at least two nodes answering, or when all have ended. */
function firstUseful(lookups: readonly Promise<LookupResult>[]): Promise<void> {
  return new Promise((resolve) => {
    let left = lookups.length;
    for (const lookup of lookups) void lookup.then(({ stats }) => { if (stats.responses >= 2 || --left === 0) resolve(); });
  });
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** Iterate one lookup, passing on each new peer and the progress; resolves with its result. */
async function follow(
  lookup: Lookup<'get_peers', PeerInfo>,
  found: FoundPeers,
  progress: Progress,
  onEvent: (event: ScrapeEvent) => void,
): Promise<{ stats: LookupStats; closest: Candidate[] }> {
  for await (const event of lookup) {
    if (event.type === 'item') {
      const peer = found.add(event.item, event.from);
      if (peer !== undefined) onEvent({ type: 'peer', peer });
      continue;
    }
    progress.note(event.type, event.type === 'response' ? event.prefixBits : 0);
  }
  return lookup.result;
}

/** The peers found so far, each once, with how many distinct nodes named it, and when the first came. */
class FoundPeers {
  firstAt: number | null = null;
  private readonly byAddress = new Map<string, FoundPeer>();
  private readonly sources = new Map<string, Set<string>>();

  /** Record that `from` named `item`; returns the peer if it is new. */
  add(item: PeerInfo, from: Endpoint): FoundPeer | undefined {
    const key = `${item.address}:${item.port}`;
    const source = `${from.address}:${from.port}`;
    let seenFrom = this.sources.get(key);
    if (seenFrom === undefined) this.sources.set(key, (seenFrom = new Set()));
    if (seenFrom.has(source)) return undefined;
    seenFrom.add(source);
    const known = this.byAddress.get(key);
    if (known !== undefined) { known.seenBy++; return undefined; }
    const peer: FoundPeer = { address: item.address, port: item.port, seenBy: 1 };
    this.byAddress.set(key, peer);
    this.firstAt ??= Date.now();
    return peer;
  }

  get size(): number {
    return this.byAddress.size;
  }

  peers(): FoundPeer[] {
    return [...this.byAddress.values()];
  }
}

/** The running counts the live status shows, over every lookup of the scrape. */
class Progress {
  private queried = 0;
  private responses = 0;
  private closest = 0;

  constructor(
    private readonly join: Join,
    private readonly found: FoundPeers,
    private readonly onEvent: (event: ScrapeEvent) => void,
  ) {}

  note(type: string, prefixBits: number): void {
    if (type === 'query' || type === 'router-query') this.queried++;
    else if (type === 'response') { this.responses++; this.closest = Math.max(this.closest, prefixBits); }
    this.onEvent({
      type: 'progress', queried: this.queried, responses: this.responses, closestPrefixBits: this.closest,
      peers: this.found.size, joining: !this.join.progress().finished,
    });
  }
}

/** Two lookups' stats as one: counts added, the second's ending and times (from its own start). */
function sumStats(a: LookupStats, b: LookupStats): LookupStats {
  return {
    ...b,
    queries: a.queries + b.queries,
    responses: a.responses + b.responses,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
    nodesContacted: a.nodesContacted + b.nodesContacted,
    routersAsked: a.routersAsked,
    routersAnswered: a.routersAnswered,
  };
}

/**
 * BEP 33: ask the nodes closest to the info-hash (they hold its announces) for their bloom filters.
 * This is a second round after the lookup rather than `scrape=1` on every lookup query, because
 * libtorrent answers a scrape with the filters *instead of* `values`: the lookup must stay a plain
 * get_peers to find the peers themselves.
 */
async function scrapeClosest(node: DhtNode, infoHash: NodeId, closest: readonly Candidate[]): Promise<SwarmScrape> {
  const swarm = new SwarmScrape();
  await Promise.all(closest.map(async ({ node: to }) => {
    const outcome = await node.query(to, 'get_peers', { id: node.id, info_hash: infoHash, scrape: true });
    if (outcome.kind === 'response') swarm.add(outcome.response.r, to);
  }));
  return swarm;
}

/**
 * A dual-stack scrape (BEP 32): an IPv4 node and an IPv6 node each ran their own scrape, since
 * each family is its own DHT; one report for both. Peers of one family never appear in the other's
 * report, so the merge is a concatenation (a peer named in both would keep the higher count). Work
 * figures add up; times are the first peer of either and the longer of the two; a lookup that ran
 * in one family only is that family's. BEP 33's filters of both are OR-ed into one estimate of the
 * swarm's distinct IPs of both families (SwarmScrape.merge).
 */
export function mergeReports(ipv4: ScrapeReport, ipv6: ScrapeReport): ScrapeReport {
  const peers = new Map<string, FoundPeer>();
  for (const peer of [...ipv4.peers, ...ipv6.peers]) {
    const key = `${peer.address}:${peer.port}`;
    const known = peers.get(key);
    if (known === undefined || known.seenBy < peer.seenBy) peers.set(key, peer);
  }
  const firsts = [ipv4.sinceStart.timeToFirstPeerMs, ipv6.sinceStart.timeToFirstPeerMs].filter((t): t is number => t !== null);
  const merged: ScrapeReport = {
    infohash: ipv4.infohash,
    peers: [...peers.values()],
    bootstrap: {
      routersAnswered: ipv4.bootstrap.routersAnswered + ipv6.bootstrap.routersAnswered,
      tableSize: ipv4.bootstrap.tableSize + ipv6.bootstrap.tableSize,
      durationMs: Math.max(ipv4.bootstrap.durationMs, ipv6.bootstrap.durationMs),
      queries: ipv4.bootstrap.queries + ipv6.bootstrap.queries,
      finished: ipv4.bootstrap.finished && ipv6.bootstrap.finished,
    },
    lookup: mergeStats(ipv4.lookup, ipv6.lookup),
    sinceStart: {
      timeToFirstPeerMs: firsts.length === 0 ? null : Math.min(...firsts),
      durationMs: Math.max(ipv4.sinceStart.durationMs, ipv6.sinceStart.durationMs),
    },
    announcedTo: ipv4.announcedTo === undefined && ipv6.announcedTo === undefined ? undefined : (ipv4.announcedTo ?? 0) + (ipv6.announcedTo ?? 0),
  };
  const filters = [ipv4.swarmFilters, ipv6.swarmFilters].filter((f): f is SwarmScrape => f !== undefined);
  if (filters.length > 0) {
    merged.swarmFilters = filters.reduce((all, f) => all.merge(f), new SwarmScrape());
    merged.swarm = merged.swarmFilters.estimate();
  }
  return merged;
}

function mergeStats(a: LookupStats | undefined, b: LookupStats | undefined): LookupStats | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const firsts = [a.timeToFirstItemMs, b.timeToFirstItemMs].filter((t): t is number => t !== null);
  return {
    queries: a.queries + b.queries,
    responses: a.responses + b.responses,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
    nodesContacted: a.nodesContacted + b.nodesContacted,
    routersAsked: a.routersAsked + b.routersAsked,
    routersAnswered: a.routersAnswered + b.routersAnswered,
    closestPrefixBits: Math.max(a.closestPrefixBits, b.closestPrefixBits),
    itemsFound: a.itemsFound + b.itemsFound,
    timeToFirstItemMs: firsts.length === 0 ? null : Math.min(...firsts),
    durationMs: Math.max(a.durationMs, b.durationMs),
    // The IPv4 lookup's reason, unless only the IPv6 one converged.
    ended: a.ended === 'converged' || b.ended !== 'converged' ? a.ended : b.ended,
  };
}
