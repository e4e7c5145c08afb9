/**
 * The k-bucket routing table, checked against BEP 5 "Routing Table": which nodes get in, which
 * bucket splits, how nodes go good -> questionable -> bad, and that closest() is exact.
 */
import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import {
  compareDistance,
  idEquals,
  idToHex,
  randomIdWithPrefix,
  sharedPrefixLength,
  type NodeId,
} from '../../src/wire/id.js';
import { EXTENDED_FAR_BUCKETS, RoutingTable, type Contact, type RoutingTableOptions } from '../../src/table/routing-table.js';
import { Prng } from '../helpers/prng.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const START = 1_700_000_000_000;

/** A table with a fake clock and seeded randomness, and a maker of nodes at a chosen distance. */
function setup(options: RoutingTableOptions = {}, seed = 1) {
  const prng = new Prng(seed);
  const clock = { now: START };
  const ownId = prng.bytes(20);
  const table = new RoutingTable(ownId, { now: () => clock.now, random: prng.randomSource(), ...options });
  let hosts = 0;
  /** A fresh node whose ID shares exactly `sharedBits` leading bits with ours, on its own address. */
  const node = (sharedBits: number): NodeInfo => {
    hosts++;
    return {
      id: randomIdWithPrefix(ownId, sharedBits, prng.randomSource()),
      address: `10.${(hosts >> 16) & 255}.${(hosts >> 8) & 255}.${hosts & 255}`,
      port: 6881,
    };
  };
  const advance = (ms: number): void => {
    clock.now += ms;
  };
  /** A fresh node sharing exactly `sharedBits` bits with us, whose next `width` bits read `slot`. */
  const nodeInSlot = (sharedBits: number, width: number, slot: number): NodeInfo => {
    const n = node(sharedBits);
    return { ...n, id: setBits(n.id, sharedBits + 1, width, slot) };
  };
  return { table, ownId, prng, clock, node, nodeInSlot, advance };
}

function setBits(id: NodeId, from: number, width: number, value: number): NodeId {
  const out = id.slice();
  for (let i = 0; i < width; i++) {
    const bit = from + i;
    const mask = 0x80 >> (bit & 7);
    out[bit >> 3] = (value >> (width - 1 - i)) & 1 ? out[bit >> 3]! | mask : out[bit >> 3]! & ~mask;
  }
  return out;
}

function bitsOf(id: NodeId, from: number, width: number): number {
  let value = 0;
  for (let i = 0; i < width; i++) value = (value << 1) | ((id[(from + i) >> 3]! >> (7 - ((from + i) & 7))) & 1);
  return value;
}

const hex = (contacts: readonly { id: NodeId }[]): string[] => contacts.map((c) => idToHex(c.id));
const bucketSizes = (table: RoutingTable): number[] => table.buckets().map((b) => b.contacts.length);

function bruteForceClosest(contacts: readonly Contact[], target: NodeId, n: number): Contact[] {
  return [...contacts].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, n);
}

/** Everything that must hold after any sequence of operations. */
function expectConsistent(table: RoutingTable, k: number, replacements: number): void {
  const buckets = table.buckets();
  const last = buckets.length - 1;
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  for (const bucket of buckets) {
    expect(bucket.capacity).toBeGreaterThanOrEqual(k);
    expect(bucket.contacts.length).toBeLessThanOrEqual(bucket.capacity);
    expect(bucket.replacements.length).toBeLessThanOrEqual(replacements);
    for (const c of [...bucket.contacts, ...bucket.replacements]) {
      const shared = sharedPrefixLength(table.ownId, c.id);
      if (bucket.index < last) expect(shared).toBe(bucket.index);
      else expect(shared).toBeGreaterThanOrEqual(last);
      expect(ids.has(idToHex(c.id))).toBe(false);
      ids.add(idToHex(c.id));
    }
    for (const c of bucket.contacts) {
      expect(endpoints.has(`${c.address}:${c.port}`)).toBe(false);
      endpoints.add(`${c.address}:${c.port}`);
      expect(table.get(c.id)).toBe(c);
    }
  }
  const stats = table.stats();
  const all = table.all();
  expect(stats.buckets).toBe(buckets.length);
  expect(stats.buckets).toBeLessThanOrEqual(160);
  expect(stats.nodes).toBe(table.size);
  expect(stats.nodes).toBe(all.length);
  expect(stats.nodes).toBe(buckets.reduce((sum, b) => sum + b.contacts.length, 0));
  expect(stats.good + stats.questionable + stats.bad).toBe(stats.nodes);
  expect(stats.good).toBe(all.filter((c) => table.stateOf(c) === 'good').length);
  expect(stats.bad).toBe(all.filter((c) => table.stateOf(c) === 'bad').length);
  expect(stats.replacements).toBe(buckets.reduce((sum, b) => sum + b.replacements.length, 0));
}

describe('RoutingTable: what gets in', () => {
  it('starts as one empty bucket covering the whole ID space', () => {
    const { table } = setup();
    expect(table.size).toBe(0);
    expect(table.buckets()).toEqual([{ index: 0, capacity: 8, contacts: [], replacements: [], lastChanged: START }]);
    expect(table.stats()).toEqual({ nodes: 0, buckets: 1, good: 0, questionable: 0, bad: 0, replacements: 0 });
  });

  it('adds a node that answered, and updates it when it answers again', () => {
    const { table, node, advance } = setup();
    const a = node(0);
    const first = table.recordResponse(a);
    expect(first.kind).toBe('added');
    advance(5 * SECOND);
    const again = table.recordResponse(a);
    expect(again.kind).toBe('updated');
    expect(table.get(a.id)).toMatchObject({ address: a.address, port: 6881, lastResponse: START + 5 * SECOND, added: START });
    expect(table.size).toBe(1);
  });

  it('rejects our own ID, port 0, a port above 65535, an empty address and IDs that are not 20 bytes', () => {
    const { table, ownId } = setup();
    expect(table.recordResponse({ id: ownId, address: '10.0.0.1', port: 6881 })).toEqual({ kind: 'rejected', reason: 'own-id' });
    const id = new Uint8Array(20).fill(7);
    expect(table.recordResponse({ id, address: '10.0.0.1', port: 0 })).toEqual({ kind: 'rejected', reason: 'invalid' });
    expect(table.recordResponse({ id, address: '10.0.0.1', port: 65536 })).toEqual({ kind: 'rejected', reason: 'invalid' });
    expect(table.recordQuery({ id, address: '', port: 6881 })).toEqual({ kind: 'rejected', reason: 'invalid' });
    expect(table.recordQuery({ id: id.subarray(0, 19), address: '10.0.0.1', port: 6881 })).toEqual({ kind: 'rejected', reason: 'invalid' });
    expect(table.size).toBe(0);
  });

  it('copies the ID, so reusing the caller\'s buffer cannot corrupt the table', () => {
    const { table, node } = setup();
    const a = node(0);
    const before = idToHex(a.id);
    table.recordResponse(a);
    a.id.fill(0);
    expect(hex(table.all())).toEqual([before]);
  });

  it('rejects a new ID at an address:port the table already holds', () => {
    const { table, node } = setup();
    const a = node(0);
    const b = node(1);
    table.recordResponse(a);
    expect(table.recordResponse({ ...b, address: a.address, port: a.port })).toEqual({ kind: 'rejected', reason: 'address-taken' });
    expect(table.recordQuery({ ...b, address: a.address, port: a.port })).toEqual({ kind: 'rejected', reason: 'address-taken' });
    // Same host, another port: a different endpoint, so it is welcome.
    expect(table.recordResponse({ ...b, address: a.address, port: a.port + 1 }).kind).toBe('added');
    expect(table.size).toBe(2);
  });

  it('rejects a known ID claimed from another address:port, and keeps the original entry', () => {
    const { table, node } = setup();
    const a = node(0);
    table.recordResponse(a);
    expect(table.recordQuery({ ...a, address: '192.0.2.9' })).toEqual({ kind: 'rejected', reason: 'address-taken' });
    expect(table.get(a.id)?.address).toBe(a.address);
  });

  it('frees the address:port when its node is removed', () => {
    const { table, node } = setup();
    const a = node(0);
    const b = node(0);
    table.recordResponse(a);
    expect(table.remove(a.id)).toBe(true);
    expect(table.remove(a.id)).toBe(false);
    expect(table.recordResponse({ ...b, address: a.address, port: a.port }).kind).toBe('added');
  });

  it('keeps IPv4 and IPv6 endpoints apart', () => {
    const { table, node } = setup();
    expect(table.recordResponse({ ...node(0), address: '::1', port: 6881 }).kind).toBe('added');
    expect(table.recordResponse({ ...node(0), address: '::1', port: 6882 }).kind).toBe('added');
    expect(table.recordResponse({ ...node(0), address: '::1', port: 6881 }).kind).toBe('rejected');
  });
});

describe('RoutingTable: splitting (BEP 5: only the bucket holding our own ID splits)', () => {
  it('far-away IDs fill one bucket of 8; the 9th is cached, however many more come', () => {
    const { table, node } = setup();
    for (let i = 0; i < 8; i++) expect(table.recordResponse(node(0)).kind).toBe('added');
    expect(bucketSizes(table)).toEqual([8]);
    // The full bucket held our ID, so it split once: its far half (bucket 0) is still full and can
    // never split again; the newcomer waits in its replacement cache.
    expect(table.recordResponse(node(0))).toEqual({ kind: 'cached' });
    expect(bucketSizes(table)).toEqual([8, 0]);
    for (let i = 0; i < 50; i++) expect(table.recordResponse(node(0))).toEqual({ kind: 'cached' });
    expect(bucketSizes(table)).toEqual([8, 0]);
    expect(table.stats()).toMatchObject({ nodes: 8, buckets: 2, replacements: 8 });
  });

  it('IDs near ours keep splitting the last bucket until they separate', () => {
    const { table, node } = setup();
    // Nine IDs sharing exactly 5 bits with ours: the last bucket splits five times, then bucket 5
    // (exactly 5 shared bits) is full and is no longer the one holding our ID.
    for (let i = 0; i < 8; i++) table.recordResponse(node(5));
    expect(table.recordResponse(node(5))).toEqual({ kind: 'cached' });
    expect(bucketSizes(table)).toEqual([0, 0, 0, 0, 0, 8, 0]);
    // A node even closer to us goes to the new last bucket.
    expect(table.recordResponse(node(9)).kind).toBe('added');
    expect(bucketSizes(table)).toEqual([0, 0, 0, 0, 0, 8, 1]);
  });

  it('holds 8 nodes per shared-prefix length, each in bucket = shared bits', () => {
    const { table, node } = setup();
    for (let shared = 0; shared < 20; shared++) {
      for (let i = 0; i < 8; i++) expect(table.recordResponse(node(shared)).kind).toBe('added');
    }
    expect(table.size).toBe(160);
    expect(bucketSizes(table)).toEqual(Array<number>(20).fill(8));
    for (const bucket of table.buckets()) {
      for (const c of bucket.contacts) expect(sharedPrefixLength(table.ownId, c.id)).toBe(bucket.index);
    }
  });

  it('never has more than 160 buckets: with k=1, one node per prefix length builds all of them', () => {
    const { table, ownId, node } = setup({ k: 1 });
    for (let shared = 0; shared < 160; shared++) expect(table.recordResponse(node(shared)).kind).toBe('added');
    expect(table.stats()).toMatchObject({ nodes: 160, buckets: 160 });
    // The deepest bucket can only ever hold the one ID that differs from ours in the last bit.
    const deepest = table.buckets()[159]!.contacts[0]!;
    expect(idToHex(deepest.id).slice(0, 38)).toBe(idToHex(ownId).slice(0, 38));
    expect(table.recordResponse(node(0))).toEqual({ kind: 'cached' });
    expect(table.stats().buckets).toBe(160);
  });
});

describe('RoutingTable: the extended table (libtorrent: bigger far buckets)', () => {
  const EXTENDED = { farBucketSizes: EXTENDED_FAR_BUCKETS };

  it('gives the four farthest buckets 128, 64, 32 and 16 slots, the others k', () => {
    const { table, node } = setup(EXTENDED);
    for (let shared = 0; shared < 8; shared++) for (let i = 0; i < 200; i++) table.recordResponse(node(shared));
    const buckets = table.buckets();
    expect(buckets.map((b) => b.capacity).slice(0, 7)).toEqual([128, 64, 32, 16, 8, 8, 8]);
    expect(buckets.map((b) => b.contacts.length).slice(0, 7)).toEqual([128, 64, 32, 16, 8, 8, 8]);
    expectConsistent(table, 8, 8);
  });

  it('a far bucket takes all 128 before it first splits, then hands the closer ones on', () => {
    const { table, node } = setup(EXTENDED);
    // 100 nodes sharing exactly 1 bit and 28 sharing 0 fill the single first bucket (capacity 128).
    for (let i = 0; i < 100; i++) table.recordResponse(node(1));
    for (let i = 0; i < 28; i++) table.recordResponse(node(0));
    expect(bucketSizes(table)).toEqual([128]);
    // The 129th splits it: bucket 1 (capacity 64) gets 100 and splits again; 64 of them stay.
    expect(table.recordResponse(node(0)).kind).toBe('added');
    expect(bucketSizes(table)).toEqual([29, 64, 0]);
    expect(table.buckets()[1]!.replacements).toHaveLength(8);
    expectConsistent(table, 8, 8);
  });

  it('after a split, keeps the contacts that answered and lets go of those only heard of', () => {
    const { table, node } = setup({ k: 2, farBucketSizes: [8, 4] });
    const heard = Array.from({ length: 4 }, () => node(1));
    const answered = Array.from({ length: 4 }, () => node(1));
    for (const n of heard) table.recordHeard(n);
    for (const n of answered) table.recordResponse(n);
    expect(bucketSizes(table)).toEqual([8]);
    table.recordResponse(node(0)); // split: bucket 1 can hold 4 of the 8
    expect(hex(table.buckets()[1]!.contacts).sort()).toEqual(hex(answered).sort());
    for (const n of heard) expect(table.get(n.id)).toBeUndefined();
    expect(table.buckets()[1]!.replacements).toHaveLength(0);
  });

  it('closest() stays exact', () => {
    const { table, ownId, prng } = setup(EXTENDED, 11);
    for (let i = 0; i < 2000; i++) table.recordResponse({ id: prng.bytes(20), address: `10.2.${i >> 8}.${i & 255}`, port: 6881 });
    const all = table.all();
    expect(all.length).toBeGreaterThan(240);
    for (let i = 0; i < 100; i++) {
      const target = i === 0 ? ownId : prng.bytes(20);
      for (const n of [1, 8, 100]) expect(hex(table.closest(target, n))).toEqual(hex(bruteForceClosest(all, target, n)));
    }
  });
});

describe('RoutingTable: nodes heard of in replies (recordHeard)', () => {
  it('take a free slot as contacts that have neither answered nor queried us', () => {
    const { table, node } = setup();
    const heard = node(0);
    const result = table.recordHeard(heard);
    expect(result.kind).toBe('added');
    const contact = table.get(heard.id)!;
    expect(contact).toMatchObject({ lastResponse: 0, lastQuery: 0, failures: 0 });
    expect(table.stateOf(contact)).toBe('questionable');
    // Whoever hands contacts out filters on lastResponse, as the node does.
    expect(table.closest(heard.id, 8, (c) => c.lastResponse > 0)).toEqual([]);
  });

  it('change nothing about a node we know, cache, or a taken address', () => {
    const { table, node, advance } = setup();
    const known = node(0);
    table.recordResponse(known);
    const before = { ...table.get(known.id)! };
    advance(MINUTE);
    expect(table.recordHeard(known)).toEqual({ kind: 'ignored' });
    expect(table.get(known.id)).toEqual(before);
    expect(table.recordHeard({ ...node(0), address: known.address, port: known.port })).toEqual({ kind: 'rejected', reason: 'address-taken' });
  });

  it('never displace a contact of a BEP 5 bucket, nor wait in its cache, nor leave a node waiting there', () => {
    const { table, node } = setup();
    for (let i = 0; i < 8; i++) table.recordResponse(node(0));
    table.recordResponse(node(3)); // bucket 0 can no longer split
    const cached = node(0);
    expect(table.recordResponse(cached)).toEqual({ kind: 'cached' });
    expect(table.recordHeard(node(0))).toEqual({ kind: 'ignored' });
    expect(table.recordHeard(cached)).toEqual({ kind: 'ignored' });
    expect(hex(table.buckets()[0]!.replacements)).toEqual(hex([cached]));
  });

  it('give way to a node that answered us; a mere querier does not displace them', () => {
    const { table, node } = setup();
    const heard = Array.from({ length: 8 }, () => node(0));
    for (const n of heard) table.recordHeard(n);
    table.recordResponse(node(3));
    expect(table.recordQuery(node(0)).kind).toBe('ping');
    const newcomer = node(0);
    const result = table.recordResponse(newcomer);
    expect(result.kind).toBe('replaced');
    expect(result.kind === 'replaced' && heard.some((n) => idEquals(n.id, result.evicted.id))).toBe(true);
    expect(table.get(newcomer.id)).toBeDefined();
    // The one it replaced proved nothing: it is not kept in the cache.
    expect(table.buckets()[0]!.replacements.some((r) => result.kind === 'replaced' && idEquals(r.id, result.evicted.id))).toBe(false);
  });

  it('are removed at their first failure, as is a querier that never answered; a node that did answer has three', () => {
    const { table, node } = setup();
    const [heard, querier, answered] = [node(0), node(1), node(2)];
    table.recordHeard(heard);
    table.recordQuery(querier);
    table.recordResponse(answered);
    expect(table.recordFailure(heard.id)).toBe('removed');
    expect(table.recordFailure(querier.id)).toBe('removed');
    expect(table.recordFailure(answered.id)).toBe('failed');
    expect(table.get(heard.id)).toBeUndefined();
    expect(table.get(querier.id)).toBeUndefined();
    expect(table.get(answered.id)).toBeDefined();
  });

  it('an answer turns a heard-of contact into a good one', () => {
    const { table, node } = setup();
    const n = node(0);
    table.recordHeard(n);
    expect(table.recordResponse(n).kind).toBe('updated');
    expect(table.stateOf(table.get(n.id)!)).toBe('good');
  });
});

describe('RoutingTable: a far bucket keeps its contacts spread over its prefix slots', () => {
  /** Bucket 1 of capacity 16 (4 slot bits) full: 8 contacts in slot 3 and one in each of slots 8..15. */
  function crowdedBucket(kind: 'heard' | 'answered') {
    const env = setup({ k: 2, farBucketSizes: [2, 16] });
    const record = (n: NodeInfo) => (kind === 'heard' ? env.table.recordHeard(n) : env.table.recordResponse(n));
    const crowd = Array.from({ length: 8 }, () => env.nodeInSlot(1, 4, 3));
    const alone = Array.from({ length: 8 }, (_, i) => env.nodeInSlot(1, 4, 8 + i));
    for (const n of [...crowd, ...alone]) record(n);
    env.table.recordResponse(env.node(2)); // bucket 1 splits off and is full
    expect(env.table.buckets()[1]!.contacts).toHaveLength(16);
    return { ...env, crowd, alone };
  }

  it('a node heard of in an empty slot replaces a heard-of contact of a crowded slot; in a taken slot, nothing', () => {
    const { table, nodeInSlot, crowd, alone } = crowdedBucket('heard');
    const spreading = nodeInSlot(1, 4, 5);
    const result = table.recordHeard(spreading);
    expect(result.kind).toBe('replaced');
    expect(result.kind === 'replaced' && crowd.some((n) => idEquals(n.id, result.evicted.id))).toBe(true);
    expect(table.recordHeard(nodeInSlot(1, 4, 5))).toEqual({ kind: 'ignored' });
    expect(table.recordHeard(nodeInSlot(1, 4, 9))).toEqual({ kind: 'ignored' });
    for (const n of alone) expect(table.get(n.id)).toBeDefined();
  });

  it('a node that answered, in an empty slot, replaces a good contact of a crowded slot, which waits in the cache', () => {
    const { table, nodeInSlot, crowd } = crowdedBucket('answered');
    const spreading = nodeInSlot(1, 4, 0);
    const result = table.recordResponse(spreading);
    expect(result.kind).toBe('replaced');
    const evicted = result.kind === 'replaced' ? result.evicted : undefined;
    expect(crowd.some((n) => evicted !== undefined && idEquals(n.id, evicted.id))).toBe(true);
    expect(hex(table.buckets()[1]!.replacements)).toEqual(hex([evicted!]));
    // In a slot already taken by a good contact, it only waits in the cache, as BEP 5 says.
    expect(table.recordResponse(nodeInSlot(1, 4, 9))).toEqual({ kind: 'cached' });
  });

  it('a BEP 5 bucket of k has no such rule: a full bucket of good nodes caches every newcomer', () => {
    const { table, nodeInSlot } = setup({ k: 8 });
    for (let i = 0; i < 8; i++) table.recordResponse(nodeInSlot(0, 3, 0));
    table.recordResponse(nodeInSlot(2, 0, 0));
    expect(table.recordResponse(nodeInSlot(0, 3, 5))).toEqual({ kind: 'cached' });
  });
});

describe('RoutingTable: gaps() (the prefix slots where the table knows nobody)', () => {
  it('an empty table, or one whose closest contact shares no bit with us, has none', () => {
    const { table, node } = setup({ farBucketSizes: EXTENDED_FAR_BUCKETS });
    expect(table.gaps()).toEqual([]);
    table.recordResponse(node(0));
    expect(table.gaps()).toEqual([]);
  });

  it('lists every empty slot below the closest contact, none so fine it would hold under ~4 nodes, biggest first', () => {
    const { table, node, nodeInSlot } = setup({ farBucketSizes: EXTENDED_FAR_BUCKETS });
    // The 8th closest contact shares 12 bits: a network of about 8 * 2^12 = 2^15 nodes, 2^(14-i) at i bits.
    for (let i = 0; i < 8; i++) table.recordResponse(node(12));
    table.recordResponse(nodeInSlot(0, 7, 5));
    const gaps = table.gaps();
    const ofBucket = (bits: number) => gaps.filter((g) => g.bits === bits);
    expect(ofBucket(0)).toHaveLength(127);
    expect(ofBucket(0).some((g) => g.slot === 5)).toBe(false);
    expect(ofBucket(1)).toHaveLength(64);
    expect(ofBucket(3)).toHaveLength(16);
    expect(ofBucket(4).map((g) => g.width)).toEqual(Array<number>(8).fill(3));
    // 2^(14-10) = 16 nodes share exactly 10 bits: 4 slots of 4; at 11 bits, 2 slots of 4.
    expect(ofBucket(10)).toEqual([0, 1, 2, 3].map((slot) => ({ bits: 10, width: 2, slot })));
    expect(ofBucket(11)).toEqual([0, 1].map((slot) => ({ bits: 11, width: 1, slot })));
    // Nothing at or below our closest contact's depth: Kademlia refreshes the buckets farther than it.
    expect(gaps.some((g) => g.bits >= 12)).toBe(false);
    const sizes = gaps.map((g) => g.bits + g.width);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
  });

  it('targetIn(gap) falls in the gap, and a node there fills it', () => {
    const { table, ownId, node } = setup({ farBucketSizes: EXTENDED_FAR_BUCKETS });
    for (let i = 0; i < 8; i++) table.recordResponse(node(14));
    for (const gap of table.gaps().filter((_, i) => i % 17 === 0)) {
      const target = table.targetIn(gap);
      expect(sharedPrefixLength(ownId, target)).toBe(gap.bits);
      expect(bitsOf(target, gap.bits + 1, gap.width)).toBe(gap.slot);
      const before = table.gaps().length;
      table.recordResponse({ id: target, address: `10.3.${gap.bits}.${gap.slot}`, port: 6881 });
      expect(table.gaps().length).toBe(before - 1);
    }
  });

  it('a small network has few gaps: 40 nodes, not 240', () => {
    const { table, prng } = setup({ farBucketSizes: EXTENDED_FAR_BUCKETS }, 9);
    for (let i = 0; i < 40; i++) table.recordResponse({ id: prng.bytes(20), address: `10.4.0.${i + 1}`, port: 6881 });
    expect(table.size).toBe(40);
    expect(table.gaps().length).toBeLessThan(10);
  });
});

describe('RoutingTable: node states (BEP 5: good, questionable, bad)', () => {
  it('a node that answered is good for 15 minutes, then questionable', () => {
    const { table, node, advance } = setup();
    const a = node(0);
    table.recordResponse(a);
    const contact = table.get(a.id)!;
    expect(table.stateOf(contact)).toBe('good');
    advance(15 * MINUTE - 1);
    expect(table.stateOf(contact)).toBe('good');
    advance(1);
    expect(table.stateOf(contact)).toBe('questionable');
    table.recordResponse(a);
    expect(table.stateOf(contact)).toBe('good');
  });

  it('a node that only queried us is in the table but questionable', () => {
    const { table, node } = setup();
    const a = node(0);
    expect(table.recordQuery(a).kind).toBe('added');
    expect(table.stateOf(table.get(a.id)!)).toBe('questionable');
    expect(table.get(a.id)).toMatchObject({ lastResponse: 0, lastQuery: START });
  });

  it('a node that has ever answered stays good while it keeps querying us', () => {
    const { table, node, advance } = setup();
    const a = node(0);
    table.recordResponse(a);
    advance(60 * MINUTE);
    table.recordQuery(a);
    const contact = table.get(a.id)!;
    expect(table.stateOf(contact)).toBe('good');
    advance(15 * MINUTE);
    expect(table.stateOf(contact)).toBe('questionable');
  });

  it('three failed queries in a row make a node bad; an answer makes it good again', () => {
    const { table, node } = setup();
    const a = node(0);
    table.recordResponse(a);
    const contact = table.get(a.id)!;
    expect(table.recordFailure(a.id)).toBe('failed');
    expect(table.recordFailure(a.id)).toBe('failed');
    expect(table.stateOf(contact)).toBe('good');
    // No replacement waits in the cache, so the bad node stays until a newcomer needs its slot.
    expect(table.recordFailure(a.id)).toBe('failed');
    expect(table.stateOf(contact)).toBe('bad');
    expect(table.get(a.id)).toBe(contact);
    table.recordResponse(a);
    expect(contact.failures).toBe(0);
    expect(table.stateOf(contact)).toBe('good');
  });

  it('a query from a failing node does not clear its failures', () => {
    const { table, node } = setup({ badAfterFailures: 2 });
    const a = node(0);
    table.recordResponse(a);
    table.recordFailure(a.id);
    table.recordFailure(a.id);
    table.recordQuery(a);
    expect(table.stateOf(table.get(a.id)!)).toBe('bad');
  });

  it('recordFailure on an unknown ID says so', () => {
    const { table, node } = setup();
    expect(table.recordFailure(node(0).id)).toBe('unknown');
  });

  it('questionable(limit) lists questionable nodes, least recently seen first', () => {
    const { table, node, advance } = setup();
    const [a, b, c, d] = [node(0), node(1), node(2), node(3)];
    table.recordResponse(b!);
    advance(MINUTE);
    table.recordResponse(a!);
    advance(MINUTE);
    table.recordResponse(c!);
    advance(20 * MINUTE);
    table.recordResponse(d!); // good, so not listed
    expect(hex(table.questionable(10))).toEqual(hex([b!, a!, c!]));
    expect(hex(table.questionable(2))).toEqual(hex([b!, a!]));
  });
});

describe('RoutingTable: a full bucket (BEP 5: ping the questionable, replace the bad)', () => {
  /** Bucket 0 full of 8 far-away nodes, all answered 20 minutes ago, then 7 answered again: one is questionable. */
  function fullBucketWithOneStaleNode() {
    const env = setup();
    const far = Array.from({ length: 8 }, () => env.node(0));
    for (const n of far) env.table.recordResponse(n);
    env.table.recordResponse(env.node(3)); // split, so bucket 0 can no longer split
    env.advance(20 * MINUTE);
    for (const n of far.slice(1)) env.table.recordResponse(n);
    return { ...env, far, stale: far[0]! };
  }

  it('asks the caller to ping the least recently seen questionable node, and caches the newcomer', () => {
    const { table, node, stale } = fullBucketWithOneStaleNode();
    const newcomer = node(0);
    const result = table.recordResponse(newcomer);
    expect(result.kind).toBe('ping');
    expect(result.kind === 'ping' && idEquals(result.stale.id, stale.id)).toBe(true);
    expect(table.get(newcomer.id)).toBeUndefined();
    expect(hex(table.buckets()[0]!.replacements)).toEqual(hex([newcomer]));
  });

  it('among several questionable nodes, the least recently seen is the one to ping', () => {
    const { table, node, far, advance } = fullBucketWithOneStaleNode();
    advance(MINUTE);
    for (const n of far.filter((_, i) => i !== 4)) table.recordResponse(n);
    advance(20 * MINUTE); // now all questionable; far[4] was seen longest ago
    const result = table.recordResponse(node(0));
    expect(result.kind === 'ping' && idEquals(result.stale.id, far[4]!.id)).toBe(true);
  });

  it('if the stale node fails three pings, the newcomer from the cache takes its place', () => {
    const { table, node, stale } = fullBucketWithOneStaleNode();
    const newcomer = node(0);
    table.recordResponse(newcomer);
    expect(table.recordFailure(stale.id)).toBe('failed');
    expect(table.recordFailure(stale.id)).toBe('failed');
    expect(table.recordFailure(stale.id)).toBe('removed');
    expect(table.get(stale.id)).toBeUndefined();
    const promoted = table.get(newcomer.id)!;
    expect(table.stateOf(promoted)).toBe('good'); // it answered us, and the table remembers that
    expect(table.buckets()[0]!.contacts).toHaveLength(8);
    expect(table.buckets()[0]!.replacements).toHaveLength(0);
  });

  it('if the stale node answers, it stays and the newcomer stays cached', () => {
    const { table, node, stale } = fullBucketWithOneStaleNode();
    const newcomer = node(0);
    table.recordResponse(newcomer);
    expect(table.recordResponse(stale).kind).toBe('updated');
    expect(table.stateOf(table.get(stale.id)!)).toBe('good');
    expect(table.get(newcomer.id)).toBeUndefined();
    expect(hex(table.buckets()[0]!.replacements)).toEqual(hex([newcomer]));
    // Now the bucket is full of good nodes: the next newcomer can only wait.
    expect(table.recordResponse(node(0))).toEqual({ kind: 'cached' });
  });

  it('the most recent replacement is promoted, and it keeps its place in the cache order when seen again', () => {
    const { table, node, stale } = fullBucketWithOneStaleNode();
    const [first, second] = [node(0), node(0)];
    table.recordResponse(first);
    table.recordResponse(second);
    table.recordQuery(first); // seen again: now the most recent
    for (let i = 0; i < 3; i++) table.recordFailure(stale.id);
    expect(table.stateOf(table.get(first.id)!)).toBe('good'); // it answered before it was cached
    expect(table.get(second.id)).toBeUndefined();
    expect(hex(table.buckets()[0]!.replacements)).toEqual(hex([second]));
  });

  it('a newcomer replaces a bad node at once', () => {
    const { table, node, stale } = fullBucketWithOneStaleNode();
    for (let i = 0; i < 3; i++) expect(table.recordFailure(stale.id)).toBe('failed'); // nothing cached yet
    const newcomer = node(0);
    const result = table.recordQuery(newcomer);
    expect(result.kind).toBe('replaced');
    expect(result.kind === 'replaced' && idEquals(result.evicted.id, stale.id)).toBe(true);
    expect(result.kind === 'replaced' && idEquals(result.contact.id, newcomer.id)).toBe(true);
    expect(table.get(stale.id)).toBeUndefined();
  });

  it('a bucket of good nodes caches newcomers, keeping the newest 8', () => {
    const { table, node, far } = fullBucketWithOneStaleNode();
    table.recordResponse(far[0]!);
    const newcomers = Array.from({ length: 12 }, () => node(0));
    for (const n of newcomers) expect(table.recordResponse(n)).toEqual({ kind: 'cached' });
    expect(hex(table.buckets()[0]!.replacements)).toEqual(hex(newcomers.slice(4)));
  });

  it('removing a node refills its slot from the cache', () => {
    const { table, node, far } = fullBucketWithOneStaleNode();
    const newcomer = node(0);
    table.recordResponse(newcomer);
    expect(table.remove(far[3]!.id)).toBe(true);
    expect(table.get(newcomer.id)).toBeDefined();
    expect(table.buckets()[0]!.contacts).toHaveLength(8);
  });

  it('a cached node whose address:port was taken meanwhile is skipped when promoting', () => {
    const { table, node, stale, far } = fullBucketWithOneStaleNode();
    const newcomer = node(0);
    table.recordResponse(newcomer);
    // Another node shows up at the cached node's endpoint and lands in a bucket with room.
    expect(table.recordResponse({ ...node(1), address: newcomer.address, port: newcomer.port }).kind).toBe('added');
    for (let i = 0; i < 3; i++) expect(table.recordFailure(stale.id)).toBe('failed');
    expect(table.get(newcomer.id)).toBeUndefined();
    expect(table.buckets()[0]!.contacts.map((c) => c.address)).toContain(far[1]!.address);
  });
});

describe('RoutingTable: closest() is exact', () => {
  const N_VALUES = [1, 8, 20, 1000];

  /** 8 nodes at each shared-prefix length 0..124, in random order: the table holds all 1,000. */
  function thousandNodeTable(seed: number) {
    const env = setup({}, seed);
    const nodes: NodeInfo[] = [];
    for (let shared = 0; shared < 125; shared++) for (let i = 0; i < 8; i++) nodes.push(env.node(shared));
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = env.prng.int(i + 1);
      [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
    }
    for (const n of nodes) env.table.recordResponse(n);
    return env;
  }

  function targets(prng: Prng, ownId: NodeId, all: readonly Contact[]): NodeId[] {
    const list: NodeId[] = [ownId];
    for (let i = 0; i < 150; i++) list.push(prng.bytes(20));
    for (let i = 0; i < 100; i++) list.push(randomIdWithPrefix(ownId, prng.int(161), prng.randomSource()));
    for (let i = 0; i < 50; i++) list.push(prng.pick(all).id);
    return list;
  }

  it('matches a brute-force sort on a 1,000-node table, for n in {1, 8, 20, all}', () => {
    const { table, ownId, prng } = thousandNodeTable(42);
    expect(table.size).toBe(1000);
    expect(table.stats().buckets).toBe(125);
    const all = table.all();
    for (const target of targets(prng, ownId, all)) {
      const sorted = bruteForceClosest(all, target, all.length);
      for (const n of N_VALUES) expect(hex(table.closest(target, n))).toEqual(hex(sorted.slice(0, n)));
    }
  });

  it('matches a brute-force sort on a table built from 1,000 random nodes', () => {
    const { table, ownId, prng } = setup({}, 7);
    for (let i = 0; i < 1000; i++) table.recordResponse({ id: prng.bytes(20), address: `10.1.${i >> 8}.${i & 255}`, port: 6881 });
    const all = table.all();
    expect(all.length).toBeGreaterThan(50);
    for (const target of targets(prng, ownId, all)) {
      for (const n of N_VALUES) expect(hex(table.closest(target, n))).toEqual(hex(bruteForceClosest(all, target, n)));
    }
  });

  it('applies the filter before counting', () => {
    const { table, ownId, prng, advance } = thousandNodeTable(3);
    advance(20 * MINUTE);
    const refreshed = table.all().filter(() => prng.next() < 0.3);
    for (const c of refreshed) table.recordResponse(c);
    const isGood = (c: Contact): boolean => table.stateOf(c) === 'good';
    const good = table.all().filter(isGood);
    for (const target of targets(prng, ownId, good).slice(0, 100)) {
      for (const n of N_VALUES) expect(hex(table.closest(target, n, isGood))).toEqual(hex(bruteForceClosest(good, target, n)));
    }
  });

  it('returns fewer when the table holds fewer, and nothing for n <= 0', () => {
    const { table, node, prng } = setup();
    const nodes = [node(0), node(2), node(4)];
    for (const n of nodes) table.recordResponse(n);
    const target = prng.bytes(20);
    expect(table.closest(target, 8)).toHaveLength(3);
    expect(table.closest(target, 0)).toEqual([]);
    expect(table.closest(target, -1)).toEqual([]);
  });

  it('finds the node itself first when the target is a node in the table', () => {
    const { table, prng } = thousandNodeTable(5);
    const someone = prng.pick(table.all());
    expect(table.closest(someone.id, 1)[0]).toBe(someone);
  });
});

describe('RoutingTable: refresh (BEP 5: buckets unchanged for 15 minutes)', () => {
  it('returns one target per stale bucket, each falling inside that bucket', () => {
    const { table, node, advance } = setup();
    for (let shared = 0; shared < 6; shared++) for (let i = 0; i < 8; i++) table.recordResponse(node(shared));
    expect(table.stats().buckets).toBe(6);
    advance(15 * MINUTE);
    // Buckets 1 and 4 hear from someone: they are fresh.
    table.recordResponse(table.buckets()[1]!.contacts[0]!);
    table.recordResponse(table.buckets()[4]!.contacts[0]!);
    const refreshTargets = table.refreshTargets(15 * MINUTE);
    expect(refreshTargets).toHaveLength(4);
    const last = table.stats().buckets - 1;
    const landedIn = refreshTargets.map((t) => Math.min(sharedPrefixLength(table.ownId, t), last));
    expect(landedIn).toEqual([0, 2, 3, 5]);
  });

  it('a query from a node does not count as a change, an answer does', () => {
    const { table, node, advance } = setup();
    const a = node(0);
    table.recordResponse(a);
    advance(15 * MINUTE);
    table.recordQuery(a);
    expect(table.refreshTargets(15 * MINUTE)).toHaveLength(1);
    table.recordResponse(a);
    expect(table.refreshTargets(15 * MINUTE)).toHaveLength(0);
  });

  it('targets for the last bucket share at least its index bits with our ID, and come from the injected random', () => {
    const make = () => {
      const env = setup({}, 99);
      for (let i = 0; i < 9; i++) env.table.recordResponse(env.node(11)); // 13 buckets, last = 12
      env.advance(MINUTE);
      return env;
    };
    const one = make();
    const other = make();
    const targets = one.table.refreshTargets(0);
    expect(targets).toHaveLength(13);
    targets.forEach((t, i) => {
      const shared = sharedPrefixLength(one.table.ownId, t);
      if (i < 12) expect(shared).toBe(i);
      else expect(shared).toBeGreaterThanOrEqual(12);
    });
    expect(targets.map(idToHex)).toEqual(other.table.refreshTargets(0).map(idToHex));
  });
});

describe('RoutingTable: invariants under a random workload', () => {
  it.each([
    ['BEP 5', { k: 8, replacements: 4 }],
    ['extended', { k: 8, replacements: 4, farBucketSizes: EXTENDED_FAR_BUCKETS }],
  ])('%s: keeps buckets, caches, indexes and stats consistent', (_, options) => {
    const { table, node, prng, advance } = setup(options, 2024);
    const known: NodeInfo[] = [];
    for (let step = 0; step < 4000; step++) {
      const roll = prng.next();
      if (roll < 0.35 || known.length === 0) {
        // Mostly far-away nodes, some near us: shared bits roughly geometric, like the real network.
        let shared = 0;
        while (shared < 30 && prng.next() < 0.6) shared++;
        const fresh = node(shared);
        known.push(fresh);
        const roll2 = prng.next();
        const result = roll2 < 0.6 ? table.recordResponse(fresh) : roll2 < 0.8 ? table.recordQuery(fresh) : table.recordHeard(fresh);
        expect(result.kind).not.toBe('rejected');
        if (result.kind === 'ping' && prng.next() < 0.5) table.recordResponse(result.stale);
      } else if (roll < 0.55) {
        table.recordResponse(prng.pick(known));
      } else if (roll < 0.65) {
        table.recordQuery(prng.pick(known));
      } else if (roll < 0.85) {
        table.recordFailure(prng.pick(known).id);
      } else if (roll < 0.9) {
        table.remove(prng.pick(known).id);
      } else if (roll < 0.95) {
        // An existing endpoint with a new ID: refused while the old ID holds it.
        const holder = prng.pick(table.all().length > 0 ? table.all() : known);
        const result = table.recordResponse({ ...node(0), address: holder.address, port: holder.port });
        if (table.get(holder.id) !== undefined) expect(result).toEqual({ kind: 'rejected', reason: 'address-taken' });
      } else {
        advance(prng.int(10 * MINUTE));
      }
      if (step % 200 === 0) expectConsistent(table, options.k, options.replacements);
    }
    expectConsistent(table, options.k, options.replacements);
    expect(table.size).toBeGreaterThan(20);
  });
});

describe('RoutingTable: one slot per host, two per network in a bucket (restrictHosts)', () => {
  const own = new Uint8Array(20);
  const farId = (n: number): NodeId => { const id = new Uint8Array(20); id[0] = 0x80; id[19] = n; return id; };

  it('a second port of a host is refused, however its address is spelled; a third address of a /24 too', () => {
    const table = new RoutingTable(own, { restrictHosts: true, now: () => START });
    expect(table.recordResponse({ id: farId(1), address: '192.0.2.1', port: 1000 }).kind).toBe('added');
    expect(table.recordResponse({ id: farId(2), address: '192.0.2.1', port: 1001 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.recordResponse({ id: farId(3), address: '::ffff:192.0.2.1', port: 1002 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.recordResponse({ id: farId(4), address: '192.0.2.2', port: 1000 }).kind).toBe('added');
    expect(table.recordResponse({ id: farId(5), address: '192.0.2.3', port: 1000 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.recordResponse({ id: farId(6), address: '192.0.20.1', port: 1000 }).kind).toBe('added');
  });

  it('a port of a host we only heard of gives the host\'s slot to a port of it that answers, and only to one that answers', () => {
    const table = new RoutingTable(own, { restrictHosts: true, now: () => START });
    // A reply named port 1000 of the host first (stale, or hostile); nothing says it is alive.
    expect(table.recordHeard({ id: farId(1), address: '2001:db8::1', port: 1000 }).kind).toBe('added');
    expect(table.recordHeard({ id: farId(2), address: '2001:db8::2', port: 1001 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.recordQuery({ id: farId(2), address: '2001:db8::2', port: 1001 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    const answered = table.recordResponse({ id: farId(3), address: '2001:db8::3', port: 1002 });
    expect(answered.kind).toBe('replaced');
    if (answered.kind === 'replaced') expect(answered.evicted.port).toBe(1000);
    expect(table.get(farId(1))).toBeUndefined();
    expect(table.get(farId(3))?.port).toBe(1002);
    // The host's slot now holds a node that answered: the next one that answers is kept out.
    expect(table.recordResponse({ id: farId(4), address: '2001:db8::4', port: 1003 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.size).toBe(1);
  });

  it('under a random workload on 24 hosts of 4 networks, a bucket never holds two contacts of a host or three of a /24', () => {
    const { table, prng, advance } = setup({ k: 8, replacements: 4, restrictHosts: true, farBucketSizes: EXTENDED_FAR_BUCKETS }, 42);
    const known: NodeInfo[] = [];
    const hostOf = (c: NodeInfo): string => c.address;
    const networkOf = (c: NodeInfo): string => c.address.split('.').slice(0, 3).join('.');
    let replaced = 0;
    for (let step = 0; step < 3000; step++) {
      const roll = prng.next();
      if (roll < 0.4 || known.length === 0) {
        const fresh: NodeInfo = { id: prng.bytes(20), address: `192.0.${prng.int(4)}.${1 + prng.int(6)}`, port: 1000 + prng.int(50) };
        known.push(fresh);
        const how = prng.next();
        const result = how < 0.4 ? table.recordHeard(fresh) : how < 0.6 ? table.recordQuery(fresh) : table.recordResponse(fresh);
        if (result.kind === 'replaced' && how >= 0.6) replaced++;
      } else if (roll < 0.7) {
        table.recordResponse(prng.pick(known));
      } else if (roll < 0.85) {
        table.recordFailure(prng.pick(known).id);
      } else {
        advance(prng.int(5 * 60_000));
      }
      if (step % 100 === 0) {
        expectConsistent(table, 8, 4);
        for (const bucket of table.buckets()) {
          const hosts = bucket.contacts.map(hostOf);
          expect(new Set(hosts).size).toBe(hosts.length);
          const perNetwork = new Map<string, number>();
          for (const c of bucket.contacts) perNetwork.set(networkOf(c), (perNetwork.get(networkOf(c)) ?? 0) + 1);
          expect(Math.max(0, ...perNetwork.values())).toBeLessThanOrEqual(2);
        }
      }
    }
    expectConsistent(table, 8, 4);
    // The workload exercised the rule: answering newcomers took the slots of heard-only contacts of their host or /24 (none do without it).
    expect(replaced).toBeGreaterThan(0);
  });

  it('so does a network\'s heard-only contact, when the network has its two', () => {
    const table = new RoutingTable(own, { restrictHosts: true, now: () => START });
    table.recordResponse({ id: farId(1), address: '192.0.2.1', port: 1000 });
    table.recordHeard({ id: farId(2), address: '192.0.2.2', port: 1000 });
    expect(table.recordHeard({ id: farId(3), address: '192.0.2.3', port: 1000 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    const answered = table.recordResponse({ id: farId(3), address: '192.0.2.3', port: 1000 });
    expect(answered.kind === 'replaced' && answered.evicted.address).toBe('192.0.2.2');
    expect(table.recordResponse({ id: farId(4), address: '192.0.2.4', port: 1000 })).toEqual({ kind: 'rejected', reason: 'host-taken' });
    expect(table.all().map((c) => c.address).sort()).toEqual(['192.0.2.1', '192.0.2.3']);
  });
});

describe('RoutingTable: who owns a newcomer\'s ID array', () => {
  it('copies it by default (it may be a view into a reused packet), keeps it when told it is shared', () => {
    const table = new RoutingTable(new Uint8Array(20), { now: () => START });
    const copied = randomIdWithPrefix(new Uint8Array(20), 0);
    const shared = randomIdWithPrefix(new Uint8Array(20), 1);
    table.recordResponse({ id: copied, address: '192.0.2.1', port: 1 });
    table.recordResponse({ id: shared, address: '192.0.2.2', port: 1 }, 'share');
    expect(table.get(copied)!.id).not.toBe(copied);
    expect(idEquals(table.get(copied)!.id, copied)).toBe(true);
    expect(table.get(shared)!.id).toBe(shared);
  });
});
