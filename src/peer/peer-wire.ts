/**
 * The BitTorrent peer wire format (BEP 3, "peer protocol"), pure: the 68-byte handshake, then
 * length-prefixed messages. The DHT finds peers; this is the language we talk to them in, to fetch a
 * torrent's metadata (BEP 9, ut-metadata.ts) or to ask which pieces they hold (probe.ts). The socket
 * that carries it is peer-connection.ts.
 *
 * `encodeHandshake`/`encodePeerMessage` write; the incremental `WireParser` takes bytes in whatever
 * chunks TCP delivers and gives back whole messages. Untrusted input is bounded here once: one
 * message may not exceed `maxMessageBytes`, checked on its length prefix before anything is allocated.
 */
import { randomBytes } from 'node:crypto';

/** BEP 3: the handshake starts with the byte 19 and these 19 characters. */
export const PROTOCOL_NAME = 'BitTorrent protocol';
/** 1 + 19 + 8 reserved + 20 info-hash + 20 peer id. */
export const HANDSHAKE_LENGTH = 68;
export const PEER_ID_LENGTH = 20;
/**
 * Default cap on one message. The largest message we expect is a BEP 9 data message (16 KiB and a
 * small dictionary) or a bitfield: 1 MiB of bitfield is 8 million pieces, far past any real torrent.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;
/** Our peer id prefix, Azureus style (BEP 20): "-", client code "DS" (dht-scrape), version 0.1.0.0, "-". */
export const OUR_PEER_ID_PREFIX = '-DS0100-';

const PROTOCOL_BYTES = new TextEncoder().encode(PROTOCOL_NAME);

export interface Handshake {
  /** 8 bytes of capability flags (see `reservedFlags`). */
  reserved: Uint8Array;
  infoHash: Uint8Array;
  peerId: Uint8Array;
}

/** The capability bits of the handshake's reserved bytes that this toolkit knows. */
export interface ReservedFlags {
  /** BEP 10 extension protocol: byte 5, bit 0x10. */
  extensions: boolean;
  /** BEP 5: the peer runs a DHT node and will send a `port` message. Byte 7, bit 0x01. */
  dht: boolean;
  /** BEP 6 fast extension (have_all / have_none). Byte 7, bit 0x04. */
  fast: boolean;
  /** BEP 52: the peer also speaks v2 (hash requests; a hybrid's v2 info-hash). Byte 7, bit 0x10. */
  v2: boolean;
}

export function reservedFlags(reserved: Uint8Array): ReservedFlags {
  return {
    extensions: ((reserved[5] ?? 0) & 0x10) !== 0,
    dht: ((reserved[7] ?? 0) & 0x01) !== 0,
    fast: ((reserved[7] ?? 0) & 0x04) !== 0,
    v2: ((reserved[7] ?? 0) & 0x10) !== 0,
  };
}

export function encodeReserved(flags: Partial<ReservedFlags>): Uint8Array {
  const reserved = new Uint8Array(8);
  if (flags.extensions === true) reserved[5]! |= 0x10;
  if (flags.dht === true) reserved[7]! |= 0x01;
  if (flags.fast === true) reserved[7]! |= 0x04;
  if (flags.v2 === true) reserved[7]! |= 0x10;
  return reserved;
}

/** A fresh peer id: our prefix and 12 random bytes, so two of our connections never look alike. */
export function makePeerId(prefix: string = OUR_PEER_ID_PREFIX): Uint8Array {
  const id = new Uint8Array(PEER_ID_LENGTH);
  const head = new TextEncoder().encode(prefix).subarray(0, PEER_ID_LENGTH);
  id.set(head);
  id.set(randomBytes(PEER_ID_LENGTH - head.length), head.length);
  return id;
}

/** BEP 3 message ids, plus BEP 5's `port`, BEP 6's have_all/have_none, BEP 10's `extended` and BEP 52's hash messages. */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  haveAll: 14,
  haveNone: 15,
  extended: 20,
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/**
 * BEP 52 "hash request": hashes of one layer of a file's merkle tree. `baseLayer` counts layers up
 * from the 16 KiB leaves (the piece layer is log2(piece length / 16 KiB)); `index` is a multiple of
 * `length`, a power of two of at least 2; `proofLayers` asks for the uncle hashes up towards the root.
 */
export interface HashRequest {
  /** The file's `pieces root`, 32 bytes. */
  piecesRoot: Uint8Array;
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

/** The fixed part of the three BEP 52 hash messages: pieces root and four 32-bit integers. */
const HASH_REQUEST_BYTES = 32 + 16;

export type PeerMessage =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; piece: number }
  | { type: 'bitfield'; bits: Uint8Array }
  | { type: 'request'; piece: number; offset: number; length: number }
  | { type: 'piece'; piece: number; offset: number; block: Uint8Array }
  | { type: 'cancel'; piece: number; offset: number; length: number }
  | { type: 'port'; port: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  /** BEP 10: `id` 0 is the extension handshake, others are the ids the receiver chose in its `m`. */
  | { type: 'extended'; id: number; payload: Uint8Array }
  /** BEP 52: a request for merkle tree hashes, and its two answers. */
  | { type: 'hash-request'; request: HashRequest }
  /** `hashes`: the base layer's hashes, then the uncles towards the root, 32 bytes each. */
  | { type: 'hashes'; request: HashRequest; hashes: Uint8Array }
  | { type: 'hash-reject'; request: HashRequest }
  /** A message id we do not know. BEP 3 peers must ignore those, so it is not an error. */
  | { type: 'unknown'; id: number; payload: Uint8Array };

export type WireEvent = { kind: 'handshake'; handshake: Handshake } | { kind: 'message'; message: PeerMessage };

export type WireErrorReason = 'bad-handshake' | 'too-large' | 'malformed';

/** Bytes that break the framing. The connection cannot continue: message boundaries are lost. */
export class WireError extends Error {
  /** Events the same chunk completed before the bad bytes: they are valid and still worth reading. */
  events: WireEvent[] = [];
  constructor(readonly reason: WireErrorReason, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

// ---- Encoding ----

export function encodeHandshake(handshake: Handshake): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL_BYTES.length;
  out.set(PROTOCOL_BYTES, 1);
  out.set(fixed(handshake.reserved, 8, 'reserved'), 20);
  out.set(fixed(handshake.infoHash, 20, 'info-hash'), 28);
  out.set(fixed(handshake.peerId, PEER_ID_LENGTH, 'peer id'), 48);
  return out;
}

/** One message with its 4-byte big-endian length prefix (BEP 3: "<length prefix><message ID><payload>"). */
export function encodePeerMessage(message: PeerMessage): Uint8Array {
  switch (message.type) {
    case 'keep-alive': return new Uint8Array(4);
    case 'choke': return frame(MessageId.choke);
    case 'unchoke': return frame(MessageId.unchoke);
    case 'interested': return frame(MessageId.interested);
    case 'not-interested': return frame(MessageId.notInterested);
    case 'have': return frame(MessageId.have, uint32s(message.piece));
    case 'bitfield': return frame(MessageId.bitfield, message.bits);
    case 'request': return frame(MessageId.request, uint32s(message.piece, message.offset, message.length));
    case 'piece': return frame(MessageId.piece, concat(uint32s(message.piece, message.offset), message.block));
    case 'cancel': return frame(MessageId.cancel, uint32s(message.piece, message.offset, message.length));
    case 'port': return frame(MessageId.port, new Uint8Array([message.port >> 8, message.port & 255]));
    case 'have-all': return frame(MessageId.haveAll);
    case 'have-none': return frame(MessageId.haveNone);
    case 'extended': return frame(MessageId.extended, concat(new Uint8Array([checkByte(message.id)]), message.payload));
    case 'hash-request': return frame(MessageId.hashRequest, hashRequestBytes(message.request));
    case 'hashes': return frame(MessageId.hashes, concat(hashRequestBytes(message.request), message.hashes));
    case 'hash-reject': return frame(MessageId.hashReject, hashRequestBytes(message.request));
    case 'unknown': return frame(checkByte(message.id), message.payload);
  }
}

function hashRequestBytes(request: HashRequest): Uint8Array {
  if (request.piecesRoot.length !== 32) throw new RangeError(`a pieces root is 32 bytes, got ${request.piecesRoot.length}`);
  return concat(request.piecesRoot, uint32s(request.baseLayer, request.index, request.length, request.proofLayers));
}

function frame(id: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(0, 1 + payload.length);
  out[4] = id;
  out.set(payload, 5);
  return out;
}

function uint32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`not a 32-bit unsigned integer: ${v}`);
    view.setUint32(i * 4, v);
  });
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function fixed(bytes: Uint8Array, length: number, name: string): Uint8Array {
  if (bytes.length !== length) throw new RangeError(`a handshake's ${name} is ${length} bytes, got ${bytes.length}`);
  return bytes;
}

function checkByte(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`a message id is one byte, got ${id}`);
  return id;
}

// ---- Decoding ----

export interface WireParserOptions {
  /** Expect the 68-byte handshake before any message. Default true. */
  handshake?: boolean;
  maxMessageBytes?: number;
}

/**
 * Turns a byte stream into handshake and messages. Feed it chunks as they arrive; it returns the
 * events completed by each chunk. It reads into one buffer per message, sized from the length
 * prefix, so each byte is copied once however the stream is cut, and at most one message (capped)
 * is held. After a WireError it stays failed: the stream has no boundaries left to resync on.
 */
export class WireParser {
  private readonly maxMessageBytes: number;
  /** What the bytes being read are: the handshake, a length prefix, or a message body. */
  private state: 'handshake' | 'length' | 'body';
  private buffer: Uint8Array;
  private filled = 0;
  private failed: WireError | undefined;

  constructor(options: WireParserOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.state = options.handshake === false ? 'length' : 'handshake';
    this.buffer = new Uint8Array(this.state === 'handshake' ? HANDSHAKE_LENGTH : 4);
  }

  push(chunk: Uint8Array): WireEvent[] {
    if (this.failed) throw this.failed;
    const events: WireEvent[] = [];
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, this.buffer.length - this.filled);
      this.buffer.set(chunk.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.buffer.length) {
        try {
          const event = this.complete();
          if (event) events.push(event);
        } catch (error) {
          this.failed = error instanceof WireError ? error : new WireError('malformed', String(error));
          const failure = new WireError(this.failed.reason, this.failed.message);
          failure.events = events;
          throw failure;
        }
      }
    }
    return events;
  }

  /** The current buffer is full: interpret it and set up the next read. */
  private complete(): WireEvent | undefined {
    const bytes = this.buffer;
    switch (this.state) {
      case 'handshake':
        this.expect('length', 4);
        return { kind: 'handshake', handshake: decodeHandshake(bytes) };
      case 'length': {
        const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
        if (length === 0) {
          this.expect('length', 4);
          return { kind: 'message', message: { type: 'keep-alive' } };
        }
        if (length > this.maxMessageBytes) {
          throw new WireError('too-large', `message of ${length} bytes exceeds the ${this.maxMessageBytes}-byte limit`);
        }
        this.expect('body', length);
        return undefined;
      }
      case 'body':
        this.expect('length', 4);
        return { kind: 'message', message: decodePeerMessage(bytes) };
    }
  }

  private expect(state: 'handshake' | 'length' | 'body', length: number): void {
    this.state = state;
    this.buffer = new Uint8Array(length);
    this.filled = 0;
  }
}

export function decodeHandshake(bytes: Uint8Array): Handshake {
  if (bytes.length !== HANDSHAKE_LENGTH) throw new WireError('bad-handshake', `a handshake is ${HANDSHAKE_LENGTH} bytes`);
  if (bytes[0] !== PROTOCOL_BYTES.length || !PROTOCOL_BYTES.every((b, i) => bytes[1 + i] === b)) {
    throw new WireError('bad-handshake', 'not a BitTorrent handshake (expected "\\x13BitTorrent protocol")');
  }
  return { reserved: bytes.slice(20, 28), infoHash: bytes.slice(28, 48), peerId: bytes.slice(48, 68) };
}

/** A message body (id and payload, without the length prefix), checked against the size BEP 3 gives it. */
export function decodePeerMessage(body: Uint8Array): PeerMessage {
  const id = body[0]!;
  const payload = body.subarray(1);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const sized = (length: number, name: string): void => {
    if (payload.length !== length) throw new WireError('malformed', `a ${name} message carries ${length} bytes, got ${payload.length}`);
  };
  switch (id) {
    case MessageId.choke: sized(0, 'choke'); return { type: 'choke' };
    case MessageId.unchoke: sized(0, 'unchoke'); return { type: 'unchoke' };
    case MessageId.interested: sized(0, 'interested'); return { type: 'interested' };
    case MessageId.notInterested: sized(0, 'not interested'); return { type: 'not-interested' };
    case MessageId.have: sized(4, 'have'); return { type: 'have', piece: view.getUint32(0) };
    case MessageId.bitfield: return { type: 'bitfield', bits: payload };
    case MessageId.request:
    case MessageId.cancel:
      sized(12, id === MessageId.request ? 'request' : 'cancel');
      return { type: id === MessageId.request ? 'request' : 'cancel', piece: view.getUint32(0), offset: view.getUint32(4), length: view.getUint32(8) };
    case MessageId.piece:
      if (payload.length < 8) throw new WireError('malformed', `a piece message carries at least 8 bytes, got ${payload.length}`);
      return { type: 'piece', piece: view.getUint32(0), offset: view.getUint32(4), block: payload.subarray(8) };
    case MessageId.port: sized(2, 'port'); return { type: 'port', port: view.getUint16(0) };
    case MessageId.haveAll: sized(0, 'have all'); return { type: 'have-all' };
    case MessageId.haveNone: sized(0, 'have none'); return { type: 'have-none' };
    case MessageId.extended:
      if (payload.length < 1) throw new WireError('malformed', 'an extended message needs an extension id');
      return { type: 'extended', id: payload[0]!, payload: payload.subarray(1) };
    case MessageId.hashRequest:
    case MessageId.hashReject:
      sized(HASH_REQUEST_BYTES, id === MessageId.hashRequest ? 'hash request' : 'hash reject');
      return { type: id === MessageId.hashRequest ? 'hash-request' : 'hash-reject', request: readHashRequest(payload, view) };
    case MessageId.hashes:
      if (payload.length < HASH_REQUEST_BYTES || (payload.length - HASH_REQUEST_BYTES) % 32 !== 0) {
        throw new WireError('malformed', `a hashes message carries ${HASH_REQUEST_BYTES} bytes and 32-byte hashes, got ${payload.length}`);
      }
      return { type: 'hashes', request: readHashRequest(payload, view), hashes: payload.subarray(HASH_REQUEST_BYTES) };
    default:
      return { type: 'unknown', id, payload };
  }
}

function readHashRequest(payload: Uint8Array, view: DataView): HashRequest {
  return { piecesRoot: payload.subarray(0, 32), baseLayer: view.getUint32(32), index: view.getUint32(36), length: view.getUint32(40), proofLayers: view.getUint32(44) };
}
