/**
 * The BEP 33 ("DHT Scrapes") bloom filter: a 256-byte set of IP addresses whose size can be
 * estimated, and which can be combined with other nodes' filters by OR-ing the bits.
 *
 * Why a bloom filter and not a count: announces for one torrent are scattered over many nodes, each
 * holding an overlapping subset of the swarm. Adding counts would count a peer once per node that
 * stores it; OR-ing filters counts it once, because the same IP always sets the same bits
 * (BEP 33, "Approach").
 *
 * The parameters are fixed by the BEP so every implementation's filters can be merged: m = 2048 bits
 * (256 bytes), k = 2 bit positions per item, both taken from SHA-1 of the IP's bytes (BEP 33,
 * "Bloom Filters"). Only the IP goes in, never the port.
 */
import { createHash } from 'node:crypto';
import { encodeAddress } from './compact.js';

/** Filter size on the wire (BEP 33: "Each field must be 256 bytes in size"). */
export const BLOOM_BYTES = 256;
/** m: the number of bits. */
export const BLOOM_BITS = BLOOM_BYTES * 8;
/** k: bits set per inserted IP. */
export const BLOOM_HASHES = 2;

export class ScrapeBloom {
  /** Bit i is bit (i % 8) of byte (i / 8), counting from the least significant bit (BEP 33). */
  private readonly bits = new Uint8Array(BLOOM_BYTES);

  /** A filter received in a get_peers reply ("BFsd" or "BFpe"). Anything but 256 bytes is malformed. */
  static fromBytes(bytes: Uint8Array): ScrapeBloom {
    if (bytes.length !== BLOOM_BYTES) {
      throw new RangeError(`a BEP 33 bloom filter is ${BLOOM_BYTES} bytes, got ${bytes.length}`);
    }
    const bloom = new ScrapeBloom();
    bloom.bits.set(bytes);
    return bloom;
  }

  /** Add an IPv4 or IPv6 address (no port). Inserting the same IP twice changes nothing. */
  insert(address: string): void {
    this.insertBits(scrapeBitIndexes(address));
  }

  /**
   * Add an address by its two bit positions (scrapeBitIndexes). A store that keeps each peer's
   * positions can rebuild or extend its filters without hashing again: the SHA-1 is paid once per
   * announce, not once per peer per scrape.
   */
  insertBits(indexes: readonly [number, number]): void {
    for (const index of indexes) this.bits[index >> 3]! |= 1 << (index & 7);
  }

  /** Whether the address may be in the set. False is certain; true may be a false positive. */
  has(address: string): boolean {
    return bitIndexes(encodeAddress(address)).every((index) => (this.bits[index >> 3]! & (1 << (index & 7))) !== 0);
  }

  /**
   * OR `other` into this filter, giving the filter of the union of both sets. This is how a scraper
   * combines the replies of all the nodes near an info-hash. Returns this, for chaining.
   */
  merge(other: ScrapeBloom): this {
    const theirs = other.bits;
    for (let i = 0; i < BLOOM_BYTES; i++) this.bits[i]! |= theirs[i]!;
    return this;
  }

  /** Bits still 0; c in BEP 33's formula. */
  zeroBits(): number {
    let set = 0;
    for (const byte of this.bits) set += popcount8(byte);
    return BLOOM_BITS - set;
  }

  /**
   * Estimated number of distinct IPs inserted (BEP 33, "Calculating the estimate"):
   *
   *     size = ln(c / m) / (k * ln(1 - 1/m)),  c = number of zero bits
   *
   * Each insert leaves a given bit at 0 with probability (1 - 1/m)^k, so after n inserts about
   * m * (1 - 1/m)^(k*n) bits are still 0; solving for n gives the formula.
   *
   * The BEP writes c = min(m - 1, zeros). That guards the wrong end: it turns an empty filter's
   * estimate into 0.5, while a full filter (c = 0) still gives ln(0) = -Infinity. We clamp c to
   * [1, m] instead, so an empty filter estimates 0 and a full one about 7,805, the largest count
   * this filter can express (past ~6,000 it is mostly noise; BEP 33 asks nodes to stay below that).
   */
  estimate(): number {
    const c = Math.min(BLOOM_BITS, Math.max(1, this.zeroBits()));
    const size = Math.log(c / BLOOM_BITS) / (BLOOM_HASHES * Math.log(1 - 1 / BLOOM_BITS));
    return size === 0 ? 0 : size; // ln(1) / negative is -0; report a plain 0
  }

  /** The 256 bytes to send as "BFsd"/"BFpe" (a copy: later inserts do not change it). */
  toBytes(): Uint8Array {
    return this.bits.slice();
  }
}

/** BEP 33's two bit positions for an IPv4 or IPv6 address (see bitIndexes). */
export function scrapeBitIndexes(address: string): [number, number] {
  return bitIndexes(encodeAddress(address));
}

/**
 * BEP 33's two bit positions for an IP: SHA-1 of the IP's compact bytes (4 for IPv4, 16 for IPv6);
 * bytes 0-1 and 2-3 read as little-endian 16-bit numbers, reduced mod m (11 bits). Bit i lives in
 * byte i / 8 at position i % 8, counting from the least significant bit.
 */
function bitIndexes(ip: Uint8Array): [number, number] {
  const hash = createHash('sha1').update(ip).digest();
  const index1 = (hash[0]! | (hash[1]! << 8)) % BLOOM_BITS;
  const index2 = (hash[2]! | (hash[3]! << 8)) % BLOOM_BITS;
  return [index1, index2];
}

function popcount8(byte: number): number {
  let count = 0;
  for (let b = byte; b !== 0; b &= b - 1) count++;
  return count;
}
