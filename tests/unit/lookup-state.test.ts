import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import { compareDistance, sharedPrefixLength, type NodeId } from '../../src/wire/id.js';
import { LookupState } from '../../src/dht/lookup-state.js';
import { subnetOf } from '../../src/wire/address.js';
import { RoutingTable } from '../../src/table/routing-table.js';
import { Prng } from '../helpers/prng.js';
import { idNear } from '../helpers/ids.js';
import { isSecureId, secureIdFor } from '../../src/wire/secure-id.js';

const prng = new Prng(20261121);
let nextHost = 1;
/** A node with a fresh /24 of its own, so the per-subnet cap stays out of the way. */
function node(id: NodeId = prng.bytes(20)): NodeInfo {
  const n = nextHost++;
  return { id, address: `10.${(n >> 8) & 255}.${n & 255}.1`, port: 6881 };
}
const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex');

/**
 * A fake network: each node has a real k-bucket table that has seen every other node (first come,
 * first kept, as BEP 5 tables fill), and answers with the 8 closest to the target it knows.
 */
function fakeNetwork(size: number): { nodes: NodeInfo[]; answer(asked: NodeInfo, target: NodeId): NodeInfo[] } {
  const nodes = Array.from({ length: size }, () => node());
  const tables = new Map<string, RoutingTable>();
  for (const n of nodes) {
    const table = new RoutingTable(n.id, { now: () => 1_000 });
    for (const other of nodes) if (other !== n) table.recordResponse(other);
    tables.set(hex(n.id), table);
  }
  return { nodes, answer: (asked, target) => tables.get(hex(asked.id))!.closest(target, 8) };
}

/** Drive a lookup by hand: ask what next() says, answer from the fake network, until done. */
function runOffline(state: LookupState, answer: (asked: NodeInfo, target: NodeId) => NodeInfo[], dead = new Set<string>()): number {
  let queries = 0;
  for (let guard = 0; guard < 10_000 && !state.done; guard++) {
    const batch = state.next();
    if (batch.length === 0) break;
    for (const c of batch) {
      queries++;
      if (dead.has(hex(c.node.id))) { state.markFailed(c.node.id); continue; }
      state.markResponded(c.node.id);
      state.add(answer(c.node, state.target), c.hop + 1);
    }
  }
  return queries;
}

describe('LookupState: the iterative lookup, stepped by hand', () => {
  it('keeps candidates in XOR order and asks the closest first', () => {
    const target = prng.bytes(20);
    const state = new LookupState(target, { alpha: 3 });
    const nodes = Array.from({ length: 20 }, () => node());
    state.add(nodes, 0);
    const order = state.snapshot().map((c) => hex(c.node.id));
    const sorted = [...nodes].sort((a, b) => compareDistance(target, a.id, b.id)).map((n) => hex(n.id));
    expect(order).toEqual(sorted);
    expect(state.next().map((c) => hex(c.node.id))).toEqual(sorted.slice(0, 3));
    // Alpha are active: nothing more until one finishes.
    expect(state.next()).toEqual([]);
  });

  it('asks the alpha closest at once, though queries to farther nodes are still out', () => {
    const target = prng.bytes(20);
    const near = (bits: number): NodeInfo => node(idNear(target, bits, prng));
    const state = new LookupState(target, { k: 8, alpha: 3 });
    const [a, b, c] = [near(2), near(3), near(4)];
    state.add([a!, b!, c!], 0);
    expect(state.next()).toHaveLength(3);
    // `c` answers with four nodes much closer than the two still asked (say they will never answer).
    state.markResponded(c!.id);
    state.add([near(20), near(21), near(22), near(23)], 1, c!.id);
    // The three closest that may still answer are the new ones: all three are asked now, not one
    // (the slot `c` freed) while `a` and `b`, overtaken, hold the other two.
    const asked = state.next();
    expect(asked.map((x) => x.hop)).toEqual([1, 1, 1]);
    expect(asked.every((x) => x.prefixBits >= 20)).toBe(true);
    expect(state.next()).toEqual([]);
  });

  it('a slow query frees its slot without being forgotten', () => {
    const state = new LookupState(prng.bytes(20), { alpha: 1 });
    const [a, b] = [node(), node()];
    state.add([a!, b!], 0);
    const [first] = state.next();
    expect(state.next()).toEqual([]);
    state.markSlow(first!.node.id);
    expect(state.next().length).toBe(1);
    // Its late reply still counts.
    state.markResponded(first!.node.id);
    expect(state.responderCount).toBe(1);
  });

  it('rejects duplicates by ID and by address, and port 0', () => {
    const state = new LookupState(prng.bytes(20));
    const a = node();
    expect(state.add([a, a], 0)).toBe(1);
    expect(state.add([{ ...node(), address: a.address, port: a.port }], 0)).toBe(0);
    expect(state.add([{ ...node(), port: 0 }], 0)).toBe(0);
  });

  it('keeps at most maxCandidates, forgetting the farthest', () => {
    const target = prng.bytes(20);
    const state = new LookupState(target, { maxCandidates: 10 });
    const nodes = Array.from({ length: 50 }, () => node());
    state.add(nodes, 0);
    expect(state.size).toBe(10);
    const best = [...nodes].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 10).map((n) => hex(n.id));
    expect(state.snapshot().map((c) => hex(c.node.id))).toEqual(best);
  });

  it('takes at most maxPerSubnet nodes from one /24', () => {
    const state = new LookupState(prng.bytes(20), { maxPerSubnet: 3 });
    const sybils = Array.from({ length: 20 }, (_, i) => ({ id: prng.bytes(20), address: `10.66.66.${i + 1}`, port: 6881 }));
    expect(state.add(sybils, 0)).toBe(3);
  });

  describe('the per-/24 brake by address scope', () => {
    const cluster = (prefix: string): NodeInfo[] => Array.from({ length: 20 }, (_, i) => ({ id: prng.bytes(20), address: `${prefix}.${i + 1}`, port: 6881 }));

    it('on a local network, brakes public /24s only: 20 nodes sharing a private or loopback /24 all count', () => {
      const state = new LookupState(prng.bytes(20), { maxPerSubnet: 4, addressScope: 'local' });
      expect(state.add(cluster('10.66.66'), 0)).toBe(20);
      expect(state.add(cluster('127.0.5'), 0)).toBe(20);
      expect(state.add(cluster('192.168.1'), 0)).toBe(20);
      expect(state.add(cluster('169.254.3'), 0)).toBe(20);
      expect(state.add(cluster('203.0.113'), 0)).toBe(4);
    });

    it('on the public DHT, drops local addresses as unreachable and brakes every public /24', () => {
      const state = new LookupState(prng.bytes(20), { maxPerSubnet: 4, addressScope: 'public' });
      expect(state.add(cluster('10.66.66'), 0)).toBe(0);
      expect(state.add(cluster('127.0.5'), 0)).toBe(0);
      expect(state.add([{ id: prng.bytes(20), address: 'fe80::1', port: 6881 }, { id: prng.bytes(20), address: 'fd00::1', port: 6881 }], 0)).toBe(0);
      expect(state.add(cluster('203.0.113'), 0)).toBe(4);
      expect(state.add(cluster('198.51.100'), 0)).toBe(4);
    });
  });

  it('converges on the true k closest of a network where every node answers', () => {
    const net = fakeNetwork(300);
    for (let round = 0; round < 20; round++) {
      const target = prng.bytes(20);
      const state = new LookupState(target);
      state.add(net.nodes.slice(round, round + 3), 0);
      const queries = runOffline(state, net.answer);
      expect(state.done).toBe(true);
      const truth = [...net.nodes].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8).map((n) => hex(n.id));
      expect(state.closestResponders().map((c) => hex(c.node.id))).toEqual(truth);
      // Logarithmic, not a flood: a few rounds of alpha, far fewer than the network.
      expect(queries).toBeLessThan(60);
    }
  });

  it('routes around dead nodes', () => {
    const net = fakeNetwork(300);
    const dead = new Set(net.nodes.filter((_, i) => i % 5 === 1).map((n) => hex(n.id)));
    for (let round = 0; round < 10; round++) {
      const target = prng.bytes(20);
      const state = new LookupState(target);
      state.add(net.nodes.slice(round * 3, round * 3 + 3), 0);
      runOffline(state, net.answer, dead);
      const live = net.nodes.filter((n) => !dead.has(hex(n.id)));
      const truth = [...live].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8).map((n) => hex(n.id));
      const found = state.closestResponders().map((c) => hex(c.node.id));
      // Dead nodes hold table slots that live ones would have had, so a live node known only to
      // dead ones can stay hidden: the closest is still found, and nearly all of the k closest.
      expect(found[0]).toBe(truth[0]);
      expect(found.filter((id) => truth.includes(id)).length).toBeGreaterThanOrEqual(6);
      expect(found.some((id) => dead.has(id))).toBe(false);
    }
  });

  it('is done with fewer than k responders only when nothing is left to ask', () => {
    const state = new LookupState(prng.bytes(20));
    const nodes = [node(), node()];
    state.add(nodes, 0);
    expect(state.done).toBe(false);
    const asked = state.next();
    state.markResponded(asked[0]!.node.id);
    expect(state.done).toBe(false);
    state.markFailed(asked[1]!.node.id);
    expect(state.done).toBe(true);
  });

  it('with fewer than k answers, is not done while a slow query may still answer', () => {
    const state = new LookupState(prng.bytes(20));
    // The router answered (one responder) and named two nodes; both are past their soft timeout.
    const [router, a, b] = [node(), node(), node()];
    state.add([router], 0);
    state.markResponded(state.next()[0]!.node.id);
    state.add([a, b], 1, router.id);
    for (const c of state.next()) state.markSlow(c.node.id);
    expect(state.next()).toEqual([]);
    // Before: done here, "exhausted" beside two queries that could still answer.
    expect(state.done).toBe(false);
    state.markResponded(a.id);
    expect(state.done).toBe(false);
    state.markFailed(b.id);
    expect(state.done).toBe(true);
  });

  it('records the hop and the shared prefix of each candidate', () => {
    const target = prng.bytes(20);
    const state = new LookupState(target);
    const n = node();
    state.add([n], 4);
    expect(state.get(n.id)).toMatchObject({ hop: 4, prefixBits: sharedPrefixLength(n.id, target) });
  });
});

describe('subnetOf', () => {
  it('groups IPv4 by /24 and IPv6 by /64', () => {
    expect(subnetOf('10.1.2.3')).toBe(subnetOf('10.1.2.200'));
    expect(subnetOf('10.1.2.3')).not.toBe(subnetOf('10.1.3.3'));
    expect(subnetOf('::ffff:10.1.2.3')).toBe(subnetOf('10.1.2.9'));
    expect(subnetOf('2001:db8:1:2::1')).toBe(subnetOf('2001:db8:1:2:ffff::9'));
    expect(subnetOf('2001:db8:1:2::1')).not.toBe(subnetOf('2001:db8:1:3::1'));
  });
});

describe('the node running the lookup', () => {
  it('never becomes a candidate, even when other nodes list it', () => {
    const me = node();
    const state = new LookupState(prng.bytes(20), { self: me.id });
    expect(state.add([me, node()], 0)).toBe(1);
    expect(state.get(me.id)).toBeUndefined();
  });
});

describe('BEP 42 "Enforcement" in the lookup (secureIdsOnly)', () => {
  const target = prng.bytes(20);
  const secure: NodeInfo = { id: secureIdFor('203.0.113.7', 1, (n) => prng.bytes(n)), address: '203.0.113.7', port: 6881 };
  const insecure: NodeInfo = { id: prng.bytes(20), address: '198.51.100.9', port: 6881 };
  const local: NodeInfo = { id: prng.bytes(20), address: '10.1.2.3', port: 6881 };

  it('asks only nodes whose ID fits their address; local addresses are exempt, as the BEP says', () => {
    expect(isSecureId(insecure.id, insecure.address)).toBe(false);
    const state = new LookupState(target, { secureIdsOnly: true, addressScope: 'unknown' });
    expect(state.add([secure, insecure, local], 0)).toBe(2);
    expect(state.next().map((c) => c.node.address).sort()).toEqual(['10.1.2.3', '203.0.113.7']);
  });

  it('without it, every node is a candidate (libtorrent\'s default too)', () => {
    expect(new LookupState(target).add([secure, insecure, local], 0)).toBe(3);
  });
});

/** The same defences, stepped by hand on the lookup's state (no sockets, no timers). */
describe('LookupState against bogus referrals (the hostile-nodes defences, stepped by hand)', () => {
  const target = new Uint8Array(20).fill(0x55);
  const node = (bits: number, i: number): NodeInfo => ({ id: idNear(target, bits, prng), address: `10.${i >> 8}.${i & 255}.1`, port: 6881 });

  it('takes at most k nodes of each family from one reply, the closest ones', () => {
    const state = new LookupState(target, { k: 8, maxCandidates: 100 });
    const responder = node(10, 0);
    state.add([responder], 0);
    const reply = Array.from({ length: 50 }, (_, i) => node(12 + (i % 40), i + 1));
    expect(state.add(reply, 1, responder.id)).toBe(8);
    const kept = state.snapshot().filter((c) => c.hop === 1).map((c) => c.prefixBits).sort((a, b) => b - a);
    const closest = reply.map((n) => sharedPrefixLength(n.id, target)).sort((a, b) => b - a).slice(0, 8);
    expect(kept).toEqual(closest);
  });

  it('drops the untried referrals of a responder once three of its referrals went silent and none answered', () => {
    const state = new LookupState(target, { k: 8, alpha: 3 });
    const liar = node(10, 0);
    const other = node(9, 1);
    state.add([liar, other], 0);
    state.next();
    state.markResponded(liar.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, liar.id);
    const asked = state.next();
    expect(asked).toHaveLength(3);
    for (const c of asked) state.markSlow(c.node.id);
    // Five of its referrals were never asked; while the other node may still answer, none will be.
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(5);
    expect(state.next()).toEqual([]);
    // And nothing more is taken from it.
    expect(state.add([node(60, 200)], 2, liar.id)).toBe(0);
  });

  it('asks the dropped referrals as a last resort: nothing else left, fewer than k answers', () => {
    const state = new LookupState(target, { k: 8, alpha: 3 });
    const unlucky = node(10, 0);
    const other = node(9, 1);
    state.add([unlucky, other], 0);
    state.next();
    state.markResponded(unlucky.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, unlucky.id);
    for (const c of state.next()) state.markSlow(c.node.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(5);
    // The other node fails too: the five dropped referrals are all the lookup has left. Ending
    // "exhausted" beside them would lose the lookup on a network where half the named nodes are dead.
    state.markFailed(other.id);
    const dropped = state.snapshot().filter((c) => c.state === 'distrusted').map((c) => hex(c.node.id));
    const lastResort = state.next();
    // They are candidates again, asked the usual way: the alpha closest first.
    expect(lastResort.map((c) => hex(c.node.id))).toEqual(dropped.slice(0, 3));
    expect(state.snapshot().filter((c) => c.state === 'new').map((c) => hex(c.node.id))).toEqual(dropped.slice(3));
    expect(state.done).toBe(false);
  });

  it('no last resort once k nodes have answered: the dropped referrals stay dropped', () => {
    const state = new LookupState(target, { k: 8, alpha: 3 });
    const liar = node(10, 0);
    const honest = Array.from({ length: 8 }, (_, i) => node(12 + i, 10 + i));
    state.add([liar, ...honest], 0);
    while (state.snapshot().some((c) => c.state === 'new')) for (const c of state.next()) state.markResponded(c.node.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, liar.id);
    for (const c of state.next()) state.markSlow(c.node.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(5);
    expect(state.next()).toEqual([]);
    expect(state.done).toBe(true);
  });

  it('keeps believing a responder most of whose referrals answer, though some are dead', () => {
    const state = new LookupState(target, { k: 8, alpha: 3 });
    const honest = node(10, 0);
    state.add([honest], 0);
    state.next();
    state.markResponded(honest.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, honest.id);
    // Of the first six asked, two never answer, four do.
    const first = state.next();
    state.markSlow(first[0]!.node.id);
    state.markResponded(first[1]!.node.id);
    state.markResponded(first[2]!.node.id);
    const second = state.next();
    state.markSlow(second[0]!.node.id);
    for (const c of second.slice(1)) state.markResponded(c.node.id);
    expect(state.snapshot().some((c) => c.state === 'distrusted')).toBe(false);
    expect(state.next().length).toBeGreaterThan(0);
  });

  it('a late answer takes back the silence it was counted for', () => {
    const state = new LookupState(target, { k: 8, alpha: 3, distrustAfter: 3 });
    const responder = node(10, 0);
    state.add([responder], 0);
    state.next();
    state.markResponded(responder.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, responder.id);
    const asked = state.next();
    state.markSlow(asked[0]!.node.id);
    state.markSlow(asked[1]!.node.id);
    // Its reply was only late: the third silence does not make three.
    state.markResponded(asked[0]!.node.id);
    state.markSlow(asked[2]!.node.id);
    expect(state.snapshot().some((c) => c.state === 'distrusted')).toBe(false);
  });

  it('trusts a responder again when its slow referrals answer after all: the dropped ones are asked', () => {
    const state = new LookupState(target, { k: 8, alpha: 3, startAlpha: 6 });
    const responder = node(10, 0);
    state.add([responder], 0);
    state.next();
    state.markResponded(responder.id);
    state.add(Array.from({ length: 8 }, (_, i) => node(30 + i, 100 + i)), 1, responder.id);
    // A loaded network: the first wide round's replies all come past the soft timeout.
    const asked = state.next();
    for (const c of asked.slice(0, 3)) state.markSlow(c.node.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(2);
    // They were only late.
    for (const c of asked.slice(0, 3)) state.markResponded(c.node.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(0);
    expect(state.next().map((c) => c.node.id)).toHaveLength(2);
    expect(state.done).toBe(false);
  });

  it('over the candidate cap, forgets distrusted candidates before untried good ones', () => {
    const state = new LookupState(target, { k: 8, alpha: 3, maxCandidates: 12, maxPerSubnet: 100 });
    const liar = node(8, 0);
    const honest = node(9, 1);
    state.add([liar, honest], 0);
    state.next();
    state.markResponded(liar.id);
    state.markResponded(honest.id);
    // The liar's referrals are the closest; the honest node's are farther.
    state.add(Array.from({ length: 8 }, (_, i) => node(40 + i, 100 + i)), 1, liar.id);
    state.add(Array.from({ length: 2 }, (_, i) => node(20 + i, 200 + i)), 1, honest.id);
    for (const c of state.next()) state.markSlow(c.node.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(5);
    // Five more nodes arrive, closer than the honest referrals: the cap evicts the five distrusted
    // ones, not the honest referrals that were not asked yet.
    state.add(Array.from({ length: 5 }, (_, i) => node(25 + i, 300 + i)), 1, honest.id);
    expect(state.snapshot().filter((c) => c.state === 'distrusted')).toHaveLength(0);
    const honestReferrals = state.snapshot().filter((c) => c.prefixBits === 20 || c.prefixBits === 21);
    expect(honestReferrals).toHaveLength(2);
    expect(state.size).toBeLessThanOrEqual(12);
  });
});
