/**
 * The live view's crawl panel: "where in the ID space the samples came from" is the ID of the node
 * that gave each new info_hash (the node that answered sample_infohashes, BEP 51, or the node that
 * queried us), not where the info_hash itself lies. A real crawl on a local network, then the
 * feed's histogram against the one the test builds from the crawl's own sightings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler, DhtNode, Testnet, idToHex, type FoundInfoHash } from '../../src/index.js';
import { ViewFeed, type ViewEvent } from '../../src/cli/web/view-feed.js';

const SLOTS = 64;
const slotOf = (id: Uint8Array): number => id[0]! >> 2;

function histogram(found: readonly FoundInfoHash[], source: 'sample' | 'passive', of: (f: FoundInfoHash) => Uint8Array): number[] {
  const counts = new Array<number>(SLOTS).fill(0);
  for (const f of found) if ((f.source === 'sample') === (source === 'sample')) counts[slotOf(of(f))]!++;
  return counts;
}

describe('the crawl panel of the live view', () => {
  let net: Testnet;
  let node: DhtNode;
  let feed: ViewFeed;
  const found: FoundInfoHash[] = [];
  let space: { sample: number[]; passive: number[] } | undefined;

  beforeAll(async () => {
    net = await Testnet.start({ nodes: 120, torrents: 40, peers: 2, node: { sampleIntervalSeconds: 2 } });
    node = await DhtNode.create({ address: '127.0.0.1', port: 0, lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
    feed = new ViewFeed({ title: 'crawl space', intervalMs: 100 });
    const crawler = new Crawler(node, {
      bootstrap: net.bootstrap.slice(0, 1),
      timeoutMs: 4_000,
      onInfoHash: (f) => { found.push(f); feed.infoHashFound(f); },
    });
    feed.watchCrawler(crawler);
    await crawler.run();
    // The feed publishes the crawl once a second: take the first report made after the crawl ended.
    space = await new Promise<{ sample: number[]; passive: number[] }>((resolve) => {
      let history = true;
      const stop = feed.subscribe((event: ViewEvent) => {
        if (history || event.kind !== 'crawl') return;
        stop();
        resolve({ sample: [...event.crawl.space.sample], passive: [...event.crawl.space.passive] });
      });
      history = false;
    });
  }, 60_000);

  afterAll(async () => {
    feed?.close();
    await node?.close();
    await net?.close();
  });

  it('each sampled info_hash names the ID of the node that sampled it to us', () => {
    const samples = found.filter((f) => f.source === 'sample');
    expect(samples.length).toBeGreaterThan(10);
    const idAt = new Map(net.nodes.map((n) => [`${n.local.address}:${n.local.port}`, idToHex(n.id)]));
    for (const f of samples) expect(idToHex(f.fromId)).toBe(idAt.get(`${f.from.address}:${f.from.port}`));
  });

  it('places them by that node\'s ID, not by the info_hash', () => {
    expect(space).toBeDefined();
    expect(space!.sample).toEqual(histogram(found, 'sample', (f) => f.fromId));
    expect(space!.passive).toEqual(histogram(found, 'passive', (f) => f.fromId));
    // The two pictures differ on this run, so the check above tells them apart.
    expect(histogram(found, 'sample', (f) => f.fromId)).not.toEqual(histogram(found, 'sample', (f) => f.infoHash));
  });
});
