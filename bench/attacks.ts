/**
 * Issue 14's "attacks" section: what attackers who stay under every per-source limit cost a node
 * with default options. Each figure is measured in this run, on loopback, against a reference from
 * the same run (a ping's CPU, the no-attack ping latency, the honest peers and nodes present):
 *
 * - CPU per query type at 10 / 1,000 / 10,000 stored peers, in microseconds and in pings;
 * - a BEP 33 scrape flood from 80 sources, each under 5 queries/s: honest pings p50/p99 against
 *   the same pings with no flood;
 * - a BitTorrent peer that floods ut_metadata requests and never reads: memory our seeder and our
 *   metadata fetcher retain (after a full GC) during the flood;
 * - the table share of one IP on 40 ports (40: its pings stay within one source's burst of 50);
 * - the honest share of a torrent's peers after 3 IPs announce 1,020 ports;
 * - packets our crawler sends to a silent address that hostile nodes name on 300 ports.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DhtNode,
  PeerStore,
  Seeder,
  crawl,
  decodeMessage,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodePeerMessage,
  encodeReserved,
  encodeUtMetadata,
  fetchMetadata,
  makePeerId,
  makeQuery,
  makeResponse,
  randomId,
  sha1,
  syntheticInfo,
  udpTransport,
  type Endpoint,
  type NodeInfo,
  type Transport,
} from '../dist/index.js';
import { heading, median, num, quantile, table } from './report.js';

export interface AttackTarget { figure: string; target: string; measured: string; met: boolean }
export interface AttackOptions { quick?: boolean; log?: (line: string) => void }

const MB = 1024 * 1024;

export async function runAttacksBench(options: AttackOptions = {}): Promise<AttackTarget[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const quick = options.quick === true;
  const targets: AttackTarget[] = [];
  log(heading('Attacks (issue 14): a node with default options against attackers under every per-source limit'));
  targets.push(...(await cpuPerQuery(log)));
  targets.push(...(await scrapeFlood(log, quick ? 2_000 : 6_000)));
  targets.push(...(await requestFlood(log, quick ? 1_000 : 2_500)));
  targets.push(...(await tableShare(log)));
  targets.push(...poisoning(log));
  targets.push(...(await thirdParty(log, quick ? 12_000 : 22_000)));
  return targets;
}

// ---- CPU per query ----

/** A transport that sends nowhere; `last` is the last packet the node sent (a reply to read a token from). */
function nullTransport(): Transport & { last: Uint8Array | undefined } {
  return {
    last: undefined,
    send(bytes) { this.last = bytes; },
    onMessage: () => {},
    onSendError: () => {},
    local: () => ({ address: '127.0.0.1', port: 6881 }),
    close: () => Promise.resolve(),
  };
}

async function cpuPerQuery(log: (line: string) => void): Promise<AttackTarget[]> {
  const rows: string[][] = [];
  let worstUs = 0;
  // Size 10 twice: the first pass compiles the handlers (a cold process's first queries pay for the
  // JIT, which is no cost per query) and is not reported.
  for (const [pass, size] of [10, 10, 1_000, 10_000].entries()) {
    const transport = nullTransport();
    const node = await DhtNode.create({
      transport,
      sourceLimit: false,
      cpuBudget: false,
      rpc: { sendRate: 1e9, sendBurst: 1e9, maxSendQueue: 1e9 },
      peerStore: { maxPeersPerTorrent: 10_000 },
    });
    const infoHash = randomId();
    for (let i = 0; i < size; i++) node.peers.announce(infoHash, { address: `10.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}`, port: 6881 }, i % 4 === 0);
    // As many other torrents of one peer each (at most the store's 10,000): what a sample draws from.
    for (let i = 0; i < Math.min(size, 9_999); i++) node.peers.announce(randomId(), { address: `10.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}`, port: 6882 }, false);
    // Each querier's token, from a get_peers of its own (tokens are bound to the IP).
    const tokens = SOURCES.map((from) => {
      node.rpc.receive(encodeMessage(makeQuery(new Uint8Array([0, 0]), 'get_peers', { id: randomId(), info_hash: infoHash })), from);
      const reply = decodeMessage(transport.last!);
      return reply.ok && reply.message.y === 'r' ? reply.message.r.token! : new Uint8Array(8);
    });
    // Each querier keeps its ID from round to round, as the same node would.
    const ids = SOURCES.map(() => randomId());
    const kinds: [string, (t: Uint8Array, i: number, round: number) => Uint8Array][] = [
      ['ping', (t, i) => encodeMessage(makeQuery(t, 'ping', { id: ids[i]! }))],
      ['find_node', (t, i) => encodeMessage(makeQuery(t, 'find_node', { id: ids[i]!, target: randomId() }))],
      ['get_peers', (t, i) => encodeMessage(makeQuery(t, 'get_peers', { id: ids[i]!, info_hash: infoHash }))],
      ['get_peers scrape', (t, i) => encodeMessage(makeQuery(t, 'get_peers', { id: ids[i]!, info_hash: infoHash, scrape: true }))],
      ['sample_infohashes', (t, i) => encodeMessage(makeQuery(t, 'sample_infohashes', { id: ids[i]!, target: randomId() }))],
      // A new port each round: past its share, each announce replaces its host's own oldest peer.
      ['announce_peer', (t, i, round) => encodeMessage(makeQuery(t, 'announce_peer', { id: ids[i]!, info_hash: infoHash, port: 20_000 + round, token: tokens[i]! }))],
    ];
    const us = kinds.map(([, make]) => microsPerQuery(node, make));
    if (pass === 0) { await node.close(); continue; }
    worstUs = Math.max(worstUs, ...us);
    rows.push([`${num(size)} stored peers`, ...us.map((u) => `${num(u, 1)} us (${num(u / us[0]!, 1)}x)`)]);
    await node.close();
  }
  log('\nCPU per admitted query (best of 10 rounds of 500, each from its own address; in pings of the same run). A store of N peers');
  log('holds them for one info-hash (the one asked for and announced to) and N other info-hashes of one peer each (at most 10,000):');
  log(table(['store', 'ping', 'find_node', 'get_peers', 'get_peers scrape', 'sample_infohashes', 'announce_peer'], rows));
  return [{ figure: 'CPU per admitted query, worst type and store size', target: '<= 50 us', measured: `${num(worstUs, 1)} us`, met: worstUs <= 50 }];
}

/** 500 queriers, each on an address of its own. */
const SOURCES: Endpoint[] = Array.from({ length: 500 }, (_, i) => ({ address: `192.0.${(i >> 8) & 255}.${i & 255}`, port: 7000 }));

function microsPerQuery(node: DhtNode, make: (t: Uint8Array, i: number, round: number) => Uint8Array): number {
  let best = Infinity;
  for (let round = 0; round < 10; round++) {
    const packets = SOURCES.map((_, i) => make(new Uint8Array([i >> 8, i & 255]), i, round));
    const before = process.cpuUsage();
    for (let i = 0; i < packets.length; i++) node.rpc.receive(packets[i]!, SOURCES[i]!);
    const spent = process.cpuUsage(before);
    best = Math.min(best, (spent.user + spent.system) / packets.length);
  }
  return best;
}

// ---- Scrape flood ----

async function udp(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return socket;
}

const closeSocket = (s: dgram.Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/**
 * Honest pings of `node` for `ms`: PINGERS sockets, each 4 a second (under the 5/s budget of one source).
 * Round trips of the answered ones, and how many were lost.
 */
async function pingRtts(node: DhtNode, ms: number): Promise<{ rtts: number[]; lost: number }> {
  const results = await Promise.all(Array.from({ length: PINGERS }, (_, i) => pingFrom(node, `127.98.${i}.1`, ms)));
  return { rtts: results.flatMap((r) => r.rtts), lost: results.reduce((sum, r) => sum + r.lost, 0) };
}

async function pingFrom(node: DhtNode, address: string, ms: number): Promise<{ rtts: number[]; lost: number }> {
  const socket = await udp(address);
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
    t = (t + 1) & 0xffff;
    sentAt.set(t, performance.now());
    socket.send(encodeMessage(makeQuery(new Uint8Array([t >> 8, t & 255]), 'ping', { id })), node.local.port, node.local.address);
  }, 250);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await closeSocket(socket);
  return { rtts, lost: sentAt.size };
}

/** Honest pingers: 20 x 4/s, so that a p99 over 6 s rests on about 5 pings, not on the single worst. */
const PINGERS = 20;

/**
 * The flooders live in a process of their own, as attackers do: in ours, their 80 timers and the
 * 373 replies a second they receive would be counted as our node's latency. Each of 80 sockets
 * sends a BEP 33 scrape 4.5 times a second (under the 5/s budget of one source) for `ms`, then the
 * process prints how many it sent and exits.
 */
const FLOODER = `
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
const [port, host, infoHashHex, ms] = process.argv.slice(1);
const infoHash = Buffer.from(infoHashHex, 'hex');
const sockets = await Promise.all(Array.from({ length: 80 }, (_, i) => new Promise((resolve) => {
  const socket = dgram.createSocket('udp4');
  socket.on('message', () => {});
  socket.bind(0, '127.0.99.' + (i + 1), () => resolve(socket));
})));
let sent = 0;
const query = (i) => Buffer.concat([Buffer.from('d1:ad2:id20:'), randomBytes(20), Buffer.from('9:info_hash20:'), infoHash,
  Buffer.from('6:scrapei1ee1:q9:get_peers1:t2:'), Buffer.from([i, sent & 255]), Buffer.from('1:y1:qe')]);
console.log('ready');
const timers = sockets.map((socket, i) => setInterval(() => { sent++; socket.send(query(i), Number(port), host); }, 1000 / 4.5));
setTimeout(() => { timers.forEach(clearInterval); sockets.forEach((s) => s.close()); console.log('sent ' + sent); }, Number(ms));
`;

/** Start the flooders; resolves once their sockets are bound, with a promise of how many scrapes they sent. */
async function startFlood(node: DhtNode, infoHash: Uint8Array, ms: number): Promise<Promise<number>> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, String(node.local.port), node.local.address, Buffer.from(infoHash).toString('hex'), String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('ready')) resolve(); });
    child.once('exit', () => reject(new Error('the flooder exited before it was ready')));
  });
  return new Promise((resolve) => child.once('exit', () => resolve(Number(/sent (\d+)/.exec(out)?.[1] ?? 0))));
}

async function scrapeFlood(log: (line: string) => void, ms: number): Promise<AttackTarget[]> {
  const node = await DhtNode.create({ address: '127.0.97.1' });
  const infoHash = randomId();
  for (let i = 0; i < 1_000; i++) node.peers.announce(infoHash, { address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 6881 }, i % 4 === 0);
  const quiet = await pingRtts(node, ms);
  const floodEnd = await startFlood(node, infoHash, ms + 300);
  const cpuBefore = process.cpuUsage();
  const flooded = await pingRtts(node, ms);
  const cpu = process.cpuUsage(cpuBefore);
  const sent = await floodEnd;
  const counters = node.rpc.counters;
  await node.close();
  const p99Quiet = quantile(quiet.rtts, 0.99);
  const p99Flood = quantile(flooded.rtts, 0.99);
  log(`\nBEP 33 scrape flood: 80 sources x 4.5/s (${num(sent / (ms / 1000))} scrapes/s) of a 1,000-peer hash for ${num(ms / 1000)} s, from another process; honest pings from ${PINGERS} sources, 4/s each:`);
  log(table(['', 'pings answered', 'p50', 'p99'], [
    ['no flood', `${quiet.rtts.length}/${quiet.rtts.length + quiet.lost}`, `${num(median(quiet.rtts), 2)} ms`, `${num(p99Quiet, 2)} ms`],
    ['flood', `${flooded.rtts.length}/${flooded.rtts.length + flooded.lost}`, `${num(median(flooded.rtts), 2)} ms`, `${num(p99Flood, 2)} ms`],
  ]));
  log(`our process's CPU during the flood (node and pingers): ${num(((cpu.user + cpu.system) / 1000 / ms) * 100)}%; banned sources: ${counters.dropped.refused > 0 ? 'some packets refused' : 'none'}, shed ${counters.dropped.shed}`);
  const lost = flooded.lost / Math.max(1, flooded.rtts.length + flooded.lost);
  return [{ figure: 'honest ping p99 under a scrape flood (no-flood p99 same run)', target: 'no-attack p99, none lost', measured: `${num(p99Flood, 2)} ms vs ${num(p99Quiet, 2)} ms, ${num(lost * 100, 1)}% lost`, met: lost === 0 && p99Flood <= Math.max(2 * p99Quiet, p99Quiet + 2) }];
}

// ---- ut_metadata request flood ----

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** Handshake, extension handshake, then ut_metadata requests for piece 0 forever; never reads. */
function flood(socket: Socket, infoHash: Uint8Array, victimId: number, metadataSize?: number): () => number {
  let sent = 0;
  socket.pause();
  socket.on('error', () => socket.destroy());
  socket.write(Buffer.concat([
    encodeHandshake({ reserved: encodeReserved({ extensions: true }), infoHash, peerId: makePeerId() }),
    encodePeerMessage({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: new Map([['ut_metadata', 2]]), ...(metadataSize !== undefined ? { metadataSize } : {}) }) }),
  ]));
  const request = encodePeerMessage({ type: 'extended', id: victimId, payload: encodeUtMetadata({ type: 'request', piece: 0 }) });
  const batch = Buffer.concat(Array.from({ length: 1_500 }, () => request));
  const pump = (): void => {
    while (!socket.destroyed) {
      sent += batch.length;
      if (!socket.write(batch)) { socket.once('drain', pump); return; }
    }
  };
  pump();
  return () => sent;
}

async function peakRetained(base: number, ms: number): Promise<number> {
  let peak = 0;
  for (const end = Date.now() + ms; Date.now() < end;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    peak = Math.max(peak, retained() - base);
  }
  return peak;
}

async function requestFlood(log: (line: string) => void, ms: number): Promise<AttackTarget[]> {
  const info = syntheticInfo({ name: 'flooded', files: [{ path: ['a.bin'], length: 64 * MB }] });
  const infoHash = sha1(info);
  // Against our seeder: each 40-byte request asks for a 16 KiB piece.
  const seeder = await Seeder.start({ address: '127.0.88.12', torrents: [{ info }] });
  let base = retained();
  const attacker = await new Promise<Socket>((resolve) => {
    const socket: Socket = connect({ host: seeder.local.address, port: seeder.local.port }, () => resolve(socket));
  });
  const seederSent = flood(attacker, infoHash, 3);
  const seederPeak = await peakRetained(base, ms);
  attacker.destroy();
  await seeder.close();
  // Against our metadata fetcher: the flooder is the peer we ask.
  const sockets = new Set<Socket>();
  let fetcherSent: () => number = () => 0;
  const server: Server = createServer((socket) => { sockets.add(socket); fetcherSent = flood(socket, infoHash, 1, info.length); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.88.11', resolve));
  const port = (server.address() as { port: number }).port;
  base = retained();
  const fetch = fetchMetadata({ address: '127.0.88.11', port }, infoHash, { timeoutMs: ms + 500 }).catch(() => undefined);
  const fetcherPeak = await peakRetained(base, ms);
  await fetch;
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  log(`\nA peer that floods ut_metadata requests and never reads, ${num(ms / 1000, 1)} s (memory retained after a full GC, peak of samples every 250 ms):`);
  log(table(['victim', 'requests sent by the peer', 'retained', 'our unsent bytes, peak'], [
    ['seeder', `${num(seederSent() / MB, 1)} MB`, `${num(seederPeak / MB, 1)} MB`, `${num(seeder.peakBacklogBytes / 1024)} KB`],
    ['metadata fetcher', `${num(fetcherSent() / MB, 1)} MB`, `${num(fetcherPeak / MB, 1)} MB`, '-'],
  ]));
  const worst = Math.max(seederPeak, fetcherPeak);
  return [{ figure: 'memory one malicious BitTorrent peer costs', target: '<= 8 MB', measured: `${num(worst / MB, 1)} MB`, met: worst <= 8 * MB }];
}

// ---- Table share of one IP ----

async function tableShare(log: (line: string) => void): Promise<AttackTarget[]> {
  const node = await DhtNode.create({ address: '127.0.95.1' });
  const sockets: dgram.Socket[] = [];
  /** A node that pings ours, answers its ping back (how a querier enters the table), and is done. */
  const join = async (address: string): Promise<void> => {
    const socket = await udp(address);
    sockets.push(socket);
    const id = randomId();
    const pinged = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      socket.on('message', (bytes, from) => {
        const parsed = decodeMessage(bytes);
        if (!parsed.ok || parsed.message.y !== 'q') return;
        socket.send(encodeMessage(makeResponse(parsed.message.t, { id })), from.port, from.address);
        clearTimeout(timer);
        setTimeout(resolve, 5);
      });
    });
    socket.send(encodeMessage(makeQuery(new Uint8Array([1, 2]), 'ping', { id })), node.local.port, node.local.address);
    await pinged;
  };
  // Honest nodes each on an address of its own /24 (the table also keeps few per /24).
  for (let i = 0; i < 60; i++) await join(`127.94.${i}.1`);
  for (let i = 0; i < 40; i++) await join('127.96.0.1');
  const all = node.table.all();
  const attacker = all.filter((c) => c.address === '127.96.0.1').length;
  const perBucket = Math.max(...node.table.buckets().map((b) => b.contacts.filter((c) => c.address === '127.96.0.1').length));
  await Promise.all(sockets.map(closeSocket));
  await node.close();
  log(`\nOne IP on 40 ports next to 60 honest nodes (one IP each), all answering: the attacker holds ${attacker} of ${all.length} table slots, at most ${perBucket} in a bucket.`);
  return [{ figure: 'table slots of one IP, per bucket', target: '<= 1', measured: String(perBucket), met: perBucket <= 1 }];
}

// ---- Peer store poisoning ----

function poisoning(log: (line: string) => void): AttackTarget[] {
  const store = new PeerStore();
  const infoHash = randomId();
  const honest = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const peer = { address: `198.51.${i}.7`, port: 6881 };
    honest.add(`${peer.address}:${peer.port}`);
    store.announce(infoHash, peer, false);
  }
  for (let ip = 0; ip < 3; ip++) for (let port = 0; port < 1_020; port++) store.announce(infoHash, { address: `203.0.113.${ip + 1}`, port: 10_000 + port }, false);
  const stored = store.peers(infoHash, { max: 10_000 });
  const kept = stored.filter((p) => honest.has(`${p.address}:${p.port}`)).length;
  const perIp = Math.max(...[1, 2, 3].map((ip) => stored.filter((p) => p.address === `203.0.113.${ip}`).length));
  log(`\nPeer store: 50 honest peers, then 3 IPs announce 1,020 ports each: ${kept} of 50 honest peers kept, ${stored.length} stored, at most ${perIp} per attacking IP (${num((perIp / stored.length) * 100, 1)}% of this small swarm; ${num((perIp / 1_000) * 100, 1)}% of a full torrent's 1,000).`);
  return [
    { figure: 'honest peers kept after a poisoning run', target: 'all 50', measured: String(kept), met: kept === 50 },
    { figure: "one IP's share of a torrent's stored peers", target: '<= 5%', measured: `${num((perIp / stored.length) * 100, 1)}%`, met: perIp / stored.length <= 0.05 },
  ];
}

// ---- A third party named by hostile nodes ----

async function thirdParty(log: (line: string) => void, ms: number): Promise<AttackTarget[]> {
  const victim = '127.0.92.9';
  const hostiles = await Promise.all(Array.from({ length: 6 }, (_, i) => udp(`127.0.91.${i + 11}`)));
  const infos: NodeInfo[] = hostiles.map((s, i) => ({ id: randomId(), address: `127.0.91.${i + 11}`, port: s.address().port }));
  hostiles.forEach((socket, i) => socket.on('message', (bytes, from) => {
    const parsed = decodeMessage(bytes);
    if (!parsed.ok || parsed.message.y !== 'q') return;
    const nodes: NodeInfo[] = [infos[(i + 1) % infos.length]!];
    for (let n = 0; n < 7; n++) nodes.push({ id: randomId(), address: victim, port: 20_000 + Math.floor(Math.random() * 300) * 7 });
    const body = parsed.message.q === 'sample_infohashes' ? { id: infos[i]!.id, nodes, samples: [], interval: 0, num: 0 } : { id: infos[i]!.id, nodes, token: new Uint8Array(4) };
    socket.send(encodeMessage(makeResponse(parsed.message.t, body)), from.port, from.address);
  }));
  const times: number[] = [];
  const inner = await udpTransport({ address: '127.0.93.9', port: 0 });
  const transport: Transport = {
    ...inner,
    send(bytes, to, when) {
      if (to.address === victim) times.push(Date.now());
      inner.send(bytes, to, when);
    },
  };
  const node = await DhtNode.create({ transport });
  await crawl(node, { bootstrap: infos, timeoutMs: ms }).result;
  await node.close();
  await Promise.all(hostiles.map(closeSocket));
  let densest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 9_500) j++;
    densest = Math.max(densest, i - j + 1);
  }
  log(`\nA silent address named by 6 hostile nodes on 300 ports, our crawler running ${num(ms / 1000)} s: ${times.length} packets sent to it, at most ${densest} in any 9.5 s.`);
  return [{ figure: 'queries to a third party named by hostile nodes', target: '<= 1 per 10 s', measured: `${times.length} in ${num(ms / 1000)} s, densest ${densest} per 9.5 s`, met: densest <= 1 }];
}
