import { describe, expect, test } from 'vitest';
import { PieceTracker, clientFromPeerId, peerIdPrefix, probeTotals, type PeerProbe } from '../../src/peer/probe.js';
import { spreadBitfield } from '../../src/peer/seeder.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(777);

function peerId(prefix: string): Uint8Array {
  const id = rng.bytes(20);
  id.set(new TextEncoder().encode(prefix));
  return id;
}

describe('PieceTracker', () => {
  test('with the piece count known: bitfield plus have messages give the exact completion', () => {
    const pieceCount = 100 + rng.int(900);
    const bits = spreadBitfield(pieceCount, 0.4);
    const tracker = new PieceTracker();
    tracker.add({ type: 'bitfield', bits });
    const before = tracker.count(pieceCount).held!;
    const missing = Array.from({ length: pieceCount }, (_, i) => i).filter((i) => (bits[i >> 3]! & (0x80 >> (i & 7))) === 0);
    for (const piece of missing.slice(0, 10)) tracker.add({ type: 'have', piece });
    tracker.add({ type: 'have', piece: missing[0]! }); // a repeat changes nothing
    const count = tracker.count(pieceCount);
    expect(count).toEqual({ held: before + 10, total: pieceCount, exact: true, completion: (before + 10) / pieceCount, seed: false });
    expect(tracker.misfit(pieceCount)).toBeUndefined();
  });

  test('a full bitfield is a seed; have_all is a seed; have_none and silence hold nothing', () => {
    const full = new PieceTracker();
    full.add({ type: 'bitfield', bits: spreadBitfield(37, 1) });
    expect(full.count(37)).toMatchObject({ held: 37, completion: 1, seed: true });

    const all = new PieceTracker();
    all.add({ type: 'have-all' });
    expect(all.count(37)).toMatchObject({ held: 37, completion: 1, seed: true });
    expect(all.count()).toMatchObject({ held: undefined, completion: 1, seed: true, exact: false });

    const none = new PieceTracker();
    expect(none.heard).toBe(false);
    none.add({ type: 'have-none' });
    expect(none.heard).toBe(true);
    expect(none.count(37)).toMatchObject({ held: 0, completion: 0, seed: false });
  });

  test('without the piece count: a seed-shaped bitfield is a seed, anything else an approximate fraction', () => {
    const seed = new PieceTracker();
    seed.add({ type: 'bitfield', bits: spreadBitfield(37, 1) });
    expect(seed.count()).toEqual({ held: 37, total: 37, exact: false, completion: 1, seed: true });

    const partial = new PieceTracker();
    partial.add({ type: 'bitfield', bits: spreadBitfield(40, 0.5) });
    expect(partial.count()).toEqual({ held: 20, total: 40, exact: false, completion: 0.5, seed: false });
  });

  test('a bitfield of the wrong length or with spare bits set breaks BEP 3', () => {
    const short = new PieceTracker();
    short.add({ type: 'bitfield', bits: new Uint8Array(2) });
    expect(short.misfit(100)).toMatch(/2 bytes for 100 pieces/);
    const spare = new PieceTracker();
    spare.add({ type: 'bitfield', bits: new Uint8Array([0xff, 0xff]) });
    expect(spare.misfit(12)).toMatch(/spare bits/);
    expect(spare.misfit(16)).toBeUndefined();
  });
});

describe('clients from peer ids (BEP 20)', () => {
  test('Azureus style: known codes and versions', () => {
    expect(clientFromPeerId(peerId('-LT2080-'))).toBe('libtorrent 2.0.8');
    expect(clientFromPeerId(peerId('-qB4612-'))).toBe('qBittorrent 4.6.1.2');
    expect(clientFromPeerId(peerId('-TR4000-'))).toBe('Transmission 4.0.0');
    expect(clientFromPeerId(peerId('-ZZ1230-'))).toBe('unknown client ZZ 1.2.3');
  });

  test('Mainline style and unknown shapes', () => {
    expect(clientFromPeerId(peerId('M7-2-2--'))).toBe('BitTorrent 7.2.2');
    expect(clientFromPeerId(new Uint8Array(20))).toBeUndefined();
    expect(peerIdPrefix(new Uint8Array([0x41, 0x42, 0x00, 0x43]))).toBe('AB');
  });
});

describe('probeTotals', () => {
  const peer = { address: '127.0.0.1', port: 1 };
  const probe = (extra: Partial<PeerProbe>): PeerProbe => ({ peer, reachable: true, durationMs: 1, ...extra });
  const pieces = (completion: number) => ({ held: completion * 10, total: 10, exact: true, completion, seed: completion === 1 });

  test('counts seeds, leechers, unknowns, failures and clients', () => {
    const probes: PeerProbe[] = [
      probe({ pieces: pieces(1), client: 'libtorrent 2.0.8' }),
      probe({ pieces: pieces(0.5), client: 'libtorrent 2.0.8' }),
      probe({ pieces: pieces(0), v: 'Custom/1' }),
      probe({ error: { reason: 'timeout', message: 'slow' } }),
      probe({ reachable: false, error: { reason: 'unreachable', message: 'refused' } }),
      probe({ reachable: false, error: { reason: 'unreachable', message: 'refused' } }),
    ];
    const totals = probeTotals(probes);
    expect(totals).toEqual({
      probed: 6, reachable: 4, seeds: 1, leechers: 2, unknown: 1, meanCompletion: 0.5,
      clients: [{ client: 'libtorrent 2.0.8', peers: 2 }, { client: 'Custom/1', peers: 1 }, { client: 'unknown', peers: 1 }],
      failures: { timeout: 1, unreachable: 2 },
    });
  });

  test('no reachable peer: no mean', () => {
    expect(probeTotals([]).meanCompletion).toBeUndefined();
  });
});
