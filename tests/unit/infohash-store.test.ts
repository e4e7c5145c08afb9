import { describe, expect, it } from 'vitest';
import { InfoHashStore, SOURCES_SATURATED, sketchEstimate } from '../../src/crawl/infohash-store.js';
import { Prng } from '../helpers/prng.js';

const T0 = Date.UTC(2024, 0, 1);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('InfoHashStore: recording sightings', () => {
  it('stores an info-hash once, then counts its sightings', () => {
    const prng = new Prng(1);
    const store = new InfoHashStore({ seed: 7 });
    const h = prng.bytes(20);
    expect(store.record(h, 'get_peers', '10.0.0.1', T0)).toBe('new');
    expect(store.record(h, 'get_peers', '10.0.0.2', T0 + 5_000)).toBe('known');
    expect(store.record(h.slice(), 'announce_peer', '10.0.0.2', T0 + 9_000)).toBe('known');
    expect(store.size).toBe(1);
    const entry = store.get(h)!;
    expect(hex(entry.infoHash)).toBe(hex(h));
    expect(entry.requests).toBe(3);
    expect(entry.sources).toBe(2);
    expect(entry.firstSeenMs).toBe(T0);
    expect(entry.lastSeenMs).toBe(T0 + 9_000);
    expect(entry.kinds).toEqual(['get_peers', 'announce_peer']);
  });

  it('samples are sightings but not requests', () => {
    // Seeded: under a random seed two sources share one bit of the 64-bit sketch 1 time in 64.
    const store = new InfoHashStore({ seed: 2 });
    const h = new Prng(2).bytes(20);
    store.record(h, 'sample', '10.0.0.1', T0);
    store.record(h, 'sample', '10.0.0.3', T0);
    expect(store.get(h)).toMatchObject({ requests: 0, sources: 2, kinds: ['sample'] });
  });

  it('keeps the earliest first sighting and the latest last one, whatever the order they arrive in', () => {
    const store = new InfoHashStore();
    const h = new Prng(3).bytes(20);
    store.record(h, 'sample', 'a', T0 + 60_000);
    store.record(h, 'sample', 'a', T0);
    store.record(h, 'sample', 'a', T0 + 30_000);
    expect(store.get(h)).toMatchObject({ firstSeenMs: T0, lastSeenMs: T0 + 60_000 });
  });

  it('tells apart info-hashes only ever named by get_peers from those with evidence of a torrent', () => {
    const prng = new Prng(4);
    const store = new InfoHashStore();
    const [a, b, c, d] = [prng.bytes(20), prng.bytes(20), prng.bytes(20), prng.bytes(20)];
    store.record(a, 'get_peers', 'x', T0);
    store.record(b, 'get_peers', 'x', T0);
    store.record(b, 'announce_peer', 'x', T0);
    store.record(c, 'sample', 'x', T0);
    store.record(d, 'announce_peer', 'x', T0);
    store.record(d, 'get_peers', 'x', T0);
    expect(store.counts()).toEqual({
      unique: 4,
      firstLearnedBy: { get_peers: 2, announce_peer: 1, sample: 1, find_node: 0 },
      learnedBy: { get_peers: 3, announce_peer: 2, sample: 1, find_node: 0 },
      getPeersOnly: 1,
      dropped: 0,
      seenIn: { 4: 4, 6: 0 },
      firstSeenIn: { 4: 4, 6: 0 },
    });
  });

  it('counts per address family (BEP 32) which info-hashes each DHT named, and which named it first', () => {
    const prng = new Prng(16);
    const store = new InfoHashStore();
    const [a, b, c] = [prng.bytes(20), prng.bytes(20), prng.bytes(20)];
    store.record(a, 'get_peers', '10.0.0.1', T0);
    store.record(a, 'sample', '2001:db8::1', T0);
    store.record(a, 'sample', '2001:db8::2', T0);
    store.record(b, 'sample', '2001:db8::1', T0);
    store.record(c, 'announce_peer', '10.0.0.2', T0);
    expect(store.counts()).toMatchObject({ unique: 3, seenIn: { 4: 2, 6: 2 }, firstSeenIn: { 4: 2, 6: 1 } });
    // The family bits share a byte with the kinds: they change neither the kinds nor get_peers-only.
    expect(store.get(a)).toMatchObject({ kinds: ['get_peers', 'sample'] });
    store.record(prng.bytes(20), 'get_peers', '2001:db8::3', T0);
    expect(store.counts().getPeersOnly).toBe(1);
  });

  it('keeps find_node targets as their own kind, the weakest evidence: never a request', () => {
    const store = new InfoHashStore();
    const prng = new Prng(15);
    const [a, b] = [prng.bytes(20), prng.bytes(20)];
    expect(store.record(a, 'find_node', 'x', T0)).toBe('new');
    store.record(b, 'find_node', 'x', T0);
    store.record(b, 'get_peers', 'y', T0);
    expect(store.get(a)).toMatchObject({ requests: 0, kinds: ['find_node'] });
    expect(store.get(b)).toMatchObject({ requests: 1, kinds: ['get_peers', 'find_node'] });
    expect(store.counts()).toMatchObject({ firstLearnedBy: { find_node: 2 }, learnedBy: { get_peers: 1, find_node: 2 }, getPeersOnly: 0 });
  });

  it('refuses keys that are not 20 bytes', () => {
    const store = new InfoHashStore();
    expect(() => store.record(new Uint8Array(19), 'sample', 'x', T0)).toThrow(RangeError);
    expect(store.has(new Uint8Array(21))).toBe(false);
    expect(store.get(new Uint8Array(0))).toBeUndefined();
  });
});

describe('InfoHashStore: the packed table', () => {
  it('grows from a tiny start and finds every key, and no other', () => {
    const prng = new Prng(5);
    const store = new InfoHashStore({ initialCapacity: 4 });
    const keys = Array.from({ length: 20_000 }, () => prng.bytes(20));
    for (const [i, key] of keys.entries()) expect(store.record(key, 'sample', `10.0.${i >> 8}.${i & 255}`, T0 + i * 1000)).toBe('new');
    expect(store.size).toBe(keys.length);
    for (const key of keys) expect(store.has(key)).toBe(true);
    for (let i = 0; i < 1_000; i++) expect(store.has(prng.bytes(20))).toBe(false);
    // Entries come back in the order they were first seen, with their own fields.
    const seen = [...store.entries()];
    expect(seen.map((e) => hex(e.infoHash))).toEqual(keys.map(hex));
    expect(seen[123]!.firstSeenMs).toBe(T0 + 123_000);
  });

  it('stays correct when keys differ only in their last bytes (crafted to collide under a naive hash)', () => {
    const store = new InfoHashStore();
    const keys = Array.from({ length: 5_000 }, (_, i) => {
      const key = new Uint8Array(20);
      key[18] = i >> 8;
      key[19] = i & 255;
      return key;
    });
    for (const key of keys) store.record(key, 'get_peers', 'x', T0);
    for (const key of keys) store.record(key, 'get_peers', 'x', T0);
    expect(store.size).toBe(5_000);
    expect([...store.entries()].every((e) => e.requests === 2)).toBe(true);
  });

  it('keeps its payload in typed arrays: bytes held grow with entries, not per object', () => {
    const prng = new Prng(6);
    const store = new InfoHashStore({ initialCapacity: 1_024 });
    const before = store.byteLength;
    for (let i = 0; i < 1_024; i++) store.record(prng.bytes(20), 'sample', 'x', T0);
    expect(store.byteLength).toBe(before);
    store.record(prng.bytes(20), 'sample', 'x', T0);
    expect(store.byteLength).toBeGreaterThan(before);
  });
});

describe('InfoHashStore: the cap', () => {
  it('when full, keeps counting known info-hashes and drops (and counts) new ones', () => {
    const prng = new Prng(8);
    const store = new InfoHashStore({ maxEntries: 100, initialCapacity: 8, seed: 8 });
    const keys = Array.from({ length: 150 }, () => prng.bytes(20));
    const outcomes = keys.map((key) => store.record(key, 'get_peers', '10.0.0.1', T0));
    expect(outcomes.filter((o) => o === 'new')).toHaveLength(100);
    expect(outcomes.slice(100).every((o) => o === 'dropped')).toBe(true);
    expect(store.full).toBe(true);
    expect(store.size).toBe(100);
    expect(store.dropped).toBe(50);
    expect(store.has(keys[120]!)).toBe(false);
    // A known one is still counted after the cap.
    expect(store.record(keys[7]!, 'announce_peer', '10.0.0.2', T0 + 1_000)).toBe('known');
    expect(store.get(keys[7]!)).toMatchObject({ requests: 2, sources: 2, kinds: ['get_peers', 'announce_peer'] });
    expect(store.counts().dropped).toBe(50);
  });
});

describe('InfoHashStore: distinct sources (linear counting)', () => {
  it('counts one source once, however often it asks', () => {
    const store = new InfoHashStore();
    const h = new Prng(9).bytes(20);
    for (let i = 0; i < 50; i++) store.record(h, 'get_peers', '192.0.2.1', T0);
    expect(store.get(h)).toMatchObject({ requests: 50, sources: 1 });
  });

  it('estimates a few dozen distinct sources within 15% on average', () => {
    for (const n of [5, 20, 60]) {
      const prng = new Prng(10 + n);
      const store = new InfoHashStore({ seed: n });
      const keys = Array.from({ length: 200 }, () => prng.bytes(20));
      for (const key of keys) {
        for (let s = 0; s < n; s++) store.record(key, 'get_peers', `10.${prng.int(256)}.${prng.int(256)}.${s}`, T0);
      }
      const mean = keys.reduce((sum, key) => sum + store.get(key)!.sources, 0) / keys.length;
      expect(Math.abs(mean - n) / n, `n = ${n}, mean estimate ${mean}`).toBeLessThan(0.15);
    }
  });

  it('saturates rather than overflowing', () => {
    const store = new InfoHashStore();
    const h = new Prng(11).bytes(20);
    for (let s = 0; s < 5_000; s++) store.record(h, 'get_peers', `10.0.${s >> 8}.${s & 255}`, T0);
    expect(store.get(h)!.sources).toBe(SOURCES_SATURATED);
    expect(sketchEstimate(0xffff_ffff, 0xffff_ffff)).toBe(SOURCES_SATURATED);
    expect(sketchEstimate(0, 0)).toBe(0);
    expect(sketchEstimate(1, 0)).toBe(1);
  });
});

describe('InfoHashStore: top lists', () => {
  it('ranks by requests, ties to the one seen first, and leaves out zero scores', () => {
    const prng = new Prng(12);
    const store = new InfoHashStore();
    const keys = Array.from({ length: 30 }, () => prng.bytes(20));
    const requests = keys.map(() => prng.int(6));
    keys.forEach((key, i) => {
      store.record(key, 'sample', 'x', T0 + i);
      for (let r = 0; r < requests[i]!; r++) store.record(key, 'get_peers', 'x', T0 + i);
    });
    const expected = keys
      .map((key, i) => ({ key: hex(key), r: requests[i]!, i }))
      .filter((e) => e.r > 0)
      .sort((a, b) => b.r - a.r || a.i - b.i)
      .slice(0, 5);
    const top = store.top(5, 'requests');
    expect(top.map((e) => hex(e.infoHash))).toEqual(expected.map((e) => e.key));
    expect(top.map((e) => e.requests)).toEqual(expected.map((e) => e.r));
    expect(store.top(1_000, 'requests')).toHaveLength(requests.filter((r) => r > 0).length);
    expect(store.top(0, 'requests')).toEqual([]);
  });

  it('ranks by distinct sources', () => {
    const prng = new Prng(13);
    const store = new InfoHashStore();
    const [few, many, some] = [prng.bytes(20), prng.bytes(20), prng.bytes(20)];
    for (let s = 0; s < 2; s++) store.record(few, 'get_peers', `10.0.0.${s}`, T0);
    for (let s = 0; s < 30; s++) store.record(many, 'sample', `10.0.1.${s}`, T0);
    for (let s = 0; s < 10; s++) store.record(some, 'get_peers', `10.0.2.${s}`, T0);
    expect(store.top(3, 'sources').map((e) => hex(e.infoHash))).toEqual([many, some, few].map(hex));
  });
});
