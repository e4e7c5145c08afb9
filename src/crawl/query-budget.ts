/**
 * How many queries the crawler may send one node in a minute. A crawler that walks a small network
 * over and over (a lab, a LAN, a corner of the DHT it has covered) would otherwise keep asking the
 * same few nodes: 1,340 queries in 66 s to 16 nodes were seen before this cap. Real clients rate-limit
 * their sources (libtorrent ignores one that sends 50 packets in 10 s), so a crawler that stays far
 * below that is one they keep answering.
 *
 * Fixed one-minute windows per node (keyed by address and port), started by the node's first query
 * in it. The peak count any node reached in a window is kept, for the crawl's report. Bounded: past
 * `maxNodes` entries, windows that are over are swept, and if none is, the oldest is dropped. Pure:
 * the caller passes the time.
 */

export interface QueryBudgetOptions {
  /** Queries one node may receive from us in one minute. Default 20. */
  perMinute?: number;
  /** Nodes remembered. Default 50,000 (the sample schedule's default size). */
  maxNodes?: number;
}

interface Window { startedAt: number; count: number }

const MINUTE_MS = 60_000;

export class QueryBudget {
  readonly perMinute: number;
  private readonly maxNodes: number;
  /** Insertion order is window start order: a window is re-inserted when it restarts. */
  private readonly windows = new Map<string, Window>();
  private peakCount = 0;
  private deniedCount = 0;

  constructor(options: QueryBudgetOptions = {}) {
    this.perMinute = options.perMinute ?? 20;
    this.maxNodes = options.maxNodes ?? 50_000;
  }

  /** Spend one query on the node at `key` if its minute has room; false (and counted) if not. */
  take(key: string, now: number): boolean {
    let window = this.windows.get(key);
    if (window === undefined || now - window.startedAt >= MINUTE_MS) {
      this.windows.delete(key);
      if (this.windows.size >= this.maxNodes) this.makeRoom(now);
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= this.perMinute) {
      this.deniedCount++;
      return false;
    }
    window.count++;
    if (window.count > this.peakCount) this.peakCount = window.count;
    return true;
  }

  /** When the node at `key` may be asked again (now, if it may already). */
  nextAt(key: string, now: number): number {
    const window = this.windows.get(key);
    if (window === undefined || window.count < this.perMinute) return now;
    return Math.max(now, window.startedAt + MINUTE_MS);
  }

  /** The most queries any one node received from us in one minute. */
  get peak(): number {
    return this.peakCount;
  }

  /** Queries not sent because their node's minute was full. */
  get denied(): number {
    return this.deniedCount;
  }

  private makeRoom(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.startedAt < MINUTE_MS) break;
      this.windows.delete(key);
    }
    if (this.windows.size >= this.maxNodes) {
      const oldest = this.windows.keys().next();
      if (oldest.done !== true) this.windows.delete(oldest.value);
    }
  }
}
