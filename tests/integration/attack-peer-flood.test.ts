/**
 * Issue 14 item 2: a BitTorrent peer that floods ut_metadata requests (BEP 9) and never reads what
 * we send. Every request used to be answered at once, whatever the socket held: the fetcher's
 * rejects and the seeder's 16 KiB pieces piled up in our memory (hundreds of MB in seconds). Now
 * reads stop while our unsent bytes are over a bound, and the fetcher answers only a few requests
 * it never invited. The test measures what our process retains (after a full GC, in the middle of
 * the flood) and the connections' own accounting: one peer must cost at most 8 MB.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { fetchMetadata } from '../../src/peer/metadata.js';
import { PeerConnection } from '../../src/peer/peer-connection.js';
import { Seeder, syntheticInfo } from '../../src/peer/seeder.js';
import { sha1 } from '../../src/peer/ut-metadata.js';
import { floodSeeder, startFlooderPeer } from '../helpers/request-flooder.js';

const MB = 1024 * 1024;
/** The target: one malicious peer costs us at most this much memory. */
const PER_PEER_BUDGET = 8 * MB;
const FLOOD_MS = 2_500;

const info = syntheticInfo({ name: 'flooded', files: [{ path: ['a.bin'], length: 64 * MB }] });
const infoHash = sha1(info);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes the process retains: everything a full GC cannot free (JS heap, Buffers, external). */
function retained(): number {
  gc();
  gc(); // a second pass: ArrayBuffer backing stores freed by the first are released by then
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** The most memory retained above `base` at a few points while `running` is still unsettled. */
async function peakRetainedDuring(base: number, running: Promise<unknown>, ms: number): Promise<number> {
  let done = false;
  void running.finally(() => { done = true; });
  let peak = 0;
  const started = Date.now();
  while (!done && Date.now() - started < ms) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    peak = Math.max(peak, retained() - base);
  }
  return peak;
}

describe('a peer that floods ut_metadata requests and never reads', () => {
  it('costs our metadata fetcher at most 8 MB (uninvited requests get a few rejects, then none)', async () => {
    const flooder = await startFlooderPeer('127.0.88.1', { infoHash, victimUtMetadataId: 1, metadataSize: info.length });
    const connections: PeerConnection[] = [];
    const connect = PeerConnection.connect.bind(PeerConnection);
    const spy = (PeerConnection as { connect: typeof PeerConnection.connect }).connect = async (...args) => {
      const c = await connect(...args);
      connections.push(c);
      return c;
    };
    try {
      const base = retained();
      const fetch = fetchMetadata(flooder.local, infoHash, { timeoutMs: FLOOD_MS + 1_000 });
      const peak = await peakRetainedDuring(base, fetch.catch(() => undefined), FLOOD_MS);
      const outcome = await fetch.then(() => 'served', (error: Error) => error.message);
      console.log(`fetcher under a request flood: retained +${(peak / MB).toFixed(1)} MB, held ${(connections[0]!.peakHeldBytes / 1024).toFixed(0)} KB, flooder sent ${(flooder.sentBytes() / MB).toFixed(1)} MB; ${outcome}`);
      expect(flooder.sentBytes()).toBeGreaterThan(MB); // the attack happened: over 25,000 requests
      expect(outcome).not.toBe('served');
      expect(peak).toBeLessThan(PER_PEER_BUDGET);
      expect(connections).toHaveLength(1);
      // Everything we wrote is still unread (in our socket or the kernel's): a few rejects, not one per request.
      expect(connections[0]!.bytesSent).toBeLessThan(16 * 1024);
      expect(connections[0]!.peakHeldBytes).toBeLessThan(PER_PEER_BUDGET);
    } finally {
      (PeerConnection as { connect: typeof spy }).connect = connect;
      await flooder.close();
    }
  }, 20_000);

  it('a connection whose reader answers every message stops reading while the peer reads nothing', async () => {
    const flooder = await startFlooderPeer('127.0.88.3', { infoHash, victimUtMetadataId: 1 });
    const connection = await PeerConnection.connect(flooder.local, { timeoutMs: FLOOD_MS });
    try {
      const base = retained();
      let answered = 0;
      const naive = (async (): Promise<void> => {
        for (;;) {
          await connection.next();
          // A naive reader: 4 KiB out for every message in, the amplification a seeder faces.
          connection.send({ type: 'extended', id: 2, payload: new Uint8Array(4096) });
          answered++;
        }
      })();
      const peak = await peakRetainedDuring(base, naive.catch(() => undefined), FLOOD_MS + 1_000);
      await naive.catch(() => undefined);
      console.log(`naive reader: retained +${(peak / MB).toFixed(1)} MB, held ${(connection.peakHeldBytes / 1024).toFixed(0)} KB, answered ${answered}; ${connection.error?.message ?? ''}`);
      expect(answered).toBeGreaterThan(0);
      expect(peak).toBeLessThan(PER_PEER_BUDGET);
      expect(connection.peakHeldBytes).toBeLessThan(PER_PEER_BUDGET);
    } finally {
      connection.close();
      await flooder.close();
    }
  }, 20_000);

  it('costs our seeder at most 8 MB although each 40-byte request asks for a 16 KiB piece', async () => {
    const seeder = await Seeder.start({ address: '127.0.88.2', torrents: [{ info }] });
    try {
      const base = retained();
      const flood = await floodSeeder(seeder.local, { infoHash, victimUtMetadataId: 3 });
      const peak = await peakRetainedDuring(base, new Promise(() => undefined), FLOOD_MS);
      const served = seeder.metadataPiecesServed;
      console.log(`seeder under a request flood: retained +${(peak / MB).toFixed(1)} MB, backlog peak ${(seeder.peakBacklogBytes / 1024).toFixed(0)} KB, pieces served ${served}`);
      flood.stop();
      expect(served).toBeGreaterThan(0); // it did answer: backpressure, not a refusal
      expect(peak).toBeLessThan(PER_PEER_BUDGET);
      expect(seeder.peakBacklogBytes).toBeLessThan(PER_PEER_BUDGET);
    } finally {
      await seeder.close();
    }
  }, 20_000);
});
