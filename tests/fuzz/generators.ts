/**
 * What the fuzzer feeds the node: random bytes, valid KRPC messages, and those messages broken in
 * every way a hostile or buggy peer could break them, byte-wise (bit flips, truncation, splicing,
 * length-prefix edits) and structurally (a wrong type or size in any field, unknown message kinds,
 * deep nesting, huge lengths and integers, unsorted and duplicate keys).
 *
 * Every generator draws only from the seeded Prng, so a seed replays the same inputs.
 */
import { encode, type BencodeValue, type Encodable } from '../../src/wire/bencode.js';
import type { NodeInfo, PeerInfo } from '../../src/wire/compact.js';
import {
  encodeMessage,
  makeError,
  makeQuery,
  makeResponse,
  type Envelope,
  type QueryMethod,
  type ResponseBody,
  type Want,
} from '../../src/wire/krpc.js';
import { decode } from '../../src/wire/bencode.js';
import type { Prng } from '../helpers/prng.js';

/** A query the node sent, which a generated packet may answer (to reach the matched-reply path). */
export interface OpenQuery {
  t: Uint8Array;
  to: PeerInfo;
}

/** What generators may know about the run: queries the node has open, tokens it handed out. */
export interface FuzzContext {
  openQueries: readonly OpenQuery[];
  /** Tokens the node gave to each source address in get_peers replies. */
  tokens: ReadonlyMap<string, Uint8Array>;
}

const METHODS: readonly QueryMethod[] = ['ping', 'find_node', 'get_peers', 'announce_peer', 'sample_infohashes', 'get', 'put'];
const ASCII = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

// ---------------------------------------------------------------------------------------------
// Valid messages.
// ---------------------------------------------------------------------------------------------

function id(rng: Prng): Uint8Array {
  return rng.bytes(20);
}

function ipv4(rng: Prng): string {
  return `${1 + rng.int(254)}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
}

function ipv6(rng: Prng): string {
  return `2001:db8:${rng.int(0xffff).toString(16)}::${(1 + rng.int(0xfffe)).toString(16)}`;
}

function peer(rng: Prng, family: 4 | 6 = rng.next() < 0.8 ? 4 : 6): PeerInfo {
  return { address: family === 4 ? ipv4(rng) : ipv6(rng), port: 1 + rng.int(65535) };
}

function nodes(rng: Prng, count: number, family: 4 | 6): NodeInfo[] {
  return Array.from({ length: count }, () => ({ id: id(rng), ...peer(rng, family) }));
}

function want(rng: Prng): Want[] {
  return rng.pick<Want[]>([['n4'], ['n6'], ['n4', 'n6']]);
}

function envelope(rng: Prng): Omit<Envelope, 't'> {
  const extra: Omit<Envelope, 't'> = {};
  if (rng.next() < 0.5) extra.v = rng.bytes(rng.int(6));
  if (rng.next() < 0.2) extra.ip = peer(rng);
  if (rng.next() < 0.1) extra.ro = true;
  return extra;
}

function transactionId(rng: Prng): Uint8Array {
  return rng.bytes(rng.pick([1, 2, 2, 2, 4, 8, 32]));
}

/** A valid query of any method, with a random choice of its optional fields. */
export function validQuery(rng: Prng, ctx: FuzzContext, from: PeerInfo): Uint8Array {
  const t = transactionId(rng);
  const method = rng.pick(METHODS);
  const extra = envelope(rng);
  switch (method) {
    case 'ping':
      return encodeMessage(makeQuery(t, 'ping', { id: id(rng) }, extra));
    case 'find_node':
      return encodeMessage(makeQuery(t, 'find_node', { id: id(rng), target: id(rng), ...(rng.next() < 0.3 ? { want: want(rng) } : {}) }, extra));
    case 'get_peers':
      return encodeMessage(makeQuery(t, 'get_peers', {
        id: id(rng),
        info_hash: rng.next() < 0.5 ? KNOWN_INFO_HASHES[rng.int(KNOWN_INFO_HASHES.length)]! : id(rng),
        ...(rng.next() < 0.3 ? { want: want(rng) } : {}),
        ...(rng.next() < 0.3 ? { scrape: true } : {}),
        ...(rng.next() < 0.2 ? { noseed: true } : {}),
      }, extra));
    case 'announce_peer': {
      // Half the time with the token the node really gave this address, so that peers get stored.
      const token = ctx.tokens.get(from.address) ?? rng.bytes(8);
      const implied = rng.next() < 0.5;
      return encodeMessage(makeQuery(t, 'announce_peer', {
        id: id(rng),
        info_hash: KNOWN_INFO_HASHES[rng.int(KNOWN_INFO_HASHES.length)]!,
        port: rng.next() < 0.05 ? 0 : 1 + rng.int(65535),
        token: rng.next() < 0.8 ? token : rng.bytes(1 + rng.int(64)),
        ...(implied ? { implied_port: true } : {}),
        ...(rng.next() < 0.3 ? { seed: true } : {}),
      }, extra));
    }
    case 'sample_infohashes':
      return encodeMessage(makeQuery(t, 'sample_infohashes', { id: id(rng), target: id(rng), ...(rng.next() < 0.3 ? { want: want(rng) } : {}) }, extra));
    case 'get':
      return encodeMessage(makeQuery(t, 'get', { id: id(rng), target: rng.next() < 0.5 ? KNOWN_INFO_HASHES[rng.int(KNOWN_INFO_HASHES.length)]! : id(rng), ...(rng.next() < 0.3 ? { seq: rng.int(100) } : {}) }, extra));
    case 'put': {
      // BEP 44: immutable (v alone) or mutable (k, seq, sig), with the token the node gave or not;
      // values up to a little over the BEP's 1,000 bytes, so that error 205 is reached too.
      const mutable = rng.next() < 0.5;
      return encodeMessage(makeQuery(t, 'put', {
        id: id(rng),
        v: encode(rng.bytes(rng.int(1_010))),
        token: ctx.tokens.get(from.address) ?? rng.bytes(8),
        ...(mutable ? { k: rng.bytes(32), seq: rng.int(1_000), sig: rng.bytes(64) } : {}),
        ...(mutable && rng.next() < 0.3 ? { salt: rng.bytes(rng.int(70)) } : {}),
        ...(mutable && rng.next() < 0.2 ? { cas: rng.int(1_000) } : {}),
      }, extra));
    }
  }
}

/** A few info-hashes shared by many inputs, so that announces and lookups meet on the same torrents. */
const KNOWN_INFO_HASHES: readonly Uint8Array[] = Array.from({ length: 16 }, (_, i) => new Uint8Array(20).fill(i + 1));

/** A valid response body with a random choice of every optional field. */
function responseBody(rng: Prng): ResponseBody {
  const body: ResponseBody = { id: id(rng) };
  if (rng.next() < 0.5) body.nodes = nodes(rng, rng.int(17), 4);
  if (rng.next() < 0.2) body.nodes6 = nodes(rng, rng.int(9), 6);
  if (rng.next() < 0.3) body.values = Array.from({ length: rng.int(60) }, () => peer(rng));
  if (rng.next() < 0.4) body.token = rng.bytes(1 + rng.int(20));
  if (rng.next() < 0.1) body.samples = Array.from({ length: rng.int(21) }, () => id(rng));
  if (rng.next() < 0.1) body.interval = rng.int(30_000);
  if (rng.next() < 0.1) body.num = rng.int(1_000_000);
  if (rng.next() < 0.05) { body.BFsd = rng.bytes(256); body.BFpe = rng.bytes(256); }
  if (rng.next() < 0.1) body.v = encode(rng.bytes(rng.int(1_000)));
  if (rng.next() < 0.05) { body.k = rng.bytes(32); body.sig = rng.bytes(64); body.seq = rng.int(1_000); }
  return body;
}

export function validResponse(rng: Prng): Uint8Array {
  return encodeMessage(makeResponse(transactionId(rng), responseBody(rng), envelope(rng)));
}

export function validError(rng: Prng): Uint8Array {
  return encodeMessage(makeError(transactionId(rng), rng.pick([201, 202, 203, 204, 0, -1, 99999]), 'x'.repeat(rng.int(40)), envelope(rng)));
}

/** A reply to a query the node really has open, from the address it was sent to: a valid one or a broken one. */
function replyToOpenQuery(rng: Prng, open: OpenQuery): Uint8Array {
  if (rng.next() < 0.2) return encodeMessage(makeError(open.t, 201, 'no', envelope(rng)));
  return encodeMessage(makeResponse(open.t, responseBody(rng), envelope(rng)));
}

function anyValid(rng: Prng, ctx: FuzzContext, from: PeerInfo): Uint8Array {
  const r = rng.next();
  if (r < 0.6) return validQuery(rng, ctx, from);
  if (r < 0.9) return validResponse(rng);
  return validError(rng);
}

// ---------------------------------------------------------------------------------------------
// Random values and bytes.
// ---------------------------------------------------------------------------------------------

/** Random bytes, mostly short, sometimes longer than any datagram we read. */
export function randomBytes(rng: Prng): Uint8Array {
  const r = rng.next();
  const length = r < 0.7 ? rng.int(64) : r < 0.95 ? rng.int(1_500) : 1_500 + rng.int(3_000);
  return rng.bytes(length);
}

/** A random bencode value of a random type: the "wrong type or size" dropped into a field. */
export function randomValue(rng: Prng, depth = 0): Encodable {
  const r = rng.next();
  if (r < 0.3) return randomInteger(rng);
  if (r < 0.7 || depth > 3) return rng.bytes(rng.pick([0, 1, 2, 5, 6, 7, 18, 19, 20, 21, 25, 26, 27, 38, 255, 256, 257, rng.int(400)]));
  if (r < 0.85) return Array.from({ length: rng.int(6) }, () => randomValue(rng, depth + 1));
  // Null prototype, as decoded dictionaries have: `__proto__` is one of the keys drawn.
  const dict = Object.create(null) as Record<string, Encodable>;
  for (let i = rng.int(5); i > 0; i--) dict[rng.pick(FIELD_NAMES)] = randomValue(rng, depth + 1);
  return dict;
}

/** Integers at every edge: 0, -1, ports, flags, 2^31, 2^53, and 60-digit bigints. */
function randomInteger(rng: Prng): number | bigint {
  return rng.pick<() => number | bigint>([
    () => 0,
    () => 1,
    () => -1,
    () => rng.int(70_000),
    () => 65_536,
    () => 2 ** 31,
    () => -(2 ** 31),
    () => Number.MAX_SAFE_INTEGER,
    () => Number.MIN_SAFE_INTEGER,
    () => 2n ** 64n,
    () => -(10n ** 60n),
    () => BigInt(`1${'0'.repeat(rng.int(200))}`),
  ])();
}

/** Every key any KRPC message uses, and a few no message does. */
const FIELD_NAMES = [
  't', 'y', 'q', 'r', 'a', 'e', 'v', 'ip', 'ro', 'id', 'target', 'info_hash', 'port', 'token', 'implied_port',
  'seed', 'scrape', 'noseed', 'want', 'nodes', 'nodes6', 'values', 'samples', 'interval', 'num', 'BFsd', 'BFpe',
  'p', 'unknown', '__proto__', 'constructor', '',
];

/** The fields a message of each kind carries, as paths from the top-level dictionary. */
const QUERY_FIELDS = ['t', 'y', 'q', 'a', 'v', 'ip', 'ro', 'a.id', 'a.target', 'a.info_hash', 'a.port', 'a.token', 'a.implied_port', 'a.seed', 'a.scrape', 'a.noseed', 'a.want'];
const RESPONSE_FIELDS = ['t', 'y', 'r', 'v', 'ip', 'ro', 'r.id', 'r.nodes', 'r.nodes6', 'r.values', 'r.token', 'r.samples', 'r.interval', 'r.num', 'r.BFsd', 'r.BFpe'];
const ERROR_FIELDS = ['t', 'y', 'e', 'v'];

// ---------------------------------------------------------------------------------------------
// Structural mutations: decode a valid message, change its tree, encode it again.
// ---------------------------------------------------------------------------------------------

type Tree = { [key: string]: BencodeValue };

function tree(bytes: Uint8Array): Tree {
  return decode(bytes) as Tree;
}

function isDictValue(v: BencodeValue | undefined): v is Tree {
  return typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v);
}

/** Set (or create) the field at `path` ("a.port") to `value`. */
function setPath(message: Tree, path: string, value: Encodable): void {
  const [head, tail] = path.split('.') as [string, string | undefined];
  if (tail === undefined) { (message as Record<string, Encodable>)[head] = value; return; }
  const inner = message[head];
  const dict: Tree = isDictValue(inner) ? inner : Object.create(null) as Tree;
  (dict as Record<string, Encodable>)[tail] = value;
  message[head] = dict;
}

function deletePath(message: Tree, path: string): void {
  const [head, tail] = path.split('.') as [string, string | undefined];
  if (tail === undefined) { delete message[head]; return; }
  const inner = message[head];
  if (isDictValue(inner)) delete inner[tail];
}

/** A message with one of its fields given a wrong type or size (or taken away). */
function wrongField(rng: Prng, base: Uint8Array): Uint8Array {
  const message = tree(base);
  const kind = message.y instanceof Uint8Array ? String.fromCharCode(...message.y) : 'q';
  const fields = kind === 'r' ? RESPONSE_FIELDS : kind === 'e' ? ERROR_FIELDS : QUERY_FIELDS;
  const path = rng.pick(fields);
  if (rng.next() < 0.15) deletePath(message, path);
  else setPath(message, path, randomValue(rng));
  return encode(message as Encodable);
}

/** Unknown message kinds: `y` other than q/r/e, `q` naming no method we know (BEP 44's `get`, garbage...). */
function unknownKind(rng: Prng, base: Uint8Array): Uint8Array {
  const message = tree(base);
  if (rng.next() < 0.5) {
    message.y = rng.pick([ASCII('x'), ASCII('qq'), ASCII(''), ASCII('Q'), rng.bytes(1 + rng.int(4))]);
  } else {
    message.y = ASCII('q');
    message.q = rng.pick([ASCII('get'), ASCII('put'), ASCII('vote'), ASCII('PING'), ASCII('ping\0'), ASCII('x'.repeat(200)), rng.bytes(rng.int(30))]);
    if (!isDictValue(message.a)) message.a = Object.assign(Object.create(null) as Tree, { id: rng.bytes(20) });
  }
  return encode(message as Encodable);
}

/** Fields no BEP defines, in numbers: they must be ignored, not cost us anything. */
function extraFields(rng: Prng, base: Uint8Array): Uint8Array {
  const message = tree(base);
  for (let i = 1 + rng.int(20); i > 0; i--) (message as Record<string, Encodable>)[`x${rng.int(1000)}`] = randomValue(rng);
  return encode(message as Encodable);
}

/** Nesting far deeper than any message needs, in a field or as the whole message. */
function deepNesting(rng: Prng, base: Uint8Array): Uint8Array {
  const depth = rng.pick([6, 8, 9, 10, 64, 65, 500, 3_000, 20_000]);
  const open = rng.next() < 0.5 ? 'l' : 'd1:a';
  const nested = open.repeat(depth) + '0:' + 'e'.repeat(depth);
  if (rng.next() < 0.3) return ASCII(nested);
  // Our encoder refuses such depths, so a marker goes in the field and the nest replaces its encoding.
  const message = tree(base);
  setPath(message, rng.pick([...QUERY_FIELDS, ...RESPONSE_FIELDS]), NEST_MARKER);
  const text = Buffer.from(encode(message as Encodable)).toString('latin1');
  return ASCII(text.replace(`${NEST_MARKER.length}:${Buffer.from(NEST_MARKER).toString('latin1')}`, nested));
}
const NEST_MARKER = ASCII('\0nest\0');

/** Dictionaries with keys out of order or twice: written by hand, as our encoder refuses to. */
function badKeyOrder(rng: Prng, base: Uint8Array): Uint8Array {
  const message = tree(base);
  const entries = Object.entries(message).map(([k, v]) => [k, encode(v as Encodable)] as const);
  if (rng.next() < 0.5) entries.reverse();
  else if (entries.length > 0) entries.push(entries[rng.int(entries.length)]!);
  const parts: Uint8Array[] = [ASCII('d')];
  for (const [k, v] of entries) parts.push(ASCII(`${k.length}:${k}`), v);
  parts.push(ASCII('e'));
  return new Uint8Array(Buffer.concat(parts));
}

// ---------------------------------------------------------------------------------------------
// Byte mutations of valid messages.
// ---------------------------------------------------------------------------------------------

function bitFlips(rng: Prng, base: Uint8Array): Uint8Array {
  const out = base.slice();
  if (out.length === 0) return out;
  for (let i = 1 + rng.int(8); i > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
}

function byteEdits(rng: Prng, base: Uint8Array): Uint8Array {
  const out = base.slice();
  if (out.length === 0) return out;
  const chars = ASCII('0123456789:ilde-');
  for (let i = 1 + rng.int(4); i > 0; i--) out[rng.int(out.length)] = rng.next() < 0.5 ? rng.pick([...chars]) : rng.int(256);
  return out;
}

function truncate(rng: Prng, base: Uint8Array): Uint8Array {
  return base.slice(0, rng.int(base.length + 1));
}

function insertOrDelete(rng: Prng, base: Uint8Array): Uint8Array {
  const at = rng.int(base.length + 1);
  if (rng.next() < 0.5) return concat(base.subarray(0, at), rng.bytes(1 + rng.int(16)), base.subarray(at));
  return concat(base.subarray(0, at), base.subarray(Math.min(base.length, at + 1 + rng.int(16))));
}

/** The start of one message and the end of another: a mangled datagram, or two glued together. */
function splice(rng: Prng, a: Uint8Array, b: Uint8Array): Uint8Array {
  if (rng.next() < 0.2) return concat(a, b);
  return concat(a.subarray(0, rng.int(a.length + 1)), b.subarray(rng.int(b.length + 1)));
}

/** Change one `<length>:` prefix to a length that lies: off by one, zero, negative, huge. */
function lengthEdit(rng: Prng, base: Uint8Array): Uint8Array {
  const text = Buffer.from(base).toString('latin1');
  const prefixes = [...text.matchAll(/(\d+):/g)];
  if (prefixes.length === 0) return base;
  const m = rng.pick(prefixes);
  const n = Number(m[1]);
  const lie = rng.pick([String(n + 1), String(Math.max(0, n - 1)), '0', String(n + 1_000), '-1', '01', '99999999999999999999', '4294967296', String(2 ** 53 + 1)]);
  return ASCII(text.slice(0, m.index) + lie + text.slice(m.index! + m[1]!.length));
}

/** Change one integer to a huge, negative, malformed or non-canonical one. */
function integerEdit(rng: Prng, base: Uint8Array): Uint8Array {
  const text = Buffer.from(base).toString('latin1');
  const ints = [...text.matchAll(/i(-?\d+)e/g)];
  const digits = rng.pick(['9'.repeat(1 + rng.int(400)), '-0', '00', '01', '-', '', '1.5', '1e9', String(2 ** 53), '-9007199254740993', ` ${rng.int(9)}`]);
  if (ints.length === 0) return ASCII(`${text.slice(0, -1)}1:xi${digits}ee`);
  const m = rng.pick(ints);
  return ASCII(text.slice(0, m.index! + 1) + digits + text.slice(m.index! + 1 + m[1]!.length));
}

/** A byte string that claims gigabytes, or an integer of thousands of digits, in place of the message. */
function hugeClaims(rng: Prng): Uint8Array {
  return rng.pick([
    () => ASCII(`d1:t2:aa1:y1:q1:q4:ping1:ad2:id${'9'.repeat(1 + rng.int(30))}:`),
    () => ASCII(`${2 ** 31}:abc`),
    () => ASCII(`d1:ti${'9'.repeat(rng.int(1_400))}e1:y1:qe`),
    () => ASCII(`l${'i1e'.repeat(rng.int(600))}e`),
    () => ASCII(`d${Array.from({ length: 1 + rng.int(300) }, (_, i) => `2:${String(i % 100).padStart(2, '0')}0:`).join('')}e`),
  ])();
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** The byte-wise mutations, for the other parsers' fuzzing (tests/fuzz/parsers.ts). */
export const BYTE_MUTATIONS: ReadonlyArray<{ name: string; mutate: (rng: Prng, base: Uint8Array) => Uint8Array }> = [
  { name: 'bit-flips', mutate: bitFlips },
  { name: 'byte-edits', mutate: byteEdits },
  { name: 'truncation', mutate: truncate },
  { name: 'insert-delete', mutate: insertOrDelete },
  { name: 'length-prefix', mutate: lengthEdit },
  { name: 'integer-edit', mutate: integerEdit },
];

// ---------------------------------------------------------------------------------------------
// The menu.
// ---------------------------------------------------------------------------------------------

type Generator = (rng: Prng, ctx: FuzzContext, from: PeerInfo) => Uint8Array;

/** Generators and their weights: about one input in five is valid, the rest broken. */
export const GENERATORS: ReadonlyArray<{ name: string; weight: number; make: Generator }> = [
  { name: 'valid', weight: 14, make: anyValid },
  { name: 'reply-to-open-query', weight: 4, make: (rng, ctx, from) => {
    const open = ctx.openQueries.find((q) => q.to.address === from.address && q.to.port === from.port);
    return open === undefined ? validResponse(rng) : replyToOpenQuery(rng, open);
  } },
  { name: 'random-bytes', weight: 8, make: (rng) => randomBytes(rng) },
  { name: 'random-bencode', weight: 5, make: (rng) => encode(randomValue(rng)) },
  { name: 'wrong-field', weight: 16, make: (rng, ctx, from) => wrongField(rng, anyValid(rng, ctx, from)) },
  { name: 'unknown-kind', weight: 4, make: (rng, ctx, from) => unknownKind(rng, validQuery(rng, ctx, from)) },
  { name: 'extra-fields', weight: 3, make: (rng, ctx, from) => extraFields(rng, anyValid(rng, ctx, from)) },
  { name: 'deep-nesting', weight: 3, make: (rng, ctx, from) => deepNesting(rng, anyValid(rng, ctx, from)) },
  { name: 'bad-key-order', weight: 3, make: (rng, ctx, from) => badKeyOrder(rng, anyValid(rng, ctx, from)) },
  { name: 'bit-flips', weight: 10, make: (rng, ctx, from) => bitFlips(rng, anyValid(rng, ctx, from)) },
  { name: 'byte-edits', weight: 6, make: (rng, ctx, from) => byteEdits(rng, anyValid(rng, ctx, from)) },
  { name: 'truncation', weight: 6, make: (rng, ctx, from) => truncate(rng, anyValid(rng, ctx, from)) },
  { name: 'insert-delete', weight: 4, make: (rng, ctx, from) => insertOrDelete(rng, anyValid(rng, ctx, from)) },
  { name: 'splice', weight: 4, make: (rng, ctx, from) => splice(rng, anyValid(rng, ctx, from), anyValid(rng, ctx, from)) },
  { name: 'length-prefix', weight: 6, make: (rng, ctx, from) => lengthEdit(rng, anyValid(rng, ctx, from)) },
  { name: 'integer-edit', weight: 4, make: (rng, ctx, from) => integerEdit(rng, anyValid(rng, ctx, from)) },
  { name: 'huge-claims', weight: 2, make: (rng) => hugeClaims(rng) },
];

const TOTAL_WEIGHT = GENERATORS.reduce((sum, g) => sum + g.weight, 0);

export type GeneratorEntry = (typeof GENERATORS)[number];

/** A generator, picked by weight. */
export function pickGenerator(rng: Prng): GeneratorEntry {
  let pick = rng.next() * TOTAL_WEIGHT;
  for (const g of GENERATORS) {
    pick -= g.weight;
    if (pick < 0) return g;
  }
  return GENERATORS[GENERATORS.length - 1]!;
}
