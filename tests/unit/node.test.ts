import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomId, type NodeId } from '../../src/wire/id.js';
import { decodeMessage, encodeMessage, makeQuery, type Message, type QueryArgsByMethod, type QueryMethod } from '../../src/wire/krpc.js';
import { DhtNode, MAX_REPLY_BYTES } from '../../src/dht/node.js';
import { findNode } from '../../src/dht/lookup.js';
import { Rpc } from '../../src/net/rpc.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

const open: DhtNode[] = [];
afterEach(async () => { await Promise.all(open.splice(0).map((n) => n.close())); });

async function node(net: MemoryNetwork, address: string, options: Parameters<typeof DhtNode.create>[0] = {}): Promise<DhtNode> {
  const n = await DhtNode.create({ ...options, transport: net.transport(address, 6881) });
  open.push(n);
  return n;
}

/** Send one query from a bare address and return the decoded reply (and every packet sent to us). */
async function ask<M extends QueryMethod>(
  net: MemoryNetwork, to: DhtNode, method: M, args: QueryArgsByMethod[M], from = '10.9.9.9', extra: { ro?: boolean } = {},
): Promise<{ reply: Message | undefined; bytes: number; inbox: Message[] }> {
  const inbox: Message[] = [];
  let bytes = 0;
  const me = net.transport(from, 5000);
  const t = new Uint8Array([0xab, 0xcd]);
  const reply = await new Promise<Message | undefined>((resolve) => {
    me.onMessage((data) => {
      const parsed = decodeMessage(data);
      if (!parsed.ok) return;
      inbox.push(parsed.message);
      if (parsed.message.y !== 'q') { bytes = data.length; resolve(parsed.message); }
    });
    me.send(encodeMessage(makeQuery(t, method, args, extra)), to.local);
    setTimeout(() => resolve(undefined), 200);
  });
  await me.close();
  return { reply, bytes, inbox };
}

function body(m: Message | undefined): Extract<Message, { y: 'r' }>['r'] {
  if (m?.y !== 'r') throw new Error(`expected a response, got ${JSON.stringify(m?.y)}`);
  return m.r;
}

/** Fill a node's table with n peers that have answered it. */
function fill(n: DhtNode, count: number): NodeId[] {
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomId();
    ids.push(id);
    // Each on a /24 of its own: a node's table keeps one contact per host and two per /24 in a bucket.
    n.table.recordResponse({ id, address: `10.${1 + (i >> 8)}.${i & 255}.1`, port: 6881 });
  }
  return ids;
}

describe('DhtNode answers queries (BEP 5, "DHT Queries")', () => {
  it('ping: answers with its ID, and tells the querier its address (BEP 42 `ip`)', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    const { reply } = await ask(net, dht, 'ping', { id: randomId() });
    expect(Buffer.from(body(reply).id)).toEqual(Buffer.from(dht.id));
    expect(reply?.ip).toEqual({ address: '10.9.9.9', port: 5000 });
  });

  it('find_node: the 8 closest nodes it knows to answer', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    fill(dht, 100);
    const target = randomId();
    const { reply } = await ask(net, dht, 'find_node', { id: randomId(), target });
    // Only contacts that have answered us are vouched for: the querier itself is in the table now,
    // unconfirmed, and must not be handed out even when it is among the closest.
    const expected = dht.table.closest(target, 8, (c) => c.lastResponse > 0).map((c) => Buffer.from(c.id).toString('hex'));
    expect(body(reply).nodes?.map((n) => Buffer.from(n.id).toString('hex'))).toEqual(expected);
  });

  it('get_peers: a token and nodes when it has no peers, values when it has', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    fill(dht, 20);
    const infoHash = randomId();
    const empty = body((await ask(net, dht, 'get_peers', { id: randomId(), info_hash: infoHash })).reply);
    expect(empty.token?.length).toBeGreaterThan(0);
    expect(empty.values).toBeUndefined();
    expect(empty.nodes?.length).toBe(8);
    dht.peers.announce(infoHash, { address: '10.5.5.5', port: 7000 }, false);
    dht.peers.announce(infoHash, { address: '2001:db8::5', port: 7000 }, false);
    const full = body((await ask(net, dht, 'get_peers', { id: randomId(), info_hash: infoHash })).reply);
    // BEP 32: an IPv4 querier gets IPv4 peers.
    expect(full.values).toEqual([{ address: '10.5.5.5', port: 7000 }]);
  });

  it('announce_peer: stores the peer with a valid token, using the source port when implied', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    const infoHash = randomId();
    const token = body((await ask(net, dht, 'get_peers', { id: randomId(), info_hash: infoHash })).reply).token!;
    const { reply } = await ask(net, dht, 'announce_peer', { id: randomId(), info_hash: infoHash, port: 9999, token, implied_port: true, seed: true });
    expect(reply?.y).toBe('r');
    expect(dht.peers.peers(infoHash)).toEqual([{ address: '10.9.9.9', port: 5000 }]);
    expect(dht.peers.stats().seeds).toBe(1);
  });

  it('sample_infohashes (BEP 51): samples, interval, num and nodes', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1', { sampleIntervalSeconds: 42 });
    fill(dht, 20);
    const stored = Array.from({ length: 30 }, () => randomId());
    for (const h of stored) dht.peers.announce(h, { address: '10.5.5.5', port: 7000 }, false);
    const r = body((await ask(net, dht, 'sample_infohashes', { id: randomId(), target: randomId() })).reply);
    expect(r.interval).toBe(42);
    expect(r.num).toBe(30);
    expect(r.samples?.length).toBe(20);
    const known = new Set(stored.map((h) => Buffer.from(h).toString('hex')));
    for (const s of r.samples!) expect(known.has(Buffer.from(s).toString('hex'))).toBe(true);
    expect(r.nodes?.length).toBe(8);
  });

  it('keeps every reply under the size cap, even for a torrent with 1,000 peers', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    fill(dht, 50);
    const infoHash = randomId();
    for (let i = 0; i < 1000; i++) dht.peers.announce(infoHash, { address: `10.${7 + (i >> 8)}.${i & 255}.1`, port: 7000 }, i % 2 === 0);
    for (const scrape of [false, true]) {
      const { reply, bytes } = await ask(net, dht, 'get_peers', { id: randomId(), info_hash: infoHash, scrape });
      expect(bytes).toBeLessThanOrEqual(MAX_REPLY_BYTES);
      expect(body(reply).values!.length).toBeGreaterThan(10);
    }
  });
});

describe('DhtNode errors (BEP 5, "Errors")', () => {
  it('answers an unknown method with 204 and a malformed query with 203', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    const me = net.transport('10.9.9.8', 5000);
    const replies: Message[] = [];
    me.onMessage((data) => { const p = decodeMessage(data); if (p.ok) replies.push(p.message); });
    me.send(Buffer.from('d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:vote1:t2:aa1:y1:qe'), dht.local);
    me.send(Buffer.from('d1:ad2:id3:abce1:q4:ping1:t2:bb1:y1:qe'), dht.local);
    await vi.waitFor(() => expect(replies.map((m) => (m.y === 'e' ? m.e.code : m.y))).toEqual([204, 203]));
    // Garbage is counted and dropped; the queue of replies is not touched.
    const sentBefore = dht.rpc.counters.packetsOut;
    me.send(Buffer.from('garbage'), dht.local);
    await vi.waitFor(() => expect(dht.rpc.counters.dropped.undecodable).toBe(1));
    expect(dht.rpc.counters.packetsOut).toBe(sentBefore);
    await me.close();
  });
});

describe('BEP 43 read-only nodes', () => {
  it('a read-only querier is answered but not added to the table', async () => {
    const net = new MemoryNetwork();
    const dht = await node(net, '10.0.0.1');
    const { reply } = await ask(net, dht, 'ping', { id: randomId() }, '10.9.9.1', { ro: true });
    expect(reply?.y).toBe('r');
    expect(dht.table.size).toBe(0);
    expect(dht.rpc.counters.queriesOut.ping ?? 0).toBe(0);
    // Another querier is pinged, to enter the table if it answers (this one does not).
    await ask(net, dht, 'ping', { id: randomId() }, '10.9.9.2');
    expect(dht.rpc.counters.queriesOut.ping).toBe(1);
  });

  it('a read-only node answers nothing and marks its queries ro', async () => {
    const net = new MemoryNetwork();
    const reader = await node(net, '10.0.0.1', { readOnly: true });
    const other = await node(net, '10.0.0.2');
    const { reply } = await ask(net, reader, 'ping', { id: randomId() });
    expect(reply).toBeUndefined();
    const outcome = await reader.query(other.local, 'ping', { id: reader.id });
    expect(outcome.kind).toBe('response');
    expect(other.table.size).toBe(0);
  });
});

describe('table upkeep', () => {
  it('pings a new querier once to learn whether it answers, then vouches for it', async () => {
    const net = new MemoryNetwork();
    const a = await node(net, '10.0.0.1');
    const b = await node(net, '10.0.0.2');
    await b.query(a.local, 'ping', { id: b.id });
    // a heard b's query: b enters a's table unconfirmed, a pings it, b answers.
    await vi.waitFor(() => expect(a.table.get(b.id)?.lastResponse).toBeGreaterThan(0));
    expect(a.rpc.counters.queriesOut.ping).toBe(1);
  });

  it('silent one-shot queriers never take a table slot, so our lookups never wait on them (issue 14 item 7)', async () => {
    const net = new MemoryNetwork();
    const a = await node(net, '10.0.0.1');
    // 12 honest nodes a knows, then 40 queriers that each send one find_node and never answer.
    const honest: DhtNode[] = [];
    for (let i = 0; i < 12; i++) {
      const h = await node(net, `10.0.1.${i + 1}`);
      honest.push(h);
      for (const other of honest) if (other !== h) h.table.recordResponse({ id: other.id, address: other.local.address, port: other.local.port });
      a.table.recordResponse({ id: h.id, address: h.local.address, port: h.local.port });
    }
    const silentIds: NodeId[] = [];
    for (let i = 0; i < 40; i++) {
      const id = randomId();
      silentIds.push(id);
      const me = net.transport(`10.0.2.${i + 1}`, 6881); // receives our ping, never answers
      me.send(encodeMessage(makeQuery(new Uint8Array([0, i]), 'find_node', { id, target: randomId() })), a.local);
    }
    await vi.waitFor(() => expect(a.rpc.counters.queriesIn.find_node).toBe(40));
    for (const id of silentIds) expect(a.table.get(id)).toBeUndefined();
    const asked = new Set<string>();
    const lookup = a.lookup(randomId(), findNode);
    for await (const event of lookup) if (event.type === 'query') asked.add(`${event.to.address}`);
    const result = await lookup.result;
    expect([...asked].filter((address) => address.startsWith('10.0.2.'))).toEqual([]);
    expect(result.closest.length).toBeGreaterThan(0);
  });

  it('every maintenance tick refreshes stale buckets and pings questionable nodes', async () => {
    vi.useFakeTimers();
    try {
      let clock = 1_000_000;
      const net = new MemoryNetwork();
      const dht = await node(net, '10.0.0.1', { now: () => clock, maintenanceIntervalMs: 60_000 });
      fill(dht, 30);
      // 16 silent minutes: every contact is questionable and every bucket stale (BEP 5: 15 minutes).
      clock += 16 * 60_000;
      expect(dht.table.questionable(100).length).toBe(dht.table.size);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(dht.rpc.counters.queriesOut.ping).toBeGreaterThan(0);
      expect(dht.rpc.counters.queriesOut.find_node).toBeGreaterThan(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('learning from replies, and filling the table on joining', () => {
  /** n nodes on a memory network, each in its own /24, knowing its 8 nearest and 24 random others, as a running network would. */
  async function network(net: MemoryNetwork, n: number, seed: number): Promise<DhtNode[]> {
    const { Prng } = await import('../helpers/prng.js');
    const prng = new Prng(seed);
    const nodes: DhtNode[] = [];
    for (let i = 0; i < n; i++) nodes.push(await node(net, `10.${50 + (i >> 8)}.${i & 255}.1`, { random: prng.randomSource() }));
    const { compareDistance } = await import('../../src/wire/id.js');
    for (const a of nodes) {
      const nearest = nodes.filter((b) => b !== a).sort((x, y) => compareDistance(a.id, x.id, y.id)).slice(0, 8);
      for (const b of [...nearest, ...Array.from({ length: 24 }, () => prng.pick(nodes))]) {
        if (b !== a) a.table.recordResponse({ id: b.id, ...b.local });
      }
    }
    return nodes;
  }

  it('the nodes a reply names enter the table as heard of, and are never handed out before they answer', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [await node(net, '10.0.0.1'), await node(net, '10.0.0.2')];
    const named = fill(b, 20); // at addresses where nobody listens
    const reply = await a.query(b.local, 'find_node', { id: a.id, target: randomId() });
    expect(reply.kind).toBe('response');
    const heard = named.map((id) => a.table.get(id)).filter((c) => c !== undefined);
    expect(heard).toHaveLength(8);
    for (const c of heard) expect(c).toMatchObject({ lastResponse: 0, lastQuery: 0 });
    // Asked for exactly those IDs, a still names only b, the one that answered it.
    for (const c of heard) {
      const { reply: answer } = await ask(net, a, 'find_node', { id: randomId(), target: c.id });
      expect(body(answer).nodes?.map((n) => n.port)).toEqual([b.local.port]);
    }
    // One failed query removes a heard-of contact.
    const outcome = await a.query(heard[0]!, 'ping', { id: a.id }, { hardTimeoutMs: 50 });
    expect(outcome.kind).toBe('timeout');
    expect(a.table.get(heard[0]!.id)).toBeUndefined();
  });

  it('learnFromReplies: false keeps them out', async () => {
    const net = new MemoryNetwork();
    const [a, b] = [await node(net, '10.0.0.1', { learnFromReplies: false }), await node(net, '10.0.0.2')];
    fill(b, 20);
    await a.query(b.local, 'find_node', { id: a.id, target: randomId() });
    expect(a.table.size).toBe(1);
  });

  it('bootstrap fills the gaps of the far buckets alongside the lookup for our own ID, at a bounded cost', async () => {
    const net = new MemoryNetwork();
    const nodes = await network(net, 300, 31);
    const entry = [nodes[0]!.local];
    const { Prng } = await import('../helpers/prng.js');
    const { sharedPrefixLength } = await import('../../src/wire/id.js');
    const joinOnly = await node(net, '10.6.0.1', { random: new Prng(1).randomSource() });
    const joined = await joinOnly.bootstrap(entry, { fillTable: false });
    const filled = await node(net, '10.6.0.2', { random: new Prng(2).randomSource() });
    const result = await filled.bootstrap(entry);
    expect(result.routersAnswered).toBe(1);
    expect(result.tableSize).toBe(filled.table.size);
    // The join alone leaves a table near our own ID; filling covers the far buckets (< 4 shared bits).
    const far = (n: DhtNode): number => n.table.all().filter((c) => sharedPrefixLength(n.id, c.id) < 4).length;
    expect(filled.table.size).toBeGreaterThan(3 * joined.tableSize);
    expect(far(filled)).toBeGreaterThan(Math.max(80, 3 * far(joinOnly)));
    const sent = (n: DhtNode): number => n.rpc.counters.queriesOut.find_node ?? 0;
    // Filling costs extra find_nodes (about one per gap, fewer when the join's own replies filled some)...
    expect(sent(filled) - sent(joinOnly)).toBeGreaterThan(10);
    // ...and never more than its cap.
    expect(sent(filled) - sent(joinOnly)).toBeLessThanOrEqual(256 + 20);
    // Asked for any target, the node hands out only contacts that have answered it. (Wait until it
    // has answered the pings of the nodes it just met: while its send queue is full it sheds strangers.)
    await vi.waitFor(() => expect(filled.rpc.backlogged).toBe(false));
    for (let i = 0; i < 20; i++) {
      const { reply } = await ask(net, filled, 'find_node', { id: randomId(), target: randomId() });
      for (const n of body(reply).nodes ?? []) expect(filled.table.get(n.id)?.lastResponse).toBeGreaterThan(0);
    }
  }, 20_000);

  it('a router query that got lost is asked again at its soft timeout, not its hard one', async () => {
    const net = new MemoryNetwork();
    // Twelve nodes of one /24 in one table: the table's per-/24 rule is lifted, as a local network would.
    const router = await node(net, '10.0.0.1', { table: { restrictHosts: false } });
    const joiner = await node(net, '10.0.0.2', { rpc: { softTimeoutMs: 200 } });
    let dropped = 0;
    net.drop = (_bytes, from, to) => from.address === '10.0.0.2' && to.address === '10.0.0.1' && dropped++ === 0;
    const started = Date.now();
    const result = await joiner.bootstrap([router.local], { timeoutMs: 9_000 });
    expect(result.routersAnswered).toBe(1);
    expect(dropped).toBeGreaterThan(1);
    // Three tries of 3 s each fit the budget: a retry after the hard timeout would take 3 s.
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a router that answers after 3.5 s is heard by a node whose hard timeout is 5 s', async () => {
    vi.useFakeTimers();
    try {
      const net = new MemoryNetwork();
      const routerId = randomId();
      const router = new Rpc(net.transport('10.0.0.1', 6881));
      router.onQuery((q, from) => { setTimeout(() => router.respond(from, q.t, { id: routerId, nodes: [] }), 3_500); });
      // Told that replies may take 5 s, as `dht-scrape testnet`'s probe of a network slowed on
      // purpose is: the join must not give up on its router at 3 s (it did, as "nobody answered").
      const joiner = await node(net, '10.0.0.2', { rpc: { hardTimeoutMs: 5_000 } });
      const joined = joiner.bootstrap([router.local], { timeoutMs: 10_000, fillTable: false });
      await vi.advanceTimersByTimeAsync(10_000);
      expect((await joined).routersAnswered).toBe(1);
      expect(joiner.rpc.counters.dropped.unmatched).toBe(0);
      await router.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a maintenance tick asks about a few gaps even when no bucket is stale', async () => {
    vi.useFakeTimers();
    try {
      const net = new MemoryNetwork();
      const dht = await node(net, '10.0.0.1', { maintenanceIntervalMs: 60_000 });
      fill(dht, 30);
      // A contact sharing 12 bits with us: the table's far slots are mostly empty.
      const { randomIdWithPrefix } = await import('../../src/wire/id.js');
      dht.table.recordResponse({ id: randomIdWithPrefix(dht.id, 12), address: '10.2.0.1', port: 6881 });
      expect(dht.table.refreshTargets(15 * 60_000)).toEqual([]);
      expect(dht.table.gaps().length).toBeGreaterThanOrEqual(4);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(dht.rpc.counters.queriesOut.find_node).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the network a lookup runs on (the per-/24 brake)', () => {
  /** A router at 10.0.0.1 that knows 12 nodes of its own /24, all of them answering. */
  async function sharedSubnet(net: MemoryNetwork): Promise<DhtNode> {
    // Twelve nodes of one /24 in one table: the table's per-/24 rule is lifted, as a local network would.
    const router = await node(net, '10.0.0.1', { table: { restrictHosts: false } });
    for (let i = 2; i < 14; i++) {
      const member = await node(net, `10.0.0.${i}`);
      router.table.recordResponse({ id: member.id, address: member.local.address, port: member.local.port });
    }
    return router;
  }

  it('a cold lookup asking local routers before any join treats the network as local: more than 4 nodes of one /24 answer', async () => {
    const net = new MemoryNetwork();
    const router = await sharedSubnet(net);
    const seeker = await node(net, '10.0.0.200');
    const result = await seeker.findPeers(randomId(), { routers: [router.local] }).result;
    // k = 8 nodes of the /24 answered (the router among them or not): one braked at 4 per /24 stops at 4.
    expect(result.stats.responses).toBeGreaterThanOrEqual(8);
    expect(result.closest).toHaveLength(8);
  });

  it('with the brake asked for (addressScope unknown), the same lookup stops at 4 nodes of the /24', async () => {
    const net = new MemoryNetwork();
    const router = await sharedSubnet(net);
    const seeker = await node(net, '10.0.0.200', { lookup: { addressScope: 'unknown' } });
    const result = await seeker.findPeers(randomId(), { routers: [router.local] }).result;
    expect(result.stats.responses).toBe(4);
  });
});

describe('injected randomness', () => {
  it('two nodes given the same seeded source get the same ID and send the same transaction IDs', async () => {
    const { Prng } = await import('../helpers/prng.js');
    const transactionIds: string[][] = [];
    const ids: string[] = [];
    for (let run = 0; run < 2; run++) {
      const net = new MemoryNetwork();
      const dht = await node(net, '10.0.0.1', { random: new Prng(7).randomSource() });
      await node(net, '10.0.0.2');
      ids.push(Buffer.from(dht.id).toString('hex'));
      for (let i = 0; i < 3; i++) await dht.query({ address: '10.0.0.2', port: 6881 }, 'ping', { id: dht.id });
      transactionIds.push(net.sent.filter((p) => p.from.address === '10.0.0.1').map((p) => {
        const parsed = decodeMessage(p.bytes);
        // Only our queries: our replies echo the other node's (unseeded) transaction IDs.
        return parsed.ok && parsed.message.y === 'q' ? Buffer.from(parsed.message.t).toString('hex') : '';
      }).filter((t) => t !== ''));
    }
    expect(ids[0]).toBe(ids[1]);
    expect(transactionIds[0]).toEqual(transactionIds[1]);
    expect(new Set(transactionIds[0]).size).toBe(3);
  });
});
