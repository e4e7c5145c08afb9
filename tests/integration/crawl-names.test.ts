/**
 * Crawl mode --metadata: names for discovered info-hashes from a bounded pool, each item reported
 * exactly once (named, failed with a reason, or skipped), and the NDJSON lines that carry them.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCrawlLine } from '../../src/crawl/crawl-log.js';
import { idToHex, randomId } from '../../src/wire/id.js';
import { parseInfoDict } from '../../src/peer/torrent-info.js';
import { NameResolver, type NameOutcome } from '../../src/modes/name-resolver.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';

describe('NameResolver on a local network with seeders', () => {
  let net: Testnet;
  let node: DhtNode;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 60, torrents: 6, peers: 4, seeders: 1 });
    node = await DhtNode.create({ address: '127.0.0.1' });
    await node.bootstrap(net.bootstrap.slice(0, 1));
  });
  afterAll(async () => {
    await node.close();
    await net.close();
  });

  it('names every torrent, reports an unknown info-hash as no-peers, each exactly once', async () => {
    const outcomes = new Map<string, NameOutcome[]>();
    let allReported = (): void => {};
    const done = new Promise<void>((resolve) => { allReported = resolve; });
    const resolver = new NameResolver<string>(node, (key, outcome) => {
      outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
      if (outcomes.size === 7) allReported();
    }, { concurrency: 2 });
    const unknown = randomId();
    for (const torrent of net.torrents) resolver.add(torrent.infoHash, idToHex(torrent.infoHash));
    resolver.add(unknown, 'unknown');
    const peakPending = resolver.pending;
    await done;
    await resolver.stop();

    expect(peakPending).toBe(7);
    expect([...outcomes.values()].every((list) => list.length === 1)).toBe(true);
    for (const torrent of net.torrents) {
      const [outcome] = outcomes.get(idToHex(torrent.infoHash))!;
      expect(outcome!.kind).toBe('named');
      if (outcome!.kind === 'named') expect(outcome!.metadata.info.name).toBe(parseInfoDict(torrent.info!).name);
    }
    expect(outcomes.get('unknown')).toEqual([{ kind: 'failed', reason: 'no-peers' }]);
    expect(resolver.stats).toMatchObject({ named: 6, failed: 1, skipped: 0, reasons: { 'no-peers': 1 } });
  });

  it('a full queue skips at once; stop() skips what waits; nothing is reported twice', async () => {
    const reported: [string, NameOutcome][] = [];
    const resolver = new NameResolver<string>(node, (key, outcome) => { reported.push([key, outcome]); }, { paused: true, maxQueued: 3 });
    net.torrents.forEach((t, i) => resolver.add(t.infoHash, `t${i}`));
    expect(reported).toEqual([3, 4, 5].map((i) => [`t${i}`, { kind: 'skipped', reason: 'queue-full' }]));
    expect(resolver.pending).toBe(3);
    await resolver.stop();
    expect(reported.slice(3)).toEqual([0, 1, 2].map((i) => [`t${i}`, { kind: 'skipped', reason: 'stopped' }]));
    resolver.add(randomId(), 'late');
    expect(reported.at(-1)).toEqual(['late', { kind: 'skipped', reason: 'stopped' }]);
    resolver.flushPending();
    expect(reported.length).toBe(7);
  });
});

const BIN = fileURLToPath(new URL('../../bin/dht-scrape.js', import.meta.url));

describe('dht-scrape crawl --metadata', () => {
  it('adds name, total_size and files to lines (or why not), and every line still reads back', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'crawl', '--testnet', '40', '--metadata', '--json', '--timeout', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`crawl did not stop\n${err}`)); }, 40_000);
      child.on('close', (c) => { clearTimeout(killer); resolve({ code: c, stdout: out, stderr: err }); });
    });
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // One line per info-hash the crawl discovered (of the 40 x 7 stored), named or with a reason.
    const discovered = Number(/([\d,]+) new/.exec(stderr)?.[1]?.replace(/,/g, ''));
    expect(discovered).toBeGreaterThan(200);
    expect(lines.length).toBe(discovered);
    expect(new Set(lines.map((l) => l.infohash)).size).toBe(lines.length);
    const named = lines.filter((l) => typeof l.name === 'string');
    expect(named.length).toBeGreaterThan(0);
    for (const l of named) {
      expect(l.name).toMatch(/^testnet torrent \d+ [0-9a-f]{8}$/);
      expect(l.files).toBe(2);
      expect(l.total_size as number).toBeGreaterThan(128 * 1024 * 1024);
    }
    for (const l of lines.filter((x) => x.name === undefined)) expect(['stopped', 'queue-full']).toContain(l.metadata_error);
    for (const l of lines) expect(parseCrawlLine(JSON.stringify(l))).toBeDefined();
    expect(stderr).toMatch(new RegExp(`metadata: ${named.length} named, 0 failed`));
  });
});
