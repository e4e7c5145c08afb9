/**
 * Tracker clients against trackers made to misbehave, on loopback: each bad answer ends in one
 * clear reason, bounded in time and bytes, and a good answer is read whole.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/wire/bencode.js';
import { queryTrackers } from '../../src/tracker/tracker.js';
import { Action } from '../../src/tracker/udp-tracker-wire.js';

const infoHash = new Uint8Array(20).fill(7);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => { await Promise.all(closers.splice(0).map((c) => c())); });

/** An HTTP tracker whose every request is answered by `handle`; returns its base URL. */
async function httpTracker(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => { requests.push(req.url ?? ''); handle(req, res); });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(() => new Promise((done) => { server.closeAllConnections(); server.close(() => done()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** A UDP tracker that answers each datagram with what `answer` makes of it (nothing for undefined). */
async function udpTracker(answer: (packet: Buffer) => Uint8Array[] | undefined): Promise<{ url: string; received: Buffer[] }> {
  const received: Buffer[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (packet, from) => {
    received.push(packet);
    for (const reply of answer(packet) ?? []) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  closers.push(() => new Promise((done) => socket.close(() => done())));
  return { url: `udp://127.0.0.1:${socket.address().port}/announce`, received };
}

function u32(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeUInt32BE(v >>> 0, i * 4));
  return out;
}
const action = (p: Buffer): number => p.readUInt32BE(8);
const transaction = (p: Buffer): number => p.readUInt32BE(12);

/** A well-behaved BEP 15 tracker: connection ID 42, two peers, counts 5/6/7. */
function goodUdp(packet: Buffer): Uint8Array[] {
  const t = transaction(packet);
  if (action(packet) === Action.connect) return [Buffer.concat([u32(0, t), u32(0, 42)])];
  if (action(packet) === Action.announce) return [Buffer.concat([u32(1, t, 1800, 6, 5), Buffer.from([10, 1, 2, 3, 0x1a, 0xe1, 10, 1, 2, 4, 0x1a, 0xe2])])];
  return [Buffer.concat([u32(2, t), u32(5, 7, 6)])];
}

/** For trackers that never answer right: three tries, quickly. */
const fast = { infoHash, retryBaseMs: 50, maxRetries: 2 } as const;
/** For trackers that do answer: a wait long enough that no retransmission muddles the count. */
const patient = { infoHash, retryBaseMs: 10_000, maxRetries: 2 } as const;

describe('UDP trackers (BEP 15)', () => {
  it('connect, scrape, announce, then stopped: counts from the scrape (without us), peers from the announce', async () => {
    const tracker = await udpTracker(goodUdp);
    const [report] = await queryTrackers([tracker.url], patient);
    expect(report!.error).toBeUndefined();
    expect(report!.answer).toMatchObject({ seeders: 5, leechers: 6, completed: 7, interval: 1800, peers: [{ address: '10.1.2.3', port: 6881 }, { address: '10.1.2.4', port: 6882 }] });
    const actions = tracker.received.map(action);
    expect(actions).toEqual([Action.connect, Action.scrape, Action.announce, Action.announce]);
    expect(tracker.received.slice(1).every((p) => p.readBigUInt64BE(0) === 42n)).toBe(true);
    expect(tracker.received[3]!.readUInt32BE(80)).toBe(3); // event=stopped: we do not stay in the swarm
  });

  it('a reply with another transaction ID is ignored, and the reason says so', async () => {
    const tracker = await udpTracker((p) => [Buffer.concat([u32(0, transaction(p) + 1), u32(0, 42)])]);
    const [report] = await queryTrackers([tracker.url], fast);
    // Each try's reply is ignored (the last may come after the last wait: 2 or 3 of them).
    expect(report!.error).toMatch(/^no connect reply after 3 tries; [23] datagram\(s\) ignored \(wrong source or transaction ID\)$/);
    expect(tracker.received).toHaveLength(3); // the first send and two retransmissions, then it stops
  });

  it('a malformed datagram that is not ours is ignored and named if nothing better comes', async () => {
    const tracker = await udpTracker(() => [u32(0, 1)]);
    const [report] = await queryTrackers([tracker.url], fast);
    expect(report!.error).toMatch(/^no connect reply after 3 tries; [23] datagram\(s\) ignored \(a connect reply is 16 bytes, got 8 at byte 8\)$/);
  });

  it('a truncated announce reply is named with its offset, at once', async () => {
    const tracker = await udpTracker((p) => action(p) === Action.connect ? goodUdp(p) : [u32(1, transaction(p), 1800)]);
    const [report] = await queryTrackers([tracker.url], fast);
    expect(report!.error).toBe('the tracker refused the announce: an announce reply is at least 20 bytes, got 12 at byte 12');
  });

  it("the tracker's error message is reported, cleaned of control characters", async () => {
    const tracker = await udpTracker((p) => action(p) === Action.connect ? goodUdp(p) : [Buffer.concat([u32(3, transaction(p)), Buffer.from('unregistered\x1b[31m torrent\n')])]);
    const [report] = await queryTrackers([tracker.url], fast);
    expect(report!.error).toBe('the tracker refused the announce: unregistered[31m torrent');
  });

  it('a huge peer list is cut to what was asked for', async () => {
    const many = Buffer.alloc(6 * 2000, 1);
    const tracker = await udpTracker((p) => action(p) === Action.announce ? [Buffer.concat([u32(1, transaction(p), 1800, 0, 2000), many])] : goodUdp(p));
    const [report] = await queryTrackers([tracker.url], { ...fast, numWant: 50 });
    expect(report!.answer!.peers).toHaveLength(50);
  });

  it('a signal ends the wait at once', async () => {
    const tracker = await udpTracker(() => undefined);
    const controller = new AbortController();
    const pending = queryTrackers([tracker.url], { infoHash, retryBaseMs: 60_000, signal: controller.signal });
    setImmediate(() => controller.abort());
    const [report] = await pending;
    expect(report!.error).toBe('stopped before the tracker answered');
  });
});

describe('HTTP trackers (BEP 3, 23, 48)', () => {
  const announceBody = encode({ interval: 900, complete: 3, incomplete: 4, peers: new Uint8Array([127, 0, 0, 9, 0x1a, 0xe1]) });
  const scrapeBody = encode({ files: new Map([[infoHash, { complete: 30, incomplete: 40, downloaded: 50 }]]) });

  it('announces with compact=1 and the info-hash percent-encoded, scrapes per BEP 48, then says stopped', async () => {
    const tracker = await httpTracker((req, res) => res.end(req.url!.startsWith('/scrape') ? scrapeBody : announceBody));
    const [report] = await queryTrackers([`${tracker.url}/announce?passkey=x`], { infoHash });
    expect(report!.answer).toMatchObject({ seeders: 30, leechers: 40, completed: 50, interval: 900, peers: [{ address: '127.0.0.9', port: 6881 }] });
    expect(tracker.requests[0]).toMatch(/^\/scrape\?passkey=x&info_hash=%07/);
    expect(tracker.requests[1]).toMatch(/^\/announce\?passkey=x&info_hash=%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07&peer_id=-DS0100-.*&compact=1&numwant=200&event=started$/);
    expect(tracker.requests[2]).toMatch(/event=stopped$/);
  });

  it('without an `announce` segment there is no scrape: counts come from the announce, less ourselves', async () => {
    const tracker = await httpTracker((_, res) => res.end(announceBody));
    const [report] = await queryTrackers([`${tracker.url}/a`], { infoHash, stay: true });
    expect(report!.answer).toMatchObject({ seeders: 2, leechers: 4 });
    expect(report!.answer!.completed).toBeUndefined();
    expect(tracker.requests).toHaveLength(1);
  });

  it.each([
    ['a failure reason', () => encode({ 'failure reason': 'torrent not registered' }), 'the tracker refused: torrent not registered'],
    ['truncated bencoding', () => announceBody.subarray(0, 20), /^the reply is not bencoded: .* at byte \d+$/],
    ['a list instead of a dictionary', () => encode([1, 2]), 'the reply is not a bencoded dictionary'],
    ['a ragged compact peer list', () => encode({ interval: 1, peers: new Uint8Array(7) }), 'peers is not a multiple of 6 bytes (7)'],
  ])('%s: one clear reason', async (_, body, reason) => {
    const tracker = await httpTracker((_, res) => res.end(body()));
    const [report] = await queryTrackers([`${tracker.url}/announce`], { infoHash });
    expect(report!.error).toEqual(typeof reason === 'string' ? reason : expect.stringMatching(reason));
  });

  it('a body over the cap is not read past it, with or without a Content-Length', async () => {
    const big = Buffer.alloc(300_000, 0x61);
    const declared = await httpTracker((_, res) => res.end(big));
    const streamed = await httpTracker((_, res) => { res.write(big.subarray(0, 150_000)); res.end(big.subarray(150_000)); });
    const [a, b] = await queryTrackers([`${declared.url}/announce`, `${streamed.url}/x/announce`], { infoHash, maxBytes: 100_000 });
    expect(a!.error).toBe('the reply is 300000 bytes, more than the 100000 read at most');
    expect(b!.error).toMatch(/over the 100000 bytes read at most|more than the 100000/);
  });

  it('redirects are followed a few times, never in a loop, never to another scheme', async () => {
    const target = await httpTracker((req, res) => res.end(req.url!.startsWith('/scrape') ? scrapeBody : announceBody));
    const hop = await httpTracker((req, res) => { res.statusCode = 302; res.setHeader('location', `${target.url}${req.url!}`); res.end(); });
    const loop = await httpTracker((req, res) => { res.statusCode = 301; res.setHeader('location', req.url!); res.end(); });
    const file = await httpTracker((_, res) => { res.statusCode = 302; res.setHeader('location', 'file:///etc/passwd'); res.end(); });
    const [ok, looped, toFile] = await queryTrackers([`${hop.url}/announce`, `${loop.url}/announce`, `${file.url}/announce`], { infoHash });
    expect(ok!.answer!.seeders).toBe(30);
    expect(looped!.error).toBe('more than 3 redirects');
    expect(loop.requests.length).toBeLessThanOrEqual(8);
    expect(toFile!.error).toBe('a redirect to file: is not followed');
  });

  it('an unsupported scheme or a dead port is a report, not a throw', async () => {
    const [ws, dead] = await queryTrackers(['wss://tracker.example/announce', 'http://127.0.0.1:1/announce'], { infoHash });
    expect(ws!.error).toBe('wss trackers are not supported (udp, http and https are)');
    expect(dead!.error).toMatch(/^cannot reach 127\.0\.0\.1:1: ECONNREFUSED$/);
  });
});
