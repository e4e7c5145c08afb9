/**
 * Compact peer and node info (BEP 5; IPv6 forms from BEP 32).
 * CONTRACT STUB: to be implemented.
 */
import type { NodeId } from './id.js';

export type Family = 4 | 6;
/** A peer's contact: "IP:port" in compact form is 6 bytes (IPv4) or 18 bytes (IPv6). */
export interface PeerInfo { address: string; port: number }
/** A DHT node's contact: 26 bytes (IPv4) or 38 bytes (IPv6). */
export interface NodeInfo { id: NodeId; address: string; port: number }

export class CompactError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) { super(message); this.name = 'CompactError'; this.offset = offset; }
}

export function familyOf(_address: string): Family { throw new Error('not implemented'); }
export function encodeAddress(_address: string): Uint8Array { throw new Error('not implemented'); }
export function decodeAddress(_bytes: Uint8Array): string { throw new Error('not implemented'); }
export function encodePeer(_peer: PeerInfo): Uint8Array { throw new Error('not implemented'); }
export function decodePeer(_bytes: Uint8Array): PeerInfo { throw new Error('not implemented'); }
export function encodeNodes(_nodes: readonly NodeInfo[], _family: Family): Uint8Array { throw new Error('not implemented'); }
export function decodeNodes(_bytes: Uint8Array, _family: Family): NodeInfo[] { throw new Error('not implemented'); }
