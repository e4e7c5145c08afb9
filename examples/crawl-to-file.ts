/**
 * Crawl to a file: collect the info-hashes a DHT is talking about for a few seconds and append one
 * NDJSON line per new info-hash. Two sources, as in docs/crawling.md:
 *  - active: BEP 51 sample_infohashes lookups toward random targets (each reply: up to 20 hashes);
 *  - passive: the get_peers and announce_peer queries other nodes send us (onIncomingQuery).
 *
 *   npm run example crawl-to-file [FILE]     (default: a new file in the system's temp directory)
 */
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DhtNode, Testnet, idToHex, randomId, randomIdWithPrefix, sampleInfohashes, type Endpoint } from '../src/index.js';

const file = process.argv[2] ?? join(tmpdir(), `dht-scrape-crawl-${process.pid}.ndjson`);
const net = await Testnet.start({ nodes: 150, torrents: 30 });
const lookupOptions = net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {};
const node = await DhtNode.create({ address: '127.0.0.1', lookup: lookupOptions });
const output = await open(file, 'a');
const seen = new Set<string>();
const started = Date.now();

async function record(infoHash: Uint8Array, source: string, from: Endpoint): Promise<void> {
  const hex = idToHex(infoHash);
  if (seen.has(hex)) return;
  seen.add(hex);
  const line = { infohash: hex, first_seen: new Date().toISOString(), source, from: `${from.address}:${from.port}` };
  // One write per line: a line is never split between two writes.
  await output.write(`${JSON.stringify(line)}\n`);
}

try {
  await node.bootstrap(net.bootstrap.slice(0, 1));
  node.onIncomingQuery((query, from) => {
    if (query.q === 'get_peers' || query.q === 'announce_peer') void record(query.a.info_hash, query.q, from);
  });
  // Someone on the network looks up a torrent near our ID: that get_peers reaches us.
  void net.live[7]!.findPeers(randomIdWithPrefix(node.id, 16)).result;

  // The whole crawl stops after 3 seconds: every lookup gets the same AbortSignal.
  const signal = AbortSignal.timeout(3_000);
  while (!signal.aborted) {
    for await (const event of node.lookup(randomId(), sampleInfohashes, { ...lookupOptions, signal })) {
      if (event.type === 'item') for (const infoHash of event.item.infoHashes) await record(infoHash, 'sample', event.from);
    }
  }
  console.log(`${seen.size} info-hashes in ${((Date.now() - started) / 1000).toFixed(1)} s, written to ${file}`);
} finally {
  await output.close();
  await node.close();
  await net.close();
}
