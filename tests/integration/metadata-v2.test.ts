/**
 * BEP 52 metadata over BEP 9: a v2-only torrent is found in the DHT and in the handshake by its
 * SHA-256 cut to 20 bytes, and its info dictionary must hash to the whole SHA-256 the magnet names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type Encodable } from '../../src/wire/bencode.js';
import { fetchMetadata } from '../../src/peer/metadata.js';
import { Seeder } from '../../src/peer/seeder.js';
import { MetadataError, sha1, sha256Of } from '../../src/peer/ut-metadata.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(52);
/** A v2-only info dictionary of 400 files, big enough to take two 16 KiB metadata pieces. */
const fileTree: Record<string, Encodable> = {};
for (let i = 0; i < 400; i++) fileTree[`file-${String(i).padStart(3, '0')}.bin`] = { '': { length: 20_000 + i, 'pieces root': rng.bytes(32) } };
const v2Info = encode({ 'file tree': fileTree, 'meta version': 2, name: 'v2 torrent', 'piece length': 16_384 });
const v2Hash = sha256Of(v2Info);
const v2Key = v2Hash.slice(0, 20);

describe('BEP 52: metadata of a v2-only torrent', () => {
  let seeder: Seeder;
  beforeAll(async () => {
    seeder = await Seeder.start({ torrents: [{ info: v2Info }] });
  });
  afterAll(async () => { await seeder.close(); });

  it('the seeder offers it under the SHA-256 cut to 20 bytes (the DHT key and handshake hash)', () => {
    expect(v2Info.length).toBeGreaterThan(16_384);
    expect(seeder.torrents[0]!.infoHash).toEqual(v2Key);
  });

  it('is fetched and checked against all 32 bytes of the SHA-256 named by the magnet', async () => {
    const metadata = await fetchMetadata(seeder.local, v2Key, { infoHashV2: v2Hash, timeoutMs: 5_000 });
    expect(Buffer.compare(metadata.bytes, v2Info)).toBe(0);
    expect(metadata.matched).toBe('v2');
    expect(metadata.info).toMatchObject({ name: 'v2 torrent', version: 'v2', pieceCount: 800 });
    expect(metadata.info.files).toHaveLength(400);
  });

  it('known by its 20-byte key only, it is checked against the cut SHA-256', async () => {
    const metadata = await fetchMetadata(seeder.local, v2Key, { timeoutMs: 5_000 });
    expect(metadata.matched).toBe('v2');
    expect(sha1(metadata.bytes)).not.toEqual(v2Key);
  });

  it('piece layers asked of a peer that does not answer hash requests: the metadata stands, the reason is given', async () => {
    const metadata = await fetchMetadata(seeder.local, v2Key, { infoHashV2: v2Hash, pieceLayers: true, timeoutMs: 1_500 });
    expect(Buffer.compare(metadata.bytes, v2Info)).toBe(0);
    expect(metadata.pieceLayers).toBeUndefined();
    expect(metadata.pieceLayersError).toMatch(/time|closed/i);
  });

  it('a magnet whose SHA-256 differs past the 20 bytes is not this torrent: hash-mismatch', async () => {
    const other = v2Hash.slice();
    other[31]! ^= 0xff;
    const error = await fetchMetadata(seeder.local, v2Key, { infoHashV2: other, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).reason).toBe('hash-mismatch');
  });
});
