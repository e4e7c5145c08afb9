import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo, PeerInfo } from '../../src/wire/compact.js';
import { compareDistance, type NodeId } from '../../src/wire/id.js';
import { decodeMessage, encodeMessage, makeResponse, type Query, type ResponseBody } from '../../src/wire/krpc.js';
import { subnetOf } from '../../src/wire/address.js';
import type { LookupResult } from '../../src/dht/lookup.js';
import type { Candidate } from '../../src/dht/lookup-state.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';
import { Prng } from '../helpers/prng.js';
import { idNear } from '../helpers/ids.js';

/**
 * Lookups through a local network into which hostile nodes have been planted: raw UDP sockets
 * speaking KRPC, with IDs closer to the torrent than any real node, vouched for by the real nodes
 * nearest the torrent (so every lookup for it meets them). Each behaviour gets its own test.
 */

type Behaviour = (query: Query, self: NodeInfo, rng: Prng) => Uint8Array | undefined;

interface Hostile {
  info: NodeInfo;
  queries: number;
  close(): Promise<void>;
}

const rng = new Prng(0xbad);
const key = (p: PeerInfo): string => `${p.address}:${p.port}`;

async function startHostile(address: string, id: NodeId, behaviour: Behaviour): Promise<Hostile> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, address, () => resolve()); });
  const hostile: Hostile = {
    info: { id, address, port: socket.address().port },
    queries: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  const own = new Prng(rng.int(2 ** 31));
  socket.on('message', (msg, from) => {
    const parsed = decodeMessage(msg);
    if (!parsed.ok || parsed.message.y !== 'q') return;
    hostile.queries++;
    const reply = behaviour(parsed.message, hostile.info, own);
    if (reply !== undefined) socket.send(reply, from.port, from.address);
  });
  return hostile;
}

function respond(query: Query, body: ResponseBody): Uint8Array {
  return encodeMessage(makeResponse(query.t, body));
}

/** A 127.x address nobody listens on, in a /24 of its own or shared with a few others. */
function bogusAddress(r: Prng, sameSubnet: boolean): string {
  return sameSubnet ? `127.250.0.${1 + r.int(254)}` : `127.${200 + r.int(40)}.${r.int(256)}.${1 + r.int(254)}`;
}

const BEHAVIOURS: Record<string, Behaviour> = {
  /** Random bytes, or a dict with the right `t` and nonsense in it. */
  garbage: (q, _self, r) => (r.next() < 0.5 ? r.bytes(1 + r.int(300)) : new Uint8Array(Buffer.concat([Buffer.from('d1:rd2:id3:abce1:t'), Buffer.from(`${q.t.length}:`), q.t, Buffer.from('1:y1:re')]))),
  /** A valid reply naming only itself, with a token: it wants to look like the closest node there is. */
  'only-itself': (q, self, r) => respond(q, { id: self.id, nodes: [self], token: r.bytes(8) }),
  /** 50 bogus nodes per reply, at unreachable 127.x addresses, with IDs even closer to the target. */
  'bogus-nodes-near': (q, self, r) => respond(q, {
    id: self.id,
    nodes: Array.from({ length: 50 }, () => ({ id: idNear(targetOf(q), 24 + r.int(40), rng), address: bogusAddress(r, false), port: 1 + r.int(65535) })),
  }),
  /** 50 bogus nodes per reply with random IDs, all in one /24. */
  'bogus-nodes-random': (q, self, r) => respond(q, {
    id: self.id,
    nodes: Array.from({ length: 50 }, () => ({ id: r.bytes(20), address: bogusAddress(r, true), port: 1 + r.int(65535) })),
  }),
  /** A new ID in every reply. */
  'changing-id': (q, _self, r) => respond(q, { id: r.bytes(20), token: r.bytes(8) }),
  /** As many fake peers as fit in a datagram (170 of them), in every get_peers reply. */
  'huge-values': (q, self, r) => respond(q, {
    id: self.id,
    token: r.bytes(8),
    values: Array.from({ length: 170 }, () => ({ address: bogusAddress(r, false), port: 1 + r.int(65535) })),
  }),
  /** Never replies. */
  silent: () => undefined,
};

function targetOf(q: Query): NodeId {
  return q.q === 'get_peers' || q.q === 'announce_peer' ? q.a.info_hash : q.q === 'ping' || q.q === 'put' ? q.a.id : q.a.target;
}

describe('lookups among hostile nodes', () => {
  let net: Testnet;
  const hostiles: Hostile[] = [];
  beforeAll(async () => { net = await Testnet.start({ nodes: 80, torrents: 1, peers: 12 }); });
  afterAll(async () => {
    await Promise.all(hostiles.map((h) => h.close()));
    await net?.close();
  });

  /**
   * Plant `count` hostile nodes of one behaviour, closer to the torrent than any real node, in the
   * tables of the real nodes nearest the torrent: every lookup for it will meet them.
   */
  async function plant(name: string, count: number, subnet: number): Promise<Hostile[]> {
    const target = net.torrents[0]!.infoHash;
    const nearest = net.live.slice().sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8);
    const planted: Hostile[] = [];
    for (let i = 0; i < count; i++) {
      const h = await startHostile(`127.${subnet}.${i}.1`, idNear(target, 16 + i, rng), BEHAVIOURS[name]!);
      planted.push(h);
      hostiles.push(h);
      for (const real of nearest) real.table.recordResponse(h.info);
    }
    return planted;
  }

  /** Later tests plant their own: forget these everywhere. */
  function unplant(planted: readonly Hostile[]): void {
    for (const real of net.live) for (const h of planted) real.table.remove(h.info.id);
  }

  interface Seek {
    result: LookupResult;
    peers: Set<string>;
    candidates: readonly Candidate[];
    /** The seeker's routing table at the end, by address:port. */
    tableEntries: string[];
  }

  /** Look the torrent up from a fresh node, as a scraper would (each from its own address). */
  let seekers = 0;
  async function seek(): Promise<Seek> {
    // The per-/24 brake is one of the defences under test. A network joined through loopback counts
    // as local, where the brake spares local addresses; here the seeker keeps it for every address,
    // as it does for public ones on the Internet's DHT.
    const seeker = await DhtNode.create({ address: `127.70.0.${++seekers}`, lookup: { addressScope: 'unknown' } });
    try {
      await seeker.bootstrap(net.bootstrap.slice(0, 1));
      const lookup = seeker.findPeers(net.torrents[0]!.infoHash);
      const peers = new Set<string>();
      for await (const event of lookup) if (event.type === 'item') peers.add(key(event.item));
      const result = await lookup.result;
      return { result, peers, candidates: lookup.state.snapshot().slice(), tableEntries: seeker.table.all().map(key) };
    } finally {
      await seeker.close();
    }
  }

  function expectRealPeersFound(peers: Set<string>): void {
    for (const p of net.torrents[0]!.peers) expect(peers.has(key(p)), key(p)).toBe(true);
  }

  /** The lookup's own caps: 100 candidates, 4 per /24, and a query count far below its 1,000 cap. */
  function expectBounded({ result, candidates }: Seek, maxQueries: number): void {
    expect(candidates.length).toBeLessThanOrEqual(100);
    const perSubnet = new Map<string, number>();
    for (const c of candidates) perSubnet.set(subnetOf(c.node.address), (perSubnet.get(subnetOf(c.node.address)) ?? 0) + 1);
    expect(Math.max(...perSubnet.values())).toBeLessThanOrEqual(4);
    expect(result.stats.queries).toBeLessThanOrEqual(maxQueries);
  }

  it.each([
    ['garbage', 4],
    ['only-itself', 4],
    ['changing-id', 4],
    ['silent', 6],
  ])('%s: the lookup still finds every real peer', async (name, count) => {
    const planted = await plant(name, count, 60 + Object.keys(BEHAVIOURS).indexOf(name));
    try {
      const found = await seek();
      expectRealPeersFound(found.peers);
      expectBounded(found, 60);
      // The hostile nodes were met, not avoided by luck.
      expect(planted.reduce((n, h) => n + h.queries, 0)).toBeGreaterThan(0);
      // Whatever IDs a hostile node claims, its address holds one slot at most in our table.
      for (const h of planted) expect(found.tableEntries.filter((e) => e === key(h.info)).length).toBeLessThanOrEqual(1);
    } finally {
      unplant(planted);
    }
  });

  it.each([
    ['bogus-nodes-near'],
    ['bogus-nodes-random'],
  ])('%s: 1,000 bogus nodes over five lookups cost each lookup a bounded number of queries', async (name) => {
    const planted = await plant(name, 4, 60 + Object.keys(BEHAVIOURS).indexOf(name));
    try {
      // Five scrapers at once.
      for (const found of await Promise.all([seek(), seek(), seek(), seek(), seek()])) {
        expectRealPeersFound(found.peers);
        expectBounded(found, 150);
      }
      // Four hostile nodes, five lookups, fifty bogus nodes a reply: a thousand handed out.
      expect(planted.reduce((n, h) => n + h.queries, 0)).toBeGreaterThanOrEqual(20);
    } finally {
      unplant(planted);
    }
  }, 60_000);

  it('huge-values: 170 fake peers a reply do not drown the real ones', async () => {
    const planted = await plant('huge-values', 4, 60 + Object.keys(BEHAVIOURS).indexOf('huge-values'));
    try {
      const found = await seek();
      expectRealPeersFound(found.peers);
      expectBounded(found, 60);
      // Every value from a reply is an item; the fakes are bounded by what a datagram can hold.
      expect(found.result.stats.itemsFound).toBeLessThanOrEqual(found.result.stats.responses * 170);
    } finally {
      unplant(planted);
    }
  });
});
