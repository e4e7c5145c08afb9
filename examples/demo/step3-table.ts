/**
 * Step 3: the routing table (BEP 5, "Routing Table"). Our node joins the local network through one
 * bootstrap node; every node that answers enters its table. The same nodes are then replayed, in
 * the order they answered, into an empty table, to watch the bucket that holds our ID split.
 */
import { EXTENDED_FAR_BUCKETS, RoutingTable, decodeMessage, findNode, idToHex, sharedPrefixLength, type NodeInfo } from '../../src/index.js';
import type { DemoContext } from './context.js';

export async function tableStep({ net, me, out, watch, lookupOptions }: DemoContext): Promise<void> {
  out.say(
    'A node keeps up to k = 8 contacts per bucket (DhtNode, like libtorrent, gives the four farthest buckets ' +
      '128, 64, 32 and 16). An empty table is one bucket covering the whole ID space; ' +
      'when the bucket holding our own ID is full, it splits in two, so the table ends up dense near our ID ' +
      'and sparse far away. Our node now joins the network: find_node(our ID) to one bootstrap node, then an ' +
      'iterative find_node lookup for our own ID, and alongside it one find_node into each empty slot of the far ' +
      'buckets (node.bootstrap()). Then it refreshes every bucket, as a node ' +
      'does every 15 minutes: a find_node lookup for a random ID in the bucket\'s range.',
  );
  // What the table is told, in order: a reply (the node answers), a query (the node is alive, unproven),
  // or a node named in a reply (only heard of).
  const heard: { node: NodeInfo; by: 'reply' | 'query' | 'named' }[] = [];
  let messages = 0;
  const stop = watch((packet) => {
    if (packet.direction !== 'in') return;
    const parsed = decodeMessage(packet.bytes);
    if (!parsed.ok || parsed.message.y === 'e') return;
    messages++;
    if (parsed.message.y === 'q') {
      heard.push({ node: { id: parsed.message.a.id, ...packet.peer }, by: 'query' });
      return;
    }
    heard.push({ node: { id: parsed.message.r.id, ...packet.peer }, by: 'reply' });
    for (const named of (parsed.message.r.nodes ?? []).slice(0, 8)) heard.push({ node: named, by: 'named' });
  });
  const boot = await me.bootstrap(net.bootstrap.slice(0, 1), { timeoutMs: 10_000 });
  if (me.table.size === 0) throw new Error('bootstrap left the routing table empty');
  out.block([`bootstrap from ${net.bootstrap[0]!.address}:${net.bootstrap[0]!.port}: ${messages} messages in ${boot.durationMs} ms, ${me.table.size} nodes in the table`]);
  const targets = me.table.refreshTargets(0);
  for (const target of targets) await me.lookup(target, findNode, { ...lookupOptions, timeoutMs: 5_000 }).result;
  stop();
  out.block([`refresh: ${targets.length} find_node lookups, ${messages} messages in all, ${me.table.size} nodes in the table`]);
  out.blank();

  out.say(
    'The same messages, replayed one by one into an empty RoutingTable (pure code: no sockets, no clock). ' +
      'A node that answered goes in as good; one that only queried us goes in too, as questionable, until it answers a ping; ' +
      'one a reply named takes a free slot as questionable, "heard of", until our own queries reach it. Each split:',
  );
  const replay = new RoutingTable(me.id, { farBucketSizes: EXTENDED_FAR_BUCKETS });
  const splits: string[] = [];
  let splitCount = 0;
  heard.forEach(({ node, by }, i) => {
    const before = replay.buckets().length;
    if (by === 'reply') replay.recordResponse(node);
    else if (by === 'query') replay.recordQuery(node);
    else replay.recordHeard(node);
    const after = replay.buckets().length;
    if (after > before) {
      splitCount += after - before;
      splits.push(
        `event ${String(i + 1).padStart(4)} (${by}): ${idToHex(node.id).slice(0, 8)}… shares ${sharedPrefixLength(me.id, node.id)} bits with us; ` +
          `the last bucket is full and holds our ID → split${after - before > 1 ? ` ${after - before} times` : ''}, now ${after} buckets`,
      );
    }
  });
  out.block(splits.length > 0 ? splits : ['(no split: fewer than k nodes were heard from)']);
  out.blank();
  out.say(
    'And the real table, as RoutingTable.dump() shows it. Bucket i holds the nodes sharing exactly i leading ' +
      'bits with our ID; the last bucket holds the ones sharing more. Far buckets (low i) cover huge ranges with ' +
      'few nodes; the closest ones are where the table is dense.',
  );
  out.block(me.table.dump({ perBucket: Number.POSITIVE_INFINITY }).split('\n'));
  const stats = me.table.stats();
  const same = replay.size === me.table.size && replay.buckets().length === stats.buckets;
  out.result(
    `routing table: ${stats.nodes} nodes in ${stats.buckets} buckets (${stats.good} good); ` +
      `the replay split ${splitCount} times and ${same ? 'ends identical' : `ends with ${replay.size} nodes in ${replay.buckets().length} buckets`}`,
  );
}
