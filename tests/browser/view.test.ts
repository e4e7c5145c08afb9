/**
 * The live view in a real browser: Debian's headless chromium, driven over the DevTools protocol
 * (examples/lib/chromium.ts), against a local network on loopback. The page must load with no
 * console error, draw one bucket element per bucket of the node's table, show the peer a lookup
 * found, replay the lookup to its last hop, and ask for nothing but its own server on 127.0.0.1.
 *
 * Without chromium the suite is skipped loudly; with DHT_SCRAPE_REQUIRE_CHROMIUM=1 (set by .ci/run
 * when it installed chromium) a missing browser fails it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode, Testnet, idToHex, type LookupStats } from '../../src/index.js';
import { ViewFeed } from '../../src/cli/web/view-feed.js';
import { ViewServer } from '../../src/cli/web/view-server.js';
import { Browser, findChromium, type Page } from '../../examples/lib/chromium.js';
import { crawlInView, type ViewedCrawl } from '../../src/cli/lab-command.js';
import { decode, isDict } from '../../src/wire/bencode.js';

const chromium = findChromium();
const required = process.env.DHT_SCRAPE_REQUIRE_CHROMIUM === '1';

if (chromium === undefined) {
  console.warn([
    '',
    '#'.repeat(78),
    '# SKIPPED: browser tests of the live view. No chromium on the PATH (or in $CHROMIUM).',
    '# Install it (Debian/Ubuntu: apt-get install chromium) to run them.',
    '#'.repeat(78),
    '',
  ].join('\n'));
  describe('live view in a browser', () => {
    const name = required ? 'FAILED: DHT_SCRAPE_REQUIRE_CHROMIUM=1 but chromium is missing' : 'SKIPPED: chromium not installed';
    it.skipIf(!required)(name, () => {
      throw new Error('DHT_SCRAPE_REQUIRE_CHROMIUM=1 but no chromium was found');
    });
  });
}

/** Close what a suite opened, in the order given (the browser first, the network last). */
async function closeInOrder(...things: ({ close(): unknown } | undefined)[]): Promise<void> {
  for (const thing of things) await thing?.close();
}

describe.skipIf(chromium === undefined)('live view in a browser', () => {
  let net: Testnet;
  let node: DhtNode;
  let feed: ViewFeed;
  let server: ViewServer;
  let browser: Browser;
  let page: Page;
  let stats: LookupStats;
  let lastHop = 0;
  let peers: string[] = [];
  let firstBuckets = 0;

  beforeAll(async () => {
    net = await Testnet.start({ nodes: 300, torrents: 2, peers: 4, node: { table: { farBucketSizes: [] } } });
    // BEP 5's plain table (k = 8 per bucket): it splits as soon as it holds 9 nodes. With the
    // extended table's wide far buckets, a join that brought 125 nodes (1 run in 7) left one bucket.
    node = await DhtNode.create({ address: '127.0.0.1', port: 0, table: { farBucketSizes: [] }, lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
    feed = new ViewFeed({ title: 'browser test', intervalMs: 50 });
    feed.watchNode(node);
    server = await ViewServer.start(feed);
    browser = await Browser.launch(chromium!);
    page = await browser.newPage();
    await page.goto(server.url);
    // The page is live (it has drawn the fresh node's one bucket) before the node joins: the
    // table grows and splits under its eyes.
    firstBuckets = await page.waitFor<number>("document.getElementById('status').textContent === 'live' && document.querySelectorAll('#tree .bucket').length");
    await node.bootstrap(net.bootstrap.slice(0, 1), { timeoutMs: 10_000 });
    const torrent = net.torrents[0]!;
    const lookup = node.findPeers(torrent.infoHash, { timeoutMs: 10_000 });
    lookup.watch((event) => { if (event.type === 'query') lastHop = Math.max(lastHop, event.hop); });
    ({ stats } = await lookup.result);
    peers = torrent.peers.map((p) => `${p.address}:${p.port}`);
  }, 90_000);

  afterAll(async () => {
    await closeInOrder(browser, server, feed, node, net);
  });

  it('draws one bucket element per bucket of the node\'s table, our ID\'s path highlighted', async () => {
    const expected = node.table.buckets().length;
    expect(expected).toBeGreaterThan(1);
    const drawn = await page.waitFor<number>(`document.querySelectorAll('#tree .bucket').length === ${expected} && ${expected}`);
    expect(drawn).toBe(expected);
    expect(await page.evaluate<number>("document.querySelectorAll('#tree .bucket.own').length")).toBe(1);
    expect(await page.evaluate<number>("document.querySelectorAll('#tree .own-path').length")).toBe(1);
    const contacts = await page.evaluate<number>("document.querySelectorAll('#tree .bucket rect.c').length");
    expect(contacts).toBe(node.table.size);
    expect(await page.evaluate<string>("document.getElementById('own-id').textContent")).toBe(idToHex(node.id));
  });

  it('animated every split: each new bucket was drawn from the place of the bucket it split from', async () => {
    expect(firstBuckets).toBe(1);
    const expected = node.table.buckets().length - firstBuckets;
    expect(expected).toBeGreaterThan(0);
    const splits = await page.waitFor<number>(`Number(document.getElementById('tree').dataset.splits) === ${expected} && ${expected}`);
    expect(splits).toBe(expected);
    // A split of one bucket into two animates both halves: more animations than splits.
    expect(await page.evaluate<number>("Number(document.getElementById('tree').dataset.splitAnimations)")).toBeGreaterThan(expected);
  });

  it('shows the peer the lookup found, in the list and in XOR space', async () => {
    expect(stats.itemsFound).toBeGreaterThan(0);
    const listed = await page.waitFor<string[]>("[...document.querySelectorAll('#peers li.peer')].map((li) => li.textContent).filter(Boolean).length > 0 && [...document.querySelectorAll('#peers li.peer')].map((li) => li.textContent)");
    expect(listed.length).toBeGreaterThan(0);
    for (const peer of listed) expect(peers).toContain(peer);
    const labels = await page.evaluate<string[]>("[...document.querySelectorAll('#xor [data-peer]')].map((t) => t.getAttribute('data-peer'))");
    expect(labels.length).toBeGreaterThan(0);
    expect(await page.evaluate<string>("document.getElementById('lookup-summary').textContent")).toContain(`${stats.queries} queries`);
  });

  it('replays the lookup: the slider runs from nothing to the last hop', async () => {
    const start = await page.evaluate<string>(`(() => {
      const slider = document.getElementById('replay');
      slider.value = '0';
      slider.dispatchEvent(new Event('input'));
      return document.getElementById('replay-label').textContent + ' | ' + document.querySelectorAll('#peers li.peer').length;
    })()`);
    expect(start).toMatch(/ \| 0$/);
    const end = await page.evaluate<string>(`(() => {
      const slider = document.getElementById('replay');
      slider.value = slider.max;
      slider.dispatchEvent(new Event('input'));
      return document.getElementById('replay-label').textContent;
    })()`);
    expect(end).toContain(`hop ${lastHop} of ${lastHop}`);
    expect(await page.evaluate<number>("document.querySelectorAll('#peers li.peer').length")).toBeGreaterThan(0);
  });

  it('asked for nothing off its own server on 127.0.0.1, and logged no error', () => {
    const origin = new URL(server.url).origin;
    expect(page.requests.length).toBeGreaterThanOrEqual(3);
    expect(page.requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    expect(page.errors).toEqual([]);
  }, 60_000);
});

describe.skipIf(chromium === undefined)('the crawl panel in a browser, as `dht-scrape lab` wires it', () => {
  let net: Testnet;
  let node: DhtNode;
  let feed: ViewFeed;
  let server: ViewServer;
  let browser: Browser;
  let page: Page;
  let crawl: ViewedCrawl;
  const stop = new AbortController();

  beforeAll(async () => {
    // One seeder per torrent serves its info dictionary (BEP 9), as in the lab.
    net = await Testnet.start({ nodes: 120, torrents: 4, peers: 2, seeders: 1 });
    node = await DhtNode.create({ address: '127.0.0.1', port: 0, lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
    feed = new ViewFeed({ title: 'browser test: crawl', intervalMs: 50 });
    server = await ViewServer.start(feed);
    browser = await Browser.launch(chromium!);
    page = await browser.newPage();
    await page.goto(server.url);
    await page.waitFor("document.getElementById('status').textContent === 'live'");
    crawl = crawlInView(node, feed, { bootstrap: net.bootstrap.slice(0, 1), timeoutMs: 60_000, signal: stop.signal });
  }, 60_000);

  afterAll(async () => {
    stop.abort();
    await crawl?.done;
    await crawl?.names.stop();
    await closeInOrder(browser, server, feed, node, net);
  });

  it('lists what the crawl found under the names its seeders gave, as they resolve', async () => {
    const nameOf = (info: Uint8Array): string => {
      const decoded = decode(info);
      if (!isDict(decoded) || !(decoded.name instanceof Uint8Array)) throw new Error('a testnet torrent without a name');
      return new TextDecoder().decode(decoded.name);
    };
    const expected = net.torrents.map((t) => nameOf(t.info!));
    const shown = await page.waitFor<string[]>(
      `document.querySelectorAll('#seen .name').length === ${expected.length} && [...document.querySelectorAll('#seen .name')].map((n) => n.textContent)`,
      45_000,
    );
    expect([...shown].sort()).toEqual([...expected].sort());
    // Each name sits on its own torrent's row, beside that torrent's info-hash.
    const rows = await page.evaluate<string[]>("[...document.querySelectorAll('#seen li')].map((li) => li.textContent)");
    for (const torrent of net.torrents) {
      expect(rows.find((row) => row.includes(idToHex(torrent.infoHash)))).toContain(nameOf(torrent.info!));
    }
    // Nobody asked our node about these (they were sampled): the requested list says so instead of staying blank.
    expect(await page.evaluate<string>("document.getElementById('top').textContent")).toContain('none yet');
    expect(page.errors).toEqual([]);
  }, 60_000);
});
