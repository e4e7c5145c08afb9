/**
 * `dht-scrape scrape -` (or `--from FILE`): many torrents in one run. One node joins once, then
 * looks the torrents up, `--concurrency` at a time, and prints one NDJSON line per torrent as its
 * lookup ends (the --json document of a single scrape, with the magnet's `dn` if it had one). A line that is
 * not an info-hash or magnet gets a line with its `error`, and the others go on. In both address
 * families when the scrape would be (BEP 32, see session.ts): an IPv6 node joins beside the IPv4
 * one, each torrent is looked up in both, and its line merges them (with `families`, as one scrape's).
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseTarget, type TorrentTarget } from '../wire/magnet.js';
import { mergeReports, scrape, type ScrapeOptions } from '../modes/scrape.js';
import { readLines } from './line-reader.js';
import { EXIT, type Command } from './options.js';
import { familiesJson, jsonReport } from './scrape-command.js';
import { describeNetwork, noBootstrapMessage, openSession, type Session } from './session.js';
import type { Output } from './terminal.js';

type BatchCommand = Extract<Command, { kind: 'batch' }>;

/** Time for the one join before the lookups start, at most. */
const JOIN_TIMEOUT_MS = 10_000;

interface Tally { torrents: number; withPeers: number; invalid: number }

export async function runBatch(command: BatchCommand, output: Output, signal: AbortSignal, stdin: Readable = process.stdin): Promise<number> {
  const { common } = command;
  let input: Readable;
  try {
    input = command.from === '-' ? stdin : await openFile(command.from);
  } catch (error) {
    output.err(`dht-scrape: cannot read ${command.from}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.usage;
  }
  // Ctrl+C (or the reader of stdout going away) stops reading too.
  const stopReading = (): void => { input.destroy(); };
  signal.addEventListener('abort', stopReading, { once: true });
  // Read-only, as one scrape is, unless --no-read-only: no table keeps us after we exit.
  const session = await openSession(common, output, { node: { readOnly: command.readOnly }, bothFamilies: true });
  const started = Date.now();
  try {
    output.err(`Joining ${describeNetwork(session)}...`);
    const { node6 } = session;
    await Promise.all([
      session.node.bootstrap(session.bootstrap, { timeoutMs: JOIN_TIMEOUT_MS, signal }),
      node6?.bootstrap(session.bootstrap6, { timeoutMs: JOIN_TIMEOUT_MS, signal }),
    ]);
    if (session.node.tableSize + (node6?.tableSize ?? 0) === 0) {
      if (signal.aborted) return 0;
      output.err(noBootstrapMessage(session, { tryLocal: 'dht-scrape scrape - --testnet 200' }));
      return EXIT.network;
    }
    output.err(`Joined (${session.node.tableSize} nodes${node6 !== undefined ? `, ${node6.tableSize} IPv6` : ''}); looking up the torrents, ${command.concurrency} at a time`);
    const tally = await lookUpAll(input, command, session, output, signal);
    output.err(`${tally.torrents} torrent(s) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${tally.withPeers} with peers, ` +
      `${tally.torrents - tally.withPeers} without${tally.invalid > 0 ? `; ${tally.invalid} line(s) were not an info-hash or magnet` : ''}`);
    if (tally.invalid > 0) return EXIT.usage;
    return tally.withPeers > 0 ? EXIT.peersFound : EXIT.noPeers;
  } finally {
    signal.removeEventListener('abort', stopReading);
    input.destroy();
    await session.close();
  }
}

/** Read the list and keep `concurrency` lookups running; resolves when all are done. */
async function lookUpAll(input: Readable, command: BatchCommand, session: Session, output: Output, signal: AbortSignal): Promise<Tally> {
  const tally: Tally = { torrents: 0, withPeers: 0, invalid: 0 };
  const running = new Set<Promise<void>>();
  for await (const line of readLines(input)) {
    if (signal.aborted) break;
    const text = line.text.trim();
    if (text === '' || text.startsWith('#')) continue;
    let target: TorrentTarget;
    try {
      if (line.cut) throw new Error(`line ${line.number} is too long`);
      target = parseTarget(text);
    } catch (error) {
      tally.invalid++;
      output.out(JSON.stringify({ input: text.slice(0, 200), line: line.number, error: error instanceof Error ? error.message : String(error) }));
      continue;
    }
    const task = lookUpOne(target, command, session, signal).then((doc) => {
      tally.torrents++;
      if (doc.peers.length > 0) tally.withPeers++;
      output.out(JSON.stringify(doc.json));
    }).finally(() => running.delete(task));
    running.add(task);
    output.status(`${tally.torrents} done, ${running.size} looking up`);
    if (running.size >= command.concurrency) await Promise.race(running);
  }
  await Promise.all(running);
  output.clearStatus();
  return tally;
}

async function lookUpOne(target: TorrentTarget, command: BatchCommand, session: Session, signal: AbortSignal): Promise<{ peers: unknown[]; json: unknown }> {
  const options: ScrapeOptions = {
    infoHash: target.infoHash,
    // Joined already: each lookup starts from the table.
    bootstrap: [],
    timeoutMs: (command.common.timeoutSeconds ?? 30) * 1000,
    signal,
    ...(command.common.alpha !== undefined ? { alpha: command.common.alpha } : {}),
  };
  const { node, node6 } = session;
  const [report4, report6] = await Promise.all([scrape(node, options), node6 === undefined ? undefined : scrape(node6, options)]);
  const report = report6 === undefined ? report4 : mergeReports(report4, report6);
  const families = report6 === undefined ? {} : { families: familiesJson({ 4: report4, 6: report6 }) };
  const json = { ...(jsonReport(report) as object), ...families, ...(target.name !== undefined ? { dn: target.name } : {}) };
  return { peers: report.peers, json };
}

/** The file opened (so that a missing one is reported before the node starts). */
function openFile(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path);
    stream.once('open', () => resolve(stream));
    stream.once('error', reject);
  });
}

