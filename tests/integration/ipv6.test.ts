import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';

/** BEP 32 on ::1: IPv6 nodes exchange `nodes6` and 18-byte peers. */
describe('an IPv6 DHT on ::1', () => {
  // Every node shares ::1, one /64: lift the per-subnet brake on lookup candidates.
  const options = { address: '::1', lookup: { maxPerSubnet: 100 } };
  const nodes: DhtNode[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 12; i++) nodes.push(await DhtNode.create(options));
    // A small ring: each node knows the next three, so lookups must hop.
    nodes.forEach((n, i) => {
      for (let d = 1; d <= 3; d++) {
        const m = nodes[(i + d) % nodes.length]!;
        n.table.recordResponse({ id: m.id, ...m.local });
      }
    });
  });
  afterAll(async () => { await Promise.all(nodes.map((n) => n.close())); });

  it('bootstraps, looks up and announces over IPv6', async () => {
    const fresh = await DhtNode.create(options);
    const seeker = await DhtNode.create(options);
    try {
      const boot = await fresh.bootstrap([nodes[0]!.local]);
      expect(boot.routersAnswered).toBe(1);
      expect(fresh.table.size).toBeGreaterThan(3);
      expect(fresh.table.all().every((c) => c.address === '::1')).toBe(true);
      const infoHash = randomId();
      const announced = await fresh.announce(infoHash, { port: 7777 });
      expect(announced.announcedTo).toBeGreaterThan(0);
      await seeker.bootstrap([nodes[5]!.local]);
      const found = await seeker.findPeers(infoHash).result;
      expect(found.stats.itemsFound).toBeGreaterThan(0);
      expect(found.closest.length).toBe(8);
      expect(found.stats.errors).toBe(0);
    } finally {
      await fresh.close();
      await seeker.close();
    }
  });
});
