/**
 * Sections read from the source itself, so they follow the code: the module map of
 * docs/architecture.md (each module's own one-line summary and what it imports, ordered so that
 * data flows up) and, for docs/bep-coverage.md, which modules cite each BEP.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYERS, forbiddenImport, layerOf } from '../../../src/layers.js';
import type { Sections } from './packets.js';

export interface Module {
  path: string;
  summary: string;
  imports: string[];
  text: string;
}

export function sourceSections(root: string, out: Sections): void {
  const modules = readModules(join(root, 'src'));
  const depth = importDepths(modules);
  const rows = [...modules.values()].sort((a, b) => depth.get(a.path)! - depth.get(b.path)! || a.path.localeCompare(b.path));
  out.set('architecture/layers', [
    '| level | folder | what it holds | may import from |',
    '| ---: | --- | --- | --- |',
    ...LAYERS.map((l) => `| ${l.level} | \`src/${l.folder ? `${l.folder}/` : ''}\` | ${escape(l.about)} | ${l.imports.map((i) => `\`${i}/\``).join(', ') || '(nothing)'} |`),
  ].join('\n'));
  const byLayer = (m: Module): number => layerOf(m.path)?.level ?? Infinity;
  const ordered = [...rows].sort((a, b) => byLayer(a) - byLayer(b) || a.path.localeCompare(b.path));
  out.set('architecture/modules', [
    '| folder | depth | module | what it is | imports |',
    '| --- | ---: | --- | --- | --- |',
    ...ordered.map((m) => `| ${layerOf(m.path)?.folder || '(top)'} | ${depth.get(m.path)} | [\`${m.path}\`](../src/${m.path}) | ${escape(m.summary)} | ${m.imports.map((i) => `\`${i}\``).join(', ') || '(none)'} |`),
  ].join('\n'));

  const citations = new Map<number, string[]>();
  for (const m of rows) {
    for (const bep of new Set([...m.text.matchAll(/BEP[ _-]?(\d{1,3})\b/g)].map((x) => Number(x[1])))) {
      citations.set(bep, [...(citations.get(bep) ?? []), m.path]);
    }
  }
  out.set('bep/citations', [
    '| BEP | cited in |',
    '| ---: | --- |',
    ...[...citations.entries()].sort((a, b) => a[0] - b[0]).map(([bep, paths]) =>
      `| ${bep} | ${paths.sort().map((p) => `\`${p}\``).join(', ')} |`),
  ].join('\n'));
}

/** Every import in `modules` that the layer map forbids, as sentences; empty when all is well. */
export function layerViolations(modules: ReadonlyMap<string, Module>): string[] {
  return [...modules.values()].flatMap((m) => m.imports.map((i) => forbiddenImport(m.path, i)).filter((v) => v !== undefined));
}

/** Every .ts under src/ and its folders, with its summary and its imports from src. */
export function readModules(src: string): Map<string, Module> {
  const modules = new Map<string, Module>();
  const visit = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) visit(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(join(dir, entry.name), 'utf8');
        const path = `${prefix}${entry.name}`;
        modules.set(path, { path, summary: summaryOf(text), imports: importsOf(text, path), text });
      }
    }
  };
  visit(src, '');
  return modules;
}

/** The first sentence of the file's leading doc comment, cut short past SUMMARY_CHARS. */
function summaryOf(text: string): string {
  const comment = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? '';
  const prose = comment.split('\n').map((l) => l.replace(/^\s*\*\s?/, '')).join(' ').replace(/\s+/g, ' ').trim();
  const end = prose.search(/[.?](\s|$)/);
  const sentence = end === -1 ? prose : prose.slice(0, end + 1);
  return sentence.length <= SUMMARY_CHARS ? sentence : `${sentence.slice(0, sentence.lastIndexOf(' ', SUMMARY_CHARS))} …`;
}

const SUMMARY_CHARS = 160;

/**
 * Internal imports (`./x.js`, `../x.js`), as paths relative to src/, type-only ones included, and
 * the modules loaded on demand (`import('./x.js')`): the layers bind those too.
 */
function importsOf(text: string, path: string): string[] {
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const found = new Set<string>();
  const written = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)\.js'/gm), ...text.matchAll(/\bimport\('(\.{1,2}\/[^']+)\.js'\)/g)];
  for (const m of written) {
    const parts = `${dir}${m[1]!}`.split('/');
    const resolved: string[] = [];
    for (const part of parts) {
      if (part === '.') continue;
      if (part === '..') resolved.pop();
      else resolved.push(part);
    }
    found.add(`${resolved.join('/')}.ts`);
  }
  return [...found].sort();
}

/** 0 for a module that imports nothing from src, else one more than its deepest import. */
function importDepths(modules: ReadonlyMap<string, Module>): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const of = (path: string): number => {
    const known = depth.get(path);
    if (known !== undefined) return known;
    if (visiting.has(path)) return 0; // an import cycle: stop here rather than loop
    visiting.add(path);
    const imports = modules.get(path)?.imports.filter((i) => modules.has(i)) ?? [];
    const d = imports.length === 0 ? 0 : 1 + Math.max(...imports.map(of));
    visiting.delete(path);
    depth.set(path, d);
    return d;
  };
  for (const path of modules.keys()) of(path);
  return depth;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}
