/**
 * Fetching a torrent's metadata from its peers: one TCP conversation (peer-connection.ts) per peer,
 * the BEP 3 handshake with the BEP 10 bit, the extension handshake (extension-protocol.ts), then
 * BEP 9 requests kept a few at a time in flight until the assembler (ut-metadata.ts) holds an info
 * dictionary that hashes to the info-hash; `resolveMetadata` tries peers until one delivers.
 */
import type { PeerInfo } from '../wire/compact.js';
import { idEquals, idKey } from '../wire/id.js';
import { PieceLayerError, checkHashes, filesNeedingLayers, pieceLayerRequests, type MerkleFile, type PieceLayer } from './piece-layers.js';
import { encodeExtendedHandshake, parseExtendedHandshake } from './extension-protocol.js';
import { PeerConnection, PeerError, mapBounded, type PeerConnectionOptions } from './peer-connection.js';
import { encodeReserved, makePeerId, reservedFlags, type HashRequest, type PeerMessage } from './peer-wire.js';
import { parseInfoDict, type TorrentInfo } from './torrent-info.js';
import {
  DEFAULT_MAX_METADATA_BYTES,
  MetadataAssembler,
  MetadataError,
  OUR_UT_METADATA_ID,
  encodeUtMetadata,
  errorText,
  parseUtMetadata,
  type InfoHashMatch,
  type MetadataFailure,
  type UtMetadataMessage,
} from './ut-metadata.js';

/** How many piece requests we keep outstanding: enough to fill the pipe, few enough to be polite. */
const REQUEST_WINDOW = 8;
/**
 * We never offer metadata (no metadata_size in our handshake), so a peer has no reason to ask us
 * for any (BEP 9). The first few requests get the polite reject; the rest are read and dropped,
 * so that a peer flooding requests cannot make us write.
 */
const MAX_UNINVITED_ANSWERS = 16;

export interface FetchMetadataOptions extends PeerConnectionOptions {
  /** Largest metadata accepted. Default 10 MiB. */
  maxBytes?: number;
  /** Our 20-byte peer id. Default: a fresh one with our client prefix. */
  peerId?: Uint8Array;
  /** Our BEP 10 `v`. */
  client?: string;
  /**
   * BEP 52: the whole SHA-256 info-hash of a v2 or hybrid torrent (a magnet's urn:btmh), so the
   * metadata is checked against all 32 bytes. Without it, 20 bytes are checked: SHA-1 or cut SHA-256.
   */
  infoHashV2?: Uint8Array;
  /**
   * BEP 52: after the metadata of a v2 or hybrid torrent, also ask the same peer for the piece
   * layers of its files (hash requests), which a v2 .torrent must carry. Default false.
   */
  pieceLayers?: boolean;
}

export interface Metadata {
  infoHash: Uint8Array;
  /** The info dictionary's bytes, verified against the info-hash. */
  bytes: Uint8Array;
  info: TorrentInfo;
  /** Which info-hashes the bytes were checked against: SHA-1 (v1), SHA-256 (v2), or both (hybrid). */
  matched: InfoHashMatch;
  /** BEP 52 piece layers, when asked for and served (none needed: an empty list). */
  pieceLayers?: PieceLayer[];
  /** Why the piece layers asked for are missing (the metadata itself stands). */
  pieceLayersError?: string;
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
  // BEP 52's v2 bit says we speak v2 too. On a hybrid's v1 hash it invites the peer to answer with
  // the v2 hash instead ("upgrade the connection"), which a peer needs before it answers hash requests.
  const v2Key = options.infoHashV2?.subarray(0, 20);
  connection.sendHandshake({ reserved: encodeReserved({ extensions: true, v2: v2Key !== undefined }), infoHash, peerId: options.peerId ?? makePeerId() });
  const handshake = await connection.handshake();
  if (!idEquals(handshake.infoHash, infoHash) && !(v2Key !== undefined && idEquals(handshake.infoHash, v2Key))) {
    throw new MetadataError('wrong-torrent', 'the peer answered for another info-hash');
  }
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
  let uninvited = 0;
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
    if (ut.type === 'request') {
      if (uninvited++ < MAX_UNINVITED_ANSWERS) sendUt(connection, theirId, { type: 'reject', piece: ut.piece });
      continue;
    }
    if (ut.type === 'unknown') continue;
    if (assembler === undefined) throw new MetadataError('protocol', 'ut_metadata message before the extension handshake');
    if (ut.type === 'reject') throw new MetadataError('rejected', `the peer rejected metadata piece ${ut.piece}`);
    if (ut.totalSize !== assembler.size) {
      throw new MetadataError('protocol', `total_size ${ut.totalSize} differs from metadata_size ${assembler.size}`);
    }
    assembler.add(ut.piece, ut.data);
    outstanding = Math.max(0, outstanding - 1);
    if (assembler.complete) {
      const { bytes, matched } = assembler.verify({ infoHash, ...(options.infoHashV2 !== undefined ? { infoHashV2: options.infoHashV2 } : {}) });
      const metadata: Metadata = { infoHash, bytes, info: parseInfoDict(bytes), matched, peer: connection.remote, client };
      if (options.pieceLayers === true) await addPieceLayers(connection, metadata);
      return metadata;
    }
    requestMore();
  }
}

/** The most piece-layer bytes we collect for one torrent: 32 MiB is a million pieces. */
const MAX_PIECE_LAYER_BYTES = 32 * 1024 * 1024;

/**
 * BEP 52: ask the peer that served the metadata for the piece layers of its files, a few requests
 * at a time, each answer checked against its file's pieces root as it comes. A refusal or a bad
 * answer leaves `pieceLayersError` and keeps the metadata; a broken connection too.
 */
async function addPieceLayers(connection: PeerConnection, metadata: Metadata): Promise<void> {
  const { pieceLength, merkleFiles } = metadata.info;
  const files = filesNeedingLayers(merkleFiles, pieceLength);
  const bytes = files.reduce((n, f) => n + Math.ceil(f.length / pieceLength) * 32, 0);
  if (bytes > MAX_PIECE_LAYER_BYTES) {
    metadata.pieceLayersError = `the piece layers would take ${bytes} bytes, more than the ${MAX_PIECE_LAYER_BYTES} we collect`;
    return;
  }
  const queue = files.flatMap((file) => pieceLayerRequests(file, pieceLength).map((request) => ({ file, request })));
  const pending = new Map<string, (typeof queue)[number]>();
  const parts = new Map<MerkleFile, { index: number; hashes: Uint8Array }[]>(files.map((f) => [f, []]));
  const keyOf = (r: HashRequest): string => `${idKey(r.piecesRoot)}/${r.index}`;
  const sendMore = (): void => {
    while (pending.size < REQUEST_WINDOW && queue.length > 0) {
      const next = queue.shift()!;
      pending.set(keyOf(next.request), next);
      connection.send({ type: 'hash-request', request: next.request });
    }
  };
  try {
    sendMore();
    while (pending.size > 0) {
      const message = await connection.message();
      if (message.type !== 'hashes' && message.type !== 'hash-reject') continue;
      const asked = pending.get(keyOf(message.request));
      if (asked === undefined) throw new PieceLayerError('an answer to a hash request we did not send');
      if (message.type === 'hash-reject') throw new PieceLayerError(`the peer rejected the hash request for piece ${message.request.index} and on`);
      parts.get(asked.file)!.push({ index: asked.request.index, hashes: checkHashes(asked.request, message, asked.file, pieceLength) });
      pending.delete(keyOf(message.request));
      sendMore();
    }
  } catch (error) {
    metadata.pieceLayersError = errorText(error);
    return;
  }
  metadata.pieceLayers = files.map((file) => ({ piecesRoot: file.piecesRoot, hashes: joinInOrder(parts.get(file)!) }));
}

/** Answers may come in any order: a file's chunks are put back in index order. */
function joinInOrder(chunks: { index: number; hashes: Uint8Array }[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks.sort((a, b) => a.index - b.index).map((c) => c.hashes)));
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
  return new MetadataError('protocol', errorText(error));
}

function parseOrProtocol<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof MetadataError ? error : new MetadataError('protocol', errorText(error));
  }
}
