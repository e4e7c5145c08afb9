/**
 * Figure 2b: the CPU one query costs inside each DHT implementation, with no socket involved: the
 * same query bytes are handed straight to the receive path (`Rpc.receive` for ours, the socket's
 * 'message' event for bittorrent-dht, whose sends go nowhere). What is left is decoding, answering
 * (routing table, tokens, peer store) and encoding: the part of figure 2 a DHT library controls.
 * It is a CPU-bound loop, so unlike a rate over loopback it hardly depends on other work running
 * on the machine. Both nodes hold the same 128 random contacts, as in figure 2.
 */
import { EventEmitter } from 'node:events';
import DHT from 'bittorrent-dht';
import {
  DhtNode,
  KRPC_LIMITS,
  decode,
  decodeMessage,
  encode,
  encodeMessage,
  parseMessage,
  randomId,
  type Response,
  type Transport,
} from '../dist/index.js';
import { heading, median, num, ratio, table } from './report.js';

export interface HandlerCostOptions {
  rounds?: number;
  roundMs?: number;
  log?: (line: string) => void;
}

type Kind = 'ping' | 'find_node' | 'get_peers';
const KINDS: readonly Kind[] = ['ping', 'find_node', 'get_peers'];

export interface HandlerCost {
  kind: Kind;
  /** Median microseconds per query. */
  ours: number;
  theirs: number;
}

/** Where one ping's microseconds go inside our node: each piece timed alone, median microseconds. */
export interface PingBreakdown {
  /** Rpc.receive of a ping: all of it. */
  whole: number;
  /** decodeMessage, which takes the fast path (readCanonicalQuery) for a ping. */
  decode: number;
  /** The same packet through the general path alone: bencode decode, then parseMessage. */
  generalDecode: number;
  /** encodeMessage of the reply (with `ip` and `v`, as the node sends it). */
  encodeReply: number;
  /** The routing-table update a querier costs when it was not heard from in the last seconds. */
  recordQuery: number;
}

const FROM = { address: '127.220.0.1', port: 5000 };

export async function runHandlerCost(options: HandlerCostOptions = {}): Promise<{ figures: HandlerCost[]; ping: PingBreakdown }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const contacts = Array.from({ length: 128 }, (_, i) => ({ id: randomId(), address: `127.230.0.${i + 1}`, port: 6881 }));
  const sink: Transport = {
    send() {}, onMessage() {}, onSendError() {}, local: () => ({ address: '127.210.0.2', port: 6881 }), close: async () => {},
  };
  const ours = await DhtNode.create({ transport: sink, rpc: { sendRate: 1e12, sendBurst: 1e12 }, sourceLimit: false });
  for (const c of contacts) ours.table.recordResponse(c);
  const socket = fakeSocket();
  const theirs = new DHT({ bootstrap: false, socket: socket as never });
  for (const c of contacts) theirs.addNode({ id: Buffer.from(c.id), host: c.address, port: c.port });
  const rinfo = { ...FROM, family: 'IPv4', size: 0 };
  const figures: HandlerCost[] = [];
  let ping: PingBreakdown;
  try {
    for (const kind of KINDS) {
      const query = queryBytes(kind);
      const [o, t] = await interleaved([
        () => ours.rpc.receive(query, FROM),
        () => { socket.emit('message', query, rinfo); },
      ], options);
      figures.push({ kind, ours: o!, theirs: t! });
    }
    ping = await pingBreakdown(ours, options);
  } finally {
    await ours.close();
    await new Promise<void>((resolve) => theirs.destroy(() => resolve()));
  }
  log(heading('CPU per query inside the DHT code, no socket (median microseconds; lower is better)'));
  log(table(['query', 'dht-scrape', 'bittorrent-dht', 'ours/theirs'],
    figures.map((f) => [f.kind, num(f.ours, 2), num(f.theirs, 2), ratio(f.ours, f.theirs)])));
  log(formatBreakdown(ping));
  return { figures, ping };
}

/** Each piece of answering a ping, timed alone in the same interleaved rounds. */
async function pingBreakdown(node: DhtNode, options: HandlerCostOptions): Promise<PingBreakdown> {
  const query = queryBytes('ping');
  const reply: Response = { t: new Uint8Array([0x61, 0x62]), y: 'r', r: { id: node.id }, ip: FROM, v: new Uint8Array([0x44, 0x53, 0, 1]) };
  const querier = { id: randomId(), address: FROM.address, port: FROM.port };
  const packetOptions = { lenient: true, maxDepth: KRPC_LIMITS.maxDepth, maxItems: KRPC_LIMITS.maxItems };
  if (!decodeMessage(query).ok || !parseMessage(decode(query, packetOptions)).ok) throw new Error('the ping does not parse');
  const [whole, decodeFast, generalDecode, encodeReply, recordQuery] = await interleaved([
    () => node.rpc.receive(query, FROM),
    () => { decodeMessage(query); },
    () => { parseMessage(decode(query, packetOptions)); },
    () => { encodeMessage(reply); },
    () => { node.table.recordQuery(querier); },
  ], options);
  return { whole: whole!, decode: decodeFast!, generalDecode: generalDecode!, encodeReply: encodeReply!, recordQuery: recordQuery! };
}

export function formatBreakdown(ping: PingBreakdown): string {
  const share = (us: number): string => `${((100 * us) / ping.whole).toFixed(0)}%`;
  const rest = ping.whole - ping.decode - ping.encodeReply;
  return [
    '',
    'Where one ping goes in dht-scrape (each piece timed alone; median microseconds):',
    table(['piece', 'us', 'of the whole'], [
      ['Rpc.receive of a ping, all of it', num(ping.whole, 2), '100%'],
      ['  decodeMessage (the fast path for queries)', num(ping.decode, 2), share(ping.decode)],
      ['  encodeMessage of the reply (with ip and v)', num(ping.encodeReply, 2), share(ping.encodeReply)],
      ['  the rest: Rpc and DhtNode bookkeeping', num(rest, 2), share(rest)],
      ['for comparison: the general decoder and parser', num(ping.generalDecode, 2), ''],
      ['for comparison: a routing-table update per ping', num(ping.recordQuery, 2), ''],
    ]),
    '(A querier heard from in the last 5 s costs no routing-table update: RecentQueriers.)',
  ].join('\n');
}

function queryBytes(kind: Kind): Buffer {
  const id = randomId();
  const a = kind === 'ping' ? { id } : kind === 'find_node' ? { id, target: randomId() } : { id, info_hash: randomId() };
  return Buffer.from(encode({ a, q: kind, t: new Uint8Array([0x61, 0x62]), y: 'q' }));
}

/** What k-rpc-socket needs of a dgram socket; sends go nowhere. */
function fakeSocket(): EventEmitter & { send(): void; bind(): void; address(): { address: string; port: number }; close(): void } {
  const socket = new EventEmitter() as EventEmitter & { send(): void; bind(): void; address(): { address: string; port: number }; close(): void };
  socket.send = () => {};
  socket.bind = () => {};
  socket.address = () => ({ address: '127.210.0.3', port: 6881 });
  socket.close = () => { queueMicrotask(() => socket.emit('close')); };
  return socket;
}

/** Median microseconds per call of each job, over time-boxed rounds taken in turn. */
async function interleaved(jobs: (() => void)[], options: HandlerCostOptions): Promise<number[]> {
  const samples: number[][] = jobs.map(() => []);
  const roundMs = options.roundMs ?? 200;
  for (let round = -1; round < (options.rounds ?? 5); round++) {
    for (const [j, job] of jobs.entries()) {
      let calls = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        for (let i = 0; i < 100; i++) job();
        calls += 100;
        elapsed = performance.now() - start;
      } while (elapsed < roundMs);
      if (round >= 0) samples[j]!.push((elapsed * 1000) / calls);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return samples.map(median);
}
