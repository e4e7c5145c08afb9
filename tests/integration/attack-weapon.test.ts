/**
 * Issue 14 item 5: the crawler and the lookup as a weapon. Hostile nodes on loopback answer every
 * query with `nodes` lists that name one victim address, which never answers, on 300 ports (and
 * each other, so that the crawl keeps coming back to them). Every datagram our node sends goes
 * through a packet tap that timestamps those aimed at the victim. The target: a third-party address
 * named by hostile nodes gets at most one query per 10 s from us, all ports together.
 * (Measured on the code before: 777 packets to the victim in 60 s, 139 in one second.)
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { crawl } from '../../src/crawl/crawl.js';
import { findNode } from '../../src/dht/lookup.js';
import { DhtNode } from '../../src/dht/node.js';
import { withPacketTap } from '../../src/net/packet-tap.js';
import { udpTransport } from '../../src/net/transport.js';
import type { NodeInfo } from '../../src/wire/compact.js';
import { randomId } from '../../src/wire/id.js';
import { decodeMessage, encodeMessage, makeResponse } from '../../src/wire/krpc.js';
import { Prng } from '../helpers/prng.js';

const VICTIM = '127.0.92.1';
const VICTIM_PORTS = Array.from({ length: 300 }, (_, i) => 20_000 + i * 7);
const HOSTILES = 6;
const RUN_MS = 22_000;
const TRICKLE_MS = 10_000;

interface Hostiles { infos: NodeInfo[]; queries: () => number; close: () => Promise<void> }

/** Nodes that answer everything, naming the victim on random ports of its 300 (and each other). */
async function startHostiles(rng: Prng): Promise<Hostiles> {
  const sockets: dgram.Socket[] = [];
  const infos: NodeInfo[] = [];
  let queries = 0;
  for (let i = 0; i < HOSTILES; i++) {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, `127.0.91.${i + 1}`, () => resolve()));
    sockets.push(socket);
    infos.push({ id: randomId(), address: `127.0.91.${i + 1}`, port: socket.address().port });
  }
  sockets.forEach((socket, i) => {
    socket.on('message', (bytes, from) => {
      const parsed = decodeMessage(bytes);
      if (!parsed.ok || parsed.message.y !== 'q') return;
      queries++;
      const nodes: NodeInfo[] = [infos[(i + 1) % HOSTILES]!];
      for (let n = 0; n < 7; n++) nodes.push({ id: randomId(), address: VICTIM, port: VICTIM_PORTS[rng.int(VICTIM_PORTS.length)]! });
      const body = parsed.message.q === 'sample_infohashes'
        ? { id: infos[i]!.id, nodes, samples: [], interval: 0, num: 0 }
        : { id: infos[i]!.id, nodes, token: new Uint8Array(4) };
      socket.send(encodeMessage(makeResponse(parsed.message.t, body)), from.port, from.address);
    });
  });
  return {
    infos,
    queries: () => queries,
    close: async () => { await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))); },
  };
}

/** Our node, with every datagram it sends to the victim timestamped. */
async function tappedNode(address: string): Promise<{ node: DhtNode; sentToVictim: number[] }> {
  const sentToVictim: number[] = [];
  const transport = withPacketTap(await udpTransport({ address, port: 0 }), (direction, _bytes, peer) => {
    if (direction === 'sent' && peer.address === VICTIM) sentToVictim.push(Date.now());
  });
  return { node: await DhtNode.create({ transport }), sentToVictim };
}

/** The most timestamps in any window of `ms` (sliding). */
function densest(times: readonly number[], ms: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Timing slack: a query leaves through our send pacing a few ms after the guard let it go. */
const WINDOW_MS = TRICKLE_MS - 500;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe('hostile nodes naming one silent address on 300 ports', () => {
  it('our crawler queries that address at most once per 10 s', async () => {
    const hostiles = await startHostiles(new Prng(14));
    cleanup.push(hostiles.close);
    const { node, sentToVictim } = await tappedNode('127.0.93.1');
    cleanup.push(() => node.close());
    const run = crawl(node, { bootstrap: hostiles.infos, timeoutMs: RUN_MS });
    const report = await run.result;
    console.log(`crawler: ${sentToVictim.length} packets to the victim in ${RUN_MS} ms, densest 10 s: ${densest(sentToVictim, WINDOW_MS)}; hostiles answered ${hostiles.queries()} queries; guard held ${node.rpc.counters.guarded?.held}, refused ${node.rpc.counters.guarded?.refused}`);
    expect(hostiles.queries()).toBeGreaterThan(30); // the crawl kept talking to the hostile nodes
    expect(report).toBeDefined();
    expect(sentToVictim.length).toBeGreaterThan(0); // a first probe: a named address may be a real node
    expect(densest(sentToVictim, WINDOW_MS)).toBe(1);
    expect(sentToVictim.length).toBeLessThanOrEqual(1 + Math.ceil(RUN_MS / TRICKLE_MS));
  }, RUN_MS + 15_000);

  it('back-to-back lookups through the hostile nodes query it at most once per 10 s', async () => {
    const hostiles = await startHostiles(new Prng(15));
    cleanup.push(hostiles.close);
    const { node, sentToVictim } = await tappedNode('127.0.93.2');
    cleanup.push(() => node.close());
    for (const info of hostiles.infos) node.table.recordResponse(info);
    const started = Date.now();
    let lookups = 0;
    while (Date.now() - started < 12_000) {
      await node.lookup(randomId(), findNode).result;
      lookups++;
    }
    console.log(`lookups: ${lookups} in 12 s, ${sentToVictim.length} packets to the victim, densest 10 s: ${densest(sentToVictim, WINDOW_MS)}`);
    expect(lookups).toBeGreaterThan(1);
    expect(densest(sentToVictim, WINDOW_MS)).toBe(1);
  }, 30_000);
});
