/**
 * A dual-stack crawl (BEP 32): IPv4 and IPv6 are two DHTs, and a socket, a routing table and so a
 * crawler are of one family. So a crawl of both runs one Crawler per family, each on its own node,
 * side by side, and
 * - they share one info-hash table: an info-hash names one torrent whichever DHT names it, so it is
 *   one line of output and counted once (InfoHashCounts.seenIn / firstSeenIn say which DHT named it);
 * - each hands the other the contacts of the other family that replies name (Crawler.offer), so a
 *   walk in one DHT feeds the other's schedule;
 * - they stop together (one timeout, one signal), and their reports merge into one (mergeCrawlReports),
 *   with each family's own report beside it.
 * With one family it is just that family's Crawler, so a caller has one code path.
 */
import type { DhtNode } from '../dht/node.js';
import type { Family } from '../wire/compact.js';
import type { Endpoint } from '../net/transport.js';
import { InfoHashStore, type InfoHashCounts } from './infohash-store.js';
import type { ScheduleStats } from './sample-schedule.js';
import { Crawler, type CrawlOptions, type CrawlProgress, type CrawlReport } from './crawl.js';

/** One family's node and where it joins. */
export interface FamilyNode {
  node: DhtNode;
  bootstrap: readonly Endpoint[];
}

/** The merged report, and each family's own (by the family of its node). */
export interface DualStackCrawlReport {
  report: CrawlReport;
  families: Partial<Record<Family, CrawlReport>>;
}

export class DualStackCrawl {
  readonly store: InfoHashStore;
  /** One crawler per family, in the order given. */
  readonly crawlers: readonly Crawler[];

  /** `options` apply to every family's crawler; the once-only callbacks fire once for the whole crawl. */
  constructor(families: readonly FamilyNode[], options: Omit<CrawlOptions, 'bootstrap' | 'onOtherFamily'>) {
    if (families.length < 1 || families.length > 2 || new Set(families.map((f) => f.node.family)).size !== families.length) {
      throw new RangeError('a dual-stack crawl takes one node per address family (one or two)');
    }
    this.store = options.store ?? new InfoHashStore();
    let joined = false;
    let full = false;
    const crawlers: Crawler[] = [];
    for (const { node, bootstrap } of families) {
      crawlers.push(new Crawler(node, {
        ...options,
        bootstrap,
        store: this.store,
        onJoined: (result) => { if (!joined) { joined = true; options.onJoined?.(result); } },
        onStoreFull: (cap) => { if (!full) { full = true; options.onStoreFull?.(cap); } },
        onOtherFamily: (nodes) => { for (const other of crawlers) if (other.family !== node.family) other.offer(nodes); },
      }));
    }
    this.crawlers = crawlers;
  }

  /** Crawl every family until the timeout or the signal; the merged report and each family's. */
  async run(): Promise<DualStackCrawlReport> {
    const reports = await Promise.all(this.crawlers.map((c) => c.run()));
    const families: Partial<Record<Family, CrawlReport>> = {};
    this.crawlers.forEach((c, i) => { families[c.family] = reports[i]!; });
    return { report: mergeCrawlReports(reports, this.store.counts()), families };
  }

  /** Live figures of the whole crawl: the info-hashes of the shared table, the work of all families. */
  progress(): CrawlProgress {
    const all = this.crawlers.map((c) => c.progress());
    const sum = (pick: (p: CrawlProgress) => number): number => all.reduce((n, p) => n + pick(p), 0);
    return {
      elapsedMs: Math.max(...all.map((p) => p.elapsedMs)),
      unique: this.store.size,
      discovered: sum((p) => p.discovered),
      perMinute: sum((p) => p.perMinute),
      nodesKnown: sum((p) => p.nodesKnown),
      tableSize: sum((p) => p.tableSize),
      queriesIn: sum((p) => p.queriesIn),
      queriesOut: sum((p) => p.queriesOut),
      dropped: this.store.dropped,
    };
  }
}

/**
 * Reports of crawls that shared one table, as one: the work adds up (the info-hashes first seen by
 * each are distinct, since the table said 'new' once), the table's `counts` are given, the run is
 * the longest, and it is joined if any family joined. A family that never joined adds its (failed)
 * join to nothing else: its backoff and silence say nothing of the crawl.
 */
export function mergeCrawlReports(reports: readonly CrawlReport[], counts: InfoHashCounts): CrawlReport {
  const [first] = reports;
  if (first === undefined) throw new RangeError('no crawl report to merge');
  const joined = reports.filter((r) => r.joined);
  const sum = (pick: (r: CrawlReport) => number): number => reports.reduce((n, r) => n + pick(r), 0);
  const addCounts = (pick: (r: CrawlReport) => Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of reports) for (const [key, n] of Object.entries(pick(r))) out[key] = (out[key] ?? 0) + n;
    return out;
  };
  const nodes = {} as ScheduleStats;
  for (const key of Object.keys(first.nodes) as (keyof ScheduleStats)[]) nodes[key] = sum((r) => r.nodes[key]);
  const active = joined.length > 0 ? joined : reports;
  return {
    bootstrap: (joined[0] ?? first).bootstrap,
    joined: joined.length > 0,
    ended: reports.some((r) => r.ended === 'aborted') ? 'aborted' : (joined[0] ?? first).ended,
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    discovered: sum((r) => r.discovered),
    discoveredBy: addCounts((r) => r.discoveredBy) as CrawlReport['discoveredBy'],
    counts,
    queriesIn: addCounts((r) => r.queriesIn),
    queriesOut: addCounts((r) => r.queriesOut),
    sampleReplies: sum((r) => r.sampleReplies),
    samplesReceived: sum((r) => r.samplesReceived),
    nodes,
    walks: sum((r) => r.walks),
    perNode: {
      capPerMinute: first.perNode.capPerMinute,
      peakPerMinute: Math.max(...reports.map((r) => r.perNode.peakPerMinute)),
      deferred: sum((r) => r.perNode.deferred),
    },
    backoff: {
      walkIntervalMs: Math.min(...active.map((r) => r.backoff.walkIntervalMs)),
      quietForMs: Math.min(...active.map((r) => r.backoff.quietForMs)),
    },
  };
}
