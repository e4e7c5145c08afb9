import { describe, expect, test } from 'vitest';
import type { PeerInfo } from '../../src/wire/compact.js';
import { idToHex } from '../../src/wire/id.js';
import { PEER_TTL_MS, PeerStore } from '../../src/table/peer-store.js';
import type { PeerStoreOptions } from '../../src/table/peer-store.js';
import { Prng } from '../helpers/prng.js';
import { ScrapeBloom } from '../../src/wire/bloom.js';
import { encodeMessage, makeResponse } from '../../src/wire/krpc.js';

const MINUTE = 60_000;

/** A store on a fake clock (moved by hand) with a seeded random source. */
function setup(options: PeerStoreOptions = {}, seed = 7): { store: PeerStore; advance: (ms: number) => void } {
  let time = 1_700_000_000_000;
  const store = new PeerStore({ now: () => time, random: new Prng(seed).randomSource(), ...options });
  return { store, advance: (ms) => { time += ms; } };
}

/** A recognisable info-hash: 20 bytes of `n`. */
function hash(n: number): Uint8Array {
  return new Uint8Array(20).fill(n);
}

/** The i-th IPv4 test peer, all distinct for i < 65536, each in a /24 of its own (the store caps one network's share). */
function v4(i: number, port = 6881): PeerInfo {
  return { address: `10.${i >> 8}.${i & 255}.1`, port };
}

/** The i-th IPv6 test peer, written in canonical form (as the store gives addresses back), each in a /48 of its own. */
function v6(i: number, port = 6881): PeerInfo {
  return { address: `2001:db8:${(i + 1).toString(16)}::1`, port };
}

function keyOf(peer: PeerInfo): string {
  return `${peer.address}:${peer.port}`;
}

function sortedKeys(peers: readonly PeerInfo[]): string[] {
  return peers.map(keyOf).sort();
}

describe('PeerStore: announce and get_peers', () => {
  test('an announced peer is returned for its info-hash only', () => {
    const { store } = setup();
    store.announce(hash(1), v4(1), false);
    expect(store.has(hash(1))).toBe(true);
    expect(store.peers(hash(1))).toEqual([v4(1)]);
    expect(store.has(hash(2))).toBe(false);
    expect(store.peers(hash(2))).toEqual([]);
    expect(store.numInfoHashes).toBe(1);
  });

  test('peers are keyed by IP and port: one host may run several peers', () => {
    const { store } = setup({ maxGroupShare: 1 }); // a swarm of 2: one host is more than 5% of it
    store.announce(hash(1), v4(1, 6881), false);
    store.announce(hash(1), v4(1, 6882), false);
    store.announce(hash(1), v4(1, 6881), true); // re-announce: updated, not added
    expect(sortedKeys(store.peers(hash(1)))).toEqual(['10.0.1.1:6881', '10.0.1.1:6882']);
    expect(store.stats()).toEqual({ infoHashes: 1, peers: 2, seeds: 1 });
  });

  test('one host spelled two ways is one peer (IPv4-mapped IPv6 is IPv4)', () => {
    const { store } = setup();
    store.announce(hash(1), { address: '::ffff:192.0.2.1', port: 6881 }, false);
    store.announce(hash(1), { address: '192.0.2.1', port: 6881 }, false);
    expect(store.peers(hash(1))).toEqual([{ address: '192.0.2.1', port: 6881 }]);
  });

  test('noseed leaves seeds out (BEP 33)', () => {
    const { store } = setup();
    for (let i = 0; i < 10; i++) store.announce(hash(1), v4(i), i < 4);
    expect(store.peers(hash(1))).toHaveLength(10);
    const leechers = store.peers(hash(1), { noseed: true });
    expect(sortedKeys(leechers)).toEqual(sortedKeys([4, 5, 6, 7, 8, 9].map((i) => v4(i))));
    expect(store.peers(hash(1), { noseed: false })).toHaveLength(10);
  });

  test('family picks IPv4 or IPv6 peers (BEP 32: values match the query family)', () => {
    const { store } = setup();
    for (let i = 0; i < 5; i++) store.announce(hash(1), v4(i), false);
    for (let i = 0; i < 3; i++) store.announce(hash(1), v6(i), false);
    expect(sortedKeys(store.peers(hash(1), { family: 4 }))).toEqual(sortedKeys([0, 1, 2, 3, 4].map((i) => v4(i))));
    expect(sortedKeys(store.peers(hash(1), { family: 6 }))).toEqual(sortedKeys([0, 1, 2].map((i) => v6(i))));
    expect(store.peers(hash(1))).toHaveLength(8);
  });

  test('family and noseed combine', () => {
    const { store } = setup();
    store.announce(hash(1), v4(1), true);
    store.announce(hash(1), v4(2), false);
    store.announce(hash(1), v6(1), false);
    expect(store.peers(hash(1), { family: 4, noseed: true })).toEqual([v4(2)]);
  });

  test('a big swarm gives a random pick of at most max (default 50), distinct and stored', () => {
    const { store } = setup();
    const all = new Set<string>();
    for (let i = 0; i < 300; i++) {
      store.announce(hash(1), v4(i), false);
      all.add(keyOf(v4(i)));
    }
    for (const max of [undefined, 1, 10, 50, 299]) {
      const picked = store.peers(hash(1), max === undefined ? {} : { max });
      expect(picked).toHaveLength(max ?? 50);
      expect(new Set(picked.map(keyOf)).size).toBe(picked.length);
      for (const peer of picked) expect(all.has(keyOf(peer))).toBe(true);
    }
    expect(store.peers(hash(1), { max: 300 })).toHaveLength(300);
    expect(store.peers(hash(1), { max: 1000 })).toHaveLength(300);
    expect(store.peers(hash(1), { max: 0 })).toEqual([]);
  });

  test('the pick is random, so over many replies every peer is handed out', () => {
    const { store } = setup();
    for (let i = 0; i < 200; i++) store.announce(hash(1), v4(i), false);
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let round = 0; round < 200; round++) {
      for (const peer of store.peers(hash(1), { max: 20 })) {
        seen.add(keyOf(peer));
        counts.set(keyOf(peer), (counts.get(keyOf(peer)) ?? 0) + 1);
      }
    }
    expect(seen.size).toBe(200);
    // 4,000 picks over 200 peers: 20 each on average; none starved or favoured far beyond chance.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(3);
      expect(count).toBeLessThan(45);
    }
  });

  test('invalid input is refused', () => {
    const { store } = setup();
    expect(() => store.announce(new Uint8Array(19), v4(1), false)).toThrow(TypeError);
    expect(() => store.announce(hash(1), { address: '10.0.0.1', port: 0 }, false)).toThrow(RangeError);
    expect(() => store.announce(hash(1), { address: '10.0.0.1', port: 65536 }, false)).toThrow(RangeError);
    expect(() => store.announce(hash(1), { address: 'example.com', port: 80 }, false)).toThrow(TypeError);
    expect(() => store.peers(new Uint8Array(21))).toThrow(TypeError);
    expect(store.numInfoHashes).toBe(0);
  });

  test('options are checked', () => {
    expect(() => new PeerStore({ ttlMs: 0 })).toThrow(RangeError);
    expect(() => new PeerStore({ maxTorrents: 0 })).toThrow(RangeError);
    expect(() => new PeerStore({ maxPeersPerTorrent: 1.5 })).toThrow(RangeError);
    expect(() => new PeerStore({ maxPeers: -1 })).toThrow(RangeError);
  });
});

describe('PeerStore: expiry', () => {
  test('an announce lasts 30 minutes', () => {
    expect(PEER_TTL_MS).toBe(30 * MINUTE);
    const { store, advance } = setup();
    store.announce(hash(1), v4(1), false);
    advance(30 * MINUTE - 1);
    expect(store.peers(hash(1))).toEqual([v4(1)]);
    advance(1);
    expect(store.peers(hash(1))).toEqual([]);
    expect(store.has(hash(1))).toBe(false);
    expect(store.numInfoHashes).toBe(0);
    expect(store.stats()).toEqual({ infoHashes: 0, peers: 0, seeds: 0 });
  });

  test('re-announcing refreshes the 30 minutes and the seed flag', () => {
    const { store, advance } = setup();
    store.announce(hash(1), v4(1), false);
    advance(20 * MINUTE);
    store.announce(hash(1), v4(1), true);
    advance(20 * MINUTE); // 40 min after the first announce, 20 after the second
    expect(store.peers(hash(1))).toEqual([v4(1)]);
    expect(store.peers(hash(1), { noseed: true })).toEqual([]);
    expect(store.stats()).toEqual({ infoHashes: 1, peers: 1, seeds: 1 });
    advance(10 * MINUTE);
    expect(store.has(hash(1))).toBe(false);
  });

  test('peers expire one by one; the info-hash goes with the last', () => {
    const { store, advance } = setup();
    store.announce(hash(1), v4(1), false);
    advance(10 * MINUTE);
    store.announce(hash(1), v4(2), false);
    advance(25 * MINUTE);
    expect(store.peers(hash(1))).toEqual([v4(2)]);
    expect(store.stats().peers).toBe(1);
    advance(5 * MINUTE);
    expect(store.numInfoHashes).toBe(0);
  });

  test('expire() drops expired peers and empty torrents everywhere', () => {
    const { store, advance } = setup();
    store.announce(hash(1), v4(1), true);
    store.announce(hash(2), v4(2), false);
    advance(15 * MINUTE);
    store.announce(hash(2), v4(3), false);
    store.announce(hash(3), v4(4), false);
    advance(20 * MINUTE);
    store.expire();
    expect(store.stats()).toEqual({ infoHashes: 2, peers: 2, seeds: 0 });
    expect(store.has(hash(1))).toBe(false);
    expect(store.peers(hash(2))).toEqual([v4(3)]);
  });

  test('the ttl is configurable', () => {
    const { store, advance } = setup({ ttlMs: 1000 });
    store.announce(hash(1), v4(1), false);
    advance(1000);
    expect(store.has(hash(1))).toBe(false);
  });
});

describe('PeerStore: caps', () => {
  test('maxTorrents: a new info-hash evicts the one announced to least recently', () => {
    const { store, advance } = setup({ maxTorrents: 3 });
    for (const n of [1, 2, 3]) {
      store.announce(hash(n), v4(n), false);
      advance(1000);
    }
    store.announce(hash(1), v4(9), false); // info-hash 1 is now the freshest; 2 the stalest
    advance(1000);
    store.announce(hash(4), v4(4), false);
    expect(store.numInfoHashes).toBe(3);
    expect([1, 2, 3, 4].map((n) => store.has(hash(n)))).toEqual([true, false, true, true]);
    expect(store.stats().peers).toBe(4); // 1 has two peers; 2's peer left with it
  });

  test('maxTorrents: announcing to a stored info-hash never evicts', () => {
    const { store } = setup({ maxTorrents: 2 });
    store.announce(hash(1), v4(1), false);
    store.announce(hash(2), v4(2), false);
    for (let i = 0; i < 10; i++) store.announce(hash(1), v4(100 + i), false);
    expect(store.has(hash(2))).toBe(true);
    expect(store.numInfoHashes).toBe(2);
  });

  test('maxPeersPerTorrent: a new peer replaces the least recently announced one', () => {
    const { store, advance } = setup({ maxPeersPerTorrent: 3 });
    for (const i of [1, 2, 3]) {
      store.announce(hash(1), v4(i), false);
      advance(1000);
    }
    store.announce(hash(1), v4(1), false); // 1 re-announces; 2 is now the oldest
    store.announce(hash(1), v4(4), false);
    expect(sortedKeys(store.peers(hash(1)))).toEqual(sortedKeys([v4(1), v4(3), v4(4)]));
    store.announce(hash(2), v4(5), false); // other torrents are not affected
    expect(store.stats()).toEqual({ infoHashes: 2, peers: 4, seeds: 0 });
  });

  test('maxPeersPerTorrent: expired peers make room before live ones are evicted', () => {
    const { store, advance } = setup({ maxPeersPerTorrent: 2 });
    store.announce(hash(1), v4(1), false);
    advance(10 * MINUTE);
    store.announce(hash(1), v4(2), false);
    advance(21 * MINUTE); // peer 1 expired, peer 2 has 9 minutes left
    store.announce(hash(1), v4(3), false);
    expect(sortedKeys(store.peers(hash(1)))).toEqual(sortedKeys([v4(2), v4(3)]));
  });

  test('maxPeers: the whole store never holds more, the stalest torrent gives up its oldest peer', () => {
    const { store, advance } = setup({ maxPeers: 4 });
    store.announce(hash(1), v4(1), false);
    advance(1000);
    store.announce(hash(1), v4(2), false);
    advance(1000);
    store.announce(hash(2), v4(3), false);
    advance(1000);
    store.announce(hash(2), v4(4), false);
    advance(1000);
    store.announce(hash(3), v4(5), false); // full: info-hash 1 is the stalest, peer 1 its oldest
    expect(store.stats().peers).toBe(4);
    expect(store.peers(hash(1))).toEqual([v4(2)]);
    store.announce(hash(3), v4(6), false); // full again: peer 2 goes, and info-hash 1 with it
    expect(store.has(hash(1))).toBe(false);
    expect(store.stats()).toEqual({ infoHashes: 2, peers: 4, seeds: 0 });
    store.announce(hash(3), v4(5), true); // a re-announce does not need room
    expect(store.stats()).toEqual({ infoHashes: 2, peers: 4, seeds: 1 });
  });

  test('maxPeers: expired peers are dropped before live ones are evicted', () => {
    const { store, advance } = setup({ maxPeers: 3 });
    store.announce(hash(1), v4(1), false);
    advance(10 * MINUTE);
    store.announce(hash(1), v4(2), false);
    store.announce(hash(2), v4(3), false);
    advance(21 * MINUTE); // peer 1 expired
    store.announce(hash(3), v4(4), false);
    expect(store.peers(hash(1))).toEqual([v4(2)]);
    expect(store.stats().peers).toBe(3);
  });

  test('the default caps hold under a flood of announces', () => {
    const { store } = setup({ maxTorrents: 50, maxPeersPerTorrent: 20, maxPeers: 500 });
    const prng = new Prng(99);
    for (let i = 0; i < 5000; i++) store.announce(hash(prng.int(80)), v4(prng.int(2000)), prng.int(2) === 0);
    const stats = store.stats();
    expect(stats.infoHashes).toBeLessThanOrEqual(50);
    expect(stats.peers).toBeLessThanOrEqual(500);
    let counted = 0;
    for (let n = 0; n < 80; n++) {
      const peers = store.peers(hash(n), { max: 1000 });
      expect(peers.length).toBeLessThanOrEqual(20);
      counted += peers.length;
    }
    expect(counted).toBe(stats.peers);
  });
});

describe('PeerStore: BEP 33 scrape', () => {
  test('the seed and peer filters estimate the true counts (100 seeds, 300 leechers)', () => {
    const { store } = setup();
    for (let i = 0; i < 100; i++) store.announce(hash(1), v4(i), true);
    for (let i = 100; i < 400; i++) store.announce(hash(1), i % 2 === 0 ? v4(i) : v6(i), false);
    const { seeds, peers } = store.scrape(hash(1));
    expect(seeds.estimate()).toBeGreaterThan(90);
    expect(seeds.estimate()).toBeLessThan(110);
    expect(peers.estimate()).toBeGreaterThan(270);
    expect(peers.estimate()).toBeLessThan(330);
    expect(seeds.has(v4(0).address)).toBe(true);
    expect(peers.has(v6(101).address)).toBe(true);
  });

  test('an unknown or expired info-hash gives empty filters', () => {
    const { store, advance } = setup();
    expect(store.scrape(hash(1)).seeds.estimate()).toBe(0);
    store.announce(hash(1), v4(1), true);
    advance(PEER_TTL_MS);
    const { seeds, peers } = store.scrape(hash(1));
    expect(seeds.estimate()).toBe(0);
    expect(peers.estimate()).toBe(0);
  });

  test('a peer that became a seed moves from BFpe to BFsd', () => {
    const { store } = setup();
    store.announce(hash(1), v4(1), false);
    store.announce(hash(1), v4(1), true);
    const { seeds, peers } = store.scrape(hash(1));
    expect(seeds.has(v4(1).address)).toBe(true);
    expect(peers.estimate()).toBe(0);
  });
});

describe('PeerStore: BEP 51 samples', () => {
  function filled(count: number): PeerStore {
    const { store } = setup();
    for (let n = 0; n < count; n++) store.announce(hash(n), v4(n), false);
    return store;
  }

  test('sample returns up to max distinct stored info-hashes, 20 bytes each', () => {
    const store = filled(100);
    const stored = new Set(Array.from({ length: 100 }, (_, n) => idToHex(hash(n))));
    for (const max of [0, 1, 20, 99, 100, 500]) {
      const sample = store.sample(max);
      expect(sample).toHaveLength(Math.min(max, 100));
      const hexes = sample.map((h) => {
        expect(h).toBeInstanceOf(Uint8Array);
        expect(h.length).toBe(20);
        return idToHex(h);
      });
      expect(new Set(hexes).size).toBe(hexes.length);
      for (const hex of hexes) expect(stored.has(hex)).toBe(true);
    }
    expect(store.numInfoHashes).toBe(100);
  });

  test('samples are random: repeated samples cover the whole store', () => {
    const store = filled(100);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) for (const h of store.sample(10)) seen.add(idToHex(h));
    expect(seen.size).toBe(100);
  });

  test('samples follow the store through evictions, emptied torrents and expiry', () => {
    const { store, advance } = setup({ maxTorrents: 50, maxPeersPerTorrent: 2 });
    const all = (): string[] => store.sample(1_000).map((h) => idToHex(h)).sort();
    const stored = new Set<number>();
    for (let n = 0; n < 80; n++) { store.announce(hash(n), v4(n), false); stored.add(n); if (stored.size > 50) stored.delete(Math.min(...stored)); }
    expect(all()).toEqual([...stored].map((n) => idToHex(hash(n))).sort());
    advance(PEER_TTL_MS - 1);
    for (let n = 70; n < 80; n++) store.announce(hash(n), v4(n), false);
    advance(2);
    expect(all()).toEqual(Array.from({ length: 10 }, (_, i) => idToHex(hash(70 + i))).sort());
    expect(store.numInfoHashes).toBe(10);
  });

  test('an empty store samples nothing; expired info-hashes are not sampled', () => {
    const { store, advance } = setup();
    expect(store.sample(10)).toEqual([]);
    store.announce(hash(1), v4(1), false);
    advance(20 * MINUTE);
    store.announce(hash(2), v4(2), false);
    advance(15 * MINUTE);
    expect(store.sample(10).map(idToHex)).toEqual([idToHex(hash(2))]);
    expect(store.numInfoHashes).toBe(1);
  });

  test('a sampled info-hash is a copy: changing it does not touch the store', () => {
    const store = filled(1);
    const [h] = store.sample(1);
    h!.fill(0xff);
    expect(store.has(hash(0))).toBe(true);
  });
});

describe('PeerStore: no host or network crowds out the rest', () => {
  /** The most peers any one address holds, and its share of the stored peers. */
  const worstHost = (store: PeerStore): { count: number; share: number } => {
    const values = store.peers(hash(1), { max: 100_000 });
    const perHost = new Map<string, number>();
    for (const p of values) perHost.set(p.address, (perHost.get(p.address) ?? 0) + 1);
    const count = Math.max(...perHost.values());
    return { count, share: count / values.length };
  };

  test('in a small swarm one host keeps one port: a second replaces its first', () => {
    const { store } = setup();
    for (let i = 0; i < 5; i++) store.announce(hash(1), v4(i), false); // 5 honest hosts
    for (let port = 7000; port < 7300; port++) store.announce(hash(1), v4(99, port), false);
    const ports = store.peers(hash(1), { max: 100 }).filter((p) => p.address === v4(99).address).map((p) => p.port);
    expect(ports).toEqual([7299]);
    expect(store.stats().peers).toBe(6);
  });

  test('a host keeps at most 5% of the stored peers, and never more than 4 ports', () => {
    const { store } = setup();
    for (let i = 0; i < 200; i++) store.announce(hash(1), v4(i), false);
    for (let port = 7000; port < 7300; port++) store.announce(hash(1), v4(999, port), false);
    expect(worstHost(store)).toEqual({ count: 4, share: 4 / 204 }); // 5% of 204 is 10: the 4-port cap holds
    const { store: small } = setup();
    for (let i = 0; i < 60; i++) small.announce(hash(1), v4(i), false);
    for (let port = 7000; port < 7300; port++) small.announce(hash(1), v4(999, port), false);
    expect(worstHost(small)).toEqual({ count: 3, share: 3 / 63 }); // 5% of 63 is 3.15
  });

  test('one /24 keeps at most 5% of a torrent; its announces never evict another network', () => {
    const { store } = setup({ maxPeersPerTorrent: 200 });
    for (let i = 0; i < 50; i++) store.announce(hash(1), v4(i), false);
    for (let host = 1; host < 255; host++) store.announce(hash(1), { address: `192.0.2.${host}`, port: 6881 }, false);
    const values = store.peers(hash(1), { max: 1000 });
    expect(values.filter((p) => p.address.startsWith('192.0.2.'))).toHaveLength(2); // 5% of 52
    expect(values.filter((p) => p.address.startsWith('10.'))).toHaveLength(50);
    // In a big swarm the share is capped by maxPeersPerNetwork (5% of maxPeersPerTorrent: 10 here).
    for (let i = 50; i < 190; i++) store.announce(hash(1), v4(i), false);
    for (let host = 1; host < 255; host++) store.announce(hash(1), { address: `192.0.2.${host}`, port: 6881 }, false);
    expect(store.peers(hash(1), { max: 1000 }).filter((p) => p.address.startsWith('192.0.2.'))).toHaveLength(10); // 5% of 200
  });

  test('three hosts announcing 1,020 ports leave a torrent\'s 50 honest peers where they were, each host under 5%', () => {
    const { store } = setup();
    for (let i = 0; i < 50; i++) store.announce(hash(1), v4(i), false);
    for (let n = 0; n < 1020; n++) store.announce(hash(1), { address: `198.51.${n % 3}.7`, port: 10_000 + n }, false);
    const values = store.peers(hash(1), { max: 1000 });
    expect(values.filter((p) => p.address.startsWith('10.'))).toHaveLength(50);
    expect(values).toHaveLength(50 + 3 * 2);
    expect(worstHost(store).share).toBeLessThanOrEqual(0.05); // 2 of 56: 3.6% (4 ports per host was 6.5%)
  });

  test('a host whose swarm shrank is trimmed back to its share when it announces again', () => {
    const { store, advance } = setup();
    for (let i = 0; i < 200; i++) store.announce(hash(1), v4(i), false);
    for (let port = 7000; port < 7004; port++) store.announce(hash(1), v4(999, port), false);
    expect(worstHost(store).count).toBe(4);
    advance(PEER_TTL_MS - 1);
    for (let i = 0; i < 20; i++) store.announce(hash(1), v4(i), false); // only 20 honest peers stay
    for (let port = 7000; port < 7004; port++) store.announce(hash(1), v4(999, port), false);
    advance(2);
    store.announce(hash(1), v4(999, 7003), false);
    expect(store.peers(hash(1), { max: 100 }).filter((p) => p.address === v4(999).address).map((p) => p.port)).toEqual([7003]);
    expect(store.stats().peers).toBe(21);
  });

  test('loopback peers (a local network on one machine) and the caps as options', () => {
    const { store } = setup();
    for (let port = 7000; port < 7010; port++) store.announce(hash(1), { address: '127.0.0.1', port }, false);
    expect(store.stats().peers).toBe(4); // the absolute cap only: no share for loopback
    const { store: lab } = setup({ maxPortsPerHost: 1_000, maxPeersPerNetwork: 1_000 });
    for (let port = 7000; port < 7100; port++) lab.announce(hash(1), { address: '127.0.0.1', port }, false);
    expect(lab.stats().peers).toBe(100);
    const { store: shared } = setup({ maxGroupShare: 1 });
    for (let port = 7000; port < 7004; port++) shared.announce(hash(1), { address: '192.0.2.1', port }, false);
    expect(shared.stats().peers).toBe(4);
    expect(() => new PeerStore({ maxPortsPerHost: 0 })).toThrow(RangeError);
    expect(() => new PeerStore({ maxGroupShare: 0 })).toThrow(RangeError);
  });
});

describe('PeerStore: the scrape filters follow the swarm', () => {
  test('filters match a fresh build after arrivals, departures and seed changes', () => {
    const { store, advance } = setup({ maxPeersPerTorrent: 30 });
    const rebuilt = (): { seeds: number[]; peers: number[] } => {
      const seeds = new ScrapeBloom();
      const peers = new ScrapeBloom();
      for (const p of store.peers(hash(1), { max: 1000, noseed: true })) peers.insert(p.address);
      const all = store.peers(hash(1), { max: 1000 });
      const leechers = new Set(store.peers(hash(1), { max: 1000, noseed: true }).map(keyOf));
      for (const p of all) if (!leechers.has(keyOf(p))) seeds.insert(p.address);
      return { seeds: [...seeds.toBytes()], peers: [...peers.toBytes()] };
    };
    const served = (): { seeds: number[]; peers: number[] } => {
      const { seeds, peers } = store.scrape(hash(1));
      return { seeds: [...seeds.toBytes()], peers: [...peers.toBytes()] };
    };
    for (let i = 0; i < 20; i++) store.announce(hash(1), v4(i), i % 3 === 0);
    expect(served()).toEqual(rebuilt());
    for (let i = 20; i < 25; i++) store.announce(hash(1), v4(i), false); // arrivals after a scrape
    expect(served()).toEqual(rebuilt());
    store.announce(hash(1), v4(0), false); // a seed became a leecher
    advance(PEER_TTL_MS - 1);
    for (let i = 25; i < 45; i++) store.announce(hash(1), v4(i), true); // evictions
    expect(served()).toEqual(rebuilt());
    advance(2); // expiries
    expect(served()).toEqual(rebuilt());
  });
});

describe('PeerStore: get_peers replies come already bencoded (issue 14.1)', () => {
  /** Every peer of the family, as the bencoded lists hold them. */
  const bencodedAll = (store: PeerStore, family: 4 | 6, noseed = false): string[] =>
    sortedKeys(store.bencodedPeers(hash(1), { family, max: 100_000, noseed }).decode());

  test('the bencoded lists hold exactly the stored peers through arrivals, departures and seed changes', () => {
    const { store, advance } = setup({ maxPeersPerTorrent: 30 });
    const check = (): void => {
      for (const family of [4, 6] as const) {
        expect(bencodedAll(store, family)).toEqual(sortedKeys(store.peers(hash(1), { family, max: 1000 })));
        expect(bencodedAll(store, family, true)).toEqual(sortedKeys(store.peers(hash(1), { family, max: 1000, noseed: true })));
      }
    };
    for (let i = 0; i < 20; i++) store.announce(hash(1), i % 2 === 0 ? v4(i) : v6(i, 1000 + i), i % 3 === 0);
    check();
    store.announce(hash(1), v4(0), false); // a seed became a leecher
    store.announce(hash(1), v6(1, 1001), true); // a leecher became a seed
    check();
    advance(PEER_TTL_MS - 1);
    for (let i = 20; i < 45; i++) store.announce(hash(1), i % 2 === 0 ? v4(i) : v6(i), i % 4 === 0); // evictions
    check();
    advance(2); // expiries
    check();
    for (let i = 45; i < 400; i++) store.announce(hash(1), v4(i), false); // the list grows, then shrinks as peers leave
    advance(PEER_TTL_MS + 1);
    store.announce(hash(1), v4(1_000), true);
    check();
    expect(bencodedAll(store, 4)).toEqual([keyOf(v4(1_000))]);
  });

  test('a reply is the values list as encodeMessage would write it from the peers themselves', () => {
    const { store } = setup();
    for (let i = 0; i < 5; i++) store.announce(hash(1), v4(i), false);
    store.announce(hash(1), v6(1), false);
    const v4s = store.bencodedPeers(hash(1), { family: 4 });
    expect(v4s.count).toBe(5);
    const asObjects = encodeMessage(makeResponse(new Uint8Array([1]), { id: hash(9), values: v4s.decode() }));
    expect(encodeMessage({ t: new Uint8Array([1]), y: 'r', r: { id: hash(9), values: v4s } })).toEqual(asObjects);
    const v6s = store.bencodedPeers(hash(1), { family: 6 });
    expect(v6s.decode()).toEqual([v6(1)]);
    expect(v6s.items).toHaveLength(21); // "18:" + 16 bytes + port
    expect(store.bencodedPeers(hash(2), { family: 4 }).count).toBe(0);
    expect(store.bencodedPeers(hash(1), { family: 4, max: 0 }).count).toBe(0);
  });

  test('a big swarm gives max distinct stored peers, and over many replies every peer is handed out about equally', () => {
    const { store } = setup();
    for (let i = 0; i < 200; i++) store.announce(hash(1), v4(i), i % 5 === 0);
    const counts = new Map<string, number>();
    for (let round = 0; round < 200; round++) {
      const picked = store.bencodedPeers(hash(1), { family: 4, max: 20 }).decode();
      expect(picked).toHaveLength(20);
      expect(new Set(picked.map(keyOf)).size).toBe(20);
      for (const peer of picked) counts.set(keyOf(peer), (counts.get(keyOf(peer)) ?? 0) + 1);
    }
    expect(counts.size).toBe(200);
    // 4,000 picks over 200 peers: 20 each on average. A window moves as a block, so the spread is
    // wider than for independent picks, but no peer is starved or favoured far beyond chance.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(3);
      expect(count).toBeLessThan(45);
    }
    const leechers = store.bencodedPeers(hash(1), { family: 4, max: 50, noseed: true }).decode();
    expect(leechers).toHaveLength(50);
    for (const peer of leechers) expect(Number(peer.address.split('.')[2]) % 5).not.toBe(0);
  });
});
