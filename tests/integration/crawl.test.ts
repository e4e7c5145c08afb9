/**
 * Crawler mode on a local network: active discovery through BEP 51 samples, passive capture of the
 * queries other nodes send to the crawler, and the info-hash table's cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler, type CrawlReport, type FoundInfoHash } from '../../src/crawl/crawl.js';
import { idToHex, randomId } from '../../src/wire/id.js';
import { InfoHashStore } from '../../src/crawl/infohash-store.js';
import { getPeers } from '../../src/dht/lookup.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';

const INTERVAL_S = 3;
const TORRENTS = 2_000;

let net: Testnet;
beforeAll(async () => {
  net = await Testnet.start({ nodes: 300, torrents: TORRENTS, peers: 2, node: { sampleIntervalSeconds: INTERVAL_S } });
}, 60_000);
afterAll(async () => { await net?.close(); });

/** sample_infohashes each local-network node has received so far. */
function samplesReceived(): number[] {
  return net.nodes.map((n) => n.rpc.counters.queriesIn.sample_infohashes ?? 0);
}

describe('crawling a local network of 300 nodes storing 2,000 torrents', () => {
  it('finds at least 99% within 60 s through sample_infohashes, never sampling a node before its interval', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    const wanted = new Set(net.torrents.map((t) => idToHex(t.infoHash)));
    const found = new Map<string, FoundInfoHash>();
    const controller = new AbortController();
    const before = samplesReceived();
    let report: CrawlReport;
    const crawler = new Crawler(node, {
      bootstrap: net.bootstrap.slice(0, 1),
      timeoutMs: 60_000,
      signal: controller.signal,
      onInfoHash: (f) => {
        const hex = idToHex(f.infoHash);
        if (!wanted.has(hex)) return;
        found.set(hex, f);
        if (found.size === wanted.size) controller.abort();
      },
    });
    try {
      report = await crawler.run();
    } finally {
      await node.close();
    }
    expect(report.joined).toBe(true);
    expect(found.size / wanted.size).toBeGreaterThanOrEqual(0.99);
    expect(report.durationMs).toBeLessThanOrEqual(61_000);
    // These came from samples, given by the node that stores them.
    for (const f of found.values()) {
      expect(f.source).toBe('sample');
      expect(net.nodes.some((n) => n.local.port === f.from.port && n.local.address === f.from.address && n.peers.has(f.infoHash))).toBe(true);
    }
    expect(report.discoveredBy.sample).toBeGreaterThanOrEqual(found.size);
    expect(crawler.store.counts().learnedBy.sample).toBe(crawler.store.size);

    // Each node's interval was honoured: at most one sample per interval over the crawl's duration...
    const perNode = samplesReceived().map((n, i) => n - before[i]!);
    const allowed = Math.floor(report.durationMs / (INTERVAL_S * 1000)) + 1;
    expect(Math.max(...perNode)).toBeLessThanOrEqual(allowed);
    // ...and nodes were sampled again once due, which is how a node's 20-hash samples add up to all it holds.
    expect(perNode.filter((n) => n >= 2).length).toBeGreaterThan(100);
    // Every sample the nodes received was one the crawler sent (a few may still have been queued at the stop).
    const delivered = perNode.reduce((a, b) => a + b, 0);
    expect(delivered).toBeLessThanOrEqual(report.queriesOut.sample_infohashes!);
    expect(delivered).toBeGreaterThan(report.queriesOut.sample_infohashes! * 0.9);
  }, 90_000);

  it('captures what other nodes look up and announce through the crawler node, with the querier', async () => {
    const crawlerNode = await DhtNode.create({ address: '127.0.0.1' });
    const alice = await DhtNode.create({ address: '127.250.0.1' });
    const bob = await DhtNode.create({ address: '127.250.1.1' });
    const controller = new AbortController();
    const found: FoundInfoHash[] = [];
    let joined: () => void = () => {};
    const hasJoined = new Promise<void>((resolve) => { joined = resolve; });
    const crawler = new Crawler(crawlerNode, {
      bootstrap: net.bootstrap.slice(0, 1),
      timeoutMs: 30_000,
      signal: controller.signal,
      onInfoHash: (f) => found.push(f),
      onJoined: () => joined(),
      // Seeded: under a random seed alice and bob share one bit of the 64-bit source sketch 1 time in 64.
      store: new InfoHashStore({ seed: 1 }),
    });
    const running = crawler.run();
    try {
      await hasJoined;
      const me = { id: crawlerNode.id, ...crawlerNode.local };
      const lookedUp = randomId();
      const announced = randomId();
      // Two real get_peers lookups whose first hop is the crawler.
      for (const client of [alice, bob]) {
        const result = await client.lookup(lookedUp, getPeers(), { seeds: [me] }).result;
        expect(result.stats.responses).toBeGreaterThan(1);
      }
      // Bob announces another torrent to the crawler, with the token its get_peers reply gave him.
      const reply = await bob.query(me, 'get_peers', { id: bob.id, info_hash: announced });
      expect(reply.kind).toBe('response');
      const token = reply.kind === 'response' ? reply.response.r.token : undefined;
      const accepted = await bob.announceTo(announced, [{ node: me, state: 'responded', hop: 0, prefixBits: 0, ...(token ? { token } : {}) }], { port: 51413 });
      expect(accepted).toBe(1);
      // A third torrent announced with the same token (tokens are per address), never looked up.
      const announcedOnly = randomId();
      expect(await bob.announceTo(announcedOnly, [{ node: me, state: 'responded', hop: 0, prefixBits: 0, ...(token ? { token } : {}) }])).toBe(1);

      const first = (h: Uint8Array): FoundInfoHash | undefined => found.find((f) => idToHex(f.infoHash) === idToHex(h));
      expect(first(lookedUp)).toMatchObject({ source: 'get_peers', from: alice.local });
      expect(crawler.store.get(lookedUp)).toMatchObject({ requests: 2, sources: 2, kinds: ['get_peers'] });
      expect(first(announced)).toMatchObject({ source: 'get_peers', from: bob.local });
      expect(crawler.store.get(announced)).toMatchObject({ requests: 2, sources: 1, kinds: ['get_peers', 'announce_peer'] });
      expect(first(announcedOnly)).toMatchObject({ source: 'announce_peer', from: bob.local });
      expect(crawler.store.get(announcedOnly)!.kinds).toEqual(['announce_peer']);
      // The crawler is a proper node: it stored Bob's announce and answers for it.
      expect(crawlerNode.peers.peers(announced)).toEqual([{ address: bob.local.address, port: 51413 }]);
      // A bare lookup is kept apart from evidence of a torrent.
      const counts = crawler.store.counts();
      expect(counts.getPeersOnly).toBeGreaterThanOrEqual(1);
      expect(counts.learnedBy.announce_peer).toBe(2);
    } finally {
      controller.abort();
      await running;
      await Promise.all([crawlerNode.close(), alice.close(), bob.close()]);
    }
    const report = await running;
    expect(report.ended).toBe('aborted');
    expect(report.queriesIn.get_peers).toBeGreaterThanOrEqual(3);
    expect(report.queriesIn.announce_peer).toBe(2);
    expect(report.discoveredBy.get_peers).toBeGreaterThanOrEqual(2);
    expect(report.discoveredBy.announce_peer).toBe(1);
  }, 40_000);

  it('when the table is full, new info-hashes are counted as dropped, not reported', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    const store = new InfoHashStore({ maxEntries: 25 });
    const controller = new AbortController();
    const found: FoundInfoHash[] = [];
    let fullAt: number | undefined;
    const crawler = new Crawler(node, {
      bootstrap: net.bootstrap.slice(0, 1),
      timeoutMs: 30_000,
      signal: controller.signal,
      store,
      onInfoHash: (f) => found.push(f),
      onStoreFull: (cap) => {
        fullAt = cap;
        // Let one more round of samples come in, then stop.
        if (store.dropped > 0) setImmediate(() => controller.abort());
      },
    });
    let report: CrawlReport;
    try {
      report = await crawler.run();
    } finally {
      await node.close();
    }
    expect(fullAt).toBe(25);
    expect(found).toHaveLength(25);
    expect(store.size).toBe(25);
    expect(report.counts.dropped).toBeGreaterThan(0);
    expect(report.counts.unique).toBe(25);
    for (const f of found) expect(store.has(f.infoHash)).toBe(true);
  }, 40_000);
});
