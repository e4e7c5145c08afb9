/**
 * The k-bucket routing table (BEP 5, "Routing Table").
 * CONTRACT STUB: to be implemented. Pure: no sockets, no timers; time and randomness injected.
 */
import type { NodeInfo } from './compact.js';
import type { NodeId } from './id.js';

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
  | { kind: 'rejected'; reason: 'own-id' | 'address-taken' | 'invalid' };

export interface RoutingTableOptions {
  /** Bucket size. BEP 5: 8. */
  k?: number;
  /** Replacement cache size per bucket. Default 8 (= k). */
  replacements?: number;
  /** A node silent for this long is questionable. BEP 5: 15 minutes. */
  questionableAfterMs?: number;
  /** Failed queries in a row after which a node is bad. Default 3. */
  badAfterFailures?: number;
  now?: () => number;
  random?: (size: number) => Uint8Array;
}

export interface BucketInfo {
  /** Index in the table; bucket i holds the IDs sharing exactly i leading bits with ours (the last: >= i). */
  index: number;
  contacts: readonly Contact[];
  replacements: readonly NodeInfo[];
  lastChanged: number;
}

export interface TableStats { nodes: number; buckets: number; good: number; questionable: number; bad: number; replacements: number }

export class RoutingTable {
  readonly ownId: NodeId;
  constructor(ownId: NodeId, _options?: RoutingTableOptions) { this.ownId = ownId; throw new Error('not implemented'); }
  /** The node answered one of our queries. */
  recordResponse(_node: NodeInfo): InsertResult { throw new Error('not implemented'); }
  /** The node sent us a query (it is alive, but has not yet proved it answers). */
  recordQuery(_node: NodeInfo): InsertResult { throw new Error('not implemented'); }
  /** A query to the node timed out. Returns 'removed' when that made it bad and it was replaced from the cache or dropped. */
  recordFailure(_id: NodeId): 'failed' | 'removed' | 'unknown' { throw new Error('not implemented'); }
  remove(_id: NodeId): boolean { throw new Error('not implemented'); }
  get(_id: NodeId): Contact | undefined { throw new Error('not implemented'); }
  stateOf(_contact: Contact): NodeState { throw new Error('not implemented'); }
  /** Exactly the n contacts closest to target by XOR (fewer if the table holds fewer), closest first. */
  closest(_target: NodeId, _n: number, _filter?: (c: Contact) => boolean): Contact[] { throw new Error('not implemented'); }
  /** Random targets, one per bucket unchanged for `olderThanMs` (BEP 5: refresh after 15 minutes). */
  refreshTargets(_olderThanMs: number): NodeId[] { throw new Error('not implemented'); }
  /** Questionable contacts, least recently seen first, to ping. */
  questionable(_limit: number): Contact[] { throw new Error('not implemented'); }
  all(): Contact[] { throw new Error('not implemented'); }
  get size(): number { throw new Error('not implemented'); }
  buckets(): BucketInfo[] { throw new Error('not implemented'); }
  stats(): TableStats { throw new Error('not implemented'); }
  /** A readable multi-line picture of the buckets (used by the demo and for debugging). */
  dump(): string { throw new Error('not implemented'); }
}
