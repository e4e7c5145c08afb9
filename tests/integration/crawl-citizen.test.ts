/**
 * The crawler as a good citizen of a small network: once it has covered the network it backs off,
 * no node gets more than the per-node cap of queries in a minute, and (on request) the targets of
 * strangers' find_node queries become low-confidence sightings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../../src/crawl/crawl.js';
import { idToHex } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { freeUdpPort, startCli } from '../helpers/cli.js';
import { Prng } from '../helpers/prng.js';

const prng = new Prng(1515);
let net: Testnet;
beforeAll(async () => { net = await Testnet.start({ nodes: 16, torrents: 4, peers: 2 }); }, 30_000);
afterAll(async () => { await net?.close(); });

describe('crawling a network of 16 nodes it soon has covered', () => {
  it('backs off once nothing new turns up, and keeps every node under the per-node cap', async () => {
    const node = await DhtNode.create({ address: '127.0.88.1' });
    const received = (): number[] => net.nodes.map((n) => Object.values(n.rpc.counters.queriesIn).reduce((a, b) => a + b, 0));
    let atJoin: number[] = [];
    const crawler = new Crawler(node, {
      bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 16_000, roundIntervalMs: 250, budget: { perMinute: 12 },
      onJoined: () => { atJoin = received(); },
    });
    try {
      const report = await crawler.run();
      expect(report.joined).toBe(true);
      // Every node was met, and then nothing new for the rest of the crawl: walks spaced out.
      expect(report.nodes.nodes).toBeGreaterThanOrEqual(15);
      expect(report.backoff.walkIntervalMs).toBeGreaterThan(0);
      expect(report.backoff.quietForMs).toBeGreaterThanOrEqual(5_000);
      // The cap held: what each of the 16 nodes received once the crawl proper began (joining is the
      // node's own business), at most 12 in these 16 s, plus the one ping a node gets when it first queries us.
      const during = received().map((n, i) => n - atJoin[i]!);
      expect(Math.max(...during)).toBeLessThanOrEqual(12 + 1);
      expect(report.perNode).toMatchObject({ capPerMinute: 12 });
      expect(report.perNode.peakPerMinute).toBeLessThanOrEqual(12);
      expect(report.perNode.deferred).toBeGreaterThan(0);
    } finally {
      await node.close();
    }
  }, 30_000);
});

describe('dht-scrape crawl --capture-find-node', () => {
  it("records a stranger's find_node target as source find_node, but not a node looking up its own ID", async () => {
    const bind = '127.0.89.1';
    const port = await freeUdpPort(bind);
    const crawl = startCli(['crawl', '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--bind', bind, '--port', String(port),
      '--no-state', '--json', '--timeout', '6', '--capture-find-node']);
    const stranger = await DhtNode.create({ address: '127.0.89.2' });
    try {
      const target = prng.bytes(20);
      const own = stranger.id.slice();
      own[19] = own[19]! ^ 1; // a self-lookup: next to its own ID
      const to = { address: bind, port };
      // The crawler answers once it has bound: ask until it does (its ping reply is the event).
      for (let i = 0; i < 50 && (await stranger.query(to, 'ping', { id: stranger.id })).kind !== 'response'; i++);
      expect((await stranger.query(to, 'find_node', { id: stranger.id, target: own })).kind).toBe('response');
      expect((await stranger.query(to, 'find_node', { id: stranger.id, target })).kind).toBe('response');
      const line = await crawl.line((l) => l.infohash === idToHex(target), 5_000, 'the find_node target');
      expect(line).toMatchObject({ source: 'find_node', from: `127.0.89.2:${stranger.local.port}` });
      const done = await crawl.done;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).not.toContain(idToHex(own));
    } finally {
      crawl.child.kill('SIGKILL');
      await stranger.close();
    }
  }, 20_000);
});
