// One local network of N nodes in a fresh process, for the scale benchmark (bench/scale.ts):
// node --expose-gc scale-probe.mjs <nodes> <lookups>. Prints one JSON line: ms and CPU ms to ready
// (Testnet.start, then a fresh node bootstrapped from one node finds a torrent's peers, as
// `dht-scrape testnet` checks before its ready line), RSS and heap after a GC (and the process's
// RSS before the start), then `lookups` cold lookups, each from a fresh node that knows only one
// node of the network (a router: its reply's contacts are hop 1): hops to the first peer, the
// deepest hop queried, get_peers sent, distinct peers found. Loopback only.
import { DhtNode, Testnet, formatEndpoint } from '../dist/index.js';

const nodes = Number(process.argv[2]);
const lookups = Number(process.argv[3] ?? 10);
const gc = globalThis.gc ?? (() => {});
gc();
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const c0 = process.cpuUsage();
const net = await Testnet.start({ nodes, torrents: Math.max(lookups, 1), peers: 10, seed: 1 });
const first = await lookup(net.torrents[0]);
const readyMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
gc();
const memory = process.memoryUsage();
const samples = [first];
for (const torrent of net.torrents.slice(1, lookups)) samples.push(await lookup(torrent));
await net.close();
console.log(JSON.stringify({
  nodes, readyMs, cpuMs: (cpu.user + cpu.system) / 1000, rssBefore, rss: memory.rss, heapUsed: memory.heapUsed, samples,
}));

async function lookup(torrent) {
  const client = await DhtNode.create({ address: '127.0.0.1', port: 0 });
  try {
    const run = client.findPeers(torrent.infoHash, { timeoutMs: 15_000, routers: net.bootstrap.slice(0, 1) });
    let firstHop = null;
    let deepest = 0;
    const found = new Set();
    for await (const event of run) {
      if (event.type === 'query') deepest = Math.max(deepest, event.hop);
      if (event.type === 'item') { found.add(formatEndpoint(event.item)); firstHop ??= run.state.get(event.from.id)?.hop ?? null; }
    }
    const { stats } = await run.result;
    return { firstHop, deepest, queries: stats.queries, found: found.size, wanted: torrent.peers.length };
  } finally {
    await client.close();
  }
}
