import { describe, expect, test } from 'vitest';
import { BLOOM_BITS, BLOOM_BYTES, ScrapeBloom } from '../../src/wire/bloom.js';

/** BEP 33, "Test Vectors": the filter after inserting 192.0.2.0-255 and 2001:DB8::-2001:DB8::3E7. */
const BEP33_FILTER_HEX = `
  F6C3F5EA A07FFD91 BDE89F77 7F26FB2B FF37BDB8 FB2BBAA2 FD3DDDE7 BACFFF75 EE7CCBAE
  FE5EEDB1 FBFAFF67 F6ABFF5E 43DDBCA3 FD9B9FFD F4FFD3E9 DFF12D1B DF59DB53 DBE9FA5B
  7FF3B8FD FCDE1AFB 8BEDD7BE 2F3EE71E BBBFE93B CDEEFE14 8246C2BC 5DBFF7E7 EFDCF24F
  D8DC7ADF FD8FFFDF DDFFF7A4 BBEEDF5C B95CE81F C7FCFF1F F4FFFFDF E5F7FDCB B7FD79B3
  FA1FC77B FE07FFF9 05B7B7FF C7FEFEFF E0B8370B B0CD3F5B 7F2BD93F EB4386CF DD6F7FD5
  BFAF2E9E BFFFFEEC D67ADBF7 C67F17EF D5D75EBA 6FFEBA7F FF47A91E B1BFBB53 E8ABFB57
  62ABE8FF 237279BF EFBFEEF5 FFC5FEBF DFE5ADFF ADFEE1FB 737FFFFB FD9F6AEF FEEE76B6
  FD8F72EF`;

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

/** BEP 33 gives the estimate as 1224.9308: the exact value (1224.93089...) cut to 4 decimals. */
function expectBep33Estimate(estimate: number): void {
  expect(estimate).toBeGreaterThanOrEqual(1224.9308);
  expect(estimate).toBeLessThan(1224.9309);
}

function ipv4Range(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `192.0.2.${i}`);
}

function ipv6Range(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `2001:db8::${i.toString(16)}`);
}

describe('ScrapeBloom', () => {
  test('BEP 33 test vector: exact filter bytes and the estimate 1224.9308', () => {
    const bloom = new ScrapeBloom();
    const addresses = [...ipv4Range(256), ...ipv6Range(1000)]; // 2001:DB8::3E7 is the 1000th
    expect(addresses.length).toBe(1256);
    for (const address of addresses) bloom.insert(address);
    expect(toHex(bloom.toBytes())).toBe(toHex(fromHex(BEP33_FILTER_HEX)));
    expectBep33Estimate(bloom.estimate());
  });

  test('the BEP 33 vector parses and gives the same estimate', () => {
    const bloom = ScrapeBloom.fromBytes(fromHex(BEP33_FILTER_HEX));
    expectBep33Estimate(bloom.estimate());
    expect(bloom.has('192.0.2.77')).toBe(true);
    expect(bloom.has('2001:db8::3e7')).toBe(true);
  });

  test('an empty filter estimates 0 and contains nothing', () => {
    const bloom = new ScrapeBloom();
    expect(bloom.estimate()).toBe(0);
    expect(bloom.zeroBits()).toBe(BLOOM_BITS);
    expect(bloom.has('192.0.2.1')).toBe(false);
    expect(bloom.toBytes()).toEqual(new Uint8Array(BLOOM_BYTES));
  });

  test('one IP sets at most k = 2 bits and estimates about 1; inserting it again changes nothing', () => {
    const bloom = new ScrapeBloom();
    bloom.insert('198.51.100.1');
    const bits = BLOOM_BITS - bloom.zeroBits();
    expect(bits === 1 || bits === 2).toBe(true);
    expect(bloom.estimate()).toBeCloseTo(1, 0);
    const before = bloom.toBytes();
    bloom.insert('198.51.100.1');
    expect(bloom.toBytes()).toEqual(before);
  });

  test('a full filter gives a finite cap (~7,805), not Infinity', () => {
    const bloom = ScrapeBloom.fromBytes(new Uint8Array(BLOOM_BYTES).fill(0xff));
    const estimate = bloom.estimate();
    expect(Number.isFinite(estimate)).toBe(true);
    expect(estimate).toBeGreaterThan(7800);
    expect(estimate).toBeLessThan(7810);
  });

  test('merge ORs two filters: the union of what two nodes saw, overlap counted once', () => {
    const a = new ScrapeBloom();
    const b = new ScrapeBloom();
    const both = new ScrapeBloom();
    const shared = ipv4Range(100);
    const onlyA = ipv6Range(150);
    const onlyB = Array.from({ length: 50 }, (_, i) => `198.51.100.${i}`);
    for (const ip of [...shared, ...onlyA]) { a.insert(ip); both.insert(ip); }
    for (const ip of [...shared, ...onlyB]) { b.insert(ip); both.insert(ip); }

    const bBefore = b.toBytes();
    expect(a.merge(b)).toBe(a); // merges in place, for chaining
    expect(a.toBytes()).toEqual(both.toBytes());
    for (const ip of [...shared, ...onlyA, ...onlyB]) expect(a.has(ip)).toBe(true);
    expect(a.estimate()).toBeGreaterThan(300 * 0.9); // 300 distinct IPs, not 400
    expect(a.estimate()).toBeLessThan(300 * 1.1);
    expect(b.toBytes()).toEqual(bBefore); // the other filter is left alone
  });

  test('merge with an empty filter is the identity', () => {
    const a = new ScrapeBloom();
    for (const ip of ipv4Range(30)) a.insert(ip);
    const before = a.toBytes();
    a.merge(new ScrapeBloom());
    expect(a.toBytes()).toEqual(before);
  });

  test('ports have no part in it: only IPs go in (BEP 33)', () => {
    // The filter takes an address string; IPv4-mapped IPv6 is the IPv4 host.
    const a = new ScrapeBloom();
    const b = new ScrapeBloom();
    a.insert('192.0.2.9');
    b.insert('::ffff:192.0.2.9');
    expect(b.toBytes()).toEqual(a.toBytes());
  });

  test('fromBytes copies, toBytes copies', () => {
    const raw = new Uint8Array(BLOOM_BYTES);
    const bloom = ScrapeBloom.fromBytes(raw);
    raw[0] = 0xff;
    expect(bloom.zeroBits()).toBe(BLOOM_BITS);
    const out = bloom.toBytes();
    out[1] = 0xff;
    expect(bloom.zeroBits()).toBe(BLOOM_BITS);
  });

  test('fromBytes refuses anything but exactly 256 bytes', () => {
    expect(() => ScrapeBloom.fromBytes(new Uint8Array(255))).toThrow(RangeError);
    expect(() => ScrapeBloom.fromBytes(new Uint8Array(257))).toThrow(RangeError);
    expect(() => ScrapeBloom.fromBytes(new Uint8Array(0))).toThrow(RangeError);
  });

  test('a non-address is refused rather than hashed', () => {
    expect(() => new ScrapeBloom().insert('not an ip')).toThrow(TypeError);
  });
});
