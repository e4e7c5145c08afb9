import { describe, expect, test } from 'vitest';
import { decode, encode, type BencodeDict, type Encodable } from '../../src/wire/bencode.js';
import { encodeExtendedHandshake, parseExtendedHandshake } from '../../src/peer/extension-protocol.js';
import { encodeInfoDict, encodeTorrentFile, parseInfoDict } from '../../src/peer/torrent-info.js';
import { DEFAULT_MAX_METADATA_BYTES, METADATA_PIECE_BYTES, MetadataAssembler, MetadataError, checkInfoHash, encodeUtMetadata, parseUtMetadata, sha1, sha256Of } from '../../src/peer/ut-metadata.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(20240607);

function pieces(count: number): Uint8Array {
  return rng.bytes(count * 20);
}

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof MetadataError ? error.reason : `not a MetadataError: ${String(error)}`;
  }
  return undefined;
}

describe('extension handshake (BEP 10)', () => {
  test('round-trips m, metadata_size, v, p and reqq', () => {
    const bytes = encodeExtendedHandshake({ m: new Map([['ut_metadata', 3], ['ut_pex', 1]]), metadataSize: 31235, client: 'µTorrent 3', port: 6881, reqq: 250 });
    expect(parseExtendedHandshake(bytes)).toEqual({ m: new Map([['ut_metadata', 3], ['ut_pex', 1]]), metadataSize: 31235, client: 'µTorrent 3', port: 6881, reqq: 250 });
  });

  test('BEP 9 example: {m: {ut_metadata: 3}, metadata_size: 31235}', () => {
    const parsed = parseExtendedHandshake(new TextEncoder().encode('d1:md11:ut_metadatai3ee13:metadata_sizei31235ee'));
    expect(parsed.m.get('ut_metadata')).toBe(3);
    expect(parsed.metadataSize).toBe(31235);
  });

  test('unknown keys and mistyped optional keys are ignored; control characters in v are neutralised', () => {
    const bytes = encode({ m: { ut_metadata: 2, bad: 'x' }, v: 'evil\x1b[2J', p: 'no', yourip: new Uint8Array(4), e: 1 });
    const parsed = parseExtendedHandshake(bytes);
    expect(parsed.m).toEqual(new Map([['ut_metadata', 2]]));
    expect(parsed.client).toBe('evil\uFFFD[2J');
    expect(parsed.port).toBeUndefined();
  });

  test('garbage is an error, not a crash', () => {
    expect(() => parseExtendedHandshake(new Uint8Array([0x64, 0x31]))).toThrow();
    expect(() => parseExtendedHandshake(encode([1, 2]))).toThrow();
  });
});

describe('ut_metadata messages (BEP 9)', () => {
  test('BEP 9 examples: request and reject', () => {
    expect(new TextDecoder().decode(encodeUtMetadata({ type: 'request', piece: 0 }))).toBe('d8:msg_typei0e5:piecei0ee');
    expect(new TextDecoder().decode(encodeUtMetadata({ type: 'reject', piece: 0 }))).toBe('d8:msg_typei2e5:piecei0ee');
  });

  test('a data message is the dictionary followed by the raw piece', () => {
    const data = rng.bytes(1234);
    const bytes = encodeUtMetadata({ type: 'data', piece: 2, totalSize: 34_002, data });
    const head = 'd8:msg_typei1e5:piecei2e10:total_sizei34002ee';
    expect(new TextDecoder().decode(bytes.subarray(0, head.length))).toBe(head);
    expect(parseUtMetadata(bytes)).toEqual({ type: 'data', piece: 2, totalSize: 34_002, data });
  });

  test('unknown msg_type is ignorable; a missing piece is a protocol error', () => {
    expect(parseUtMetadata(encode({ msg_type: 7, piece: 1 }))).toEqual({ type: 'unknown', msgType: 7 });
    expect(reasonOf(() => parseUtMetadata(encode({ msg_type: 0 })))).toBe('protocol');
    expect(reasonOf(() => parseUtMetadata(new Uint8Array([0x78])))).toBe('protocol');
  });
});

describe('MetadataAssembler', () => {
  test('pieces are 16 KiB except the last; assembled bytes verify against their SHA-1', () => {
    const info = rng.bytes(2 * METADATA_PIECE_BYTES + 777);
    const assembler = new MetadataAssembler(info.length);
    expect(assembler.pieceCount).toBe(3);
    expect([0, 1, 2].map((i) => assembler.pieceLength(i))).toEqual([16384, 16384, 777]);
    for (const i of [2, 0, 1]) {
      expect(assembler.complete).toBe(false);
      assembler.add(i, info.subarray(i * METADATA_PIECE_BYTES, (i + 1) * METADATA_PIECE_BYTES));
    }
    expect(assembler.complete).toBe(true);
    expect(assembler.verified(sha1(info))).toEqual(info);
  });

  test('a wrong hash is hash-mismatch', () => {
    const info = rng.bytes(100);
    const assembler = new MetadataAssembler(100);
    assembler.add(0, info);
    const wrong = sha1(info);
    wrong[0]! ^= 1;
    expect(reasonOf(() => assembler.verified(wrong))).toBe('hash-mismatch');
  });

  test('sizes over the cap, zero or negative are refused as oversized, before allocating', () => {
    expect(reasonOf(() => new MetadataAssembler(DEFAULT_MAX_METADATA_BYTES + 1))).toBe('oversized');
    expect(reasonOf(() => new MetadataAssembler(1000, 999))).toBe('oversized');
    expect(reasonOf(() => new MetadataAssembler(0))).toBe('oversized');
    expect(reasonOf(() => new MetadataAssembler(-5))).toBe('oversized');
    expect(() => new MetadataAssembler(DEFAULT_MAX_METADATA_BYTES)).not.toThrow();
  });

  test('a piece of the wrong length or index is a protocol error', () => {
    const assembler = new MetadataAssembler(METADATA_PIECE_BYTES + 10);
    expect(reasonOf(() => assembler.add(0, new Uint8Array(10)))).toBe('protocol');
    expect(reasonOf(() => assembler.add(1, new Uint8Array(11)))).toBe('protocol');
    expect(reasonOf(() => assembler.add(2, new Uint8Array(10)))).toBe('protocol');
    expect(reasonOf(() => assembler.add(1, new Uint8Array(10)))).toBeUndefined();
  });
});

describe('info dictionary (BEP 3)', () => {
  test('single file: one file named after the torrent', () => {
    const info = parseInfoDict(encodeInfoDict({ name: 'ubuntu.iso', pieceLength: 262_144, pieces: pieces(12), length: 3_000_000 }));
    expect(info).toEqual({
      name: 'ubuntu.iso', totalSize: 3_000_000, files: [{ path: ['ubuntu.iso'], length: 3_000_000 }],
      pieceLength: 262_144, pieceCount: 12, private: false, version: 'v1', merkleFiles: [],
    });
  });

  test('multi-file: paths start with the torrent directory; BEP 47 padding files are left out', () => {
    const bytes = encode({
      name: 'album',
      'piece length': 16_384,
      pieces: pieces(4),
      private: 1,
      files: [
        { length: 100, path: ['cd1', 'track 1.flac'] },
        { length: 16_284, path: ['.pad', '16284'], attr: 'p' },
        { length: 200, path: ['cover.jpg'] },
      ],
    });
    const info = parseInfoDict(bytes);
    expect(info.files).toEqual([{ path: ['album', 'cd1', 'track 1.flac'], length: 100 }, { path: ['album', 'cover.jpg'], length: 200 }]);
    expect(info.totalSize).toBe(300);
    expect(info.private).toBe(true);
  });

  test('names cannot carry terminal escapes', () => {
    const info = parseInfoDict(encodeInfoDict({ name: 'a\x1b]0;pwned\x07b', pieceLength: 16_384, pieces: pieces(1), length: 5 }));
    expect(info.name).toBe('a\uFFFD]0;pwned\uFFFDb');
  });

  test('broken dictionaries are bad-info', () => {
    const base = { 'piece length': 16_384, pieces: pieces(1), length: 5 };
    expect(reasonOf(() => parseInfoDict(encode(base)))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, name: 'x', pieces: new Uint8Array(19) })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, name: 'x', length: -1 })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ name: 'x', 'piece length': 1, pieces: pieces(1), files: [{ length: 1, path: [] }] })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(new Uint8Array([0x69, 0x31])))).toBe('bad-info');
  });
});

/** A BEP 52 file tree entry for one file: {"": {length, pieces root}}. */
function v2File(length: number): Encodable {
  return { '': { length, 'pieces root': rng.bytes(32) } };
}

describe('v2 info dictionaries (BEP 52)', () => {
  const single = encode({ 'file tree': { 'movie.mkv': v2File(100_000) }, 'meta version': 2, name: 'movie.mkv', 'piece length': 16_384 });
  const multi = encode({
    'file tree': { cd1: { 'a.flac': v2File(40_000), 'b.flac': v2File(0) }, 'cover.jpg': v2File(16_384) },
    'meta version': 2, name: 'album', 'piece length': 16_384,
  });

  test('a single file: the file tree\'s one file, pieces counted per file', () => {
    expect(parseInfoDict(single)).toEqual({
      name: 'movie.mkv', totalSize: 100_000, files: [{ path: ['movie.mkv'], length: 100_000 }],
      pieceLength: 16_384, pieceCount: 7, private: false, version: 'v2', merkleFiles: [{ length: 100_000, piecesRoot: expect.any(Uint8Array) }],
    });
  });

  test('a directory: paths under the torrent\'s name; pieces never span files, so 3 + 0 + 1', () => {
    const info = parseInfoDict(multi);
    expect(info.files).toEqual([
      { path: ['album', 'cd1', 'a.flac'], length: 40_000 },
      { path: ['album', 'cd1', 'b.flac'], length: 0 },
      { path: ['album', 'cover.jpg'], length: 16_384 },
    ]);
    expect({ totalSize: info.totalSize, pieceCount: info.pieceCount, version: info.version }).toEqual({ totalSize: 56_384, pieceCount: 4, version: 'v2' });
    // The empty file has no pieces root (BEP 52: "For non-empty files").
    expect(info.merkleFiles.map((f) => [f.length, f.piecesRoot?.length])).toEqual([[40_000, 32], [0, undefined], [16_384, 32]]);
  });

  test('a hybrid carries both descriptions: read from the v1 one, the file tree checked too', () => {
    const hybrid = { 'file tree': { 'x.bin': v2File(20_000) }, length: 20_000, 'meta version': 2, name: 'x.bin', 'piece length': 16_384, pieces: pieces(2) };
    expect(parseInfoDict(encode(hybrid))).toMatchObject({ version: 'hybrid', pieceCount: 2, files: [{ path: ['x.bin'], length: 20_000 }] });
    expect(reasonOf(() => parseInfoDict(encode({ ...hybrid, 'file tree': { 'x.bin': { '': { length: 1 } } } })))).toBe('bad-info');
  });

  test('broken v2 dictionaries are bad-info', () => {
    const base = { 'meta version': 2, name: 'x', 'piece length': 16_384 };
    expect(reasonOf(() => parseInfoDict(encode(base)))).toBe('bad-info'); // no file tree
    expect(reasonOf(() => parseInfoDict(encode({ ...base, 'meta version': 3, 'file tree': { x: v2File(1) } })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, 'piece length': 20_000, 'file tree': { x: v2File(1) } })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, 'file tree': { x: { '': { length: 5, 'pieces root': rng.bytes(20) } } } })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, 'file tree': { x: 5 } })))).toBe('bad-info');
    expect(reasonOf(() => parseInfoDict(encode({ ...base, 'file tree': { '': { length: 5 } } })))).toBe('bad-info');
  });

  test('file names from the tree cannot carry terminal escapes', () => {
    const info = parseInfoDict(encode({ 'file tree': { 'a\x1b[31mb': v2File(1), c: v2File(1) }, 'meta version': 2, name: 'n', 'piece length': 16_384 }));
    expect(info.files.map((f) => f.path.join('/'))).toEqual(['n/a\uFFFD[31mb', 'n/c']);
  });
});

describe('checking info bytes against the info-hashes (BEP 9, BEP 52)', () => {
  const v1 = encodeInfoDict({ name: 'x', pieceLength: 16_384, pieces: pieces(1), length: 1 });
  const v2 = encode({ 'file tree': { x: v2File(1) }, 'meta version': 2, name: 'x', 'piece length': 16_384 });
  const flipped = (bytes: Uint8Array): Uint8Array => { const copy = bytes.slice(); copy[copy.length - 1]! ^= 1; return copy; };

  test('v1: the SHA-1 is the info-hash', () => {
    expect(checkInfoHash(v1, { infoHash: sha1(v1) })).toBe('v1');
    expect(reasonOf(() => checkInfoHash(v1, { infoHash: flipped(sha1(v1)) }))).toBe('hash-mismatch');
  });

  test('v2-only, from a urn:btmh magnet: all 32 bytes of the SHA-256 must match', () => {
    const full = sha256Of(v2);
    expect(checkInfoHash(v2, { infoHash: full.slice(0, 20), infoHashV2: full })).toBe('v2');
    // The same 20-byte key with a different tail: the DHT key matches, the torrent is not the one named.
    const wrongTail = full.slice(); wrongTail[31]! ^= 1;
    expect(reasonOf(() => checkInfoHash(v2, { infoHash: full.slice(0, 20), infoHashV2: wrongTail }))).toBe('hash-mismatch');
  });

  test('v2 known by 20 bytes only (a hex info-hash, a crawled one): the SHA-256 cut to 20 bytes', () => {
    expect(checkInfoHash(v2, { infoHash: sha256Of(v2).slice(0, 20) })).toBe('v2');
    expect(reasonOf(() => checkInfoHash(v2, { infoHash: sha1(v1) }))).toBe('hash-mismatch');
  });

  test('hybrid, from a magnet with both btih and btmh: both hashes must match', () => {
    expect(checkInfoHash(v2, { infoHash: sha1(v2), infoHashV2: sha256Of(v2) })).toBe('v1+v2');
    expect(reasonOf(() => checkInfoHash(v2, { infoHash: flipped(sha1(v2)), infoHashV2: sha256Of(v2) }))).toBe('hash-mismatch');
  });

  test('the assembler checks the whole SHA-256 when given it', () => {
    const assembler = new MetadataAssembler(v2.length);
    assembler.add(0, v2);
    expect(assembler.verify({ infoHash: sha256Of(v2).slice(0, 20), infoHashV2: sha256Of(v2) })).toEqual({ bytes: v2, matched: 'v2' });
    expect(reasonOf(() => assembler.verified(sha1(v1)))).toBe('hash-mismatch');
  });
});

describe('.torrent files', () => {
  test('the info bytes are embedded verbatim, so the file hashes to the same info-hash', () => {
    // Keys deliberately out of order: re-encoding would sort them and change the hash.
    const info = new TextEncoder().encode('d4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae');
    const torrent = encodeTorrentFile(info, { trackers: ['udp://tracker.example:80'], createdBy: 'dht-scrape', creationDate: 1_700_000_000 });
    const decoded = decode(torrent, { lenient: true }) as BencodeDict;
    expect(new TextDecoder().decode(decoded.announce as Uint8Array)).toBe('udp://tracker.example:80');
    expect(decoded['creation date']).toBe(1_700_000_000);
    const text = new TextDecoder('latin1').decode(torrent);
    const start = text.indexOf('4:info') + 6;
    expect(sha1(torrent.subarray(start, torrent.length - 1))).toEqual(sha1(info));
  });

  test('without trackers it is just the info dictionary in a dictionary', () => {
    const info = encodeInfoDict({ name: 'x', pieceLength: 16_384, pieces: pieces(1), length: 1 });
    const torrent = encodeTorrentFile(info);
    expect(decode(torrent)).toEqual({ info: decode(info) });
  });
});
