/** `dht-scrape <infohash|magnet>`: print peers as they are found, then a summary. */
import { idToHex } from '../wire/id.js';
import { answered, mergeReports, scrape, type ScrapeEvent, type ScrapeOptions, type ScrapeReport } from '../modes/scrape.js';
import { formatEndpoint } from '../wire/address.js';
import { EXIT, type Command } from './options.js';
import { newFileProblem } from './output-file.js';
import { describeNetwork, noBootstrapMessage, openSession, type Session } from './session.js';
import { trackerLines, trackersJson, trackersToAsk } from './tracker-report.js';
import { runSwarmExtras, swarmJson, swarmSummary, type SwarmExtras } from './swarm-report.js';
import { safeText } from './safe-text.js';
import type { Output } from './terminal.js';
import type { ViewFeed } from './web/view-feed.js';

type ScrapeCommand = Extract<Command, { kind: 'scrape' }>;

/** `view`: the --web page's feed, shown our node (its table and lookups) as soon as it exists. */
export async function runScrape(command: ScrapeCommand, output: Output, signal: AbortSignal, view?: ViewFeed): Promise<number> {
  const started = Date.now();
  const { common, swarm } = command;
  // On the local network, 7 of each torrent's 10 peers are real, so --metadata and --probe have
  // peers to talk to (and a few dead addresses to report).
  const needsPeers = swarm.metadata || swarm.probe;
  if (common.timeoutSeconds === 0) {
    // 0 is a crawl's "until stopped"; a scrape ends when its lookup converges, and needs a limit.
    output.err('dht-scrape: --timeout 0 ("until stopped") is for crawling; give a scrape a limit in seconds (default 30)');
    return EXIT.usage;
  }
  const fileProblem = swarm.saveTorrent === undefined ? undefined : await newFileProblem(swarm.saveTorrent, '--save-torrent');
  if (fileProblem !== undefined) {
    output.err(`dht-scrape: ${fileProblem}`);
    return EXIT.usage;
  }
  // BEP 43: a one-shot command is read-only unless told otherwise, so that no node keeps it in its
  // table (and waits on it in its next lookup) after it exits.
  const node = { readOnly: command.readOnly };
  // lookupFirst: the lookup leaves with the first address known, not after the slowest name, and
  // asks the saved contacts closest to the torrent first rather than all of them at once.
  const session = await openSession(common, output, { node, bothFamilies: true, lookupFirst: true, ...(needsPeers ? { testnetSeeders: 7 } : {}) });
  view?.watchNode(session.node, session.node6);
  try {
    const target = command.target ?? pickTestnetTorrent(session);
    if (target === undefined) {
      output.err('dht-scrape: an info-hash or magnet is required');
      return EXIT.usage;
    }
    const hex = idToHex(target.infoHash);
    output.err(`Looking up ${hex}${target.name !== undefined ? ` (${safeText(target.name)})` : ''} from ${describeNetwork(session)}`);
    const timeoutMs = (common.timeoutSeconds ?? 30) * 1000;
    // Trackers (the magnet's tr= and --tracker) are asked beside the DHT, within the same budget.
    const trackerUrls = trackersToAsk(command.trackers, command.target?.trackers, command.noTrackers);
    // The tracker clients (HTTP, HTTPS, UDP) load only when there are trackers to ask (see main.ts).
    const trackers = trackerUrls.length === 0 ? Promise.resolve([]) : import('../tracker/tracker.js').then(({ queryTrackers }) => queryTrackers(trackerUrls, {
      infoHash: target.infoHash,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      ...(command.announcePort !== undefined ? { port: command.announcePort, stay: true } : {}),
    }));
    const options: ScrapeOptions = {
      startedAt: started,
      infoHash: target.infoHash,
      bootstrap: session.bootstrap,
      bootstrapLater: session.bootstrapLater,
      contacts: session.contacts,
      timeoutMs,
      signal,
      ...(command.announcePort !== undefined ? { announcePort: command.announcePort } : {}),
      ...(common.alpha !== undefined ? { alpha: common.alpha } : {}),
      ...(swarm.counts ? { scrape: true } : {}),
    };
    // Dual stack (BEP 32): each family is its own DHT; an IPv4 and an IPv6 scrape run side by side.
    type Progress = Extract<ScrapeEvent, { type: 'progress' }>;
    const progress = new Map<4 | 6, Progress>();
    const onEvent = (family: 4 | 6) => (event: ScrapeEvent): void => {
      if (event.type === 'peer' && !common.json) output.out(formatEndpoint(event.peer));
      else if (event.type === 'progress') {
        progress.set(family, event);
        const all = [...progress.values()];
        const sum = (f: (e: Progress) => number): number => all.reduce((n, e) => n + f(e), 0);
        output.status(`${output.paint('dim', all.some((e) => e.joining) ? 'joining + lookup' : 'lookup')} ${sum((e) => e.queried)} queried, ${sum((e) => e.responses)} answered, ` +
          `closest ${Math.max(...all.map((e) => e.closestPrefixBits))}/160 bits, ${output.paint('green', `${sum((e) => e.peers)} peers`)}`);
      }
    };
    const [report4, report6] = await scrapeFamilies(session, options, onEvent);
    const byFamily: FamilyReports = report6 === undefined ? { [session.node.family]: report4 } : { 4: report4, 6: report6 };
    const report = report6 === undefined ? report4 : mergeReports(report4, report6);
    const trackerReports = await trackers;
    output.clearStatus();
    if (!answered(report)) {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (common.json) output.out(JSON.stringify(jsonReport(report, droppedBy(session))));
      if (report.bootstrap.routersAnswered > 0 && !signal.aborted) {
        // The network answered; our own --timeout ended the run before a lookup could.
        output.err(`0 peers: the bootstrap node answered, but --timeout ${common.timeoutSeconds ?? 30} s ran out after ${seconds} s, ` +
          'before the lookup; try a longer --timeout');
        return EXIT.noPeers;
      }
      const ranOut = Date.now() - started >= timeoutMs ? ` (--timeout ${timeoutMs / 1000} s ran out; a slow network may need longer)` : '';
      // The names that resolved after the session opened were asked too (a name has 3 s at most).
      const late = (await Promise.all(session.bootstrapLater)).flat();
      const tried = [...session.bootstrap, ...late];
      output.err(noBootstrapMessage(session, { waited: `; gave up after ${seconds} s${ranOut}`, tryLocal: 'dht-scrape --testnet 200', tried }));
      return EXIT.network;
    }
    let extras: SwarmExtras = {};
    if (needsPeers) {
      output.status(output.paint('dim', `asking ${report.peers.length} peers${swarm.probe ? ' (probe)' : ''}...`));
      extras = await runSwarmExtras(report, target, swarm, started + timeoutMs, signal);
      output.clearStatus();
    }
    // The magnet's display name, when the user gave one (not the local network's label).
    const dn = command.target?.name !== undefined ? { dn: command.target.name } : {};
    const trackerJson = trackerReports.length > 0 ? { trackers: trackersJson(trackerReports) } : {};
    const families = report6 === undefined ? {} : { families: familiesJson(byFamily) };
    if (common.json) output.out(JSON.stringify({ ...(jsonReport(report, droppedBy(session)) as object), ...families, ...dn, ...swarmJson(report.swarm, extras), ...trackerJson }));
    output.err(summary(report, output));
    if (report6 !== undefined) output.err(familyLine(byFamily));
    for (const line of trackerLines(trackerReports, output)) output.err(line);
    for (const line of swarmSummary(report.swarm, extras, { ...swarm, ...dn }, output)) output.err(line);
    if (report.peers.length === 0) return EXIT.noPeers;
    // Asked for a .torrent and none was written: the run did not do what it was asked.
    return swarm.saveTorrent !== undefined && extras.torrentFile === undefined ? EXIT.notWritten : EXIT.peersFound;
  } finally {
    await session.close();
  }
}

/**
 * The scrape of `session.node`, and beside it node6's (BEP 32: each family is its own DHT). The
 * IPv6 side's names resolve while both run (Session.ipv6Known): when the first scrape has had
 * answers and the IPv6 side still has no address to ask, it is stopped, and an IPv6 side that
 * never had one is left out of the report, as in a -4 run. When the first had no answer, the IPv6
 * side runs on: on a host without IPv4 it is the one that can work.
 */
export async function scrapeFamilies(
  session: Session, options: ScrapeOptions, onEvent: (family: 4 | 6) => (event: ScrapeEvent) => void,
): Promise<[ScrapeReport, ScrapeReport | undefined]> {
  const { node6 } = session;
  const stop6 = new AbortController();
  const signal6 = options.signal === undefined ? stop6.signal : AbortSignal.any([options.signal, stop6.signal]);
  const first = scrape(session.node, options, onEvent(session.node.family)).then((report) => {
    if (answered(report) && !session.ipv6Known()) stop6.abort();
    return report;
  }, (error: unknown) => { stop6.abort(); throw error; });
  const second = node6 === undefined ? undefined
    : scrape(node6, { ...options, signal: signal6, bootstrap: session.bootstrap6, bootstrapLater: session.bootstrap6Later, contacts: session.contacts6 }, onEvent(6));
  const [report, report6] = await Promise.all([first, second]);
  return [report, session.ipv6Known() ? report6 : undefined];
}

function pickTestnetTorrent(session: Session): { infoHash: Uint8Array; name?: string } | undefined {
  const torrents = session.testnet?.torrents ?? [];
  const torrent = torrents[Math.floor(Math.random() * torrents.length)];
  return torrent === undefined ? undefined : { infoHash: torrent.infoHash, name: `local network torrent, ${torrent.peers.length} peers` };
}

/**
 * Datagrams our node(s) dropped during the run, by reason (DropReason), only the reasons that
 * happened. The node lives for this one command, so its counters are the run's. `oversized` counts
 * datagrams over 1,500 bytes that answered none of our open queries: a reply we asked for is read
 * whatever its size (bittorrent-dht sends its whole table), so a scrape's own replies are not in it.
 */
function droppedBy(session: Session): Record<string, number> {
  const dropped: Record<string, number> = {};
  for (const node of [session.node, session.node6]) {
    for (const [reason, n] of Object.entries(node?.counters().dropped ?? {})) if (n > 0) dropped[reason] = (dropped[reason] ?? 0) + n;
  }
  return dropped;
}

/** The stable --json document: new fields may be added, none renamed. `dropped` when known (one scrape per node). */
export function jsonReport(report: ScrapeReport, dropped?: Record<string, number>): unknown {
  const stats = report.lookup;
  return {
    infohash: report.infohash,
    peers: report.peers.map((p) => ({ address: p.address, port: p.port, seen_by: p.seenBy })),
    stats: {
      queries: stats?.queries ?? 0,
      responses: stats?.responses ?? 0,
      timeouts: stats?.timeouts ?? 0,
      nodes_contacted: stats?.nodesContacted ?? 0,
      // From the command's start (what the user waited for), then from the lookup's start.
      time_to_first_peer_ms: report.sinceStart.timeToFirstPeerMs,
      duration_ms: report.sinceStart.durationMs,
      lookup_time_to_first_peer_ms: stats?.timeToFirstItemMs ?? null,
      lookup_duration_ms: stats?.durationMs ?? 0,
      bootstrap_answered: report.bootstrap.routersAnswered,
      join: {
        routers_answered: report.bootstrap.routersAnswered,
        ms: report.bootstrap.durationMs,
        packets: report.bootstrap.queries,
        finished: report.bootstrap.finished,
      },
      ...(report.announcedTo !== undefined ? { announced_to: report.announcedTo } : {}),
      ...(dropped !== undefined ? { dropped } : {}),
    },
  };
}

/** The scrape of each address family that ran. */
export type FamilyReports = { 4?: ScrapeReport; 6?: ScrapeReport };

/** --json `families`: each family's own figures, beside the merged ones, in a dual-stack run. */
export function familiesJson(reports: FamilyReports): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const family of [4, 6] as const) {
    const report = reports[family];
    if (report === undefined) continue;
    out[`ipv${family}`] = {
      peers: report.peers.length,
      queries: report.lookup?.queries ?? 0,
      responses: report.lookup?.responses ?? 0,
      timeouts: report.lookup?.timeouts ?? 0,
      bootstrap_answered: report.bootstrap.routersAnswered,
      time_to_first_peer_ms: report.sinceStart.timeToFirstPeerMs,
      duration_ms: report.sinceStart.durationMs,
      // BEP 33 in this family's DHT alone (the top-level `swarm` is both families' filters OR-ed).
      ...(report.swarm !== undefined ? { swarm: { seeds: report.swarm.seeds, leechers: report.swarm.leechers, responders: report.swarm.responders } } : {}),
    };
  }
  return out;
}

/** "  IPv4: 10 peers, 23 queries; IPv6: 10 peers, 19 queries" (with --scrape: ", swarm ~4 seeds, ~6 leechers" each) */
function familyLine(reports: FamilyReports): string {
  const parts = ([4, 6] as const).flatMap((family) => {
    const report = reports[family];
    if (report === undefined) return [];
    const joined = answered(report) ? '' : ' (no bootstrap node answered)';
    const { swarm } = report;
    const approx = swarm?.saturated === true ? 'at least ' : '~';
    const estimate = swarm === undefined || swarm.responders === 0 ? '' : `, swarm ${approx}${swarm.seeds} seeds, ${approx}${swarm.leechers} leechers`;
    return [`IPv${family}: ${report.peers.length} peer${report.peers.length === 1 ? '' : 's'}, ${report.lookup?.queries ?? 0} queries${estimate}${joined}`];
  });
  return `  ${parts.join('; ')}`;
}

function summary(report: ScrapeReport, output: Output): string {
  const s = report.lookup!;
  const { timeToFirstPeerMs, durationMs } = report.sinceStart;
  const first = timeToFirstPeerMs === null ? 'none' : `${timeToFirstPeerMs} ms`;
  const peers = `${report.peers.length} peer${report.peers.length === 1 ? '' : 's'}`;
  const lines = [
    `${output.paint('bold', peers)} for ${report.infohash} in ${(durationMs / 1000).toFixed(2)} s (lookup ${s.ended})`,
    `  ${s.queries} queries, ${s.responses} responses, ${s.timeouts} timeouts, ${s.nodesContacted} nodes contacted; ` +
      `closest node shared ${s.closestPrefixBits} bits; first peer after ${first}`,
  ];
  if (report.announcedTo !== undefined) lines.push(`  announced to ${report.announcedTo} node(s)`);
  return lines.join('\n');
}
