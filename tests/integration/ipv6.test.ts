import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { findNode } from '../../src/dht/lookup.js';

/** BEP 32 on ::1: IPv6 nodes exchange `nodes6` and 18-byte peers. */
describe('an IPv6 DHT on ::1', () => {
  // Every node shares ::1, one /64: lift the per-subnet brake on lookup candidates, and declare the
  // shared loopback address to the table (else one slot per host in a bucket).
  const options = { address: '::1', lookup: { maxPerSubnet: 100 }, table: { sharedLoopback: true } };
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

/** BEP 32 dual stack: an IPv4 node and an IPv6 node paired, each answering `want` from both tables. */
describe('a dual-stack pair answering want: ["n4", "n6"]', () => {
  const v4: DhtNode[] = [];
  const v6: DhtNode[] = [];
  let pair4: DhtNode;
  let pair6: DhtNode;
  let asker: DhtNode;
  beforeAll(async () => {
    for (let i = 0; i < 4; i++) {
      v4.push(await DhtNode.create({ address: '127.0.0.1' }));
      v6.push(await DhtNode.create({ address: '::1' }));
    }
    // Every node shares 127.0.0.1 or ::1: the pair's tables are told so (else one slot per host).
    pair4 = await DhtNode.create({ address: '127.0.0.1', table: { sharedLoopback: true } });
    pair6 = await DhtNode.create({ address: '::1', table: { sharedLoopback: true } });
    pair4.pairWith(pair6);
    for (const n of v4) pair4.table.recordResponse({ id: n.id, ...n.local });
    for (const n of v6) pair6.table.recordResponse({ id: n.id, ...n.local });
    asker = await DhtNode.create({ address: '127.0.0.1' });
  });
  afterAll(async () => { await Promise.all([...v4, ...v6, pair4, pair6, asker].map((n) => n.close())); });

  const ask = async (want?: ('n4' | 'n6')[]) => {
    const outcome = await asker.query(pair4.local, 'find_node', { id: asker.id, target: randomId(), ...(want !== undefined ? { want } : {}) });
    if (outcome.kind !== 'response') throw new Error(`no answer: ${outcome.kind}`);
    return outcome.response.r;
  };
  const endpoints = (nodes: readonly DhtNode[]) => nodes.map((n) => `${n.local.address}:${n.local.port}`).sort();
  const named = (list: readonly { address: string; port: number }[] | undefined) => (list ?? []).map((n) => `${n.address}:${n.port}`).sort();

  it('answers an IPv4 query without want with IPv4 nodes only (the family of the socket)', async () => {
    const r = await ask();
    expect(named(r.nodes)).toEqual(endpoints(v4));
    expect(r.nodes6).toBeUndefined();
  });

  it('answers want n4 and n6 with nodes from its own table and nodes6 from its sibling', async () => {
    const r = await ask(['n4', 'n6']);
    expect(named(r.nodes)).toEqual(endpoints(v4));
    expect(named(r.nodes6)).toEqual(endpoints(v6));
  });

  it('answers want n6 alone with nodes6 only, on the IPv4 socket', async () => {
    const r = await ask(['n6']);
    expect(r.nodes).toBeUndefined();
    expect(named(r.nodes6)).toEqual(endpoints(v6));
  });

  it('an unpaired node has no IPv6 contacts to give', async () => {
    const alone = v4[0]!;
    alone.table.recordResponse({ id: v4[1]!.id, ...v4[1]!.local });
    const outcome = await asker.query(alone.local, 'find_node', { id: asker.id, target: randomId(), want: ['n4', 'n6'] });
    expect(outcome.kind).toBe('response');
    if (outcome.kind !== 'response') return;
    expect(named(outcome.response.r.nodes)).toEqual([`${v4[1]!.local.address}:${v4[1]!.local.port}`]);
    expect(outcome.response.r.nodes6).toBeUndefined();
  });

  it('hands the IPv6 contacts a reply names to its IPv6 sibling', async () => {
    const learner4 = await DhtNode.create({ address: '127.0.0.1', table: { sharedLoopback: true } });
    const learner6 = await DhtNode.create({ address: '::1', table: { sharedLoopback: true } });
    try {
      learner4.pairWith(learner6);
      await learner4.query(pair4.local, 'find_node', { id: learner4.id, target: randomId(), want: ['n4', 'n6'] });
      expect(learner6.table.all().map((c) => `${c.address}:${c.port}`).sort()).toEqual(endpoints(v6));
      expect(learner4.table.all().every((c) => c.address === '127.0.0.1')).toBe(true);
    } finally {
      await learner4.close();
      await learner6.close();
    }
  });

  it('asks want n4 and n6 itself while its sibling knows few nodes, so the sibling joins through the other family', async () => {
    const learner4 = await DhtNode.create({ address: '127.0.0.1', table: { sharedLoopback: true } });
    const learner6 = await DhtNode.create({ address: '::1', table: { sharedLoopback: true } });
    const wants: (readonly string[] | undefined)[] = [];
    const unsubscribe = pair4.onIncomingQuery((query) => { if (query.q === 'find_node') wants.push(query.a.want); });
    try {
      learner4.pairWith(learner6);
      // No want given: the node adds it, since its IPv6 sibling's table is empty.
      await learner4.query(pair4.local, 'find_node', { id: learner4.id, target: randomId() });
      expect(wants).toEqual([['n4', 'n6']]);
      expect(learner6.table.all().map((c) => `${c.address}:${c.port}`).sort()).toEqual(endpoints(v6));
      // A sibling with a table of its own: the queries go back to the socket's family only.
      for (let i = 0; learner6.tableSize < 64 && i < 1_000; i++) learner6.addContacts([{ id: randomId(), address: '::1', port: 20_000 + i }]);
      expect(learner6.tableSize).toBeGreaterThanOrEqual(64);
      await learner4.query(pair4.local, 'get_peers', { id: learner4.id, info_hash: randomId() });
      await learner4.query(pair4.local, 'find_node', { id: learner4.id, target: randomId() });
      expect(wants).toEqual([['n4', 'n6'], undefined]);
    } finally {
      unsubscribe();
      await learner4.close();
      await learner6.close();
    }
  });

  it('a paired node\'s lookup asks only contacts of its own family, though its replies name both', async () => {
    const learner4 = await DhtNode.create({ address: '127.0.0.1', table: { sharedLoopback: true }, lookup: { maxPerSubnet: 100 } });
    const learner6 = await DhtNode.create({ address: '::1', table: { sharedLoopback: true } });
    try {
      learner4.pairWith(learner6);
      learner4.addContacts([{ id: pair4.id, ...pair4.local }]);
      const asked: string[] = [];
      const lookup = learner4.lookup(randomId(), findNode);
      for await (const event of lookup) if (event.type === 'query') asked.push(event.to.address);
      // pair4 answered with nodes6 too (our want): they went to the IPv6 sibling, not into this lookup.
      expect(learner6.tableSize).toBe(v6.length);
      expect(asked.length).toBeGreaterThanOrEqual(v4.length);
      expect(asked.every((address) => address === '127.0.0.1')).toBe(true);
    } finally {
      await learner4.close();
      await learner6.close();
    }
  });

  it('an unpaired node never sends want', async () => {
    const wants: (readonly string[] | undefined)[] = [];
    const unsubscribe = pair4.onIncomingQuery((query) => { if (query.q === 'find_node' || query.q === 'get_peers') wants.push(query.a.want); });
    try {
      await asker.query(pair4.local, 'find_node', { id: asker.id, target: randomId() });
      await asker.query(pair4.local, 'get_peers', { id: asker.id, info_hash: randomId() });
      expect(wants).toEqual([undefined, undefined]);
    } finally {
      unsubscribe();
    }
  });

  it('refuses to pair two nodes of one family', () => {
    expect(() => v4[2]!.pairWith(v4[3]!)).toThrow(RangeError);
  });
});
