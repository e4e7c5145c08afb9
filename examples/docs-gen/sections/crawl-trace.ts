/**
 * The crawl traces for docs/crawling.md: one sample_infohashes lookup from the learner (what each
 * node answered), and the passive capture of another node's announce that passes through it.
 */
import { idToHex, randomId, randomIdWithPrefix, sampleInfohashes, type Endpoint, type Query } from '../../../src/index.js';
import type { Scenario } from '../scenario.js';
import { fence } from './lookup-trace.js';
import type { Sections } from './packets.js';

export async function crawlSections({ learner, nodes, torrents }: Scenario, out: Sections): Promise<void> {
  const known = new Set(torrents.map((t) => idToHex(t.infoHash)));
  const seen = new Set<string>();
  const rows = ['node                          bits  samples  num  interval  new'];
  // Toward a torrent's info-hash: the nodes near it store it, so the samples show it (a random
  // target may meet none of the 20 torrents in one lookup).
  const lookup = learner.lookup(torrents[0]!.infoHash, sampleInfohashes);
  for await (const event of lookup) {
    if (event.type !== 'item') continue;
    const fresh = event.item.infoHashes.map(idToHex).filter((hex) => !seen.has(hex));
    for (const hex of fresh) seen.add(hex);
    const bits = lookup.state.get(event.from.id)?.prefixBits ?? 0;
    rows.push(`${short(event.from)}  ${String(bits).padStart(4)}  ${String(event.item.infoHashes.length).padStart(7)}  ` +
      `${String(event.item.num ?? '-').padStart(3)}  ${String(event.item.interval ?? '-').padStart(8)}  ${fresh.length > 0 ? fresh.map((h) => `${h.slice(0, 8)}…`).join(' ') : '-'}`);
  }
  const { stats } = await lookup.result;
  const found = [...seen].filter((hex) => known.has(hex)).length;
  rows.push('', `${stats.queries} queries, ${seen.size} distinct info-hashes (${found} of the ${known.size} torrents announced on this network)`);
  out.set('crawling/sample', fence(rows));

  // The keyspace walk: one lookup toward each sixteenth of the ID space, coverage growing.
  const walk = ['target      queries  samples  new  known so far'];
  for (let slice = 0; slice < 16; slice++) {
    const target = randomId();
    target[0] = (slice << 4) | (target[0]! & 0x0f);
    let samples = 0;
    let fresh = 0;
    const step = learner.lookup(target, sampleInfohashes);
    for await (const event of step) {
      if (event.type !== 'item') continue;
      for (const hex of event.item.infoHashes.map(idToHex)) {
        samples++;
        if (!seen.has(hex)) { seen.add(hex); fresh++; }
      }
    }
    const done = await step.result;
    walk.push(`${idToHex(target).slice(0, 8)}…  ${String(done.stats.queries).padStart(7)}  ${String(samples).padStart(7)}  ${String(fresh).padStart(3)}  ` +
      `${String([...seen].filter((hex) => known.has(hex)).length).padStart(2)} of ${known.size}`);
  }
  out.set('crawling/walk', fence(walk));

  // Passive: another node announces a torrent whose info-hash lies near the learner's ID.
  const log: string[] = [];
  const stop = learner.onIncomingQuery((query: Query, from: Endpoint) => {
    const hash = query.q === 'get_peers' || query.q === 'announce_peer' ? ` info_hash ${idToHex(query.a.info_hash)}` : '';
    log.push(`${query.q.padEnd(13)} from ${`${from.address}:${from.port}`.padEnd(17)}${hash}`.trimEnd());
  });
  const infoHash = randomIdWithPrefix(learner.id, 12);
  const announcer = nodes[nodes.length - 1]!;
  await announcer.announce(infoHash);
  stop();
  out.set('crawling/passive', fence([
    `our ID       ${idToHex(learner.id)}`,
    `info_hash    ${idToHex(infoHash)}   (shares ${12} bits with our ID)`,
    `announced by ${announcer.local.address}:${announcer.local.port}`,
    '',
    'queries our node received meanwhile:',
    ...log,
  ]));
}

function short(n: { id: Uint8Array; address: string; port: number }): string {
  return `${idToHex(n.id).slice(0, 8)}… ${`${n.address}:${n.port}`.padEnd(17)}`;
}
