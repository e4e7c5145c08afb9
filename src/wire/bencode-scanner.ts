/**
 * A bencode scanner for fast paths: reads a value of a known shape in place, without the general
 * decoder's dictionaries and key strings, and steps aside (undefined) at anything unusual.
 *
 * What it speeds up: reading a KRPC query (krpc-fast-path.ts), the packet a DHT node receives most.
 * Measured gain (docs/performance.md, "Before and after the work on the packet path"):
 * `decodeMessage` of a ping 2.1 -> 0.8 us. Nothing here is needed to understand bencoding: bencode.ts
 * is the reference, and the scanner accepts only what `decode` reads the same way.
 */
import { CHAR_0, CHAR_9, CHAR_E, CHAR_I, CHAR_L, COLON, MAX_EXACT_DIGITS, MINUS } from './bencode-grammar.js';

/** Lists longer than this are left to `decode`, so a scanner never reads past any decoder limit. */
const MAX_SCANNED_LIST = 64;

/**
 * A cursor over one input for code that expects a known shape (a KRPC query, say) and wants to
 * read it without building the general decoder's dictionaries. It reads byte strings, integers
 * and flat lists of byte strings, only in canonical form and only integers of up to 15 digits, and
 * answers undefined (or false) to anything else instead of throwing. What it accepts it reads
 * exactly as `decode` would, so a caller can try it and leave everything else to `decode`, which
 * then names the fault. Byte strings are views into the input, as `decode`'s are.
 */
export class BencodeScanner {
  /** Index of the next unread byte. */
  pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Whether every byte has been read. */
  get done(): boolean {
    return this.pos === this.bytes.length;
  }

  /** The next byte, not consumed (undefined at the end). */
  peek(): number | undefined {
    return this.bytes[this.pos];
  }

  /** Step over `expected` if the input continues with exactly these bytes. */
  skip(expected: Uint8Array): boolean {
    const bytes = this.bytes;
    const pos = this.pos;
    if (expected.length > bytes.length - pos) return false;
    for (let i = 0; i < expected.length; i++) if (bytes[pos + i] !== expected[i]) return false;
    this.pos = pos + expected.length;
    return true;
  }

  /** `<length>:<bytes>`, its length without a leading zero. */
  string(): Uint8Array | undefined {
    if (!this.span()) return undefined;
    // A plain Uint8Array whatever the input's class (a Buffer's subarray() would be a Buffer), as in
    // Decoder; made directly, since subarray() goes through a species lookup.
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.start, this.end - this.start);
  }

  /** Where the last span() found its byte string: input[start, end). */
  start = 0;
  end = 0;

  /** string() without making a view: the string's bounds go to `start` and `end`. */
  span(): boolean {
    const bytes = this.bytes;
    let pos = this.pos;
    if (bytes[pos] === CHAR_0 && bytes[pos + 1] !== COLON) return false;
    let length = 0;
    let c = bytes[pos];
    if (c === undefined || c < CHAR_0 || c > CHAR_9) return false;
    while (c !== undefined && c >= CHAR_0 && c <= CHAR_9) {
      length = length * 10 + (c - CHAR_0);
      if (length > bytes.length) return false;
      c = bytes[++pos];
    }
    if (c !== COLON || length > bytes.length - pos - 1) return false;
    this.start = pos + 1;
    this.end = this.start + length;
    this.pos = this.end;
    return true;
  }

  /** Whether input[start, end) holds exactly the bytes of `expected`. */
  equals(start: number, end: number, expected: Uint8Array): boolean {
    if (end - start !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (this.bytes[start + i] !== expected[i]) return false;
    return true;
  }

  /** Byte order (BEP 3's key order) of input[a, aEnd) and input[b, bEnd): negative if the first sorts first. */
  compare(a: number, aEnd: number, b: number, bEnd: number): number {
    const n = Math.min(aEnd - a, bEnd - b);
    for (let i = 0; i < n; i++) {
      const d = this.bytes[a + i]! - this.bytes[b + i]!;
      if (d !== 0) return d;
    }
    return aEnd - a - (bEnd - b);
  }

  /** `i<digits>e`: no leading zero, no `-0`, at most 15 digits (so it is exactly a number). */
  integer(): number | undefined {
    const bytes = this.bytes;
    let pos = this.pos;
    if (bytes[pos] !== CHAR_I) return undefined;
    const negative = bytes[++pos] === MINUS;
    if (negative) pos++;
    const digitsStart = pos;
    let n = 0;
    let c = bytes[pos];
    while (c !== undefined && c >= CHAR_0 && c <= CHAR_9) {
      n = n * 10 + (c - CHAR_0);
      c = bytes[++pos];
    }
    const digits = pos - digitsStart;
    if (c !== CHAR_E || digits === 0 || digits > MAX_EXACT_DIGITS) return undefined;
    if (bytes[digitsStart] === CHAR_0 && (digits > 1 || negative)) return undefined;
    this.pos = pos + 1;
    return negative ? -n : n;
  }

  /** `l<byte strings>e`, at most 64 of them. */
  list(): Uint8Array[] | undefined {
    if (this.bytes[this.pos] !== CHAR_L) return undefined;
    const start = this.pos;
    this.pos++;
    const items: Uint8Array[] = [];
    while (this.bytes[this.pos] !== CHAR_E) {
      const item = items.length < MAX_SCANNED_LIST ? this.string() : undefined;
      if (item === undefined) {
        this.pos = start;
        return undefined;
      }
      items.push(item);
    }
    this.pos++;
    return items;
  }

  /** A byte string, an integer or a list of byte strings, whichever comes next. */
  value(): Uint8Array | number | Uint8Array[] | undefined {
    const c = this.bytes[this.pos];
    if (c === CHAR_I) return this.integer();
    if (c === CHAR_L) return this.list();
    return this.string();
  }

  /**
   * Step over a dictionary's (key, value) pairs, from after its `d` to after its `e`, checking what
   * value() and span() would; keys must come in strictly increasing order (so none repeats).
   */
  skipPairs(maxPairs: number): boolean {
    let previousStart = -1;
    let previousEnd = -1;
    for (let pairs = 0; this.bytes[this.pos] !== CHAR_E; pairs++) {
      if (pairs === maxPairs || !this.span()) return false;
      if (previousStart >= 0 && this.compare(previousStart, previousEnd, this.start, this.end) >= 0) return false;
      previousStart = this.start;
      previousEnd = this.end;
      if (!this.skipValue()) return false;
    }
    this.pos++;
    return true;
  }

  /** value() without making anything. */
  private skipValue(): boolean {
    const c = this.bytes[this.pos];
    if (c === CHAR_I) return this.integer() !== undefined;
    if (c !== CHAR_L) return this.span();
    const start = this.pos++;
    for (let items = 0; this.bytes[this.pos] !== CHAR_E; items++) {
      if (items === MAX_SCANNED_LIST || !this.span()) {
        this.pos = start;
        return false;
      }
    }
    this.pos++;
    return true;
  }
}
