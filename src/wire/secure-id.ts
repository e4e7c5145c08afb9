/**
 * BEP 42 (DHT Security Extension): node IDs tied to the node's IP, so one host cannot pick IDs at will.
 *
 * Without it, an attacker can start 8 nodes with IDs right next to a target info-hash and become
 * the nodes that store (and can hide) its peers. BEP 42 ("Node ID restriction") makes the top 21 bits
 * of an ID a hash of the node's IP, so choosing where to sit in the keyspace needs control of many IPs:
 *
 *   IPv4: crc32c((ip & 0x030f3fff) | (r << 29))            over the 4 address bytes
 *   IPv6: crc32c((ip & 0x0103070f1f3f7fff) | (r << 61))    over the high 8 address bytes
 *
 * r is 0..7, so each IP may use 8 prefixes (several nodes behind one NAT), and r is stored in the low
 * 3 bits of the last ID byte so others can recheck. The masks keep more bits of the low octets than
 * the high ones: a whole /8 gives few more choices than a single address. BEP 42's prose says to hash
 * a 64-bit integer; its example code and test vectors hash 4 bytes for IPv4, as done here.
 */
import { randomBytes } from 'node:crypto';
import { encodeAddress } from './compact.js';
import { crc32c } from './crc32c.js';
import { ID_LENGTH, type NodeId } from './id.js';

/** BEP 42's masks, one byte per address byte (the v4 mask is 0x030f3fff, the v6 one 0x0103070f1f3f7fff). */
const V4_MASK = [0x03, 0x0f, 0x3f, 0xff] as const;
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff] as const;

/** The 32-bit CRC whose top 21 bits a valid ID for `ip` (4 or 16 bytes) and `r` (0..7) starts with. */
function idPrefixCrc(ip: Uint8Array, r: number): number {
  const mask: readonly number[] = ip.length === 4 ? V4_MASK : V6_MASK;
  const input = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) input[i] = ip[i]! & mask[i]!;
  // r << 29 (or << 61) sets the top 3 bits of the big-endian integer: the top 3 bits of byte 0.
  input[0]! |= (r & 0x07) << 5;
  return crc32c(input);
}

/** Does the ID start with the CRC's top 21 bits: 2 whole bytes, then the high 5 bits of the third? */
function hasPrefix(id: NodeId, crc: number): boolean {
  return (
    id[0] === crc >>> 24 &&
    id[1] === ((crc >>> 16) & 0xff) &&
    ((id[2]! ^ (crc >>> 8)) & 0xf8) === 0
  );
}

/**
 * A BEP 42 node ID for `address`: the first 21 bits from the CRC, the last byte `rand` (whose low
 * 3 bits are BEP 42's r), the rest random. `rand` defaults to a random byte; `random` is the byte
 * source (node:crypto's by default), injectable so tests are reproducible.
 * Local addresses get a derived ID too: exempt nodes may use any ID, and this one is as good as any.
 */
export function secureIdFor(
  address: string,
  rand?: number,
  random: (size: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n)),
): NodeId {
  if (rand !== undefined && (!Number.isInteger(rand) || rand < 0 || rand > 0xff)) {
    throw new RangeError(`rand must be an integer in 0..255, got ${String(rand)}`);
  }
  const ip = encodeAddress(address);
  const id = new Uint8Array(ID_LENGTH);
  id.set(random(ID_LENGTH).subarray(0, ID_LENGTH));
  const last = rand ?? id[ID_LENGTH - 1]!;
  const crc = idPrefixCrc(ip, last & 0x07);
  id[0] = crc >>> 24;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07); // 5 bits from the CRC, 3 random
  id[ID_LENGTH - 1] = last;
  return id;
}

/**
 * True when the ID is valid for the address, or the address is exempt (local, loopback, private: BEP 42).
 * r is read back from the low 3 bits of the ID's last byte. An ID of the wrong length is never valid;
 * an address that is not an IP address throws TypeError.
 */
export function isSecureId(id: NodeId, address: string): boolean {
  if (isExemptAddress(address)) return true;
  if (id.length !== ID_LENGTH) return false;
  return hasPrefix(id, idPrefixCrc(encodeAddress(address), id[ID_LENGTH - 1]! & 0x07));
}

/**
 * Local-network addresses, which BEP 42 ("Enforcement") exempts from ID checks: nobody else sees
 * them, and they say nothing about a host's place on the Internet. IPv4: 10/8, 172.16/12, 192.168/16
 * (private), 169.254/16 (self-assigned), 127/8 (loopback). IPv6 counterparts: ::1 (loopback),
 * fc00::/7 (unique local) and fe80::/10 (link-local). Mapped IPv4 (::ffff:a.b.c.d) is judged as IPv4.
 */
export function isExemptAddress(address: string): boolean {
  const ip = encodeAddress(address);
  return ip.length === 4 ? isLocalIPv4(ip) : isLocalIPv6(ip);
}

function isLocalIPv4(ip: Uint8Array): boolean {
  const a = ip[0]!;
  const b = ip[1]!;
  return (
    a === 10 ||
    a === 127 ||
    (a === 172 && (b & 0xf0) === 16) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254)
  );
}

function isLocalIPv6(ip: Uint8Array): boolean {
  if ((ip[0]! & 0xfe) === 0xfc) return true; // fc00::/7
  if (ip[0] === 0xfe && (ip[1]! & 0xc0) === 0x80) return true; // fe80::/10
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1; // ::1
}
