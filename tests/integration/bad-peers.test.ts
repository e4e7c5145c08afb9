/**
 * Peers of the real internet lie, stall and flood. Each kind is cut off with a clear reason within
 * the timeout, and the work goes on with the others.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchMetadata, resolveMetadata } from '../../src/peer/metadata.js';
import { METADATA_PIECE_BYTES, sha1, type MetadataFailure } from '../../src/peer/ut-metadata.js';
import { probePeers } from '../../src/peer/probe.js';
import { Seeder, syntheticInfo } from '../../src/peer/seeder.js';
import type { PeerInfo } from '../../src/wire/compact.js';

const TIMEOUT_MS = 1_200;
/** Time past the deadline a cut-off may take (timers and socket teardown on a busy machine). */
const SLACK_MS = 800;

const info = syntheticInfo({ name: 'the real one', files: [{ path: ['data.bin'], length: 400 * 1024 * 1024 }], pieceLength: 64 * 1024 });
const infoHash = sha1(info);
const impostor = syntheticInfo({ name: 'an impostor', files: [{ path: ['x'], length: 1 }] });

let good: Seeder;
let liar: Seeder;
let oversized: Seeder;
let trickler: Seeder;
let rejecter: Seeder;
let silent: { server: Server; sockets: Set<Socket>; local: PeerInfo };

beforeAll(async () => {
  good = await Seeder.start({ address: '127.0.77.1', torrents: [{ info, completion: 0.6 }] });
  liar = await Seeder.start({ address: '127.0.77.2', torrents: [{ info: impostor, infoHash }] });
  oversized = await Seeder.start({ address: '127.0.77.3', torrents: [{ info, advertisedSize: 10 * 1024 * 1024 + 1 }] });
  trickler = await Seeder.start({ address: '127.0.77.4', torrents: [{ info }], trickle: { bytes: 8, intervalMs: 25 } });
  rejecter = await Seeder.start({ address: '127.0.77.5', torrents: [{ info, rejectMetadata: true }] });
  silent = await silentPeer('127.0.77.6');
});

afterAll(async () => {
  await Promise.all([good, liar, oversized, trickler, rejecter].map((s) => s.close()));
  for (const socket of silent.sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.server.close(() => resolve()));
});

/** A peer that accepts the connection and then says nothing at all. */
async function silentPeer(address: string): Promise<{ server: Server; sockets: Set<Socket>; local: PeerInfo }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('not listening');
  return { server, sockets, local: { address, port: bound.port } };
}

/** Buffer.compare, not toEqual: a deep equality of 100 KB arrays takes vitest most of a second. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

async function failure(peer: PeerInfo): Promise<{ reason: MetadataFailure; message: string; ms: number }> {
  const started = Date.now();
  try {
    await fetchMetadata(peer, infoHash, { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    const e = error as { reason: MetadataFailure; message: string };
    return { reason: e.reason, message: e.message, ms: Date.now() - started };
  }
  throw new Error('expected the fetch to fail');
}

describe('fetching metadata from bad peers', () => {
  it('wrong metadata: the hash check catches it (SHA-1, or the SHA-256 of a v2 torrent)', async () => {
    const f = await failure(liar.local);
    expect(f.reason).toBe('hash-mismatch');
    expect(f.message).toMatch(/neither SHA-1 nor SHA-256/);
  });

  it('oversized metadata: refused from the handshake, before any piece is requested', async () => {
    const f = await failure(oversized.local);
    expect(f.reason).toBe('oversized');
    expect(f.message).toMatch(/10485761 bytes exceeds/);
    expect(oversized.metadataPiecesServed).toBe(0);
  });

  it('a trickling peer: cut off at the deadline, and called too slow', async () => {
    const f = await failure(trickler.local);
    expect(f.reason).toBe('timeout');
    expect(f.message).toMatch(/too slow/);
    expect(f.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(f.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('a silent peer: cut off at the deadline, having sent nothing', async () => {
    const f = await failure(silent.local);
    expect(f.reason).toBe('timeout');
    expect(f.message).toMatch(/sent nothing/);
    expect(f.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('a peer that rejects requests, and a port nobody listens on', async () => {
    expect((await failure(rejecter.local)).reason).toBe('rejected');
    expect((await failure({ address: '127.0.77.7', port: good.local.port })).reason).toBe('unreachable');
  });

  it('the good peer still serves, after all the bad ones were tried first', async () => {
    const peers = [liar.local, oversized.local, trickler.local, silent.local, rejecter.local, good.local];
    const started = Date.now();
    const { metadata, attempts } = await resolveMetadata(peers, infoHash, { timeoutMs: TIMEOUT_MS, concurrency: 2 });
    const elapsed = Date.now() - started;
    expect(sameBytes(metadata!.bytes, info)).toBe(true);
    expect(metadata?.peer).toEqual(good.local);
    expect(metadata!.bytes.length).toBeGreaterThan(5 * METADATA_PIECE_BYTES);
    expect(attempts.map((a) => a.error?.reason ?? a.outcome)).toEqual(['hash-mismatch', 'oversized', 'timeout', 'timeout', 'rejected', 'served']);
    // Two slots: the slow pair costs one deadline, not one each in turn.
    expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + SLACK_MS);
  });
});

describe('probing bad peers', () => {
  it('reports the trickler and the silent peer with their reasons and the good peer exactly', async () => {
    const pieceCount = 400 * 16;
    const report = await probePeers([trickler.local, silent.local, good.local], infoHash, { timeoutMs: TIMEOUT_MS, pieceCount, concurrency: 3 });
    const [slow, mute, fine] = report.probes;
    expect(slow!.error?.reason).toBe('timeout');
    expect(slow!.pieces).toBeUndefined();
    expect(mute!.reachable).toBe(false);
    expect(mute!.error?.message).toMatch(/sent nothing/);
    expect(fine!.error).toBeUndefined();
    expect(fine!.pieces?.completion).toBe(good.torrents[0]!.held / pieceCount);
    expect(report.totals.failures).toEqual({ timeout: 2 });
    expect(Math.max(...report.probes.map((p) => p.durationMs))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('probing more than 10 peers at once on one AbortSignal prints no MaxListeners warning (issue 14 item 7)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning); };
    process.on('warning', onWarning);
    try {
      const stop = new AbortController();
      const peers = Array.from({ length: 24 }, () => silent.local);
      const report = await probePeers(peers, infoHash, { timeoutMs: 300, concurrency: 16, signal: stop.signal });
      expect(report.probes).toHaveLength(24);
      // 'warning' is emitted on the next tick after the listener is added.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  it('a liar about its bitfield (wrong length for the torrent) is a protocol failure', async () => {
    // The impostor's torrent has 1 piece: its 1-byte bitfield does not fit this torrent's 6,400.
    const report = await probePeers([liar.local], infoHash, { timeoutMs: TIMEOUT_MS, pieceCount: 400 * 16 });
    expect(report.probes[0]!.error?.reason).toBe('protocol');
    expect(report.probes[0]!.error?.message).toMatch(/bitfield of 1 bytes for 6400 pieces/);
  });
});
