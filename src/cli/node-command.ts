/**
 * `dht-scrape ping HOST:PORT` and `dht-scrape query HOST:PORT METHOD [TARGET]`: one query to one
 * node, and its reply decoded, field by field (with `--raw`, its bytes too). The first tools to
 * reach for when learning KRPC (BEP 5) or when a node behaves oddly. Our node is read-only
 * (BEP 43): a one-shot query should not make the other node keep us in its table.
 */
import { randomId, idToHex, type NodeId } from '../wire/id.js';
import { decodeMessage, type Message } from '../wire/krpc.js';
import type { Endpoint } from '../net/transport.js';
import type { PacketListener } from '../net/packet-tap.js';
import type { DhtNode } from '../dht/node.js';
import { formatEndpoint } from '../wire/address.js';
import { describeSocket, namesOnlyInOtherFamily, otherFamilyNamesMessage, resolveEndpoints } from './bootstrap-nodes.js';
import { messageJson, messageLines } from './krpc-text.js';
import { EXIT, type Command, type QueryCommandMethod } from './options.js';
import { packetTracer } from './packet-trace.js';
import { bindNode } from './session.js';
import type { Output } from './terminal.js';
import { ipFamily } from '../wire/compact.js';

type NodeCommand = Extract<Command, { kind: 'ping' } | { kind: 'query' }>;

/** Seconds to wait for the reply unless --timeout says otherwise. */
const DEFAULT_TIMEOUT_S = 5;
/** Received packets kept to find the reply's raw bytes in (a node answers once). */
const KEPT_PACKETS = 16;

export async function runNodeCommand(command: NodeCommand, output: Output, signal: AbortSignal): Promise<number> {
  const { common } = command;
  let family: 4 | 6 = common.family ?? (ipFamily(command.to.host) === 6 ? 6 : 4);
  let [to] = await resolveEndpoints([command.to], family);
  if (to === undefined) {
    const [other] = await namesOnlyInOtherFamily([command.to], family);
    if (other !== undefined && common.family !== undefined) {
      output.err(`dht-scrape: ${otherFamilyNamesMessage(`dht-scrape ${command.kind}`, [other], family, describeSocket(common.bind, common.family))}`);
      return EXIT.usage;
    }
    // A name of one family only, and no family asked for: talk to it in its own.
    if (other !== undefined) [to, family] = [{ address: other.addresses[0]!, port: command.to.port }, other.family];
  }
  if (to === undefined) {
    output.err(`dht-scrape: ${command.to.host} could not be resolved`);
    return EXIT.network;
  }
  const received: { bytes: Uint8Array; from: Endpoint }[] = [];
  const trace = common.trace ? packetTracer(output) : undefined;
  const tap: PacketListener = (direction, bytes, peer) => {
    trace?.(direction, bytes, peer);
    if (direction === 'received') received.splice(0, Math.max(0, received.length - KEPT_PACKETS + 1), { bytes: Uint8Array.from(bytes), from: peer });
  };
  const bind = common.bind ?? (family === 6 ? '::' : '0.0.0.0');
  const node = await bindNode({ address: bind, readOnly: true }, common.portExplicit ? common.port : 0, output, tap);
  try {
    const method = command.kind === 'ping' ? 'ping' : command.method;
    const target = command.kind === 'query' ? command.target ?? randomId() : undefined;
    if (target !== undefined && command.kind === 'query' && command.target === undefined) output.err(`(no TARGET given: a random one, ${idToHex(target)})`);
    const hardTimeoutMs = (common.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
    const outcome = await untilAborted(query(node, to, method, target, hardTimeoutMs), signal);
    if (outcome === undefined || outcome.kind === 'timeout') {
      output.err(`dht-scrape: no reply from ${formatEndpoint(to)}${outcome === undefined ? ' (stopped)' : ` within ${hardTimeoutMs / 1000} s`}`);
      return EXIT.network;
    }
    if (outcome.kind === 'failed') {
      output.err(`dht-scrape: the query could not be sent: ${outcome.reason}`);
      return EXIT.network;
    }
    const reply: Message = outcome.kind === 'response' ? outcome.response : outcome.error;
    const raw = received.find((p) => { const d = decodeMessage(p.bytes); return d.ok && Buffer.from(d.message.t).equals(reply.t); })?.bytes;
    print(output, command, to, reply, outcome.rttMs, raw);
    if (outcome.kind === 'error') {
      output.err(`dht-scrape: ${formatEndpoint(to)} answered with error ${outcome.error.e.code}`);
      return EXIT.network;
    }
    return 0;
  } finally {
    await node.close();
  }
}

function query(node: DhtNode, to: Endpoint, method: 'ping' | QueryCommandMethod, target: NodeId | undefined, hardTimeoutMs: number): ReturnType<DhtNode['query']> {
  const id = node.id;
  const options = { hardTimeoutMs };
  switch (method) {
    case 'ping': return node.query(to, 'ping', { id }, options);
    case 'find_node': return node.query(to, 'find_node', { id, target: target! }, options);
    case 'get_peers': return node.query(to, 'get_peers', { id, info_hash: target! }, options);
    case 'sample_infohashes': return node.query(to, 'sample_infohashes', { id, target: target! }, options);
  }
}

/** The outcome, or undefined if the user stopped us first (the node's close then ends the query). */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  let onAbort = (): void => {};
  const stopped = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function print(output: Output, command: NodeCommand, to: Endpoint, reply: Message, rttMs: number, raw: Uint8Array | undefined): void {
  const what = command.kind === 'ping' ? 'ping' : command.method;
  if (command.common.json) {
    output.out(JSON.stringify({
      from: formatEndpoint(to),
      query: what,
      rtt_ms: Math.round(rttMs * 10) / 10,
      reply: messageJson(reply),
      ...(command.raw && raw !== undefined ? { raw: Buffer.from(raw).toString('hex') } : {}),
    }));
    return;
  }
  output.err(`${reply.y === 'e' ? 'error' : 'reply'} to ${what} from ${formatEndpoint(to)} in ${rttMs.toFixed(1)} ms`);
  for (const line of messageLines(reply)) output.out(line);
  if (command.raw && raw !== undefined) output.out(`raw: ${Buffer.from(raw).toString('hex')}`);
}
