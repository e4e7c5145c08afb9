/**
 * Step 3: the routing table (BEP 5, "Routing Table"). Our node joins the local network through one
 * bootstrap node; every node that answers enters its table. The same nodes are then replayed, in
 * the order they answered, into an empty table, to watch the bucket that holds our ID split. The
 * table is drawn as a tree, one line per bucket; `--verbose` adds renderTable(), every contact.
 */
import { EXTENDED_FAR_BUCKETS, RoutingTable, decodeMessage, findNode, idToHex, sharedPrefixLength, type NodeInfo } from '../../src/index.js';
import { renderTable, tableView } from '../../src/table/routing-table-view.js';
import { TREE_LEGEND, tableTree } from '../lib/table-tree.js';
import type { DemoContext } from './context.js';

export async function tableStep({ net, me, out, watch, lookupOptions, verbose }: DemoContext): Promise<void> {
  out.say(
    'A bucket holds k = 8 contacts (DhtNode, like libtorrent, lets the four farthest hold 128, 64, 32 ' +
      'and 16). An empty table is one bucket for the whole ID space; when the bucket holding our ID is ' +
      'full, it splits in two. Our node joins: find_node to one bootstrap node, a lookup for its own ID, ' +
      'a find_node into each empty slot of the far buckets, then one refresh lookup per bucket.',
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
  out.block([`joined in ${boot.durationMs} ms: ${messages} messages in, ${me.table.size} nodes in the table`]);
  const targets = me.table.refreshTargets(0);
  for (const target of targets) await me.lookup(target, findNode, { ...lookupOptions, timeoutMs: 5_000 }).result;
  stop();
  out.block([`refreshed ${targets.length} buckets: ${messages} messages in all, ${me.table.size} nodes`]);
  out.blank();

  out.say(
    'The same messages, replayed into an empty RoutingTable (pure code: no sockets): a node that ' +
      'answered enters as good, one that queried us as questionable, one a reply named as "heard of". Splits:',
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
        `event ${String(i + 1).padStart(4)} (${by.padEnd(5)}) ${idToHex(node.id).slice(0, 8)}… shares ` +
          `${String(sharedPrefixLength(me.id, node.id)).padStart(2)} bits with us: ` +
          `split${after - before > 1 ? ` ×${after - before}` : ''} → ${after} buckets`,
      );
    }
  });
  out.block(splits.length > 0 ? splits : ['(no split: fewer than k nodes were heard from)']);
  out.blank();
  const view = tableView(me.table);
  out.say(
    `The table as a tree of buckets: our ID is ${view.ownId.slice(0, 10)}…; bucket i holds the IDs ` +
      'sharing exactly i leading bits with it, the last one those sharing more. Dense near our ID, sparse ' +
      'far away (every contact: --verbose).',
  );
  out.block([TREE_LEGEND, ...tableTree(view)]);
  if (verbose) out.block(renderTable(me.table, { perBucket: Number.POSITIVE_INFINITY }).split('\n'));
  const stats = me.table.stats();
  const same = replay.size === me.table.size && replay.buckets().length === stats.buckets;
  out.result(
    `table: ${stats.nodes} nodes in ${stats.buckets} buckets (${stats.good} good); ` +
      `replay: ${splitCount} splits, ${same ? 'identical' : `${replay.size} nodes in ${replay.buckets().length} buckets`}`,
  );
}
