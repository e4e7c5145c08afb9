/**
 * A user's second run: the state file holds the contacts of the first. They are nodes with IDs,
 * so the lookup asks those closest to the torrent first, `startAlpha` at a time (Kademlia), where
 * it used to ask the first 32 of them get_peers at once as bootstrap addresses, whatever their
 * distance, and the join asked them all again: 88 get_peers per lookup instead of 22 on the
 * 1,000-node local network.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { scrape } from '../../src/modes/scrape.js';
import { DhtNode } from '../../src/dht/node.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { compareDistance, idKey } from '../../src/wire/id.js';
import type { NodeInfo } from '../../src/wire/compact.js';
import { describeNetwork, noBootstrapMessage, openSession } from '../../src/cli/session.js';
import { networkKey, saveState } from '../../src/cli/state-file.js';
import { commonOptions, quietOutput } from '../helpers/session.js';
import type { LookupEvent } from '../../src/dht/lookup.js';

describe('a scrape that starts from the contacts of an earlier run', () => {
  let net: Testnet;
  let dir: string;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 150, torrents: 1, peers: 6, seed: 5 });
    dir = await mkdtemp(join(tmpdir(), 'dht-scrape-warm-'));
  }, 30_000);
  afterAll(async () => {
    await net?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('asks the 6 contacts closest to the torrent first, and no other before a reply; the router alone is asked as an address', async () => {
    const torrent = net.torrents[0]!;
    const contacts: NodeInfo[] = net.live.slice(0, 60).map((n) => ({ id: n.id, ...n.local }));
    const router = net.bootstrap[0]!;
    const node = await DhtNode.create({ address: '127.0.0.1' });
    const firstTurn: LookupEvent<unknown>[] = [];
    node.onLookup((lookup) => {
      if (lookup.strategy.method === 'get_peers') lookup.watch((event) => { if (firstTurn.length < 50) firstTurn.push(event); });
    });
    try {
      const running = scrape(node, { infoHash: torrent.infoHash, bootstrap: [router], contacts, timeoutMs: 20_000 });
      // Everything the lookup sent before any reply could come: this turn's queries.
      const sentAtOnce = [...firstTurn];
      const report = await running;
      expect(sentAtOnce.filter((e) => e.type === 'router-query').map((e) => e.type === 'router-query' && formatEndpoint(e.to))).toEqual([formatEndpoint(router)]);
      const asked = sentAtOnce.flatMap((e) => (e.type === 'query' ? [idKey(e.to.id)] : []));
      const closest = [...contacts].sort((a, b) => compareDistance(torrent.infoHash, a.id, b.id)).slice(0, 6).map((c) => idKey(c.id));
      expect(new Set(asked)).toEqual(new Set(closest));
      expect(new Set(report.peers.map(formatEndpoint))).toEqual(new Set(torrent.peers.map(formatEndpoint)));
    } finally {
      await node.close();
    }
  }, 30_000);

  it("the CLI's session hands the saved contacts over with their IDs, not as bootstrap addresses", async () => {
    const state = join(dir, 'state.json');
    const router = net.bootstrap[0]!;
    const argv = ['--bootstrap', formatEndpoint(router), '--state', state, '--bind', '127.0.0.1', '--port', '0'];
    const common = commonOptions(argv);
    const saved: NodeInfo[] = net.live.slice(0, 40).map((n) => ({ id: n.id, ...n.local }));
    await saveState(state, networkKey(common.bootstrap), { id: net.live[100]!.id, nodes: saved });
    const session = await openSession(common, quietOutput(), { lookupFirst: true });
    try {
      expect(session.bootstrap).toEqual([router]);
      expect(session.contacts.map((c) => idKey(c.id))).toEqual(saved.map((c) => idKey(c.id)));
      expect(describeNetwork(session)).toBe(`the DHT through ${formatEndpoint(router)}, 40 saved nodes`);
      // Had nobody answered, the message counts the saved nodes too: they were asked, not as addresses.
      expect(noBootstrapMessage(session, { waited: '; gave up after 2.0 s' })).toBe(
        `dht-scrape: network error: none of 1 bootstrap node(s) answered (${formatEndpoint(router)}), nor any of 40 saved nodes; gave up after 2.0 s.\n` +
        'Check the internet connection or --bootstrap');
    } finally {
      await session.close();
    }
    // Without lookupFirst (the crawler's session) they lead the bootstrap addresses, as before.
    const crawlSession = await openSession(common, quietOutput(), {});
    try {
      expect(crawlSession.contacts).toEqual([]);
      expect(crawlSession.bootstrap.slice(0, 3)).toEqual(saved.slice(0, 3).map(({ address, port }) => ({ address, port })));
    } finally {
      await crawlSession.close();
    }
  }, 30_000);
});
