/**
 * docs/cli.md's reference parts, generated from the CLI's own help text (USAGE, src/cli/options.ts)
 * and exit codes (EXIT, src/cli/exit-codes.ts): an option added there shows up here at the next
 * `npm run docs`, and the docs test fails until it does.
 */
import { USAGE } from '../../../src/cli/options.js';
import { EXIT, EXIT_MEANING } from '../../../src/cli/exit-codes.js';
import type { Sections } from './packets.js';

/** For options the help text lists without a description of their own. */
const FALLBACK_MEANING: Readonly<Record<string, string>> = {
  '--nodes': 'how many nodes the local network runs',
  '--torrents': 'how many synthetic torrents it stores',
  '--peers': 'how many peers each of them has',
  '--ttl': 'seconds to run',
};

interface OptionRow { flags: string; argument: string; section: string; meaning: string }

/** The help's own words, led by the fallback when they are missing or only a parenthesis. */
function withFallback(row: OptionRow): string {
  const fallback = FALLBACK_MEANING[row.flags];
  if (fallback === undefined || (row.meaning !== '' && !row.meaning.startsWith('('))) return row.meaning;
  return row.meaning === '' ? fallback : `${fallback} ${row.meaning}`;
}

export function cliSections(out: Sections): void {
  out.set('cli/usage', `\`\`\`text\n${USAGE}\n\`\`\``);
  const rows = optionRows(USAGE);
  out.set('cli/options', [
    '| option | argument | applies to | meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => ({ ...r, meaning: withFallback(r) })).map((r) => `| \`${r.flags}\` | ${r.argument === '' ? '' : `\`${r.argument}\``} | ${r.section} | ${r.meaning.replace(/\|/g, '\\|')} |`),
  ].join('\n'));
  out.set('cli/exit-codes', [
    '| code | name in `EXIT` | meaning |',
    '| ---: | --- | --- |',
    ...Object.entries(EXIT).sort((a, b) => a[1] - b[1]).map(([name, code]) => `| ${code} | \`${name}\` | ${EXIT_MEANING[name as keyof typeof EXIT]} |`),
  ].join('\n'));
}

/**
 * The option entries of a help text: a line indented by two spaces and starting with "-" opens an
 * entry, deeper-indented lines continue it, and a line at column 0 ending in ":" names the section.
 * Within an entry, runs of 2+ spaces separate an option from its description ("-h, --help  this
 * help  -v, --version  the version" holds two), and "--a N --b M" lists several options at once.
 */
export function optionRows(usage: string): OptionRow[] {
  const rows: OptionRow[] = [];
  let section = '';
  let last: OptionRow[] = [];
  for (const line of usage.split('\n')) {
    if (/^\S.*:$/.test(line)) { section = line.slice(0, -1).replace(/ options$/, ''); last = []; continue; }
    // A blank line ends a section: what follows (help, version) applies to every mode.
    if (line.trim() === '') { section = 'any mode'; last = []; continue; }
    if (/^\S/.test(line)) { last = []; continue; }
    if (/^ {2}-/.test(line)) {
      last = entries(line.trim(), section);
      rows.push(...last);
    } else if (/^ {3,}\S/.test(line) && last.length > 0) {
      last[last.length - 1]!.meaning += ` ${line.trim()}`;
    }
  }
  return rows;
}

function entries(text: string, section: string): OptionRow[] {
  const chunks = text.split(/\s{2,}/);
  const rows: OptionRow[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (!chunk.startsWith('-')) continue;
    const next = chunks[i + 1];
    const meaning = next !== undefined && !next.startsWith('-') ? next : '';
    for (const single of chunk.split(/(?<!,)\s(?=--)/)) {
      const m = /^(-[\w-]+(?:,\s*--[\w-]+)?)(?:\s+([A-Z]+:[A-Z]+|[A-Z][A-Z_]*)\b)?\s*(.*)$/.exec(single.trim());
      if (m === null) continue;
      rows.push({ flags: m[1]!, argument: m[2] ?? '', section, meaning: [m[3], meaning].filter((s) => s !== undefined && s !== '').join(' ') });
    }
  }
  return rows;
}
