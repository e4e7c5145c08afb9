/**
 * Where our lookup's speed comes from, measured: the same networks as figure 3, with our client
 * under settings that turn each part of it off or change it (all options), on the same testnet
 * and next to bittorrent-dht. Not part of `npm run bench` (about 6 minutes):
 *
 *   npm run build && npm --prefix bench run lookup-tuning
 *
 * Variants, each adding one thing to the one before:
 * - BEP 5's table: k = 8 in every bucket, only nodes that answered or queried us, bootstrap =
 *   a lookup for our own ID (what the node did before the extended table);
 * - + the extended table: libtorrent's 128/64/32/16 contacts in the four farthest buckets;
 * - + learning from replies: the nodes replies name take free slots, unverified;
 * - + filling the far buckets while joining: the default;
 * - alpha 5 (libtorrent's) and 8 on top of the default;
 * - the bound: a table that holds the whole network, so the first queries go straight to the nodes
 *   that store the peers. No table can do better; it shows what time to first peer is reachable.
 */
import { type DhtNode, type Testnet } from '../dist/index.js';
import { CONDITIONS, THEIRS, formatFailures, formatJoin, lookupMetrics, ourClient, peerClient, runCondition, type ClientSpec, type ConditionResult } from './lookup.js';
import { guardDns } from './peer-dht.js';
import { heading, num, percent, ratio, table } from './report.js';

function knowEveryone(node: DhtNode, net: Testnet): void {
  for (const other of net.live) if (other !== node) node.table.recordResponse({ id: other.id, ...other.local });
}

const BEP5_TABLE = { table: { farBucketSizes: [] }, learnFromReplies: false };
const NO_FILL = { fillTable: false };

export const VARIANTS: readonly ClientSpec[] = [
  ourClient('BEP 5 table, join only (before)', { node: BEP5_TABLE, bootstrap: NO_FILL }),
  ourClient('+ extended table', { node: { learnFromReplies: false }, bootstrap: NO_FILL }),
  ourClient('+ learning from replies', { bootstrap: NO_FILL }),
  ourClient('+ filling while joining (default)'),
  ourClient('default, alpha 5', { lookup: { alpha: 5 } }),
  ourClient('default, alpha 8', { lookup: { alpha: 8 } }),
  ourClient('bound: table holds every node', { node: { table: { k: 2_000 } }, bootstrap: NO_FILL, prepare: knowEveryone }),
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
    formatJoin(r.joins[name]),
  ]);
  return [
    heading(`Lookup tuning: ${r.nodes}-node testnet, ${r.name} (medians of ${theirs.length} lookups)`),
    table(['client', 'queries', 'first peer ms', 'vs theirs', 'duration ms', 'vs theirs', 'p90 ms', 'success', 'joining'], rows),
    ...formatFailures(r),
  ].join('\n');
}

async function main(): Promise<void> {
  const guard = guardDns();
  try {
    for (const condition of CONDITIONS.filter((c) => c.preset === 'ideal')) {
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
