/**
 * Step 6: a few seconds of crawling. Two ways to learn which torrents a DHT is talking about:
 *  - passive capture: every get_peers and announce_peer that reaches our node names an info-hash
 *    (node.onIncomingQuery);
 *  - active sampling: BEP 51 sample_infohashes asks nodes for a sample of the info-hashes they
 *    store, walking the keyspace with the same lookup engine (the sampleInfohashes strategy).
 */
import { idToHex, randomId, randomIdWithPrefix, sampleInfohashes, type Endpoint, type Query } from '../../src/index.js';
import type { DemoContext } from './context.js';

type Source = 'sample' | 'get_peers' | 'announce_peer';

const CRAWL_MS = 3_000;
const ROUND_PAUSE_MS = 150;
const SHOWN = 24;

export async function crawlStep({ net, me, out, lookupOptions }: DemoContext): Promise<void> {
  out.say(
    'Passive capture: our node answers every query it receives, and notes the info-hash of each get_peers and ' +
      'announce_peer. Lookups for a torrent travel to the nodes closest to its info-hash, so a node hears about ' +
      'the torrents near its own ID. To see some, three nodes elsewhere on the network now announce torrents ' +
      'whose info-hashes happen to lie near our ID.',
  );
  out.say(
    'Active sampling (BEP 51): meanwhile our node walks the keyspace with sample_infohashes lookups to random ' +
      'targets; each reply carries up to 20 info-hashes the answering node stores. (A real crawler honours each ' +
      "node's \"interval\" before asking it again; here every lookup goes to fresh targets.)",
  );
  out.blank();

  /** Each info-hash, with every way it reached us. */
  const seen = new Map<string, Set<Source>>();
  let shown = 0;
  const note = (infoHash: Uint8Array, source: Source, from: Endpoint, at: string): void => {
    const hex = idToHex(infoHash);
    const sources = seen.get(hex);
    if (sources !== undefined) { sources.add(source); return; }
    seen.set(hex, new Set([source]));
    if (shown++ < SHOWN) out.block([`${at.padStart(9)}  ${hex}  ${source.padEnd(13)}  from ${from.address}:${from.port}`]);
  };
  const started = Date.now();
  const elapsed = (): string => `+${((Date.now() - started) / 1000).toFixed(2)} s`;
  const unsubscribe = me.onIncomingQuery((query: Query, from: Endpoint) => {
    if (query.q === 'get_peers' || query.q === 'announce_peer') note(query.a.info_hash, query.q, from, elapsed());
  });

  // Three downloaders elsewhere on the network, one after another, announce torrents near our ID.
  const downloaders = net.live.slice(-3);
  const chatter = Promise.all(downloaders.map(async (node, i) => {
    await sleep(500 + i * 800);
    await node.announce(randomIdWithPrefix(me.id, 14 + i), { lookup: { ...lookupOptions, timeoutMs: CRAWL_MS } });
  }));

  let lookups = 0;
  let queries = 0;
  while (Date.now() - started < CRAWL_MS) {
    const lookup = me.lookup(randomId(), sampleInfohashes, { ...lookupOptions, timeoutMs: CRAWL_MS });
    for await (const event of lookup) {
      if (event.type === 'item') for (const infoHash of event.item.infoHashes) note(infoHash, 'sample', event.from, elapsed());
    }
    lookups++;
    queries += (await lookup.result).stats.queries;
    // Pace the active rounds (the crawler's --query-interval): a crawler must not flood the network.
    await sleep(ROUND_PAUSE_MS);
  }
  await chatter;
  unsubscribe();

  if (seen.size > SHOWN) out.block([`… and ${seen.size - SHOWN} more`]);
  out.blank();
  const onNetwork = new Set(net.torrents.map((t) => idToHex(t.infoHash)));
  const count = (source: Source): number => [...seen.values()].filter((s) => s.has(source)).length;
  const passive = [...seen.values()].filter((s) => s.has('get_peers') || s.has('announce_peer')).length;
  const sampled = sampledFrom(seen, onNetwork);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out.say(`${lookups} sample_infohashes lookups, ${queries} queries, in ${seconds} s.`);
  out.result(
    `crawl: ${seen.size} info_hashes: ${count('sample')} from sample_infohashes (${sampled} of the ${onNetwork.size} torrents stored on the network), ` +
      `${passive} from passive capture (${count('get_peers')} in get_peers, ${count('announce_peer')} in announce_peer)`,
  );
}

/** How many of the network's torrents arrived in a sample. */
function sampledFrom(seen: ReadonlyMap<string, ReadonlySet<Source>>, onNetwork: ReadonlySet<string>): number {
  let n = 0;
  for (const [hex, sources] of seen) if (sources.has('sample') && onNetwork.has(hex)) n++;
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
