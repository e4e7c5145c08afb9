/**
 * Why our lookup misses its targets, measured: the same networks as figure 3, with our client under
 * several settings that need no change to src/ (options, or public methods used from outside), all
 * on the same testnet and next to bittorrent-dht. Not part of `npm run bench` (about 4 minutes):
 *
 *   npm run build && npm --prefix bench run lookup-tuning
 *
 * Variants:
 * - alpha 8: more queries in flight (bittorrent-dht keeps 16);
 * - soft timeout 300 ms (default 1,000): a lost query stops holding its slot and the end of the
 *   lookup sooner; the injected round trip is at most 160 ms;
 * - a big, learning table: buckets of 64 (libtorrent's extended routing table keeps 128/64/32/16
 *   in its top buckets) and, after each lookup, every node it heard of entered into the table
 *   unconfirmed, so that later lookups start nearer their target;
 * - the bound: a table that holds the whole network, so the first queries go straight to the nodes
 *   that store the peers. No table can do better; it shows what time to first peer is reachable.
 */
import { type DhtNode, type Lookup, type PeerInfo, type Testnet } from '../dist/index.js';
import { CONDITIONS, THEIRS, lookupMetrics, ourClient, peerClient, runCondition, type ClientSpec, type ConditionResult } from './lookup.js';
import { guardDns } from './peer-dht.js';
import { heading, num, percent, ratio, table } from './report.js';

const SOFT_300 = { rpc: { softTimeoutMs: 300 } };

function learnFromLookup(node: DhtNode, lookup: Lookup<'get_peers', PeerInfo>): void {
  for (const candidate of lookup.state.snapshot()) node.table.recordQuery(candidate.node);
}

function knowEveryone(node: DhtNode, net: Testnet): void {
  for (const other of net.live) if (other !== node) node.table.recordResponse({ id: other.id, ...other.local });
}

export const VARIANTS: readonly ClientSpec[] = [
  ourClient('default (alpha 3, soft timeout 1 s)'),
  ourClient('alpha 8', { lookup: { alpha: 8 } }),
  ourClient('soft timeout 300 ms', { node: SOFT_300 }),
  ourClient('alpha 8 + soft 300 ms', { lookup: { alpha: 8 }, node: SOFT_300 }),
  ourClient('alpha 8 + soft 300 + big learning table', {
    lookup: { alpha: 8 },
    node: { ...SOFT_300, table: { k: 64 } },
    afterLookup: learnFromLookup,
  }),
  ourClient('bound: table holds every node (alpha 3)', { node: { table: { k: 2_000 } }, prepare: knowEveryone }),
  peerClient(),
];

export function formatTuning(r: ConditionResult): string {
  const m = lookupMetrics;
  const theirs = r.samples[THEIRS] ?? [];
  const rows = Object.entries(r.samples).map(([name, s]) => [
    name,
    num(m.queries(s)),
    num(m.timeToFirstPeer(s)),
    name === THEIRS ? '' : ratio(m.timeToFirstPeer(s), m.timeToFirstPeer(theirs)),
    num(m.duration(s)),
    name === THEIRS ? '' : ratio(m.duration(s), m.duration(theirs)),
    num(m.durationP90(s)),
    percent(m.success(s)),
  ]);
  return [
    heading(`Lookup tuning: ${r.nodes}-node testnet, ${r.name} (medians of ${theirs.length} lookups)`),
    table(['client', 'queries', 'first peer ms', 'vs theirs', 'duration ms', 'vs theirs', 'p90 ms', 'success'], rows),
  ].join('\n');
}

async function main(): Promise<void> {
  const guard = guardDns();
  try {
    for (const condition of CONDITIONS) {
      const result = await runCondition(condition.name, condition.faults, VARIANTS, { lookups: 20 });
      console.log(formatTuning(result));
      if (result.refusedSends > 0 || guard.attempts() > 0) throw new Error('the loopback guard refused traffic');
    }
  } finally {
    guard.restore();
  }
  console.log('\nEvery client bootstraps from the same testnet node; all of them live in the same network at once.');
}

await main();
