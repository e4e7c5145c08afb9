/**
 * `dht-scrape lab`: the DHT to watch in a browser. A local network on loopback whose nodes keep
 * textbook BEP 5 tables (so lookups visibly walk hop by hop), and our node with the production
 * defaults joining it, crawling it, and looking up one of its torrents every few seconds, all
 * drawn live at the printed URL. Stops on Ctrl+C or after --ttl.
 */
import { parseArgs } from 'node:util';
import { Crawler } from '../crawl/crawl.js';
import { DhtNode } from '../dht/node.js';
import { idToHex } from '../wire/id.js';
import { Testnet } from '../modes/testnet.js';
import { NameResolver } from '../modes/name-resolver.js';
import { UsageError } from './options.js';
import type { Output } from './terminal.js';
import { openWebView } from './web/web-view.js';
import type { WebOption } from './web/web-option.js';
import type { ViewFeed } from './web/view-feed.js';
import type { Endpoint } from '../net/transport.js';

export interface LabCommand {
  nodes: number;
  torrents: number;
  ttlSeconds: number;
  /** Seconds between two lookups. */
  everySeconds: number;
}

export const LAB_USAGE = `Usage: dht-scrape lab [--nodes N] [--torrents M] [--every S] [--ttl S] [--web PORT] [--web-bind ADDR]
  A local DHT of N nodes (default 1000) with M torrents (default 20); our node joins it, crawls it
  and looks one torrent up every S seconds (default 3), drawn live in the browser at the printed
  URL (127.0.0.1, any free port unless --web PORT). Stops on Ctrl+C or after --ttl S (default 600).`;

export function parseLab(argv: readonly string[]): LabCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { nodes: { type: 'string' }, torrents: { type: 'string' }, ttl: { type: 'string' }, every: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`lab: ${error instanceof Error ? error.message.split('\n')[0]! : String(error)}`);
  }
  return {
    nodes: whole(values.nodes, 'nodes', 1_000, 20, 10_000),
    torrents: whole(values.torrents, 'torrents', 20, 1, 10_000),
    ttlSeconds: whole(values.ttl, 'ttl', 600, 1, 86_400),
    everySeconds: whole(values.every, 'every', 3, 1, 3_600),
  };
}

export async function runLab(command: LabCommand, web: WebOption, output: Output, signal: AbortSignal): Promise<number> {
  output.err(`Starting a local DHT of ${command.nodes} nodes on loopback (textbook tables: k = 8 in every bucket)...`);
  // One seeder per torrent serves its metadata, so the crawl panel's lists get names (BEP 9).
  const net = await Testnet.start({ nodes: command.nodes, torrents: command.torrents, peers: 4, seeders: 1, node: { table: { farBucketSizes: [] } } });
  const lookupOptions = net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {};
  const node = await DhtNode.create({ address: '127.0.0.1', port: 0, lookup: lookupOptions });
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const ttl = setTimeout(() => stop.abort(), command.ttlSeconds * 1000);
  let view;
  let crawl: ViewedCrawl | undefined;
  try {
    view = await openWebView(web, `lab: ${command.nodes} local nodes, ${command.torrents} torrents`, output);
    const { feed } = view;
    feed.watchNode(node);
    crawl = crawlInView(node, feed, { bootstrap: net.bootstrap.slice(0, 1), timeoutMs: command.ttlSeconds * 1000, signal: stop.signal });
    output.err(`Our node ${node.local.address}:${node.local.port} joins, crawls, and looks a torrent up every ${command.everySeconds} s. ` +
      `Stops after ${command.ttlSeconds} s or on Ctrl+C.`);
    let round = 0;
    while (!stop.signal.aborted) {
      await pause(command.everySeconds * 1000, stop.signal);
      if (stop.signal.aborted) break;
      const torrent = net.torrents[round++ % net.torrents.length]!;
      const lookup = node.findPeers(torrent.infoHash, { ...lookupOptions, timeoutMs: 15_000, signal: stop.signal });
      const { stats } = await lookup.result;
      output.err(`lookup ${round}: ${idToHex(torrent.infoHash).slice(0, 12)}…, ${stats.itemsFound} peers, ${stats.queries} queries (${stats.ended})`);
    }
    await crawl.done;
    return 0;
  } finally {
    clearTimeout(ttl);
    signal.removeEventListener('abort', onAbort);
    await crawl?.names.stop();
    await view?.close();
    await node.close();
    await net.close();
  }
}

/** A crawl drawn in the view, its info-hashes named as BEP 9 metadata arrives. */
export interface ViewedCrawl {
  crawler: Crawler;
  names: NameResolver<null>;
  /** Settles when the crawl has ended (its timeout or signal). */
  done: Promise<unknown>;
}

/**
 * Crawl and show it: every info-hash found goes to the view's ID-space histogram and to a name
 * resolver (a get_peers lookup, then the metadata from a peer), whose names the top lists show.
 * Names wait until the crawler has joined: before that, our table is too thin to find peers.
 */
export function crawlInView(node: DhtNode, feed: ViewFeed, options: { bootstrap: Endpoint[]; timeoutMs: number; signal: AbortSignal }): ViewedCrawl {
  const names = new NameResolver<null>(node, (_, outcome, infoHash) => {
    if (outcome.kind === 'named') feed.named(infoHash, outcome.metadata.info.name);
  }, { paused: true });
  const crawler = new Crawler(node, {
    ...options,
    onInfoHash: (found) => { feed.infoHashFound(found); names.add(found.infoHash, null); },
    onJoined: () => names.resume(),
  });
  feed.watchCrawler(crawler);
  return { crawler, names, done: crawler.run() };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function whole(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`lab: --${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}
