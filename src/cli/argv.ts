/**
 * What node:util parseArgs says about a mistake is written for programmers ("argument is
 * ambiguous", positionals after `--`). This pass runs first and turns the common mistakes into
 * one line a user can act on: an unknown option, with the nearest real one; an option missing its
 * value. It also lets a value start with a dash (`--port -1`), so that the range check can say
 * what is wrong with it.
 */
import { UsageError } from './usage-error.js';

interface OptionSpec { type: 'string' | 'boolean'; short?: string }

/**
 * argv checked against `options`, with `--name -value` rewritten to `--name=-value` for options
 * that take a value. Throws a UsageError for an unknown option or a missing value.
 */
export function normalizeArgv(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const names = Object.keys(options);
  const shorts = new Map(Object.entries(options).flatMap(([name, spec]) => (spec.short !== undefined ? [[spec.short, name] as const] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { out.push(...argv.slice(i)); break; }
    if (!arg.startsWith('-') || arg === '-' || isNumber(arg)) { out.push(arg); continue; }
    const long = arg.startsWith('--');
    if (!long && [...arg.slice(1)].every((c) => options[shorts.get(c) ?? '']?.type === 'boolean')) { out.push(arg); continue; }
    const name = long ? arg.slice(2).split('=')[0]! : shorts.get(arg.slice(1, 2)) ?? '';
    const spec = options[name];
    if (spec === undefined) {
      const shown = long ? `--${name}` : arg;
      const near = closestName(long ? name : arg.replace(/^-+/, ''), names);
      throw new UsageError(`unknown option ${shown}${near !== undefined ? ` (did you mean --${near}?)` : ''}`);
    }
    if (spec.type === 'boolean' || arg.includes('=') || (!long && arg.length > 2)) { out.push(arg); continue; }
    const value = argv[i + 1];
    if (value === undefined || (value.startsWith('-') && value !== '-' && !isNumber(value) && value !== '--')) {
      throw new UsageError(`--${name} needs a value`);
    }
    out.push(`--${name}=${value}`);
    i++;
  }
  return out;
}

/** "-1", "-0.5": a value, not an option. */
function isNumber(arg: string): boolean {
  return /^-\d+(\.\d+)?$/.test(arg);
}

/**
 * The candidate nearest to `word` by edit distance, if it is near enough to be the one meant
 * (at most 2 edits, and fewer than half the word), or a candidate that starts with it.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) { best = candidate; bestDistance = d; }
  }
  if (best !== undefined && bestDistance <= Math.min(2, Math.floor(word.length / 2))) return best;
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (Damerau): "timout", "tiemout". */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
