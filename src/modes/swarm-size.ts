/**
 * How big is a swarm, seen from the DHT alone (BEP 33, "DHT Scrapes")? A get_peers query with
 * `scrape=1` asks each node near the info-hash for two bloom filters of the IPs it stores: `BFsd`
 * (seeds) and `BFpe` (downloaders). Each node holds only the announces that reached it, an
 * overlapping part of the swarm; OR-ing the filters of every node that answered gives the filter of
 * the union, in which each IP counts once however many nodes stored it. Its estimate is the swarm
 * size (bloom.ts has the formula).
 *
 * `SwarmScrape` is the pure accumulator; `scrapingGetPeers` is the get_peers lookup strategy that
 * asks for the filters and feeds every reply to one. The lookup itself is the usual one: the nodes
 * closest to the info-hash are the ones that hold its announces.
 */
import { ScrapeBloom } from '../wire/bloom.js';
import type { NodeInfo, PeerInfo } from '../wire/compact.js';
import type { ResponseBody } from '../wire/krpc.js';
import { getPeers, type LookupStrategy } from '../dht/lookup.js';
import type { Endpoint } from '../net/transport.js';

/**
 * BEP 33 asks nodes to keep a swarm under ~6,000 entries, where the 2,048-bit filter gets too full
 * to count: past this estimate, a number is a floor, not a count.
 */
export const SATURATION_ESTIMATE = 6_000;

export interface SwarmEstimate {
  /** Estimated distinct seed IPs (BFsd), rounded. */
  seeds: number;
  /** Estimated distinct downloader IPs (BFpe), rounded. */
  leechers: number;
  /** How many nodes answered with filters (BEP 33 support, and a copy of the announces). */
  responders: number;
  /** A filter is so full that its estimate is only a lower bound. */
  saturated: boolean;
}

export class SwarmScrape {
  private readonly seeds = new ScrapeBloom();
  private readonly leechers = new ScrapeBloom();
  private readonly responderKeys = new Set<string>();

  /**
   * Merge the filters of one get_peers reply. Returns whether it carried any. The KRPC schema has
   * already checked that each is 256 bytes; a node answering twice changes nothing (OR is idempotent).
   */
  add(body: ResponseBody, from: Endpoint): boolean {
    if (body.BFsd === undefined && body.BFpe === undefined) return false;
    if (body.BFsd !== undefined) this.seeds.merge(ScrapeBloom.fromBytes(body.BFsd));
    if (body.BFpe !== undefined) this.leechers.merge(ScrapeBloom.fromBytes(body.BFpe));
    this.responderKeys.add(`${from.address}:${from.port}`);
    return true;
  }

  get responders(): number {
    return this.responderKeys.size;
  }

  /**
   * OR in another scrape's filters: the union of both sets of IPs. A dual-stack scrape (BEP 32) merges
   * its IPv4 and its IPv6 scrape this way: the filters hash the IP's bytes, 4 or 16 of them, so one
   * host with an address in each family counts twice (nothing in the filters can tell it is one).
   */
  merge(other: SwarmScrape): this {
    this.seeds.merge(other.seeds);
    this.leechers.merge(other.leechers);
    for (const key of other.responderKeys) this.responderKeys.add(key);
    return this;
  }

  /** The merged filters, for a caller that wants the unrounded estimates or the bits. */
  get filters(): { seeds: ScrapeBloom; leechers: ScrapeBloom } {
    return { seeds: this.seeds, leechers: this.leechers };
  }

  estimate(): SwarmEstimate {
    const seeds = this.seeds.estimate();
    const leechers = this.leechers.estimate();
    return {
      seeds: Math.round(seeds),
      leechers: Math.round(leechers),
      responders: this.responderKeys.size,
      saturated: seeds > SATURATION_ESTIMATE || leechers > SATURATION_ESTIMATE || isFull(this.seeds) || isFull(this.leechers),
    };
  }
}

/** No zero bit left: the estimate is the filter's ceiling, not a count. */
function isFull(bloom: ScrapeBloom): boolean {
  return bloom.zeroBits() === 0;
}

/**
 * get_peers with `scrape=1` whose every reply also feeds `swarm`. The items are still the peers
 * (`values`), so everything that consumes a get_peers lookup works unchanged.
 */
export function scrapingGetPeers(swarm: SwarmScrape, options: { noseed?: boolean } = {}): LookupStrategy<'get_peers', PeerInfo> {
  const base = getPeers({ ...options, scrape: true });
  return {
    ...base,
    collect: (body: ResponseBody, from: NodeInfo) => {
      swarm.add(body, from);
      return base.collect(body, from);
    },
  };
}
