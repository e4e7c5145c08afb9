/**
 * Our side of the transmission interop test, run inside the test's "lab" network namespace
 * (`ip netns exec LAB node netns_lab.mjs ...`): a local network of our nodes (the library's
 * Testnet, from dist/: `npm test` builds first) on a non-loopback range, plus the instruments the
 * test needs there. Spoken to in JSON lines like the other fixtures (line-fixture.ts).
 *
 *   node netns_lab.mjs --range 10.77.0.0/16 --nodes 30 --watch 10.78.0.2 [--ttl S]
 *
 * Events: {"event":"ready","nodes":[{index,address,port,id}]}
 *         {"event":"query","node":i,"q":...,"from":"a:p","id":hex,"infohash":hex?}   every query a node
 *            of ours receives from the --watch address (the foreign client), after it was answered;
 *            an announce_peer also says whether the node now stores the peer ("stored", "port")
 *         {"event":"handshake","from":"a:p","infohash":hex,"peer_id":hex,"client":"-TR3000-"}
 *            a BitTorrent handshake (BEP 3) received on a listener opened by "listen"
 * Commands: {"cmd":"who","address":a}            -> {"event":"who","address":a,"id":hex} the node ID of
 *              whoever queries our nodes from that address (waits for its first query)
 *           {"cmd":"listen","address":a,"port":p} -> {"event":"listening",...}
 *           {"cmd":"rpc","url":u,"body":{...}}    -> {"event":"rpc","status":n,"reply":{...}} one
 *              transmission RPC call, with its X-Transmission-Session-Id handshake (409, then again)
 *           {"cmd":"quit"}
 * Everything it opens lives in the namespace; it exits by itself after --ttl seconds.
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    range: { type: 'string', default: '10.77.0.0/16' },
    nodes: { type: 'string', default: '30' },
    watch: { type: 'string' },
    ttl: { type: 'string', default: '170' },
  },
});

const started = Date.now();
const emit = (event) => process.stdout.write(`${JSON.stringify({ ...event, t: Date.now() - started })}\n`);
const ttl = setTimeout(() => { emit({ event: 'fatal', error: 'ttl reached' }); process.exit(3); }, Number(args.ttl) * 1000);
ttl.unref();

const hex = (bytes) => Buffer.from(bytes).toString('hex');

let Testnet;
try {
  ({ Testnet } = await import(new URL('../../dist/modes/testnet.js', import.meta.url).href));
} catch (error) {
  emit({ event: 'fatal', error: `cannot load dist/ (run npm run build): ${error.message}` });
  process.exit(2);
}

/** The node ID each querying address used last (the crawler's ID, for one). */
const idsByAddress = new Map();
const whoWaiters = new Map();
/** A BEP 3 handshake is 68 bytes: <19>"BitTorrent protocol"<8 reserved><20 info-hash><20 peer id>. */
const HANDSHAKE_BYTES = 68;
const servers = new Set();
let testnet;

try {
  testnet = await Testnet.start({ nodes: Number(args.nodes), torrents: 1, peers: 2, addressRange: args.range });
  testnet.nodes.forEach((node, index) => {
    node.onIncomingQuery((query, from) => {
      const id = hex(query.a.id);
      if (!idsByAddress.has(from.address)) {
        idsByAddress.set(from.address, id);
        for (const wake of whoWaiters.get(from.address) ?? []) wake(id);
        whoWaiters.delete(from.address);
      }
      if (from.address !== args.watch) return;
      const infohash = 'info_hash' in query.a ? hex(query.a.info_hash) : undefined;
      // After an announce_peer (this runs once it was answered): did the node store the peer?
      const stored = query.q === 'announce_peer' ? { stored: node.peers.peers(query.a.info_hash).some((p) => p.address === from.address), port: query.a.port } : {};
      emit({ event: 'query', node: index, q: query.q, from: `${from.address}:${from.port}`, id, ...(infohash ? { infohash } : {}), ...stored });
    });
  });
  emit({ event: 'ready', nodes: testnet.nodes.map((n, index) => ({ index, address: n.local.address, port: n.local.port, id: hex(n.id) })) });
} catch (error) {
  emit({ event: 'fatal', error: String(error?.stack ?? error) });
  process.exit(2);
}

/** Read one handshake, report it, and hang up: the test only needs to know who came and why. */
function listen(address, port) {
  const server = createServer({ pauseOnConnect: false }, (socket) => {
    let buffered = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]).subarray(0, HANDSHAKE_BYTES);
      if (buffered.length < HANDSHAKE_BYTES) return;
      const protocol = buffered.subarray(1, 20).toString('latin1');
      emit({
        event: 'handshake',
        from: `${socket.remoteAddress}:${socket.remotePort}`,
        protocol: buffered[0] === 19 ? protocol : `not BEP 3 (first byte ${buffered[0]})`,
        infohash: hex(buffered.subarray(28, 48)),
        peer_id: hex(buffered.subarray(48, 68)),
        client: buffered.subarray(48, 56).toString('latin1'),
      });
      socket.destroy();
    });
  });
  server.maxConnections = 16;
  servers.add(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server.address()));
  });
}

let sessionId = '';
async function rpc(url, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'X-Transmission-Session-Id': sessionId, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    if (response.status === 409) {
      sessionId = response.headers.get('x-transmission-session-id') ?? '';
      continue;
    }
    return { status: response.status, reply: await response.json() };
  }
  throw new Error('transmission kept answering 409 (no session id)');
}

async function run(command) {
  switch (command.cmd) {
    case 'who': {
      const known = idsByAddress.get(command.address);
      if (known !== undefined) return emit({ event: 'who', address: command.address, id: known });
      const list = whoWaiters.get(command.address) ?? [];
      list.push((id) => emit({ event: 'who', address: command.address, id }));
      whoWaiters.set(command.address, list);
      return;
    }
    case 'listen': {
      const bound = await listen(command.address, command.port);
      return emit({ event: 'listening', address: bound.address, port: bound.port });
    }
    case 'rpc': {
      const { status, reply } = await rpc(command.url, command.body);
      return emit({ event: 'rpc', method: command.body.method, status, reply });
    }
    case 'quit':
      return shutdown();
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  let command;
  try { command = JSON.parse(line); } catch { return; }
  try {
    await run(command);
  } catch (error) {
    emit({ event: 'error', cmd: command.cmd, error: String(error?.message ?? error) });
  }
});
process.stdin.on('end', () => void shutdown());

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  for (const server of servers) server.close();
  await testnet?.close();
  process.exit(0);
}
