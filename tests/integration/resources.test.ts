import { createHook } from 'node:async_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getPeers } from '../../src/dht/lookup.js';
import { DhtNode, type DhtNodeOptions } from '../../src/dht/node.js';
import { Prng } from '../helpers/prng.js';

/**
 * close() must give back everything a node took: its socket, its timers (table upkeep, query
 * timeouts, the send queue's pacing, injected latency, a lookup's deadline) and its listeners.
 * A thousand nodes are opened, put to work, and closed mid-work; handles and heap must return to
 * where they were.
 */

const NODES = 1_000;
const BATCH = 50;

/** The V8 collector, so heap figures are measured after a full collection rather than guessed at. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * Sockets and timers alive right now, by type. process.getActiveResourcesInfo() does not list
 * unref'd timers (all of ours are, so that they never keep a process alive), so every Timeout and
 * UDP socket is followed from creation to destruction instead.
 */
const alive = new Map<number, string>();
const hook = createHook({
  init(id, type) { if (type === 'Timeout' || type === 'UDPWRAP') alive.set(id, type); },
  destroy(id) { alive.delete(id); },
});

function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of alive.values()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

function heapMb(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe(`opening and closing ${NODES} nodes`, () => {
  const rng = new Prng(0x1000);
  const gc = collector();
  let hub: DhtNode;
  beforeAll(async () => {
    hook.enable();
    hub = await DhtNode.create({ address: '127.81.0.1' });
  });
  afterAll(async () => {
    await hub?.close();
    hook.disable();
  });

  /** Nodes of every kind of configuration that owns a timer or a queue. */
  function optionsFor(i: number): DhtNodeOptions {
    const address = `127.80.${i >> 8}.${(i & 127) + 1}`;
    switch (i % 4) {
      case 0: return { address };
      // A send budget of one packet a second: queries wait in the send queue, on its timer.
      case 1: return { address, rpc: { sendRate: 1, sendBurst: 1 } };
      // Injected latency: every send waits on a timer of the fault layer.
      case 2: return { address, faults: { latencyMs: [30, 60], random: () => rng.next() } };
      default: return { address, maintenanceIntervalMs: 5, readOnly: true };
    }
  }

  /** Open a node, give it work that is still in flight, and return it. */
  async function busyNode(i: number): Promise<DhtNode> {
    const node = await DhtNode.create(optionsFor(i));
    node.onIncomingQuery(() => {});
    void node.query(hub.local, 'ping', { id: node.id });
    // A lookup whose seeds include a node that never answers: its timers are running at close().
    void node.lookup(rng.bytes(20), getPeers(), { seeds: [{ id: hub.id, ...hub.local }, { id: rng.bytes(20), address: '127.82.0.1', port: 9 }] }).result;
    return node;
  }

  it('gives back every socket and timer, and the heap returns to its baseline', async () => {
    // Warm up: the first nodes load code and fill caches that are not leaks.
    for (const n of await Promise.all(Array.from({ length: BATCH }, (_, i) => busyNode(NODES + i)))) await n.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const handlesBefore = resources();
    const heapBefore = heapMb(gc);

    let peakHandles = 0;
    for (let b = 0; b < NODES / BATCH; b++) {
      const nodes = await Promise.all(Array.from({ length: BATCH }, (_, i) => busyNode(b * BATCH + i)));
      // Let the work get under way: replies, pings back, queued and delayed sends.
      await new Promise((resolve) => setTimeout(resolve, 20));
      peakHandles = Math.max(peakHandles, total(resources()));
      await Promise.all(nodes.map((n) => n.close()));
    }
    // The hub stays open: its own queries to nodes that have just closed (pings of new queriers)
    // hold their timeouts until they expire. Those are its live work, not leaks: let them end.
    await vi.waitFor(() => expect(hub.rpc.pendingCount).toBe(0), { timeout: 10_000, interval: 100 });
    // Closing settles every open query at once; the promise chains behind them finish on the next
    // turns, and async_hooks reports destroyed timers (the poll's own among them) a little later.
    await new Promise((resolve) => setTimeout(resolve, 50));

    const handlesAfter = resources();
    const heapAfter = heapMb(gc);
    const show = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    console.log(`sockets and timers: ${show(handlesBefore)} before; peak ${peakHandles} with ${BATCH} nodes open; ` +
      `${show(handlesAfter)} after. Active handles (getActiveResourcesInfo): ${process.getActiveResourcesInfo().length}. ` +
      `heap: ${heapBefore.toFixed(1)} MB before, ${heapAfter.toFixed(1)} MB after ${NODES} nodes`);
    // The nodes really held sockets and timers while open (a socket, an upkeep timer, query timeouts each)...
    expect(peakHandles).toBeGreaterThan(total(handlesBefore) + 3 * BATCH);
    // ...and gave every one back.
    expect(handlesAfter.get('UDPWRAP') ?? 0).toBe(handlesBefore.get('UDPWRAP') ?? 0);
    expect(handlesAfter.get('Timeout') ?? 0).toBeLessThanOrEqual(handlesBefore.get('Timeout') ?? 0);
    // A thousand nodes leave less than 4 KB each behind (in practice: the hub's bounded tables).
    expect(heapAfter - heapBefore).toBeLessThan(4);
  }, 120_000);

  it('close() is idempotent and a closed node refuses work without throwing', async () => {
    const node = await DhtNode.create({ address: '127.81.0.2' });
    await node.close();
    await node.close();
    expect(node.isClosed).toBe(true);
    expect(await node.query(hub.local, 'ping', { id: node.id })).toEqual({ kind: 'failed', reason: 'closed' });
    expect(() => node.rpc.receive(new Uint8Array([0x64, 0x65]), hub.local)).not.toThrow();
  });
});
