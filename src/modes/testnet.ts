/**
 * A local DHT: many real nodes in this process, each on its own loopback address, so the whole
 * protocol can be run, taught, tested and measured without the internet.
 *
 * Node i listens on 127.A.B.1 (its own /24, because real clients such as libtorrent keep at most
 * one node per /24 in a bucket). Where only 127.0.0.1 can be bound (macOS), nodes share it on
 * distinct ports. Tables are meshed directly, as a network that has been running for a while would
 * have them: for each prefix length it shares with its own ID, a node knows up to k nodes of the
 * other half (testnet-mesh.ts). Each synthetic
 * torrent's peers are stored at the k nodes closest to its info-hash, exactly where announce_peer
 * would have put them; `start()` then checks with a real lookup over UDP that the network answers.
 *
 * Dual stack (BEP 32, `dualStack`): each host runs an IPv4 node and an IPv6 node with the same ID,
 * paired (DhtNode.pairWith), so that every node answers `want: ["n4", "n6"]`; the IPv6 nodes have
 * their own mesh, and each torrent has as many IPv6 peers as IPv4 ones, stored at the IPv6 nodes
 * closest to it (the same hosts, since the IDs are the same).
 */
import { randomBytes } from 'node:crypto';
import { formatEndpoint } from '../wire/address.js';
import { familyOf, type NodeInfo, type PeerInfo } from '../wire/compact.js';
import { compareDistance, idToHex, type NodeId } from '../wire/id.js';
import { secureIdFor } from '../wire/secure-id.js';
import { sha1 } from '../peer/ut-metadata.js';
import { DhtNode, type DhtNodeOptions } from '../dht/node.js';
import { Seeder, syntheticInfo } from '../peer/seeder.js';
import { SeededRandom } from '../net/seeded-random.js';
import { udpTransport, type Endpoint, type Faults } from '../net/transport.js';
import { assignRoles, nodeLatency, resolveConditions, unreachableCount, type NetworkConditions, type NodeRole, type PresetName } from './testnet-conditions.js';
import { lyingTransport } from './testnet-liars.js';
import { Churn } from './testnet-churn.js';
import { BootstrapRouter, ROUTER_BUFFER_AGE_MINUTES } from './testnet-router.js';
import { prefixContacts, sortById } from './testnet-mesh.js';
import { DEFAULT_ADDRESS_RANGE, layoutIn, parseAddressRange, sharedLayout, type AddressRange, type RangeLayout } from './address-range.js';

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
  /** How many bootstrap addresses to hand out: nodes' endpoints, or routers (`conditions.routers`). Default 4. */
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
  /**
   * Where the nodes live, in CIDR notation (address-range.ts). Default 127.0.0.0/8. Another range
   * (e.g. 10.77.0.0/16 routed to `lo` inside a network namespace) serves clients that refuse
   * loopback; `::1/128` or a /64 gives an IPv6 network (BEP 32).
   */
  addressRange?: string;
  /**
   * How the network behaves: a preset (`ideal`, the default; `internet`; `hostile`) or conditions
   * read from a file (testnet-conditions.ts, docs/testnet.md). Applied on top of `faults`.
   */
  conditions?: PresetName | NetworkConditions;
  /** Seed of every random choice (IDs, roles, torrents, delays, losses): the same seed, the same network. Default: random. */
  seed?: number;
  /**
   * BEP 32 dual stack: beside each IPv4 node, an IPv6 node with the same ID and role in
   * `addressRange6`, paired with it; every torrent gets `peers` IPv6 peers besides its IPv4 ones.
   * `addressRange` must then be IPv4. Churn and `deadFraction` take both nodes of a host together.
   */
  dualStack?: boolean;
  /** Where the IPv6 nodes of a dual-stack network live. Default ::1/128 (shared, distinct ports). */
  addressRange6?: string;
}

/** The IPv6 half of a dual-stack network (Testnet.ipv6). */
export interface TestnetFamily {
  /** nodes[i] is the IPv6 sibling of the IPv4 Testnet.nodes[i] (same ID). */
  readonly nodes: DhtNode[];
  readonly bootstrap: Endpoint[];
  /** As Testnet.sharedAddress, for this family's nodes. */
  readonly sharedAddress: boolean;
  readonly addressRange: AddressRange;
  /** The address an IPv6 client of this network should bind. */
  readonly clientAddress: string;
}

/** A synthetic torrent, and the peers stored for it at the nodes closest to its info-hash. */
export interface TestnetTorrent {
  infoHash: NodeId;
  /** Its peers: IPv4, then (in a dual-stack network) as many IPv6 ones. */
  peers: PeerInfo[];
  /** The info dictionary (when the testnet runs seeders). */
  info?: Uint8Array;
  /** The running seeders, in the order of `peers` (seeder i is peers[i]). */
  seeders?: Seeder[];
}

/** Where each seeded stream forks from the network's seed (SeededRandom.fork): node i's ID and role draws, its delays and losses, router j's. */
const FORK = { node: 1_000, nodeFaults: 100_000, router: 200_000 } as const;

/** Contacts per shared-prefix length when meshing: BEP 5's k. */
const BUCKET_SIZE = 8;

/** A running local network. Start it with Testnet.start(); close() stops every node. */
export class Testnet {
  private constructor(
    /** Every node, including the dead ones (closed). */
    readonly nodes: DhtNode[],
    readonly torrents: TestnetTorrent[],
    readonly bootstrap: Endpoint[],
    /**
     * True when nodes share one address or one /24 (/64 for IPv6): a client must then lift its
     * per-source and per-subnet defences (SHARED_ADDRESS_OPTIONS), declared here on purpose rather
     * than guessed from addresses, so that real networks keep them.
     */
    readonly sharedAddress: boolean,
    /** The range the nodes live in, e.g. 127.0.0.0/8. */
    readonly addressRange: AddressRange,
    /** The address a client of this network should bind (in the range, never a node's). */
    readonly clientAddress: string,
    /** The conditions it runs under, and the seed that replays it. */
    readonly conditions: NetworkConditions,
    readonly seed: number,
    /** What each node is (nodes[i] is roles[i]). */
    readonly roles: readonly NodeRole[],
    /** Contacts named in tables where nothing answers (`conditions.unreachable`). */
    readonly unreachable: readonly NodeInfo[],
    private readonly churn: Churn | undefined,
    private readonly layout: RangeLayout,
    /** The IPv6 nodes of a dual-stack network (`dualStack`); undefined otherwise. */
    readonly ipv6: TestnetFamily | undefined,
    /** The routers behind `bootstrap` (and ipv6.bootstrap) when `conditions.routers`; else none. */
    readonly routers: readonly BootstrapRouter[],
  ) {}

  /** Nodes replaced by churn so far (each left and came back on a new port). */
  get churned(): number {
    return this.churn?.count ?? 0;
  }

  /** The nodes still running (all of them unless `deadFraction` closed some). */
  get live(): DhtNode[] {
    return this.nodes.filter((n) => !n.isClosed);
  }

  /** Bind the nodes, mesh their tables and store the torrents. Closes what it started if it fails. */
  static async start(options: TestnetOptions = {}): Promise<Testnet> {
    const count = options.nodes ?? 50;
    if (!(count >= 2)) throw new RangeError('a local network needs at least 2 nodes');
    const range = parseAddressRange(options.addressRange ?? DEFAULT_ADDRESS_RANGE);
    const conditions = typeof options.conditions === 'object' ? options.conditions : resolveConditions(options.conditions ?? 'ideal');
    const seed = options.seed ?? randomBytes(4).readUInt32BE(0);
    const random = new SeededRandom(seed);
    const bootstrapCount = Math.min(options.bootstrapCount ?? 4, count);
    const roles = assignRoles(count, conditions, random.fork(0), bootstrapCount);
    const range6 = options.dualStack === true ? parseAddressRange(options.addressRange6 ?? '::1/128') : undefined;
    if (range6 !== undefined && (range.family !== 4 || range6.family !== 6)) {
      throw new RangeError(`a dual-stack network needs an IPv4 addressRange and an IPv6 addressRange6 (got ${range.text} and ${range6.text})`);
    }
    const plan: NodePlan = { base: nodeBase(options, conditions), roles, conditions, random };
    const { nodes, layout } = await startNodes(count, range, plan);
    const nodes6: DhtNode[] = [];
    let torrents: TestnetTorrent[] = [];
    let churn: Churn | undefined;
    const routers: BootstrapRouter[] = [];
    try {
      const answering = nodes.filter((_, i) => roles[i] !== 'read-only');
      const unreachable = phantoms(unreachableCount(answering.length, conditions.unreachable), layout, count, random.fork(2));
      mesh(nodes, answering, unreachable, random.fork(3));
      const seeders = options.seeders ?? 0;
      torrents = makeTorrents(options.torrents ?? 5, options.peers ?? 10, seeders > 0, layout, random.fork(4));
      await startSeeders(torrents, seeders, layout.shared);
      let ipv6: TestnetFamily | undefined;
      let layout6: RangeLayout | undefined;
      if (range6 !== undefined) {
        // Same IDs, same roles: the IPv6 node is the same host's other socket (BEP 32).
        const started = await startNodes(count, range6, { ...plan, ids: nodes.map((n) => n.id) });
        nodes6.push(...started.nodes);
        layout6 = started.layout;
        const answering6 = nodes6.filter((_, i) => roles[i] !== 'read-only');
        const unreachable6 = phantoms(unreachableCount(answering6.length, conditions.unreachable), layout6, count, random.fork(7));
        mesh(nodes6, answering6, unreachable6, random.fork(8));
        nodes.forEach((node, i) => node.pairWith(nodes6[i]!));
        addPeers(torrents, options.peers ?? 10, layout6);
        ipv6 = {
          nodes: nodes6,
          bootstrap: nodes6.slice(0, bootstrapCount).map((n) => n.local),
          sharedAddress: layout6.sharesSubnets,
          addressRange: range6,
          clientAddress: layout6.shared,
        };
      }
      storeTorrents([...answering, ...nodes6.filter((_, i) => roles[i] !== 'read-only')], torrents, options.replication ?? 8);
      const dead = Math.min(Math.floor(count * (options.deadFraction ?? 0)), count - bootstrapCount);
      // Kill hosts chosen at random among those not handed out as bootstrap addresses (both nodes of a dual-stack host).
      const killable = random.fork(5).shuffle([...nodes.keys()].slice(bootstrapCount));
      await Promise.all(killable.slice(0, dead).flatMap((i) => [nodes[i]!, ...(nodes6[i] !== undefined ? [nodes6[i]] : [])]).map((n) => n.close()));
      let bootstrap = nodes.slice(0, bootstrapCount).map((n) => n.local);
      if (conditions.routers === true) {
        const buffer = { 4: routerBuffer(answering, conditions, layout, random.fork(9)), ...(layout6 !== undefined ? { 6: routerBuffer(nodes6.filter((_, i) => roles[i] !== 'read-only'), conditions, layout6, random.fork(10)) } : {}) };
        for (const family of [nodes, nodes6]) {
          for (let j = 0; j < Math.min(bootstrapCount, family.length); j++) {
            // A router's datagrams fare as a node's do (the conditions' delay and loss).
            const faults = plan.base.faults === undefined ? {} : { faults: ownFaults(plan.base.faults, plan, FORK.router + routers.length) };
            routers.push(await BootstrapRouter.start({ address: family[j]!.local.address, buffer, ...faults }));
          }
        }
        bootstrap = routers.slice(0, bootstrapCount).map((r) => r.local);
        if (ipv6 !== undefined) ipv6 = { ...ipv6, bootstrap: routers.slice(bootstrapCount).map((r) => r.local) };
      }
      if ((conditions.churnPerMinute ?? 0) > 0) {
        churn = new Churn(nodes, conditions.churnPerMinute!, bootstrapCount, random.fork(6), (i, id) => respawnHost(i, id, layout, plan, nodes6, layout6));
      }
      return new Testnet(nodes, torrents, bootstrap, layout.sharesSubnets, range, layout.shared, conditions, seed, roles, unreachable, churn, layout, ipv6, routers);
    } catch (error) {
      await churn?.stop();
      await Promise.all(routers.map((r) => r.close()));
      await Promise.all([...nodes, ...nodes6].map((n) => n.close()));
      await closeSeeders(torrents);
      throw error;
    }
  }

  /** One JSON-friendly description: what `dht-scrape testnet` prints. */
  describe(): {
    address_range: string; addresses: string; conditions: string; seed: number; bootstrap: string[];
    address_range6?: string; bootstrap6?: string[]; torrents: { infohash: string; peers: string[] }[];
  } {
    return {
      address_range: this.addressRange.text,
      conditions: this.conditions.name,
      seed: this.seed,
      addresses: this.addresses(),
      bootstrap: this.bootstrap.map(formatEndpoint),
      ...(this.ipv6 !== undefined ? { address_range6: this.ipv6.addressRange.text, bootstrap6: this.ipv6.bootstrap.map(formatEndpoint) } : {}),
      torrents: this.torrents.map((t) => ({ infohash: idToHex(t.infoHash), peers: t.peers.map(formatEndpoint) })),
    };
  }

  /** Where the nodes are: "127.1.0.1 to 127.1.49.1", or "127.0.0.1 (shared, distinct ports)". */
  addresses(): string {
    const first = this.layout.node(0);
    const last = this.layout.node(this.nodes.length - 1);
    return first === last ? `${first} (shared, distinct ports)` : `${first} to ${last}`;
  }

  /** Close every node (and anything else the network started). */
  async close(): Promise<void> {
    await this.churn?.stop();
    await Promise.all(this.routers.map((r) => r.close()));
    await Promise.all([...this.nodes, ...(this.ipv6?.nodes ?? [])].map((n) => n.close()));
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
  peerStore: { maxPortsPerHost: 1_000_000, maxPeersPerNetwork: 1_000_000, maxGroupShare: 1 },
  table: { sharedLoopback: true },
};

/**
 * A local network is a lab: its querier is our own tool on the same machine, run again and again.
 * At the real DHT's 5 packets/s per source, twenty back-to-back scrapes get it banned for five
 * minutes. So loopback sources get a lab's budget (more than the CLI's default --rate of 500/s can
 * use) and short bans; other sources keep the real limits. See docs/limits.md.
 */
export const LAB_LOOPBACK_LIMIT = { rate: 1_000, burst: 10_000, banMs: 10_000 } as const;

/** What every node is started from: shared options, each node's role, the conditions, the seed. */
interface NodePlan {
  base: DhtNodeOptions;
  roles: readonly NodeRole[];
  conditions: NetworkConditions;
  random: SeededRandom;
  /** Node i's ID when it is given (the IPv6 nodes of a dual-stack network take their IPv4 twin's). */
  ids?: readonly NodeId[];
}

/** Options every node shares: the caller's, plus the faults the caller and the conditions ask for. */
function nodeBase(options: TestnetOptions, conditions: NetworkConditions): DhtNodeOptions {
  // A local network packs its synthetic swarms into a private range, often many peers to a /24:
  // the peer store's 5% share per host and network is a rule for the Internet's DHT, not for a lab
  // (its absolute caps still hold).
  const base: DhtNodeOptions = {
    loopbackSourceLimit: LAB_LOOPBACK_LIMIT,
    ...options.node,
    peerStore: { maxGroupShare: 1, ...options.node?.peerStore },
  };
  const faults: Faults = { ...options.faults };
  if (conditions.latency !== undefined) faults.latency = conditions.latency;
  if (conditions.loss !== undefined) faults.loss = 1 - (1 - (faults.loss ?? 0)) * (1 - conditions.loss);
  if (Object.keys(faults).length > 0) base.faults = faults;
  return base;
}

/**
 * Bind node i at its address in the range's layout. If the range's addresses cannot be bound
 * (macOS binds only 127.0.0.1; a namespace may route only a few), start again with every node on
 * the range's shared address.
 */
async function startNodes(count: number, range: AddressRange, plan: NodePlan): Promise<{ nodes: DhtNode[]; layout: RangeLayout }> {
  const spread = layoutIn(range, count);
  const shared = sharedLayout(range);
  const attempts = spread.node(0) === shared.shared ? [shared] : [spread, shared];
  for (const layout of attempts) {
    try {
      return { nodes: await bindAll(count, layout, plan), layout };
    } catch (error) {
      if (!isAddressUnavailable(error)) throw error;
    }
  }
  throw new Error(`no address of ${range.text} can be bound here (${shared.shared} is on no interface)`);
}

async function bindAll(count: number, layout: RangeLayout, plan: NodePlan): Promise<DhtNode[]> {
  const nodes: DhtNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await spawnNode(i, layout, plan));
  } catch (error) {
    await Promise.all(nodes.map((n) => n.close()));
    throw error;
  }
  return nodes;
}

/**
 * Start node i as its role says: its ID (BEP 42 for its address, unless it is among the
 * `nonSecureIds`), its own seeded stream of delays and losses, its profile, its lies.
 */
async function spawnNode(i: number, layout: RangeLayout, plan: NodePlan, id?: NodeId): Promise<DhtNode> {
  const { base, roles, conditions, random } = plan;
  const role = roles[i] ?? 'honest';
  const address = layout.node(i);
  const own = random.fork(FORK.node + i);
  const options: DhtNodeOptions = { ...base, ...(layout.sharesSubnets ? SHARED_ADDRESS_OPTIONS : {}), address, port: 0 };
  options.id = id ?? plan.ids?.[i] ?? (own.next() < (conditions.nonSecureIds ?? 1) ? own.bytes(20) : secureIdFor(address, undefined, (n) => own.bytes(n)));
  if (base.faults !== undefined) options.faults = ownFaults(base.faults, plan, FORK.nodeFaults + i);
  if (role === 'whole-table') {
    options.findNodeReplySize = WHOLE_TABLE_REPLY;
    options.rpc = { ...options.rpc, maxReplyBytes: 65_000 };
  }
  if (role === 'read-only') options.readOnly = true;
  if (role === 'wrong-id' || role === 'bogus-referrals' || role === 'fake-peers') {
    const inner = await udpTransport({ address, port: 0 });
    options.transport = lyingTransport(inner, role, own, () => nowhere(layout, plan.roles.length, own));
  }
  return DhtNode.create(options);
}

/**
 * Churn on a dual-stack host: both its nodes leave and come back (new ports, same ID), paired
 * again; `nodes6` is updated in place, as Churn updates the IPv4 nodes.
 */
async function respawnHost(i: number, id: NodeId, layout: RangeLayout, plan: NodePlan, nodes6: DhtNode[], layout6: RangeLayout | undefined): Promise<DhtNode> {
  const fresh = await spawnNode(i, layout, plan, id);
  const old6 = nodes6[i];
  if (layout6 === undefined || old6 === undefined) return fresh;
  await old6.close();
  const fresh6 = await spawnNode(i, layout6, plan, id);
  nodes6[i] = fresh6;
  fresh.pairWith(fresh6);
  return fresh;
}

/** webtorrent's bittorrent-dht answers find_node with its table, up to this many in our profile of it. */
const WHOLE_TABLE_REPLY = 200;

/**
 * An address where nothing answers: a node's address, on a port below the ephemeral range
 * (32768 and up on Linux), where no socket of ours ever binds.
 */
function nowhere(layout: RangeLayout, count: number, random: SeededRandom): PeerInfo {
  return { address: layout.node(random.int(count)), port: 1_024 + random.int(31_744) };
}

/** `n` contacts with IDs like any node's and addresses where nothing answers. */
function phantoms(n: number, layout: RangeLayout, count: number, random: SeededRandom): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (let i = 0; i < n; i++) out.push({ id: random.bytes(20), ...nowhere(layout, count, random) });
  return out;
}

/**
 * What a router hands out (testnet-router.ts): every answering node, and as many contacts that have
 * left since the router verified them as the churn of ROUTER_BUFFER_AGE_MINUTES makes (at the
 * `internet` preset's 1% a minute, 28% of the buffer), in a seeded order. Nodes the router has not
 * verified (BEP 42 IDs only, in bootstrap-dht) are not told apart: on loopback every ID is exempt.
 */
function routerBuffer(answering: readonly DhtNode[], conditions: NetworkConditions, layout: RangeLayout, random: SeededRandom): NodeInfo[] {
  const stale = 1 - (1 - (conditions.churnPerMinute ?? 0)) ** ROUTER_BUFFER_AGE_MINUTES;
  const live: NodeInfo[] = answering.map((n) => ({ id: n.id, ...n.local }));
  return random.shuffle([...live, ...phantoms(unreachableCount(live.length, stale), layout, answering.length, random)]);
}

/**
 * The faults of one host, from its own seeded stream: with `conditions.jitter`, its own delay
 * distribution around a typical delay drawn once (nodeLatency), which a host that leaves and comes
 * back (churn) keeps, as its path to the rest of the network stays what it was.
 */
function ownFaults(faults: Faults, plan: NodePlan, stream: number): Faults {
  const own = plan.random.fork(stream);
  const { jitter } = plan.conditions;
  const latency = faults.latency !== undefined && jitter !== undefined ? nodeLatency(faults.latency, jitter, () => own.next()) : faults.latency;
  return { ...faults, ...(latency !== undefined ? { latency } : {}), random: () => own.next() };
}

function isAddressUnavailable(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error as { code?: unknown }).code === 'EADDRNOTAVAIL';
}

/**
 * Fill every table as a long-running network would have it (testnet-mesh.ts): for each prefix
 * length a node shares with its own ID, up to k contacts of the sibling subtree. Read-only nodes
 * (BEP 43) are in no table; the unreachable contacts are, as many as the conditions say, like nodes
 * that answered once and left: drawn together with the answering ones, so each bucket holds them
 * in the network's proportion (about half at `internet`).
 */
function mesh(nodes: readonly DhtNode[], answering: readonly DhtNode[], unreachable: readonly NodeInfo[], random: SeededRandom): void {
  const live: NodeInfo[] = answering.map((n) => ({ id: n.id, ...n.local }));
  const sorted = sortById([...live, ...unreachable]);
  nodes.forEach((node) => {
    // Every table keeps the nodes' own ID arrays (never changed) instead of a copy per contact.
    node.addContacts(prefixContacts(sorted, node.id, BUCKET_SIZE, random), 'share');
  });
}

/** Synthetic torrents: random info-hashes, or real info dictionaries when seeders will serve them. */
function makeTorrents(torrents: number, peersEach: number, withInfo: boolean, layout: RangeLayout, random: SeededRandom): TestnetTorrent[] {
  const out: TestnetTorrent[] = [];
  let peerIndex = 0;
  for (let t = 0; t < torrents; t++) {
    const peers: PeerInfo[] = [];
    for (let p = 0; p < peersEach; p++) peers.push(syntheticPeer(peerIndex++, layout));
    if (!withInfo) { out.push({ infoHash: random.bytes(20), peers }); continue; }
    const info = syntheticTorrentInfo(t, random);
    out.push({ infoHash: sha1(info), peers, info });
  }
  return out;
}

/**
 * Store each torrent's peers at the nodes closest to it, as announce_peer would (BEP 32: a peer
 * announces over its own family, so each family's peers go to that family's nodes); every 3rd peer
 * of a family is a seed.
 */
function storeTorrents(nodes: readonly DhtNode[], torrents: readonly TestnetTorrent[], replication: number): void {
  for (const family of [4, 6] as const) {
    const ofFamily = nodes.filter((n) => n.family === family);
    for (const { infoHash, peers } of torrents) {
      const own = peers.filter((p) => familyOf(p.address) === family);
      if (own.length === 0) continue;
      const holders = [...ofFamily].sort((a, b) => compareDistance(infoHash, a.id, b.id)).slice(0, replication);
      for (const holder of holders) {
        own.forEach((peer, p) => holder.peers.announce(infoHash, peer, p % 3 === 0));
      }
    }
  }
}

/** A dual-stack network's IPv6 peers: `peersEach` more per torrent, in the IPv6 range's peer half. */
function addPeers(torrents: readonly TestnetTorrent[], peersEach: number, layout: RangeLayout): void {
  let peerIndex = 0;
  for (const torrent of torrents) {
    for (let p = 0; p < peersEach; p++) torrent.peers.push(syntheticPeer(peerIndex++, layout));
  }
}

/**
 * A made-up torrent of 128, 256, 384 or 512 MiB (t % 4) in 512 KiB pieces: info dictionaries of
 * 5 to 21 KB, so every fourth one takes two BEP 9 pieces, and a crawled network of thousands of
 * torrents still holds only tens of megabytes of them.
 */
function syntheticTorrentInfo(t: number, random: SeededRandom): Uint8Array {
  const name = `testnet torrent ${t + 1} ${Buffer.from(random.bytes(4)).toString('hex')}`;
  return syntheticInfo({
    name,
    files: [{ path: ['video.mkv'], length: ((t % 4) + 1) * 128 * 1024 * 1024 + 12_345 }, { path: ['README.txt'], length: 2_000 }],
    pieceLength: 512 * 1024,
  });
}

/**
 * Start the first `count` peers of each torrent as real seeders on their synthetic addresses. The
 * port is whatever is free; the peer's entry takes it before anything is announced. Where only
 * the shared address can be bound (127.0.0.1 on macOS), they listen there.
 */
async function startSeeders(torrents: TestnetTorrent[], count: number, sharedAddress: string): Promise<void> {
  for (const torrent of torrents) {
    if (torrent.info === undefined || count <= 0) continue;
    torrent.seeders = [];
    for (let p = 0; p < Math.min(count, torrent.peers.length); p++) {
      const completion = p % 3 === 0 ? 1 : (p % 10) / 10;
      const options = { address: torrent.peers[p]!.address, torrents: [{ info: torrent.info, completion }] };
      const seeder = await Seeder.start(options).catch((error: unknown) => {
        if (!isAddressUnavailable(error)) throw error;
        return Seeder.start({ ...options, address: sharedAddress });
      });
      torrent.seeders.push(seeder);
      torrent.peers[p] = seeder.local;
    }
  }
}

async function closeSeeders(torrents: readonly TestnetTorrent[]): Promise<void> {
  await Promise.all(torrents.flatMap((t) => t.seeders ?? []).map((s) => s.close()));
}

/** Peers of synthetic torrents live in the upper half of the range (127.128.0.0/9 by default): never a node's address. */
function syntheticPeer(i: number, layout: RangeLayout): PeerInfo {
  return { address: layout.peer(i), port: 6881 + (i % 1000) };
}


