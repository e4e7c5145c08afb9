/**
 * The picture of docs/live-view.md, made by `npm run docs` from a seeded run: the docs' in-memory
 * network (scenario.ts: seeded IDs, frozen clock, one datagram per turn), one cold get_peers
 * lookup from the bootstrap node (as the CLI's scrape), our node joining, then a BEP 51 walk of the ID space in sixteen
 * sample_infohashes lookups that the crawl panel reports one by one, on a clock that moves one
 * second per lookup. Headless chromium (examples/lib/chromium.ts) draws it.
 *
 * The same seed gives the same events, so the PNG is only redrawn when what it shows changed: a
 * fingerprint of the events and of the page's assets is kept next to it (live-view.json). A
 * machine without chromium leaves the picture as it is, and says so.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfoHashStore, randomId, sampleInfohashes } from '../../src/index.js';
import { tableView } from '../../src/table/routing-table-view.js';
import { ViewFeed, type ViewEvent } from '../../src/cli/web/view-feed.js';
import { ViewServer } from '../../src/cli/web/view-server.js';
import { Browser, findChromium } from '../lib/chromium.js';
import { buildScenario, DOCS_CLOCK, NEVER_MS, type Scenario } from './scenario.js';
import { withSeededRandom } from './seeded-random.js';

const SEED = 0x11fe_71e;
const WIDTH = 1280;
const HEIGHT = 1900;
const WALK_SLICES = 16;

/** Redraw docs/img/live-view.png if what it shows changed (or `force`). Returns what was done. */
export async function liveViewScreenshot(root: string, force = false): Promise<string> {
  const png = join(root, 'docs', 'img', 'live-view.png');
  const stamp = join(root, 'docs', 'img', 'live-view.json');
  const chromium = findChromium();
  if (chromium === undefined) return 'screenshot: skipped, no chromium on the PATH (Debian: apt-get install chromium); docs/img/live-view.png left as it is';
  return withSeededRandom(SEED, async () => {
    const scenario = await buildScenario();
    let clock = DOCS_CLOCK;
    const feed = new ViewFeed({ title: 'docs: 160 nodes in memory, seeded', intervalMs: 20, now: () => clock });
    const events: ViewEvent[] = [];
    feed.subscribe((event) => { if (event.kind !== 'table') events.push(event); });
    const server = await ViewServer.start(feed);
    let browser: Browser | undefined;
    try {
      browser = await Browser.launch(chromium);
      const page = await browser.newPage();
      await page.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
      await page.goto(server.url);
      feed.watchNode(scenario.learner);
      await page.waitFor("document.getElementById('status').textContent === 'live'");
      // As the CLI's scrape: the get_peers lookup starts cold, from the bootstrap node alone, so
      // the picture shows its hops; the node joins after it (the routing table panel).
      const entry = [scenario.nodes[0]!.local];
      await scenario.learner.findPeers(scenario.torrents[0]!.infoHash, { routers: entry }).result;
      await scenario.learner.bootstrap(entry, { timeoutMs: NEVER_MS });
      await walk(scenario, feed, () => { clock += 1_000; });
      const table = tableView(scenario.learner.tableReader);
      const fingerprint = digest(root, JSON.stringify({ table, events }));
      if (!force && existsSync(png) && readStamp(stamp) === fingerprint) return 'screenshot: docs/img/live-view.png is up to date';
      await page.waitFor(`document.querySelectorAll('#tree .bucket').length === ${table.buckets.length} && ` +
        `document.getElementById('table-summary').textContent.startsWith('${table.nodes} contacts') && ` +
        `!document.getElementById('crawl-panel').hidden && ` +
        `document.getElementById('crawl-summary').textContent.startsWith('${events.filter((e) => e.kind === 'crawl').at(-1)?.crawl.discovered ?? 0} ')`);
      // Show the get_peers lookup (the walk's lookups came after it), replayed to its end.
      await page.evaluate(`(() => {
        const select = document.getElementById('lookup-select');
        const option = [...select.options].find((o) => o.textContent.startsWith('get_peers'));
        select.value = option.value;
        select.dispatchEvent(new Event('change'));
      })()`);
      await page.waitFor("document.getAnimations().every((a) => a.playState === 'finished')");
      writeFileSync(png, await page.screenshot(WIDTH, HEIGHT));
      writeFileSync(stamp, `${JSON.stringify({ seed: SEED, fingerprint }, null, 2)}\n`);
      return 'screenshot: redrew docs/img/live-view.png';
    } finally {
      await browser?.close();
      await server.close();
      feed.close();
      await scenario.close();
    }
  });
}

/**
 * A crawl the panel can show without timers: sixteen sample_infohashes lookups, one toward each
 * sixteenth of the ID space (as docs/crawling.md's walk), each new info-hash counted where the
 * node that sampled it sits, and the panel redrawn after each lookup, one second later.
 */
async function walk(scenario: Scenario, feed: ViewFeed, tick: () => void): Promise<void> {
  const store = new InfoHashStore({ seed: 1 });
  let discovered = 0;
  let elapsedMs = 0;
  const report = feed.crawlReporter({ progress: () => ({ elapsedMs, discovered }), store });
  for (let slice = 0; slice < WALK_SLICES; slice++) {
    const target = randomId();
    target[0] = (slice << 4) | (target[0]! & 0x0f);
    const lookup = scenario.learner.lookup(target, sampleInfohashes);
    for await (const event of lookup) {
      if (event.type !== 'item') continue;
      for (const infoHash of event.item.infoHashes) {
        if (store.record(infoHash, 'sample', event.from.address, DOCS_CLOCK + elapsedMs) !== 'new') continue;
        discovered++;
        feed.infoHashFound({ infoHash, firstSeenMs: DOCS_CLOCK + elapsedMs, source: 'sample', from: event.from, fromId: event.from.id });
      }
    }
    await lookup.result;
    elapsedMs += 1_000;
    tick();
    report();
  }
}

/** What the picture depends on: the events drawn and the page that draws them. */
function digest(root: string, events: string): string {
  const hash = createHash('sha256').update(events);
  const web = join(root, 'web');
  for (const file of readdirSync(web).sort()) hash.update(file).update(readFileSync(join(web, file)));
  return hash.digest('hex');
}

function readStamp(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return typeof parsed === 'object' && parsed !== null && 'fingerprint' in parsed && typeof parsed.fingerprint === 'string' ? parsed.fingerprint : undefined;
}
