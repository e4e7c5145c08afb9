/**
 * A local DHT: many real nodes in this process, each on its own loopback address, so the whole
 * protocol can be run, taught, tested and measured without the internet.
 *
 * Node i listens on 127.A.B.1 (its own /24, because real clients such as libtorrent keep at most
 * one node per /24 in a bucket). Where only 127.0.0.1 can be bound (macOS), nodes share it on
 * distinct ports. Tables are meshed directly, as a network that has been running for a while would
 * have them: each node knows its XOR neighbours and a random spread of the rest. Each synthetic
 * torrent's peers are stored at the k nodes closest to its info-hash, exactly where announce_peer
 * would have put them; `start()` then checks with a real lookup over UDP that the network answers.
 */
import { randomBytes } from 'node:crypto';
import { formatEndpoint } from '../wire/address.js';
import type { PeerInfo } from '../wire/compact.js';
import { compareDistance, idToHex, randomId, type NodeId } from '../wire/id.js';
import { sha1 } from '../peer/ut-metadata.js';
import { DhtNode, type DhtNodeOptions } from '../dht/node.js';
import { Seeder, syntheticInfo } from '../peer/seeder.js';
import type { Endpoint, Faults } from '../net/transport.js';

/** What to start; every field has a default that makes a small, healthy network. */
export interface TestnetOptions {
  /** Number of nodes. Default 50. */
  nodes?: number;
  /** Number of synthetic torrents announced. Default 5. */
  torrents?: number;
  /** Peers announced per torrent. Default 10. */
  peers?: number;
  /** Loss and latency injected on every node's sends. */
  faults?: Faults;
  /** Fraction of nodes closed after meshing (they stay in others' tables, as dead nodes do). */
  deadFraction?: number;
  /** Options passed to every node (e.g. a short BEP 51 interval for crawling). */
  node?: DhtNodeOptions;
  /** How many of the nodes' endpoints to hand out as bootstrap addresses. Default 4. */
  bootstrapCount?: number;
  /** Peers of torrent t are stored at this many closest nodes. Default 8 (k). */
  replication?: number;
  /**
   * Make the first this-many peers of every torrent real (seeder.ts): they listen on their
   * addresses, serve the torrent's metadata (BEP 9) and a bitfield, so metadata fetches and probes
   * run on loopback. Peer p is a seed when p % 3 === 0, as its announce says; the others hold
   * (p % 10) / 10 of the pieces. Each torrent then has a real info dictionary, and its info-hash is
   * that dictionary's SHA-1. Default 0.
   */
  seeders?: number;
}

/** A synthetic torrent, and the peers stored for it at the nodes closest to its info-hash. */
export interface TestnetTorrent {
  infoHash: NodeId;
  peers: PeerInfo[];
  /** The info dictionary (when the testnet runs seeders). */
  info?: Uint8Array;
  /** The running seeders, in the order of `peers` (seeder i is peers[i]). */
  seeders?: Seeder[];
}

/** How many neighbours and random others each node's table is offered when meshing. */
const NEIGHBOURS = 16;
const RANDOM_CONTACTS = 48;

/** A running local network. Start it with Testnet.start(); close() stops every node. */
export class Testnet {
  private constructor(
    /** Every node, including the dead ones (closed). */
    readonly nodes: DhtNode[],
    readonly torrents: TestnetTorrent[],
    readonly bootstrap: Endpoint[],
    /** True when all nodes share 127.0.0.1 (per-/24 limits must then be relaxed by clients). */
    readonly sharedAddress: boolean,
  ) {}

  /** The nodes still running (all of them unless `deadFraction` closed some). */
  get live(): DhtNode[] {
    return this.nodes.filter((n) => !n.isClosed);
  }

  /** Bind the nodes, mesh their tables and store the torrents. Closes what it started if it fails. */
  static async start(options: TestnetOptions = {}): Promise<Testnet> {
    const count = options.nodes ?? 50;
    if (!(count >= 2)) throw new RangeError('a local network needs at least 2 nodes');
    const { nodes, sharedAddress } = await startNodes(count, options);
    let torrents: TestnetTorrent[] = [];
    try {
      mesh(nodes);
      const seeders = options.seeders ?? 0;
      torrents = makeTorrents(options.torrents ?? 5, options.peers ?? 10, seeders > 0);
      await startSeeders(torrents, seeders);
      storeTorrents(nodes, torrents, options.replication ?? 8);
      const dead = Math.floor(count * (options.deadFraction ?? 0));
      // Kill nodes chosen at random among those not handed out as bootstrap addresses.
      const bootstrapCount = Math.min(options.bootstrapCount ?? 4, count - dead);
      const killable = shuffle(nodes.slice(bootstrapCount));
      await Promise.all(killable.slice(0, dead).map((n) => n.close()));
      const bootstrap = nodes.slice(0, bootstrapCount).map((n) => n.local);
      return new Testnet(nodes, torrents, bootstrap, sharedAddress);
    } catch (error) {
      await Promise.all(nodes.map((n) => n.close()));
      await closeSeeders(torrents);
      throw error;
    }
  }

  /** One JSON-friendly description: what `dht-scrape testnet` prints. */
  describe(): { bootstrap: string[]; torrents: { infohash: string; peers: string[] }[] } {
    return {
      bootstrap: this.bootstrap.map(formatEndpoint),
      torrents: this.torrents.map((t) => ({ infohash: idToHex(t.infoHash), peers: t.peers.map(formatEndpoint) })),
    };
  }

  /** Close every node (and anything else the network started). */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
    await closeSeeders(this.torrents);
  }
}

/** 127.A.B.1 for node i: its own /24 in 127.0.0.0/8, which Linux routes to loopback whole. */
export function testnetAddress(i: number): string {
  return `127.${1 + (i >> 8)}.${i & 255}.1`;
}

/**
 * On one shared address, every node is the same "source" and the same /24 to every other: the
 * per-source rate limit and the per-/24 lookup brake, both defences against one host posing as
 * many, must be lifted there or the network would defend itself against itself.
 */
export const SHARED_ADDRESS_OPTIONS: DhtNodeOptions = {
  sourceLimit: false,
  lookup: { maxPerSubnet: 1_000_000 },
  peerStore: { maxPortsPerHost: 1_000_000, maxPeersPerNetwork: 1_000_000 },
  table: { sharedLoopback: true },
};

async function startNodes(count: number, options: TestnetOptions): Promise<{ nodes: DhtNode[]; sharedAddress: boolean }> {
  const nodes: DhtNode[] = [];
  let sharedAddress = false;
  const base: DhtNodeOptions = { ...options.node };
  if (options.faults !== undefined) base.faults = options.faults;
  try {
    for (let i = 0; i < count; i++) {
      const address = sharedAddress ? '127.0.0.1' : testnetAddress(i);
      try {
        nodes.push(await DhtNode.create({ ...base, ...(sharedAddress ? SHARED_ADDRESS_OPTIONS : {}), address, port: 0 }));
      } catch (error) {
        if (i > 0 || sharedAddress || !isAddressUnavailable(error)) throw error;
        sharedAddress = true;
        i--;
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.close()));
    throw error;
  }
  return { nodes, sharedAddress };
}

function isAddressUnavailable(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error as { code?: unknown }).code === 'EADDRNOTAVAIL';
}

/**
 * Fill every table as a long-running network would have it: the node's nearest neighbours in the
 * keyspace (sorted order of IDs puts the longest shared prefixes next to each other) and a random
 * spread of far nodes for the distant buckets.
 */
function mesh(nodes: DhtNode[]): void {
  const sorted = [...nodes].sort((a, b) => compareBytes(a.id, b.id));
  sorted.forEach((node, index) => {
    const offer = (other: DhtNode): void => {
      if (other !== node) node.table.recordResponse({ id: other.id, ...other.local });
    };
    for (let d = 1; d <= NEIGHBOURS / 2; d++) {
      const before = sorted[index - d];
      const after = sorted[index + d];
      if (before !== undefined) offer(before);
      if (after !== undefined) offer(after);
    }
    for (let r = 0; r < RANDOM_CONTACTS; r++) offer(nodes[randomInt(nodes.length)]!);
  });
}

/** Synthetic torrents: random info-hashes, or real info dictionaries when seeders will serve them. */
function makeTorrents(torrents: number, peersEach: number, withInfo: boolean): TestnetTorrent[] {
  const out: TestnetTorrent[] = [];
  let peerIndex = 0;
  for (let t = 0; t < torrents; t++) {
    const peers: PeerInfo[] = [];
    for (let p = 0; p < peersEach; p++) peers.push(syntheticPeer(peerIndex++));
    if (!withInfo) { out.push({ infoHash: randomId(), peers }); continue; }
    const info = syntheticTorrentInfo(t);
    out.push({ infoHash: sha1(info), peers, info });
  }
  return out;
}

/** Store each torrent's peers at the nodes closest to it, as announce_peer would; every 3rd peer is a seed. */
function storeTorrents(nodes: DhtNode[], torrents: readonly TestnetTorrent[], replication: number): void {
  for (const { infoHash, peers } of torrents) {
    const holders = [...nodes].sort((a, b) => compareDistance(infoHash, a.id, b.id)).slice(0, replication);
    for (const holder of holders) {
      peers.forEach((peer, p) => holder.peers.announce(infoHash, peer, p % 3 === 0));
    }
  }
}

/**
 * A made-up torrent of 128, 256, 384 or 512 MiB (t % 4) in 512 KiB pieces: info dictionaries of
 * 5 to 21 KB, so every fourth one takes two BEP 9 pieces, and a crawled network of thousands of
 * torrents still holds only tens of megabytes of them.
 */
function syntheticTorrentInfo(t: number): Uint8Array {
  const name = `testnet torrent ${t + 1} ${randomBytes(4).toString('hex')}`;
  return syntheticInfo({
    name,
    files: [{ path: ['video.mkv'], length: ((t % 4) + 1) * 128 * 1024 * 1024 + 12_345 }, { path: ['README.txt'], length: 2_000 }],
    pieceLength: 512 * 1024,
  });
}

/**
 * Start the first `count` peers of each torrent as real seeders on their synthetic addresses. The
 * port is whatever is free; the peer's entry takes it before anything is announced. Where only
 * 127.0.0.1 can be bound (macOS), they listen there.
 */
async function startSeeders(torrents: TestnetTorrent[], count: number): Promise<void> {
  for (const torrent of torrents) {
    if (torrent.info === undefined || count <= 0) continue;
    torrent.seeders = [];
    for (let p = 0; p < Math.min(count, torrent.peers.length); p++) {
      const completion = p % 3 === 0 ? 1 : (p % 10) / 10;
      const options = { address: torrent.peers[p]!.address, torrents: [{ info: torrent.info, completion }] };
      const seeder = await Seeder.start(options).catch((error: unknown) => {
        if (!isAddressUnavailable(error)) throw error;
        return Seeder.start({ ...options, address: '127.0.0.1' });
      });
      torrent.seeders.push(seeder);
      torrent.peers[p] = seeder.local;
    }
  }
}

async function closeSeeders(torrents: readonly TestnetTorrent[]): Promise<void> {
  await Promise.all(torrents.flatMap((t) => t.seeders ?? []).map((s) => s.close()));
}

/**
 * Peers of synthetic torrents live in 127.128.0.0/9: loopback, never a node's address. Consecutive
 * peers sit in different /24s, as a real swarm's do (the peer store caps what one /24 may hold).
 */
function syntheticPeer(i: number): PeerInfo {
  return { address: `127.${128 + ((i >> 16) & 127)}.${i & 255}.${(i >> 8) & 255}`, port: 6881 + (i % 1000) };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function randomInt(n: number): number {
  const bytes = randomBytes(4);
  return bytes.readUInt32BE(0) % n;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
