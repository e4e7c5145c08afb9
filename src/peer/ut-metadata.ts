/**
 * BEP 9, "Extension for Peers to Send Metadata Files": the ut_metadata messages and the assembler
 * that puts a torrent's info dictionary together from them, pure (no socket). An info-hash is only
 * a SHA-1; the info dictionary it hashes holds the name, the files and their sizes. Peers that have
 * it hand it out in 16 KiB pieces, over the extension protocol (BEP 10, extension-protocol.ts):
 *
 *   extended message 3: {msg_type: 0, piece: i}         requests, with THEIR id for ut_metadata
 *   extended message 1: {msg_type: 1, piece: i, total_size: 31235} + the piece's bytes
 *
 * Nothing a peer says is trusted: the size is capped before anything is allocated (10 MiB by
 * default, much more than any real info dictionary), every piece must have the exact length BEP 9
 * gives it, and the assembled bytes must hash to the info-hash we asked for: SHA-1 for a v1
 * torrent, SHA-256 for a v2 one (BEP 52), both for a hybrid whose magnet names both.
 */
import { createHash } from 'node:crypto';
import { decodePrefix, encode, isDict, type BencodeValue } from '../wire/bencode.js';
import { bytesEqual } from '../wire/id.js';
import type { ConnectionFailure } from './peer-connection.js';

/** BEP 9: "The metadata is handled in blocks of 16KiB (16384 Bytes)." */
export const METADATA_PIECE_BYTES = 16 * 1024;
/** The largest info dictionary we accept by default. Real ones are kilobytes to a few megabytes. */
export const DEFAULT_MAX_METADATA_BYTES = 10 * 1024 * 1024;
/** The id we ask peers to use for ut_metadata messages they send us (BEP 10: the receiver picks it). */
export const OUR_UT_METADATA_ID = 1;
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
  /** The assembled bytes do not hash to the info-hash (SHA-1, or SHA-256 for v2): a lying or broken peer. */
  | 'hash-mismatch'
  /** The bytes hash right but are not an info dictionary we can read. */
  | 'bad-info';

export class MetadataError extends Error {
  constructor(readonly reason: MetadataFailure, message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

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
    throw new MetadataError('protocol', `bad ut_metadata message: ${errorText(error)}`);
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
  private readonly bytes: Uint8Array;
  private readonly received: boolean[];
  private receivedCount = 0;

  /** Throws 'oversized' for sizes over `maxBytes` or that are not positive integers. */
  constructor(size: number, maxBytes: number = DEFAULT_MAX_METADATA_BYTES) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new MetadataError('oversized', `invalid metadata size ${size}`);
    if (size > maxBytes) throw new MetadataError('oversized', `metadata of ${size} bytes exceeds the ${maxBytes}-byte limit`);
    this.size = size;
    this.pieceCount = Math.ceil(size / METADATA_PIECE_BYTES);
    this.bytes = new Uint8Array(size);
    this.received = new Array<boolean>(this.pieceCount).fill(false);
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
    if (this.received[piece] === true) return;
    this.bytes.set(data, piece * METADATA_PIECE_BYTES);
    this.received[piece] = true;
    this.receivedCount++;
  }

  has(piece: number): boolean {
    return this.received[piece] === true;
  }

  get complete(): boolean {
    return this.receivedCount === this.pieceCount;
  }

  /** The assembled info dictionary, checked against the hashes we know of the torrent (see `checkInfoHash`). */
  verified(expected: Uint8Array | InfoHashes): Uint8Array {
    return this.verify(expected instanceof Uint8Array ? { infoHash: expected } : expected).bytes;
  }

  /** `verified`, also saying which hashes matched. */
  verify(expected: InfoHashes): { bytes: Uint8Array; matched: InfoHashMatch } {
    if (!this.complete) throw new Error('metadata is not complete');
    return { bytes: this.bytes, matched: checkInfoHash(this.bytes, expected) };
  }
}

/**
 * What an info dictionary must hash to. BEP 52 gives a torrent up to two info-hashes: SHA-1 of the
 * info dictionary (v1) and its SHA-256 (v2); a hybrid torrent's info dictionary has both. The DHT
 * and the peer handshake use 20 bytes: the SHA-1, or for a v2-only torrent the SHA-256 cut to 20.
 */
export interface InfoHashes {
  /** The 20 bytes the DHT and the handshake use. */
  infoHash: Uint8Array;
  /** The whole 32-byte SHA-256 (a magnet's `xt=urn:btmh:1220...`), when known. */
  infoHashV2?: Uint8Array;
}

/** Which hashes a verified info dictionary matched. */
export type InfoHashMatch = 'v1' | 'v2' | 'v1+v2';

/**
 * Check info bytes against what we know (BEP 9 for v1, BEP 52 for v2). With the whole SHA-256
 * known, it must match in full, and the 20-byte key must be its prefix or the SHA-1 (hybrid).
 * With only 20 bytes known, we cannot tell a v1 hash from a cut v2 one: either may match, and the
 * 160 bits are as hard to forge as a v1 info-hash. Throws 'hash-mismatch' naming what was compared.
 */
export function checkInfoHash(bytes: Uint8Array, expected: InfoHashes): InfoHashMatch {
  const sha256 = sha256Of(bytes);
  const v1 = bytesEqual(sha1(bytes), expected.infoHash);
  const v2Prefix = bytesEqual(sha256.subarray(0, expected.infoHash.length), expected.infoHash);
  if (expected.infoHashV2 !== undefined) {
    if (!bytesEqual(sha256, expected.infoHashV2)) {
      throw new MetadataError('hash-mismatch', `the ${bytes.length} bytes received do not hash to the v2 info-hash (SHA-256 mismatch)`);
    }
    if (!v1 && !v2Prefix) {
      throw new MetadataError('hash-mismatch', `the ${bytes.length} bytes received match the v2 info-hash but not the v1 one (SHA-1 mismatch)`);
    }
    return v1 ? 'v1+v2' : 'v2';
  }
  if (v1) return 'v1';
  if (v2Prefix) return 'v2';
  throw new MetadataError('hash-mismatch', `the ${bytes.length} bytes received do not hash to the info-hash (neither SHA-1 nor SHA-256)`);
}

export function sha1(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(bytes).digest());
}

export function sha256Of(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** An error's message, for wrapping it in a MetadataError. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
