/**
 * What the node remembers between runs: its ID (a stable identity is good citizenship: other nodes'
 * tables stay valid) and some good nodes, which the next start contacts first. That makes a restart
 * fast, and lets the tool join while the public routers are down.
 *
 * Good nodes are kept **per network**: the public DHT (no --bootstrap) has its list, and each set of
 * --bootstrap addresses names a network of its own (a local network, a lab). A run reads and writes
 * only the list of the network it joins, so nodes of one network never seed another. Loopback,
 * private and link-local addresses never enter the public DHT's list: on the internet they would
 * name somebody else's machine, or nobody.
 *
 * The file is ours alone: it carries a `format` field, and a path holding anything else (a crawl
 * log, a device, a directory, a symbolic link) is refused, never replaced.
 */
import { lstat, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ipFamily, type NodeInfo } from '../wire/compact.js';
import { idFromHex, idToHex, type NodeId } from '../wire/id.js';
import { isExemptAddress } from '../wire/secure-id.js';
import type { HostPort } from './bootstrap-nodes.js';

/**
 * One network's memory: the ID we use and the good nodes last seen there, of both families (BEP 32:
 * a dual-stack run saves its IPv4 and its IPv6 node's contacts in the one list; each address says
 * its family). `id6`: the ID of the IPv6 node that ran beside an IPv4 one (BEP 42 makes a node's
 * ID depend on its address, so the two differ); a file without it gives that node a fresh ID.
 */
export interface SavedState {
  id: NodeId;
  id6?: NodeId;
  nodes: NodeInfo[];
}

/** The value of the file's `format` field. Files written before it existed ({id, nodes, saved}) are read too. */
export const STATE_FORMAT = 'dht-scrape-state/2';
/** The network a run joins when no --bootstrap is given. */
export const PUBLIC_NETWORK = 'public';
/**
 * Nodes kept per network and per family. IPv4 nodes are written first: a version before the IPv6
 * ones were saved reads at most 200 of a list (its IPv4 ones, which are all it can use).
 */
const MAX_SAVED_NODES = 200;
/** Networks remembered besides the public one; the one saved longest ago is forgotten first. */
const MAX_OTHER_NETWORKS = 16;
/** A state file is small (16 networks of 2 x 200 nodes is ~800 kB): anything bigger is not ours. */
const MAX_STATE_BYTES = 4 * 1024 * 1024;

/** A path that holds something other than a state file of ours: refused, one line for the user. */
export class StateFileRefused extends Error {
  constructor(message: string) { super(message); this.name = 'StateFileRefused'; }
}

/** The per-user cache directory, as each platform names it. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'dht-scrape', 'state.json');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'dht-scrape', 'state.json');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dht-scrape', 'state.json');
}

/** The network a run joins: the public DHT, or the one its bootstrap set names (order and repeats aside). */
export function networkKey(bootstrap: readonly HostPort[]): string {
  if (bootstrap.length === 0) return PUBLIC_NETWORK;
  const entries = new Set(bootstrap.map(({ host, port }) => (host.includes(':') ? `[${host.toLowerCase()}]:${port}` : `${host.toLowerCase()}:${port}`)));
  return `bootstrap ${[...entries].sort().join(',')}`;
}

/** Whether a node may be remembered for `network`: on the public DHT, only internet addresses. */
export function belongsTo(network: string, address: string): boolean {
  if (network !== PUBLIC_NETWORK) return true;
  return ipFamily(address) !== 0 && !isExemptAddress(address);
}

// ---- The file's contents (pure) ----

interface NetworkEntry { nodes: NodeInfo[]; saved: string }

/** A state file, parsed: the ID and each network's nodes. */
export interface StateContents {
  id: NodeId;
  id6?: NodeId;
  networks: Map<string, NetworkEntry>;
}

/** The contents of a file of ours, or undefined for anything that is not one. */
export function parseStateFile(text: string): StateContents | undefined {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return undefined; }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const record = raw as Record<string, unknown>;
  if (typeof record.id !== 'string' || !/^[0-9a-f]{40}$/i.test(record.id)) return undefined;
  const id = idFromHex(record.id);
  // Absent from files written before it; one that is not an ID is dropped (the node takes a fresh one).
  const id6 = typeof record.id6 === 'string' && /^[0-9a-f]{40}$/i.test(record.id6) ? { id6: idFromHex(record.id6) } : {};
  if (record.format === undefined) {
    // Written before networks were kept apart: its nodes were meant for the public DHT.
    if (!Object.keys(record).every((key) => key === 'id' || key === 'nodes' || key === 'saved')) return undefined;
    if (!Array.isArray(record.nodes)) return undefined;
    const saved = typeof record.saved === 'string' ? record.saved : '';
    return { id, networks: new Map([[PUBLIC_NETWORK, { nodes: parseNodes(record.nodes, PUBLIC_NETWORK), saved }]]) };
  }
  if (record.format !== STATE_FORMAT) return undefined;
  const networks = new Map<string, NetworkEntry>();
  if (typeof record.networks === 'object' && record.networks !== null) {
    for (const [name, entry] of Object.entries(record.networks as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null) continue;
      const { nodes, saved } = entry as Record<string, unknown>;
      if (Array.isArray(nodes)) networks.set(name, { nodes: parseNodes(nodes, name), saved: typeof saved === 'string' ? saved : '' });
    }
  }
  return { id, ...id6, networks };
}

function parseNodes(entries: readonly unknown[], network: string): NodeInfo[] {
  const parsed: NodeInfo[] = [];
  for (const entry of entries.slice(0, 2 * MAX_SAVED_NODES)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { id, address, port } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || typeof address !== 'string' || typeof port !== 'number') continue;
    if (!/^[0-9a-f]{40}$/i.test(id) || !(Number.isInteger(port) && port > 0 && port < 65536)) continue;
    if (!belongsTo(network, address)) continue;
    parsed.push({ id: idFromHex(id), address, port });
  }
  return capPerFamily(parsed);
}

/** At most MAX_SAVED_NODES of each family, IPv4 first (see MAX_SAVED_NODES), each family in its order. */
function capPerFamily(nodes: readonly NodeInfo[]): NodeInfo[] {
  const ofFamily = (v6: boolean): NodeInfo[] => nodes.filter((n) => (ipFamily(n.address) === 6) === v6).slice(0, MAX_SAVED_NODES);
  return [...ofFamily(false), ...ofFamily(true)];
}

/** `contents` with `network`'s nodes replaced, keeping the public list and the most recent others. */
export function withNetwork(contents: StateContents | undefined, network: string, state: SavedState, now: Date): StateContents {
  const networks = new Map(contents?.networks ?? []);
  networks.delete(network);
  networks.set(network, { nodes: capPerFamily(state.nodes.filter((n) => belongsTo(network, n.address))), saved: now.toISOString() });
  const others = [...networks.entries()].filter(([name]) => name !== PUBLIC_NETWORK).sort((a, b) => b[1].saved.localeCompare(a[1].saved));
  for (const [name] of others.slice(MAX_OTHER_NETWORKS)) networks.delete(name);
  const id6 = state.id6 ?? contents?.id6;
  return { id: state.id, ...(id6 !== undefined ? { id6 } : {}), networks };
}

export function encodeStateFile(contents: StateContents, now: Date): string {
  const networks: Record<string, unknown> = {};
  for (const [name, entry] of contents.networks) {
    networks[name] = { saved: entry.saved, nodes: entry.nodes.map((n) => ({ id: idToHex(n.id), address: n.address, port: n.port })) };
  }
  // `id6` is a field a version before it ignores (and drops when it saves): the format stays 2.
  const id6 = contents.id6 !== undefined ? { id6: idToHex(contents.id6) } : {};
  return JSON.stringify({ format: STATE_FORMAT, id: idToHex(contents.id), ...id6, saved: now.toISOString(), networks }, null, 1);
}

// ---- The file (I/O) ----

/**
 * What the path holds now: nothing (undefined), or a state file of ours. Anything else throws
 * StateFileRefused, saying what is there: the tool never replaces a file it did not write.
 */
export async function readStateFile(path: string): Promise<StateContents | undefined> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw new StateFileRefused(`cannot use the state file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (stats.isDirectory()) throw new StateFileRefused(`the state file ${path} is a directory; give --state a file name`);
  if (stats.isSymbolicLink()) throw new StateFileRefused(`the state file ${path} is a symbolic link; give --state the file itself`);
  if (!stats.isFile()) throw new StateFileRefused(`the state file ${path} is not a regular file; refusing to replace it`);
  const notOurs = new StateFileRefused(`${path} is not a dht-scrape state file (no "format": "${STATE_FORMAT}"); refusing to replace it (choose another --state, or --no-state)`);
  if (stats.size > MAX_STATE_BYTES) throw notOurs;
  let text: string;
  try {
    const handle = await open(path, 'r');
    try { text = await handle.readFile('utf8'); } finally { await handle.close(); }
  } catch (error) {
    throw new StateFileRefused(`cannot read the state file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const contents = parseStateFile(text);
  if (contents === undefined) throw notOurs;
  return contents;
}

/** `network`'s memory, or undefined when the file has none (the ID is shared by every network). */
export async function loadState(path: string, network: string): Promise<SavedState | undefined> {
  const contents = await readStateFile(path);
  if (contents === undefined) return undefined;
  return { id: contents.id, ...(contents.id6 !== undefined ? { id6: contents.id6 } : {}), nodes: contents.networks.get(network)?.nodes ?? [] };
}

/**
 * Replace `network`'s nodes in the file, keeping the other networks' (re-read now: another run may
 * have saved since we started). Written atomically (temp file, then rename), so a crash never
 * leaves half a file; the temp file is removed if anything fails.
 */
export async function saveState(path: string, network: string, state: SavedState, now = new Date()): Promise<void> {
  const current = await readStateFile(path);
  await mkdir(dirname(path), { recursive: true });
  const body = encodeStateFile(withNetwork(current, network, state, now), now);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, body, { flag: 'wx' });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
