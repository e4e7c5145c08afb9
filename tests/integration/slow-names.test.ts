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
import { scrapeFamilies } from '../../src/cli/scrape-command.js';
import type { NameLookup } from '../../src/cli/bootstrap-nodes.js';
import { commonOptions, quietOutput } from '../helpers/session.js';
import { runCli } from '../helpers/cli.js';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

/**
 * Dual stack (BEP 32): a scrape runs an IPv6 node beside the IPv4 one when the bootstrap names
 * have IPv6 addresses. Some resolvers stall on every AAAA record; the IPv4 scrape must not wait for
 * them, and an IPv6 side that never got an address is left out, as in a -4 run.
 */
describe('a dual-stack scrape whose names are slow to resolve in IPv6', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 60, torrents: 1, peers: 6, dualStack: true, seed: 6 }); }, 30_000);
  afterAll(async () => { await net?.close(); });

  const LOOPBACK = { ipv4: '127.0.0.1', ipv6: '::1' };
  const ofFamily = (peers: readonly { address: string; port: number }[], family: 4 | 6): string[] =>
    peers.filter((p) => (p.address.includes(':') ? 6 : 4) === family).map(formatEndpoint).sort();

  it('runs the IPv4 scrape while the IPv6 name is unresolved, stops the IPv6 side when done, and leaves it out', async () => {
    const router = net.bootstrap[0]!;
    let settle6: (addresses: string[]) => void = () => {};
    const resolve: NameLookup = (_host, family) => (family === 4
      ? Promise.resolve([router.address])
      : new Promise<string[]>((done) => { settle6 = done; }));
    // Without the feature the session waits for the IPv6 name: settle it (with nothing) after a
    // bound, so that the test fails on the expectations below instead of hanging.
    const bound = setTimeout(() => settle6([]), 2_000);
    const common = commonOptions([Buffer.from(net.torrents[0]!.infoHash).toString('hex'), '--bootstrap', `router.test:${router.port}`, '--no-state', '--port', '0']);
    const session = await openSession(common, quietOutput(), { bothFamilies: true, lookupFirst: true, resolve, defaultBind: LOOPBACK });
    try {
      expect(session.bootstrap).toEqual([router]);
      expect(session.node6).toBeDefined();
      expect(session.bootstrap6Later).toHaveLength(1);
      expect(session.ipv6Known()).toBe(false);
      expect(describeNetwork(session)).toBe(`the DHT through ${formatEndpoint(router)}`);
      let name6Settled = false;
      void session.bootstrap6Later[0]!.then(() => { name6Settled = true; });
      const [report, report6] = await scrapeFamilies(session, {
        infoHash: net.torrents[0]!.infoHash, bootstrap: session.bootstrap, bootstrapLater: session.bootstrapLater, timeoutMs: 20_000,
      }, () => () => {});
      expect(name6Settled).toBe(false);
      expect(report.peers.map(formatEndpoint).sort()).toEqual(ofFamily(net.torrents[0]!.peers, 4));
      expect(report6).toBeUndefined();
    } finally {
      clearTimeout(bound);
      settle6([]);
      await session.close();
    }
  }, 30_000);

  it('with names that have only IPv6 addresses, opens and scrapes in IPv6', async () => {
    const router6 = net.ipv6!.bootstrap[0]!;
    const resolve: NameLookup = (_host, family) => Promise.resolve(family === 6 ? [router6.address] : []);
    const common = commonOptions([Buffer.from(net.torrents[0]!.infoHash).toString('hex'), '--bootstrap', `router.test:${router6.port}`, '--no-state', '--port', '0']);
    const session = await openSession(common, quietOutput(), { bothFamilies: true, lookupFirst: true, resolve, defaultBind: LOOPBACK });
    try {
      expect(session.node6).toBeDefined();
      const [report, report6] = await scrapeFamilies(session, {
        infoHash: net.torrents[0]!.infoHash, bootstrap: session.bootstrap, bootstrapLater: session.bootstrapLater, timeoutMs: 20_000,
      }, () => () => {});
      expect(report.lookup).toBeUndefined();
      expect(report6?.peers.map(formatEndpoint).sort()).toEqual(ofFamily(net.torrents[0]!.peers, 6));
    } finally {
      await session.close();
    }
  }, 30_000);
});

describe('the CLI, when a bootstrap name never resolves', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 80, torrents: 1, peers: 6, seed: 7 }); }, 30_000);
  afterAll(async () => { await net?.close(); });

  it('prints its peers and exits, without waiting on the system resolver', async () => {
    const router = net.bootstrap[0]!;
    const preload = pathToFileURL(fileURLToPath(new URL('../helpers/stalled-resolver.mjs', import.meta.url))).href;
    const hash = Buffer.from(net.torrents[0]!.infoHash).toString('hex');
    // The stalled lookup holds the process for ever (see the preload): without the exit, runCli's
    // bound kills it and the run rejects.
    const run = await runCli([hash, '-4', '--bind', '127.0.0.1', '--no-state', '--bootstrap', `router.test:${router.port}`, '--bootstrap', `router.stalled:${router.port}`], 20_000,
      { NODE_OPTIONS: `--import ${preload}`, STALLED_RESOLVER_ADDRESS: router.address });
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n').sort()).toEqual(net.torrents[0]!.peers.map(formatEndpoint).sort());
  }, 30_000);
});
