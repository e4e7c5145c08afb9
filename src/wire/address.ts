/**
 * Addresses as the rest of the code compares them: an endpoint's one spelling, whether two
 * spellings name one host, and the network an address belongs to. The bytes themselves are
 * compact.ts's (BEP 5 "Contact Encoding"); this is what the table, the RPC layer, the lookup and
 * the limits each needed, written once.
 */
import { encodeAddress, familyOf, normalizeAddress } from './compact.js';

/**
 * "1.2.3.4:6881", or "[::1]:6881" for IPv6: the brackets keep its colons apart from the port's.
 * An endpoint's one spelling, to print it and to key maps by it.
 */
export function formatEndpoint(e: { readonly address: string; readonly port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * One spelling per host for addresses as sockets report them: dgram spells the IPv4 senders of a
 * dual-stack socket ::ffff:a.b.c.d. Cheap (no parsing), for keys on the packet path.
 */
export function hostKey(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Whether two addresses, as sockets and compact info spell them, name one host. */
export function sameHost(a: string, b: string): boolean {
  return a === b || hostKey(a) === hostKey(b);
}

/**
 * The /64 an IPv6 address is in, as a key: one IPv6 host usually owns a whole /64, so it is the
 * unit that limits and diversity rules count (BEP 42 masks IPv6 the same way).
 */
export function ipv6Prefix64(address: string): string {
  return Buffer.from(encodeAddress(address).subarray(0, 8)).toString('hex');
}

/** The /24 of an IPv4 address or the /64 of an IPv6 one: roughly, one operator's network. */
export function subnetOf(address: string): string {
  if (familyOf(address) === 4) {
    const v4 = normalizeAddress(address);
    return v4.slice(0, v4.lastIndexOf('.'));
  }
  return ipv6Prefix64(address);
}
