/**
 * The state of one iterative lookup (BEP 5, "Routing Table" and the Kademlia paper's node lookup),
 * kept apart from any socket or timer so that it can be stepped by hand, tested and explained.
 *
 * Candidates are kept ordered by XOR distance to the target. We keep the `alpha` closest candidates
 * that may still answer asked, and no more: a query to a node that closer ones have since overtaken
 * no longer holds one of the alpha slots. Every answer brings nodes closer to the
 * target; the lookup ends when the `k` closest nodes that actually answered are known and no
 * candidate that could still improve them (unasked, or asked and still pending) is closer than the
 * k-th of them.
 */
import { formatEndpoint, subnetOf } from '../wire/address.js';
import { familyOf, type NodeInfo } from '../wire/compact.js';
import { compareDistance, idEquals, idKey, sharedPrefixLength, type NodeId } from '../wire/id.js';
import { isExemptAddress, isSecureId } from '../wire/secure-id.js';

/**
 * Where a candidate stands: not asked yet, asked and waiting, waiting past the soft timeout (no
 * longer holding a slot), answered, failed (hard timeout or error), or never to be asked because
 * the node that told us about it has been caught handing out nodes that do not answer.
 */
export type CandidateState = 'new' | 'active' | 'slow' | 'responded' | 'failed' | 'distrusted';

/** A node the lookup knows of, with what it has learned about it. */
export interface Candidate {
  node: NodeInfo;
  state: CandidateState;
  /** 0 for the nodes we started from, then one more than the node that told us about it. */
  hop: number;
  /** Leading bits shared with the target: the "how close" a learner can read at a glance. */
  prefixBits: number;
  /** What the node returned to remember for later, e.g. the announce token of get_peers. */
  token?: Uint8Array;
}

/** The lookup's parameters; the defaults follow Kademlia and libtorrent. */
export interface LookupStateOptions {
  /** The k closest responders to find. BEP 5: 8. */
  k?: number;
  /** Queries active at once. Kademlia: 3; libtorrent keeps up to 5. */
  alpha?: number;
  /**
   * Queries active at once until k nodes have answered (default: alpha, no widening). A cold lookup
   * knows few candidates and no round trips: asking more of them at once reaches the target's
   * neighbourhood sooner, for some extra queries early on (docs/lookup.md, "Starting cold").
   */
  startAlpha?: number;
  /** Candidates kept; the farthest are forgotten beyond it (libtorrent: 100). */
  maxCandidates?: number;
  /** Candidates per /24 (IPv4) or /64 (IPv6): a cheap brake on one operator's cluster of fake nodes. */
  maxPerSubnet?: number;
  /**
   * Which network the lookup runs on, and so which addresses the per-subnet brake applies to (see
   * AddressScope). Default 'unknown': the brake applies to every address.
   */
  addressScope?: AddressScope;
  /**
   * The ID of the node running the lookup. Other nodes list us in their replies once we are in
   * their tables; asking ourselves would waste a query, and an announce would go to ourselves.
   */
  self?: NodeId;
  /**
   * Referrals of one responder that may go silent (past their soft timeout) before the rest of its
   * referrals are dropped unasked, as long as fewer than one in three of them answered. Default 3.
   */
  distrustAfter?: number;
  /**
   * BEP 42 "Enforcement" for the lookup: candidates whose ID does not fit their address are never
   * asked (exempt local addresses pass). A node that enforces keeps such nodes out of its table;
   * this keeps them out of its lookups too, where a Sybil would otherwise pick IDs next to a target.
   */
  secureIdsOnly?: boolean;
}

/**
 * 'public': the Internet's DHT. Local addresses (private, loopback, link-local: BEP 42's exempt
 * ranges) cannot be reached from there, so candidates at such addresses are dropped, and the
 * per-subnet brake holds every other /24 to `maxPerSubnet`.
 * 'local': a network the user declared local (bootstrapped through a local address), where many
 * real nodes may share one /24: the brake applies to public addresses only.
 * 'unknown': nothing was declared; the brake applies to every address, local ones included.
 */
export type AddressScope = 'public' | 'local' | 'unknown';

/** How the nodes one responder told us about fared: the evidence for believing the rest of them. */
interface Referrals {
  answered: number;
  silent: number;
  distrusted: boolean;
}

/** The candidates of one lookup, closest first, and the rules for whom to ask next and when to stop. */
export class LookupState {
  readonly k: number;
  readonly alpha: number;
  readonly startAlpha: number;
  private readonly maxCandidates: number;
  private readonly maxPerSubnet: number;
  /** Closest first. */
  private readonly candidates: Candidate[] = [];
  private readonly byId = new Map<string, Candidate>();
  private readonly byAddress = new Set<string>();
  private readonly perSubnet = new Map<string, number>();
  private readonly distrustAfter: number;
  private readonly self: NodeId | undefined;
  private readonly scope: AddressScope;
  private readonly secureIdsOnly: boolean;
  /** By the responder's ID key. At most one entry per responder, so bounded by the query count. */
  private readonly referrals = new Map<string, Referrals>();
  private readonly referredBy = new WeakMap<Candidate, Referrals>();
  /** Candidates already counted as silent against their referrer (a slow one that then fails counts once). */
  private readonly countedSilent = new WeakSet<Candidate>();
  private responders = 0;

  constructor(
    readonly target: NodeId,
    options: LookupStateOptions = {},
  ) {
    this.k = options.k ?? 8;
    this.alpha = options.alpha ?? 3;
    this.startAlpha = Math.max(this.alpha, options.startAlpha ?? this.alpha);
    this.maxCandidates = options.maxCandidates ?? 100;
    this.maxPerSubnet = options.maxPerSubnet ?? 4;
    this.self = options.self;
    this.scope = options.addressScope ?? 'unknown';
    this.distrustAfter = options.distrustAfter ?? 3;
    this.secureIdsOnly = options.secureIdsOnly === true;
  }

  /**
   * Offer nodes (from the routing table, or from the reply of the node `from`). Returns how many
   * were new. From a reply, only the k closest of each address family are taken (BEP 5: a node
   * returns "the K closest good nodes"; BEP 32 adds as many IPv6 ones), so that one responder
   * cannot fill the candidate list with fakes; and nothing more from a responder whose referrals
   * were found bogus.
   */
  add(nodes: readonly NodeInfo[], hop: number, from?: NodeId): number {
    let referrals: Referrals | undefined;
    let offered = nodes;
    if (from !== undefined) {
      const fromKey = idKey(from);
      referrals = this.referrals.get(fromKey);
      if (referrals === undefined) this.referrals.set(fromKey, (referrals = { answered: 0, silent: 0, distrusted: false }));
      if (referrals.distrusted) return 0;
      offered = this.closestPerFamily(nodes);
    }
    let added = 0;
    for (const node of offered) {
      const candidate = this.addOne(node, hop);
      if (candidate === undefined) continue;
      added++;
      if (referrals !== undefined) this.referredBy.set(candidate, referrals);
    }
    return added;
  }

  private addOne(node: NodeInfo, hop: number): Candidate | undefined {
    const key = idKey(node.id);
    const addressKey = formatEndpoint(node);
    if (this.byId.has(key) || this.byAddress.has(addressKey) || node.port === 0) return undefined;
    if (this.self !== undefined && idEquals(node.id, this.self)) return undefined;
    if (this.secureIdsOnly && !isSecureId(node.id, node.address)) return undefined;
    const braked = this.braked(node.address);
    if (braked === undefined) return undefined;
    const subnet = subnetOf(node.address);
    if (braked && (this.perSubnet.get(subnet) ?? 0) >= this.maxPerSubnet) return undefined;
    const index = this.insertionIndex(node.id);
    if (index >= this.maxCandidates) return undefined;
    const candidate: Candidate = { node, state: 'new', hop, prefixBits: sharedPrefixLength(node.id, this.target) };
    this.candidates.splice(index, 0, candidate);
    this.byId.set(key, candidate);
    this.byAddress.add(addressKey);
    this.perSubnet.set(subnet, (this.perSubnet.get(subnet) ?? 0) + 1);
    if (this.candidates.length > this.maxCandidates) this.forgetFarthestUnasked();
    return candidate;
  }

  /**
   * Whether the per-subnet brake applies to this address (see AddressScope), or undefined when the
   * address cannot be a node of this network at all (a local address met on the public DHT).
   */
  private braked(address: string): boolean | undefined {
    if (this.scope === 'unknown') return true;
    const local = isExemptAddress(address);
    if (this.scope === 'public') return local ? undefined : true;
    return !local;
  }

  /** The k nodes closest to the target of each address family, or all of them when there are no more. */
  private closestPerFamily(nodes: readonly NodeInfo[]): readonly NodeInfo[] {
    if (nodes.length <= this.k) return nodes;
    const byDistance = nodes.slice().sort((a, b) => compareDistance(this.target, a.id, b.id));
    const v4 = byDistance.filter((n) => familyOf(n.address) === 4).slice(0, this.k);
    const v6 = byDistance.filter((n) => familyOf(n.address) === 6).slice(0, this.k);
    return [...v4, ...v6];
  }

  /** Binary search for where an ID goes in the distance order. */
  private insertionIndex(id: NodeId): number {
    let lo = 0;
    let hi = this.candidates.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareDistance(this.target, this.candidates[mid]!.node.id, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Over the cap, drop the farthest candidate that is done with (failed, or distrusted), else the
   * farthest not asked yet. Asked ones hold our bookkeeping.
   */
  private forgetFarthestUnasked(): void {
    const at = this.farthestIndex((s) => s === 'failed' || s === 'distrusted');
    const index = at >= 0 ? at : this.farthestIndex((s) => s === 'new');
    if (index < 0) return;
    const c = this.candidates[index]!;
    this.candidates.splice(index, 1);
    this.byId.delete(idKey(c.node.id));
    // Its address stays in byAddress: a forgotten node is not re-added at the same distance.
  }

  private farthestIndex(test: (state: CandidateState) => boolean): number {
    for (let i = this.candidates.length - 1; i >= 0; i--) if (test(this.candidates[i]!.state)) return i;
    return -1;
  }

  /**
   * The next nodes to ask, so that the `width` closest candidates that may still answer are all
   * asked: walking from the closest, an active query counts against the width, an unasked candidate
   * is asked, until `width` are in flight. A query to a node that closer discoveries have pushed
   * down the list no longer holds a slot (libtorrent's "aggressive" lookup does the same): on a
   * network where half the named nodes never answer, the first wide round's silent far nodes would
   * otherwise keep the nodes next to the target waiting for their soft timeouts. Slow queries (past
   * their soft timeout) never count, which is how a silent node stops holding up the lookup.
   * Candidates beyond the k-th responder are never asked: they cannot improve the result.
   */
  next(): Candidate[] {
    const picked = this.pick();
    return picked.length === 0 && this.lastResort() ? this.pick() : picked;
  }

  private pick(): Candidate[] {
    const picked: Candidate[] = [];
    let inFlight = 0;
    const bound = this.kthResponderIndex();
    const width = this.width;
    for (let i = 0; i < this.candidates.length && i <= bound && inFlight < width; i++) {
      const c = this.candidates[i]!;
      if (c.state === 'active') inFlight++;
      if (c.state !== 'new') continue;
      c.state = 'active';
      picked.push(c);
      inFlight++;
    }
    return picked;
  }

  /** Queries allowed at once now: startAlpha until k nodes have answered, then alpha. */
  get width(): number {
    return this.responders < this.k ? this.startAlpha : this.alpha;
  }

  /** The candidate with this ID, if the lookup knows it. */
  get(id: NodeId): Candidate | undefined {
    return this.byId.get(idKey(id));
  }

  /** Its soft timeout passed: stop counting it against alpha, but keep waiting for its reply. */
  markSlow(id: NodeId): void {
    const c = this.get(id);
    if (c?.state !== 'active') return;
    c.state = 'slow';
    this.noteSilent(c);
  }

  /** It answered; `token` is what the strategy keeps for later (get_peers: the announce token). */
  markResponded(id: NodeId, token?: Uint8Array): void {
    const c = this.get(id);
    if (c === undefined || c.state === 'responded') return;
    c.state = 'responded';
    if (token !== undefined) c.token = token;
    this.responders++;
    const referrals = this.referredBy.get(c);
    if (referrals === undefined) return;
    referrals.answered++;
    if (this.countedSilent.delete(c)) referrals.silent--;
    if (referrals.distrusted && !this.untrustworthy(referrals)) this.trustAgain(referrals);
  }

  /**
   * A referral that was only slow has answered after all, and its referrer's record is good again:
   * the referrals dropped unasked are candidates again. On a loaded machine or a slow link, replies
   * past the soft timeout are not lies; without this, the nodes nearest the target could be dropped
   * for good by three late replies in the lookup's first wide round.
   */
  private trustAgain(referrals: Referrals): void {
    referrals.distrusted = false;
    for (const other of this.candidates) {
      if (other.state === 'distrusted' && this.referredBy.get(other) === referrals) other.state = 'new';
    }
  }

  /**
   * Nothing left to ask, nothing in flight, and fewer than k answers: the referrals dropped as
   * distrusted are all the lookup has, so they are asked after all, rather than ending "exhausted"
   * beside them. Where half of the honest nodes named are dead (much of the real DHT), a responder
   * can earn distrust by bad luck; a bogus-node attacker gains at most one query per candidate it
   * got in, and only from a lookup that found no k honest nodes.
   */
  private lastResort(): boolean {
    if (this.responders >= this.k || this.count('active') > 0) return false;
    let restored = false;
    for (const c of this.candidates) {
      if (c.state === 'distrusted') { c.state = 'new'; restored = true; }
    }
    return restored;
  }

  /** Past `distrustAfter` silences, with fewer than one answer per two of them. */
  private untrustworthy(referrals: Referrals): boolean {
    return referrals.silent >= this.distrustAfter && referrals.silent > 2 * referrals.answered;
  }

  /** Its hard timeout passed, or it answered with an error. */
  markFailed(id: NodeId): void {
    const c = this.get(id);
    if (c === undefined || (c.state !== 'active' && c.state !== 'slow')) return;
    c.state = 'failed';
    this.noteSilent(c);
  }

  /**
   * One more of a responder's referrals did not answer. Past `distrustAfter` of them, with fewer
   * than one answer per two silences, its referrals not yet asked are dropped: a node that hands
   * out addresses where nobody answers (a bogus-node attack, or a broken node) would otherwise cost
   * a soft timeout per address, and a lookup that meets a few such nodes would never finish.
   * Late answers take their silences back, and can restore the trust (markResponded).
   */
  private noteSilent(c: Candidate): void {
    const referrals = this.referredBy.get(c);
    if (referrals === undefined || this.countedSilent.has(c)) return;
    this.countedSilent.add(c);
    referrals.silent++;
    if (referrals.distrusted || !this.untrustworthy(referrals)) return;
    referrals.distrusted = true;
    for (const other of this.candidates) {
      if (other.state === 'new' && this.referredBy.get(other) === referrals) other.state = 'distrusted';
    }
  }

  /**
   * The termination rule. With k responders known, done when nothing closer than the k-th of them
   * is unasked or still active; a slow query (past its soft timeout) does not hold it open, or one
   * lost packet on a lossy network would cost every lookup a full hard timeout (its late reply is
   * still used while the lookup runs). With fewer than k, done when nothing is left to ask and
   * nothing is out, slow queries included: they may be all the lookup has left, and a network
   * slower than the soft timeout would otherwise never be heard. (This used to hold only while
   * nobody had answered: on the `internet` local network a cold lookup whose router answered but
   * whose 8 referrals were all past their soft timeout at 0.6 s ended "exhausted" beside them.)
   */
  get done(): boolean {
    if (this.responders < this.k && this.count('slow') > 0) return false;
    const bound = this.kthResponderIndex();
    for (let i = 0; i < this.candidates.length && i <= bound; i++) {
      const s = this.candidates[i]!.state;
      if (s === 'new' || s === 'active') return false;
    }
    return true;
  }

  /**
   * Fewer than k answers, nothing left to ask and no query within its soft timeout: only slow
   * queries, which may never answer, hold the lookup open. The lookup then goes back to the table
   * for more candidates (LookupOptions.reseed) instead of waiting their hard timeouts out idle.
   */
  get stalled(): boolean {
    if (this.responders >= this.k) return false;
    for (const c of this.candidates) if (c.state === 'new' || c.state === 'active') return false;
    return true;
  }

  /** True while a query is still out (active or slow). */
  get outstanding(): number {
    return this.count('active') + this.count('slow');
  }

  /** The k closest nodes that answered, closest first. */
  closestResponders(n = this.k): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.candidates) {
      if (c.state === 'responded') out.push(c);
      if (out.length === n) break;
    }
    return out;
  }

  /** Candidates known (at most maxCandidates). */
  get size(): number {
    return this.candidates.length;
  }

  /** Candidates that answered so far. */
  get responderCount(): number {
    return this.responders;
  }

  /** A snapshot, closest first, for displays and tests. */
  snapshot(): readonly Candidate[] {
    return this.candidates;
  }

  /** Index of the k-th closest responder, or the last index when fewer than k have answered. */
  private kthResponderIndex(): number {
    let seen = 0;
    for (let i = 0; i < this.candidates.length; i++) {
      if (this.candidates[i]!.state === 'responded' && ++seen === this.k) return i;
    }
    return this.candidates.length - 1;
  }

  private count(state: CandidateState): number {
    let n = 0;
    for (const c of this.candidates) if (c.state === state) n++;
    return n;
  }
}

