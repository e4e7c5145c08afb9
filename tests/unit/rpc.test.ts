import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeMessage, encodeMessage, makeResponse } from '../../src/wire/krpc.js';
import { randomId } from '../../src/wire/id.js';
import { Rpc } from '../../src/net/rpc.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

const A = { address: '10.0.0.1', port: 1000 };
const B = { address: '10.0.0.2', port: 2000 };
const C = { address: '10.0.0.3', port: 3000 };
const open: Rpc[] = [];
/** A node that knows no round trip yet (soft timeout 1 s blind, floor 250 ms) and one it asks, on a fake clock. */
function coldPair(): { net: MemoryNetwork; client: Rpc; server: Rpc } {
  vi.useFakeTimers();
  const net = new MemoryNetwork();
  return { net, client: rpc(net, A, { softTimeoutMs: 1_000, minSoftTimeoutMs: 250, hardTimeoutMs: 3_000 }), server: rpc(net, B) };
}

/** Advance the fake clock by `ms`, then take the (by then settled) outcome of `pending`. */
async function advanceUntil<T>(pending: Promise<T>, ms: number): Promise<T> {
  await vi.advanceTimersByTimeAsync(ms);
  return pending;
}

function rpc(net: MemoryNetwork, at: { address: string; port: number }, options = {}): Rpc {
  const r = new Rpc(net.transport(at.address, at.port), options);
  open.push(r);
  return r;
}
afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.close())); vi.useRealTimers(); });

describe('Rpc: queries and their replies', () => {
  it('matches a reply on transaction ID and source, and reports the round trip', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    const server = rpc(net, B);
    const serverId = randomId();
    server.onQuery((q, from) => server.respond(from, q.t, { id: serverId }));
    const outcome = await client.query(B, 'ping', { id: randomId() });
    expect(outcome.kind).toBe('response');
    if (outcome.kind === 'response') expect(Buffer.from(outcome.response.r.id)).toEqual(Buffer.from(serverId));
    expect(client.counters.queriesOut.ping).toBe(1);
    expect(server.counters.queriesIn.ping).toBe(1);
    expect(client.pendingCount).toBe(0);
  });

  it('sends its own queries at once and its replies with the rest of the turn', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    const server = rpc(net, B);
    server.onQuery((q, from) => server.respond(from, q.t, { id: randomId() }));
    expect((await client.query(B, 'ping', { id: randomId() })).kind).toBe('response');
    expect(net.sent.map((d) => [d.from.port, d.when])).toEqual([[A.port, 'now'], [B.port, 'after-turn']]);
  });

  it('ignores a reply with the right transaction ID from the wrong address', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    const impostor = rpc(net, C);
    rpc(net, B); // the real node stays silent
    let sentT: Uint8Array | undefined;
    net.drop = (bytes, _from, to) => {
      const parsed = decodeMessage(bytes);
      if (parsed.ok && parsed.message.y === 'q' && to.port === B.port) sentT = parsed.message.t;
      return false;
    };
    const pending = client.query(B, 'ping', { id: randomId() }, { hardTimeoutMs: 200 });
    await vi.waitFor(() => expect(sentT).toBeDefined());
    // C answers in B's name with the transaction ID it observed.
    net.transport('10.0.0.9', 9).close();
    impostor.respond(A, sentT!, { id: randomId() });
    expect((await pending).kind).toBe('timeout');
    expect(client.counters.dropped['wrong-source']).toBe(1);
  });

  it('a soft timeout frees the caller while a late reply is still accepted', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { softTimeoutMs: 1_000, hardTimeoutMs: 3_000 });
    const server = rpc(net, B);
    let answer: (() => void) | undefined;
    server.onQuery((q, from) => { answer = () => server.respond(from, q.t, { id: randomId() }); });
    let soft = 0;
    const pending = client.query(B, 'ping', { id: randomId() }, { onSoftTimeout: () => soft++ });
    await vi.advanceTimersByTimeAsync(1_500);
    expect(soft).toBe(1);
    answer!();
    await vi.advanceTimersByTimeAsync(10);
    expect((await pending).kind).toBe('response');
  });

  it('judges the queries sent before any round trip was known by the first one measured (3 RTT, not the blind 1 s)', async () => {
    const { client, server } = coldPair();
    // A cold node asks two addresses at once: C never answers, B answers after 100 ms.
    server.onQuery((q, from) => { setTimeout(() => server.respond(from, q.t, { id: randomId() }), 100); });
    let softAt: number | undefined;
    const started = Date.now();
    const lost = client.query(C, 'get_peers', { id: randomId(), info_hash: randomId() }, { onSoftTimeout: () => { softAt = Date.now() - started; } });
    const answered = await advanceUntil(client.query(B, 'find_node', { id: randomId(), target: randomId() }, { onSoftTimeout: () => {} }), 150);
    expect(answered.kind).toBe('response');
    // RFC 6298's first estimate: 3 round trips (the reply's ~100 ms plus the in-memory ticks).
    const rearmedAt = client.rtt.timeoutMs;
    expect(rearmedAt).toBe(3 * (answered.kind === 'response' ? answered.rttMs : 0));
    expect(rearmedAt).toBeLessThan(400);
    await vi.advanceTimersByTimeAsync(rearmedAt - 150 - 5);
    expect(softAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    // Before: the query kept its blind 1,000 ms soft timer, and a cold lookup waited that long.
    expect(softAt).toBe(rearmedAt);
    await vi.advanceTimersByTimeAsync(3_000);
    expect((await lost).kind).toBe('timeout');
  });

  it('a reply from an endpoint brings the soft timeout of another query to it forward to 1.5 times that round trip (fast retransmit)', async () => {
    const { client, server } = coldPair();
    // A cold scrape: get_peers (the lookup) and find_node (the join) to the one router at once. The
    // router answers find_node after 100 ms, and get_peers only after 400 ms: late, not lost.
    server.onQuery((q, from) => { setTimeout(() => server.respond(from, q.t, { id: randomId() }), q.q === 'get_peers' ? 400 : 100); });
    let softAt: number | undefined;
    const started = Date.now();
    const late = client.query(B, 'get_peers', { id: randomId(), info_hash: randomId() }, { onSoftTimeout: () => { softAt = Date.now() - started; } });
    const answered = await advanceUntil(client.query(B, 'find_node', { id: randomId(), target: randomId() }, { onSoftTimeout: () => {} }), 150);
    const rtt = answered.kind === 'response' ? answered.rttMs : Number.NaN;
    expect(rtt).toBeGreaterThanOrEqual(100);
    await vi.advanceTimersByTimeAsync(100);
    // Before: 3 round trips (RFC 6298's first estimate), as for a query to any other address.
    expect(softAt).toBe(Math.ceil(1.5 * rtt));
    expect(softAt).toBeLessThan(client.rtt.timeoutMs);
    // Only the soft timeout moved: the late reply is still the query's answer.
    await vi.advanceTimersByTimeAsync(300);
    expect((await late).kind).toBe('response');
  });

  it('brings it forward no sooner than half the soft timeout\'s floor: on a fast path, jitter is not a loss', async () => {
    const { net, client, server } = coldPair();
    // A 10 ms path: find_node back after 10 ms, get_peers lost.
    net.drop = (bytes) => { const m = decodeMessage(bytes); return m.ok && m.message.y === 'q' && m.message.q === 'get_peers'; };
    server.onQuery((q, from) => { setTimeout(() => server.respond(from, q.t, { id: randomId() }), 10); });
    let softAt: number | undefined;
    const started = Date.now();
    void client.query(B, 'get_peers', { id: randomId(), info_hash: randomId() }, { onSoftTimeout: () => { softAt = Date.now() - started; } });
    await advanceUntil(client.query(B, 'find_node', { id: randomId(), target: randomId() }, { onSoftTimeout: () => {} }), 20);
    await vi.advanceTimersByTimeAsync(100);
    // 1.5 round trips would be 15 ms; the floor holds it to 125 (and the estimate to 250).
    expect(softAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(softAt).toBe(125);
  });

  it('keeps the blind maximum while no reply has come: no round trip, nothing to judge by', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { softTimeoutMs: 1_000, hardTimeoutMs: 3_000 });
    rpc(net, B);
    let soft = 0;
    void client.query(B, 'get_peers', { id: randomId(), info_hash: randomId() }, { onSoftTimeout: () => soft++ });
    await vi.advanceTimersByTimeAsync(999);
    expect(soft).toBe(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(soft).toBe(1);
  });

  it('fails a query after the hard timeout, and counts it', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { hardTimeoutMs: 2_000 });
    rpc(net, B);
    const pending = client.query(B, 'ping', { id: randomId() });
    await vi.advanceTimersByTimeAsync(2_001);
    expect((await pending).kind).toBe('timeout');
    expect(client.counters.timeouts).toBe(1);
    expect(client.pendingCount).toBe(0);
  });

  it('delivers KRPC errors as error outcomes', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    const server = rpc(net, B);
    server.onQuery((q, from) => server.respondError(from, q.t, 201, 'A Generic Error Ocurred'));
    const outcome = await client.query(B, 'ping', { id: randomId() });
    expect(outcome.kind === 'error' ? outcome.error.e : undefined).toEqual({ code: 201, message: 'A Generic Error Ocurred' });
  });
});

describe('Rpc: what it refuses to read', () => {
  it('counts each reason a datagram went nowhere', () => {
    const net = new MemoryNetwork();
    const node = rpc(net, A, { maxPacketBytes: 100 });
    const badQueries: number[] = [];
    node.onBadQuery((error) => badQueries.push(error.code));
    node.receive(new Uint8Array(101), B);
    node.receive(Buffer.from('not bencode'), B);
    node.receive(Buffer.from('d1:t2:ab1:y1:q1:q4:pinge'), B); // no `a`
    node.receive(encodeMessage(makeResponse(new Uint8Array([9, 9]), { id: randomId() })), B);
    expect(node.counters.dropped).toMatchObject({ oversized: 1, undecodable: 1, invalid: 1, unmatched: 1 });
    expect(badQueries).toEqual([203]);
    expect(node.counters.packetsIn).toBe(4);
  });

  it('never answers undecodable input', async () => {
    const net = new MemoryNetwork();
    const node = rpc(net, A);
    node.onBadQuery((error, from) => { if (error.t) node.respondError(from, error.t, error.code, error.message); });
    node.receive(Buffer.from('d1:t2:ab1:y1:qe garbage'), B);
    node.receive(Buffer.from('i42e'), B);
    await new Promise((r) => setImmediate(r));
    expect(net.sent).toEqual([]);
  });

  it('consults the admit filter before reading', () => {
    const net = new MemoryNetwork();
    const node = rpc(net, A);
    node.setAdmitFilter((from) => from.address !== B.address);
    node.receive(Buffer.from('d1:t2:ab1:y1:q1:q4:ping1:ad2:id20:aaaaaaaaaaaaaaaaaaaaee'), B);
    expect(node.counters.dropped.refused).toBe(1);
    expect(node.counters.queriesIn.ping).toBeUndefined();
  });
});

describe('Rpc: datagrams larger than an MTU', () => {
  /** A reply to `t` naming `count` nodes: 26 bytes each, so 120 nodes make about 3.2 KB. */
  const bigReply = (t: Uint8Array, count: number): Uint8Array =>
    encodeMessage(makeResponse(t, { id: randomId(), nodes: Array.from({ length: count }, (_, i) => ({ id: randomId(), address: `10.1.${i >> 8}.${i & 255}`, port: 6881 })) }));

  it('reads a reply we asked for whole, up to the UDP maximum (bittorrent-dht sends its whole table)', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    let t: Uint8Array | undefined;
    net.drop = (bytes) => { const p = decodeMessage(bytes); if (p.ok) t = p.message.t; return true; };
    const pending = client.query(B, 'find_node', { id: randomId(), target: randomId() });
    await vi.waitFor(() => expect(t).toBeDefined());
    const reply = bigReply(t!, 120);
    expect(reply.length).toBeGreaterThan(3_000);
    client.receive(reply, B);
    const outcome = await pending;
    expect(outcome.kind).toBe('response');
    if (outcome.kind === 'response') expect(outcome.response.r.nodes?.length).toBe(120);
    expect(client.counters.dropped.oversized).toBe(0);
  });

  it('drops an oversized datagram nobody asked for, and one from an awaited node that answers no open query', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    let t: Uint8Array | undefined;
    net.drop = (bytes) => { const p = decodeMessage(bytes); if (p.ok) t = p.message.t; return true; };
    const pending = client.query(B, 'find_node', { id: randomId(), target: randomId() }, { hardTimeoutMs: 100 });
    await vi.waitFor(() => expect(t).toBeDefined());
    const other = new Uint8Array([t![0]! ^ 0xff, t![1]!]);
    client.receive(bigReply(t!, 120), C); // the right transaction, from a stranger
    client.receive(bigReply(other, 120), B); // the awaited node, but no query of ours has this ID
    expect(client.counters.dropped.oversized).toBe(2);
    expect((await pending).kind).toBe('timeout');
  });
});

describe('Rpc: pacing', () => {
  it('queues sends beyond the rate and drains them as tokens refill', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { sendRate: 10, sendBurst: 2 });
    rpc(net, B);
    for (let i = 0; i < 5; i++) void client.query(B, 'ping', { id: randomId() }, { hardTimeoutMs: 60_000 });
    expect(net.sent.length).toBe(2);
    await vi.advanceTimersByTimeAsync(350);
    expect(net.sent.length).toBe(5);
  });

  it('starts a query\'s timeouts when it leaves, not while it waits for the rate limit', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { sendRate: 10, sendBurst: 1 });
    const server = rpc(net, B);
    server.onQuery((q, from) => server.respond(from, q.t, { id: randomId() }));
    // At 10 packets/s the third query leaves after ~200 ms, later than its 150 ms hard timeout.
    const outcomes = [0, 1, 2].map(() => client.query(B, 'ping', { id: randomId() }, { hardTimeoutMs: 150 }));
    await vi.advanceTimersByTimeAsync(600);
    expect((await Promise.all(outcomes)).map((o) => o.kind)).toEqual(['response', 'response', 'response']);
  });

  it('sends a low-priority query only when no other send waits (a join never delays a lookup)', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const client = rpc(net, A, { sendRate: 10, sendBurst: 1 });
    rpc(net, B);
    const method = (i: number): string => {
      const parsed = decodeMessage(net.sent[i]!.bytes);
      return parsed.ok && parsed.message.y === 'q' ? parsed.message.q : '?';
    };
    void client.query(B, 'ping', { id: randomId() }, { hardTimeoutMs: 60_000 });
    void client.query(B, 'find_node', { id: randomId(), target: randomId() }, { hardTimeoutMs: 60_000, priority: 'low' });
    void client.query(B, 'get_peers', { id: randomId(), info_hash: randomId() }, { hardTimeoutMs: 60_000 });
    void client.query(B, 'get_peers', { id: randomId(), info_hash: randomId() }, { hardTimeoutMs: 60_000 });
    await vi.advanceTimersByTimeAsync(500);
    expect([0, 1, 2, 3].map(method)).toEqual(['ping', 'get_peers', 'get_peers', 'find_node']);
  });

  it('drops, and counts, what does not fit in the send queue', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A, { sendRate: 1, sendBurst: 1, maxSendQueue: 2 });
    rpc(net, B);
    const outcomes = await Promise.all([0, 1, 2, 3].map(() => client.query(B, 'ping', { id: randomId() }, { hardTimeoutMs: 50 })));
    expect(outcomes.filter((o) => o.kind === 'failed').length).toBe(1);
    expect(client.counters.dropped['send-queue-full']).toBe(1);
  });

  it('close() settles every open query and refuses new ones', async () => {
    const net = new MemoryNetwork();
    const client = rpc(net, A);
    rpc(net, B);
    const pending = client.query(B, 'ping', { id: randomId() });
    await client.close();
    expect(await pending).toEqual({ kind: 'failed', reason: 'closed' });
    expect(await client.query(B, 'ping', { id: randomId() })).toEqual({ kind: 'failed', reason: 'closed' });
  });
});
