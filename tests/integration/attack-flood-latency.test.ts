/**
 * Issue 14 item 1, the flood's side: BEP 33 scrapes of a 1,000-peer hash from 80 sources, each
 * under its 5/s budget (360/s in all), must leave honest pings where they are without the flood.
 * (Measured on the code the issue was filed against: 13% of the pings lost, p50 536 ms, was 2 ms.)
 *
 * The flooders run in a process of their own, as attackers do; the honest pingers share the node's
 * process. The same pingers are timed first without the flood, then with it, in the same run. What
 * is asserted is what load on a shared machine does not move: no honest ping lost or shed, the
 * scrapes answered (not shed wholesale), and the median round trip within a few milliseconds of the
 * quiet one. The p99 is printed and is the benchmark's target (`npm run bench -- --only attacks`).
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { DhtNode } from '../../src/dht/node.js';
import { randomId } from '../../src/wire/id.js';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/krpc.js';

const PHASE_MS = 4_000;
const PINGERS = 10;
const nodes: DhtNode[] = [];

afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

/** 80 sockets, each a BEP 33 scrape 4.5 times a second for `ms`; prints "ready", then "sent N" and exits. */
const FLOODER = `
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
const [port, host, infoHashHex, ms] = process.argv.slice(1);
const infoHash = Buffer.from(infoHashHex, 'hex');
let replies = 0;
const sockets = await Promise.all(Array.from({ length: 80 }, (_, i) => new Promise((resolve) => {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (bytes) => { if (bytes.includes('1:y1:r')) replies++; });
  socket.bind(0, '127.0.99.' + (i + 1), () => resolve(socket));
})));
let sent = 0;
const query = (i) => Buffer.concat([Buffer.from('d1:ad2:id20:'), randomBytes(20), Buffer.from('9:info_hash20:'), infoHash,
  Buffer.from('6:scrapei1ee1:q9:get_peers1:t2:'), Buffer.from([i, sent & 255]), Buffer.from('1:y1:qe')]);
console.log('ready');
const timers = sockets.map((socket, i) => setInterval(() => { sent++; socket.send(query(i), Number(port), host); }, 1000 / 4.5));
setTimeout(() => { timers.forEach(clearInterval); setTimeout(() => { sockets.forEach((s) => s.close()); console.log('sent ' + sent + ' replies ' + replies); }, 300); }, Number(ms));
`;

async function startFlood(node: DhtNode, infoHash: Uint8Array, ms: number): Promise<Promise<{ sent: number; replies: number }>> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, String(node.local.port), node.local.address, Buffer.from(infoHash).toString('hex'), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const exited = new Promise<{ sent: number; replies: number }>((resolve) => child.once('exit', () => {
    const match = /sent (\d+) replies (\d+)/.exec(out);
    resolve({ sent: Number(match?.[1] ?? 0), replies: Number(match?.[2] ?? 0) });
  }));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('ready')) resolve(); });
    child.once('exit', () => reject(new Error('the flooder exited before it was ready')));
  });
  return exited;
}

/** Round trips (ms) of honest pings: PINGERS sockets, each 4 a second for `ms`; and how many went unanswered. */
async function honestPings(node: DhtNode, ms: number): Promise<{ rtts: number[]; lost: number }> {
  const results = await Promise.all(Array.from({ length: PINGERS }, async (_, p) => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, `127.98.${p}.1`, () => resolve()));
    const sentAt = new Map<number, number>();
    const rtts: number[] = [];
    socket.on('message', (bytes) => {
      const parsed = decodeMessage(bytes);
      if (!parsed.ok || parsed.message.y !== 'r') return;
      const t = (parsed.message.t[0]! << 8) | parsed.message.t[1]!;
      const at = sentAt.get(t);
      if (at !== undefined) { rtts.push(performance.now() - at); sentAt.delete(t); }
    });
    const id = randomId();
    let t = 0;
    const timer = setInterval(() => {
      t++;
      sentAt.set(t, performance.now());
      socket.send(encodeMessage(makeQuery(new Uint8Array([t >> 8, t & 255]), 'ping', { id })), node.local.port, node.local.address);
    }, 250);
    await new Promise((resolve) => setTimeout(resolve, ms));
    clearInterval(timer);
    // The last ping gets a second to come back: a ping slower than that counts as lost.
    for (let waited = 0; sentAt.size > 0 && waited < 1_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return { rtts, lost: sentAt.size };
  }));
  return { rtts: results.flatMap((r) => r.rtts), lost: results.reduce((sum, r) => sum + r.lost, 0) };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

describe('a BEP 33 scrape flood under every per-source limit leaves honest pings as they were (issue 14)', () => {
  it('no honest ping lost or shed, the scrapes answered, the median round trip as without the flood', async () => {
    const node = await DhtNode.create({ address: '127.0.97.1' }); // default options: every limit on
    nodes.push(node);
    const infoHash = randomId();
    for (let i = 0; i < 1_000; i++) node.peers.announce(infoHash, { address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 6881 }, i % 4 === 0);
    const quiet = await honestPings(node, PHASE_MS);
    const flood = await startFlood(node, infoHash, PHASE_MS + 500);
    const flooded = await honestPings(node, PHASE_MS);
    const { sent, replies } = await flood;
    const summary = {
      quiet: { pings: quiet.rtts.length, lost: quiet.lost, p50: quantile(quiet.rtts, 0.5), p99: quantile(quiet.rtts, 0.99) },
      flood: { pings: flooded.rtts.length, lost: flooded.lost, p50: quantile(flooded.rtts, 0.5), p99: quantile(flooded.rtts, 0.99) },
      scrapes: { sent, replies, shed: node.rpc.counters.dropped.shed, refused: node.rpc.counters.dropped.refused },
    };
    console.log(JSON.stringify(summary));
    expect(quiet.lost).toBe(0);
    expect(flooded.lost).toBe(0);
    expect(flooded.rtts.length).toBeGreaterThanOrEqual(PINGERS * (PHASE_MS / 250 - 1));
    // The flood was the issue's: ~360 scrapes/s, within every source's budget, and answered.
    expect(sent).toBeGreaterThan(300 * (PHASE_MS / 1000));
    expect(summary.scrapes.refused).toBe(0);
    expect(replies).toBeGreaterThan(sent * 0.9);
    expect(summary.flood.p50).toBeLessThan(Math.max(2 * summary.quiet.p50, summary.quiet.p50 + 5));
  }, 30_000);
});
