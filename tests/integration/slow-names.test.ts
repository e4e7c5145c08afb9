/**
 * A scrape does not wait for its slowest bootstrap name. The public routers are host names; a
 * resolver can take seconds over one of them (an AAAA record it has to time out on), and a scrape
 * that resolved every name before its first query waited that long with an address in hand (issue
 * 12: the first get_peers leaves at once, from everything known). The name lookup here is the
 * test's own, settled by hand, so the order of events is what is checked, not a timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { scrape } from '../../src/modes/scrape.js';
import { formatEndpoint } from '../../src/wire/address.js';
import { describeNetwork, openSession } from '../../src/cli/session.js';
import type { NameLookup } from '../../src/cli/bootstrap-nodes.js';
import { commonOptions, quietOutput } from '../helpers/session.js';

describe('a scrape whose bootstrap list holds a name that is slow to resolve', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 120, torrents: 1, peers: 6, seed: 4 }); }, 30_000);
  afterAll(async () => { await net?.close(); });

  it('asks the address it knows at once, and the name\'s router as soon as the name resolves', async () => {
    const [known, named] = [net.bootstrap[0]!, net.bootstrap[1]!];
    const order: string[] = [];
    let settle: (addresses: string[]) => void = () => {};
    const resolve: NameLookup = (host) => {
      order.push(`resolving ${host}`);
      return new Promise<string[]>((done) => { settle = (addresses) => { order.push(`resolved ${host}`); done(addresses); }; });
    };
    // Without the feature the session would wait for the name: settle it after a bound, so that
    // the test fails on the order below instead of hanging.
    const bound = setTimeout(() => { order.push('bound'); settle([named.address]); }, 2_000);
    const hash = Buffer.from(net.torrents[0]!.infoHash).toString('hex');
    const argv = [hash, '--bootstrap', `slow-router.test:${named.port}`, '--bootstrap', formatEndpoint(known), '--no-state', '--bind', '127.0.0.1'];
    const common = commonOptions(argv);
    const session = await openSession(common, quietOutput(), { lookupFirst: true, resolve });
    try {
      order.push('session open');
      expect(session.bootstrap).toEqual([known]);
      expect(session.bootstrapLater).toHaveLength(1);
      expect(describeNetwork(session)).toBe(`the DHT through ${formatEndpoint(known)} (1 more name still resolving)`);
      session.node.onLookup((lookup) => {
        lookup.watch((event) => {
          if (event.type !== 'router-query') return;
          order.push(`get_peers to ${formatEndpoint(event.to)}`);
          // The name resolves only once the known router has been asked.
          if (event.to.port === known.port) settle([named.address]);
        });
      });
      const report = await scrape(session.node, { infoHash: net.torrents[0]!.infoHash, bootstrap: session.bootstrap, bootstrapLater: session.bootstrapLater, timeoutMs: 20_000 });
      expect(order).toEqual([
        'resolving slow-router.test',
        'session open',
        `get_peers to ${formatEndpoint(known)}`,
        'resolved slow-router.test',
        `get_peers to ${formatEndpoint(named)}`,
      ]);
      expect(report.peers.map(formatEndpoint).sort()).toEqual(net.torrents[0]!.peers.map(formatEndpoint).sort());
      expect(report.lookup?.routersAsked).toBe(2);
    } finally {
      clearTimeout(bound);
      await session.close();
    }
  }, 30_000);

  it('with only names, opens the session once the first of them resolves, and leaves the others to come', async () => {
    const [first, second] = [net.bootstrap[0]!, net.bootstrap[1]!];
    const held = new Map<string, (addresses: string[]) => void>();
    const resolve: NameLookup = (host) => new Promise<string[]>((done) => { held.set(host, done); });
    const argv = ['--bootstrap', `a.test:${first.port}`, '--bootstrap', `b.test:${second.port}`, '--no-state', '--bind', '127.0.0.1'];
    const common = commonOptions(argv);
    let opened = false;
    const opening = openSession(common, quietOutput(), { lookupFirst: true, resolve }).then((s) => { opened = true; return s; });
    await new Promise((r) => setImmediate(r));
    expect(opened).toBe(false);
    held.get('b.test')!([second.address]);
    const session = await opening;
    try {
      expect(session.bootstrap).toEqual([second]);
      expect(session.bootstrapLater).toHaveLength(1);
      held.get('a.test')!([first.address]);
      expect(await session.bootstrapLater[0]).toEqual([first]);
    } finally {
      await session.close();
    }
  }, 30_000);
});
