/**
 * KRPC messages (BEP 5) shown to people: one line per packet for `--trace`, a few lines per reply
 * for `dht-scrape query`, and a JSON form with binary fields in hex. IDs, tokens and hashes stay
 * bytes until this point; this is the edge where they become hex.
 */
import { idToHex } from '../wire/id.js';
import type { NodeInfo, PeerInfo } from '../wire/compact.js';
import type { Message, ResponseBody } from '../wire/krpc.js';
import { formatEndpoint } from '../wire/address.js';
import { safeText } from './safe-text.js';

/** How many nodes, peers or samples a one-line trace lists before "...". */
const SHOWN_IN_LINE = 3;

/** One line: `q get_peers t=0a1b id=... info_hash=...`, `r t=0a1b id=... nodes=8 [...]`, `e t=.. 203 "..."`. */
export function messageLine(message: Message): string {
  const head = `${message.y}${message.y === 'q' ? ` ${message.q}` : ''} t=${hex(message.t)}`;
  const envelope = envelopeFields(message).map(([k, v]) => `${k}=${v}`);
  if (message.y === 'e') return [head, `${message.e.code} ${JSON.stringify(safeText(message.e.message))}`, ...envelope].join(' ');
  const fields = message.y === 'q' ? argFields(message.a) : bodyFields(message.r, SHOWN_IN_LINE);
  return [head, ...fields.map(([k, v]) => `${k}=${v}`), ...envelope].join(' ');
}

/** A reply for `dht-scrape query`: one field a line, every node, peer and sample listed. */
export function messageLines(message: Message): string[] {
  if (message.y === 'e') return [`error ${message.e.code}: ${safeText(message.e.message)}`, ...envelopeFields(message).map(([k, v]) => `${k}: ${v}`)];
  const fields = message.y === 'q' ? argFields(message.a) : bodyFields(message.r, Infinity);
  return [...fields, ...envelopeFields(message)].map(([k, v]) => `${k}: ${v}`);
}

/** The message as JSON: bytes in hex, compact node and peer lists decoded. */
export function messageJson(message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { y: message.y, t: hex(message.t) };
  if (message.v !== undefined) out.v = clientVersion(message.v);
  if (message.ip !== undefined) out.ip = endpoint(message.ip);
  if (message.ro !== undefined) out.ro = message.ro;
  if (message.y === 'e') out.e = { code: message.e.code, message: message.e.message };
  else if (message.y === 'q') { out.q = message.q; out.a = jsonFields(message.a as unknown as Record<string, unknown>); }
  else out.r = jsonFields(message.r as unknown as Record<string, unknown>);
  return out;
}

/**
 * BEP 20 style client version: two letters naming the client, then its version bytes,
 * e.g. "LT 0102" for libtorrent 1.2. Anything else is shown in hex.
 */
export function clientVersion(v: Uint8Array): string {
  const letters = String.fromCharCode(...v.subarray(0, 2));
  if (v.length >= 2 && /^[A-Za-z]{2}$/.test(letters)) return `${letters}${v.length > 2 ? ` ${hex(v.subarray(2))}` : ''}`;
  return hex(v);
}

type Field = [string, string];

function envelopeFields(message: Message): Field[] {
  const fields: Field[] = [];
  if (message.v !== undefined) fields.push(['v', clientVersion(message.v)]);
  if (message.ip !== undefined) fields.push(['ip', endpoint(message.ip)]);
  if (message.ro === true) fields.push(['ro', '1']);
  return fields;
}

function argFields(args: object): Field[] {
  return Object.entries(args).map(([k, v]) => [k, scalar(v)]);
}

function bodyFields(body: ResponseBody, shown: number): Field[] {
  const fields: Field[] = [];
  for (const [key, value] of Object.entries(body) as [keyof ResponseBody, ResponseBody[keyof ResponseBody]][]) {
    if (key === 'nodes' || key === 'nodes6') fields.push([key, list((value as NodeInfo[]).map((n) => `${idToHex(n.id)}@${endpoint(n)}`), shown)]);
    else if (key === 'values') fields.push([key, list((value as PeerInfo[]).map(endpoint), shown)]);
    else if (key === 'samples') fields.push([key, list((value as Uint8Array[]).map(hex), shown)]);
    else if (key === 'BFsd' || key === 'BFpe') fields.push([key, `${(value as Uint8Array).length} bytes`]);
    else fields.push([key, scalar(value)]);
  }
  return fields;
}

function jsonFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Uint8Array) out[key] = hex(value);
    else if (Array.isArray(value)) out[key] = value.map((item: unknown) => jsonItem(item));
    else out[key] = value;
  }
  return out;
}

function jsonItem(item: unknown): unknown {
  if (item instanceof Uint8Array) return hex(item);
  if (typeof item === 'object' && item !== null && 'address' in item && 'port' in item) {
    const { id, address, port } = item as Partial<NodeInfo> & PeerInfo;
    return id !== undefined ? { id: idToHex(id), address, port } : { address, port };
  }
  return item;
}

function list(items: string[], shown: number): string {
  if (items.length === 0) return '0';
  const head = items.slice(0, shown).join(', ');
  return `${items.length} [${head}${items.length > shown ? ', ...' : ''}]`;
}

function scalar(value: unknown): string {
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map(scalar).join(',');
  return safeText(String(value));
}

function endpoint(peer: PeerInfo): string {
  return formatEndpoint(peer);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
