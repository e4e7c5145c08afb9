/**
 * KRPC over a datagram transport (BEP 5, "KRPC Protocol"): sends queries and matches their replies,
 * times them out, paces what we send, and hands incoming queries to whoever answers them (the node).
 *
 * A reply is matched on its transaction ID *and* the address and port we sent the query to, so a
 * third party cannot answer for a node it is not. Each query has two timeouts: a soft one (about a
 * second) after which the caller may move on (a lookup opens another slot) while a late reply is
 * still accepted, and a hard one after which the query has failed.
 */
import { randomBytes } from 'node:crypto';
import { hostKey, sameHost } from '../wire/address.js';
import {
  decodeMessage,
  encodeMessage,
  makeQuery,
  type Envelope,
  type ErrorMessage,
  type KrpcError,
  type Message,
  type Query,
  type QueryArgsByMethod,
  type QueryMethod,
  type Reply,
  type ReplyBody,
  type Response,
} from '../wire/krpc.js';
import { OutboundGuard, guardKey, type GuardLane, type OutboundGuardOptions } from './outbound-guard.js';
import { TokenBucket } from './rate-limit.js';
import { RttEstimator } from './rtt-estimator.js';
import type { Endpoint, Transport } from './transport.js';

export type QueryOutcome =
  | { kind: 'response'; response: Response; rttMs: number }
  | { kind: 'error'; error: ErrorMessage; rttMs: number }
  | { kind: 'timeout' }
  /** Never sent: the RPC layer is closed, overloaded, or its send queue is full. */
  | { kind: 'failed'; reason: string };

export interface QueryOptions {
  /** Called once if no reply came within the soft timeout; the query stays open until the hard one. */
  onSoftTimeout?: () => void;
  hardTimeoutMs?: number;
  /**
   * 'low': sent only when nothing else waits for the send budget (joining the network while a
   * scrape's lookup runs: the lookup's queries must never queue behind the join's).
   */
  priority?: 'low';
  /**
   * The address was named by another node (a `nodes` list, a querier's source) rather than chosen
   * by our caller: the outbound guard may make the query wait or refuse it (outbound-guard.ts), so
   * that hostile replies cannot aim our queries at a third party. Lookups, the crawler and table
   * upkeep set it; a router, or an address a user typed, is queried as asked.
   */
  named?: boolean;
}

export interface RpcOptions {
  /**
   * The longest soft timeout, used until replies have taught the round-trip estimate. Default
   * 1,000 ms (libtorrent's fixed value). The soft timeout then follows the network: see RttEstimator.
   * Queries sent blind, before the first reply, are judged again by it when it comes (rearmBlind).
   */
  softTimeoutMs?: number;
  /** The shortest soft timeout the estimate may give. Default 250 ms. */
  minSoftTimeoutMs?: number;
  /** Default 3,000 ms. */
  hardTimeoutMs?: number;
  /** Global send budget in packets per second (queries and replies alike). Default 500. */
  sendRate?: number;
  /** Packets that may be sent at once before pacing starts. Default 100. */
  sendBurst?: number;
  /** Sends waiting for the rate limit; beyond it, a send is dropped and counted. Default 2,000. */
  maxSendQueue?: number;
  /** Queries awaiting a reply; beyond it, a query fails at once. Default 4,000 (of 65,536 IDs). */
  maxPending?: number;
  /**
   * Unsolicited datagrams larger than this are dropped unread. Default 1,500 bytes (a typical MTU).
   * A reply to one of our open queries is read up to MAX_DATAGRAM_BYTES: see receive().
   */
  maxPacketBytes?: number;
  /**
   * Replies larger than this are not sent. Default MAX_REPLY_BYTES. Only a node built to behave like
   * another implementation raises it (the local network's "whole table" profile).
   */
  maxReplyBytes?: number;
  /** Our client version string (`v`), sent with every message. */
  version?: Uint8Array;
  /** BEP 43: mark our queries read-only, so others keep us out of their tables. */
  readOnly?: boolean;
  /**
   * Per-host limits on querying addresses that never answered us (outbound-guard.ts): what keeps
   * hostile `nodes` lists from aiming our queries at a third party. `false` turns it off (a
   * benchmark flooding one address on purpose). Default on, with OutboundGuard's defaults.
   */
  outboundGuard?: OutboundGuardOptions | false;
  now?: () => number;
  /** Random bytes for transaction IDs. Default node:crypto randomBytes. */
  random?: (size: number) => Uint8Array;
}

/** Why an incoming or outgoing datagram went nowhere. Each has its own counter. */
export type DropReason =
  | 'oversized'
  | 'undecodable'
  | 'invalid'
  | 'unmatched'
  | 'wrong-source'
  | 'send-queue-full'
  | 'send-error'
  | 'lost'
  | 'refused'
  /** A reply that encoded larger than MAX_REPLY_BYTES: not sent (a bug upstream, never the querier's doing). */
  | 'reply-too-large'
  /** A valid message whose listener threw: a bug, counted so that it cannot take the node down. */
  | 'handler-error'
  /** A query left unanswered because our send budget was spent (the node sheds strangers first). */
  | 'shed';

/**
 * The most bytes a reply may take. A reply bigger than the query that caused it is what makes a
 * UDP service an amplifier for spoofed floods; capping it (below the 1,280-byte IPv6 minimum MTU,
 * so it is never fragmented either) bounds what anyone can make us send. The node budgets its
 * replies to fit; this is the safety net.
 */
export const MAX_REPLY_BYTES = 1_200;

/**
 * The largest UDP payload (65,535 minus the 8-byte UDP and 20-byte IPv4 headers). webtorrent's
 * bittorrent-dht answers find_node with its whole routing table, 2-3 KB with 100 contacts: a reply
 * we asked for is read whole, whatever its size.
 */
export const MAX_DATAGRAM_BYTES = 65_507;

export interface RpcCounters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  queriesIn: Record<string, number>;
  queriesOut: Record<string, number>;
  responses: number;
  errors: number;
  timeouts: number;
  dropped: Record<DropReason, number>;
  /** Queries the outbound guard made wait for a slot at their host, and refused (a silent host). */
  guarded: { held: number; refused: number };
}

export type QueryListener = (query: Query, from: Endpoint) => void;
export type BadQueryListener = (error: KrpcError, from: Endpoint) => void;
export type ErrorReplyListener = (error: ErrorMessage, from: Endpoint) => void;
/** Decides whether to read a datagram at all (per-source rate limits, bans); `bytes` is the datagram, undecoded. */
export type AdmitFilter = (from: Endpoint, bytes: Uint8Array) => boolean;

/**
 * What waits for the send rate: a query, whose timers start once it has left (`onSent`), or a
 * reply. They leave the socket at different moments (SendTiming): a query at once, since a lookup
 * waits on it; a reply after the event-loop turn, batched with the turn's others.
 */
type Queued =
  | { kind: 'query'; bytes: Uint8Array; to: Endpoint; onSent: () => void }
  | { kind: 'reply'; bytes: Uint8Array; to: Endpoint };

interface Pending {
  to: Endpoint;
  /** Whether the outbound guard counted it as a query to a port that never answered us. */
  stranger: boolean;
  /** The guard's lane it was counted in (QueryOptions.priority). */
  lane: GuardLane;
  /**
   * A BEP 5 method every node answers: only its silence counts against a host. Nodes without BEP
   * 51 or 44 (bittorrent-dht, for one) leave sample_infohashes, get and put unanswered, so such a
   * query gives its host's slot back at its soft timeout instead of holding it to the hard one.
   */
  core: boolean;
  sentAt: number;
  soft: NodeJS.Timeout | undefined;
  /** Both timers start when the query is actually sent. */
  hard: NodeJS.Timeout | undefined;
  /** A non-core query to an unknown port gives the guard's slot back at its soft timeout. */
  release?: NodeJS.Timeout | undefined;
  /** The caller's soft-timeout callback, kept while `soft` runs so that rearmBlind can move it. */
  onSoft?: (() => void) | undefined;
  /** Sent before any round trip was known: its soft timer runs at the estimate's maximum. */
  blind?: boolean;
  /** When `soft` fires (this.now() clock), so that a sibling's reply can only bring it sooner. */
  softAt?: number;
  settle: (outcome: QueryOutcome) => void;
}

const CORE_METHODS: ReadonlySet<string> = new Set(['ping', 'find_node', 'get_peers', 'announce_peer']);

/** A query to an endpoint that answered another is judged lost after this many times that round trip (Rpc.hurrySiblings). */
const SIBLING_FACTOR = 1.5;

/** Queries that may wait for a slot at one host; more are refused like queries to a silent host. */
const MAX_HELD_PER_HOST = 64;

interface Held {
  to: Endpoint;
  lane: GuardLane;
  go: () => void;
  fail: (outcome: QueryOutcome) => void;
}

const DEFAULT_VERSION = new Uint8Array([0x44, 0x53, 0x00, 0x01]); // "DS" 0.1

export class Rpc {
  readonly counters: RpcCounters = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    queriesIn: {},
    queriesOut: {},
    responses: 0,
    errors: 0,
    timeouts: 0,
    guarded: { held: 0, refused: 0 },
    dropped: {
      oversized: 0, undecodable: 0, invalid: 0, unmatched: 0, 'wrong-source': 0,
      'send-queue-full': 0, 'send-error': 0, lost: 0, refused: 0, 'reply-too-large': 0, 'handler-error': 0, shed: 0,
    },
  };
  private readonly pending = new Map<number, Pending>();
  private readonly guardian: OutboundGuard | undefined;
  /** Queries waiting for a slot at their host (the outbound guard said 'hold'), by guardKey. */
  private readonly held = new Map<string, Held[]>();
  /** Open queries by host: a host we are waiting on is not held to the admit filter (we asked it to send). */
  private readonly awaiting = new Map<string, number>();
  /** Open queries by host and port: only these may send us more than maxPacketBytes. */
  private readonly awaitingEndpoints = new Map<string, number>();
  private readonly queue: Queued[] = [];
  /** Low-priority sends (QueryOptions.priority), sent only when `queue` is empty. */
  private readonly lowQueue: Queued[] = [];
  private queueTimer: NodeJS.Timeout | undefined;
  private readonly bucket: TokenBucket;
  private readonly options: Required<Omit<RpcOptions, 'version' | 'readOnly' | 'now' | 'random' | 'outboundGuard'>>;
  private readonly envelope: Omit<Envelope, 't'>;
  private readonly now: () => number;
  private readonly random: (size: number) => Uint8Array;
  /** Learns the soft timeout from the replies' round trips. */
  readonly rtt: RttEstimator;
  private onQueryListener: QueryListener = () => {};
  private onBadQueryListener: BadQueryListener = () => {};
  private admit: AdmitFilter = () => true;
  private readonly errorListeners = new Set<ErrorReplyListener>();
  private closed = false;


  constructor(
    private readonly transport: Transport,
    options: RpcOptions = {},
  ) {
    this.options = {
      softTimeoutMs: options.softTimeoutMs ?? 1_000,
      minSoftTimeoutMs: Math.min(options.minSoftTimeoutMs ?? 250, options.softTimeoutMs ?? 1_000),
      hardTimeoutMs: options.hardTimeoutMs ?? 3_000,
      sendRate: options.sendRate ?? 500,
      sendBurst: options.sendBurst ?? 100,
      maxSendQueue: options.maxSendQueue ?? 2_000,
      maxPending: options.maxPending ?? 4_000,
      maxPacketBytes: options.maxPacketBytes ?? 1_500,
      maxReplyBytes: options.maxReplyBytes ?? MAX_REPLY_BYTES,
    };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? randomBytes;
    this.rtt = new RttEstimator(this.options.minSoftTimeoutMs, this.options.softTimeoutMs);
    this.envelope = { v: options.version ?? DEFAULT_VERSION, ...(options.readOnly ? { ro: true } : {}) };
    this.bucket = new TokenBucket(this.options.sendRate, this.options.sendBurst, this.now());
    this.guardian = options.outboundGuard === false ? undefined : new OutboundGuard({ now: this.now, ...options.outboundGuard });
    transport.onMessage((bytes, from) => this.receive(bytes, from));
    transport.onSendError(() => { this.counters.dropped['send-error']++; });
  }

  get local(): Endpoint {
    return this.transport.local();
  }

  /** The send budget in force (packets per second, and burst), after defaults. */
  get sendBudget(): { rate: number; burst: number } {
    return { rate: this.options.sendRate, burst: this.options.sendBurst };
  }

  /** How long a query waits for its reply at most, unless it says otherwise (after defaults). */
  get hardTimeoutMs(): number {
    return this.options.hardTimeoutMs;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * True while more than a quarter second of sends waits for the send budget: a reply queued now
   * would go out late. A short queue is normal (a crawler's burst of samples); a long one is a flood.
   */
  get backlogged(): boolean {
    return this.queue.length > this.options.sendRate / 4;
  }

  onQuery(listener: QueryListener): void { this.onQueryListener = listener; }
  /** A datagram that was recognisably a query but broke the schema: the node may answer with an error. */
  onBadQuery(listener: BadQueryListener): void { this.onBadQueryListener = listener; }
  setAdmitFilter(filter: AdmitFilter): void { this.admit = filter; }
  /** Hear every KRPC error answering one of our queries (e.g. 202 "rate limited"). Returns an unsubscribe function. */
  onErrorReply(listener: ErrorReplyListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Send a query and wait for its outcome. Never rejects. */
  query<M extends QueryMethod>(
    to: Endpoint,
    method: M,
    args: QueryArgsByMethod[M],
    options: QueryOptions = {},
  ): Promise<QueryOutcome> {
    if (this.closed) return Promise.resolve({ kind: 'failed', reason: 'closed' });
    // The transaction ID is drawn now, whatever the guard says, so that a seeded random source is
    // read in the order queries are asked (a local network with a seed stays reproducible).
    const drawn = this.freeTransactionKey();
    const lane = laneOf(options);
    const verdict = options.named === true ? this.guardian?.verdict(to.address, to.port, lane) ?? 'send' : 'send';
    if (verdict === 'refuse') return Promise.resolve(this.refuseSilent());
    if (verdict === 'hold') return this.hold(to, () => this.send(to, method, args, options, drawn), options);
    return this.send(to, method, args, options, drawn);
  }

  private refuseSilent(): QueryOutcome {
    this.counters.guarded.refused++;
    return { kind: 'failed', reason: 'address silent: one query per 10 s to ports of it that never answered' };
  }

  /**
   * Wait for a slot at the query's host: sent when a query to that host settles and the guard
   * agrees, failed if none comes before the hard timeout. The soft timeout runs meanwhile, so a
   * lookup moves on as it would from a slow node.
   */
  private hold(to: Endpoint, go: () => Promise<QueryOutcome>, options: QueryOptions): Promise<QueryOutcome> {
    const key = guardKey(to.address);
    if ((this.held.get(key)?.length ?? 0) >= MAX_HELD_PER_HOST) return Promise.resolve(this.refuseSilent());
    this.counters.guarded.held++;
    return new Promise<QueryOutcome>((resolve) => {
      const soft = options.onSoftTimeout !== undefined ? setTimeout(options.onSoftTimeout, this.rtt.timeoutMs).unref() : undefined;
      const waiter: Held = {
        to,
        lane: laneOf(options),
        go: () => { clear(); void go().then(resolve); },
        fail: (outcome) => { clear(); resolve(outcome); },
      };
      const hard = setTimeout(() => {
        const list = this.held.get(key);
        const at = list?.indexOf(waiter) ?? -1;
        if (at >= 0) list!.splice(at, 1);
        if (list?.length === 0) this.held.delete(key);
        waiter.fail({ kind: 'failed', reason: 'no slot at a host that has not answered yet' });
      }, options.hardTimeoutMs ?? this.options.hardTimeoutMs).unref();
      const clear = (): void => { clearTimeout(hard); if (soft !== undefined) clearTimeout(soft); };
      const list = this.held.get(key);
      if (list === undefined) this.held.set(key, [waiter]);
      else list.push(waiter);
    });
  }

  /**
   * A query to `key` settled: let the queries waiting for that host go, in order, as far as the
   * guard allows. One still held does not block those behind it: they may wait in the other lane.
   */
  private wake(key: string): void {
    const list = this.held.get(key);
    if (list === undefined || this.guardian === undefined) return;
    for (let i = 0; i < list.length;) {
      const next = list[i]!;
      const verdict = this.guardian.verdict(next.to.address, next.to.port, next.lane);
      if (verdict === 'hold') { i++; continue; }
      list.splice(i, 1);
      if (verdict === 'send') next.go();
      else next.fail(this.refuseSilent());
    }
    if (list.length === 0) this.held.delete(key);
  }

  private send<M extends QueryMethod>(to: Endpoint, method: M, args: QueryArgsByMethod[M], options: QueryOptions, drawn: number): Promise<QueryOutcome> {
    if (this.closed) return Promise.resolve({ kind: 'failed', reason: 'closed' });
    if (this.pending.size >= this.options.maxPending) return Promise.resolve({ kind: 'failed', reason: 'too many queries in flight' });
    const key = this.pending.has(drawn) ? this.freeTransactionKey() : drawn;
    const t = new Uint8Array([key >> 8, key & 0xff]);
    const bytes = encodeMessage(makeQuery(t, method, args, this.envelope));
    this.counters.queriesOut[method] = (this.counters.queriesOut[method] ?? 0) + 1;
    const lane = laneOf(options);
    const stranger = this.guardian?.sent(to.address, to.port, lane) ?? false;
    return new Promise<QueryOutcome>((resolve) => {
      const entry: Pending = { to, stranger, lane, core: CORE_METHODS.has(method), sentAt: this.now(), soft: undefined, hard: undefined, settle: resolve };
      this.pending.set(key, entry);
      countUp(this.awaiting, hostKey(to.address));
      countUp(this.awaitingEndpoints, endpointKey(to));
      // The timeouts measure the network, so they start when the packet leaves, not while it
      // waits for our own rate limit: a busy crawler must not time out its own queue.
      const onSent = (): void => {
        if (this.pending.get(key) !== entry) return;
        entry.sentAt = this.now();
        this.startTimers(key, entry, options);
      };
      if (!this.enqueue({ kind: 'query', bytes, to, onSent }, options.priority)) this.settle(key, { kind: 'failed', reason: 'send queue full' });
    });
  }

  private startTimers(key: number, entry: Pending, options: QueryOptions): void {
    const hardMs = options.hardTimeoutMs ?? this.options.hardTimeoutMs;
    entry.hard = setTimeout(() => this.expire(key), hardMs).unref();
    const softMs = this.rtt.timeoutMs;
    if (entry.stranger && !entry.core && this.guardian !== undefined) {
      const guardian = this.guardian;
      entry.release = setTimeout(() => {
        entry.release = undefined;
        if (this.pending.get(key) !== entry || !entry.stranger) return;
        entry.stranger = false;
        guardian.settled(entry.to.address, entry.to.port, true, false, false, entry.lane);
        if (this.held.size > 0) this.wake(guardKey(entry.to.address));
      }, softMs).unref();
    }
    if (options.onSoftTimeout !== undefined && softMs < hardMs) {
      entry.onSoft = options.onSoftTimeout;
      entry.blind = this.rtt.smoothedMs === undefined;
      this.armSoft(entry, softMs);
    }
  }

  private armSoft(entry: Pending, ms: number): void {
    entry.softAt = this.now() + ms;
    entry.soft = setTimeout(() => {
      entry.soft = undefined;
      const onSoft = entry.onSoft;
      entry.onSoft = undefined;
      onSoft?.();
    }, ms).unref();
  }

  /**
   * The first reply taught the estimate a round trip: the queries sent before it, blind, wait
   * for their soft timeout at the estimate's maximum (1 s) only because nothing was known. Judge
   * them by what is known now, counted from when each left. A cold scrape asks its one router
   * get_peers and, alongside, find_node for the join: when the join's reply comes back at 100 ms,
   * the get_peers sent with it is most likely lost, and the lookup should ask again at 300 ms
   * (3 round trips, RFC 6298's first estimate), not at 1 s. Done once per Rpc, on the first
   * sample; after it every soft timer is armed from a known round trip.
   */
  private rearmBlind(): void {
    const softMs = this.rtt.timeoutMs;
    const now = this.now();
    for (const entry of this.pending.values()) {
      if (entry.blind !== true || entry.soft === undefined) continue;
      entry.blind = false;
      clearTimeout(entry.soft);
      this.armSoft(entry, Math.max(0, entry.sentAt + softMs - now));
    }
  }

  respond(to: Endpoint, t: Uint8Array, body: ReplyBody, extra: Omit<Envelope, 't'> = {}): void {
    this.enqueueReply(encodeMessage(this.envelop({ t, y: 'r', r: body }, extra)), to);
  }

  respondError(to: Endpoint, t: Uint8Array, code: number, message: string): void {
    this.enqueueReply(encodeMessage(this.envelop({ t, y: 'e', e: { code, message } }, {})), to);
  }

  /**
   * Add our envelope (`v`, and `ro` when read-only) to a reply, `extra`'s fields taking precedence.
   * Set field by field: two object spreads per reply used to cost more than encoding it.
   */
  private envelop<M extends Reply | ErrorMessage>(message: M, extra: Omit<Envelope, 't'>): M {
    const v = extra.v ?? this.envelope.v;
    if (v !== undefined) message.v = v;
    const ro = extra.ro ?? this.envelope.ro;
    if (ro !== undefined) message.ro = ro;
    if (extra.ip !== undefined) message.ip = extra.ip;
    return message;
  }

  private enqueueReply(bytes: Uint8Array, to: Endpoint): void {
    if (bytes.length > this.options.maxReplyBytes) { this.counters.dropped['reply-too-large']++; return; }
    this.enqueue({ kind: 'reply', bytes, to });
  }

  /**
   * Read one datagram. Public so that tests and the fuzzer can drive the node without a socket.
   * Undecodable input is counted and dropped, never answered (answering garbage would let anyone
   * use us to bounce traffic at a third party).
   */
  receive(bytes: Uint8Array, from: Endpoint): void {
    if (this.closed) return;
    this.counters.packetsIn++;
    this.counters.bytesIn += bytes.length;
    // Beyond the MTU, only a reply we asked for is read: an endpoint we await may send up to the UDP
    // maximum, and what it sent is dropped after all unless it answers one of our open queries.
    const oversized = bytes.length > this.options.maxPacketBytes;
    if (oversized && !(bytes.length <= MAX_DATAGRAM_BYTES && this.awaitingEndpoints.has(endpointKey(from)))) {
      this.counters.dropped.oversized++;
      return;
    }
    // A host we are waiting on is read first: its replies to us must not count against its budget,
    // or our own busy lookups would get it banned. Anything else from it (queries, junk) still counts.
    const awaited = this.awaiting.has(hostKey(from.address));
    if (!awaited && !this.admit(from, bytes)) { this.counters.dropped.refused++; return; }
    const parsed = decodeMessage(bytes);
    if (oversized && !(parsed.ok && this.answersOpenQuery(parsed.message, from))) { this.counters.dropped.oversized++; return; }
    if (awaited && !(parsed.ok && this.answersOpenQuery(parsed.message, from)) && !this.admit(from, bytes)) {
      this.counters.dropped.refused++;
      return;
    }
    if (!parsed.ok) {
      const { error } = parsed;
      if (error.t === undefined) { this.counters.dropped.undecodable++; return; }
      this.counters.dropped.invalid++;
      if (error.y === 'q') this.guard(() => this.onBadQueryListener(error, from));
      return;
    }
    this.dispatch(parsed.message, from);
  }

  /** Run a listener on behalf of a remote sender: whatever it throws is counted, never thrown at the socket. */
  private guard(listener: () => void): void {
    try {
      listener();
    } catch {
      this.counters.dropped['handler-error']++;
    }
  }

  /** Whether `message` is a reply or error to a query we have open with `from`. */
  private answersOpenQuery(message: Message, from: Endpoint): boolean {
    if (message.y === 'q' || message.t.length !== 2) return false;
    const entry = this.pending.get((message.t[0]! << 8) | message.t[1]!);
    return entry !== undefined && entry.to.port === from.port && sameHost(entry.to.address, from.address);
  }

  private dispatch(message: Message, from: Endpoint): void {
    if (message.y === 'q') {
      this.counters.queriesIn[message.q] = (this.counters.queriesIn[message.q] ?? 0) + 1;
      this.guard(() => this.onQueryListener(message, from));
      return;
    }
    const key = message.t.length === 2 ? (message.t[0]! << 8) | message.t[1]! : -1;
    const entry = this.pending.get(key);
    if (entry === undefined) { this.counters.dropped.unmatched++; return; }
    if (entry.to.port !== from.port || !sameHost(entry.to.address, from.address)) {
      this.counters.dropped['wrong-source']++;
      return;
    }
    const rttMs = this.now() - entry.sentAt;
    const blind = this.rtt.smoothedMs === undefined;
    this.rtt.sample(rttMs);
    if (message.y === 'r') {
      this.counters.responses++;
      this.settle(key, { kind: 'response', response: message, rttMs });
    } else {
      this.counters.errors++;
      for (const listener of this.errorListeners) this.guard(() => listener(message, from));
      this.settle(key, { kind: 'error', error: message, rttMs });
    }
    if (blind && this.rtt.smoothedMs !== undefined) this.rearmBlind();
    if ((this.awaitingEndpoints.get(endpointKey(entry.to)) ?? 0) > 0) this.hurrySiblings(entry, rttMs);
  }

  /**
   * The endpoint just answered a query, so it is up and the path works: another query to it still
   * unanswered SIBLING_FACTOR times this round trip after it left was most likely lost. Its soft
   * timeout is brought forward to then, as TCP's fast retransmit reads a later segment's
   * acknowledgement as news of a lost one (RFC 5681, section 3.2), instead of waiting for a timer
   * set when less was known. A cold scrape asks its router get_peers and, in the same turn,
   * find_node for the join: when only the find_node reply comes back, the lookup asks the router
   * again 1.5 round trips after the first get_peers left, not 3. A wrong guess costs one query,
   * never the reply: the query stays open to its hard timeout. Never later than the timer it had,
   * nor sooner than half the soft timeout's floor (minSoftTimeoutMs): on a path of a millisecond,
   * the endpoint's own jitter (a busy process, a pause to collect garbage) is not news of a loss.
   */
  private hurrySiblings(answered: Pending, rttMs: number): void {
    const now = this.now();
    for (const entry of this.pending.values()) {
      if (entry.soft === undefined || entry.to.port !== answered.to.port || !sameHost(entry.to.address, answered.to.address)) continue;
      const at = entry.sentAt + Math.max(Math.ceil(SIBLING_FACTOR * rttMs), this.options.minSoftTimeoutMs / 2);
      if (at >= (entry.softAt ?? Infinity)) continue;
      clearTimeout(entry.soft);
      entry.blind = false;
      this.armSoft(entry, Math.max(0, at - now));
    }
  }

  /** Stop: fail every open query, drop the send queue, release the socket and every timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const key of [...this.pending.keys()]) this.settle(key, { kind: 'failed', reason: 'closed' });
    for (const list of [...this.held.values()]) for (const waiter of list) waiter.fail({ kind: 'failed', reason: 'closed' });
    this.held.clear();
    if (this.queueTimer !== undefined) clearTimeout(this.queueTimer);
    this.queue.length = 0;
    this.lowQueue.length = 0;
    await this.transport.close();
  }

  private freeTransactionKey(): number {
    for (;;) {
      const random = this.random(2);
      const key = (random[0]! << 8) | random[1]!;
      if (!this.pending.has(key)) return key;
    }
  }

  private expire(key: number): void {
    if (!this.pending.has(key)) return;
    this.counters.timeouts++;
    this.settle(key, { kind: 'timeout' });
  }

  private settle(key: number, outcome: QueryOutcome): void {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    this.pending.delete(key);
    countDown(this.awaiting, hostKey(entry.to.address));
    countDown(this.awaitingEndpoints, endpointKey(entry.to));
    clearTimeout(entry.hard);
    if (entry.soft !== undefined) clearTimeout(entry.soft);
    if (entry.release !== undefined) clearTimeout(entry.release);
    if (this.guardian !== undefined) {
      const answered = outcome.kind === 'response' || outcome.kind === 'error';
      this.guardian.settled(entry.to.address, entry.to.port, entry.stranger, answered, entry.core && outcome.kind === 'timeout', entry.lane);
    }
    entry.settle(outcome);
    if (this.held.size > 0) this.wake(guardKey(entry.to.address));
  }

  /**
   * Send now if the rate limit allows, else queue (bounded, both queues together). A low-priority
   * send waits behind everything else. False if the packet was dropped.
   */
  private enqueue(item: Queued, priority?: 'low'): boolean {
    if (this.closed) return false;
    if (this.queue.length === 0 && this.lowQueue.length === 0 && this.bucket.take(this.now())) {
      this.sendNow(item);
      return true;
    }
    if (this.queue.length + this.lowQueue.length >= this.options.maxSendQueue) {
      this.counters.dropped['send-queue-full']++;
      return false;
    }
    const lane = priority === 'low' ? this.lowQueue : this.queue;
    lane.push(item);
    this.scheduleDrain();
    return true;
  }

  private scheduleDrain(): void {
    if (this.queueTimer !== undefined || this.closed) return;
    const wait = Math.max(1, this.bucket.waitMs(this.now()));
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined;
      for (;;) {
        const lane = this.queue.length > 0 ? this.queue : this.lowQueue;
        if (lane.length === 0 || !this.bucket.take(this.now())) break;
        this.sendNow(lane.shift()!);
      }
      if (this.queue.length + this.lowQueue.length > 0) this.scheduleDrain();
    }, wait).unref();
  }

  /** Hands an item to the socket: a query at once, a reply after the turn (Queued). */
  private sendNow(item: Queued): void {
    this.counters.packetsOut++;
    this.counters.bytesOut += item.bytes.length;
    this.transport.send(item.bytes, item.to, item.kind === 'query' ? 'now' : 'after-turn');
    if (item.kind === 'query') item.onSent();
  }
}

/** Host and port as one key (hostKey spelling). */
function endpointKey(endpoint: Endpoint): string {
  return `${hostKey(endpoint.address)}:${endpoint.port}`;
}

function countUp(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function countDown(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

/** The outbound guard's lane of a query: the background's for a low-priority one (a scrape's join). */
function laneOf(options: QueryOptions): GuardLane {
  return options.priority === 'low' ? 'background' : 'foreground';
}
