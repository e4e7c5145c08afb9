/**
 * Interop with aria2 (Debian's `aria2c`), a download manager with its own Mainline DHT: a network
 * of our nodes (Testnet) on loopback, aria2 joining it through one node (aria2-fixture.ts), and
 * our CLI and crawler beside it. The four checks of every client (docs/interop.md): our scrape
 * finds its announce; it finds ours; our crawler records its traffic; it joins through our nodes.
 *
 * Without aria2c the suite is skipped and says so loudly; with DHT_SCRAPE_REQUIRE_ARIA2=1 (set by
 * .ci/run when the install succeeded) a missing aria2c is a failure instead.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, isDict } from '../../src/wire/bencode.js';
import { idToHex } from '../../src/wire/id.js';
import type { Query } from '../../src/wire/krpc.js';
import { sha1 } from '../../src/peer/ut-metadata.js';
import { decodeHandshake, HANDSHAKE_LENGTH, type Handshake } from '../../src/peer/peer-wire.js';
import { Testnet } from '../../src/modes/testnet.js';
import type { Endpoint } from '../../src/net/transport.js';
import { freeUdpPort, runCli, startCli } from '../helpers/cli.js';
import { Prng } from '../helpers/prng.js';
import { Aria2, findAria2 } from './aria2-fixture.js';

const aria2 = findAria2();
const required = process.env.DHT_SCRAPE_REQUIRE_ARIA2 === '1';
const prng = new Prng(Number(process.env.INTEROP_SEED ?? 16));
const hex = (): string => idToHex(prng.bytes(20));

/** Each party on its own address: aria2 on 127.0.120.x (one per test), ours on 127.0.121-123.1. */
const SCRAPER = '127.0.121.1';
const ANNOUNCER = '127.0.122.1';
const CRAWLER = '127.0.123.1';
const ONE_SHOT = ['--port', '0', '--no-state', '--json', '--timeout', '15'];

if ('missing' in aria2) {
  console.warn([
    '',
    '#'.repeat(78),
    '# SKIPPED: aria2 interop tests. aria2c is not installed (Debian/Ubuntu: apt-get install aria2).',
    `# ${aria2.missing}`,
    '#'.repeat(78),
    '',
  ].join('\n'));
  describe('aria2 interop', () => {
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_ARIA2=1 but aria2c is missing' : 'SKIPPED: aria2c not installed';
    it.skipIf(!required)(`${name} (${aria2.missing})`, () => {
      throw new Error(`DHT_SCRAPE_REQUIRE_ARIA2=1 but aria2c is missing: ${aria2.missing}`);
    });
  });
}

describe.skipIf('missing' in aria2)(`aria2 ${'version' in aria2 ? aria2.version : ''} interop (loopback)`, () => {
  let testnet: Testnet;
  /** Every query our nodes received, with whom from. */
  const heard: { query: Query; from: Endpoint; node: number }[] = [];
  const running: Aria2[] = [];
  const endpoint = (i: number): Endpoint => testnet.bootstrap[i]!;
  const text = (e: Endpoint): string => `${e.address}:${e.port}`;

  beforeAll(async () => {
    // One torrent with a real seeder (BEP 9 metadata) among its 3 peers.
    testnet = await Testnet.start({ nodes: 30, torrents: 1, peers: 3, seeders: 1 });
    testnet.live.forEach((node, i) => node.onIncomingQuery((query, from) => heard.push({ query, from, node: i })));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(running.map((a) => a.close()));
    await testnet?.close();
  });

  async function start(options: Omit<Parameters<typeof Aria2.start>[0], 'ttlSeconds'>): Promise<Aria2> {
    const client = await Aria2.start({ ...options, ttlSeconds: 60 });
    running.push(client);
    return client;
  }

  it('joins a network of our nodes through one of them, finds our seeder there and fetches its metadata (BEP 9)', async () => {
    const torrent = testnet.torrents[0]!;
    const infohash = idToHex(torrent.infoHash);
    const client = await start({ bind: '127.0.120.1', entry: endpoint(0), infohash, metadataOnly: true });
    await client.waitFor((e) => e.event === 'complete', 45_000, 'aria2 to fetch the metadata');
    await client.waitFor((e) => e.event === 'saved', 5_000, 'aria2 to save the .torrent');

    const saved = client.savedTorrents().get(`${infohash}.torrent`);
    expect(saved, `aria2 saved ${infohash}.torrent`).toBeDefined();
    const file = decode(saved!);
    const info = isDict(file) ? file.info : undefined;
    expect(info !== undefined && isDict(info), 'the saved .torrent has an info dictionary').toBe(true);
    expect(idToHex(sha1(encode(info!)))).toBe(infohash);
    const seeder = torrent.peers[0]!;
    expect(client.events.some((e) => e.event === 'connecting' && e.peer === text(seeder))).toBe(true);

    // It joined, not just asked the one node it was given: other nodes of ours heard from it too.
    const asked = new Set(heard.filter((h) => h.from.address === client.dht.address && h.from.port === client.dht.port).map((h) => h.node));
    const entry = testnet.live.findIndex((n) => n.local.port === endpoint(0).port && n.local.address === endpoint(0).address);
    expect(asked.has(entry), 'the entry point heard from aria2').toBe(true);
    expect(asked.size, 'our nodes that aria2 queried').toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('our scrape finds its announce', async () => {
    const infohash = hex();
    const client = await start({ bind: '127.0.120.2', entry: endpoint(1), infohash });
    // aria2 announces (to the closest nodes that gave it a token) once its lookup is over.
    await client.waitFor((e) => e.event === 'dht' && e.dir === 'received' && e.y === 'response' && e.q === 'announce_peer', 45_000, 'an answered announce_peer from aria2');
    const run = await runCli([infohash, '--bootstrap', text(endpoint(2)), '--bind', SCRAPER, ...ONE_SHOT]);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as { peers: { address: string; port: number }[] };
    // Its peer is its TCP port at the address of its DHT socket (the announce's source).
    expect(doc.peers.map((p) => `${p.address}:${p.port}`)).toContain(`${client.dht.address}:${client.tcpPort}`);
  }, 60_000);

  it('finds ours: it connects to the peer our scrape announced, for that torrent', async () => {
    const infohash = hex();
    const peer = await handshakeCatcher(ANNOUNCER);
    try {
      const run = await runCli([infohash, '--announce', String(peer.port), '--bootstrap', text(endpoint(0)), '--bind', ANNOUNCER, ...ONE_SHOT]);
      expect(run.code, run.stderr).toBe(1); // nobody had it before us
      expect((JSON.parse(run.stdout) as { stats: { announced_to?: number } }).stats.announced_to).toBeGreaterThanOrEqual(1);
      const client = await start({ bind: '127.0.120.3', entry: endpoint(3), infohash });
      const handshake = await peer.first(45_000, () => client.tail());
      expect(idToHex(handshake.infoHash)).toBe(infohash);
      // aria2's peer ID: "A2-" then its version (A2-1-36-0-).
      expect(Buffer.from(handshake.peerId).subarray(0, 3).toString('latin1')).toBe('A2-');
    } finally {
      peer.server.close();
    }
  }, 60_000);

  it('our crawler records its lookup and its announce', async () => {
    const port = await freeUdpPort(CRAWLER);
    const crawler = { address: CRAWLER, port };
    const crawl = startCli(['crawl', '--bootstrap', text(endpoint(2)), '--bind', CRAWLER, '--port', String(port), '--no-state', '--json', '--timeout', '50', '--top', '20']);
    try {
      // The crawler's ID, from its first query to one of our nodes; then an info-hash next to it,
      // so that aria2's lookup ends at the crawler once our nodes list it in their replies.
      const crawlerId = await firstQueryFrom(crawler, 15_000);
      await until(() => testnet.live.some((n) => n.contacts().some((c) => c.address === CRAWLER && c.port === port)), 15_000, 'our nodes to keep the crawler in their tables');
      const infohash = `${crawlerId.slice(0, 38)}${(Number.parseInt(crawlerId.slice(38), 16) ^ 1).toString(16).padStart(2, '0')}`;
      const client = await start({ bind: '127.0.120.4', entry: endpoint(1), infohash });

      const line = await crawl.line((l) => l.infohash === infohash, 45_000, `aria2's lookup of ${infohash}`);
      expect(line).toMatchObject({ source: 'get_peers', from: text(client.dht) });
      await client.waitFor((e) => e.event === 'dht' && e.dir === 'received' && e.y === 'response' && e.q === 'announce_peer' && e.peer === text(crawler),
        20_000, 'aria2 to announce to the crawler');
      crawl.child.kill('SIGINT');
      const done = await crawl.done;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stderr.split('\n').find((l) => l.includes(infohash)), done.stderr).toMatch(/get_peers\+announce_peer|announce_peer\+get_peers/);
    } finally {
      crawl.child.kill('SIGKILL');
    }
  }, 90_000);

  /** The ID (hex) in the first query one of our nodes receives from `from`. */
  function firstQueryFrom(from: Endpoint, timeoutMs: number): Promise<string> {
    const match = (h: { from: Endpoint }): boolean => h.from.address === from.address && h.from.port === from.port;
    return new Promise((resolve, reject) => {
      const stops: (() => void)[] = [];
      const timer = setTimeout(() => { for (const s of stops) s(); reject(new Error(`no query from ${text(from)} within ${timeoutMs} ms`)); }, timeoutMs);
      const seen = heard.find(match);
      if (seen !== undefined) { clearTimeout(timer); resolve(idToHex(seen.query.a.id)); return; }
      for (const node of testnet.live) {
        stops.push(node.onIncomingQuery((query, source) => {
          if (!match({ from: source })) return;
          clearTimeout(timer);
          for (const s of stops) s();
          resolve(idToHex(query.a.id));
        }));
      }
    });
  }
});

/** A TCP listener that keeps the first BitTorrent handshake a peer sends it. */
async function handshakeCatcher(address: string): Promise<{ server: Server; port: number; first: (timeoutMs: number, context: () => string) => Promise<Handshake> }> {
  let resolveFirst: (h: Handshake) => void = () => {};
  const got = new Promise<Handshake>((resolve) => { resolveFirst = resolve; });
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < HANDSHAKE_LENGTH) return;
      try { resolveFirst(decodeHandshake(buffered.subarray(0, HANDSHAKE_LENGTH))); } catch { /* not a handshake: keep waiting for one */ }
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.setTimeout(10_000, () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, address, resolve); });
  const { port } = server.address() as { port: number };
  return {
    server,
    port,
    first: (timeoutMs, context) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no handshake on ${address}:${port} within ${timeoutMs} ms\naria2:\n${context()}`)), timeoutMs);
      void got.then((h) => { clearTimeout(timer); resolve(h); });
    }),
  };
}

/** Poll a condition of in-process state that has no event of its own (a table entry), every 100 ms, bounded. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waiting for ${what}: nothing within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
