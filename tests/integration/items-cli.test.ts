/** `dht-scrape put` and `get` through a real process, on a local network started by the test. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { runCli } from '../helpers/cli.js';

describe('dht-scrape put / get (BEP 44)', () => {
  let net: Testnet;
  let dir: string;
  let boot: string[];
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 80, torrents: 0 });
    dir = mkdtempSync(join(tmpdir(), 'items-cli-'));
    boot = ['--bootstrap', `${net.bootstrap[0]!.address}:${net.bootstrap[0]!.port}`, '--no-state', '--bind', '127.0.0.1', '--port', '0'];
  }, 30_000);
  afterAll(async () => {
    await net?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('put prints the target; get prints the value back, exit 0', async () => {
    const put = await runCli(['put', 'hello from the CLI', ...boot]);
    expect(put.code, put.stderr).toBe(0);
    const target = put.stdout.trim();
    expect(target).toMatch(/^[0-9a-f]{40}$/);
    const get = await runCli(['get', target, ...boot]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout.trim()).toBe('hello from the CLI');
  });

  it('a mutable item under a new key file: the file is created 0600, the next put is seq 2, get finds it by public key', async () => {
    const key = join(dir, 'item.key');
    const first = await runCli(['put', '--key', key, '--salt', 'news', 'first', ...boot]);
    expect(first.code, first.stderr).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const publicKey = /public key ([0-9a-f]{64}), seq 1/.exec(first.stderr)?.[1];
    expect(publicKey).toBeDefined();
    const second = await runCli(['put', '--key', key, '--salt', 'news', 'second', ...boot]);
    expect(second.stderr).toMatch(/seq 2/);
    const get = await runCli(['get', publicKey!, '--salt', 'news', '--json', ...boot]);
    expect(JSON.parse(get.stdout)).toMatchObject({ found: true, kind: 'mutable', seq: 2, salt: 'news' });
  });

  it('a key file that is not ours is refused, untouched; get of an unknown target exits 1', async () => {
    const notOurs = join(dir, 'notes.txt');
    writeFileSync(notOurs, 'my notes\n');
    const put = await runCli(['put', '--key', notOurs, 'x', ...boot]);
    expect(put.code).toBe(2);
    expect(readFileSync(notOurs, 'utf8')).toBe('my notes\n');
    const get = await runCli(['get', '00'.repeat(20), ...boot]);
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/no node holds/);
  });
});
