/**
 * The UDP tracker protocol's packets (BEP 15), encoded and decoded without any I/O.
 *
 * BEP 15 replaces HTTP's bencoded text with fixed binary layouts: every integer is big-endian,
 * every packet starts with an action and a transaction ID the client chose, and a client must
 * first obtain a connection ID (a cheap proof that its source address is not spoofed) before it
 * may announce or scrape. A reply is only trusted after its action and transaction ID match.
 */
import { COMPACT_PEER_LENGTH, decodePeer, type Family, type PeerInfo } from '../wire/compact.js';
import { ID_LENGTH, type NodeId } from '../wire/id.js';

/** BEP 15 "magic constant" that opens a connect request. */
export const PROTOCOL_ID = 0x41727101980n;

/** The four actions of BEP 15; a reply carries the action of its request, or `error`. */
export const Action = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
export type ActionName = keyof typeof Action;

/** BEP 15 announce events (HTTP's `event=` values as numbers). */
export const AnnounceEvent = { none: 0, completed: 1, started: 2, stopped: 3 } as const;
export type AnnounceEventName = keyof typeof AnnounceEvent;

/** BEP 15: a scrape request names at most about 74 info-hashes (one MTU-sized reply). */
export const MAX_SCRAPE_HASHES = 74;

/** A UDP tracker reply that is not what BEP 15 says; `offset` is where reading failed. */
export class UdpTrackerError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) { super(message); this.name = 'UdpTrackerError'; this.offset = offset; }
}

export interface AnnounceRequest {
  connectionId: bigint;
  transactionId: number;
  infoHash: NodeId;
  peerId: Uint8Array;
  downloaded: bigint;
  left: bigint;
  uploaded: bigint;
  event: AnnounceEventName;
  /** A random number the tracker uses to recognise us if our address changes. */
  key: number;
  /** How many peers we would like; -1 lets the tracker choose. */
  numWant: number;
  port: number;
}

/** Counts and peers from an announce reply. */
export interface AnnounceReply { interval: number; leechers: number; seeders: number; peers: PeerInfo[] }

/** One info-hash's line of a scrape reply, in the order of the request. */
export interface ScrapeCounts { seeders: number; completed: number; leechers: number }

/** A decoded reply: what the action says it is. */
export type UdpTrackerReply =
  | { action: 'connect'; transactionId: number; connectionId: bigint }
  | { action: 'announce'; transactionId: number; reply: AnnounceReply }
  | { action: 'scrape'; transactionId: number; counts: ScrapeCounts[] }
  | { action: 'error'; transactionId: number; message: string };

/** Connect request: protocol ID, action 0, transaction ID (16 bytes). */
export function encodeConnect(transactionId: number): Uint8Array {
  const out = new DataView(new ArrayBuffer(16));
  out.setBigUint64(0, PROTOCOL_ID);
  out.setUint32(8, Action.connect);
  out.setUint32(12, transactionId >>> 0);
  return new Uint8Array(out.buffer);
}

/** Announce request: 98 bytes. The IP field is 0 (the tracker uses the packet's source address). */
export function encodeAnnounce(request: AnnounceRequest): Uint8Array {
  checkLength('info_hash', request.infoHash, ID_LENGTH);
  checkLength('peer_id', request.peerId, ID_LENGTH);
  const bytes = new Uint8Array(98);
  const out = new DataView(bytes.buffer);
  out.setBigUint64(0, request.connectionId);
  out.setUint32(8, Action.announce);
  out.setUint32(12, request.transactionId >>> 0);
  bytes.set(request.infoHash, 16);
  bytes.set(request.peerId, 36);
  out.setBigUint64(56, request.downloaded);
  out.setBigUint64(64, request.left);
  out.setBigUint64(72, request.uploaded);
  out.setUint32(80, AnnounceEvent[request.event]);
  out.setUint32(84, 0);
  out.setUint32(88, request.key >>> 0);
  out.setInt32(92, request.numWant);
  out.setUint16(96, request.port);
  return bytes;
}

/** Scrape request: connection ID, action 2, transaction ID, then 20 bytes per info-hash. */
export function encodeScrape(connectionId: bigint, transactionId: number, infoHashes: readonly NodeId[]): Uint8Array {
  if (infoHashes.length === 0 || infoHashes.length > MAX_SCRAPE_HASHES) {
    throw new RangeError(`a scrape names 1 to ${MAX_SCRAPE_HASHES} info-hashes, got ${infoHashes.length}`);
  }
  const bytes = new Uint8Array(16 + ID_LENGTH * infoHashes.length);
  const out = new DataView(bytes.buffer);
  out.setBigUint64(0, connectionId);
  out.setUint32(8, Action.scrape);
  out.setUint32(12, transactionId >>> 0);
  infoHashes.forEach((hash, i) => { checkLength('info_hash', hash, ID_LENGTH); bytes.set(hash, 16 + ID_LENGTH * i); });
  return bytes;
}

/**
 * Read a tracker's reply. `family` is the address family the request went over: BEP 15 says an
 * announce reply carries 6-byte peers over IPv4 and 18-byte peers over IPv6. Throws
 * UdpTrackerError for anything malformed: too short, an unknown action, a ragged peer list.
 */
export function decodeReply(bytes: Uint8Array, family: Family): UdpTrackerReply {
  if (bytes.length < 8) throw new UdpTrackerError(`a reply is at least 8 bytes, got ${bytes.length}`, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const action = view.getUint32(0);
  const transactionId = view.getUint32(4);
  switch (action) {
    case Action.connect:
      if (bytes.length < 16) throw new UdpTrackerError(`a connect reply is 16 bytes, got ${bytes.length}`, bytes.length);
      return { action: 'connect', transactionId, connectionId: view.getBigUint64(8) };
    case Action.announce:
      return { action: 'announce', transactionId, reply: decodeAnnounceBody(bytes, view, family) };
    case Action.scrape:
      return { action: 'scrape', transactionId, counts: decodeScrapeBody(bytes, view) };
    case Action.error:
      return { action: 'error', transactionId, message: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8)) };
    default:
      throw new UdpTrackerError(`unknown action ${action}`, 0);
  }
}

function decodeAnnounceBody(bytes: Uint8Array, view: DataView, family: Family): AnnounceReply {
  if (bytes.length === 8) throw new UdpTrackerError('an empty announce reply (opentracker sends one for a torrent it does not track)', 8);
  if (bytes.length < 20) throw new UdpTrackerError(`an announce reply is at least 20 bytes, got ${bytes.length}`, bytes.length);
  const size = COMPACT_PEER_LENGTH[family];
  const ragged = (bytes.length - 20) % size;
  if (ragged !== 0) throw new UdpTrackerError(`the peer list is not a multiple of ${size} bytes`, bytes.length - ragged);
  const peers: PeerInfo[] = [];
  for (let at = 20; at < bytes.length; at += size) peers.push(decodePeer(bytes.subarray(at, at + size)));
  return { interval: view.getUint32(8), leechers: view.getUint32(12), seeders: view.getUint32(16), peers };
}

function decodeScrapeBody(bytes: Uint8Array, view: DataView): ScrapeCounts[] {
  const ragged = (bytes.length - 8) % 12;
  if (ragged !== 0) throw new UdpTrackerError('the scrape reply is not a multiple of 12 bytes per info-hash', bytes.length - ragged);
  const counts: ScrapeCounts[] = [];
  for (let at = 8; at < bytes.length; at += 12) {
    counts.push({ seeders: view.getUint32(at), completed: view.getUint32(at + 4), leechers: view.getUint32(at + 8) });
  }
  return counts;
}

function checkLength(name: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new RangeError(`${name} is ${length} bytes, got ${bytes.length}`);
}
