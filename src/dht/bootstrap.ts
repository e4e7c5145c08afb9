/**
 * Joining the network (BEP 5, "Routing Table"): ask the bootstrap routers for nodes near our own
 * ID, run the find_node lookup for our ID, and fill the far buckets of the extended table
 * alongside it. Everything here works through the node's public face (JoiningNode), so the node
 * itself keeps to answering queries and keeping its table.
 */
import type { NodeInfo } from '../wire/compact.js';
import { idEquals, type NodeId } from '../wire/id.js';
import type { QueryArgsByMethod } from '../wire/krpc.js';
import { TokenBucket } from '../net/rate-limit.js';
import type { QueryOptions, QueryOutcome } from '../net/rpc.js';
import type { Endpoint } from '../net/transport.js';
import type { RoutingTable } from '../table/routing-table.js';
import { findNode, reachableNodes, type Lookup, type LookupMethod, type LookupOptions, type QueryFn } from './lookup.js';

/** What joining needs of a node: its ID, table, clock and send budget, and a way to query and look up. */
export interface JoiningNode {
  readonly id: NodeId;
  /** Our socket's address family: the routers' replies seed the join with contacts of it only (BEP 32). */
  readonly family: 4 | 6;
  readonly table: RoutingTable;
  closed(): boolean;
  /** The RPC layer's send rate and burst (RpcOptions.sendRate, sendBurst). */
  readonly sendBudget: { rate: number; burst: number };
  /** The RPC layer's hard timeout (RpcOptions.hardTimeoutMs): how long a router's reply is waited for at most. */
  readonly hardTimeoutMs: number;
  now(): number;
  query<M extends keyof QueryArgsByMethod>(to: NodeInfo | Endpoint, method: M, args: QueryArgsByMethod[M], options?: QueryOptions): Promise<QueryOutcome>;
  lookup(target: NodeId, strategy: typeof findNode, options: LookupOptions & { seeds?: readonly NodeInfo[]; query?: QueryFn }): Lookup<'find_node', never>;
}

/** How to join: a time budget for all of it, a way to stop it, and whether to fill the far buckets. */
export interface BootstrapOptions {
  /** For the whole join. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Alongside the lookup for our own ID, ask for nodes in the table's gaps (see fillTable). Default true. */
  fillTable?: boolean;
  /**
   * 'low': every query of the join waits behind everything else we send (QueryOptions.priority),
   * and the join starts one event-loop turn later. A scrape joins this way alongside its lookup,
   * which must never wait for the join: in a fresh process the join's first run of its own code
   * takes about 2 ms, all of it after the lookup's first turn.
   */
  priority?: 'low';
  /**
   * A lookup this join runs beside (a scrape's). The join asks its routers that lookup's own query
   * instead of find_node for our ID, and hands each to the lookup (Lookup.sharedRouterQuery). A
   * router's get_peers reply names nodes as a find_node reply does, so the join seeds from it all
   * the same; and when the lookup's own router query or its reply is lost, the lookup goes on from
   * the join's reply instead of waiting a soft timeout to ask again. No extra datagram: the join
   * asks its routers once either way.
   */
  alongside?: LookupAlongside;
  /**
   * Nodes known from an earlier run, with their IDs (the state file's): the lookup for our own ID
   * starts from them too, beside what the routers name. A run whose router names are still
   * resolving joins through them alone.
   */
  contacts?: readonly NodeInfo[];
}

/** What a join needs of the lookup it runs beside: its query, and where the routers' replies go. */
export type LookupAlongside = Pick<Lookup<LookupMethod, unknown>, 'strategy' | 'target' | 'sharedRouterQuery'>;

/** How joining went. `routersAnswered` 0 with an empty table means no bootstrap node answered. */
export interface BootstrapResult {
  routersAnswered: number;
  tableSize: number;
  durationMs: number;
  /** Queries the join sent (router round, lookup for our own ID, table fill). */
  queries: number;
}

/** A join in progress: `result` resolves when it is over; `progress()` tells how far it got so far. */
export interface Join {
  readonly result: Promise<BootstrapResult>;
  progress(): BootstrapResult & { finished: boolean };
}

/** Start joining (see bootstrap) and return at once, so that a caller can do other things meanwhile. */
export function join(node: JoiningNode, routers: readonly Endpoint[], options: BootstrapOptions = {}): Join {
  const started = node.now();
  const counted = { routersAnswered: 0, queries: 0, finished: false };
  const start = options.priority === 'low' ? afterThisTurn() : Promise.resolve();
  const result = start.then(() => bootstrap(countingQueries(node, options.priority, counted), routers, options, counted))
    .finally(() => { counted.finished = true; });
  return {
    result,
    progress: () => ({ ...counted, tableSize: node.table.size, durationMs: node.now() - started }),
  };
}

/** Resolves in the next turn of the event loop, after the I/O callbacks of this one. */
function afterThisTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The node as the join sees it: each query counted, and sent with the join's priority. */
function countingQueries(node: JoiningNode, priority: 'low' | undefined, counted: { queries: number }): JoiningNode {
  const query: JoiningNode['query'] = (to, method, args, options = {}) => {
    counted.queries++;
    return node.query(to, method, args, priority === undefined ? options : { ...options, priority });
  };
  return {
    id: node.id,
    family: node.family,
    table: node.table,
    sendBudget: node.sendBudget,
    hardTimeoutMs: node.hardTimeoutMs,
    closed: () => node.closed(),
    now: () => node.now(),
    query,
    lookup: (target, strategy, options) => node.lookup(target, strategy, { ...options, query: (to, method, args, o) => query(to, method, args, o) }),
  };
}


/**
 * Join the network (BEP 5: "Upon inserting the first node into its routing table and when
 * starting up thereafter, the node should attempt to find the closest nodes ... by issuing
 * find_node messages"). We ask each bootstrap address for nodes near our own ID, then run a
 * find_node lookup for our ID, which fills the buckets near us, and alongside it fill the far
 * buckets (fillTable).
 */
async function bootstrap(node: JoiningNode, routers: readonly Endpoint[], options: BootstrapOptions, counted: { routersAnswered: number; queries: number }): Promise<BootstrapResult> {
  const started = node.now();
  const budget = options.timeoutMs ?? 10_000;
  // A lost datagram must not leave us alone: ask the silent routers again, up to three times,
  // each time once its soft timeout has passed (a late reply still enters the table).
  const replies: (QueryOutcome | undefined)[] = routers.map(() => undefined);
  const perTry = Math.max(250, Math.min(budget / BOOTSTRAP_TRIES, node.hardTimeoutMs));
  // Every query sent to a router, with its final outcome (not its soft timeout): a reply later than
  // the soft timeout, within the budget, is still an answer (a slow link is not a dead router).
  const late: { router: number; outcome: Promise<QueryOutcome> }[] = [];
  for (let attempt = 0; attempt < BOOTSTRAP_TRIES && !options.signal?.aborted; attempt++) {
    const silent = routers.map((_, i) => i).filter((i) => replies[i]?.kind !== 'response');
    if (silent.length === 0 || (attempt > 0 && replies.some((r) => r?.kind === 'response'))) break;
    if (node.now() - started + perTry > budget && attempt > 0) break;
    const hardTimeoutMs = Math.max(1, Math.min(node.hardTimeoutMs, budget - (node.now() - started)));
    const asked = silent.map((i) => askRouter(node, routers[i]!, hardTimeoutMs, options.alongside));
    asked.forEach(({ outcome }, j) => late.push({ router: silent[j]!, outcome }));
    const outcomes = await firstReplies(asked.map((a) => a.soft), BOOTSTRAP_GRACE_MS);
    outcomes.forEach((outcome, j) => { if (outcome !== undefined) replies[silent[j]!] = outcome; });
    counted.routersAnswered = replies.filter((r) => r?.kind === 'response').length;
  }
  if (!replies.some((r) => r?.kind === 'response') && !options.signal?.aborted) {
    // Nobody answered within a soft timeout: wait for a late answer to a query still out (each ends
    // by its hard timeout, within the budget), so that a slow network is not reported as silent.
    const first = await firstResponse(late.map((l) => l.outcome), options.signal);
    if (first !== undefined) replies[late[first.index]!.router] = first.outcome;
    counted.routersAnswered = replies.filter((r) => r?.kind === 'response').length;
  }
  // The lookup starts from what the routers named, not from the routers: each has just answered
  // this very query, and router.bittorrent.com (bittorrent/bootstrap-dht) answers an IP's second
  // query with 3 nodes instead of 16, whatever its target.
  const seeds: NodeInfo[] = [];
  let answered = 0;
  replies.forEach((outcome) => {
    if (outcome?.kind !== 'response') return;
    answered++;
    seeds.push(...reachableNodes(outcome.response.r, node.family));
  });
  const isRouter = (n: NodeInfo): boolean => routers.some((r) => r.port === n.port && r.address === n.address);
  const known = [...(options.contacts ?? []), ...node.table.closest(node.id, 16)].filter((n) => !isRouter(n));
  if (seeds.length > 0 || known.length > 0) {
    const lookupOptions: LookupOptions & { seeds: NodeInfo[] } = {
      seeds: [...seeds.filter((n) => !idEquals(n.id, node.id)), ...known],
      timeoutMs: Math.max(1, budget - (node.now() - started)),
    };
    if (options.signal !== undefined) lookupOptions.signal = options.signal;
    const joining = node.lookup(node.id, findNode, lookupOptions).result;
    await Promise.all([joining, options.fillTable === false ? undefined : fillTable(node, started + budget, options.signal, joining)]);
  }
  return { routersAnswered: answered, tableSize: node.table.size, durationMs: node.now() - started, queries: counted.queries };
}

/**
 * The last step of Kademlia's join (Maymounkov and Mazières, section 2.3): "refresh all
 * k-buckets further away than its closest neighbor". The far buckets cover most of the ID space,
 * and with the extended table they have room for 240 contacts, one per prefix slot
 * (RoutingTable.gaps); a table with a contact in every slot starts any lookup next to its
 * target. A lookup per slot would cost thousands of queries; instead each gap gets one find_node
 * to the contact we know closest to it (libtorrent's refresh asks one node for "a random target
 * close to a missing prefix"), and the nodes the reply names fill it (learnFrom). This runs
 * alongside the lookup for our own ID (`joining`): FILL_PARALLEL queries at a time, each waited
 * for until its soft timeout at most, a gap asked at most twice, a node FILL_QUERIES_PER_NODE
 * times, MAX_FILL_QUERIES in all, and never more than FILL_SHARE of our send budget, so that
 * joining leaves us the rest to answer others with.
 */
async function fillTable(node: JoiningNode, deadline: number, signal: AbortSignal | undefined, joining: Promise<unknown>): Promise<void> {
  let joined = false;
  const joinedNow = joining.then(() => { joined = true; });
  const pace = fillPace(node);
  const tries = new Map<string, number>();
  const asking = new Set<string>();
  const perNode = new Map<NodeInfo, number>();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  while (node.now() < deadline && signal?.aborted !== true && !node.closed()) {
    let paced = false;
    for (const gap of node.table.gaps()) {
      if (inFlight.size >= FILL_PARALLEL || sent >= MAX_FILL_QUERIES) break;
      const key = `${gap.bits}/${gap.width}/${gap.slot}`;
      if (asking.has(key) || (tries.get(key) ?? 0) >= FILL_TRIES_PER_GAP) continue;
      const target = node.table.targetIn(gap);
      const [to] = node.table.closest(target, 1, (c) => (perNode.get(c) ?? 0) < FILL_QUERIES_PER_NODE);
      if (to === undefined) break;
      if (!pace.take(node.now())) { paced = true; break; }
      tries.set(key, (tries.get(key) ?? 0) + 1);
      perNode.set(to, (perNode.get(to) ?? 0) + 1);
      asking.add(key);
      sent++;
      const query: Promise<void> = askOnce(node, to, { id: node.id, target }).then(() => { inFlight.delete(query); asking.delete(key); });
      inFlight.add(query);
    }
    if (inFlight.size === 0 && !paced && joined) return;
    const wakeUps: Promise<unknown>[] = [...inFlight];
    if (!joined) wakeUps.push(joinedNow);
    if (paced) wakeUps.push(new Promise((resolve) => setTimeout(resolve, pace.waitMs(node.now())).unref()));
    await Promise.race(wakeUps);
  }
}

/**
 * FILL_SHARE of the send rate, in bursts of FILL_BURST_SHARE of the send burst (RpcOptions.sendRate
 * and sendBurst, whose defaults are rpc.ts's 500/s and 100): a steady trickle, so that once joined
 * the send budget is nearly whole again, for answering others and for what the caller does next.
 */
function fillPace(node: JoiningNode): TokenBucket {
  const { rate, burst } = node.sendBudget;
  return new TokenBucket(FILL_SHARE * rate, Math.max(1, FILL_BURST_SHARE * burst), node.now());
}

/**
 * find_node for our own ID, or the query of the lookup alongside (BootstrapOptions.alongside), whose
 * replies it is handed. `soft` gives up at the soft timeout, so that a lost datagram is asked again
 * sooner; `outcome` is the query's real end (a reply, or its hard timeout).
 */
function askRouter(node: JoiningNode, router: Endpoint, hardTimeoutMs: number, alongside: BootstrapOptions['alongside']): { soft: Promise<QueryOutcome>; outcome: Promise<QueryOutcome> } {
  let giveUp: (outcome: QueryOutcome) => void = () => {};
  const soft = new Promise<QueryOutcome>((resolve) => { giveUp = resolve; });
  const options = { hardTimeoutMs, onSoftTimeout: () => giveUp({ kind: 'timeout' }) };
  const outcome = alongside === undefined
    ? node.query(router, 'find_node', { id: node.id, target: node.id }, options)
    : node.query(router, alongside.strategy.method, alongside.strategy.args(node.id, alongside.target), options);
  // Handed to the lookup first: it hears of a reply before the join does.
  alongside?.sharedRouterQuery(router, outcome);
  void outcome.then(giveUp);
  return { soft, outcome };
}

/** The first of `outcomes` that is a response (with its index), or undefined once all have ended or `signal` aborts. */
function firstResponse(outcomes: Promise<QueryOutcome>[], signal: AbortSignal | undefined): Promise<{ index: number; outcome: QueryOutcome } | undefined> {
  return new Promise((resolve) => {
    let left = outcomes.length;
    const done = (value: { index: number; outcome: QueryOutcome } | undefined): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onAbort = (): void => done(undefined);
    if (left === 0) return done(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    outcomes.forEach((outcome, index) => {
      void outcome.then((o) => {
        if (o.kind === 'response') done({ index, outcome: o });
        else if (--left === 0) done(undefined);
      });
    });
  });
}

/**
 * One find_node, waited for until its soft timeout at most (a late reply still teaches the table).
 * `named`: the node has not answered us yet, so the outbound guard applies (QueryOptions.named).
 */
export function askOnce(node: JoiningNode, to: NodeInfo, args: QueryArgsByMethod['find_node'], named = true): Promise<void> {
  return new Promise((resolve) => {
    void node.query(to, 'find_node', args, { onSoftTimeout: resolve, named }).then(() => resolve());
  });
}

/** After the first bootstrap reply, how long to wait for the others before starting the lookup. */
const BOOTSTRAP_GRACE_MS = 500;
const BOOTSTRAP_TRIES = 3;
/** Filling the table while joining (see fillTable): queries at once, in all, per gap, per node asked, shares of the send budget. */
const FILL_PARALLEL = 32;
const MAX_FILL_QUERIES = 256;
const FILL_TRIES_PER_GAP = 2;
const FILL_QUERIES_PER_NODE = 8;
const FILL_SHARE = 0.4;
const FILL_BURST_SHARE = 0.1;

/**
 * Wait for every outcome, or for `graceMs` after the first response, whichever is sooner: one dead
 * router must not hold up a start that another router has already made possible. Outcomes still
 * out are undefined (their replies still reach the routing table when they come).
 */
function firstReplies(queries: Promise<QueryOutcome>[], graceMs: number): Promise<(QueryOutcome | undefined)[]> {
  const outcomes: (QueryOutcome | undefined)[] = queries.map(() => undefined);
  return new Promise((resolve) => {
    let left = queries.length;
    let grace: NodeJS.Timeout | undefined;
    const done = (): void => { if (grace !== undefined) clearTimeout(grace); resolve(outcomes); };
    if (left === 0) return done();
    queries.forEach((query, i) => {
      void query.then((outcome) => {
        outcomes[i] = outcome;
        if (--left === 0) return done();
        if (outcome.kind === 'response' && grace === undefined) grace = setTimeout(done, graceMs);
      });
    });
  });
}
