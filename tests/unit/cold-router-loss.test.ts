/**
 * Issue 12, under loss: a cold scrape knows one router and no round trip, and the router's reply is
 * all its lookup has to go on. The lookup asks the router get_peers, and the join alongside asks it
 * the same get_peers a turn later (BootstrapOptions.alongside) instead of find_node. When the first
 * is lost the second's reply serves the lookup: the first peer comes one round trip after the start,
 * not after a soft timeout (3 round trips, RFC 6298's first estimate; or 1.5 once another answer
 * shows the router up, Rpc.hurrySiblings) and a second ask. In memory, on a fake clock: no sockets,
 * no sleeps.
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
  it("goes on from the join's copy of the get_peers: the first peer one round trip after the start, the router asked no third time", async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const infoHash = randomId();
    const routerId = randomId();
    // The router answers everything after one round trip: get_peers with the peer, find_node with nobody.
    const router = new Rpc(net.transport(ROUTER.address, ROUTER.port));
    open.push(router);
    const heard: string[] = [];
    router.onQuery((q, from) => {
      heard.push(q.q);
      setTimeout(() => {
        if (q.q === 'get_peers') router.respond(from, q.t, { id: routerId, token: new Uint8Array(4), values: [PEER] });
        else router.respond(from, q.t, { id: routerId, nodes: [] });
      }, ROUND_TRIP_MS);
    });
    let sent = 0;
    net.drop = (bytes, _from, to) => {
      const m = decodeMessage(bytes);
      if (!m.ok || m.message.y !== 'q' || m.message.q !== 'get_peers' || to.port !== ROUTER.port) return false;
      return idEquals(m.message.a.info_hash, infoHash) && ++sent === 1; // the first one is lost
    };
    const started = Date.now();
    const node = await DhtNode.create({ transport: net.transport('10.0.0.1', 6881) });
    open.push(node);

    const scraped = scrape(node, { infoHash, bootstrap: [ROUTER], timeoutMs: 5_000, startedAt: started });
    await vi.advanceTimersByTimeAsync(5_000);
    const report = await scraped;

    expect(report.peers.map((p) => `${p.address}:${p.port}`)).toEqual([`${PEER.address}:${PEER.port}`]);
    // The router heard the join's copy only (the lookup's was lost), and nobody asked it again;
    // then the lookup's find_node for the neighbours a reply of values alone did not name (askForNodes).
    expect(heard).toEqual(['get_peers', 'find_node']);
    expect(sent).toBe(2);
    expect(report.sinceStart.timeToFirstPeerMs).toBeGreaterThanOrEqual(ROUND_TRIP_MS);
    expect(report.sinceStart.timeToFirstPeerMs).toBeLessThan(1.5 * ROUND_TRIP_MS);
  });

  it('asks the nodes of a router reply that comes after the router was asked again as soon as it arrives', async () => {
    vi.useFakeTimers();
    const net = new MemoryNetwork();
    const infoHash = randomId();
    const routerId = randomId();
    const near = { id: randomId(), address: '10.0.0.3', port: 6881 };
    // The router is slow once: its reply to the first get_peers (naming `near`) comes after 1.2 s,
    // past the soft timeout (1 s while no round trip is known) at which the lookup asks it again;
    // it answers nothing else.
    const router = new Rpc(net.transport(ROUTER.address, ROUTER.port));
    const nearRpc = new Rpc(net.transport(near.address, near.port));
    open.push(router, nearRpc);
    let getPeers = 0;
    let lateReplyAt = Number.NaN;
    const started = Date.now();
    router.onQuery((q, from) => {
      if (q.q !== 'get_peers' || ++getPeers > 1) return;
      setTimeout(() => { lateReplyAt = Date.now() - started; router.respond(from, q.t, { id: routerId, token: new Uint8Array(4), nodes: [near] }); }, 12 * ROUND_TRIP_MS);
    });
    let nearAskedAt = Number.NaN;
    nearRpc.onQuery((q, from) => {
      if (q.q !== 'get_peers') return;
      nearAskedAt = Date.now() - started;
      setTimeout(() => nearRpc.respond(from, q.t, { id: near.id, token: new Uint8Array(4), values: [PEER] }), ROUND_TRIP_MS);
    });
    const node = await DhtNode.create({ transport: net.transport('10.0.0.1', 6881) });
    open.push(node);
    const lookupEvents: string[] = [];
    node.onLookup((lookup) => { if (lookupEvents.length === 0) lookup.watch((event) => lookupEvents.push(event.type)); });

    const scraped = scrape(node, { infoHash, bootstrap: [ROUTER], timeoutMs: 5_000, startedAt: started });
    await vi.advanceTimersByTimeAsync(5_000);
    const report = await scraped;

    expect(report.peers).toHaveLength(1);
    // The lookup asked the router again before the late reply came (its own, or the join's copy).
    expect(lookupEvents.indexOf('response')).toBeGreaterThan(lookupEvents.lastIndexOf('router-query'));
    expect(lookupEvents.filter((type) => type === 'router-query').length).toBeGreaterThanOrEqual(2);
    // Asked the moment the late reply named it; before the fix the lookup slept on until the
    // second router query's soft timeout and asked `near` only then.
    expect(nearAskedAt - lateReplyAt).toBeLessThan(ROUND_TRIP_MS / 2);
    expect(report.sinceStart.timeToFirstPeerMs).toBeLessThan(14 * ROUND_TRIP_MS);
  });
});
