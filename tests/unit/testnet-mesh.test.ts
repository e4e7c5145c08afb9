/**
 * The local network's tables are Kademlia's: for every prefix length a node shares with its own ID,
 * up to k contacts of the sibling subtree (all of it when it is smaller), drawn from a seeded stream.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/net/seeded-random.js';
import { prefixContacts, sortById } from '../../src/modes/testnet-mesh.js';
import { idEquals, sharedPrefixLength, type NodeId } from '../../src/wire/id.js';

const K = 8;

function ids(count: number, seed: number): { id: NodeId }[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => ({ id: random.bytes(20) }));
}

/** How many of `all` share exactly `depth` bits with `own` (the sibling subtree at that depth). */
function siblingSize(all: readonly { id: NodeId }[], own: NodeId, depth: number): number {
  return all.filter((n) => !idEquals(n.id, own) && sharedPrefixLength(n.id, own) === depth).length;
}

describe('prefixContacts (the local network mesh)', () => {
  const all = sortById(ids(1_500, 7));

  it('gives every node min(k, subtree size) contacts at every shared-prefix length, never itself or twice', () => {
    const random = new SeededRandom(1);
    for (const node of all.slice(0, 200)) {
      const contacts = prefixContacts(all, node.id, K, random);
      expect(contacts.some((c) => idEquals(c.id, node.id))).toBe(false);
      expect(new Set(contacts).size).toBe(contacts.length);
      const deepest = Math.max(...all.filter((n) => n !== node).map((n) => sharedPrefixLength(n.id, node.id)));
      for (let depth = 0; depth <= deepest; depth++) {
        const got = contacts.filter((c) => sharedPrefixLength(c.id, node.id) === depth).length;
        expect(got, `depth ${depth}`).toBe(Math.min(K, siblingSize(all, node.id, depth)));
      }
      // Nothing beyond the deepest subtree that has another node.
      expect(contacts.every((c) => sharedPrefixLength(c.id, node.id) <= deepest)).toBe(true);
    }
  });

  it('knows the node nearest to it (its deepest sibling subtree is small enough to take whole)', () => {
    const random = new SeededRandom(2);
    for (const node of all.slice(0, 100)) {
      const contacts = prefixContacts(all, node.id, K, random);
      const longest = Math.max(...all.filter((n) => n !== node).map((n) => sharedPrefixLength(n.id, node.id)));
      const nearest = all.filter((n) => n !== node && sharedPrefixLength(n.id, node.id) === longest);
      expect(nearest.length).toBeLessThanOrEqual(K);
      for (const n of nearest) expect(contacts).toContain(n);
    }
  });

  it('works for an ID that is not in the list (a read-only node is in no table but has one)', () => {
    const outsider = new SeededRandom(3).bytes(20);
    const contacts = prefixContacts(all, outsider, K, new SeededRandom(4));
    expect(contacts.length).toBeGreaterThan(K * 5);
    expect(contacts.filter((c) => sharedPrefixLength(c.id, outsider) === 0)).toHaveLength(K);
  });

  it('draws from the seed: the same seed, the same contacts; another seed, others', () => {
    const node = all[42]!;
    const a = prefixContacts(all, node.id, K, new SeededRandom(9));
    const b = prefixContacts(all, node.id, K, new SeededRandom(9));
    const c = prefixContacts(all, node.id, K, new SeededRandom(10));
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('returns nothing when there is no one else', () => {
    const alone = ids(1, 5);
    expect(prefixContacts(alone, alone[0]!.id, K, new SeededRandom(1))).toEqual([]);
    expect(prefixContacts([], alone[0]!.id, K, new SeededRandom(1))).toEqual([]);
  });
});
