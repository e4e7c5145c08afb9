/**
 * The live view's server and feed over real sockets: what it serves and what it refuses (only GET,
 * only its own files, only its own Host: no DNS rebinding), the event stream a page reads, and the
 * `dht-scrape lab` and `--web` commands run as real processes.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode, Testnet } from '../../src/index.js';
import { ViewFeed, type ViewEvent } from '../../src/cli/web/view-feed.js';
import { ViewServer } from '../../src/cli/web/view-server.js';
import { takeWebOption } from '../../src/cli/web/web-option.js';
import { UsageError } from '../../src/cli/options.js';
import { ROOT } from '../helpers/compile-examples.js';
import { readEvents } from '../helpers/view-events.js';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One raw HTTP request, with whatever Host header and path we like (fetch would fix them up). */
function get(port: number, path: string, options: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: options.host ?? `127.0.0.1:${port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the view server', () => {
  let feed: ViewFeed;
  let server: ViewServer;
  beforeAll(async () => {
    feed = new ViewFeed({ title: 'test' });
    server = await ViewServer.start(feed);
  });
  afterAll(async () => {
    await server.close();
    feed.close();
  });

  it('binds 127.0.0.1 and serves the page, its script, style and icon, with a self-only policy', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await get(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg id="tree"');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    for (const [path, type] of [['/view.js', 'text/javascript'], ['/view.css', 'text/css'], ['/favicon.svg', 'image/svg+xml']] as const) {
      const reply = await get(server.port, path);
      expect(reply.status, path).toBe(200);
      expect(reply.headers['content-type']).toContain(type);
    }
    // Nothing in the page points anywhere but its own server.
    for (const path of ['/', '/view.js', '/view.css']) {
      expect((await get(server.port, path)).body).not.toMatch(/(?:https?:)?\/\/(?!www\.w3\.org\/2000\/svg)[a-z0-9.-]+\.[a-z]{2,}/i);
    }
  });

  it('answers only GET', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
      const reply = await get(server.port, '/', { method });
      expect(reply.status, method).toBe(405);
      expect(reply.headers.allow).toBe('GET');
    }
  });

  it('refuses a Host header that is not the address it is bound to (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${server.port}`, `localhost:${server.port}`, `127.0.0.1:${server.port + 1}`, `127.0.0.2:${server.port}`]) {
      const page = await get(server.port, '/', { host });
      expect(page.status, host).toBe(421);
      expect((await get(server.port, '/events', { host })).status, host).toBe(421);
    }
  });

  it('serves no file outside its assets', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/index.html/../../package.json', '/web/view.js', '/dist/index.js', '//etc/passwd', '/view.js%00.html']) {
      const reply = await get(server.port, path);
      expect(reply.status, path).toBe(404);
      expect(reply.body).not.toContain('"name"');
    }
  });

  it('streams what happened so far to a page that connects late, then what happens next', async () => {
    const net = await Testnet.start({ nodes: 40, torrents: 1, peers: 2 });
    const node = await DhtNode.create({ address: '127.0.0.1', port: 0 });
    try {
      feed.watchNode(node);
      await node.bootstrap(net.bootstrap.slice(0, 1), { timeoutMs: 10_000 });
      const torrent = net.torrents[0]!;
      const { stats } = await node.findPeers(torrent.infoHash, { timeoutMs: 10_000 }).result;
      const events = await readEvents(server.port, (seen) => seen.some((e) => e.kind === 'lookup' && e.step.type === 'end' && e.step.items > 0));
      expect(events[0]).toMatchObject({ kind: 'hello', title: 'test' });
      const tables = events.filter((e): e is Extract<ViewEvent, { kind: 'table' }> => e.kind === 'table');
      expect(tables.length).toBe(1);
      const lookups = events.filter((e): e is Extract<ViewEvent, { kind: 'lookup' }> => e.kind === 'lookup');
      const get = lookups.filter((e) => lookups.some((s) => s.id === e.id && s.step.type === 'start' && s.step.method === 'get_peers'));
      const queries = get.filter((e) => e.step.type === 'query').length;
      expect(queries).toBe(stats.queries);
      const items = get.filter((e) => e.step.type === 'item').map((e) => e.step.type === 'item' ? e.step.peer : undefined);
      expect(items.length).toBe(stats.itemsFound);
      expect(new Set(items)).toEqual(new Set(torrent.peers.map((p) => `${p.address}:${p.port}`)));
    } finally {
      await node.close();
      await net.close();
    }
  });
});

describe('--web [PORT]', () => {
  it('takes an optional port, and --web-bind an IP address', () => {
    expect(takeWebOption(['abc', '--web'])).toEqual({ argv: ['abc'], web: { port: 0, host: '127.0.0.1' } });
    expect(takeWebOption(['--web', '8080', 'abc'])).toEqual({ argv: ['abc'], web: { port: 8080, host: '127.0.0.1' } });
    expect(takeWebOption(['--web=9', '--web-bind', '::1'])).toEqual({ argv: [], web: { port: 9, host: '::1' } });
    expect(takeWebOption(['--web', '--json'])).toEqual({ argv: ['--json'], web: { port: 0, host: '127.0.0.1' } });
    expect(takeWebOption(['crawl'])).toEqual({ argv: ['crawl'], web: undefined });
    expect(() => takeWebOption(['--web=70000'])).toThrow(UsageError);
    expect(() => takeWebOption(['--web', '--web-bind', 'example.com'])).toThrow(UsageError);
    expect(() => takeWebOption(['--web-bind', '127.0.0.1'])).toThrow(UsageError);
  });
});

/** Run the CLI until `ready` says so from stderr, then Ctrl+C it; resolves with its output and code. */
function runUntil(args: string[], ready: (stderr: string) => Promise<boolean> | boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/dht-scrape.js', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    let asked = false;
    const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (asked) return;
      asked = true;
      void Promise.resolve(ready(stderr)).then((done) => {
        if (done) child.kill('SIGINT');
        else asked = false;
      });
    });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(kill); resolve({ code, stderr }); });
  });
}

describe('dht-scrape lab and --web, as processes', () => {
  it('lab prints its URL on 127.0.0.1 and streams lookups that find peers; Ctrl+C ends it with 0', async () => {
    let found = false;
    const run = await runUntil(['lab', '--nodes', '80', '--torrents', '2', '--every', '1', '--ttl', '60'], async (stderr) => {
      const url = /Live view: (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(stderr);
      if (url === null) return false;
      const events = await readEvents(Number(url[2]), (seen) => seen.some((e) => e.kind === 'lookup' && e.step.type === 'item' && e.step.peer !== undefined) && seen.some((e) => e.kind === 'crawl'));
      found = events.some((e) => e.kind === 'lookup' && e.step.type === 'item' && e.step.peer !== undefined) && events.some((e) => e.kind === 'crawl');
      return true;
    });
    expect(run.stderr).toMatch(/Live view: http:\/\/127\.0\.0\.1:\d+\//);
    expect(found).toBe(true);
    expect(run.code).toBe(0);
  }, 100_000);

  it('a scrape with --web shows its lookup, and keeps the page up until Ctrl+C', async () => {
    let lookupSeen = false;
    let hello: ViewEvent | undefined;
    const run = await runUntil(['--testnet', '60', '--web', '--no-state', '--timeout', '20'], async (stderr) => {
      const url = /Live view: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (url === null || !stderr.includes('stays at')) return false;
      const events = await readEvents(Number(url[1]), (seen) => seen.some((e) => e.kind === 'lookup' && e.step.type === 'end' && e.step.items > 0));
      lookupSeen = events.some((e) => e.kind === 'lookup' && e.step.type === 'item');
      hello = events.find((e) => e.kind === 'hello');
      return true;
    });
    expect(lookupSeen).toBe(true);
    // One family (--testnet without --dual-stack is IPv4): no other node to name.
    expect(hello).toEqual({ kind: 'hello', title: 'dht-scrape scrape', ownId: expect.stringMatching(/^[0-9a-f]{40}$/) as string, family: 4 });
    expect(run.code).toBe(0);
  }, 100_000);

  it('a dual-stack crawl with --web says which family the table panel shows, that the other node is not drawn, and what each DHT named', async () => {
    let hello: ViewEvent | undefined;
    let crawlOfBoth = false;
    const run = await runUntil(['crawl', '--testnet', '30', '--dual-stack', '--web', '--no-state', '--timeout', '60', '--top', '0'], async (stderr) => {
      const url = /Live view: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (url === null) return false;
      const bothNamed = (e: ViewEvent): boolean => e.kind === 'crawl' && e.crawl.seenIn[4] > 0 && e.crawl.seenIn[6] > 0;
      const events = await readEvents(Number(url[1]), (seen) => seen.some((e) => e.kind === 'hello') && seen.some(bothNamed), 50_000);
      hello = events.find((e) => e.kind === 'hello');
      crawlOfBoth = events.some(bothNamed);
      return true;
    });
    // BEP 32: the IPv4 node's table is drawn; the IPv6 node beside it is named as not shown.
    expect(hello).toMatchObject({ kind: 'hello', family: 4, notShown: 6 });
    // The crawl panel counts what each family's DHT named.
    expect(crawlOfBoth).toBe(true);
    expect(run.code).toBe(0);
  }, 100_000);

  it('rejects --web on a command it cannot show', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/dht-scrape.js', 'testnet', '--web'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--web');
  });
});
