/**
 * A decoded KRPC message (krpc.ts's typed `Message`) as short readable lines: one per field, with
 * IDs in hex, compact nodes and peers unpacked, and a word on what each BEP field is for.
 */
import { idToHex, type Message, type NodeInfo, type PeerInfo } from '../../src/index.js';
import { shortHex } from './bencode-dump.js';

/** What the top-level fields and the most common body fields mean, for the margin. */
const NOTES: Readonly<Record<string, string>> = {
  t: 'transaction ID, echoed by the reply',
  y: '"q" query, "r" response, "e" error',
  q: 'the method',
  v: 'client version',
  ip: 'BEP 42: the address the responder saw us at',
  ro: 'BEP 43: read-only node',
  id: "sender's node ID",
  target: 'the ID we want nodes close to',
  info_hash: 'the torrent',
  token: 'write permission for announce_peer',
  nodes: 'compact node info: the closest it knows',
  values: 'peers of the torrent',
  implied_port: 'use the UDP source port',
  port: 'the TCP port peers should connect to',
  samples: 'BEP 51: info-hashes this node stores',
  interval: 'BEP 51: seconds before sampling again',
  num: 'BEP 51: info-hashes stored in total',
};

/** Lines like `a.info_hash  0x3f2a…  (the torrent)`. At most `maxItems` entries of a list are shown. */
export function describeMessage(message: Message, maxItems = 4): string[] {
  const rows: [string, string][] = [];
  const add = (key: string, value: unknown): void => {
    if (value === undefined) return;
    for (const [i, line] of formatValue(value, maxItems).entries()) rows.push([i === 0 ? key : '', line]);
  };
  add('t', message.t);
  add('y', message.y);
  if (message.v !== undefined) add('v', message.v);
  if (message.ip !== undefined) add('ip', message.ip);
  if (message.ro === true) add('ro', true);
  if (message.y === 'q') {
    add('q', message.q);
    for (const [key, value] of Object.entries(message.a)) add(`a.${key}`, value);
  } else if (message.y === 'r') {
    for (const [key, value] of Object.entries(message.r)) add(`r.${key}`, value);
  } else {
    add('e', `${message.e.code} ${JSON.stringify(message.e.message)}`);
  }
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => {
    const note = NOTES[key.replace(/^[ar]\./, '')];
    return `${key.padEnd(width)}  ${value}${note !== undefined && key !== '' ? `   (${note})` : ''}`;
  });
}

function formatValue(value: unknown, maxItems: number): string[] {
  if (value instanceof Uint8Array) return [isPrintable(value) ? JSON.stringify(Buffer.from(value).toString('latin1')) : `0x${shortHex(value, 20)}`];
  if (Array.isArray(value)) {
    const shown = value.slice(0, maxItems).map((item) => formatValue(item, maxItems)[0]!);
    const more = value.length > maxItems ? [`… ${value.length - maxItems} more`] : [];
    return [`${value.length} item${value.length === 1 ? '' : 's'}`, ...shown.map((s) => `  ${s}`), ...more.map((s) => `  ${s}`)];
  }
  if (isNode(value)) return [`${idToHex(value.id).slice(0, 12)}… at ${endpoint(value)}`];
  if (isPeer(value)) return [endpoint(value)];
  if (typeof value === 'string') return [JSON.stringify(value)];
  return [String(value)];
}

function isNode(value: unknown): value is NodeInfo {
  return isPeer(value) && 'id' in value && value.id instanceof Uint8Array;
}

function isPeer(value: unknown): value is PeerInfo {
  return typeof value === 'object' && value !== null && 'address' in value && 'port' in value;
}

function endpoint(peer: PeerInfo): string {
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}

/** Short printable byte strings (`y`, a 2-letter `t`, a client version) read best as text. */
function isPrintable(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.length <= 8 && bytes.every((b) => b >= 0x20 && b < 0x7f);
}

/** One short line for a message: `query t=508f  find_node` or `reply t=508f  id 1eba14f2…, 8 nodes, token`. */
export function summarizeMessage(message: Message): string {
  const t = `t=${Buffer.from(message.t).toString('hex')}`;
  if (message.y === 'q') return `query ${t}  ${message.q}`;
  if (message.y === 'e') return `error ${t}  ${message.e.code}`;
  const r = message.r;
  const parts = [`id ${idToHex(r.id).slice(0, 8)}…`];
  if (r.nodes !== undefined) parts.push(`${r.nodes.length} nodes`);
  if (r.values !== undefined) parts.push(`${r.values.length} values`);
  if (r.token !== undefined) parts.push('token');
  return `reply ${t}  ${parts.join(', ')}`;
}
