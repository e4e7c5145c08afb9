/**
 * The local network's presets measured from outside, as a client sees them: a fresh node with no
 * faults of its own pings, asks and looks up, and what it measures must be what the preset declares
 * (latency quantiles, loss, unreachable share, profiles, lies), within a tolerance, on seeded runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../../src/dht/node.js';
import { PRESETS } from '../../src/modes/testnet-conditions.js';
import { SHARED_ADDRESS_OPTIONS, Testnet } from '../../src/modes/testnet.js';
import { idEquals, idToHex, randomId } from '../../src/wire/id.js';
import type { NodeInfo } from '../../src/wire/compact.js';

/** Longer than any injected delay (10 s cap): a ping without an answer was lost, not late. */
const PATIENT = { hardTimeoutMs: 11_000 };

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * A client that reads big replies (whole-table profile). Its queries go at most CONCURRENT at a
 * time (inFlight): a burst of hundreds would have their replies overflow its socket's receive
 * buffer, and queue in its send pacing, and both would be ours, not the preset's.
 */
async function client(net: Testnet): Promise<DhtNode> {
  return DhtNode.create({
    address: net.clientAddress,
    ...(net.sharedAddress ? SHARED_ADDRESS_OPTIONS : {}),
    rpc: { sendRate: 2_000, sendBurst: 50, maxPacketBytes: 65_000 },
  });
}

const CONCURRENT = 30;

/** Run `tasks` CONCURRENT at a time; results in order. */
async function inFlight<T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, worker));
  return results;
}

/** Every peer a get_peers lookup returns, as ip:port. */
async function peersFound(node: DhtNode, infoHash: Uint8Array): Promise<Set<string>> {
  const peers = new Set<string>();
  for await (const event of node.findPeers(infoHash)) {
    if (event.type === 'item') peers.add(`${event.item.address}:${event.item.port}`);
  }
  return peers;
}

describe('the internet preset, measured', () => {
  let net: Testnet;
  let probe: DhtNode;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 200, torrents: 2, conditions: 'internet', seed: 11 });
    probe = await client(net);
  });
  afterAll(async () => {
    await probe?.close();
    await net?.close();
  });

  it('round trips follow the declared log-normal, and about the declared share of replies is lost', async () => {
    const honest = net.nodes.filter((_, i) => net.roles[i] === 'honest');
    const outcomes = await inFlight(honest.flatMap((node) => [0, 1, 2, 3].map(() => () => probe.rpc.query(node.local, 'ping', { id: probe.id }, PATIENT))));
    const rtts = outcomes.flatMap((o) => (o.kind === 'response' ? [o.rttMs] : [])).sort((a, b) => a - b);
    // Each node is steadily near or far (its path): its own round trips vary by the jitter, not by
    // the whole spread (drawn per datagram, 4 round trips would span about 10x; with the jitter of
    // 1.5, about 1.6x).
    const spreads = honest.map((_, i) => {
      const own = outcomes.slice(4 * i, 4 * i + 4).flatMap((o) => (o.kind === 'response' ? [o.rttMs] : []));
      return own.length < 2 ? 1 : Math.max(...own) / Math.min(...own);
    }).sort((a, b) => a - b);
    expect(quantile(spreads, 0.5)).toBeLessThan(2.5);
    const lost = outcomes.filter((o) => o.kind === 'timeout').length / outcomes.length;
    const { medianMs, p95Ms } = PRESETS.internet.latency!;
    // A busy machine only adds to a round trip (timers fire late): the lower bounds are tight, the
    // upper ones leave room for that. unit/testnet-conditions checks the draws themselves closely.
    expect(quantile(rtts, 0.5)).toBeGreaterThan(medianMs * 0.85);
    expect(quantile(rtts, 0.5)).toBeLessThan(medianMs * 1.6);
    expect(quantile(rtts, 0.95)).toBeGreaterThan(p95Ms * 0.75);
    expect(quantile(rtts, 0.95)).toBeLessThan(p95Ms * 1.6);
    expect(lost).toBeGreaterThan(PRESETS.internet.loss! - 0.02);
    expect(lost).toBeLessThan(PRESETS.internet.loss! + 0.025);
  }, 30_000);

  it('about half of the contacts that replies name answer nothing, and no read-only node is ever named', async () => {
    const askers = net.nodes.filter((_, i) => net.roles[i] === 'honest').slice(0, 40);
    const replies = await Promise.all(askers.map((node) => probe.rpc.query(node.local, 'find_node', { id: probe.id, target: randomId() }, { hardTimeoutMs: 4_000 })));
    const named = new Map<string, NodeInfo>();
    for (const r of replies) {
      if (r.kind !== 'response' || r.response.r.nodes === undefined) continue;
      for (const n of r.response.r.nodes) named.set(`${n.address}:${n.port}`, n);
    }
    expect(named.size).toBeGreaterThan(150);
    const readOnly = new Set(net.nodes.filter((_, i) => net.roles[i] === 'read-only').map((n) => idToHex(n.id)));
    expect([...named.values()].filter((n) => readOnly.has(idToHex(n.id)))).toEqual([]);
    // Two pings of 4 s each (past the p99.9 of the delay): silence is then unreachability, not a lost datagram.
    const answered = await Promise.all([...named.values()].map(async (n) => {
      for (let attempt = 0; attempt < 2; attempt++) {
        if ((await probe.rpc.query(n, 'ping', { id: probe.id }, { hardTimeoutMs: 4_000 })).kind === 'response') return true;
      }
      return false;
    }));
    const silent = answered.filter((a) => !a).length / answered.length;
    expect(silent).toBeGreaterThan(PRESETS.internet.unreachable! - 0.12);
    expect(silent).toBeLessThan(PRESETS.internet.unreachable! + 0.12);
  }, 40_000);

  it('has its profiles: whole-table nodes answer find_node with far more than 8 contacts, read-only nodes answer nothing', async () => {
    const wholeTable = net.nodes.find((_, i) => net.roles[i] === 'whole-table')!;
    const reply = await probe.rpc.query(wholeTable.local, 'find_node', { id: probe.id, target: probe.id }, PATIENT);
    expect(reply.kind === 'response' ? reply.response.r.nodes?.length : 0).toBeGreaterThan(20);
    const readOnly = net.nodes.find((_, i) => net.roles[i] === 'read-only')!;
    expect((await probe.rpc.query(readOnly.local, 'ping', { id: probe.id }, { hardTimeoutMs: 2_000 })).kind).toBe('timeout');
  }, 30_000);

  it('hands out routers as its bootstrap addresses, not nodes: 16 nodes in turn whatever the target, 3 to an IP that asked before, no peers', async () => {
    // Two more clients, each its own IP: the router counts queries per IP.
    const [a, b] = await Promise.all([DhtNode.create({ address: '127.0.0.2' }), DhtNode.create({ address: '127.0.0.3' })]);
    try {
      const router = net.bootstrap[1]!;
      const target = net.torrents[0]!.infoHash;
      const ask = async (from: DhtNode): Promise<NodeInfo[] | undefined> => {
        const reply = await from.rpc.query(router, 'get_peers', { id: from.id, info_hash: target }, PATIENT);
        if (reply.kind !== 'response') return undefined;
        expect(reply.response.r.values).toBeUndefined();
        expect(reply.response.r.token).toBeUndefined();
        expect(reply.response.ip).toEqual(from.local);
        return reply.response.r.nodes;
      };
      const first = await ask(a);
      const second = await ask(b);
      const again = await ask(a);
      expect(first).toHaveLength(16);
      expect(second).toHaveLength(16);
      // The same target twice: a DHT node would name its same closest contacts; the router names the next ones.
      const named = new Set(first!.map((n) => idToHex(n.id)));
      expect(second!.filter((n) => named.has(idToHex(n.id)))).toEqual([]);
      expect(again).toHaveLength(3);
      // Its nodes are the network's: answering nodes, and some that have left since (churn).
      const live = new Set(net.live.map((n) => idToHex(n.id)));
      const alive = first!.concat(second!).filter((n) => live.has(idToHex(n.id))).length;
      expect(alive).toBeGreaterThan(16);
      expect(alive).toBeLessThan(32);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 30_000);

  it('a lookup still finds every peer of a torrent', async () => {
    await probe.bootstrap(net.bootstrap.slice(0, 1));
    const torrent = net.torrents[0]!;
    const peers = await peersFound(probe, torrent.infoHash);
    expect(torrent.peers.every((p) => peers.has(`${p.address}:${p.port}`))).toBe(true);
  }, 60_000);
});

describe('seeded local networks', () => {
  it('the same seed gives the same network: IDs, roles, unreachable contacts, torrents', async () => {
    const shape = (net: Testnet): unknown => ({
      ids: net.nodes.map((n) => idToHex(n.id)),
      roles: net.roles,
      unreachable: net.unreachable.map((n) => `${idToHex(n.id)}@${n.address}:${n.port}`),
      torrents: net.torrents.map((t) => idToHex(t.infoHash)),
    });
    const a = await Testnet.start({ nodes: 60, conditions: 'hostile', seed: 99 });
    const first = shape(a);
    await a.close();
    const b = await Testnet.start({ nodes: 60, conditions: 'hostile', seed: 99 });
    const second = shape(b);
    await b.close();
    const c = await Testnet.start({ nodes: 60, conditions: 'hostile', seed: 100 });
    const third = shape(c);
    await c.close();
    expect(second).toEqual(first);
    expect(third).not.toEqual(first);
  });
});

describe('the hostile preset', () => {
  let net: Testnet;
  let probe: DhtNode;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 200, torrents: 2, conditions: { ...PRESETS.hostile, latency: { medianMs: 20, p95Ms: 100 } }, seed: 12 });
    probe = await client(net);
  });
  afterAll(async () => {
    await probe?.close();
    await net?.close();
  });

  const liar = (role: string): DhtNode => net.nodes.find((_, i) => net.roles[i] === role)!;

  it('has nodes that answer with a wrong ID, refer to nodes that do not exist, and hand out fake peers', async () => {
    const wrong = liar('wrong-id');
    const pong = await probe.rpc.query(wrong.local, 'ping', { id: probe.id }, PATIENT);
    expect(pong.kind === 'response' && !idEquals(pong.response.r.id, wrong.id)).toBe(true);

    const target = net.torrents[0]!.infoHash;
    const referrer = liar('bogus-referrals');
    const referral = await probe.rpc.query(referrer.local, 'find_node', { id: probe.id, target }, PATIENT);
    const referred = referral.kind === 'response' ? referral.response.r.nodes ?? [] : [];
    expect(referred.length).toBe(8);
    // Right next to the target (16 bytes shared), where no real node is.
    for (const n of referred) expect(Buffer.from(n.id.subarray(0, 16)).equals(Buffer.from(target.subarray(0, 16)))).toBe(true);
    const real = new Set(net.nodes.map((n) => `${n.local.address}:${n.local.port}`));
    expect(referred.filter((n) => real.has(`${n.address}:${n.port}`))).toEqual([]);

    const faker = liar('fake-peers');
    const values = await probe.rpc.query(faker.local, 'get_peers', { id: probe.id, info_hash: target }, PATIENT);
    const fake = values.kind === 'response' ? values.response.r.values ?? [] : [];
    expect(fake.length).toBe(8);
    const announced = new Set(net.torrents.flatMap((t) => t.peers.map((p) => `${p.address}:${p.port}`)));
    expect(fake.filter((p) => announced.has(`${p.address}:${p.port}`))).toEqual([]);
  }, 30_000);

  it('a lookup through it still finds every real peer of a torrent', async () => {
    await probe.bootstrap(net.bootstrap.slice(0, 1));
    const torrent = net.torrents[1]!;
    const peers = await peersFound(probe, torrent.infoHash);
    expect(torrent.peers.every((p) => peers.has(`${p.address}:${p.port}`))).toBe(true);
  }, 60_000);
});
