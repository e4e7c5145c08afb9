/**
 * Figure 2: queries answered per second by one node on loopback, for ping, find_node and get_peers:
 * our DhtNode, a raw UDP echo server (node:dgram receiving and sending back each datagram: the
 * practical ceiling for any Node.js UDP service on this machine), and webtorrent's bittorrent-dht.
 *
 * The load comes from a separate process (load-generator.ts) holding a fixed window of queries
 * outstanding from four sockets on four loopback addresses. Servers and query kinds are measured
 * in interleaved rounds; each figure is the median round. Both processes report how busy their
 * event loop was: a server near 100% is the bottleneck, as it should be.
 *
 * Our node is measured with its two protections against floods turned off through its options,
 * because a benchmark is a flood: the global send budget (`rpc.sendRate`, 500 packets/s by default)
 * and the per-source limit (`sourceLimit: false`; by default 5 packets/s per source, as libtorrent).
 * Both nodes get the same 128 random contacts, so find_node and get_peers replies carry real nodes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DhtNode, encode, randomId, type NodeId } from '../dist/index.js';
import type { LoadJob, LoadResult } from './load-generator.js';
import { startPeerDht, type PeerDht } from './peer-dht.js';
import { heading, median, num, percent, ratio, table, verdict } from './report.js';

export interface ThroughputBenchOptions {
  /** Timed rounds per server and query kind. Default 3. */
  rounds?: number;
  warmupMs?: number;
  measureMs?: number;
  /** Queries outstanding per generator socket. Default 32 (x 4 sockets). */
  window?: number;
  log?: (line: string) => void;
}

export type QueryKind = 'ping' | 'find_node' | 'get_peers';
const KINDS: readonly QueryKind[] = ['ping', 'find_node', 'get_peers'];
type ServerName = 'UDP echo' | 'dht-scrape' | 'bittorrent-dht';
const SERVERS: readonly ServerName[] = ['UDP echo', 'dht-scrape', 'bittorrent-dht'];

export interface ThroughputSample {
  kind: QueryKind;
  server: ServerName;
  load: LoadResult;
  /** Share of the window the server's event loop was busy. */
  serverBusy: number;
  /**
   * CPU time the server process spent per query it received (user + system, warm-up included).
   * Unlike a rate, it hardly depends on what else the machine is running, so it shows the cost
   * of a reply even when other work on a shared machine keeps the servers from being saturated.
   */
  cpuMicrosPerReply: number;
}

export const GENERATOR_SOURCES = ['127.220.0.1', '127.220.0.2', '127.220.0.3', '127.220.0.4'];
const CONTACTS = 128;

export async function runThroughputBench(options: ThroughputBenchOptions = {}): Promise<ThroughputSample[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const servers = await startServers();
  const generator = startGenerator();
  const samples: ThroughputSample[] = [];
  try {
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      for (const kind of KINDS) {
        for (const server of SERVERS) {
          const elu = performance.eventLoopUtilization();
          const cpu = process.cpuUsage();
          const received = servers.received(server);
          const load = await generator.run({
            target: servers.endpoints[server],
            template: queryTemplate(kind),
            expect: server === 'UDP echo' ? 'q' : 'r',
            sources: GENERATOR_SOURCES,
            window: options.window ?? 32,
            warmupMs: options.warmupMs ?? 300,
            measureMs: options.measureMs ?? 1_000,
            staleMs: 300,
          });
          const serverBusy = performance.eventLoopUtilization(elu).utilization;
          const used = process.cpuUsage(cpu);
          const cpuMicrosPerReply = (used.user + used.system) / Math.max(1, servers.received(server) - received);
          samples.push({ kind, server, load, serverBusy, cpuMicrosPerReply });
        }
      }
    }
  } finally {
    await generator.close();
    await servers.close();
  }
  log(formatThroughput(samples));
  return samples;
}

/** One query of each kind, as a client would send it; the generator rewrites its `t` per slot. */
export function queryTemplate(kind: QueryKind): Uint8Array {
  const id = randomId();
  const a = kind === 'ping' ? { id } : kind === 'find_node' ? { id, target: randomId() } : { id, info_hash: randomId() };
  return encode({ a, q: kind, t: new Uint8Array(2), y: 'q' });
}

interface Servers {
  endpoints: Record<ServerName, { address: string; port: number }>;
  /** Datagrams the server has received so far. */
  received(server: ServerName): number;
  close(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  const contacts = Array.from({ length: CONTACTS }, (_, i) => ({ id: randomId(), address: `127.230.${i >> 8}.${(i & 255) + 1}`, port: 6881 }));
  const echo = dgram.createSocket('udp4');
  let echoed = 0;
  echo.on('message', (msg, from) => { echoed++; echo.send(msg, from.port, from.address); });
  echo.bind(0, '127.210.0.1');
  await once(echo, 'listening');

  let ours: DhtNode | undefined;
  let peer: PeerDht;
  try {
    ours = await DhtNode.create({
      address: '127.210.0.2',
      port: 0,
      rpc: { sendRate: 10_000_000, sendBurst: 100_000 },
      sourceLimit: false,
    });
    for (const c of contacts) ours.table.recordResponse(c);
    peer = await startPeerDht({ address: '127.210.0.3', bootstrap: false });
    for (const c of contacts) peer.dht.addNode({ id: Buffer.from(c.id as NodeId), host: c.address, port: c.port });
  } catch (error) {
    echo.close();
    await ours?.close();
    throw error;
  }
  const node = ours;
  const echoAddress = echo.address();
  return {
    endpoints: {
      'UDP echo': { address: echoAddress.address, port: echoAddress.port },
      'dht-scrape': node.local,
      'bittorrent-dht': peer.local,
    },
    received: (server) => (server === 'UDP echo' ? echoed : server === 'dht-scrape' ? node.rpc.counters.packetsIn : peer.counters.packetsReceived),
    async close() {
      echo.close();
      await node.close();
      await peer.close();
    },
  };
}

export interface Generator {
  run(job: LoadJob): Promise<LoadResult>;
  close(): Promise<void>;
}

/** The load generator in its own Node process, running our TypeScript through the same tsx loader. */
export function startGenerator(): Generator {
  const child: ChildProcess = fork(fileURLToPath(new URL('./load-generator.ts', import.meta.url)), {
    execArgv: ['--import', import.meta.resolve('tsx/esm')],
    serialization: 'advanced',
  });
  return {
    run(job) {
      return new Promise((resolve, reject) => {
        const onExit = (): void => reject(new Error('the load generator exited'));
        child.once('exit', onExit);
        child.once('message', (m: { kind: 'result'; result: LoadResult } | { kind: 'error'; message: string }) => {
          child.off('exit', onExit);
          if (m.kind === 'result') resolve(m.result);
          else reject(new Error(`load generator: ${m.message}`));
        });
        child.send({ kind: 'run', job });
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ kind: 'exit' });
      const timer = setTimeout(() => child.kill(), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The ping target, judged on both the rate and the CPU cost (the rate alone flatters us when the echo server was not saturated). */
export function pingVerdict(samples: ThroughputSample[]): { rateShare: number; cpuShare: number; echoBusy: number; met: boolean } {
  const pick = (server: ServerName): ThroughputSample[] => samples.filter((s) => s.kind === 'ping' && s.server === server);
  const rateShare = median(pick('dht-scrape').map((s) => s.load.repliesPerSecond)) / median(pick('UDP echo').map((s) => s.load.repliesPerSecond));
  const cpuShare = median(pick('UDP echo').map((s) => s.cpuMicrosPerReply)) / median(pick('dht-scrape').map((s) => s.cpuMicrosPerReply));
  const echoBusy = median(pick('UDP echo').map((s) => s.serverBusy));
  return { rateShare, cpuShare, echoBusy, met: rateShare >= 0.8 && cpuShare >= 0.8 };
}

export function formatThroughput(samples: ThroughputSample[]): string {
  const pick = (kind: QueryKind, server: ServerName): ThroughputSample[] => samples.filter((s) => s.kind === kind && s.server === server);
  const rate = (kind: QueryKind, server: ServerName): number => median(pick(kind, server).map((s) => s.load.repliesPerSecond));
  const cpu = (kind: QueryKind, server: ServerName): number => median(pick(kind, server).map((s) => s.cpuMicrosPerReply));
  const ping = pingVerdict(samples);
  const rows = KINDS.map((kind) => {
    const echo = rate(kind, 'UDP echo');
    const ours = rate(kind, 'dht-scrape');
    const theirs = rate(kind, 'bittorrent-dht');
    return [
      kind, num(echo), num(ours), num(theirs), percent(ours / echo), ratio(ours, theirs),
      kind === 'ping' ? verdict(ping.rateShare >= 0.8, '>= 80% of echo') : '',
    ];
  });
  const cpuRows = KINDS.map((kind) => {
    const echo = cpu(kind, 'UDP echo');
    const ours = cpu(kind, 'dht-scrape');
    const theirs = cpu(kind, 'bittorrent-dht');
    return [
      kind, num(echo, 1), num(ours, 1), num(theirs, 1), percent(echo / ours), ratio(theirs, ours),
      kind === 'ping' ? verdict(ping.cpuShare >= 0.8, 'echo/ours >= 80%') : '',
    ];
  });
  const detail = KINDS.flatMap((kind) => SERVERS.map((server) => {
    const s = pick(kind, server);
    return [
      `${kind} / ${server}`,
      num(median(s.map((x) => x.load.replyBytes))),
      percent(median(s.map((x) => x.serverBusy))),
      percent(median(s.map((x) => x.load.generatorBusy))),
      num(s.reduce((n, x) => n + x.load.resent, 0)),
      num(s.reduce((n, x) => n + x.load.other, 0)),
    ];
  }));
  return [
    heading('Queries answered per second by one node on loopback (median of rounds)'),
    'dht-scrape runs with rpc.sendRate 10,000,000/s (default 500/s) and sourceLimit: false (default 5/s per source):',
    'a benchmark is a flood, and those limits exist to refuse floods. bittorrent-dht has no such limits.',
    table(['replies/s', 'UDP echo', 'dht-scrape', 'bittorrent-dht', 'ours/echo', 'ours/theirs', 'target'], rows),
    '',
    'Server CPU time per query answered, microseconds (user + system; lower is better; "echo/ours" is the',
    'share of the echo rate our node could reach if CPU were the only limit):',
    table(['CPU us/reply', 'UDP echo', 'dht-scrape', 'bittorrent-dht', 'echo/ours', 'ours vs theirs', 'target'], cpuRows),
    ...(ping.echoBusy < 0.9
      ? [`Note: the echo server was only ${percent(ping.echoBusy)} busy: the load generator or other work on the machine, not the`,
        'echo server, set the echo rate, so the replies/s ratio flatters us; the CPU ratio is the better guide.']
      : []),
    '',
    table(['detail', 'reply bytes', 'server busy', 'generator busy', 're-sent', 'other msgs'], detail),
  ].join('\n');
}
