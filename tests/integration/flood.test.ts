import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, makeQuery, makeResponse, type QueryArgsByMethod, type QueryMethod } from '../../src/wire/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { MAX_REPLY_BYTES, Rpc } from '../../src/net/rpc.js';
import { SOURCE_LIMIT_DEFAULTS } from '../../src/net/source-limiter.js';
import type { Endpoint } from '../../src/net/transport.js';
import { memoryTransport, type MemoryTransport } from '../fuzz/harness.js';
import { Prng } from '../helpers/prng.js';

/**
 * A query flood from many loopback addresses (127.50.x.y) at one node running the default source
 * limit, while a well-behaved node keeps asking it one question every 100 ms.
 */

const FLOODERS = 200;
const PACKETS_EACH = 250;

interface Flooder { socket: dgram.Socket; address: string; replies: number; bytesIn: number }

async function bind(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => { socket.off('error', reject); resolve(); });
  });
  return socket;
}

/** What one flooder sends: mostly valid queries with a fresh random ID each time, some garbage. */
function floodPacket(rng: Prng, n: number): Uint8Array {
  const t = new Uint8Array([n >> 8, n & 255]);
  const r = rng.next();
  if (r < 0.4) return encodeMessage(makeQuery(t, 'get_peers', { id: rng.bytes(20), info_hash: rng.bytes(20) }));
  if (r < 0.7) return encodeMessage(makeQuery(t, 'find_node', { id: rng.bytes(20), target: rng.bytes(20) }));
  if (r < 0.9) return encodeMessage(makeQuery(t, 'ping', { id: rng.bytes(20) }));
  return rng.bytes(1 + rng.int(200));
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

describe('a query flood from 200 addresses', () => {
  const rng = new Prng(0xf100d);
  const flooders: Flooder[] = [];
  let target: DhtNode;
  let client: DhtNode;
  const figures: Record<string, number> = {};
  const clientOutcomes: { during: boolean; answered: boolean }[] = [];

  beforeAll(async () => {
    target = await DhtNode.create({ address: '127.49.0.1' });
    client = await DhtNode.create({ address: '127.48.0.1' });
    for (let i = 0; i < FLOODERS; i++) {
      const address = `127.50.${i >> 6}.${(i & 63) + 1}`;
      const f: Flooder = { socket: await bind(address), address, replies: 0, bytesIn: 0 };
      f.socket.on('message', (msg) => { f.replies++; f.bytesIn += msg.length; });
      flooders.push(f);
    }
  });
  afterAll(async () => {
    await Promise.all(flooders.map((f) => new Promise<void>((resolve) => f.socket.close(() => resolve()))));
    await target?.close();
    await client?.close();
  });

  it('bans the flooders, keeps its memory bounded, and still answers the well-behaved node', async () => {
    // The client is a real node the target knows: it has queried the target and answered its ping.
    expect((await client.query(target.local, 'ping', { id: client.id })).kind).toBe('response');
    const to: Endpoint = target.local;
    const rssBefore = rssMb();

    // One question every 100 ms, during the flood and for a second after it; each has the usual
    // 3-second timeout to be answered in.
    let flooding = true;
    const questions: Promise<void>[] = [];
    const ticker = setInterval(() => {
      const during = flooding;
      questions.push(client.query(to, 'find_node', { id: client.id, target: rng.bytes(20) }).then((outcome) => {
        clientOutcomes.push({ during, answered: outcome.kind === 'response' });
      }));
    }, 100);

    // The flood: the flooders take turns, 24 datagrams per turn of the event loop (about what one
    // turn reads), so that what is sent is read rather than lost in the kernel's socket buffer.
    let sent = 0;
    for (let i = 0; sent < FLOODERS * PACKETS_EACH; i++) {
      const f = flooders[i % FLOODERS]!;
      f.socket.send(floodPacket(rng, sent++), to.port, to.address);
      if (sent % 24 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // Let the last datagrams be read, then keep asking for one more second.
    await new Promise((resolve) => setTimeout(resolve, 200));
    flooding = false;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    clearInterval(ticker);
    await Promise.all(questions);

    const c = target.rpc.counters;
    const limiter = target.limiter!;
    const flooderEntries = target.table.all().filter((e) => e.address.startsWith('127.50.')).length;
    Object.assign(figures, {
      'packets sent by flooders': sent,
      'flooders\' packets read by the target': c.packetsIn - client.rpc.counters.packetsOut,
      'lost in the kernel (socket buffer full)': sent - (c.packetsIn - client.rpc.counters.packetsOut),
      'refused by the source limit': c.dropped.refused,
      'queries read': Object.values(c.queriesIn).reduce((a, b) => a + b, 0),
      'queries shed (send budget spent)': c.dropped.shed,
      'replies sent': c.packetsOut,
      'replies received by flooders': flooders.reduce((n, f) => n + f.replies, 0),
      'bytes sent to flooders': flooders.reduce((n, f) => n + f.bytesIn, 0),
      'flooders banned': limiter.counters.bans,
      'sources tracked': limiter.trackedCount,
      'bans held': limiter.banCount,
      'table entries of flooders': flooderEntries,
      'client questions answered during the flood': clientOutcomes.filter((o) => o.during && o.answered).length,
      'client questions asked during the flood': clientOutcomes.filter((o) => o.during).length,
      'client questions answered after': clientOutcomes.filter((o) => !o.during && o.answered).length,
      'client questions asked after': clientOutcomes.filter((o) => !o.during).length,
      'RSS before (MB)': rssBefore,
      'RSS after (MB)': rssMb(),
    });
    console.log(Object.entries(figures).map(([k, v]) => `  ${k.padEnd(44)} ${v}`).join('\n'));

    // Every flooder ran past its budget and was banned; the tables stayed under their caps.
    expect(limiter.counters.bans).toBe(FLOODERS);
    expect(limiter.trackedCount).toBeLessThanOrEqual(SOURCE_LIMIT_DEFAULTS.maxSources);
    expect(limiter.banCount).toBeLessThanOrEqual(SOURCE_LIMIT_DEFAULTS.maxBans);
    // No flooder got more answers than its budget allows (burst, plus what the rate earns meanwhile).
    for (const f of flooders) expect(f.replies).toBeLessThanOrEqual(SOURCE_LIMIT_DEFAULTS.burst + 10);
    // Banned flooders left the routing table; the client, which answers, is still in it.
    expect(flooderEntries).toBe(0);
    expect(target.table.get(client.id)).toBeDefined();
    // The well-behaved node was answered.
    expect(figures['client questions answered after']).toBe(figures['client questions asked after']);
    expect(figures['client questions answered during the flood']!).toBeGreaterThanOrEqual(figures['client questions asked during the flood']! * 0.8);
    // Memory: the flood cost at most a few tens of megabytes, whatever its size.
    expect(figures['RSS after (MB)']! - rssBefore).toBeLessThan(64);
  });

  it('every datagram read is accounted for', () => {
    const c = target.rpc.counters;
    const handled = Object.values(c.queriesIn).reduce((a, b) => a + b, 0) + c.responses + c.errors;
    const d = c.dropped;
    const dropped = d.oversized + d.refused + d.undecodable + d.invalid + d.unmatched + d['wrong-source'];
    expect(handled + dropped).toBe(c.packetsIn);
  });
});

/** The RPC layer's share of flood resilience, driven by hand through an in-memory transport. */
describe('the RPC layer under pressure', () => {
  const rng = new Prng(0x5afe);
  const host = { address: '10.0.0.9', port: 6881 };
  const open: DhtNode[] = [];
  afterAll(async () => { await Promise.all(open.map((n) => n.close())); });

  async function nodeOn(options: Parameters<typeof DhtNode.create>[0] = {}): Promise<{ node: DhtNode; wire: MemoryTransport }> {
    const wire = memoryTransport({ address: '10.0.0.1', port: 6881 });
    const node = await DhtNode.create({ ...options, transport: wire, maintenanceIntervalMs: 2 ** 31 - 1 });
    open.push(node);
    return { node, wire };
  }

  const query = <M extends QueryMethod>(method: M, args: QueryArgsByMethod[M], t = rng.bytes(2)): Uint8Array => encodeMessage(makeQuery(t, method, args));

  it('replies to our own queries are read however many, while the same host\'s queries keep to its budget', async () => {
    const { node, wire } = await nodeOn({ sourceLimit: { rate: 1, burst: 5 } });
    const outcomes = Array.from({ length: 20 }, () => node.rpc.query(host, 'ping', { id: node.id }));
    const asked = wire.sent.splice(0).map((s) => decodeMessage(s.bytes));
    expect(asked).toHaveLength(20);
    // The host floods us with queries meanwhile: five are read, the rest refused, and it is banned.
    for (let i = 0; i < 10; i++) node.rpc.receive(query('ping', { id: rng.bytes(20) }), host);
    expect(node.rpc.counters.dropped.refused).toBe(5);
    expect(node.limiter!.isBanned(host.address)).toBe(true);
    // Yet every reply to our twenty pings is read.
    for (const q of asked) if (q.ok) node.rpc.receive(encodeMessage(makeResponse(q.message.t, { id: rng.bytes(20) })), host);
    expect((await Promise.all(outcomes)).every((o) => o.kind === 'response')).toBe(true);
    expect(node.rpc.counters.dropped.refused).toBe(5);
  });

  it('when its send budget is spent, a node sheds strangers\' queries but answers nodes it knows', async () => {
    const { node, wire } = await nodeOn({ rpc: { sendRate: 1, sendBurst: 1 }, sourceLimit: false });
    const known = { id: rng.bytes(20), address: '10.0.0.7', port: 6881 };
    node.table.recordResponse(known);
    const stranger = (i: number): Endpoint => ({ address: `10.1.0.${i}`, port: 6881 });
    // The first stranger's reply takes the one token; the ping that checks whether it answers waits.
    node.rpc.receive(query('ping', { id: rng.bytes(20) }), stranger(1));
    expect(wire.sent).toHaveLength(1);
    expect(node.rpc.backlogged).toBe(true);
    // From now on strangers are shed...
    for (let i = 2; i < 12; i++) node.rpc.receive(query('find_node', { id: rng.bytes(20), target: rng.bytes(20) }), stranger(i));
    expect(node.rpc.counters.dropped.shed).toBe(10);
    // ...while the known node's query is answered (queued behind one packet, not behind ten).
    node.rpc.receive(query('ping', { id: known.id }), known);
    expect(node.rpc.counters.dropped.shed).toBe(10);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(wire.sent.filter((s) => s.to.address === known.address)).toHaveLength(1);
  });

  it('an encoded reply over the cap is not sent, and is counted', () => {
    const wire = memoryTransport({ address: '10.0.0.1', port: 6881 });
    const rpc = new Rpc(wire);
    rpc.respond(host, rng.bytes(2), { id: rng.bytes(20), samples: Array.from({ length: 60 }, () => rng.bytes(20)) });
    expect(wire.sent).toHaveLength(0);
    expect(rpc.counters.dropped['reply-too-large']).toBe(1);
    rpc.respond(host, rng.bytes(2), { id: rng.bytes(20), samples: Array.from({ length: 20 }, () => rng.bytes(20)) });
    expect(wire.sent).toHaveLength(1);
    void rpc.close();
  });

  it('a listener that throws is counted, never thrown at the socket', () => {
    const wire = memoryTransport({ address: '10.0.0.1', port: 6881 });
    const rpc = new Rpc(wire);
    rpc.onQuery(() => { throw new Error('a bug'); });
    expect(() => rpc.receive(query('ping', { id: rng.bytes(20) }), host)).not.toThrow();
    expect(rpc.counters.dropped['handler-error']).toBe(1);
    void rpc.close();
  });
});

function isQuery(bytes: Uint8Array): boolean {
  const m = decodeMessage(bytes);
  return m.ok && m.message.y === 'q';
}

/** Replies never exceed MAX_REPLY_BYTES, whatever is stored and whatever is asked; garbage gets nothing. */
describe('no amplification', () => {
  const rng = new Prng(0xa3f);
  const open: DhtNode[] = [];
  afterAll(async () => { await Promise.all(open.map((n) => n.close())); });

  it.each([
    ['IPv4', '10.0.0.1', (i: number) => `10.9.${i >> 8}.${i & 255}`],
    ['IPv6', '2001:db8::1', (i: number) => `2001:db8:9::${(i + 1).toString(16)}`],
  ])('%s: get_peers for a torrent of 1,000 peers, with scrape, noseed, want, a 32-byte t, and every other query', async (_family, local, address) => {
    const wire = memoryTransport({ address: local, port: 6881 });
    const node = await DhtNode.create({ transport: wire, maintenanceIntervalMs: 2 ** 31 - 1, sourceLimit: false });
    open.push(node);
    for (let i = 0; i < 200; i++) node.table.recordResponse({ id: rng.bytes(20), address: address(1000 + i), port: 6881 });
    const infoHash = rng.bytes(20);
    for (let i = 0; i < 1_000; i++) {
      node.peers.announce(infoHash, { address: address(i), port: 7000 }, i % 2 === 0);
      node.peers.announce(infoHash, { address: `10.8.${i >> 8}.${i & 255}`, port: 7000 }, i % 3 === 0);
      node.peers.announce(rng.bytes(20), { address: address(i), port: 7000 }, false);
    }
    const from = { address: address(5000), port: 5000 };
    const t = rng.bytes(32);
    const asks: Uint8Array[] = [];
    for (const scrape of [false, true]) for (const noseed of [false, true]) {
      asks.push(encodeMessage(makeQuery(t, 'get_peers', { id: rng.bytes(20), info_hash: infoHash, scrape, noseed, want: ['n4', 'n6'] }, { v: rng.bytes(4) })));
    }
    asks.push(encodeMessage(makeQuery(t, 'find_node', { id: rng.bytes(20), target: infoHash, want: ['n4', 'n6'] })));
    asks.push(encodeMessage(makeQuery(t, 'sample_infohashes', { id: rng.bytes(20), target: infoHash })));
    asks.push(encodeMessage(makeQuery(t, 'announce_peer', { id: rng.bytes(20), info_hash: infoHash, port: 1, token: rng.bytes(64) })));
    // A malformed query with the longest method name we read, in bytes that JSON escapes to six chars each.
    asks.push(new Uint8Array(Buffer.concat([Buffer.from('d1:ad2:id20:'), Buffer.from(rng.bytes(20)), Buffer.from('e1:q64:'), Buffer.alloc(64, 1), Buffer.from('1:t32:'), Buffer.from(t), Buffer.from('1:y1:qe')])));
    for (const ask of asks) node.rpc.receive(ask, from);
    // Everything sent back, less the ping that checks whether the new querier answers.
    const replies = wire.sent.splice(0).filter((s) => s.to.address === from.address && !isQuery(s.bytes));
    expect(replies).toHaveLength(asks.length);
    for (const r of replies) expect(r.bytes.length).toBeLessThanOrEqual(MAX_REPLY_BYTES);
    expect(node.rpc.counters.dropped['reply-too-large']).toBe(0);
    // The budget went to peers, not to nothing: every plain get_peers reply carried values.
    const values = replies.slice(0, 4).map((r) => { const m = decodeMessage(r.bytes); return m.ok && m.message.y === 'r' ? m.message.r.values?.length ?? 0 : 0; });
    expect(Math.min(...values)).toBeGreaterThan(0);
  });

  it('nothing is sent in answer to 10,000 undecodable datagrams, or to responses nobody asked for', async () => {
    const wire = memoryTransport({ address: '10.0.0.1', port: 6881 });
    const node = await DhtNode.create({ transport: wire, maintenanceIntervalMs: 2 ** 31 - 1, sourceLimit: false });
    open.push(node);
    for (let i = 0; i < 10_000; i++) {
      const from = { address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 1 + (i % 65535) };
      node.rpc.receive(i % 2 === 0 ? rng.bytes(1 + rng.int(300)) : encodeMessage(makeResponse(rng.bytes(2), { id: rng.bytes(20) })), from);
    }
    expect(wire.sent).toHaveLength(0);
    expect(node.rpc.counters.packetsOut).toBe(0);
  });
});
