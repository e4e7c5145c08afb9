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
  isLatin1,
  latin1,
} from './bencode-grammar.js';
import { BencodeWriter } from './bencode-writer.js';

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
 * One pass over the value, written by a BencodeWriter (bencode-writer.ts): containers' keys are
 * sorted here, then written in order. The result has an ArrayBuffer of its own, exactly its size.
 */
export function encode(value: Encodable): Uint8Array {
  // A getter or a Map's iterator could call encode again while the shared writer is busy.
  const writer = encoding ? new BencodeWriter() : sharedWriter.reset();
  const outer = encoding;
  encoding = true;
  try {
    new ValueWriter(writer).write(value);
    return writer.finishOwned();
  } catch (err) {
    writer.reset();
    if (err instanceof UnencodableError) throw new TypeError(`bencode: cannot encode ${err.what} at ${err.path()}`);
    throw err;
  } finally {
    encoding = outer;
  }
}

/** One writer for every encode, its buffer grown once to the largest value seen. */
const sharedWriter = new BencodeWriter(4096);
let encoding = false;

/** Raised deep inside a value; each enclosing container adds its step to the path as it unwinds. */
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

/** Walks a value depth first, checking it and writing it in canonical order. */
class ValueWriter {
  /** Containers on the path from the root to the current value, to detect cycles. */
  private readonly ancestors: object[] = [];

  constructor(readonly writer: BencodeWriter) {}

  write(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.writer.text(value);
        return;
      case 'number':
        if (!Number.isInteger(value)) throw new UnencodableError(`a non-integer number (${value})`);
        this.writer.int(value);
        return;
      case 'bigint':
        this.writer.int(value);
        return;
      case 'object':
        if (value === null) throw new UnencodableError('null');
        if (value instanceof Uint8Array) this.writer.bytes(value);
        else this.container(value);
        return;
      default:
        throw new UnencodableError(describeType(value));
    }
  }

  private container(value: object): void {
    const ancestors = this.ancestors;
    if (ancestors.includes(value)) throw new UnencodableError('a circular reference');
    if (ancestors.length >= MAX_ENCODE_DEPTH) throw new UnencodableError(`nesting deeper than ${MAX_ENCODE_DEPTH}`);
    ancestors.push(value);
    if (Array.isArray(value)) this.list(value);
    else if (value instanceof Map) this.map(value);
    else if (isPlainObject(value)) this.object(value);
    else throw new UnencodableError(`an instance of ${value.constructor?.name ?? 'an unknown class'}`);
    ancestors.pop();
  }

  private list(list: readonly unknown[]): void {
    this.writer.list();
    let i = 0;
    try {
      for (; i < list.length; i++) this.write(list[i]);
    } catch (err) {
      throw withStep(err, `[${i}]`);
    }
    this.writer.end();
  }

  private object(object: { readonly [key: string]: unknown }): void {
    const keys: string[] = [];
    for (const key of Object.keys(object)) {
      if (object[key] === undefined) continue;
      if (!isLatin1(key)) throw new UnencodableError(`a key with a char above 0xFF (${JSON.stringify(key)})`);
      keys.push(key);
    }
    sortKeys(keys);
    this.writer.dict();
    for (const key of keys) this.entry(key, object[key]);
    this.writer.end();
  }

  private map(map: ReadonlyMap<unknown, unknown>): void {
    const entries: MapEntry[] = [];
    for (const [key, value] of map) {
      if (value === undefined) continue;
      entries.push([mapKey(key), value]);
    }
    if (entries.length > 1) entries.sort(compareEntries);
    for (let i = 1; i < entries.length; i++) {
      const key = entries[i]![0];
      if (key === entries[i - 1]![0]) throw new UnencodableError(`a Map with the key ${JSON.stringify(key)} twice`);
    }
    this.writer.dict();
    for (const [key, value] of entries) this.entry(key, value);
    this.writer.end();
  }

  private entry(key: string, value: unknown): void {
    this.writer.key(key);
    try {
      this.write(value);
    } catch (err) {
      throw withStep(err, keyStep(key));
    }
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
