/**
 * Where to join the DHT. The public routers are well-known hostnames that answer find_node with
 * nodes; they are only entry points (BEP 5 clients do not keep them in their tables).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Endpoint } from '../net/transport.js';

export const PUBLIC_ROUTERS = [
  'router.bittorrent.com:6881',
  'router.utorrent.com:6881',
  'dht.transmissionbt.com:6881',
  'dht.libtorrent.org:25401',
] as const;

export class EndpointSyntaxError extends Error {
  constructor(message: string) { super(message); this.name = 'EndpointSyntaxError'; }
}

export interface HostPort { host: string; port: number }

/** "host:port", "1.2.3.4:6881" or "[::1]:6881". */
export function parseHostPort(text: string): HostPort {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new EndpointSyntaxError(`expected host:port (e.g. 127.0.0.1:6881 or [::1]:6881), got ${JSON.stringify(text)}`);
  }
  const host = match[1]!;
  // Digits and dots are meant as an IPv4 address, never as a name to look up; brackets hold IPv6.
  if (/^[\d.]+$/.test(host) && isIP(host) !== 4) throw new EndpointSyntaxError(`${JSON.stringify(host)} is not a valid IPv4 address`);
  if (text.startsWith('[') && isIP(host) !== 6) throw new EndpointSyntaxError(`${JSON.stringify(host)} is not a valid IPv6 address`);
  return { host, port };
}

/** Resolve names to addresses of the family we can reach; names that do not resolve in time are skipped. */
export async function resolveEndpoints(list: readonly HostPort[], family: 4 | 6, timeoutMs = 3_000): Promise<Endpoint[]> {
  const resolved = await Promise.all(list.map(async ({ host, port }): Promise<Endpoint[]> => {
    if (isIP(host) !== 0) return isIP(host) === family ? [{ address: host, port }] : [];
    try {
      const addresses = await withTimeout(lookup(host, { all: true, family }), timeoutMs);
      return addresses.map((a) => ({ address: a.address, port }));
    } catch {
      return [];
    }
  }));
  return resolved.flat();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}
