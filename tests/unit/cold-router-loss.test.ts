/**
 * Issue 12, under loss: a cold scrape knows one router and no round trip. It asks the router
 * get_peers (the lookup) and find_node (the join) at once. When the get_peers is lost and the
 * find_node answered, the lookup must ask the router again as soon as the answered query says
 * the other one is overdue: 1.5 times the round trip the router just showed (Rpc.hurrySiblings, TCP's
 * fast retransmit), not 3 round trips (RFC 6298's first estimate), nor the blind 1 s maximum. In
 * memory, on a fake clock: no sockets, no sleeps.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { idEquals, randomId } from '../../src/wire/id.js';
import { decodeMessage } from '../../src/wire/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { Rpc } from '../../src/net/rpc.js';
import { scrape } from '../../src/modes/scrape.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

const ROUTER = { address: '10.0.0.2', port: 6881 };
const ROUND_TRIP_MS = 100;
const PEER = { address: '10.7.0.1', port: 51413 };

const open: { close(): Promise<void> }[] = [];
afterEach(async () => { await Promise.all(open.splice(0).map((x) => x.close())); vi.useRealTimers(); });

describe('a cold scrape whose first get_peers to its one router is lost', () => {
  it('asks the router again 1.5 round trips after sending, as the join\'s reply shows the get_peers overdue, and finds the peer well before 1 s', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const infoHash = randomId();
    const routerId = randomId();
    // The router answers everything after one round trip: get_peers with the peer, find_node with nobody.
    const router = new Rpc(net.transport(ROUTER.address, ROUTER.port));
    open.push(router);
    router.onQuery((q, from) => {
      setTimeout(() => {
        if (q.q === 'get_peers') router.respond(from, q.t, { id: routerId, token: new Uint8Array(4), values: [PEER] });
        else router.respond(from, q.t, { id: routerId, nodes: [] });
      }, ROUND_TRIP_MS);
    });
    const getPeersSentAt: number[] = [];
    const started = Date.now();
    net.drop = (bytes, _from, to) => {
      const m = decodeMessage(bytes);
      if (!m.ok || m.message.y !== 'q' || m.message.q !== 'get_peers' || to.port !== ROUTER.port) return false;
      if (!idEquals(m.message.a.info_hash, infoHash)) return false;
      getPeersSentAt.push(Date.now() - started);
      return getPeersSentAt.length === 1; // the first one is lost
    };
    const node = await DhtNode.create({ transport: net.transport('10.0.0.1', 6881) });
    open.push(node);

    const scraped = scrape(node, { infoHash, bootstrap: [ROUTER], timeoutMs: 5_000, startedAt: started });
    await vi.advanceTimersByTimeAsync(5_000);
    const report = await scraped;

    expect(report.peers.map((p) => `${p.address}:${p.port}`)).toEqual([`${PEER.address}:${PEER.port}`]);
    expect(getPeersSentAt.length).toBeGreaterThanOrEqual(2);
    // The join's find_node came back after 100 ms: the router is up, so the get_peers sent with it
    // is overdue at 150 ms. It was asked again at 1,000 ms (the soft timeout's blind maximum) in
    // round 4, then at 300 ms (three round trips, RFC 6298's first estimate) until this round.
    const again = getPeersSentAt[1]! - getPeersSentAt[0]!;
    expect(again).toBeGreaterThanOrEqual(1.5 * ROUND_TRIP_MS);
    expect(again).toBeLessThan(2 * ROUND_TRIP_MS);
    expect(report.sinceStart.timeToFirstPeerMs).toBeLessThan(3.5 * ROUND_TRIP_MS);
  });

  it('asks the nodes of a router reply that comes after the router was asked again as soon as it arrives', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const infoHash = randomId();
    const routerId = randomId();
    const near = { id: randomId(), address: '10.0.0.3', port: 6881 };
    // The router is slow once: its first get_peers reply (naming `near`) comes after 400 ms, past
    // the 3 round trips at which the lookup asks it again; it never answers the second one.
    const router = new Rpc(net.transport(ROUTER.address, ROUTER.port));
    const nearRpc = new Rpc(net.transport(near.address, near.port));
    open.push(router, nearRpc);
    let getPeers = 0;
    let lateReplyAt = Number.NaN;
    const started = Date.now();
    router.onQuery((q, from) => {
      if (q.q === 'find_node') { setTimeout(() => router.respond(from, q.t, { id: routerId, nodes: [] }), ROUND_TRIP_MS); return; }
      if (q.q !== 'get_peers' || ++getPeers > 1) return;
      setTimeout(() => { lateReplyAt = Date.now() - started; router.respond(from, q.t, { id: routerId, token: new Uint8Array(4), nodes: [near] }); }, 4 * ROUND_TRIP_MS);
    });
    let nearAskedAt = Number.NaN;
    nearRpc.onQuery((q, from) => {
      if (q.q !== 'get_peers') return;
      nearAskedAt = Date.now() - started;
      setTimeout(() => nearRpc.respond(from, q.t, { id: near.id, token: new Uint8Array(4), values: [PEER] }), ROUND_TRIP_MS);
    });
    const node = await DhtNode.create({ transport: net.transport('10.0.0.1', 6881) });
    open.push(node);

    const scraped = scrape(node, { infoHash, bootstrap: [ROUTER], timeoutMs: 5_000, startedAt: started });
    await vi.advanceTimersByTimeAsync(5_000);
    const report = await scraped;

    expect(report.peers).toHaveLength(1);
    // Asked again at 150 ms (1.5 round trips, once the join's reply showed the router up), and
    // maybe a third time as the join's next reply hurried that one too: never more (ROUTER_TRIES).
    expect(getPeers).toBeGreaterThanOrEqual(2);
    expect(getPeers).toBeLessThanOrEqual(3);
    // Asked the moment the late reply named it; before the fix the lookup slept on until the
    // second router query's soft timeout (~600 ms) and asked `near` only then.
    expect(nearAskedAt - lateReplyAt).toBeLessThan(ROUND_TRIP_MS / 2);
    expect(report.sinceStart.timeToFirstPeerMs).toBeLessThan(6 * ROUND_TRIP_MS);
  });
});
