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
 * - `torrents` runs from least to most recently announced-to info-hash;
 * - each torrent's peers run from least to most recently announced peer.
 * The oldest entry is therefore always the first one: eviction is O(1), and torrents whose last
 * announce is older than ttlMs (all their peers expired) are found at the front.
 *
 * What a query may cost does not grow with the swarm: every peer keeps the two BEP 33 bit
 * positions of its IP (one SHA-1 per announce, none per scrape), each torrent keeps its filters up
 * to date as peers arrive (rebuilt from the kept positions only after a peer left), and each
 * per-family list of peers is kept bencoded too, as a get_peers reply carries it: a reply copies a
 * window of it that starts at a random peer (bencodedPeers), with no work per peer. Expiry walks
 * the announce order, which is also the expiry order, so it stops at the first live peer.
 *
 * No sender may crowd out the rest (issue 14: three IPs announcing 1,020 ports evicted a torrent's
 * 50 honest peers). A host (an IPv4 address, an IPv6 /64) and a network (a /24, a /48) each hold
 * at most 5% of a torrent's stored peers (maxGroupShare), one peer at least, and never more than
 * maxPortsPerHost and maxPeersPerNetwork. A new announce past its group's share replaces that
 * host's or network's own oldest peers, never someone else's; a re-announce trims its group back
 * to its share when the swarm has shrunk since. So in a swarm of 50 honest peers, each attacking IP
 * keeps 2 (3.6%), and a swarm under 40 peers keeps one per host and per network. Loopback is
 * exempt from the share (only a process on this very host can announce from it: a local network).
 *
 * Pure: no timers. Expiry happens lazily in every call and fully in expire(), which the owner may
 * call from time to time to release memory.
 */
import { randomBytes } from 'node:crypto';
import { hostKey, isLoopback, networkKey } from '../wire/address-group.js';
import { ScrapeBloom, scrapeBitIndexes } from '../wire/bloom.js';
import { BENCODED_PEER_LENGTH, BencodedPeers, familyOf, normalizeAddress, writeBencodedPeer } from '../wire/compact.js';
import type { Family, PeerInfo } from '../wire/compact.js';
import { idKey, isId, ID_LENGTH } from '../wire/id.js';
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
/** Peers one host (IPv4 address, IPv6 /64) may hold in one torrent: a few clients behind one NAT. */
export const DEFAULT_MAX_PORTS_PER_HOST = 4;
/** Share of a torrent's peer cap one network (IPv4 /24, IPv6 /48) may hold: 5%. */
const NETWORK_SHARE = 0.05;
/** Share of a torrent's stored peers one host or one network may hold: 5% (issue 14's target). */
export const DEFAULT_MAX_GROUP_SHARE = 0.05;

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
  /**
   * Most peers (ports) one host (an IPv4 address, an IPv6 /64) holds in one torrent. Default 4.
   * Past it, the host's new announce replaces its own oldest one. A local network whose peers all
   * share one address must raise it.
   */
  maxPortsPerHost?: number;
  /**
   * Most peers one network (an IPv4 /24, an IPv6 /48) holds in one torrent. Default 5% of
   * maxPeersPerTorrent (50), and never below maxPortsPerHost. Past it, the network's new announce
   * replaces its own oldest one.
   */
  maxPeersPerNetwork?: number;
  /**
   * Most of a torrent's stored peers (counting the newcomer) one host or one network may hold, as a
   * share: default 0.05, that is 5%, rounded down but never below one peer. Past it, the group's new
   * announce replaces its own oldest peers. Loopback peers are held to the two caps above only.
   */
  maxGroupShare?: number;
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
  /** BEP 33 bit positions of the IP (11 bits each, packed), computed once at the first announce. */
  readonly bits: number;
  seed: boolean;
  /** Time (ms) after which the announce no longer counts. */
  expires: number;
  /** Position in its torrent's pick list (see Torrent.lists). */
  slot: number;
}

interface Torrent {
  /** Keyed by "address:port", in announce order (oldest first), which is also expiry order. */
  readonly peers: Map<string, StoredPeer>;
  /** The same peers in four unordered lists, by family and seed status (listIndex), for random picks. */
  readonly lists: [StoredPeer[], StoredPeer[], StoredPeer[], StoredPeer[]];
  /**
   * Each list bencoded as the items of a `values` list, in the same order (a peer's `slot`), with
   * room to grow: what get_peers replies copy (bencodedPeers).
   */
  readonly encoded: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** Peers per host and per network (their keys never collide): what the caps count. */
  readonly perGroup: Map<string, Group>;
  /** The BEP 33 filters, kept up to date on arrival; undefined after a departure (rebuilt on demand). */
  filters: ScrapeFilters | undefined;
  /** Time of the latest announce. Its peer is always still here (only older ones get evicted). */
  lastAnnounce: number;
  /** Position in PeerStore.keys, for sample(); -1 until the torrent is stored. */
  keySlot: number;
}

export class PeerStore {
  private readonly ttlMs: number;
  private readonly maxTorrents: number;
  private readonly maxPeersPerTorrent: number;
  private readonly maxPeers: number;
  private readonly maxPortsPerHost: number;
  private readonly maxPeersPerNetwork: number;
  private readonly maxGroupShare: number;
  private readonly now: () => number;
  private readonly random: RandomPool;
  /**
   * Keyed by the info-hash's 20 bytes as a latin1 string: one char per byte, so the key is exact,
   * short and cheap to make (hex would be twice as long), and convertible back for sample().
   */
  private readonly torrents = new Map<string, Torrent>();
  /**
   * The same keys in an unordered list (a torrent's `keySlot`), so that a BEP 51 sample draws 20
   * of them without copying all 10,000 (a sample_infohashes cost 40 us that way, issue 14).
   */
  private readonly keys: string[] = [];
  /** Peers over all torrents, kept up to date so the maxPeers check is O(1). */
  private peerCount = 0;

  constructor(options: PeerStoreOptions = {}) {
    this.ttlMs = positive('ttlMs', options.ttlMs ?? PEER_TTL_MS);
    this.maxTorrents = positiveInteger('maxTorrents', options.maxTorrents ?? 10_000);
    this.maxPeersPerTorrent = positiveInteger('maxPeersPerTorrent', options.maxPeersPerTorrent ?? 1_000);
    this.maxPeers = positiveInteger('maxPeers', options.maxPeers ?? 100_000);
    this.maxPortsPerHost = positiveInteger('maxPortsPerHost', options.maxPortsPerHost ?? DEFAULT_MAX_PORTS_PER_HOST);
    const networkDefault = Math.max(this.maxPortsPerHost, Math.ceil(this.maxPeersPerTorrent * NETWORK_SHARE));
    this.maxPeersPerNetwork = positiveInteger('maxPeersPerNetwork', options.maxPeersPerNetwork ?? networkDefault);
    this.maxGroupShare = options.maxGroupShare ?? DEFAULT_MAX_GROUP_SHARE;
    if (!(this.maxGroupShare > 0 && this.maxGroupShare <= 1)) throw new RangeError(`maxGroupShare must be in (0, 1], got ${this.maxGroupShare}`);
    this.now = options.now ?? Date.now;
    this.random = new RandomPool(options.random ?? ((n) => new Uint8Array(randomBytes(n))));
  }

  /**
   * Record an announce_peer (whose token the caller has already checked). A peer announcing again
   * gets a fresh TTL and its new seed status; it is not counted twice. The address is stored in
   * its canonical form (normalizeAddress), which is what peers() gives back.
   *
   * Peers are keyed by IP and port. BEP 33 asks for unique IPs per info-hash, but a few clients
   * may share one NAT's address (and on a local test network every node may share 127.0.0.1); the
   * scrape filters hash only the IP, so they still count each IP once.
   */
  announce(infoHash: NodeId, peer: PeerInfo, seed: boolean): void {
    const key = infoHashKey(infoHash);
    checkPort(peer.port);
    // One spelling per host (`::ffff:1.2.3.4` is `1.2.3.4`), so the same peer is not stored twice.
    const address = normalizeAddress(peer.address);
    const now = this.now();
    this.dropDeadTorrents(now);

    const peerKey = `${address}:${peer.port}`;
    // Expired peers go first: they count toward no share, and an expired peer announcing is new.
    const before = this.torrents.get(key);
    if (before !== undefined) this.prune(key, before, now);
    let torrent = this.torrents.get(key);
    const known = torrent?.peers.get(peerKey);
    if (torrent !== undefined && known !== undefined) {
      this.renew(torrent, peerKey, known, seed, now);
      this.trimGroups(key, torrent, known);
    } else {
      const stored: StoredPeer = {
        address, port: peer.port, family: familyOf(address), bits: packBits(scrapeBitIndexes(address)),
        seed, expires: now + this.ttlMs, slot: 0,
      };
      this.makeRoom(key, stored, now);
      torrent = this.torrents.get(key) ?? newTorrent(now); // making room may have emptied it
      this.addPeer(torrent, peerKey, stored);
    }
    torrent.lastAnnounce = now;
    this.torrents.delete(key); // re-insert: it becomes the most recently announced torrent
    this.torrents.set(key, torrent);
    if (torrent.keySlot < 0) {
      torrent.keySlot = this.keys.length;
      this.keys.push(key);
    }
  }

  /**
   * Peers for a get_peers reply: all that match when there are at most `max`, otherwise a uniform
   * random choice of `max`, so that every peer of a big swarm gets handed out now and then. Costs
   * O(max), whatever the swarm's size.
   */
  peers(infoHash: NodeId, query: PeersQuery = {}): PeerInfo[] {
    const max = Math.max(0, Math.floor(query.max ?? DEFAULT_MAX_PEERS_REPLY));
    const torrent = this.live(infoHashKey(infoHash));
    if (!torrent) return [];
    const lists: StoredPeer[][] = [];
    for (const family of query.family === undefined ? [4, 6] as const : [query.family]) {
      lists.push(torrent.lists[listIndex(family, false)]);
      if (query.noseed !== true) lists.push(torrent.lists[listIndex(family, true)]);
    }
    return pickFrom(lists, max, this.random).map((p) => ({ address: p.address, port: p.port }));
  }

  /**
   * Peers of one family for a get_peers reply, already bencoded: all of them when there are at most
   * `max`, otherwise `max` consecutive ones of the family's list (seeds after the others, unless
   * `noseed`), starting at a random peer and wrapping around. Every stored peer is as likely as any
   * other to be handed out, though not every subset is (peers that sit next to each other in the
   * list come together). That is the price of a reply that costs one copy of a few hundred bytes
   * whatever the swarm's size, instead of a random draw and an address to encode per peer.
   */
  bencodedPeers(infoHash: NodeId, query: PeersQuery & { family: Family }): BencodedPeers {
    const max = Math.max(0, Math.floor(query.max ?? DEFAULT_MAX_PEERS_REPLY));
    const torrent = this.live(infoHashKey(infoHash));
    const stride = BENCODED_PEER_LENGTH[query.family];
    if (!torrent || max === 0) return new BencodedPeers(new Uint8Array(0), 0);
    const parts = [listIndex(query.family, false), ...(query.noseed === true ? [] : [listIndex(query.family, true)])];
    const total = parts.reduce<number>((sum, i) => sum + torrent.lists[i].length, 0);
    const count = Math.min(max, total);
    const out = new Uint8Array(count * stride);
    // Peers [from, from + count) of the lists taken one after the other, wrapping around at the end.
    let from = total > count ? this.random.below(total) : 0;
    let written = 0;
    while (written < count) {
      let skip = from;
      for (const i of parts) {
        const length = torrent.lists[i].length;
        if (skip >= length) { skip -= length; continue; }
        const take = Math.min(length - skip, count - written);
        out.set(torrent.encoded[i].subarray(skip * stride, (skip + take) * stride), written * stride);
        written += take;
        if (written === count) break;
        skip = 0;
      }
      from = 0;
    }
    return new BencodedPeers(out, count);
  }

  /** Whether we hold unexpired peers for the info-hash: get_peers answers "values" if so, else "nodes". */
  has(infoHash: NodeId): boolean {
    return this.live(infoHashKey(infoHash)) !== undefined;
  }

  /**
   * BEP 33 scrape filters for the info-hash: seeds in one, non-seeds in the other. Both are empty
   * when we hold nothing for it; BEP 33 then wants no filters in the reply at all (check has()).
   * The filters are the store's own: read them (toBytes copies), don't insert into them.
   */
  scrape(infoHash: NodeId): ScrapeFilters {
    const torrent = this.live(infoHashKey(infoHash));
    if (!torrent) return { seeds: new ScrapeBloom(), peers: new ScrapeBloom() };
    if (torrent.filters === undefined) {
      const filters: ScrapeFilters = { seeds: new ScrapeBloom(), peers: new ScrapeBloom() };
      for (const peer of torrent.peers.values()) (peer.seed ? filters.seeds : filters.peers).insertBits(unpackBits(peer.bits));
      torrent.filters = filters;
    }
    return torrent.filters;
  }

  /**
   * Up to `max` distinct info-hashes we hold, chosen at random (BEP 51: "a randomly sampled subset"
   * when they do not all fit in a reply; 20 bytes each). A fresh sample per call; BEP 51 allows
   * caching one for a while, which the caller can do.
   */
  sample(max: number): Uint8Array[] {
    this.dropDeadTorrents(this.now());
    return pickFrom([this.keys], Math.max(0, Math.floor(max)), this.random).map(infoHashFromKey);
  }

  /** How many info-hashes are stored (BEP 51's "num" field). */
  get numInfoHashes(): number {
    this.dropDeadTorrents(this.now());
    return this.torrents.size;
  }

  /** Drop every expired peer, and every torrent left without peers. */
  expire(): void {
    const now = this.now();
    for (const [key, torrent] of this.torrents) this.prune(key, torrent, now);
  }

  stats(): PeerStoreStats {
    this.expire();
    let seeds = 0;
    for (const torrent of this.torrents.values()) {
      seeds += torrent.lists[listIndex(4, true)].length + torrent.lists[listIndex(6, true)].length;
    }
    return { infoHashes: this.torrents.size, peers: this.peerCount, seeds };
  }

  /** The torrent under `key` with its expired peers dropped, or undefined if none are left. */
  private live(key: string): Torrent | undefined {
    const now = this.now();
    this.dropDeadTorrents(now);
    const torrent = this.torrents.get(key);
    if (torrent) this.prune(key, torrent, now);
    return this.torrents.get(key);
  }

  /**
   * Drop the torrents whose last announce is older than the TTL: every one of their peers has
   * expired. They sit at the front of `torrents`, so this stops at the first live one.
   */
  private dropDeadTorrents(now: number): void {
    for (const [key, torrent] of this.torrents) {
      if (torrent.lastAnnounce + this.ttlMs > now) return;
      this.removeTorrent(key, torrent);
    }
  }

  /**
   * Drop the torrent's expired peers; drop the torrent if that empties it. Peers run in announce
   * order and every announce lasts ttlMs, so the expired ones are at the front.
   */
  private prune(key: string, torrent: Torrent, now: number): void {
    for (const [peerKey, peer] of torrent.peers) {
      if (peer.expires > now) return;
      this.removePeer(key, torrent, peerKey);
    }
  }

  /** A known peer announced again: fresh TTL, new seed status, and it becomes the torrent's newest. */
  private renew(torrent: Torrent, peerKey: string, peer: StoredPeer, seed: boolean, now: number): void {
    torrent.peers.delete(peerKey);
    torrent.peers.set(peerKey, peer);
    renewInGroup(torrent.perGroup, hostOf(peer), peer);
    renewInGroup(torrent.perGroup, networkKey(peer.address), peer);
    peer.expires = now + this.ttlMs;
    if (peer.seed !== seed) {
      unlist(torrent, peer);
      peer.seed = seed;
      enlist(torrent, peer);
      torrent.filters = undefined; // its IP may have to leave the other filter
    }
  }

  private addPeer(torrent: Torrent, peerKey: string, peer: StoredPeer): void {
    torrent.peers.set(peerKey, peer);
    enlist(torrent, peer);
    joinGroup(torrent.perGroup, hostOf(peer), peer);
    joinGroup(torrent.perGroup, networkKey(peer.address), peer);
    if (torrent.filters !== undefined) (peer.seed ? torrent.filters.seeds : torrent.filters.peers).insertBits(unpackBits(peer.bits));
    this.peerCount++;
  }

  /**
   * Enforce the caps before `newcomer` joins the torrent under `key` (which may not exist yet):
   * its host's and its network's first, which only ever cost that host or network one of its own
   * peers; then the torrent's, the store's torrents and the store's peers.
   */
  private makeRoom(key: string, newcomer: StoredPeer, now: number): void {
    const torrent = this.torrents.get(key);
    if (torrent) {
      this.prune(key, torrent, now);
      // Its host or network over its share replaces its own oldest, as many as it takes (the share
      // shrinks with each one that goes); only then may the torrent's oldest make room.
      let replaced = false;
      for (let own = this.ownOldest(torrent, newcomer); own !== undefined; own = this.ownOldest(torrent, newcomer)) {
        this.removePeer(key, torrent, peerKeyOf(own));
        replaced = true;
        if (torrent.peers.size === 0) break;
      }
      if (!replaced && torrent.peers.size >= this.maxPeersPerTorrent) {
        this.removeOldestPeer(key, torrent);
      }
    }
    if (!this.torrents.has(key) && this.torrents.size >= this.maxTorrents) {
      const oldest = firstEntry(this.torrents);
      if (oldest) this.removeTorrent(...oldest);
    }
    // Each round removes at least one peer, so this ends (the counted peers are all in `torrents`).
    while (this.peerCount >= this.maxPeers) {
      const stalest = firstEntry(this.torrents);
      if (!stalest) break;
      const [staleKey, stale] = stalest;
      const before = this.peerCount;
      this.prune(staleKey, stale, now);
      if (this.peerCount === before) this.removeOldestPeer(staleKey, stale);
    }
  }

  /**
   * The peer the newcomer replaces because its host or its network would then hold more than its
   * cap: their own oldest, found by walking the announce order (only when a cap is reached).
   */
  private ownOldest(torrent: Torrent, newcomer: StoredPeer): StoredPeer | undefined {
    return this.overCap(torrent, newcomer, 1, torrent.peers.size + 1);
  }

  /**
   * After a re-announce: the swarm may have shrunk since the host's peers came, so its group is
   * brought back to its share, oldest first (never the peer that just announced: it is the newest).
   */
  private trimGroups(key: string, torrent: Torrent, announcer: StoredPeer): void {
    for (let own = this.overCap(torrent, announcer, 0, torrent.peers.size); own !== undefined && own !== announcer; own = this.overCap(torrent, announcer, 0, torrent.peers.size)) {
      this.removePeer(key, torrent, peerKeyOf(own));
    }
  }

  /**
   * The oldest peer of `member`'s host, or else of its network, if that group holds more than its
   * cap once `joining` more peers join it and the torrent holds `size` peers.
   */
  private overCap(torrent: Torrent, member: StoredPeer, joining: number, size: number): StoredPeer | undefined {
    const share = isLoopback(member.address) ? Infinity : Math.max(1, Math.floor(this.maxGroupShare * size));
    const host = hostOf(member);
    const hosts = torrent.perGroup.get(host);
    if (groupSize(hosts) + joining > Math.min(this.maxPortsPerHost, share)) return oldestOf(hosts);
    const network = torrent.perGroup.get(networkKey(member.address));
    if (groupSize(network) + joining > Math.min(this.maxPeersPerNetwork, share)) return oldestOf(network);
    return undefined;
  }

  private removeOldestPeer(key: string, torrent: Torrent): void {
    const oldest = firstEntry(torrent.peers);
    if (oldest) this.removePeer(key, torrent, oldest[0]);
  }

  private removePeer(key: string, torrent: Torrent, peerKey: string): void {
    const peer = torrent.peers.get(peerKey);
    if (peer === undefined) return;
    torrent.peers.delete(peerKey);
    unlist(torrent, peer);
    leaveGroup(torrent.perGroup, hostOf(peer), peer);
    leaveGroup(torrent.perGroup, networkKey(peer.address), peer);
    torrent.filters = undefined; // a bloom filter cannot forget: rebuilt at the next scrape
    this.peerCount--;
    if (torrent.peers.size === 0) this.dropTorrent(key, torrent);
  }

  private removeTorrent(key: string, torrent: Torrent): void {
    this.peerCount -= torrent.peers.size;
    this.dropTorrent(key, torrent);
  }

  /** Forget the torrent under `key`: out of the map, and out of `keys` in O(1) (the last key takes its slot). */
  private dropTorrent(key: string, torrent: Torrent): void {
    this.torrents.delete(key);
    if (torrent.keySlot < 0) return;
    const last = this.keys.pop()!;
    if (last !== key) {
      this.keys[torrent.keySlot] = last;
      this.torrents.get(last)!.keySlot = torrent.keySlot;
    }
    torrent.keySlot = -1;
  }
}

function newTorrent(now: number): Torrent {
  return { peers: new Map(), lists: [[], [], [], []], encoded: [NO_BYTES, NO_BYTES, NO_BYTES, NO_BYTES], perGroup: new Map(), filters: undefined, lastAnnounce: now, keySlot: -1 };
}

function listIndex(family: Family, seed: boolean): 0 | 1 | 2 | 3 {
  return ((family === 6 ? 2 : 0) + (seed ? 1 : 0)) as 0 | 1 | 2 | 3;
}

const NO_BYTES = new Uint8Array(0);

function enlist(torrent: Torrent, peer: StoredPeer): void {
  const index = listIndex(peer.family, peer.seed);
  const list = torrent.lists[index];
  peer.slot = list.length;
  list.push(peer);
  const stride = BENCODED_PEER_LENGTH[peer.family];
  let encoded = torrent.encoded[index];
  if (encoded.length < list.length * stride) {
    // Doubling: an announce costs O(1) on average, and a list holds at most twice its peers' bytes.
    const grown = new Uint8Array(Math.max(4, list.length * 2) * stride);
    grown.set(encoded);
    encoded = torrent.encoded[index] = grown;
  }
  writeBencodedPeer(peer, encoded, peer.slot * stride);
}

/** Take the peer out of its pick list in O(1): the list's last peer moves into its slot (and its bytes with it). */
function unlist(torrent: Torrent, peer: StoredPeer): void {
  const index = listIndex(peer.family, peer.seed);
  const list = torrent.lists[index];
  const last = list.pop()!;
  const stride = BENCODED_PEER_LENGTH[peer.family];
  const encoded = torrent.encoded[index];
  if (last !== peer) {
    list[peer.slot] = last;
    encoded.copyWithin(peer.slot * stride, list.length * stride, (list.length + 1) * stride);
    last.slot = peer.slot;
  }
  // Shrink once a quarter is used, so a swarm that was big once does not keep its bytes.
  if (list.length * 4 < encoded.length / stride && encoded.length > 16 * stride) {
    torrent.encoded[index] = encoded.slice(0, list.length * 2 * stride);
  }
}

/**
 * The peers of one host or one network in a torrent, oldest announce first: what the caps count,
 * and whose oldest a newcomer over its share replaces, found without walking the swarm (that walk
 * made an announce at the cap cost 140 us in a 1,000-peer swarm). Most groups hold one peer, kept
 * as itself: an array each would add about 10 MB to a full store.
 */
type Group = StoredPeer | StoredPeer[];

function groupSize(group: Group | undefined): number {
  return group === undefined ? 0 : Array.isArray(group) ? group.length : 1;
}

function oldestOf(group: Group | undefined): StoredPeer | undefined {
  return Array.isArray(group) ? group[0] : group;
}

function joinGroup(groups: Map<string, Group>, key: string, peer: StoredPeer): void {
  const group = groups.get(key);
  if (group === undefined) groups.set(key, peer);
  else if (Array.isArray(group)) group.push(peer);
  else groups.set(key, [group, peer]);
}

function leaveGroup(groups: Map<string, Group>, key: string, peer: StoredPeer): void {
  const group = groups.get(key);
  if (!Array.isArray(group)) {
    if (group === peer) groups.delete(key);
    return;
  }
  const at = group.indexOf(peer);
  if (at >= 0) group.splice(at, 1);
  if (group.length === 1) groups.set(key, group[0]!);
}

/** The peer announced again: it becomes its groups' newest, as it became the torrent's. */
function renewInGroup(groups: Map<string, Group>, key: string, peer: StoredPeer): void {
  const group = groups.get(key);
  if (!Array.isArray(group)) return;
  const at = group.indexOf(peer);
  if (at >= 0 && at < group.length - 1) {
    group.splice(at, 1);
    group.push(peer);
  }
}

/** The peer's host: its IPv4 address as stored (already canonical), or its IPv6 /64. */
function hostOf(peer: StoredPeer): string {
  return peer.family === 4 ? peer.address : hostKey(peer.address);
}

/** Two 11-bit BEP 33 positions in one number: a pair of them per peer would cost an array each. */
function packBits([a, b]: [number, number]): number {
  return a | (b << 11);
}

function unpackBits(bits: number): [number, number] {
  return [bits & 0x7ff, bits >>> 11];
}

function peerKeyOf(peer: StoredPeer): string {
  return `${peer.address}:${peer.port}`;
}

/** A Map's first entry in iteration order, i.e. the one inserted (or re-inserted) longest ago. */
function firstEntry<K, V>(map: ReadonlyMap<K, V>): [K, V] | undefined {
  for (const entry of map) return entry;
  return undefined;
}

function infoHashKey(infoHash: NodeId): string {
  if (!isId(infoHash)) throw new TypeError(`an info-hash is ${ID_LENGTH} bytes`);
  return idKey(infoHash);
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
 * `count` items of the lists taken together, each subset equally likely, or all of them when there
 * are no more than `count`. A partial Fisher-Yates shuffle over the lists' positions, with the
 * swaps kept in a small map instead of a copy of the lists: O(count), not O(items).
 */
function pickFrom<T>(lists: readonly (readonly T[])[], count: number, random: RandomPool): T[] {
  const total = lists.reduce((sum, list) => sum + list.length, 0);
  const at = (i: number): T => {
    for (const list of lists) {
      if (i < list.length) return list[i]!;
      i -= list.length;
    }
    throw new RangeError('position past the lists');
  };
  if (total <= count) return Array.from({ length: total }, (_, i) => at(i));
  const swapped = new Map<number, number>();
  const picked: T[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + random.below(total - i);
    const chosen = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    picked.push(at(chosen));
  }
  return picked;
}

/**
 * Random integers from a buffer of random bytes refilled 4 KB at a time: one call to the source
 * per 1,024 draws, not a syscall per peer picked (randomBytes(4) per peer cost most of a get_peers).
 */
class RandomPool {
  private bytes: Uint8Array = new Uint8Array(0);
  private at = 0;

  constructor(private readonly source: (size: number) => Uint8Array) {}

  /**
   * A uniform integer in [0, n), n <= 2^32, from 4 random bytes. Values from the incomplete last
   * round of n are redrawn: plain `% n` would favour small results.
   */
  below(n: number): number {
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      if (this.at + 4 > this.bytes.length) {
        this.bytes = this.source(4096);
        this.at = 0;
      }
      const b = this.bytes;
      const i = this.at;
      this.at += 4;
      const value = ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
      if (value < limit) return value % n;
    }
  }
}
