/**
 * The fuzz harness: feeds generated datagrams to the bencode decoder, the KRPC parser and real
 * DhtNodes (over an in-memory transport, no socket), and checks what BEP 5 and our own rules demand
 * of every single input:
 *
 *  - nothing throws but the decoder's typed BencodeError, and nothing rejects unhandled;
 *  - the node accounts for every datagram exactly once: handled (a query answered, a reply matched)
 *    or dropped with a reason, so `packetsIn` equals the sum of those counters;
 *  - nothing is sent in answer to what cannot be parsed; a malformed query gets at most one error
 *    reply; a refused query at most one 202 "rate limited"; a valid query exactly one reply; every
 *    reply is valid KRPC and at most MAX_REPLY_BYTES;
 *  - no input takes longer than `slowMs` (a hang in the making), and the node's tables stay under
 *    their caps however long the run.
 *
 * Used by tests/unit/fuzz.test.ts (100,000 inputs) and by `npm run fuzz` (any number).
 */
import { performance } from 'node:perf_hooks';
import { BencodeError, decode } from '../../src/wire/bencode.js';
import type { PeerInfo } from '../../src/wire/compact.js';
import { decodeMessage, type Message } from '../../src/wire/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { MAX_REPLY_BYTES, type RpcCounters } from '../../src/net/rpc.js';
import type { DatagramHandler, Endpoint, Transport } from '../../src/net/transport.js';
import { Prng } from '../helpers/prng.js';
import { GENERATORS, pickGenerator, type OpenQuery } from './generators.js';

export interface FuzzOptions {
  iterations: number;
  seed: number;
  /** An input that takes longer than this to handle is a failure. Default 250 ms. */
  slowMs?: number;
  /** Called with each input before it is fed (the CLI's watchdog keeps it, to print it on a hang). */
  onInput?: (iteration: number, bytes: Uint8Array) => void;
  /** Called every `progressEvery` inputs. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export interface FuzzFailure {
  iteration: number;
  generator: string;
  problem: string;
  /** The input, in hex (cut at 2 KB). */
  input: string;
}

export interface FuzzReport {
  seed: number;
  iterations: number;
  elapsedMs: number;
  /** Inputs made by each generator. */
  byGenerator: Record<string, number>;
  /** What the strict bencode decoder made of each input. */
  bencode: Record<'value' | 'BencodeError', number>;
  /** What the KRPC parser made of each input. */
  krpc: Record<'query' | 'response' | 'error' | 'KrpcError with t (answerable)' | 'KrpcError without t (silent)', number>;
  /** What the node did with each input: `handled: ...` or `dropped: <reason>`. */
  node: Record<string, number>;
  sent: { replies: number; errorReplies: number; queries: number; largestReply: number };
  /** The nodes' state at the end: every figure is under its cap. */
  state: { tableSize: number; torrents: number; peers: number; openQueries: number; limiterSources: number; limiterBans: number };
  heapUsedMb: { start: number; end: number };
  failureCount: number;
  /** The first 20 failures. */
  failures: FuzzFailure[];
}

/** A Transport with no socket: it records what the node sends and lets the harness deliver datagrams. */
export interface MemoryTransport extends Transport {
  readonly sent: { bytes: Uint8Array; to: Endpoint }[];
}

export function memoryTransport(local: Endpoint): MemoryTransport {
  const sent: { bytes: Uint8Array; to: Endpoint }[] = [];
  return {
    sent,
    send: (bytes, to) => { sent.push({ bytes, to }); },
    onMessage: (_handler: DatagramHandler) => {},
    onSendError: () => {},
    local: () => local,
    close: () => Promise.resolve(),
  };
}

/** What can become of one received datagram; exactly one of these counters moves per datagram. */
const OUTCOMES = [
  'handled: query', 'handled: matched reply', 'handled: matched error', 'dropped: oversized', 'dropped: refused',
  'dropped: undecodable', 'dropped: invalid', 'dropped: unmatched', 'dropped: wrong-source',
] as const;

/** The OUTCOMES counters, in order. */
function outcomeCounters(c: RpcCounters): number[] {
  let queries = 0;
  for (const method in c.queriesIn) queries += c.queriesIn[method]!;
  const d = c.dropped;
  return [queries, c.responses, c.errors, d.oversized, d.refused, d.undecodable, d.invalid, d.unmatched, d['wrong-source']];
}

/** What the run learns from what the nodes send, for the generators to use. */
interface RunContext { openQueries: OpenQuery[]; tokens: Map<string, Uint8Array> }

interface Target {
  name: string;
  node: DhtNode;
  transport: MemoryTransport;
  sources: PeerInfo[];
}

const MAX_FAILURES_KEPT = 20;
/** Simulated time per input: the send budget (500/s) earns 2.5 packets in it, more than one input costs. */
const TICK_MS = 5;
/** Every this many inputs, the nodes' query timers (1 ms) are let fire: open queries time out. */
const TIMER_EVERY = 1_000;

/** Run `iterations` inputs from `seed`. Resolves with the report; never throws for a bad input. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Prng(options.seed);
  const slowMs = options.slowMs ?? 250;
  let clock = 1_700_000_000_000;
  const now = (): number => clock;
  // No table upkeep timer; query timeouts of 1 ms that fire only when the harness lets them (see TIMER_EVERY).
  const quiet = { maintenanceIntervalMs: 2 ** 31 - 1, now, rpc: { hardTimeoutMs: 1, softTimeoutMs: 1 } };

  const targets: Target[] = [];
  const add = async (name: string, local: Endpoint, sources: PeerInfo[], extra: Parameters<typeof DhtNode.create>[0] = {}): Promise<void> => {
    const transport = memoryTransport(local);
    // IDs from the seed, so that a seed replays the same run (tables, pings, and so the inputs built on them).
    targets.push({ name, node: await DhtNode.create({ ...quiet, ...extra, id: rng.bytes(20), transport }), transport, sources });
  };
  const v4 = (i: number): PeerInfo => ({ address: `10.${1 + (i >> 8)}.${i & 255}.${1 + (i % 200)}`, port: 1024 + i });
  // An IPv4 node and an IPv6 node (BEP 32: nodes6), both without the source limit and the CPU budget
  // so every input is read and answered; a third with the default limits, fed by a few hot sources
  // (banned) and many quiet ones. (The CPU budget times answers on the real clock: on the first two
  // it made the count of replies a matter of the machine's speed, not of the seed.)
  await add('ipv4', { address: '10.0.0.1', port: 6881 }, [
    ...Array.from({ length: 240 }, (_, i) => v4(i)),
    ...Array.from({ length: 16 }, (_, i) => ({ address: `::ffff:10.200.0.${i + 1}`, port: 7000 + i })),
  ], { sourceLimit: false, cpuBudget: false });
  await add('ipv6', { address: '2001:db8::1', port: 6881 }, Array.from({ length: 64 }, (_, i) => ({ address: `2001:db8:${i + 1}::${i + 1}`, port: 2000 + i })), { sourceLimit: false, cpuBudget: false });
  await add('limited', { address: '10.0.0.2', port: 6881 }, Array.from({ length: 400 }, (_, i) => v4(1000 + i)), {
    sourceLimit: { rate: 1, burst: 5, banMs: 30_000 },
  });
  const hot = Array.from({ length: 4 }, (_, i) => v4(2000 + i));

  const ctx: RunContext = { openQueries: [], tokens: new Map() };
  const report: FuzzReport = {
    seed: options.seed,
    iterations: 0,
    elapsedMs: 0,
    byGenerator: Object.fromEntries(GENERATORS.map((g) => [g.name, 0])),
    bencode: { value: 0, BencodeError: 0 },
    krpc: { query: 0, response: 0, error: 0, 'KrpcError with t (answerable)': 0, 'KrpcError without t (silent)': 0 },
    node: Object.fromEntries(OUTCOMES.map((k) => [k, 0])),
    sent: { replies: 0, errorReplies: 0, queries: 0, largestReply: 0 },
    state: { tableSize: 0, torrents: 0, peers: 0, openQueries: 0, limiterSources: 0, limiterBans: 0 },
    heapUsedMb: { start: heapMb(), end: 0 },
    failureCount: 0,
    failures: [],
  };
  let iteration = 0;
  let generator = '';
  let input: Uint8Array = new Uint8Array(0);
  const fail = (problem: string): void => {
    report.failureCount++;
    if (report.failures.length < MAX_FAILURES_KEPT) {
      report.failures.push({ iteration, generator, problem, input: Buffer.from(input.subarray(0, 2048)).toString('hex') });
    }
  };
  const onRejection = (reason: unknown): void => fail(`unhandled rejection: ${String(reason)}`);
  process.on('unhandledRejection', onRejection);

  // Inputs are classified by error type and message, never by stack: skip capturing one per
  // rejected input, the largest single cost of a run otherwise (restored at the end).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const started = performance.now();
  try {
    for (; iteration < options.iterations; iteration++) {
      clock += TICK_MS;
      const r = rng.next();
      const target = r < 0.6 ? targets[0]! : r < 0.85 ? targets[1]! : targets[2]!;
      const entry = pickGenerator(rng);
      const open = entry.name === 'reply-to-open-query' ? ctx.openQueries.filter((q) => target.sources.some((s) => s.address === q.to.address && s.port === q.to.port)) : [];
      const from = open.length > 0 ? rng.pick(open).to
        : target.name === 'limited' && rng.next() < 0.5 ? rng.pick(hot) : rng.pick(target.sources);
      generator = entry.name;
      input = entry.make(rng, ctx, from);
      report.byGenerator[generator]!++;
      options.onInput?.(iteration, input);
      const t0 = performance.now();
      feedOne(input, from, target, report, ctx, fail);
      const took = performance.now() - t0;
      if (took > slowMs) fail(`took ${took.toFixed(0)} ms (limit ${slowMs} ms)`);
      if (iteration % TIMER_EVERY === TIMER_EVERY - 1) {
        checkBounds(targets, fail);
        // Timers fire in the order they are due: every 1 ms query timer set before this 2 ms one has
        // fired when it does, whatever the machine's speed. So the run stays a function of the seed.
        await new Promise<void>((resolve) => setTimeout(resolve, 2));
        ctx.openQueries.length = 0;
      }
      if (options.onProgress !== undefined && iteration % (options.progressEvery ?? 10_000) === 0) options.onProgress(iteration);
      // Let promise continuations run (a matched reply reaches the table through one), but no timers
      // or I/O: what happens between two inputs must depend on the seed alone.
      await Promise.resolve();
    }
    report.iterations = iteration;
    // Late sends (the send queue's timer) are checked too, then every node is closed.
    for (const target of targets) drainSends(target, report, ctx, fail);
    checkBounds(targets, fail);
    report.state = {
      tableSize: Math.max(...targets.map((t) => t.node.table.size)),
      torrents: Math.max(...targets.map((t) => t.node.peers.stats().infoHashes)),
      peers: Math.max(...targets.map((t) => t.node.peers.stats().peers)),
      openQueries: Math.max(...targets.map((t) => t.node.rpc.pendingCount)),
      limiterSources: targets[2]!.node.limiter?.trackedCount ?? 0,
      limiterBans: targets[2]!.node.limiter?.banCount ?? 0,
    };
  } finally {
    report.elapsedMs = performance.now() - started;
    Error.stackTraceLimit = stackTraceLimit;
    await Promise.all(targets.map((t) => t.node.close()));
    process.off('unhandledRejection', onRejection);
    report.heapUsedMb.end = heapMb();
  }
  return report;
}

/** Feed one datagram to the decoder, the parser and the node, and check everything that followed. */
function feedOne(
  bytes: Uint8Array,
  from: PeerInfo,
  target: Target,
  report: FuzzReport,
  ctx: RunContext,
  fail: (problem: string) => void,
): void {
  // 1. The strict decoder (default limits): a value, or a BencodeError, nothing else.
  try {
    decode(bytes);
    report.bencode.value++;
  } catch (error) {
    if (error instanceof BencodeError) report.bencode.BencodeError++;
    else fail(`decode threw ${describe(error)}`);
  }
  // 2. The KRPC parser: never throws.
  let parsed: ReturnType<typeof decodeMessage>;
  try {
    parsed = decodeMessage(bytes);
  } catch (error) {
    fail(`decodeMessage threw ${describe(error)}`);
    return;
  }
  if (parsed.ok) report.krpc[kindOf(parsed.message)]++;
  else report.krpc[parsed.error.t === undefined ? 'KrpcError without t (silent)' : 'KrpcError with t (answerable)']++;

  // 3. The node.
  const { node, transport } = target;
  drainSends(target, report, ctx, fail);
  const before = outcomeCounters(node.rpc.counters);
  const handlerErrors = node.rpc.counters.dropped['handler-error'];
  const shedBefore = node.rpc.counters.dropped.shed;
  const inBefore = node.rpc.counters.packetsIn;
  try {
    node.rpc.receive(bytes, from);
  } catch (error) {
    fail(`receive threw ${describe(error)}`);
    return;
  }
  if (node.rpc.counters.dropped['handler-error'] !== handlerErrors) fail('a listener threw while handling it');
  const after = outcomeCounters(node.rpc.counters);
  const moved = OUTCOMES.filter((_, i) => after[i] !== before[i]);
  const outcome = moved[0];
  const by = outcome === undefined ? 0 : after[OUTCOMES.indexOf(outcome)]! - before[OUTCOMES.indexOf(outcome)]!;
  if (moved.length !== 1 || outcome === undefined || by !== 1 || node.rpc.counters.packetsIn - inBefore !== 1) {
    fail(`accounting: packetsIn +${node.rpc.counters.packetsIn - inBefore}, counters moved: ${moved.join(', ') || 'none'}`);
    return;
  }
  report.node[outcome]!++;
  checkAgreement(outcome, parsed, bytes, fail);
  if (outcome.startsWith('handled: matched') && parsed.ok) {
    const t = parsed.message.t;
    ctx.openQueries = ctx.openQueries.filter((q) => !(bytesEqual(q.t, t) && q.to.address === from.address && q.to.port === from.port));
  }

  // What went out because of it.
  const sends = transport.sent.splice(0);
  const toSender = sends.filter((s) => s.to.address === from.address && s.to.port === from.port).map((s) => decodeMessage(s.bytes));
  const replies = toSender.filter((p) => p.ok && p.message.y !== 'q');
  // Besides its reply, a query may make the node ping the querier, or an old contact (table upkeep).
  const elsewhere = sends.filter((s) => !(s.to.address === from.address && s.to.port === from.port)).map((s) => decodeMessage(s.bytes));
  if (elsewhere.some((p) => !(p.ok && p.message.y === 'q' && p.message.q === 'ping'))) fail('sent something other than a ping to someone other than the sender');
  if (outcome !== 'handled: query' && elsewhere.length > 0) fail(`${outcome}, yet ${elsewhere.length} pings went out`);
  if (outcome === 'handled: query') {
    const shed = node.rpc.counters.dropped.shed !== shedBefore;
    if (replies.length !== (shed ? 0 : 1)) fail(`a valid query got ${replies.length} replies${shed ? ' (shed)' : ''}`);
    const reply = replies[0];
    if (reply?.ok && parsed.ok && !bytesEqual(reply.message.t, parsed.message.t)) fail('the reply does not echo the query\'s t');
  } else if (outcome === 'dropped: invalid') {
    const answerable = !parsed.ok && parsed.error.t !== undefined && parsed.error.y === 'q';
    if (sends.length > (answerable ? 1 : 0)) fail(`an invalid message got ${sends.length} packets back`);
    if (sends.length === 1 && !(replies[0]?.ok && replies[0].message.y === 'e')) fail('the answer to an invalid query is not an error');
  } else if (outcome === 'dropped: refused') {
    // A refused query may get one KRPC 202 "rate limited" (the first of its ban, from that port); nothing else.
    const told = replies.length === 1 && replies[0]!.ok && replies[0]!.message.y === 'e' && replies[0]!.message.e.code === 202;
    if (toSender.length > (told && parsed.ok && parsed.message.y === 'q' ? 1 : 0)) fail(`${outcome}, yet ${toSender.length} packets went back to the sender`);
  } else if (toSender.length > 0) {
    fail(`${outcome}, yet ${toSender.length} packets went back to the sender`);
  }
  for (const s of sends) recordSend(s.bytes, s.to, report, ctx, fail);
}

/** Sends made outside receive() (a send queue drained by its timer): checked like any other. */
function drainSends(target: Target, report: FuzzReport, ctx: RunContext, fail: (problem: string) => void): void {
  for (const s of target.transport.sent.splice(0)) recordSend(s.bytes, s.to, report, ctx, fail);
}

/** Check one packet we sent, and learn from it what later inputs may use (open queries, tokens). */
function recordSend(bytes: Uint8Array, to: Endpoint, report: FuzzReport, ctx: RunContext, fail: (problem: string) => void): void {
  const parsed = decodeMessage(bytes);
  if (!parsed.ok) { fail(`we sent a packet we cannot parse: ${parsed.error.message}`); return; }
  const m = parsed.message;
  if (m.y === 'q') {
    report.sent.queries++;
    ctx.openQueries.push({ t: m.t, to });
    if (ctx.openQueries.length > 64) ctx.openQueries.shift();
    return;
  }
  if (m.y === 'e') report.sent.errorReplies++;
  else {
    report.sent.replies++;
    if (m.r.token !== undefined) ctx.tokens.set(to.address, m.r.token);
  }
  report.sent.largestReply = Math.max(report.sent.largestReply, bytes.length);
  if (bytes.length > MAX_REPLY_BYTES) fail(`a reply of ${bytes.length} bytes (cap ${MAX_REPLY_BYTES})`);
}

/** The node's verdict must agree with the parser's (the limiter and size cap aside). */
function checkAgreement(outcome: string, parsed: ReturnType<typeof decodeMessage>, bytes: Uint8Array, fail: (problem: string) => void): void {
  if (outcome === 'dropped: oversized' || outcome === 'dropped: refused') return;
  if (!parsed.ok) {
    const expected = parsed.error.t === undefined ? 'dropped: undecodable' : 'dropped: invalid';
    if (outcome !== expected) fail(`the parser says ${expected}, the node says ${outcome} (${bytes.length} bytes)`);
    return;
  }
  const y = parsed.message.y;
  const ok = y === 'q' ? outcome === 'handled: query'
    : ['handled: matched reply', 'handled: matched error', 'dropped: unmatched', 'dropped: wrong-source'].includes(outcome);
  if (!ok) fail(`a valid '${y}' message ended as ${outcome}`);
}

/** Caps that hold whatever is fed in. */
function checkBounds(targets: readonly Target[], fail: (problem: string) => void): void {
  for (const { name, node } of targets) {
    // k = 8 per bucket, at most 160 buckets.
    if (node.table.size > 8 * 160) fail(`${name}: table holds ${node.table.size} nodes`);
    const stats = node.peers.stats();
    if (stats.infoHashes > 10_000 || stats.peers > 100_000) fail(`${name}: peer store holds ${stats.infoHashes} torrents, ${stats.peers} peers`);
    if (node.rpc.pendingCount > 4_000) fail(`${name}: ${node.rpc.pendingCount} queries open`);
    if (node.limiter !== undefined && (node.limiter.trackedCount > 2_048 || node.limiter.banCount > 256)) fail(`${name}: limiter over its caps`);
  }
}

function kindOf(m: Message): 'query' | 'response' | 'error' {
  return m.y === 'q' ? 'query' : m.y === 'r' ? 'response' : 'error';
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return Math.round(process.memoryUsage().heapUsed / 2 ** 20);
}

/** The report as the CLI prints it. */
export function formatReport(r: FuzzReport): string {
  const table = (title: string, counts: Record<string, number>): string[] => [
    title,
    ...Object.entries(counts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${k.padEnd(36)} ${n.toLocaleString('en-US').padStart(12)}`),
  ];
  const seconds = r.elapsedMs / 1000;
  return [
    `fuzz: ${r.iterations.toLocaleString('en-US')} inputs, seed ${r.seed}, ${seconds.toFixed(1)} s (${Math.round(r.iterations / seconds).toLocaleString('en-US')} inputs/s)`,
    ...table('inputs by generator:', r.byGenerator),
    ...table('bencode decode:', r.bencode),
    ...table('KRPC parse:', r.krpc),
    ...table('node outcome (every input counted exactly once):', r.node),
    `sent: ${r.sent.replies} replies, ${r.sent.errorReplies} error replies, ${r.sent.queries} pings; largest reply ${r.sent.largestReply} bytes (cap ${MAX_REPLY_BYTES})`,
    `state at the end: table ${r.state.tableSize}, torrents ${r.state.torrents}, peers ${r.state.peers}, open queries ${r.state.openQueries}, limiter sources ${r.state.limiterSources}, bans ${r.state.limiterBans}`,
    `heap used: ${r.heapUsedMb.start} MB at start, ${r.heapUsedMb.end} MB at the end (nodes closed)`,
    r.failureCount === 0 ? 'failures: none' : `FAILURES: ${r.failureCount}`,
    ...r.failures.map((f) => `  #${f.iteration} [${f.generator}] ${f.problem}\n    input ${f.input.slice(0, 400)}${f.input.length > 400 ? '...' : ''}`),
  ].join('\n');
}
