import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrawlLogWriter, cutTornTail, formatCrawlLine, notACrawlLog, parseCrawlLine, readCrawlLog, type CrawlLogRecord } from '../../src/crawl/crawl-log.js';
import { Prng } from '../helpers/prng.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 250);

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'crawl-log-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

async function readAll(path: string, repair = false): Promise<{ records: CrawlLogRecord[]; result: Awaited<ReturnType<typeof readCrawlLog>> }> {
  const records: CrawlLogRecord[] = [];
  const result = await readCrawlLog(path, (r) => records.push(r));
  if (repair) cutTornTail(path, result);
  return { records, result };
}

describe('crawl log lines', () => {
  it('round-trip: hex info-hash, ISO time, source kind, from', () => {
    const h = new Prng(1).bytes(20);
    const line = formatCrawlLine(h, T0, 'announce_peer', '192.0.2.7:6881');
    expect(JSON.parse(line)).toEqual({ infohash: hex(h), first_seen: '2024-05-01T12:00:00.250Z', source: 'announce_peer', from: '192.0.2.7:6881' });
    const back = parseCrawlLine(line)!;
    expect(hex(back.infoHash)).toBe(hex(h));
    expect(back).toMatchObject({ firstSeenMs: T0, source: 'announce_peer', from: '192.0.2.7:6881', address: '192.0.2.7' });
    expect(parseCrawlLine(formatCrawlLine(h, T0, 'sample', '[2001:db8::1]:6881'))!.address).toBe('2001:db8::1');
  });

  it('rejects anything that is not a well-formed line', () => {
    const good = { infohash: 'ab'.repeat(20), first_seen: new Date(T0).toISOString(), source: 'sample', from: '1.2.3.4:5' };
    expect(parseCrawlLine(JSON.stringify(good))).toBeDefined();
    for (const bad of [
      '', 'not json', '[]', 'null', '{"infohash":',
      JSON.stringify({ ...good, infohash: 'ab'.repeat(19) }),
      JSON.stringify({ ...good, infohash: 'zz'.repeat(20) }),
      JSON.stringify({ ...good, source: 'ping' }),
      JSON.stringify({ ...good, first_seen: 'yesterday' }),
      JSON.stringify({ ...good, from: 42 }),
    ]) expect(parseCrawlLine(bad), bad).toBeUndefined();
  });
});

describe('CrawlLogWriter', () => {
  it('appends whole lines, flushed on close', () => {
    const path = join(dir, 'out.ndjson');
    writeFileSync(path, '{"earlier":"line"}\n');
    const prng = new Prng(2);
    const writer = new CrawlLogWriter(path, { flushBytes: 1 << 20, flushIntervalMs: 60_000 });
    const lines = Array.from({ length: 50 }, () => formatCrawlLine(prng.bytes(20), T0, 'sample', '10.0.0.1:1'));
    for (const line of lines) writer.write(line);
    expect(writer.lines).toBe(50);
    expect(readFileSync(path, 'utf8')).toBe('{"earlier":"line"}\n');
    expect(writer.close()).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(`{"earlier":"line"}\n${lines.join('\n')}\n`);
  });

  it('flushes by itself once enough is buffered', () => {
    const path = join(dir, 'out.ndjson');
    const writer = new CrawlLogWriter(path, { flushBytes: 1_000, flushIntervalMs: 60_000 });
    try {
      const line = formatCrawlLine(new Prng(3).bytes(20), T0, 'sample', '10.0.0.1:1');
      const needed = Math.ceil(1_000 / (line.length + 1));
      for (let i = 0; i < needed; i++) writer.write(line);
      expect(readFileSync(path, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(needed);
    } finally {
      writer.close();
    }
  });

  it('never glues its first line to a partial line left at the end of the file', () => {
    const path = join(dir, 'out.ndjson');
    writeFileSync(path, '{"infohash":"abab');
    const writer = new CrawlLogWriter(path);
    const line = formatCrawlLine(new Prng(4).bytes(20), T0, 'get_peers', '10.0.0.1:1');
    writer.write(line);
    writer.close();
    expect(readFileSync(path, 'utf8')).toBe(`{"infohash":"abab\n${line}\n`);
  });
});

describe('readCrawlLog', () => {
  it('reads every complete line, skips malformed ones and a torn tail, and can cut the tail off', async () => {
    const path = join(dir, 'log.ndjson');
    const prng = new Prng(5);
    const hashes = Array.from({ length: 10 }, () => prng.bytes(20));
    const body = hashes.map((h, i) => formatCrawlLine(h, T0 + i, 'sample', '10.0.0.1:1')).join('\n');
    writeFileSync(path, `${body}\ngarbage\n\n${formatCrawlLine(prng.bytes(20), T0, 'sample', 'x:1').slice(0, 30)}`);
    const { records, result } = await readAll(path, true);
    expect(records.map((r) => hex(r.infoHash))).toEqual(hashes.map(hex));
    expect(result).toEqual({ lines: 10, invalid: 1, tornBytes: 30 });
    expect(readFileSync(path, 'utf8')).toBe(`${body}\ngarbage\n\n`);
    // Appending now starts on a line boundary.
    appendFileSync(path, `${formatCrawlLine(prng.bytes(20), T0, 'sample', 'x:1')}\n`);
    expect((await readAll(path)).result).toEqual({ lines: 11, invalid: 1, tornBytes: 0 });
  });

  it('leaves the file alone without repair', async () => {
    const path = join(dir, 'log.ndjson');
    writeFileSync(path, '{"torn":');
    expect((await readAll(path)).result.tornBytes).toBe(8);
    expect(readFileSync(path, 'utf8')).toBe('{"torn":');
  });

  it('streams a file bigger than one read chunk, lines split across chunks included', async () => {
    const path = join(dir, 'big.ndjson');
    const prng = new Prng(6);
    const hashes = Array.from({ length: 12_000 }, () => prng.bytes(20));
    writeFileSync(path, `${hashes.map((h) => formatCrawlLine(h, T0, 'sample', '10.0.0.1:1')).join('\n')}\n`);
    expect(readFileSync(path).length).toBeGreaterThan(1 << 20);
    const { records, result } = await readAll(path);
    expect(result).toEqual({ lines: 12_000, invalid: 0, tornBytes: 0 });
    expect(records.map((r) => hex(r.infoHash))).toEqual(hashes.map(hex));
  });

  it('keeps a whole last line that only lacks its newline', async () => {
    const path = join(dir, 'log.ndjson');
    const prng = new Prng(7);
    const hashes = Array.from({ length: 3 }, () => prng.bytes(20));
    const body = hashes.map((h) => formatCrawlLine(h, T0, 'sample', '10.0.0.1:1')).join('\n');
    writeFileSync(path, body);
    const { records, result } = await readAll(path, true);
    expect(records.map((r) => hex(r.infoHash))).toEqual(hashes.map(hex));
    expect(result).toEqual({ lines: 3, invalid: 0, tornBytes: 0 });
    expect(readFileSync(path, 'utf8')).toBe(body);
    // The writer adds the newline before its first line.
    const writer = new CrawlLogWriter(path);
    writer.write(formatCrawlLine(prng.bytes(20), T0, 'sample', 'x:1'));
    expect(writer.close()).toBeUndefined();
    expect((await readAll(path)).result).toEqual({ lines: 4, invalid: 0, tornBytes: 0 });
  });

  it('tells a file that is not a crawl log: no valid line, or more invalid lines than valid ones', async () => {
    const path = join(dir, 'other.bin');
    const prng = new Prng(8);
    writeFileSync(path, prng.bytes(100_000));
    expect(notACrawlLog((await readAll(path)).result)).toMatch(/none of its lines/);
    const line = formatCrawlLine(prng.bytes(20), T0, 'sample', 'x:1');
    writeFileSync(path, `${line}\nnot json\n{"a":1}\n`);
    expect(notACrawlLog((await readAll(path)).result)).toMatch(/2 of its lines are not/);
    writeFileSync(path, `${line}\n${line}\nnot json\n{"torn`);
    expect(notACrawlLog((await readAll(path)).result)).toBeUndefined();
    expect(notACrawlLog({ lines: 0, invalid: 0, tornBytes: 0 })).toBeUndefined();
  });

  it('counts a giant line once, without holding it', async () => {
    const path = join(dir, 'giant.ndjson');
    const line = formatCrawlLine(new Uint8Array(20), T0, 'sample', 'x:1');
    writeFileSync(path, `${line}\n${'x'.repeat(3 << 20)}\n${line}\n${'y'.repeat(3 << 20)}`);
    expect((await readAll(path)).result).toEqual({ lines: 2, invalid: 1, tornBytes: 3 << 20 });
  });

  it('a missing file reads as empty', async () => {
    expect((await readAll(join(dir, 'none.ndjson'))).result).toEqual({ lines: 0, invalid: 0, tornBytes: 0 });
  });
});
