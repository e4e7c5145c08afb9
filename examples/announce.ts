/**
 * Announce: tell the DHT "I am a peer of this torrent" (BEP 5 announce_peer), then find ourselves
 * from another node. node.announce() is a get_peers lookup that collects a token from each of the
 * closest nodes, followed by an announce_peer to each of them with its token.
 */
import { DhtNode, Testnet, idToHex, randomId } from '../src/index.js';

const net = await Testnet.start({ nodes: 100, torrents: 0 });
const lookup = net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {};
const seeder = await DhtNode.create({ address: '127.0.0.1', lookup });
const leecher = await DhtNode.create({ address: '127.0.0.1', lookup });
try {
  const infoHash = randomId();
  await seeder.bootstrap(net.bootstrap.slice(0, 1));
  // The TCP port other peers should connect to. Without `port`, BEP 5's implied_port asks the
  // nodes to use our UDP source port instead (what works behind a NAT).
  const { announcedTo, lookup: found } = await seeder.announce(infoHash, { port: 51413, seed: true });
  console.log(`announced ${idToHex(infoHash)} to ${announcedTo} of the ${found.closest.length} closest nodes`);

  await leecher.bootstrap(net.bootstrap.slice(1, 2));
  const search = leecher.findPeers(infoHash, { signal: AbortSignal.timeout(10_000) });
  const peers = new Set<string>();
  for await (const event of search) {
    if (event.type === 'item') peers.add(`${event.item.address}:${event.item.port}`);
  }
  const { stats } = await search.result;
  console.log(`the leecher found ${[...peers].join(', ')} (${stats.itemsFound} values from ${stats.queries} queries)`);
  if (!peers.has('127.0.0.1:51413')) throw new Error('the announced peer was not found');
} finally {
  await seeder.close();
  await leecher.close();
  await net.close();
}
