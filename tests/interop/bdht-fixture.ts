/**
 * The test side of bdht_fixture.mjs: a network of webtorrent bittorrent-dht nodes in a child
 * process. The library comes from bench/node_modules (bench/package.json; `npm --prefix bench ci`),
 * never from dht-scrape's own dependencies.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineFixture, type FixtureEvent } from './line-fixture.js';

const FIXTURE = fileURLToPath(new URL('./bdht_fixture.mjs', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../bench/node_modules/bittorrent-dht/package.json', import.meta.url));

/** bittorrent-dht's version, or why it cannot be used. */
export function findBittorrentDht(): { version: string } | { missing: string } {
  if (!existsSync(PACKAGE)) return { missing: `${PACKAGE} not found (run: npm --prefix bench ci)` };
  try {
    return { version: (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string }).version };
  } catch (error) {
    return { missing: `${PACKAGE}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export interface BdhtNode { index: number; address: string; port: number; id: string }
export interface BdhtContact { id: string; address: string; port: number }

export type BdhtCommand =
  | { cmd: 'announce'; node: number; infohash: string; port: number }
  | { cmd: 'lookup'; node: number; infohash: string }
  | { cmd: 'stored'; infohash: string }
  | { cmd: 'table'; node: number }
  | { cmd: 'join'; address: string; bootstrap: string }
  | { cmd: 'quit' };

export interface BdhtOptions {
  nodes: number;
  /** k-bucket size and lookup width (stock: 20). */
  k: number;
  /** Node i on PREFIX.(i+1), all in one /24; with `spread`, each on its own /24 from PREFIX on. */
  prefix: string;
  spread?: boolean;
  ttlSeconds?: number;
  /** How many others each node is told of at random once all have joined (default 16). */
  fill?: number;
  /** Report every get_peers and announce_peer the nodes receive. */
  queries?: boolean;
}

export class BdhtFixture extends LineFixture<BdhtCommand> {
  /** Each node's routing table size when the network was ready (same order as `nodes`). */
  readonly tableSizes: number[] = [];

  private constructor(child: ChildProcessWithoutNullStreams, readonly nodes: BdhtNode[] = []) {
    super(child, (e) => e.event === 'query');
  }

  static async start(options: BdhtOptions): Promise<BdhtFixture> {
    const args = [FIXTURE, '--nodes', String(options.nodes), '--k', String(options.k), '--prefix', options.prefix, '--ttl', String(options.ttlSeconds ?? 120)];
    if (options.spread === true) args.push('--spread');
    if (options.queries === true) args.push('--queries');
    if (options.fill !== undefined) args.push('--fill', String(options.fill));
    const fixture = new BdhtFixture(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    // 200 nodes at k = 20 take 10-25 s to start on a loaded 2-core machine (whole-table replies).
    const ready = await fixture.waitFor((e) => e.event === 'ready' || e.event === 'fatal', 60_000, 'bittorrent-dht to be ready');
    if (ready.event !== 'ready') {
      await fixture.close();
      throw new Error(`bittorrent-dht fixture failed: ${JSON.stringify(ready)}\n${fixture.errors}`);
    }
    fixture.nodes.push(...(ready.nodes as BdhtNode[]));
    fixture.tableSizes.push(...(ready.tableSizes as number[]));
    return fixture;
  }

  endpoint(i: number): string {
    const n = this.nodes[i]!;
    return `${n.address}:${n.port}`;
  }

  async announce(node: number, infohash: string, port: number): Promise<void> {
    const done = await this.ask({ cmd: 'announce', node, infohash, port }, (e) => e.event === 'announced' && e.node === node && e.infohash === infohash, 15_000, `node ${node} to announce`);
    if (done.error !== null) throw new Error(`bittorrent-dht announce failed: ${String(done.error)}`);
  }

  /** The peers a bittorrent-dht lookup from `node` returns. */
  async lookup(node: number, infohash: string): Promise<string[]> {
    const done = await this.ask({ cmd: 'lookup', node, infohash }, (e) => e.event === 'lookup_done' && e.node === node && e.infohash === infohash, 15_000, `node ${node} to look ${infohash} up`);
    return done.peers as string[];
  }

  /** Which nodes store which peers for `infohash`. */
  async stored(infohash: string): Promise<Map<number, string[]>> {
    const done = await this.ask({ cmd: 'stored', infohash }, (e) => e.event === 'stored' && e.infohash === infohash, 5_000, 'the stored peers');
    return new Map(Object.entries(done.peers as Record<string, string[]>).map(([i, peers]) => [Number(i), peers]));
  }

  async table(node: number): Promise<BdhtContact[]> {
    const done = await this.ask({ cmd: 'table', node }, (e) => e.event === 'table' && e.node === node, 5_000, `node ${node}'s table`);
    return done.nodes as BdhtContact[];
  }

  /** Start one more node, bootstrapped from `bootstrap` only, and wait until bittorrent-dht calls it ready. */
  async join(address: string, bootstrap: string): Promise<FixtureEvent & { index: number; table: BdhtContact[] }> {
    return await this.ask({ cmd: 'join', address, bootstrap }, (e) => e.event === 'joined' && e.address === address, 20_000, `a node to join through ${bootstrap}`) as FixtureEvent & { index: number; table: BdhtContact[] };
  }
}

/** XOR distance of two hex IDs, as a number to sort by. */
export function xorDistance(a: string, b: string): bigint {
  return BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
}
