/**
 * The network the docs' packet dumps and traces come from: real DhtNodes (the library's own code,
 * unchanged) on an in-memory network, with seeded IDs and a clock that never moves, so every run
 * produces the same bytes. Nodes join one by one through node 0 with a real bootstrap, and a few
 * of them announce torrents with real announce_peer queries.
 */
import { DhtNode, randomId, testnetAddress, type DhtNodeOptions, type Endpoint, type NodeId } from '../../src/index.js';
import { tap, type Packet } from '../lib/tap.js';
import { MemoryNetwork } from './memory-network.js';

/** The instant the docs are frozen at (2024-01-01T00:00:00Z). */
export const DOCS_CLOCK = 1_704_067_200_000;
export const NETWORK_SIZE = 160;
const TORRENTS = 20;
const PEERS_PER_TORRENT = 2;
/** The TCP port the peers announce (Transmission's default). */
const PEER_PORT = 51413;
/** Nothing is ever lost here, so no timer should fire: push them all far beyond a generation run. */
export const NEVER_MS = 600_000;

export interface Torrent {
  infoHash: NodeId;
  /** The nodes that announced themselves as its peers: their address, and PEER_PORT. */
  peers: Endpoint[];
}

export interface Scenario {
  nodes: DhtNode[];
  torrents: Torrent[];
  /** "Our node": 127.0.0.1:6881, every datagram it sends or receives passes the wiretap. */
  learner: DhtNode;
  /** Listen to the learner's datagrams; returns the unsubscribe function. */
  watch(listener: (packet: Packet) => void): () => void;
  close(): Promise<void>;
}

/** Options that make a node deterministic here: the frozen clock, no timers, no per-source or CPU limit. */
export function docsNodeOptions(transport: DhtNodeOptions['transport']): DhtNodeOptions {
  return {
    id: randomId(),
    ...(transport !== undefined ? { transport } : {}),
    now: () => DOCS_CLOCK,
    // The soft timeout follows the measured round trips down to minSoftTimeoutMs, and round trips
    // on a frozen clock are 0 ms: without a floor this high, a busy machine would see real 250 ms
    // timeouts fire in some runs and not others, and the docs would change from run to run.
    rpc: { softTimeoutMs: NEVER_MS, minSoftTimeoutMs: NEVER_MS, hardTimeoutMs: 2 * NEVER_MS, sendBurst: 1_000_000_000, sendRate: 1_000_000_000 },
    lookup: { timeoutMs: NEVER_MS },
    // With a frozen clock a rate limiter never refills; the docs' network has no flooders to stop.
    sourceLimit: false,
    // The CPU budget times each answer with the real clock (performance.now): on a busy machine a
    // node would shed some queries and not others, and the docs would change from run to run.
    cpuBudget: false,
    maintenanceIntervalMs: NEVER_MS,
  };
}

/** Build the network. Call inside withSeededRandom(), so that IDs and tokens are reproducible. */
export async function buildScenario(): Promise<Scenario> {
  const network = new MemoryNetwork();
  const nodes: DhtNode[] = [];
  const listeners = new Set<(packet: Packet) => void>();
  let learner: DhtNode | undefined;
  try {
    for (let i = 0; i < NETWORK_SIZE; i++) {
      const transport = network.transport({ address: testnetAddress(i), port: 6881 });
      nodes.push(await DhtNode.create(docsNodeOptions(transport)));
    }
    const entry = [nodes[0]!.local];
    for (const node of nodes.slice(1)) await node.bootstrap(entry, { timeoutMs: NEVER_MS });
    // A second round, as a network that has run for a while: tables now know the later nodes too.
    for (const node of nodes) await node.bootstrap(entry, { timeoutMs: NEVER_MS });

    const torrents: Torrent[] = [];
    for (let t = 0; t < TORRENTS; t++) {
      const infoHash = randomId();
      const peers = nodes.slice(10 + t * PEERS_PER_TORRENT, 10 + (t + 1) * PEERS_PER_TORRENT);
      for (const peer of peers) await peer.announce(infoHash, { port: PEER_PORT });
      torrents.push({ infoHash, peers: peers.map((p) => ({ address: p.local.address, port: PEER_PORT })) });
    }

    const wire = tap(network.transport({ address: '127.0.0.1', port: 6881 }), (packet) => {
      for (const listener of listeners) listener(packet);
    });
    learner = await DhtNode.create(docsNodeOptions(wire));
    return {
      nodes,
      torrents,
      learner,
      watch(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async close() {
        await learner?.close();
        await Promise.all(nodes.map((n) => n.close()));
      },
    };
  } catch (error) {
    await learner?.close();
    await Promise.all(nodes.map((n) => n.close()));
    throw error;
  }
}
