/**
 * A local network is a lab; a node that refuses a querier says so. Through the built CLI in child
 * processes, loopback only, never the user's state (--no-state).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../../src/dht/node.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { BIN, runCli } from '../helpers/cli.js';

const LOCAL = ['--no-state', '--bind', '127.0.0.1', '--port', '0'];

describe('dht-scrape testnet: a lab that does not ban its user', () => {
  let testnet: ChildProcess;
  let described: { bootstrap: string[]; torrents: { infohash: string }[] };
  let ready = '';
  beforeAll(async () => {
    testnet = spawn(process.execPath, [BIN, 'testnet', '--nodes', '100', '--torrents', '3', '--ttl', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    testnet.stderr!.on('data', (d: Buffer) => { ready += d.toString(); });
    described = await new Promise((resolve, reject) => {
      let out = '';
      testnet.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as typeof described);
      });
      testnet.once('close', (code) => reject(new Error(`testnet exited with ${code}`)));
    });
  }, 30_000);
  afterAll(async () => {
    if (testnet.exitCode === null) {
      const closed = new Promise((resolve) => testnet.once('close', resolve));
      testnet.kill('SIGTERM');
      await closed;
    }
  });

  it('20 back-to-back scrapes all find their peers; the ready line says loopback limits are relaxed', async () => {
    const codes: (number | null)[] = [];
    for (let i = 0; i < 20; i++) {
      const torrent = described.torrents[i % described.torrents.length]!;
      const r = await runCli([torrent.infohash, '--bootstrap', described.bootstrap[0]!, ...LOCAL, '--timeout', '10']);
      codes.push(r.code);
    }
    expect(codes).toEqual(Array.from({ length: 20 }, () => 0));
    expect(ready).toMatch(/A lab: loopback sources may send 1,000 packets\/s each/);
  }, 120_000);
});

describe('a node that refuses us', () => {
  let strict: DhtNode;
  beforeAll(async () => {
    // Real-DHT limits, tiny: two packets, then a long ban.
    strict = await DhtNode.create({ address: '127.0.0.1', port: 0, sourceLimit: { rate: 0.001, burst: 2, banMs: 600_000 } });
    // Another program on this host runs the budget of 127.0.0.1 dry: the host is banned.
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => socket.send(Buffer.from('junk'), strict.local.port, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });
  afterAll(async () => { await strict?.close(); });

  it('is named: "rate-limited by <node>", exit 3, instead of "no bootstrap node answered"', async () => {
    const hash = '0123456789abcdef0123456789abcdef01234567';
    const r = await runCli([hash, '--bootstrap', formatEndpoint(strict.local), ...LOCAL, '--timeout', '4']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`rate-limited by ${formatEndpoint(strict.local)}`);
    expect(r.stderr).not.toContain('answered (');
  }, 30_000);
});
