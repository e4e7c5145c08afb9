/**
 * The worked lookup for docs/lookup.md: the learner's routing table, then a get_peers lookup
 * traced event by event, its convergence hop by hop, and the candidate list at the moment the
 * termination rule stopped it.
 */
import { idToHex, renderTable, sharedPrefixLength, type LookupEvent, type PeerInfo } from '../../../src/index.js';
import { barChart } from '../../lib/chart.js';
import type { Scenario } from '../scenario.js';
import type { Sections } from './packets.js';

export async function lookupSections({ learner, torrents }: Scenario, out: Sections): Promise<void> {
  out.set('lookup/table', fence(renderTable(learner.table).split('\n')));

  // The torrent farthest from our ID: the lookup has the most ground to cover.
  const torrent = [...torrents].sort((a, b) => sharedPrefixLength(a.infoHash, learner.id) - sharedPrefixLength(b.infoHash, learner.id))[0]!;
  const lookup = learner.findPeers(torrent.infoHash);
  const events: LookupEvent<PeerInfo>[] = [];
  for await (const event of lookup) events.push(event);
  const { stats, closest } = await lookup.result;

  const trace = [
    `target ${idToHex(torrent.infoHash)} (shares ${sharedPrefixLength(torrent.infoHash, learner.id)} bits with our ID)`,
    '',
    '  #  event     hop  node                          bits  detail',
  ];
  // A reply's peers come as item events right after its response event: fold them into its line.
  const lines: string[] = [];
  for (const event of events) {
    if (event.type === 'item') {
      const last = lines.length - 1;
      const peers = /, (\d+) peers?$/.exec(lines[last]!);
      lines[last] = peers === null ? `${lines[last]!}, 1 peer` : lines[last]!.replace(/, \d+ peers?$/, `, ${Number(peers[1]) + 1} peers`);
    } else {
      lines.push(describe(event));
    }
  }
  lines.forEach((line, i) => trace.push(`${String(i + 1).padStart(3)}  ${line}`));
  out.set('lookup/trace', fence(trace));

  const hops: { queried: number; best: number; peers: number }[] = [];
  const hopOf = (n: number): { queried: number; best: number; peers: number } => {
    for (let i = hops.length; i <= n; i++) hops.push({ queried: 0, best: 0, peers: 0 });
    return hops[n]!;
  };
  for (const event of events) {
    if (event.type === 'query') hopOf(event.hop).queried++;
    if (event.type === 'response') hopOf(event.hop).best = Math.max(hopOf(event.hop).best, event.prefixBits);
    if (event.type === 'item') hopOf(lookup.state.get(event.from.id)?.hop ?? 0).peers++;
  }
  out.set('lookup/chart', fence(barChart(hops.map((h, i) => ({
    label: `hop ${i} (${h.queried} asked)`,
    value: h.best,
    ...(h.peers > 0 ? { note: `${h.peers} peer values` } : {}),
  })), { width: 30, unit: 'bits' })));

  const snapshot = lookup.state.snapshot();
  const kth = snapshot.indexOf(closest[closest.length - 1]!);
  const rows = ['rank  node                          bits  hop  state'];
  snapshot.slice(0, kth + 5).forEach((c, i) => {
    rows.push(`${String(i + 1).padStart(4)}  ${node(c.node)}  ${String(c.prefixBits).padStart(4)}  ${String(c.hop).padStart(3)}  ${c.state}${i === kth ? `   ← the k-th (${closest.length}th) closest responder` : ''}`);
  });
  if (snapshot.length > kth + 5) rows.push(`   …  ${snapshot.length - kth - 5} more candidates, all farther`);
  rows.push('', `ended: ${stats.ended}; ${stats.queries} queries, ${stats.responses} responses, ${stats.itemsFound} peer values, ` +
    `${stats.nodesContacted} nodes contacted, closest responder shares ${stats.closestPrefixBits} bits`);
  out.set('lookup/termination', fence(rows));
}

function describe(event: LookupEvent<PeerInfo>): string {
  switch (event.type) {
    case 'query':
      return `query     ${String(event.hop).padStart(3)}  ${node(event.to)}  ${String(event.prefixBits).padStart(4)}`;
    case 'response':
      return `response  ${String(event.hop).padStart(3)}  ${node(event.from)}  ${String(event.prefixBits).padStart(4)}  ${event.nodes} nodes`;
    case 'timeout':
      return `timeout   ${String(event.hop).padStart(3)}  ${node(event.node)}`;
    case 'error':
      return `error     ${String(event.hop).padStart(3)}  ${node(event.node)}  ${event.code} ${event.message}`;
    case 'failed':
      return `unsent    ${String(event.hop).padStart(3)}  ${node(event.node)}  ${event.reason}`;
    case 'router-query':
      return `query       -  router ${event.to.address}:${event.to.port}`;
    case 'router-failed':
      return `${event.outcome.padEnd(9)}   -  router ${event.to.address}:${event.to.port}`;
    case 'item':
      return `peer           ${node(event.from)}        ${event.item.address}:${event.item.port}`;
  }
}

function node(n: { id: Uint8Array; address: string; port: number }): string {
  return `${idToHex(n.id).slice(0, 8)}… ${`${n.address}:${n.port}`.padEnd(17)}`;
}

export function fence(lines: readonly string[]): string {
  return `\`\`\`text\n${lines.join('\n')}\n\`\`\``;
}
