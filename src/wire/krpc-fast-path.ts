/**
 * The fast path for KRPC queries (BEP 5): reads a query laid out as clients send it straight from
 * the packet, and steps aside for anything else.
 *
 * What it speeds up: `decodeMessage` (krpc.ts) of the packet a DHT node receives most, a query.
 * Measured gain (docs/performance.md, "Before and after the work on the packet path"):
 * `decodeMessage` of a ping 2.1 -> 0.8 us. It reads the fields with krpc.ts's own tables (passed in
 * as a QuerySchema) and krpc-schema.ts's readColumn, so it can accept nothing the general path
 * would not; tests compare the two on 22,000 valid and corrupted queries. To learn KRPC, read
 * krpc.ts: this module adds speed, not meaning.
 */
import type { BencodeValue } from './bencode.js';
import { BencodeScanner } from './bencode-scanner.js';
import { Fault, readColumn, readField, type FieldType, type Table } from './krpc-schema.js';

/** What the fast path needs of the message tables in krpc.ts. */
export interface QuerySchema<Method extends string> {
  /** Top-level fields besides `t`, `y`, `q` and `a`. */
  readonly envelope: Table<unknown>;
  /** The `a` table of each method. */
  readonly args: { readonly [M in Method]: Table<unknown> };
  /** Each method's name as bytes. */
  readonly methods: readonly { readonly name: Method; readonly bytes: Uint8Array }[];
  /** The rule for `t`. */
  readonly transactionId: FieldType<Uint8Array>;
}

/** A query as the fast path read it: the fields of `schema`, checked by their rows. */
export interface ScannedQuery<Method extends string> {
  t: Uint8Array;
  y: 'q';
  q: Method;
  a: object;
  [envelopeField: string]: unknown;
}


const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
/** What the fast path looks for: a dictionary's start and end, and the top-level keys it handles itself. */
const OPEN = ascii('d');
const CLOSE = ascii('e');
const KEY_A = ascii('a');
const KEY_Q = ascii('q');
const KEY_T = ascii('t');
const KEY_Y = ascii('y');
const Y_QUERY = ascii('q');
/** More arguments than any query table has: the packet holds something the fast path does not know. */
const MAX_FAST_ARGUMENTS = 8;

/**
 * Nearly every packet a node receives is a query laid out as BEP 5 shows them: one dictionary with
 * `a`, `q`, `t`, `y` and perhaps `ip`, `ro`, `v`, keys in order, `a` holding byte strings, integers
 * or lists of byte strings. This reads such a packet straight from its bytes (BencodeScanner),
 * without the general decoder's dictionaries and key strings, and checks every field with the same
 * tables and readColumn as the general path. At the first surprise of any kind (an unknown key, a
 * missing field, a non-canonical number, a field at fault, trailing bytes) it returns undefined and
 * the packet takes the general path, which reads it afresh and names any fault. So it returns
 * nothing the general path would not, and rejects nothing itself.
 */
export function readCanonicalQuery<Method extends string>(packet: Uint8Array, schema: QuerySchema<Method>): ScannedQuery<Method> | undefined {
  if (!(packet instanceof Uint8Array)) return undefined;
  const s = new BencodeScanner(packet);
  if (!s.skip(OPEN)) return undefined;
  const message: Record<string, unknown> = {};
  const envelope = new ColumnReader(schema.envelope, message);
  // `a` comes first but `q` says which table reads it: note where it is, read it once `q` is known.
  let argsAt = -1;
  let method: Method | undefined;
  let t: Uint8Array | undefined;
  let isQuery = false;
  let keyStart = -1;
  let keyEnd = -1;
  while (!s.skip(CLOSE)) {
    if (!s.span() || (keyStart >= 0 && s.compare(keyStart, keyEnd, s.start, s.end) >= 0)) return undefined;
    keyStart = s.start;
    keyEnd = s.end;
    // Keys come sorted, and `a`, which every query has, sorts first of a query's keys: a packet
    // whose first key is another (a reply's `ip` or `r`) is no query, and steps aside at once.
    if (argsAt < 0 && !s.equals(keyStart, keyEnd, KEY_A)) return undefined;
    if (s.equals(keyStart, keyEnd, KEY_A)) {
      argsAt = s.pos + 1;
      if (!s.skip(OPEN) || !s.skipPairs(MAX_FAST_ARGUMENTS)) return undefined;
    } else if (s.equals(keyStart, keyEnd, KEY_Q)) {
      method = s.span() ? methodAt(s, schema.methods) : undefined;
      if (method === undefined) return undefined;
    } else if (s.equals(keyStart, keyEnd, KEY_T)) {
      t = s.string();
      if (t === undefined) return undefined;
    } else if (s.equals(keyStart, keyEnd, KEY_Y)) {
      if (!s.span() || !s.equals(s.start, s.end, Y_QUERY)) return undefined;
      isQuery = true;
    } else {
      const value = s.value();
      if (value === undefined || !envelope.read(s, keyStart, keyEnd, value)) return undefined;
    }
  }
  if (!s.done || !isQuery || method === undefined || t === undefined || argsAt < 0 || !envelope.finish()) return undefined;
  const tid = readField(t, schema.transactionId, 't');
  if (tid instanceof Fault) return undefined;
  const args = {};
  if (!readArguments(s, argsAt, new ColumnReader(schema.args[method], args))) return undefined;
  message.t = tid;
  message.y = 'q';
  message.q = method;
  message.a = args;
  // Every field was read by the row that describes it: t by transactionId, `a` by the table of this very `q`.
  return message as ScannedQuery<Method>;
}

/** methodNamed for the byte string the scanner has just spanned, read in place. */
function methodAt<Method extends string>(s: BencodeScanner, methods: QuerySchema<Method>['methods']): Method | undefined {
  for (const method of methods) if (s.equals(s.start, s.end, method.bytes)) return method.name;
  return undefined;
}

/** The pairs of the `a` dictionary whose first key starts at `at` (checked once already by skipPairs). */
function readArguments(s: BencodeScanner, at: number, reader: ColumnReader): boolean {
  s.pos = at;
  while (!s.skip(CLOSE)) {
    if (!s.span()) return false;
    const keyStart = s.start;
    const keyEnd = s.end;
    const value = s.value();
    if (value === undefined || !reader.read(s, keyStart, keyEnd, value)) return false;
  }
  return reader.finish();
}

/**
 * readTable for the fast path: (key, value) pairs arrive in key order, as do a table's columns,
 * so one walk matches them. Each value goes through readColumn into `into`. Any key that is not a
 * column, any required column passed over (even one a flag would excuse: the general path handles
 * those), any field at fault, and the reader says no.
 */
class ColumnReader {
  private next = 0;

  constructor(
    private readonly rows: Table<unknown>,
    private readonly into: Record<string, unknown>,
  ) {}

  /** The pair whose key is the scanner's input[keyStart, keyEnd). */
  read(s: BencodeScanner, keyStart: number, keyEnd: number, raw: BencodeValue): boolean {
    const columns = this.rows.columns;
    while (this.next < columns.length) {
      const column = columns[this.next++]!;
      if (s.equals(keyStart, keyEnd, column.keyBytes)) {
        const value = readColumn(raw, column);
        if (value instanceof Fault) return false;
        this.into[column.key] = value;
        return true;
      }
      if (column.rule.required) return false;
    }
    return false;
  }

  /** Whether every required column has been read. */
  finish(): boolean {
    const columns = this.rows.columns;
    for (let i = this.next; i < columns.length; i++) if (columns[i]!.rule.required) return false;
    return true;
  }
}
