/**
 * Bencoding (BEP 3, "bencoding"): the serialisation every DHT message travels in.
 *
 * The whole grammar fits in four lines:
 *
 *   byte string  <length>:<bytes>      `4:spam`      length in base ten, no leading zeros
 *   integer      i<base ten>e          `i-3e`        no leading zeros, no `-0`
 *   list         l<values>e            `l4:spami3ee`
 *   dictionary   d<key><value>...e     `d3:cow3:mooe` keys are byte strings, sorted as raw bytes
 *
 * Because the grammar leaves no choice, a value has exactly one encoding, and this module insists
 * on it when decoding (a DHT node that accepted sloppy input would be easy to confuse), except for
 * dictionary key order under `lenient: true`, because some clients in the wild get it wrong.
 *
 * This module is the reference: `decode` and `encode`, for any value. Two faster tools for callers
 * that know the shape of what they read or write sit beside it: bencode-scanner.ts and
 * bencode-writer.ts.
 */
import {
  CHAR_0,
  CHAR_9,
  CHAR_D,
  CHAR_E,
  CHAR_I,
  CHAR_L,
  COLON,
  MAX_EXACT_DIGITS,
  MINUS,
  SHORT_STRING,
  decimalLength,
  isLatin1,
  latin1,
  utf8Length,
} from './bencode-grammar.js';

/** A decoded dictionary. Keys are byte strings carried as JS strings with one char per byte
 * (latin1), so sorting them as strings is sorting them as bytes. Null-prototype: `__proto__` is just a key. */
export interface BencodeDict {
  [key: string]: BencodeValue;
}
export type BencodeValue = number | bigint | Uint8Array | BencodeValue[] | BencodeDict;

/** What `encode` accepts: decoded values, plus JS strings (UTF-8) and Maps/plain objects for convenience. */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly Encodable[]
  | { readonly [key: string]: Encodable | undefined }
  | ReadonlyMap<string | Uint8Array, Encodable>;

export interface DecodeOptions {
  /** Accept dictionaries whose keys are out of order (some clients send them). Duplicates are still rejected. Default false. */
  lenient?: boolean;
  /** Maximum nesting depth of lists/dicts (a top-level list is depth 1). Default 64. The decoder
   * recurses once per level, so values in the thousands risk a stack overflow (a RangeError). */
  maxDepth?: number;
  /** Maximum total number of values (every int, string, list, dict, and dict key counts one). Default 1_000_000. */
  maxItems?: number;
}

/** Why some bytes are not valid bencoding. `offset` is the index of the offending byte in the input. */
export class BencodeError extends Error {
  readonly offset: number;
  readonly reason: string;
  constructor(reason: string, offset: number) {
    super(`${reason} at byte ${offset}`);
    this.name = 'BencodeError';
    this.reason = reason;
    this.offset = offset;
  }
}

const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_ITEMS = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Decode exactly one bencoded value that spans the whole input.
 *
 * Byte strings come back as `Uint8Array` views into `bytes` (zero-copy: no bytes are copied, so
 * if you later overwrite `bytes`, e.g. a reused receive buffer, `.slice()` the strings you keep).
 * Integers come back as `number` when they are safe integers and as `bigint` otherwise, so
 * nothing is ever rounded. Dictionaries are null-prototype objects with latin1 keys.
 *
 * Throws `BencodeError` (with the byte offset) on anything BEP 3 does not allow: leading zeros,
 * `i-0e`, unsorted or duplicate keys (`lenient: true` accepts unsorted keys, never duplicates),
 * truncated input, trailing bytes, and on inputs that exceed `maxDepth` or `maxItems`.
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): BencodeValue {
  const decoder = new Decoder(bytes, options);
  const value = decoder.decodeOne();
  if (decoder.pos !== bytes.length) throw new BencodeError('trailing bytes after the value', decoder.pos);
  return value;
}

/**
 * Decode one value at the start of `bytes` and say where it ended, ignoring whatever follows.
 * BEP 9 (ut_metadata) needs this: a `data` message is a bencoded dict followed by raw piece bytes,
 * which start at `end`.
 */
export function decodePrefix(bytes: Uint8Array, options?: DecodeOptions): { value: BencodeValue; end: number } {
  const decoder = new Decoder(bytes, options);
  const value = decoder.decodeOne();
  return { value, end: decoder.pos };
}

/**
 * One decoding run: a cursor over the input plus the limits' counters. A fresh instance per call
 * keeps `decode` re-entrant (no state lives at module level).
 */
class Decoder {
  /** Index of the next unread byte. */
  pos = 0;
  private readonly bytes: Uint8Array;
  private readonly lenient: boolean;
  private readonly maxDepth: number;
  private readonly maxItems: number;
  private depth = 0;
  private items = 0;

  constructor(bytes: Uint8Array, options: DecodeOptions | undefined) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bencode: decode expects a Uint8Array');
    // A Buffer's subarray() is a Buffer; viewing the input as a plain Uint8Array once means every
    // decoded byte string has the same type whatever the caller passed in.
    this.bytes = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.lenient = options?.lenient ?? false;
    this.maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxItems = options?.maxItems ?? DEFAULT_MAX_ITEMS;
  }

  decodeOne(): BencodeValue {
    if (this.bytes.length === 0) throw new BencodeError('empty input', 0);
    return this.value();
  }

  /** Dispatch on the first byte: a digit starts a string, `i`/`l`/`d` the other three types. */
  private value(): BencodeValue {
    const pos = this.pos;
    if (pos >= this.bytes.length) throw new BencodeError('unexpected end of input', pos);
    this.countItem(pos);
    const c = this.bytes[pos]!;
    if (c >= CHAR_0 && c <= CHAR_9) {
      const length = this.length();
      const start = this.pos;
      this.pos = start + length;
      return this.bytes.subarray(start, start + length);
    }
    if (c === CHAR_I) return this.integer();
    if (c === CHAR_L) return this.list();
    if (c === CHAR_D) return this.dict();
    throw new BencodeError(`unknown type byte 0x${c.toString(16).padStart(2, '0')}`, pos);
  }

  /** `maxItems` bounds the work and memory one message can cost us, whatever its shape. */
  private countItem(pos: number): void {
    if (++this.items > this.maxItems) throw new BencodeError(`more than maxItems (${this.maxItems}) values`, pos);
  }

  /** `maxDepth` bounds recursion, so hostile input such as `llllll…` cannot overflow the stack. */
  private enter(pos: number): void {
    if (++this.depth > this.maxDepth) throw new BencodeError(`nested deeper than maxDepth (${this.maxDepth})`, pos);
  }

  /**
   * Read a byte-string length and its `:`, leaving `pos` on the first content byte.
   * The value is compared with the input size while its digits are read, so a length like
   * 99999999999999999999 is refused long before it could lose precision or allocate anything.
   */
  private length(): number {
    const bytes = this.bytes;
    const start = this.pos;
    let pos = start;
    if (bytes[pos] === CHAR_0 && pos + 1 < bytes.length && bytes[pos + 1] !== COLON) {
      const next = bytes[pos + 1]!;
      if (next >= CHAR_0 && next <= CHAR_9) throw new BencodeError('string length has a leading zero', start);
    }
    let length = 0;
    for (;;) {
      if (pos >= bytes.length) throw new BencodeError('unexpected end of input', pos);
      const c = bytes[pos]!;
      if (c === COLON) break;
      if (c < CHAR_0 || c > CHAR_9) throw new BencodeError("expected a digit or ':' in string length", pos);
      length = length * 10 + (c - CHAR_0);
      if (length > bytes.length) throw new BencodeError('string length runs past the end of input', start);
      pos++;
    }
    pos++; // the ':'
    if (length > bytes.length - pos) throw new BencodeError('string length runs past the end of input', start);
    this.pos = pos;
    return length;
  }

  /** `i<digits>e`. Digits are summed by hand; only more than 15 of them need BigInt. */
  private integer(): number | bigint {
    const bytes = this.bytes;
    const start = this.pos;
    let pos = start + 1; // the 'i'
    const negative = bytes[pos] === MINUS;
    if (negative) pos++;
    const digitsStart = pos;
    let n = 0;
    while (pos < bytes.length) {
      const c = bytes[pos]!;
      if (c < CHAR_0 || c > CHAR_9) break;
      n = n * 10 + (c - CHAR_0);
      pos++;
    }
    if (pos >= bytes.length) throw new BencodeError('unexpected end of input', pos);
    if (bytes[pos] !== CHAR_E) throw new BencodeError("expected a digit or 'e' in integer", pos);
    const digits = pos - digitsStart;
    if (digits === 0) throw new BencodeError('integer has no digits', pos);
    if (bytes[digitsStart] === CHAR_0) {
      if (digits > 1) throw new BencodeError('integer has a leading zero', digitsStart);
      if (negative) throw new BencodeError('negative zero is not allowed', start + 1);
    }
    this.pos = pos + 1; // the 'e'
    if (digits <= MAX_EXACT_DIGITS) return negative ? -n : n;
    return bigIntOrNumber(latin1(bytes, start + 1, pos));
  }

  /** `l<values>e` */
  private list(): BencodeValue[] {
    const bytes = this.bytes;
    this.enter(this.pos);
    this.pos++; // the 'l'
    const list: BencodeValue[] = [];
    for (;;) {
      if (this.pos >= bytes.length) throw new BencodeError('unexpected end of input', this.pos);
      if (bytes[this.pos] === CHAR_E) break;
      list.push(this.value());
    }
    this.pos++; // the 'e'
    this.depth--;
    return list;
  }

  /**
   * `d<key><value>...e`. BEP 3: "Keys must be strings and appear in sorted order (sorted as raw
   * strings, not alphanumerics)". Since keys are latin1 JS strings, `<` on them compares bytes.
   */
  private dict(): BencodeDict {
    const bytes = this.bytes;
    this.enter(this.pos);
    this.pos++; // the 'd'
    // Null prototype: a key named `__proto__` or `constructor` is data, never an inherited property.
    const dict: BencodeDict = Object.create(null) as BencodeDict;
    let previous: string | undefined;
    let shuffled = false;
    for (;;) {
      const keyStart = this.pos;
      if (keyStart >= bytes.length) throw new BencodeError('unexpected end of input', keyStart);
      const c = bytes[keyStart]!;
      if (c === CHAR_E) break;
      if (c < CHAR_0 || c > CHAR_9) throw new BencodeError('dictionary key is not a byte string', keyStart);
      this.countItem(keyStart);
      const length = this.length();
      const key = latin1(bytes, this.pos, this.pos + length);
      this.pos += length;
      shuffled = this.checkKeyOrder(dict, key, previous, shuffled, keyStart);
      if (this.pos < bytes.length && bytes[this.pos] === CHAR_E) {
        throw new BencodeError('dictionary key has no value', this.pos);
      }
      dict[key] = this.value();
      previous = key;
    }
    this.pos++; // the 'e'
    this.depth--;
    return dict;
  }

  /**
   * Strict: each key must sort after the one before (which also rules out duplicates).
   * Lenient: any order, but a key seen before is still an error: which value would win is ambiguous.
   * Returns whether the keys so far are out of order (`shuffled`): until they are, a key above the
   * previous one is above all of them, so only a shuffled dictionary needs the lookup for duplicates.
   */
  private checkKeyOrder(dict: BencodeDict, key: string, previous: string | undefined, shuffled: boolean, offset: number): boolean {
    if (previous !== undefined && key <= previous) {
      if (!this.lenient) throw new BencodeError(key === previous ? 'duplicate dictionary key' : 'dictionary keys are not sorted', offset);
      shuffled = true;
    }
    // `in` is safe here: the object has no prototype, so only own keys are found.
    if (shuffled && key in dict) throw new BencodeError('duplicate dictionary key', offset);
    return shuffled;
  }
}

/** Parse a long `-?digits` string. It is a bigint only when a number could not hold it exactly. */
function bigIntOrNumber(text: string): number | bigint {
  const n = BigInt(text);
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** Whether a decoded value is a dictionary. */
export function isDict(value: BencodeValue | undefined): value is BencodeDict {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !Array.isArray(value);
}

/** Decode bytes that must hold one dictionary (`what` names it in the error), keys in any order. */
export function decodeDict(bytes: Uint8Array, what: string): BencodeDict {
  const value = decode(bytes, { lenient: true });
  if (!isDict(value)) throw new BencodeError(`the ${what} is not a dictionary`, 0);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** Deep enough for any sane message; shallow enough that recursion cannot overflow the stack. */
const MAX_ENCODE_DEPTH = 1000;

/**
 * Bencode a value. Accepts what `decode` returns plus some conveniences:
 * - `string` is encoded as UTF-8 bytes;
 * - `number` must be an integer (a `TypeError` otherwise: bencoding has no floats);
 * - plain objects and Maps become dictionaries, keys sorted as raw bytes. Object keys and Map
 *   string keys are latin1 byte strings, exactly like decoded keys (a char above 0xFF is a
 *   `TypeError`); Map keys may also be `Uint8Array`. Entries whose value is `undefined` are
 *   skipped, which is handy for optional fields.
 *
 * Anything else (booleans, null, floats, class instances, cycles) is a `TypeError` naming where it
 * sits, e.g. `bencode: cannot encode a boolean at a.nodes[3]`.
 *
 * Works in two passes: `measure` validates the value and computes the exact output size, then
 * `write` fills a single buffer of that size. No intermediate chunks, no final concatenation.
 */
export function encode(value: Encodable): Uint8Array {
  const encoder = new Encoder();
  let size: number;
  try {
    size = encoder.measure(value);
  } catch (err) {
    if (err instanceof UnencodableError) {
      throw new TypeError(`bencode: cannot encode ${err.what} at ${err.path()}`);
    }
    throw err;
  }
  return encoder.writeAll(value, size);
}

/** Raised deep inside `measure`; each enclosing container adds its step to the path as it unwinds. */
class UnencodableError extends Error {
  readonly what: string;
  /** Path steps from the culprit outwards: `[3]`, `.nodes`, `.a`. */
  private readonly steps: string[] = [];
  constructor(what: string) {
    super(what);
    this.what = what;
  }
  addStep(step: string): this {
    this.steps.push(step);
    return this;
  }
  path(): string {
    if (this.steps.length === 0) return '(root)';
    const path = this.steps.reverse().join('');
    return path.startsWith('.') ? path.slice(1) : path;
  }
}

/** Add a path step to an UnencodableError passing through a container; other errors pass untouched. */
function withStep(err: unknown, step: string): unknown {
  return err instanceof UnencodableError ? err.addStep(step) : err;
}

/** A path step for a dictionary key: `.name` when it reads like an identifier, `["…"]` otherwise. */
function keyStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

type MapEntry = [key: string, value: unknown];

/**
 * One encoding run. `measure` records, in visiting order, what `write` needs and would otherwise
 * compute twice: each object's sorted keys, each Map's sorted entries, each string's UTF-8 length.
 * `write` then visits the value in the same order and consumes those queues.
 */
class Encoder {
  private readonly objectKeys: string[][] = [];
  private readonly mapEntries: MapEntry[][] = [];
  private readonly stringLengths: number[] = [];
  /** Containers on the path from the root to the current value, to detect cycles. */
  private readonly ancestors: object[] = [];
  private objectCursor = 0;
  private mapCursor = 0;
  private stringCursor = 0;
  private out = new Uint8Array(0);
  /** A Buffer view of `out` for its native UTF-8 writer; made only when a string needs it. */
  private outBuffer: Buffer | undefined;
  private pos = 0;

  /** Pass 1: validate and return the encoded size in bytes. */
  measure(value: unknown): number {
    switch (typeof value) {
      case 'string': {
        const length = utf8Length(value);
        this.stringLengths.push(length);
        return decimalLength(length) + 1 + length;
      }
      case 'number':
        if (!Number.isInteger(value)) throw new UnencodableError(`a non-integer number (${value})`);
        return integerLength(value);
      case 'bigint':
        return value.toString().length + 2;
      case 'object':
        if (value === null) throw new UnencodableError('null');
        if (value instanceof Uint8Array) return decimalLength(value.length) + 1 + value.length;
        return this.measureContainer(value);
      default:
        throw new UnencodableError(describeType(value));
    }
  }

  private measureContainer(value: object): number {
    if (this.ancestors.includes(value)) throw new UnencodableError('a circular reference');
    if (this.ancestors.length >= MAX_ENCODE_DEPTH) throw new UnencodableError(`nesting deeper than ${MAX_ENCODE_DEPTH}`);
    this.ancestors.push(value);
    let size: number;
    if (Array.isArray(value)) size = this.measureList(value);
    else if (value instanceof Map) size = this.measureMap(value);
    else if (isPlainObject(value)) size = this.measureObject(value);
    else throw new UnencodableError(`an instance of ${value.constructor?.name ?? 'an unknown class'}`);
    this.ancestors.pop();
    return size;
  }

  private measureList(list: readonly unknown[]): number {
    let size = 2; // 'l' and 'e'
    let i = 0;
    try {
      for (; i < list.length; i++) size += this.measure(list[i]);
    } catch (err) {
      throw withStep(err, `[${i}]`);
    }
    return size;
  }

  private measureObject(object: { readonly [key: string]: unknown }): number {
    const keys: string[] = [];
    for (const key of Object.keys(object)) {
      if (object[key] === undefined) continue;
      if (!isLatin1(key)) throw new UnencodableError(`a key with a char above 0xFF (${JSON.stringify(key)})`);
      keys.push(key);
    }
    sortKeys(keys);
    this.objectKeys.push(keys);
    let size = 2; // 'd' and 'e'
    for (const key of keys) {
      size += decimalLength(key.length) + 1 + key.length;
      try {
        size += this.measure(object[key]);
      } catch (err) {
        throw withStep(err, keyStep(key));
      }
    }
    return size;
  }

  private measureMap(map: ReadonlyMap<unknown, unknown>): number {
    const entries: MapEntry[] = [];
    for (const [key, value] of map) {
      if (value === undefined) continue;
      entries.push([mapKey(key), value]);
    }
    if (entries.length > 1) entries.sort(compareEntries);
    this.mapEntries.push(entries);
    let size = 2; // 'd' and 'e'
    for (let i = 0; i < entries.length; i++) {
      const [key, value] = entries[i]!;
      if (i > 0 && key === entries[i - 1]![0]) throw new UnencodableError(`a Map with the key ${JSON.stringify(key)} twice`);
      size += decimalLength(key.length) + 1 + key.length;
      try {
        size += this.measure(value);
      } catch (err) {
        throw withStep(err, keyStep(key));
      }
    }
    return size;
  }

  /** Pass 2: allocate exactly `size` bytes and fill them. */
  writeAll(value: unknown, size: number): Uint8Array {
    this.out = new Uint8Array(size);
    this.write(value);
    return this.out;
  }

  /** Everything here was validated by `measure`, so this only dispatches on type and copies bytes. */
  private write(value: unknown): void {
    if (typeof value === 'string') this.writeString(value);
    else if (typeof value === 'number') this.writeInteger(value);
    else if (typeof value === 'bigint') this.writeAscii(`i${value}e`);
    else if (value instanceof Uint8Array) this.writeBytes(value);
    else if (Array.isArray(value)) this.writeList(value);
    else if (value instanceof Map) this.writeMap();
    else this.writeObject(value as { readonly [key: string]: unknown });
  }

  private writeList(list: readonly unknown[]): void {
    this.out[this.pos++] = CHAR_L;
    for (let i = 0; i < list.length; i++) this.write(list[i]);
    this.out[this.pos++] = CHAR_E;
  }

  private writeObject(object: { readonly [key: string]: unknown }): void {
    const keys = this.objectKeys[this.objectCursor++]!;
    this.out[this.pos++] = CHAR_D;
    for (const key of keys) {
      this.writeLatin1Key(key);
      this.write(object[key]);
    }
    this.out[this.pos++] = CHAR_E;
  }

  private writeMap(): void {
    const entries = this.mapEntries[this.mapCursor++]!;
    this.out[this.pos++] = CHAR_D;
    for (const [key, value] of entries) {
      this.writeLatin1Key(key);
      this.write(value);
    }
    this.out[this.pos++] = CHAR_E;
  }

  private writeLatin1Key(key: string): void {
    this.writeLength(key.length);
    const out = this.out;
    let pos = this.pos;
    for (let i = 0; i < key.length; i++) out[pos++] = key.charCodeAt(i);
    this.pos = pos;
  }

  private writeString(s: string): void {
    const length = this.stringLengths[this.stringCursor++]!;
    this.writeLength(length);
    if (length === s.length && length <= SHORT_STRING) {
      // Pure ASCII (any other char takes more than one UTF-8 byte) and short: copy it directly.
      const out = this.out;
      let pos = this.pos;
      for (let i = 0; i < length; i++) out[pos++] = s.charCodeAt(i);
      this.pos = pos;
    } else {
      this.outBuffer ??= Buffer.from(this.out.buffer, this.out.byteOffset, this.out.length);
      this.pos += this.outBuffer.write(s, this.pos, length, 'utf8');
    }
  }

  private writeBytes(bytes: Uint8Array): void {
    this.writeLength(bytes.length);
    if (bytes.length <= SHORT_STRING) {
      // For short arrays a plain loop beats the fixed cost of set().
      const out = this.out;
      let pos = this.pos;
      for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i]!;
      this.pos = pos;
    } else {
      this.out.set(bytes, this.pos);
      this.pos += bytes.length;
    }
  }

  /** `<length>:` */
  private writeLength(length: number): void {
    this.writeDecimal(length);
    this.out[this.pos++] = COLON;
  }

  /** `i<n>e`. Integers beyond 2^53 are written exactly as the double holds them, via BigInt. */
  private writeInteger(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.writeAscii(`i${BigInt(n)}e`);
      return;
    }
    this.out[this.pos++] = CHAR_I;
    if (n < 0) {
      this.out[this.pos++] = MINUS;
      n = -n;
    }
    this.writeDecimal(n);
    this.out[this.pos++] = CHAR_E;
  }

  /** Base-ten digits of a non-negative safe integer, written right to left. -0 writes "0". */
  private writeDecimal(n: number): void {
    const out = this.out;
    const end = this.pos + decimalLength(n);
    let pos = end;
    do {
      const digit = n % 10;
      out[--pos] = CHAR_0 + digit;
      n = (n - digit) / 10;
    } while (n > 0);
    this.pos = end;
  }

  private writeAscii(s: string): void {
    const out = this.out;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }
}

/** How an unencodable primitive is named in the error message. */
function describeType(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'boolean') return 'a boolean (bencoding has none: use 1 or 0)';
  return `a ${typeof value}`;
}

/** Only plain data objects are dictionaries; a Date or a class instance reaching here is a bug upstream. */
function isPlainObject(value: object): value is { readonly [key: string]: unknown } {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A Map key as a latin1 byte string, like decoded keys. */
function mapKey(key: unknown): string {
  if (key instanceof Uint8Array) return latin1(key, 0, key.length);
  if (typeof key === 'string') {
    if (!isLatin1(key)) throw new UnencodableError(`a key with a char above 0xFF (${JSON.stringify(key)})`);
    return key;
  }
  throw new UnencodableError(`a Map key of type ${key === null ? 'null' : typeof key} (keys must be strings or Uint8Array)`);
}

/**
 * Sort latin1 keys in place as raw bytes (`<` on JS strings compares UTF-16 code units, which for
 * latin1 strings are the bytes). Message dicts are small, and for a handful of keys insertion
 * sort is several times faster than `Array.prototype.sort`.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > SHORT_STRING) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

function compareEntries(a: MapEntry, b: MapEntry): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}


/** Encoded size of `i<n>e`. */
function integerLength(n: number): number {
  if (!Number.isSafeInteger(n)) return BigInt(n).toString().length + 2;
  return (n < 0 ? 3 : 2) + decimalLength(Math.abs(n));
}
