/**
 * What the node remembers between runs: its ID (a stable identity is good citizenship: other nodes'
 * tables stay valid) and some good nodes, which the next start contacts first. That makes a restart
 * fast, and lets the tool join while the public routers are down.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NodeInfo } from '../wire/compact.js';
import { idFromHex, idToHex, type NodeId } from '../wire/id.js';

export interface SavedState {
  id: NodeId;
  nodes: NodeInfo[];
}

const MAX_SAVED_NODES = 200;

/** The per-user cache directory, as each platform names it. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'dht-scrape', 'state.json');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'dht-scrape', 'state.json');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dht-scrape', 'state.json');
}

/** Undefined when there is no file or it is unreadable: a bad cache is never a reason to fail. */
export async function loadState(path: string): Promise<SavedState | undefined> {
  try {
    const raw: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof raw !== 'object' || raw === null) return undefined;
    const { id, nodes } = raw as { id?: unknown; nodes?: unknown };
    if (typeof id !== 'string' || !Array.isArray(nodes)) return undefined;
    const parsed: NodeInfo[] = [];
    for (const entry of nodes.slice(0, MAX_SAVED_NODES)) {
      const node = parseNode(entry);
      if (node !== undefined) parsed.push(node);
    }
    return { id: idFromHex(id), nodes: parsed };
  } catch {
    return undefined;
  }
}

function parseNode(entry: unknown): NodeInfo | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { id, address, port } = entry as Record<string, unknown>;
  if (typeof id !== 'string' || typeof address !== 'string' || typeof port !== 'number') return undefined;
  if (!/^[0-9a-f]{40}$/i.test(id) || !(port > 0 && port < 65536)) return undefined;
  return { id: idFromHex(id), address, port };
}

/** Write atomically (temp file, then rename), so a crash never leaves half a file. */
export async function saveState(path: string, state: SavedState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const body = JSON.stringify({
    id: idToHex(state.id),
    nodes: state.nodes.slice(0, MAX_SAVED_NODES).map((n) => ({ id: idToHex(n.id), address: n.address, port: n.port })),
    saved: new Date().toISOString(),
  }, null, 1);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, body);
  await rename(temp, path);
}
