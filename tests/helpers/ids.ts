/** Node IDs at a chosen distance from a target, for lookup tests. */
import type { NodeId } from '../../src/wire/id.js';
import type { Prng } from './prng.js';

/** An ID sharing exactly `bits` leading bits with `target`, random (from `prng`) after them. */
export function idNear(target: NodeId, bits: number, prng: Prng): NodeId {
  const id = prng.bytes(20);
  for (let i = 0; i < 20; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = (0xff << (8 - keep)) & 0xff;
    id[i] = (target[i]! & mask) | (id[i]! & ~mask & 0xff);
  }
  // Make sure bit `bits` differs, so the ID shares exactly `bits` bits.
  const byte = bits >> 3;
  if (byte < 20) id[byte] = (id[byte]! & ~(0x80 >> (bits & 7))) | (~target[byte]! & (0x80 >> (bits & 7)));
  return id;
}
