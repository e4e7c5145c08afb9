/**
 * KRPC messages (BEP 5, "KRPC Protocol"), with the extensions of BEP 32 (IPv6 `nodes6`, `want`),
 * BEP 33 (`scrape`, `noseed`, `seed`, `BFsd`, `BFpe`), BEP 42 (`ip`), BEP 43 (`ro`), BEP 44 (`get`
 * and `put`) and BEP 51 (`sample_infohashes`).
 *
 * A KRPC message is one bencoded dictionary in one UDP datagram. Everything that comes off the
 * network is untrusted, so every field is checked before anyone sees a typed value.
 *
 * How this module is built: each message body is declared as DATA, a table with one row per field
 * (see "The message tables" below): the wire type the field must have, its length rule, whether it
 * is required, and how it converts to and from its typed form. The walkers that check a decoded
 * dictionary against a table (`readTable`) and write typed values back (`writeTable`) live in
 * krpc-schema.ts. Supporting a new BEP field means adding a row, not another `if`.
 *
 * Robustness rules, from BEP 5 and from what real clients send (libtorrent adds `r.p`, a top-level
 * `ip`, sends `values: []` and an `r` dict beside `e`):
 *  - Unknown keys are ignored, never a reason to reject: future BEPs add fields.
 *  - A known field that is present must be well-formed: a wrong type or length is an error naming it.
 *  - Undecodable bytes give an error with no `t`, so a node never answers garbage (answering would
 *    let anyone bounce our traffic at a third party). A malformed *query* with a readable `t` gives
 *    an error with `t` and `y: 'q'`: BEP 5 says such queries get a 203 reply.
 */
import { BencodeError, decode, isDict, type BencodeDict, type BencodeValue, type DecodeOptions } from './bencode.js';
import { BencodeWriter } from './bencode-writer.js';
import { BencodedPeers, COMPACT_NODE_LENGTH, COMPACT_PEER_LENGTH, decodeNodes, decodePeer, encodeNodes, encodePeer, type NodeInfo, type PeerInfo } from './compact.js';
import { ID_LENGTH, bytesEqual, type NodeId } from './id.js';
import { readCanonicalQuery, type QuerySchema } from './krpc-fast-path.js';
import {
  Fault,
  copy,
  describeValue,
  optional,
  readField,
  readTable,
  required,
  requiredUnless,
  same,
  table,
  writeField,
  writeTable,
  type BytesField,
  type EncodedField,
  type IntField,
  type ListField,
  type Schema,
  type Table,
} from './krpc-schema.js';

/** BEP 5 error codes. */
export const ErrorCode = {
  Generic: 201,
  Server: 202,
  Protocol: 203,
  MethodUnknown: 204,
} as const;
/** One of BEP 5's four error codes. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The queries we understand: BEP 5's four, BEP 44's get and put, BEP 51's sample_infohashes. Others get error 204. */
export type QueryMethod = 'ping' | 'find_node' | 'get_peers' | 'announce_peer' | 'sample_infohashes' | 'get' | 'put';
/** BEP 32: which address families the querier wants nodes for. */
export type Want = 'n4' | 'n6';

/** Fields any message may carry besides its body. */
export interface Envelope {
  /** Transaction ID, echoed by the responder. */
  t: Uint8Array;
  /** Client version (BEP 5 / BEP 20 style), e.g. "LT\x02\x00". */
  v?: Uint8Array;
  /** BEP 42: the address the responder saw us at. */
  ip?: PeerInfo;
  /** BEP 43: the querier is read-only and must not be added to routing tables. */
  ro?: boolean;
}

/** The `a` dictionary of each query: always the querier's `id`, plus the method's own arguments. */
export interface PingArgs { id: NodeId }
export interface FindNodeArgs { id: NodeId; target: NodeId; want?: Want[] }
export interface GetPeersArgs { id: NodeId; info_hash: NodeId; want?: Want[]; scrape?: boolean; noseed?: boolean }
export interface AnnouncePeerArgs {
  id: NodeId;
  info_hash: NodeId;
  /** The peer's TCP port. 0 when the announcer set `implied_port` and left `port` out (see below). */
  port: number;
  token: Uint8Array;
  /** Use the UDP source port instead of `port` (BEP 5). */
  implied_port?: boolean;
  /** BEP 33: the announcer is a seed. */
  seed?: boolean;
}
export interface SampleInfohashesArgs { id: NodeId; target: NodeId; want?: Want[] }
/** BEP 44 get: the item's target; with `seq`, a mutable item is only returned if newer than that. */
export interface GetArgs { id: NodeId; target: NodeId; seq?: number; want?: Want[] }
/**
 * BEP 44 put: `v` is the item's bencoded value (its bytes are what is hashed and signed). A mutable
 * item adds its public key `k`, `seq`, `sig`, and maybe `salt` and `cas` (compare and swap).
 */
export interface PutArgs {
  id: NodeId;
  v: Uint8Array;
  token: Uint8Array;
  k?: Uint8Array;
  salt?: Uint8Array;
  seq?: number;
  cas?: number;
  sig?: Uint8Array;
}

/** Each method's arguments, by name: `QueryArgsByMethod['get_peers']` is GetPeersArgs. */
export interface QueryArgsByMethod {
  ping: PingArgs;
  find_node: FindNodeArgs;
  get_peers: GetPeersArgs;
  announce_peer: AnnouncePeerArgs;
  sample_infohashes: SampleInfohashesArgs;
  get: GetArgs;
  put: PutArgs;
}
/** Any query, as a union discriminated by `q`: checking `q` narrows `a` to that method's arguments. */
export type Query = {
  [M in QueryMethod]: Envelope & { y: 'q'; q: M; a: QueryArgsByMethod[M] };
}[QueryMethod];
/** The query of one method. */
export type QueryOf<M extends QueryMethod> = Envelope & { y: 'q'; q: M; a: QueryArgsByMethod[M] };

/** The body of any response. Which fields appear depends on the query it answers. */
export interface ResponseBody {
  id: NodeId;
  nodes?: NodeInfo[];
  nodes6?: NodeInfo[];
  values?: PeerInfo[];
  token?: Uint8Array;
  /** BEP 51: 20-byte info-hash samples. */
  samples?: Uint8Array[];
  /** BEP 51: seconds before this node should be sampled again. */
  interval?: number;
  /** BEP 51: how many info-hashes the node holds. */
  num?: number;
  /** BEP 33: bloom filters of seeds and of downloaders (256 bytes each). */
  BFsd?: Uint8Array;
  BFpe?: Uint8Array;
  /** BEP 44 get: the item's bencoded value. */
  v?: Uint8Array;
  /** BEP 44 get of a mutable item: its public key, signature and sequence number. */
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: number;
}
/** A response (`y` = "r"). */
export type Response = Envelope & { y: 'r'; r: ResponseBody };
/**
 * What we send as a response body: a ResponseBody whose `values` may also be the store's peers
 * already in wire form (BencodedPeers), so that answering a get_peers costs no work per peer.
 */
export type ReplyBody = Omit<ResponseBody, 'values'> & { values?: PeerInfo[] | BencodedPeers };
/** A response as we send it (see ReplyBody). */
export type Reply = Envelope & { y: 'r'; r: ReplyBody };
/** An error reply (`y` = "e"): BEP 5's `[code, message]` list, read into an object. */
export type ErrorMessage = Envelope & { y: 'e'; e: { code: number; message: string } };
/** Any KRPC message; `y` tells which. */
export type Message = Query | Response | ErrorMessage;

/** Why a decoded value is not a valid KRPC message. `field` names the culprit (e.g. "a.info_hash"). */
export class KrpcError extends Error {
  readonly code: ErrorCodeValue;
  readonly field: string | undefined;
  /** The transaction ID, when one could be read: a malformed *query* with a `t` deserves an error reply. */
  readonly t: Uint8Array | undefined;
  /** 'q' when the message was recognisably a query. */
  readonly y: 'q' | 'r' | 'e' | undefined;
  constructor(code: ErrorCodeValue, message: string, field?: string, t?: Uint8Array, y?: 'q' | 'r' | 'e') {
    super(message);
    this.name = 'KrpcError';
    this.code = code;
    this.field = field;
    this.t = t;
    this.y = y;
  }
}

/** What decodeMessage/parseMessage return: never an exception. */
export type ParseResult = { ok: true; message: Message } | { ok: false; error: KrpcError };

// ---------------------------------------------------------------------------------------------
// Limits.
// ---------------------------------------------------------------------------------------------

/** The bounds this module enforces on what it reads, with the reason for each. */
export const KRPC_LIMITS = {
  /**
   * BEP 5: `t` is "a short string of binary numbers, typically 2 characters". libtorrent sends 2,
   * other clients 4 or 8. Up to 32 leaves room for any of them (even a 20-byte hash) while bounding
   * what we echo back. Empty is rejected: it cannot tell two queries apart.
   */
  maxTransactionIdLength: 32,
  /**
   * BEP 5: the token "should be a short binary string". libtorrent's is 4 bytes, others use a
   * 20-byte SHA-1 or a 32-byte HMAC; 64 covers them and bounds what we store and send back.
   */
  maxTokenLength: 64,
  /**
   * Nesting the bencode decoder allows. A KRPC message needs 3 levels (message dict, then the `a`
   * or `r` dict, then a `values` or `want` list); the rest is room for extension fields we ignore.
   */
  maxDepth: 8,
  /**
   * Values (ints, strings, lists, dicts) the decoder allows in one message. The smallest bencoded
   * value takes 2 bytes (`0:`, `le`), so a packet that fits a 1,500-byte Ethernet frame holds at
   * most 750 of them: a real message (at most ~100 `values` plus a few dozen keys) never comes
   * close, and a crafted one is cut off early.
   */
  maxItems: 1000,
} as const;

/** bencode settings for one UDP packet. `lenient`: some clients send dict keys out of order. */
const PACKET_DECODE_OPTIONS: DecodeOptions = {
  lenient: true,
  maxDepth: KRPC_LIMITS.maxDepth,
  maxItems: KRPC_LIMITS.maxItems,
};

/** BEP 33: each bloom filter is m = 256 * 8 bits. */
const BLOOM_LENGTH = 256;

// ---------------------------------------------------------------------------------------------
// The field types.
// ---------------------------------------------------------------------------------------------

/** A 20-byte node ID or info-hash (BEP 5: "a 20-byte string ... in network byte order"). */
const NODE_ID: BytesField<NodeId> = { wire: 'bytes', length: { exactly: ID_LENGTH }, toValue: copy, toWire: same };

/** BEP 5 `t`. */
const TRANSACTION_ID: BytesField<Uint8Array> = {
  wire: 'bytes',
  length: { min: 1, max: KRPC_LIMITS.maxTransactionIdLength },
  toValue: copy,
  toWire: same,
};

/** BEP 5 get_peers `token`, echoed in announce_peer. */
const TOKEN: BytesField<Uint8Array> = {
  wire: 'bytes',
  length: { min: 1, max: KRPC_LIMITS.maxTokenLength },
  toValue: copy,
  toWire: same,
};

/** Opaque bytes of any length: the client version `v`, shown to people, never interpreted. */
const OPAQUE: BytesField<Uint8Array> = { wire: 'bytes', length: undefined, toValue: copy, toWire: same };

/** BEP 33 `BFsd` / `BFpe`. */
const BLOOM_FILTER: BytesField<Uint8Array> = {
  wire: 'bytes',
  length: { exactly: BLOOM_LENGTH },
  toValue: copy,
  toWire: same,
};

/** BEP 5 `nodes`: compact IPv4 node info, concatenated. An empty string (no nodes) is valid. */
const NODES_V4: BytesField<NodeInfo[]> = {
  wire: 'bytes',
  length: { multipleOf: COMPACT_NODE_LENGTH[4] },
  toValue: (bytes) => decodeNodes(bytes, 4),
  toWire: (nodes) => encodeNodes(nodes, 4),
};

/** BEP 32 `nodes6`: compact IPv6 node info, concatenated. */
const NODES_V6: BytesField<NodeInfo[]> = {
  wire: 'bytes',
  length: { multipleOf: COMPACT_NODE_LENGTH[6] },
  toValue: (bytes) => decodeNodes(bytes, 6),
  toWire: (nodes) => encodeNodes(nodes, 6),
};

/** BEP 42 top-level `ip`: the requester's compact address as the responder saw it. */
const COMPACT_PEER: BytesField<PeerInfo> = {
  wire: 'bytes',
  length: { oneOf: [COMPACT_PEER_LENGTH[4], COMPACT_PEER_LENGTH[6]] },
  toValue: decodePeer,
  toWire: encodePeer,
};

/**
 * BEP 5 get_peers `values`: one compact peer per string. BEP 32: a list may mix 6- and 18-byte
 * entries. An empty list is valid (libtorrent sends one when `noseed` filtered out every peer).
 */
const PEER_LIST: ListField<PeerInfo[]> = {
  wire: 'list',
  itemLength: { oneOf: [COMPACT_PEER_LENGTH[4], COMPACT_PEER_LENGTH[6]] },
  toValue: (items) => items.map((item) => decodePeer(item)),
  toWire: (peers) => peers.map((peer) => encodePeer(peer)),
};

/** `values` as we send them: peer objects, or the store's peers already bencoded (BencodedPeers). */
const PEER_VALUES: ListField<PeerInfo[] | BencodedPeers> = {
  ...PEER_LIST,
  toWire: (peers) => peers instanceof BencodedPeers ? peers.items : PEER_LIST.toWire(peers),
};

/**
 * BEP 51 `samples`: 20-byte info-hashes, concatenated. Each is copied out, so keeping a sample does
 * not keep the whole packet's buffer alive.
 */
const SAMPLES: BytesField<Uint8Array[]> = {
  wire: 'bytes',
  length: { multipleOf: ID_LENGTH },
  toValue: splitSamples,
  toWire: joinSamples,
};

function splitSamples(bytes: Uint8Array): Uint8Array[] {
  const samples: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += ID_LENGTH) samples.push(bytes.slice(at, at + ID_LENGTH));
  return samples;
}

function joinSamples(samples: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(samples.length * ID_LENGTH);
  for (let i = 0; i < samples.length; i++) out.set(samples[i]!, i * ID_LENGTH);
  return out;
}

/**
 * BEP 32 `want`: a list of strings. "n4" asks for `nodes`, "n6" for `nodes6`; "other strings may be
 * present in the list, and must be silently ignored on reception", so only those two are kept.
 */
const WANT_LIST: ListField<Want[]> = {
  wire: 'list',
  itemLength: undefined,
  toValue: readWant,
  toWire: same,
};

function readWant(items: readonly Uint8Array[]): Want[] {
  const want: Want[] = [];
  for (const item of items) {
    // Compare bytes: 'n' then '4' or '6'. No string is built for the strings we ignore.
    if (item.length !== 2 || item[0] !== 0x6e) continue;
    if (item[1] === 0x34) want.push('n4');
    else if (item[1] === 0x36) want.push('n6');
  }
  return want;
}

/**
 * BEP 44 `v`: any bencoded value, kept as its bencoding. The BEP's bound is 1,000 bytes; we read
 * up to 4 KiB so that a put over 1,000 gets the BEP's own error 205, not a schema error.
 */
const ITEM_VALUE: EncodedField<Uint8Array> = { wire: 'any', maxBytes: 4096, toValue: same, toWire: same };
/** BEP 44 `k` (ed25519 public key, 32 bytes) and `sig` (ed25519 signature, 64 bytes). */
const PUBLIC_KEY: BytesField<Uint8Array> = { wire: 'bytes', length: { exactly: 32 }, toValue: copy, toWire: same };
const SIGNATURE: BytesField<Uint8Array> = { wire: 'bytes', length: { exactly: 64 }, toValue: copy, toWire: same };
/** BEP 44 `salt`: any length here; over 64 bytes is answered with the BEP's error 207. */
const SALT: BytesField<Uint8Array> = { wire: 'bytes', length: { min: 0, max: 256 }, toValue: copy, toWire: same };

/** BEP 5 announce_peer `port`. */
const PORT: IntField<number> = { wire: 'int', range: { min: 0, max: 0xffff }, toValue: same, toWire: same };

/** BEP 51 `interval` (seconds) and `num` (info-hashes stored): counts, never negative. */
const COUNT: IntField<number> = {
  wire: 'int',
  range: { min: 0, max: Number.MAX_SAFE_INTEGER },
  toValue: same,
  toWire: same,
};

/**
 * An on/off flag sent as an integer: `implied_port` (BEP 5), `scrape`, `noseed`, `seed` (BEP 33),
 * `ro` (BEP 43). Senders use 1; like BEP 5 says of implied_port ("present and non-zero"), any
 * other non-zero integer reads as set too. A false flag is not sent at all.
 */
const FLAG: IntField<boolean> = {
  wire: 'int',
  range: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  toValue: (n) => n !== 0,
  toWire: (set) => (set ? 1 : undefined),
};

// ---------------------------------------------------------------------------------------------
// The message tables.
// ---------------------------------------------------------------------------------------------

/** Top-level fields besides `t`, `y` and the body (`t` is read first, on its own: see readHead). */
const ENVELOPE = table<Omit<Envelope, 't'>>('', {
  v: optional(OPAQUE),
  ip: optional(COMPACT_PEER), // BEP 42
  ro: optional(FLAG), // BEP 43
});

/** The `a` dictionary of each query, by method name (`q`). */
const QUERY_ARGS: { readonly [M in QueryMethod]: Table<QueryArgsByMethod[M]> } = {
  // BEP 5 "ping": the querier's ID and nothing else.
  ping: table<PingArgs>('a', {
    id: required(NODE_ID),
  }),
  // BEP 5 "find_node"; BEP 32 `want`.
  find_node: table<FindNodeArgs>('a', {
    id: required(NODE_ID),
    target: required(NODE_ID),
    want: optional(WANT_LIST),
  }),
  // BEP 5 "get_peers"; BEP 32 `want`; BEP 33 `scrape` and `noseed`.
  get_peers: table<GetPeersArgs>('a', {
    id: required(NODE_ID),
    info_hash: required(NODE_ID),
    want: optional(WANT_LIST),
    scrape: optional(FLAG),
    noseed: optional(FLAG),
  }),
  // BEP 5 "announce_peer"; BEP 33 `seed`.
  announce_peer: table<AnnouncePeerArgs>('a', {
    id: required(NODE_ID),
    info_hash: required(NODE_ID),
    // With implied_port set, BEP 5 says "the port argument should be ignored". Senders still
    // include it (libtorrent does), but a port left out then is accepted and reads as 0.
    port: requiredUnless('implied_port', 0, PORT),
    token: required(TOKEN),
    implied_port: optional(FLAG),
    seed: optional(FLAG),
  }),
  // BEP 51 "sample_infohashes": `target` steers the keyspace walk, not the samples.
  sample_infohashes: table<SampleInfohashesArgs>('a', {
    id: required(NODE_ID),
    target: required(NODE_ID),
    want: optional(WANT_LIST),
  }),
  // BEP 44 "get message".
  get: table<GetArgs>('a', {
    id: required(NODE_ID),
    target: required(NODE_ID),
    seq: optional(COUNT),
    want: optional(WANT_LIST),
  }),
  // BEP 44 "put message": immutable with `v` alone, mutable with `k`, `seq`, `sig` (and `salt`, `cas`).
  put: table<PutArgs>('a', {
    id: required(NODE_ID),
    v: required(ITEM_VALUE),
    token: required(TOKEN),
    k: optional(PUBLIC_KEY),
    salt: optional(SALT),
    seq: optional(COUNT),
    cas: optional(COUNT),
    sig: optional(SIGNATURE),
  }),
};

/**
 * The `r` dictionary of every response. Which fields appear depends on the query answered, but a
 * response does not say which query it answers (only its `t` does), so one table reads them all.
 */
const RESPONSE_ROWS = {
  id: required(NODE_ID), // BEP 5: every response carries the responder's ID
  nodes: optional(NODES_V4), // BEP 5
  nodes6: optional(NODES_V6), // BEP 32
  values: optional(PEER_LIST), // BEP 5 get_peers
  token: optional(TOKEN), // BEP 5 get_peers (BEP 33: may be left out)
  samples: optional(SAMPLES), // BEP 51
  interval: optional(COUNT), // BEP 51
  num: optional(COUNT), // BEP 51
  BFsd: optional(BLOOM_FILTER), // BEP 33
  BFpe: optional(BLOOM_FILTER), // BEP 33
  v: optional(ITEM_VALUE), // BEP 44 get
  k: optional(PUBLIC_KEY), // BEP 44 get, mutable
  sig: optional(SIGNATURE), // BEP 44 get, mutable
  seq: optional(COUNT), // BEP 44 get, mutable
} as const satisfies Schema<ResponseBody>;
const RESPONSE = table<ResponseBody>('r', RESPONSE_ROWS);
/** The same table for writing: `values` may come already bencoded. */
const REPLY = table<ReplyBody>('r', { ...RESPONSE_ROWS, values: optional(PEER_VALUES) });

/** Each method's name as bytes, so that `q` is recognised without building a string per packet. */
const METHOD_NAMES: readonly { readonly name: QueryMethod; readonly bytes: Uint8Array }[] = (Object.keys(QUERY_ARGS) as QueryMethod[]).map(
  (name) => ({ name, bytes: Uint8Array.from(name, (c) => c.charCodeAt(0)) }),
);

/** The method `q` names, or undefined for one we do not know. */
function methodNamed(q: Uint8Array): QueryMethod | undefined {
  for (const method of METHOD_NAMES) if (bytesEqual(q, method.bytes)) return method.name;
  return undefined;
}


// ---------------------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------------------

/** What a 203 error needs to reach the querier: the `t` to echo and whether it was a query. */
interface ReplyTo {
  readonly t: Uint8Array | undefined;
  readonly y: 'q' | 'r' | 'e' | undefined;
}

/** Nothing to reply to: the message had no usable `t`. */
const NO_REPLY: ReplyTo = { t: undefined, y: undefined };

function protocolError(message: string, field: string | undefined, to: ReplyTo): KrpcError {
  return new KrpcError(ErrorCode.Protocol, message, field, to.t, to.y);
}

// ---------------------------------------------------------------------------------------------
// Parsing a message: the envelope, then the body its `y` announces.
// ---------------------------------------------------------------------------------------------

/** Validate any decoded value against the message schemas. Never throws. */
export function parseMessage(value: BencodeValue): ParseResult {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // see decodeMessage
  let result: Message | KrpcError;
  try {
    result = readMessage(value);
  } catch (error) {
    // Defence in depth: nothing above should throw, but a bug must not take a node down. Report
    // it without a `t`, so that nobody is answered.
    result = new KrpcError(ErrorCode.Protocol, `cannot read message: ${String(error)}`);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  return result instanceof KrpcError ? { ok: false, error: result } : { ok: true, message: result };
}

/**
 * bencode-decode then parse: the fast path if it applies (a query laid out as clients send it,
 * krpc-fast-path.ts), else the parser. Undecodable bytes give a KrpcError with `t` undefined (never
 * replied to).
 */
export function decodeMessage(bytes: Uint8Array): ParseResult {
  const query = canonicalQuery(bytes);
  if (query !== undefined) return { ok: true, message: query };
  return parsePacket(bytes);
}

/** What the query fast path reads with: the tables above. */
const QUERY_SCHEMA: QuerySchema<QueryMethod> = { envelope: ENVELOPE, args: QUERY_ARGS, methods: METHOD_NAMES, transactionId: TRANSACTION_ID };

/** A query read by the fast path, or undefined when the packet must take the parser. Exported for tests. */
export function canonicalQuery(packet: Uint8Array): Query | undefined {
  // Every field was read by the row that describes it: t by TRANSACTION_ID, `a` by the table of this very `q`.
  return readCanonicalQuery(packet, QUERY_SCHEMA) as Query | undefined;
}

/** The general path: decode the packet, then check it against the tables. */
function parsePacket(bytes: Uint8Array): ParseResult {
  // The errors made here describe a packet (a field, a byte offset), not a place in our code, and
  // capturing a stack trace for each would make a garbage packet cost several times a valid query.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let value: BencodeValue;
  try {
    value = decode(bytes, PACKET_DECODE_OPTIONS);
  } catch (error) {
    const reason = error instanceof BencodeError ? error.message : String(error);
    return { ok: false, error: new KrpcError(ErrorCode.Protocol, `undecodable packet: ${reason}`) };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  return parseMessage(value);
}

/** The part of a message after its envelope: what `y` announces. */
type QueryBody = { [M in QueryMethod]: { y: 'q'; q: M; a: QueryArgsByMethod[M] } }[QueryMethod];
type ResponsePart = { y: 'r'; r: ResponseBody };
type ErrorPart = { y: 'e'; e: { code: number; message: string } };

function readMessage(value: BencodeValue): Message | KrpcError {
  if (!isDict(value)) return protocolError('a KRPC message must be a dictionary', undefined, NO_REPLY);
  const head = readHead(value);
  if (head instanceof KrpcError) return head;
  const to: ReplyTo = head;
  const envelope = readTable(value, ENVELOPE, { t: head.t });
  if (envelope instanceof Fault) return protocolError(envelope.message, envelope.field, to);
  const body = readBody(head.y, value, to);
  if (body instanceof KrpcError) return body;
  // The envelope object becomes the message: no copy.
  return Object.assign(envelope, body);
}

/** BEP 5: "q" for query, "r" for response, "e" for error; each has its own body key. */
function readBody(y: 'q' | 'r' | 'e', dict: BencodeDict, to: ReplyTo): QueryBody | ResponsePart | ErrorPart | KrpcError {
  switch (y) {
    case 'q':
      return readQuery(dict, to);
    case 'r':
      return readResponse(dict, to);
    case 'e':
      return readError(dict, to);
  }
}

/**
 * `t` and `y`, read before anything else: they decide whether a fault can be answered (BEP 5: a
 * malformed query gets error 203, echoing its `t`). A bad `t` leaves nothing to echo.
 */
function readHead(dict: BencodeDict): { t: Uint8Array; y: 'q' | 'r' | 'e' } | KrpcError {
  const rawT = dict.t;
  if (rawT === undefined) return protocolError('t is missing', 't', NO_REPLY);
  const t = readField(rawT, TRANSACTION_ID, 't');
  if (t instanceof Fault) return protocolError(t.message, t.field, NO_REPLY);
  // readField checked `t` against TRANSACTION_ID, whose value is the bytes themselves.
  const tid = t as Uint8Array;
  const y = dict.y;
  if (y === undefined) return protocolError('y is missing', 'y', { t: tid, y: undefined });
  if (y instanceof Uint8Array && y.length === 1) {
    if (y[0] === 0x71) return { t: tid, y: 'q' };
    if (y[0] === 0x72) return { t: tid, y: 'r' };
    if (y[0] === 0x65) return { t: tid, y: 'e' };
  }
  return protocolError('y must be "q", "r" or "e"', 'y', { t: tid, y: undefined });
}

/** BEP 5 "Queries": `q` names the method, `a` holds its arguments. Unknown method: error 204. */
function readQuery(dict: BencodeDict, to: ReplyTo): QueryBody | KrpcError {
  const q = dict.q;
  if (!(q instanceof Uint8Array)) {
    const fault = q === undefined ? 'q is missing' : `q must be a byte string, got ${describeValue(q)}`;
    return protocolError(fault, 'q', to);
  }
  const method = methodNamed(q);
  if (method === undefined) {
    return new KrpcError(ErrorCode.MethodUnknown, `unknown method ${JSON.stringify(shortLatin1(q))}`, 'q', to.t, to.y);
  }
  const a = dict.a;
  if (!isDict(a)) {
    const fault = a === undefined ? 'a is missing' : `a must be a dictionary, got ${describeValue(a)}`;
    return protocolError(fault, 'a', to);
  }
  const args: QueryArgsByMethod[QueryMethod] | Fault = readTable(a, QUERY_ARGS[method], {});
  if (args instanceof Fault) return protocolError(args.message, args.field, to);
  // `a` was read with the table of this very `q`; TypeScript cannot follow that correlation.
  return { y: 'q', q: method, a: args } as QueryBody;
}

/** BEP 5 "Responses": the `r` dictionary. */
function readResponse(dict: BencodeDict, to: ReplyTo): ResponsePart | KrpcError {
  const r = dict.r;
  if (!isDict(r)) {
    const fault = r === undefined ? 'r is missing' : `r must be a dictionary, got ${describeValue(r)}`;
    return protocolError(fault, 'r', to);
  }
  const body = readTable(r, RESPONSE, {});
  if (body instanceof Fault) return protocolError(body.message, body.field, to);
  return { y: 'r', r: body };
}

const utf8 = new TextDecoder('utf-8');

/**
 * BEP 5 "Errors": `e` is a list, [code, message]. Read leniently, as error replies are only ever
 * shown to people: a missing message reads as '', extra items are ignored, and an `r` dict beside
 * `e` (libtorrent sends one) is never looked at. The message is UTF-8 for display; bad bytes become
 * U+FFFD rather than failing.
 */
function readError(dict: BencodeDict, to: ReplyTo): ErrorPart | KrpcError {
  const e = dict.e;
  if (!Array.isArray(e)) {
    const fault = e === undefined ? 'e is missing' : `e must be a list, got ${describeValue(e)}`;
    return protocolError(fault, 'e', to);
  }
  const code = e[0];
  if (typeof code !== 'number') {
    const got = typeof code === 'bigint' ? String(code) : describeValue(code);
    return protocolError(`e[0] must be an integer error code, got ${got}`, 'e[0]', to);
  }
  const text = e[1];
  if (text !== undefined && !(text instanceof Uint8Array)) {
    return protocolError(`e[1] must be a byte string, got ${describeValue(text)}`, 'e[1]', to);
  }
  return { y: 'e', e: { code, message: text === undefined ? '' : utf8.decode(text) } };
}

/** The longest method name we know is 17 bytes; reading at most 64 keeps error texts short too. */
const MAX_METHOD_NAME = 64;

/** Bytes as a string of one char per byte, like dictionary keys (see BencodeDict). */
function shortLatin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes.subarray(0, MAX_METHOD_NAME));
}

// ---------------------------------------------------------------------------------------------
// Encoding.
// ---------------------------------------------------------------------------------------------

/**
 * One writer for every message: it writes straight into its buffer (no wire object, no key sort)
 * and checks that keys come in sorted order, so a table or a top-level key out of place is a
 * TypeError here rather than a non-canonical packet. Reused: JavaScript runs one encode at a time.
 */
const writer = new BencodeWriter(2048);

/**
 * The bencoded bytes of a message: NodeInfo[] become a compact string, PeerInfo[] a list of compact
 * strings, samples one concatenated string, true flags the integer 1. Throws (TypeError from the
 * compact encoders) if an address or port cannot be encoded.
 */
export function encodeMessage(message: Message | QueryOf<QueryMethod> | Reply): Uint8Array {
  const w = writer.reset();
  // Top-level keys in the order bencode sorts them: a, e, ip, q, r, ro, t, v, y.
  w.dict();
  if (message.y === 'q') writeTable(w.key('a'), message.a, QUERY_ARGS[message.q]);
  if (message.y === 'e') w.key('e').list().int(message.e.code).text(message.e.message).end();
  if (message.ip !== undefined) writeField(w, 'ip', COMPACT_PEER, message.ip);
  if (message.y === 'q') w.key('q').text(message.q);
  if (message.y === 'r') writeTable(w.key('r'), message.r, REPLY);
  if (message.ro !== undefined) writeField(w, 'ro', FLAG, message.ro);
  w.key('t').bytes(message.t);
  if (message.v !== undefined) writeField(w, 'v', OPAQUE, message.v);
  w.key('y').text(message.y);
  return w.end().finish();
}

// ---------------------------------------------------------------------------------------------
// Building messages.
// ---------------------------------------------------------------------------------------------

/** A query: `t` is ours to choose (the reply echoes it), `a` must hold our own node ID as `id`. */
export function makeQuery<M extends QueryMethod>(
  t: Uint8Array,
  q: M,
  a: QueryArgsByMethod[M],
  extra: Omit<Envelope, 't'> = {},
): QueryOf<M> {
  return { ...extra, t, y: 'q', q, a };
}

/** A response to a query whose `t` it echoes (BEP 5). */
export function makeResponse(t: Uint8Array, r: ResponseBody, extra: Omit<Envelope, 't'> = {}): Response {
  return { ...extra, t, y: 'r', r };
}

/** An error reply (BEP 5 "Errors"); `code` is normally one of ErrorCode. */
export function makeError(t: Uint8Array, code: number, message: string, extra: Omit<Envelope, 't'> = {}): ErrorMessage {
  return { ...extra, t, y: 'e', e: { code, message } };
}
