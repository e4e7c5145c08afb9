/**
 * The lookup driver (lookup.ts) over a fake query function: what it asks, in which order it
 * reports, how it counts, and how it stops. No sockets; each fake reply is scripted per node.
 */
import { describe, expect, it } from 'vitest';
import type { NodeInfo, PeerInfo } from '../../src/wire/compact.js';
import type { NodeId } from '../../src/wire/id.js';
import type { QueryOptions, QueryOutcome } from '../../src/net/rpc.js';
import type { Endpoint } from '../../src/net/transport.js';
import { Lookup, findNode, getPeers, type EndpointQueryFn, type LookupEvent, type QueryFn } from '../../src/dht/lookup.js';
import { Prng } from '../helpers/prng.js';
import { idNear } from '../helpers/ids.js';

const prng = new Prng(12);
const target: NodeId = new Uint8Array(20).fill(0x42);
const me: NodeId = new Uint8Array(20).fill(0xee);
let host = 1;

/** A node sharing `bits` leading bits with the target (more bits: closer), on its own /24. */
function node(bits: number): NodeInfo {
  const id = idNear(target, bits, prng);
  const n = host++;
  return { id, address: `10.${(n >> 8) & 255}.${n & 255}.1`, port: 6881 };
}

const at = (e: Endpoint): string => `${e.address}:${e.port}`;

/** What a fake node does when asked. */
type Script =
  | { reply: { id?: NodeId; nodes?: NodeInfo[]; values?: PeerInfo[] } }
  | { error: [number, string] }
  /** Past its soft timeout at once; answers only when the test calls `release`. */
  | { late: { nodes?: NodeInfo[] } }
  /** Never answers, and its soft timeout never fires (the test ends the lookup). */
  | 'hang'
  /** Past its soft timeout at once, then its hard timeout. */
  | 'silent';

/** A scripted network: `query` answers from `scripts`, on a later turn, and logs who was asked. */
class FakeNetwork {
  readonly scripts = new Map<string, Script>();
  readonly asked: string[] = [];
  private readonly held = new Map<string, () => void>();

  set(to: Endpoint, script: Script): this {
    this.scripts.set(at(to), script);
    return this;
  }

  /** Let a `late` node's reply arrive now. */
  release(to: Endpoint): void {
    this.held.get(at(to))?.();
  }

  readonly query = (to: Endpoint, _method: string, _args: unknown, options: QueryOptions): Promise<QueryOutcome> => {
    this.asked.push(at(to));
    const script = this.scripts.get(at(to)) ?? 'silent';
    return new Promise((resolve) => {
      const later = (fn: () => void): void => { setImmediate(fn); };
      if (script === 'hang') return;
      if (script === 'silent') {
        later(() => { options.onSoftTimeout?.(); later(() => resolve({ kind: 'timeout' })); });
        return;
      }
      if ('error' in script) {
        const [code, message] = script.error;
        later(() => resolve({ kind: 'error', error: { t: new Uint8Array(2), y: 'e', e: { code, message } }, rttMs: 1 }));
        return;
      }
      const body = 'late' in script ? script.late : script.reply;
      const id = 'reply' in script && script.reply.id !== undefined ? script.reply.id : (to as NodeInfo).id;
      const respond = (): void => resolve({
        kind: 'response',
        rttMs: 1,
        response: { t: new Uint8Array(2), y: 'r', r: { id, ...body, token: new Uint8Array([7]) } },
      });
      if ('late' in script) {
        later(() => options.onSoftTimeout?.());
        this.held.set(at(to), respond);
      } else {
        later(respond);
      }
    });
  };
}

async function events<Item>(lookup: Lookup<'get_peers' | 'find_node', Item>): Promise<LookupEvent<Item>[]> {
  const seen: LookupEvent<Item>[] = [];
  for await (const event of lookup) seen.push(event);
  return seen;
}

/** One seed naming 8 nodes toward the target that go past their soft timeout (`late`), and a live node next to the target that nobody names. */
function slowReferrals(): { seed: NodeInfo; slow: NodeInfo[]; live: NodeInfo; net: FakeNetwork } {
  const seed = node(6);
  const slow = Array.from({ length: 8 }, (_, i) => node(12 + i));
  const live = node(30);
  const net = new FakeNetwork().set(seed, { reply: { nodes: slow } }).set(live, { reply: {} });
  for (const s of slow) net.set(s, { late: {} });
  return { seed, slow, live, net };
}

function peersLookup(
  net: FakeNetwork, seeds: NodeInfo[], options: ConstructorParameters<typeof Lookup>[5] = {}, routers?: Endpoint[], later: Promise<Endpoint[]>[] = [],
): Lookup<'get_peers', PeerInfo> {
  const query = net.query as unknown as EndpointQueryFn;
  return new Lookup(me, target, getPeers(), seeds, query, options, routers === undefined ? undefined : { endpoints: routers, later, query });
}

/** A promise the test settles by hand: a bootstrap name whose lookup returns when the test says. */
function pending<T>(): { promise: Promise<T>; settle(value: T): void } {
  let settle: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => { settle = resolve; });
  return { promise, settle };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Lookup: the driver of one iterative lookup', () => {
  it('reports each query before its response, and a response\'s items right after it; the stats count them', async () => {
    const a = node(10);
    const b = node(9);
    const c = node(20);
    const peer = { address: '10.200.0.1', port: 51413 };
    const net = new FakeNetwork()
      .set(a, { reply: { nodes: [c] } })
      .set(b, { reply: { values: [peer], nodes: [c] } })
      .set(c, { reply: {} });
    const lookup = peersLookup(net, [a, b]);
    const seen = await events(lookup);
    const { stats } = await lookup.result;
    const trace = seen.map((e) => `${e.type} ${e.type === 'query' ? at(e.to) : e.type === 'response' ? at(e.from) : e.type === 'item' ? at(e.from) : ''}`);
    for (const n of [a, b, c]) {
      expect(trace.indexOf(`query ${at(n)}`)).toBeLessThan(trace.indexOf(`response ${at(n)}`));
    }
    expect(trace[trace.indexOf(`response ${at(b)}`) + 1]).toBe(`item ${at(b)}`);
    const cQuery = seen.find((e) => e.type === 'query' && at(e.to) === at(c));
    expect(cQuery).toMatchObject({ hop: 1, prefixBits: 20 });
    expect(stats).toMatchObject({ queries: 3, responses: 3, timeouts: 0, errors: 0, nodesContacted: 3, itemsFound: 1, closestPrefixBits: 20, ended: 'exhausted' });
    expect(stats.timeToFirstItemMs).not.toBeNull();
  });

  it('an error reply is an `error` event with its code, counted as an error and never as a timeout', async () => {
    const a = node(10);
    const net = new FakeNetwork().set(a, { error: [203, 'bad query'] });
    const lookup = peersLookup(net, [a]);
    const seen = await events(lookup);
    expect(seen.map((e) => e.type)).toEqual(['query', 'error']);
    expect(seen[1]).toMatchObject({ type: 'error', code: 203, message: 'bad query', hop: 0 });
    expect((await lookup.result).stats).toMatchObject({ errors: 1, timeouts: 0, responses: 0 });
  });

  it('stops at maxQueries, whatever is left to ask', async () => {
    const net = new FakeNetwork();
    // Every node names eight closer ones: the lookup would never run out.
    const endless = (bits: number): NodeInfo => {
      const n = node(bits);
      net.set(n, { reply: { nodes: [] } });
      return n;
    };
    const seeds = Array.from({ length: 20 }, (_, i) => endless(5 + i));
    const lookup = peersLookup(net, seeds, { maxQueries: 5, alpha: 3 });
    const { stats } = await lookup.result;
    expect(stats.ended).toBe('query-cap');
    expect(stats.queries).toBe(5);
    expect(net.asked).toHaveLength(5);
  });

  it('ends with `aborted` when its signal aborts, and reports nothing after', async () => {
    const a = node(10);
    const net = new FakeNetwork().set(a, 'hang');
    const controller = new AbortController();
    const lookup = peersLookup(net, [a], { signal: controller.signal });
    const seen: string[] = [];
    const reading = (async () => { for await (const e of lookup) seen.push(e.type); })();
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const { stats } = await lookup.result;
    await reading;
    expect(stats.ended).toBe('aborted');
    expect(seen).toEqual(['query']);
  });

  it('a query past its soft timeout frees its slot; its late reply is still used while the lookup runs', async () => {
    const slow = node(10);
    const other = node(8);
    const third = node(6);
    const closer = node(30);
    const net = new FakeNetwork()
      .set(slow, { late: { nodes: [closer] } })
      .set(other, { reply: {} })
      .set(third, 'hang')
      .set(closer, { reply: {} });
    const controller = new AbortController();
    const lookup = peersLookup(net, [slow, other, third], { alpha: 2, signal: controller.signal });
    const seen: LookupEvent<PeerInfo>[] = [];
    const reading = (async () => {
      for await (const e of lookup) {
        seen.push(e);
        if (e.type === 'response' && at(e.from) === at(other)) net.release(slow);
        if (e.type === 'response' && at(e.from) === at(closer)) controller.abort();
      }
    })();
    const { stats } = await lookup.result;
    await reading;
    // alpha 2, yet a third node was asked while the first two were still out: the slow one's slot.
    expect(net.asked.slice(0, 3)).toEqual([at(slow), at(other), at(third)]);
    // The slow node's late reply named a closer node, which was asked and answered.
    expect(net.asked).toContain(at(closer));
    expect(seen.filter((e) => e.type === 'response').map((e) => e.type === 'response' && at(e.from))).toEqual([at(other), at(slow), at(closer)]);
    expect(stats.responses).toBe(3);
  });

  it('ignores a reply that comes after it has ended', async () => {
    const slow = node(10);
    const other = node(8);
    const net = new FakeNetwork().set(slow, { late: { nodes: [node(40)] } }).set(other, { reply: {} });
    // k = 1: once k nodes have answered, a query past its soft timeout no longer holds the lookup
    // open (with fewer, it waits for it: lookup-state.test).
    const lookup = peersLookup(net, [slow, other], { k: 1 });
    const seen = await events(lookup);
    const { stats } = await lookup.result;
    expect(stats.ended).toBe('converged');
    expect(stats.timeouts).toBe(1);
    net.release(slow);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.map((e) => e.type)).toEqual(['query', 'query', 'response']);
    expect(net.asked).toHaveLength(2);
  });

  it('while nobody has answered, a query past its soft timeout holds the lookup open: a slow network is heard', async () => {
    const slow = node(10);
    const closer = node(30);
    const net = new FakeNetwork().set(slow, { late: { nodes: [closer] } }).set(closer, { reply: {} });
    const lookup = peersLookup(net, [slow]);
    const seen: string[] = [];
    for await (const e of lookup) {
      seen.push(e.type);
      // Its soft timeout has passed (FakeNetwork fires it at once): the lookup is still waiting.
      if (e.type === 'query' && seen.length === 1) setImmediate(() => setImmediate(() => net.release(slow)));
    }
    const { stats } = await lookup.result;
    expect(seen).toEqual(['query', 'response', 'query', 'response']);
    expect(net.asked).toEqual([at(slow), at(closer)]);
    expect(stats.responses).toBe(2);
  });

  it('about to end with fewer than k answers, takes the nodes its reseed source has learned since it started', async () => {
    // The only seed names 8 nodes toward the target, all dead; meanwhile the table (the join running
    // alongside) has learned a live node next to the target.
    const seed = node(6);
    const dead = Array.from({ length: 8 }, (_, i) => node(12 + i));
    const live = node(30);
    const net = new FakeNetwork().set(seed, { reply: { nodes: dead } }).set(live, { reply: {} });
    let offers = 0;
    const lookup = peersLookup(net, [seed], { reseed: () => { offers++; return [seed, live]; } });
    const seen = await events(lookup);
    const { stats, closest } = await lookup.result;
    expect(net.asked.slice(0, 9).sort()).toEqual([seed, ...dead].map(at).sort());
    expect(net.asked.slice(9)).toEqual([at(live)]);
    expect(seen.find((e) => e.type === 'query' && at(e.to) === at(live))).toMatchObject({ hop: 0, prefixBits: 30 });
    expect(closest.map((c) => at(c.node))).toEqual([at(live), at(seed)]);
    // Offered again at the end, it has nothing new: the lookup ends.
    expect(offers).toBe(2);
    expect(stats).toMatchObject({ ended: 'exhausted', responses: 2, timeouts: 8 });
  });

  it('waiting only for queries past their soft timeout, with fewer than k answers, takes its reseed source\'s nodes at once', async () => {
    const { seed, slow, live, net } = slowReferrals();
    let released = false;
    let liveAskedWhileSlowOut: boolean | undefined;
    const lookup = peersLookup(net, [seed], { k: 2, reseed: () => [live] });
    // The slow nodes answer after 50 turns of the event loop, if the lookup is still running.
    let turns = 0;
    const releaseLater = (): void => {
      if (++turns < 50) { setImmediate(releaseLater); return; }
      released = true;
      for (const s of slow) net.release(s);
    };
    setImmediate(releaseLater);
    for await (const e of lookup) if (e.type === 'query' && at(e.to) === at(live)) liveAskedWhileSlowOut = !released;
    const { stats, closest } = await lookup.result;
    expect(liveAskedWhileSlowOut).toBe(true);
    expect(closest.map((c) => at(c.node))).toEqual([at(live), at(seed)]);
    expect(stats.ended).toBe('converged');
  });

  it('stalled with nothing new from its reseed source, says so once, then asks what the source learns', async () => {
    // The only seed names 8 nodes toward the target, all past their soft timeout and never
    // answering: without news the lookup would wait out their hard timeouts.
    const { seed, slow, live, net } = slowReferrals();
    const table: NodeInfo[] = [seed];
    let tell: (() => void) | undefined;
    let stalls = 0;
    const stop = new AbortController();
    const lookup = peersLookup(net, [seed], {
      signal: stop.signal,
      reseed: () => table,
      watchReseed: (changed) => { tell = changed; return () => {}; },
      // What a scrape does (it looks elsewhere): the table learns a live node.
      onStalled: () => { stalls++; table.push(live); tell!(); },
    });
    const asked: string[] = [];
    for await (const e of lookup) {
      if (e.type === 'query') asked.push(at(e.to));
      if (e.type === 'response' && at(e.from) === at(live)) break;
    }
    expect(stalls).toBe(1);
    expect(asked.slice(0, 9).sort()).toEqual([seed, ...slow].map(at).sort());
    expect(asked[9]).toBe(at(live));
    stop.abort();
    await lookup.result;
  });

  it('with k answers, never asks its reseed source', async () => {
    const seeds = Array.from({ length: 8 }, (_, i) => node(10 + i));
    const net = new FakeNetwork();
    for (const s of seeds) net.set(s, { reply: {} });
    let offers = 0;
    const lookup = peersLookup(net, seeds, { reseed: () => { offers++; return [node(40)]; } });
    expect((await lookup.result).stats.ended).toBe('converged');
    expect(offers).toBe(0);
  });

  it('asks its routers first, and a router that answers becomes a responder at hop 0', async () => {
    const router: Endpoint = { address: '10.250.0.1', port: 6881 };
    const routerId = node(12).id;
    const near = node(25);
    const net = new FakeNetwork().set(router, { reply: { id: routerId, nodes: [near] } }).set(near, { reply: {} });
    const lookup = peersLookup(net, [], {}, [router]);
    const seen = await events(lookup);
    const result = await lookup.result;
    expect(seen[0]).toEqual({ type: 'router-query', to: router });
    expect(seen[1]).toMatchObject({ type: 'response', hop: 0, from: { address: router.address, port: router.port } });
    expect(seen.find((e) => e.type === 'query')).toMatchObject({ to: near, hop: 1 });
    expect(result.closest.map((c) => at(c.node))).toEqual([at(near), at(router)]);
    expect(result.stats).toMatchObject({ routersAsked: 1, routersAnswered: 1, queries: 2, nodesContacted: 2 });
  });

  it('asks a silent router again while nobody has answered, three times in all, then gives up', async () => {
    const router: Endpoint = { address: '10.250.0.2', port: 6881 };
    const net = new FakeNetwork().set(router, 'silent');
    const lookup = peersLookup(net, [], {}, [router]);
    const seen = await events(lookup);
    const { stats } = await lookup.result;
    expect(net.asked).toEqual([at(router), at(router), at(router)]);
    expect(seen.filter((e) => e.type === 'router-query')).toHaveLength(3);
    expect(stats).toMatchObject({ ended: 'exhausted', routersAsked: 1, routersAnswered: 0, queries: 3, responses: 0 });
  });

  it("takes a router's reply to its own query from whoever asked it (the join alongside), without asking the router again", async () => {
    const router: Endpoint = { address: '10.250.0.3', port: 6881 };
    const routerId = node(12).id;
    const near = node(25);
    // Our own query to the router is lost for good; the join's copy of it is answered.
    const net = new FakeNetwork().set(router, 'hang').set(near, { reply: {} });
    const lookup = peersLookup(net, [], {}, [router]);
    lookup.sharedRouterQuery(router, Promise.resolve({ kind: 'timeout' })); // someone else's failure tells us nothing
    lookup.sharedRouterQuery(router, Promise.resolve({ kind: 'response', rttMs: 1, response: { t: new Uint8Array(2), y: 'r', r: { id: routerId, nodes: [near], token: new Uint8Array([7]) } } }));
    const seen = await events(lookup);
    const result = await lookup.result;
    expect(seen.filter((e) => e.type === 'router-query')).toHaveLength(1);
    expect(seen.find((e) => e.type === 'router-failed')).toBeUndefined();
    expect(seen.find((e) => e.type === 'query')).toMatchObject({ to: near, hop: 1 });
    expect(result.closest.map((c) => at(c.node))).toEqual([at(near), at(router)]);
    // Its own router query, the two copies (asked for our target, so counted as ours), and `near`.
    expect(result.stats).toMatchObject({ routersAsked: 1, routersAnswered: 1, responses: 2, queries: 4 });
  });

  it('asks a router whose address comes later (a name still resolving) the moment it comes, and waits for it rather than end with nothing', async () => {
    const router: Endpoint = { address: '10.250.0.4', port: 6881 };
    const near = node(25);
    const net = new FakeNetwork().set(router, { reply: { id: node(12).id, nodes: [near] } }).set(near, { reply: {} });
    const name = pending<Endpoint[]>();
    const lookup = peersLookup(net, [], {}, [], [name.promise]);
    let over = false;
    void lookup.result.then(() => { over = true; });
    await nextTurn();
    await nextTurn();
    expect(net.asked).toEqual([]);
    expect(over).toBe(false);
    name.settle([router]);
    const { stats, closest } = await lookup.result;
    expect(net.asked).toEqual([at(router), at(near)]);
    expect(closest.map((c) => at(c.node))).toEqual([at(near), at(router)]);
    expect(stats).toMatchObject({ routersAsked: 1, routersAnswered: 1, queries: 2 });
  });

  it('does not ask a router twice when a name resolves to an address it has asked already, and ends exhausted once every name has come', async () => {
    const router: Endpoint = { address: '10.250.0.5', port: 6881 };
    const net = new FakeNetwork().set(router, 'silent');
    const name = pending<Endpoint[]>();
    const failed = pending<Endpoint[]>();
    const lookup = peersLookup(net, [], {}, [router], [name.promise, failed.promise]);
    name.settle([router]);
    for (let i = 0; i < 10; i++) await nextTurn();
    // Asked three times in all (ROUTER_TRIES), never a fourth for the name naming it again.
    expect(net.asked).toEqual([at(router), at(router), at(router)]);
    let over = false;
    void lookup.result.then(() => { over = true; });
    await nextTurn();
    expect(over).toBe(false);
    failed.settle([]);
    expect((await lookup.result).stats.ended).toBe('exhausted');
  });

  it('does not wait for a name still resolving once k nodes have answered', async () => {
    const seeds = Array.from({ length: 8 }, (_, i) => node(10 + i));
    const net = new FakeNetwork();
    for (const s of seeds) net.set(s, { reply: {} });
    const never = pending<Endpoint[]>();
    const lookup = peersLookup(net, seeds, {}, [], [never.promise]);
    expect((await lookup.result).stats).toMatchObject({ ended: 'converged', routersAsked: 0, responses: 8 });
  });

  it('starts startAlpha wide while fewer than k have answered, then keeps alpha queries out', async () => {
    const net = new FakeNetwork();
    const seeds = Array.from({ length: 20 }, (_, i) => node(5 + i));
    for (const s of seeds) net.set(s, 'hang');
    const lookup = new Lookup(me, target, findNode, seeds, net.query as unknown as QueryFn, { alpha: 3, startAlpha: 6 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(net.asked).toHaveLength(6);
    expect(lookup.state.width).toBe(6);
    const controller = lookup.state;
    // Eight answers settle the k closest: from then on, alpha.
    for (const c of controller.snapshot().filter((x) => x.state === 'active')) controller.markResponded(c.node.id);
    for (const c of controller.next()) controller.markResponded(c.node.id);
    expect(controller.responderCount).toBeGreaterThanOrEqual(8);
    expect(controller.width).toBe(3);
  });
});
