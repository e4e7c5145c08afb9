/**
 * Small helpers shared by the benchmarks: medians, number formatting, and the aligned tables the
 * report is printed as. Every figure is printed next to the reference it is compared with, because
 * on a shared 2-core machine only a ratio measured in the same run means anything.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The value below which a fraction `q` of the samples fall (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * A 90% interval for a statistic of paired runs, by the percentile bootstrap: draw the runs again
 * with replacement, recompute, keep the 5th and 95th percentiles of what comes out. Run i of every
 * client looked up the same torrent, so a draw keeps each torrent's runs together and the torrent's
 * own difficulty cancels in a ratio. It says how far the figure could move on another set of
 * torrents like these; it does not cover what is common to the whole run (the machine's load).
 */
export function bootstrapInterval(runs: number, statistic: (picked: readonly number[]) => number, rounds = 2_000, random: () => number = Math.random): [number, number] {
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const picked = Array.from({ length: runs }, () => Math.floor(random() * runs));
    const value = statistic(picked);
    // Infinity is an answer (a client that found nothing in most drawn runs); NaN (never over never) is not.
    if (!Number.isNaN(value)) values.push(value);
  }
  return [quantile(values, 0.05), quantile(values, 0.95)];
}

/** 1234567 -> "1,234,567"; 12.345 -> "12.3". */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(ours: number, reference: number): string {
  if (!Number.isFinite(ours) || !Number.isFinite(reference) || reference === 0) return 'n/a';
  return `${(ours / reference).toFixed(2)}x`;
}

export function percent(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(0)}%` : 'n/a';
}

/** A verdict against a target, e.g. `met (>= 1.5x)` or `MISSED (>= 1.5x)`. */
export function verdict(met: boolean, target: string): string {
  return met ? `met (${target})` : `MISSED (${target})`;
}

/** Print rows as a left-aligned text table with a header rule. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function heading(title: string): string {
  return `\n== ${title} ==`;
}

/** Resolve after `ms`; the benchmarks' only sleeps are pauses between phases, never synchronisation. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
