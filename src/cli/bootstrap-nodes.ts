/**
 * Where to join the DHT. The public routers are well-known hostnames that answer find_node with
 * nodes; they are only entry points (BEP 5 clients do not keep them in their tables).
 */
import { lookup } from 'node:dns/promises';
import type { Endpoint } from '../net/transport.js';
import { ipFamily } from '../wire/compact.js';

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
  if (/^[\d.]+$/.test(host) && ipFamily(host) !== 4) throw new EndpointSyntaxError(`${JSON.stringify(host)} is not a valid IPv4 address`);
  if (text.startsWith('[') && ipFamily(host) !== 6) throw new EndpointSyntaxError(`${JSON.stringify(host)} is not a valid IPv6 address`);
  return { host, port };
}

/** A name's addresses in one family: node:dns (getaddrinfo, so /etc/hosts too) unless a test passes its own. */
export type NameLookup = (host: string, family: 4 | 6) => Promise<string[]>;

const systemLookup: NameLookup = async (host, family) => (await lookup(host, { all: true, family })).map((a) => a.address);

/** Resolve names to addresses of the family we can reach; names that do not resolve in time are skipped. */
export async function resolveEndpoints(list: readonly HostPort[], family: 4 | 6, timeoutMs = 3_000, resolve: NameLookup = systemLookup): Promise<Endpoint[]> {
  const resolved = await Promise.all(list.map(async ({ host, port }): Promise<Endpoint[]> => {
    if (ipFamily(host) !== 0) return ipFamily(host) === family ? [{ address: host, port }] : [];
    const addresses = await addressesOf(host, family, timeoutMs, resolve);
    return addresses.map((address) => ({ address, port }));
  }));
  return resolved.flat();
}

/** Bootstrap addresses as they become known: some at once, the rest one name at a time. */
export interface EndpointsAsTheyCome {
  /** Known now: the IP literals, and any name already resolved. */
  now: Endpoint[];
  /** One per name still resolving: its addresses, or none (it failed, or took over `timeoutMs`). */
  later: Promise<Endpoint[]>[];
}

/**
 * Like resolveEndpoints, without waiting for the slowest name: a one-shot command starts asking
 * what it knows, and a name whose lookup stalls (some resolvers take seconds over an AAAA record)
 * does not hold up the rest. When nothing is known at once (no IP literal, and `otherwiseKnown`
 * false: the caller has no saved contacts either), waits for the first name that resolves to an
 * address, or for all of them to fail: `now` is then empty only when nothing resolved.
 */
export async function resolveAsTheyCome(
  list: readonly HostPort[], family: 4 | 6, otherwiseKnown = false, timeoutMs = 3_000, resolve: NameLookup = systemLookup,
): Promise<EndpointsAsTheyCome> {
  const literals = list.filter(({ host }) => ipFamily(host) === family).map(({ host, port }) => ({ address: host, port }));
  const names = list.filter(({ host }) => ipFamily(host) === 0).map(({ host, port }) => {
    const name: { settled?: Endpoint[]; addresses: Promise<Endpoint[]> } = {
      addresses: addressesOf(host, family, timeoutMs, resolve).then((found) => (name.settled = found.map((address) => ({ address, port })))),
    };
    return name;
  });
  if (!otherwiseKnown && literals.length === 0 && names.length > 0) {
    await new Promise<void>((done) => {
      let left = names.length;
      for (const name of names) void name.addresses.then((found) => { if (found.length > 0 || --left === 0) done(); });
    });
  }
  return {
    now: [...literals, ...names.flatMap((name) => name.settled ?? [])],
    later: names.filter((name) => name.settled === undefined).map((name) => name.addresses),
  };
}

/** A name that has addresses, but only in the other family than our socket's. */
export interface OtherFamilyName { hostPort: HostPort; family: 4 | 6; addresses: string[] }

/**
 * The names of `list` that resolve only in the other family than `family`: the reason, when no
 * address resolved, that is not "no internet". BEP 32 keeps the IPv4 and IPv6 DHTs apart: an IPv4
 * socket never reaches an IPv6 node, so such a name is a mismatch of options, not a network error.
 * IP literals are not looked at (options.ts checks those as it parses them).
 */
export async function namesOnlyInOtherFamily(list: readonly HostPort[], family: 4 | 6, timeoutMs = 3_000, resolve: NameLookup = systemLookup): Promise<OtherFamilyName[]> {
  const other = family === 4 ? 6 : 4;
  const found = await Promise.all(list.filter(({ host }) => ipFamily(host) === 0).map(async (hostPort): Promise<OtherFamilyName[]> => {
    const [ours, theirs] = await Promise.all([addressesOf(hostPort.host, family, timeoutMs, resolve), addressesOf(hostPort.host, other, timeoutMs, resolve)]);
    return ours.length === 0 && theirs.length > 0 ? [{ hostPort, family: other, addresses: theirs }] : [];
  }));
  return found.flat();
}

/** The socket, as the user chose it: for messages. */
export function describeSocket(bind: string | undefined, family: 4 | 6 | undefined): string {
  return bind !== undefined ? `--bind ${bind}` : family !== undefined ? `-${family}` : '--bind 0.0.0.0, the default';
}

/** One line: `what` (e.g. "--bootstrap [::1]:9 is an IPv6 address") cannot be reached from a socket of family `ours`. */
export function familiesDifferMessage(what: string, theirs: 4 | 6, ours: 4 | 6, socket: string): string {
  return `${what} but the socket is IPv${ours} (${socket}): the families differ; ` +
    (ours === 4 ? `use --bind :: (or an IPv6 address of ours) for IPv${theirs} nodes` : `use --bind 0.0.0.0 for IPv${theirs} nodes`);
}

/** The message for names that resolve only in the other family (see namesOnlyInOtherFamily). */
export function otherFamilyNamesMessage(option: string, names: readonly OtherFamilyName[], ours: 4 | 6, socket: string): string {
  const [first] = names;
  if (first === undefined) throw new RangeError('no names');
  const { host, port } = first.hostPort;
  const shown = first.addresses.slice(0, 2).join(', ') + (first.addresses.length > 2 ? ', ...' : '');
  const more = names.length > 1 ? ` (and ${names.length - 1} more such name${names.length > 2 ? 's' : ''})` : '';
  return familiesDifferMessage(`${option} ${host}:${port} has only IPv${first.family} addresses (${shown})${more}`, first.family, ours, socket);
}

/** A name's addresses of one family; none when it does not resolve (or not within `timeoutMs`). */
async function addressesOf(host: string, family: 4 | 6, timeoutMs: number, resolve: NameLookup): Promise<string[]> {
  try {
    return await withTimeout(resolve(host, family), timeoutMs);
  } catch {
    return [];
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}
