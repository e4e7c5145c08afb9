/**
 * The k-bucket routing table (BEP 5, "Routing Table").
 *
 * A node keeps a small table of other nodes: dense near its own ID, sparse far away. Whatever the
 * target, some entry shares at least one more leading bit with it than we do, so each lookup hop
 * gets closer (BEP 5, "Overview").
 *
 * Representation: a flat array of buckets. Bucket i, for i below the last index L, holds the IDs
 * that share exactly i leading bits with our ID; the last bucket holds every ID sharing L or more.
 * This is the BEP's tree of ranges, flattened: only the last bucket covers our own ID, so only the
 * last bucket ever splits, and splitting it appends a new last bucket.
 *
 * Two additions from libtorrent, both optional or explicit: far buckets bigger than k
 * (`farBucketSizes`, its "extended routing table"), kept spread over their prefix slots; and
 * contacts only heard of in other nodes' replies (`recordHeard`), which take free slots until
 * something better comes. `gaps()` says where the table knows nobody, so the node can ask.
 *
 * Pure: no sockets, no timers. The table never pings anyone; it returns a `ping` decision and the
 * caller reports the outcome. Time and randomness are injected so tests can be exact.
 */
import { randomBytes } from 'node:crypto';
import { formatEndpoint } from '../wire/address.js';
import { groupOf, isLoopback, relationTo } from '../wire/address-group.js';
import type { NodeInfo } from '../wire/compact.js';
import {
  ID_BITS,
  ID_LENGTH,
  compareDistance,
  idEquals,
  idKey,
  isId,
  randomIdWithPrefix,
  sharedPrefixLength,
  type NodeId,
} from '../wire/id.js';

/** BEP 5's three kinds of node; see RoutingTable.stateOf for the rules. */
export type NodeState = 'good' | 'questionable' | 'bad';

/** A node in the table, with what we know of its liveness. Times are ms from the injected clock. */
export interface Contact extends NodeInfo {
  /** Last time it answered one of our queries (0 = never). */
  lastResponse: number;
  /** Last time it sent us a query (0 = never). */
  lastQuery: number;
  /** Queries to it that failed in a row since its last response. */
  failures: number;
  /** When it entered the table. */
  added: number;
}

/** What the table decided about a node it was shown. It never does I/O: a `ping` decision asks the
 * caller to ping `stale` and report the outcome (recordResponse / recordFailure). */
export type InsertResult =
  | { kind: 'added'; contact: Contact }
  | { kind: 'updated'; contact: Contact }
  | { kind: 'replaced'; contact: Contact; evicted: Contact }
  | { kind: 'ping'; stale: Contact }
  | { kind: 'cached' }
  | { kind: 'ignored' }
  | { kind: 'rejected'; reason: 'own-id' | 'address-taken' | 'host-taken' | 'invalid' };

/** Every option has the BEP 5 default; `now` and `random` are for tests and reproducible runs. */
export interface RoutingTableOptions {
  /** Bucket size. BEP 5: 8. */
  k?: number;
  /**
   * Sizes of the farthest buckets, bucket 0 first; the other buckets hold k (a size below k counts
   * as k). Default none: every bucket holds k, as BEP 5 says. EXTENDED_FAR_BUCKETS is libtorrent's.
   */
  farBucketSizes?: readonly number[];
  /** Replacement cache size per bucket. Default 8 (= k). */
  replacements?: number;
  /** A node silent for this long is questionable. BEP 5: 15 minutes. */
  questionableAfterMs?: number;
  /** Failed queries in a row after which a node is bad. Default 3. */
  badAfterFailures?: number;
  /**
   * One slot per host and a few per network in each bucket (see crowds). Default false for a bare
   * table, as BEP 5 describes it; a DhtNode turns it on, as libtorrent does (`restrict_routing_ips`):
   * `table: { restrictHosts: false }` turns it off there.
   */
  restrictHosts?: boolean;
  /**
   * The table is of a local network whose nodes share loopback addresses (testnet on one address):
   * loopback contacts are then exempt from the one-per-host and few-per-network rules. Default false.
   */
  sharedLoopback?: boolean;
  /** Clock in ms. Must return values > 0: a time of 0 means "never" in a Contact. */
  now?: () => number;
  random?: (size: number) => Uint8Array;
}

export interface BucketInfo {
  /** Index in the table; bucket i holds the IDs sharing exactly i leading bits with ours (the last: >= i). */
  index: number;
  /** How many contacts it may hold: k, or more for a far bucket of an extended table. */
  capacity: number;
  contacts: readonly Contact[];
  replacements: readonly NodeInfo[];
  lastChanged: number;
}

/**
 * An empty prefix slot of the table (see RoutingTable.gaps): the IDs sharing exactly `bits` leading
 * bits with ours whose next `width` bits read `slot`.
 */
export interface TableGap {
  bits: number;
  width: number;
  slot: number;
}

/** Counts for displays: contacts by state, buckets, and replacement-cache entries. */
export interface TableStats { nodes: number; buckets: number; good: number; questionable: number; bad: number; replacements: number }

/** What a reader of the table may call (a view, a report): nothing that changes it. */
export type TableReader = Pick<RoutingTable, 'ownId' | 'k' | 'farBucketSizes' | 'now' | 'size' | 'get' | 'stateOf' | 'closest' | 'all' | 'buckets' | 'stats'>;

/** BEP 5: "Each bucket can only hold K nodes, currently eight". */
const DEFAULT_K = 8;
/**
 * libtorrent's extended routing table (on by default there): the four farthest buckets hold 16, 8,
 * 4 and 2 times k. Half of all IDs fall in bucket 0, a quarter in bucket 1, and so on, so these few
 * buckets cover most of the ID space: with them a lookup for any target starts from a contact
 * about log2(16) = 4 bits closer to it, which saves about one hop of the lookup.
 */
export const EXTENDED_FAR_BUCKETS: readonly number[] = [16 * DEFAULT_K, 8 * DEFAULT_K, 4 * DEFAULT_K, 2 * DEFAULT_K];
const DEFAULT_REPLACEMENTS = 8;
/** Contacts of one /24 (IPv6 /48) per bucket: a few, for the nodes of one campus or provider. */
const MAX_PER_NETWORK = 2;
/** BEP 5: "After 15 minutes of inactivity, a node becomes questionable." */
const FIFTEEN_MINUTES = 15 * 60 * 1000;
/** BEP 5 only says "fail to respond to multiple queries in a row"; 3 is a common choice. */
const DEFAULT_BAD_AFTER_FAILURES = 3;
const MAX_PORT = 65535;

/** One bucket. Replacements are kept as full Contacts so a promoted node keeps its history. */
interface Bucket {
  contacts: Contact[];
  /** Nodes that did not fit, oldest first (BEP 5 leaves the cache to implementations). */
  replacements: Contact[];
  lastChanged: number;
}

/**
 * Whether the table copies a newcomer's ID (the default: it may be a view into a packet buffer that
 * is reused) or keeps the caller's array, which the caller promises never to change. A local
 * network meshing thousands of tables from the same node IDs shares them: a copy is a typed array
 * and a buffer of its own, about 250 bytes, times 64 contacts per table.
 */
export type IdOwnership = 'copy' | 'share';

/**
 * What just happened with a node: it answered us, it queried us, or another node named it in a
 * reply (we only heard of it: it has proved nothing yet).
 */
type Activity = 'response' | 'query' | 'heard';

/**
 * One node's k-bucket table. Feed it what happens (recordResponse, recordQuery, recordFailure) and
 * act on what it returns; read it with closest(), all(), buckets() and stats() (routing-table-view.ts
 * draws it).
 */
export class RoutingTable {
  readonly ownId: NodeId;
  /** BEP 5's k: the size of a bucket (a far bucket of an extended table may hold more). */
  readonly k: number;
  /** The sizes of the far buckets, farthest first (libtorrent's extended table; empty: all k). */
  readonly farBucketSizes: readonly number[];
  private readonly maxReplacements: number;
  private readonly questionableAfterMs: number;
  private readonly badAfterFailures: number;
  /** The table's clock: states (stateOf) and ages are read against it. */
  readonly now: () => number;
  private readonly random: (size: number) => Uint8Array;
  private readonly sharedLoopback: boolean;
  private readonly restrictHosts: boolean;
  /** table[i] is bucket i; the last one is the bucket that holds our own ID. */
  private readonly table: Bucket[];
  /** Contacts by hex ID: O(1) get, and the one place that says "this ID is in the table". */
  private readonly byId = new Map<string, Contact>();
  /** Contacts by "address:port": one entry per endpoint, so an endpoint claiming many IDs gets one slot. */
  private readonly byEndpoint = new Map<string, Contact>();

  constructor(ownId: NodeId, options: RoutingTableOptions = {}) {
    if (!isId(ownId)) throw new TypeError(`ownId must be ${ID_LENGTH} bytes`);
    this.ownId = ownId.slice();
    this.k = positiveInteger('k', options.k ?? DEFAULT_K);
    this.farBucketSizes = (options.farBucketSizes ?? []).map((size) => positiveInteger('farBucketSizes', size));
    this.maxReplacements = positiveInteger('replacements', options.replacements ?? DEFAULT_REPLACEMENTS);
    this.questionableAfterMs = positiveInteger('questionableAfterMs', options.questionableAfterMs ?? FIFTEEN_MINUTES);
    this.badAfterFailures = positiveInteger('badAfterFailures', options.badAfterFailures ?? DEFAULT_BAD_AFTER_FAILURES);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? ((size) => new Uint8Array(randomBytes(size)));
    this.sharedLoopback = options.sharedLoopback ?? false;
    this.restrictHosts = options.restrictHosts ?? false;
    // BEP 5: "An empty table has one bucket with an ID space range of min=0, max=2^160."
    this.table = [emptyBucket(this.now())];
  }

  /** The node answered one of our queries. */
  recordResponse(node: NodeInfo, ids: IdOwnership = 'copy'): InsertResult {
    return this.record(node, 'response', ids);
  }

  /** The node sent us a query (it is alive, but has not yet proved it answers). */
  recordQuery(node: NodeInfo): InsertResult {
    return this.record(node, 'query');
  }

  /**
   * Another node named this one in a reply (its `nodes`). It takes a free slot, and nothing else:
   * it never displaces a contact, never waits in the replacement cache, and a contact that has
   * answered takes its slot first (see decideForFullBucket). A known node is left as it is
   * ('ignored'). Such a contact is a seed for our own lookups, whose queries verify it: one
   * failure removes it (recordFailure). Whoever hands out contacts must skip the ones with
   * `lastResponse` 0, since nothing says they exist.
   */
  recordHeard(node: NodeInfo): InsertResult {
    return this.record(node, 'heard');
  }

  /**
   * A query to the node timed out. Returns 'removed' when that made it bad and the newest node of
   * its bucket's replacement cache took its place; a bad node with no replacement stays (until a
   * newcomer arrives for its slot) and the result is 'failed'. A node that has never answered us
   * is removed at its first failure, as libtorrent does: nothing speaks for it.
   */
  recordFailure(id: NodeId): 'failed' | 'removed' | 'unknown' {
    const contact = this.get(id);
    if (contact === undefined) return 'unknown';
    contact.failures++;
    if (contact.lastResponse === 0) {
      this.remove(id);
      return 'removed';
    }
    if (this.stateOf(contact) !== 'bad') return 'failed';
    // A bad node is only worth evicting if someone can take its place; an empty slot helps nobody.
    const bucket = this.bucketOf(id);
    const replacement = this.takeReplacement(bucket, contact);
    if (replacement === undefined) return 'failed';
    this.unplace(bucket, contact);
    this.place(bucket, replacement);
    return 'removed';
  }

  /** Forget a node (table or replacement cache). A freed table slot is refilled from the cache. */
  remove(id: NodeId): boolean {
    if (!isId(id)) return false;
    const bucket = this.bucketOf(id);
    const contact = this.byId.get(idKey(id));
    if (contact !== undefined) {
      this.unplace(bucket, contact);
      const replacement = this.takeReplacement(bucket);
      if (replacement !== undefined) this.place(bucket, replacement);
      return true;
    }
    const cached = bucket.replacements.findIndex((r) => idEquals(r.id, id));
    if (cached === -1) return false;
    bucket.replacements.splice(cached, 1);
    return true;
  }

  /** The table's own record for this ID (not a copy: read it, don't change it). */
  get(id: NodeId): Contact | undefined {
    return isId(id) ? this.byId.get(idKey(id)) : undefined;
  }

  /**
   * BEP 5: good = answered one of our queries in the last 15 minutes, or has ever answered and
   * queried us in the last 15 minutes; bad = failed several queries in a row; else questionable.
   * A node that only ever queried us is questionable: it may sit behind a NAT that drops our queries.
   */
  stateOf(contact: Contact): NodeState {
    if (contact.failures >= this.badAfterFailures) return 'bad';
    const now = this.now();
    const hasAnswered = contact.lastResponse > 0;
    const answeredRecently = hasAnswered && now - contact.lastResponse < this.questionableAfterMs;
    const queriedRecently = contact.lastQuery > 0 && now - contact.lastQuery < this.questionableAfterMs;
    return answeredRecently || (hasAnswered && queriedRecently) ? 'good' : 'questionable';
  }

  /**
   * Exactly the n contacts closest to target by XOR (fewer if the table holds fewer), closest first.
   * Buckets are visited nearest first (see bucketsByDistance), so the walk can stop as soon as it
   * has n: every contact of a later bucket is farther than every contact of an earlier one.
   */
  closest(target: NodeId, n: number, filter?: (c: Contact) => boolean): Contact[] {
    const found: Contact[] = [];
    if (!isId(target) || !(n > 0)) return found;
    for (const index of this.bucketsByDistance(target)) {
      found.push(...nearest(this.table[index]!.contacts, target, n - found.length, filter));
      if (found.length >= n) return found;
    }
    return found;
  }

  /** Random targets, one per bucket unchanged for `olderThanMs` (BEP 5: refresh after 15 minutes). */
  refreshTargets(olderThanMs: number): NodeId[] {
    const now = this.now();
    const last = this.table.length - 1;
    const targets: NodeId[] = [];
    this.table.forEach((bucket, index) => {
      if (now - bucket.lastChanged < olderThanMs) return;
      // BEP 5: refresh "by picking a random ID in the range of the bucket and performing a find_nodes".
      targets.push(index < last ? randomIdWithPrefix(this.ownId, index, this.random) : this.randomIdInLastBucket());
    });
    return targets;
  }

  /**
   * Where the table has gaps: the empty prefix slots (see spreadVictim) of every shared-prefix
   * length below our closest contact's, the ranges Kademlia's join refreshes ("all k-buckets
   * further away than its closest neighbor"). Counted by prefix length, not by the buckets that
   * exist: a far bucket of 128 holds every distance until it splits. If our k-th closest contact
   * shares b bits with us, the network has about k * 2^b = 2^n nodes, of which about 2^(n-i-1)
   * share exactly i bits. Slots are never cut so fine that they would hold fewer than about 4 of
   * them: a slot expected to hold 4 nodes is empty 2% of the time, one expected to hold 1, 37%
   * (Poisson), and asking about an empty slot is a wasted query (a 40-node network has fewer than
   * 10 gaps, not 240). Biggest slots first: a slot of w bits after i shared bits is 1/2^(i+1+w)
   * of the ID space, 1/256 for each of the 240 far slots of the extended table.
   */
  gaps(): TableGap[] {
    const depths = [...this.byId.values()].map((c) => sharedPrefixLength(this.ownId, c.id)).sort((a, b) => b - a);
    if (depths.length === 0) return [];
    const deepest = Math.min(depths[0]!, ID_BITS - 1);
    const sizeBits = depths[Math.min(this.k, depths.length) - 1]! + Math.floor(Math.log2(this.k));
    const width = (bits: number): number => Math.max(0, Math.min(this.slotWidth(bits), sizeBits - bits - 1 - GAP_NODES_BITS));
    const used = new Map<number, Set<number>>();
    for (const contact of this.byId.values()) {
      const bits = sharedPrefixLength(this.ownId, contact.id);
      if (bits >= deepest) continue;
      let slots = used.get(bits);
      if (slots === undefined) used.set(bits, (slots = new Set()));
      slots.add(bitsAt(contact.id, bits + 1, width(bits)));
    }
    const gaps: TableGap[] = [];
    for (let bits = 0; bits < deepest; bits++) {
      const slots = used.get(bits) ?? new Set<number>();
      const w = width(bits);
      for (let slot = 0; slot < 2 ** w; slot++) {
        if (slots.has(slot)) continue;
        gaps.push({ bits, width: w, slot });
      }
    }
    // Stable: among slots of one size, farther buckets first.
    return gaps.sort((a, b) => a.bits + a.width - (b.bits + b.width));
  }

  /** A random ID in the gap: a find_node for it is answered with nodes that fall in it. */
  targetIn(gap: TableGap): NodeId {
    return withBits(randomIdWithPrefix(this.ownId, gap.bits, this.random), gap.bits + 1, gap.width, gap.slot);
  }

  /** Questionable contacts, least recently seen first, to ping. */
  questionable(limit: number): Contact[] {
    return this.all()
      .filter((c) => this.stateOf(c) === 'questionable')
      .sort((a, b) => lastSeen(a) - lastSeen(b))
      .slice(0, Math.max(0, limit));
  }

  /** Every contact, bucket 0 (farthest from us) first. */
  all(): Contact[] {
    return this.table.flatMap((bucket) => bucket.contacts);
  }

  /** Contacts in the table (replacement caches not included). */
  get size(): number {
    return this.byId.size;
  }

  /** A snapshot of every bucket, farthest from our ID first (copies: changing them changes nothing). */
  buckets(): BucketInfo[] {
    return this.table.map((bucket, index) => ({
      index,
      capacity: this.capacityOf(index),
      contacts: bucket.contacts.slice(),
      replacements: bucket.replacements.slice(),
      lastChanged: bucket.lastChanged,
    }));
  }

  /** Counts by state, computed now (states depend on the clock). */
  stats(): TableStats {
    const stats: TableStats = { nodes: 0, buckets: this.table.length, good: 0, questionable: 0, bad: 0, replacements: 0 };
    for (const bucket of this.table) {
      stats.replacements += bucket.replacements.length;
      for (const contact of bucket.contacts) {
        stats.nodes++;
        stats[this.stateOf(contact)]++;
      }
    }
    return stats;
  }

  // ---- insertion -------------------------------------------------------------------------------

  private record(node: NodeInfo, activity: Activity, ids: IdOwnership = 'copy'): InsertResult {
    if (!isValidNode(node)) return { kind: 'rejected', reason: 'invalid' };
    if (idEquals(node.id, this.ownId)) return { kind: 'rejected', reason: 'own-id' };
    const existing = this.byId.get(idKey(node.id));
    if (existing !== undefined) return activity === 'heard' ? IGNORED : this.refresh(existing, node, activity);
    const endpoint = formatEndpoint(node);
    if (this.byEndpoint.has(endpoint)) return { kind: 'rejected', reason: 'address-taken' };
    // Hearsay must not pull a node out of the cache, where it waits on better evidence.
    if (activity === 'heard' && this.isCached(node.id)) return IGNORED;
    const newcomer = this.takeFromCache(node, endpoint) ?? this.newContact(node, ids);
    this.touch(newcomer, activity);
    return this.insert(newcomer, activity, endpoint);
  }

  /**
   * A node already in the table was heard from again. One endpoint, one ID, both ways: a message
   * claiming a known ID from another address:port is refused rather than allowed to move the entry,
   * or anyone could redirect a good contact by spoofing a single query.
   */
  private refresh(contact: Contact, node: NodeInfo, activity: Activity): InsertResult {
    if (formatEndpoint(contact) !== formatEndpoint(node)) return { kind: 'rejected', reason: 'address-taken' };
    this.touch(contact, activity);
    if (activity === 'response') this.bucketOf(contact.id).lastChanged = this.now();
    return { kind: 'updated', contact };
  }

  /** Put a new node in its bucket, splitting our own bucket as often as needed to make room. */
  private insert(newcomer: Contact, activity: Activity, endpoint: string): InsertResult {
    for (;;) {
      const index = this.indexOf(newcomer.id);
      const bucket = this.table[index]!;
      const crowding = this.crowding(bucket, newcomer);
      if (crowding === 'kept-out') return { kind: 'rejected', reason: 'host-taken' };
      if (crowding !== undefined) {
        this.unplace(bucket, crowding);
        this.place(bucket, newcomer, endpoint);
        return { kind: 'replaced', contact: newcomer, evicted: crowding };
      }
      if (bucket.contacts.length < this.capacityOf(index)) {
        this.place(bucket, newcomer, endpoint);
        return { kind: 'added', contact: newcomer };
      }
      // BEP 5: a full bucket splits only if "our own node ID falls within the range of the bucket".
      if (!this.canSplit(index)) return activity === 'heard' ? this.decideForHearsay(bucket, index, newcomer) : this.decideForFullBucket(bucket, index, newcomer);
      this.split();
    }
  }

  /**
   * libtorrent's `restrict_routing_ips` and BEP 42's rationale: one host (an IPv4 address, an IPv6
   * /64) holds at most one slot of a bucket, one network (IPv4 /24, IPv6 /48) at most
   * MAX_PER_NETWORK. Otherwise one machine on 300 ports held 142 slots of our table and was 40% of
   * the nodes we handed out. Loopback is exempt only on a local network that says it shares it.
   * Evidence beats hearsay here as in a full bucket: a newcomer that answered us takes the slot of
   * a contact of its host (or network) that we only heard of. Otherwise whoever named a dead port
   * of a host first, a stale reply or a hostile one, would keep that host's live node out.
   * Returns undefined when nothing crowds the newcomer, the contact it replaces, or 'kept-out'.
   */
  private crowding(bucket: Bucket, newcomer: Contact): Contact | 'kept-out' | undefined {
    if (!this.restrictHosts || (this.sharedLoopback && isLoopback(newcomer.address))) return undefined;
    const group = groupOf(newcomer.address);
    let sameHost: Contact | undefined;
    let sameNetwork = 0;
    let heardOnlyNeighbour: Contact | undefined;
    for (const c of bucket.contacts) {
      const relation = relationTo(c.address, group);
      if (relation.sameHost) {
        sameHost = c;
      } else if (relation.sameNetwork) {
        sameNetwork++;
        if (heardOnlyNeighbour === undefined && isHeardOnly(c)) heardOnlyNeighbour = c;
      }
    }
    if (sameHost === undefined && sameNetwork < MAX_PER_NETWORK) return undefined;
    if (newcomer.lastResponse === 0) return 'kept-out';
    const victim = sameHost !== undefined ? (isHeardOnly(sameHost) ? sameHost : undefined) : heardOnlyNeighbour;
    return victim ?? 'kept-out';
  }

  /**
   * BEP 5: a full bucket takes a newcomer only in place of a bad node. If some node is merely
   * questionable, the caller should ping it (least recently seen first) before we decide; the
   * newcomer waits in the replacement cache either way, so nothing is silently dropped.
   * Two more rules, libtorrent's: a node that answered us takes the place of one we only heard of
   * (evidence beats hearsay), and in a far bucket bigger than k, a newcomer with a prefix slot of
   * its own takes the place of a contact that shares its slot with another (see spreadVictim),
   * which then waits in the cache.
   */
  private decideForFullBucket(bucket: Bucket, index: number, newcomer: Contact): InsertResult {
    const evicted = this.victimFor(bucket, index, newcomer);
    if (evicted !== undefined) {
      this.unplace(bucket, evicted);
      if (!isHeardOnly(evicted) && this.stateOf(evicted) !== 'bad') this.cache(bucket, evicted);
      this.place(bucket, newcomer);
      return { kind: 'replaced', contact: newcomer, evicted };
    }
    this.cache(bucket, newcomer);
    const stale = leastRecentlySeen(bucket.contacts.filter((c) => this.stateOf(c) === 'questionable'));
    return stale === undefined ? { kind: 'cached' } : { kind: 'ping', stale };
  }

  /** Whom a newcomer may replace in its full bucket: see decideForFullBucket. */
  private victimFor(bucket: Bucket, index: number, newcomer: Contact): Contact | undefined {
    const bad = leastRecentlySeen(bucket.contacts.filter((c) => this.stateOf(c) === 'bad'));
    if (bad !== undefined || newcomer.lastResponse === 0) return bad;
    if (this.capacityOf(index) <= this.k) return leastRecentlySeen(bucket.contacts.filter(isHeardOnly));
    return this.spreadVictim(bucket, index, newcomer, isHeardOnly, true) ?? this.spreadVictim(bucket, index, newcomer, () => true, false);
  }

  /** A node we only heard of gets into a full far bucket only in place of another such node, for spread. */
  private decideForHearsay(bucket: Bucket, index: number, newcomer: Contact): InsertResult {
    const evicted = this.capacityOf(index) > this.k ? this.spreadVictim(bucket, index, newcomer, isHeardOnly, false) : undefined;
    if (evicted === undefined) return IGNORED;
    this.unplace(bucket, evicted);
    this.place(bucket, newcomer);
    return { kind: 'replaced', contact: newcomer, evicted };
  }

  /**
   * Whom a newcomer may replace without making the bucket less spread out (libtorrent's rule). A
   * bucket of capacity c is cut into c prefix slots by the log2(c) bits after the bit that defines
   * it; a lookup starts best from a contact in its target's own slot, so a full bucket should cover
   * as many slots as it can. A newcomer whose slot is empty may replace an `eligible` contact that
   * shares its slot with another; with `likeForLike`, one whose slot is taken may replace an
   * eligible contact of that same slot. Least recently seen first.
   */
  private spreadVictim(
    bucket: Bucket,
    index: number,
    newcomer: Contact,
    eligible: (c: Contact) => boolean,
    likeForLike: boolean,
  ): Contact | undefined {
    const slot = this.slotOf(newcomer.id, index);
    const crowd = new Map<number, number>();
    for (const c of bucket.contacts) crowd.set(this.slotOf(c.id, index), (crowd.get(this.slotOf(c.id, index)) ?? 0) + 1);
    const replaceable = crowd.has(slot)
      ? (c: Contact): boolean => likeForLike && this.slotOf(c.id, index) === slot
      : (c: Contact): boolean => crowd.get(this.slotOf(c.id, index))! > 1;
    return leastRecentlySeen(bucket.contacts.filter((c) => eligible(c) && replaceable(c)));
  }

  /** Which prefix slot of bucket `index` an ID falls in: the log2(capacity) bits after bit `index`. */
  private slotOf(id: NodeId, index: number): number {
    return bitsAt(id, index + 1, this.slotWidth(index));
  }

  private slotWidth(index: number): number {
    return Math.min(Math.floor(Math.log2(this.capacityOf(index))), ID_BITS - index - 1);
  }

  private canSplit(index: number): boolean {
    return index === this.table.length - 1 && this.table.length < ID_BITS;
  }

  /**
   * Split the last bucket (the one holding our ID, covering IDs sharing >= L bits) into bucket L
   * (exactly L bits) and a new last bucket L+1 (>= L+1 bits). Splitting learns nothing about either
   * half, so both keep the old lastChanged. With far buckets bigger than the rest, the new last
   * bucket may get more contacts than it can hold: it splits again at once, and what still does
   * not fit goes to the cache (see trim).
   */
  private split(): void {
    for (;;) {
      const last = this.table.length - 1;
      const old = this.table[last]!;
      const deeper = emptyBucket(old.lastChanged);
      const goesDeeper = (c: Contact): boolean => sharedPrefixLength(this.ownId, c.id) > last;
      deeper.contacts = old.contacts.filter(goesDeeper);
      deeper.replacements = old.replacements.filter(goesDeeper);
      old.contacts = old.contacts.filter((c) => !goesDeeper(c));
      old.replacements = old.replacements.filter((c) => !goesDeeper(c));
      this.table.push(deeper);
      this.trim(last);
      if (deeper.contacts.length <= this.capacityOf(last + 1)) return;
      if (!this.canSplit(last + 1)) return this.trim(last + 1);
    }
  }

  /**
   * A bucket over its capacity (only ever just after a split) keeps the contacts that answered,
   * most recently seen first; the others wait in its cache, except those we only heard of.
   */
  private trim(index: number): void {
    const bucket = this.table[index]!;
    const capacity = this.capacityOf(index);
    if (bucket.contacts.length <= capacity) return;
    const ranked = bucket.contacts.slice().sort((a, b) => Number(b.lastResponse > 0) - Number(a.lastResponse > 0) || lastSeen(b) - lastSeen(a));
    for (const contact of ranked.slice(capacity)) {
      this.unplace(bucket, contact);
      if (!isHeardOnly(contact)) this.cache(bucket, contact);
    }
  }

  /** How many contacts bucket `index` may hold. */
  private capacityOf(index: number): number {
    return Math.max(this.k, this.farBucketSizes[index] ?? 0);
  }

  // ---- bookkeeping -----------------------------------------------------------------------------

  private newContact(node: NodeInfo, ids: IdOwnership): Contact {
    // Copy the ID: the caller's buffer may be a view into a packet that gets reused.
    return { id: ids === 'share' ? node.id : node.id.slice(), address: node.address, port: node.port, lastResponse: 0, lastQuery: 0, failures: 0, added: 0 };
  }

  private touch(contact: Contact, activity: Activity): void {
    if (activity === 'response') {
      contact.lastResponse = this.now();
      contact.failures = 0;
    } else if (activity === 'query') {
      contact.lastQuery = this.now();
    }
  }

  private place(bucket: Bucket, contact: Contact, endpoint = formatEndpoint(contact)): void {
    contact.added = this.now();
    bucket.contacts.push(contact);
    bucket.lastChanged = contact.added;
    this.byId.set(idKey(contact.id), contact);
    this.byEndpoint.set(endpoint, contact);
  }

  private unplace(bucket: Bucket, contact: Contact): void {
    bucket.contacts.splice(bucket.contacts.indexOf(contact), 1);
    this.byId.delete(idKey(contact.id));
    this.byEndpoint.delete(formatEndpoint(contact));
  }

  /** Newest last; one entry per ID and per endpoint (the newest claim wins); oldest dropped when full. */
  private cache(bucket: Bucket, contact: Contact): void {
    const endpoint = formatEndpoint(contact);
    bucket.replacements = bucket.replacements.filter((r) => !idEquals(r.id, contact.id) && formatEndpoint(r) !== endpoint);
    bucket.replacements.push(contact);
    if (bucket.replacements.length > this.maxReplacements) bucket.replacements.shift();
  }

  private isCached(id: NodeId): boolean {
    return this.bucketOf(id).replacements.some((r) => idEquals(r.id, id));
  }

  /** If the node waits in its bucket's cache, take it out, keeping its history if the endpoint matches. */
  private takeFromCache(node: NodeInfo, endpoint: string): Contact | undefined {
    const bucket = this.bucketOf(node.id);
    if (bucket.replacements.length === 0) return undefined;
    const at = bucket.replacements.findIndex((r) => idEquals(r.id, node.id));
    if (at === -1) return undefined;
    const [cached] = bucket.replacements.splice(at, 1);
    return cached !== undefined && formatEndpoint(cached) === endpoint ? cached : undefined;
  }

  /**
   * The most recent replacement that can enter the table now. Entries whose endpoint was taken
   * meanwhile are discarded; `leaving` is the contact about to be evicted, whose endpoint is free.
   */
  private takeReplacement(bucket: Bucket, leaving?: Contact): Contact | undefined {
    for (let candidate = bucket.replacements.pop(); candidate !== undefined; candidate = bucket.replacements.pop()) {
      const holder = this.byEndpoint.get(formatEndpoint(candidate));
      if (holder === undefined || holder === leaving) return candidate;
    }
    return undefined;
  }

  // ---- geometry --------------------------------------------------------------------------------

  /** Bucket i holds IDs sharing exactly i bits with ours; the last one, all sharing at least L. */
  private indexOf(id: NodeId): number {
    return Math.min(sharedPrefixLength(this.ownId, id), this.table.length - 1);
  }

  private bucketOf(id: NodeId): Bucket {
    return this.table[this.indexOf(id)]!;
  }

  /**
   * Bucket indexes, closest to target first. Members of bucket i agree with us on bits 0..i-1 and
   * differ at bit i; members of every deeper bucket agree with us on bit i too. So bit i decides:
   * if the target differs from us at bit i, bucket i matches the target there and is entirely
   * closer than everything deeper; if the target agrees with us, bucket i is entirely farther.
   * No two buckets ever tie, so this order is exact.
   */
  private bucketsByDistance(target: NodeId): number[] {
    const last = this.table.length - 1;
    const beforeDeeper: number[] = [];
    const afterDeeper: number[] = [];
    for (let i = 0; i < last; i++) {
      (bitAt(target, i) !== bitAt(this.ownId, i) ? beforeDeeper : afterDeeper).push(i);
    }
    return [...beforeDeeper, last, ...afterDeeper.reverse()];
  }

  /** A random ID sharing at least L bits with ours: the range of the last bucket. */
  private randomIdInLastBucket(): NodeId {
    const bits = this.table.length - 1;
    const id = this.random(ID_LENGTH).slice(0, ID_LENGTH);
    const whole = bits >> 3;
    for (let i = 0; i < whole; i++) id[i] = this.ownId[i]!;
    const rest = bits & 7;
    if (rest > 0) {
      const mask = (0xff << (8 - rest)) & 0xff;
      id[whole] = (this.ownId[whole]! & mask) | (id[whole]! & ~mask & 0xff);
    }
    return id;
  }
}

/** A gap is a slot expected to hold about 2^2 = 4 nodes (see gaps). */
const GAP_NODES_BITS = 2;

const IGNORED: InsertResult = { kind: 'ignored' };

/**
 * The `count` contacts nearest to target, closest first. A bounded insertion rather than a sort:
 * answering find_node walks a far bucket of up to 128 contacts for 8 of them, on every query.
 */
function nearest(contacts: readonly Contact[], target: NodeId, count: number, filter?: (c: Contact) => boolean): Contact[] {
  const best: Contact[] = [];
  for (const contact of contacts) {
    if (filter !== undefined && !filter(contact)) continue;
    if (best.length === count && compareDistance(target, contact.id, best[count - 1]!.id) >= 0) continue;
    let at = best.length;
    while (at > 0 && compareDistance(target, contact.id, best[at - 1]!.id) < 0) at--;
    best.splice(at, 0, contact);
    if (best.length > count) best.pop();
  }
  return best;
}

/** Named by another node's reply, and never heard from itself. */
export function isHeardOnly(c: Contact): boolean {
  return c.lastResponse === 0 && c.lastQuery === 0;
}

function emptyBucket(lastChanged: number): Bucket {
  return { contacts: [], replacements: [], lastChanged };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function isValidNode(node: NodeInfo): boolean {
  return (
    isId(node.id) &&
    typeof node.address === 'string' &&
    node.address.length > 0 &&
    Number.isInteger(node.port) &&
    node.port >= 1 &&
    node.port <= MAX_PORT
  );
}


/** When we last heard from the contact itself (0: never). */
export function lastSeen(c: Contact): number {
  return Math.max(c.lastResponse, c.lastQuery);
}

/** The first of the least recently seen (stable: bucket order breaks ties). */
function leastRecentlySeen(contacts: readonly Contact[]): Contact | undefined {
  let oldest: Contact | undefined;
  for (const c of contacts) if (oldest === undefined || lastSeen(c) < lastSeen(oldest)) oldest = c;
  return oldest;
}

function bitAt(id: NodeId, bit: number): number {
  return (id[bit >> 3]! >> (7 - (bit & 7))) & 1;
}

/** The `width` bits of id starting at bit `from`, as a number. */
function bitsAt(id: NodeId, from: number, width: number): number {
  let value = 0;
  for (let i = 0; i < width; i++) value = (value << 1) | bitAt(id, from + i);
  return value;
}

/** A copy of id with the `width` bits starting at bit `from` set to `value`. */
function withBits(id: NodeId, from: number, width: number, value: number): NodeId {
  const out = id.slice();
  for (let i = 0; i < width; i++) {
    const bit = from + i;
    const mask = 0x80 >> (bit & 7);
    const on = (value >> (width - 1 - i)) & 1;
    out[bit >> 3] = on === 1 ? out[bit >> 3]! | mask : out[bit >> 3]! & ~mask;
  }
  return out;
}

