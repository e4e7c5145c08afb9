/**
 * A scrape as a user runs it: a fresh node, one bootstrap address, nothing known. It must start
 * asking for the torrent at once (issue 12: the get_peers lookup leaves in the first event-loop
 * turn, joining runs alongside), and it must read the big replies it asked for (webtorrent's
 * bittorrent-dht answers with its whole routing table, 2-3 KB).
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareDistance, idEquals, randomId, sharedPrefixLength, type NodeId } from '../../src/wire/id.js';
import { decodeMessage, encodeMessage, makeResponse, type Query } from '../../src/wire/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { scrape } from '../../src/modes/scrape.js';
import { Testnet } from '../../src/modes/testnet.js';
import { udpTransport, type Endpoint, type SendTiming, type Transport } from '../../src/net/transport.js';
import { idNear } from '../helpers/ids.js';
import { Prng } from '../helpers/prng.js';

const key = (p: Endpoint): string => `${p.address}:${p.port}`;

describe('a cold scrape', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 200, torrents: 2, peers: 10 }); });
  afterAll(async () => { await net.close(); });

  it('sends its first get_peers before any find_node of the join: the join never goes first', async () => {
    const sent: ('get_peers' | 'find_node-self' | 'other')[] = [];
    const inner = await udpTransport({ address: '127.0.0.1' });
    let ownId: Uint8Array | undefined;
    const transport: Transport = {
      ...inner,
      send(bytes, to, when) {
        const parsed = decodeMessage(bytes);
        if (parsed.ok && parsed.message.y === 'q') {
          const q = parsed.message;
          if (q.q === 'get_peers') sent.push('get_peers');
          else if (q.q === 'find_node' && ownId !== undefined && idEquals(q.a.target, ownId)) sent.push('find_node-self');
          else sent.push('other');
        }
        inner.send(bytes, to, when);
      },
    };
    const node = await DhtNode.create({ transport });
    ownId = node.id;
    try {
      const torrent = net.torrents[0]!;
      const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000 });
      expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
      // On the wire: get_peers first. The old scrape joined first (find_node for our own ID, to the
      // router and then through the whole join lookup) and only then asked for the torrent.
      expect(sent[0]).toBe('get_peers');
      const firstJoin = sent.indexOf('find_node-self');
      expect(firstJoin).toBeGreaterThan(0);
      expect(sent.indexOf('get_peers')).toBeLessThan(firstJoin);
      // The join ran alongside, and its packets are reported.
      expect(report.bootstrap.queries).toBeGreaterThan(0);
      expect(report.sinceStart.durationMs).toBeGreaterThanOrEqual(report.lookup!.durationMs);
    } finally {
      await node.close();
    }
  });

  it('hands the socket its get_peers in the turn the scrape starts; the join starts a turn later, behind it, asking the router the same get_peers', async () => {
    const sent: string[] = [];
    const timings: (SendTiming | undefined)[] = [];
    const inner = await udpTransport({ address: '127.0.0.1' });
    const transport: Transport = {
      ...inner,
      send(bytes, to, when) {
        const parsed = decodeMessage(bytes);
        if (parsed.ok && parsed.message.y === 'q') { sent.push(parsed.message.q); timings.push(when); }
        inner.send(bytes, to, when);
      },
    };
    const node = await DhtNode.create({ transport });
    try {
      const torrent = net.torrents[1]!;
      const running = scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000 });
      // The get_peers leaves as it is made ('now': the socket does not keep it for the turn's end).
      // A fresh process runs the join's setup for the first time (about 2 ms here): it starts a
      // turn later, after everything the scrape's first turn does.
      expect(sent).toEqual(['get_peers']);
      expect(timings).toEqual(['now']);
      await new Promise<void>((resolve) => setImmediate(resolve));
      // The join's router query: the lookup's own get_peers (BootstrapOptions.alongside), not find_node.
      expect(sent).toEqual(['get_peers', 'get_peers']);
      const report = await running;
      expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
    } finally {
      await node.close();
    }
  });

  it('behind a router whose every contact toward the info-hash (and toward our ID) is dead, looks elsewhere and finds the peers', async () => {
    // On the `internet` local network one router's 8 contacts in a quarter of the keyspace were all
    // dead: scrapes of torrents there, from a node whose ID fell there too, ended with no peer.
    const torrent = net.torrents[0]!;
    const router = await deadEndRouter(net, torrent.infoHash);
    const node = await DhtNode.create({ address: '127.0.0.1', id: idNear(torrent.infoHash, 3, new Prng(5)) });
    // The events of the scrape's first get_peers lookup, in order.
    const firstLookup: string[] = [];
    let watching = false;
    node.onLookup((lookup) => {
      if (watching || lookup.strategy.method !== 'get_peers') return;
      watching = true;
      lookup.watch((event) => firstLookup.push(event.type));
    });
    try {
      const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: [router.local], timeoutMs: 20_000 });
      expect(router.deadEndsSent).toBeGreaterThanOrEqual(2); // the lookup's get_peers and the join's, both toward the info-hash
      expect(router.elsewhereSent).toBeGreaterThan(0); // its find_node lookups toward other regions
      expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
      // Stalled among the dead referrals, it looked elsewhere at once (LookupOptions.onStalled): the
      // first lookup itself found the peers, before any of its dead queries reached its hard timeout.
      const firstItem = firstLookup.indexOf('item');
      expect(firstItem).toBeGreaterThan(0);
      expect(firstLookup.slice(0, firstItem)).not.toContain('timeout');
    } finally {
      await node.close();
      await router.close();
    }
  }, 30_000);

  it("asks a node get_peers while the join's find_node to it is still out: the join's probe never holds the lookup's query", async () => {
    // A lookup and a low-priority join side by side, as a scrape runs them, the join asking find_node.
    // The router names the same 8 slow nodes whatever the target (as bittorrent/bootstrap-dht does),
    // and answers the join's find_node before the lookup's get_peers: the join asks some of them first.
    const infoHash = randomId();
    const slow = await slowNodes(infoHash, 8, 150);
    const router = await sameNodesRouter(slow.nodes, 40);
    // Our ID is the info-hash, so that the join's lookup for our ID asks first the very nodes the
    // lookup asks first. (With a random ID the two picked their first 3 of the 8 apart, and in
    // about one run in five no node was asked by both.)
    const node = await DhtNode.create({ address: '127.0.0.1', id: infoHash });
    const stopJoin = new AbortController();
    try {
      const lookup = node.findPeers(infoHash, { routers: [router.local], timeoutMs: 10_000 });
      const join = node.join([router.local], { fillTable: false, priority: 'low', signal: stopJoin.signal });
      const peers = new Set<string>();
      for await (const event of lookup) if (event.type === 'item') peers.add(key(event.item));
      expect([...peers]).toEqual([key(SLOW_PEER)]);
      // Nodes that got our get_peers while the join's find_node to them was still unanswered (it is
      // answered 150 ms after it came). The guard used to hold the get_peers until that answer (one
      // probe at a time per stranger), so there were none.
      const beside = slow.seen.filter(({ findNodeAt: f, getPeersAt: g }) => f !== undefined && g !== undefined && g >= f && g < f + 150);
      expect(beside.length).toBeGreaterThan(0);
      stopJoin.abort();
      await join.result;
    } finally {
      await node.close();
      await router.close();
      await slow.close();
    }
  });

  it("goes on from the join's reply when the router's reply to the lookup is lost: no soft timeout waited, no query asked again", async () => {
    const router = await forgetfulRouter(net);
    const node = await DhtNode.create({ address: '127.0.0.1' });
    const events: string[] = [];
    node.onLookup((lookup) => {
      if (lookup.strategy.method === 'get_peers' && events.length === 0) lookup.watch((event) => events.push(event.type));
    });
    try {
      const torrent = net.torrents[0]!;
      const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: [router.local], timeoutMs: 20_000 });
      expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
      // The router heard the lookup's get_peers (and dropped it), then the join's, which it answered.
      // Had the join asked find_node, the lookup would have asked the router again at its soft timeout.
      expect(router.heard).toEqual(['get_peers', 'get_peers']);
      expect(events.filter((type) => type === 'router-query')).toHaveLength(1);
      expect(events.indexOf('query')).toBeGreaterThan(0);
      expect(report.lookup!.routersAnswered).toBe(1);
    } finally {
      await node.close();
      await router.close();
    }
  });

  it('finds the peers through a bootstrap node whose every reply is 3 KB (its whole table, as bittorrent-dht sends)', async () => {
    const router = await bigRouter(net);
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const torrent = net.torrents[1]!;
      const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: [router.local], timeoutMs: 20_000 });
      expect(router.largestReply).toBeGreaterThanOrEqual(3_000);
      expect(report.bootstrap.routersAnswered).toBe(1);
      expect(new Set(report.peers.map(key))).toEqual(new Set(torrent.peers.map(key)));
      expect(node.rpc.counters.dropped.oversized).toBe(0);
    } finally {
      await node.close();
      await router.close();
    }
  });
});

/**
 * A bootstrap node that answers find_node and get_peers with 120 of the network's nodes, closest
 * to the target first (about 3.2 KB): more than the 1,500 bytes we read of a datagram nobody asked for.
 */
async function bigRouter(net: Testnet): Promise<{ local: Endpoint; largestReply: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const id = randomId();
  const state = { largestReply: 0 };
  onLookupQuery(socket, (query, target, rinfo) => {
    const nodes = closestLive(net, target, 120);
    const reply = encodeMessage(makeResponse(query.t, { id, nodes, ...(query.q === 'get_peers' ? { token: new Uint8Array([1, 2, 3, 4]) } : {}) }));
    state.largestReply = Math.max(state.largestReply, reply.length);
    socket.send(reply, rinfo.port, rinfo.address);
  });
  return {
    local: { address: '127.0.0.1', port: socket.address().port },
    get largestReply() { return state.largestReply; },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A bootstrap node that drops the first query it hears (as a lost datagram would be) and answers the rest with 8 live nodes of `net`. */
async function forgetfulRouter(net: Testnet): Promise<{ local: Endpoint; heard: string[]; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const id = randomId();
  const heard: string[] = [];
  onLookupQuery(socket, (query, target, rinfo) => {
    heard.push(query.q);
    if (heard.length === 1) return;
    const reply = makeResponse(query.t, { id, nodes: closestLive(net, target, 8), ...(query.q === 'get_peers' ? { token: new Uint8Array([5, 6, 7, 8]) } : {}) });
    socket.send(encodeMessage(reply), rinfo.port, rinfo.address);
  });
  return {
    local: { address: '127.0.0.1', port: socket.address().port },
    heard,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * A bootstrap node whose contacts in the quarter of the keyspace around `deadZone` (2 leading bits)
 * are 8 nodes that never answer (silent sockets), while it names live nodes of `net` for targets
 * anywhere else: a router with one bucket of dead contacts.
 */
async function deadEndRouter(net: Testnet, deadZone: NodeId): Promise<{ local: Endpoint; deadEndsSent: number; elsewhereSent: number; close(): Promise<void> }> {
  const bind = async (address: string): Promise<dgram.Socket> => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return socket;
  };
  const socket = await bind('127.0.0.1');
  // Each on its own address, as dead nodes of a real network are.
  const silent = await Promise.all(Array.from({ length: 8 }, (_, i) => bind(`127.3.0.${i + 1}`)));
  const prng = new Prng(9);
  const dead = silent.map((s, i) => ({ id: idNear(deadZone, 8 + i, prng), ...s.address() })).map(({ id, address, port }) => ({ id, address, port }));
  const id = randomId();
  const counts = { deadEndsSent: 0, elsewhereSent: 0 };
  onLookupQuery(socket, (query, target, rinfo) => {
    const inDeadZone = sharedPrefixLength(target, deadZone) >= 2;
    if (inDeadZone) counts.deadEndsSent++;
    else counts.elsewhereSent++;
    const nodes = inDeadZone
      ? dead
      : closestLive(net, target, 8);
    const reply = encodeMessage(makeResponse(query.t, { id, nodes, ...(query.q === 'get_peers' ? { token: new Uint8Array([1, 2, 3, 4]) } : {}) }));
    // Live regions answer 100 ms late: a lookup toward the dead region ends first (its queries
    // fail at once, to addresses that never answered), and must not be the one the scrape goes on from.
    const send = (): void => { if (open) socket.send(reply, rinfo.port, rinfo.address); };
    if (inDeadZone) send();
    else timers.add(setTimeout(send, 100));
  });
  let open = true;
  const timers = new Set<NodeJS.Timeout>();
  return {
    local: { address: '127.0.0.1', port: socket.address().port },
    get deadEndsSent() { return counts.deadEndsSent; },
    get elsewhereSent() { return counts.elsewhereSent; },
    close: async () => {
      open = false;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([socket, ...silent].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

const SLOW_PEER = { address: '127.6.0.1', port: 6881 };

/**
 * `count` nodes near `target`, each on its own address (the outbound guard counts per host), that
 * answer every find_node and get_peers `delayMs` late, naming each other and, to get_peers, one
 * peer. `seen`: when each first received a find_node and a get_peers (ms, performance.now()).
 */
async function slowNodes(target: NodeId, count: number, delayMs: number): Promise<{
  nodes: { id: NodeId; address: string; port: number }[]; seen: { findNodeAt?: number; getPeersAt?: number }[]; close(): Promise<void>;
}> {
  const prng = new Prng(11);
  const sockets = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, `127.5.0.${i + 1}`, resolve));
    return socket;
  }));
  const nodes = sockets.map((s, i) => ({ id: idNear(target, 10 + i, prng), address: s.address().address, port: s.address().port }));
  const seen: { findNodeAt?: number; getPeersAt?: number }[] = nodes.map(() => ({}));
  const timers = new Set<NodeJS.Timeout>();
  sockets.forEach((socket, i) => onLookupQuery(socket, (query, _target, rinfo) => {
    const at = performance.now();
    if (query.q === 'find_node') seen[i]!.findNodeAt ??= at;
    else seen[i]!.getPeersAt ??= at;
    const extra = query.q === 'get_peers' ? { token: new Uint8Array([5, 6, 7, 8]), values: [SLOW_PEER] } : {};
    const reply = encodeMessage(makeResponse(query.t, { id: nodes[i]!.id, nodes, ...extra }));
    const timer = setTimeout(() => { timers.delete(timer); socket.send(reply, rinfo.port, rinfo.address); }, delayMs);
    timers.add(timer);
  }));
  return {
    nodes,
    seen,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/** A router that names `nodes` whatever the target: find_node at once, get_peers `getPeersDelayMs` late. */
async function sameNodesRouter(nodes: readonly { id: NodeId; address: string; port: number }[], getPeersDelayMs: number): Promise<{ local: Endpoint; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const id = randomId();
  const timers = new Set<NodeJS.Timeout>();
  onLookupQuery(socket, (query, _target, rinfo) => {
    const reply = encodeMessage(makeResponse(query.t, { id, nodes: [...nodes] }));
    if (query.q === 'find_node') { socket.send(reply, rinfo.port, rinfo.address); return; }
    const timer = setTimeout(() => { timers.delete(timer); socket.send(reply, rinfo.port, rinfo.address); }, getPeersDelayMs);
    timers.add(timer);
  });
  return {
    local: { address: '127.0.0.1', port: socket.address().port },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

/** Calls `answer` with each get_peers or find_node query the socket receives, and its target. */
function onLookupQuery(socket: dgram.Socket, answer: (query: Query, target: NodeId, from: dgram.RemoteInfo) => void): void {
  socket.on('message', (bytes, rinfo) => {
    const parsed = decodeMessage(bytes);
    if (!parsed.ok || parsed.message.y !== 'q') return;
    const query: Query = parsed.message;
    const target = query.q === 'get_peers' ? query.a.info_hash : query.q === 'find_node' ? query.a.target : undefined;
    if (target !== undefined) answer(query, target, rinfo);
  });
}

/** The `count` live nodes of `net` closest to `target`, closest first. */
function closestLive(net: Testnet, target: NodeId, count: number): { id: NodeId; address: string; port: number }[] {
  return net.live.map((n) => ({ id: n.id, ...n.local })).sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count);
}
