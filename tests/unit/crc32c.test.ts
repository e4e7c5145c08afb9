import { describe, expect, it } from 'vitest';
import { CRC32C_POLYNOMIAL, crc32c } from '../../src/wire/crc32c.js';
import { Prng } from '../helpers/prng.js';

/** The textbook bit-at-a-time CRC-32C, to check the table-driven one against. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CRC32C_POLYNOMIAL : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('gives the catalogue check value for "123456789"', () => {
    expect(crc32c('123456789')).toBe(0xe3069283);
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for empty input', () => {
    expect(crc32c('')).toBe(0);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  // RFC 3720 (iSCSI), appendix B.4: CRC-32C examples over 32-byte buffers.
  it.each([
    ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
    ['32 0xff bytes', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['bytes 0..31', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['bytes 31..0', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ])('matches RFC 3720 for %s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });

  it('always returns an unsigned 32-bit integer', () => {
    const value = crc32c(new Uint8Array(32).fill(0xff));
    expect(Number.isInteger(value)).toBe(true);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThanOrEqual(0xffffffff);
  });

  it('hashes strings as UTF-8', () => {
    expect(crc32c('é')).toBe(crc32c(Uint8Array.of(0xc3, 0xa9)));
  });

  it('agrees with a bit-by-bit reference on random input (seed 42)', () => {
    const prng = new Prng(42);
    for (let i = 0; i < 300; i++) {
      const bytes = prng.bytes(prng.int(100));
      expect(crc32c(bytes), `case ${i}`).toBe(bitwiseCrc32c(bytes));
    }
  });

  it('continues from a previous result, so input can arrive in pieces', () => {
    const prng = new Prng(7);
    for (let i = 0; i < 50; i++) {
      const bytes = prng.bytes(1 + prng.int(64));
      const cut = prng.int(bytes.length + 1);
      expect(crc32c(bytes.subarray(cut), crc32c(bytes.subarray(0, cut)))).toBe(crc32c(bytes));
    }
  });

  it('reads only the given view of a larger buffer', () => {
    const buffer = new TextEncoder().encode('xx123456789yy');
    expect(crc32c(buffer.subarray(2, 11))).toBe(0xe3069283);
  });
});
