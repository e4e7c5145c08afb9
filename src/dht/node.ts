/**
 * A full Mainline DHT node (BEP 5): it answers every query it should, keeps its routing table
 * healthy, stores announced peers, and runs lookups through the one engine in lookup.ts.
 *
 * Answering properly is not optional for a crawler or scraper: other nodes only keep us in their
 * tables (and so only send us their queries) if we behave like a good node.
 */
import { hostKey, sameHost } from '../wire/address.js';
import { familyOf, type NodeInfo, type PeerInfo } from '../wire/compact.js';
import { randomId, type NodeId } from '../wire/id.js';
import { isExemptAddress, isSecureId, secureIdFor } from '../wire/secure-id.js';
import { AddressVotes } from '../table/address-votes.js';
import {
  decodeMessage,
  ErrorCode,
  type AnnouncePeerArgs,
  type GetArgs,
  type GetPeersArgs,
  type KrpcError,
  type PutArgs,
  type Query,
  type QueryArgsByMethod,
  type ReplyBody,
  type ResponseBody,
  type Want,
} from '../wire/krpc.js';
import type { AddressScope, Candidate } from './lookup-state.js';
import { askOnce, join, type BootstrapOptions, type BootstrapResult, type Join, type JoiningNode } from './bootstrap.js';
import { Lookup, findNode, getPeers, type LookupMethod, type LookupOptions, type LookupResult, type LookupStrategy, type QueryFn, type EndpointQueryFn } from './lookup.js';
import { ItemStore, type ItemStoreOptions } from '../table/item-store.js';
import { PeerStore, type PeerStoreOptions } from '../table/peer-store.js';
import { RecentQueriers } from '../table/recent-queriers.js';
import { EXTENDED_FAR_BUCKETS, RoutingTable, type Contact, type IdOwnership, type InsertResult, type RoutingTableOptions, type TableReader } from '../table/routing-table.js';
import { MAX_REPLY_BYTES, Rpc, type ErrorReplyListener, type QueryOptions, type QueryOutcome, type RpcCounters, type RpcOptions } from '../net/rpc.js';
import { SourceLimiter, type SourceLimiterOptions } from '../net/source-limiter.js';
import { CpuBudget, type CpuBudgetOptions } from '../net/cpu-budget.js';
import { BanNotices } from '../net/ban-notice.js';
import { TokenIssuer } from '../table/token.js';
import { udpTransport, withFaults, type Endpoint, type Faults, type Transport } from '../net/transport.js';

/** Everything is optional: `DhtNode.create()` binds 0.0.0.0 on a free port with a random ID. */
export interface DhtNodeOptions {
  /** Our node ID. Default: random. */
  id?: NodeId;
  /** IP address to bind (default 0.0.0.0; not a name) and port (default 0 = any free one). */
  address?: string;
  port?: number;
  /** Use this transport instead of binding a UDP socket (tests, fuzzing). */
  transport?: Transport;
  /** Loss and latency injected on everything we send (local-network experiments). */
  faults?: Faults;
  rpc?: RpcOptions;
  table?: RoutingTableOptions;
  peerStore?: PeerStoreOptions;
  /** BEP 44 items we keep for others (how many, how long). */
  itemStore?: ItemStoreOptions;
  /** Lookup defaults (alpha, k, caps, timeouts). */
  lookup?: LookupOptions;
  /** Enter the nodes that replies name into free table slots, as unverified contacts. Default true. */
  learnFromReplies?: boolean;
  /** BEP 51 `interval` we ask samplers to respect, in seconds. Default 21,600 (6 h, as libtorrent). */
  sampleIntervalSeconds?: number;
  /**
   * BEP 42: once the nodes we ask agree on our external address, take an ID that is secure for it
   * (keeping ours if it already is). Default true; loopback and private addresses are exempt.
   */
  secureId?: boolean;
  /**
   * BEP 42 "Enforcement": keep nodes whose ID is not secure for their address out of the table, and
   * out of our lookups (LookupStateOptions.secureIdsOnly). Default false, as libtorrent.
   */
  enforceSecureIds?: boolean;
  /**
   * Contacts in a find_node reply. Default 8 (BEP 5's k). webtorrent's bittorrent-dht answers with
   * up to its whole table: the local network's "whole table" profile sets 200 to be like it.
   */
  findNodeReplySize?: number;
  /** BEP 43: never be added to other nodes' tables; answer no queries. */
  readOnly?: boolean;
  /** How often to look after the table (refresh stale buckets, ping questionable nodes). Default 60 s. */
  maintenanceIntervalMs?: number;
  /**
   * Per-source rate limit and ban table (defaults: 5 packets/s, bursts of 50, 5-minute bans, as
   * libtorrent; see docs/limits.md). `false` turns it off, e.g. for a benchmark that floods one node
   * from one address on purpose.
   */
  sourceLimit?: SourceLimiterOptions | false;
  /**
   * Share of the CPU that answering may take before strangers' queries are shed (default half a
   * core, bursts of 100 ms; see docs/security.md). `false` answers everyone whatever it costs.
   */
  cpuBudget?: CpuBudgetOptions | false;
  /** Monotonic clock (ms) that times our answers for the CPU budget. Default performance.now. */
  cpuClock?: () => number;
  /**
   * Per-source limits for loopback sources (127/8, ::1) instead of `sourceLimit`: a local network
   * is a lab whose one querier, our own tool, may ask much more than a stranger. Default: none
   * (loopback sources are held to `sourceLimit` like any other).
   */
  loopbackSourceLimit?: SourceLimiterOptions;
  now?: () => number;
  /** Random bytes for the ID, transaction IDs, token secrets and refresh targets. Default node:crypto. */
  random?: (size: number) => Uint8Array;
}

export type { BootstrapOptions, BootstrapResult, Join } from './bootstrap.js';

/** Every query our node receives, after it was answered: the crawler's passive capture listens here. */
export type IncomingQueryListener = (query: Query, from: Endpoint) => void;

/** Told of every lookup a node starts (joining, refreshes, scrapes, crawler walks), as it starts. */
export type LookupListener = (lookup: Lookup<LookupMethod, unknown>) => void;

/** Bytes we allow a reply to take: below a 1,280-byte IPv6 minimum MTU, so replies are never fragmented. */
export { MAX_REPLY_BYTES };
const NODES_PER_REPLY = 8;
/**
 * BEP 32 `want`: a dual-stack node asks for both families' contacts while its sibling's table
 * holds fewer than this many (a table of 64 starts any lookup a few hops from its target). Past
 * it, the sibling's own lookups keep its table, and our queries and their replies stay small.
 */
const WANT_BOTH_BELOW = 64;
/** The queries BEP 32 (find_node, get_peers), BEP 51 and BEP 44 let carry `want`. */
const WANT_METHODS: ReadonlySet<string> = new Set(['find_node', 'get_peers', 'sample_infohashes', 'get']);
const BUCKET_REFRESH_MS = 15 * 60_000;
const MAX_PENDING_PINGS = 16;

/**
 * One DHT node. Create it with `DhtNode.create()`, join with `bootstrap()`, then look things up
 * (`findPeers`, `lookup`), `announce`, or just listen (`onIncomingQuery`). `close()` releases
 * the socket and every timer.
 *
 * Above the dht layer (crawler, modes, CLI) a node is read through its accessors: `counters()`,
 * `contacts()`, `tableSize`, `tableReader`. Its parts `rpc` and `table` are public for this layer
 * and for white-box tests; tests/architecture/node-access.test.ts keeps the layers above out of them.
 */
export class DhtNode {
  /** Our node ID. It changes once, to a BEP 42 ID, when the network agrees on our external address. */
  get id(): NodeId {
    return this.currentId;
  }
  private currentId: NodeId;
  readonly rpc: Rpc;
  /** Our routing table (built anew, with the same contacts, when our ID changes). The node changes it; others read it through tableReader. */
  get table(): RoutingTable {
    return this.currentTable;
  }
  private currentTable: RoutingTable;
  /** BEP 42: what the nodes we ask say our address is. */
  readonly externalAddress = new AddressVotes();
  readonly peers: PeerStore;
  /** BEP 44 items put to us. */
  readonly items: ItemStore;
  /** Who may send us how much; undefined when `sourceLimit: false`. */
  readonly limiter: SourceLimiter | undefined;
  /** The address family of our socket, and so of our routing table. */
  readonly family: 4 | 6;
  private readonly tokens: TokenIssuer;
  private readonly listeners = new Set<IncomingQueryListener>();
  private readonly lookupListeners = new Set<LookupListener>();
  /** Lookups with fewer than k answers, told when a reply reaches the table (LookupOptions.watchReseed). */
  private readonly tableNews = new Set<() => void>();
  private readonly pendingPings = new Set<string>();
  /** Queriers the table heard about in the last few seconds: not worth an update per packet. */
  private readonly recentQueriers = new RecentQueriers({ now: () => this.now() });
  private readonly maintenance: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly cpuClock: () => number;
  private readonly cpu: CpuBudget | undefined;
  /** Ends the CPU budget's turn (endTurnLater). */
  private turnEnd: NodeJS.Immediate | undefined;
  /** Which network our lookups run on, as the bootstrap addresses declare it (see declareScope). */
  private addressScope: AddressScope | undefined;
  /** Our node of the other address family in a dual-stack host (see pairWith), if any. */
  private sibling: DhtNode | undefined;
  private closed = false;

  /** Bind a UDP socket (or use `options.transport`) and start answering queries. Rejects if it cannot bind. */
  static async create(options: DhtNodeOptions = {}): Promise<DhtNode> {
    let transport = options.transport ?? (await udpTransport({
      ...(options.address !== undefined ? { address: options.address } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    }));
    let onLost = (): void => {};
    if (options.faults !== undefined) transport = withFaults(transport, options.faults, () => onLost());
    const node = new DhtNode(transport, options);
    onLost = () => { node.rpc.counters.dropped.lost++; };
    return node;
  }

  private constructor(
    transport: Transport,
    private readonly options: DhtNodeOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.cpuClock = options.cpuClock ?? (() => performance.now());
    // The default clock is not read here: Node loads perf_hooks on the first touch of
    // `performance` (1-1.5 ms a fresh scrape would pay before its first query), and a budget that
    // starts full loses nothing by starting its count at 0, where performance.now() starts.
    this.cpu = options.cpuBudget === false ? undefined : new CpuBudget(options.cpuBudget, options.cpuClock?.() ?? 0);
    const { random } = options;
    this.currentId = options.id ?? (random !== undefined ? random(20).slice(0, 20) : randomId());
    const readOnly = options.readOnly ?? false;
    const inject = random !== undefined ? { now: this.now, random } : { now: this.now };
    this.rpc = new Rpc(transport, { ...options.rpc, readOnly, ...inject });
    this.family = familyOf(this.rpc.local.address);
    // libtorrent's extended table: big far buckets, so that any lookup starts near its target.
    this.currentTable = this.newTable(this.currentId);
    this.peers = new PeerStore({ ...options.peerStore, ...inject });
    this.items = new ItemStore({ ...options.itemStore, now: this.now });
    this.tokens = new TokenIssuer(inject);
    this.rpc.onQuery((query, from) => this.onQuery(query, from));
    this.rpc.onBadQuery((error, from) => this.onBadQuery(error, from));
    this.limiter = options.sourceLimit === false ? undefined : this.limitSources(options.sourceLimit ?? {});
    this.maintenance = setInterval(() => this.maintain(), options.maintenanceIntervalMs ?? 60_000);
    this.maintenance.unref();
  }

  /** Where we are bound. */
  get local(): Endpoint {
    return this.rpc.local;
  }

  /** A snapshot of the KRPC counters (packets, bytes, queries by method, drops): copies that do not move on. */
  counters(): RpcCounters {
    const c = this.rpc.counters;
    return { ...c, queriesIn: { ...c.queriesIn }, queriesOut: { ...c.queriesOut }, dropped: { ...c.dropped } };
  }

  /** Every contact of our routing table, farthest bucket first (copies). */
  contacts(): Contact[] {
    return this.currentTable.all().map((c) => ({ ...c }));
  }

  /** How many contacts our routing table holds. */
  get tableSize(): number {
    return this.currentTable.size;
  }

  /** Our routing table, to read only (a view, a report): no method that changes it. */
  get tableReader(): TableReader {
    return this.currentTable;
  }

  /**
   * Take nodes known to answer into the table, as if each had just answered us: a simulator's
   * ready-made mesh, a restarted node's old contacts. The table's admission rules apply; a full
   * bucket stays as it is (no ping: these nodes are not news). With `ids: 'share'` the table keeps
   * the callers' ID arrays instead of copying them (see IdOwnership): they must never change.
   */
  addContacts(nodes: Iterable<NodeInfo>, ids: IdOwnership = 'copy'): void {
    for (const node of nodes) this.currentTable.recordResponse(node, ids);
  }

  /**
   * BEP 32, dual stack: one node per address family, each with its own socket and routing table
   * (a table holds the contacts reachable over its own socket, nothing else), told of each other.
   * A query's `want: ["n4", "n6"]` is then answered with `nodes` from the IPv4 node's table and
   * `nodes6` from the IPv6 node's, whichever socket it came in on; and the contacts of the other
   * family that a reply names are offered to the sibling's table (as "heard of", see learnFrom).
   * This is how libtorrent does it (one node per socket, each asks the other for the foreign
   * family). The simpler alternative, one node with two sockets, would need a table that mixes
   * families, which BEP 32 keeps apart. Unpaired, a `want` for the other family is met with
   * nothing: we know no such contacts. Pairing is for good: each forgets the other once closed.
   */
  pairWith(sibling: DhtNode): void {
    if (sibling === this || sibling.family === this.family) {
      throw new RangeError(`a dual-stack pair needs one IPv4 and one IPv6 node; both are IPv${this.family}`);
    }
    this.sibling = sibling;
    sibling.sibling = this;
  }

  /** Listen to the KRPC error replies we receive (a 202 "rate limited", say). Returns an unsubscribe function. */
  onErrorReply(listener: ErrorReplyListener): () => void {
    return this.rpc.onErrorReply(listener);
  }

  /** Listen to every valid query we receive (after it has been answered). Returns an unsubscribe function. */
  onIncomingQuery(listener: IncomingQueryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Be told of every lookup this node starts, before its first query: with Lookup.watch, an
   * observer (the CLI's web view) sees each one without being the one that reads it.
   */
  onLookup(listener: LookupListener): () => void {
    this.lookupListeners.add(listener);
    return () => this.lookupListeners.delete(listener);
  }

  /**
   * Read nothing from a source over its budget, and forget the table entries a banned source won by
   * querying us: a flooder must not keep the slots its first queries won it. A contact that has
   * answered our queries stays: its address may have been forged by the flood, and a ban refuses
   * queries, not our relationship (its replies to us are never refused, see Rpc.receive). A banned
   * querier is told once (ban-notice.ts), so that its user learns why we went silent.
   */
  private limitSources(options: SourceLimiterOptions): SourceLimiter {
    const notices = new BanNotices();
    const onBan = (address: string): void => {
      this.forgetUnprovenAt(address);
      notices.banned(address);
      options.onBan?.(address);
    };
    const limiter = new SourceLimiter({ now: this.now, ...options, onBan });
    const lab = this.options.loopbackSourceLimit;
    const loopback = lab === undefined ? undefined : new SourceLimiter({ now: this.now, ...lab, onBan });
    this.rpc.setAdmitFilter((from, bytes) => {
      const judge = loopback !== undefined && isLoopback(from.address) ? loopback : limiter;
      if (judge.admit(from.address)) return true;
      if (notices.shouldTell(from.address, from.port)) this.tellRateLimited(bytes, from);
      return false;
    });
    return limiter;
  }

  /** Remove the contacts at `address` that never answered us (replacement caches first, so none refills a freed slot). */
  private forgetUnprovenAt(address: string): void {
    const buckets = this.table.buckets();
    for (const c of [...buckets.flatMap((b) => b.replacements), ...buckets.flatMap((b) => b.contacts)]) {
      if (sameHost(c.address, address) && (!('lastResponse' in c) || c.lastResponse === 0)) this.table.remove(c.id);
    }
  }

  /** The one error a banned querier gets (ban-notice.ts): KRPC 202, to a query only, never to junk. */
  private tellRateLimited(bytes: Uint8Array, from: Endpoint): void {
    const parsed = decodeMessage(bytes);
    if (parsed.ok && parsed.message.y === 'q') this.rpc.respondError(from, parsed.message.t, ErrorCode.Server, 'rate limited');
  }

  // ---- Answering queries (BEP 5, "DHT Queries") ----

  private onQuery(query: Query, from: Endpoint): void {
    if (this.closed) return;
    if (this.sheds(query) && !this.isVerified(query.a.id, from)) {
      // Our send budget or CPU share is spent (a flood, most likely): answering strangers would
      // only queue their replies ahead of those of nodes we know, until every reply came too late.
      this.rpc.counters.dropped.shed++;
    } else {
      const started = this.cpuClock();
      if (!this.options.readOnly) this.answer(query, from);
      if (query.ro !== true) this.noteQuerier({ id: query.a.id, address: from.address, port: from.port });
      const ended = this.cpuClock();
      if (this.cpu !== undefined) {
        this.cpu.spend(ended - started, ended);
        this.endTurnLater();
      }
    }
    for (const listener of this.listeners) listener(query, from);
  }

  /**
   * Whether a stranger's query is shed: replies are queuing up (every reply spends the same send
   * budget), or answering took its share of the CPU, lately or in this turn of the event loop. A
   * ping is never shed for CPU: it costs a few microseconds, so even every source of the limiter's
   * table at its full rate cannot make pings a CPU burden, and the honest pinger is who the CPU
   * budget protects (issue 14: pings kept their p99 through a scrape flood).
   */
  private sheds(query: Query): boolean {
    if (this.rpc.backlogged) return true;
    return query.q !== 'ping' && this.cpu !== undefined && this.cpu.exhausted(this.cpuClock());
  }

  /** The CPU budget's turn ends when this turn of the event loop does (setImmediate runs after the reads). */
  private endTurnLater(): void {
    if (this.turnEnd !== undefined || this.closed) return;
    this.turnEnd = setImmediate(() => {
      this.turnEnd = undefined;
      this.cpu?.newTurn();
    });
  }

  /** A node in our table that has answered us from this very address: it is who it says, not a spoofed source. */
  private isVerified(id: NodeId, from: Endpoint): boolean {
    const contact = this.table.get(id);
    return contact !== undefined && contact.lastResponse > 0 && contact.port === from.port && sameHost(contact.address, from.address);
  }

  private answer(query: Query, from: Endpoint): void {
    switch (query.q) {
      case 'ping':
        return this.reply(from, query.t, { id: this.id });
      case 'find_node':
        return this.reply(from, query.t, { id: this.id, ...this.closestNodes(query.a.target, query.a.want, this.options.findNodeReplySize) });
      case 'get_peers':
        return this.reply(from, query.t, this.getPeersBody(query.a, from));
      case 'announce_peer':
        return this.announcePeer(query.t, query.a, from);
      case 'sample_infohashes':
        return this.reply(from, query.t, {
          id: this.id,
          ...this.closestNodes(query.a.target, query.a.want),
          samples: this.peers.sample(SAMPLES_PER_REPLY),
          interval: this.options.sampleIntervalSeconds ?? 21_600,
          num: this.peers.numInfoHashes,
        });
      case 'get':
        return this.reply(from, query.t, this.getBody(query.a, from));
      case 'put':
        return this.putItem(query.t, query.a, from);
    }
  }

  /** BEP 44 get: a token and the closest nodes, like get_peers, and the item when we hold it. */
  private getBody(a: GetArgs, from: Endpoint): ResponseBody {
    const body: ResponseBody = { id: this.id, token: this.tokens.issue(from.address), ...this.closestNodes(a.target, a.want) };
    const item = this.items.get(a.target);
    if (item?.kind === 'immutable') body.v = item.v;
    if (item?.kind === 'mutable') {
      body.k = item.k;
      body.seq = item.seq;
      // BEP 44: with `seq` in the request, the value and signature come only if ours is newer.
      if (a.seq === undefined || item.seq > a.seq) Object.assign(body, { v: item.v, sig: item.sig });
    }
    return body;
  }

  /** BEP 44 put: the token first (as announce_peer), then the store's checks and its error code. */
  private putItem(t: Uint8Array, a: PutArgs, from: Endpoint): void {
    if (!this.tokens.check(a.token, from.address)) {
      this.rpc.respondError(from, t, ErrorCode.Protocol, 'invalid token');
      return;
    }
    const mutable = a.k !== undefined || a.sig !== undefined || a.seq !== undefined;
    if (mutable && (a.k === undefined || a.sig === undefined || a.seq === undefined)) {
      this.rpc.respondError(from, t, ErrorCode.Protocol, 'a mutable put needs k, seq and sig');
      return;
    }
    const outcome = this.items.put({
      v: a.v,
      ...(mutable ? { mutable: { k: a.k!, sig: a.sig!, seq: a.seq!, salt: a.salt ?? new Uint8Array(0), ...(a.cas !== undefined ? { cas: a.cas } : {}) } } : {}),
    });
    if (outcome.ok) this.reply(from, t, { id: this.id });
    else this.rpc.respondError(from, t, outcome.code, outcome.message);
  }

  /** A query that broke the schema still gets an answer saying why (BEP 5, "Errors"). */
  private onBadQuery(error: KrpcError, from: Endpoint): void {
    if (this.closed || this.options.readOnly || error.t === undefined) return;
    this.rpc.respondError(from, error.t, error.code, error.message);
  }

  private getPeersBody(a: GetPeersArgs, from: Endpoint): ReplyBody {
    const body: ReplyBody = {
      id: this.id,
      token: this.tokens.issue(from.address),
      ...this.closestNodes(a.info_hash, a.want),
    };
    if (a.scrape === true && this.peers.has(a.info_hash)) {
      // BEP 33: bloom filters of seeds and downloaders; they replace most of the values' budget.
      const { seeds, peers } = this.peers.scrape(a.info_hash);
      body.BFsd = seeds.toBytes();
      body.BFpe = peers.toBytes();
    }
    const max = valuesBudget(body, from);
    // BEP 32: values carry peers of the querier's own address family.
    const family = familyOf(from.address);
    // Already bencoded by the store: no work per peer, whatever the swarm's size (issue 14).
    const values = this.peers.bencodedPeers(a.info_hash, { max, family, noseed: a.noseed === true });
    if (values.count > 0) body.values = values;
    return body;
  }

  private announcePeer(t: Uint8Array, a: AnnouncePeerArgs, from: Endpoint): void {
    if (!this.tokens.check(a.token, from.address)) {
      this.rpc.respondError(from, t, ErrorCode.Protocol, 'invalid token');
      return;
    }
    const port = a.implied_port === true ? from.port : a.port;
    if (!(port > 0 && port < 65536)) {
      this.rpc.respondError(from, t, ErrorCode.Protocol, 'invalid port');
      return;
    }
    this.peers.announce(a.info_hash, { address: from.address, port }, a.seed === true);
    this.reply(from, t, { id: this.id });
  }

  private reply(to: Endpoint, t: Uint8Array, body: ReplyBody): void {
    // BEP 42: tell the querier the address we see it at, so it can pick a secure ID.
    this.rpc.respond(to, t, body, { ip: to });
  }

  /**
   * The nodes we vouch for in a reply: only those that have answered us and are not failing.
   * A querier we never heard answer may be gone already, or never have been reachable (behind a
   * NAT); handing it out would send other lookups into a dead end.
   *
   * BEP 32: without `want`, the family of the socket the query came in on (our table's); with it,
   * `nodes` for "n4" and `nodes6` for "n6", the other family's from our sibling (see pairWith).
   */
  private closestNodes(target: NodeId, want: readonly Want[] | undefined, count = NODES_PER_REPLY): { nodes?: NodeInfo[]; nodes6?: NodeInfo[] } {
    const families: readonly (4 | 6)[] = want === undefined || want.length === 0
      ? [this.family]
      : [...(want.includes('n4') ? [4 as const] : []), ...(want.includes('n6') ? [6 as const] : [])];
    const out: { nodes?: NodeInfo[]; nodes6?: NodeInfo[] } = {};
    for (const family of families) {
      const owner = family === this.family ? this : this.sibling !== undefined && !this.sibling.closed ? this.sibling : undefined;
      if (owner === undefined) continue;
      const nodes = owner.goodClosest(target, count);
      if (family === 6) out.nodes6 = nodes;
      else out.nodes = nodes;
    }
    return out;
  }

  /** Our table's closest contacts that have answered us and are not failing. */
  private goodClosest(target: NodeId, count: number): NodeInfo[] {
    return this.table
      .closest(target, count, (c) => c.lastResponse > 0 && c.failures === 0)
      .map(({ id, address, port }) => ({ id, address, port }));
  }

  // ---- The routing table's upkeep (BEP 5, "Routing Table") ----

  /**
   * A querier we know is refreshed; a new one is pinged, and enters the table only by answering
   * (DhtNode.query records the response). A querier that never answers (a one-shot client, a
   * crawler, a forged source) would otherwise hold a slot until our own lookups had timed out on it.
   */
  private noteQuerier(node: NodeInfo): void {
    if (this.recentQueriers.isRecent(node) || !this.admissible(node)) return;
    if (this.table.get(node.id) !== undefined) { this.handleInsert(this.table.recordQuery(node)); return; }
    this.ping(node);
  }

  /** A full bucket asked us to check an old node: ping it; its answer or silence settles it. */
  private handleInsert(result: InsertResult): void {
    if (result.kind === 'ping') this.ping(result.stale);
  }

  /** Pings for table upkeep, never more than a few at once (a flood of queriers must not make us a flooder). */
  private newTable(id: NodeId): RoutingTable {
    const { random } = this.options;
    const inject = random !== undefined ? { now: this.now, random } : { now: this.now };
    // libtorrent's extended table: big far buckets, so that any lookup starts near its target.
    // One slot per host in a bucket (libtorrent's restrict_routing_ips): on by default for a node;
    // a local network sharing loopback addresses declares it (table.sharedLoopback).
    return new RoutingTable(id, { farBucketSizes: EXTENDED_FAR_BUCKETS, restrictHosts: true, ...this.options.table, ...inject });
  }

  /**
   * BEP 42: a reply's `ip` is the responder's vote on our external address. When the vote settles
   * on a public address our ID is not secure for, we take a secure ID, as libtorrent does.
   */
  private noteAddressVote(voter: string, address: string): void {
    if (!this.externalAddress.vote(voter, address) || this.options.secureId === false) return;
    const external = this.externalAddress.address!;
    if (isExemptAddress(external) || isSecureId(this.currentId, external)) return;
    const { random } = this.options;
    this.changeId(secureIdFor(external, undefined, random !== undefined ? (n) => random(n) : undefined));
  }

  /** Take a new ID: the table is rebuilt around it from the contacts we had, each as good as it was. */
  private changeId(id: NodeId): void {
    const old = this.currentTable;
    this.currentId = id;
    this.currentTable = this.newTable(id);
    for (const contact of old.all()) {
      const node = { id: contact.id, address: contact.address, port: contact.port };
      if (contact.lastResponse > 0) this.currentTable.recordResponse(node);
      else this.currentTable.recordHeard(node);
    }
  }

  /** BEP 42 "Enforcement": with enforceSecureIds, only nodes whose ID fits their address enter the table. */
  private admissible(node: NodeInfo): boolean {
    return this.options.enforceSecureIds !== true || isSecureId(node.id, node.address);
  }

  private ping(contact: NodeInfo): void {
    const key = `${contact.address}:${contact.port}`;
    if (this.pendingPings.has(key) || this.pendingPings.size >= MAX_PENDING_PINGS) return;
    this.pendingPings.add(key);
    void this.query(contact, 'ping', { id: this.id }, { named: true }).finally(() => this.pendingPings.delete(key));
  }

  /**
   * Send a query and teach the table what happened: an answer makes the node good (and is how new
   * nodes enter the table), silence counts against it.
   */
  async query<M extends keyof QueryArgsByMethod>(
    to: NodeInfo | Endpoint,
    method: M,
    args: QueryArgsByMethod[M],
    options: QueryOptions = {},
  ): Promise<QueryOutcome> {
    const outcome = await this.rpc.query(to, method, this.withWant(method, args), options);
    if (this.closed) return outcome;
    if (outcome.kind === 'response') {
      const { id } = outcome.response.r;
      if (outcome.response.ip !== undefined) this.noteAddressVote(to.address, outcome.response.ip.address);
      const responder = { id, address: to.address, port: to.port };
      // A reply from a read-only node (BEP 43) is useful, but such nodes are not table material.
      if (outcome.response.ro !== true && this.admissible(responder)) {
        this.handleInsert(this.table.recordResponse(responder));
        if (this.options.learnFromReplies !== false) this.learnFrom(outcome.response.r);
        for (const changed of this.tableNews) changed();
      }
    } else if (outcome.kind === 'timeout' && 'id' in to) {
      this.table.recordFailure(to.id);
    }
    return outcome;
  }

  /**
   * BEP 32 `want: ["n4", "n6"]` on a dual-stack node's queries (see pairWith) while its sibling's
   * table is short (WANT_BOTH_BELOW): the reply's other-family contacts then seed the sibling
   * (learnFrom), so a family whose routers are silent can still join through the other. A query
   * that says what it wants already is left as it is.
   */
  private withWant<M extends keyof QueryArgsByMethod>(method: M, args: QueryArgsByMethod[M]): QueryArgsByMethod[M] {
    const sibling = this.sibling;
    if (sibling === undefined || sibling.closed || !WANT_METHODS.has(method) || 'want' in args) return args;
    if (sibling.tableSize >= WANT_BOTH_BELOW) return args;
    return { ...args, want: ['n4', 'n6'] };
  }

  /**
   * The nodes a reply names enter free table slots as "heard of" (libtorrent does the same): seeds
   * for our own lookups, which verify them, but never handed out before they answer us (see
   * closestNodes). At most the k a BEP 5 reply carries, of our own address family; those of the
   * other family go to our dual-stack sibling's table, when we have one (pairWith).
   */
  private learnFrom(body: ResponseBody): void {
    this.hearOf((this.family === 6 ? body.nodes6 : body.nodes) ?? []);
    const sibling = this.sibling;
    if (sibling !== undefined && !sibling.closed) sibling.hearOf((sibling.family === 6 ? body.nodes6 : body.nodes) ?? []);
  }

  private hearOf(named: readonly NodeInfo[]): void {
    for (const node of named.slice(0, NODES_PER_REPLY)) if (this.admissible(node)) this.table.recordHeard(node);
  }

  private maintain(): void {
    if (this.closed) return;
    for (const target of this.table.refreshTargets(BUCKET_REFRESH_MS).slice(0, 4)) {
      void this.lookup(target, findNode).result;
    }
    for (const contact of this.table.questionable(4)) {
      void this.query(contact, 'ping', { id: this.id }, { named: contact.lastResponse === 0 });
    }
    // libtorrent's refresh tick, a few gaps at a time: the far buckets keep their spread through churn.
    for (const gap of this.table.gaps().slice(0, 4)) {
      const target = this.table.targetIn(gap);
      const [to] = this.table.closest(target, 1);
      if (to !== undefined) void askOnce(this.joining(), to, { id: this.id, target }, to.lastResponse === 0);
    }
    this.peers.expire();
  }

  // ---- Lookups ----

  /**
   * Start an iterative lookup toward `target` with the given strategy, from our table's closest nodes.
   * `query` replaces how each query is sent (it should still go through `this.query`): the crawler
   * uses it to ask find_node instead of sample_infohashes of nodes whose BEP 51 interval is not over.
   */
  lookup<M extends LookupMethod, Item>(
    target: NodeId,
    strategy: LookupStrategy<M, Item>,
    options: LookupOptions & { seeds?: readonly NodeInfo[]; query?: QueryFn } & StartingPoints = {},
  ): Lookup<M, Item> {
    const { seeds: given, query, routers, routersLater, contacts = [], ...lookupOptions } = options;
    // A cold scrape asks its bootstrap routers before it joins: they declare the network as well.
    this.declareScope([...(routers ?? []), ...contacts]);
    const scope: LookupOptions = this.addressScope !== undefined ? { addressScope: this.addressScope } : {};
    const enforce: LookupOptions = this.options.enforceSecureIds === true ? { secureIdsOnly: true } : {};
    const merged: LookupOptions = { ...scope, ...enforce, ...this.options.lookup, ...lookupOptions, now: this.now, family: this.family };
    const count = merged.maxCandidates ?? 100;
    const seeds = given ?? [...contacts, ...this.table.closest(target, count)];
    // Lookups seeded from the table may go back to it: a join running alongside fills it (LookupOptions.reseed).
    if (given === undefined) {
      merged.reseed ??= () => this.table.closest(target, count);
      merged.watchReseed ??= (changed) => { this.tableNews.add(changed); return () => this.tableNews.delete(changed); };
    }
    const queryFn: QueryFn = query ?? ((to, method, args, queryOptions) => this.query(to, method, args, queryOptions));
    const asRouters = (routers?.length ?? 0) === 0 && (routersLater?.length ?? 0) === 0
      ? undefined
      : {
        endpoints: routers ?? [],
        later: routersLater ?? [],
        query: ((to, method, args, queryOptions) => this.query(to, method, args, queryOptions)) satisfies EndpointQueryFn,
      };
    const lookup = new Lookup(this.id, target, strategy, seeds, queryFn, merged, asRouters);
    for (const listener of this.lookupListeners) listener(lookup as Lookup<LookupMethod, unknown>);
    return lookup;
  }

  /**
   * Join the network (BEP 5, "Routing Table"): see bootstrap.ts. Resolves once the lookup for our
   * own ID and the table fill are over, or the time budget is spent.
   */
  bootstrap(routers: readonly Endpoint[], options: BootstrapOptions = {}): Promise<BootstrapResult> {
    return this.join(routers, options).result;
  }

  /** Start joining and return at once (see bootstrap.ts): a scrape looks up its target meanwhile. */
  join(routers: readonly Endpoint[], options: BootstrapOptions = {}): Join {
    this.declareScope([...routers, ...(options.contacts ?? [])]);
    return join(this.joining(), routers, options);
  }

  /** Our public face plus the clock, send budget and hard timeout, for the join in bootstrap.ts. */
  private joining(): JoiningNode {
    return {
      id: this.id,
      family: this.family,
      table: this.table,
      closed: () => this.closed,
      sendBudget: this.rpc.sendBudget,
      hardTimeoutMs: this.rpc.hardTimeoutMs,
      now: this.now,
      query: (to, method, args, options) => this.query(to, method, args, options),
      lookup: (target, strategy, options) => this.lookup(target, strategy, options),
    };
  }

  /**
   * Joining through local addresses only (private, loopback, link-local) is how a user says "this
   * network is local": there, many real nodes may share a /24, and the lookup's per-/24 brake is
   * kept for public addresses. Joining through any public address means the Internet's DHT, where
   * a local address cannot be reached and is dropped. The first join, or the first lookup given
   * routers (a cold scrape asks them before it joins), decides; `lookup.addressScope` overrides it.
   */
  private declareScope(routers: readonly Endpoint[]): void {
    if (this.addressScope !== undefined || this.options.lookup?.addressScope !== undefined || routers.length === 0) return;
    this.addressScope = routers.every((r) => isLocalHost(r.address)) ? 'local' : 'public';
  }

  /** get_peers lookup for an info-hash; iterate it for peers as they arrive. */
  findPeers(
    infoHash: NodeId,
    options: LookupOptions & { scrape?: boolean; noseed?: boolean } & StartingPoints = {},
  ): Lookup<'get_peers', PeerInfo> {
    const { scrape, noseed, ...lookupOptions } = options;
    const strategyOptions: { scrape?: boolean; noseed?: boolean } = {};
    if (scrape !== undefined) strategyOptions.scrape = scrape;
    if (noseed !== undefined) strategyOptions.noseed = noseed;
    return this.lookup(infoHash, getPeers(strategyOptions), lookupOptions);
  }

  /**
   * Announce that we have the torrent (BEP 5, announce_peer): a get_peers lookup finds the k
   * closest nodes and their tokens, then each of them is told our port.
   */
  async announce(infoHash: NodeId, options: AnnounceOptions & { lookup?: LookupOptions } = {}): Promise<AnnounceResult> {
    const result = await this.findPeers(infoHash, options.lookup ?? {}).result;
    const announcedTo = await this.announceTo(infoHash, result.closest, options);
    return { lookup: result, announcedTo };
  }

  /**
   * Send announce_peer to nodes that gave us a token in a get_peers reply. Without `port`, BEP 5's
   * `implied_port` asks them to use the UDP source port they see, which also works behind a NAT.
   * Returns how many accepted.
   */
  async announceTo(infoHash: NodeId, closest: readonly Candidate[], options: AnnounceOptions = {}): Promise<number> {
    const outcomes = await Promise.all(
      closest
        .filter((c) => c.token !== undefined)
        .map((c) => this.query(c.node, 'announce_peer', {
          id: this.id,
          info_hash: infoHash,
          port: options.port ?? this.local.port,
          token: c.token!,
          ...(options.port === undefined ? { implied_port: true } : {}),
          ...(options.seed === true ? { seed: true } : {}),
        })),
    );
    return outcomes.filter((o) => o.kind === 'response').length;
  }

  /** Good nodes worth remembering for the next start. */
  goodNodes(limit = 64): NodeInfo[] {
    return this.table
      .all()
      .filter((c) => this.table.stateOf(c) === 'good')
      .slice(0, limit)
      .map(({ id, address, port }) => ({ id, address, port }));
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stop answering, fail pending queries, release the socket, timers and listeners. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.maintenance);
    if (this.turnEnd !== undefined) clearImmediate(this.turnEnd);
    this.listeners.clear();
    await this.rpc.close();
  }
}

/** How to announce (BEP 5 announce_peer). */
export interface AnnounceOptions {
  /** The port peers should connect to; omitted, the UDP source port is implied. */
  port?: number;
  /** BEP 33: we have the whole torrent. */
  seed?: boolean;
}

/** The get_peers lookup that found the closest nodes, and how many of them took the announce. */
export interface AnnounceResult {
  lookup: LookupResult;
  /** Nodes that accepted the announce. */
  announcedTo: number;
}

/**
 * Where a lookup starts besides the routing table. `routers` and `routersLater` are addresses
 * without a known node ID, asked first (see LookupRouters): those known now, and each name's
 * addresses once it resolves. `contacts` are nodes known from elsewhere with their IDs (the state
 * file's saved nodes of an earlier run): candidates beside the table's, asked closest first like
 * them, not all at once like routers. The routers known now and the contacts declare the network's
 * scope (declareScope), so that a lookup's candidates are judged from the start.
 */
export interface StartingPoints {
  routers?: readonly Endpoint[];
  routersLater?: readonly Promise<readonly Endpoint[]>[];
  contacts?: readonly NodeInfo[];
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
function isLoopback(address: string): boolean {
  const host = hostKey(address);
  return host === '::1' || (familyOf(host) === 4 && host.startsWith('127.'));
}

/** A local address (see declareScope); a host name, which bootstrap should never get, counts as public. */
function isLocalHost(address: string): boolean {
  try {
    return isExemptAddress(address);
  } catch {
    return false;
  }
}

/** BEP 51 leaves the sample count to the node; 20 x 20 bytes keeps the reply well under the MTU. */
const SAMPLES_PER_REPLY = 20;

/**
 * How many peers fit in a get_peers reply next to what it already holds, so the reply stays under
 * MAX_REPLY_BYTES: one value costs "6:" + 6 bytes for IPv4, "18:" + 18 for IPv6.
 */
function valuesBudget(body: ReplyBody, to: Endpoint): number {
  const perValue = familyOf(to.address) === 6 ? 21 : 8;
  // 38 bytes per contact bounds both `nodes` (26) and `nodes6` (38); BEP 32's `want` may ask for both.
  const nodeBytes = ((body.nodes?.length ?? 0) + (body.nodes6?.length ?? 0)) * 38;
  const fixed = 200 + nodeBytes + (body.BFsd ? 2 * 270 : 0);
  return Math.max(0, Math.min(100, Math.floor((MAX_REPLY_BYTES - fixed) / perValue)));
}
