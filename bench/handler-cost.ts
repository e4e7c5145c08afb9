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
import { DhtNode, encode, randomId, type Transport } from '../dist/index.js';
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

const FROM = { address: '127.220.0.1', port: 5000 };

export async function runHandlerCost(options: HandlerCostOptions = {}): Promise<HandlerCost[]> {
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
  try {
    for (const kind of KINDS) {
      const query = queryBytes(kind);
      const [o, t] = await interleaved([
        () => ours.rpc.receive(query, FROM),
        () => { socket.emit('message', query, rinfo); },
      ], options);
      figures.push({ kind, ours: o!, theirs: t! });
    }
  } finally {
    await ours.close();
    await new Promise<void>((resolve) => theirs.destroy(() => resolve()));
  }
  log(heading('CPU per query inside the DHT code, no socket (median microseconds; lower is better)'));
  log(table(['query', 'dht-scrape', 'bittorrent-dht', 'ours/theirs'],
    figures.map((f) => [f.kind, num(f.ours, 2), num(f.theirs, 2), ratio(f.ours, f.theirs)])));
  return figures;
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
