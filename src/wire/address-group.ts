/**
 * Who is "the same sender" when counting: the host and the network an address belongs to.
 *
 * Limits per endpoint (address:port) limit nobody: one machine has 65,535 ports, one IPv6 host
 * usually owns a whole /64, and one operator rents a whole /24. So the routing table, the peer
 * store and the rate limits count per host and per network (BEP 42, "Motivation": restricting
 * node IDs per IP makes an attacker pay for addresses instead of ports).
 *
 * - host: an IPv4 address (IPv4-mapped IPv6 counts as IPv4), or an IPv6 /64;
 * - network: an IPv4 /24, or an IPv6 /48 (a typical site allocation).
 */
import { encodeAddress, familyOf, normalizeAddress } from './compact.js';

/** One host's key: the IPv4 address itself, or the IPv6 /64 it is in. Throws TypeError for a non-address. */
export function hostKey(address: string): string {
  if (familyOf(address) === 4) return normalizeAddress(address);
  return prefixKey(address, 8);
}

/** One network's key: the IPv4 /24, or the IPv6 /48. Throws TypeError for a non-address. */
export function networkKey(address: string): string {
  if (familyOf(address) === 4) {
    const v4 = normalizeAddress(address);
    return `${v4.slice(0, v4.lastIndexOf('.'))}/24`;
  }
  return `${prefixKey(address, 6)}/48`;
}

/** Whether the address is IPv4 or IPv6 loopback (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  const normal = normalizeAddress(address);
  return normal === '::1' || normal.startsWith('127.');
}

function prefixKey(address: string, bytes: number): string {
  return Buffer.from(encodeAddress(address).subarray(0, bytes)).toString('hex');
}
