/**
 * Crawl to a file: run the project's Crawler for a few seconds on a local network and append one
 * NDJSON line per new info-hash, the format `dht-scrape crawl --output FILE` writes. The crawler
 * learns info-hashes two ways (docs/crawling.md): passively, from the get_peers and announce_peer
 * queries other nodes send us, and actively, with BEP 51 sample_infohashes.
 *
 *   npm run example crawl-to-file [FILE]     (default: a new file in the system's temp directory)
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrawlLogWriter, Crawler, DhtNode, Testnet, formatCrawlLine, formatEndpoint, randomIdWithPrefix } from '../src/index.js';

const file = process.argv[2] ?? join(tmpdir(), `dht-scrape-crawl-${process.pid}.ndjson`);
const net = await Testnet.start({ nodes: 150, torrents: 30 });
const node = await DhtNode.create({ address: '127.0.0.1', lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
// Whole lines only, flushed as the crawl goes: a crash never leaves half a line in the file.
const log = new CrawlLogWriter(file);
try {
  const crawler = new Crawler(node, {
    bootstrap: net.bootstrap.slice(0, 1),
    // Stop after 3 seconds; an AbortSignal (`signal`) would stop it too, e.g. on Ctrl+C.
    timeoutMs: 3_000,
    onInfoHash: ({ infoHash, firstSeenMs, source, from }) => log.write(formatCrawlLine(infoHash, firstSeenMs, source, formatEndpoint(from))),
  });
  // Someone on the network looks up a torrent whose info-hash lies near our ID: that reaches us.
  setTimeout(() => void net.live[7]!.findPeers(randomIdWithPrefix(node.id, 16)).result, 500);

  const report = await crawler.run();
  const { sample, get_peers: getPeers, announce_peer: announcePeer } = report.discoveredBy;
  console.log(`${report.discovered} info-hashes in ${(report.durationMs / 1000).toFixed(1)} s ` +
    `(${sample} sampled, ${getPeers + announcePeer} captured), written to ${file}`);
} finally {
  const error = log.close();
  await node.close();
  await net.close();
  if (error !== undefined) throw error;
}
