/**
 * The layer map: which folder of src/ may import from which. Data flows up, so a folder imports
 * only from the folders listed for it; siblings on the same level stay apart. The layer test
 * (tests/architecture/layers.test.ts) and the module map in docs/architecture.md both read this.
 */

export interface Layer {
  /** Folder under src/ ('' for the package entry, index.ts). */
  readonly folder: string;
  /** Height in the stack: 0 for the wire formats, larger for what is built on them. */
  readonly level: number;
  /** The folders it may import from (its own folder is always allowed). */
  readonly imports: readonly string[];
  /** One line for the README and docs/architecture.md. */
  readonly about: string;
}

export const LAYERS: readonly Layer[] = [
  { folder: 'wire', level: 0, imports: [], about: 'bytes on the wire: bencode, node IDs and XOR, compact info, KRPC messages, magnets, BEP 42 IDs, BEP 33 blooms' },
  { folder: 'table', level: 1, imports: ['wire'], about: "a node's pure state: the k-bucket routing table and its view, tokens, the peer store" },
  { folder: 'net', level: 1, imports: ['wire'], about: 'UDP and KRPC transactions: transport, RPC timeouts and pacing, rate limits, RTT' },
  { folder: 'peer', level: 1, imports: ['wire'], about: 'the peer protocol over TCP: BEP 3 handshake, BEP 10, BEP 9 metadata, probe, seeder' },
  { folder: 'tracker', level: 1, imports: ['wire'], about: 'trackers beside the DHT: UDP (BEP 15) and HTTP (BEP 3, 23, 48) announce and scrape' },
  { folder: 'dht', level: 2, imports: ['wire', 'table', 'net'], about: 'the DHT engine: the one iterative lookup (pure state and driver) and the node' },
  { folder: 'crawl', level: 3, imports: ['wire', 'table', 'net', 'dht'], about: 'crawler mode: passive capture, sample_infohashes schedule, the store and its log' },
  { folder: 'modes', level: 3, imports: ['wire', 'table', 'net', 'dht', 'peer'], about: 'scraper mode and its helpers (BEP 33 swarm size, names), the local network' },
  { folder: 'cli', level: 4, imports: ['wire', 'table', 'net', 'peer', 'tracker', 'dht', 'crawl', 'modes'], about: 'the command line: options, sessions, one file per command, terminal manners' },
  { folder: '', level: 5, imports: ['wire', 'table', 'net', 'peer', 'tracker', 'dht', 'crawl', 'modes'], about: 'index.ts, the library API' },
];

/** The layer a src/-relative path belongs to ('dht/node.ts' -> dht), or undefined if none. */
export function layerOf(path: string): Layer | undefined {
  const slash = path.indexOf('/');
  const folder = slash === -1 ? '' : path.slice(0, slash);
  return LAYERS.find((l) => l.folder === folder);
}

/** Why `from` may not import `to` (both src/-relative paths), or undefined if it may. */
export function forbiddenImport(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!a) return `${from} is in no layer (add its folder to LAYERS)`;
  if (!b) return `${to} is in no layer (add its folder to LAYERS)`;
  if (a === b || a.imports.includes(b.folder)) return undefined;
  const how = b.level > a.level ? 'up' : b.level === a.level ? 'across to a sibling' : 'to a layer it does not list';
  return `${from} (${a.folder || 'index'}) imports ${to} (${b.folder || 'index'}): ${how}`;
}
