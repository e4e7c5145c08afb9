/**
 * Bencoding (BEP 3). The first blocks read as the spec's own examples; then come the malformed
 * forms a strict decoder must refuse, and finally seeded property and mutation runs.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  BencodeError,
  decode,
  decodePrefix,
  encode,
  type BencodeDict,
  type BencodeValue,
  type DecodeOptions,
  type Encodable,
} from '../../src/wire/bencode.js';
import { BencodeScanner } from '../../src/wire/bencode-scanner.js';
import { BencodeWriter } from '../../src/wire/bencode-writer.js';
import { Prng } from '../helpers/prng.js';

/** Bytes from a string with one char per byte, so tests can write binary inputs as text. */
function bytes(latin1: string): Uint8Array {
  return new Uint8Array(Buffer.from(latin1, 'latin1'));
}
/** The inverse of `bytes`, for readable assertions on encoder output. */
function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}
function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}
/** A dict as the decoder builds it: null prototype, so any key (even `__proto__`) is plain data. */
function dict(entries: Record<string, BencodeValue>): BencodeDict {
  return Object.assign(Object.create(null) as BencodeDict, entries);
}
/** Decode, expect a BencodeError, and return it so the test can check reason and offset. */
function decodeError(input: string, options?: DecodeOptions): BencodeError {
  try {
    decode(bytes(input), options);
  } catch (err) {
    expect(err).toBeInstanceOf(BencodeError);
    return err as BencodeError;
  }
  throw new Error(`decode(${JSON.stringify(input)}) should have thrown`);
}

describe('BEP 3 examples', () => {
  const examples: [wire: string, value: BencodeValue][] = [
    ['4:spam', bytes('spam')],
    ['i3e', 3],
    ['i-3e', -3],
    ['i0e', 0],
    ['l4:spam4:eggse', [bytes('spam'), bytes('eggs')]],
    ['d3:cow3:moo4:spam4:eggse', dict({ cow: bytes('moo'), spam: bytes('eggs') })],
    ['d4:spaml1:a1:bee', dict({ spam: [bytes('a'), bytes('b')] })],
  ];
  for (const [wire, value] of examples) {
    it(`decodes ${wire}`, () => {
      expect(decode(bytes(wire))).toEqual(value);
    });
    it(`encodes ${wire}`, () => {
      expect(text(encode(value))).toBe(wire);
    });
  }

  it('encodes JS strings as byte strings, so the examples can be written as plain objects', () => {
    expect(text(encode({ cow: 'moo', spam: 'eggs' }))).toBe('d3:cow3:moo4:spam4:eggse');
    expect(text(encode({ spam: ['a', 'b'] }))).toBe('d4:spaml1:a1:bee');
  });
});

describe('empty and binary values', () => {
  it('handles the empty string, list and dict', () => {
    expect(decode(bytes('0:'))).toEqual(new Uint8Array(0));
    expect(decode(bytes('le'))).toEqual([]);
    expect(decode(bytes('de'))).toEqual(dict({}));
    expect(text(encode(new Uint8Array(0)))).toBe('0:');
    expect(text(encode(''))).toBe('0:');
    expect(text(encode([]))).toBe('le');
    expect(text(encode({}))).toBe('de');
    expect(text(encode(new Map()))).toBe('de');
  });

  it('carries all 256 byte values in strings and in dict keys', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const wire = encode(all);
    expect(text(wire.subarray(0, 4))).toBe('256:');
    expect(decode(wire)).toEqual(all);

    const key = text(all);
    const keyed = encode({ [key]: 1 });
    expect(decode(keyed)).toEqual(dict({ [key]: 1 }));
    expect(Object.keys(decode(keyed) as BencodeDict)[0]).toBe(key);
  });

  it('returns byte strings as zero-copy views of the input', () => {
    const input = bytes('l4:spame');
    const [spam] = decode(input) as Uint8Array[];
    expect(spam!.buffer).toBe(input.buffer);
    expect(spam!.byteOffset).toBe(3);
  });

  it('returns plain Uint8Arrays even when given a Buffer', () => {
    const [spam] = decode(Buffer.from('l4:spame')) as Uint8Array[];
    expect(spam!.constructor).toBe(Uint8Array);
    expect(spam).toEqual(bytes('spam'));
  });

  it('returns an exactly sized plain Uint8Array from encode', () => {
    const out = encode({ a: 'b' });
    expect(out.constructor).toBe(Uint8Array);
    expect(out.buffer.byteLength).toBe(out.length);
  });
});

describe('integers', () => {
  it('decodes safe integers as numbers, hand-summed or not', () => {
    expect(decode(bytes('i999999999999999e'))).toBe(999_999_999_999_999); // 15 digits
    expect(decode(bytes('i1234567890123456e'))).toBe(1_234_567_890_123_456); // 16 digits, still safe
    expect(decode(bytes(`i${Number.MAX_SAFE_INTEGER}e`))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(bytes(`i${Number.MIN_SAFE_INTEGER}e`))).toBe(Number.MIN_SAFE_INTEGER);
  });

  it('decodes integers beyond 2^53 as exact bigints', () => {
    expect(decode(bytes('i9007199254740992e'))).toBe(2n ** 53n);
    expect(decode(bytes('i9223372036854775808e'))).toBe(2n ** 63n);
    expect(decode(bytes('i-1180591620717411303424e'))).toBe(-(2n ** 70n));
    expect(decode(bytes('i123456789012345678901234567890e'))).toBe(123456789012345678901234567890n);
  });

  it('round-trips big integers through encode', () => {
    for (const n of [2n ** 63n, -(2n ** 70n), 2n ** 53n, -(2n ** 53n) - 1n]) {
      expect(decode(encode(n))).toBe(n);
    }
    expect(text(encode(2n ** 63n))).toBe('i9223372036854775808e');
  });

  it('encodes a bigint in the safe range like the number', () => {
    expect(text(encode(42n))).toBe('i42e');
    expect(decode(encode(42n))).toBe(42);
  });

  it('encodes integral numbers beyond 2^53 exactly as the double holds them', () => {
    expect(text(encode(2 ** 64))).toBe('i18446744073709551616e');
    expect(text(encode(-(2 ** 70)))).toBe('i-1180591620717411303424e');
  });

  it('never writes negative zero', () => {
    expect(text(encode(-0))).toBe('i0e');
  });

  it('writes every digit count correctly', () => {
    for (let n = 1, digits = 1; digits <= 16; n *= 10, digits++) {
      expect(text(encode(n))).toBe(`i${n}e`);
      expect(text(encode(n - 1))).toBe(`i${n - 1}e`);
      expect(text(encode(-n))).toBe(`i-${n}e`);
    }
  });
});

describe('dictionary keys', () => {
  it('keeps __proto__ as an own key without touching any prototype', () => {
    const decoded = decode(bytes('d9:__proto__d7:pollutei1ee11:constructori2ee')) as BencodeDict;
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.keys(decoded)).toEqual(['__proto__', 'constructor']);
    expect(decoded['__proto__']).toEqual(dict({ pollute: 1 }));
    expect(decoded['constructor']).toBe(2);
    expect(({} as Record<string, unknown>)['pollute']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('pollute');
  });

  it('encodes an own __proto__ key like any other', () => {
    const withProto = JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, number>;
    expect(text(encode(withProto))).toBe('d9:__proto__i1e1:ai2ee');
    expect(text(encode(decode(bytes('d9:__proto__i1ee'))))).toBe('d9:__proto__i1ee');
  });

  it('sorts keys as raw bytes, not alphanumerically', () => {
    expect(text(encode({ b: 1, a: 2, B: 3, ' ': 4, aa: 5 }))).toBe('d1: i4e1:Bi3e1:ai2e2:aai5e1:bi1ee');
    expect(text(encode({ '\xff': 1, z: 2 }))).toBe('d1:zi2e1:\xffi1ee');
    expect(text(encode({ '10': 1, '9': 2 }))).toBe('d2:10i1e1:9i2ee'); // not the numeric key order of JS objects
  });

  it('skips properties whose value is undefined', () => {
    const announce: { port: number; implied_port?: number | undefined } = { port: 6881, implied_port: undefined };
    expect(text(encode(announce))).toBe('d4:porti6881ee');
  });

  it('accepts Maps with string or byte keys, sorted together', () => {
    const map = new Map<string | Uint8Array, Encodable>([
      ['b', 1],
      [new Uint8Array([0xff]), 2],
      [new Uint8Array([0x61]), 3],
    ]);
    expect(text(encode(map))).toBe('d1:ai3e1:bi1e1:\xffi2ee');
  });

  it('rejects a Map whose string and byte keys name the same bytes', () => {
    const map = new Map<string | Uint8Array, Encodable>([
      ['a', 1],
      [new Uint8Array([0x61]), 2],
    ]);
    expect(() => encode(map)).toThrow(/key "a" twice/);
  });
});

describe('strings are encoded as UTF-8', () => {
  it('counts bytes, not chars, in the length prefix', () => {
    expect(hex(encode('é'))).toBe(hex(bytes('2:\xc3\xa9')));
    expect(hex(encode('\u{1f600}'))).toBe(hex(bytes('4:\xf0\x9f\x98\x80')));
    expect(hex(encode('\ud800'))).toBe(hex(bytes('3:\xef\xbf\xbd'))); // a lone surrogate becomes U+FFFD
  });

  it('agrees with Buffer for long and mixed strings', () => {
    const long = 'naïve ☃ \u{1f600} '.repeat(20);
    const utf8 = Buffer.from(long, 'utf8');
    expect(hex(encode(long))).toBe(hex(Buffer.concat([Buffer.from(`${utf8.length}:`), utf8])));
    expect(text(encode('x'.repeat(100)))).toBe(`100:${'x'.repeat(100)}`);
  });
});

describe('encode refuses what bencoding cannot express', () => {
  const unencodable: [name: string, value: unknown, message: RegExp][] = [
    ['a float', 1.5, /non-integer number \(1\.5\) at \(root\)/],
    ['NaN', Number.NaN, /non-integer number \(NaN\)/],
    ['Infinity', Number.POSITIVE_INFINITY, /non-integer number \(Infinity\)/],
    ['a boolean', true, /a boolean \(bencoding has none: use 1 or 0\) at \(root\)/],
    ['null', null, /null/],
    ['undefined', undefined, /cannot encode undefined/],
    ['a symbol', Symbol('s'), /a symbol/],
    ['a function', () => 1, /a function/],
    ['a Date', new Date(0), /instance of Date/],
    ['an ArrayBuffer', new ArrayBuffer(2), /instance of ArrayBuffer/],
    ['a key above 0xFF', { ā: 1 }, /char above 0xFF/],
    ['a Map with a number key', new Map([[1, 1]]), /Map key of type number/],
  ];
  for (const [name, value, message] of unencodable) {
    it(`throws a TypeError for ${name}`, () => {
      expect(() => encode(value as Encodable)).toThrow(TypeError);
      expect(() => encode(value as Encodable)).toThrow(message);
    });
  }

  it('names the path to the culprit', () => {
    const message = { a: { nodes: [bytes('n0'), bytes('n1'), bytes('n2'), true] } };
    expect(() => encode(message as unknown as Encodable)).toThrow(/cannot encode a boolean .* at a\.nodes\[3\]$/);
    expect(() => encode([{ 'odd key': [null] }] as unknown as Encodable)).toThrow('at [0]["odd key"][0]');
    expect(() => encode(new Map([['m', [1, 2.5]]]))).toThrow('at m[1]');
  });

  it('detects cycles', () => {
    const list: Encodable[] = [];
    list.push([list]);
    expect(() => encode(list)).toThrow(/circular reference at \[0\]\[0\]/);
  });

  it('accepts the same object twice when it is not its own ancestor', () => {
    const shared = [1];
    expect(text(encode([shared, { s: shared }]))).toBe('lli1eed1:sli1eeee');
  });

  it('refuses nesting deep enough to overflow the stack', () => {
    let deep: Encodable = [];
    for (let i = 0; i < 2000; i++) deep = [deep];
    expect(() => encode(deep)).toThrow(/nesting deeper than/);
  });
});

describe('decode refuses malformed input', () => {
  // [input, reason, offset]: every form BEP 3 rules out, and where the decoder must point.
  const malformed: [input: string, reason: string, offset: number][] = [
    ['', 'empty input', 0],
    ['i03e', 'integer has a leading zero', 1],
    ['i-03e', 'integer has a leading zero', 2],
    ['i00e', 'integer has a leading zero', 1],
    ['03:abc', 'string length has a leading zero', 0],
    ['l4:spam03:abce', 'string length has a leading zero', 7],
    ['i-0e', 'negative zero is not allowed', 1],
    ['ie', 'integer has no digits', 1],
    ['i-e', 'integer has no digits', 2],
    ['i', 'unexpected end of input', 1],
    ['i42', 'unexpected end of input', 3],
    ['1', 'unexpected end of input', 1],
    ['4', 'string length runs past the end of input', 0], // 4 bytes cannot fit in a 1-byte input
    ['l4:spam', 'unexpected end of input', 7],
    ['d3:cow3:moo', 'unexpected end of input', 11],
    ['d3:cow', 'unexpected end of input', 6],
    ['i4x2e', "expected a digit or 'e' in integer", 2],
    ['i+3e', "expected a digit or 'e' in integer", 1],
    ['i1.5e', "expected a digit or 'e' in integer", 2],
    ['i--1e', "expected a digit or 'e' in integer", 2],
    ['4x:spam', "expected a digit or ':' in string length", 1],
    ['0x', "expected a digit or ':' in string length", 1],
    ['4:spa', 'string length runs past the end of input', 0],
    ['l9:spame', 'string length runs past the end of input', 1],
    ['99999999999999999999:x', 'string length runs past the end of input', 0],
    ['9999999999999999999999999999999999999999', 'string length runs past the end of input', 0],
    ['i3ei4e', 'trailing bytes after the value', 3],
    ['4:spamX', 'trailing bytes after the value', 6],
    ['lee', 'trailing bytes after the value', 2],
    ['d1:b0:1:a0:e', 'dictionary keys are not sorted', 6],
    ['d2:ab0:1:a0:e', 'dictionary keys are not sorted', 7],
    ['d1:a0:1:a0:e', 'duplicate dictionary key', 6],
    ['di1e0:e', 'dictionary key is not a byte string', 1],
    ['dle0:e', 'dictionary key is not a byte string', 1],
    ['d3:cowe', 'dictionary key has no value', 6],
    ['x', 'unknown type byte 0x78', 0],
    [' i3e', 'unknown type byte 0x20', 0],
    ['-1:a', 'unknown type byte 0x2d', 0],
    ['l4:spamxe', 'unknown type byte 0x78', 7],
    ['e', 'unknown type byte 0x65', 0],
  ];
  for (const [input, reason, offset] of malformed) {
    it(`${JSON.stringify(input)}: ${reason} at byte ${offset}`, () => {
      const err = decodeError(input);
      expect(err.reason).toBe(reason);
      expect(err.offset).toBe(offset);
      expect(err.message).toBe(`${reason} at byte ${offset}`);
    });
  }

  it('rejects a huge length quickly, without allocating', () => {
    const input = bytes(`${'9'.repeat(100_000)}:`);
    const started = performance.now();
    expect(() => decode(input)).toThrow(BencodeError);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('lenient option', () => {
  it('accepts unsorted keys, which strict decoding refuses', () => {
    expect(decode(bytes('d1:bi1e1:ai2ee'), { lenient: true })).toEqual(dict({ a: 2, b: 1 }));
    expect(decodeError('d1:bi1e1:ai2ee').reason).toBe('dictionary keys are not sorted');
  });

  it('still rejects duplicates, even when they are not adjacent', () => {
    const err = decodeError('d1:a0:1:b0:1:a0:e', { lenient: true });
    expect(err.reason).toBe('duplicate dictionary key');
    expect(err.offset).toBe(11);
  });

  it('finds a duplicate that sorts after the key before it, once the keys are out of order', () => {
    const err = decodeError('d1:bi1e1:ai2e1:bi3ee', { lenient: true });
    expect(err.reason).toBe('duplicate dictionary key');
    expect(err.offset).toBe(13);
    expect(decode(bytes('d1:bi1e1:ai2e1:ci3ee'), { lenient: true })).toEqual(dict({ a: 2, b: 1, c: 3 }));
  });

  it('is no more lenient about anything else', () => {
    expect(decodeError('i03e', { lenient: true }).reason).toBe('integer has a leading zero');
    expect(decodeError('d1:ai1eex', { lenient: true }).reason).toBe('trailing bytes after the value');
  });
});

describe('limits', () => {
  const nested = (depth: number): string => 'l'.repeat(depth) + 'e'.repeat(depth);

  it('allows nesting up to maxDepth (default 64) and no deeper', () => {
    expect(() => decode(bytes(nested(64)))).not.toThrow();
    const err = decodeError(nested(65));
    expect(err.reason).toBe('nested deeper than maxDepth (64)');
    expect(err.offset).toBe(64);
  });

  it('counts dicts towards the depth too', () => {
    expect(decode(bytes('d1:ad1:aleee'), { maxDepth: 3 })).toEqual(dict({ a: dict({ a: [] }) }));
    expect(decodeError('d1:ad1:aleee', { maxDepth: 2 }).offset).toBe(8);
  });

  it('refuses a hostile depth without overflowing the stack', () => {
    const err = decodeError('l'.repeat(1_000_000));
    expect(err.reason).toMatch(/maxDepth/);
  });

  it('stops at maxItems values', () => {
    expect(decode(bytes('li1ei2ee'), { maxItems: 3 })).toEqual([1, 2]);
    const err = decodeError('li1ei2ei3ee', { maxItems: 3 });
    expect(err.reason).toBe('more than maxItems (3) values');
    expect(err.offset).toBe(7);
  });

  it('counts dict keys as values', () => {
    expect(decode(bytes('d1:ai1ee'), { maxItems: 3 })).toEqual(dict({ a: 1 }));
    expect(decodeError('d1:ai1ee', { maxItems: 2 }).offset).toBe(4);
  });
});

describe('decodePrefix', () => {
  // BEP 9 ut_metadata `data` message: a bencoded dict, then the raw metadata piece.
  const header = 'd8:msg_typei1e5:piecei0e10:total_sizei3ee';

  it('decodes the leading value and reports where it ended', () => {
    const input = bytes(`${header}\x00\xffd`);
    const { value, end } = decodePrefix(input);
    expect(value).toEqual(dict({ msg_type: 1, piece: 0, total_size: 3 }));
    expect(end).toBe(header.length);
    expect(text(input.subarray(end))).toBe('\x00\xffd');
  });

  it('reports the full length when nothing follows', () => {
    expect(decodePrefix(bytes('i3e'))).toEqual({ value: 3, end: 3 });
  });

  it('is as strict as decode about the value itself', () => {
    expect(() => decodePrefix(new Uint8Array(0))).toThrow('empty input at byte 0');
    expect(() => decodePrefix(bytes('d1:b0:1:a0:eXX'))).toThrow('dictionary keys are not sorted at byte 6');
    expect(() => decodePrefix(bytes('d1:b0:1:a0:eXX'), { lenient: true })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Seeded property runs
// ---------------------------------------------------------------------------------------------

/** A random value shaped like decode's output: numbers only where safe, bigints beyond. */
function randomValue(prng: Prng, depth: number): BencodeValue {
  const kind = prng.int(depth >= 4 ? 3 : 5);
  switch (kind) {
    case 0:
      return randomInteger(prng);
    case 1:
    case 2:
      return prng.bytes(prng.pick([0, 1, 2, 6, 20, 26, prng.int(300)]));
    case 3: {
      const list: BencodeValue[] = [];
      for (let n = prng.int(6); n > 0; n--) list.push(randomValue(prng, depth + 1));
      return list;
    }
    default: {
      const d = dict({});
      for (let n = prng.int(6); n > 0; n--) {
        // Short keys collide sometimes, which exercises overwriting; any byte may appear.
        d[text(prng.bytes(prng.int(4)))] = randomValue(prng, depth + 1);
      }
      return d;
    }
  }
}

function randomInteger(prng: Prng): number | bigint {
  switch (prng.int(4)) {
    case 0:
      return prng.int(21) - 10;
    case 1:
      return Math.floor((prng.next() - 0.5) * 2 ** 40);
    case 2: {
      // Straddle the safe-integer boundary from both sides.
      const n = 2n ** 53n - 5n + BigInt(prng.int(10));
      const signed = prng.int(2) === 0 ? n : -n;
      return signed >= -(2n ** 53n) + 1n && signed <= 2n ** 53n - 1n ? Number(signed) : signed;
    }
    default: {
      const big = BigInt(`0x${hex(prng.bytes(9 + prng.int(8)))}`) + 2n ** 64n;
      return prng.int(2) === 0 ? big : -big;
    }
  }
}

describe('seeded round trip', () => {
  it('decode(encode(v)) equals v and encode(decode(b)) equals b for 10,000 values', () => {
    const seed = 0xbe9c0de;
    const prng = new Prng(seed);
    for (let i = 0; i < 10_000; i++) {
      const value = randomValue(prng, 0);
      const wire = encode(value);
      const decoded = decode(wire);
      // isDeepStrictEqual compares typed arrays natively (toEqual walks them element by element)
      // and tells a bigint from a number, a null-prototype dict from a plain object.
      if (!isDeepStrictEqual(decoded, value)) {
        expect.fail(`seed ${seed}, value #${i}: decode(encode(v)) differs from v; wire ${hex(wire)}`);
      }
      if (Buffer.compare(encode(decoded), wire) !== 0) {
        expect.fail(`seed ${seed}, value #${i}: encode(decode(b)) differs from b = ${hex(wire)}`);
      }
    }
  });
});

/** Hand-built KRPC messages (BEP 5, BEP 51) for the mutation run to start from. */
function krpcMessages(prng: Prng): Uint8Array[] {
  const id = (): Uint8Array => prng.bytes(20);
  const t = (): Uint8Array => prng.bytes(2);
  return [
    encode({ t: t(), y: 'q', q: 'ping', a: { id: id() } }),
    encode({ t: t(), y: 'r', r: { id: id(), nodes: prng.bytes(8 * 26) } }),
    encode({
      t: t(),
      y: 'r',
      v: bytes('LT\x01\x02'),
      r: { id: id(), token: prng.bytes(8), values: Array.from({ length: 5 }, () => prng.bytes(6)) },
    }),
    encode({
      t: t(),
      y: 'q',
      q: 'announce_peer',
      a: { id: id(), implied_port: 1, info_hash: id(), port: 6881, token: prng.bytes(8) },
    }),
    encode({
      t: t(),
      y: 'r',
      r: { id: id(), interval: 21_600, nodes: prng.bytes(4 * 26), num: 1234, samples: prng.bytes(10 * 20) },
    }),
    encode({ t: t(), y: 'e', e: [203, 'msg'] }),
  ];
}

/** One random corruption of `input`, of the kinds a hostile or broken peer might send. */
function mutate(prng: Prng, input: Uint8Array, other: Uint8Array): Uint8Array {
  switch (prng.int(6)) {
    case 0: {
      const out = input.slice();
      for (let flips = 1 + prng.int(3); flips > 0; flips--) {
        const at = prng.int(out.length);
        out[at]! ^= 1 << prng.int(8);
      }
      return out;
    }
    case 1:
      return input.slice(0, prng.int(input.length));
    case 2:
      return concat(input.subarray(0, prng.int(input.length + 1)), other.subarray(prng.int(other.length + 1)));
    case 3:
      return editLengthPrefix(prng, input);
    case 4: {
      const at = prng.int(input.length + 1);
      const inserted = prng.int(2) === 0 ? prng.bytes(1 + prng.int(4)) : bytes(prng.pick(['i', 'l', 'd', 'e', ':', '-', '0', '9']));
      return concat(input.subarray(0, at), inserted, input.subarray(at));
    }
    default: {
      const at = prng.int(input.length);
      return concat(input.subarray(0, at), input.subarray(at + 1 + prng.int(4))); // delete a few bytes
    }
  }
}

/** Rewrite the digits of one `<length>:` prefix: off by one, zero, a leading zero, or absurdly large. */
function editLengthPrefix(prng: Prng, input: Uint8Array): Uint8Array {
  const s = text(input);
  const prefixes = [...s.matchAll(/\d+:/g)];
  if (prefixes.length === 0) return input;
  const match = prng.pick(prefixes);
  const digits = match[0].slice(0, -1);
  const n = Number(digits);
  const replacement = prng.pick([String(n + 1), String(Math.max(0, n - 1)), '0', `0${digits}`, '99999999999999999999', String(prng.int(1000))]);
  return bytes(s.slice(0, match.index) + replacement + s.slice(match.index + digits.length));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe('seeded mutation run', () => {
  it('decode returns a value or throws BencodeError for 50,000 corrupted KRPC messages', () => {
    const baseSeed = 0x5eed;
    const messages = krpcMessages(new Prng(baseSeed));
    for (const message of messages) expect(decode(message)).toBeDefined();

    const failures: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 50_000 && failures.length < 5; i++) {
      // A seed per case, so a failure can be replayed on its own.
      const seed = baseSeed + i;
      const prng = new Prng(seed);
      const input = mutate(prng, prng.pick(messages), prng.pick(messages));
      const lenient = i % 4 === 0;
      try {
        const value = decode(input, { lenient });
        accepted++;
        // Strict decoding admits only canonical bencoding, so re-encoding must give the same bytes.
        if (!lenient && Buffer.compare(encode(value), input) !== 0) {
          failures.push(`seed ${seed}: accepted non-canonical input ${hex(input)}`);
        }
      } catch (err) {
        if (!(err instanceof BencodeError)) failures.push(`seed ${seed}: ${String(err)} on input ${hex(input)}`);
      }
    }
    expect(failures).toEqual([]);
    // A run that rejected (or accepted) everything would test little; mutations like truncating
    // after the outermost `e` or bumping an integer digit leave valid messages.
    expect(accepted).toBeGreaterThan(500);
    expect(accepted).toBeLessThan(40_000);
  });
});

/** Write a decoded value through BencodeWriter, keys in byte order, as a caller that knows its shape would. */
function writeValue(w: BencodeWriter, value: BencodeValue): void {
  if (typeof value === 'number' || typeof value === 'bigint') w.int(value);
  else if (value instanceof Uint8Array) w.bytes(value);
  else if (Array.isArray(value)) {
    w.list();
    for (const item of value) writeValue(w, item);
    w.end();
  } else {
    w.dict();
    for (const key of Object.keys(value).sort()) {
      w.key(key);
      writeValue(w, value[key]!);
    }
    w.end();
  }
}

describe('BencodeWriter', () => {
  it('writes what encode writes, for 3,000 seeded values, reusing one writer', () => {
    const prng = new Prng(0x3217e5);
    const w = new BencodeWriter(16);
    for (let i = 0; i < 3_000; i++) {
      const value = randomValue(prng, 0);
      writeValue(w, value);
      const written = w.finish();
      if (Buffer.compare(written, encode(value)) !== 0) expect.fail(`value #${i}: writer gave ${hex(written)}, encode ${hex(encode(value))}`);
    }
  });

  it('writes a KRPC reply key by key', () => {
    const id = bytes('0123456789abcdefghij');
    const w = new BencodeWriter();
    w.dict().key('r').dict().key('id').bytes(id).end().key('t').bytes(bytes('aa')).key('y').text('r').end();
    expect(text(w.finish())).toBe('d1:rd2:id20:0123456789abcdefghije1:t2:aa1:y1:re');
  });

  it('writes text as UTF-8, and integers of any size', () => {
    const w = new BencodeWriter();
    w.list().text('é✓').text('x'.repeat(40)).int(-42).int(0).int(2 ** 60).int(-(10n ** 30n)).end();
    expect(w.finish()).toEqual(encode(['é✓', 'x'.repeat(40), -42, 0, 2 ** 60, -(10n ** 30n)]));
  });

  it('grows past its initial capacity', () => {
    const big = new Uint8Array(100_000).fill(7);
    const w = new BencodeWriter(16);
    w.list().bytes(big).bytes(big).end();
    expect(w.finish()).toEqual(encode([big, big]));
  });

  it('returns independent results: writing the next value does not change the last', () => {
    const w = new BencodeWriter();
    const first = w.bytes(bytes('spam')).finish();
    w.bytes(bytes('eggs')).finish();
    expect(text(first)).toBe('4:spam');
  });

  it('refuses keys out of order, repeated, or outside a dictionary', () => {
    expect(() => new BencodeWriter().dict().key('b').int(1).key('a')).toThrow(/keys must be sorted/);
    expect(() => new BencodeWriter().dict().key('a').int(1).key('a')).toThrow(/keys must be sorted/);
    expect(() => new BencodeWriter().list().key('a')).toThrow(/outside a dictionary/);
    expect(() => new BencodeWriter().key('a')).toThrow(/outside a dictionary/);
    expect(() => new BencodeWriter().dict().key('\u0100')).toThrow(/above 0xFF/);
    // Each dictionary has its own order: a nested one starts afresh, and its parent resumes after it.
    const w = new BencodeWriter().dict().key('b').dict().key('a').int(1).end();
    expect(() => w.key('a')).toThrow(/keys must be sorted/);
    expect(text(w.reset().dict().key('b').dict().key('a').int(1).end().key('c').int(2).end().finish())).toBe('d1:bd1:ai1ee1:ci2ee');
  });

  it('refuses floats, unbalanced ends, and finishing with something open', () => {
    expect(() => new BencodeWriter().int(1.5)).toThrow(TypeError);
    expect(() => new BencodeWriter().end()).toThrow(/nothing open/);
    expect(() => new BencodeWriter().dict().finish()).toThrow(/still open/);
  });

  it('reset() drops a half-written value', () => {
    const w = new BencodeWriter();
    w.dict().key('a').list().int(1);
    expect(text(w.reset().int(5).finish())).toBe('i5e');
  });
});

describe('BencodeScanner', () => {
  /** A value of the shapes the scanner reads: a byte string, an integer, a list of byte strings. */
  function flatValue(prng: Prng): BencodeValue {
    switch (prng.int(3)) {
      case 0:
        return prng.bytes(prng.pick([0, 1, 2, 20, prng.int(300)]));
      case 1:
        return randomInteger(prng);
      default:
        return Array.from({ length: prng.int(prng.int(4) === 0 ? 80 : 5) }, () => prng.bytes(prng.int(30)));
    }
  }

  it('reads what decode reads, or declines: 20,000 seeded values, half of them corrupted', () => {
    const prng = new Prng(0x5ca7);
    let read = 0;
    for (let i = 0; i < 20_000; i++) {
      const wire = encode(flatValue(prng));
      const input = i % 2 === 0 ? wire : mutate(prng, wire, wire);
      const scanner = new BencodeScanner(input);
      const scanned = scanner.value();
      if (scanned === undefined || !scanner.done) continue;
      read++;
      let decoded: BencodeValue;
      try {
        decoded = decode(input);
      } catch (err) {
        expect.fail(`input #${i} ${hex(input)}: scanned, but decode throws ${String(err)}`);
      }
      if (!isDeepStrictEqual(scanned, decoded)) expect.fail(`input #${i} ${hex(input)}: scanned differently from decode`);
    }
    expect(read).toBeGreaterThan(9_000);
  });

  it('declines what is not canonical or not of its shapes, leaving its position where it was', () => {
    for (const input of ['03:abc', '3:ab', 'i03e', 'i-0e', 'i-e', 'ie', 'i1234567890123456e', 'li1ee', 'd1:ai1ee', 'x', '']) {
      const scanner = new BencodeScanner(bytes(input));
      expect(scanner.value(), input).toBeUndefined();
      expect(scanner.pos, input).toBe(0);
    }
    const long = new BencodeScanner(encode(Array.from({ length: 65 }, () => 'x')));
    expect(long.value()).toBeUndefined();
  });

  it('steps over dictionary pairs only when their keys are strictly increasing', () => {
    const pairs = (text: string, max = 8): boolean => {
      const scanner = new BencodeScanner(bytes(text));
      return scanner.skip(bytes('d')) && scanner.skipPairs(max) && scanner.done;
    };
    expect(pairs('d1:ai1e1:bl1:xe1:c0:e')).toBe(true);
    expect(pairs('d1:bi1e1:ai2ee')).toBe(false);
    expect(pairs('d1:ai1e1:ai2ee')).toBe(false);
    expect(pairs('d1:ad1:bi1eee')).toBe(false);
    expect(pairs('d1:ai1e1:bi2ee', 1)).toBe(false);
  });

  it('gives plain Uint8Array views into the input, even of a Buffer', () => {
    const input = Buffer.from('xx4:spam', 'latin1').subarray(2);
    const value = new BencodeScanner(input).string()!;
    expect(value.constructor).toBe(Uint8Array);
    expect(text(value)).toBe('spam');
    expect(value.buffer).toBe(input.buffer);
  });
});
