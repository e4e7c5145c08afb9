/**
 * Above the dht layer (crawler, modes, CLI, index.ts) a DhtNode is read through its accessors
 * (counters(), contacts(), tableSize, tableReader), never through its parts `rpc` and `table`,
 * which the dht layer and white-box tests alone use. Checked with the type checker: any
 * `x.rpc` or `x.table` where x is a DhtNode, whatever the variable is called.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYERS, layerOf } from '../../src/layers.js';
import { ROOT } from '../helpers/compile-examples.js';

const PARTS = new Set(['rpc', 'table']);
const DHT_LEVEL = LAYERS.find((l) => l.folder === 'dht')!.level;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** `file:line text` for every access to a DhtNode's rpc or table from a module above the dht layer. */
function partsReachedFromAbove(src: string): string[] {
  const program = ts.createProgram(sourceFiles(src), {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
  });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  for (const file of program.getSourceFiles()) {
    const path = relative(src, file.fileName).split('\\').join('/');
    if (path.startsWith('..') || file.isDeclarationFile) continue;
    const layer = layerOf(path);
    if (layer === undefined || layer.level <= DHT_LEVEL) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) && PARTS.has(node.name.text)) {
        const owner = checker.getTypeAtLocation(node.expression).getSymbol()?.getName();
        if (owner === 'DhtNode') {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
          found.push(`${path}:${line + 1} ${node.getText(file)}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

describe('a DhtNode seen from above the dht layer', () => {
  it('is read through its accessors only: no module above dht/ touches node.rpc or node.table', () => {
    expect(partsReachedFromAbove(join(ROOT, 'src'))).toEqual([]);
  });

  describe('on a copy of src/ with a planted access', () => {
    const copy = mkdtempSync(join(tmpdir(), 'node-access-'));
    afterAll(() => rmSync(copy, { recursive: true, force: true }));

    it('the access is found, whatever the variable is called', () => {
      cpSync(join(ROOT, 'src'), copy, { recursive: true });
      writeFileSync(
        join(copy, 'modes/planted.ts'),
        "import type { DhtNode } from '../dht/node.js';\nexport const sent = (peer: DhtNode): number =>\n  peer.rpc.counters.packetsOut;\n",
      );
      expect(partsReachedFromAbove(copy)).toEqual(['modes/planted.ts:3 peer.rpc']);
    });
  });
});
