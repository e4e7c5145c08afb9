/**
 * Scraper mode: find the peers of one torrent. Join the DHT through the bootstrap nodes, then run
 * a get_peers lookup toward the info-hash, reporting each peer once, with how many nodes named it.
 */
import type { PeerInfo } from '../wire/compact.js';
import { idToHex, type NodeId } from '../wire/id.js';
import type { LookupStats } from '../dht/lookup.js';
import type { Candidate } from '../dht/lookup-state.js';
import type { BootstrapResult, DhtNode } from '../dht/node.js';
import { SwarmScrape, type SwarmEstimate } from './swarm-size.js';
import type { Endpoint } from '../net/transport.js';

/** What to scrape, where to join, and the budget. */
export interface ScrapeOptions {
  infoHash: NodeId;
  bootstrap: readonly Endpoint[];
  /** Overall budget for bootstrap and lookup. Default 30 s. */
  timeoutMs?: number;
  /** Also announce ourselves on this port (BEP 5 announce_peer) once the lookup is done. */
  announcePort?: number;
  signal?: AbortSignal;
  /** Lookup parallelism (default 3... as the node's defaults). */
  alpha?: number;
  /** BEP 33: ask for `scrape=1` and estimate the swarm's seeds and leechers from the bloom filters. */
  scrape?: boolean;
}

export interface FoundPeer extends PeerInfo {
  /** How many distinct nodes returned this peer. */
  seenBy: number;
}

/** Reported while a scrape runs: joined, each new peer once, and progress after each lookup event. */
export type ScrapeEvent =
  | { type: 'bootstrapped'; result: BootstrapResult }
  | { type: 'peer'; peer: FoundPeer }
  | { type: 'progress'; queried: number; responses: number; closestPrefixBits: number; peers: number };

/** The scrape's outcome: what the CLI prints, and its --json document is made from. */
export interface ScrapeReport {
  infohash: string;
  peers: FoundPeer[];
  bootstrap: BootstrapResult;
  /** Undefined when no bootstrap node answered and the table was empty: nothing to look up from. */
  lookup: LookupStats | undefined;
  announcedTo: number | undefined;
  /** The BEP 33 estimate, when `scrape` was asked for and a lookup ran. */
  swarm?: SwarmEstimate;
}

/** Run a scrape on an already-bound node. Events arrive through `onEvent` as they happen. */
export async function scrape(node: DhtNode, options: ScrapeOptions, onEvent: (event: ScrapeEvent) => void = () => {}): Promise<ScrapeReport> {
  const started = Date.now();
  const budget = options.timeoutMs ?? 30_000;
  const boot = await node.bootstrap(options.bootstrap, {
    timeoutMs: Math.max(1, Math.min(budget / 2, 10_000)),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  onEvent({ type: 'bootstrapped', result: boot });
  const report: ScrapeReport = { infohash: idToHex(options.infoHash), peers: [], bootstrap: boot, lookup: undefined, announcedTo: undefined };
  if (node.table.size === 0) return report;

  const lookupOptions = {
    timeoutMs: Math.max(1, budget - (Date.now() - started)),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
  };
  const lookup = node.findPeers(options.infoHash, lookupOptions);
  const byAddress = new Map<string, FoundPeer>();
  const sources = new Map<string, Set<string>>();
  let queried = 0;
  let responses = 0;
  let closest = 0;
  for await (const event of lookup) {
    if (event.type === 'query') queried++;
    else if (event.type === 'response') { responses++; closest = Math.max(closest, event.prefixBits); }
    else if (event.type === 'item') {
      const key = `${event.item.address}:${event.item.port}`;
      const from = `${event.from.address}:${event.from.port}`;
      let seenFrom = sources.get(key);
      if (seenFrom === undefined) sources.set(key, (seenFrom = new Set()));
      if (seenFrom.has(from)) continue;
      seenFrom.add(from);
      const known = byAddress.get(key);
      if (known !== undefined) { known.seenBy++; continue; }
      const peer: FoundPeer = { address: event.item.address, port: event.item.port, seenBy: 1 };
      byAddress.set(key, peer);
      onEvent({ type: 'peer', peer });
    }
    if (event.type !== 'item') onEvent({ type: 'progress', queried, responses, closestPrefixBits: closest, peers: byAddress.size });
  }
  const result = await lookup.result;
  report.lookup = result.stats;
  report.peers = [...byAddress.values()];
  if (options.scrape === true) report.swarm = await scrapeClosest(node, options.infoHash, result.closest);
  if (options.announcePort !== undefined) {
    const announced = await node.announceTo(options.infoHash, result.closest, { port: options.announcePort });
    report.announcedTo = announced;
  }
  return report;
}

/**
 * BEP 33: ask the nodes closest to the info-hash (they hold its announces) for their bloom filters.
 * This is a second round after the lookup rather than `scrape=1` on every lookup query, because
 * libtorrent answers a scrape with the filters *instead of* `values`: the lookup must stay a plain
 * get_peers to find the peers themselves.
 */
async function scrapeClosest(node: DhtNode, infoHash: NodeId, closest: readonly Candidate[]): Promise<SwarmEstimate> {
  const swarm = new SwarmScrape();
  await Promise.all(closest.map(async ({ node: to }) => {
    const outcome = await node.query(to, 'get_peers', { id: node.id, info_hash: infoHash, scrape: true });
    if (outcome.kind === 'response') swarm.add(outcome.response.r, to);
  }));
  return swarm.estimate();
}
