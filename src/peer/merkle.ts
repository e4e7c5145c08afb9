/**
 * BEP 52's merkle trees, pure. A v2 torrent hashes each file on its own: SHA-256 of every 16 KiB
 * block is a leaf, and each node above is SHA-256(left child || right child). The tree is made
 * whole to a power of two with zero leaves (32 zero bytes), so a missing subtree of height h has a
 * known "pad" hash. The root is the file's `pieces root` in the info dictionary; the layer where one
 * hash covers one piece (`piece length` bytes) is its "piece layer", kept in the .torrent outside
 * the info dictionary and served by peers with hash requests.
 */
import { createHash } from 'node:crypto';

/** BEP 52: leaves hash 16 KiB blocks. */
export const MERKLE_BLOCK_BYTES = 16 * 1024;
export const HASH_BYTES = 32;

export function hashPair(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(left).update(right).digest());
}

/** The hash of a subtree of `height` made only of zero leaves (height 0: a zero leaf). */
export function padHash(height: number): Uint8Array {
  let hash: Uint8Array = new Uint8Array(HASH_BYTES);
  for (let h = 0; h < height; h++) hash = hashPair(hash, hash);
  return hash;
}

/** Layers above the leaves where one hash covers one piece: log2(piece length / 16 KiB). */
export function pieceLayerHeight(pieceLength: number): number {
  return Math.log2(pieceLength / MERKLE_BLOCK_BYTES);
}

/** The smallest power of two that is at least `n` (and at least 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The root of `hashes`, a layer at `height` above the leaves, made whole to `width` hashes (a power
 * of two) with pad hashes of that height.
 */
export function merkleRoot(hashes: readonly Uint8Array[], height: number, width: number = nextPowerOfTwo(hashes.length)): Uint8Array {
  if (hashes.length > width) throw new RangeError(`${hashes.length} hashes do not fit a layer of ${width}`);
  let layer = [...hashes];
  let pad = padHash(height);
  for (let size = width; size > 1; size /= 2) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < size; i += 2) next.push(hashPair(layer[i] ?? pad, layer[i + 1] ?? pad));
    layer = next;
    pad = hashPair(pad, pad);
  }
  return layer[0] ?? pad;
}
