/**
 * What we ask a tracker and what it tells us, the same for UDP (BEP 15) and HTTP (BEP 3, BEP 48)
 * trackers, so the two clients are interchangeable to the code that reports them.
 */
import { randomBytes } from 'node:crypto';
import type { PeerInfo } from '../wire/compact.js';
import type { NodeId } from '../wire/id.js';

export interface TrackerRequest {
  infoHash: NodeId;
  /** Our 20-byte peer ID (BEP 20 style); `newPeerId()` makes one. */
  peerId: Uint8Array;
  /** The TCP port we would accept peers on. */
  port: number;
  /**
   * Stay in the tracker's list after the announce. A scrape only looks, so by default the
   * announce (which every tracker needs before it hands out peers) is followed by an
   * `event=stopped` that takes us out again: the swarm is not left a peer that will never answer.
   */
  stay?: boolean;
  /** How many peers to ask for (default 200) and to keep at most (the rest is dropped). */
  numWant?: number;
  signal?: AbortSignal;
}

/** A tracker's answer: the swarm's size as it counts it, and some of its peers. */
export interface TrackerAnswer {
  /** Peers that have the whole torrent (`complete` / seeders). */
  seeders: number;
  /** Peers still downloading (`incomplete` / leechers). */
  leechers: number;
  /** Completed downloads since the tracker started counting, when it scrapes (BEP 48 / BEP 15). */
  completed?: number;
  peers: PeerInfo[];
  /** Seconds the tracker asks us to wait before the next announce. */
  interval: number;
  /** A `warning message` the tracker sent beside a valid answer. */
  warning?: string;
}

/** Default number of peers asked for and kept: a bound on what one hostile tracker can make us hold. */
export const DEFAULT_NUM_WANT = 200;

/** A peer ID in Azureus style (BEP 20): `-DS0100-` and 12 random bytes. */
export function newPeerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode('-DS0100-'));
  id.set(randomBytes(12), 8);
  return id;
}

/**
 * The seeders an announce reply counts, less ourselves: we announce with `left=0`, so a tracker
 * that cannot be scraped counts us as one of its seeders.
 */
export function withoutUs(seeders: number): number {
  return Math.max(0, seeders - 1);
}

/** A tracker did not give a usable answer; the message is one clear reason. */
export class TrackerError extends Error {
  constructor(message: string) { super(message); this.name = 'TrackerError'; }
}

/** A tracker's text, safe to print: control and format characters removed, at most 200 characters. */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, '').slice(0, 200);
}
