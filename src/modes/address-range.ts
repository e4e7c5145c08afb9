/**
 * An address range in CIDR notation (`127.0.0.0/8`, `10.77.0.0/16`, `::1/128`, `fd00::/64`) and
 * the layout of a local network inside it: where node i and synthetic peer i live.
 *
 * Nodes take the lower half of the range and synthetic peers the upper half, so a peer address is
 * never a node's. Real clients keep at most one node per /24 in a bucket (libtorrent's
 * `restrict_routing_ips`), so where the range is big enough each IPv4 node gets its own /24;
 * otherwise nodes take consecutive addresses and, where only one address can be bound, share it
 * on distinct ports. Pure arithmetic on BigInt: the same code serves IPv4 and IPv6.
 */
import { decodeAddress, encodeAddress, familyOf, type Family } from '../wire/compact.js';

/** A parsed CIDR range. */
export interface AddressRange {
  readonly family: Family;
  /** The first address of the range (host bits cleared). */
  readonly base: bigint;
  readonly prefix: number;
  /** As the user wrote it, normalised: `127.0.0.0/8`. */
  readonly text: string;
}

export class AddressRangeError extends Error {
  constructor(message: string) { super(message); this.name = 'AddressRangeError'; }
}

/** The range a local network uses unless told otherwise: all of IPv4 loopback. */
export const DEFAULT_ADDRESS_RANGE = '127.0.0.0/8';

/** Parse "ADDRESS/PREFIX" (a bare address means a single one: /32 or /128). */
export function parseAddressRange(text: string): AddressRange {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  let family: Family;
  let bytes: Uint8Array;
  try {
    family = familyOf(address);
    bytes = encodeAddress(address);
  } catch {
    throw new AddressRangeError(`expected an address range such as 127.0.0.0/8 or fd00::/64, got ${JSON.stringify(text)}`);
  }
  const bits = bytes.length * 8;
  const prefixText = slash === -1 ? String(bits) : text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > bits) {
    throw new AddressRangeError(`the prefix length of ${JSON.stringify(text)} must be 0 to ${bits}`);
  }
  const hostBits = BigInt(bits - prefix);
  const base = (toBigInt(bytes) >> hostBits) << hostBits;
  return { family, base, prefix, text: `${fromBigInt(base, family)}/${prefix}` };
}

/** How many addresses the range holds. */
export function rangeSize(range: AddressRange): bigint {
  return 1n << BigInt(addressBits(range.family) - range.prefix);
}

/** The address `offset` places after the range's first. */
export function addressAt(range: AddressRange, offset: bigint): string {
  if (offset < 0n || offset >= rangeSize(range)) throw new RangeError(`offset ${offset} is outside ${range.text}`);
  return fromBigInt(range.base + offset, range.family);
}

/** Whether `address` lies in the range. */
export function rangeContains(range: AddressRange, address: string): boolean {
  let bytes: Uint8Array;
  try { bytes = encodeAddress(address); } catch { return false; }
  if (bytes.length * 8 !== addressBits(range.family)) return false;
  const hostBits = BigInt(addressBits(range.family) - range.prefix);
  return (toBigInt(bytes) >> hostBits) << hostBits === range.base;
}

/** Where a local network of `count` nodes puts things in a range. */
export interface RangeLayout {
  /** Node i's address. */
  node(i: number): string;
  /** Synthetic peer i's address (the upper half of the range; wraps around when it is small). */
  peer(i: number): string;
  /** The one address every node binds when only one can be (and where a probe or client binds). */
  readonly shared: string;
  /** True when nodes are packed closer than one per /24 (IPv4) or per /64 (IPv6). */
  readonly sharesSubnets: boolean;
}

/**
 * The layout of `count` nodes in `range`. For the default 127.0.0.0/8, node i is 127.(1 + i/256).(i%256).1
 * and the range's first host, 127.0.0.1, is left to clients.
 */
export function layoutIn(range: AddressRange, count: number): RangeLayout {
  const size = rangeSize(range);
  const half = size >= 2n ? size / 2n : 1n;
  const shared = addressAt(range, size >= 2n ? 1n : 0n);
  const peer = peerAt(range);
  const n = BigInt(count);
  // One /24 per node (IPv4), after the first /16 when that fits (so 127.0.x.x stays free), else after the first /24.
  if (range.family === 4) {
    for (const skip of [65_536n, 256n]) {
      if (skip + 256n * n <= half) {
        return { node: (i) => addressAt(range, skip + 256n * BigInt(i) + 1n), peer, shared, sharesSubnets: false };
      }
    }
  }
  // Consecutive addresses after the shared one.
  if (2n + n <= half) {
    return { node: (i) => addressAt(range, 2n + BigInt(i)), peer, shared, sharesSubnets: true };
  }
  return sharedLayout(range);
}

/** Every node on the range's one shared address, on distinct ports. */
export function sharedLayout(range: AddressRange): RangeLayout {
  const size = rangeSize(range);
  const shared = addressAt(range, size >= 2n ? 1n : 0n);
  return {
    node: () => shared,
    peer: peerAt(range),
    shared,
    sharesSubnets: true,
  };
}

/**
 * Synthetic peer i in the upper half. Where the half holds whole /16s, consecutive peers sit in
 * different /24s (127.128.0.0, 127.128.1.0, ...), as a real swarm's do: the peer store caps what
 * one /24 may hold.
 */
function peerAt(range: AddressRange): (i: number) => string {
  const size = rangeSize(range);
  if (size < 2n) return () => addressAt(range, 0n);
  const half = size / 2n;
  return (i) => {
    const n = BigInt(i);
    const scattered = half >= 65_536n ? (n & ~0xffffn) | ((n & 0xffn) << 8n) | ((n >> 8n) & 0xffn) : n;
    return addressAt(range, half + (scattered % half));
  };
}

function addressBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

function fromBigInt(value: bigint, family: Family): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return decodeAddress(bytes);
}
