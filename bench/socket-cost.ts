/**
 * Figure 2c: what a reply costs beyond the DHT code, and why. The load generator of figure 2 drives
 * raw UDP echo servers that spend a set time on each datagram before echoing it, and our node,
 * whose sends go out at once (as it ships) or batched once per event-loop turn.
 *
 * On a loopback, the sender of a datagram also pays for delivering it: when the receiving process
 * is asleep in epoll, waking it (and, in a virtual machine, the idle virtual CPU it sleeps on) is
 * charged to the sender's system time. A server faster than the load generator finds it awake; a
 * slower one finds it asleep for nearly every reply, and pays a wake-up each time. So the CPU per
 * reply, and the rate, are not the echo's cost plus the handler's: the echo with a busy-wait as
 * long as our handler shows how much of our gap to the echo is this effect and how much our code.
 * Batching the sends of one event-loop turn pays one wake-up per batch; the echo is measured that
 * way too, so that the two are compared like for like.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { DhtNode, randomId, udpTransport, type Endpoint, type Transport } from '../dist/index.js';
import { heading, median, num, percent, table } from './report.js';
import { GENERATOR_SOURCES, queryTemplate, startGenerator } from './throughput.js';

export interface SocketCostOptions {
  /** Microseconds our node spends on a ping without a socket (from the handler-cost figure); the echo busy-waits this long. */
  handlerMicros: number;
  rounds?: number;
  measureMs?: number;
  log?: (line: string) => void;
}

export interface SocketCostRow {
  server: string;
  repliesPerSecond: number;
  cpuMicrosPerReply: number;
  serverBusy: number;
}

interface Server {
  name: string;
  endpoint: Endpoint;
  expect: 'q' | 'r';
  received(): number;
  close(): Promise<void>;
}

export async function runSocketCost(options: SocketCostOptions): Promise<SocketCostRow[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const spin = Math.max(0.5, Math.round(options.handlerMicros * 10) / 10);
  const servers: Server[] = [];
  const generator = startGenerator();
  const samples = new Map<string, { rate: number[]; cpu: number[]; busy: number[] }>();
  try {
    servers.push(await echoServer('UDP echo', '127.211.0.1', 0, false));
    servers.push(await echoServer(`UDP echo + ${num(spin, 1)} us busy-wait`, '127.211.0.2', spin, false));
    servers.push(await echoServer('UDP echo, sends batched per loop turn', '127.211.0.3', 0, true));
    servers.push(await echoServer(`UDP echo + ${num(spin, 1)} us, batched`, '127.211.0.4', spin, true));
    servers.push(await nodeServer('dht-scrape', '127.211.0.5', false));
    servers.push(await nodeServer('dht-scrape, sends batched per loop turn', '127.211.0.6', true));
    const template = queryTemplate('ping');
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      for (const server of servers) {
        const elu = performance.eventLoopUtilization();
        const cpu = process.cpuUsage();
        const before = server.received();
        const load = await generator.run({
          target: server.endpoint,
          template,
          expect: server.expect,
          sources: GENERATOR_SOURCES,
          window: 32,
          warmupMs: 300,
          measureMs: options.measureMs ?? 1_000,
          staleMs: 300,
        });
        const used = process.cpuUsage(cpu);
        const entry = samples.get(server.name) ?? { rate: [], cpu: [], busy: [] };
        entry.rate.push(load.repliesPerSecond);
        entry.cpu.push((used.user + used.system) / Math.max(1, server.received() - before));
        entry.busy.push(performance.eventLoopUtilization(elu).utilization);
        samples.set(server.name, entry);
      }
    }
  } finally {
    await generator.close();
    for (const server of servers) await server.close();
  }
  const rows = servers.map((s): SocketCostRow => {
    const entry = samples.get(s.name)!;
    return { server: s.name, repliesPerSecond: median(entry.rate), cpuMicrosPerReply: median(entry.cpu), serverBusy: median(entry.busy) };
  });
  log(formatSocketCost(rows, spin));
  return rows;
}

export function formatSocketCost(rows: readonly SocketCostRow[], spin: number): string {
  const echo = rows[0]!;
  return [
    heading('Where a reply over loopback goes: echo servers that busy-wait, and batched sends (ping; median of rounds)'),
    `The busy-wait is ${num(spin, 1)} us, what answering a ping costs dht-scrape without a socket (figure above).`,
    table(['server', 'replies/s', 'of echo', 'CPU us/reply', 'echo/this', 'server busy'], rows.map((r) => [
      r.server, num(r.repliesPerSecond), percent(r.repliesPerSecond / echo.repliesPerSecond),
      num(r.cpuMicrosPerReply, 1), percent(echo.cpuMicrosPerReply / r.cpuMicrosPerReply), percent(r.serverBusy),
    ])),
    'A server slower than the load generator pays a wake-up of the generator with most of its sends; batching',
    'the sends of one event-loop turn pays one per batch. Compare dht-scrape with the echo that busy-waits as long.',
  ].join('\n');
}

/** A raw node:dgram echo that may busy-wait `spinMicros` per datagram and may batch its sends. */
async function echoServer(name: string, address: string, spinMicros: number, batched: boolean): Promise<Server> {
  const socket = dgram.createSocket('udp4');
  let received = 0;
  const send = batchedSender((msg: Buffer, to: Endpoint) => socket.send(msg, to.port, to.address), batched);
  socket.on('message', (msg, from) => {
    received++;
    if (spinMicros > 0) busyWait(spinMicros);
    send(msg, { address: from.address, port: from.port });
  });
  socket.bind(0, address);
  await once(socket, 'listening');
  return {
    name,
    endpoint: { address, port: socket.address().port },
    expect: 'q',
    received: () => received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Our node as in figure 2 (same options, 128 contacts), over a UDP transport whose sends may be batched. */
async function nodeServer(name: string, address: string, batched: boolean): Promise<Server> {
  const inner = await udpTransport({ address, port: 0 });
  const transport: Transport = batched ? { ...inner, send: batchedSender((bytes, to) => inner.send(bytes, to), true) } : inner;
  const node = await DhtNode.create({ transport, rpc: { sendRate: 10_000_000, sendBurst: 100_000 }, sourceLimit: false });
  for (let i = 0; i < 128; i++) node.table.recordResponse({ id: randomId(), address: `127.231.0.${i + 1}`, port: 6881 });
  return { name, endpoint: node.local, expect: 'r', received: () => node.rpc.counters.packetsIn, close: () => node.close() };
}

/** `send` itself, or a send that queues and flushes once the event loop has run this turn's I/O callbacks. */
function batchedSender<B>(send: (bytes: B, to: Endpoint) => void, batched: boolean): (bytes: B, to: Endpoint) => void {
  if (!batched) return send;
  const queue: { bytes: B; to: Endpoint }[] = [];
  const flush = (): void => {
    for (const item of queue) send(item.bytes, item.to);
    queue.length = 0;
  };
  return (bytes, to) => {
    if (queue.push({ bytes, to }) === 1) setImmediate(flush);
  };
}

function busyWait(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}
