/**
 * What a cold scrape must not pay for before its first query (issue 12): node:net's isIP, isIPv4
 * and isIPv6 test regular expressions that V8 compiles on first use, about 12 ms on this machine,
 * and a scrape called them on the way to its first datagram. src/ asks wire/compact.ts's ipFamily.
 * Nor must it load what it does not run: Node reads and links every module a file imports
 * statically, and every command's modules (103 files) cost a fresh scrape about 40 ms more than
 * its own 60 (docs/performance.md, "Where a fresh process's time goes").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ipFamily } from '../../src/wire/compact.js';
import { ROOT } from '../helpers/compile-examples.js';

/** `path: name` for each isIP, isIPv4 or isIPv6 imported from node:net in one file's source. */
function netAddressTests(path: string, source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'node:net'/g)) {
    for (const name of match[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
      if (/^isIP(v4|v6)?\b/.test(name)) found.push(`${path}: ${name}`);
    }
  }
  return found;
}

describe('the cold path: no regular-expression address tests in src/', () => {
  it('no module of src/ imports isIP, isIPv4 or isIPv6 from node:net', () => {
    const src = join(ROOT, 'src');
    const files = readdirSync(src, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(30);
    const found = files.flatMap((e) => {
      const path = join(e.parentPath, e.name);
      return netAddressTests(relative(src, path), readFileSync(path, 'utf8'));
    });
    expect(found).toEqual([]);
  });

  it('finds such an import', () => {
    expect(netAddressTests('cli/planted.ts', "import { createServer, isIPv6 } from 'node:net';")).toEqual(['cli/planted.ts: isIPv6']);
    expect(netAddressTests('cli/planted.ts', "import { isIP } from 'node:net';")).toEqual(['cli/planted.ts: isIP']);
    expect(netAddressTests('cli/planted.ts', "import { Socket } from 'node:net';")).toEqual([]);
  });

  it('ipFamily answers as isIPv6 does for the addresses a scrape binds', () => {
    for (const bind of ['0.0.0.0', '::', '127.0.0.1', '::1']) expect(ipFamily(bind) === 6).toBe(isIPv6(bind));
  });
});

/** The relative modules `source` imports (for their values or their side effects) or re-exports; not `import type`, not `import()`. */
function staticImports(source: string): string[] {
  return [...source.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^;']*?\bfrom\s+)?'(\.[^']+)'/gms)].map((m) => m[1]!);
}

/** Every file of src/ that loading `entry` loads, relative to src/. */
function staticClosure(entry: string): Set<string> {
  const src = join(ROOT, 'src');
  const seen = new Set<string>();
  const visit = (path: string): void => {
    const key = relative(src, path);
    if (seen.has(key)) return;
    seen.add(key);
    for (const spec of staticImports(readFileSync(path, 'utf8'))) visit(join(dirname(path), spec.replace(/\.js$/, '.ts')));
  };
  visit(join(src, entry));
  return seen;
}

describe('the cold path: the CLI loads the scrape, its main job, and nothing else', () => {
  it("cli/main.ts loads no other command's modules, nor the local network's, the trackers', the peer wire's or --trace's", () => {
    const loaded = staticClosure('cli/main.ts');
    expect(loaded.has('cli/scrape-command.ts')).toBe(true);
    expect(loaded.has('dht/lookup.ts')).toBe(true);
    const later = [...loaded].filter((path) => /^(crawl|peer|tracker)\//.test(path) ||
      ['cli/lab-command.ts', 'cli/crawl-command.ts', 'cli/testnet-command.ts', 'cli/node-command.ts', 'cli/batch-command.ts',
        'cli/item-command.ts', 'cli/web/web-view.ts', 'modes/testnet.ts', 'cli/packet-trace.ts', 'cli/krpc-text.ts'].includes(path));
    expect(later).toEqual([]);
  });

  it('reads value imports, side-effect imports and re-exports, not type imports or import()', () => {
    const source = "import { a } from './a.js';\nimport type { B } from './b.js';\nexport { c } from './c.js';\n" +
      "import {\n  d,\n} from './d.js';\nconst e = await import('./e.js');\nimport { f } from 'node:fs';\n" +
      "import './g.js';\nexport * from './h.js';\nexport const i = './i.js';\n";
    expect(staticImports(source)).toEqual(['./a.js', './c.js', './d.js', './g.js', './h.js']);
  });
});
