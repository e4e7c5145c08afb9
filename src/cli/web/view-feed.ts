/**
 * What the web view shows, as a stream of small JSON events: the routing table (a fresh snapshot
 * whenever it changed), every lookup's queries, replies and items as they happen, and a crawl's
 * progress. Everything comes from the library's public face: RoutingTable's read accessors,
 * DhtNode.onLookup with Lookup.watch, Crawler.progress() and its store. A page that connects late
 * is first sent what it missed (the latest table, the last lookups, the crawl so far).
 */
import { idToHex, sharedPrefixLength } from '../../wire/id.js';
import type { PeerInfo } from '../../wire/compact.js';
import { formatEndpoint } from '../../wire/address.js';
import { safeText } from '../safe-text.js';
import type { DhtNode } from '../../dht/node.js';
import type { Lookup, LookupEvent, LookupMethod } from '../../dht/lookup.js';
import type { FoundInfoHash } from '../../crawl/crawl.js';
import type { InfoHashStore } from '../../crawl/infohash-store.js';
import { tableView, type TableView } from '../../table/routing-table-view.js';

/** What the crawl panel reads: a Crawler, or anything that counts and keeps info-hashes like one. */
export interface CrawlSource {
  progress(): { elapsedMs: number; discovered: number };
  readonly store: Pick<InfoHashStore, 'top' | 'counts'>;
}

/** One step of a lookup, with IDs in hex and shared bits counted against the lookup's target. */
export type LookupStep =
  | { type: 'start'; method: LookupMethod; target: string; label: string }
  | { type: 'query'; to: string; address: string; hop: number; bits: number }
  | { type: 'response'; from: string; hop: number; bits: number; nodes: number; rttMs: number }
  /** No usable answer: a timeout, a KRPC error or a reply that failed its checks. */
  | { type: 'timeout'; node: string; hop: number }
  | { type: 'item'; from: string; peer?: string }
  | { type: 'end'; ended: string; queries: number; responses: number; closestBits: number; items: number };

/** One row of a top list, with its name once BEP 9 metadata resolved it. */
export interface TopEntry { infoHash: string; requests: number; sources: number; name?: string }

export interface CrawlView {
  elapsedMs: number;
  discovered: number;
  /** Info-hashes per second over the last interval. */
  rate: number;
  /** The most requested: info-hashes other nodes asked us about (get_peers, announce_peer). */
  top: TopEntry[];
  /** Seen from the most distinct nodes (sampled or asked about), as the CLI's second list. */
  seen: TopEntry[];
  /** Info-hashes by their first 6 bits (64 slots of the ID space), by how they were learned. */
  space: { sample: number[]; passive: number[] };
  /** Info-hashes each family's DHT named (BEP 32; one named by both counts in both), as the CLI's family line. */
  seenIn: { 4: number; 6: number };
}

export type ViewEvent =
  /**
   * `family`: the address family of the node shown. `notShown`: a dual-stack run's other node
   * (BEP 32: its own DHT, its own table) runs beside it; its table and lookups are not drawn.
   */
  | { kind: 'hello'; title: string; ownId: string; family: 4 | 6; notShown?: 4 | 6 }
  | { kind: 'table'; table: TableView }
  | { kind: 'lookup'; id: number; at: number; step: LookupStep }
  | { kind: 'crawl'; crawl: CrawlView };

export interface ViewFeedOptions {
  title: string;
  /** How often the table and the crawl are looked at. Default 250 ms. */
  intervalMs?: number;
  /** Lookups kept for pages that connect later. Default 20. */
  keepLookups?: number;
  now?: () => number;
}

const SPACE_BITS = 6;
const TOP = 10;

export class ViewFeed {
  private readonly subscribers = new Set<(event: ViewEvent) => void>();
  private hello: ViewEvent | undefined;
  private table: ViewEvent | undefined;
  private crawl: ViewEvent | undefined;
  private readonly lookups = new Map<number, ViewEvent[]>();
  private nextLookup = 1;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribes: (() => void)[] = [];
  private readonly names = new Map<string, string>();
  private readonly space = { sample: new Array<number>(1 << SPACE_BITS).fill(0), passive: new Array<number>(1 << SPACE_BITS).fill(0) };
  private readonly now: () => number;

  constructor(private readonly options: ViewFeedOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Receive every event: first what happened so far, then each new one. Returns the unsubscribe function. */
  subscribe(send: (event: ViewEvent) => void): () => void {
    for (const event of this.history()) send(event);
    this.subscribers.add(send);
    return () => this.subscribers.delete(send);
  }

  /**
   * Show `node`: its table whenever it changes, and every lookup it starts from now on. `beside`:
   * the node of the other family in a dual-stack run, which the page names as not shown.
   */
  watchNode(node: DhtNode, beside?: DhtNode): void {
    this.hello = { kind: 'hello', title: this.options.title, ownId: idToHex(node.id), family: node.family, ...(beside !== undefined ? { notShown: beside.family } : {}) };
    this.publish(this.hello);
    let signature = '';
    const look = (): void => {
      const view = tableView(node.tableReader);
      const next = JSON.stringify(view.buckets.map((b) => [b.contacts.length, b.counts]));
      if (next === signature) return;
      signature = next;
      this.table = { kind: 'table', table: view };
      this.publish(this.table);
    };
    look();
    this.every(look);
    this.unsubscribes.push(node.onLookup((lookup) => this.watchLookup(lookup)));
  }

  /** Show one lookup, step by step, with a label such as "get_peers 3f2a…". */
  watchLookup<M extends LookupMethod, Item>(lookup: Lookup<M, Item>, label?: string): void {
    const id = this.nextLookup++;
    const target = lookup.target;
    const events: ViewEvent[] = [];
    this.lookups.set(id, events);
    for (const old of [...this.lookups.keys()].slice(0, Math.max(0, this.lookups.size - (this.options.keepLookups ?? 20)))) this.lookups.delete(old);
    const add = (step: LookupStep): void => {
      const event: ViewEvent = { kind: 'lookup', id, at: this.now(), step };
      events.push(event);
      this.publish(event);
    };
    const method = lookup.strategy.method;
    add({ type: 'start', method, target: idToHex(target), label: label ?? `${method} ${idToHex(target).slice(0, 8)}…` });
    const stop = lookup.watch((event) => {
      const step = lookupStep(event, target);
      if (step !== undefined) add(step);
    });
    void lookup.result.then(({ stats }) => {
      stop();
      add({ type: 'end', ended: stats.ended, queries: stats.queries, responses: stats.responses, closestBits: stats.closestPrefixBits, items: stats.itemsFound });
    }, () => stop());
  }

  /** Show a crawl: its rate and top list once a second, and where each new info-hash came from. */
  watchCrawler(crawler: CrawlSource): void {
    this.every(this.crawlReporter(crawler), 1_000);
  }

  /**
   * A function that publishes the crawl's picture each time it is called: rate since the last
   * call (by the feed's clock), the top list, the ID-space histogram. watchCrawler calls it on a
   * timer; a caller with its own clock (the docs' seeded screenshot) calls it itself.
   */
  crawlReporter(crawler: CrawlSource): () => void {
    let last = { at: this.now(), discovered: 0 };
    return () => {
      const progress = crawler.progress();
      const at = this.now();
      const rate = at > last.at ? ((progress.discovered - last.discovered) * 1000) / (at - last.at) : 0;
      last = { at, discovered: progress.discovered };
      const top = crawler.store.top(TOP, 'requests').map((entry) => this.topEntry(entry));
      const seen = crawler.store.top(TOP, 'sources').map((entry) => this.topEntry(entry));
      const { seenIn } = crawler.store.counts();
      this.crawl = { kind: 'crawl', crawl: { elapsedMs: progress.elapsedMs, discovered: progress.discovered, rate, top, seen, space: this.space, seenIn } };
      this.publish(this.crawl);
    };
  }

  private topEntry(entry: { infoHash: Uint8Array; requests: number; sources: number }): TopEntry {
    const hex = idToHex(entry.infoHash);
    const name = this.names.get(hex);
    return { infoHash: hex, requests: entry.requests, sources: entry.sources, ...(name !== undefined ? { name } : {}) };
  }

  /**
   * A crawler's onInfoHash: count where in the ID space the node that gave it sits (the sampled
   * node, or the querier). BEP 51 samples are only as spread as the nodes asked, so this shows
   * how evenly the crawl walks the space; passive captures show who happens to query us.
   */
  infoHashFound(found: FoundInfoHash): void {
    const slot = found.fromId[0]! >> (8 - SPACE_BITS);
    this.space[found.source === 'sample' ? 'sample' : 'passive'][slot]!++;
  }

  /** A name resolved for an info-hash (BEP 9): shown in the top lists. */
  named(infoHash: Uint8Array, name: string): void {
    // A name is whatever a peer sent: not a page of text, and no control, bidi or invisible
    // character (`movie\u202egpj.exe` would read "movieexe.jpg" on the page too): see safeText.
    this.names.set(idToHex(infoHash), safeText(name.slice(0, 200)));
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.subscribers.clear();
  }

  private history(): ViewEvent[] {
    const events: ViewEvent[] = [];
    if (this.hello !== undefined) events.push(this.hello);
    if (this.table !== undefined) events.push(this.table);
    for (const lookup of this.lookups.values()) events.push(...lookup);
    if (this.crawl !== undefined) events.push(this.crawl);
    return events;
  }

  private publish(event: ViewEvent): void {
    for (const send of this.subscribers) send(event);
  }

  private every(task: () => void, ms = this.options.intervalMs ?? 250): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/** The step to draw for an event; queries to bootstrap routers (no ID yet) are not drawn. */
function lookupStep(event: LookupEvent<unknown>, target: Uint8Array): LookupStep | undefined {
  switch (event.type) {
    case 'query':
      return { type: 'query', to: idToHex(event.to.id), address: formatEndpoint(event.to), hop: event.hop, bits: event.prefixBits };
    case 'response':
      return { type: 'response', from: idToHex(event.from.id), hop: event.hop, bits: sharedPrefixLength(event.from.id, target), nodes: event.nodes, rttMs: event.rttMs };
    case 'timeout': case 'error': case 'failed':
      return { type: 'timeout', node: idToHex(event.node.id), hop: event.hop };
    case 'router-query': case 'router-failed':
      return undefined;
    case 'item':
      return { type: 'item', from: idToHex(event.from.id), ...(isPeer(event.item) ? { peer: formatEndpoint(event.item) } : {}) };
  }
}

function isPeer(item: unknown): item is PeerInfo {
  return typeof item === 'object' && item !== null && 'address' in item && 'port' in item && !('id' in item);
}
