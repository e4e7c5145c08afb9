/** BEP 52 merkle trees and piece layers, against a tree built the plain way in the test. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, type BencodeDict } from '../../src/wire/bencode.js';
import { MERKLE_BLOCK_BYTES, hashPair, merkleRoot, padHash } from '../../src/peer/merkle.js';
import { PieceLayerError, checkHashes, filesNeedingLayers, pieceLayerRequests } from '../../src/peer/piece-layers.js';
import type { HashRequest } from '../../src/peer/peer-wire.js';
import { encodeTorrentFile } from '../../src/peer/torrent-info.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(5252);
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const ZERO = new Uint8Array(32);

/** Every layer of a file's tree, leaves first, the leaf layer made whole with zero hashes (BEP 52). */
function fullTree(blockHashes: Uint8Array[]): Uint8Array[][] {
  let width = 1;
  while (width < blockHashes.length) width *= 2;
  const layers = [[...blockHashes, ...Array.from({ length: width - blockHashes.length }, () => ZERO)]];
  while (layers[layers.length - 1]!.length > 1) {
    const below = layers[layers.length - 1]!;
    layers.push(Array.from({ length: below.length / 2 }, (_, i) => sha256(Buffer.concat([below[2 * i]!, below[2 * i + 1]!]))));
  }
  return layers;
}

/** A peer that has the whole tree and answers hash requests as BEP 52 says: the base hashes, then one uncle per proof layer above the chunk. */
function answer(tree: Uint8Array[][], request: HashRequest): Uint8Array {
  const base = tree[request.baseLayer]!.slice(request.index, request.index + request.length);
  const uncles: Uint8Array[] = [];
  const omitted = Math.log2(request.length) - 1;
  let position = request.index / request.length;
  for (let layer = omitted + 1; layer <= request.proofLayers; layer++) {
    const level = tree[request.baseLayer + layer]!;
    uncles.push(level[position ^ 1]!);
    position = Math.floor(position / 2);
  }
  return new Uint8Array(Buffer.concat([...base, ...uncles]));
}

function file(pieceLength: number, pieces: number): { length: number; tree: Uint8Array[][]; piecesRoot: Uint8Array } {
  const length = (pieces - 1) * pieceLength + 1 + rng.int(pieceLength - 1);
  const blocks = Math.ceil(length / MERKLE_BLOCK_BYTES);
  const tree = fullTree(Array.from({ length: blocks }, () => rng.bytes(32)));
  return { length, tree, piecesRoot: tree[tree.length - 1]![0]! };
}

describe('merkle trees (BEP 52)', () => {
  it('a pad hash is the root of a subtree of zero leaves', () => {
    expect(padHash(0)).toEqual(ZERO);
    expect(padHash(2)).toEqual(sha256(Buffer.concat([sha256(new Uint8Array(64)), sha256(new Uint8Array(64))])));
  });

  it('merkleRoot pads a layer to a power of two with pad hashes of its height', () => {
    for (const blocks of [1, 2, 3, 5, 8, 13, 100]) {
      const tree = fullTree(Array.from({ length: blocks }, () => rng.bytes(32)));
      expect(merkleRoot(tree[0]!.slice(0, blocks), 0)).toEqual(tree[tree.length - 1]![0]);
      if (tree.length > 2) expect(merkleRoot(tree[1]!.slice(0, Math.ceil(blocks / 2)), 1)).toEqual(tree[tree.length - 1]![0]);
    }
    expect(hashPair(ZERO, ZERO)).toEqual(padHash(1));
  });
});

describe('piece layers over hash requests (BEP 52)', () => {
  it('only files larger than one piece need one', () => {
    const root = rng.bytes(32);
    expect(filesNeedingLayers([{ length: 0 }, { length: 16_384, piecesRoot: root }, { length: 16_385, piecesRoot: root }], 16_384))
      .toEqual([{ length: 16_385, piecesRoot: root }]);
  });

  it('a small layer is one request of the whole padded layer, with no uncles to send', () => {
    const f = file(65_536, 3); // piece layer 2 layers above the leaves, 3 pieces padded to 4
    const [request, ...more] = pieceLayerRequests(f, 65_536);
    expect(more).toEqual([]);
    expect(request).toEqual({ piecesRoot: f.piecesRoot, baseLayer: 2, index: 0, length: 4, proofLayers: 1 });
    const hashes = checkHashes(request!, { request: request!, hashes: answer(f.tree, request!) }, f, 65_536);
    expect(Buffer.from(hashes)).toEqual(Buffer.concat(f.tree[2]!.slice(0, 3))); // the padding piece left out
  });

  it('a layer of 1,100 pieces takes 3 requests of 512, each checked alone through its uncles', () => {
    const f = file(16_384, 1_100);
    const requests = pieceLayerRequests(f, 16_384);
    expect(requests.map((r) => [r.index, r.length, r.proofLayers])).toEqual([[0, 512, 10], [512, 512, 10], [1024, 512, 10]]);
    const layer = Buffer.concat(requests.map((r) => checkHashes(r, { request: r, hashes: answer(f.tree, r) }, f, 16_384)));
    expect(layer.length).toBe(1_100 * 32);
    expect(layer).toEqual(Buffer.concat(f.tree[0]!.slice(0, 1_100)));
  });

  it('a wrong hash, a wrong uncle, a short answer or an answer to another request is refused', () => {
    const f = file(16_384, 1_100);
    const request = pieceLayerRequests(f, 16_384)[1]!;
    const good = answer(f.tree, request);
    const flip = (at: number): Uint8Array => { const b = good.slice(); b[at]! ^= 1; return b; };
    expect(() => checkHashes(request, { request, hashes: flip(5 * 32) }, f, 16_384)).toThrow(PieceLayerError);
    expect(() => checkHashes(request, { request, hashes: flip(good.length - 1) }, f, 16_384)).toThrow(PieceLayerError);
    expect(() => checkHashes(request, { request, hashes: good.subarray(32) }, f, 16_384)).toThrow(/hashes in the answer/);
    expect(() => checkHashes(request, { request: { ...request, index: 0 }, hashes: good }, f, 16_384)).toThrow(/asked/);
  });

  it('a .torrent carries the layers as `piece layers`, after the info dictionary, which stays byte for byte', () => {
    const info = new TextEncoder().encode('d4:name1:xe');
    const layers = [{ piecesRoot: rng.bytes(32), hashes: rng.bytes(64) }, { piecesRoot: rng.bytes(32), hashes: rng.bytes(96) }];
    const torrent = encodeTorrentFile(info, { createdBy: 'test', pieceLayers: layers });
    const decoded = decode(torrent) as BencodeDict;
    const stored = decoded['piece layers'] as BencodeDict;
    for (const l of layers) expect(stored[Buffer.from(l.piecesRoot).toString('latin1')]).toEqual(l.hashes);
    expect(Buffer.from(torrent).includes(Buffer.from('4:infod4:name1:xe'))).toBe(true);
  });
});
