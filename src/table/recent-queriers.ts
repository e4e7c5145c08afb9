/**
 * The queriers a node heard from in the last few seconds, so that a busy querier costs one routing
 * table update every few seconds instead of one per packet.
 *
 * BEP 5 ("Routing Table") judges nodes over 15 minutes: a node is good if it answered us, or
 * answered and then queried us, within the last 15 minutes. Telling the table about the same
 * querier again a few seconds later changes nothing it would report, yet the update (ID lookup,
 * endpoint check, bucket bookkeeping) is a large share of what answering a ping costs.
 *
 * One entry per source address, holding the last (port, ID) seen from it: a second querier behind
 * the same address simply takes the entry over, and costs a table update, which is always correct.
 * Capped: past `capacity` the oldest entry is forgotten (it will merely be recorded again).
 *
 * Pure: no timers, an injected clock.
 */
import type { NodeInfo } from '../wire/compact.js';
import { idEquals, type NodeId } from '../wire/id.js';

export interface RecentQueriersOptions {
  /** How long a querier counts as recently noted. Default 5,000 ms. */
  windowMs?: number;
  /** Addresses remembered at once. Default 1,024. */
  capacity?: number;
  now?: () => number;
}

interface Entry {
  port: number;
  id: NodeId;
  notedAt: number;
}

export class RecentQueriers {
  private readonly entries = new Map<string, Entry>();
  private readonly windowMs: number;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(options: RecentQueriersOptions = {}) {
    this.windowMs = options.windowMs ?? 5_000;
    this.capacity = Math.max(1, options.capacity ?? 1_024);
    this.now = options.now ?? Date.now;
  }

  /**
   * True if this very querier (address, port and ID) was noted less than `windowMs` ago: the table
   * has nothing new to learn. Otherwise it is noted as of now, and the caller should tell the table.
   */
  isRecent(node: NodeInfo): boolean {
    const now = this.now();
    const entry = this.entries.get(node.address);
    if (entry !== undefined) {
      if (entry.port === node.port && idEquals(entry.id, node.id) && now - entry.notedAt < this.windowMs) return true;
      entry.port = node.port;
      // Our own copy: the caller's ID may be a view into a packet that is about to be reused.
      entry.id = node.id.slice();
      entry.notedAt = now;
      return false;
    }
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(node.address, { port: node.port, id: node.id.slice(), notedAt: now });
    return false;
  }

  get size(): number {
    return this.entries.size;
  }
}
