/**
 * Step 5: the iterative lookup (lookup.ts), hop by hop. Alice announces a new torrent; then two
 * fresh nodes look it up. Bob has the textbook BEP 5 settings (k = 8 in every bucket, no table
 * fill, nothing learned from replies), so his table knows little far from his own ID and the
 * lookup walks: each hop asks nodes sharing more leading bits with the info-hash. Carol has the
 * production settings (DhtNode's defaults: libtorrent's big far buckets, filled while joining),
 * so her walk starts closer; the price is paid in packets while joining.
 */
import { DhtNode, idToHex, randomId, sharedPrefixLength, type DhtNodeOptions, type NodeId, type PeerInfo } from '../../src/index.js';
import { barChart } from '../lib/chart.js';
import type { DemoContext } from './context.js';

/** What one hop of a lookup did: hop h is every query that h replies led to. */
export interface Hop {
  asked: number;
  answered: number;
  bestBits: number;
  peers: number;
}

interface Walk {
  name: string;
  joinPackets: number;
  contacts: number;
  startBits: number;
  hops: Hop[];
  closestBits: number;
  queries: number;
  peers: string[];
}

const TEXTBOOK: DhtNodeOptions = { table: { farBucketSizes: [] }, learnFromReplies: false };
const BOB_TRIES = 6;

/** At least three hops, the best shared bits rising at each until the closest is reached. */
function showsTheWalk(w: Walk): boolean {
  const best = w.hops.map((h) => h.bestBits);
  const peak = best.indexOf(Math.max(...best));
  return peak >= 2 && best.slice(1, peak + 1).every((bits, i) => bits > best[i]!);
}

export async function lookupStep({ net, out, lookupOptions, view }: DemoContext): Promise<void> {
  const alice = await DhtNode.create({ address: '127.0.0.1', port: 0, lookup: lookupOptions });
  try {
    await alice.bootstrap(net.bootstrap.slice(1, 2), { timeoutMs: 10_000 });
    const aliceAt = `${alice.local.address}:${alice.local.port}`;
    const population = net.live.map((n) => n.id);
    // A fresh node whose few contacts happen to lie near the torrent, a torrent whose closest nodes
    // any node knows, or a hop whose answers bring no closer node, makes a shorter or flatter walk:
    // try up to BOB_TRIES torrents, each with a fresh Bob, for one that shows three rising hops, and
    // say so when it took more than one.
    let tries = 0;
    let infoHash: NodeId;
    let announcedTo: number;
    let bob: Walk;
    do {
      infoHash = randomId();
      ({ announcedTo } = await alice.announce(infoHash, { lookup: { timeoutMs: 10_000 } }));
      bob = await walk('Bob', infoHash, TEXTBOOK, false);
      tries++;
    } while (!showsTheWalk(bob) && tries < BOB_TRIES);
    out.say(
      `Alice (${aliceAt}) has just announced torrent ${idToHex(infoHash).slice(0, 12)}…: her lookup found ` +
        `the 8 nodes closest to it and ${announcedTo} accepted her announce_peer.`,
    );
    out.say(
      (tries > 1 ? `(Torrent number ${tries}: the walks to the first did not show three rising hops.) ` : '') +
      `Bob is a fresh node with the textbook BEP 5 settings: k = 8 in every bucket, no table fill. He ` +
        `joins through one node (${bob.joinPackets} packets sent, ${bob.contacts} contacts; the best shares ` +
        `${bits(bob.startBits)} with the torrent), then looks it up with get_peers, 3 queries in flight:`,
    );
    out.block(hopTable(bob, infoHash, population));
    out.block(barChart(bob.hops.map((h, i) => ({ label: `hop ${i}`, value: h.bestBits })), { width: 40, unit: 'bits' }));
    const peak = bob.hops.findIndex((h) => h.bestBits === bob.closestBits);
    out.say(
      `Each hop asks nodes that know the torrent's region better: every bit gained halves the part of ` +
        `the ${population.length.toLocaleString('en')} nodes still closer, until none is` +
        (peak < bob.hops.length - 1 ? `; after hop ${peak} it asks the last nodes it heard of until the 8 closest have answered.` : '.'),
    );
    out.blank();
    const carol = await walk('Carol', infoHash, { lookup: lookupOptions }, true);
    out.say(
      `Carol is a fresh node with the production settings (far buckets of 128, 64, 32 and 16, filled ` +
        `while joining): ${carol.joinPackets} packets sent to join, ${carol.contacts} contacts, the best ` +
        `sharing ${bits(carol.startBits)} with the torrent before she asks anyone:`,
    );
    out.block(hopTable(carol, infoHash, population));
    const fewer = carol.hops.length < bob.hops.length;
    out.say(
      `She needs ${carol.hops.length} hops ${fewer ? 'instead of' : 'and Bob'} ${bob.hops.length}: her table starts ` +
        `the walk ${carol.startBits - bob.startBits} bits closer. The cost: ${carol.joinPackets} packets ` +
        `to join instead of ${bob.joinPackets}, paid once; every later lookup saves the hops.`,
    );
    for (const w of [bob, carol]) {
      const hit = w.peers.includes(aliceAt);
      out.result(`${w.name}: ${w.hops.length} hops, ${w.queries} queries, found ${hit ? `alice ${aliceAt}` : `${w.peers.join(', ') || 'no peer'} (not alice!)`}`);
      if (!hit) throw new Error(`${w.name}'s lookup did not find alice (${aliceAt})`);
    }
  } finally {
    await alice.close();
  }

  /** A fresh node joins with `options`, looks the torrent up, and reports each hop. */
  async function walk(name: string, infoHash: NodeId, options: DhtNodeOptions, fillTable: boolean): Promise<Walk> {
    const node = await DhtNode.create({ ...options, address: '127.0.0.1', port: 0 });
    try {
      await node.bootstrap(net.bootstrap.slice(0, 1), { timeoutMs: 10_000, fillTable });
      const joinPackets = node.rpc.counters.packetsOut;
      const contacts = node.table.size;
      const startBits = Math.max(0, ...node.table.closest(infoHash, 1).map((c) => sharedPrefixLength(c.id, infoHash)));
      const hops: Hop[] = [];
      const peers = new Set<string>();
      const lookup = node.findPeers(infoHash, { ...lookupOptions, timeoutMs: 15_000 });
      view?.watchLookup(lookup, `${name}: get_peers ${idToHex(infoHash).slice(0, 8)}…`);
      const hopOf = (n: number): Hop => {
        for (let i = hops.length; i <= n; i++) hops.push({ asked: 0, answered: 0, bestBits: 0, peers: 0 });
        return hops[n]!;
      };
      for await (const event of lookup) {
        if (event.type === 'query') hopOf(event.hop).asked++;
        else if (event.type === 'response') {
          const hop = hopOf(event.hop);
          hop.answered++;
          hop.bestBits = Math.max(hop.bestBits, event.prefixBits);
        } else if (event.type === 'item') {
          hopOf(lookup.state.get(event.from.id)?.hop ?? 0).peers++;
          peers.add(endpoint(event.item));
        }
      }
      const { stats } = await lookup.result;
      return { name, joinPackets, contacts, startBits, hops, closestBits: stats.closestPrefixBits, queries: stats.queries, peers: [...peers] };
    } finally {
      await node.close();
    }
  }
}

/**
 * One line per hop: queries, answers, the most bits an answer shared with the target, and how many
 * nodes of the network share more bits with it than the best answer so far: the candidates left.
 */
function hopTable(w: Walk, target: NodeId, population: readonly NodeId[]): string[] {
  let bestSoFar = 0;
  const lines = ['hop  asked  answered  best bits  nodes sharing more bits'];
  w.hops.forEach((h, i) => {
    bestSoFar = Math.max(bestSoFar, h.bestBits);
    const left = population.filter((id) => sharedPrefixLength(id, target) > bestSoFar).length;
    lines.push(
      `${String(i).padStart(3)}  ${String(h.asked).padStart(5)}  ${String(h.answered).padStart(8)}  ` +
        `${String(h.bestBits).padStart(9)}  ${String(left).padStart(6)}${h.peers > 0 ? `  ← ${h.peers} peer${h.peers === 1 ? '' : 's'}` : ''}`,
    );
  });
  return lines;
}

function endpoint(peer: PeerInfo): string {
  return `${peer.address}:${peer.port}`;
}

/** "1 bit", "11 bits". */
function bits(n: number): string {
  return `${n} bit${n === 1 ? '' : 's'}`;
}
