/**
 * What `--scrape`, `--metadata` and `--probe` add to a scrape (and `--metadata` to a crawl's lines): after the lookup has found peers,
 * fetch the torrent's metadata from them (BEP 9) and probe them (BEP 3/10), then render all of it,
 * with the BEP 33 estimate, for people (stderr) and for `--json`.
 *
 * Both jobs share what is left of the run's --timeout, but get at least MIN_PHASE_MS each, so a
 * lookup that used its whole budget still leaves them a fair try.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metadata, MetadataAttempt } from '../peer/metadata.js';
import type { InfoHashes, InfoHashMatch } from '../peer/ut-metadata.js';
import type { NameOutcome, NameResolverStats } from '../modes/name-resolver.js';
import type { PeerProbe, ProbeReport } from '../peer/probe.js';
import type { ScrapeReport } from '../modes/scrape.js';
import type { SwarmEstimate } from '../modes/swarm-size.js';
import { formatEndpoint } from '../wire/address.js';
import { safeText } from './safe-text.js';
import { torrentFileName } from './torrent-file-name.js';
import type { Output } from './terminal.js';

export const MIN_PHASE_MS = 10_000;
/** Metadata: peers asked at once, and how long one may take. */
const METADATA_CONCURRENCY = 4;
const METADATA_PEER_TIMEOUT_MS = 10_000;
/** Probe: connections at once, how long each may take, and how many peers at most. */
const PROBE_CONCURRENCY = 16;
const PROBE_PEER_TIMEOUT_MS = 5_000;
export const MAX_PROBED_PEERS = 200;

export interface SwarmRequest {
  metadata: boolean;
  probe: boolean;
  saveTorrent: string | undefined;
  /** The magnet's display name (`dn`), shown next to the name the metadata gives. */
  dn?: string | undefined;
}

export interface SwarmExtras {
  /** Fetched when --metadata, --save-torrent or --probe asked (the probe needs the piece count). */
  metadata?: { found: Metadata | undefined; attempts: MetadataAttempt[] };
  torrentFile?: string;
  /** Why the .torrent could not be written (the rest of the report still stands). */
  torrentFileError?: string;
  /** Written, but a v2 or hybrid torrent without the BEP 52 piece layers the peer did not give. */
  torrentFileWarning?: string;
  probe?: ProbeReport;
}

/** Run the metadata fetch and the probe the request asks for, each within its phase budget. */
export async function runSwarmExtras(report: ScrapeReport, target: InfoHashes, request: SwarmRequest, deadline: number, signal: AbortSignal): Promise<SwarmExtras> {
  const { infoHash, infoHashV2 } = target;
  // The peer wire modules load only when a run asks for them (see main.ts).
  const [{ resolveMetadata }, { encodeTorrentFile }, { probePeers }] = await Promise.all([
    import('../peer/metadata.js'), import('../peer/torrent-info.js'), import('../peer/probe.js'),
  ]);
  const extras: SwarmExtras = {};
  const peers = report.peers.map(({ address, port }) => ({ address, port }));
  if (request.metadata || request.probe || request.saveTorrent !== undefined) {
    const { metadata, attempts } = await resolveMetadata(peers, infoHash, {
      concurrency: METADATA_CONCURRENCY,
      timeoutMs: METADATA_PEER_TIMEOUT_MS,
      signal: phaseSignal(signal, deadline),
      ...(infoHashV2 !== undefined ? { infoHashV2 } : {}),
      pieceLayers: request.saveTorrent !== undefined,
    });
    extras.metadata = { found: metadata, attempts };
    if (metadata !== undefined && request.saveTorrent !== undefined) {
      // A directory gets a file named after the torrent. Either way the file is created new ('wx'):
      // one that appeared since the check before the lookup is left alone (torrent_file_error).
      const inDirectory = await isDirectory(request.saveTorrent);
      const path = inDirectory ? join(request.saveTorrent, torrentFileName(metadata.info.name, infoHash)) : request.saveTorrent;
      try {
        const layers = metadata.pieceLayers !== undefined ? { pieceLayers: metadata.pieceLayers } : {};
        await writeFile(path, encodeTorrentFile(metadata.bytes, { createdBy: 'dht-scrape', creationDate: Math.floor(Date.now() / 1000), ...layers }), { flag: 'wx' });
        extras.torrentFile = path;
        if (metadata.pieceLayersError !== undefined) extras.torrentFileWarning = `saved without the BEP 52 piece layers: ${safeText(metadata.pieceLayersError)}`;
      } catch (error) {
        extras.torrentFileError = `cannot write ${safeText(path)}: ${error instanceof Error ? error.message : String(error)}`;
      }
    } else if (request.saveTorrent !== undefined) {
      extras.torrentFileError = `not written: no peer gave the metadata (${request.saveTorrent})`;
    }
  }
  if (request.probe) {
    const pieceCount = extras.metadata?.found?.info.pieceCount;
    extras.probe = await probePeers(peers.slice(0, MAX_PROBED_PEERS), infoHash, {
      concurrency: PROBE_CONCURRENCY,
      timeoutMs: PROBE_PEER_TIMEOUT_MS,
      signal: phaseSignal(signal, deadline),
      ...(pieceCount !== undefined ? { pieceCount } : {}),
    });
  }
  return extras;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Aborts with the user's signal or at the deadline, whichever comes first (never sooner than MIN_PHASE_MS). */
function phaseSignal(signal: AbortSignal, deadline: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(Math.max(MIN_PHASE_MS, deadline - Date.now()))]);
}

// ---- --json ----

/** The new fields of the --json document. Only the parts that ran appear. */
export function swarmJson(swarm: SwarmEstimate | undefined, extras: SwarmExtras): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (swarm !== undefined) out.swarm = { seeds: swarm.seeds, leechers: swarm.leechers, responders: swarm.responders, saturated: swarm.saturated };
  const metadata = extras.metadata;
  if (metadata !== undefined) {
    const found = metadata.found;
    out.metadata = found === undefined ? null : {
      name: found.info.name,
      total_size: found.info.totalSize,
      piece_length: found.info.pieceLength,
      pieces: found.info.pieceCount,
      private: found.info.private,
      version: found.info.version,
      verified_with: VERIFIED_WITH[found.matched],
      files: found.info.files.map((f) => ({ path: f.path.join('/'), length: f.length })),
      from: formatEndpoint(found.peer),
      client: found.client ?? null,
    };
    out.metadata_attempts = metadata.attempts.map((a) => ({
      peer: formatEndpoint(a.peer),
      outcome: a.outcome,
      ...(a.error !== undefined ? { reason: a.error.reason, message: a.error.message } : {}),
      duration_ms: a.durationMs,
    }));
  }
  if (extras.torrentFile !== undefined) out.torrent_file = extras.torrentFile;
  if (extras.torrentFileError !== undefined) out.torrent_file_error = extras.torrentFileError;
  if (extras.torrentFileWarning !== undefined) out.torrent_file_warning = extras.torrentFileWarning;
  if (extras.probe !== undefined) out.probe = probeJson(extras.probe);
  return out;
}

function probeJson({ probes, totals }: ProbeReport): unknown {
  return {
    peers: probes.map((p) => ({
      address: p.peer.address,
      port: p.peer.port,
      reachable: p.reachable,
      client: p.client ?? null,
      v: p.v ?? null,
      peer_id_prefix: p.peerIdPrefix ?? null,
      completion: p.pieces?.completion ?? null,
      seed: p.pieces?.seed ?? null,
      pieces_exact: p.pieces?.exact ?? null,
      ...(p.error !== undefined ? { reason: p.error.reason, message: p.error.message } : {}),
      duration_ms: p.durationMs,
    })),
    totals: {
      probed: totals.probed,
      reachable: totals.reachable,
      seeds: totals.seeds,
      leechers: totals.leechers,
      unknown: totals.unknown,
      mean_completion: totals.meanCompletion ?? null,
      clients: totals.clients,
      failures: totals.failures,
    },
  };
}

// ---- For people (stderr) ----

const MAX_FILES_SHOWN = 10;
/** What the info bytes were checked with: SHA-1 for v1, SHA-256 for v2 (BEP 52), both for a hybrid with both known. */
const VERIFIED_WITH: Record<InfoHashMatch, string> = { 'v1': 'SHA-1', 'v2': 'SHA-256', 'v1+v2': 'SHA-1 and SHA-256' };
const MAX_PROBES_SHOWN = 20;

export function swarmSummary(swarm: SwarmEstimate | undefined, extras: SwarmExtras, request: SwarmRequest, output: Output): string[] {
  const lines: string[] = [];
  if (swarm !== undefined) lines.push(swarmLine(swarm, output));
  const metadata = extras.metadata;
  if (metadata !== undefined && (request.metadata || request.saveTorrent !== undefined || metadata.found === undefined)) {
    lines.push(...metadataLines(metadata, request.dn, output));
  }
  if (extras.torrentFile !== undefined) lines.push(`  saved ${safeText(extras.torrentFile)}`);
  if (extras.torrentFileError !== undefined) lines.push(`  ${output.paint('red', extras.torrentFileError)}`);
  if (extras.torrentFileWarning !== undefined) lines.push(`  ${output.paint('yellow', extras.torrentFileWarning)}`);
  if (extras.probe !== undefined) lines.push(...probeLines(extras.probe, output));
  return lines;
}

function swarmLine(swarm: SwarmEstimate, output: Output): string {
  if (swarm.responders === 0) return `${output.paint('bold', 'Swarm')}: no node answered with BEP 33 filters (no estimate)`;
  const approx = swarm.saturated ? 'at least ' : '~';
  return `${output.paint('bold', 'Swarm')}: ${approx}${swarm.seeds} seeds, ${approx}${swarm.leechers} leechers ` +
    `(BEP 33 estimate from ${swarm.responders} node${swarm.responders === 1 ? '' : 's'})`;
}

function metadataLines({ found, attempts }: NonNullable<SwarmExtras['metadata']>, dn: string | undefined, output: Output): string[] {
  // The magnet's dn is only what the link's author typed; the metadata's name is hash-checked.
  const dnLine = dn === undefined ? [] : [`  magnet dn: ${safeText(dn)}${found !== undefined && found.info.name !== dn ? ' (differs from the verified name)' : ''}`];
  if (found === undefined) {
    const reasons = countBy(attempts.filter((a) => a.error !== undefined).map((a) => a.error!.reason));
    const why = attempts.length === 0 ? 'no peer to ask' : `${attempts.length} peer(s) tried: ${reasons}`;
    return [`${output.paint('yellow', 'Metadata')}: not found (${why})`, ...dnLine];
  }
  const { info } = found;
  const lines = [
    `${output.paint('bold', 'Name')}: ${safeText(info.name)}`,
    ...dnLine,
    `  ${formatBytes(info.totalSize)} in ${info.files.length} file${info.files.length === 1 ? '' : 's'}, ` +
      `${info.pieceCount} pieces of ${formatBytes(info.pieceLength)}${info.private ? ', private' : ''}; ` +
      `from ${formatEndpoint(found.peer)}${found.client !== undefined ? ` (${safeText(found.client)})` : ''}, ${VERIFIED_WITH[found.matched]} verified` +
      (info.version === 'v1' ? '' : ` (BEP 52 ${info.version} torrent)`),
  ];
  for (const file of info.files.slice(0, MAX_FILES_SHOWN)) lines.push(`  ${formatBytes(file.length).padStart(10)}  ${safeText(file.path.join('/'))}`);
  if (info.files.length > MAX_FILES_SHOWN) lines.push(`  ... and ${info.files.length - MAX_FILES_SHOWN} more files (--json lists all)`);
  return lines;
}

function probeLines({ probes, totals }: ProbeReport, output: Output): string[] {
  const mean = totals.meanCompletion === undefined ? '' : `, mean completion ${percent(totals.meanCompletion)}`;
  const lines = [
    `${output.paint('bold', 'Probe')}: ${totals.reachable} of ${totals.probed} peers reachable: ` +
      `${totals.seeds} seeds, ${totals.leechers} leechers${totals.unknown > 0 ? `, ${totals.unknown} unknown` : ''}${mean}`,
  ];
  const shown = [...probes].sort((a, b) => Number(b.reachable) - Number(a.reachable)).slice(0, MAX_PROBES_SHOWN);
  for (const probe of shown) lines.push(`  ${probeLine(probe, output)}`);
  if (probes.length > MAX_PROBES_SHOWN) lines.push(`  ... and ${probes.length - MAX_PROBES_SHOWN} more peers (--json lists all)`);
  if (totals.clients.length > 0) lines.push(`  clients: ${totals.clients.map((c) => `${safeText(c.client)} x${c.peers}`).join(', ')}`);
  const failures = Object.entries(totals.failures).map(([reason, n]) => `${reason} x${n}`).join(', ');
  if (failures !== '') lines.push(`  failures: ${failures}`);
  return lines;
}

function probeLine(probe: PeerProbe, output: Output): string {
  const where = formatEndpoint(probe.peer).padEnd(22);
  if (!probe.reachable) return `${where} ${output.paint('dim', `unreachable: ${safeText(probe.error?.message ?? 'no handshake')}`)}`;
  const pieces = probe.pieces;
  const state = pieces === undefined ? 'unknown' : pieces.seed ? output.paint('green', 'seed') : 'leech';
  const completion = pieces?.completion === undefined ? '?' : `${pieces.exact ? '' : '~'}${percent(pieces.completion)}`;
  const client = safeText([probe.client, probe.v !== undefined ? `(${probe.v})` : undefined].filter((s) => s !== undefined).join(' '));
  const error = probe.error !== undefined ? `  ${output.paint('yellow', safeText(probe.error.message))}` : '';
  return `${where} ${state.padEnd(5)} ${completion.padStart(7)}  ${client || safeText(probe.peerIdPrefix ?? '') || 'unknown client'}${error}`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]!}`;
}

function countBy(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} x${n}`).join(', ') || 'none answered';
}

// ---- Crawl mode --metadata ----

/** The fields --metadata adds to a crawl's NDJSON line: the name, or why there is none. */
export function nameFields(outcome: NameOutcome): Record<string, string | number> {
  if (outcome.kind !== 'named') return { metadata_error: outcome.reason };
  const { info } = outcome.metadata;
  return { name: info.name, total_size: info.totalSize, files: info.files.length };
}

/** One summary line for the crawl: how many info-hashes got a name, and why the others did not. */
export function namesSummary(stats: NameResolverStats): string {
  const reasons = Object.entries(stats.reasons).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)).map(([r, n]) => `${r} ${n ?? 0}`);
  return `  metadata: ${stats.named} named, ${stats.failed} failed, ${stats.skipped} not tried` +
    (reasons.length > 0 ? ` (${reasons.join(', ')})` : '');
}
