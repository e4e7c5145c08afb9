/**
 * The layer rule of docs/architecture.md, checked on the source: every import in src/ goes down
 * the stack (or stays in its folder), as src/layers.ts says.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layerViolations, readModules } from '../../examples/docs-gen/sections/source-map.js';
import { forbiddenImport, LAYERS, layerOf } from '../../src/layers.js';
import { ROOT } from '../helpers/compile-examples.js';

describe('the layer rule', () => {
  const modules = readModules(join(ROOT, 'src'));

  it('every module of src/ lives in a folder the map names', () => {
    expect(modules.size).toBeGreaterThan(30);
    for (const path of modules.keys()) expect(layerOf(path), path).toBeDefined();
  });

  it('no import in src/ goes up a layer or across to a sibling', () => {
    expect(layerViolations(modules)).toEqual([]);
  });

  it('names what is wrong: up, across, or unlisted', () => {
    expect(forbiddenImport('wire/id.ts', 'dht/node.ts')).toMatch(/up/);
    expect(forbiddenImport('net/rpc.ts', 'table/token.ts')).toMatch(/sibling/);
    expect(forbiddenImport('crawl/crawl.ts', 'peer/metadata.ts')).toMatch(/does not list/);
    expect(forbiddenImport('dht/node.ts', 'wire/id.ts')).toBeUndefined();
    expect(forbiddenImport('dht/lookup.ts', 'dht/node.ts')).toBeUndefined();
  });

  it('every layer only lists layers below it', () => {
    for (const layer of LAYERS) {
      for (const below of layer.imports) expect(LAYERS.find((l) => l.folder === below)!.level, `${layer.folder} -> ${below}`).toBeLessThan(layer.level);
    }
  });

  describe('on a copy of src/ with a planted upward import', () => {
    const copy = mkdtempSync(join(tmpdir(), 'layers-'));
    afterAll(() => rmSync(copy, { recursive: true, force: true }));

    it('the violation is found and named', () => {
      cpSync(join(ROOT, 'src'), copy, { recursive: true });
      writeFileSync(join(copy, 'wire/planted.ts'), "import { DhtNode } from '../dht/node.js';\nexport const x = DhtNode;\n");
      expect(layerViolations(readModules(copy))).toEqual(['wire/planted.ts (wire) imports dht/node.ts (dht): up']);
    });

    it('a module loaded on demand counts as an import', () => {
      cpSync(join(ROOT, 'src'), copy, { recursive: true });
      writeFileSync(join(copy, 'wire/planted.ts'), "export async function later(): Promise<unknown> { return (await import('../modes/scrape.js')).scrape; }\n");
      expect(layerViolations(readModules(copy))).toEqual(['wire/planted.ts (wire) imports modes/scrape.ts (modes): up']);
    });
  });
});
