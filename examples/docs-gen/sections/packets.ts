/**
 * Packet dumps for the protocol walk-through: real queries from the learner node to one node of
 * the docs' network, every datagram exchanged meanwhile, shown token by token and decoded.
 */
import { compareDistance, decodeMessage, findNode, randomId, type DhtNode, type QueryArgsByMethod, type QueryMethod } from '../../../src/index.js';
import { bencodeTokens, formatTokens, hexDump } from '../../lib/bencode-dump.js';
import { describeMessage } from '../../lib/describe-message.js';
import type { Packet } from '../../lib/tap.js';
import { NEVER_MS, type Scenario } from '../scenario.js';

export type Sections = Map<string, string>;

/** protocol/<method> for each query type, protocol/error, protocol/compact-node. */
export async function packetSections(scenario: Scenario, out: Sections): Promise<void> {
  const { learner, torrents, nodes } = scenario;
  // Join, then refresh every bucket once (BEP 5: a find_node for a random ID in its range).
  await learner.bootstrap([nodes[0]!.local], { timeoutMs: NEVER_MS });
  for (const target of learner.table.refreshTargets(0)) await learner.lookup(target, findNode).result;
  const torrent = torrents[0]!;
  const holder = [...nodes].sort((a, b) => compareDistance(torrent.infoHash, a.id, b.id))[0]!;

  const ping = await exchange(scenario, holder, 'ping', { id: learner.id });
  out.set('protocol/ping', render(ping, { hex: true }));

  const closer = await exchange(scenario, holder, 'find_node', { id: learner.id, target: randomId() });
  out.set('protocol/find_node', render(closer));
  out.set('protocol/compact-node', compactNode(closer));

  const getPeers = await exchange(scenario, holder, 'get_peers', { id: learner.id, info_hash: torrent.infoHash });
  out.set('protocol/get_peers', render(getPeers));
  const reply = getPeers.map((p) => decodeMessage(p.bytes)).find((m) => m.ok && m.message.y === 'r');
  const token = reply?.ok && reply.message.y === 'r' ? reply.message.r.token : undefined;
  if (token === undefined) throw new Error('get_peers gave no token');

  const announce = await exchange(scenario, holder, 'announce_peer', { id: learner.id, info_hash: torrent.infoHash, port: 51413, token });
  out.set('protocol/announce_peer', render(announce));

  const forged = await exchange(scenario, holder, 'announce_peer', {
    id: learner.id, info_hash: torrent.infoHash, port: 51413, token: new Uint8Array([0xba, 0xad, 0xf0, 0x0d]),
  });
  out.set('protocol/error', render(forged));

  const sample = await exchange(scenario, holder, 'sample_infohashes', { id: learner.id, target: randomId() });
  out.set('protocol/sample_infohashes', render(sample));
}

/** Send one query from the learner and collect every datagram between it and `node` until the outcome. */
async function exchange<M extends QueryMethod>(scenario: Scenario, node: DhtNode, method: M, args: QueryArgsByMethod[M]): Promise<Packet[]> {
  const peer = node.local;
  const packets: Packet[] = [];
  const stop = scenario.watch((packet) => {
    if (packet.peer.address === peer.address && packet.peer.port === peer.port) packets.push(packet);
  });
  const outcome = await scenario.learner.query(peer, method, args);
  stop();
  if (outcome.kind === 'timeout' || outcome.kind === 'failed') throw new Error(`${method}: ${outcome.kind}`);
  return packets;
}

function render(packets: readonly Packet[], options: { hex?: boolean } = {}): string {
  const parts = packets.map((packet, i) => {
    const parsed = decodeMessage(packet.bytes);
    if (!parsed.ok) throw new Error(`undecodable packet in the docs: ${parsed.error.message}`);
    const m = parsed.message;
    const what = m.y === 'q' ? `query \`${m.q}\`` : m.y === 'r' ? 'response' : `error ${m.e.code}`;
    const direction = packet.direction === 'out' ? `we send to ${endpoint(packet.peer)}` : `${endpoint(packet.peer)} sends us`;
    const lines: string[] = [];
    if (options.hex === true && i === 0) lines.push(...hexDump(packet.bytes), '');
    lines.push(...formatTokens(bencodeTokens(packet.bytes)), '', ...describeMessage(m, 3));
    return `**${i + 1}. ${direction}: ${what}** (${packet.bytes.length} bytes)\n\n\`\`\`text\n${lines.join('\n')}\n\`\`\``;
  });
  return parts.join('\n\n');
}

/** The first entry of a `nodes` string, cut into its three fields. */
function compactNode(packets: readonly Packet[]): string {
  for (const packet of packets) {
    const parsed = decodeMessage(packet.bytes);
    if (!parsed.ok || parsed.message.y !== 'r' || parsed.message.r.nodes === undefined) continue;
    const first = parsed.message.r.nodes[0]!;
    const bytes = Buffer.from(packet.bytes);
    const at = bytes.indexOf(Buffer.from(first.id));
    const entry = bytes.subarray(at, at + 26);
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ');
    return [
      '```text',
      `bytes 0-19   ${hex(entry.subarray(0, 20))}`,
      '             node ID',
      `bytes 20-23  ${hex(entry.subarray(20, 24))}   IPv4 address ${first.address}`,
      `bytes 24-25  ${hex(entry.subarray(24, 26))}           port ${entry[24]!} × 256 + ${entry[25]!} = ${first.port}`,
      '```',
    ].join('\n');
  }
  throw new Error('no nodes in the find_node exchange');
}

function endpoint(e: { address: string; port: number }): string {
  return `${e.address}:${e.port}`;
}
