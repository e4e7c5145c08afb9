/**
 * One privacy style in src/: TypeScript's `private`, which most of the code used when the two
 * were unified (issue 11). A `#field` is caught here, by the parser, so that a reader meets one
 * spelling of "not part of the interface".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/compile-examples.js';

/** `path:line #name` for every ECMAScript private name (#field, #method) in one file's source. */
function hashPrivateNames(path: string, source: string): string[] {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPrivateIdentifier(node)) found.push(`${path}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1} ${node.text}`);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('one privacy style', () => {
  it('src/ declares its private members with `private`, never `#`', () => {
    const src = join(ROOT, 'src');
    const found = tsFiles(src).flatMap((path) => hashPrivateNames(relative(src, path).split('\\').join('/'), readFileSync(path, 'utf8')));
    expect(found).toEqual([]);
  });

  it('a #field is found, with its line', () => {
    const planted = 'class Counter {\n  #count = 0;\n  next(): number { return ++this.#count; }\n}\n';
    expect(hashPrivateNames('modes/planted.ts', planted)).toEqual(['modes/planted.ts:2 #count', 'modes/planted.ts:3 #count']);
  });
});
