/**
 * The generated parts of docs/*.md (packet dumps, traces, the module map, the CLI reference) must
 * be what the code produces today. If this fails, run `npm run docs` and commit the result.
 */
import { describe, expect, it } from 'vitest';
import { DOC_FILES, fill, generateSections, renderDocs } from '../examples/docs-gen/generate.js';
import { optionRows } from '../examples/docs-gen/sections/cli-reference.js';
import { USAGE } from '../src/cli/options.js';
import { ROOT } from './helpers/compile-examples.js';

describe('docs/', () => {
  it('generation is deterministic: two runs give the same sections', async () => {
    const [a, b] = [await generateSections(ROOT), await generateSections(ROOT)];
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [name, text] of a) expect(b.get(name), name).toBe(text);
  }, 60_000);

  it.each(DOC_FILES)('%s: generated parts are current (else: npm run docs)', async (name) => {
    const docs = await rendered();
    const doc = docs.find((d) => d.file.endsWith(`/docs/${name}`))!;
    const current = blocks(doc.current);
    expect(current.size, `${name} has no generated part`).toBeGreaterThan(0);
    for (const [section, text] of blocks(doc.expected)) {
      expect(current.get(section), `docs/${name}: section "${section}" is stale; run \`npm run docs\``).toBe(text);
    }
    expect(doc.current).toBe(doc.expected);
  }, 60_000);

  it('every option in the CLI help is in the generated reference', () => {
    const flags = new Set(optionRows(USAGE).flatMap((r) => r.flags.split(/,\s*/)));
    expect(flags).toContain('--bootstrap');
    for (const flag of USAGE.match(/(?<![\w-])--?[a-z][\w-]*/g) ?? []) expect(flags, flag).toContain(flag);
  });

  it('a marker that names no section is an error, not silently left alone', () => {
    expect(() => fill('<!-- generated:nope -->\nold\n<!-- /generated:nope -->', new Map(), 'x.md')).toThrow(/nope/);
  });

  it('an empty block (its markers on consecutive lines) is filled, and filling again changes nothing', () => {
    const sections = new Map([['s', 'a\nb']]);
    const filled = fill('x\n<!-- generated:s -->\n<!-- /generated:s -->\ny', sections, 'x.md');
    expect(filled).toBe('x\n<!-- generated:s -->\na\nb\n<!-- /generated:s -->\ny');
    expect(fill(filled, sections, 'x.md')).toBe(filled);
  });
});

/** The generated blocks of a doc, by section name. */
function blocks(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of markdown.matchAll(/<!-- generated:([\w/-]+) -->\n([\s\S]*?)\n<!-- \/generated:\1 -->/g)) found.set(m[1]!, m[2]!);
  return found;
}

let cache: ReturnType<typeof renderDocs> | undefined;
function rendered(): ReturnType<typeof renderDocs> {
  return (cache ??= renderDocs(ROOT));
}
