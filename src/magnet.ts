/**
 * What a user may type to name a torrent: a 40-char hex or 32-char base32 info-hash, or a magnet URI (BEP 9).
 * CONTRACT STUB: to be implemented.
 */
import type { NodeId } from './id.js';

export interface TorrentTarget {
  infoHash: NodeId;
  /** The magnet's `dn` (display name), when given. */
  name?: string;
}

export class TargetError extends Error {
  constructor(message: string) { super(message); this.name = 'TargetError'; }
}

export function parseTarget(_input: string): TorrentTarget { throw new Error('not implemented'); }
