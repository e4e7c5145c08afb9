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

/**
 * An address's host and network, worked out once, to compare many other addresses against (the
 * routing table checks each newcomer against every contact of its bucket).
 */
export interface AddressGroup {
  readonly host: string;
  readonly network: string;
  /** "a.b.c." for an IPv4 address: the start every address of its /24 spells. */
  readonly prefix4: string | undefined;
}

export function groupOf(address: string): AddressGroup {
  const network = networkKey(address);
  const host = hostKey(address);
  return { host, network, prefix4: familyOf(address) === 4 ? `${network.slice(0, -3)}.` : undefined };
}

/**
 * Whether `address`, a valid address (one normalizeAddress accepts: the routing table's contacts
 * all passed hostKey on entry), is in the group's host, and whether in its network. A valid
 * address without a colon is a dotted quad in its one spelling (the parser takes no leading
 * zeros), so it is compared as text, without parsing or building keys: that is the common case,
 * and what makes meshing a 19,000-node local network affordable.
 */
export function relationTo(address: string, group: AddressGroup): { sameHost: boolean; sameNetwork: boolean } {
  if (!address.includes(':')) {
    if (group.prefix4 === undefined) return NEITHER;
    if (address === group.host) return BOTH;
    return address.startsWith(group.prefix4) ? NETWORK_ONLY : NEITHER;
  }
  const sameHost = hostKey(address) === group.host;
  return sameHost ? BOTH : networkKey(address) === group.network ? NETWORK_ONLY : NEITHER;
}

const BOTH = { sameHost: true, sameNetwork: true } as const;
const NETWORK_ONLY = { sameHost: false, sameNetwork: true } as const;
const NEITHER = { sameHost: false, sameNetwork: false } as const;

