/**
 * The one iterative lookup engine, driven over the network. It asks the closest candidates,
 * learns closer nodes from each reply, and stops by the rule in LookupState. What is asked and
 * what is kept from each reply is a small strategy: find_node (nodes only), get_peers (peers and
 * announce tokens), sample_infohashes (BEP 51 samples). Bootstrap, refresh, scrape, announce and
 * the crawler's keyspace walk are all this one loop.
 */
import { EventQueue } from './event-queue.js';
import { watchStop } from './stop-reason.js';
import type { NodeInfo, PeerInfo } from '../wire/compact.js';
import { sharedPrefixLength, type NodeId } from '../wire/id.js';
import type { QueryArgsByMethod, ResponseBody } from '../wire/krpc.js';
import { LookupState, type Candidate, type LookupStateOptions } from './lookup-state.js';
import type { QueryOptions, QueryOutcome } from '../net/rpc.js';
import type { Endpoint } from '../net/transport.js';

/** The queries a lookup can be made of: each one's reply carries closer `nodes` (BEP 5, BEP 44, BEP 51). */
export type LookupMethod = 'find_node' | 'get_peers' | 'sample_infohashes' | 'get';

/** What one kind of lookup asks and keeps. */
export interface LookupStrategy<M extends LookupMethod, Item> {
  readonly method: M;
  /** The query's arguments (`a`) for our ID and the lookup's target. */
  args(ownId: NodeId, target: NodeId): QueryArgsByMethod[M];
  /** What this reply yields besides closer nodes (peers, samples...). */
  collect(body: ResponseBody, from: NodeInfo): Item[];
  /** The reply's token to remember for later (announce_peer needs the get_peers token). */
  token?(body: ResponseBody): Uint8Array | undefined;
}

/** One query of a lookup method to `to`, and its outcome. */
type QueryTo<To> = <M extends LookupMethod>(to: To, method: M, args: QueryArgsByMethod[M], options: QueryOptions) => Promise<QueryOutcome>;

/** How the engine reaches the network: the node supplies this, and records outcomes in its table. */
export type QueryFn = QueryTo<NodeInfo>;

/** How a query reaches an address whose node ID we do not know yet: a bootstrap router. */
export type EndpointQueryFn = QueryTo<Endpoint>;

/**
 * What a lookup reports as it goes, in order: a query sent to a node (`hop`: how many replies led
 * to it, 0 for a seed; `prefixBits`: leading bits it shares with the target), that node's response
 * (with how many nodes it named), its timeout, its error reply, or a query that could not be sent,
 * and each item the strategy kept from a response (a peer for get_peers, a sample for
 * sample_infohashes), right after that response. A router (an address without a known ID) has
 * `router-query` and, if it stays silent or refuses, `router-failed`; its answer is a `response`
 * with the ID it gave, at hop 0.
 */
export type LookupEvent<Item> =
  | { type: 'query'; to: NodeInfo; hop: number; prefixBits: number }
  | { type: 'router-query'; to: Endpoint }
  | { type: 'response'; from: NodeInfo; hop: number; prefixBits: number; nodes: number; rttMs: number }
  | { type: 'timeout'; node: NodeInfo; hop: number }
  | { type: 'error'; node: NodeInfo; hop: number; code: number; message: string }
  | { type: 'failed'; node: NodeInfo; hop: number; reason: string }
  | { type: 'router-failed'; to: Endpoint; outcome: 'timeout' | 'error' | 'failed' }
  | { type: 'item'; item: Item; from: NodeInfo };

/** A finished lookup in numbers: what `lookup.result` resolves with, and the CLI summary prints. */
export interface LookupStats {
  queries: number;
  responses: number;
  errors: number;
  timeouts: number;
  /** Distinct nodes we sent a query to (routers included). */
  nodesContacted: number;
  /** Routers (addresses without a known ID, LookupRouters) asked, and how many of them answered. */
  routersAsked: number;
  routersAnswered: number;
  /** Most leading bits any responder shared with the target. */
  closestPrefixBits: number;
  itemsFound: number;
  /** Milliseconds from start to the first item, or null if none came. */
  timeToFirstItemMs: number | null;
  durationMs: number;
  /** Why it stopped. */
  ended: 'converged' | 'exhausted' | 'timeout' | 'aborted' | 'query-cap';
}

/** Options of one lookup; `DhtNodeOptions.lookup` sets the defaults for a node's lookups. */
export interface LookupOptions extends LookupStateOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Stop after this many queries, whatever happens. Default 1,000. */
  maxQueries?: number;
  /** Stop the lookup when this aborts; it then ends with `ended: 'aborted'`. */
  signal?: AbortSignal;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /**
   * BEP 32: the address family of the socket the queries go out on. A reply may name contacts of
   * both families (`nodes` and `nodes6`, when asked with `want`); only this family's can be reached,
   * so only they become candidates. Unset: both lists (DhtNode always sets it).
   */
  family?: 4 | 6;
  /**
   * More candidates for a lookup that has fewer than k answers and nothing left to ask (about to
   * end, or waiting only for queries past their soft timeout): DhtNode hands its routing table's
   * closest nodes to the target. A cold scrape looks up while it joins: it started from an empty
   * table, which the join fills while the lookup may follow referrals into dead nodes (on the
   * `internet` local network, a router named 8 contacts toward a target, all dead, and the lookup
   * waited out their hard timeouts and ended "exhausted" after 10 queries). Each node is offered
   * once, so this ends when the table has nothing new.
   */
  reseed?: () => readonly NodeInfo[];
  /**
   * Be told when the reseed source may have learned nodes (DhtNode: a reply reached its table);
   * returns the unsubscribe function. A lookup listens until k nodes have answered it: when it is
   * stalled (see `onStalled`), what the table learns meanwhile (from the find_node lookups a scrape
   * then starts elsewhere) is asked at once, not after the dead queries' hard timeouts.
   */
  watchReseed?: (changed: () => void) => () => void;
  /**
   * Called once, the first time the lookup is stalled (only queries past their soft timeout out,
   * fewer than k answers) with nothing new from its reseed source: it would otherwise wait out the
   * hard timeouts of nodes that are most likely dead. A scrape then looks elsewhere at once
   * (scrape.ts), and what that teaches the table reaches this lookup through `watchReseed`.
   */
  onStalled?: () => void;
}

/** The contacts a reply names that a socket of `family` can reach (see LookupOptions.family). */
export function reachableNodes(body: ResponseBody, family: 4 | 6 | undefined): NodeInfo[] {
  if (family === 4) return body.nodes ?? [];
  if (family === 6) return body.nodes6 ?? [];
  return [...(body.nodes ?? []), ...(body.nodes6 ?? [])];
}

/**
 * Addresses to ask at once, before any candidate, whose IDs we do not know: the bootstrap routers
 * of a fresh process (a node known with its ID is a candidate instead). libtorrent asks its routers the lookup's own query in the
 * same way (a router's get_peers reply carries nodes close to the target, and maybe peers), so a
 * cold scrape starts asking in its first event-loop turn instead of after joining.
 */
export interface LookupRouters {
  endpoints: readonly Endpoint[];
  /**
   * Routers whose addresses were not known when the lookup started: a host name being resolved
   * yields its addresses here. Each is asked the moment its addresses come, so a slow name (a DNS
   * lookup can take seconds) holds up nothing already known; until they have all come, a lookup
   * with fewer than k answers waits for them rather than end "exhausted".
   */
  later?: readonly Promise<readonly Endpoint[]>[];
  query: EndpointQueryFn;
}

/** How a lookup ended, and the nodes it converged on. */
export interface LookupResult {
  stats: LookupStats;
  /** The k closest nodes that answered, closest first, with their tokens. */
  closest: Candidate[];
}

/**
 * One lookup in progress. Iterate it (`for await`) to receive events as they happen; `result`
 * resolves when it ends either way. It starts at once, so events are buffered until read.
 */
export class Lookup<M extends LookupMethod, Item> implements AsyncIterable<LookupEvent<Item>> {
  readonly state: LookupState;
  readonly result: Promise<LookupResult>;
  private readonly events = new EventQueue<LookupEvent<Item>>();
  private readonly watchers = new Set<(event: LookupEvent<Item>) => void>();
  /** The events of the turn the lookup was made in (its first queries), for watchers that come right after. */
  private firstTurn: LookupEvent<Item>[] | undefined = [];
  private finished = false;
  private readonly stats: LookupStats;
  private readonly contacted = new Set<NodeInfo>();
  private readonly now: () => number;
  private readonly startedAt: number;
  private wakeRun: () => void = () => {};
  /**
   * Per router, its queries still within their soft timeout, each as the way to stop waiting for
   * it: the lookup is not over while one may answer, and a router answered another way
   * (sharedRouterQuery) is waited for no more.
   */
  private readonly routerWaits = new Map<string, Set<() => void>>();
  private readonly routersAnswered = new Set<string>();
  /** Routers' addresses still to come (LookupRouters.later). */
  private routersToCome = 0;
  /** find_node follow-ups still out (see askForNodes): the lookup waits for them before it ends. */
  private followUps = 0;
  /** LookupOptions.onStalled, until it is called. */
  private onStalled: (() => void) | undefined;
  /** Stops listening to the reseed source (LookupOptions.watchReseed): once k nodes have answered, or at the end. */
  private unwatchReseed: () => void = () => {};
  /** A wake for the reseed source's news is already due this turn. */
  private wakeDue = false;

  constructor(
    private readonly ownId: NodeId,
    readonly target: NodeId,
    readonly strategy: LookupStrategy<M, Item>,
    seeds: readonly NodeInfo[],
    private readonly query: QueryFn,
    private readonly options: LookupOptions = {},
    private readonly routers?: LookupRouters,
  ) {
    this.state = new LookupState(target, { ...options, self: ownId });
    this.state.add(seeds, 0);
    this.stats = {
      queries: 0, responses: 0, errors: 0, timeouts: 0, nodesContacted: 0, routersAsked: 0, routersAnswered: 0, closestPrefixBits: 0,
      itemsFound: 0, timeToFirstItemMs: null, durationMs: 0, ended: 'exhausted',
    };
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.onStalled = options.onStalled;
    if (options.reseed !== undefined && options.watchReseed !== undefined) this.unwatchReseed = options.watchReseed(() => this.heardOfNodes());
    this.result = this.run();
    queueMicrotask(() => { this.firstTurn = undefined; });
  }

  private async run(): Promise<LookupResult> {
    const maxQueries = this.options.maxQueries ?? 1_000;
    const { signal } = this.options;
    let ended: LookupStats['ended'] | undefined;
    const stop = (reason: LookupStats['ended']): void => { ended ??= reason; this.wakeRun(); };
    const stopWatch = watchStop({ timeoutMs: this.options.timeoutMs ?? 30_000, signal, unref: true }, stop);
    for (const router of this.routers?.endpoints ?? []) {
      if (ended !== undefined || this.stats.queries >= maxQueries) break;
      void this.askRouter(router);
    }
    for (const later of this.routers?.later ?? []) this.askWhenKnown(later);

    while (ended === undefined) {
      for (const candidate of this.state.next()) {
        if (this.stats.queries >= maxQueries) { ended = 'query-cap'; break; }
        void this.ask(candidate);
      }
      if (ended !== undefined) break;
      if (this.state.done && this.routersWaiting === 0 && this.followUps === 0) {
        if (this.state.responderCount >= this.state.k) { ended = 'converged'; break; }
        if (this.reseeded() > 0) continue;
        if (this.routersToCome === 0) { ended = 'exhausted'; break; }
      }
      // Only slow queries out, fewer than k answers: the table may know better than to wait (reseed).
      if (this.state.stalled && this.routersWaiting === 0 && this.followUps === 0) {
        if (this.reseeded() > 0) continue;
        if (this.routersToCome === 0) this.noteStalled();
      }
      // Sleep until a reply, a soft timeout or a stop signal changes something, then look again.
      await new Promise<void>((resolve) => { this.wakeRun = resolve; });
    }
    stopWatch();
    this.unwatchReseed();
    this.stats.ended = ended;
    // Queries still unanswered past their soft timeout when the lookup ends count as timed out.
    this.stats.timeouts += this.state.snapshot().filter((c) => c.state === 'slow').length;
    this.stats.durationMs = this.now() - this.startedAt;
    this.stats.nodesContacted += this.contacted.size;
    this.finish();
    return { stats: { ...this.stats }, closest: this.state.closestResponders() };
  }

  /**
   * A router whose addresses come later (LookupRouters.later): asked as soon as they do, unless the
   * lookup is over or one of them was asked already (a name may resolve to an address also given as an IP literal).
   */
  private askWhenKnown(later: Promise<readonly Endpoint[]>): void {
    this.routersToCome++;
    const known = (endpoints: readonly Endpoint[]): void => {
      this.routersToCome--;
      for (const router of endpoints) {
        if (this.finished || this.stats.queries >= (this.options.maxQueries ?? 1_000)) break;
        if (!this.routerWaits.has(`${router.address}:${router.port}`)) void this.askRouter(router);
      }
      this.wakeRun();
    };
    later.then(known, () => known([]));
  }

  private get routersWaiting(): number {
    let waiting = 0;
    for (const waits of this.routerWaits.values()) waiting += waits.size;
    return waiting;
  }

  private noteStalled(): void {
    const onStalled = this.onStalled;
    this.onStalled = undefined;
    onStalled?.();
  }

  /**
   * The reseed source learned nodes: a stalled lookup looks again (it reseeds); one that is not has
   * no use for the news, and takes the table's nodes when it stalls. A turn later: the news may be
   * the reply to one of this lookup's own queries, which must first be recorded as that node's
   * answer, with its referrals at their hop, rather than taken back from the table as seeds.
   */
  private heardOfNodes(): void {
    // One wake per turn, however many replies reach a busy table (a crawler's) in it.
    if (this.wakeDue || !this.state.stalled) return;
    this.wakeDue = true;
    setImmediate(() => { this.wakeDue = false; this.wakeRun(); });
  }

  /** Offers the reseed source's nodes as new seeds (hop 0); returns how many the lookup did not know. */
  private reseeded(): number {
    const more = this.options.reseed?.() ?? [];
    return more.length === 0 ? 0 : this.state.add(more, 0);
  }

  private async ask(candidate: Candidate): Promise<void> {
    const { node, hop, prefixBits } = candidate;
    this.stats.queries++;
    this.contacted.add(node);
    this.emit({ type: 'query', to: node, hop, prefixBits });
    const outcome = await this.query(node, this.strategy.method, this.strategy.args(this.ownId, this.target), {
      onSoftTimeout: () => { this.state.markSlow(node.id); this.wakeRun(); },
      named: true,
    });
    if (!this.finished) this.record(candidate, outcome);
    this.wakeRun();
  }

  /**
   * Ask a router (no ID known) the lookup's own query. Its soft timeout frees the lookup from
   * waiting for it, and while no node at all has answered, asks it again (ROUTER_TRIES in all): a
   * lost datagram must not end a cold lookup that has nothing else to ask. A late reply is still
   * used while the lookup runs.
   */
  private async askRouter(router: Endpoint, attempt = 1): Promise<void> {
    this.stats.queries++;
    if (attempt === 1) {
      this.stats.nodesContacted++;
      this.stats.routersAsked++;
    }
    this.emit({ type: 'router-query', to: router });
    const key = `${router.address}:${router.port}`;
    const waits = this.routerWaits.get(key) ?? new Set<() => void>();
    this.routerWaits.set(key, waits);
    const stopWaiting = (): void => {
      if (waits.delete(stopWaiting)) this.wakeRun();
    };
    waits.add(stopWaiting);
    const onSoftTimeout = (): void => {
      const alone = this.state.responderCount === 0 && !this.finished;
      if (alone && attempt < ROUTER_TRIES && this.stats.queries < (this.options.maxQueries ?? 1_000)) void this.askRouter(router, attempt + 1);
      stopWaiting();
    };
    const args = this.strategy.args(this.ownId, this.target);
    const outcome = await this.routers!.query(router, this.strategy.method, args, { onSoftTimeout });
    if (!this.finished) this.recordRouter(router, outcome);
    stopWaiting();
    // A reply that comes after the router was asked again is news too: wake the loop even though
    // this attempt stopped being waited for at its soft timeout.
    this.wakeRun();
  }

  /**
   * This lookup's own query, sent to a router by someone else: the join running alongside a scrape
   * (BootstrapOptions.alongside). It counts as one of our queries (on the wire it asks for our
   * target), and its reply is used as the lookup's own router reply would be, if that has not come;
   * a failure is the other asker's, and tells the lookup nothing.
   */
  sharedRouterQuery(router: Endpoint, outcome: Promise<QueryOutcome>): void {
    if (this.finished) return;
    this.stats.queries++;
    void outcome.then((o) => {
      if (this.finished || o.kind !== 'response') return;
      this.recordRouter(router, o);
      this.wakeRun();
    });
  }

  /** A router that answered is a node like any other from now on: it joins the candidates as a responder. */
  private recordRouter(router: Endpoint, outcome: QueryOutcome): void {
    const key = `${router.address}:${router.port}`;
    if (this.routersAnswered.has(key)) return;
    if (outcome.kind !== 'response') {
      if (outcome.kind === 'timeout') this.stats.timeouts++;
      else if (outcome.kind === 'error') this.stats.errors++;
      this.emit({ type: 'router-failed', to: router, outcome: outcome.kind });
      return;
    }
    this.routersAnswered.add(key);
    this.stats.routersAnswered++;
    // Answered: a query of ours to it still out is no longer worth waiting for.
    for (const stop of [...(this.routerWaits.get(key) ?? [])]) stop();
    const node: NodeInfo = { id: outcome.response.r.id, address: router.address, port: router.port };
    this.state.add([node], 0);
    this.record({ node, state: 'active', hop: 0, prefixBits: sharedPrefixLength(node.id, this.target) }, outcome);
  }

  private record({ node, hop, prefixBits }: Candidate, outcome: QueryOutcome): void {
    if (outcome.kind !== 'response') {
      this.state.markFailed(node.id);
      if (outcome.kind === 'timeout') {
        this.stats.timeouts++;
        this.emit({ type: 'timeout', node, hop });
      } else if (outcome.kind === 'error') {
        this.stats.errors++;
        const [code, message] = [outcome.error.e.code, outcome.error.e.message];
        this.emit({ type: 'error', node, hop, code, message });
      } else {
        this.emit({ type: 'failed', node, hop, reason: outcome.reason });
      }
      return;
    }
    const body = outcome.response.r;
    this.stats.responses++;
    this.state.markResponded(node.id, this.strategy.token?.(body));
    if (this.state.responderCount >= this.state.k) this.unwatchReseed();
    this.stats.closestPrefixBits = Math.max(this.stats.closestPrefixBits, prefixBits);
    const nodes = reachableNodes(body, this.options.family);
    this.state.add(nodes, hop + 1, node.id);
    if (nodes.length === 0 && (body.values?.length ?? 0) > 0) this.askForNodes(node, hop);
    this.emit({ type: 'response', from: node, hop, prefixBits, nodes: nodes.length, rttMs: outcome.rttMs });
    for (const item of this.strategy.collect(body, node)) {
      this.stats.timeToFirstItemMs ??= this.now() - this.startedAt;
      this.stats.itemsFound++;
      this.emit({ type: 'item', item, from: node });
    }
  }

  /**
   * BEP 5 lets a get_peers reply carry `values` *instead of* `nodes` ("If the queried node has no
   * peers for the infohash, a key "nodes" is returned"), and bittorrent-dht does exactly that. The
   * nodes holding a torrent's peers are the ones nearest to it, so a lookup that learned nothing
   * from them would miss their neighbours, and announce to farther nodes. One find_node for the
   * same target asks such a node for the neighbours it did not name; the lookup waits for it.
   */
  private askForNodes(node: NodeInfo, hop: number): void {
    if (this.stats.queries >= (this.options.maxQueries ?? 1_000)) return;
    this.stats.queries++;
    this.followUps++;
    void this.query(node, 'find_node', { id: this.ownId, target: this.target }, { named: true }).then((outcome) => {
      this.followUps--;
      if (!this.finished && outcome.kind === 'response') {
        const body = outcome.response.r;
        this.state.add(reachableNodes(body, this.options.family), hop + 1, node.id);
      }
      this.wakeRun();
    });
  }

  private emit(event: LookupEvent<Item>): void {
    if (this.finished) return;
    this.events.push(event);
    this.firstTurn?.push(event);
    for (const watcher of this.watchers) watcher(event);
  }

  /**
   * Be told of every event as it happens, besides the one reader of the iterator: an observer such
   * as the CLI's web view watches a lookup that a scrape or a crawl is reading. Returns the
   * unsubscribe function; `result` says when the lookup is over. The first queries go out as the
   * lookup is made, so a watcher that comes in the same turn (DhtNode.onLookup) is handed them first.
   */
  watch(watcher: (event: LookupEvent<Item>) => void): () => void {
    for (const event of this.firstTurn ?? []) watcher(event);
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private finish(): void {
    this.finished = true;
    this.events.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<LookupEvent<Item>> {
    return this.events[Symbol.asyncIterator]();
  }
}

/** Queries to one router while nobody has answered yet (bootstrap.ts asks its routers as often). */
const ROUTER_TRIES = 3;

/** BEP 5 find_node: only closer nodes are wanted. Used for bootstrap and bucket refresh. */
export const findNode: LookupStrategy<'find_node', never> = {
  method: 'find_node',
  args: (id, target) => ({ id, target }),
  collect: () => [],
};

/** BEP 5 get_peers: peers (`values`) and the token that lets us announce to this node later. */
export function getPeers(options: { scrape?: boolean; noseed?: boolean } = {}): LookupStrategy<'get_peers', PeerInfo> {
  return {
    method: 'get_peers',
    args: (id, infoHash) => ({
      id,
      info_hash: infoHash,
      ...(options.scrape ? { scrape: true } : {}),
      ...(options.noseed ? { noseed: true } : {}),
    }),
    collect: (body) => body.values ?? [],
    token: (body) => body.token,
  };
}

/** BEP 51 sample_infohashes: each reply carries up to ~20 info-hashes the node stores. */
export interface Sample {
  infoHashes: Uint8Array[];
  /** Seconds the node asks us to wait before sampling it again. */
  interval: number | undefined;
  /** How many info-hashes the node says it holds. */
  num: number | undefined;
}
/** BEP 51 sample_infohashes: walks toward `target` like find_node, keeping each reply's samples. */
export const sampleInfohashes: LookupStrategy<'sample_infohashes', Sample> = {
  method: 'sample_infohashes',
  args: (id, target) => ({ id, target }),
  collect: (body) => (body.samples === undefined ? [] : [{ infoHashes: body.samples, interval: body.interval, num: body.num }]),
};
