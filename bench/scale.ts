/**
 * Scale (issue 16 item 2): one local network of 1,000 to 19,000 nodes in one process, each size in
 * a fresh process (scale-probe.mjs), so that its RSS is its own. Per size: time and CPU to ready
 * (start, then a lookup answers), RSS and RSS per node (over the process before the start), and
 * how cold lookups grow with N: hops from one known node to the first peer, the deepest hop, the
 * get_peers sent. Targets: 19,000 nodes within 1 GiB of RSS and 30 s to ready.
 *
 *   npm run bench -- --only scale
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { heading, median, num, table } from './report.js';

const PROBE = fileURLToPath(new URL('./scale-probe.mjs', import.meta.url));
const SIZES = [1_000, 5_000, 10_000, 19_000];
const GIB = 2 ** 30;
/** Besides the nodes' sockets: stdio, the event loop, the clients (as the CLI's open-files check). */
const RESERVED_FILES = 32;

interface Sample { firstHop: number | null; deepest: number; queries: number; found: number; wanted: number }
interface Probe { nodes: number; readyMs: number; cpuMs: number; rssBefore: number; rss: number; heapUsed: number; samples: Sample[] }
export interface ScaleTarget { figure: string; target: string; measured: string; met: boolean }

export async function runScaleBench(options: { sizes?: number[]; lookups?: number; log?: (line: string) => void } = {}): Promise<ScaleTarget[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const sizes = options.sizes ?? SIZES;
  const limit = openFilesLimit();
  log(heading(`Scale: one local network per size, in a fresh process (ideal conditions, seed 1); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; open-files limit ${limit ?? 'unknown'}`));
  const rows: string[][] = [];
  const probes: Probe[] = [];
  for (const nodes of sizes) {
    if (limit !== undefined && nodes + RESERVED_FILES > limit) {
      log(`SKIPPED: ${num(nodes)} nodes: the open-files limit is ${limit} (ulimit -n ${nodes + RESERVED_FILES} or more).`);
      continue;
    }
    const probe = await runProbe(nodes, options.lookups ?? 10);
    if (probe === undefined) { rows.push([num(nodes), 'failed', '', '', '', '', '', '', '']); continue; }
    probes.push(probe);
    const s = probe.samples;
    const hops = s.filter((x) => x.firstHop !== null).map((x) => x.firstHop!);
    rows.push([
      num(nodes), num(probe.readyMs / 1000, 1), num(probe.cpuMs / 1000, 1), num(probe.rss / 2 ** 20), num((probe.rss - probe.rssBefore) / nodes / 1024, 1),
      `${s.filter((x) => x.found === x.wanted).length}/${s.length}`,
      `${num(median(hops), 1)} (${num(Math.min(...hops))}-${num(Math.max(...hops))})`, num(median(s.map((x) => x.deepest)), 1), num(median(s.map((x) => x.queries)), 1),
    ]);
  }
  log(table(['nodes', 'ready s', 'CPU s', 'RSS MB', 'KB/node', 'all peers', 'hops to 1st peer: median (min-max)', 'deepest hop', 'get_peers'], rows));
  log('ready: Testnet.start and a first lookup that finds peers (what `dht-scrape testnet` waits for). KB/node: RSS after a GC, minus the process before the start, per node.\n' +
    'hops: cold lookups from a fresh node knowing only one node of the network (its reply is hop 1).');
  const biggest = probes.find((p) => p.nodes === 19_000);
  if (biggest === undefined) return [];
  return [
    { figure: '19,000 nodes: RSS', target: '<= 1 GiB', measured: `${num(biggest.rss / 2 ** 20)} MB`, met: biggest.rss <= GIB },
    { figure: '19,000 nodes: time to ready', target: '<= 30 s', measured: `${num(biggest.readyMs / 1000, 1)} s`, met: biggest.readyMs <= 30_000 },
  ];
}

function runProbe(nodes: number, lookups: number): Promise<Probe | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', PROBE, String(nodes), String(lookups)], { timeout: 180_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Probe);
      } catch {
        console.log(`scale: ${nodes} nodes failed: ${error?.message ?? ''} ${stderr.trim().split('\n').pop() ?? ''}`);
        resolve(undefined);
      }
    });
  });
}

/** The soft open-files limit (Linux), as the CLI reads it; undefined elsewhere. */
function openFilesLimit(): number | undefined {
  try {
    const value = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return value === undefined || value === 'unlimited' ? undefined : Number(value);
  } catch {
    return undefined;
  }
}
