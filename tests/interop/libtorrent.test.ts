/**
 * Interop with libtorrent, the DHT most clients run: a few libtorrent sessions on loopback (see
 * lt_fixture.py), one seeding a generated torrent, and our node and CLI talking to them.
 *
 * Needs Python's libtorrent binding (Debian: python3-libtorrent). Without it the suite is skipped
 * and says so loudly; with DHT_SCRAPE_REQUIRE_LIBTORRENT=1 (set by .ci/run when the install
 * succeeded) a missing binding is a failure instead.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idFromHex, idToHex } from '../../src/wire/id.js';
import type { Query } from '../../src/wire/krpc.js';
import { ScrapeBloom } from '../../src/wire/bloom.js';
import { sampleInfohashes, type Sample } from '../../src/dht/lookup.js';
import { DhtNode } from '../../src/dht/node.js';
import type { Endpoint } from '../../src/net/transport.js';
import { Prng } from '../helpers/prng.js';
import { findLibtorrentPython, LibtorrentFixture, type FixtureEvent, type LtSession, type ReadyEvent } from './fixture.js';
import { freeUdpPort, runCli, startCli } from '../helpers/cli.js';

const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const libtorrent = findLibtorrentPython();
const required = process.env.DHT_SCRAPE_REQUIRE_LIBTORRENT === '1';
const SEED = Number(process.env.INTEROP_SEED ?? 5);

/** Each party on its own /24: libtorrent keeps one routing entry per /24 per bucket. */
const SUBNET = 60;
const OUR_NODE = '127.0.70.1';
const CLI_SCRAPER = '127.0.71.1';
const CLI_ANNOUNCER = '127.0.72.1';
const CLI_CRAWLER = '127.0.73.1';

if ('missing' in libtorrent) {
  console.warn([
    '',
    '#'.repeat(78),
    '# SKIPPED: libtorrent interop tests. Python\'s libtorrent binding is not installed.',
    `# Tried: ${libtorrent.missing}`,
    '# Install it (Debian/Ubuntu: apt-get install python3-libtorrent) to run them,',
    '# or point LIBTORRENT_PYTHON at an interpreter that can `import libtorrent`.',
    '#'.repeat(78),
    '',
  ].join('\n'));
}

if ('missing' in libtorrent) {
  const reason = libtorrent.missing;
  describe('libtorrent interop', () => {
    // Shown as skipped (never as passed); a failure when the CI says the install succeeded.
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported' : 'SKIPPED: libtorrent not installed';
    it.skipIf(!required)(`${name} (${reason})`, () => {
      throw new Error(`DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported: ${reason}`);
    });
  });
}

describe.skipIf('missing' in libtorrent)(`libtorrent interop (${'version' in libtorrent ? `libtorrent ${libtorrent.version}` : ''})`, () => {
  const prng = new Prng(SEED);
  let fixture: LibtorrentFixture;
  let ready: ReadyEvent;
  let lt: LtSession[];
  let ours: DhtNode;
  const incoming = new QueryLog();

  beforeAll(async () => {
    if (!('python' in libtorrent)) return;
    expect(existsSync(BUILT_CLI), 'the CLI is not built: run `npm run build` (npm test does it first)').toBe(true);
    const started = Date.now();
    ({ fixture, ready } = await LibtorrentFixture.start(libtorrent.python, { sessions: 3, subnet: SUBNET, ttlSeconds: 90 }));
    lt = ready.sessions;
    console.info(`libtorrent ${ready.version} via ${ready.python}: ${lt.length} sessions ready in ${Date.now() - started} ms ` +
      `(seeder announced at ${ready.t} ms); seed ${SEED}`);
    ours = await DhtNode.create({ address: OUR_NODE, port: 0 });
    ours.onIncomingQuery((query, from) => incoming.add(query, from));
  }, 40_000);

  afterAll(async () => {
    await ours?.close();
    await fixture?.close();
  });

  const endpoint = (s: LtSession): Endpoint => ({ address: s.address, port: s.port });

  describe('d. libtorrent keeps our node in its routing table', () => {
    it('answers our queries, and our bootstrap learns every libtorrent node from its replies', async () => {
      const boot = await ours.bootstrap([endpoint(lt[0]!)], { timeoutMs: 10_000 });
      expect(boot.routersAnswered).toBe(1);
      const known = ours.table.all().map((c) => `${idToHex(c.id)}@${c.address}:${c.port}`);
      for (const s of lt) expect(known).toContain(`${s.node_id}@${s.address}:${s.port}`);

      expect(ours.rpc.counters.timeouts).toBe(0);
      for (const s of lt) {
        const ping = await ours.query(endpoint(s), 'ping', { id: ours.id });
        expect(ping.kind, `ping ${s.address}`).toBe('response');
        if (ping.kind !== 'response') continue;
        expect(idToHex(ping.response.r.id)).toBe(s.node_id);
        // BEP 42: libtorrent tells us the address it sees us at.
        expect(ping.response.ip).toEqual({ address: OUR_NODE, port: ours.local.port });
      }
      // Nothing libtorrent sent us was refused by our parser.
      expect(ours.rpc.counters.dropped.invalid).toBe(0);
      expect(ours.rpc.counters.dropped.undecodable).toBe(0);
    });

    it('its replies read as meant: BEP 33 scrape blooms, noseed, and an error that carries an r dict', async () => {
      const seeder = lt[ready.seeder]!;
      const seeded = idFromHex(ready.infohash);
      // `ready` means this session stored the seeder's announce.
      const stored = fixture.events.find((e) => e.event === 'incoming_announce' && e.infohash === ready.infohash && e.session !== ready.seeder);
      const holder = endpoint(lt[Number(stored?.session)]!);

      const plain = await ours.query(holder, 'get_peers', { id: ours.id, info_hash: seeded });
      if (plain.kind !== 'response') throw new Error(`get_peers: ${plain.kind}`);
      expect(plain.response.r.values).toContainEqual({ address: seeder.address, port: seeder.port });
      expect(plain.response.r.token).toBeDefined();

      const scrape = await ours.query(holder, 'get_peers', { id: ours.id, info_hash: seeded, scrape: true });
      if (scrape.kind !== 'response') throw new Error(`get_peers scrape: ${scrape.kind}`);
      const { BFsd, BFpe } = scrape.response.r;
      expect(BFsd !== undefined && ScrapeBloom.fromBytes(BFsd).has(seeder.address)).toBe(true);
      expect(BFpe !== undefined && ScrapeBloom.fromBytes(BFpe).has(seeder.address)).toBe(false);

      // Its only peer is a seed, so noseed filters it out (libtorrent then sends `values: []`).
      const noseed = await ours.query(holder, 'get_peers', { id: ours.id, info_hash: seeded, noseed: true });
      if (noseed.kind !== 'response') throw new Error(`get_peers noseed: ${noseed.kind}`);
      expect(noseed.response.r.values ?? []).toEqual([]);

      const badToken = await ours.query(holder, 'announce_peer', { id: ours.id, info_hash: seeded, port: 6881, token: new Uint8Array([1, 2, 3, 4]) });
      if (badToken.kind !== 'error') throw new Error(`announce_peer with a bad token: ${badToken.kind}`);
      expect(badToken.error.e.code).toBe(203);
      expect(ours.rpc.counters.dropped.invalid).toBe(0);
    });

    it('sends us its own queries (it queries back a node that queried it)', async () => {
      const started = Date.now();
      const firsts = await Promise.all(lt.map((s) => incoming.waitFor((e) => e.from.address === s.address, 15_000, `a query from ${s.address}`)));
      for (const [i, first] of firsts.entries()) {
        expect(first.from.port).toBe(lt[i]!.port);
        expect(idToHex(first.query.a.id)).toBe(lt[i]!.node_id);
      }
      console.info(`libtorrent queried us back within ${Date.now() - started} ms (${firsts.map((f) => f.query.q).join(', ')})`);
      // We answered them: each querier got a reply, so none of it was dropped as invalid.
      expect(ours.rpc.counters.dropped.invalid).toBe(0);
    }, 20_000);

    it('lists our node among its live nodes', async () => {
      const mine = { id: idToHex(ours.id), address: OUR_NODE, port: ours.local.port };
      for (const [i] of lt.entries()) {
        const listed = await pollFixture(fixture, { cmd: 'live_nodes', session: i }, (e) =>
          e.event === 'live_nodes' && e.session === i && liveNodes(e).some((n) => n.id === mine.id && n.address === mine.address && n.port === mine.port),
        15_000, `session ${i} to list our node ${mine.address}:${mine.port}`);
        expect(liveNodes(listed).length).toBeGreaterThanOrEqual(2);
      }
    }, 50_000);

    // libtorrent, once it keeps us, lists our own node in the `nodes` of its replies to us.
    const seenByLookup = { asked: [] as string[], closest: [] as string[] };
    it('a get_peers lookup through libtorrent asks every libtorrent node', async () => {
      const lookup = ours.findPeers(prng.bytes(20), { timeoutMs: 5_000 });
      for await (const event of lookup) if (event.type === 'query') seenByLookup.asked.push(idToHex(event.to.id));
      const result = await lookup.result;
      seenByLookup.closest = result.closest.map((c) => idToHex(c.node.id));
      for (const s of lt) expect(seenByLookup.asked).toContain(s.node_id);
      expect(result.stats.timeouts).toBe(0);
    });

    // libtorrent lists our node in its replies once we are in its table: the lookup must skip it.
    it('our lookup never queries our own node, though libtorrent returns it in `nodes`', () => {
      expect(seenByLookup.asked).not.toContain(idToHex(ours.id));
      expect(seenByLookup.closest).not.toContain(idToHex(ours.id));
    });
  });

  describe('c. what libtorrent looks up and announces through us, and its samples', () => {
    const announced = idToHex(prng.bytes(20));

    it('sees the get_peers and announce_peer of a libtorrent session that adds a torrent', async () => {
      const announcer = lt[1]!;
      const since = incoming.size;
      fixture.send({ cmd: 'announce', session: 1, infohash: announced });
      const fromIt = (q: IncomingQuery['query']['q']) => (e: IncomingQuery) =>
        e.from.address === announcer.address && e.query.q === q && 'info_hash' in e.query.a && idToHex(e.query.a.info_hash) === announced;
      const lookup = await incoming.waitFor(fromIt('get_peers'), 15_000, `get_peers ${announced} from libtorrent`, since);
      const announce = await incoming.waitFor(fromIt('announce_peer'), 15_000, `announce_peer ${announced} from libtorrent`, since);
      expect(lookup.at).toBeLessThanOrEqual(announce.at);
      if (announce.query.q !== 'announce_peer') throw new Error('unreachable');
      // libtorrent announces with implied_port; the peer we store is its UDP (= TCP) port.
      expect(announce.query.a.implied_port).toBe(true);
      expect(ours.peers.peers(idFromHex(announced), { max: 100, family: 4, noseed: false }))
        .toContainEqual({ address: announcer.address, port: announcer.port });
    }, 20_000);

    it('collects samples from every libtorrent node with sample_infohashes (BEP 51)', async () => {
      const samples: Sample[] = [];
      const lookup = ours.lookup(prng.bytes(20), sampleInfohashes, { seeds: ours.table.all(), timeoutMs: 10_000 });
      const answered = new Set<string>();
      for await (const event of lookup) {
        if (event.type !== 'item') continue;
        samples.push(event.item);
        answered.add(event.from.address);
      }
      for (const s of lt) expect(answered, `${s.address} answered sample_infohashes`).toContain(s.address);
      const hashes = new Set(samples.flatMap((s) => s.infoHashes.map(idToHex)));
      expect(hashes).toContain(ready.infohash);
      expect(hashes).toContain(announced);
      for (const sample of samples) {
        expect(sample.interval).toBe(21_600);
        expect(sample.num).toBeGreaterThanOrEqual(sample.infoHashes.length);
      }
    });

    it('libtorrent reads our own sample_infohashes reply', async () => {
      const since = fixture.events.length;
      fixture.send({ cmd: 'sample', session: 2, address: OUR_NODE, port: ours.local.port });
      const reply = await fixture.waitFor((e) => e.event === 'samples' && e.source === `${OUR_NODE}:${ours.local.port}`, 10_000, 'libtorrent to sample us', since);
      expect(reply.samples).toContain(announced);
      expect(reply.num).toBe(ours.peers.numInfoHashes);
      expect(reply.interval).toBe(21_600);
    });
  });

  // Before a. and b.: their CLI nodes are gone once they exit, and libtorrent's own announces slow
  // down (to its 15 s RPC timeout) while dead nodes sit in its table.
  describe('c. the crawler (dht-scrape crawl) against libtorrent', () => {
    it('samples libtorrent, is kept in its table, and records what it looks up and announces', async () => {
      const port = await freeUdpPort(CLI_CRAWLER);
      const crawl = startCli(['crawl', '--bootstrap', `${lt[0]!.address}:${lt[0]!.port}`, '--bind', CLI_CRAWLER, '--port', String(port),
        '--no-state', '--json', '--timeout', '40', '--top', '50', '--query-interval', '1']);
      try {
        const sampled = await crawl.line((l) => l.infohash === ready.infohash, 10_000, 'the seeded info_hash');
        expect(sampled.source).toBe('sample');
        // libtorrent holds it; our node too if the seeder's re-announce reached it.
        expect([...lt.map((s) => `${s.address}:${s.port}`), `${OUR_NODE}:${ours.local.port}`]).toContain(sampled.from);

        const crawler = `${CLI_CRAWLER}:${port}`;
        await pollFixture(fixture, { cmd: 'live_nodes', session: 2 }, (e) =>
          e.event === 'live_nodes' && e.session === 2 && liveNodes(e).some((n) => `${n.address}:${n.port}` === crawler),
        15_000, `libtorrent to keep the crawler ${crawler}`);

        const infohash = idToHex(prng.bytes(20));
        fixture.send({ cmd: 'announce', session: 2, infohash });
        const looked = await crawl.line((l) => l.infohash === infohash, 15_000, `libtorrent's lookup of ${infohash}`);
        expect(looked).toMatchObject({ source: 'get_peers', from: `${lt[2]!.address}:${lt[2]!.port}` });
        // The announce follows the lookup; it shows in the summary's list of kinds that named it.
        await fixture.waitFor((e) => e.event === 'incoming_announce' && e.infohash === infohash && e.session === 0, 15_000, 'libtorrent to announce');
        // A barrier, not a sleep: the crawler answers datagrams in order, so once it has answered
        // this ping it has handled the announce libtorrent sent it before session 0 reported its own.
        const barrier = await ours.query({ address: CLI_CRAWLER, port }, 'ping', { id: ours.id });
        expect(barrier.kind).toBe('response');
        crawl.child.kill('SIGINT');
        const done = await crawl.done;
        expect(done.code, done.stderr).toBe(0);
        const listed = done.stderr.split('\n').find((l) => l.includes(infohash));
        expect(listed, done.stderr).toMatch(/get_peers\+announce_peer|announce_peer\+get_peers/);
        // Every libtorrent node answered sample_infohashes: none counted as lacking BEP 51.
        const nodes = /(\d+) sampled .*, (\d+) without BEP 51/.exec(done.stderr);
        expect(Number(nodes?.[1]), done.stderr).toBeGreaterThanOrEqual(lt.length);
        expect(nodes?.[2], done.stderr).toBe('0');
      } finally {
        crawl.child.kill('SIGKILL');
      }
    }, 60_000);
  });

  describe('a. scraper: dht-scrape finds the libtorrent seeder', () => {
    it('dht-scrape <infohash> --bootstrap <libtorrent node> --json lists the seeder', async () => {
      const seeder = lt[ready.seeder]!;
      const run = await runCli([ready.infohash, '--bootstrap', `${lt[1]!.address}:${lt[1]!.port}`, ...cliFlags(CLI_SCRAPER)]);
      expect(run.code, run.stderr).toBe(0);
      const doc = JSON.parse(run.stdout) as { peers: { address: string; port: number }[]; stats: { time_to_first_peer_ms: number | null } };
      expect(doc.peers.map((p) => `${p.address}:${p.port}`)).toContain(`${seeder.address}:${seeder.port}`);
      console.info(`dht-scrape found the libtorrent seeder in ${run.ms} ms (first peer after ${doc.stats.time_to_first_peer_ms} ms of lookup)`);
    });
  });

  describe('b. announce: libtorrent finds us after dht-scrape --announce', () => {
    it('a libtorrent get_peers lookup returns the address we announced', async () => {
      const infohash = idToHex(prng.bytes(20));
      const port = 20_000 + prng.int(40_000);
      const run = await runCli([infohash, '--announce', String(port), '--bootstrap', `${lt[0]!.address}:${lt[0]!.port}`, ...cliFlags(CLI_ANNOUNCER)]);
      expect(run.code, run.stderr).toBe(1); // nobody had the torrent before us
      const doc = JSON.parse(run.stdout) as { stats: { announced_to?: number } };
      expect(doc.stats.announced_to).toBeGreaterThanOrEqual(lt.length);
      const started = Date.now();
      const found = await pollFixture(fixture, { cmd: 'get_peers', session: 2, infohash }, (e) =>
        e.event === 'get_peers_reply' && e.infohash === infohash && Array.isArray(e.peers) && e.peers.includes(`${CLI_ANNOUNCER}:${port}`),
      15_000, `libtorrent to find ${CLI_ANNOUNCER}:${port}`);
      expect(found.session).toBe(2);
      console.info(`libtorrent found our announce in ${Date.now() - started} ms`);
    }, 40_000);
  });
});

function cliFlags(bind: string): string[] {
  return ['--bind', bind, '--port', '0', '--no-state', '--json', '--timeout', '15'];
}


/**
 * libtorrent posts no event when one of its lookups ends, so a lookup that raced an announce is
 * simply asked again: send the command every 2 s until a matching event arrives or time is up.
 */
async function pollFixture(fixture: LibtorrentFixture, command: Parameters<LibtorrentFixture['send']>[0], match: (e: FixtureEvent) => boolean, timeoutMs: number, what: string): Promise<FixtureEvent> {
  const since = fixture.events.length;
  fixture.send(command);
  const repeat = setInterval(() => fixture.send(command), 2_000);
  try {
    return await fixture.waitFor(match, timeoutMs, what, since);
  } finally {
    clearInterval(repeat);
  }
}

function liveNodes(event: FixtureEvent): { id: string; address: string; port: number }[] {
  return Array.isArray(event.nodes) ? (event.nodes as { id: string; address: string; port: number }[]) : [];
}

interface IncomingQuery { query: Query; from: Endpoint; at: number }

/** Every query our node received, and a way to wait for one. */
class QueryLog {
  private readonly entries: IncomingQuery[] = [];
  private readonly waiters = new Set<{ match: (e: IncomingQuery) => boolean; resolve: (e: IncomingQuery) => void }>();

  get size(): number { return this.entries.length; }

  add(query: Query, from: Endpoint): void {
    const entry = { query, from, at: Date.now() };
    this.entries.push(entry);
    for (const waiter of this.waiters) {
      if (waiter.match(entry)) { this.waiters.delete(waiter); waiter.resolve(entry); }
    }
  }

  waitFor(match: (e: IncomingQuery) => boolean, timeoutMs: number, what: string, since = 0): Promise<IncomingQuery> {
    const seen = this.entries.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (e: IncomingQuery) => { clearTimeout(timer); resolve(e); } };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const heard = this.entries.map((e) => `${e.query.q} from ${e.from.address}:${e.from.port}`).slice(-10).join('; ');
        reject(new Error(`waiting for ${what}: nothing within ${timeoutMs} ms (last queries: ${heard || 'none'})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

