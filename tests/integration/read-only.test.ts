/**
 * BEP 43: a one-shot scrape (and put, get) is a read-only node by default, so that nobody keeps it in a table
 * (and waits on it in a later lookup) after it exits; --no-read-only makes it a full node again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { runCli } from '../helpers/cli.js';
import { immutableTarget } from '../../src/wire/dht-item.js';
import { encode } from '../../src/wire/bencode.js';

let net: Testnet;
beforeAll(async () => { net = await Testnet.start({ nodes: 12, torrents: 1, peers: 3 }); }, 30_000);
afterAll(async () => { await net?.close(); });

/** Run a scrape (or `command`) from `bind` and collect every query the local network's nodes got from it. */
async function scrapeFrom(bind: string, extra: string[], command: string[] = [idToHex(net.torrents[0]!.infoHash)]): Promise<{ ro: (boolean | undefined)[]; kept: DhtNode[] }> {
  const ro: (boolean | undefined)[] = [];
  const stops = net.nodes.map((n) => n.onIncomingQuery((query, from) => { if (from.address === bind) ro.push(query.ro); }));
  try {
    const run = await runCli([...command, '--bootstrap', formatEndpoint(net.bootstrap[0]!), '--bind', bind, '--port', '0', '--no-state', '--json', '--timeout', '5', ...extra]);
    expect(run.code, run.stderr).toBe(0);
  } finally {
    for (const stop of stops) stop();
  }
  return { ro, kept: net.nodes.filter((n) => n.table.all().some((c) => c.address === bind)) };
}

describe('a scrape and the tables of the nodes it asked', () => {
  it('by default marks every query read-only, and no node keeps it', async () => {
    const { ro, kept } = await scrapeFrom('127.0.87.1', []);
    expect(ro.length).toBeGreaterThan(3);
    expect(ro.every((r) => r === true)).toBe(true);
    expect(kept).toEqual([]);
  }, 20_000);

  it('with --no-read-only sends ordinary queries, and the nodes it asked keep it', async () => {
    const { ro, kept } = await scrapeFrom('127.0.87.2', ['--no-read-only']);
    expect(ro.length).toBeGreaterThan(3);
    expect(ro.every((r) => r !== true)).toBe(true);
    expect(kept.length).toBeGreaterThan(0);
  }, 20_000);
});

describe('BEP 44 put and get are one-shot commands too', () => {
  it('put is read-only by default: its get and put queries carry ro, and no node keeps it', async () => {
    const { ro, kept } = await scrapeFrom('127.0.87.3', [], ['put', 'read-only item']);
    expect(ro.length).toBeGreaterThan(3);
    expect(ro.every((r) => r === true)).toBe(true);
    expect(kept).toEqual([]);
  }, 20_000);

  it('get with --no-read-only sends ordinary queries, and the nodes it asked keep it', async () => {
    const target = idToHex(immutableTarget(encode('read-only item')));
    const { ro, kept } = await scrapeFrom('127.0.87.4', ['--no-read-only'], ['get', target]);
    expect(ro.length).toBeGreaterThan(3);
    expect(ro.every((r) => r !== true)).toBe(true);
    expect(kept.length).toBeGreaterThan(0);
  }, 20_000);
});
