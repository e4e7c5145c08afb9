/**
 * Step 2: node IDs and the XOR metric (BEP 5, "Overview"). Node IDs and info-hashes live in the
 * same 160-bit space; distance(A, B) = A XOR B read as an unsigned number. The leading bits two IDs
 * share are what a reader can see at a glance: each one more halves the distance.
 */
import { compareDistance, idToHex, sharedPrefixLength, xorDistance, type NodeId } from '../../src/index.js';
import type { DemoContext } from './context.js';

export async function xorStep({ net, out }: DemoContext): Promise<void> {
  const target = net.torrents[0]!.infoHash;
  const live = net.live;
  const byDistance = [...live].sort((a, b) => compareDistance(target, a.id, b.id));
  const near = byDistance[0]!;
  const far = byDistance[Math.floor(byDistance.length / 2)]!;

  out.say(
    'A node ID is 20 random bytes; an info-hash is 20 bytes too (the SHA-1 of the torrent\'s info dictionary). ' +
      'The DHT stores a torrent\'s peers at the nodes whose IDs are closest to its info-hash, where ' +
      'distance(A, B) = A XOR B, compared as a 160-bit number. Worked example: the first torrent on the ' +
      'local network, its closest node, and a node from the middle of the pack.',
  );
  out.block([
    `target  T = ${idToHex(target)}`,
    `node    A = ${idToHex(near.id)}  ${near.local.address}:${near.local.port}`,
    `node    B = ${idToHex(far.id)}  ${far.local.address}:${far.local.port}`,
  ]);
  out.say('The first 16 bits of each, and of the XOR distances:');
  const dA = xorDistance(target, near.id);
  const dB = xorDistance(target, far.id);
  out.block([
    `T      ${bits(target)}`,
    `A      ${bits(near.id)}`,
    `T ⊕ A  ${bits(dA)}   → ${sharedPrefixLength(target, near.id)} leading zeros: A shares ${sharedPrefixLength(target, near.id)} bits with T`,
    `B      ${bits(far.id)}`,
    `T ⊕ B  ${bits(dB)}   → ${sharedPrefixLength(target, far.id)} leading zeros`,
  ]);
  out.blank();
  out.block([
    `distance(T, A) = ${idToHex(dA)}`,
    `distance(T, B) = ${idToHex(dB)}`,
    `compareDistance(T, A, B) = ${Math.sign(compareDistance(target, near.id, far.id))}   (negative: A is closer)`,
  ]);
  out.say(
    'Three properties make XOR a good metric: distance(X, X) = 0, it is symmetric, and for any point and any ' +
      'distance there is exactly one ID at that distance, so every lookup for T converges on the same nodes. ' +
      'The comparison never builds a number: the first byte where the two distances differ decides (id.ts).',
  );
  const shared = sharedPrefixLength(target, near.id);
  out.result(`XOR: node A shares ${shared} bits with T; node B shares ${sharedPrefixLength(target, far.id)}; A is closer`);
}

/** The first two bytes as bits, in two groups of eight. */
function bits(id: NodeId): string {
  return [id[0]!, id[1]!].map((b) => b.toString(2).padStart(8, '0').replace(/(....)/, '$1 ')).join('  ');
}
