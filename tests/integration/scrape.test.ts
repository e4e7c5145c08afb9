import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareDistance } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { scrape } from '../../src/modes/scrape.js';
import { Testnet } from '../../src/modes/testnet.js';

const key = (p: { address: string; port: number }): string => `${p.address}:${p.port}`;

describe('scraping a local network of 200 nodes', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 200, torrents: 3, peers: 25 }); });
  afterAll(async () => { await net.close(); });

  it('finds every announced peer from a fresh node bootstrapped from ONE node', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      for (const torrent of net.torrents) {
        const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000 });
        expect(report.bootstrap.routersAnswered).toBe(1);
        expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
        // Peers are stored at the k = 8 closest nodes: more than one of them should have named each.
        expect(Math.max(...report.peers.map((p) => p.seenBy))).toBeGreaterThan(1);
        expect(report.lookup?.ended).toBe('converged');
      }
    } finally {
      await node.close();
    }
  });

  it('the lookup converges on the nodes closest to the target', async () => {
    // Kademlia's stopping rule is a heuristic: it reliably finds the closest node and nearly all
    // of the k closest, not a guaranteed exact top k.
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      await node.bootstrap(net.bootstrap.slice(0, 1));
      for (const torrent of net.torrents) {
        const result = await node.findPeers(torrent.infoHash).result;
        const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex');
        const truth = net.live.sort((a, b) => compareDistance(torrent.infoHash, a.id, b.id)).slice(0, 8).map((n) => hex(n.id));
        const found = result.closest.map((c) => hex(c.node.id));
        expect(found[0]).toBe(truth[0]);
        expect(found.filter((id) => truth.includes(id)).length).toBeGreaterThanOrEqual(6);
      }
    } finally {
      await node.close();
    }
  });
});

describe('a hostile network: 20% of nodes dead and 10% packet loss', () => {
  let net: Testnet;
  const loss = { loss: 0.1 };
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 200, torrents: 3, peers: 20, deadFraction: 0.2, faults: loss });
  });
  afterAll(async () => { await net.close(); });

  it('still finds every peer', async () => {
    expect(net.live.length).toBe(160);
    const node = await DhtNode.create({ address: '127.0.0.1', faults: loss });
    try {
      let unanswered = 0;
      for (const torrent of net.torrents) {
        const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 30_000 });
        expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
        unanswered += report.lookup!.timeouts;
      }
      // The dead nodes and lost packets were really there, and were worked around:
      expect(unanswered).toBeGreaterThan(0);
      expect(node.rpc.counters.dropped.lost).toBeGreaterThan(0);
    } finally {
      await node.close();
    }
  });
});
