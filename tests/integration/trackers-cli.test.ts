/** A scrape asks the trackers a magnet names, beside the DHT, and reports each (a real process). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/wire/bencode.js';
import { idToHex } from '../../src/wire/id.js';
import { Testnet } from '../../src/modes/testnet.js';
import { runCli } from '../helpers/cli.js';

describe('trackers in a scrape', () => {
  let net: Testnet;
  let tracker: Server;
  let url: string;
  const requests: string[] = [];
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 60, torrents: 1 });
    tracker = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end(req.url!.startsWith('/scrape') ? encode({ files: new Map([[net.torrents[0]!.infoHash, { complete: 7, incomplete: 3, downloaded: 99 }]]) })
        : encode({ interval: 1800, complete: 8, incomplete: 3, peers: new Uint8Array([127, 0, 0, 77, 0x1a, 0xe1]) }));
    });
    await new Promise<void>((done) => tracker.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}/announce`;
  }, 30_000);
  afterAll(async () => {
    tracker?.closeAllConnections();
    await new Promise((done) => tracker?.close(done));
    await net?.close();
  });

  const boot = (): string[] => ['--bootstrap', `${net.bootstrap[0]!.address}:${net.bootstrap[0]!.port}`, '--no-state', '--bind', '127.0.0.1', '--port', '0', '--timeout', '10'];

  it("the magnet's tr= is asked: counts and peers in --json and in the summary", async () => {
    const magnet = `magnet:?xt=urn:btih:${idToHex(net.torrents[0]!.infoHash)}&tr=${encodeURIComponent(url)}`;
    const json = await runCli([magnet, ...boot(), '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { trackers: unknown[]; peers: unknown[] };
    expect(doc.peers.length).toBeGreaterThan(0); // the DHT's own figures stand beside
    expect(doc.trackers).toEqual([{ url, seeders: 7, leechers: 3, completed: 99, interval: 1800, peers: [{ address: '127.0.0.77', port: 6881 }], ms: expect.any(Number) }]);
    const human = await runCli([magnet, ...boot()]);
    expect(human.stderr).toMatch(/tracker http:\/\/127\.0\.0\.1:\d+\/announce: 7 seeders, 3 leechers, 99 completed, 1 peers/);
  });

  it('--no-trackers asks none; a dead --tracker is reported with its reason, the scrape still succeeds', async () => {
    const magnet = `magnet:?xt=urn:btih:${idToHex(net.torrents[0]!.infoHash)}&tr=${encodeURIComponent(url)}`;
    const before = requests.length;
    const quiet = await runCli([magnet, ...boot(), '--no-trackers', '--json']);
    expect(requests.length).toBe(before);
    expect(JSON.parse(quiet.stdout)).not.toHaveProperty('trackers');
    const dead = await runCli([idToHex(net.torrents[0]!.infoHash), ...boot(), '--tracker', 'http://127.0.0.1:1/announce']);
    expect(dead.code).toBe(0);
    expect(dead.stderr).toMatch(/tracker http:\/\/127\.0\.0\.1:1\/announce: .*no answer.* \(cannot reach 127\.0\.0\.1:1: ECONNREFUSED\)/);
  });
});
