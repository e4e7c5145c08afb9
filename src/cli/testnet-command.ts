/** `dht-scrape testnet`: run a local DHT on loopback (or another address range) until a signal or the ttl. */
import { DhtNode } from '../dht/node.js';
import { LAB_LOOPBACK_LIMIT, SHARED_ADDRESS_OPTIONS, Testnet } from '../modes/testnet.js';
import { EXIT, type Command } from './options.js';
import { loadConditions } from './conditions-file.js';
import { openFilesWarning, readOpenFilesLimit } from './open-files.js';
import type { Output } from './terminal.js';

type TestnetCommand = Extract<Command, { kind: 'testnet' }>;

export async function runTestnet(command: TestnetCommand, output: Output, signal: AbortSignal): Promise<number> {
  const conditions = await loadConditions(command.lab.conditions);
  const files = openFilesWarning({ nodes: command.nodes, perNode: command.dualStack ? 2 : 1, extra: command.torrents * Math.min(command.seeders, command.peers) }, readOpenFilesLimit());
  if (files !== undefined) output.err(files);
  if (!command.json) output.err(`Starting ${command.nodes} DHT nodes in ${command.addressRange}...`);
  const testnet = await Testnet.start({
    nodes: command.nodes, torrents: command.torrents, peers: command.peers, seeders: command.seeders, addressRange: command.addressRange,
    conditions, ...(command.dualStack ? { dualStack: true } : {}), ...(command.lab.seed !== undefined ? { seed: command.lab.seed } : {}),
  });
  try {
    const check = await answersLookups(testnet);
    if (!check) {
      output.err('dht-scrape: the local network did not answer a test lookup');
      return EXIT.network;
    }
    output.out(JSON.stringify(testnet.describe()));
    if (!command.json) {
      const example = testnet.torrents[0];
      const ipv6 = testnet.ipv6 !== undefined ? ` and ${testnet.ipv6.nodes.length} IPv6 nodes on ${testnet.ipv6.clientAddress} (dual stack)` : '';
      output.err(`Local DHT up: ${command.nodes} nodes on ${testnet.addresses()} (${testnet.addressRange.text})${ipv6}, ${command.torrents} torrents, ` +
        `conditions ${testnet.conditions.name}, seed ${testnet.seed}. ` +
        (command.ttlSeconds > 0 ? `Stops after ${command.ttlSeconds} s or on Ctrl+C.` : 'Stops on Ctrl+C.'));
      if (testnet.routers.length > 0) {
        output.err(`Its bootstrap addresses are routers like router.bittorrent.com: 16 nodes in turn whatever the target, 3 to an address that asked before (docs/testnet.md).`);
      }
      output.err(`A lab: loopback sources may send ${LAB_LOOPBACK_LIMIT.rate.toLocaleString('en-US')} packets/s each ` +
        `(bursts of ${LAB_LOOPBACK_LIMIT.burst.toLocaleString('en-US')}), not the real DHT's 5 (docs/limits.md).`);
      if (example !== undefined) {
        const bind = testnet.clientAddress === '127.0.0.1' ? '' : ` --bind ${testnet.clientAddress}`;
        const v6 = testnet.describe().bootstrap6?.[0];
        output.err(`Try: dht-scrape ${Buffer.from(example.infoHash).toString('hex')} --bootstrap ${testnet.describe().bootstrap[0]}${v6 !== undefined ? ` --bootstrap ${v6}` : ''}${bind} --no-state`);
      }
    }
    let ttl: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      if (command.ttlSeconds > 0) ttl = setTimeout(resolve, command.ttlSeconds * 1000);
    });
    // Stopped by a signal, the ttl timer must not keep the process alive until it fires.
    clearTimeout(ttl);
    return 0;
  } finally {
    await testnet.close();
  }
}

/** The network is ready when a fresh node, bootstrapped from one of its nodes, finds a torrent's peers. */
export async function answersLookups(testnet: Testnet): Promise<boolean> {
  const torrent = testnet.torrents[0];
  // A network slowed on purpose (--conditions latency) answers late, not never: each reply to the
  // probe carries one node's delay, so wait for the slow end of it (p95) and a margin.
  const replyMs = Math.max(3_000, (testnet.conditions.latency?.p95Ms ?? 0) + 1_000);
  const probe = await DhtNode.create({ address: testnet.clientAddress, port: 0, rpc: { hardTimeoutMs: replyMs }, ...(testnet.sharedAddress ? SHARED_ADDRESS_OPTIONS : {}) });
  try {
    await probe.bootstrap(testnet.bootstrap.slice(0, 1), { timeoutMs: Math.max(5_000, 2 * replyMs) });
    if (torrent === undefined) return probe.tableSize > 0;
    const result = await probe.findPeers(torrent.infoHash, { timeoutMs: Math.max(10_000, 4 * replyMs) }).result;
    return result.stats.itemsFound > 0;
  } finally {
    await probe.close();
  }
}
