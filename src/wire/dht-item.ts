/**
 * BEP 44 items: arbitrary data stored in the DHT, and how a node knows it is genuine.
 *
 * An immutable item is any bencoded value; its key (the `target` of get/put) is the SHA-1 of its
 * bencoded form, so a node that returns one can be checked against the key alone. A mutable item
 * is signed: its key is SHA-1(public key + salt), and each version carries a sequence number and
 * an ed25519 signature over `salt`, `seq` and `v` laid out as bencode (BEP 44, "Signature
 * verification"). Anyone holding the private key may publish a newer `seq`; nobody else can.
 *
 * Pure: SHA-1 and ed25519 from node:crypto, no I/O.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { NodeId } from './id.js';

/** BEP 44: "the bencoded `v` ... must be less than 1000 bytes". 1,000 is the bound we accept. */
export const MAX_ITEM_VALUE_BYTES = 1000;
/** BEP 44: "the salt ... must not exceed 64 bytes". */
export const MAX_SALT_BYTES = 64;
/** Bytes in an ed25519 public key (`k`) and signature (`sig`). */
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** BEP 44's error codes, beside BEP 5's 201-204. */
export const ItemErrorCode = {
  /** The bencoded `v` is over 1,000 bytes. */
  ValueTooBig: 205,
  /** The signature does not verify. */
  InvalidSignature: 206,
  /** The salt is over 64 bytes. */
  SaltTooBig: 207,
  /** `cas` does not match the stored sequence number. */
  CasMismatch: 301,
  /** The sequence number is lower than the stored one. */
  SequenceTooOld: 302,
} as const;

/** A mutable item's signed fields. `v` is the value's bencoded bytes, exactly as sent. */
export interface MutableItem {
  k: Uint8Array;
  salt: Uint8Array;
  seq: number;
  v: Uint8Array;
  sig: Uint8Array;
}

/** BEP 44: an immutable item's target is the SHA-1 of its bencoded value. */
export function immutableTarget(encodedValue: Uint8Array): NodeId {
  return new Uint8Array(createHash('sha1').update(encodedValue).digest());
}

/** BEP 44: a mutable item's target is the SHA-1 of its public key followed by its salt (if any). */
export function mutableTarget(publicKey: Uint8Array, salt: Uint8Array = new Uint8Array(0)): NodeId {
  return new Uint8Array(createHash('sha1').update(publicKey).update(salt).digest());
}

/**
 * The bytes a mutable item's signature covers: `4:salt<len>:<salt>` (only when there is a salt),
 * then `3:seqi<seq>e1:v`, then the bencoded value: the dictionary's body without its `d`/`e`.
 */
export function signatureBuffer(salt: Uint8Array, seq: number, encodedValue: Uint8Array): Uint8Array {
  const head = `${salt.length > 0 ? `4:salt${salt.length}:` : ''}`;
  const parts = [Buffer.from(head, 'latin1'), Buffer.from(salt), Buffer.from(`3:seqi${seq}e1:v`, 'latin1'), Buffer.from(encodedValue)];
  return new Uint8Array(Buffer.concat(parts));
}

/** True when `sig` is `k`'s ed25519 signature of the item (BEP 44, "Signature verification"). */
export function verifyItem(item: MutableItem): boolean {
  if (item.k.length !== PUBLIC_KEY_BYTES || item.sig.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, signatureBuffer(item.salt, item.seq, item.v), publicKeyObject(item.k), item.sig);
  } catch {
    return false;
  }
}

/** An ed25519 key pair for publishing mutable items: the 32-byte seed stays secret, `publicKey` is `k`. */
export interface ItemKeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** A new random key pair. */
export function generateItemKeyPair(): ItemKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return keyPairFromSeed(fromBase64Url(privateKey.export({ format: 'jwk' }).d!));
}

/** The key pair of a 32-byte ed25519 seed (RFC 8032's private key). */
export function keyPairFromSeed(seed: Uint8Array): ItemKeyPair {
  if (seed.length !== 32) throw new RangeError(`an ed25519 seed is 32 bytes, got ${seed.length}`);
  const publicJwk = createPublicKey(privateKeyObject(seed)).export({ format: 'jwk' });
  return { seed: new Uint8Array(seed), publicKey: fromBase64Url(publicJwk.x!) };
}

/** Sign a new version of a mutable item. */
export function signItem(keys: ItemKeyPair, salt: Uint8Array, seq: number, encodedValue: Uint8Array): MutableItem {
  const sig = new Uint8Array(sign(null, signatureBuffer(salt, seq, encodedValue), privateKeyObject(keys.seed)));
  return { k: keys.publicKey, salt, seq, v: encodedValue, sig };
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(raw) }, format: 'jwk' });
}

/** RFC 8410's PKCS #8 header for an Ed25519 private key: the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function fromBase64Url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}
