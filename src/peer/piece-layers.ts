/**
 * BEP 52 piece layers, pure: which hash requests fetch a file's piece layer from a peer, and the
 * check of each `hashes` answer against the file's `pieces root`. A v2 .torrent must carry, outside
 * its info dictionary, the piece layer of every file larger than one piece ("A torrent is not valid
 * if this field is absent"); BEP 9 transfers only the info dictionary, so a client that starts from
 * a magnet link asks peers for the layers.
 *
 * A request covers at most 512 hashes (BEP 52: "Length SHOULD NOT be greater than 512"). When the
 * layer is wider, each answer also carries the "uncle" hashes that link its chunk to the root, one
 * per layer above the chunk, so every answer is checked on its own, before the next one arrives.
 */
import { bytesEqual } from '../wire/id.js';
import { HASH_BYTES, hashPair, merkleRoot, nextPowerOfTwo, pieceLayerHeight } from './merkle.js';
import type { HashRequest } from './peer-wire.js';

/** BEP 52's advice for the largest request. */
export const MAX_HASHES_PER_REQUEST = 512;

/** A file of a v2 info dictionary, as far as its merkle tree goes. */
export interface MerkleFile {
  length: number;
  /** `pieces root`: absent for an empty file. */
  piecesRoot?: Uint8Array;
}

/** The piece layer of one file: what the .torrent's `piece layers` holds under its root. */
export interface PieceLayer {
  piecesRoot: Uint8Array;
  /** One 32-byte hash per piece of the file, none for padding beyond its end. */
  hashes: Uint8Array;
}

export class PieceLayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PieceLayerError';
  }
}

/** The files whose piece layer a .torrent must carry: those larger than one piece. */
export function filesNeedingLayers(files: readonly MerkleFile[], pieceLength: number): (MerkleFile & { piecesRoot: Uint8Array })[] {
  return files.filter((f): f is MerkleFile & { piecesRoot: Uint8Array } => f.piecesRoot !== undefined && f.length > pieceLength);
}

/** The hash requests that fetch a file's piece layer: chunks of at most 512, each with its uncles. */
export function pieceLayerRequests(file: MerkleFile & { piecesRoot: Uint8Array }, pieceLength: number): HashRequest[] {
  const pieces = Math.ceil(file.length / pieceLength);
  const width = nextPowerOfTwo(pieces);
  const chunk = Math.min(MAX_HASHES_PER_REQUEST, width);
  // BEP 52 counts proof layers from the base layer up; the first log2(chunk) - 1 are inside the
  // chunk and left out of the answer, so this asks for exactly the uncles above the chunk's root.
  const proofLayers = Math.max(0, Math.log2(width) - 1);
  const requests: HashRequest[] = [];
  for (let index = 0; index < pieces; index += chunk) {
    requests.push({ piecesRoot: file.piecesRoot, baseLayer: pieceLayerHeight(pieceLength), index, length: chunk, proofLayers });
  }
  return requests;
}

/**
 * Check a `hashes` answer to `asked`: its chunk, padded, and its uncles must hash up to the pieces
 * root. Returns the chunk's hashes that cover the file (the padding beyond its end left out).
 */
export function checkHashes(asked: HashRequest, answer: { request: HashRequest; hashes: Uint8Array }, file: MerkleFile, pieceLength: number): Uint8Array {
  const got = answer.request;
  if (!bytesEqual(got.piecesRoot, asked.piecesRoot) || got.baseLayer !== asked.baseLayer || got.index !== asked.index
    || got.length !== asked.length || got.proofLayers !== asked.proofLayers) {
    throw new PieceLayerError(`hashes for ${describe(got)}, asked ${describe(asked)}`);
  }
  const pieces = Math.ceil(file.length / pieceLength);
  const width = nextPowerOfTwo(pieces);
  const uncleCount = Math.log2(width) - Math.log2(asked.length);
  const expected = (asked.length + uncleCount) * HASH_BYTES;
  if (answer.hashes.length !== expected) {
    throw new PieceLayerError(`${answer.hashes.length / HASH_BYTES} hashes in the answer, expected ${asked.length} and ${uncleCount} uncles`);
  }
  const chunk = Array.from({ length: asked.length }, (_, i) => answer.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  let node = merkleRoot(chunk, asked.baseLayer, asked.length);
  let position = asked.index / asked.length;
  for (let u = 0; u < uncleCount; u++) {
    const uncle = answer.hashes.subarray((asked.length + u) * HASH_BYTES, (asked.length + u + 1) * HASH_BYTES);
    node = position % 2 === 0 ? hashPair(node, uncle) : hashPair(uncle, node);
    position = Math.floor(position / 2);
  }
  if (!bytesEqual(node, asked.piecesRoot)) throw new PieceLayerError(`the hashes of ${describe(asked)} do not lead to the pieces root`);
  const inFile = Math.min(asked.length, pieces - asked.index);
  return answer.hashes.slice(0, inFile * HASH_BYTES);
}

function describe(r: HashRequest): string {
  return `layer ${r.baseLayer} [${r.index}, +${r.length}) with ${r.proofLayers} proof layers`;
}
