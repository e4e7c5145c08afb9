/**
 * Step 5: the iterative lookup (lookup.ts), hop by hop. Another node, "alice", announces that she
 * has a new torrent; our node then finds her with a get_peers lookup that starts from its own table
 * and, hop after hop, asks nodes that share more and more leading bits with the info-hash.
 */
import { DhtNode, idToHex, randomId, type LookupEvent, type PeerInfo } from '../../src/index.js';
import { barChart } from '../lib/chart.js';
import type { DemoContext } from './context.js';

interface Hop {
  queried: number;
  answered: number;
  bestBits: number;
  bits: number[];
  peers: number;
}

export async function lookupStep({ net, me, out, lookupOptions }: DemoContext): Promise<void> {
  const infoHash = randomId();
  const alice = await DhtNode.create({ address: '127.0.0.1', port: 0, lookup: lookupOptions });
  try {
    await alice.bootstrap(net.bootstrap.slice(1, 2), { timeoutMs: 10_000 });
    const announced = await alice.announce(infoHash, { lookup: { timeoutMs: 10_000 } });
    const aliceAt = `${alice.local.address}:${alice.local.port}`;
    out.say(
      `Alice (${aliceAt}) has just announced a new torrent ${idToHex(infoHash)}: a get_peers lookup found the ` +
        `8 nodes closest to it and she sent each an announce_peer with its token; ${announced.announcedTo} accepted. ` +
        'Now our node looks the torrent up. Each query is tagged with its hop (how many replies led to the node) ' +
        'and how many leading bits the node shares with the info-hash.',
    );
    out.blank();

    const hops: Hop[] = [];
    const found: { peer: PeerInfo; hop: number }[] = [];
    const lookup = me.findPeers(infoHash, { ...lookupOptions, timeoutMs: 15_000 });
    const hopOfNode = (id: Uint8Array): number => lookup.state.get(id)?.hop ?? 0;
    for await (const event of lookup) record(event, hops, found, hopOfNode);
    const { stats } = await lookup.result;

    out.block(hops.map((h, i) =>
      `hop ${i}: queried ${String(h.queried).padStart(2)}, answered ${String(h.answered).padStart(2)}, ` +
        `bits shared: ${h.bits.slice().sort((a, b) => a - b).join(' ')}${h.peers > 0 ? `   ← ${h.peers} peer value(s)` : ''}`));
    out.blank();
    out.say('Convergence: the most bits a node that answered at each hop shares with the info-hash (of 160).');
    out.block(barChart(hops.map((h, i) => ({
      label: `hop ${i}`,
      value: h.bestBits,
      ...(h.peers > 0 ? { note: 'peers found' } : {}),
    })), { width: 32 }));
    out.blank();
    out.say(
      `The lookup stopped because it ${describeEnd(stats.ended)}: ${stats.queries} queries, ${stats.responses} answers, ` +
        `${stats.timeouts} timeouts; the closest node that answered shares ${stats.closestPrefixBits} bits.`,
    );
    const peers = [...new Set(found.map((f) => `${f.peer.address}:${f.peer.port}`))];
    const hit = peers.includes(aliceAt);
    out.result(`lookup: found peer ${peers.join(', ') || 'none'}${hit ? ` = alice ${aliceAt}, who announced it` : ' (not alice!)'} after ${stats.queries} queries`);
    if (!hit) throw new Error(`the lookup did not find alice (${aliceAt})`);
  } finally {
    await alice.close();
  }
}

function record(
  event: LookupEvent<PeerInfo>,
  hops: Hop[],
  found: { peer: PeerInfo; hop: number }[],
  hopOfNode: (id: Uint8Array) => number,
): void {
  const hopOf = (n: number): Hop => (hops[n] ??= { queried: 0, answered: 0, bestBits: 0, bits: [], peers: 0 });
  for (let i = 0; i < hops.length; i++) hopOf(i);
  if (event.type === 'query') {
    hopOf(event.hop).queried++;
  } else if (event.type === 'response') {
    const hop = hopOf(event.hop);
    hop.answered++;
    hop.bits.push(event.prefixBits);
    hop.bestBits = Math.max(hop.bestBits, event.prefixBits);
  } else if (event.type === 'item') {
    // A peer comes in the reply of a node we asked at some hop: credit that hop.
    const hop = hopOfNode(event.from.id);
    hopOf(hop).peers++;
    found.push({ peer: event.item, hop });
  }
}

function describeEnd(ended: string): string {
  switch (ended) {
    case 'converged': return 'converged (the 8 closest nodes that answered are known, and nothing closer is left to ask)';
    case 'exhausted': return 'ran out of nodes to ask';
    case 'timeout': return 'ran out of time';
    default: return `ended (${ended})`;
  }
}
