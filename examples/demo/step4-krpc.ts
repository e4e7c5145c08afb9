/**
 * Step 4: KRPC (BEP 5, "KRPC Protocol"). Three real queries over UDP to one node of the local
 * network, ping, find_node and get_peers, with every datagram of the exchange caught by the
 * wiretap on our node's transport and shown decoded.
 */
import {
  compareDistance,
  decodeMessage,
  idEquals,
  idToHex,
  randomId,
  type DhtNode,
  type QueryArgsByMethod,
  type QueryOutcome,
} from '../../src/index.js';
import { describeMessage, summarizeMessage } from '../lib/describe-message.js';
import type { Packet } from '../lib/tap.js';
import type { DemoContext } from './context.js';

export async function krpcStep(context: DemoContext): Promise<void> {
  const { net, me, out } = context;
  const torrent = net.torrents[0]!;
  // A node that stores torrent 0: the closest one to its info-hash, so get_peers returns peers.
  const holder = [...net.live].sort((a, b) => compareDistance(torrent.infoHash, a.id, b.id))[0]!;
  const to = holder.local;
  out.say(
    `Our node now queries ${to.address}:${to.port} directly. A query carries a transaction ID "t" of our choosing; ` +
      'the reply echoes it, and the RPC layer (rpc.ts) only accepts it from the address the query went to.',
  );

  const ping = await exchange(context, holder, 'ping', { id: me.id });
  const pingOk = ping.kind === 'response' && idEquals(ping.response.r.id, holder.id);
  out.result(`ping: the node answered with its ID ${idToHex(holder.id).slice(0, 12)}…${pingOk ? ' (the ID it really has)' : ' (MISMATCH)'}`);

  const target = randomId();
  const found = await exchange(context, holder, 'find_node', { id: me.id, target });
  const nodes = found.kind === 'response' ? (found.response.r.nodes ?? []) : [];
  out.result(`find_node: ${nodes.length} nodes, 26 bytes each (20-byte ID, IPv4 address, port)`);

  const peers = await exchange(context, holder, 'get_peers', { id: me.id, info_hash: torrent.infoHash });
  if (peers.kind !== 'response') throw new Error(`get_peers failed: ${peers.kind}`);
  const values = peers.response.r.values ?? [];
  const token = peers.response.r.token;
  const known = new Set(torrent.peers.map((p) => `${p.address}:${p.port}`));
  const real = values.filter((p) => known.has(`${p.address}:${p.port}`)).length;
  out.say('The get_peers reply, decoded:');
  out.block(describeMessage(peers.response, 2).map((line) => `  ${line}`));
  out.say(
    'The node stores this torrent, so its reply has "values" (peers) besides "nodes"; and a "token" to ' +
      'send back with announce_peer (it proves we own our IP address).',
  );
  out.result(`get_peers: ${values.length} peers (${real} of them announced for it), token 0x${token === undefined ? '-' : idToHex(token)}`);
}

/**
 * Send one query through our node and print the datagrams exchanged with that node meanwhile
 * (the reply, and any query it sends us: a node pings a newcomer to see whether it answers).
 */
async function exchange<M extends 'ping' | 'find_node' | 'get_peers'>(
  { me, out, watch }: DemoContext,
  node: DhtNode,
  method: M,
  args: QueryArgsByMethod[M],
): Promise<QueryOutcome> {
  const peer = node.local;
  const seen: Packet[] = [];
  const stop = watch((packet) => {
    if (packet.peer.port === peer.port && packet.peer.address === peer.address) seen.push(packet);
  });
  const outcome = await me.query(peer, method, args);
  stop();
  out.say(out.style.paint('bold', `${method}:`));
  for (const packet of seen) {
    const parsed = decodeMessage(packet.bytes);
    const arrow = packet.direction === 'out' ? '→ to  ' : '← from';
    const what = parsed.ok ? summarizeMessage(parsed.message) : `undecodable: ${parsed.error.message}`;
    out.block([`${out.style.paint('yellow', `${arrow} ${String(packet.bytes.length).padStart(3)} B`)}  ${what}`]);
  }
  return outcome;
}
