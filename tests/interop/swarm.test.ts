/**
 * Interop with libtorrent for naming and sizing a swarm: BEP 9 metadata fetched from a libtorrent
 * seeder, a BEP 33 estimate merged from libtorrent nodes' bloom filters, and a probe of libtorrent
 * peers. The fixture (lt_fixture.py) runs four meshed sessions: session 0 seeds a generated
 * torrent, sessions 1 and 2 hold part of it in upload mode (so they stay leechers and announce as
 * such), session 3 is a plain DHT node. The truth every test compares with is what libtorrent
 * reports about itself in the fixture's `ready` event.
 *
 * Skipped loudly without Python's libtorrent binding, like libtorrent.test.ts; a failure instead
 * when DHT_SCRAPE_REQUIRE_LIBTORRENT=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScrapeBloom } from '../../src/wire/bloom.js';
import type { NodeInfo, PeerInfo } from '../../src/wire/compact.js';
import { idFromHex } from '../../src/wire/id.js';
import type { ResponseBody } from '../../src/wire/krpc.js';
import { fetchMetadata } from '../../src/peer/metadata.js';
import { sha1 } from '../../src/peer/ut-metadata.js';
import { DhtNode } from '../../src/dht/node.js';
import { probePeers } from '../../src/peer/probe.js';
import { scrape, type ScrapeReport } from '../../src/modes/scrape.js';
import { SwarmScrape, scrapingGetPeers } from '../../src/modes/swarm-size.js';
import { findLibtorrentPython, LibtorrentFixture, type LtHolder, type LtSession, type ReadyEvent } from './fixture.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const libtorrent = findLibtorrentPython();
const required = process.env.DHT_SCRAPE_REQUIRE_LIBTORRENT === '1';

/** Sessions on 127.0.80-83.1; our parties each on a /24 of their own (libtorrent.test.ts uses 60-73). */
const SUBNET = 80;
const SESSIONS = 4;
const LEECHERS = 2;
const OUR_NODE = '127.0.90.1';
/** TCP source addresses: libtorrent allows one connection per IP, so each test connects from its own. */
const METADATA_FROM = '127.0.91.1';
const PROBE_FROM = '127.0.93.1';
const CLI_NAMER = '127.0.92.1';
const CLI_SCRAPER = '127.0.94.1';

if ('missing' in libtorrent) {
  console.warn(`\n${'#'.repeat(78)}\n# SKIPPED: libtorrent swarm interop tests (no libtorrent binding). Tried: ${libtorrent.missing}\n${'#'.repeat(78)}\n`);
  describe('libtorrent swarm interop', () => {
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported' : 'SKIPPED: libtorrent not installed';
    it.skipIf(!required)(`${name} (${libtorrent.missing})`, () => {
      throw new Error(`DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported: ${libtorrent.missing}`);
    });
  });
}

describe.skipIf('missing' in libtorrent)(`libtorrent swarm interop (${'version' in libtorrent ? `libtorrent ${libtorrent.version}` : ''})`, () => {
  let fixture: LibtorrentFixture;
  let ready: ReadyEvent;
  let lt: LtSession[];
  /** Each holder of the torrent with the TCP endpoint libtorrent says it listens on. */
  let holders: (LtHolder & { tcp: PeerInfo })[];
  let ours: DhtNode;

  beforeAll(async () => {
    if (!('python' in libtorrent)) return;
    expect(existsSync(BUILT_CLI), 'the CLI is not built: run `npm run build` (npm test does it first)').toBe(true);
    const started = Date.now();
    ({ fixture, ready } = await LibtorrentFixture.start(libtorrent.python, { sessions: SESSIONS, subnet: SUBNET, leechers: LEECHERS, ttlSeconds: 60 }));
    lt = ready.sessions;
    holders = await Promise.all(ready.swarm.map(async (holder) => {
      const listening = await fixture.waitFor((e) => e.event === 'listening' && e.session === holder.session && e.socket === 'tcp',
        5_000, `session ${holder.session}'s TCP listen endpoint`);
      return { ...holder, tcp: { address: String(listening.address), port: Number(listening.port) } };
    }));
    console.info(`libtorrent ${ready.version}: ${lt.length} sessions, swarm of ${holders.map(describeHolder).join(', ')} ` +
      `ready in ${Date.now() - started} ms`);
    ours = await DhtNode.create({ address: OUR_NODE, port: 0 });
  }, 40_000);

  afterAll(async () => {
    await ours?.close();
    await fixture?.close();
  });

  const seeds = (): LtHolder[] => holders.filter((h) => h.seed);
  const leechers = (): LtHolder[] => holders.filter((h) => !h.seed);

  it('the fixture holds the swarm it was asked for: one seed, two leechers with part of the pieces', () => {
    expect(seeds().map((h) => h.session)).toEqual([0]);
    expect(leechers().map((h) => h.session)).toEqual([1, 2]);
    for (const h of leechers()) {
      expect(h.pieces).toBeGreaterThan(0);
      expect(h.pieces).toBeLessThan(ready.torrent.pieces);
    }
    // libtorrent takes TCP connections on the port number its DHT uses for UDP.
    for (const h of holders) expect(h.tcp).toEqual({ address: lt[h.session]!.address, port: lt[h.session]!.port });
  });

  describe('BEP 33: a scrape through libtorrent nodes', () => {
    let report: ScrapeReport | undefined;

    it('scrape(node, { scrape: true }) estimates the true seeds and leechers from libtorrent\'s BFsd/BFpe', async () => {
      report = await scrape(ours, { infoHash: idFromHex(ready.infohash), bootstrap: [endpoint(lt[3]!)], scrape: true, timeoutMs: 15_000 });
      expect(report.bootstrap.routersAnswered).toBe(1);
      expect(report.swarm, 'a scrape lookup ran').toBeDefined();
      const swarm = report.swarm!;
      // Loopback addresses hash into a 2,048-bit filter with 2 bits each: for 1 and 2 IPs the
      // estimate rounds to the count.
      expect({ seeds: swarm.seeds, leechers: swarm.leechers, saturated: swarm.saturated })
        .toEqual({ seeds: seeds().length, leechers: leechers().length, saturated: false });
      expect(swarm.responders).toBeGreaterThanOrEqual(1);
      console.info(`BEP 33 through libtorrent: ~${swarm.seeds} seeds, ~${swarm.leechers} leechers from ${swarm.responders} nodes ` +
        `in ${report.lookup?.durationMs} ms`);
    });

    // libtorrent answers scrape=1 with BFsd/BFpe INSTEAD of values (the next test shows it): the
    // scrape must still find the peers, through a plain get_peers lookup.
    it('a scrape still finds the peers, although libtorrent sends filters instead of values', () => {
      expect(report?.peers.map(text).sort()).toEqual(holders.map((h) => text(h.tcp)).sort());
    });

    it('the merged filters are exactly those of the true seed and leecher IPs, and every libtorrent node that stored an announce sent them', async () => {
      const stored = new Set(fixture.events.filter((e) => e.event === 'incoming_announce' && e.infohash === ready.infohash).map((e) => Number(e.session)));
      const swarm = new SwarmScrape();
      const base = scrapingGetPeers(swarm);
      const withFilters = new Set<string>();
      const valuesBesideFilters: string[] = [];
      const strategy = {
        ...base,
        collect: (body: ResponseBody, from: NodeInfo) => {
          if (body.BFsd !== undefined && body.BFpe !== undefined) withFilters.add(text(from));
          if (body.BFsd !== undefined && body.values !== undefined) valuesBesideFilters.push(text(from));
          return base.collect(body, from);
        },
      };
      const lookup = ours.lookup(idFromHex(ready.infohash), strategy, { seeds: ours.table.all(), timeoutMs: 10_000 });
      for await (const event of lookup) void event;
      await lookup.result;

      const sessions = lt.map(endpoint).map(text);
      for (const i of stored) expect([...withFilters], `session ${i} stored an announce`).toContain(sessions[i]);
      // Only libtorrent answered with filters, or our own node if a libtorrent re-announce reached it.
      for (const from of withFilters) expect([...sessions, text(ours.local)]).toContain(from);
      expect(swarm.responders).toBe(withFilters.size);
      // What libtorrent 2.0.8 does with scrape=1: filters, and no values beside them.
      expect(valuesBesideFilters.filter((from) => from !== text(ours.local))).toEqual([]);

      expect(hex(swarm.filters.seeds.toBytes())).toBe(hex(bloomOf(seeds()).toBytes()));
      expect(hex(swarm.filters.leechers.toBytes())).toBe(hex(bloomOf(leechers()).toBytes()));
    });
  });

  describe('BEP 9: metadata from libtorrent', () => {
    it('fetchMetadata from the seeder\'s TCP endpoint returns the info dictionary that hashes to the info-hash', async () => {
      const seeder = holders.find((h) => h.seed)!;
      const metadata = await fetchMetadata(seeder.tcp, idFromHex(ready.infohash), { timeoutMs: 10_000, localAddress: METADATA_FROM });
      expect(hex(sha1(metadata.bytes))).toBe(ready.infohash);
      expect(metadata.bytes.length).toBe(ready.torrent.metadata_size);
      expect(metadata.peer).toEqual(seeder.tcp);
      expect(metadata.client).toBe(userAgent(ready.version));
      const { info } = metadata;
      expect({ name: info.name, totalSize: info.totalSize, pieceLength: info.pieceLength, pieceCount: info.pieceCount, private: info.private })
        .toEqual({ name: ready.torrent.name, totalSize: ready.torrent.total_size, pieceLength: ready.torrent.piece_length, pieceCount: ready.torrent.pieces, private: false });
      expect(info.files.map((f) => ({ path: f.path.join('/'), size: f.length }))).toEqual(ready.torrent.files);
      console.info(`metadata (${metadata.bytes.length} B) from the libtorrent seeder, which calls itself "${metadata.client}"`);
    });

    it('a libtorrent leecher, which has the metadata but not all pieces, serves it too', async () => {
      const leecher = leechers()[0]!;
      const tcp = holders.find((h) => h.session === leecher.session)!.tcp;
      const metadata = await fetchMetadata(tcp, idFromHex(ready.infohash), { timeoutMs: 10_000, localAddress: METADATA_FROM });
      expect(hex(sha1(metadata.bytes))).toBe(ready.infohash);
      expect(metadata.info.name).toBe(ready.torrent.name);
    });
  });

  describe('peer probe of libtorrent peers', () => {
    it('reports each libtorrent peer reachable, named, with its true completion', async () => {
      const report = await probePeers(holders.map((h) => h.tcp), idFromHex(ready.infohash), {
        pieceCount: ready.torrent.pieces, timeoutMs: 5_000, localAddress: PROBE_FROM,
      });
      for (const h of holders) {
        const probe = report.probes.find((p) => text(p.peer) === text(h.tcp));
        expect(probe, `probe of session ${h.session}`).toBeDefined();
        expect(probe!.error, `session ${h.session}`).toBeUndefined();
        expect(probe!.reachable).toBe(true);
        expect(probe!.peerIdPrefix).toMatch(/^-LT[0-9A-Za-z]{4}-$/);
        expect(probe!.client).toBe(peerIdClient(ready.version));
        expect(probe!.v).toBe(userAgent(ready.version));
        expect(probe!.metadataSize).toBe(ready.torrent.metadata_size);
        expect(probe!.pieces).toEqual({
          held: h.pieces, total: ready.torrent.pieces, exact: true, completion: h.pieces / ready.torrent.pieces, seed: h.seed,
        });
      }
      expect(report.totals).toMatchObject({ probed: holders.length, reachable: holders.length, seeds: seeds().length, leechers: leechers().length, unknown: 0 });
    });
  });

  describe('the CLI against libtorrent', () => {
    let named: CliRun;
    let scraped: CliRun;
    let scratch: string | undefined;
    let torrentFile: string;
    afterAll(() => { if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true }); });

    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'dht-scrape-lt-swarm-'));
      torrentFile = join(scratch, 'fetched.torrent');
      // Both at once: one after the other, the second would wait out the first one's node, dead by
      // then, which libtorrent still hands out in `nodes`.
      const bootstrap = ['--bootstrap', text(endpoint(lt[3]!))];
      [named, scraped] = await Promise.all([
        runCli([ready.infohash, ...bootstrap, ...cliFlags(CLI_NAMER), '--metadata', '--probe', '--save-torrent', torrentFile]),
        runCli([ready.infohash, ...bootstrap, ...cliFlags(CLI_SCRAPER), '--scrape']),
      ]);
    }, 35_000);

    it('dht-scrape <infohash> --metadata --probe --json: the metadata and the probe of libtorrent\'s swarm', () => {
      const run = named;
      expect(run.code, run.stderr).toBe(0);
      const doc = JSON.parse(run.stdout) as CliDocument;
      const endpoints = holders.map((h) => text(h.tcp));
      expect(doc.peers.map(text).sort()).toEqual([...endpoints].sort());

      expect(doc.metadata, run.stderr).not.toBeNull();
      const md = doc.metadata!;
      expect({ name: md.name, total_size: md.total_size, piece_length: md.piece_length, pieces: md.pieces, private: md.private })
        .toEqual({ name: ready.torrent.name, total_size: ready.torrent.total_size, piece_length: ready.torrent.piece_length, pieces: ready.torrent.pieces, private: false });
      expect(md.files.map((f) => ({ path: f.path, size: f.length }))).toEqual(ready.torrent.files);
      expect(endpoints).toContain(md.from);
      expect(md.client).toBe(userAgent(ready.version));
      expect(doc.metadata_attempts.filter((a) => a.outcome === 'served').map((a) => a.peer)).toEqual([md.from]);
      expect(doc.metadata_attempts.filter((a) => a.outcome === 'failed'), run.stdout).toEqual([]);

      const probe = doc.probe!;
      expect(probe.totals).toMatchObject({ probed: holders.length, reachable: holders.length, seeds: seeds().length, leechers: leechers().length, unknown: 0 });
      for (const h of holders) {
        const peer = probe.peers.find((p) => text(p) === text(h.tcp));
        expect(peer, `${run.stderr}\nprobe of session ${h.session}`).toMatchObject({
          reachable: true, seed: h.seed, completion: h.pieces / ready.torrent.pieces, pieces_exact: true,
        });
        expect(peer!.client).toBe(peerIdClient(ready.version));
        expect(peer!.peer_id_prefix).toMatch(/^-LT[0-9A-Za-z]{4}-$/);
      }
      console.info(`dht-scrape --metadata --probe against libtorrent: ${run.ms} ms`);
    });

    it('libtorrent loads the .torrent that --save-torrent wrote, as the same torrent', () => {
      expect(JSON.parse(named.stdout)).toMatchObject({ torrent_file: torrentFile });
      const python = 'python' in libtorrent ? libtorrent.python : 'python3';
      const read = spawnSync(python, ['-c', LOAD_TORRENT, torrentFile], { encoding: 'utf8', timeout: 15_000 });
      expect(read.status, read.stderr).toBe(0);
      expect(JSON.parse(read.stdout)).toEqual({ infohash: ready.infohash, name: ready.torrent.name, total_size: ready.torrent.total_size, pieces: ready.torrent.pieces });
    });

    it('dht-scrape <infohash> --scrape --json: the BEP 33 estimate from libtorrent nodes', () => {
      const doc = JSON.parse(scraped.stdout) as CliDocument;
      expect(doc.swarm, scraped.stderr).toMatchObject({ seeds: seeds().length, leechers: leechers().length, saturated: false });
      expect(doc.swarm!.responders).toBeGreaterThanOrEqual(1);
      expect(scraped.stderr).toContain(`Swarm: ~${seeds().length} seeds, ~${leechers().length} leechers (BEP 33 estimate from ${doc.swarm!.responders} nodes)`);
      console.info(`dht-scrape --scrape against libtorrent: ${scraped.ms} ms`);
    });

    it('--scrape lists the peers too, and exits 0', () => {
      const doc = JSON.parse(scraped.stdout) as CliDocument;
      expect(scraped.code).toBe(0);
      expect(doc.peers.map(text).sort()).toEqual(holders.map((h) => text(h.tcp)).sort());
    });
  });
});

function cliFlags(bind: string): string[] {
  return ['--bind', bind, '--port', '0', '--no-state', '--json', '--timeout', '15'];
}

/** libtorrent's reading of a .torrent file, as one JSON line. */
const LOAD_TORRENT = [
  'import json, sys, libtorrent as lt',
  'ti = lt.torrent_info(sys.argv[1])',
  'print(json.dumps({"infohash": str(ti.info_hashes().v1), "name": ti.name(), "total_size": ti.total_size(), "pieces": ti.num_pieces()}))',
].join('\n');

/** libtorrent's BEP 10 `v`, its default user agent: "libtorrent/2.0.8.0". */
function userAgent(version: string): string {
  return `libtorrent/${version}`;
}

/** What BEP 20 makes of libtorrent's peer id "-LT2080-": the version without a trailing ".0". */
function peerIdClient(version: string): string {
  return `libtorrent ${version.replace(/\.0$/, '')}`;
}

function describeHolder(h: LtHolder): string {
  return `session ${h.session} ${h.seed ? 'seed' : 'leech'} ${h.pieces} pieces`;
}

function endpoint(s: LtSession): PeerInfo {
  return { address: s.address, port: s.port };
}

function text(e: { address: string; port: number }): string {
  return `${e.address}:${e.port}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** The BEP 33 filter of the holders' IPs: what the union of the nodes' filters must be. */
function bloomOf(holders: readonly LtHolder[]): ScrapeBloom {
  const bloom = new ScrapeBloom();
  for (const h of holders) bloom.insert(h.address);
  return bloom;
}

interface CliDocument {
  peers: PeerInfo[];
  swarm?: { seeds: number; leechers: number; responders: number; saturated: boolean };
  metadata: {
    name: string; total_size: number; piece_length: number; pieces: number; private: boolean;
    files: { path: string; length: number }[]; from: string; client: string | null;
  } | null;
  metadata_attempts: { peer: string; outcome: string; reason?: string }[];
  probe?: {
    peers: { address: string; port: number; reachable: boolean; client: string | null; peer_id_prefix: string | null; completion: number | null; seed: boolean | null; pieces_exact: boolean | null }[];
    totals: Record<string, unknown>;
  };
}

