/**
 * Interop with libtorrent for BEP 52 torrents: a libtorrent seeder of a v2-only torrent and one of
 * a hybrid torrent, each in a two-session DHT. The CLI is given the magnet libtorrent itself would
 * write (urn:btmh alone, or btih + btmh), finds the seeder through the DHT, fetches the metadata
 * over BEP 9, verifies it with SHA-256 (and SHA-1 for the hybrid), and saves a .torrent that
 * libtorrent loads as the same torrent.
 *
 * Skipped loudly without Python's libtorrent binding; a failure when DHT_SCRAPE_REQUIRE_LIBTORRENT=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, type BencodeDict } from '../../src/wire/bencode.js';
import { findLibtorrentPython, LibtorrentFixture, type ReadyEvent, type TorrentVersion } from './fixture.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const libtorrent = findLibtorrentPython();
const required = process.env.DHT_SCRAPE_REQUIRE_LIBTORRENT === '1';

/** Each case on its own /24s (the other interop files use 127.0.60-110.x). */
const CASES: { version: Exclude<TorrentVersion, 'v1'>; pieces: number; subnet: number; bind: string; verifiedWith: string }[] = [
  { version: 'v2', pieces: 4, subnet: 150, bind: '127.0.160.1', verifiedWith: 'SHA-256' },
  { version: 'hybrid', pieces: 4, subnet: 154, bind: '127.0.161.1', verifiedWith: 'SHA-1 and SHA-256' },
  // Over 512 pieces: the piece layer takes two hash requests, each proven by uncle hashes (BEP 52).
  { version: 'v2', pieces: 600, subnet: 158, bind: '127.0.162.1', verifiedWith: 'SHA-256' },
];

if ('missing' in libtorrent) {
  console.warn(`\n${'#'.repeat(78)}\n# SKIPPED: libtorrent v2-torrent interop tests (no libtorrent binding). Tried: ${libtorrent.missing}\n${'#'.repeat(78)}\n`);
  describe('libtorrent v2-torrent interop', () => {
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported' : 'SKIPPED: libtorrent not installed';
    it.skipIf(!required)(`${name} (${libtorrent.missing})`, () => {
      throw new Error(`DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported: ${libtorrent.missing}`);
    });
  });
}

describe.skipIf('missing' in libtorrent).each(CASES)('BEP 52: a libtorrent seeder of a $version torrent of $pieces pieces', ({ version, pieces, subnet, bind, verifiedWith }) => {
  let fixture: LibtorrentFixture | undefined;
  let ready: ReadyEvent;
  let seederTcp: string;
  let run: CliRun;
  let scratch: string;
  let torrentFile: string;

  beforeAll(async () => {
    if (!('python' in libtorrent)) return;
    expect(existsSync(BUILT_CLI), 'the CLI is not built: run `npm run build` (npm test does it first)').toBe(true);
    ({ fixture, ready } = await LibtorrentFixture.start(libtorrent.python, { sessions: 2, subnet, ttlSeconds: 60, torrentVersion: version, payloadBytes: pieces * 16_384 }));
    const listening = await fixture.waitFor((e) => e.event === 'listening' && e.session === 0 && e.socket === 'tcp', 5_000, 'the seeder\'s TCP endpoint');
    seederTcp = `${String(listening.address)}:${String(listening.port)}`;
    scratch = mkdtempSync(join(tmpdir(), `dht-scrape-lt-${version}-`));
    torrentFile = join(scratch, 'fetched.torrent');
    const other = ready.sessions[1]!;
    run = await runCli([magnetOf(ready), '--bootstrap', `${other.address}:${other.port}`, '--bind', bind, '--port', '0',
      '--no-state', '--json', '--timeout', '15', '--metadata', '--save-torrent', torrentFile]);
  }, 60_000);
  afterAll(async () => {
    await fixture?.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('the fixture seeds the torrent kind asked for, with both hashes for a hybrid', () => {
    expect(ready.torrent_version).toBe(version);
    expect(ready.torrent.pieces).toBe(pieces);
    expect(ready.infohash_v2).toMatch(/^[0-9a-f]{64}$/);
    if (version === 'v2') expect(ready.infohash).toBe(ready.infohash_v2!.slice(0, 40));
    else expect(ready.infohash).not.toBe(ready.infohash_v2!.slice(0, 40));
  });

  it('the CLI finds the seeder from the magnet and fetches its metadata, verified with the BEP 52 hash', () => {
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as CliDocument;
    expect(doc.peers.map((p) => `${p.address}:${p.port}`)).toContain(seederTcp);
    expect(doc.metadata, run.stderr).not.toBeNull();
    const md = doc.metadata!;
    expect({ name: md.name, total_size: md.total_size, piece_length: md.piece_length, pieces: md.pieces, version: md.version, verified_with: md.verified_with })
      .toEqual({ name: ready.torrent.info_name, total_size: ready.torrent.total_size, piece_length: ready.torrent.piece_length, pieces: ready.torrent.pieces, version, verified_with: verifiedWith });
    expect(md.files.map((f) => ({ path: f.path, size: f.length }))).toEqual(ready.torrent.files);
    expect(md.from).toBe(seederTcp);
    expect(run.stderr).toContain(`${verifiedWith} verified (BEP 52 ${version} torrent)`);
  });

  it('libtorrent loads the saved .torrent as the same torrent (its v2 hash, and v1 for a hybrid)', () => {
    expect(JSON.parse(run.stdout)).toMatchObject({ torrent_file: torrentFile });
    const python = 'python' in libtorrent ? libtorrent.python : 'python3';
    const read = spawnSync(python, ['-c', LOAD_TORRENT, torrentFile], { encoding: 'utf8', timeout: 15_000 });
    expect(read.status, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual({
      v2: ready.infohash_v2, v1: version === 'hybrid' ? ready.infohash : null, name: ready.torrent.name, pieces: ready.torrent.pieces,
    });
  });

  it('the saved .torrent carries the BEP 52 piece layers, fetched with hash requests: the same as libtorrent\'s own .torrent', () => {
    expect(Object.keys(ready.torrent.piece_layers)).toHaveLength(1);
    expect(JSON.parse(run.stdout).torrent_file_warning, run.stderr).toBeUndefined();
    const saved = decode(readFileSync(torrentFile), { lenient: true }) as BencodeDict;
    const layers = saved['piece layers'] as BencodeDict;
    const asHex = Object.fromEntries(Object.entries(layers).map(([root, hashes]) => [Buffer.from(root, 'latin1').toString('hex'), Buffer.from(hashes as Uint8Array).toString('hex')]));
    expect(asHex).toEqual(ready.torrent.piece_layers);
  });
});

/** The magnet libtorrent writes for the torrent (make_magnet_uri): btmh alone for v2, btih + btmh for a hybrid. */
function magnetOf(ready: ReadyEvent): string {
  const btmh = `xt=urn:btmh:1220${ready.infohash_v2!}`;
  return ready.torrent_version === 'v2' ? `magnet:?${btmh}` : `magnet:?xt=urn:btih:${ready.infohash}&${btmh}`;
}

/** libtorrent's reading of a .torrent file, as one JSON line. */
const LOAD_TORRENT = [
  'import json, sys, libtorrent as lt',
  'ti = lt.torrent_info(sys.argv[1])',
  'h = ti.info_hashes()',
  'print(json.dumps({"v2": str(h.v2) if h.has_v2() else None, "v1": str(h.v1) if h.has_v1() else None, "name": ti.name(), "pieces": ti.num_pieces()}))',
].join('\n');

interface CliDocument {
  peers: { address: string; port: number }[];
  metadata: {
    name: string; total_size: number; piece_length: number; pieces: number; version: string; verified_with: string; from: string;
    files: { path: string; length: number }[];
  } | null;
}
