/**
 * When to ask each node for a BEP 51 sample. A node answering sample_infohashes says how long its
 * sample stays the same ("interval: the subset refresh interval in seconds", at most 21,600), so
 * asking it again sooner only costs both sides a packet. This schedule holds the nodes the crawler
 * knows, hands out the ones that are due, and puts each back with the time its own node asked for.
 *
 * Nodes are keyed by address and port: one endpoint is one node to the network, whatever ID it
 * claims. Three states:
 * - waiting: learned, never asked. Handed out first-come first-served;
 * - resting: asked; due again at `dueAt` (a min-heap orders them);
 * - in flight: handed out, outcome not yet reported.
 *
 * Bounded by `maxNodes`; what happens when full is documented on SampleScheduleOptions.maxNodes.
 * Pure: the caller passes the time.
 */
import { formatEndpoint } from '../wire/address.js';
import type { NodeInfo } from '../wire/compact.js';

export interface SampleScheduleOptions {
  /**
   * Most nodes remembered. Default 50,000 (~15 MB). When full, a newly learned node takes the place
   * of the waiting node learned longest ago (an address that old is the likeliest to be gone), or,
   * when none is waiting, of the resting node asked longest ago (it is the nearest to due anyway).
   * A forgotten node met again counts as new, so in a crawl long enough to cycle the whole
   * schedule it may be asked before its interval is over.
   */
  maxNodes?: number;
  /** Used when a reply carries no `interval`. Default 21,600 s (BEP 51's maximum, libtorrent's value). */
  defaultIntervalSeconds?: number;
  /** Intervals are clamped to [min, max]. Defaults 1 s and 21,600 s: a node saying 0 is not asked every round. */
  minIntervalSeconds?: number;
  maxIntervalSeconds?: number;
  /** After a timeout, ask again this much later. Default 60 s. */
  retryMs?: number;
  /**
   * After a timeout from a node that answers our other queries (find_node), ask again this much
   * later: it is there, so its silence is likelier a refusal than a lost packet. Default 10 s.
   */
  answeringRetryMs?: number;
  /**
   * Consecutive timeouts after which a node is given up: forgotten if it never answered us at all,
   * counted as without BEP 51 if it answers other queries (jech/dht in transmission and
   * bittorrent-dht never answer sample_infohashes). Default 2.
   */
  maxFailures?: number;
}

type State = 'waiting' | 'resting' | 'in-flight';

interface Entry {
  node: NodeInfo;
  state: State;
  /** Milliseconds; meaningful when resting. */
  dueAt: number;
  failures: number;
  /** Times it answered with samples. */
  samples: number;
  /** It has answered some query of ours (a find_node, a walk's get_peers): it is alive. */
  answers: boolean;
}

interface Due { dueAt: number; key: string }

export interface ScheduleStats {
  nodes: number;
  waiting: number;
  inFlight: number;
  /** Distinct nodes that have answered at least one sample_infohashes. */
  sampled: number;
  /** Nodes forgotten to make room. */
  evicted: number;
  /** Nodes forgotten after repeated timeouts. */
  failed: number;
  /** Nodes that do not speak BEP 51 (error or no `samples`): never asked again while remembered. */
  unsupported: number;
}

export class SampleSchedule {
  private readonly entries = new Map<string, Entry>();
  /** Keys of waiting entries, oldest first (a Set iterates in insertion order). */
  private readonly waiting = new Set<string>();
  private readonly heap: Due[] = [];
  private inFlight = 0;
  private sampledNodes = 0;
  private evicted = 0;
  private failedNodes = 0;
  private unsupportedNodes = 0;
  private readonly maxNodes: number;
  private readonly defaultInterval: number;
  private readonly minInterval: number;
  private readonly maxInterval: number;
  private readonly retryMs: number;
  private readonly answeringRetryMs: number;
  private readonly maxFailures: number;

  constructor(options: SampleScheduleOptions = {}) {
    this.maxNodes = options.maxNodes ?? 50_000;
    this.defaultInterval = options.defaultIntervalSeconds ?? 21_600;
    this.minInterval = options.minIntervalSeconds ?? 1;
    this.maxInterval = options.maxIntervalSeconds ?? 21_600;
    this.retryMs = options.retryMs ?? 60_000;
    this.answeringRetryMs = options.answeringRetryMs ?? 10_000;
    this.maxFailures = options.maxFailures ?? 2;
  }

  get size(): number { return this.entries.size; }

  stats(): ScheduleStats {
    return {
      nodes: this.entries.size,
      waiting: this.waiting.size,
      inFlight: this.inFlight,
      sampled: this.sampledNodes,
      evicted: this.evicted,
      failed: this.failedNodes,
      unsupported: this.unsupportedNodes,
    };
  }

  has(node: { address: string; port: number }): boolean {
    return this.entries.has(formatEndpoint(node));
  }

  /** Remember a node to ask. False if it was known already or could not be made room for. */
  add(node: NodeInfo): boolean {
    const key = formatEndpoint(node);
    if (node.port === 0 || this.entries.has(key)) return false;
    if (this.entries.size >= this.maxNodes && !this.evictOne()) return false;
    this.entries.set(key, { node, state: 'waiting', dueAt: 0, failures: 0, samples: 0, answers: false });
    this.waiting.add(key);
    return true;
  }

  /** Up to `max` nodes due now: resting ones whose time has come first, then waiting ones. They are now in flight. */
  take(max: number, now: number): NodeInfo[] {
    const out: NodeInfo[] = [];
    while (out.length < max && this.heap.length > 0 && this.heap[0]!.dueAt <= now) {
      const { key, dueAt } = this.popDue();
      const entry = this.entries.get(key);
      // Stale heap items (the node was forgotten, or rescheduled since) are skipped.
      if (entry?.state !== 'resting' || entry.dueAt !== dueAt) continue;
      out.push(this.launch(key, entry));
    }
    for (const key of this.waiting) {
      if (out.length >= max) break;
      out.push(this.launch(key, this.entries.get(key)!));
    }
    return out;
  }

  /**
   * Claim one node if it is due (known and due, or not known yet: it is added). False if it is not
   * due, already in flight, or there is no room for it: then it must not be sampled now.
   */
  claim(node: NodeInfo, now: number): boolean {
    const key = formatEndpoint(node);
    if (!this.entries.has(key) && !this.add(node)) return false;
    const entry = this.entries.get(key)!;
    if (entry.state === 'in-flight' || (entry.state === 'resting' && entry.dueAt > now)) return false;
    this.launch(key, entry);
    return true;
  }

  /** The node answered with a sample: due again after its interval. */
  answered(node: NodeInfo, intervalSeconds: number | undefined, now: number): void {
    const entry = this.settle(node);
    if (entry === undefined) return;
    if (entry.samples++ === 0) this.sampledNodes++;
    entry.failures = 0;
    const seconds = Math.min(this.maxInterval, Math.max(this.minInterval, intervalSeconds ?? this.defaultInterval));
    this.rest(node, entry, now + seconds * 1_000);
  }

  /** The node answered, but not with a sample (an error, or no `samples`): it does not do BEP 51. */
  unsupported(node: NodeInfo, now: number): void {
    const entry = this.settle(node);
    if (entry === undefined) return;
    this.unsupportedNodes++;
    this.rest(node, entry, now + this.maxInterval * 1_000);
  }

  /** The node answered some other query of ours: a later silence to sample_infohashes is a refusal. */
  heard(node: { address: string; port: number }): void {
    const entry = this.entries.get(formatEndpoint(node));
    if (entry !== undefined) entry.answers = true;
  }

  /**
   * No answer in time: try once more later. Then a node that answers our other queries counts as
   * without BEP 51 (and rests like one); a node that never answered anything is forgotten.
   */
  failed(node: NodeInfo, now: number): void {
    const entry = this.settle(node);
    if (entry === undefined) return;
    if (++entry.failures >= this.maxFailures) {
      if (entry.answers) {
        this.unsupportedNodes++;
        this.rest(node, entry, now + this.maxInterval * 1_000);
        return;
      }
      this.entries.delete(formatEndpoint(node));
      this.failedNodes++;
      return;
    }
    this.rest(node, entry, now + (entry.answers ? this.answeringRetryMs : this.retryMs));
  }

  /** The query was not sent (our own send queue was full, or the node's minute is spent): due again at `at`. */
  release(node: NodeInfo, now: number, at = now): void {
    const entry = this.settle(node);
    if (entry !== undefined) this.rest(node, entry, Math.max(now, at));
  }

  private launch(key: string, entry: Entry): NodeInfo {
    if (entry.state === 'waiting') this.waiting.delete(key);
    entry.state = 'in-flight';
    this.inFlight++;
    return entry.node;
  }

  private settle(node: NodeInfo): Entry | undefined {
    const entry = this.entries.get(formatEndpoint(node));
    if (entry?.state !== 'in-flight') return undefined;
    this.inFlight--;
    return entry;
  }

  /** Move to the back of the map (the map's order is eviction order), and onto the heap. */
  private rest(node: NodeInfo, entry: Entry, dueAt: number): void {
    const key = formatEndpoint(node);
    entry.state = 'resting';
    entry.dueAt = dueAt;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.pushDue({ dueAt, key });
  }

  private evictOne(): boolean {
    for (const key of this.waiting) {
      this.waiting.delete(key);
      this.entries.delete(key);
      this.evicted++;
      return true;
    }
    for (const [key, entry] of this.entries) {
      if (entry.state !== 'resting') continue;
      this.entries.delete(key);
      this.evicted++;
      // Its heap item goes stale; compact when stale items outnumber live ones.
      if (this.heap.length > 2 * this.entries.size + 64) this.compactHeap();
      return true;
    }
    return false;
  }

  private compactHeap(): void {
    const live = this.heap.filter(({ key, dueAt }) => {
      const entry = this.entries.get(key);
      return entry?.state === 'resting' && entry.dueAt === dueAt;
    });
    this.heap.length = 0;
    for (const item of live) this.pushDue(item);
  }

  private pushDue(item: Due): void {
    const heap = this.heap;
    heap.push(item);
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent]!.dueAt <= item.dueAt) break;
      heap[at] = heap[parent]!;
      at = parent;
    }
    heap[at] = item;
  }

  private popDue(): Due {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let at = 0;
    for (;;) {
      const left = at * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.dueAt < heap[left]!.dueAt ? right : left;
      if (heap[child]!.dueAt >= last.dueAt) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = last;
    return top;
  }
}
