/**
 * Crawler mode: collect the info-hashes the DHT talks about, two ways at once.
 *
 * Passive: our node is a full DHT node, so other nodes query it. Every get_peers and announce_peer
 * it receives names an info-hash and the node that asked (BEP 5). An announce is evidence of a real
 * torrent; a bare get_peers may not be, since clients also look up random targets to refresh their
 * tables, which on the wire looks exactly like a torrent lookup. The store keeps which kinds named
 * each info-hash, so the two can be told apart afterwards.
 *
 * Active: BEP 51 sample_infohashes asks a node for a random sample of the info-hashes it stores,
 * plus some nodes near a target, plus an `interval` before which it will not give a different
 * sample. Each round (every `roundIntervalMs`, the CLI's --query-interval):
 * - nodes whose interval is over (and nodes never asked) are sampled directly (SampleSchedule);
 * - a few lookups walk toward random targets through the one lookup engine. A node on the way is
 *   asked sample_infohashes if it is due, otherwise find_node, so a walk never re-samples early.
 *   Every third walk is a plain find_node walk. Any query we send makes us known to its receiver
 *   (BEP 5 nodes add queriers to their tables), so walking spreads us into more tables and brings
 *   more passive traffic.
 * The nodes named in every reply join the schedule: the keyspace is walked by following them.
 *
 * Everything is bounded: the store (InfoHashStore.maxEntries), the schedule (maxNodes), direct
 * samples in flight, walks at once, queries per walk, queries per node per minute (QueryBudget);
 * and every packet passes the node's global send rate limit (RpcOptions.sendRate, the CLI's --rate).
 *
 * A good citizen on a small network: once the crawl stops yielding (no new node, no new info-hash
 * for DRY_AFTER_MS), walks back off, one every 2 s, then 4, 8... up to one a minute, until something
 * new turns up. A node that answers find_node but never sample_infohashes counts as without BEP 51
 * after two tries (SampleSchedule.failed), not as silent.
 */
import { formatEndpoint } from '../wire/address.js';
import { familyOf, type NodeInfo } from '../wire/compact.js';
import { idEquals, randomId, sharedPrefixLength, type NodeId } from '../wire/id.js';
import { InfoHashStore, type InfoHashCounts, type SourceKind } from './infohash-store.js';
import { ErrorCode, type Query, type QueryArgsByMethod, type ResponseBody, type SampleInfohashesArgs } from '../wire/krpc.js';
import { EventQueue } from '../dht/event-queue.js';
import { watchStop } from '../dht/stop-reason.js';
import { findNode, sampleInfohashes, type LookupMethod, type QueryFn } from '../dht/lookup.js';
import type { BootstrapResult, DhtNode } from '../dht/node.js';
import type { QueryOptions, QueryOutcome } from '../net/rpc.js';
import { SampleSchedule, type SampleScheduleOptions, type ScheduleStats } from './sample-schedule.js';
import { QueryBudget, type QueryBudgetOptions } from './query-budget.js';
import type { Endpoint } from '../net/transport.js';

export interface CrawlOptions {
  /** Where to join. The crawl ends with `joined: false` if none answers. */
  bootstrap: readonly Endpoint[];
  /** Total run time, joining included. 0 crawls until `signal`. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Time between active rounds. Default 1,000 ms. */
  roundIntervalMs?: number;
  /** sample_infohashes sent straight to due nodes each round. Default 64. */
  samplesPerRound?: number;
  /** Most direct samples awaiting their answer. Default 256. */
  maxInFlight?: number;
  /** Walks (lookups toward random targets) running at once. Default 2. */
  walks?: number;
  /** Queries one walk may send. Default 64. */
  walkMaxQueries?: number;
  /** The info-hash table; pass one filled from a resumed log. Default: a new, empty one. */
  store?: InfoHashStore;
  schedule?: SampleScheduleOptions;
  /** Queries per node per minute (default 20). */
  budget?: QueryBudgetOptions;
  /**
   * Record the targets of strangers' find_node queries as sightings of source 'find_node'. Low
   * confidence: most are node IDs (joins, refreshes), but some clients (rtorrent) look a torrent up
   * with find_node wherever they are not among its closest nodes. Default false.
   */
  captureFindNode?: boolean;
  /** Called for each info-hash the first time it is seen (never for ones already in `store`). */
  onInfoHash?: (found: FoundInfoHash) => void;
  /** Called once joined (some bootstrap node answered), when active crawling starts. */
  onJoined?: (bootstrap: BootstrapResult) => void;
  /** Called once, the first time a new info-hash is refused because the store is full. */
  onStoreFull?: (maxEntries: number) => void;
  /**
   * Contacts of the other address family that replies name (BEP 32 `nodes6` to an IPv4 node, `nodes`
   * to an IPv6 one): our socket cannot reach them, a dual-stack crawl's other crawler can (Crawler.offer).
   */
  onOtherFamily?: (nodes: readonly NodeInfo[]) => void;
  now?: () => number;
}

export interface FoundInfoHash {
  infoHash: NodeId;
  firstSeenMs: number;
  source: SourceKind;
  /** The node that queried us for it, or that sampled it to us. */
  from: Endpoint;
  /** That node's ID, as it gave it (the `id` of its query or of its sample_infohashes reply). */
  fromId: NodeId;
}

export interface CrawlProgress {
  elapsedMs: number;
  /** Info-hashes in the store (resumed ones included). */
  unique: number;
  /** First seen in this run. */
  discovered: number;
  /** Discovered per minute so far. */
  perMinute: number;
  /** Nodes in the sampling schedule. */
  nodesKnown: number;
  tableSize: number;
  queriesIn: number;
  queriesOut: number;
  dropped: number;
}

export interface CrawlReport {
  bootstrap: BootstrapResult | undefined;
  /** False when no bootstrap node answered: nothing was crawled. */
  joined: boolean;
  ended: 'timeout' | 'aborted' | 'no-bootstrap';
  durationMs: number;
  /** Info-hashes first seen in this run, and by which kind. */
  discovered: number;
  discoveredBy: Record<SourceKind, number>;
  /** The whole store (resumed entries included). */
  counts: InfoHashCounts;
  /** Queries received and sent during the crawl, by method. */
  queriesIn: Record<string, number>;
  queriesOut: Record<string, number>;
  /** sample_infohashes answers that carried samples. */
  sampleReplies: number;
  /** Info-hashes those answers carried, repeats included. */
  samplesReceived: number;
  nodes: ScheduleStats;
  walks: number;
  /** The per-node cap, the most queries one node got from us in a minute, and queries held back by the cap. */
  perNode: { capPerMinute: number; peakPerMinute: number; deferred: number };
  /** Walks' spacing when the crawl ended (0: not backed off), and how long nothing new had turned up. */
  backoff: { walkIntervalMs: number; quietForMs: number };
}

/** A walk that has not converged by then is stopped: the keyspace is big, and there are more walks. */
const WALK_TIMEOUT_MS = 15_000;
const SPREAD_EVERY = 3;
/** How long joining may take at most, of the crawl's time (half of it, up to this) ... */
const MAX_BOOTSTRAP_MS = 10_000;
/**
 * ... and at least this long, when the crawl's timeout allows: a router's reply is waited for up
 * to the RPC layer's hard timeout (3 s), and a short crawl on a slow link must still hear it.
 */
const MIN_BOOTSTRAP_MS = 3_000;
/** With no new node or info-hash for this long, the network is covered: walks back off. */
const DRY_AFTER_MS = 10_000;
const FIRST_BACKOFF_MS = 2_000;
/** A find_node target sharing this many leading bits with the querier's ID is a self-lookup (chance 1 in a million otherwise). */
const SELF_LOOKUP_BITS = 20;
const MAX_BACKOFF_MS = 60_000;

export class Crawler {
  readonly store: InfoHashStore;
  readonly schedule: SampleSchedule;
  private readonly now: () => number;
  private readonly halt = new AbortController();
  private startedAt = 0;
  private running = false;
  private stopped = false;
  private directInFlight = 0;
  private activeWalks = 0;
  private walkCount = 0;
  private discovered = 0;
  private readonly discoveredBy: Record<SourceKind, number> = { get_peers: 0, announce_peer: 0, sample: 0, find_node: 0 };
  private readonly budget: QueryBudget;
  /** When a new node or info-hash last turned up. */
  private lastYieldAt = 0;
  /** Walks' spacing once backed off (0 while the crawl yields), and when the next may start. */
  private walkBackoffMs = 0;
  private nextWalkAt = 0;
  private sampleReplies = 0;
  private samplesReceived = 0;
  private storeFullReported = false;
  private baselineIn: Record<string, number> = {};
  private baselineOut: Record<string, number> = {};

  constructor(
    private readonly node: DhtNode,
    private readonly options: CrawlOptions,
  ) {
    this.store = options.store ?? new InfoHashStore();
    this.schedule = new SampleSchedule(options.schedule);
    this.budget = new QueryBudget(options.budget);
    this.now = options.now ?? Date.now;
  }

  /** Join, crawl until the timeout or the signal, and report. Capture starts at once, joining included. */
  async run(): Promise<CrawlReport> {
    if (this.running) throw new Error('a Crawler runs once');
    this.running = true;
    this.startedAt = this.now();
    this.lastYieldAt = this.startedAt;
    ({ queriesIn: this.baselineIn, queriesOut: this.baselineOut } = this.node.counters());
    const unsubscribe = this.node.onIncomingQuery(this.onQuery);
    const ended = this.whenStopped();
    let rounds: NodeJS.Timeout | undefined;
    let bootstrap: BootstrapResult | undefined;
    let joined = false;
    try {
      const timeoutMs = this.options.timeoutMs ?? 60_000;
      bootstrap = await this.node.bootstrap(this.options.bootstrap, {
        timeoutMs: timeoutMs > 0 ? Math.min(MAX_BOOTSTRAP_MS, Math.max(timeoutMs / 2, Math.min(timeoutMs, MIN_BOOTSTRAP_MS))) : MAX_BOOTSTRAP_MS,
        signal: this.halt.signal,
      });
      joined = bootstrap.routersAnswered > 0 || this.node.tableSize > 0;
      if (!joined) this.halt.abort('no-bootstrap');
      else if (!this.halt.signal.aborted) {
        for (const contact of this.node.contacts()) {
          this.learn(contact);
          if (contact.lastResponse > 0) this.schedule.heard(contact);
        }
        this.options.onJoined?.(bootstrap);
        this.round();
        rounds = setInterval(() => this.round(), this.options.roundIntervalMs ?? 1_000);
      }
      const reason = await ended;
      return this.report(bootstrap, joined, reason);
    } finally {
      this.stopped = true;
      clearInterval(rounds);
      this.halt.abort();
      unsubscribe();
    }
  }

  /** The address family of our node: the one DHT this crawler crawls (BEP 32; see dual-stack-crawl.ts). */
  get family(): 4 | 6 {
    return this.node.family;
  }

  /** Live figures for a status line. */
  progress(): CrawlProgress {
    const counters = this.node.counters();
    const elapsedMs = Math.max(0, this.now() - this.startedAt);
    return {
      elapsedMs,
      unique: this.store.size,
      discovered: this.discovered,
      perMinute: elapsedMs > 0 ? (this.discovered * 60_000) / elapsedMs : 0,
      nodesKnown: this.schedule.size,
      tableSize: this.node.tableSize,
      queriesIn: sumCounts(delta(counters.queriesIn, this.baselineIn)),
      queriesOut: sumCounts(delta(counters.queriesOut, this.baselineOut)),
      dropped: this.store.dropped,
    };
  }

  /** Resolves with why the crawl stopped: the timeout, the caller's signal, or a failed join. */
  private whenStopped(): Promise<CrawlReport['ended']> {
    return new Promise((resolve) => {
      const timeoutMs = this.options.timeoutMs ?? 60_000;
      const dispose = watchStop({ timeoutMs: timeoutMs > 0 ? timeoutMs : undefined, signal: this.options.signal }, (reason) => this.halt.abort(reason));
      const finish = (): void => {
        dispose();
        const reason: unknown = this.halt.signal.reason;
        resolve(reason === 'timeout' || reason === 'no-bootstrap' ? reason : 'aborted');
      };
      if (this.halt.signal.aborted) finish();
      else this.halt.signal.addEventListener('abort', finish, { once: true });
    });
  }

  private round(): void {
    if (this.stopped || this.halt.signal.aborted) return;
    const now = this.now();
    this.pace(now);
    while (this.activeWalks < (this.options.walks ?? 2) && now >= this.nextWalkAt) {
      this.startWalk();
      if (this.walkBackoffMs > 0) this.nextWalkAt = now + this.walkBackoffMs;
    }
    const room = (this.options.maxInFlight ?? 256) - this.directInFlight;
    const due = this.schedule.take(Math.min(this.options.samplesPerRound ?? 64, room), now);
    for (const node of due) {
      const key = formatEndpoint(node);
      if (!this.budget.take(key, now)) { this.schedule.release(node, now, this.budget.nextAt(key, now)); continue; }
      this.directInFlight++;
      void this.sample(node, randomId(), {}).finally(() => { this.directInFlight--; });
    }
  }

  /**
   * Back off while the crawl yields nothing new: each walk started then doubles the spacing of the
   * next (FIRST_BACKOFF_MS up to MAX_BACKOFF_MS); anything new restores full speed.
   */
  private pace(now: number): void {
    if (now - this.lastYieldAt < DRY_AFTER_MS) {
      this.walkBackoffMs = 0;
      this.nextWalkAt = 0;
    } else if (now >= this.nextWalkAt) {
      this.walkBackoffMs = this.walkBackoffMs === 0 ? FIRST_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, this.walkBackoffMs * 2);
    }
  }

  private startWalk(): void {
    const spread = ++this.walkCount % SPREAD_EVERY === 0;
    const options = {
      signal: this.halt.signal,
      maxQueries: this.options.walkMaxQueries ?? 64,
      timeoutMs: WALK_TIMEOUT_MS,
      query: this.walkQuery,
    };
    const target = randomId();
    const lookup = spread ? this.node.lookup(target, findNode, options) : this.node.lookup(target, sampleInfohashes, options);
    this.activeWalks++;
    void lookup.result.then(() => { this.activeWalks--; });
  }

  /**
   * How walks send their queries: sample_infohashes only to nodes that are due; find_node with the
   * same target to the others (both answers carry the `nodes` a walk needs to go on).
   */
  private readonly walkQuery: QueryFn = <M extends LookupMethod>(
    to: NodeInfo,
    method: M,
    args: QueryArgsByMethod[M],
    options: QueryOptions,
  ): Promise<QueryOutcome> => {
    if (!this.budget.take(formatEndpoint(to), this.now())) return Promise.resolve({ kind: 'failed', reason: 'per-node query budget spent' });
    if (method === 'sample_infohashes') {
      const { target } = args as SampleInfohashesArgs;
      if (!idEquals(to.id, this.node.id) && this.schedule.claim(to, this.now())) return this.sample(to, target, options);
      return this.observe(to, this.node.query(to, 'find_node', { id: this.node.id, target }, { ...options, named: true }));
    }
    return this.observe(to, this.node.query(to, method, args, { ...options, named: true }));
  };

  private async observe(to: NodeInfo, query: Promise<QueryOutcome>): Promise<QueryOutcome> {
    const outcome = await query;
    if (outcome.kind === 'response' && !this.stopped) {
      this.learn(to);
      this.schedule.heard(to);
      this.learnNodes(outcome.response.r);
    }
    return outcome;
  }

  /** Ask one claimed node for a sample, and put it back in the schedule by what came of it. */
  private async sample(to: NodeInfo, target: NodeId, options: QueryOptions): Promise<QueryOutcome> {
    const outcome = await this.node.query(to, 'sample_infohashes', { id: this.node.id, target }, { ...options, named: true });
    if (this.stopped) return outcome;
    const now = this.now();
    switch (outcome.kind) {
      case 'response': {
        const body = outcome.response.r;
        this.schedule.heard(to);
        this.learnNodes(body);
        if (body.samples === undefined) { this.schedule.unsupported(to, now); break; }
        this.sampleReplies++;
        this.samplesReceived += body.samples.length;
        for (const infoHash of body.samples) this.sighting(infoHash, 'sample', to, body.id);
        this.schedule.answered(to, body.interval, now);
        break;
      }
      case 'error':
        if (outcome.error.e.code === ErrorCode.MethodUnknown) this.schedule.unsupported(to, now);
        else this.schedule.failed(to, now);
        break;
      case 'timeout':
        this.schedule.failed(to, now);
        break;
      case 'failed':
        this.schedule.release(to, now);
        break;
    }
    return outcome;
  }

  /** Passive capture: every valid query our node received (it has answered it already). */
  private readonly onQuery = (query: Query, from: Endpoint): void => {
    if (this.stopped) return;
    if (query.q === 'get_peers' || query.q === 'announce_peer') this.sighting(query.a.info_hash, query.q, from, query.a.id);
    else if (query.q === 'find_node' && this.options.captureFindNode === true && sharedPrefixLength(query.a.target, query.a.id) < SELF_LOOKUP_BITS) {
      // A target next to the querier's own ID is it joining (BEP 5 "find_node for its own ID"), not a torrent.
      this.sighting(query.a.target, 'find_node', from, query.a.id);
    }
    // A querier is a live node; a read-only one (BEP 43) asked not to be treated as one.
    if (query.ro !== true) this.learn({ id: query.a.id, address: from.address, port: from.port });
  };

  private sighting(infoHash: Uint8Array, source: SourceKind, from: Endpoint, fromId: NodeId): void {
    const now = this.now();
    const outcome = this.store.record(infoHash, source, from.address, now);
    if (outcome === 'new') {
      this.lastYieldAt = now;
      this.discovered++;
      this.discoveredBy[source]++;
      this.options.onInfoHash?.({ infoHash: infoHash.slice(), firstSeenMs: now, source, from: { address: from.address, port: from.port }, fromId: fromId.slice() });
    } else if (outcome === 'dropped' && !this.storeFullReported) {
      this.storeFullReported = true;
      this.options.onStoreFull?.(this.store.maxEntries);
    }
  }

  private learn(node: NodeInfo): void {
    if (!idEquals(node.id, this.node.id) && this.schedule.add(node)) this.lastYieldAt = this.now();
  }

  /** Nodes a reply names: ours to schedule if our socket's family can reach them (BEP 32), else offered on. */
  private learnNodes(body: ResponseBody): void {
    const [own, other] = this.node.family === 6 ? [body.nodes6, body.nodes] : [body.nodes, body.nodes6];
    for (const node of own ?? []) this.learn(node);
    if (other !== undefined && other.length > 0) this.options.onOtherFamily?.(other);
  }

  /** Schedule nodes learned elsewhere (a dual-stack crawl's other crawler, see onOtherFamily), those of our family. */
  offer(nodes: readonly NodeInfo[]): void {
    if (this.stopped) return;
    for (const node of nodes) if (familyOf(node.address) === this.node.family) this.learn(node);
  }

  private report(bootstrap: BootstrapResult | undefined, joined: boolean, ended: CrawlReport['ended']): CrawlReport {
    const counters = this.node.counters();
    return {
      bootstrap,
      joined,
      ended,
      durationMs: this.now() - this.startedAt,
      discovered: this.discovered,
      discoveredBy: { ...this.discoveredBy },
      counts: this.store.counts(),
      queriesIn: delta(counters.queriesIn, this.baselineIn),
      queriesOut: delta(counters.queriesOut, this.baselineOut),
      sampleReplies: this.sampleReplies,
      samplesReceived: this.samplesReceived,
      nodes: this.schedule.stats(),
      walks: this.walkCount,
      perNode: { capPerMinute: this.budget.perMinute, peakPerMinute: this.budget.peak, deferred: this.budget.denied },
      backoff: { walkIntervalMs: this.walkBackoffMs, quietForMs: Math.max(0, this.now() - this.lastYieldAt) },
    };
  }
}

function delta(current: Record<string, number>, baseline: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [method, count] of Object.entries(current)) {
    const value = count - (baseline[method] ?? 0);
    if (value > 0) out[method] = value;
  }
  return out;
}

export function sumCounts(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** A crawl consumed as a stream of first sightings; `result` is the report once it ends. */
export interface CrawlRun extends AsyncIterable<FoundInfoHash> {
  readonly result: Promise<CrawlReport>;
  /** Stop crawling (as the signal would); iteration ends once the report is ready. */
  stop(): void;
}

/** First sightings kept for a consumer that reads slower than the crawl finds; beyond, the oldest go. */
const STREAM_BUFFER = 100_000;

/**
 * Crawl and read the info-hashes as they are first seen: `for await (const found of crawl(node,
 * { bootstrap }))`. Leaving the loop early stops the crawl. The store keeps every info-hash
 * whatever the reader does; only the stream's buffer of sightings is bounded.
 */
export function crawl(node: DhtNode, options: Omit<CrawlOptions, 'onInfoHash' | 'signal'> & { signal?: AbortSignal }): CrawlRun {
  const stopper = new AbortController();
  const stop = (): void => stopper.abort();
  const unfollow = watchStop({ timeoutMs: undefined, signal: options.signal }, stop);
  const found = new EventQueue<FoundInfoHash>(STREAM_BUFFER);
  const crawler = new Crawler(node, {
    ...options,
    signal: stopper.signal,
    onInfoHash: (sighting) => found.push(sighting),
  });
  const result = crawler.run().finally(() => {
    unfollow();
    found.close();
  });
  return {
    result,
    stop,
    async *[Symbol.asyncIterator]() {
      try {
        yield* found;
      } finally {
        stop();
      }
    },
  };
}
