/**
 * A streaming bencode writer: writes straight into one growing buffer, in the order the caller
 * gives, and hands out finished values from a shared slab.
 *
 * What it speeds up: encoding KRPC messages (krpc.ts encodeMessage), every reply a node sends.
 * Measured gain (docs/performance.md, "Before and after the work on the packet path"): encoding a
 * ping reply 3.9 -> 1.0 us, most of it from the slab (a fresh Uint8Array over 64 bytes costs ~0.7 us).
 */
import {
  CHAR_D,
  CHAR_E,
  CHAR_I,
  CHAR_L,
  COLON,
  MINUS,
  SHORT_STRING,
  CHAR_0,
  decimalLength,
  isLatin1,
  utf8Length,
} from './bencode-grammar.js';


/** Marks an open list on the writer's stack; an open dictionary holds its last key (or FIRST_KEY). */
const IN_LIST = null;
const FIRST_KEY = undefined;

/**
 * Writes bencoding straight into one growing buffer, for code that knows the shape of what it
 * writes (a KRPC message, say) and so needs neither an intermediate object nor `encode`'s key sort.
 * The caller writes keys in sorted order (BEP 3); the writer checks that they are, and that every
 * list and dictionary is closed, so it can only ever produce canonical bencoding or a TypeError.
 *
 *   new BencodeWriter().dict().key('id').bytes(id).key('port').int(6881).end().finish()
 *
 * One writer can be reused: `finish()` returns a copy of what was written and starts afresh, and
 * `reset()` drops a half-written value (after a caller's error, say).
 */
export class BencodeWriter {
  private out: Uint8Array;
  /** A Buffer view of `out` for its native UTF-8 writer; made only when a long string needs it. */
  private outBuffer: Buffer | undefined;
  private pos = 0;
  /** One entry per open container: IN_LIST, or the dictionary's last key so far. */
  private readonly open: (string | typeof IN_LIST | typeof FIRST_KEY)[] = [];

  constructor(initialCapacity = 512) {
    this.out = new Uint8Array(Math.max(16, initialCapacity));
  }

  dict(): this {
    this.reserve(1);
    this.out[this.pos++] = CHAR_D;
    this.open.push(FIRST_KEY);
    return this;
  }

  list(): this {
    this.reserve(1);
    this.out[this.pos++] = CHAR_L;
    this.open.push(IN_LIST);
    return this;
  }

  /** Close the innermost list or dictionary. */
  end(): this {
    if (this.open.length === 0) throw new TypeError('bencode: end() with nothing open');
    this.open.pop();
    this.reserve(1);
    this.out[this.pos++] = CHAR_E;
    return this;
  }

  /** A dictionary key: a latin1 byte string (like decoded keys) that sorts after the previous one. */
  key(key: string): this {
    const depth = this.open.length - 1;
    const previous = this.open[depth];
    if (depth < 0 || previous === IN_LIST) throw new TypeError(`bencode: key ${JSON.stringify(key)} outside a dictionary`);
    if (previous !== FIRST_KEY && key <= previous) {
      throw new TypeError(`bencode: key ${JSON.stringify(key)} after ${JSON.stringify(previous)} (keys must be sorted and unique)`);
    }
    if (!isLatin1(key)) throw new TypeError(`bencode: a key with a char above 0xFF (${JSON.stringify(key)})`);
    this.open[depth] = key;
    this.reserve(MAX_LENGTH_PREFIX + key.length);
    this.pos = writeLengthAt(this.out, this.pos, key.length);
    for (let i = 0; i < key.length; i++) this.out[this.pos++] = key.charCodeAt(i);
    return this;
  }

  /** A byte string. */
  bytes(bytes: Uint8Array): this {
    this.reserve(MAX_LENGTH_PREFIX + bytes.length);
    const out = this.out;
    let pos = writeLengthAt(out, this.pos, bytes.length);
    if (bytes.length <= SHORT_STRING) {
      for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i]!;
    } else {
      out.set(bytes, pos);
      pos += bytes.length;
    }
    this.pos = pos;
    return this;
  }

  /**
   * Splice in a value that is already bencoded, byte for byte: BEP 44's `v`, whose exact bytes are
   * what its target hashes and its signature covers. The caller vouches that they are one value.
   */
  raw(encoded: Uint8Array): this {
    this.reserve(encoded.length);
    this.out.set(encoded, this.pos);
    this.pos += encoded.length;
    return this;
  }

  /** A JS string, as its UTF-8 bytes (like `encode`). */
  text(s: string): this {
    const length = utf8Length(s);
    this.reserve(MAX_LENGTH_PREFIX + length);
    this.pos = writeLengthAt(this.out, this.pos, length);
    if (length === s.length && length <= SHORT_STRING) {
      for (let i = 0; i < length; i++) this.out[this.pos++] = s.charCodeAt(i);
    } else {
      this.outBuffer ??= Buffer.from(this.out.buffer, this.out.byteOffset, this.out.length);
      this.pos += this.outBuffer.write(s, this.pos, length, 'utf8');
    }
    return this;
  }

  /** An integer; a TypeError for anything else, as in `encode` (bencoding has no floats). */
  int(n: number | bigint): this {
    if (typeof n === 'bigint') return this.ascii(`i${n}e`);
    if (!Number.isInteger(n)) throw new TypeError(`bencode: cannot encode a non-integer number (${n})`);
    if (!Number.isSafeInteger(n)) return this.ascii(`i${BigInt(n)}e`);
    this.reserve(MAX_SAFE_INTEGER_BYTES);
    const out = this.out;
    out[this.pos++] = CHAR_I;
    if (n < 0) {
      out[this.pos++] = MINUS;
      n = -n;
    }
    this.pos = writeDecimalAt(out, this.pos, n);
    out[this.pos++] = CHAR_E;
    return this;
  }

  /**
   * The bytes written since the last finish() or reset(), copied out; the writer starts afresh.
   * A small result is a view into a shared slab (see allocate), so its `.buffer` is the slab's.
   */
  finish(): Uint8Array {
    this.checkClosed('finish');
    const result = allocate(this.pos);
    result.set(this.out.subarray(0, this.pos));
    this.pos = 0;
    return result;
  }

  /** finish(), but into an ArrayBuffer of exactly its size: a result kept for long holds no slab. */
  finishOwned(): Uint8Array {
    this.checkClosed('finishOwned');
    const result = this.out.slice(0, this.pos);
    this.pos = 0;
    return result;
  }

  private checkClosed(method: string): void {
    if (this.open.length > 0) throw new TypeError(`bencode: ${method}() with ${this.open.length} list(s) or dictionaries still open`);
  }

  /** Drop whatever was written since the last finish(). */
  reset(): this {
    this.pos = 0;
    this.open.length = 0;
    return this;
  }

  private ascii(s: string): this {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.out[this.pos++] = s.charCodeAt(i);
    return this;
  }

  /** Make room for `bytes` more bytes, doubling the buffer as often as needed. */
  private reserve(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.out.length) return;
    let size = this.out.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.out.subarray(0, this.pos));
    this.out = grown;
    this.outBuffer = undefined;
  }
}

/**
 * Memory for finished values. A fresh `new Uint8Array(n)` of more than 64 bytes gets its own
 * off-heap ArrayBuffer, which costs more than encoding a whole KRPC reply; like Node's Buffer pool,
 * small results are instead carved out of a shared slab. A kept result keeps its slab (8 KB) alive.
 */
const SLAB_BYTES = 8192;
const MAX_SLAB_ALLOCATION = SLAB_BYTES / 4;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function allocate(size: number): Uint8Array {
  if (size > MAX_SLAB_ALLOCATION) return new Uint8Array(size);
  if (slabUsed + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Uint8Array(slab, slabUsed, size);
  // Keep each view 8-byte aligned, as Buffer's pool does: DataViews and wider typed arrays stay cheap.
  slabUsed += (size + 7) & ~7;
  return view;
}

/** Room for `<length>:` of any byte string an array can hold (up to 2^53: 16 digits and the colon). */
const MAX_LENGTH_PREFIX = 17;
/** Room for `i-<16 digits>e`. */
const MAX_SAFE_INTEGER_BYTES = 19;

/** Write `<length>:` at `pos`; return the position after it. */
function writeLengthAt(out: Uint8Array, pos: number, length: number): number {
  pos = writeDecimalAt(out, pos, length);
  out[pos] = COLON;
  return pos + 1;
}

/** Write the base-ten digits of a non-negative safe integer at `pos`; return the position after them. */
function writeDecimalAt(out: Uint8Array, pos: number, n: number): number {
  const end = pos + decimalLength(n);
  let at = end;
  do {
    const digit = n % 10;
    out[--at] = CHAR_0 + digit;
    n = (n - digit) / 10;
  } while (n > 0);
  return end;
}
