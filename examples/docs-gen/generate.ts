/**
 * `npm run docs`: regenerate the parts of docs/*.md that come from the code. Each such part sits
 * between two markers,
 *
 *   <!-- generated:NAME -->
 *   ...
 *   <!-- /generated:NAME -->
 *
 * and is rewritten from the section NAME below; the prose around it is never touched. Packet dumps
 * and traces come from real nodes on an in-memory network with seeded randomness and a frozen
 * clock, so a run on an unchanged tree rewrites every file byte for byte. `--check` writes nothing
 * and exits 1 if a file would change (tests/docs.test.ts does the same check).
 *
 * Then the picture of docs/live-view.md is redrawn by headless chromium from a seeded run, when
 * what it shows changed (screenshots.ts); `--no-screenshots` skips it, `--screenshots` forces it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildScenario } from './scenario.js';
import { liveViewScreenshot } from './screenshots.js';
import { withSeededRandom } from './seeded-random.js';
import { cliSections } from './sections/cli-reference.js';
import { crawlSections } from './sections/crawl-trace.js';
import { lookupSections } from './sections/lookup-trace.js';
import { packetSections, type Sections } from './sections/packets.js';
import { sourceSections } from './sections/source-map.js';

export const DOC_FILES = ['architecture.md', 'protocol.md', 'lookup.md', 'crawling.md', 'bep-coverage.md', 'cli.md'] as const;
const SEED = 0x5eed_d47;
// The body may be empty (the two markers on consecutive lines, as a new section starts out).
const MARKED = /(<!-- generated:([\w/-]+) -->\n)(?:[\s\S]*?\n)?(<!-- \/generated:\2 -->)/g;

/** Every generated section, by name. Sections that share the network run in a fixed order. */
export async function generateSections(root: string): Promise<Sections> {
  const sections: Sections = new Map();
  await withSeededRandom(SEED, async () => {
    const scenario = await buildScenario();
    try {
      await packetSections(scenario, sections);
      await lookupSections(scenario, sections);
      await crawlSections(scenario, sections);
    } finally {
      await scenario.close();
    }
  });
  sourceSections(root, sections);
  cliSections(sections);
  return sections;
}

/** `markdown` with every marked part replaced. A marker naming no section is an error. */
export function fill(markdown: string, sections: Sections, file: string): string {
  return markdown.replace(MARKED, (_, open: string, name: string, close: string) => {
    const body = sections.get(name);
    if (body === undefined) throw new Error(`${file}: no generated section named "${name}"`);
    return `${open}${body}\n${close}`;
  });
}

/** Each doc file's text now, and as it should be. */
export async function renderDocs(root: string): Promise<{ file: string; current: string; expected: string }[]> {
  const sections = await generateSections(root);
  return DOC_FILES.map((name) => {
    const file = join(root, 'docs', name);
    const current = readFileSync(file, 'utf8');
    return { file, current, expected: fill(current, sections, name) };
  });
}

async function main(argv: readonly string[]): Promise<number> {
  // npm runs scripts from the package root.
  const root = process.cwd();
  const check = argv.includes('--check');
  let stale = 0;
  for (const { file, current, expected } of await renderDocs(root)) {
    if (current === expected) continue;
    stale++;
    if (check) console.error(`stale: ${file}`);
    else writeFileSync(file, expected);
  }
  if (check) {
    if (stale > 0) console.error('run `npm run docs` to regenerate');
    return stale > 0 ? 1 : 0;
  }
  console.log(stale === 0 ? 'docs are up to date' : `regenerated ${stale} file(s)`);
  if (!argv.includes('--no-screenshots')) console.log(await liveViewScreenshot(root, argv.includes('--screenshots')));
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
