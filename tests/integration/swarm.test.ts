/**
 * Naming and sizing a swarm on the local network: BEP 33 estimates against the true counts stored
 * in the nodes, metadata from real seeders, the probe against the seeders' true completion.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, type BencodeDict } from '../../src/wire/bencode.js';
import { compareDistance, randomId } from '../../src/wire/id.js';
import { resolveMetadata } from '../../src/peer/metadata.js';
import { encodeTorrentFile, parseInfoDict } from '../../src/peer/torrent-info.js';
import { sha1 } from '../../src/peer/ut-metadata.js';
import { DhtNode } from '../../src/dht/node.js';
import { probePeers } from '../../src/peer/probe.js';
import { scrape } from '../../src/modes/scrape.js';
import { Testnet } from '../../src/modes/testnet.js';
import { Prng } from '../helpers/prng.js';

/** What the network really holds for an info-hash: distinct seed and non-seed IPs over all live nodes. */
function storedCounts(net: Testnet, infoHash: Uint8Array): { seeds: number; leechers: number } {
  const all = new Set<string>();
  const leechers = new Set<string>();
  for (const node of net.live) {
    for (const p of node.peers.peers(infoHash, { max: 1e9 })) all.add(p.address);
    for (const p of node.peers.peers(infoHash, { max: 1e9, noseed: true })) leechers.add(p.address);
  }
  return { seeds: all.size - leechers.size, leechers: leechers.size };
}

function within(estimate: number, truth: number, tolerance: number): boolean {
  return Math.abs(estimate - truth) <= tolerance * truth;
}

describe.each([50, 400, 2000])('BEP 33 estimate of a %i-peer swarm', (size) => {
  let net: Testnet;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 80, torrents: 1, peers: size, node: { peerStore: { maxPeersPerTorrent: 5_000 } } });
  });
  afterAll(async () => { await net.close(); });

  it('is within 10% of the seeds and leechers the nodes store', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const torrent = net.torrents[0]!;
      const truth = storedCounts(net, torrent.infoHash);
      // Every 3rd peer announced as a seed (testnet), so the truth is not a trivial split:
      expect(truth.seeds + truth.leechers).toBe(size);
      expect(truth.seeds).toBe(Math.ceil(size / 3));
      const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000, scrape: true });
      const swarm = report.swarm!;
      expect(swarm.responders).toBeGreaterThanOrEqual(1);
      expect(within(swarm.seeds, truth.seeds, 0.1), `seeds ${swarm.seeds} vs ${truth.seeds}`).toBe(true);
      expect(within(swarm.leechers, truth.leechers, 0.1), `leechers ${swarm.leechers} vs ${truth.leechers}`).toBe(true);
      expect(swarm.saturated).toBe(false);
    } finally {
      await node.close();
    }
  });
});

describe('BEP 33 filters are per responder and get merged', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 80, torrents: 0 }); });
  afterAll(async () => { await net.close(); });

  it('counts the union when each node holds only part of the swarm', async () => {
    const rng = new Prng(0xb33);
    const infoHash = randomId();
    const holders = net.live.sort((a, b) => compareDistance(infoHash, a.id, b.id)).slice(0, 8);
    // 900 peers; each announce reached only 3 of the 8 closest nodes. 1 in 4 is a seed.
    for (let i = 0; i < 900; i++) {
      const peer = { address: `127.200.${i >> 8}.${i & 255}`, port: 6881 };
      const chosen = new Set<number>();
      while (chosen.size < 3) chosen.add(rng.int(holders.length));
      for (const h of chosen) holders[h]!.peers.announce(infoHash, peer, i % 4 === 0);
    }
    const truth = storedCounts(net, infoHash);
    const largestShare = Math.max(...holders.map((h) => h.peers.peers(infoHash, { max: 1e9 }).length));
    expect(largestShare).toBeLessThan(900 * 0.6);

    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const report = await scrape(node, { infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000, scrape: true });
      const swarm = report.swarm!;
      expect(swarm.responders).toBeGreaterThanOrEqual(5);
      expect(within(swarm.seeds, truth.seeds, 0.1), `seeds ${swarm.seeds} vs ${truth.seeds}`).toBe(true);
      expect(within(swarm.leechers, truth.leechers, 0.1), `leechers ${swarm.leechers} vs ${truth.leechers}`).toBe(true);
      expect(swarm.seeds + swarm.leechers).toBeGreaterThan(largestShare * 1.5);
    } finally {
      await node.close();
    }
  });
});

describe('a local network with real seeding peers', () => {
  let net: Testnet;
  let dir: string;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 60, torrents: 4, peers: 12, seeders: 7 });
    dir = await mkdtemp(join(tmpdir(), 'dht-scrape-swarm-'));
  });
  afterAll(async () => {
    await net.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches every torrent\'s metadata from peers found through the DHT, verified, and writes a .torrent', async () => {
    const node = await DhtNode.create({ address: '127.0.0.1' });
    try {
      for (const torrent of net.torrents) {
        const report = await scrape(node, { infoHash: torrent.infoHash, bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 20_000 });
        expect(report.peers.length).toBe(12);
        // Five of the twelve peers are only addresses nobody listens on; they fail and the others serve.
        const { metadata, attempts } = await resolveMetadata(report.peers, torrent.infoHash, { timeoutMs: 5_000, concurrency: 4 });
        expect(metadata, JSON.stringify(attempts)).toBeDefined();
        expect(Buffer.compare(metadata!.bytes, torrent.info!)).toBe(0);
        expect(sha1(metadata!.bytes)).toEqual(torrent.infoHash);
        expect(metadata!.info).toEqual(parseInfoDict(torrent.info!));
        expect(attempts.filter((a) => a.outcome === 'failed').every((a) => a.error?.reason === 'unreachable')).toBe(true);

        const file = join(dir, 'out.torrent');
        await writeFile(file, encodeTorrentFile(metadata!.bytes, { createdBy: 'dht-scrape test' }));
        const saved = decode(new Uint8Array(await readFile(file))) as BencodeDict;
        const infoBytes = new Uint8Array(await readFile(file));
        const start = Buffer.from(infoBytes).indexOf('4:info') + 6;
        expect(sha1(infoBytes.subarray(start, infoBytes.length - 1))).toEqual(torrent.infoHash);
        expect((saved.info as BencodeDict)['piece length']).toBe(512 * 1024);
      }
      // The fourth torrent's dictionary spans two 16 KiB pieces: both were served.
      const big = net.torrents[3]!;
      expect(big.info!.length).toBeGreaterThan(16_384);
      const served = big.seeders!.reduce((n, s) => n + s.metadataPiecesServed, 0);
      expect(served).toBeGreaterThanOrEqual(2);
    } finally {
      await node.close();
    }
  });

  it('the probe reports each seeder\'s true completion, seeds as seeds, and dead addresses as unreachable', async () => {
    for (const torrent of net.torrents) {
      const pieceCount = parseInfoDict(torrent.info!).pieceCount;
      const report = await probePeers(torrent.peers, torrent.infoHash, { pieceCount, timeoutMs: 4_000, concurrency: 6 });
      expect(report.probes.length).toBe(12);
      torrent.seeders!.forEach((seeder, i) => {
        const truth = seeder.torrents[0]!;
        const probe = report.probes.find((p) => p.peer.port === seeder.local.port && p.peer.address === seeder.local.address)!;
        expect(probe.reachable, JSON.stringify(probe)).toBe(true);
        expect(probe.pieces?.completion).toBe(truth.held / truth.pieceCount);
        expect(probe.pieces?.seed).toBe(truth.held === truth.pieceCount);
        expect(probe.pieces?.seed).toBe(i % 3 === 0);
        expect(probe.client).toBe('dht-scrape 0.1.0');
        expect(probe.v).toBe('dht-scrape seeder');
      });
      const dead = report.probes.filter((p) => !torrent.seeders!.some((s) => s.local.port === p.peer.port && s.local.address === p.peer.address));
      expect(dead.length).toBe(5);
      expect(dead.every((p) => !p.reachable && p.error?.reason === 'unreachable')).toBe(true);
      const seeds = torrent.seeders!.filter((s) => s.torrents[0]!.held === s.torrents[0]!.pieceCount).length;
      expect(report.totals).toMatchObject({ probed: 12, reachable: 7, seeds, leechers: 7 - seeds, unknown: 0, failures: { unreachable: 5 } });
    }
  });
});
