import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crawl } from '../../src/crawl/crawl.js';
import { idToHex } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';

describe('crawl() as a stream', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 60, torrents: 40, peers: 1, node: { sampleIntervalSeconds: 2 } }); });
  afterAll(async () => { await net.close(); });

  it('yields announced info-hashes with for await, and stops when the loop is left', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const announced = new Set(net.torrents.map((t) => idToHex(t.infoHash)));
      const run = crawl(node, { bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 30_000 });
      const seen: string[] = [];
      for await (const found of run) {
        expect(announced.has(idToHex(found.infoHash))).toBe(true);
        expect(found.source).toBe('sample');
        seen.push(idToHex(found.infoHash));
        if (seen.length === 10) break;
      }
      const report = await run.result;
      expect(new Set(seen).size).toBe(10);
      // Leaving the loop stopped the crawl long before its 30 s timeout.
      expect(report.ended).toBe('aborted');
      expect(report.durationMs).toBeLessThan(20_000);
    } finally {
      await node.close();
    }
  });

  it('an AbortSignal ends the stream', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const controller = new AbortController();
      const run = crawl(node, { bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 30_000, signal: controller.signal });
      let count = 0;
      for await (const _ of run) if (++count === 3) controller.abort();
      expect((await run.result).ended).toBe('aborted');
      expect(count).toBeGreaterThanOrEqual(3);
    } finally {
      await node.close();
    }
  });
});
