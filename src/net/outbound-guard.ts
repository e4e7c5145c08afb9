/**
 * How hard we may query an address that has never answered us: the defence that keeps our crawler
 * and our lookups from being used as a weapon against a third party.
 *
 * Every `nodes` list we read is a claim by a stranger (BEP 5 "find_node": "compact node info"),
 * and nothing stops a hostile node from naming a victim that runs no DHT node at all, on 300 ports
 * at once. Limits per endpoint do not help (each port is new), so this guard counts per host (an
 * IPv4 address or an IPv6 /64, all ports together; wire/address-group.ts) and remembers silence
 * per host, not per endpoint:
 *
 * - A port of a host that has answered us (a response or a KRPC error) is known: not limited here.
 * - Queries to a host's unknown ports are limited to 1 + (its known ports) ports in flight: the
 *   first query to a host is a probe; each port that answers opens one more slot, so a real
 *   network on one address (a NAT, a local network on 127.0.0.1) opens up within a round trip.
 *   Past that, a query waits ('hold') until one to that host settles.
 * - A host whose unknown ports timed out (on a BEP 5 query every node answers: not BEP 51's
 *   sample_infohashes, which nodes without it ignore) more than twice as often as ports answered is silent:
 *   one query to an unknown port of it every `trickleMs` (10 s), the rest refused at once.
 * - A scrape's join probes in the background (QueryOptions.priority 'low'), and the lookup the user
 *   waits for must never wait behind it: each lane has its own slots, so a host may see one probe
 *   of each lane at once (the join's find_node and the lookup's get_peers to a node both were
 *   named), never two of one. Silence counts alike, whichever lane met it.
 *
 * So a host that only hostile replies named gets at most one query per 10 s from us, whatever
 * the number of ports or of hostile nodes naming it. Hosts are forgotten `memoryMs` after we last
 * queried them, and at most `maxHosts` are kept (the least recently queried goes first).
 *
 * Pure: no timers, an injected clock. Rpc consults it for every query to a named address
 * (QueryOptions.named: lookups, the crawler, table upkeep), and tells it how every query ended.
 */
import { hostKey } from '../wire/address-group.js';

export interface OutboundGuardOptions {
  /** While a host is silent, one query to an unknown port of it per this many ms. Default 10,000. */
  trickleMs?: number;
  /** A host is forgotten this long after we last queried it. Default 10 minutes. */
  memoryMs?: number;
  /** Hosts remembered at once. Default 4,096. */
  maxHosts?: number;
  /** Known ports remembered per host. Default 256. */
  maxKnownPorts?: number;
  now?: () => number;
}

/** What to do with a query: send it now, wait for a slot at that host, or refuse it (silent host). */
export type OutboundVerdict = 'send' | 'hold' | 'refuse';

/** Whose query it is: a lookup's (what the user waits for), or the background's (a scrape's join, QueryOptions.priority 'low'). */
export type GuardLane = 'foreground' | 'background';

interface HostState {
  known: Set<number>;
  /** Queries in flight to ports not known (yet), by lane, by port. */
  strangersInFlight: Record<GuardLane, Map<number, number>>;
  /** Timeouts of queries to unknown ports. */
  strangerTimeouts: number;
  lastStrangerSent: number;
  lastQueried: number;
}

export class OutboundGuard {
  private readonly trickleMs: number;
  private readonly memoryMs: number;
  private readonly maxHosts: number;
  private readonly maxKnownPorts: number;
  private readonly now: () => number;
  /** In order of last query: the first is the one to forget. */
  private readonly hosts = new Map<string, HostState>();

  constructor(options: OutboundGuardOptions = {}) {
    this.trickleMs = options.trickleMs ?? 10_000;
    this.memoryMs = options.memoryMs ?? 10 * 60_000;
    this.maxHosts = options.maxHosts ?? 4_096;
    this.maxKnownPorts = options.maxKnownPorts ?? 256;
    this.now = options.now ?? Date.now;
  }

  /** Hosts remembered now. */
  get size(): number {
    return this.hosts.size;
  }

  /**
   * Whether a query to `address:port` may go now, in `lane`. Changes nothing: call `sent` if it
   * goes. A second query of a lane to an unknown port it is already asking waits too: one probe at
   * a time tells us as much.
   */
  verdict(address: string, port: number, lane: GuardLane = 'foreground'): OutboundVerdict {
    const host = this.host(address, this.now());
    if (host === undefined || host.known.has(port)) return 'send';
    const { foreground, background } = host.strangersInFlight;
    if (this.silent(host)) return this.now() - host.lastStrangerSent >= this.trickleMs && foreground.size + background.size === 0 ? 'send' : 'refuse';
    const inLane = host.strangersInFlight[lane];
    return !inLane.has(port) && inLane.size < 1 + host.known.size ? 'send' : 'hold';
  }

  /** A query to `address:port` went out. Returns whether it went to an unknown port (pass it to `settled`). */
  sent(address: string, port: number, lane: GuardLane = 'foreground'): boolean {
    const now = this.now();
    const key = guardKey(address);
    let host = this.host(address, now);
    if (host === undefined) {
      host = { known: new Set(), strangersInFlight: { foreground: new Map(), background: new Map() }, strangerTimeouts: 0, lastStrangerSent: 0, lastQueried: now };
      while (this.hosts.size >= this.maxHosts) this.hosts.delete(this.hosts.keys().next().value!);
    }
    this.hosts.delete(key); // re-inserted last: most recently queried
    this.hosts.set(key, host);
    host.lastQueried = now;
    if (host.known.has(port)) return false;
    const inLane = host.strangersInFlight[lane];
    inLane.set(port, (inLane.get(port) ?? 0) + 1);
    host.lastStrangerSent = now;
    return true;
  }

  /** A query that `sent` counted settled: `answered` for a response or a KRPC error, else it timed out or failed. */
  settled(address: string, port: number, stranger: boolean, answered: boolean, timedOut: boolean, lane: GuardLane = 'foreground'): void {
    const host = this.hosts.get(guardKey(address));
    if (host === undefined) return;
    if (stranger) {
      const inLane = host.strangersInFlight[lane];
      const left = (inLane.get(port) ?? 1) - 1;
      if (left > 0) inLane.set(port, left);
      else inLane.delete(port);
      if (timedOut) host.strangerTimeouts++;
    }
    if (answered && host.known.size < this.maxKnownPorts) host.known.add(port);
  }

  /** A silent host: its unknown ports time out more than twice as often as ports of it answer. */
  private silent(host: HostState): boolean {
    return host.strangerTimeouts > 2 * host.known.size;
  }

  /** The host's state, forgetting it first if we have not queried it for `memoryMs`. */
  private host(address: string, now: number): HostState | undefined {
    const key = guardKey(address);
    const host = this.hosts.get(key);
    if (host !== undefined && now - host.lastQueried > this.memoryMs) {
      this.hosts.delete(key);
      return undefined;
    }
    return host;
  }
}

/** The host an address counts as (its IPv4 address or IPv6 /64): queries held for one wait for a slot at it. */
export function guardKey(address: string): string {
  try {
    return hostKey(address);
  } catch {
    return address; // not an IP address (a router's name): counted as written
  }
}
