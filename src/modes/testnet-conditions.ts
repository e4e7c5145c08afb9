/**
 * Network conditions for the local network, as data: how slow, lossy, dead, changing, diverse and
 * dishonest its nodes are. Three presets (`ideal`, `internet`, `hostile`) and a JSON form for the
 * rest; docs/testnet.md gives the source of each number of `internet`.
 *
 * Pure: it says what each node is (its role), drawn from a seeded generator, so that the same seed
 * gives the same network. testnet.ts turns roles into sockets, faults and lies.
 */
import { Z95, sampleLogNormal, type LogNormal } from '../net/transport.js';
import type { SeededRandom } from '../net/seeded-random.js';

/** Everything optional: an empty object is the `ideal` network. Shares are fractions in [0, 1]. */
export interface NetworkConditions {
  /** Shown in reports ("internet", or the file's name). */
  name: string;
  /** Delay every node adds to each datagram it sends (log-normal): what a client sees as the round trip. */
  latency?: LogNormal;
  /**
   * How much one node's delays vary around its own typical delay: the p95 over the median of the
   * node's own log-normal (1: every datagram of a node takes the same time). Each node's typical
   * delay is drawn once (nodeLatency), so that a node is steadily near or steadily far, as a path
   * on the internet is, while delays pooled over all nodes keep `latency`'s median and p95.
   * Undefined: each datagram's delay is drawn from `latency` on its own.
   */
  jitter?: number;
  /** Probability that a datagram a node sends is lost. */
  loss?: number;
  /**
   * Share of the contacts in tables (and so in replies) that answer nothing: behind a NAT, gone,
   * firewalled. They are named like any node, but nothing listens at their address.
   */
  unreachable?: number;
  /** Share of the nodes that leave each minute and come back on a new port with the same ID. */
  churnPerMinute?: number;
  /** Shares of implementation profiles; the rest run our node with libtorrent's settings. */
  profiles?: {
    /** Answer find_node with up to 200 contacts, as webtorrent's bittorrent-dht does. */
    wholeTable?: number;
    /** BEP 43 read-only nodes: they query (with `ro: 1`) but answer nothing and are in no table. */
    readOnly?: number;
  };
  /** Share of node IDs that do not follow BEP 42 for their address (the others do). Default 1 (all random, as `ideal`). */
  nonSecureIds?: number;
  /** Shares of lying nodes (testnet-liars.ts). */
  liars?: { wrongId?: number; bogusReferrals?: number; fakePeers?: number };
  /**
   * The bootstrap addresses handed out are routers like router.bittorrent.com (testnet-router.ts:
   * 16 nodes in turn whatever the target, 3 to an IP that asked before), not DHT nodes. Default false.
   */
  routers?: boolean;
}

export type PresetName = 'ideal' | 'internet' | 'hostile';

const INTERNET: NetworkConditions = {
  name: 'internet',
  latency: { medianMs: 120, p95Ms: 800 },
  jitter: 1.5,
  loss: 0.03,
  unreachable: 0.5,
  churnPerMinute: 0.01,
  profiles: { wholeTable: 0.05, readOnly: 0.05 },
  nonSecureIds: 0.25,
  routers: true,
};

/** The presets. docs/testnet.md: what each number is and where it comes from. */
export const PRESETS: Readonly<Record<PresetName, NetworkConditions>> = {
  ideal: { name: 'ideal' },
  internet: INTERNET,
  hostile: { ...INTERNET, name: 'hostile', liars: { wrongId: 0.05, bogusReferrals: 0.05, fakePeers: 0.05 } },
};

export class ConditionsError extends Error {
  constructor(message: string) { super(message); this.name = 'ConditionsError'; }
}

/** What a node is, decided once per node from the conditions and the seed. */
export type NodeRole = 'honest' | 'whole-table' | 'read-only' | 'wrong-id' | 'bogus-referrals' | 'fake-peers';

/**
 * One role per node. The first `keepHonest` (the bootstrap nodes a client is handed) are always
 * honest; the others are dealt out by the shares, exactly (rounded), in a seeded random order.
 */
export function assignRoles(count: number, conditions: NetworkConditions, random: SeededRandom, keepHonest: number): NodeRole[] {
  const roles: NodeRole[] = new Array<NodeRole>(count).fill('honest');
  const order = random.shuffle(Array.from({ length: Math.max(0, count - keepHonest) }, (_, i) => i + keepHonest));
  const deal: [NodeRole, number | undefined][] = [
    ['whole-table', conditions.profiles?.wholeTable],
    ['read-only', conditions.profiles?.readOnly],
    ['wrong-id', conditions.liars?.wrongId],
    ['bogus-referrals', conditions.liars?.bogusReferrals],
    ['fake-peers', conditions.liars?.fakePeers],
  ];
  let next = 0;
  for (const [role, share] of deal) {
    const n = Math.round((share ?? 0) * count);
    for (let i = 0; i < n && next < order.length; i++) roles[order[next++]!] = role;
  }
  return roles;
}

/**
 * One node's own delay distribution: its typical delay drawn once from `latency` with the jitter's
 * share of the spread taken out (the variances of independent log-normals add in log space), so
 * that over many nodes the delays still have `latency`'s median and p95.
 */
export function nodeLatency(latency: LogNormal, jitter: number, random: () => number): LogNormal {
  const sigma = Math.log(latency.p95Ms / latency.medianMs) / Z95;
  const own = Math.log(jitter) / Z95;
  const path = Math.sqrt(Math.max(0, sigma * sigma - own * own));
  const typical = sampleLogNormal({ medianMs: latency.medianMs, p95Ms: latency.medianMs * Math.exp(path * Z95) }, random);
  return { medianMs: typical, p95Ms: typical * jitter };
}

/** How many never-answering contacts to mix among `live` nodes so that they are `unreachable` of all. */
export function unreachableCount(live: number, unreachable: number | undefined): number {
  const u = unreachable ?? 0;
  return u <= 0 ? 0 : Math.round((live * u) / (1 - u));
}

/** A preset by name, or conditions read from a JSON document (as a conditions file holds). */
export function resolveConditions(nameOrDocument: string | unknown, name = 'custom'): NetworkConditions {
  if (typeof nameOrDocument === 'string') {
    const preset = PRESETS[nameOrDocument as PresetName] as NetworkConditions | undefined;
    if (preset === undefined) throw new ConditionsError(`unknown conditions ${JSON.stringify(nameOrDocument)} (presets: ${Object.keys(PRESETS).join(', ')})`);
    return preset;
  }
  return parseConditions(nameOrDocument, name);
}

/**
 * Check a conditions document field by field: every number in range, no unknown key (a typo would
 * otherwise silently give the ideal network). `extends` starts from a preset.
 */
export function parseConditions(document: unknown, name: string): NetworkConditions {
  const doc = record(document, 'conditions');
  allowKeys(doc, ['name', 'extends', 'latency', 'loss', 'unreachable', 'churnPerMinute', 'profiles', 'nonSecureIds', 'liars', 'routers', 'jitter'], 'conditions');
  const base = doc.extends === undefined ? PRESETS.ideal : resolveConditions(stringField(doc.extends, 'extends'));
  const out: NetworkConditions = { ...base, name: doc.name === undefined ? name : stringField(doc.name, 'name') };
  if (doc.latency !== undefined) {
    const l = record(doc.latency, 'latency');
    allowKeys(l, ['medianMs', 'p95Ms'], 'latency');
    const medianMs = numberField(l.medianMs, 'latency.medianMs', 0.001, 60_000);
    const p95Ms = numberField(l.p95Ms, 'latency.p95Ms', medianMs, 60_000);
    out.latency = { medianMs, p95Ms };
  }
  if (doc.jitter !== undefined) out.jitter = numberField(doc.jitter, 'jitter', 1, 100);
  if (doc.loss !== undefined) out.loss = numberField(doc.loss, 'loss', 0, 1);
  if (doc.unreachable !== undefined) out.unreachable = numberField(doc.unreachable, 'unreachable', 0, 0.95);
  if (doc.churnPerMinute !== undefined) out.churnPerMinute = numberField(doc.churnPerMinute, 'churnPerMinute', 0, 1);
  if (doc.nonSecureIds !== undefined) out.nonSecureIds = numberField(doc.nonSecureIds, 'nonSecureIds', 0, 1);
  if (doc.routers !== undefined) {
    if (typeof doc.routers !== 'boolean') throw new ConditionsError(`routers must be true or false, got ${JSON.stringify(doc.routers)}`);
    out.routers = doc.routers;
  }
  if (doc.profiles !== undefined) {
    const p = record(doc.profiles, 'profiles');
    allowKeys(p, ['wholeTable', 'readOnly'], 'profiles');
    out.profiles = { ...base.profiles, ...shares(p, ['wholeTable', 'readOnly'], 'profiles') };
  }
  if (doc.liars !== undefined) {
    const l = record(doc.liars, 'liars');
    allowKeys(l, ['wrongId', 'bogusReferrals', 'fakePeers'], 'liars');
    out.liars = { ...base.liars, ...shares(l, ['wrongId', 'bogusReferrals', 'fakePeers'], 'liars') };
  }
  const total = Object.values(out.profiles ?? {}).concat(Object.values(out.liars ?? {})).reduce((a, b) => a + b, 0);
  if (total > 1) throw new ConditionsError(`profiles and liars add up to ${total}, more than every node`);
  return out;
}

function shares(doc: Record<string, unknown>, keys: readonly string[], where: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) if (doc[key] !== undefined) out[key] = numberField(doc[key], `${where}.${key}`, 0, 1);
  return out;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConditionsError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function allowKeys(doc: Record<string, unknown>, keys: readonly string[], where: string): void {
  for (const key of Object.keys(doc)) {
    if (!keys.includes(key)) throw new ConditionsError(`${where}: unknown field ${JSON.stringify(key)} (known: ${keys.join(', ')})`);
  }
}

function numberField(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConditionsError(`${where} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function stringField(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new ConditionsError(`${where} must be a string`);
  return value;
}

