/**
 * A minimal BitTorrent peer for the local network and for tests: it listens on a loopback address,
 * answers BEP 3 handshakes with the BEP 10 bit, serves the info dictionary over ut_metadata (BEP 9),
 * and shows a bitfield with as many pieces as it is told to have. It never serves piece data: the
 * metadata and the bitfield are all that metadata.ts and probe.ts ever ask for.
 *
 * Misbehaviour is configurable, because the tools must survive the peers of the real internet:
 * serving bytes that do not hash to the info-hash (give it an `infoHash` that is not SHA-1(info)),
 * advertising an oversized `metadata_size`, and trickling its output a few bytes at a time.
 *
 * It speaks through the pure framing of peer-wire.ts directly on the socket (not PeerConnection),
 * because a trickling peer must control how its bytes go out.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { PeerInfo } from '../wire/compact.js';
import { idKey } from '../wire/id.js';
import { WRITE_BACKLOG_BYTES } from './peer-connection.js';
import { WireParser, encodeHandshake, encodePeerMessage, encodeReserved, makePeerId, reservedFlags, type Handshake, type PeerMessage, type WireEvent } from './peer-wire.js';
import { encodeExtendedHandshake, parseExtendedHandshake } from './extension-protocol.js';
import { encodeInfoDict, parseInfoDict } from './torrent-info.js';
import { METADATA_PIECE_BYTES, encodeUtMetadata, parseUtMetadata, sha1, sha256Of } from './ut-metadata.js';

/** The id we ask peers to use for ut_metadata messages to us (deliberately not 1, as clients differ). */
const SEEDER_UT_METADATA_ID = 3;

export interface SeededTorrentOptions {
  /** The info dictionary's bytes. */
  info: Uint8Array;
  /**
   * Default: SHA-1(info), or for a v2-only info dictionary its SHA-256 cut to 20 bytes (BEP 52).
   * Another value makes a liar: its metadata will fail the hash check.
   */
  infoHash?: Uint8Array;
  /** Fraction of pieces held, 0 to 1. Default 1 (a seed). Rounded to whole pieces. */
  completion?: number;
  /** Announce this many of the held pieces with `have` messages after the bitfield. Default 0. */
  lateHaves?: number;
  /** Advertise this metadata_size instead of the real one (an oversized liar). */
  advertisedSize?: number;
  /** Answer every metadata request with reject (a peer that has not got the metadata itself). */
  rejectMetadata?: boolean;
}

export interface SeederOptions {
  /** Loopback address to listen on. Default 127.0.0.1. */
  address?: string;
  /** Default 0: any free port. */
  port?: number;
  torrents?: readonly SeededTorrentOptions[];
  /** Peer id; default "-DS0100-" and random bytes. */
  peerId?: Uint8Array;
  /** BEP 10 `v`. Default "dht-scrape seeder". */
  client?: string;
  /** Send output at this pace: `bytes` every `intervalMs` (a peer that trickles bytes). */
  trickle?: { bytes: number; intervalMs: number };
  /** Most simultaneous connections; more are refused. Default 64. */
  maxConnections?: number;
  /** A connection is closed after this long, whatever it is doing. Default 30 s. */
  connectionTimeoutMs?: number;
}

/** A torrent as the seeder holds it, with the true piece counts that tests compare against. */
export interface SeededTorrent {
  infoHash: Uint8Array;
  info: Uint8Array;
  pieceCount: number;
  /** Which pieces it holds (bit i of byte i/8, most significant bit first, as in BEP 3). */
  bitfield: Uint8Array;
  /** How many pieces it holds: `held / pieceCount` is the completion a probe must report. */
  held: number;
  readonly options: SeededTorrentOptions;
}

export class Seeder {
  readonly local: PeerInfo;
  readonly peerId: Uint8Array;
  /** How many metadata pieces have been served, over all connections: tests check work was done. */
  metadataPiecesServed = 0;
  connectionsAccepted = 0;
  /** The most unsent bytes one connection held at once: what a peer that never reads cost us. */
  peakBacklogBytes = 0;
  private readonly server: Server;
  private readonly byInfoHash = new Map<string, SeededTorrent>();
  private readonly sockets = new Set<Socket>();
  private readonly options: SeederOptions;

  static async start(options: SeederOptions = {}): Promise<Seeder> {
    const server = createServer();
    server.maxConnections = options.maxConnections ?? 64;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.address ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    return new Seeder(server, options);
  }

  private constructor(server: Server, options: SeederOptions) {
    this.server = server;
    this.options = options;
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the seeder is not listening on TCP');
    this.local = { address: address.address, port: address.port };
    this.peerId = options.peerId ?? makePeerId();
    for (const torrent of options.torrents ?? []) this.add(torrent);
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Start seeding one more torrent. Returns what the seeder holds for it. */
  add(options: SeededTorrentOptions): SeededTorrent {
    const { pieceCount, version } = parseInfoDict(options.info);
    const infoHash = options.infoHash ?? (version === 'v2' ? sha256Of(options.info).slice(0, 20) : sha1(options.info));
    const bitfield = spreadBitfield(pieceCount, options.completion ?? 1);
    const held = countBits(bitfield);
    const torrent: SeededTorrent = { infoHash, info: options.info, pieceCount, bitfield, held, options };
    this.byInfoHash.set(idKey(infoHash), torrent);
    return torrent;
  }

  get torrents(): SeededTorrent[] {
    return [...this.byInfoHash.values()];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.connectionsAccepted++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const session = new SeederSession(socket, this, this.options);
    const timer = setTimeout(() => socket.destroy(), this.options.connectionTimeoutMs ?? 30_000);
    timer.unref();
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('drain', () => session.drained());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => { clearTimeout(timer); session.stop(); this.sockets.delete(socket); });
  }

  /** @internal A session's backlog after a write. */
  noteBacklog(bytes: number): void {
    if (bytes > this.peakBacklogBytes) this.peakBacklogBytes = bytes;
  }

  /** @internal The torrent a handshake asks for. */
  lookup(infoHash: Uint8Array): SeededTorrent | undefined {
    return this.byInfoHash.get(idKey(infoHash));
  }
}

/**
 * One accepted connection: read the handshake, answer, then serve metadata requests.
 *
 * Backpressure: a 40-byte request costs a 16 KiB answer, so a peer that floods requests and never
 * reads would make us hold gigabytes. Messages are handled only while our unsent bytes (in the
 * socket, or in the trickle outbox) are under WRITE_BACKLOG_BYTES; past it, the rest of what was
 * read waits and the socket stops reading until the backlog drains.
 */
class SeederSession {
  private readonly parser = new WireParser();
  private readonly socket: Socket;
  private readonly seeder: Seeder;
  private readonly options: SeederOptions;
  private readonly outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  /** Events read and not handled yet (at most one read's worth: the socket is paused meanwhile). */
  private pending: WireEvent[] = [];
  private pendingIndex = 0;
  private trickleTimer: NodeJS.Timeout | undefined;
  private torrent: SeededTorrent | undefined;
  private theirUtMetadata = 0;

  constructor(socket: Socket, seeder: Seeder, options: SeederOptions) {
    this.socket = socket;
    this.seeder = seeder;
    this.options = options;
  }

  receive(chunk: Uint8Array): void {
    let events: WireEvent[];
    try {
      events = this.parser.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    this.pending = this.pending.slice(this.pendingIndex).concat(events);
    this.pendingIndex = 0;
    this.handlePending();
  }

  /** The socket or the trickle outbox took our backlog: handle what was waiting, then read again. */
  drained(): void {
    this.handlePending();
  }

  /** Bytes we have answered with and the peer has not taken yet: in the socket or the trickle outbox. */
  get backlogBytes(): number {
    return this.socket.writableLength + this.outboxBytes;
  }

  stop(): void {
    if (this.trickleTimer !== undefined) clearInterval(this.trickleTimer);
    this.outbox.length = 0;
    this.outboxBytes = 0;
    this.pending = [];
  }

  private handlePending(): void {
    while (this.pendingIndex < this.pending.length && !this.socket.destroyed) {
      if (this.backlogBytes > WRITE_BACKLOG_BYTES) { this.socket.pause(); return; }
      const event = this.pending[this.pendingIndex++]!;
      if (event.kind === 'handshake') this.onHandshake(event.handshake);
      else this.onMessage(event.message);
    }
    this.pending = [];
    this.pendingIndex = 0;
    if (this.backlogBytes <= WRITE_BACKLOG_BYTES && this.socket.isPaused()) this.socket.resume();
  }

  /** BEP 3: answer with our handshake for the same torrent, or hang up if we do not have it. */
  private onHandshake(theirs: Handshake): void {
    const torrent = this.seeder.lookup(theirs.infoHash);
    if (torrent === undefined) { this.socket.destroy(); return; }
    this.torrent = torrent;
    const ours: Handshake = { reserved: encodeReserved({ extensions: true }), infoHash: theirs.infoHash, peerId: this.seeder.peerId };
    this.send(encodeHandshake(ours));
    // BEP 10: the extension handshake goes only to peers that set the bit too.
    if (reservedFlags(theirs.reserved).extensions) this.sendExtendedHandshake(torrent);
    this.sendPieces(torrent);
  }

  private sendExtendedHandshake(torrent: SeededTorrent): void {
    this.send(encodePeerMessage({
      type: 'extended',
      id: 0,
      payload: encodeExtendedHandshake({
        m: new Map([['ut_metadata', SEEDER_UT_METADATA_ID]]),
        metadataSize: torrent.options.advertisedSize ?? torrent.info.length,
        client: this.options.client ?? 'dht-scrape seeder',
        port: this.seeder.local.port,
      }),
    }));
  }

  /** The bitfield, minus the pieces kept back for `have` messages (a "lazy bitfield", as some clients send). */
  private sendPieces(torrent: SeededTorrent): void {
    const held = heldPieces(torrent.bitfield, torrent.pieceCount);
    const late = held.slice(held.length - Math.min(held.length, torrent.options.lateHaves ?? 0));
    const bits = torrent.bitfield.slice();
    for (const piece of late) bits[piece >> 3]! &= ~(0x80 >> (piece & 7));
    if (late.length < held.length) this.send(encodePeerMessage({ type: 'bitfield', bits }));
    for (const piece of late) this.send(encodePeerMessage({ type: 'have', piece }));
  }

  private onMessage(message: PeerMessage): void {
    const torrent = this.torrent;
    if (torrent === undefined || message.type !== 'extended') return;
    if (message.id === 0) {
      this.theirUtMetadata = extensionId(message.payload);
      return;
    }
    if (message.id !== SEEDER_UT_METADATA_ID || this.theirUtMetadata === 0) return;
    let request;
    try {
      request = parseUtMetadata(message.payload);
    } catch {
      return;
    }
    if (request.type !== 'request') return;
    this.answerRequest(torrent, request.piece);
  }

  /** BEP 9 data message for one piece, or reject if the piece does not exist or we are told to refuse. */
  private answerRequest(torrent: SeededTorrent, piece: number): void {
    const size = torrent.info.length;
    const start = piece * METADATA_PIECE_BYTES;
    const refuse = torrent.options.rejectMetadata === true || start >= size;
    const payload = refuse
      ? encodeUtMetadata({ type: 'reject', piece })
      : encodeUtMetadata({ type: 'data', piece, totalSize: size, data: torrent.info.subarray(start, Math.min(size, start + METADATA_PIECE_BYTES)) });
    if (!refuse) this.seeder.metadataPiecesServed++;
    this.send(encodePeerMessage({ type: 'extended', id: this.theirUtMetadata, payload }));
  }

  private send(bytes: Uint8Array): void {
    const trickle = this.options.trickle;
    if (trickle === undefined) {
      this.socket.write(bytes);
    } else {
      this.outbox.push(bytes);
      this.outboxBytes += bytes.length;
      this.trickleTimer ??= setInterval(() => this.drip(trickle.bytes), trickle.intervalMs);
    }
    this.seeder.noteBacklog(this.backlogBytes);
  }

  /** Send the next `count` queued bytes. */
  private drip(count: number): void {
    let left = count;
    while (left > 0 && this.outbox.length > 0) {
      const head = this.outbox[0]!;
      const part = head.subarray(0, left);
      this.socket.write(part);
      left -= part.length;
      this.outboxBytes -= part.length;
      if (part.length === head.length) this.outbox.shift();
      else this.outbox[0] = head.subarray(part.length);
    }
    if (this.pending.length > 0 || this.socket.isPaused()) this.handlePending();
  }
}

/** The ut_metadata id a peer's extension handshake asks for, or 0 (also for a handshake we cannot read). */
function extensionId(payload: Uint8Array): number {
  try {
    return parseExtendedHandshake(payload).m.get('ut_metadata') ?? 0;
  } catch {
    return 0;
  }
}

/**
 * A bitfield of `pieceCount` pieces holding round(completion * pieceCount) of them, spread evenly
 * (piece i is held when floor((i + 1) * h / n) > floor(i * h / n)), as a partial download would
 * be. Spare bits at the end stay 0 (BEP 3).
 */
export function spreadBitfield(pieceCount: number, completion: number): Uint8Array {
  if (!(completion >= 0 && completion <= 1)) throw new RangeError(`completion must be in [0, 1], got ${completion}`);
  const bits = new Uint8Array(Math.ceil(pieceCount / 8));
  const held = Math.round(completion * pieceCount);
  for (let i = 0; i < pieceCount; i++) {
    if (Math.floor(((i + 1) * held) / pieceCount) > Math.floor((i * held) / pieceCount)) bits[i >> 3]! |= 0x80 >> (i & 7);
  }
  return bits;
}

function heldPieces(bits: Uint8Array, pieceCount: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < pieceCount; i++) if ((bits[i >> 3]! & (0x80 >> (i & 7))) !== 0) out.push(i);
  return out;
}

function countBits(bits: Uint8Array): number {
  let count = 0;
  for (const byte of bits) for (let b = byte; b !== 0; b &= b - 1) count++;
  return count;
}


export interface SyntheticTorrentSpec {
  name: string;
  /** File lengths; one file makes a single-file torrent named `name`. */
  files: readonly { path: readonly string[]; length: number }[];
  /** Default 16 KiB. */
  pieceLength?: number;
}

/**
 * The info dictionary of a made-up torrent. Its piece hashes are random bytes: nobody will download
 * the pieces, but the dictionary is well formed, and unique even for a repeated name.
 */
export function syntheticInfo(spec: SyntheticTorrentSpec): Uint8Array {
  const pieceLength = spec.pieceLength ?? 16 * 1024;
  const total = spec.files.reduce((sum, f) => sum + f.length, 0);
  const pieceCount = Math.max(1, Math.ceil(total / pieceLength));
  const pieces = new Uint8Array(randomBytes(pieceCount * 20));
  const single = spec.files.length === 1 && spec.files[0]!.path.length === 0;
  return single
    ? encodeInfoDict({ name: spec.name, pieceLength, pieces, length: spec.files[0]!.length })
    : encodeInfoDict({ name: spec.name, pieceLength, pieces, files: spec.files });
}
