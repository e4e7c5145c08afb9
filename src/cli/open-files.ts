/**
 * The open-files limit against a local network's needs. Every node of `--testnet N` holds one UDP
 * socket, one file descriptor (two per host in a dual-stack network, one more per real seeder), so
 * a limit of 1,024 (a common default of `ulimit -n`) fits about a thousand nodes, and 19,000 need
 * about 20,000. Past the limit the binds fail with EMFILE half-way through the start; we say so
 * before starting instead, with how many nodes would fit.
 *
 * Node 20 has no getrlimit: on Linux the limit is read from /proc/self/limits; elsewhere (macOS,
 * Windows) nothing is known and nothing is said.
 */
import { readFileSync } from 'node:fs';

/**
 * Descriptors the process holds besides the nodes' sockets: stdio, the event loop's own (about 20
 * in a bare Node process), the client's sockets, the output and state files.
 */
export const RESERVED_FILES = 32;

/** What a local network holds open, per host and in all. */
export interface NetworkFiles {
  nodes: number;
  /** Sockets per node: 2 in a dual-stack network (an IPv4 and an IPv6 node per host). */
  perNode: number;
  /** Sockets that do not grow with the nodes: real seeders' listening sockets. */
  extra: number;
}

/** The soft "Max open files" of a /proc/<pid>/limits text; Infinity for "unlimited"; undefined if absent. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const line = /^Max open files\s+(\S+)/m.exec(limits);
  if (line === null) return undefined;
  if (line[1] === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = Number(line[1]);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/** This process's open-files limit, or undefined where it cannot be read (not Linux). */
export function readOpenFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    return parseOpenFilesLimit(read());
  } catch {
    return undefined;
  }
}

/** Files the network needs: its sockets and the reserve. */
export function filesNeeded(network: NetworkFiles): number {
  return network.nodes * network.perNode + network.extra + RESERVED_FILES;
}

/** How many nodes fit under `limit`. */
export function nodesThatFit(network: NetworkFiles, limit: number): number {
  return Math.max(0, Math.floor((limit - network.extra - RESERVED_FILES) / network.perNode));
}

/** The warning to print before starting, or undefined when the network fits (or the limit is unknown). */
export function openFilesWarning(network: NetworkFiles, limit: number | undefined): string | undefined {
  if (limit === undefined) return undefined;
  const needed = filesNeeded(network);
  if (needed <= limit) return undefined;
  const fit = nodesThatFit(network, limit);
  const count = (n: number): string => n.toLocaleString('en-US');
  return `dht-scrape: warning: ${count(network.nodes)} nodes need about ${count(needed)} open files, but the limit (ulimit -n) is ` +
    `${count(limit)}: about ${count(fit)} nodes fit. Raise it (e.g. ulimit -n ${count(Math.max(needed, 20_000)).replace(/,/g, '')}) or ask for fewer nodes.`;
}
