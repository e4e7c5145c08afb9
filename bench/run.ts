/**
 * `npm run bench`: every benchmark of issue 5 in one run, each figure printed for dht-scrape and for
 * the library it is compared with, with the ratio, then one summary of the targets.
 *
 *   npm run bench                          # everything (the cold start alone ~17 minutes; bounded at 45)
 *   npm run bench -- --only lookup         # one section: bencode, throughput, lookup, cold, crawl, attacks, scale
 *   npm run bench -- --quick               # fewer rounds and lookups: a smoke test, not figures
 *   npm run bench -- --conditions internet # lookup, cold and crawl on one preset only (default: ideal,internet)
 *
 * Loopback only: every socket binds 127.x, the peer library's socket refuses other destinations,
 * and DNS lookups are refused while it runs (see peer-dht.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { runAttacksBench } from './attacks.js';
import { runBencodeBench, type BencodeFigure } from './bencode.js';
import { runColdStartBench } from './cold-start.js';
import { runHandlerCost } from './handler-cost.js';
import { OURS, PRESETS, THEIRS, lookupMetrics, runLookupBench, type ConditionResult, type NetworkPreset } from './lookup.js';
import { guardDns } from './peer-dht.js';
import { runScaleBench } from './scale.js';
import { runSocketCost } from './socket-cost.js';
import { heading, num, ratio, table } from './report.js';
import { pingVerdict, runThroughputBench, type ThroughputSample } from './throughput.js';

const SECTIONS = ['bencode', 'throughput', 'lookup', 'cold', 'crawl', 'attacks', 'scale'] as const;
type Section = (typeof SECTIONS)[number];
/** The whole run must end by itself; past this, it stops and says so. */
// The cold start alone takes 15-17 minutes (fresh processes of three clients, 64 torrents).
const BUDGET_MS = 45 * 60_000;

interface Target { figure: string; target: string; measured: string; met: boolean }

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean', default: false }, conditions: { type: 'string' } } });
  const presets = (values.conditions ?? PRESETS.join(',')).split(',').map((s) => s.trim()) as NetworkPreset[];
  for (const p of presets) if (!PRESETS.includes(p)) throw new Error(`unknown --conditions "${p}" (choose from ${PRESETS.join(', ')})`);
  const only = values.only === undefined ? [...SECTIONS] : values.only.split(',').map((s) => s.trim());
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section "${s}" (choose from ${SECTIONS.join(', ')})`);
  const quick = values.quick === true;
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${BUDGET_MS / 60_000} minutes; stopping.`);
    process.exit(1);
  }, BUDGET_MS);

  // Belt and braces for the whole run (the lookup section also counts its own): no name lookups.
  const dnsGuard = guardDns();
  console.log(describeMachine());
  if (quick) console.log('--quick: fewer rounds and lookups; a smoke test, not figures to quote.');
  const targets: Target[] = [];
  const started = Date.now();
  const timed = async <T>(section: Section, run: () => Promise<T>): Promise<T | undefined> => {
    if (!only.includes(section)) return undefined;
    const t0 = Date.now();
    const result = await run();
    console.log(`(${section}: ${num((Date.now() - t0) / 1000, 1)} s)`);
    return result;
  };

  const bencode = await timed('bencode', () => runBencodeBench(quick ? { rounds: 2, roundMs: 100 } : {}));
  if (bencode !== undefined) targets.push(...bencodeTargets(bencode));
  const throughput = await timed('throughput', async () => {
    const samples = await runThroughputBench(quick ? { rounds: 1, measureMs: 500 } : {});
    const { ping } = await runHandlerCost(quick ? { rounds: 2, roundMs: 100 } : {});
    await runSocketCost({ handlerMicros: ping.whole, ...(quick ? { rounds: 1, measureMs: 500 } : {}) });
    return samples;
  });
  if (throughput !== undefined) targets.push(...throughputTargets(throughput));
  const lookups = await timed('lookup', () => runLookupBench({ presets, ...(quick ? { nodes: 300, lookups: 6 } : {}) }));
  if (lookups !== undefined) targets.push(...lookupTargets(lookups));
  // The warm figure above is lookups from a node that has joined; the cold one is what a user runs.
  const cold = await timed('cold', () => runColdStartBench({ presets, ...(quick ? { nodes: 300, torrents: 3 } : {}) }));
  if (cold !== undefined) targets.push(...cold);
  await timed('crawl', () => runCrawlSection(presets));
  const attacks = await timed('attacks', () => runAttacksBench({ quick }));
  if (attacks !== undefined) targets.push(...attacks);
  // Last: the biggest networks take most of the machine for a minute or two.
  const scale = await timed('scale', () => runScaleBench(quick ? { sizes: [1_000, 2_000], lookups: 4 } : {}));
  if (scale !== undefined) targets.push(...scale);

  console.log(heading('Targets (issues 5, 14 and 16)'));
  console.log(table(['figure', 'target', 'measured', ''], targets.map((t) => [t.figure, t.target, t.measured, t.met ? 'met' : 'MISSED'])));
  dnsGuard.restore();
  console.log(`\nDNS lookups of names refused during the run: ${dnsGuard.attempts()} (must be 0).`);
  console.log(`Total ${num((Date.now() - started) / 1000, 0)} s. Figures vary with the load of the machine; the ratios are measured in the same run.`);
  clearTimeout(watchdog);
  // Everything above closes its sockets and timers; should anything be left open, still end.
  setTimeout(() => {
    console.error('bench: some handle was left open; exiting anyway.');
    process.exit(0);
  }, 5_000).unref();
}

/** The crawler's figures live in bench/crawl.ts (the crawler's own benchmark), run here when present. */
async function runCrawlSection(presets: readonly NetworkPreset[]): Promise<void> {
  if (!existsSync(new URL('./crawl.ts', import.meta.url))) {
    console.log(heading('Crawler'));
    console.log('HOOK: bench/crawl.ts is not present; when it exports runCrawlBench(), its figures print here.');
    return;
  }
  const crawl = (await import('./crawl.js')) as { runCrawlBench?: (options: { presets: readonly NetworkPreset[]; log: (line: string) => void }) => Promise<unknown> };
  if (crawl.runCrawlBench === undefined) throw new Error('bench/crawl.ts does not export runCrawlBench()');
  await crawl.runCrawlBench({ presets, log: (line) => console.log(line) });
}

function describeMachine(): string {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout: the commit is only informative.
  }
  return [
    'dht-scrape benchmarks',
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${num(os.totalmem() / 2 ** 30, 0)} GiB; ` +
      `${os.type()} ${os.release()}; Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    `commit ${commit}, ${new Date().toISOString()}`,
  ].join('\n');
}

function bencodeTargets(figures: BencodeFigure[]): Target[] {
  return figures.filter((f) => f.corpus === 'KRPC corpus').map((f) => {
    const ours = f.rates['dht-scrape']!;
    const reference = Math.max(...Object.entries(f.rates).filter(([name]) => name !== 'dht-scrape').map(([, rate]) => rate));
    return { figure: `bencode ${f.operation}, KRPC corpus`, target: '>= 1.5x the faster bencode', measured: ratio(ours, reference), met: ours >= 1.5 * reference };
  });
}

function throughputTargets(samples: ThroughputSample[]): Target[] {
  const ping = pingVerdict(samples);
  return [{
    figure: 'ping answered per second vs UDP echo',
    target: '>= 80% (rate and CPU/reply)',
    measured: `rate ${(ping.rateShare * 100).toFixed(0)}%, CPU ${(ping.cpuShare * 100).toFixed(0)}%`,
    met: ping.met,
  }];
}

function lookupTargets(results: ConditionResult[]): Target[] {
  const targets: Target[] = [];
  const m = lookupMetrics;
  for (const r of results) {
    const ours = r.samples[OURS] ?? [];
    const theirs = r.samples[THEIRS] ?? [];
    const success = m.success(ours);
    targets.push({ figure: `warm lookup success, ${r.name} (${r.nodes} nodes)`, target: '100%', measured: `${(success * 100).toFixed(0)}%`, met: success === 1 });
    if (r.preset === 'internet') continue;
    if ((r.faults.loss ?? 0) === 0) {
      const ttfp = m.timeToFirstPeer(ours) / m.timeToFirstPeer(theirs);
      const queries = m.queries(ours) / m.queries(theirs);
      targets.push({ figure: 'median time to first peer vs bittorrent-dht', target: '<= 0.6x', measured: `${ttfp.toFixed(2)}x`, met: ttfp <= 0.6 });
      targets.push({ figure: 'median queries per lookup vs bittorrent-dht', target: '<= 1x', measured: `${queries.toFixed(2)}x`, met: queries <= 1 });
    } else {
      const duration = m.duration(ours) / m.duration(theirs);
      targets.push({ figure: 'median duration under 10% loss vs bittorrent-dht', target: '<= 0.5x', measured: `${duration.toFixed(2)}x`, met: duration <= 0.5 });
    }
  }
  return targets;
}

await main();
