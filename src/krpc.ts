/**
 * KRPC messages (BEP 5, "KRPC Protocol"), with the extensions of BEP 32 (IPv6 `nodes6`, `want`),
 * BEP 33 (`scrape`, `noseed`, `BFsd`, `BFpe`), BEP 42 (`ip`), BEP 43 (`ro`) and BEP 51
 * (`sample_infohashes`). CONTRACT STUB: types are final, functions to be implemented.
 */
import type { BencodeValue } from './bencode.js';
import type { NodeInfo, PeerInfo } from './compact.js';
import type { NodeId } from './id.js';

/** BEP 5 error codes. */
export const ErrorCode = {
  Generic: 201,
  Server: 202,
  Protocol: 203,
  MethodUnknown: 204,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export type QueryMethod = 'ping' | 'find_node' | 'get_peers' | 'announce_peer' | 'sample_infohashes';
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

export interface PingArgs { id: NodeId }
export interface FindNodeArgs { id: NodeId; target: NodeId; want?: Want[] }
export interface GetPeersArgs { id: NodeId; info_hash: NodeId; want?: Want[]; scrape?: boolean; noseed?: boolean }
export interface AnnouncePeerArgs {
  id: NodeId;
  info_hash: NodeId;
  port: number;
  token: Uint8Array;
  /** Use the UDP source port instead of `port` (BEP 5). */
  implied_port?: boolean;
  /** BEP 33: the announcer is a seed. */
  seed?: boolean;
}
export interface SampleInfohashesArgs { id: NodeId; target: NodeId; want?: Want[] }

export interface QueryArgsByMethod {
  ping: PingArgs;
  find_node: FindNodeArgs;
  get_peers: GetPeersArgs;
  announce_peer: AnnouncePeerArgs;
  sample_infohashes: SampleInfohashesArgs;
}
export type Query = {
  [M in QueryMethod]: Envelope & { y: 'q'; q: M; a: QueryArgsByMethod[M] };
}[QueryMethod];
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
}
export type Response = Envelope & { y: 'r'; r: ResponseBody };
export type ErrorMessage = Envelope & { y: 'e'; e: { code: number; message: string } };
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

export type ParseResult = { ok: true; message: Message } | { ok: false; error: KrpcError };

/** Validate any decoded value against the message schemas. Never throws. */
export function parseMessage(_value: BencodeValue): ParseResult { throw new Error('not implemented'); }
/** bencode-decode then parse. Undecodable bytes give a KrpcError with `t` undefined (never replied to). */
export function decodeMessage(_bytes: Uint8Array): ParseResult { throw new Error('not implemented'); }
export function encodeMessage(_message: Message): Uint8Array { throw new Error('not implemented'); }

export function makeQuery<M extends QueryMethod>(_t: Uint8Array, _q: M, _a: QueryArgsByMethod[M], _extra?: Omit<Envelope, 't'>): QueryOf<M> { throw new Error('not implemented'); }
export function makeResponse(_t: Uint8Array, _r: ResponseBody, _extra?: Omit<Envelope, 't'>): Response { throw new Error('not implemented'); }
export function makeError(_t: Uint8Array, _code: number, _message: string, _extra?: Omit<Envelope, 't'>): ErrorMessage { throw new Error('not implemented'); }
