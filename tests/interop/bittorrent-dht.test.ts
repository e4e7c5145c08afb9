/**
 * Interop with webtorrent's bittorrent-dht (npm), the DHT of WebTorrent and of most JavaScript
 * clients: networks of its nodes on loopback (bdht_fixture.mjs), and our CLI and nodes among them.
 *
 * The library is bench/'s dependency, not ours: `npm --prefix bench ci` installs it. Without it the
 * suite is skipped and says so loudly; with DHT_SCRAPE_REQUIRE_BITTORRENT_DHT=1 (set by .ci/run
 * when the install succeeded) a missing library is a failure instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/wire/id.js';
import { Testnet } from '../../src/modes/testnet.js';
import { freeUdpPort, runCli, startCli } from '../helpers/cli.js';
import { Prng } from '../helpers/prng.js';
import { BdhtFixture, findBittorrentDht, xorDistance } from './bdht-fixture.js';

const library = findBittorrentDht();
const required = process.env.DHT_SCRAPE_REQUIRE_BITTORRENT_DHT === '1';
const prng = new Prng(Number(process.env.INTEROP_SEED ?? 15));
const hex = (): string => idToHex(prng.bytes(20));

if ('missing' in library) {
  console.warn([
    '',
    '#'.repeat(78),
    '# SKIPPED: bittorrent-dht interop tests. webtorrent\'s bittorrent-dht is not installed.',
    `# ${library.missing}`,
    '#'.repeat(78),
    '',
  ].join('\n'));
  describe('bittorrent-dht interop', () => {
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_BITTORRENT_DHT=1 but bittorrent-dht is missing' : 'SKIPPED: bittorrent-dht not installed';
    it.skipIf(!required)(`${name} (${library.missing})`, () => {
      throw new Error(`DHT_SCRAPE_REQUIRE_BITTORRENT_DHT=1 but bittorrent-dht is missing: ${library.missing}`);
    });
  });
}

const ONE_SHOT = ['--port', '0', '--no-state', '--json', '--timeout', '15'];

describe.skipIf('missing' in library)(`bittorrent-dht ${'version' in library ? library.version : ''} interop`, () => {
  /**
   * Many real nodes behind one /24 (a campus, a lab, a container host): the lookup's per-/24 brake
   * must not stop a scrape of a network declared local by its --bootstrap address. At stock k = 20
   * bittorrent-dht answers with its whole table (2-5 KB here): the replies we asked for are read
   * whatever their size. Whatever k the network's nodes use, ours is BEP 5's 8.
   */
  for (const { k, prefix, bind } of [
    { k: 20, prefix: '127.0.90', bind: '127.0.95.1' },
    { k: 8, prefix: '127.0.91', bind: '127.0.96.1' },
  ]) describe(`200 nodes in one /24 (${prefix}.0/24), k = ${k}`, () => {
    let net: BdhtFixture;
    beforeAll(async () => { net = await BdhtFixture.start({ nodes: 200, k, prefix, ttlSeconds: 150 }); }, 70_000);
    afterAll(async () => { await net?.close(); });

    it('our scrape finds every announced peer, and announces to the 8 closest of the 200', async () => {
      const infohash = hex();
      const announcers = [3, 50, 99, 120, 150, 199];
      const peerOf = (i: number): string => `${net.nodes[i]!.address}:${7_000 + i}`;
      const announced = announcers.map(peerOf);
      const port = 20_000 + prng.int(40_000);
      const byDistance = net.nodes.slice().sort((a, b) => (xorDistance(a.id, infohash) < xorDistance(b.id, infohash) ? -1 : 1)).map((n) => n.index);
      const closest = byDistance.slice(0, 8);

      await Promise.all(announcers.map((i) => net.announce(i, infohash, 7_000 + i)));

      // Where bittorrent-dht stored each announce, as ranks by distance to the info-hash (0 = closest).
      // Our lookup asks every node closer than its 8th responder, so a peer held by any of ranks 0-7
      // must be found; one held by none of them is bittorrent-dht's announce gone astray (a node
      // whose table knows only its own neighbourhood: see bdht_fixture.mjs), not ours to find.
      const storedBefore = await net.stored(infohash);
      const ranksOf = (peer: string): number[] => [...storedBefore].filter(([, peers]) => peers.includes(peer)).map(([i]) => byDistance.indexOf(i)).sort((a, b) => a - b);
      const where = announced.map((peer) => `${peer} at ranks ${ranksOf(peer).join(',')}`).join('; ');
      expect(announced.filter((peer) => !(ranksOf(peer)[0]! < 8)), `bittorrent-dht stored every announce near the info-hash: ${where}`).toEqual([]);

      const run = await runCli([infohash, '--announce', String(port), '--bootstrap', net.endpoint(0), '--bind', bind, ...ONE_SHOT]);
      expect(run.code, run.stderr).toBe(0);
      const doc = JSON.parse(run.stdout) as { peers: { address: string; port: number }[]; stats: { announced_to?: number } };
      const stats = JSON.stringify(doc.stats);
      expect(doc.peers.map((p) => `${p.address}:${p.port}`).sort(), `${stats}\nstored: ${where}`).toEqual(expect.arrayContaining(announced));

      // The nodes that now hold our peer are the 8 closest to the info-hash of all 200 (BEP 5's k).
      // A lookup held to 4 nodes of the /24 (the per-/24 brake) would hold 4 of them, no more.
      const stored = await net.stored(infohash);
      const holders = [...stored].filter(([, peers]) => peers.includes(`${bind}:${port}`)).map(([i]) => i);
      expect(holders.sort((a, b) => a - b), stats).toEqual(closest.sort((a, b) => a - b));
      expect(doc.stats.announced_to, stats).toBe(8);
    }, 40_000);
  });

  /**
   * Issue 12 item 2: read every reply we asked for. A long-lived bittorrent-dht node holds about 100
   * contacts and answers find_node and get_peers with all of them, closest first (2-3 KB and more):
   * past the 1,500 bytes we read of a datagram nobody asked for. A cold CLI scrape through one such
   * node must read its replies and those of every node after it, and find every announced peer.
   */
  describe('600 nodes whose tables hold about 100 contacts (stock k = 20, each on its own /24)', () => {
    let net: BdhtFixture;
    beforeAll(async () => { net = await BdhtFixture.start({ nodes: 600, k: 20, prefix: '127.30.0', spread: true, fill: 600, ttlSeconds: 180 }); }, 70_000);
    afterAll(async () => { await net?.close(); });

    it('a cold scrape through one of them reads their replies of several KB and finds every announced peer', async () => {
      // The premise: full tables, and so big replies, from the bootstrap node as from every other.
      // Each table's size depends on which of the 600 IDs the fixture's random fill told it of
      // (96-128 seen): 80 contacts are 2,080 bytes of "nodes" alone, well past the 1,500 we read of
      // a datagram nobody asked for.
      expect(Math.min(...net.tableSizes), `table sizes ${net.tableSizes.join(',')}`).toBeGreaterThanOrEqual(80);
      const probe = await runCli(['query', net.endpoint(0), 'get_peers', hex(), '--json', '--raw', '--bind', '127.33.0.1']);
      expect(probe.code, probe.stderr).toBe(0);
      const reply = JSON.parse(probe.stdout) as { raw: string; reply: { r: { nodes: unknown[] } } };
      expect(reply.reply.r.nodes.length).toBeGreaterThanOrEqual(80);
      expect(reply.raw.length / 2, 'the bootstrap node\'s get_peers reply, in bytes').toBeGreaterThan(2_080);

      for (const [t, announcers] of [[10, 150, 300, 450], [77, 222, 333, 599], [1, 123, 456, 543]].entries()) {
        const infohash = hex();
        const announced = announcers.map((i) => `${net.nodes[i]!.address}:${7_000 + i}`);
        await Promise.all(announcers.map((i) => net.announce(i, infohash, 7_000 + i)));
        // As in the 200-node test: bittorrent-dht must have stored each announce among the 8
        // closest nodes (ranks 0-7), where our lookup is bound to ask; otherwise it is not ours to find.
        const byDistance = net.nodes.slice().sort((a, b) => (xorDistance(a.id, infohash) < xorDistance(b.id, infohash) ? -1 : 1)).map((n) => n.index);
        const stored = await net.stored(infohash);
        const ranksOf = (peer: string): number[] => [...stored].filter(([, peers]) => peers.includes(peer)).map(([i]) => byDistance.indexOf(i)).sort((a, b) => a - b);
        const where = announced.map((peer) => `${peer} at ranks ${ranksOf(peer).join(',')}`).join('; ');
        expect(announced.filter((peer) => !(ranksOf(peer)[0]! < 8)), `bittorrent-dht stored every announce near the info-hash: ${where}`).toEqual([]);

        const run = await runCli([infohash, '--bootstrap', net.endpoint(0), '--bind', `127.33.${t + 1}.1`, ...ONE_SHOT]);
        expect(run.code, run.stderr).toBe(0);
        const doc = JSON.parse(run.stdout) as { peers: { address: string; port: number }[]; stats: { responses: number; join: { routers_answered: number }; dropped: Record<string, number> } };
        const stats = JSON.stringify(doc.stats);
        expect(doc.peers.map((p) => `${p.address}:${p.port}`), `${stats}\nstored: ${where}`).toEqual(expect.arrayContaining(announced));
        // Every reply here is over 2 KB: the bootstrap node answered, others after it, and not one
        // datagram was dropped for its size (before issue 12 every one of them was, and the scrape
        // said "none of 1 bootstrap node(s) answered").
        expect(doc.stats.join.routers_answered, stats).toBe(1);
        expect(doc.stats.responses, stats).toBeGreaterThanOrEqual(8);
        expect(doc.stats.dropped.oversized ?? 0, stats).toBe(0);
      }
    }, 90_000);
  });

  describe('a stock network (k = 20), each node on its own /24', () => {
    let net: BdhtFixture;
    let testnet: Testnet | undefined;
    beforeAll(async () => { net = await BdhtFixture.start({ nodes: 30, k: 20, prefix: '127.0.100', spread: true, ttlSeconds: 120 }); }, 30_000);
    afterAll(async () => {
      await net?.close();
      await testnet?.close();
    });

    it('our scrape finds its announce', async () => {
      const infohash = hex();
      await net.announce(7, infohash, 6_007);
      const run = await runCli([infohash, '--bootstrap', net.endpoint(0), '--bind', '127.0.97.1', ...ONE_SHOT]);
      expect(run.code, run.stderr).toBe(0);
      const doc = JSON.parse(run.stdout) as { peers: { address: string; port: number }[] };
      expect(doc.peers.map((p) => `${p.address}:${p.port}`)).toContain(`${net.nodes[7]!.address}:6007`);
    }, 30_000);

    it('finds ours: its lookup returns the address we announced', async () => {
      const infohash = hex();
      const port = 20_000 + prng.int(40_000);
      const run = await runCli([infohash, '--announce', String(port), '--bootstrap', net.endpoint(1), '--bind', '127.0.98.1', ...ONE_SHOT]);
      expect(run.code, run.stderr).toBe(1); // nobody had it before us
      expect(await net.lookup(20, infohash)).toContain(`127.0.98.1:${port}`);
    }, 30_000);

    it('our crawler records its lookups and announces, and counts it as without BEP 51', async () => {
      const bind = '127.0.99.1';
      const port = await freeUdpPort(bind);
      const crawl = startCli(['crawl', '--bootstrap', net.endpoint(2), '--bind', bind, '--port', String(port), '--no-state', '--json', '--timeout', '25', '--top', '20']);
      try {
        // Once a node lists the crawler, pick an info-hash next to the crawler's ID: every lookup for it ends at the crawler.
        let crawlerId: string | undefined;
        for (let tries = 0; crawlerId === undefined && tries < 50; tries++) {
          crawlerId = (await net.table(5)).find((c) => c.address === bind && c.port === port)?.id;
          if (crawlerId === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(crawlerId, 'bittorrent-dht learned the crawler from its queries').toBeDefined();
        const infohash = `${crawlerId!.slice(0, 38)}${(Number.parseInt(crawlerId!.slice(38), 16) ^ 1).toString(16).padStart(2, '0')}`;
        await net.announce(5, infohash, 6_005);
        const line = await crawl.line((l) => l.infohash === infohash, 10_000, `bittorrent-dht's lookup of ${infohash}`);
        expect(line).toMatchObject({ source: 'get_peers', from: net.endpoint(5) });
        const done = await crawl.done;
        expect(done.code, done.stderr).toBe(0);
        expect(done.stderr.split('\n').find((l) => l.includes(infohash)), done.stderr).toMatch(/get_peers\+announce_peer|announce_peer\+get_peers/);
        // It answers find_node but never sample_infohashes: after two tries each, without BEP 51.
        // Two tries take 10 s or more apart (SampleSchedule's answeringRetryMs), so how many of the
        // 30 nodes a 25 s crawl reaches twice depends on the machine's load: 30 on an idle machine,
        // 14 seen in a CI run under load. A third of them, and none sampled, is the claim.
        const nodes = /(\d+) sampled .*, (\d+) without BEP 51/.exec(done.stderr);
        expect(nodes?.[1], done.stderr).toBe('0');
        expect(Number(nodes?.[2]), done.stderr).toBeGreaterThanOrEqual(10);
        // A covered network is not hammered: no node got more than the per-node cap in a minute.
        const perNode = /per node: at most (\d+) queries in a minute \(cap (\d+)/.exec(done.stderr);
        expect(Number(perNode?.[1]), done.stderr).toBeLessThanOrEqual(Number(perNode?.[2]));
        console.info(`crawler on bittorrent-dht: ${done.stderr.split('\n').filter((l) => /queries sent|nodes:|per node/.test(l)).join(' |')}`);
      } finally {
        crawl.child.kill('SIGKILL');
      }
    }, 45_000);

    it('joins a network of our nodes through one of them, and finds a torrent there', async () => {
      testnet = await Testnet.start({ nodes: 30, torrents: 1, peers: 5 });
      const router = testnet.bootstrap[0]!;
      const joined = await net.join('127.0.101.1', `${router.address}:${router.port}`);
      const ours = new Set(testnet.live.map((n) => `${n.local.address}:${n.local.port}`));
      const known = joined.table.filter((c) => ours.has(`${c.address}:${c.port}`));
      expect(known.length, 'our nodes in its table').toBeGreaterThanOrEqual(8);
      const torrent = testnet.torrents[0]!;
      const peers = await net.lookup(joined.index, idToHex(torrent.infoHash));
      for (const p of torrent.peers) expect(peers).toContain(`${p.address}:${p.port}`);
    }, 40_000);
  });
});
