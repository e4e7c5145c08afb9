/**
 * Find the peers of a torrent: join the DHT, then run a get_peers lookup and read its events with
 * `for await` as they arrive. Here the "DHT" is a local network on loopback, so this runs offline;
 * against the real DHT, bootstrap from the public routers instead (see README.md).
 *
 *   npm run example find-peers
 */
import { DhtNode, Testnet, idToHex } from '../src/index.js';

const net = await Testnet.start({ nodes: 100, torrents: 1, peers: 5 });
// Where every node shares 127.0.0.1 (macOS), lift the per-/24 cap a lookup puts on its candidates.
const node = await DhtNode.create({ address: '127.0.0.1', lookup: net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {} });
try {
  await node.bootstrap(net.bootstrap);
  const infoHash = net.torrents[0]!.infoHash;
  console.log(`looking up ${idToHex(infoHash)} from a table of ${node.table.size} nodes`);

  // Every lookup takes an AbortSignal: here, give up after 10 seconds whatever happens.
  const lookup = node.findPeers(infoHash, { signal: AbortSignal.timeout(10_000) });
  for await (const event of lookup) {
    if (event.type === 'response') console.log(`  hop ${event.hop}: ${event.from.address}:${event.from.port} shares ${event.prefixBits} bits with the torrent`);
    if (event.type === 'item') console.log(`  peer ${event.item.address}:${event.item.port} (from ${event.from.address})`);
  }
  const { stats } = await lookup.result;
  console.log(`done: ${stats.itemsFound} peer values in ${stats.queries} queries, ${stats.durationMs} ms (${stats.ended})`);
} finally {
  await node.close();
  await net.close();
}
