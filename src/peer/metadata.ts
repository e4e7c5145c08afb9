/**
 * A torrent's metadata from its peers (BEP 9, "Extension for Peers to Send Metadata Files"), over
 * the extension protocol (BEP 10). An info-hash is only a SHA-1; the info dictionary it hashes holds
 * the name, the files and their sizes. Peers that have it hand it out in 16 KiB pieces:
 *
 *   BEP 3 handshake, reserved bit 0x10 of byte 5 set     "I speak BEP 10"
 *   extended message 0: {m: {ut_metadata: 1}}           our extension handshake
 *   extended message 0: {m: {ut_metadata: 3}, metadata_size: 31235}   theirs
 *   extended message 3: {msg_type: 0, piece: i}         requests, with THEIR id for ut_metadata
 *   extended message 1: {msg_type: 1, piece: i, total_size: 31235} + the piece's bytes
 *
 * Nothing a peer says is trusted: the size is capped before anything is allocated (10 MiB by
 * default, much more than any real info dictionary), every piece must have the exact length BEP 9
 * gives it, and the assembled bytes must hash to the info-hash we asked for.
 *
 * Pure parts (message codecs, `MetadataAssembler`, `parseInfoDict`, `encodeTorrentFile`) are apart
 * from the one function that talks to a peer, `fetchMetadata`.
 */
import { createHash } from 'node:crypto';
import { BencodeError, decode, decodePrefix, encode, type BencodeDict, type BencodeValue, type Encodable } from '../wire/bencode.js';
import type { PeerInfo } from '../wire/compact.js';
import { PeerConnection, PeerError, mapBounded, type ConnectionFailure, type PeerConnectionOptions } from './peer-connection.js';
import { encodeReserved, makePeerId, reservedFlags, type PeerMessage } from './peer-wire.js';

/** BEP 9: "The metadata is handled in blocks of 16KiB (16384 Bytes)." */
export const METADATA_PIECE_BYTES = 16 * 1024;
/** The largest info dictionary we accept by default. Real ones are kilobytes to a few megabytes. */
export const DEFAULT_MAX_METADATA_BYTES = 10 * 1024 * 1024;
/** The id we ask peers to use for ut_metadata messages they send us (BEP 10: the receiver picks it). */
export const OUR_UT_METADATA_ID = 1;
/** How many piece requests we keep outstanding: enough to fill the pipe, few enough to be polite. */
const REQUEST_WINDOW = 8;

export type MetadataFailure =
  | ConnectionFailure
  /** The peer answered for another torrent. */
  | 'wrong-torrent'
  /** No BEP 10 bit in its handshake, or no ut_metadata in its extension handshake. */
  | 'no-metadata-support'
  /** metadata_size or total_size over the cap (or not a positive integer). */
  | 'oversized'
  /** The peer answered a request with reject (BEP 9: it does not have the metadata yet). */
  | 'rejected'
  /** The assembled bytes do not hash to the info-hash: a lying or broken peer. */
  | 'hash-mismatch'
  /** The bytes hash right but are not an info dictionary we can read. */
  | 'bad-info';

export class MetadataError extends Error {
  constructor(readonly reason: MetadataFailure, message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

// ---- BEP 10 extension handshake ----

export interface ExtendedHandshake {
  /** Extension name to the message id the sender wants to receive it under (0 = disabled). */
  m: Map<string, number>;
  /** BEP 9: size of the info dictionary in bytes. */
  metadataSize?: number;
  /** BEP 10 `v`: client name and version, UTF-8. */
  client?: string;
  /** BEP 10 `p`: the sender's TCP listen port. */
  port?: number;
  /** BEP 10 `reqq`: how many outstanding requests the sender accepts. */
  reqq?: number;
}

export function encodeExtendedHandshake(handshake: ExtendedHandshake): Uint8Array {
  return encode({
    m: Object.fromEntries(handshake.m),
    metadata_size: handshake.metadataSize,
    p: handshake.port,
    reqq: handshake.reqq,
    v: handshake.client,
  });
}

/**
 * Read an extension handshake. Unknown keys are ignored (BEP 10 expects more); a known key with the
 * wrong type is ignored too rather than fatal, because only `m` is needed to go on.
 */
export function parseExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  const dict = decodeDict(payload, 'extension handshake');
  const m = new Map<string, number>();
  const rawM = dict.m;
  if (isDict(rawM)) {
    for (const [name, id] of Object.entries(rawM)) {
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 255) m.set(name, id);
    }
  }
  const out: ExtendedHandshake = { m };
  const size = dict.metadata_size;
  if (typeof size === 'number') out.metadataSize = size;
  else if (typeof size === 'bigint') out.metadataSize = Number.MAX_SAFE_INTEGER;
  if (dict.v instanceof Uint8Array) out.client = printable(utf8(dict.v.subarray(0, 64)));
  if (typeof dict.p === 'number' && dict.p > 0 && dict.p < 65536) out.port = dict.p;
  if (typeof dict.reqq === 'number' && dict.reqq > 0) out.reqq = dict.reqq;
  return out;
}

// ---- BEP 9 ut_metadata messages ----

export type UtMetadataMessage =
  | { type: 'request'; piece: number }
  | { type: 'data'; piece: number; totalSize: number; data: Uint8Array }
  | { type: 'reject'; piece: number }
  /** BEP 9: "unrecognized message IDs MUST be ignored". */
  | { type: 'unknown'; msgType: number };

export function encodeUtMetadata(message: Exclude<UtMetadataMessage, { type: 'unknown' }>): Uint8Array {
  switch (message.type) {
    case 'request': return encode({ msg_type: 0, piece: message.piece });
    case 'reject': return encode({ msg_type: 2, piece: message.piece });
    case 'data': {
      const head = encode({ msg_type: 1, piece: message.piece, total_size: message.totalSize });
      const out = new Uint8Array(head.length + message.data.length);
      out.set(head);
      out.set(message.data, head.length);
      return out;
    }
  }
}

/** A data message is a bencoded dict followed by the raw piece: decode the dict, the rest is data. */
export function parseUtMetadata(payload: Uint8Array): UtMetadataMessage {
  let decoded: { value: BencodeValue; end: number };
  try {
    decoded = decodePrefix(payload, { lenient: true, maxDepth: 4, maxItems: 64 });
  } catch (error) {
    throw new MetadataError('protocol', `bad ut_metadata message: ${describe(error)}`);
  }
  const dict = decoded.value;
  if (!isDict(dict)) throw new MetadataError('protocol', 'a ut_metadata message is a dictionary');
  const msgType = dict.msg_type;
  const piece = dict.piece;
  if (typeof msgType !== 'number') throw new MetadataError('protocol', 'ut_metadata message without msg_type');
  if (msgType > 2 || msgType < 0) return { type: 'unknown', msgType };
  if (typeof piece !== 'number' || piece < 0) throw new MetadataError('protocol', 'ut_metadata message without a valid piece');
  if (msgType === 0) return { type: 'request', piece };
  if (msgType === 2) return { type: 'reject', piece };
  const totalSize = typeof dict.total_size === 'number' ? dict.total_size : -1;
  return { type: 'data', piece, totalSize, data: payload.subarray(decoded.end) };
}

// ---- Assembling and checking ----

/** Pieces of a metadata download of known size, checked one by one as they come. */
export class MetadataAssembler {
  readonly size: number;
  readonly pieceCount: number;
  readonly #bytes: Uint8Array;
  readonly #received: boolean[];
  #receivedCount = 0;

  /** Throws 'oversized' for sizes over `maxBytes` or that are not positive integers. */
  constructor(size: number, maxBytes: number = DEFAULT_MAX_METADATA_BYTES) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new MetadataError('oversized', `invalid metadata size ${size}`);
    if (size > maxBytes) throw new MetadataError('oversized', `metadata of ${size} bytes exceeds the ${maxBytes}-byte limit`);
    this.size = size;
    this.pieceCount = Math.ceil(size / METADATA_PIECE_BYTES);
    this.#bytes = new Uint8Array(size);
    this.#received = new Array<boolean>(this.pieceCount).fill(false);
  }

  /** BEP 9: every piece is 16 KiB except the last, which holds what is left. */
  pieceLength(piece: number): number {
    return piece === this.pieceCount - 1 ? this.size - piece * METADATA_PIECE_BYTES : METADATA_PIECE_BYTES;
  }

  /** Store a piece. A piece out of range or of the wrong length is a protocol error; a repeat is ignored. */
  add(piece: number, data: Uint8Array): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      throw new MetadataError('protocol', `metadata piece ${piece} out of range (${this.pieceCount} pieces)`);
    }
    if (data.length !== this.pieceLength(piece)) {
      throw new MetadataError('protocol', `metadata piece ${piece} is ${data.length} bytes, expected ${this.pieceLength(piece)}`);
    }
    if (this.#received[piece] === true) return;
    this.#bytes.set(data, piece * METADATA_PIECE_BYTES);
    this.#received[piece] = true;
    this.#receivedCount++;
  }

  has(piece: number): boolean {
    return this.#received[piece] === true;
  }

  get complete(): boolean {
    return this.#receivedCount === this.pieceCount;
  }

  /** The assembled info dictionary, checked: its SHA-1 must be the info-hash (BEP 9). */
  verified(infoHash: Uint8Array): Uint8Array {
    if (!this.complete) throw new Error('metadata is not complete');
    if (!sha1Equals(this.#bytes, infoHash)) {
      throw new MetadataError('hash-mismatch', `the ${this.size} bytes received do not hash to the info-hash (SHA-1 mismatch)`);
    }
    return this.#bytes;
  }
}

export function sha1(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(bytes).digest());
}

function sha1Equals(bytes: Uint8Array, infoHash: Uint8Array): boolean {
  const digest = sha1(bytes);
  return infoHash.length === digest.length && digest.every((b, i) => b === infoHash[i]);
}

// ---- The info dictionary (BEP 3, "info dictionary") ----

export interface TorrentFile {
  /** Path from the download directory: for a multi-file torrent, the torrent's name comes first. */
  path: string[];
  length: number;
}

export interface TorrentInfo {
  name: string;
  /** Sum of the file lengths, BEP 47 padding files left out. */
  totalSize: number;
  files: TorrentFile[];
  pieceLength: number;
  pieceCount: number;
  /** BEP 27: peers must come only from the tracker (a DHT user may want to know). */
  private: boolean;
}

/**
 * Read a (verified) info dictionary. Names and paths are UTF-8 with invalid bytes replaced, and
 * control characters replaced by U+FFFD so that printing a hostile name cannot drive a terminal.
 * BEP 47 padding files (attr containing "p") are left out of `files` and `totalSize`.
 */
export function parseInfoDict(bytes: Uint8Array): TorrentInfo {
  let dict: BencodeDict;
  try {
    dict = decodeDict(bytes, 'info dictionary');
  } catch (error) {
    throw new MetadataError('bad-info', describe(error));
  }
  const name = text(dict['name.utf-8']) ?? text(dict.name);
  if (name === undefined) throw new MetadataError('bad-info', 'the info dictionary has no name');
  const pieceLength = safeInteger(dict['piece length'], 'piece length');
  const pieces = dict.pieces;
  if (!(pieces instanceof Uint8Array) || pieces.length % 20 !== 0) {
    throw new MetadataError('bad-info', 'pieces must be a string of 20-byte SHA-1 hashes');
  }
  let files: TorrentFile[];
  if (dict.files !== undefined) {
    if (!Array.isArray(dict.files)) throw new MetadataError('bad-info', 'files must be a list');
    files = dict.files.flatMap((entry, i) => parseFileEntry(entry, i, name));
  } else {
    files = [{ path: [name], length: safeInteger(dict.length, 'length') }];
  }
  const totalSize = files.reduce((sum, f) => sum + f.length, 0);
  if (!Number.isSafeInteger(totalSize)) throw new MetadataError('bad-info', 'the total size is too large');
  return { name, totalSize, files, pieceLength, pieceCount: pieces.length / 20, private: dict.private === 1 };
}

function parseFileEntry(entry: BencodeValue, index: number, name: string): TorrentFile[] {
  if (!isDict(entry)) throw new MetadataError('bad-info', `files[${index}] is not a dictionary`);
  const attr = entry.attr instanceof Uint8Array ? utf8(entry.attr) : '';
  const length = safeInteger(entry.length, `files[${index}].length`);
  const rawPath = entry['path.utf-8'] ?? entry.path;
  if (!Array.isArray(rawPath) || rawPath.length === 0) throw new MetadataError('bad-info', `files[${index}].path is not a list`);
  const path = rawPath.map((segment) => {
    const s = text(segment);
    if (s === undefined) throw new MetadataError('bad-info', `files[${index}].path holds a non-string`);
    return s;
  });
  return attr.includes('p') ? [] : [{ path: [name, ...path], length }];
}

/** What to write in a .torrent: the info dictionary's exact bytes (re-encoding could change the hash). */
export interface TorrentFileOptions {
  /** Tracker URLs; the first is `announce`, all go in `announce-list` (BEP 12). */
  trackers?: readonly string[];
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
}

/**
 * A .torrent file (BEP 3, "metainfo files") around verified info bytes. `info` is spliced in as is:
 * its SHA-1 is the info-hash, so it must not be decoded and re-encoded. Every other key sorts before
 * "info" ("announce", "announce-list", "created by", "creation date"), so the dictionary is
 * written as those keys, then "info", then the closing "e".
 */
export function encodeTorrentFile(info: Uint8Array, options: TorrentFileOptions = {}): Uint8Array {
  const trackers = options.trackers ?? [];
  const head: { [key: string]: Encodable | undefined } = {
    announce: trackers[0],
    'announce-list': trackers.length > 0 ? trackers.map((t) => [t]) : undefined,
    'created by': options.createdBy,
    'creation date': options.creationDate,
  };
  const encodedHead = encode(head);
  const infoKey = new TextEncoder().encode('4:info');
  const out = new Uint8Array(encodedHead.length - 1 + infoKey.length + info.length + 1);
  out.set(encodedHead.subarray(0, encodedHead.length - 1)); // without its closing "e"
  out.set(infoKey, encodedHead.length - 1);
  out.set(info, encodedHead.length - 1 + infoKey.length);
  out[out.length - 1] = 0x65; // "e"
  return out;
}

export interface InfoDictSpec {
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte piece hashes. */
  pieces: Uint8Array;
  /** One file: its length. Several: their paths (inside the torrent's directory) and lengths. */
  length?: number;
  files?: readonly { path: readonly string[]; length: number }[];
  private?: boolean;
}

/** Build an info dictionary (the inverse of parseInfoDict): for synthetic torrents and tests. */
export function encodeInfoDict(spec: InfoDictSpec): Uint8Array {
  if ((spec.length === undefined) === (spec.files === undefined)) throw new TypeError('give either length or files');
  return encode({
    name: spec.name,
    'piece length': spec.pieceLength,
    pieces: spec.pieces,
    length: spec.length,
    files: spec.files?.map((f) => ({ length: f.length, path: [...f.path] })),
    private: spec.private === true ? 1 : undefined,
  });
}

// ---- Fetching from a peer ----

export interface FetchMetadataOptions extends PeerConnectionOptions {
  /** Largest metadata accepted. Default 10 MiB. */
  maxBytes?: number;
  /** Our 20-byte peer id. Default: a fresh one with our client prefix. */
  peerId?: Uint8Array;
  /** Our BEP 10 `v`. */
  client?: string;
}

export interface Metadata {
  infoHash: Uint8Array;
  /** The info dictionary's bytes, verified against the info-hash. */
  bytes: Uint8Array;
  info: TorrentInfo;
  /** The peer that served it, and what it called itself. */
  peer: PeerInfo;
  client: string | undefined;
}

/**
 * Fetch and verify a torrent's metadata from one peer. Rejects with a MetadataError whose `reason`
 * says why the peer was given up on; the connection is always closed, within `timeoutMs`.
 */
export async function fetchMetadata(peer: PeerInfo, infoHash: Uint8Array, options: FetchMetadataOptions = {}): Promise<Metadata> {
  let connection: PeerConnection;
  try {
    connection = await PeerConnection.connect(peer, options);
  } catch (error) {
    throw asMetadataError(error);
  }
  try {
    return await download(connection, infoHash, options);
  } catch (error) {
    throw asMetadataError(error);
  } finally {
    connection.close();
  }
}

async function download(connection: PeerConnection, infoHash: Uint8Array, options: FetchMetadataOptions): Promise<Metadata> {
  connection.sendHandshake({ reserved: encodeReserved({ extensions: true }), infoHash, peerId: options.peerId ?? makePeerId() });
  const handshake = await connection.handshake();
  if (!equalBytes(handshake.infoHash, infoHash)) throw new MetadataError('wrong-torrent', 'the peer answered for another info-hash');
  if (!reservedFlags(handshake.reserved).extensions) {
    throw new MetadataError('no-metadata-support', 'the peer does not support the extension protocol (BEP 10)');
  }
  connection.send({
    type: 'extended',
    id: 0,
    payload: encodeExtendedHandshake({ m: new Map([['ut_metadata', OUR_UT_METADATA_ID]]), client: options.client ?? 'dht-scrape' }),
  });

  let theirId = 0;
  let client: string | undefined;
  let assembler: MetadataAssembler | undefined;
  let nextRequest = 0;
  let outstanding = 0;
  const requestMore = (): void => {
    while (assembler !== undefined && outstanding < REQUEST_WINDOW && nextRequest < assembler.pieceCount) {
      sendUt(connection, theirId, { type: 'request', piece: nextRequest++ });
      outstanding++;
    }
  };
  for (;;) {
    const message: PeerMessage = await connection.message();
    if (message.type !== 'extended') continue; // bitfield, have, unchoke...: not what we came for
    if (message.id === 0) {
      if (assembler !== undefined) continue; // a later handshake may update other extensions; size is settled
      const theirs = parseOrProtocol(() => parseExtendedHandshake(message.payload));
      client = theirs.client;
      theirId = theirs.m.get('ut_metadata') ?? 0;
      if (theirId === 0) throw new MetadataError('no-metadata-support', 'the peer does not offer ut_metadata (BEP 9)');
      if (theirs.metadataSize === undefined) throw new MetadataError('protocol', 'the peer offers ut_metadata without metadata_size');
      assembler = new MetadataAssembler(theirs.metadataSize, options.maxBytes ?? DEFAULT_MAX_METADATA_BYTES);
      requestMore();
      continue;
    }
    if (message.id !== OUR_UT_METADATA_ID) continue;
    const ut = parseUtMetadata(message.payload);
    if (ut.type === 'request') { sendUt(connection, theirId, { type: 'reject', piece: ut.piece }); continue; }
    if (ut.type === 'unknown') continue;
    if (assembler === undefined) throw new MetadataError('protocol', 'ut_metadata message before the extension handshake');
    if (ut.type === 'reject') throw new MetadataError('rejected', `the peer rejected metadata piece ${ut.piece}`);
    if (ut.totalSize !== assembler.size) {
      throw new MetadataError('protocol', `total_size ${ut.totalSize} differs from metadata_size ${assembler.size}`);
    }
    assembler.add(ut.piece, ut.data);
    outstanding = Math.max(0, outstanding - 1);
    if (assembler.complete) {
      const bytes = assembler.verified(infoHash);
      return { infoHash, bytes, info: parseInfoDict(bytes), peer: connection.remote, client };
    }
    requestMore();
  }
}

function sendUt(connection: PeerConnection, theirId: number, message: Exclude<UtMetadataMessage, { type: 'unknown' } | { type: 'data' }>): void {
  if (theirId !== 0) connection.send({ type: 'extended', id: theirId, payload: encodeUtMetadata(message) });
}

export interface MetadataAttempt {
  peer: PeerInfo;
  /** 'cancelled': stopped because another peer served the metadata first (or the caller aborted). */
  outcome: 'served' | 'failed' | 'cancelled';
  /** Why it failed (outcome 'failed'). */
  error?: { reason: MetadataFailure; message: string };
  durationMs: number;
}

export interface ResolveMetadataOptions extends FetchMetadataOptions {
  /** How many peers to ask at once. Default 4. */
  concurrency?: number;
  /** Try at most this many peers. Default 32. */
  maxPeers?: number;
}

export interface ResolveMetadataResult {
  metadata: Metadata | undefined;
  /** Every peer tried, in the order they were tried, with why each failed. */
  attempts: MetadataAttempt[];
}

/**
 * Ask peers for the metadata, a few at a time, until one serves it verified. Bad peers (lying,
 * oversized, slow) cost one slot for at most `timeoutMs` each and are reported with their reason;
 * once one peer succeeds, the other attempts are stopped.
 */
export async function resolveMetadata(peers: readonly PeerInfo[], infoHash: Uint8Array, options: ResolveMetadataOptions = {}): Promise<ResolveMetadataResult> {
  const stop = new AbortController();
  const outer = options.signal;
  const onOuterAbort = (): void => stop.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted === true) stop.abort();
  const attempts: MetadataAttempt[] = [];
  let metadata: Metadata | undefined;
  try {
    const candidates = peers.slice(0, options.maxPeers ?? 32);
    await mapBounded(candidates, options.concurrency ?? 4, async (peer) => {
      const started = Date.now();
      const attempt: MetadataAttempt = { peer, outcome: 'cancelled', durationMs: 0 };
      attempts.push(attempt);
      try {
        const found = await fetchMetadata(peer, infoHash, { ...options, signal: stop.signal });
        if (metadata === undefined) { metadata = found; attempt.outcome = 'served'; }
        stop.abort();
      } catch (error) {
        const failure = asMetadataError(error);
        if (!stop.signal.aborted || failure.reason !== 'aborted') {
          attempt.outcome = 'failed';
          attempt.error = { reason: failure.reason, message: failure.message };
        }
      }
      attempt.durationMs = Date.now() - started;
    }, stop.signal);
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
  }
  return { metadata, attempts };
}

// ---- Small helpers ----

function asMetadataError(error: unknown): MetadataError {
  if (error instanceof MetadataError) return error;
  if (error instanceof PeerError) return new MetadataError(error.reason, error.message);
  return new MetadataError('protocol', describe(error));
}

function parseOrProtocol<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof MetadataError ? error : new MetadataError('protocol', describe(error));
  }
}

function decodeDict(bytes: Uint8Array, what: string): BencodeDict {
  const value = decode(bytes, { lenient: true });
  if (!isDict(value)) throw new BencodeError(`the ${what} is not a dictionary`, 0);
  return value;
}

function isDict(value: BencodeValue | undefined): value is BencodeDict {
  return value !== undefined && typeof value === 'object' && !(value instanceof Uint8Array) && !Array.isArray(value);
}

function safeInteger(value: BencodeValue | undefined, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MetadataError('bad-info', `${name} must be a non-negative integer`);
  }
  return value;
}

function text(value: BencodeValue | undefined): string | undefined {
  return value instanceof Uint8Array ? printable(utf8(value)) : undefined;
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** Control characters (C0, DEL, C1) become U+FFFD: names come from strangers and end up on terminals. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
