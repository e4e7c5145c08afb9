/**
 * The routing tables of a local network, filled as a long-running Kademlia network has them
 * (Maymounkov & Mazieres, section 2.2; BEP 5's buckets): for every length L of prefix a node shares
 * with its own ID, up to k contacts whose IDs share exactly L bits with it, i.e. drawn from the
 * sibling subtree at depth L. A node then knows a few nodes of every half of the keyspace it is not
 * in, and every node of the small subtrees next to it, so that each hop of a lookup gets at least
 * one bit closer and the nodes nearest a target know each other.
 *
 * Pure and synchronous: IDs in, contacts out, from a seeded random stream (same seed, same tables).
 * The earlier mesh (each node's sorted-ID neighbours plus random others) left the region around a
 * target in islands on the `internet` preset: lookups converged on nodes ranked 13th-30th from it
 * that did not know the nodes holding its peers.
 */
import type { NodeId } from '../wire/id.js';
import type { SeededRandom } from '../net/seeded-random.js';

/** IDs sorted in ascending order, so that every subtree (a shared prefix) is one contiguous range. */
export function sortById<T extends { id: NodeId }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareIds(a.id, b.id));
}

/**
 * What a table with buckets of `k` holds for `own`, drawn from `sorted` (ascending IDs, may include
 * `own` itself, which is skipped): for each shared-prefix length, the whole sibling subtree if it has
 * at most k members, else k of them at random. Stops where no other ID shares the prefix.
 */
export function prefixContacts<T extends { id: NodeId }>(sorted: readonly T[], own: NodeId, k: number, random: SeededRandom): T[] {
  const out: T[] = [];
  let lo = 0;
  let hi = sorted.length;
  for (let depth = 0; depth < own.length * 8 && hasOther(sorted, lo, hi, own); depth++) {
    // Inside [lo, hi) every ID shares `depth` bits with `own`; those with bit `depth` set come last.
    const split = firstWithBit(sorted, lo, hi, depth);
    const ownBit = bitAt(own, depth);
    const [siblingLo, siblingHi] = ownBit === 1 ? [lo, split] : [split, hi];
    draw(sorted, siblingLo, siblingHi, k, random, out);
    if (ownBit === 1) lo = split;
    else hi = split;
  }
  return out;
}

/** Up to k distinct members of [lo, hi), all of them when there are no more. */
function draw<T>(sorted: readonly T[], lo: number, hi: number, k: number, random: SeededRandom, out: T[]): void {
  const size = hi - lo;
  if (size <= k) {
    for (let i = lo; i < hi; i++) out.push(sorted[i]!);
    return;
  }
  const picked: number[] = [];
  while (picked.length < k) {
    const i = lo + random.int(size);
    if (!picked.includes(i)) picked.push(i);
  }
  for (const i of picked) out.push(sorted[i]!);
}

/** True when [lo, hi) holds an ID other than `own`. */
function hasOther(sorted: readonly { id: NodeId }[], lo: number, hi: number, own: NodeId): boolean {
  return hi - lo > 1 || (hi - lo === 1 && compareIds(sorted[lo]!.id, own) !== 0);
}

/** The first index in [lo, hi) whose ID has bit `depth` set (hi if none): a binary search. */
function firstWithBit(sorted: readonly { id: NodeId }[], lo: number, hi: number, depth: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bitAt(sorted[mid]!.id, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bit `depth` of an ID, the most significant bit of byte 0 being bit 0 (BEP 5's XOR metric). */
function bitAt(id: NodeId, depth: number): number {
  return (id[depth >> 3]! >> (7 - (depth & 7))) & 1;
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
