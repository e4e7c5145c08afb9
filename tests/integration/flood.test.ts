import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, makeQuery } from '../../src/krpc.js';
import { DhtNode } from '../../src/node.js';
import { SOURCE_LIMIT_DEFAULTS } from '../../src/source-limiter.js';
import type { Endpoint } from '../../src/transport.js';
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
      'packets read by the target': c.packetsIn,
      'lost in the kernel (socket buffer full)': sent - (c.packetsIn - 1 - clientOutcomes.length),
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
