/**
 * Compact peer and node info (BEP 5, "Contact Encoding"; IPv6 forms from BEP 32).
 *
 * The DHT never sends addresses as text. A peer is its IP followed by its port, both big-endian
 * ("network byte order"): 4 + 2 = 6 bytes for IPv4, 16 + 2 = 18 bytes for IPv6. A node is its 20-byte
 * ID followed by the same thing: 26 or 38 bytes. A `nodes` (or BEP 32 `nodes6`) value is just those
 * entries concatenated, with no separator and no count, which is why its length must be an exact
 * multiple of the entry size.
 *
 * Address strings follow what node:dgram reports in `rinfo.address`, so an address decoded from a
 * packet compares equal (===) to the same host seen as a UDP sender:
 *  - IPv4 is dotted decimal: `1.2.3.4`.
 *  - IPv6 is lower-case and compressed like inet_ntop (RFC 5952 style): `::1`, `2001:db8::1`.
 *  - IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is normalised to plain IPv4 (`1.2.3.4`), both when encoding
 *    and when decoding. A dual-stack socket reports IPv4 senders in the mapped form; they are IPv4
 *    hosts and belong in the IPv4 DHT (BEP 32: the two DHTs are separate), so they encode to 4 bytes.
 *    The one cost: 16 mapped bytes inside a `nodes6` entry decode to an IPv4 string, and re-encoding
 *    that node as IPv6 is refused.
 *  - A zone index (`fe80::1%eth0`) is accepted and dropped: the compact form has no room for it.
 */
import { ID_LENGTH, type NodeId } from './id.js';

export type Family = 4 | 6;
/** A peer's contact: "IP:port" in compact form is 6 bytes (IPv4) or 18 bytes (IPv6). */
export interface PeerInfo { address: string; port: number }
/** A DHT node's contact: 26 bytes (IPv4) or 38 bytes (IPv6). */
export interface NodeInfo { id: NodeId; address: string; port: number }

/** Bytes in a compact address: 4 for IPv4, 16 for IPv6. */
export const COMPACT_ADDRESS_LENGTH = { 4: 4, 6: 16 } as const satisfies Record<Family, number>;
/** Bytes in compact peer info: address + 2-byte port (BEP 5; 18 for IPv6 per BEP 32). */
export const COMPACT_PEER_LENGTH = { 4: 6, 6: 18 } as const satisfies Record<Family, number>;
/** Bytes in compact node info: 20-byte ID + compact peer info (BEP 5; 38 for IPv6 per BEP 32). */
export const COMPACT_NODE_LENGTH = { 4: 26, 6: 38 } as const satisfies Record<Family, number>;

/** Malformed compact bytes: wrong length or a trailing partial entry. */
export class CompactError extends Error {
  /**
   * Where the problem starts: a byte offset into the input (for `decodeNodes`, the start of the
   * partial entry), or for `decodePeers` the index of the bad list element.
   */
  readonly offset: number;
  constructor(message: string, offset: number) { super(message); this.name = 'CompactError'; this.offset = offset; }
}

// ---------------------------------------------------------------------------------------------
// Parsing address strings (by hand: one pass over the characters, no regex, no allocation).
// ---------------------------------------------------------------------------------------------

/**
 * Scratch space the parsers write into. JavaScript runs one function at a time, so sharing it is
 * safe as long as every caller copies the bytes out before parsing the next address.
 */
const scratch = new Uint8Array(16);

/** Value of a hex digit's char code, or -1 if it is not one. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x61 && code <= 0x66) return code - 0x57; // a-f
  if (code >= 0x41 && code <= 0x46) return code - 0x37; // A-F
  return -1;
}

/**
 * Parse dotted-decimal IPv4 in text[start, end) into out[at..at+3]. Strict, like node:net isIP:
 * exactly four parts of 0..255 and no leading zeros (which some parsers would read as octal).
 */
function parseIPv4(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || text.charCodeAt(i) !== 0x2e /* . */) return false;
      i++;
    }
    const first = i;
    let value = 0;
    while (i < end && i - first < 4) {
      const digit = text.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      i++;
    }
    const digits = i - first;
    if (digits === 0 || digits > 3 || value > 255) return false;
    if (digits > 1 && text.charCodeAt(first) === 0x30) return false;
    out[at + part] = value;
  }
  return i === end;
}

/**
 * Parse IPv6 text (RFC 4291 section 2.2: hex groups, at most one `::`, optionally a dotted IPv4 tail)
 * into out[0..15]. A `%zone` suffix must be non-empty and is ignored.
 */
function parseIPv6(text: string, out: Uint8Array): boolean {
  const percent = text.indexOf('%');
  if (percent === text.length - 1) return false;
  const end = percent === -1 ? text.length : percent;

  const words: number[] = [];
  let gapAt = -1; // index in `words` where `::` stands for one or more zero groups
  let i = 0;
  if (text.charCodeAt(0) === 0x3a /* : */) {
    if (text.charCodeAt(1) !== 0x3a) return false; // a lone leading ':'
    gapAt = 0;
    i = 2;
  }
  while (i < end) {
    const first = i;
    let value = 0;
    while (i < end && i - first < 5) {
      const digit = hexValue(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    if (text.charCodeAt(i) === 0x2e /* . */) {
      // An embedded IPv4 address: only allowed as the last 32 bits.
      if (words.length > 6 || !parseIPv4(text, first, end, out, 0)) return false;
      words.push((out[0]! << 8) | out[1]!, (out[2]! << 8) | out[3]!);
      break;
    }
    if (i === first || i - first > 4 || words.length === 8) return false;
    words.push(value);
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (text.charCodeAt(i) === 0x3a) {
      if (gapAt !== -1) return false; // a second '::'
      gapAt = words.length;
      i++;
    } else if (i === end) {
      return false; // a lone trailing ':'
    }
  }
  // Without `::` there must be 8 groups; with it, `::` must stand for at least one zero group.
  if (gapAt === -1 ? words.length !== 8 : words.length > 7) return false;

  out.fill(0);
  const tail = gapAt === -1 ? 0 : words.length - gapAt; // groups after the `::`, right-aligned
  for (let w = 0; w < words.length; w++) {
    const slot = gapAt !== -1 && w >= gapAt ? 8 - tail + (w - gapAt) : w;
    out[slot * 2] = words[w]! >> 8;
    out[slot * 2 + 1] = words[w]! & 0xff;
  }
  return true;
}

/** True for ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2): ten zero bytes, then 0xffff, then IPv4. */
function isMappedIPv4(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/**
 * Parse `address` into `scratch`. Returns how many bytes were written (4 or 16), or 0 if it is not
 * an IP address. A mapped IPv4 address comes back as its 4 IPv4 bytes.
 */
function parseToScratch(address: string): 0 | 4 | 16 {
  if (address.includes(':')) {
    if (!parseIPv6(address, scratch)) return 0;
    if (!isMappedIPv4(scratch, 0)) return 16;
    scratch.copyWithin(0, 12, 16);
    return 4;
  }
  return parseIPv4(address, 0, address.length, scratch, 0) ? 4 : 0;
}

function parseOrThrow(address: string): 4 | 16 {
  const length = typeof address === 'string' ? parseToScratch(address) : 0;
  if (length === 0) throw new TypeError(`not an IPv4 or IPv6 address: ${JSON.stringify(address)}`);
  return length;
}

function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new TypeError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting address bytes.
// ---------------------------------------------------------------------------------------------

function formatIPv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]!}.${bytes[at + 1]!}.${bytes[at + 2]!}.${bytes[at + 3]!}`;
}

/**
 * IPv6 text the way inet_ntop (and so node:dgram) writes it: lower-case hex without leading zeros,
 * the longest run of two or more zero groups (the first, on a tie) replaced by `::`. Like inet_ntop,
 * the deprecated IPv4-compatible form ::a.b.c.d keeps its dotted tail. (Mapped addresses never get
 * here: they are turned into IPv4 first.)
 */
function formatIPv6(bytes: Uint8Array, at: number): string {
  const words = new Array<number>(8);
  for (let w = 0; w < 8; w++) words[w] = (bytes[at + 2 * w]! << 8) | bytes[at + 2 * w + 1]!;

  let bestStart = -1;
  let bestLength = 0;
  for (let w = 0; w < 8;) {
    if (words[w] !== 0) { w++; continue; }
    const start = w;
    while (w < 8 && words[w] === 0) w++;
    if (w - start > bestLength) { bestStart = start; bestLength = w - start; }
  }
  if (bestLength < 2) bestStart = -1; // RFC 5952 4.2.2: a single zero group is written as 0

  if (bestStart === 0 && bestLength === 6) return `::${formatIPv4(bytes, at + 12)}`;

  let text = '';
  for (let w = 0; w < 8; w++) {
    if (w === bestStart) {
      text += '::';
      w += bestLength - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += words[w]!.toString(16);
  }
  return text;
}

/** The address stored in bytes[at, at + length), where length is 4 or 16. */
function formatAddress(bytes: Uint8Array, at: number, length: 4 | 16): string {
  if (length === 4) return formatIPv4(bytes, at);
  return isMappedIPv4(bytes, at) ? formatIPv4(bytes, at + 12) : formatIPv6(bytes, at);
}

function readPort(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function writePort(out: Uint8Array, at: number, port: number): void {
  out[at] = port >> 8;
  out[at + 1] = port & 0xff;
}

function assertFamily(family: Family): void {
  if (family !== 4 && family !== 6) throw new TypeError(`family must be 4 or 6, got ${String(family)}`);
}

// ---------------------------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------------------------

/**
 * 4 or 6 for IPv4 or IPv6 text, 0 for anything else (a host name): node:net's isIP, by this
 * module's parser. isIP tests regular expressions whose first use compiles them, about 12 ms on this
 * machine: the time a cold scrape's first query would otherwise wait (docs/performance.md). As for
 * isIP, a mapped address (::ffff:a.b.c.d) is IPv6 text, and a `%zone` suffix is allowed.
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (typeof text !== 'string') return 0;
  if (text.includes(':')) return parseIPv6(text, scratch) ? 6 : 0;
  return parseIPv4(text, 0, text.length, scratch, 0) ? 4 : 0;
}

/** 4 or 6. Mapped addresses (::ffff:1.2.3.4) count as IPv4. Throws TypeError for a non-address. */
export function familyOf(address: string): Family {
  return parseOrThrow(address) === 4 ? 4 : 6;
}

/** The address's network-order bytes: 4 for IPv4 (including mapped IPv6), 16 for IPv6. */
export function encodeAddress(address: string): Uint8Array {
  return scratch.slice(0, parseOrThrow(address));
}

/** The address string (see the module comment for its form) of 4 or 16 address bytes. */
export function decodeAddress(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new CompactError(`a compact address is 4 or 16 bytes, got ${bytes.length}`, 0);
  }
  return formatAddress(bytes, 0, bytes.length);
}

/**
 * The one string for a host, as decoding would produce it: `::FFFF:1.2.3.4` -> `1.2.3.4`,
 * `2001:0DB8:0:0::1` -> `2001:db8::1`. Use it before comparing addresses from different sources.
 */
export function normalizeAddress(address: string): string {
  const length = parseOrThrow(address);
  return formatAddress(scratch, 0, length);
}

/** Compact peer info: 6 bytes for an IPv4 peer, 18 for IPv6 (BEP 5 "Contact Encoding", BEP 32). */
export function encodePeer(peer: PeerInfo): Uint8Array {
  assertPort(peer.port);
  const length = parseOrThrow(peer.address);
  const out = new Uint8Array(length + 2);
  out.set(scratch.subarray(0, length));
  writePort(out, length, peer.port);
  return out;
}

/** Bytes of one peer as an item of a bencoded `values` list: "6:" + 6 bytes (IPv4), "18:" + 18 (IPv6). */
export const BENCODED_PEER_LENGTH = { 4: 8, 6: 21 } as const satisfies Record<Family, number>;

/**
 * Write `peer` at `at` as an item of a get_peers `values` list, bencoded ("6:" then its compact
 * info, or "18:" then the IPv6 form): BENCODED_PEER_LENGTH bytes. Returns the peer's family.
 */
export function writeBencodedPeer(peer: PeerInfo, out: Uint8Array, at: number): Family {
  assertPort(peer.port);
  const length = parseOrThrow(peer.address);
  let pos = at;
  if (length === 16) out[pos++] = 0x31; // "1"
  out[pos++] = length === 4 ? 0x36 : 0x38; // "6" or "8"
  out[pos++] = 0x3a; // ":"
  out.set(scratch.subarray(0, length), pos);
  writePort(out, pos + length, peer.port);
  return length === 4 ? 4 : 6;
}

/**
 * A get_peers `values` list already in wire form: its items back to back, each a bencoded compact
 * peer (see writeBencodedPeer). A node keeps the peers it stores this way (peer-store.ts), so a
 * reply copies one run of bytes instead of parsing and encoding an address per peer per query:
 * what made a get_peers for a big swarm cost twenty pings (issue 14).
 */
export class BencodedPeers {
  constructor(
    /** The list's items, without the list's `l` and `e`. */
    readonly items: Uint8Array,
    /** How many peers `items` holds. */
    readonly count: number,
  ) {}

  /** The peers as objects (tests, and anyone who wants to read what a reply would carry). */
  decode(): PeerInfo[] {
    const peers: PeerInfo[] = [];
    for (let at = 0; at < this.items.length;) {
      const v6 = this.items[at] === 0x31;
      const length = v6 ? COMPACT_PEER_LENGTH[6] : COMPACT_PEER_LENGTH[4];
      const start = at + (v6 ? 3 : 2);
      peers.push(decodePeer(this.items.subarray(start, start + length)));
      at = start + length;
    }
    return peers;
  }
}

/** Read one compact peer: exactly 6 (IPv4) or 18 (IPv6) bytes, else CompactError. */
export function decodePeer(bytes: Uint8Array): PeerInfo {
  if (bytes.length !== COMPACT_PEER_LENGTH[4] && bytes.length !== COMPACT_PEER_LENGTH[6]) {
    throw new CompactError(`compact peer info is 6 or 18 bytes, got ${bytes.length}`, 0);
  }
  const length = bytes.length === 6 ? 4 : 16;
  return { address: formatAddress(bytes, 0, length), port: readPort(bytes, length) };
}

/**
 * Read a get_peers `values` list: one compact peer per string (BEP 5). BEP 32 says a list may mix
 * 6- and 18-byte entries, so both are accepted. A bad entry throws CompactError whose `offset` is
 * its index in the list.
 */
export function decodePeers(list: readonly Uint8Array[]): PeerInfo[] {
  const peers: PeerInfo[] = [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    if (entry.length !== COMPACT_PEER_LENGTH[4] && entry.length !== COMPACT_PEER_LENGTH[6]) {
      throw new CompactError(`values[${i}]: compact peer info is 6 or 18 bytes, got ${entry.length}`, i);
    }
    peers.push(decodePeer(entry));
  }
  return peers;
}

/**
 * Concatenated compact node info for a `nodes` (family 4) or `nodes6` (family 6) value. Every node
 * must be of that family: the two DHTs are separate (BEP 32, "Operation").
 */
export function encodeNodes(nodes: readonly NodeInfo[], family: Family): Uint8Array {
  assertFamily(family);
  const size = COMPACT_NODE_LENGTH[family];
  const out = new Uint8Array(nodes.length * size);
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n]!;
    if (!(node.id instanceof Uint8Array) || node.id.length !== ID_LENGTH) {
      throw new TypeError(`node ${n}: id must be ${ID_LENGTH} bytes`);
    }
    assertPort(node.port);
    const length = parseOrThrow(node.address);
    if (length !== COMPACT_ADDRESS_LENGTH[family]) {
      throw new TypeError(`node ${n}: ${node.address} is not an IPv${family} address`);
    }
    const at = n * size;
    out.set(node.id, at);
    out.set(scratch.subarray(0, length), at + ID_LENGTH);
    writePort(out, at + ID_LENGTH + length, node.port);
  }
  return out;
}

/**
 * Split a `nodes` (family 4, 26-byte entries) or `nodes6` (family 6, 38-byte entries) value.
 * A length that is not a whole number of entries means a truncated or mangled packet: CompactError
 * with `offset` at the start of the partial entry. IDs are copies, so they outlive the packet buffer.
 */
export function decodeNodes(bytes: Uint8Array, family: Family): NodeInfo[] {
  assertFamily(family);
  const size = COMPACT_NODE_LENGTH[family];
  const addressLength = COMPACT_ADDRESS_LENGTH[family];
  const partial = bytes.length % size;
  if (partial !== 0) {
    const offset = bytes.length - partial;
    throw new CompactError(
      `compact IPv${family} node info is a multiple of ${size} bytes; ${partial} stray bytes at offset ${offset}`,
      offset,
    );
  }
  const nodes: NodeInfo[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const id = new Uint8Array(ID_LENGTH);
    id.set(bytes.subarray(at, at + ID_LENGTH));
    const address = formatAddress(bytes, at + ID_LENGTH, addressLength);
    nodes.push({ id, address, port: readPort(bytes, at + ID_LENGTH + addressLength) });
  }
  return nodes;
}
