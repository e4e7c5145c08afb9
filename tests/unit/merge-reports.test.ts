import { describe, expect, it } from 'vitest';
import { mergeReports, type ScrapeReport } from '../../src/modes/scrape.js';
import { SwarmScrape } from '../../src/modes/swarm-size.js';
import { ScrapeBloom } from '../../src/wire/bloom.js';

/** One node's BEP 33 reply: seeds and leechers as bloom filters of their IPs. */
function filters(seeds: readonly string[], leechers: readonly string[], from: string): SwarmScrape {
  const [sd, pe] = [new ScrapeBloom(), new ScrapeBloom()];
  seeds.forEach((ip) => sd.insert(ip));
  leechers.forEach((ip) => pe.insert(ip));
  const swarm = new SwarmScrape();
  swarm.add({ id: new Uint8Array(20), BFsd: sd.toBytes(), BFpe: pe.toBytes() }, { address: from, port: 6881 });
  return swarm;
}

function report(family: 4 | 6, peers: number, first: number | null, duration: number, lookup = true): ScrapeReport {
  const address = family === 4 ? '127.128.0.1' : '::1';
  return {
    infohash: 'ab'.repeat(20),
    peers: Array.from({ length: peers }, (_, i) => ({ address, port: 6881 + i, seenBy: 2 })),
    bootstrap: { routersAnswered: 1, tableSize: 10, durationMs: duration, queries: 5, finished: false },
    lookup: lookup ? {
      queries: 10, responses: 9, errors: 0, timeouts: 1, nodesContacted: 10, routersAsked: 1, routersAnswered: 1,
      closestPrefixBits: family === 4 ? 5 : 7, itemsFound: peers, timeToFirstItemMs: first, durationMs: duration, ended: 'converged',
    } : undefined,
    sinceStart: { timeToFirstPeerMs: first, durationMs: duration },
    announcedTo: undefined,
  };
}

/** A dual-stack scrape (BEP 32) reports the two families' scrapes as one. */
describe('mergeReports', () => {
  it('keeps every peer of both families and adds up the work', () => {
    const merged = mergeReports(report(4, 3, 120, 900), report(6, 2, 80, 1_100));
    expect(merged.peers.map((p) => `${p.address}:${p.port}`)).toEqual(['127.128.0.1:6881', '127.128.0.1:6882', '127.128.0.1:6883', '::1:6881', '::1:6882']);
    expect(merged.lookup).toMatchObject({ queries: 20, responses: 18, timeouts: 2, nodesContacted: 20, itemsFound: 5, closestPrefixBits: 7, durationMs: 1_100, timeToFirstItemMs: 80 });
    expect(merged.sinceStart).toEqual({ timeToFirstPeerMs: 80, durationMs: 1_100 });
    expect(merged.bootstrap).toMatchObject({ routersAnswered: 2, queries: 10 });
    expect(merged.announcedTo).toBeUndefined();
  });

  it('a family whose bootstrap never answered leaves the other family its lookup', () => {
    const merged = mergeReports(report(4, 0, null, 3_000, false), report(6, 4, 50, 700));
    expect(merged.lookup?.queries).toBe(10);
    expect(merged.peers).toHaveLength(4);
    expect(merged.sinceStart.timeToFirstPeerMs).toBe(50);
  });

  it('no peer in either family: no first-peer time', () => {
    expect(mergeReports(report(4, 0, null, 10), report(6, 0, null, 20)).sinceStart.timeToFirstPeerMs).toBeNull();
  });

  it('BEP 33: ORs both families\' bloom filters into one estimate of the swarm\'s IPs, each family keeping its own', () => {
    const ipv4 = report(4, 3, 10, 100);
    ipv4.swarmFilters = filters(['10.0.0.1', '10.0.0.2'], ['10.0.0.3', '10.0.0.4', '10.0.0.5'], '127.1.0.1');
    ipv4.swarm = ipv4.swarmFilters.estimate();
    const ipv6 = report(6, 2, 10, 100);
    ipv6.swarmFilters = filters(['2001:db8::1', '2001:db8::2', '2001:db8::3'], ['2001:db8::4'], '::1');
    ipv6.swarm = ipv6.swarmFilters.estimate();
    const merged = mergeReports(ipv4, ipv6);
    expect(merged.swarm).toEqual({ seeds: 5, leechers: 4, responders: 2, saturated: false });
    // The families' own estimates are untouched by the merge.
    expect(ipv4.swarm).toMatchObject({ seeds: 2, leechers: 3, responders: 1 });
    expect(ipv6.swarm).toMatchObject({ seeds: 3, leechers: 1, responders: 1 });
  });

  it('BEP 33 asked of one family only: that family\'s estimate', () => {
    const ipv6 = report(6, 2, 10, 100);
    ipv6.swarmFilters = filters(['2001:db8::1'], [], '::1');
    ipv6.swarm = ipv6.swarmFilters.estimate();
    expect(mergeReports(report(4, 0, null, 10, false), ipv6).swarm).toMatchObject({ seeds: 1, leechers: 0, responders: 1 });
  });
});
