/**
 * webtorrent's `bittorrent-dht`, set up to take part in our benchmarks fairly and safely:
 * - it gets a UDP socket we created, whose `send` we wrap to inject the same faults our nodes
 *   inject on theirs (loss, then a uniform one-way delay), so latency applies to both directions;
 * - the wrapper refuses any destination outside 127.0.0.0/8 and a DNS guard refuses every name
 *   lookup, so it can never reach a public router (its default bootstrap list) or the internet;
 * - the wrapper counts the get_peers queries it sends, which is how its queries per lookup are
 *   measured (the library does not report them).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { once } from 'node:events';
import { isIP } from 'node:net';
import DHT from 'bittorrent-dht';
import type { Faults } from '../dist/index.js';

export interface PeerDhtCounters {
  /** get_peers queries handed to the network (lost ones included: they were sent by the library). */
  getPeersSent: number;
  packetsSent: number;
  packetsLost: number;
  packetsReceived: number;
  /** Sends to a non-loopback address that the guard refused; must stay 0. */
  refusedDestinations: number;
}

export interface PeerDht {
  dht: DHT;
  counters: PeerDhtCounters;
  local: { address: string; port: number };
  close(): Promise<void>;
}

const GET_PEERS = Buffer.from('9:get_peers');

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/**
 * Start a bittorrent-dht node on `address`, bootstrapped from `bootstrap` only ("ip:port" strings;
 * `false` for none), and wait until it says it is ready (its bootstrap lookup has converged).
 */
export async function startPeerDht(options: {
  address: string;
  bootstrap: string[] | false;
  faults?: Faults;
  readyTimeoutMs?: number;
}): Promise<PeerDht> {
  for (const b of options.bootstrap || []) {
    if (!isLoopback(b.slice(0, b.lastIndexOf(':')))) throw new Error(`refusing a non-loopback bootstrap node: ${b}`);
  }
  const counters: PeerDhtCounters = { getPeersSent: 0, packetsSent: 0, packetsLost: 0, packetsReceived: 0, refusedDestinations: 0 };
  const socket = dgram.createSocket('udp4');
  socket.on('message', () => { counters.packetsReceived++; });
  wrapSend(socket, options.faults ?? {}, counters);
  const dht = new DHT({ bootstrap: options.bootstrap, socket });
  dht.on('warning', () => {});
  dht.on('error', () => {});
  const ready = once(dht, 'ready');
  dht.listen(0, options.address);
  await withTimeout(ready, options.readyTimeoutMs ?? 15_000, 'bittorrent-dht did not finish bootstrapping');
  return {
    dht,
    counters,
    local: dht.address(),
    close: () => new Promise<void>((resolve) => dht.destroy(() => resolve())),
  };
}

type SendArgs = [Uint8Array, number, number, number, string, ((error: Error | null) => void)?];

/**
 * k-rpc-socket calls `socket.send(buf, 0, buf.length, port, host, cb)`. We keep that signature,
 * drop with probability `loss`, delay by a uniform draw in `latencyMs`, exactly as our transport's
 * `withFaults` does for our nodes.
 */
function wrapSend(socket: dgram.Socket, faults: Faults, counters: PeerDhtCounters): void {
  const send = socket.send.bind(socket) as (...args: SendArgs) => void;
  const random = faults.random ?? Math.random;
  const timers = new Set<NodeJS.Timeout>();
  socket.once('close', () => { for (const t of timers) clearTimeout(t); timers.clear(); });
  const patched = (...args: SendArgs): void => {
    // dgram queues the sends made before the socket is bound and replays them through this same
    // function as (list of buffers, port, address, callback): the destination is the first string
    // after the data, the callback the last function; no destination at all is refused.
    const loose = args as unknown[];
    const data = loose[0];
    const buf = Array.isArray(data) ? Buffer.concat(data as Uint8Array[]) : (data as Uint8Array);
    const host = loose.slice(1).find((a): a is string => typeof a === 'string');
    const cb = [...loose].reverse().find((a): a is (error: Error | null) => void => typeof a === 'function');
    if (host === undefined || !isLoopback(host)) {
      counters.refusedDestinations++;
      process.nextTick(() => cb?.(new Error(`benchmark guard: refused to send to ${host}`)));
      return;
    }
    counters.packetsSent++;
    if (Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).includes(GET_PEERS)) counters.getPeersSent++;
    if (faults.loss !== undefined && random() < faults.loss) {
      counters.packetsLost++;
      process.nextTick(() => cb?.(null));
      return;
    }
    const range = faults.latencyMs;
    if (range === undefined) { send(...args); return; }
    const timer = setTimeout(() => { timers.delete(timer); send(...args); }, range[0] + random() * (range[1] - range[0]));
    timers.add(timer);
  };
  (socket as unknown as { send: typeof patched }).send = patched;
}

/**
 * While installed, every DNS lookup in this process fails at once and is counted. The benchmark
 * only ever names IP literals; looking up a name would mean a library fell back to a public host.
 */
export function guardDns(): { attempts: () => number; restore: () => void } {
  const original = dns.lookup;
  let attempts = 0;
  const refuse = (hostname: string, ...rest: unknown[]): void => {
    // dgram itself passes IP literals through dns.lookup, which answers them without any query.
    if (isIP(hostname) !== 0) return (original as (...args: unknown[]) => void)(hostname, ...rest);
    attempts++;
    const cb = rest[rest.length - 1];
    if (typeof cb === 'function') process.nextTick(() => cb(new Error(`benchmark guard: refused DNS lookup of ${hostname}`)));
  };
  (dns as unknown as { lookup: typeof refuse }).lookup = refuse;
  return { attempts: () => attempts, restore: () => { dns.lookup = original; } };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
