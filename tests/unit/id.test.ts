import { describe, expect, it } from 'vitest';
import {
  idKey,
  ID_BITS,
  ID_LENGTH,
  compareDistance,
  idEquals,
  idFromHex,
  idToHex,
  isId,
  randomId,
  randomIdWithPrefix,
  sharedPrefixLength,
  xorDistance,
} from '../../src/wire/id.js';
import { Prng } from '../helpers/prng.js';

/** The ID as the unsigned 160-bit integer BEP 5 says it is. */
function toBigInt(id: Uint8Array): bigint {
  let value = 0n;
  for (const byte of id) value = (value << 8n) | BigInt(byte);
  return value;
}

/** Bit `i` of the ID, 0 being the most significant. */
function bitAt(id: Uint8Array, i: number): number {
  return (id[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** Shared leading bits, counted one bit at a time. */
function referencePrefixLength(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  while (n < ID_BITS && bitAt(a, n) === bitAt(b, n)) n++;
  return n;
}

/**
 * A copy of `id` that agrees with it on the first `bytes` bytes and is random after: pairs like this
 * make comparisons look past the first byte, which two independent random IDs almost never do.
 */
function sharingBytes(prng: Prng, id: Uint8Array, bytes: number): Uint8Array {
  const out = prng.bytes(ID_LENGTH);
  out.set(id.subarray(0, bytes));
  return out;
}

describe('XOR distance (BEP 5 "Overview")', () => {
  it('orders IDs exactly as |a xor target| vs |b xor target| as integers, on 4,000 triples (seed 1)', () => {
    const prng = new Prng(1);
    for (let i = 0; i < 4000; i++) {
      const target = prng.bytes(ID_LENGTH);
      let a: Uint8Array;
      let b: Uint8Array;
      switch (i % 4) {
        case 0: // independent
          a = prng.bytes(ID_LENGTH);
          b = prng.bytes(ID_LENGTH);
          break;
        case 1: // a and b agree for a while, so a later byte decides
          a = prng.bytes(ID_LENGTH);
          b = sharingBytes(prng, a, prng.int(ID_LENGTH + 1));
          break;
        case 2: // both close to the target
          a = sharingBytes(prng, target, prng.int(ID_LENGTH + 1));
          b = sharingBytes(prng, target, prng.int(ID_LENGTH + 1));
          break;
        default: // ties and zero distance
          a = prng.next() < 0.5 ? target.slice() : prng.bytes(ID_LENGTH);
          b = prng.next() < 0.5 ? a.slice() : target.slice();
      }
      const da = toBigInt(a) ^ toBigInt(target);
      const db = toBigInt(b) ^ toBigInt(target);
      const expected = da < db ? -1 : da > db ? 1 : 0;
      expect(Math.sign(compareDistance(target, a, b)), `triple ${i}`).toBe(expected);
      expect(Math.sign(compareDistance(target, b, a)), `triple ${i} swapped`).toBe(expected === 0 ? 0 : -expected);
      expect(toBigInt(xorDistance(a, target)), `triple ${i} distance`).toBe(da);
    }
  });

  it('sorts a list by distance the same way as the bigint reference (seed 2)', () => {
    const prng = new Prng(2);
    const target = prng.bytes(ID_LENGTH);
    const ids = Array.from({ length: 200 }, (_, i) => sharingBytes(prng, target, i % 4));
    const byLibrary = ids.slice().sort((x, y) => compareDistance(target, x, y)).map(idToHex);
    const t = toBigInt(target);
    const byBigInt = ids
      .slice()
      .sort((x, y) => {
        const dx = toBigInt(x) ^ t;
        const dy = toBigInt(y) ^ t;
        return dx < dy ? -1 : dx > dy ? 1 : 0;
      })
      .map(idToHex);
    expect(byLibrary).toEqual(byBigInt);
  });

  it('puts the target itself at distance zero', () => {
    const id = randomId();
    expect(xorDistance(id, id)).toEqual(new Uint8Array(ID_LENGTH));
    expect(compareDistance(id, id, randomId())).toBeLessThan(0);
  });
});

describe('sharedPrefixLength', () => {
  it('matches a bit-by-bit count on 3,000 pairs (seed 3)', () => {
    const prng = new Prng(3);
    for (let i = 0; i < 3000; i++) {
      const a = prng.bytes(ID_LENGTH);
      const b = a.slice();
      // Flip one chosen bit, then maybe scramble the bits below it too.
      const bit = prng.int(ID_BITS + 1);
      if (bit < ID_BITS) {
        b[bit >> 3]! ^= 0x80 >> (bit & 7);
        if (prng.next() < 0.5) for (let j = (bit >> 3) + 1; j < ID_LENGTH; j++) b[j] = prng.int(256);
      }
      expect(sharedPrefixLength(a, b), `pair ${i}`).toBe(referencePrefixLength(a, b));
      expect(sharedPrefixLength(a, b)).toBe(bit);
    }
  });

  it('is 160 for equal IDs and 0 when the top bit differs', () => {
    const id = idFromHex('8000000000000000000000000000000000000000');
    expect(sharedPrefixLength(id, id.slice())).toBe(160);
    expect(sharedPrefixLength(id, new Uint8Array(ID_LENGTH))).toBe(0);
  });

  it('is symmetric', () => {
    const prng = new Prng(4);
    for (let i = 0; i < 100; i++) {
      const a = prng.bytes(ID_LENGTH);
      const b = sharingBytes(prng, a, prng.int(ID_LENGTH));
      expect(sharedPrefixLength(a, b)).toBe(sharedPrefixLength(b, a));
    }
  });
});

describe('randomIdWithPrefix (BEP 5 bucket refresh)', () => {
  const prng = new Prng(5);
  const bases = [
    new Uint8Array(ID_LENGTH),
    new Uint8Array(ID_LENGTH).fill(0xff),
    prng.bytes(ID_LENGTH),
    prng.bytes(ID_LENGTH),
  ];

  it('shares exactly the requested prefix, for every prefix 0..159', () => {
    for (const [b, base] of bases.entries()) {
      for (let prefix = 0; prefix < ID_BITS; prefix++) {
        for (let round = 0; round < 3; round++) {
          const id = randomIdWithPrefix(base, prefix, prng.randomSource());
          expect(id).toHaveLength(ID_LENGTH);
          expect(referencePrefixLength(base, id), `base ${b}, prefix ${prefix}`).toBe(prefix);
          expect(sharedPrefixLength(base, id)).toBe(prefix);
        }
      }
    }
  });

  it('uses the default random source too', () => {
    const base = randomId();
    for (let prefix = 0; prefix < ID_BITS; prefix += 7) {
      expect(sharedPrefixLength(base, randomIdWithPrefix(base, prefix))).toBe(prefix);
    }
  });

  it('takes the bits after the flipped one from the random source', () => {
    const base = new Uint8Array(ID_LENGTH);
    const fromOnes = randomIdWithPrefix(base, 12, (n) => new Uint8Array(n).fill(0xff));
    const fromZeros = randomIdWithPrefix(base, 12, (n) => new Uint8Array(n));
    expect(idToHex(fromOnes)).toBe(`000f${'f'.repeat(36)}`);
    expect(idToHex(fromZeros)).toBe(`0008${'0'.repeat(36)}`);
  });

  it('returns a copy of the base for prefix 160', () => {
    const base = randomId();
    const id = randomIdWithPrefix(base, 160);
    expect(idEquals(id, base)).toBe(true);
    expect(id).not.toBe(base);
  });

  it.each([-1, 161, 1.5, Number.NaN])('rejects prefix %s', (prefix) => {
    expect(() => randomIdWithPrefix(randomId(), prefix)).toThrow(RangeError);
  });
});

describe('hex', () => {
  it('round-trips random IDs (seed 6)', () => {
    const prng = new Prng(6);
    for (let i = 0; i < 200; i++) {
      const id = prng.bytes(ID_LENGTH);
      const hex = idToHex(id);
      expect(hex).toMatch(/^[0-9a-f]{40}$/);
      expect(idFromHex(hex)).toEqual(id);
      expect(idFromHex(hex.toUpperCase())).toEqual(id);
    }
  });

  it('reads the most significant byte first', () => {
    const id = idFromHex('0102030405060708090a0b0c0d0e0f1011121314');
    expect(Array.from(id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('formats a view into a larger buffer', () => {
    const buffer = new Uint8Array(30).fill(0xaa);
    buffer.set(new Uint8Array(ID_LENGTH), 5);
    expect(idToHex(buffer.subarray(5, 25))).toBe('0'.repeat(40));
  });

  it.each([
    ['empty', ''],
    ['39 digits', 'a'.repeat(39)],
    ['41 digits', 'a'.repeat(41)],
    ['a non-hex digit', `${'a'.repeat(39)}g`],
    ['surrounding space', ` ${'a'.repeat(40)}`],
    ['a 0x prefix', `0x${'a'.repeat(38)}`],
  ])('rejects %s', (_why, hex) => {
    expect(() => idFromHex(hex)).toThrow(TypeError);
  });
});

describe('isId and idEquals', () => {
  it('accepts only 20-byte Uint8Arrays', () => {
    expect(isId(randomId())).toBe(true);
    expect(isId(Buffer.alloc(20))).toBe(true);
    expect(isId(new Uint8Array(19))).toBe(false);
    expect(isId('a'.repeat(20))).toBe(false);
    expect(isId(undefined)).toBe(false);
  });

  it('compares by content', () => {
    const id = randomId();
    expect(idEquals(id, id.slice())).toBe(true);
    expect(idEquals(id, randomIdWithPrefix(id, 159))).toBe(false);
    expect(idEquals(id, id.subarray(0, 19))).toBe(false);
  });
});

describe('idKey: an ID as a Map key', () => {
  it('is one latin1 char per byte, for IDs and for other lengths, and distinct IDs give distinct keys', () => {
    const id = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 200) & 255);
    expect(idKey(id)).toBe(Buffer.from(id).toString('latin1'));
    expect(idKey(id.subarray(3, 23 - 3))).toBe(Buffer.from(id.subarray(3, 20)).toString('latin1'));
    const other = id.slice();
    other[19]! ^= 1;
    expect(idKey(other)).not.toBe(idKey(id));
    expect(idKey(new Uint8Array(32).fill(255))).toBe('\xff'.repeat(32));
  });
});
