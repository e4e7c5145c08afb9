/**
 * BEP 42 (DHT Security Extension): node IDs tied to the node's IP, so one host cannot pick IDs at will.
 * CONTRACT STUB: to be implemented (crc32c in ./crc32c.ts).
 */
import type { NodeId } from './id.js';

/** The ID prefix BEP 42 derives from an IP and a random byte. `rand` is the byte stored in id[19]. */
export function secureIdFor(_address: string, _rand?: number): NodeId { throw new Error('not implemented'); }
/** True when the ID is valid for the address, or the address is exempt (local, loopback, private: BEP 42). */
export function isSecureId(_id: NodeId, _address: string): boolean { throw new Error('not implemented'); }
export function isExemptAddress(_address: string): boolean { throw new Error('not implemented'); }
