/**
 * Peer probe: what do the peers the DHT named really hold? Connect, exchange BEP 3 handshakes (and
 * BEP 10 extension handshakes, for the client's own name `v`), then listen a moment for the
 * bitfield and `have` messages that say which pieces the peer has. No piece is ever requested.
 *
 * From that, per peer: reachable or not (and why not), its client (from the peer id, BEP 20, and
 * from `v`), how many pieces it holds, its completion and whether it is a seed; and over all peers,
 * the totals. Probes run a bounded number at a time, each bounded by a deadline.
 *
 * A peer may hold no pieces and then send no bitfield at all (BEP 3: "Peers which don't have
 * anything may skip the 'bitfield' message"), so silence after the handshake is an answer too: once
 * `waitForPiecesMs` has passed without one, the peer holds nothing we were told of.
 */
import type { PeerInfo } from '../wire/compact.js';
import { encodeExtendedHandshake, parseExtendedHandshake } from './extension-protocol.js';
import { PeerConnection, PeerError, mapBounded, type ConnectionFailure, type PeerConnectionOptions } from './peer-connection.js';
import { encodeReserved, makePeerId, reservedFlags, type PeerMessage, type ReservedFlags } from './peer-wire.js';

export type ProbeFailure = ConnectionFailure | 'wrong-torrent';

export interface PeerProbe {
  peer: PeerInfo;
  /** True once the peer completed a BEP 3 handshake for this torrent. */
  reachable: boolean;
  /** Why the probe ended early (a reachable peer may still fail later, e.g. by going silent mid-way). */
  error?: { reason: ProbeFailure; message: string };
  /** The peer id's printable prefix, e.g. "-LT2080-". */
  peerIdPrefix?: string;
  /** The client named by the peer id (BEP 20), e.g. "libtorrent 2.0.8". */
  client?: string;
  /** The client's own name from its BEP 10 handshake (`v`), e.g. "libtorrent/2.0.8.0". */
  v?: string;
  flags?: ReservedFlags;
  /** BEP 9 metadata size the peer offers, if any. */
  metadataSize?: number;
  /** Pieces the peer says it has, from its bitfield and have messages. */
  pieces?: PieceCount;
  durationMs: number;
}

export interface PieceCount {
  /** Undefined only after a BEP 6 have_all with no piece count given: all of an unknown number. */
  held: number | undefined;
  /** The torrent's piece count: given by the caller, or guessed from the bitfield's length. */
  total: number | undefined;
  /** False when `total` is a guess (no piece count given): completion is then approximate. */
  exact: boolean;
  /** held / total, from 0 to 1; undefined when total is unknown. */
  completion: number | undefined;
  seed: boolean;
}

export interface ProbeOptions extends PeerConnectionOptions {
  /** The torrent's piece count (from its metadata). Without it, completion is estimated. */
  pieceCount?: number;
  peerId?: Uint8Array;
  /** After the bitfield (and extension handshake) came, listen this long for `have` messages. Default 250 ms. */
  settleMs?: number;
  /** A peer silent this long after its handshake is taken to hold nothing. Default 2 s. */
  waitForPiecesMs?: number;
}

/** Probe one peer. Never rejects: failures are part of the result. Closed within `timeoutMs` (default 5 s). */
export async function probePeer(peer: PeerInfo, infoHash: Uint8Array, options: ProbeOptions = {}): Promise<PeerProbe> {
  const started = Date.now();
  const result: PeerProbe = { peer, reachable: false, durationMs: 0 };
  const tracker = new PieceTracker();
  let connection: PeerConnection | undefined;
  try {
    connection = await PeerConnection.connect(peer, { timeoutMs: 5_000, ...options });
    await converse(connection, infoHash, result, tracker, options);
  } catch (error) {
    result.error = describeFailure(error);
  } finally {
    connection?.close();
  }
  const misfit = tracker.misfit(options.pieceCount);
  if (misfit !== undefined) result.error ??= { reason: 'protocol', message: misfit };
  // Cut off before it said anything about its pieces, a peer's pieces are unknown, not zero.
  else if (result.reachable && (tracker.heard || result.error === undefined)) result.pieces = tracker.count(options.pieceCount);
  result.durationMs = Date.now() - started;
  return result;
}

async function converse(connection: PeerConnection, infoHash: Uint8Array, result: PeerProbe, tracker: PieceTracker, options: ProbeOptions): Promise<void> {
  connection.sendHandshake({ reserved: encodeReserved({ extensions: true }), infoHash, peerId: options.peerId ?? makePeerId() });
  const handshake = await connection.handshake();
  if (!handshake.infoHash.every((b, i) => b === infoHash[i])) throw new ProbeError('wrong-torrent', 'the peer answered for another info-hash');
  result.reachable = true;
  result.flags = reservedFlags(handshake.reserved);
  result.peerIdPrefix = peerIdPrefix(handshake.peerId);
  const client = clientFromPeerId(handshake.peerId);
  if (client !== undefined) result.client = client;
  if (result.flags.extensions) {
    connection.send({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: new Map(), client: 'dht-scrape' }) });
  }

  const handshakeAt = Date.now();
  let extended = !result.flags.extensions;
  let settleUntil: number | undefined;
  for (;;) {
    const now = Date.now();
    if (settleUntil === undefined && tracker.heard && extended) settleUntil = now + (options.settleMs ?? 250);
    const until = settleUntil ?? handshakeAt + (options.waitForPiecesMs ?? 2_000);
    const message = await nextWithin(connection, until - now);
    if (message === undefined) return;
    if (message.type === 'extended' && message.id === 0) {
      extended = true;
      noteExtendedHandshake(message.payload, result);
    } else {
      tracker.add(message);
    }
  }
}

function noteExtendedHandshake(payload: Uint8Array, result: PeerProbe): void {
  try {
    const theirs = parseExtendedHandshake(payload);
    if (theirs.client !== undefined) result.v = theirs.client;
    if (theirs.metadataSize !== undefined) result.metadataSize = theirs.metadataSize;
  } catch {
    // An unreadable extension handshake only costs us the client name.
  }
}

/** The next message, or undefined if none comes within `ms`. */
async function nextWithin(connection: PeerConnection, ms: number): Promise<PeerMessage | undefined> {
  if (ms <= 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const quiet = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
  const next = connection.message();
  try {
    return await Promise.race([next, quiet]);
  } finally {
    clearTimeout(timer);
    // If the quiet timer won, the read is still pending; closing the connection will reject it.
    next.catch(() => {});
  }
}

class ProbeError extends Error {
  constructor(readonly reason: ProbeFailure, message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

function describeFailure(error: unknown): { reason: ProbeFailure; message: string } {
  if (error instanceof PeerError || error instanceof ProbeError) return { reason: error.reason, message: error.message };
  return { reason: 'protocol', message: error instanceof Error ? error.message : String(error) };
}

// ---- Pieces (pure) ----

/**
 * What a peer has told us about its pieces: a bitfield (BEP 3), `have` messages, or BEP 6's
 * have_all / have_none. Bits are most significant first: piece 0 is the high bit of byte 0.
 */
export class PieceTracker {
  private bits = new Uint8Array(0);
  private all = false;
  private bitfieldBytes: number | undefined;
  /** Whether the peer said anything about its pieces yet. */
  heard = false;

  add(message: PeerMessage): void {
    switch (message.type) {
      case 'bitfield':
        this.bits = message.bits.slice();
        this.bitfieldBytes = message.bits.length;
        this.all = false;
        this.heard = true;
        return;
      case 'have-all': this.all = true; this.heard = true; return;
      case 'have-none': this.bits = new Uint8Array(0); this.all = false; this.heard = true; return;
      case 'have': this.setBit(message.piece); return;
      default: return;
    }
  }

  /**
   * Count against `pieceCount` when known (bits past it are ignored: BEP 3 wants them 0). Unknown,
   * the bitfield's length gives an upper bound of 8 * bytes; a bitfield that is all ones up to a
   * point in its last byte is read as a seed of exactly that many pieces.
   */
  count(pieceCount?: number): PieceCount {
    if (this.all) return { held: pieceCount, total: pieceCount, exact: pieceCount !== undefined, completion: 1, seed: true };
    if (pieceCount !== undefined) {
      const held = countBits(this.bits, pieceCount);
      return { held, total: pieceCount, exact: true, completion: pieceCount === 0 ? 1 : held / pieceCount, seed: held === pieceCount };
    }
    const held = countBits(this.bits, this.bits.length * 8);
    if (held === 0) return { held, total: undefined, exact: false, completion: 0, seed: false };
    if (looksComplete(this.bits, held)) return { held, total: held, exact: false, completion: 1, seed: true };
    const total = this.bits.length * 8;
    return { held, total, exact: false, completion: held / total, seed: false };
  }

  /**
   * BEP 3: a bitfield of the wrong length, or with spare bits set, is a reason to drop the peer. With
   * the piece count known, say what is wrong, or return undefined if nothing is.
   */
  misfit(pieceCount?: number): string | undefined {
    if (pieceCount === undefined || this.bitfieldBytes === undefined) return undefined;
    const expected = Math.ceil(pieceCount / 8);
    if (this.bitfieldBytes !== expected) {
      return `bitfield of ${this.bitfieldBytes} bytes for ${pieceCount} pieces (BEP 3 wants ${expected})`;
    }
    if (countBits(this.bits, this.bits.length * 8) !== countBits(this.bits, pieceCount)) return 'bitfield has spare bits set';
    return undefined;
  }

  private setBit(piece: number): void {
    // A have past the end of what we know grows the field; 2^20 pieces (128 KiB) is the most we keep.
    if (piece >= 1 << 20) return;
    if ((piece >> 3) >= this.bits.length) {
      const grown = new Uint8Array((piece >> 3) + 1);
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[piece >> 3]! |= 0x80 >> (piece & 7);
    this.heard = true;
  }
}

function countBits(bits: Uint8Array, limit: number): number {
  let count = 0;
  for (let i = 0; i < Math.min(limit, bits.length * 8); i++) if ((bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) count++;
  return count;
}

/** Pieces 0 to held - 1 all present and nothing after: how a seed's bitfield looks. */
function looksComplete(bits: Uint8Array, held: number): boolean {
  return held > (bits.length - 1) * 8 && countBits(bits, held) === held;
}

// ---- Clients (BEP 20) ----

/** Azureus-style client codes of the clients most often met in swarms. */
const AZUREUS_CLIENTS: Readonly<Record<string, string>> = {
  AZ: 'Vuze', BC: 'BitComet', BI: 'BiglyBT', BT: 'BitTorrent', DE: 'Deluge', DS: 'dht-scrape',
  FD: 'Free Download Manager', FW: 'FrostWire', KT: 'KTorrent', LT: 'libtorrent', lt: 'rTorrent',
  qB: 'qBittorrent', SD: 'Thunder', TR: 'Transmission', UM: 'µTorrent Mac', UT: 'µTorrent',
  WD: 'WebTorrent Desktop', WW: 'WebTorrent', XL: 'Xunlei',
};

/** The peer id's leading printable characters (at most 8), e.g. "-LT2080-" or "M7-2-2--". */
export function peerIdPrefix(peerId: Uint8Array): string {
  let out = '';
  for (const byte of peerId.subarray(0, 8)) {
    if (byte < 0x20 || byte > 0x7e) break;
    out += String.fromCharCode(byte);
  }
  return out;
}

/**
 * The client a peer id names (BEP 20), or undefined. Azureus style "-XXabcd-": client code XX and
 * four version characters, shown as a.b.c(.d), the last only when it is not 0. Mainline style
 * "Mx-y-z--": BitTorrent x.y.z.
 */
export function clientFromPeerId(peerId: Uint8Array): string | undefined {
  const prefix = peerIdPrefix(peerId);
  const azureus = /^-([A-Za-z0-9]{2})([A-Za-z0-9]{4})-$/.exec(prefix);
  if (azureus) {
    const name = AZUREUS_CLIENTS[azureus[1]!] ?? `unknown client ${azureus[1]!}`;
    const digits = [...azureus[2]!];
    if (digits[3] === '0') digits.pop();
    return `${name} ${digits.join('.')}`;
  }
  const mainline = /^M(\d+)-(\d+)-(\d+)-/.exec(prefix);
  if (mainline) return `BitTorrent ${mainline[1]!}.${mainline[2]!}.${mainline[3]!}`;
  return undefined;
}

// ---- Many peers ----

export interface ProbePeersOptions extends ProbeOptions {
  /** Probes at once. Default 16. */
  concurrency?: number;
  /** Called with each result as it comes. */
  onProbe?: (probe: PeerProbe) => void;
}

export interface ProbeTotals {
  probed: number;
  reachable: number;
  /** Reachable peers holding every piece. */
  seeds: number;
  /** Reachable peers missing pieces. */
  leechers: number;
  /** Reachable peers whose pieces we did not learn (cut off, or a bitfield that broke BEP 3). */
  unknown: number;
  /** Mean completion of the reachable peers (0 to 1), undefined when none was reachable. */
  meanCompletion: number | undefined;
  /** Clients by how many peers run them, most common first ("unknown" when the id names none). */
  clients: { client: string; peers: number }[];
  /** Failures by reason. */
  failures: Partial<Record<ProbeFailure, number>>;
}

export interface ProbeReport {
  probes: PeerProbe[];
  totals: ProbeTotals;
}

/** Probe many peers, `concurrency` at a time. Peers not started before `signal` aborts are left out. */
export async function probePeers(peers: readonly PeerInfo[], infoHash: Uint8Array, options: ProbePeersOptions = {}): Promise<ProbeReport> {
  const results = await mapBounded(peers, options.concurrency ?? 16, async (peer) => {
    const probe = await probePeer(peer, infoHash, options);
    options.onProbe?.(probe);
    return probe;
  }, options.signal);
  const probes = results.filter((p): p is PeerProbe => p !== undefined);
  return { probes, totals: probeTotals(probes) };
}

export function probeTotals(probes: readonly PeerProbe[]): ProbeTotals {
  const reachable = probes.filter((p) => p.reachable);
  const completions = reachable.map((p) => p.pieces?.completion).filter((c): c is number => c !== undefined);
  const clients = new Map<string, number>();
  const failures: Partial<Record<ProbeFailure, number>> = {};
  for (const p of reachable) {
    const name = p.client ?? p.v ?? 'unknown';
    clients.set(name, (clients.get(name) ?? 0) + 1);
  }
  for (const p of probes) if (p.error !== undefined) failures[p.error.reason] = (failures[p.error.reason] ?? 0) + 1;
  const seeds = reachable.filter((p) => p.pieces?.seed === true).length;
  const leechers = reachable.filter((p) => p.pieces?.seed === false).length;
  return {
    probed: probes.length,
    reachable: reachable.length,
    seeds,
    leechers,
    unknown: reachable.length - seeds - leechers,
    meanCompletion: completions.length === 0 ? undefined : completions.reduce((a, b) => a + b, 0) / completions.length,
    clients: [...clients].map(([client, peers]) => ({ client, peers })).sort((a, b) => b.peers - a.peers || a.client.localeCompare(b.client)),
    failures,
  };
}
