import { describe, expect, it } from 'vitest';
import { idFromHex, idToHex } from '../../src/wire/id.js';
import { TargetError, decodeInfoHash, parseTarget } from '../../src/wire/magnet.js';
import { Prng } from '../helpers/prng.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const HASH = idFromHex(HEX);
/** HEX in RFC 4648 base32: 160 bits read 5 at a time, most significant first. */
const BASE32 = base32Reference(HASH);

/** A reference base32 encoder via one big integer, independent of the decoder under test. */
function base32Reference(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let value = BigInt(`0x${idToHex(bytes)}`);
  let out = '';
  for (let i = 0; i < 32; i++) {
    out = alphabet[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

function targetError(input: string): TargetError {
  try {
    parseTarget(input);
  } catch (error) {
    if (error instanceof TargetError) return error;
    throw error;
  }
  throw new Error(`expected parseTarget(${JSON.stringify(input)}) to throw`);
}

describe('bare info-hashes', () => {
  it('reads 40 hex digits, either case', () => {
    expect(parseTarget(HEX)).toEqual({ infoHash: HASH });
    expect(parseTarget(HEX.toUpperCase())).toEqual({ infoHash: HASH });
  });

  it('reads 32 base32 characters, either case', () => {
    expect(BASE32).toHaveLength(32);
    expect(parseTarget(BASE32)).toEqual({ infoHash: HASH });
    expect(parseTarget(BASE32.toLowerCase())).toEqual({ infoHash: HASH });
  });

  it('decodes a known base32 value (all-zero bits are "A", all-one bits are "7")', () => {
    expect(parseTarget('A'.repeat(32)).infoHash).toEqual(new Uint8Array(20));
    expect(parseTarget('7'.repeat(32)).infoHash).toEqual(new Uint8Array(20).fill(0xff));
    // 'B' is 1: the last 5-bit group sets only the lowest bit.
    expect(idToHex(parseTarget(`${'A'.repeat(31)}B`).infoHash)).toBe(`${'0'.repeat(39)}1`);
  });

  it('round-trips random hashes through hex and base32 (seed 11)', () => {
    const prng = new Prng(11);
    for (let i = 0; i < 500; i++) {
      const hash = prng.bytes(20);
      expect(parseTarget(idToHex(hash)).infoHash).toEqual(hash);
      expect(parseTarget(base32Reference(hash)).infoHash).toEqual(hash);
    }
  });

  it('trims surrounding whitespace', () => {
    expect(parseTarget(`  ${HEX}\n`)).toEqual({ infoHash: HASH });
    expect(parseTarget(`\t${BASE32} `)).toEqual({ infoHash: HASH });
  });

  it('decodeInfoHash returns undefined rather than throwing', () => {
    expect(decodeInfoHash(HEX)).toEqual(HASH);
    expect(decodeInfoHash('nope')).toBeUndefined();
  });

  it.each([
    ['empty input', ''],
    ['whitespace only', '   '],
    ['39 hex digits', HEX.slice(1)],
    ['41 hex digits', `${HEX}0`],
    ['a non-hex character', `${HEX.slice(1)}g`],
    ['a space inside', `${HEX.slice(0, 20)} ${HEX.slice(21)}`],
    ['31 base32 characters', BASE32.slice(1)],
    ['33 base32 characters', `${BASE32}A`],
    ['base32 with 0', `${BASE32.slice(1)}0`],
    ['base32 with 1', `${BASE32.slice(1)}1`],
    ['base32 with 8', `${BASE32.slice(1)}8`],
    ['base32 with padding', `${BASE32.slice(1)}=`],
    ['a URL', 'https://example.com/file.torrent'],
    ['a torrent name', 'ubuntu-24.04-desktop-amd64.iso'],
  ])('rejects %s', (_why, input) => {
    const error = targetError(input);
    expect(error.name).toBe('TargetError');
    expect(error.message).toMatch(/^expected a 40-character hex info-hash, a 32-character base32 .*, or a magnet:/);
    expect(error.message).not.toContain('\n');
  });

  it('keeps the error message short for long input', () => {
    expect(targetError('x'.repeat(10_000)).message.length).toBeLessThan(300);
  });
});

describe('magnet links (BEP 9)', () => {
  it('reads the info-hash of the minimal form', () => {
    expect(parseTarget(`magnet:?xt=urn:btih:${HEX}`)).toEqual({ infoHash: HASH });
  });

  it('reads a base32 info-hash', () => {
    expect(parseTarget(`magnet:?xt=urn:btih:${BASE32}`)).toEqual({ infoHash: HASH });
    expect(parseTarget(`magnet:?xt=urn:btih:${BASE32.toLowerCase()}`)).toEqual({ infoHash: HASH });
  });

  it('keeps dn as the name, percent-decoded with + as a space', () => {
    const uri = `magnet:?xt=urn:btih:${HEX}&dn=Big+Buck%20Bunny%20%E2%9C%93&tr=udp%3A%2F%2Ft.example%3A80`;
    const target = parseTarget(uri);
    expect(target).toEqual({ infoHash: HASH, name: 'Big Buck Bunny ✓', trackers: ['udp://t.example:80'] });
  });

  it('accepts parameters in any order and ignores unknown ones', () => {
    const uri = `magnet:?dn=x&tr=udp://a:1&x.pe=1.2.3.4:5&xl=1234&xt=urn:btih:${HEX}&so=0`;
    expect(parseTarget(uri)).toEqual({ infoHash: HASH, name: 'x', trackers: ['udp://a:1'] });
  });

  it('leaves name out when dn is missing or empty', () => {
    expect('name' in parseTarget(`magnet:?xt=urn:btih:${HEX}`)).toBe(false);
    expect('name' in parseTarget(`magnet:?xt=urn:btih:${HEX}&dn=`)).toBe(false);
  });

  it('matches parameter names in any case, as it does the scheme and the urn', () => {
    expect(parseTarget(`MAGNET:?XT=URN:BTIH:${HEX.toUpperCase()}&DN=Name`)).toEqual({ infoHash: HASH, name: 'Name' });
    expect(parseTarget(`magnet:?Xt.1=urn:btih:${HEX}`)).toEqual({ infoHash: HASH });
  });

  it('takes the first dn', () => {
    expect(parseTarget(`magnet:?xt=urn:btih:${HEX}&dn=one&dn=two`).name).toBe('one');
  });

  it('takes the first btih when there are several xt', () => {
    const other = 'f'.repeat(40);
    expect(parseTarget(`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${other}`).infoHash).toEqual(HASH);
    expect(parseTarget(`magnet:?xt=urn:sha1:ABC&xt=urn:btih:${HEX}`).infoHash).toEqual(HASH);
  });

  it('reads numbered xt.1, xt.2 parameters', () => {
    expect(parseTarget(`magnet:?xt.1=urn:ed2k:abc&xt.2=urn:btih:${HEX}`).infoHash).toEqual(HASH);
  });

  it('BEP 52 hybrid link: the DHT key is the v1 hash, the v2 hash is kept for verifying metadata', () => {
    const v2 = `urn:btmh:1220${'ab'.repeat(32)}`;
    expect(parseTarget(`magnet:?xt=${v2}&xt=urn:btih:${HEX}&dn=hybrid`)).toEqual({ infoHash: HASH, infoHashV2: new Uint8Array(32).fill(0xab), name: 'hybrid' });
  });

  it('BEP 52 v2-only link: the DHT key is the SHA-256 info-hash cut to 20 bytes', () => {
    const sha256 = Uint8Array.from({ length: 32 }, (_, i) => i);
    const target = parseTarget(`magnet:?xt=urn:btmh:1220${Buffer.from(sha256).toString('hex')}&dn=v2`);
    expect(target).toEqual({ infoHash: sha256.slice(0, 20), infoHashV2: sha256, name: 'v2' });
  });

  it('a btmh that is not a 32-byte SHA-256 multihash is refused, saying what was expected', () => {
    expect(targetError(`magnet:?xt=urn:btmh:1114${'ab'.repeat(20)}`).message).toMatch(/expects 1220 and a 64-character hex SHA-256/);
    expect(targetError(`magnet:?xt=urn:btmh:1220${'ab'.repeat(31)}`).message).toMatch(/expects 1220/);
  });

  it('collects the trackers (tr=), decoded, each once, in order', () => {
    const target = parseTarget(`magnet:?xt=urn:btih:${HEX}&tr=udp%3A%2F%2Ft.example%3A6969&tr=http://h.example/announce&tr=udp%3A%2F%2Ft.example%3A6969&tr=`);
    expect(target.trackers).toEqual(['udp://t.example:6969', 'http://h.example/announce']);
  });

  it('accepts any case in the scheme and the URN prefix, and a percent-encoded xt', () => {
    expect(parseTarget(`MAGNET:?xt=URN:BTIH:${HEX}`).infoHash).toEqual(HASH);
    expect(parseTarget(`magnet:?xt=urn%3Abtih%3A${HEX}`).infoHash).toEqual(HASH);
  });

  it('trims whitespace and ignores a #fragment', () => {
    expect(parseTarget(`  magnet:?xt=urn:btih:${HEX}&dn=a#frag \n`)).toEqual({ infoHash: HASH, name: 'a' });
  });

  it.each([
    ['nothing after the scheme', 'magnet:'],
    ['no ?', `magnet:xt=urn:btih:${HEX}`],
    ['no parameters', 'magnet:?'],
    ['no xt', 'magnet:?dn=name&tr=udp://t:1'],
    ['only a non-BitTorrent xt', 'magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C'],
    ['xt without a value', 'magnet:?xt'],
  ])('rejects a magnet with %s', (_why, input) => {
    const error = targetError(input);
    expect(error.message).toMatch(/magnet/);
    expect(error.message).toMatch(/urn:btih:/);
    expect(error.message).not.toContain('\n');
  });

  it.each([
    ['a short hex hash', `magnet:?xt=urn:btih:${HEX.slice(2)}`],
    ['a long hex hash', `magnet:?xt=urn:btih:${HEX}00`],
    ['a bad character', `magnet:?xt=urn:btih:${HEX.slice(1)}z`],
    ['an empty hash', 'magnet:?xt=urn:btih:'],
    ['a bad base32 hash', `magnet:?xt=urn:btih:${BASE32.slice(1)}1`],
  ])('rejects a btih with %s', (_why, input) => {
    const error = targetError(input);
    expect(error.message).toMatch(/40-character hex or 32-character base32/);
    expect(error.message).not.toContain('\n');
  });

  it('rejects malformed percent-encoding', () => {
    expect(targetError(`magnet:?xt=urn:btih:${HEX}&dn=100%`).message).toMatch(/dn/);
    expect(targetError(`magnet:?xt=urn:btih:${HEX}&dn=%E2%9C`).message).toMatch(/%-encoding/);
  });
});
