import { describe, expect, it } from 'vitest';
import { decodeAddress } from '../../src/wire/compact.js';
import { idFromHex, randomId, sharedPrefixLength } from '../../src/wire/id.js';
import { isExemptAddress, isSecureId, secureIdFor } from '../../src/wire/secure-id.js';
import { Prng } from '../helpers/prng.js';

/**
 * BEP 42's test vectors. In each example ID only the first 21 bits and the last byte are fixed;
 * the rest is random (and the bold third byte has only its top 5 bits from the CRC).
 */
const BEP42_VECTORS = [
  { ip: '124.31.75.21', rand: 1, id: '5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401' },
  { ip: '21.75.31.124', rand: 86, id: '5a3ce9c14e7a08645677bbd1cfe7d8f956d53256' },
  { ip: '65.23.51.170', rand: 22, id: 'a5d43220bc8f112a3d426c84764f8c2a1150e616' },
  { ip: '84.124.73.14', rand: 65, id: '1b0321dd1bb1fe518101ceef99462b947a01ff41' },
  { ip: '43.213.53.83', rand: 90, id: 'e56f6cbf5b7c4be0237986d5243b87aa6d51305a' },
] as const;

/** A copy of `id` with bit `bit` (0 = most significant) flipped. */
function flipBit(id: Uint8Array, bit: number): Uint8Array {
  const out = id.slice();
  out[bit >> 3]! ^= 0x80 >> (bit & 7);
  return out;
}

describe('secureIdFor', () => {
  it.each(BEP42_VECTORS)('matches BEP 42 for $ip with rand $rand', ({ ip, rand, id }) => {
    const generated = secureIdFor(ip, rand);
    expect(generated).toHaveLength(20);
    expect(sharedPrefixLength(generated, idFromHex(id))).toBeGreaterThanOrEqual(21);
    expect(generated[19]).toBe(rand);
  });

  it('fills everything but the 21 prefix bits and the last byte from the random source', () => {
    const fromZeros = secureIdFor('124.31.75.21', 1, (n) => new Uint8Array(n));
    const fromOnes = secureIdFor('124.31.75.21', 1, (n) => new Uint8Array(n).fill(0xff));
    expect(fromZeros.subarray(3, 19).every((b) => b === 0)).toBe(true);
    expect(fromOnes.subarray(3, 19).every((b) => b === 0xff)).toBe(true);
    expect(fromZeros[2]! & 0x07).toBe(0);
    expect(fromOnes[2]! & 0x07).toBe(0x07);
    expect(sharedPrefixLength(fromZeros, fromOnes)).toBe(21);
  });

  it('is reproducible with a seeded random source, and takes rand from it when not given', () => {
    const a = secureIdFor('21.75.31.124', undefined, new Prng(9).randomSource());
    const b = secureIdFor('21.75.31.124', undefined, new Prng(9).randomSource());
    expect(a).toEqual(b);
    expect(a[19]).toBe(new Prng(9).bytes(20)[19]);
    expect(isSecureId(a, '21.75.31.124')).toBe(true);
  });

  it('uses node:crypto by default and still produces valid IDs', () => {
    for (let i = 0; i < 20; i++) {
      const id = secureIdFor('65.23.51.170');
      expect(isSecureId(id, '65.23.51.170')).toBe(true);
    }
  });

  it('ignores the IPv4 bits BEP 42 masks out (mask 0x030f3fff)', () => {
    // 124 = 0b01111100 and 4 = 0b00000100 agree in the low 2 bits, the only ones the 0x03 mask keeps.
    const id = secureIdFor('124.31.75.21', 1);
    expect(isSecureId(id, '4.31.75.21')).toBe(true);
    expect(isSecureId(id, '125.31.75.21')).toBe(false);
  });

  it('uses only the high 64 bits of an IPv6 address', () => {
    const id = secureIdFor('2a01:4f8:1:2::1', 5);
    expect(isSecureId(id, '2a01:4f8:1:2:ffff:eeee:dddd:cccc')).toBe(true);
    expect(isSecureId(id, '2a01:4f8:1:3::1')).toBe(false);
  });

  it('gives valid IDs for random public addresses of both families (seed 5)', () => {
    const prng = new Prng(5);
    let checked = 0;
    while (checked < 500) {
      const address = decodeAddress(prng.bytes(checked % 2 === 0 ? 4 : 16));
      if (isExemptAddress(address)) continue;
      const id = secureIdFor(address, prng.int(256), prng.randomSource());
      expect(isSecureId(id, address), address).toBe(true);
      checked++;
    }
  });

  it('derives an IPv4-mapped address the same way as the IPv4 address', () => {
    const id = secureIdFor('::ffff:124.31.75.21', 1);
    expect(sharedPrefixLength(id, idFromHex(BEP42_VECTORS[0].id))).toBeGreaterThanOrEqual(21);
  });

  it.each([-1, 256, 1.5, Number.NaN])('rejects rand %s', (rand) => {
    expect(() => secureIdFor('124.31.75.21', rand)).toThrow(RangeError);
  });

  it('rejects a non-address', () => {
    expect(() => secureIdFor('example.com', 1)).toThrow(TypeError);
  });
});

describe('isSecureId', () => {
  it.each(BEP42_VECTORS)('accepts the BEP 42 example ID for $ip', ({ ip, id }) => {
    expect(isSecureId(idFromHex(id), ip)).toBe(true);
  });

  it.each(BEP42_VECTORS)('rejects the $ip example with any of its 21 prefix bits flipped', ({ ip, id }) => {
    for (let bit = 0; bit < 21; bit++) {
      expect(isSecureId(flipBit(idFromHex(id), bit), ip), `bit ${bit}`).toBe(false);
    }
  });

  it.each(BEP42_VECTORS)('rejects the $ip example when r (low 3 bits of the last byte) changes', ({ ip, id }) => {
    for (let bit = 157; bit < 160; bit++) {
      expect(isSecureId(flipBit(idFromHex(id), bit), ip), `bit ${bit}`).toBe(false);
    }
  });

  it.each(BEP42_VECTORS)('does not care about the random middle of the $ip example', ({ ip, id }) => {
    for (const bit of [21, 22, 23, 24, 80, 151, 152, 156]) {
      expect(isSecureId(flipBit(idFromHex(id), bit), ip), `bit ${bit}`).toBe(true);
    }
  });

  it('rejects an example ID checked against another example IP', () => {
    expect(isSecureId(idFromHex(BEP42_VECTORS[0].id), BEP42_VECTORS[1].ip)).toBe(false);
  });

  it('rejects an ID of the wrong length', () => {
    const id = idFromHex(BEP42_VECTORS[0].id);
    expect(isSecureId(id.subarray(0, 19), BEP42_VECTORS[0].ip)).toBe(false);
  });

  it('throws for a non-address', () => {
    expect(() => isSecureId(randomId(), 'not-an-ip')).toThrow(TypeError);
  });
});

describe('isExemptAddress', () => {
  const exempt = [
    '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.10.20',
    '127.0.0.1', '127.1.2.3', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'febf::1', 'fe80::1%eth0',
    '::ffff:10.0.0.1', '::ffff:127.0.0.1',
  ];
  const notExempt = [
    '8.8.8.8', '11.0.0.1', '9.255.255.255', '172.15.255.255', '172.32.0.1', '192.167.1.1', '192.169.0.1',
    '169.253.0.1', '126.255.255.255', '128.0.0.1', '124.31.75.21', '2001:db8::1', '::2', '::',
    'fb00::1', 'fec0::1', '::ffff:8.8.8.8',
  ];

  it.each(exempt)('exempts %s (a local network, BEP 42 "Enforcement")', (address) => {
    expect(isExemptAddress(address)).toBe(true);
    expect(isSecureId(randomId(), address)).toBe(true);
  });

  it.each(notExempt)('does not exempt %s', (address) => {
    expect(isExemptAddress(address)).toBe(false);
  });

  it('throws for a non-address', () => {
    expect(() => isExemptAddress('localhost')).toThrow(TypeError);
  });
});
