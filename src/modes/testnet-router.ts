/**
 * A bootstrap router like router.bittorrent.com and router.utorrent.com, for the `internet` local
 * network. Those addresses, the ones a fresh client knows, do not run a DHT node: they run
 * bittorrent/bootstrap-dht, which keeps no routing table and looks at no target. What it does, read
 * from its source (src/main.cpp, src/node_buffer.hpp) and README:
 *
 *  - It answers ping, find_node, get_peers and get alike, with its ID and, but for ping, the next
 *    16 nodes of a ring buffer (`nodes`, and `nodes6` when `want` asks for them): nodes it has
 *    verified, handed out in turn to whoever asks, whatever the target. No token, no peers.
 *  - An IP it has already answered since the last reset of its "recent" set (every 10 minutes)
 *    gets 3 nodes, not 16: a client's second query, or its retry, learns little.
 *  - A query (not read-only, BEP 43) from the same IP as the query just before it is dropped
 *    unanswered. At 20,000 requests a second (router.utorrent.com, by the README) someone else's
 *    query comes in between within a fraction of a millisecond, so what it drops is the second of
 *    two queries a client sends back to back.
 *  - Its buffer holds nodes that answered its ping 15 minutes after they queried it (only nodes
 *    with BEP 42 IDs are pinged), and is replaced in about 66 minutes: its nodes are alive more
 *    often than a table's contacts, but some have left since.
 *
 * RouterBook is those rules, pure; BootstrapRouter puts them on a socket.
 */
import { randomBytes } from 'node:crypto';
import { decodeMessage, encodeMessage, makeResponse, type ResponseBody, type Want } from '../wire/krpc.js';
import { familyOf, type Family, type NodeInfo } from '../wire/compact.js';
import type { NodeId } from '../wire/id.js';
import { udpTransport, withFaults, type Endpoint, type Faults, type Transport } from '../net/transport.js';

/** bootstrap-dht's numbers (main.cpp: `nodes_in_response`, the 3 for duplicates, the 10-minute reset). */
export const ROUTER_RULES = {
  nodes: 16,
  repeatNodes: 3,
  windowMs: 600_000,
  /** Two queries of one IP closer than this have nobody else's query between them (see above). */
  backToBackMs: 0.5,
  /** At most this many IPs remembered per window (bootstrap-dht: 4,000,000; a lab needs fewer). */
  maxRecent: 100_000,
} as const;

/** How many minutes a node handed out has, on average, been in the buffer (half its 66-minute turnover). */
export const ROUTER_BUFFER_AGE_MINUTES = 33;

/** The methods bootstrap-dht answers; anything else gets nothing. */
const ANSWERED = new Set(['ping', 'find_node', 'get_peers', 'get']);

/** The router's rules without a socket: who gets how many nodes, and which ones. */
export class RouterBook {
  private readonly cursor: Record<Family, number> = { 4: 0, 6: 0 };
  private readonly recent = new Set<string>();
  private windowStart: number;
  private last: { ip: string; at: number } | undefined;

  /** `buffer`: the nodes handed out, in the order they are handed out, per family. */
  constructor(private readonly buffer: Readonly<Partial<Record<Family, readonly NodeInfo[]>>>, now: number) {
    this.windowStart = now;
  }

  /** How many nodes a query from `ip` gets now, or 'drop' (the second of two back-to-back queries). */
  admit(ip: string, readOnly: boolean, now: number): number | 'drop' {
    if (now - this.windowStart >= ROUTER_RULES.windowMs) {
      this.recent.clear();
      this.windowStart = now;
    }
    if (!readOnly) {
      const backToBack = this.last?.ip === ip && now - this.last.at < ROUTER_RULES.backToBackMs;
      this.last = { ip, at: now };
      if (backToBack) return 'drop';
    }
    if (this.recent.has(ip)) return ROUTER_RULES.repeatNodes;
    if (this.recent.size < ROUTER_RULES.maxRecent) this.recent.add(ip);
    return ROUTER_RULES.nodes;
  }

  /** The next `count` nodes of `family`'s ring, wrapping around; all of them when it holds fewer. */
  next(family: Family, count: number): NodeInfo[] {
    const ring = this.buffer[family] ?? [];
    if (ring.length <= count) return [...ring];
    const out: NodeInfo[] = [];
    for (let i = 0; i < count; i++) {
      out.push(ring[this.cursor[family]]!);
      this.cursor[family] = (this.cursor[family] + 1) % ring.length;
    }
    return out;
  }
}

/** Where a router listens, what it hands out and how its datagrams fare. */
export interface RouterOptions {
  address: string;
  port?: number;
  id?: NodeId;
  buffer: Readonly<Partial<Record<Family, readonly NodeInfo[]>>>;
  faults?: Faults;
}

/** A running router (see the module comment). */
export class BootstrapRouter {
  private constructor(private readonly transport: Transport, readonly id: NodeId, private readonly book: RouterBook) {}

  static async start(options: RouterOptions): Promise<BootstrapRouter> {
    let transport = await udpTransport({ address: options.address, port: options.port ?? 0 });
    if (options.faults !== undefined) transport = withFaults(transport, options.faults);
    const router = new BootstrapRouter(transport, options.id ?? new Uint8Array(randomBytes(20)), new RouterBook(options.buffer, performance.now()));
    transport.onMessage((bytes, from) => router.answer(bytes, from));
    return router;
  }

  get local(): Endpoint {
    return this.transport.local();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private answer(bytes: Uint8Array, from: Endpoint): void {
    const parsed = decodeMessage(bytes);
    if (!parsed.ok || parsed.message.y !== 'q' || !ANSWERED.has(parsed.message.q)) return;
    const query = parsed.message;
    const count = this.book.admit(from.address, query.ro === true, performance.now());
    if (count === 'drop') return;
    const body: ResponseBody = { id: this.id };
    if (query.q !== 'ping') {
      const want: readonly Want[] = ('want' in query.a ? query.a.want : undefined) ?? [familyOf(from.address) === 6 ? 'n6' : 'n4'];
      if (want.includes('n4')) body.nodes = this.book.next(4, count);
      if (want.includes('n6')) body.nodes6 = this.book.next(6, count);
    }
    this.transport.send(encodeMessage(makeResponse(query.t, body, { ip: from })), from);
  }
}
