/**
 * Names for the info-hashes a crawl discovers (crawl mode `--metadata`). For each one: a get_peers
 * lookup finds peers (BEP 5; peers announced to our own node count too), then `resolveMetadata`
 * asks them for the info dictionary (BEP 9) and checks it against the info-hash. A dual-stack
 * crawl hands it both of its nodes: each looks up peers in its own DHT (BEP 32), so a torrent
 * whose peers are announced only in the IPv6 DHT is named too.
 *
 * A crawl discovers info-hashes far faster than peers can be asked, so everything is bounded:
 * `concurrency` info-hashes at a time (each with `connectionsPerTorrent` TCP connections at most),
 * `maxQueued` waiting (past that, new ones are reported as skipped at once), and each one within
 * `deadlineMs`. Every item added is reported exactly once through `onOutcome`: named, failed (with
 * the reason), or skipped (queue full, or stopped before its turn).
 */
import type { PeerInfo } from '../wire/compact.js';
import type { NodeId } from '../wire/id.js';
import { resolveMetadata, type Metadata } from '../peer/metadata.js';
import type { MetadataFailure } from '../peer/ut-metadata.js';
import type { DhtNode } from '../dht/node.js';
import { watchStop } from '../dht/stop-reason.js';

export type NameOutcome =
  | { kind: 'named'; metadata: Metadata }
  /** 'no-peers': the lookup found none; 'no-nodes': no node answered the lookup at all. */
  | { kind: 'failed'; reason: MetadataFailure | 'no-peers' | 'no-nodes' }
  | { kind: 'skipped'; reason: 'queue-full' | 'stopped' };

export interface NameResolverOptions {
  /** Info-hashes resolved at once. Default 8. */
  concurrency?: number;
  /** Info-hashes waiting for their turn. Default 1,000. */
  maxQueued?: number;
  /** One info-hash, lookup and fetch together, within this. Default 20 s. */
  deadlineMs?: number;
  /** The lookup for peers, within this (part of the deadline). Default 8 s. */
  lookupTimeoutMs?: number;
  /** One peer's fetch, within this. Default 6 s. */
  peerTimeoutMs?: number;
  /** Peers asked per info-hash, at most. Default 8. */
  maxPeers?: number;
  /** TCP connections per info-hash at once. Default 2. */
  connectionsPerTorrent?: number;
  /** Queue, but start nothing until `resume()`: a crawl sees info-hashes before it has joined. */
  paused?: boolean;
}

export interface NameResolverStats {
  named: number;
  failed: number;
  skipped: number;
  /** Failures and skips by reason. */
  reasons: Partial<Record<string, number>>;
}

interface Job<T> {
  infoHash: NodeId;
  item: T;
  reported: boolean;
}

export class NameResolver<T> {
  readonly stats: NameResolverStats = { named: 0, failed: 0, skipped: 0, reasons: {} };
  private readonly nodes: readonly DhtNode[];
  private readonly onOutcome: (item: T, outcome: NameOutcome, infoHash: NodeId) => void;
  private readonly options: NameResolverOptions;
  private readonly queue: Job<T>[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly inFlight = new Set<Job<T>>();
  private readonly stopper = new AbortController();
  private paused: boolean;

  /** `node`: the node to look peers up from, or one node per address family (BEP 32). */
  constructor(node: DhtNode | readonly DhtNode[], onOutcome: (item: T, outcome: NameOutcome, infoHash: NodeId) => void, options: NameResolverOptions = {}) {
    this.nodes = Array.isArray(node) ? node : [node as DhtNode];
    this.onOutcome = onOutcome;
    this.options = options;
    this.paused = options.paused === true;
  }

  /** Start resolving (after `paused`): the node's table now has nodes to look up from. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Queue an info-hash; `item` comes back with its outcome. */
  add(infoHash: NodeId, item: T): void {
    const job: Job<T> = { infoHash, item, reported: false };
    if (this.stopper.signal.aborted) return this.report(job, { kind: 'skipped', reason: 'stopped' });
    if (this.queue.length >= (this.options.maxQueued ?? 1_000)) return this.report(job, { kind: 'skipped', reason: 'queue-full' });
    this.queue.push(job);
    this.pump();
  }

  /** Info-hashes waiting or being resolved. */
  get pending(): number {
    return this.queue.length + this.inFlight.size;
  }

  /** Stop: cut the resolutions in progress short, report everything not named as skipped, and wait for the connections to close. */
  async stop(): Promise<void> {
    this.stopper.abort();
    this.skipQueued();
    await Promise.all([...this.running]);
  }

  /**
   * Synchronously report every item not yet reported as skipped: for a process about to exit
   * (a second Ctrl+C), which cannot wait for connections to close.
   */
  flushPending(): void {
    this.stopper.abort();
    this.skipQueued();
    for (const job of this.inFlight) this.report(job, { kind: 'skipped', reason: 'stopped' });
  }

  private skipQueued(): void {
    for (const job of this.queue.splice(0)) this.report(job, { kind: 'skipped', reason: 'stopped' });
  }

  private pump(): void {
    while (!this.paused && this.inFlight.size < (this.options.concurrency ?? 8) && this.queue.length > 0 && !this.stopper.signal.aborted) {
      const job = this.queue.shift()!;
      this.inFlight.add(job);
      const run = this.resolve(job).then(
        (outcome) => this.report(job, outcome),
        () => this.report(job, { kind: 'failed', reason: 'protocol' }),
      ).finally(() => {
        this.inFlight.delete(job);
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  private async resolve(job: Job<T>): Promise<NameOutcome> {
    // The job's deadline or stop(), whichever comes first (not AbortSignal.any with the resolver's
    // long-lived signal, which keeps every job's signal for good: see dht/stop-reason.ts).
    const deadline = new AbortController();
    const dispose = watchStop({ timeoutMs: this.options.deadlineMs ?? 20_000, signal: this.stopper.signal, unref: true }, () => deadline.abort());
    try {
      return await this.resolveUntil(job, deadline.signal);
    } finally {
      dispose();
    }
  }

  private async resolveUntil(job: Job<T>, signal: AbortSignal): Promise<NameOutcome> {
    const { peers, responses } = await this.findPeers(job.infoHash, signal);
    if (this.stopper.signal.aborted) return { kind: 'skipped', reason: 'stopped' };
    if (peers.length === 0) return { kind: 'failed', reason: signal.aborted ? 'timeout' : responses === 0 ? 'no-nodes' : 'no-peers' };
    const { metadata, attempts } = await resolveMetadata(peers, job.infoHash, {
      signal,
      maxPeers: this.options.maxPeers ?? 8,
      concurrency: this.options.connectionsPerTorrent ?? 2,
      timeoutMs: this.options.peerTimeoutMs ?? 6_000,
    });
    if (metadata !== undefined) return { kind: 'named', metadata };
    if (this.stopper.signal.aborted) return { kind: 'skipped', reason: 'stopped' };
    return { kind: 'failed', reason: mostCommon(attempts.flatMap((a) => (a.error !== undefined ? [a.error.reason] : []))) ?? 'timeout' };
  }

  /** Peers from a get_peers lookup by each node at once, after the ones announced to our own nodes. */
  private async findPeers(infoHash: NodeId, signal: AbortSignal): Promise<{ peers: PeerInfo[]; responses: number }> {
    const found = new Map<string, PeerInfo>();
    const add = (p: PeerInfo): void => { found.set(`${p.address}:${p.port}`, { address: p.address, port: p.port }); };
    for (const node of this.nodes) node.peers.peers(infoHash).forEach(add);
    const responses = await Promise.all(this.nodes.map(async (node) => {
      const lookup = node.findPeers(infoHash, { timeoutMs: this.options.lookupTimeoutMs ?? 8_000, signal });
      for await (const event of lookup) if (event.type === 'item') add(event.item);
      return (await lookup.result).stats.responses;
    }));
    return { peers: [...found.values()], responses: responses.reduce((a, b) => a + b, 0) };
  }

  private report(job: Job<T>, outcome: NameOutcome): void {
    if (job.reported) return;
    job.reported = true;
    if (outcome.kind === 'named') this.stats.named++;
    else {
      if (outcome.kind === 'failed') this.stats.failed++;
      else this.stats.skipped++;
      this.stats.reasons[outcome.reason] = (this.stats.reasons[outcome.reason] ?? 0) + 1;
    }
    this.onOutcome(job.item, outcome, job.infoHash);
  }
}

function mostCommon<K extends string>(items: readonly K[]): K | undefined {
  const counts = new Map<K, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  let best: K | undefined;
  for (const [item, n] of counts) if (best === undefined || n > counts.get(best)!) best = item;
  return best;
}
