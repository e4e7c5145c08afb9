/**
 * `dht-scrape [crawl]`: collect info-hashes until the timeout or Ctrl+C. Each new one becomes an
 * NDJSON line (in --output, and on stdout with --json) the moment it is seen; a summary with the
 * most requested ones goes to stderr at the end.
 */
import { stat } from 'node:fs/promises';
import { sumCounts, type CrawlProgress, type CrawlReport } from '../crawl/crawl.js';
import { DualStackCrawl } from '../crawl/dual-stack-crawl.js';
import { CrawlLogWriter, cutTornTail, formatCrawlLine, notACrawlLog, readCrawlLog } from '../crawl/crawl-log.js';
import { idToHex } from '../wire/id.js';
import { InfoHashStore, SOURCE_KINDS, SOURCES_SATURATED, type InfoHashEntry } from '../crawl/infohash-store.js';
import { NameResolver } from '../modes/name-resolver.js';
import { formatEndpoint } from '../wire/address.js';
import { EXIT, type Command } from './options.js';
import { newFileProblem } from './output-file.js';
import { describeNetwork, noBootstrapMessage, openSession, type Session } from './session.js';
import { nameFields, namesSummary } from './swarm-report.js';
import type { Output } from './terminal.js';
import type { ViewFeed } from './web/view-feed.js';

type CrawlCommand = Extract<Command, { kind: 'crawl' }>;

/**
 * The BEP 51 interval a crawled local network's nodes announce: short, so that a one-minute crawl
 * samples each node several times (real nodes say 6 hours).
 */
export const TESTNET_SAMPLE_INTERVAL_S = 3;

/** Torrents stored in a crawled local network: 7 per node (2,100 for 300 nodes), at most 5,000. */
export function testnetTorrentsFor(nodes: number): number {
  return Math.min(5_000, nodes * 7);
}

/** `view`: the --web page's feed, shown our node, the crawl's progress and each info-hash found. */
export async function runCrawl(command: CrawlCommand, output: Output, signal: AbortSignal, view?: ViewFeed): Promise<number> {
  const { common } = command;
  const timeoutSeconds = common.timeoutSeconds ?? 60;
  const store = new InfoHashStore({ maxEntries: command.maxInfoHashes });
  const logPath = command.output ?? command.resume;
  let writer: CrawlLogWriter | undefined;
  // The first failed write stops the crawl at once: crawling on would only find what cannot be kept.
  const writeFailed = new AbortController();
  const onWriteError = (error: Error): void => {
    output.clearStatus();
    output.err(`dht-scrape: cannot write ${logPath ?? ''}: ${error.message}; stopping the crawl (the lines written before are kept)`);
    writeFailed.abort();
  };
  // --output to a file that is there already: append only to a crawl log of ours (never to another file).
  const outputProblem = command.output === undefined || command.output === command.resume ? undefined : await appendProblem(command.output, output);
  if (outputProblem !== undefined) {
    output.err(`dht-scrape: ${outputProblem}`);
    return EXIT.usage;
  }
  try {
    if (command.resume !== undefined) await loadResume(command.resume, store, command.resume === logPath, output);
    if (logPath !== undefined) writer = new CrawlLogWriter(logPath, { onError: onWriteError });
  } catch (error) {
    output.err(`dht-scrape: the crawl log cannot be used: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.usage;
  }
  // --metadata: a line waits for its torrent's name; at exit, lines still waiting go out without.
  let names: NameResolver<string> | undefined;
  // A second Ctrl+C exits at once (main.ts): lines still buffered are written on the way out.
  const flushOnExit = (): void => { names?.flushPending(); writer?.flush(); };
  process.on('exit', flushOnExit);
  let statusTimer: NodeJS.Timeout | undefined;
  let session: Session | undefined;
  try {
    session = await openSession(common, output, {
      testnetTorrents: testnetTorrentsFor(common.testnet ?? 0),
      // A local network exists to be crawled: its nodes let our one crawler send more than the
      // 5 packets/s per source that protects real nodes (the crawler's own --rate still applies).
      testnetNode: { sampleIntervalSeconds: TESTNET_SAMPLE_INTERVAL_S, sourceLimit: { rate: 500, burst: 1_000 } },
      ...(command.metadata ? { testnetSeeders: 1 } : {}),
      // BEP 32: with both families at hand, one crawler per family, one table (dual-stack-crawl.ts).
      bothFamilies: true,
    });
    const emit = (line: string): void => {
      writer?.write(line);
      if (common.json) output.out(line);
    };
    if (command.metadata) {
      // Both nodes of a dual-stack crawl look for peers, each in its own DHT (BEP 32).
      names = new NameResolver<string>([session.node, ...(session.node6 !== undefined ? [session.node6] : [])], (line, outcome, infoHash) => {
        if (outcome.kind === 'named') view?.named(infoHash, outcome.metadata.info.name);
        emit(JSON.stringify({ ...(JSON.parse(line) as object), ...nameFields(outcome) }));
      }, { paused: true });
    }
    const families = [{ node: session.node, bootstrap: session.bootstrap }, ...(session.node6 !== undefined ? [{ node: session.node6, bootstrap: session.bootstrap6 }] : [])];
    const crawler = new DualStackCrawl(families, {
      timeoutMs: timeoutSeconds * 1000,
      signal: AbortSignal.any([signal, writeFailed.signal]),
      roundIntervalMs: command.queryIntervalSeconds * 1000,
      store,
      captureFindNode: command.captureFindNode,
      onInfoHash: (found) => {
        const { infoHash, firstSeenMs, source, from } = found;
        view?.infoHashFound(found);
        const line = formatCrawlLine(infoHash, firstSeenMs, source, formatEndpoint(from));
        if (names !== undefined) names.add(infoHash, line);
        else emit(line);
      },
      onJoined: () => names?.resume(),
      onStoreFull: (cap) => {
        output.err(`dht-scrape: the info_hash table is full (${cap.toLocaleString('en-US')}): ` +
          'known ones are still counted, new ones are counted as dropped and not written');
      },
    });
    if (view !== undefined) {
      view.watchNode(session.node, session.node6);
      view.watchCrawler(crawler);
    }
    output.err(`Crawling ${describeNetwork(session)} ${timeoutSeconds > 0 ? `for ${timeoutSeconds} s` : 'until stopped'} (Ctrl+C stops)`);
    statusTimer = setInterval(() => output.status(statusLine(crawler.progress(), output)), 1_000);
    const crawlStarted = Date.now();
    const { report, families: byFamily } = await crawler.run();
    await names?.stop();
    clearInterval(statusTimer);
    output.clearStatus();
    const writeError = writer?.close();
    // Stopped (by the user, or a failed write) before any node answered: not a network error.
    if (!report.joined && report.ended !== 'aborted') {
      output.err(noBootstrapMessage(session, { waited: `; gave up after ${((Date.now() - crawlStarted) / 1000).toFixed(1)} s`, tryLocal: 'dht-scrape crawl --testnet 300' }));
      return EXIT.network;
    }
    output.err(summary(report, crawler.store, command.top, session, output));
    if (session.node6 !== undefined) output.err(familyLine(report.counts, byFamily));
    if (names !== undefined) output.err(namesSummary(names.stats));
    if (writeError !== undefined) {
      output.err(`dht-scrape: the crawl stopped early: ${logPath ?? ''} could not be written (${writeError.message})`);
      return EXIT.notWritten;
    }
    return EXIT.peersFound;
  } finally {
    clearInterval(statusTimer);
    await names?.stop();
    writer?.close();
    process.off('exit', flushOnExit);
    await session?.close();
  }
}

/**
 * Fill the store from an earlier log. A file that is not a crawl log is refused untouched; with
 * `repair` (we are about to append to it) a torn last line is cut off first.
 */
async function loadResume(path: string, store: InfoHashStore, repair: boolean, output: Output): Promise<void> {
  const read = await readCrawlLog(path, (r) => store.record(r.infoHash, r.source, r.address, r.firstSeenMs));
  const foreign = notACrawlLog(read);
  if (foreign !== undefined) throw new Error(`${path} is not a crawl log (${foreign}); it was left untouched`);
  if (repair) cutTornTail(path, read);
  const notes = [
    read.tornBytes > 0 ? 'skipped a torn last line' : '',
    read.invalid > 0 ? `skipped ${read.invalid} malformed line(s)` : '',
  ].filter((note) => note !== '');
  output.err(`Resumed ${store.size} info_hashes from ${path}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`);
}

/**
 * Why the crawl must not append to `path` (--output), or undefined. Absent: its directory must take
 * a new file. A directory is refused. A device or a pipe (/dev/stdout, a FIFO) is fine: appending
 * there destroys nothing. A regular file must be empty or a crawl log by the --resume rule; a torn
 * last line of ours is cut first, so that the first new line does not glue onto it. The file is
 * otherwise left as it is.
 */
async function appendProblem(path: string, output: Output): Promise<string | undefined> {
  const found = await stat(path).catch(() => undefined);
  if (found === undefined) return newFileProblem(path, '--output');
  if (found.isDirectory()) return `--output ${path}: is a directory (give a file name)`;
  if (!found.isFile() || found.size === 0) return undefined;
  const read = await readCrawlLog(path, () => {});
  const foreign = notACrawlLog(read);
  if (foreign !== undefined) {
    return `--output ${path}: the file exists and is not a crawl log (${foreign}); it was left untouched ` +
      '(dht-scrape appends only to its own logs: choose another name)';
  }
  cutTornTail(path, read);
  output.err(`Appending to ${path} (${read.lines} lines already; --resume ${path} would skip the info_hashes it holds)`);
  return undefined;
}

function statusLine(p: CrawlProgress, output: Output): string {
  return `${output.paint('dim', 'crawl')} ${formatDuration(p.elapsedMs)}  ` +
    `${output.paint('green', `${count(p.unique)} info_hashes`)}  ${count(Math.round(p.perMinute))}/min  ` +
    `${count(p.nodesKnown)} nodes  queries in ${count(p.queriesIn)} out ${count(p.queriesOut)}`;
}

function summary(report: CrawlReport, store: InfoHashStore, top: number, session: Session, output: Output): string {
  const c = report.counts;
  const resumed = c.unique - report.discovered;
  const lines = [
    output.paint('bold', `${count(c.unique)} info_hashes`) +
      ` (${count(report.discovered)} new${resumed > 0 ? `, ${count(resumed)} resumed` : ''})` +
      ` in ${(report.durationMs / 1000).toFixed(1)} s (${report.ended}), ` +
      `${count(Math.round((report.discovered * 60_000) / Math.max(1, report.durationMs)))}/min`,
    `  first learned by: ${SOURCE_KINDS.filter((k) => k !== 'find_node' || c.learnedBy.find_node > 0).map((k) => `${k} ${count(c.firstLearnedBy[k])}`).join(', ')}; ` +
      `only ever in get_peers: ${count(c.getPeersOnly)} (may be refresh targets, not torrents)`,
    `  queries received: ${byMethod(report.queriesIn)}`,
    `  queries sent: ${byMethod(report.queriesOut)}`,
    `  nodes: ${count(report.nodes.nodes)} known, ${count(report.nodes.sampled)} sampled ` +
      `(${count(report.sampleReplies)} samples carrying ${count(report.samplesReceived)} info_hashes), ` +
      `${count(report.nodes.unsupported)} without BEP 51, ${count(report.nodes.failed)} silent`,
    `  per node: at most ${count(report.perNode.peakPerMinute)} queries in a minute (cap ${count(report.perNode.capPerMinute)}` +
      `${report.perNode.deferred > 0 ? `, ${count(report.perNode.deferred)} deferred` : ''})` +
      (report.backoff.walkIntervalMs > 0
        ? `; nothing new for ${(report.backoff.quietForMs / 1000).toFixed(0)} s, walks backed off to one per ${(report.backoff.walkIntervalMs / 1000).toFixed(0)} s`
        : ''),
  ];
  const torrents = session.testnet?.torrents;
  if (torrents !== undefined && torrents.length > 0) {
    const found = torrents.filter((t) => store.has(t.infoHash)).length;
    lines.push(`  local network: found ${count(found)} of its ${count(torrents.length)} torrents (${((100 * found) / torrents.length).toFixed(1)}%)`);
  }
  if (c.dropped > 0) lines.push(`  table full: ${count(c.dropped)} new info_hashes dropped (cap ${count(store.maxEntries)})`);
  if (top > 0) {
    lines.push(...topList(`Top ${top} by requests:`, store.top(top, 'requests')));
    lines.push(...topList(`Top ${top} by distinct sources:`, store.top(top, 'sources')));
  }
  return lines.join('\n');
}

/**
 * "  IPv4: 2,100 info_hashes (1,900 first), 5,432 queries sent, 290 nodes sampled; IPv6: ...": what
 * each DHT of a dual-stack crawl named (an info-hash named by both counts in both, first in one).
 */
function familyLine(c: CrawlReport['counts'], families: Partial<Record<4 | 6, CrawlReport>>): string {
  const parts = ([4, 6] as const).flatMap((family) => {
    const report = families[family];
    if (report === undefined) return [];
    if (!report.joined) return [`IPv${family}: no bootstrap node answered`];
    return [`IPv${family}: ${count(c.seenIn[family])} info_hashes (${count(c.firstSeenIn[family])} first), ` +
      `${count(sumCounts(report.queriesOut))} queries sent, ${count(report.nodes.sampled)} nodes sampled`];
  });
  return `  ${parts.join('; ')}`;
}

function topList(title: string, entries: InfoHashEntry[]): string[] {
  if (entries.length === 0) return [`${title} none`];
  return [title, ...entries.map((e) => {
    const sources = e.sources >= SOURCES_SATURATED ? `${SOURCES_SATURATED}+` : `~${e.sources}`;
    return `  ${idToHex(e.infoHash)}  ${count(e.requests)} requests, ${sources} sources, ${e.kinds.join('+')}`;
  })];
}

function byMethod(counts: Record<string, number>): string {
  const parts = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([method, n]) => `${method} ${count(n)}`);
  return `${count(sumCounts(counts))}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
