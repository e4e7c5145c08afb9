/**
 * The live view's page ships in the package: web/ is in package.json "files", and the server finds
 * it from dist/ exactly as from src/ (both are two folders below the package root).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ASSETS_DIR } from '../../src/cli/web/view-server.js';
import { ROOT } from '../helpers/compile-examples.js';

describe('the live view\'s assets', () => {
  it('are found at web/ from the source tree', () => {
    expect(fileURLToPath(ASSETS_DIR)).toBe(`${join(ROOT, 'web')}/`);
  });

  it('are in what npm pack ships, beside the compiled server', () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const [report] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })) as [{ files: { path: string }[] }];
    const files = report.files.map((f) => f.path);
    for (const asset of readdirSync(join(ROOT, 'web'))) expect(files).toContain(`web/${asset}`);
    expect(files).toContain('dist/cli/web/view-server.js');
  });
});
