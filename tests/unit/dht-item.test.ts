/** BEP 44's test vectors, and what a forged or altered item is told. */
import { describe, expect, it } from 'vitest';
import { generateItemKeyPair, immutableTarget, keyPairFromSeed, mutableTarget, signatureBuffer, signItem, verifyItem } from '../../src/wire/dht-item.js';
import { idToHex } from '../../src/wire/id.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const text = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'latin1'));
const value = text('12:Hello World!');
const k = hex('77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548');

describe('BEP 44 test vectors', () => {
  it('test 1 (mutable): the signed buffer, the target, the signature verifies', () => {
    expect(Buffer.from(signatureBuffer(new Uint8Array(0), 1, value)).toString('latin1')).toBe('3:seqi1e1:v12:Hello World!');
    expect(idToHex(mutableTarget(k))).toBe('4a533d47ec9c7d95b1ad75f576cffc641853b750');
    const sig = hex('305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01');
    expect(verifyItem({ k, salt: new Uint8Array(0), seq: 1, v: value, sig })).toBe(true);
  });

  it('test 2 (mutable with salt): the salt leads the buffer and moves the target', () => {
    const salt = text('foobar');
    expect(Buffer.from(signatureBuffer(salt, 1, value)).toString('latin1')).toBe('4:salt6:foobar3:seqi1e1:v12:Hello World!');
    expect(idToHex(mutableTarget(k, salt))).toBe('411eba73b6f087ca51a3795d9c8c938d365e32c1');
    const sig = hex('6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08');
    expect(verifyItem({ k, salt, seq: 1, v: value, sig })).toBe(true);
  });

  it('test 3 (immutable): the target is the SHA-1 of the bencoded value', () => {
    expect(idToHex(immutableTarget(value))).toBe('e5f96f6f38320f0f33959cb4d3d656452117aadb');
  });
});

describe('signing and verifying', () => {
  const keys = keyPairFromSeed(new Uint8Array(32).fill(3));
  const item = signItem(keys, text('s'), 7, text('i42e'));

  it('a fresh signature verifies; a key pair comes back the same from its seed', () => {
    expect(verifyItem(item)).toBe(true);
    expect(keyPairFromSeed(keys.seed).publicKey).toEqual(keys.publicKey);
    const random = generateItemKeyPair();
    expect(random.publicKey).toHaveLength(32);
    expect(verifyItem(signItem(random, new Uint8Array(0), 1, text('0:')))).toBe(true);
  });

  it.each([
    ['another seq', { seq: 8 }],
    ['another value', { v: text('i43e') }],
    ['another salt', { salt: text('t') }],
    ['another key', { k: generateItemKeyPair().publicKey }],
    ['a short key', { k: new Uint8Array(31) }],
    ['a short signature', { sig: new Uint8Array(63) }],
    ['a key that is not a curve point', { k: new Uint8Array(32).fill(0xff) }],
  ])('%s fails verification, without throwing', (_, change) => {
    expect(verifyItem({ ...item, ...change })).toBe(false);
  });
});
