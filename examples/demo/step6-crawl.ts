/**
 * Step 6: a few seconds of crawling with the project's Crawler (src/crawl/crawl.ts). Two ways to learn
 * which torrents a DHT is talking about, at once:
 *  - passive capture: every get_peers and announce_peer that reaches our node names an info-hash;
 *  - active sampling: BEP 51 sample_infohashes asks nodes for a sample of the info-hashes they
 *    store, each node at most once per the `interval` it asks for, while walks through the lookup
 *    engine find more nodes to ask.
 */
import { Crawler, idToHex, randomIdWithPrefix, type FoundInfoHash } from '../../src/index.js';
import type { DemoContext } from './context.js';

const CRAWL_MS = 3_000;
const ROUND_MS = 250;
/** Samples listed as they arrive: enough to see them come, few enough that the tour fits 200 lines. */
const SHOWN = 6;

export async function crawlStep({ net, me, out, lookupOptions }: DemoContext): Promise<void> {
  out.say(
    'Passive capture: our node notes the info-hash of each get_peers and announce_peer it answers. ' +
      'Lookups travel to the nodes closest to their target, so a node hears of the torrents near its own ' +
      'ID: three nodes elsewhere now announce torrents that lie near ours.',
  );
  out.say(
    'Active sampling (BEP 51): the crawler asks the nodes it knows for samples of the info-hashes they ' +
      'store, each node no more often than the "interval" it asks for, and walks toward random targets ' +
      'to meet more nodes. Three seconds:',
  );

  // Every passive find is shown; samples, which come by the dozen, only up to SHOWN.
  let samplesShown = 0;
  const started = Date.now();
  const onInfoHash = (found: FoundInfoHash): void => {
    if (found.source === 'sample' && samplesShown++ >= SHOWN) return;
    const at = `+${((found.firstSeenMs - started) / 1000).toFixed(2)} s`;
    out.block([`${at.padStart(8)}  ${idToHex(found.infoHash).slice(0, 16)}…  ${found.source.padEnd(13)}  ${found.from.address}:${found.from.port}`]);
  };
  const crawler = new Crawler(me, { bootstrap: net.bootstrap.slice(0, 1), timeoutMs: CRAWL_MS, roundIntervalMs: ROUND_MS, onInfoHash });

  // Three downloaders elsewhere on the network, one after another, announce torrents near our ID.
  const downloaders = net.live.slice(-3);
  const chatter = Promise.all(downloaders.map(async (node, i) => {
    await sleep(500 + i * 800);
    await node.announce(randomIdWithPrefix(me.id, 14 + i), { lookup: { ...lookupOptions, timeoutMs: CRAWL_MS } });
  }));
  const report = await crawler.run();
  await chatter;

  const by = report.discoveredBy;
  if (by.sample > SHOWN) out.block([`… and ${by.sample - SHOWN} more from samples`]);
  const onNetwork = net.torrents.filter((t) => crawler.store.has(t.infoHash)).length;
  out.say(
    `${report.sampleReplies} sample replies carrying ${report.samplesReceived} info-hashes (repeats included), ` +
      `${report.walks} walks; ${report.queriesIn.get_peers ?? 0} get_peers and ${report.queriesIn.announce_peer ?? 0} ` +
      `announce_peer received, in ${(report.durationMs / 1000).toFixed(1)} s.`,
  );
  out.result(`crawl: ${report.discovered} info_hashes, ${by.sample} sampled, ${by.get_peers + by.announce_peer} by passive capture`);
  out.block([
    `sampled: ${onNetwork} of the ${net.torrents.length} torrents stored on the network`,
    `passive: ${by.get_peers} first seen in get_peers, ${by.announce_peer} in announce_peer`,
  ]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
