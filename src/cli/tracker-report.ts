/**
 * Trackers beside the DHT in a scrape: which to ask (the magnet's `tr=` and `--tracker`, unless
 * `--no-trackers`), and how their answers read in the summary and in `--json`.
 */
import type { TrackerReport } from '../tracker/tracker.js';
import { safeText } from './safe-text.js';
import type { Output } from './terminal.js';

/** The trackers to ask: the user's first, then the magnet's, each once; none with --no-trackers. */
export function trackersToAsk(given: readonly string[], fromMagnet: readonly string[] | undefined, disabled: boolean): string[] {
  if (disabled) return [];
  return [...new Set([...given, ...(fromMagnet ?? [])])];
}

/** One summary line per tracker, beside the DHT's figures. */
export function trackerLines(reports: readonly TrackerReport[], output: Output): string[] {
  return reports.map((r) => {
    const where = `  tracker ${safeText(r.url)}:`;
    if (r.answer === undefined) return `${where} ${output.paint('red', 'no answer')} (${safeText(r.error ?? 'unknown')})`;
    const a = r.answer;
    const completed = a.completed === undefined ? '' : `, ${a.completed} completed`;
    return `${where} ${a.seeders} seeders, ${a.leechers} leechers${completed}, ${a.peers.length} peers in ${r.ms} ms`;
  });
}

/** The `trackers` field of the --json document. */
export function trackersJson(reports: readonly TrackerReport[]): unknown[] {
  return reports.map((r) => (r.answer === undefined
    ? { url: r.url, error: r.error ?? 'unknown', ms: r.ms }
    : {
        url: r.url,
        seeders: r.answer.seeders,
        leechers: r.answer.leechers,
        completed: r.answer.completed ?? null,
        interval: r.answer.interval,
        peers: r.answer.peers.map((p) => ({ address: p.address, port: p.port })),
        ms: r.ms,
      }));
}
