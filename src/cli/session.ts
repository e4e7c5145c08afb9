/**
 * What scraper and crawler modes share: a bound node (on the asked port, or a free one if it is
 * taken), the bootstrap addresses (the public routers, given ones, or an in-process local network),
 * and the state file that remembers good nodes between runs (those of the network joined: see
 * state-file.ts).
 */
import { ipFamily, type NodeInfo } from '../wire/compact.js';
import { DhtNode, type DhtNodeOptions } from '../dht/node.js';
import type { Testnet } from '../modes/testnet.js';
import { formatEndpoint } from '../wire/address.js';
import { udpTransport, type Endpoint } from '../net/transport.js';
import { withPacketTap, type PacketListener } from '../net/packet-tap.js';
import { describeSocket, namesOnlyInOtherFamily, otherFamilyNamesMessage, PUBLIC_ROUTERS, parseHostPort, resolveAsTheyCome, resolveEndpoints, type NameLookup } from './bootstrap-nodes.js';
import { UsageError, type CommonOptions } from './options.js';
import { openFilesWarning, readOpenFilesLimit } from './open-files.js';
import { defaultStatePath, loadState, networkKey, saveState, StateFileRefused, type SavedState } from './state-file.js';
import type { Output } from './terminal.js';

export interface Session {
  node: DhtNode;
  /** Where to join: the bootstrap addresses, led (without SessionExtras.lookupFirst) by the first 32 saved nodes. */
  bootstrap: Endpoint[];
  /**
   * Dual stack (BEP 32: each family is its own DHT): an IPv6 node beside the IPv4 `node`, when the
   * command asked for both families (SessionExtras.bothFamilies), neither -4/-6 nor --bind picked
   * one, the bootstrap (or the state file's saved nodes) offers IPv6 addresses too and an IPv6
   * socket can be bound. Else undefined. With SessionExtras.lookupFirst, names whose IPv6
   * addresses are not known yet count as an offer: the session does not wait for them (ipv6Known).
   */
  node6: DhtNode | undefined;
  /** Where node6 joins (empty without node6). */
  bootstrap6: Endpoint[];
  /**
   * With SessionExtras.lookupFirst, the bootstrap names still resolving when the session opened,
   * one promise each: the addresses they add to `bootstrap` (and `bootstrap6`). Else empty.
   */
  bootstrapLater: Promise<Endpoint[]>[];
  bootstrap6Later: Promise<Endpoint[]>[];
  /**
   * Whether node6 has something to ask by now: a saved IPv6 contact, or an IPv6 bootstrap address
   * known when the session opened or resolved since (bootstrap6Later). False without node6.
   */
  ipv6Known(): boolean;
  /**
   * With SessionExtras.lookupFirst, the state file's saved contacts of each family, with their
   * IDs, for the lookup to start from (ScrapeOptions.contacts). Else empty: they lead `bootstrap`.
   */
  contacts: NodeInfo[];
  contacts6: NodeInfo[];
  testnet: Testnet | undefined;
  /** True when the public routers are used (so a failure should suggest --testnet). */
  usingPublicRouters: boolean;
  /** Nodes that answered a query of ours with KRPC error 202: they refuse us for now (a ban). */
  rateLimitedBy: Endpoint[];
  close(): Promise<void>;
}

export interface SessionExtras {
  /** Node options for crawling (e.g. a bigger peer store); testnet options. */
  node?: DhtNodeOptions;
  testnetTorrents?: number;
  testnetNode?: DhtNodeOptions;
  /** Real seeding peers per local-network torrent (for --metadata and --probe). */
  testnetSeeders?: number;
  /** The command can run an IPv4 and an IPv6 node side by side (see Session.node6). */
  bothFamilies?: boolean;
  /**
   * The session of a command whose lookup leaves at once (a scrape). It opens once there is
   * something to ask (saved contacts, IP literals, else the first name to resolve) and hands over
   * the names still resolving (Session.bootstrapLater); and the saved contacts keep their IDs
   * (Session.contacts), to be asked closest to the target first rather than all at once as
   * bootstrap addresses. Else every name is resolved first, and the saved contacts lead `bootstrap`.
   */
  lookupFirst?: boolean;
  /** How names are resolved (default: the system's resolver); tests pass their own. */
  resolve?: NameLookup;
  /** What a run without --bind binds in each family (default 0.0.0.0 and ::); tests keep to loopback. */
  defaultBind?: { ipv4: string; ipv6: string };
}

export async function openSession(common: CommonOptions, output: Output, extras: SessionExtras = {}): Promise<Session> {
  let testnet: Testnet | undefined;
  // Our node's options on a local network whose nodes share one address (Testnet.sharedAddress).
  let sharedAddress: DhtNodeOptions | undefined;
  if (common.testnet !== undefined) {
    // The local network's modules load only when one is asked for (see main.ts).
    const [lab, { loadConditions }] = await Promise.all([import('../modes/testnet.js'), import('./conditions-file.js')]);
    const conditions = await loadConditions(common.lab.conditions);
    const seeders = extras.testnetSeeders ?? 0;
    const files = openFilesWarning({ nodes: common.testnet, perNode: common.dualStack ? 2 : 1, extra: (extras.testnetTorrents ?? 3) * Math.min(seeders, 10) }, readOpenFilesLimit());
    if (files !== undefined) output.err(files);
    output.err(`Starting a local DHT of ${common.testnet} nodes on loopback${typeof conditions === 'string' && conditions === 'ideal' ? '' : ` (conditions ${typeof conditions === 'string' ? conditions : conditions.name})`}...`);
    testnet = await lab.Testnet.start({
      conditions,
      // --bind ::1 asks for an IPv6 network (BEP 32): its nodes share the IPv6 address on their own ports.
      ...(common.bind !== undefined && ipFamily(common.bind) === 6 ? { addressRange: ipv6Range(common.bind) } : {}),
      ...(common.dualStack ? { dualStack: true } : {}),
      ...(common.lab.seed !== undefined ? { seed: common.lab.seed } : {}),
      nodes: common.testnet,
      torrents: extras.testnetTorrents ?? 3,
      peers: 10,
      ...(extras.testnetNode !== undefined ? { node: extras.testnetNode } : {}),
      ...(extras.testnetSeeders !== undefined ? { seeders: extras.testnetSeeders } : {}),
    });
    sharedAddress = lab.SHARED_ADDRESS_OPTIONS;
  }
  const useState = !common.noState && testnet === undefined;
  const statePath = common.statePath ?? defaultStatePath();
  const network = networkKey(common.bootstrap);
  let saved;
  try {
    saved = useState ? await loadState(statePath, network) : undefined;
  } catch (error) {
    if (error instanceof StateFileRefused) throw new UsageError(error.message);
    throw error;
  }
  // No --bind: the family -4/-6 picked, or IPv6 when every --bootstrap address is IPv6.
  const onlyIpv6 = common.family === 6 || (common.family === undefined && common.bootstrap.length > 0 && common.bootstrap.every((b) => ipFamily(b.host) === 6));
  const bind = common.bind ?? testnet?.clientAddress ?? (onlyIpv6 ? extras.defaultBind?.ipv6 ?? '::' : extras.defaultBind?.ipv4 ?? '0.0.0.0');
  const nodeOptions: DhtNodeOptions = { ...extras.node, address: bind };
  const savedId = ipFamily(bind) === 6 ? saved?.id6 ?? saved?.id : saved?.id;
  if (savedId !== undefined) nodeOptions.id = savedId;
  if (common.rate !== undefined) nodeOptions.rpc = { ...nodeOptions.rpc, sendRate: common.rate };
  if (common.alpha !== undefined) nodeOptions.lookup = { ...nodeOptions.lookup, alpha: common.alpha };
  if (common.enforceSecureIds) nodeOptions.enforceSecureIds = true;
  if (testnet?.sharedAddress === true && sharedAddress !== undefined) Object.assign(nodeOptions, sharedAddress, { lookup: { ...nodeOptions.lookup, ...sharedAddress.lookup } });

  let node: DhtNode;
  // --trace's decoder of every packet (krpc-text.ts) loads only with --trace (see main.ts).
  const tap = common.trace ? (await import('./packet-trace.js')).packetTracer(output) : undefined;
  const port = testnet !== undefined && !common.portExplicit ? 0 : common.port;
  try {
    node = await bindNode(nodeOptions, port, output, tap);
  } catch (error) {
    await testnet?.close();
    throw error;
  }

  const family = ipFamily(bind) === 6 ? 6 : 4;
  let bootstrap: Endpoint[];
  let usingPublicRouters = false;
  // A second, IPv6 node is wanted (Session.node6): its bootstrap addresses resolve alongside the first's.
  const dual = extras.bothFamilies === true && common.family === undefined && family === 4;
  let bootstrap6: Endpoint[] = [];
  let bootstrapLater: Promise<Endpoint[]>[] = [];
  let bootstrap6Later: Promise<Endpoint[]>[] = [];
  let contacts: NodeInfo[] = [];
  let contacts6: NodeInfo[] = [];
  const given = common.bootstrap.length > 0 ? common.bootstrap : PUBLIC_ROUTERS.map((r) => parseHostPort(r));
  if (testnet !== undefined) {
    bootstrap = testnet.bootstrap.slice(0, 1);
    if (dual && testnet.ipv6 !== undefined) bootstrap6 = testnet.ipv6.bootstrap.slice(0, 1);
  } else {
    usingPublicRouters = common.bootstrap.length === 0;
    const { resolve } = extras;
    if (extras.lookupFirst === true) {
      contacts = savedContacts(saved?.nodes ?? [], family);
      contacts6 = dual ? savedContacts(saved?.nodes ?? [], 6) : [];
      const [streamed, streamed6] = await Promise.all([
        resolveAsTheyCome(given, family, contacts.length > 0, undefined, resolve),
        // The IPv6 side waits for nothing: a resolver that stalls on every AAAA record (some take
        // seconds) would otherwise hold up the IPv4 scrape. Its names come to its lookup later.
        dual ? resolveAsTheyCome(given, 6, true, undefined, resolve) : { now: [], later: [] },
      ]);
      [bootstrap, bootstrapLater, bootstrap6, bootstrap6Later] = [streamed.now, streamed.later, streamed6.now, streamed6.later];
    } else {
      const [resolved, resolved6] = await Promise.all([resolveEndpoints(given, family, undefined, resolve), dual ? resolveEndpoints(given, 6, undefined, resolve) : []]);
      bootstrap = [...savedEndpoints(saved?.nodes ?? [], family), ...resolved];
      // The IPv6 node's saved contacts (state-file.ts) come first too: a cold start in both families.
      bootstrap6 = dual ? [...savedEndpoints(saved?.nodes ?? [], 6), ...resolved6] : [];
    }
  }

  let node6: DhtNode | undefined;
  if (dual) {
    const ipv6 = testnet?.ipv6;
    if (bootstrap6.length > 0 || contacts6.length > 0 || bootstrap6Later.length > 0) {
      const options6: DhtNodeOptions = { ...nodeOptions, address: ipv6?.clientAddress ?? extras.defaultBind?.ipv6 ?? '::' };
      delete options6.id;
      if (saved?.id6 !== undefined) options6.id = saved.id6;
      if (ipv6?.sharedAddress === true && sharedAddress !== undefined) Object.assign(options6, sharedAddress, { lookup: { ...options6.lookup, ...sharedAddress.lookup } });
      // No IPv6 here (no address, or the family disabled): the run stays IPv4, as -4 would.
      node6 = await bindNode(options6, port, output, tap).catch(() => undefined);
      if (node6 === undefined) [bootstrap6, bootstrap6Later, contacts6] = [[], [], []];
      // One host, two DHTs (BEP 32): each node answers `want` from both tables, and asks for the
      // other family's contacts while its sibling's table is short (DhtNode.pairWith).
      else node.pairWith(node6);
    }
  }

  let ipv6Known = node6 !== undefined && bootstrap6.length + contacts6.length > 0;
  for (const later of bootstrap6Later) void later.then((found) => { if (found.length > 0) ipv6Known = true; });

  if (testnet === undefined && bootstrap.length + bootstrap6.length + contacts.length + contacts6.length + bootstrap6Later.length === 0) {
    // Nothing to join through. A name with addresses only in the other family is a mismatch of
    // options (exit 2, as for an IP literal), not a network that cannot be reached.
    const mismatched = await namesOnlyInOtherFamily(given, family, undefined, extras.resolve);
    if (mismatched.length > 0) {
      await node.close();
      await node6?.close();
      throw new UsageError(otherFamilyNamesMessage(common.bootstrap.length > 0 ? '--bootstrap' : 'the public router', mismatched, family, describeSocket(common.bind, common.family)));
    }
  }

  const rateLimitedBy: Endpoint[] = [];
  for (const each of node6 !== undefined ? [node, node6] : [node]) {
    each.onErrorReply((error, from) => {
      if (error.e.code === 202 && !rateLimitedBy.some((e) => e.address === from.address && e.port === from.port)) rateLimitedBy.push(from);
    });
  }
  return {
    node,
    bootstrap,
    node6,
    bootstrap6,
    bootstrapLater,
    bootstrap6Later,
    ipv6Known: () => ipv6Known,
    contacts,
    contacts6,
    testnet,
    usingPublicRouters,
    rateLimitedBy,
    async close() {
      if (useState && (node.tableSize > 0 || (node6?.tableSize ?? 0) > 0)) {
        await saveState(statePath, network, stateToSave(saved, family === 4 ? node : node6, family === 6 ? node : node6)).catch((error: unknown) => {
          output.err(`dht-scrape: the state was not saved: ${error instanceof Error ? error.message : String(error)}`);
        });
      }
      await node.close();
      await node6?.close();
      await testnet?.close();
    },
  };
}

/** The local network for an IPv6 bind: ::1 for the unspecified or loopback address, else that one address. */
function ipv6Range(bind: string): string {
  return bind === '::' || bind === '::1' ? '::1/128' : `${bind}/128`;
}

/** Where the session joins, for the line a command prints as it starts ("Crawling ...", "Looking up ... from ..."). */
export function describeNetwork(session: Session): string {
  const { testnet } = session;
  // An IPv6 side still waiting for its names' addresses is not announced: it may never have one.
  const both = session.node6 !== undefined && session.ipv6Known() ? ', IPv4 and IPv6' : '';
  if (testnet !== undefined) return `the local network (${testnet.nodes.length} nodes${testnet.ipv6 !== undefined ? ` + ${testnet.ipv6.nodes.length} IPv6` : ''}, ${testnet.torrents.length} torrents${both})`;
  if (session.usingPublicRouters) return `the DHT through the public routers${both}`;
  const through = [...session.bootstrap, ...session.bootstrap6].map(formatEndpoint);
  const saved = session.contacts.length + session.contacts6.length;
  if (saved > 0) through.push(`${saved} saved node${saved > 1 ? 's' : ''}`);
  const names = session.bootstrapLater.length;
  const resolving = `${names} ${through.length > 0 ? 'more ' : ''}name${names > 1 ? 's' : ''} still resolving`;
  if (through.length === 0) return `the DHT through ${resolving}`;
  return `the DHT through ${through.join(', ')}${names > 0 ? ` (${resolving})` : ''}`;
}

/**
 * Why joining failed, for every command: a node that refused us (KRPC 202) is named; else no
 * address resolved, or which bootstrap nodes did not answer (`waited`: for how long, as the command
 * says it), and how many saved nodes did not either (Session.contacts). `tryLocal`: the same job on
 * the local network, to suggest. `tried`: the bootstrap addresses asked, when names resolved after
 * the session opened were asked too (Session.bootstrapLater); default Session.bootstrap.
 */
export function noBootstrapMessage(session: Session, options: { waited?: string; tryLocal?: string; tried?: readonly Endpoint[] } = {}): string {
  const limited = rateLimitedMessage(session);
  if (limited !== undefined) return limited;
  const local = options.tryLocal !== undefined ? `, or try the local network: ${options.tryLocal}` : '';
  const bootstrap = options.tried ?? session.bootstrap;
  const saved = session.contacts.length;
  const savedNodes = `${saved} saved node${saved > 1 ? 's' : ''}`;
  const savedToo = saved > 0 ? `, nor any of ${savedNodes}` : '';
  if (bootstrap.length === 0) {
    const noneSaved = saved > 0 ? ` and none of ${savedNodes} answered` : '';
    return `dht-scrape: network error: no bootstrap address could be resolved${noneSaved} (is there an internet connection?).\nCheck --bootstrap${local}`;
  }
  const listed = `${bootstrap.slice(0, 4).map(formatEndpoint).join(', ')}${bootstrap.length > 4 ? ', ...' : ''}`;
  return `dht-scrape: network error: none of ${bootstrap.length} bootstrap node(s) answered (${listed})${savedToo}${options.waited ?? ''}.\n` +
    `Check the internet connection or --bootstrap${local}`;
}

/** "rate-limited by <node>" when a node we asked refused us with KRPC 202, instead of blaming the network. */
export function rateLimitedMessage(session: Session): string | undefined {
  const [first, ...more] = session.rateLimitedBy;
  if (first === undefined) return undefined;
  return `dht-scrape: network error: rate-limited by ${formatEndpoint(first)}${more.length > 0 ? ` and ${more.length} more` : ''} ` +
    '(it answered "rate limited": we sent it more than it accepts from one address; it ignores us for a while).\n' +
    'Wait a few minutes, use another --bootstrap node, or lower --rate.';
}

/**
 * What a run leaves in the state file: each family's good nodes from its node, or, for a family
 * that did not run or whose table stayed empty, what was saved before (a -4 run keeps the IPv6
 * list). `id` stays the IPv4 node's ID, `id6` the IPv6 node's.
 */
function stateToSave(saved: SavedState | undefined, node4: DhtNode | undefined, node6: DhtNode | undefined): SavedState {
  const nodesOf = (node: DhtNode | undefined, family: 4 | 6): NodeInfo[] => (node !== undefined && node.tableSize > 0
    ? node.goodNodes(200)
    : (saved?.nodes ?? []).filter((n) => (ipFamily(n.address) === 6) === (family === 6)));
  const id = node4?.id ?? saved?.id ?? node6!.id;
  const id6 = node6?.id ?? saved?.id6;
  return { id, ...(id6 !== undefined ? { id6 } : {}), nodes: [...nodesOf(node4, 4), ...nodesOf(node6, 6)] };
}

function savedEndpoints(nodes: readonly NodeInfo[], family: 4 | 6): Endpoint[] {
  return nodes.filter((n) => (ipFamily(n.address) === 6) === (family === 6)).slice(0, 32).map(({ address, port }) => ({ address, port }));
}

/** The saved contacts of one family, IDs kept: a lookup keeps the closest of them (LookupState's candidate cap). */
function savedContacts(nodes: readonly NodeInfo[], family: 4 | 6): NodeInfo[] {
  return nodes.filter((n) => (ipFamily(n.address) === 6) === (family === 6));
}

/** Bind the asked port; if it is taken, any free port, and say so. */
export async function bindNode(options: DhtNodeOptions, port: number, output: Output, tap?: PacketListener): Promise<DhtNode> {
  // --trace: the node's socket, wrapped so that every packet is shown.
  const create = async (at: number): Promise<DhtNode> => (tap === undefined
    ? DhtNode.create({ ...options, port: at })
    : DhtNode.create({ ...options, transport: withPacketTap(await udpTransport({ ...(options.address !== undefined ? { address: options.address } : {}), port: at }), tap) }));
  try {
    return await create(port);
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') || port === 0) throw error;
    const node = await create(0);
    output.err(`Port ${port} is taken; using port ${node.local.port} instead.`);
    return node;
  }
}
