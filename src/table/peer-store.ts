/**
 * The peers other nodes announced to us: what makes every DHT node a small tracker.
 *
 * - announce_peer stores "this IP:port is in the swarm of this info-hash" (BEP 5, "announce_peer"),
 *   with whether it is a seed (BEP 33, "New ANNOUNCE_PEER semantics").
 * - get_peers reads a random handful back (BEP 5, "get_peers"), optionally without seeds (BEP 33
 *   "noseed") and as two bloom filters for scrapes (BEP 33 "BFsd"/"BFpe").
 * - sample_infohashes reads a random sample of the info-hashes we hold (BEP 51).
 *
 * Announces are soft state: a peer that does not re-announce within ttlMs (30 minutes, the usual
 * re-announce interval plus slack) is forgotten. Memory is bounded by three caps; what each does when
 * reached is documented on PeerStoreOptions.
 *
 * Two orders do the bookkeeping. JavaScript Maps iterate in insertion order, and every announce
 * deletes and re-inserts what it touches, so:
 * - #torrents runs from least to most recently announced-to info-hash;
 * - each torrent's peers run from least to most recently announced peer.
 * The oldest entry is therefore always the first one: eviction is O(1), and torrents whose last
 * announce is older than ttlMs (all their peers expired) are found at the front.
 *
 * Pure: no timers. Expiry happens lazily in every call and fully in expire(), which the owner may
 * call from time to time to release memory.
 */
import { randomBytes } from 'node:crypto';
import { ScrapeBloom } from '../wire/bloom.js';
import { familyOf, normalizeAddress } from '../wire/compact.js';
import type { Family, PeerInfo } from '../wire/compact.js';
import { isId, ID_LENGTH } from '../wire/id.js';
import type { NodeId } from '../wire/id.js';

/**
 * 30 minutes. BEP 5 sets no lifetime; clients commonly re-announce every 15 minutes, so this
 * survives one lost announce while still forgetting peers that left.
 */
export const PEER_TTL_MS = 30 * 60 * 1000;
/**
 * Default peers per get_peers reply: 50 IPv4 values bencode to 400 bytes ("6:" + 6 bytes each),
 * 50 IPv6 ones to 1,050, which keeps a reply under ~1,200 bytes, a size no path MTU will fragment.
 * Ask for fewer when adding the 2 x 256-byte BEP 33 filters.
 */
export const DEFAULT_MAX_PEERS_REPLY = 50;

export interface PeerStoreOptions {
  /** How long an announce is kept without being renewed. Default 30 minutes. */
  ttlMs?: number;
  /**
   * Most info-hashes stored. Default 10,000. When full, announcing a new info-hash evicts the
   * info-hash announced to least recently, with all its peers. We chose eviction over refusal
   * because the store should follow the live DHT: refusing would let one burst of announces lock
   * out every new torrent for a whole TTL, while the least recently announced torrent is the one
   * most likely to be dead anyway.
   */
  maxTorrents?: number;
  /**
   * Most peers per info-hash. Default 1,000 (BEP 33 asks for fewer than 6,000, where its bloom
   * filters saturate). When full, a new peer replaces that torrent's least recently announced peer:
   * fresh announces are the likeliest to still be online.
   */
  maxPeersPerTorrent?: number;
  /**
   * Most peers over all info-hashes. Default 100,000. When full, a new peer first drops the expired
   * peers of the least recently announced-to torrent, and if none were expired, evicts that
   * torrent's oldest peer: the stalest swarm gives up its stalest peer.
   */
  maxPeers?: number;
  now?: () => number;
  random?: (size: number) => Uint8Array;
}

export interface PeersQuery {
  /** At most this many peers, chosen at random when there are more. Default 50. */
  max?: number;
  /** Only IPv4 (4) or only IPv6 (6) peers: a get_peers over IPv4 returns IPv4 "values" (BEP 32). */
  family?: Family;
  /**
   * BEP 33 "noseed": the asker is a seed and only wants peers it can upload to. The BEP asks for
   * non-seeds "on a best-effort basis"; we leave seeds out entirely, as they are no use to a seed.
   */
  noseed?: boolean;
}

export interface PeerStoreStats {
  infoHashes: number;
  /** All stored peers, seeds included. */
  peers: number;
  seeds: number;
}

/** BEP 33's scrape reply for one info-hash. */
export interface ScrapeFilters {
  /** "BFsd": the IPs of the seeds. */
  seeds: ScrapeBloom;
  /** "BFpe": the IPs of the other peers (non-seeds). */
  peers: ScrapeBloom;
}

interface StoredPeer {
  readonly address: string;
  readonly port: number;
  readonly family: Family;
  seed: boolean;
  /** Time (ms) after which the announce no longer counts. */
  expires: number;
}

interface Torrent {
  /** Keyed by "address:port", in announce order (oldest first). */
  readonly peers: Map<string, StoredPeer>;
  /** Time of the latest announce. Its peer is always still here (only older ones get evicted). */
  lastAnnounce: number;
}

export class PeerStore {
  readonly #ttlMs: number;
  readonly #maxTorrents: number;
  readonly #maxPeersPerTorrent: number;
  readonly #maxPeers: number;
  readonly #now: () => number;
  readonly #random: (size: number) => Uint8Array;
  /**
   * Keyed by the info-hash's 20 bytes as a latin1 string: one char per byte, so the key is exact,
   * short and cheap to make (hex would be twice as long), and convertible back for sample().
   */
  readonly #torrents = new Map<string, Torrent>();
  /** Peers over all torrents, kept up to date so the maxPeers check is O(1). */
  #peerCount = 0;

  constructor(options: PeerStoreOptions = {}) {
    this.#ttlMs = positive('ttlMs', options.ttlMs ?? PEER_TTL_MS);
    this.#maxTorrents = positiveInteger('maxTorrents', options.maxTorrents ?? 10_000);
    this.#maxPeersPerTorrent = positiveInteger('maxPeersPerTorrent', options.maxPeersPerTorrent ?? 1_000);
    this.#maxPeers = positiveInteger('maxPeers', options.maxPeers ?? 100_000);
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  /**
   * Record an announce_peer (whose token the caller has already checked). A peer announcing again
   * gets a fresh TTL and its new seed status; it is not counted twice. The address is stored in
   * its canonical form (normalizeAddress), which is what peers() gives back.
   *
   * Peers are keyed by IP and port. BEP 33 asks for unique IPs per info-hash, but on a local test
   * network every node shares 127.0.0.1; the scrape filters hash only the IP, so they still count
   * each IP once.
   */
  announce(infoHash: NodeId, peer: PeerInfo, seed: boolean): void {
    const key = infoHashKey(infoHash);
    checkPort(peer.port);
    // One spelling per host (`::ffff:1.2.3.4` is `1.2.3.4`), so the same peer is not stored twice.
    const address = normalizeAddress(peer.address);
    const family = familyOf(address);
    const now = this.#now();
    this.#dropDeadTorrents(now);

    const peerKey = `${address}:${peer.port}`;
    const existing = this.#torrents.get(key);
    const stored: StoredPeer = { address, port: peer.port, family, seed, expires: now + this.#ttlMs };
    if (existing?.peers.has(peerKey)) {
      existing.peers.delete(peerKey); // re-insert below: it becomes the most recent peer
    } else {
      this.#makeRoom(key, now);
      this.#peerCount++;
    }
    const torrent = this.#torrents.get(key) ?? { peers: new Map<string, StoredPeer>(), lastAnnounce: now };
    torrent.peers.set(peerKey, stored);
    torrent.lastAnnounce = now;
    this.#torrents.delete(key); // re-insert: it becomes the most recently announced torrent
    this.#torrents.set(key, torrent);
  }

  /**
   * Peers for a get_peers reply: all that match when there are at most `max`, otherwise a uniform
   * random choice of `max`, so that every peer of a big swarm gets handed out now and then.
   */
  peers(infoHash: NodeId, query: PeersQuery = {}): PeerInfo[] {
    const max = query.max ?? DEFAULT_MAX_PEERS_REPLY;
    const torrent = this.#live(infoHashKey(infoHash));
    if (!torrent) return [];
    const matching: StoredPeer[] = [];
    for (const peer of torrent.peers.values()) {
      if (query.family !== undefined && peer.family !== query.family) continue;
      if (query.noseed === true && peer.seed) continue;
      matching.push(peer);
    }
    return randomSubset(matching, max, this.#random).map((p) => ({ address: p.address, port: p.port }));
  }

  /** Whether we hold unexpired peers for the info-hash: get_peers answers "values" if so, else "nodes". */
  has(infoHash: NodeId): boolean {
    return this.#live(infoHashKey(infoHash)) !== undefined;
  }

  /**
   * BEP 33 scrape filters for the info-hash: seeds in one, non-seeds in the other. Both are empty
   * when we hold nothing for it; BEP 33 then wants no filters in the reply at all (check has()).
   */
  scrape(infoHash: NodeId): ScrapeFilters {
    const filters: ScrapeFilters = { seeds: new ScrapeBloom(), peers: new ScrapeBloom() };
    const torrent = this.#live(infoHashKey(infoHash));
    for (const peer of torrent?.peers.values() ?? []) {
      (peer.seed ? filters.seeds : filters.peers).insert(peer.address);
    }
    return filters;
  }

  /**
   * Up to `max` distinct info-hashes we hold, chosen at random (BEP 51: "a randomly sampled subset"
   * when they do not all fit in a reply; 20 bytes each). A fresh sample per call; BEP 51 allows
   * caching one for a while, which the caller can do.
   */
  sample(max: number): Uint8Array[] {
    this.#dropDeadTorrents(this.#now());
    return randomSubset([...this.#torrents.keys()], max, this.#random).map(infoHashFromKey);
  }

  /** How many info-hashes are stored (BEP 51's "num" field). */
  get numInfoHashes(): number {
    this.#dropDeadTorrents(this.#now());
    return this.#torrents.size;
  }

  /** Drop every expired peer, and every torrent left without peers. */
  expire(): void {
    const now = this.#now();
    for (const [key, torrent] of this.#torrents) this.#prune(key, torrent, now);
  }

  stats(): PeerStoreStats {
    this.expire();
    let seeds = 0;
    for (const torrent of this.#torrents.values()) {
      for (const peer of torrent.peers.values()) if (peer.seed) seeds++;
    }
    return { infoHashes: this.#torrents.size, peers: this.#peerCount, seeds };
  }

  /** The torrent under `key` with its expired peers dropped, or undefined if none are left. */
  #live(key: string): Torrent | undefined {
    const now = this.#now();
    this.#dropDeadTorrents(now);
    const torrent = this.#torrents.get(key);
    if (torrent) this.#prune(key, torrent, now);
    return this.#torrents.get(key);
  }

  /**
   * Drop the torrents whose last announce is older than the TTL: every one of their peers has
   * expired. They sit at the front of #torrents, so this stops at the first live one.
   */
  #dropDeadTorrents(now: number): void {
    for (const [key, torrent] of this.#torrents) {
      if (torrent.lastAnnounce + this.#ttlMs > now) return;
      this.#removeTorrent(key, torrent);
    }
  }

  /** Drop the torrent's expired peers; drop the torrent if that empties it. */
  #prune(key: string, torrent: Torrent, now: number): void {
    for (const [peerKey, peer] of torrent.peers) {
      if (peer.expires <= now) this.#removePeer(key, torrent, peerKey);
    }
  }

  /** Enforce the three caps before a new peer joins the torrent under `key` (which may not exist yet). */
  #makeRoom(key: string, now: number): void {
    const torrent = this.#torrents.get(key);
    if (torrent && torrent.peers.size >= this.#maxPeersPerTorrent) {
      this.#prune(key, torrent, now);
      if (torrent.peers.size >= this.#maxPeersPerTorrent) this.#removeOldestPeer(key, torrent);
    }
    if (!this.#torrents.has(key) && this.#torrents.size >= this.#maxTorrents) {
      const oldest = firstEntry(this.#torrents);
      if (oldest) this.#removeTorrent(...oldest);
    }
    // Each round removes at least one peer, so this ends (the counted peers are all in #torrents).
    while (this.#peerCount >= this.#maxPeers) {
      const stalest = firstEntry(this.#torrents);
      if (!stalest) break;
      const [staleKey, stale] = stalest;
      const before = this.#peerCount;
      this.#prune(staleKey, stale, now);
      if (this.#peerCount === before) this.#removeOldestPeer(staleKey, stale);
    }
  }

  #removeOldestPeer(key: string, torrent: Torrent): void {
    const oldest = firstEntry(torrent.peers);
    if (oldest) this.#removePeer(key, torrent, oldest[0]);
  }

  #removePeer(key: string, torrent: Torrent, peerKey: string): void {
    if (!torrent.peers.delete(peerKey)) return;
    this.#peerCount--;
    if (torrent.peers.size === 0) this.#torrents.delete(key);
  }

  #removeTorrent(key: string, torrent: Torrent): void {
    this.#peerCount -= torrent.peers.size;
    this.#torrents.delete(key);
  }
}

/** A Map's first entry in iteration order, i.e. the one inserted (or re-inserted) longest ago. */
function firstEntry<K, V>(map: ReadonlyMap<K, V>): [K, V] | undefined {
  for (const entry of map) return entry;
  return undefined;
}

function infoHashKey(infoHash: NodeId): string {
  if (!isId(infoHash)) throw new TypeError(`an info-hash is ${ID_LENGTH} bytes`);
  return Buffer.from(infoHash.buffer, infoHash.byteOffset, infoHash.byteLength).toString('latin1');
}

function infoHashFromKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}

function checkPort(port: number): void {
  // Port 0 cannot be connected to; BEP 5 peers listen on a real TCP port.
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`invalid port ${port}`);
}

/**
 * `max` items of `items`, each subset equally likely (a partial Fisher-Yates shuffle on a copy), or
 * all of them, in order, when there are no more than `max`.
 */
function randomSubset<T>(items: readonly T[], max: number, random: (size: number) => Uint8Array): T[] {
  const count = Math.max(0, Math.floor(max));
  if (items.length <= count) return items.slice();
  const pool = items.slice();
  for (let i = 0; i < count; i++) {
    const j = i + randomBelow(pool.length - i, random);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/**
 * A uniform integer in [0, n), n <= 2^32, from 4 random bytes. Values from the incomplete last
 * round of n are redrawn: plain `% n` would favour small results.
 */
function randomBelow(n: number, random: (size: number) => Uint8Array): number {
  const limit = Math.floor(2 ** 32 / n) * n;
  for (;;) {
    const b = random(4);
    const value = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (value < limit) return value % n;
  }
}
