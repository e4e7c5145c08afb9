import { describe, expect, test } from 'vitest';
import { parseInfoDict } from '../../src/peer/torrent-info.js';
import { spreadBitfield, syntheticInfo } from '../../src/peer/seeder.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(4242);

function bitsSet(bits: Uint8Array, limit: number): number {
  let n = 0;
  for (let i = 0; i < limit; i++) if ((bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) n++;
  return n;
}

describe('spreadBitfield', () => {
  test('holds round(completion * pieces) pieces, with the spare bits zero (BEP 3)', () => {
    for (let round = 0; round < 200; round++) {
      const pieces = 1 + rng.int(3000);
      const completion = rng.int(5) === 0 ? rng.pick([0, 1]) : rng.next();
      const bits = spreadBitfield(pieces, completion);
      expect(bits.length, `seed ${rng.seed} round ${round}`).toBe(Math.ceil(pieces / 8));
      expect(bitsSet(bits, pieces)).toBe(Math.round(completion * pieces));
      expect(bitsSet(bits, bits.length * 8)).toBe(bitsSet(bits, pieces));
    }
  });

  test('spreads pieces over the torrent rather than packing them at the front', () => {
    const bits = spreadBitfield(1000, 0.5);
    expect(bitsSet(bits, 500)).toBe(250);
  });

  test('completion outside [0, 1] is refused', () => {
    expect(() => spreadBitfield(10, 1.5)).toThrow(RangeError);
    expect(() => spreadBitfield(10, Number.NaN)).toThrow(RangeError);
  });
});

describe('syntheticInfo', () => {
  test('a single file and a multi-file torrent parse back with their sizes and piece counts', () => {
    const single = parseInfoDict(syntheticInfo({ name: 'one.bin', files: [{ path: [], length: 100_000 }], pieceLength: 16_384 }));
    expect(single).toMatchObject({ name: 'one.bin', totalSize: 100_000, pieceCount: 7, files: [{ path: ['one.bin'], length: 100_000 }] });
    const multi = parseInfoDict(syntheticInfo({ name: 'dir', files: [{ path: ['a'], length: 10 }, { path: ['b', 'c'], length: 20 }] }));
    expect(multi).toMatchObject({ name: 'dir', totalSize: 30, pieceCount: 1, files: [{ path: ['dir', 'a'], length: 10 }, { path: ['dir', 'b', 'c'], length: 20 }] });
  });

  test('every call gives a different dictionary, even for the same name', () => {
    const spec = { name: 'x', files: [{ path: [] as string[], length: 5 }] };
    expect(syntheticInfo(spec)).not.toEqual(syntheticInfo(spec));
  });
});
