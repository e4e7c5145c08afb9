/**
 * The crawler's table of info-hashes: every one it has seen, with how often and by how many nodes,
 * in a few dozen bytes each.
 *
 * A crawl of the real DHT meets millions of info-hashes. As JavaScript objects keyed by hex strings
 * they would cost a few hundred bytes each; here they cost about 50. The layout:
 *
 * - entries are numbered 0, 1, 2... in the order they were first seen, and each field lives in its
 *   own typed array at that number ("structure of arrays"): the 20 raw key bytes, request count,
 *   first and last sighting (seconds), a 64-bit sketch of the distinct sources, and how it was
 *   learned (a bitmask). That is 41 bytes of payload per entry, with no per-entry object at all;
 * - an open-addressing index (linear probing, load at most 0.7) maps a keyed hash of the info-hash
 *   to its entry number. A slot is 4 bytes, so the index adds 6 to 11 bytes per entry.
 *
 * The hash is keyed with a per-store random seed: info-hashes come from strangers, and a fixed hash
 * would let one craft thousands of colliding keys that turn every probe into a long scan.
 *
 * Distinct sources are estimated by linear counting (Whang et al., 1990): each source IP sets one
 * of 64 bits chosen by its hash, and with z bits still zero, n ~ ln(z/64) / ln(63/64) (the n that
 * leaves z zero bits on average). It is exact for one source, usually for a few, within about 10%
 * up to ~60 sources, and saturates at 264 (all bits set).
 *
 * Nothing is ever removed. At `maxEntries` the store is full: known info-hashes keep being counted,
 * new ones are refused and counted in `dropped` (see InfoHashStoreOptions.maxEntries).
 */
import type { Family } from '../wire/compact.js';
import { ID_LENGTH } from '../wire/id.js';

/**
 * How an info-hash reached us. A bare get_peers may be a client's refresh of a random target; a
 * find_node target (recorded only when asked for: the crawler's captureFindNode) is most often a
 * node ID, so it is the weakest evidence of all.
 */
export type SourceKind = 'get_peers' | 'announce_peer' | 'sample' | 'find_node';
export const SOURCE_KINDS: readonly SourceKind[] = ['get_peers', 'announce_peer', 'sample', 'find_node'];

/** One bit per kind, OR-ed together in an entry's `learned` mask. */
export const KIND_BIT: Readonly<Record<SourceKind, number>> = { get_peers: 1, announce_peer: 2, sample: 4, find_node: 8 };
const KIND_MASK = 15;

/**
 * BEP 32: IPv4 and IPv6 are two DHTs, and a dual-stack crawl hears both. The family of the sources
 * that named an entry takes two more bits of the same `learned` byte, so it costs nothing.
 */
const FAMILY_BIT: Readonly<Record<Family, number>> = { 4: 16, 6: 32 };

/** Default `maxEntries`: about 100 MB when full, a budget a laptop can spare for a long crawl. */
export const DEFAULT_MAX_INFOHASHES = 2_000_000;

/** What the linear-counting sketch reports once all its bits are set (as if one bit were still zero). */
export const SOURCES_SATURATED = Math.round(Math.log(1 / 64) / Math.log(63 / 64));

export interface InfoHashStoreOptions {
  /**
   * Most info-hashes kept. Default 2,000,000. When full, sightings of known info-hashes still update
   * their counts, and new ones are refused (`record` returns 'dropped', `dropped` counts them). We
   * keep what we have rather than evict: the table is the crawl's result, and an entry learned an
   * hour ago is worth as much as one learned now.
   */
  maxEntries?: number;
  /** Entries to allocate room for at first; the arrays double as needed, up to maxEntries. Default 1,024. */
  initialCapacity?: number;
  /** Seed of the keyed hash. Default: random. */
  seed?: number;
}

export type RecordOutcome = 'new' | 'known' | 'dropped';

/** One entry, read out of the packed arrays. */
export interface InfoHashEntry {
  infoHash: Uint8Array;
  /** get_peers and announce_peer queries that named it. */
  requests: number;
  /** Estimated distinct source IPs (queriers and sampled nodes); at most SOURCES_SATURATED. */
  sources: number;
  /** Whole seconds, as milliseconds since the epoch. */
  firstSeenMs: number;
  lastSeenMs: number;
  /** The kinds it was learned by, in SOURCE_KINDS order. */
  kinds: SourceKind[];
}

export interface InfoHashCounts {
  unique: number;
  /** Info-hashes by the kind they were first learned by. */
  firstLearnedBy: Record<SourceKind, number>;
  /** Info-hashes learned at least once by each kind. */
  learnedBy: Record<SourceKind, number>;
  /** Only ever named in get_peers: possibly refresh targets rather than torrents. */
  getPeersOnly: number;
  dropped: number;
  /** Info-hashes named by at least one source of each address family, and first named by one of it (BEP 32). */
  seenIn: Record<Family, number>;
  firstSeenIn: Record<Family, number>;
}

const MAX_LOAD = 0.7;
const U32_MAX = 0xffff_ffff;

export class InfoHashStore {
  readonly maxEntries: number;
  private entryCount = 0;
  private droppedCount = 0;
  private capacity: number;
  private keys: Uint8Array;
  private requests: Uint32Array;
  private firstSeen: Uint32Array;
  private lastSeen: Uint32Array;
  /** Two 32-bit words of the 64-bit source sketch per entry. */
  private sketch: Uint32Array;
  private learned: Uint8Array;
  /** Open-addressing slots: 0 is empty, otherwise entry number + 1. Length is a power of two. */
  private slots: Uint32Array;
  private readonly seed: number;
  private readonly firstBy: Record<SourceKind, number> = { get_peers: 0, announce_peer: 0, sample: 0, find_node: 0 };
  private readonly learnedBy: Record<SourceKind, number> = { get_peers: 0, announce_peer: 0, sample: 0, find_node: 0 };
  private getPeersOnly = 0;
  private readonly seenIn: Record<Family, number> = { 4: 0, 6: 0 };
  private readonly firstSeenIn: Record<Family, number> = { 4: 0, 6: 0 };

  constructor(options: InfoHashStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_INFOHASHES;
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries >= 1)) throw new RangeError('maxEntries must be a positive integer');
    this.seed = (options.seed ?? Math.floor(Math.random() * U32_MAX)) >>> 0;
    this.capacity = Math.max(1, Math.min(this.maxEntries, options.initialCapacity ?? 1_024));
    this.keys = new Uint8Array(this.capacity * ID_LENGTH);
    this.requests = new Uint32Array(this.capacity);
    this.firstSeen = new Uint32Array(this.capacity);
    this.lastSeen = new Uint32Array(this.capacity);
    this.sketch = new Uint32Array(this.capacity * 2);
    this.learned = new Uint8Array(this.capacity);
    this.slots = new Uint32Array(slotCountFor(this.capacity));
  }

  get size(): number { return this.entryCount; }
  /** New info-hashes refused because the store was full. */
  get dropped(): number { return this.droppedCount; }
  get full(): boolean { return this.entryCount >= this.maxEntries; }

  /** Bytes held by the typed arrays: what the store costs, whatever the engine adds around it. */
  get byteLength(): number {
    return this.keys.byteLength + this.requests.byteLength + this.firstSeen.byteLength + this.lastSeen.byteLength +
      this.sketch.byteLength + this.learned.byteLength + this.slots.byteLength;
  }

  /**
   * One sighting of `infoHash`, named by the node at `sourceAddress` at `timeMs`. get_peers and
   * announce_peer count as requests; samples and find_node targets do not (nobody asked for a torrent).
   * An address with a colon is IPv6, any other IPv4 (see Family).
   */
  record(infoHash: Uint8Array, kind: SourceKind, sourceAddress: string, timeMs: number): RecordOutcome {
    if (infoHash.length !== ID_LENGTH) throw new RangeError(`an info-hash is ${ID_LENGTH} bytes, got ${infoHash.length}`);
    const seconds = Math.max(0, Math.min(U32_MAX, Math.floor(timeMs / 1000)));
    const family: Family = sourceAddress.includes(':') ? 6 : 4;
    let entry = this.find(infoHash);
    let outcome: RecordOutcome = 'known';
    if (entry < 0) {
      if (this.full) { this.droppedCount++; return 'dropped'; }
      entry = this.insert(infoHash, seconds);
      this.firstBy[kind]++;
      this.firstSeenIn[family]++;
      outcome = 'new';
    }
    if ((kind === 'get_peers' || kind === 'announce_peer') && this.requests[entry]! < U32_MAX) this.requests[entry]!++;
    if (seconds > this.lastSeen[entry]!) this.lastSeen[entry] = seconds;
    if (seconds < this.firstSeen[entry]!) this.firstSeen[entry] = seconds;
    this.noteKind(entry, KIND_BIT[kind]);
    if ((this.learned[entry]! & FAMILY_BIT[family]) === 0) {
      this.learned[entry]! |= FAMILY_BIT[family];
      this.seenIn[family]++;
    }
    const bit = hashString(sourceAddress, this.seed) & 63;
    this.sketch[entry * 2 + (bit >> 5)]! |= 1 << (bit & 31);
    return outcome;
  }

  has(infoHash: Uint8Array): boolean {
    return infoHash.length === ID_LENGTH && this.find(infoHash) >= 0;
  }

  get(infoHash: Uint8Array): InfoHashEntry | undefined {
    if (infoHash.length !== ID_LENGTH) return undefined;
    const entry = this.find(infoHash);
    return entry < 0 ? undefined : this.read(entry);
  }

  /** Every entry, in the order first seen. Each is read out as a fresh object: use for export, not in hot loops. */
  *entries(): IterableIterator<InfoHashEntry> {
    for (let entry = 0; entry < this.entryCount; entry++) yield this.read(entry);
  }

  counts(): InfoHashCounts {
    return {
      unique: this.entryCount,
      firstLearnedBy: { ...this.firstBy },
      learnedBy: { ...this.learnedBy },
      getPeersOnly: this.getPeersOnly,
      dropped: this.droppedCount,
      seenIn: { ...this.seenIn },
      firstSeenIn: { ...this.firstSeenIn },
    };
  }

  /**
   * The `n` entries with the most requests, or the most distinct sources; ties go to the one seen
   * first. Entries with a zero score are left out. One pass with a small heap: O(size log n).
   */
  top(n: number, by: 'requests' | 'sources'): InfoHashEntry[] {
    const score = by === 'requests'
      ? (entry: number): number => this.requests[entry]!
      : (entry: number): number => sketchEstimate(this.sketch[entry * 2]!, this.sketch[entry * 2 + 1]!);
    // A min-heap of entry numbers: the weakest of the current top n sits at the root.
    const heap: number[] = [];
    const weaker = (a: number, b: number): boolean => score(a) < score(b) || (score(a) === score(b) && a > b);
    for (let entry = 0; entry < this.entryCount && n > 0; entry++) {
      if (score(entry) === 0) continue;
      if (heap.length < n) { heap.push(entry); siftUp(heap, heap.length - 1, weaker); continue; }
      if (weaker(heap[0]!, entry)) { heap[0] = entry; siftDown(heap, 0, weaker); }
    }
    return heap.sort((a, b) => (weaker(a, b) ? 1 : weaker(b, a) ? -1 : 0)).map((entry) => this.read(entry));
  }

  private noteKind(entry: number, bit: number): void {
    const held = this.learned[entry]!;
    if ((held & bit) !== 0) return;
    this.learned[entry] = held | bit;
    const before = held & KIND_MASK;
    const after = before | bit;
    for (const kind of SOURCE_KINDS) if ((KIND_BIT[kind] & bit) !== 0) this.learnedBy[kind]++;
    if (after === KIND_BIT.get_peers) this.getPeersOnly++;
    else if (before === KIND_BIT.get_peers) this.getPeersOnly--;
  }

  private read(entry: number): InfoHashEntry {
    const learned = this.learned[entry]!;
    return {
      infoHash: this.keys.slice(entry * ID_LENGTH, (entry + 1) * ID_LENGTH),
      requests: this.requests[entry]!,
      sources: sketchEstimate(this.sketch[entry * 2]!, this.sketch[entry * 2 + 1]!),
      firstSeenMs: this.firstSeen[entry]! * 1000,
      lastSeenMs: this.lastSeen[entry]! * 1000,
      kinds: SOURCE_KINDS.filter((kind) => (learned & KIND_BIT[kind]) !== 0),
    };
  }

  /** The entry number of `key`, or -1. */
  private find(key: Uint8Array): number {
    const mask = this.slots.length - 1;
    for (let slot = hashKey(key, this.seed) & mask; ; slot = (slot + 1) & mask) {
      const held = this.slots[slot]!;
      if (held === 0) return -1;
      if (this.keyEquals(held - 1, key)) return held - 1;
    }
  }

  private insert(key: Uint8Array, seconds: number): number {
    if (this.entryCount === this.capacity) this.grow();
    const entry = this.entryCount++;
    this.keys.set(key, entry * ID_LENGTH);
    this.firstSeen[entry] = seconds;
    this.lastSeen[entry] = seconds;
    if (this.entryCount > this.slots.length * MAX_LOAD) this.rehash(this.slots.length * 2);
    else this.place(entry);
    return entry;
  }

  private place(entry: number): void {
    const mask = this.slots.length - 1;
    const key = this.keys.subarray(entry * ID_LENGTH, (entry + 1) * ID_LENGTH);
    let slot = hashKey(key, this.seed) & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = entry + 1;
  }

  private rehash(slotCount: number): void {
    this.slots = new Uint32Array(slotCount);
    for (let entry = 0; entry < this.entryCount; entry++) this.place(entry);
  }

  /** Double every column (never past maxEntries); the index keeps its entry numbers. */
  private grow(): void {
    const capacity = Math.min(this.maxEntries, this.capacity * 2);
    this.keys = resized(this.keys, capacity * ID_LENGTH);
    this.requests = resized(this.requests, capacity);
    this.firstSeen = resized(this.firstSeen, capacity);
    this.lastSeen = resized(this.lastSeen, capacity);
    this.sketch = resized(this.sketch, capacity * 2);
    this.learned = resized(this.learned, capacity);
    this.capacity = capacity;
  }

  private keyEquals(entry: number, key: Uint8Array): boolean {
    const keys = this.keys;
    const at = entry * ID_LENGTH;
    for (let i = 0; i < ID_LENGTH; i++) if (keys[at + i] !== key[i]) return false;
    return true;
  }
}

/** The smallest power of two that keeps `entries` under the maximum load. */
function slotCountFor(entries: number): number {
  let slots = 16;
  while (entries > slots * MAX_LOAD) slots *= 2;
  return slots;
}

function resized<T extends Uint8Array | Uint32Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}

/** Linear counting over a 64-bit map: the number of sources that leaves this many bits zero on average. */
export function sketchEstimate(low: number, high: number): number {
  const zeros = 64 - popcount(low) - popcount(high);
  if (zeros === 0) return SOURCES_SATURATED;
  if (zeros === 64) return 0;
  return Math.round(Math.log(zeros / 64) / Math.log(63 / 64));
}

function popcount(word: number): number {
  let v = word >>> 0;
  v -= (v >>> 1) & 0x5555_5555;
  v = (v & 0x3333_3333) + ((v >>> 2) & 0x3333_3333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f_0f0f, 0x0101_0101) >>> 24);
}

/** murmur3's 32-bit finaliser: spreads every input bit over the whole word. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A keyed hash of the 20 key bytes, four at a time. */
function hashKey(key: Uint8Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < ID_LENGTH; i += 4) {
    const word = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    h = Math.imul((h ^ word) >>> 0, 0x9e37_79b1);
    h = (h << 13) | (h >>> 19);
  }
  return mix(h);
}

/** FNV-1a over the string's UTF-16 units, keyed and finalised. */
function hashString(text: string, seed: number): number {
  let h = 0x811c_9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x0100_0193);
  return mix(h);
}

type Weaker = (a: number, b: number) => boolean;

function siftUp(heap: number[], at: number, weaker: Weaker): void {
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!weaker(heap[at]!, heap[parent]!)) return;
    [heap[at], heap[parent]] = [heap[parent]!, heap[at]!];
    at = parent;
  }
}

function siftDown(heap: number[], at: number, weaker: Weaker): void {
  for (;;) {
    const left = at * 2 + 1;
    const right = left + 1;
    let weakest = at;
    if (left < heap.length && weaker(heap[left]!, heap[weakest]!)) weakest = left;
    if (right < heap.length && weaker(heap[right]!, heap[weakest]!)) weakest = right;
    if (weakest === at) return;
    [heap[at], heap[weakest]] = [heap[weakest]!, heap[at]!];
    at = weakest;
  }
}
