/**
 * Where datagrams go in and out. The KRPC layer talks to this interface, not to node:dgram, so the
 * same node runs on a real UDP socket, in a test that feeds it bytes by hand, or behind injected
 * loss and latency (the local network's "bad internet").
 */
import dgram from 'node:dgram';
import { ipFamily, type PeerInfo } from '../wire/compact.js';

/** An address and a UDP port. */
export type Endpoint = PeerInfo;
/** Called with each datagram received and where it came from. */
export type DatagramHandler = (bytes: Uint8Array, from: Endpoint) => void;
/**
 * When a datagram leaves: 'now', or 'after-turn' together with the rest of the event-loop turn's.
 * Our own queries leave now: a lookup waits on each, and the rest of the turn (in a fresh process,
 * milliseconds of code running for the first time) would hold it back. Replies wait for the turn
 * (udpTransport explains why).
 */
export type SendTiming = 'now' | 'after-turn';

/** What moves datagrams for a node: a UDP socket (udpTransport), or anything with the same shape. */
export interface Transport {
  /** Hand one datagram to the network (default 'after-turn'). Errors are reported through `onSendError`, never thrown. */
  send(bytes: Uint8Array, to: Endpoint, when?: SendTiming): void;
  /** Register the one receiver of incoming datagrams. */
  onMessage(handler: DatagramHandler): void;
  onSendError(handler: (error: Error) => void): void;
  /** Where we are bound; `port` is the real port even if 0 was asked. */
  local(): Endpoint;
  /** Stop: send what waits for the turn's end, then release the socket and any timers. Sends after this are ignored. */
  close(): Promise<void>;
}

/** Where udpTransport binds. */
export interface UdpOptions {
  /** IP address to bind (a name is refused, see literalAddressOnly). Default 0.0.0.0; an IPv6 one gives an IPv6 socket (BEP 32 nodes). */
  address?: string;
  /** Port to bind; 0 picks a free one. */
  port?: number;
}

/** A bound UDP socket. Rejects with the socket's error (e.g. EADDRINUSE) if it cannot bind. */
export async function udpTransport(options: UdpOptions = {}): Promise<Transport> {
  const address = options.address ?? '0.0.0.0';
  const socket = dgram.createSocket({ type: ipFamily(address) === 6 ? 'udp6' : 'udp4', ipv6Only: ipFamily(address) === 6, lookup: literalAddressOnly });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => { socket.close(); reject(error); };
    socket.once('error', onError);
    socket.bind(options.port ?? 0, address, () => { socket.off('error', onError); resolve(); });
  });
  let onSendError: (error: Error) => void = () => {};
  // After binding, socket errors (ICMP unreachable on some systems, EPERM from a firewall) are
  // per-packet troubles, not reasons to stop the node.
  socket.on('error', (error) => onSendError(error));
  let closed = false;
  // The replies of one event-loop turn go out together, after the turn: a burst of replies to one
  // busy sender (a flood, a load generator) then wakes it once per batch instead of once per
  // reply, which on a loopback the sending side pays for (docs/performance.md, section 2). The
  // delay is one turn: microseconds in a busy server.
  let outbox: { bytes: Uint8Array; to: Endpoint }[] = [];
  let flushScheduled = false;
  const onSent = (error: Error | null): void => { if (error) onSendError(error); };
  const flush = (): void => {
    flushScheduled = false;
    const batch = outbox;
    outbox = [];
    if (closed) return;
    for (const { bytes, to } of batch) socket.send(bytes, to.port, to.address, onSent);
  };
  return {
    send(bytes, to, when = 'after-turn') {
      if (closed) return;
      if (when === 'now') { socket.send(bytes, to.port, to.address, onSent); return; }
      outbox.push({ bytes, to });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    onMessage(handler) {
      socket.on('message', (msg, rinfo) => handler(msg, { address: rinfo.address, port: rinfo.port }));
    },
    onSendError(handler) { onSendError = handler; },
    local() {
      const a = socket.address();
      return { address: a.address, port: a.port };
    },
    close() {
      if (closed) return Promise.resolve();
      // Replies of this turn still go out: a querier waiting on us gets its answer, even from a
      // one-shot command whose lookup ended in the same turn (our queries had left at once).
      flush();
      closed = true;
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}

/**
 * How the socket turns an address to bind or send to into an IP. node:dgram asks node:dns by
 * default, which a fresh process spends about 1.5 ms loading before its first datagram, and which
 * answers a tick later. Every address a node meets is an IP already (compact node info, a reply's
 * source; the CLI resolves bootstrap names before they reach a node), so this one answers at once
 * and refuses a name with a TypeError (through onSendError for a send).
 */
function literalAddressOnly(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  const family = ipFamily(address);
  if (family === 0) callback(new TypeError(`not an IP address: ${address}`), address, 4);
  else callback(null, address, family);
}

/** Network trouble to inject on send, for tests and benchmarks of lossy, slow networks. */
export interface Faults {
  /** Probability (0..1) that a datagram is silently lost. */
  loss?: number;
  /** One-way delay, uniform in [min, max] milliseconds. */
  latencyMs?: readonly [number, number];
  /**
   * One-way delay drawn for each datagram from a log-normal distribution (instead of `latencyMs`):
   * most datagrams near the median, a heavy tail to the p95 and beyond, as round trips on the
   * internet are. A client that adds no delay of its own sees it as its round-trip time.
   */
  latency?: LogNormal;
  /** Random source in [0, 1); default Math.random. A seeded one makes a run replay. */
  random?: () => number;
  /**
   * Apply the same loss and delay to what is received as well. For a network whose clients cannot
   * be wrapped (fresh processes in the cold-start benchmark): each query and each reply then still
   * crosses one injected delay, as when both sides inject on their sends.
   */
  inbound?: boolean;
}

/** A log-normal distribution given by its median and 95th percentile (milliseconds). */
export interface LogNormal {
  medianMs: number;
  p95Ms: number;
}

/** No injected delay is longer than this: the tail past it is loss to any client's timeout anyway. */
export const MAX_INJECTED_DELAY_MS = 10_000;

/** The standard normal quantile at 0.95: p95 = median * exp(1.645 sigma). */
export const Z95 = 1.6448536269514722;

/**
 * One draw from a log-normal: ln(delay) is normal with mean ln(median) and standard deviation
 * ln(p95 / median) / 1.645 (Box-Muller from two uniforms), capped at MAX_INJECTED_DELAY_MS.
 */
export function sampleLogNormal(d: LogNormal, random: () => number): number {
  const sigma = Math.log(d.p95Ms / d.medianMs) / Z95;
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.min(MAX_INJECTED_DELAY_MS, d.medianMs * Math.exp(sigma * z));
}

/** Wrap a transport so that its sends (and with `inbound`, its receives) are lost or delayed as `faults` says. */
export function withFaults(inner: Transport, faults: Faults, onLost: () => void = () => {}): Transport {
  const random = faults.random ?? Math.random;
  const timers = new Set<NodeJS.Timeout>();
  /** Lose `deliver`, run it now, or after the delay. */
  const impair = (deliver: () => void): void => {
    if (faults.loss !== undefined && random() < faults.loss) { onLost(); return; }
    const range = faults.latencyMs;
    if (faults.latency === undefined && range === undefined) { deliver(); return; }
    const delay = faults.latency !== undefined ? sampleLogNormal(faults.latency, random) : range![0] + random() * (range![1] - range![0]);
    const timer = setTimeout(() => { timers.delete(timer); deliver(); }, delay);
    timer.unref();
    timers.add(timer);
  };
  return {
    ...inner,
    send(bytes, to, when) {
      impair(() => inner.send(bytes, to, when));
    },
    onMessage(handler) {
      if (faults.inbound !== true) { inner.onMessage(handler); return; }
      // The datagram's buffer may be reused by the socket once the handler returns: keep a copy.
      inner.onMessage((bytes, from) => { const copy = Uint8Array.from(bytes); impair(() => handler(copy, from)); });
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return inner.close();
    },
  };
}
