/**
 * Run a local network: many real DHT nodes in this process, each on its own 127.x.y.1 address,
 * with synthetic torrents stored where announce_peer would have put them. Add packet loss and
 * dead nodes to see the lookup cope with a bad internet. This is what `dht-scrape --testnet N` and
 * `dht-scrape testnet` run.
 */
import { DhtNode, Testnet, formatEndpoint } from '../src/index.js';

const net = await Testnet.start({ nodes: 120, torrents: 2, peers: 10, deadFraction: 0.1, faults: { loss: 0.05 } });
try {
  const described = net.describe();
  console.log(`${net.live.length} live nodes (${net.nodes.length - net.live.length} dead), bootstrap ${described.bootstrap.join(' ')}`);
  for (const torrent of described.torrents) console.log(`torrent ${torrent.infohash}: ${torrent.peers.length} peers`);

  const node = await DhtNode.create({ address: '127.0.0.1', faults: { loss: 0.05 }, lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
  try {
    await node.bootstrap(net.bootstrap);
    const result = await node.findPeers(net.torrents[0]!.infoHash, { signal: AbortSignal.timeout(20_000) }).result;
    const { stats } = result;
    console.log(`lookup: ${stats.itemsFound} peer values, ${stats.responses}/${stats.queries} queries answered, ${stats.timeouts} timeouts (${stats.ended})`);
    console.log(`closest responder: ${result.closest[0] ? formatEndpoint(result.closest[0].node) : 'none'}, sharing ${stats.closestPrefixBits} bits`);
    const { packetsIn, packetsOut, dropped } = node.rpc.counters;
    console.log(`our node: ${packetsOut} packets out, ${packetsIn} in, ${dropped.lost} lost on the way out`);
  } finally {
    await node.close();
  }
} finally {
  await net.close();
}
