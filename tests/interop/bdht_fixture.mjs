/**
 * A network of webtorrent bittorrent-dht nodes on loopback, driven by tests/interop/bittorrent-dht.test.ts
 * through JSON lines: events on stdout, commands on stdin (like lt_fixture.py for libtorrent).
 *
 * The library is bench/'s dependency (bench/package.json), never dht-scrape's: this script loads it
 * from bench/node_modules. Every send to an address outside 127.0.0.0/8 is refused and every DNS
 * lookup of a name fails, so its default public routers can never be reached; the process exits by
 * itself after --ttl seconds.
 *
 *   node bdht_fixture.mjs --nodes N --k K --prefix 127.0.90 [--spread] [--ttl S] [--fill F]
 *
 * Node i listens on PREFIX.(i+1) (all in one /24), or with --spread on 127.(PREFIX's 3rd octet + i).0.1
 * (a /24 each). Node 0 starts alone; the others join through it. Each node is then told of F others
 * at random (default 16): a larger F fills the far buckets as a long-lived node's are (stock k = 20:
 * F = 400 of 600 nodes gives tables of 100-125 contacts, find_node replies of 2.7-3.3 KB).
 * The ready event lists each node's table size (`tableSizes`).
 *
 * Commands: {"cmd":"announce","node":i,"infohash":hex,"port":p}  -> {"event":"announced",...}
 *           {"cmd":"lookup","node":i,"infohash":hex}             -> {"event":"lookup_done","peers":[...]}
 *           {"cmd":"stored","infohash":hex}                      -> {"event":"stored","holders":[i...],"peers":{i:[...]}}
 *           {"cmd":"table","node":i}                             -> {"event":"table","nodes":[{id,address,port}]}
 *           {"cmd":"join","address":a,"bootstrap":"a:p"}         -> {"event":"joined","node":i,...}
 *           {"cmd":"quit"}
 * Events it reports on its own: {"event":"query","node":i,"q":...,"infohash":hex,"from":"a:p"} for
 * every get_peers and announce_peer a node receives, when started with --queries.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    k: { type: 'string', default: '20' },
    prefix: { type: 'string', default: '127.0.90' },
    spread: { type: 'boolean', default: false },
    ttl: { type: 'string', default: '120' },
    queries: { type: 'boolean', default: false },
    fill: { type: 'string', default: '16' },
  },
});

const started = Date.now();
const emit = (event) => process.stdout.write(`${JSON.stringify({ ...event, t: Date.now() - started })}\n`);
const ttl = setTimeout(() => { emit({ event: 'fatal', error: 'ttl reached' }); process.exit(3); }, Number(args.ttl) * 1000);
ttl.unref();

const isLoopback = (host) => typeof host === 'string' && (host.startsWith('127.') || host.startsWith('::ffff:127.'));

// No name is ever looked up (the public routers are names): fail them all at once.
const lookup = dns.lookup;
dns.lookup = (hostname, ...rest) => {
  if (isIP(hostname) !== 0) return lookup(hostname, ...rest);
  const cb = rest[rest.length - 1];
  if (typeof cb === 'function') process.nextTick(() => cb(new Error(`fixture guard: refused DNS lookup of ${hostname}`)));
};

const bench = fileURLToPath(new URL('../../bench/', import.meta.url));
let DHT;
let version;
try {
  const dir = `${bench}node_modules/bittorrent-dht/`;
  const pkg = JSON.parse(readFileSync(`${dir}package.json`, 'utf8'));
  version = pkg.version;
  DHT = (await import(pathToFileURL(`${dir}${pkg.exports?.import ?? pkg.main ?? 'index.js'}`).href)).default;
} catch (error) {
  emit({ event: 'fatal', error: `cannot load bittorrent-dht from ${bench}node_modules: ${error.message}` });
  process.exit(2);
}

/** A socket whose sends to anything but loopback are refused (the library's defaults name public hosts). */
function guardedSocket() {
  const socket = dgram.createSocket('udp4');
  const send = socket.send.bind(socket);
  // k-rpc-socket calls send(buf, offset, length, port, host, cb); dgram replays sends queued before
  // the bind as send(list, port, host, cb). Either way the host is the one string argument.
  socket.send = (...sendArgs) => {
    const host = sendArgs.find((a) => typeof a === 'string');
    if (!isLoopback(host)) {
      emit({ event: 'refused', host: String(host) });
      const cb = sendArgs[sendArgs.length - 1];
      if (typeof cb === 'function') process.nextTick(() => cb(new Error(`fixture guard: refused to send to ${host}`)));
      return;
    }
    send(...sendArgs);
  };
  return socket;
}

const nodes = [];
const K = Number(args.k);
const prefix = args.prefix;
const addressOf = (i) => {
  if (!args.spread) return `${prefix}.${i + 1}`;
  const [a, b, c] = prefix.split('.').map(Number);
  const third = c + i;
  return `${a}.${b + (third >> 8)}.${third & 255}.1`;
};

async function startNode(address, bootstrap) {
  const dht = new DHT({ bootstrap, socket: guardedSocket(), k: K });
  dht.on('warning', () => {});
  dht.on('error', (error) => emit({ event: 'error', address, error: String(error?.message ?? error) }));
  const index = nodes.length;
  nodes.push(dht);
  if (args.queries) {
    dht.on('get_peers', (infoHash) => emit({ event: 'query', node: index, q: 'get_peers', infohash: Buffer.from(infoHash).toString('hex') }));
    dht.on('announce_peer', (infoHash, from) => emit({ event: 'query', node: index, q: 'announce_peer', infohash: Buffer.from(infoHash).toString('hex'), from: `${from.host}:${from.port}` }));
  }
  const ready = new Promise((resolve) => dht.once('ready', resolve));
  await new Promise((resolve) => dht.listen(0, address, resolve));
  await ready;
  return { index, dht };
}

const describe = (i) => ({ index: i, address: nodes[i].address().address, port: nodes[i].address().port, id: Buffer.from(nodes[i].nodeId).toString('hex') });

function tableOf(dht) {
  return dht.nodes.toArray().map((n) => ({ id: Buffer.from(n.id).toString('hex'), address: n.host, port: n.port }));
}

function decodePeers(list) {
  return list.map((b) => `${b[0]}.${b[1]}.${b[2]}.${b[3]}:${b.readUInt16BE(4)}`);
}

try {
  const count = Number(args.nodes);
  await startNode(addressOf(0), false);
  const first = `${addressOf(0)}:${nodes[0].address().port}`;
  // Join a few at a time, each through node 0: a burst of 200 joins at once would mostly time out.
  for (let i = 1; i < count; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 20); j++) batch.push(startNode(addressOf(j), [first]));
    await Promise.all(batch);
  }
  // A network that has just started is not the steady state of a real one: early nodes never heard
  // of the late ones near them, and a node's table holds only the nodes it exchanged packets with
  // (bittorrent-dht 11 never looks a bucket's range up to refill it: its 15-minute check only pings
  // the contacts it has). Seen without the second step here: nodes knowing 9-24 others, all next to
  // their own ID, whose lookups never left that neighbourhood (4 announces in 72 stored only at
  // ranks 54-152 of 200). So each node looks its own ID up once more, so that its neighbours know
  // it, and is told of --fill others at random, as the queries of a live network would fill its far
  // buckets (addNode with an ID: no packet).
  for (let i = 0; i < count; i += 20) {
    await Promise.all(nodes.slice(i, i + 20).map((dht) => new Promise((resolve) => {
      dht._rpc.populate(dht._rpc.id, { q: 'find_node', a: { id: dht._rpc.id, target: dht._rpc.id } }, resolve);
    })));
  }
  const contacts = nodes.map((_, i) => describe(i));
  for (const dht of nodes) {
    for (let j = 0; j < Number(args.fill); j++) {
      const c = contacts[randomInt(count)];
      if (c.id !== Buffer.from(dht.nodeId).toString('hex')) dht.addNode({ id: c.id, host: c.address, port: c.port });
    }
  }
  emit({ event: 'ready', version, k: K, nodes: nodes.map((_, i) => describe(i)), tableSizes: nodes.map((dht) => dht.nodes.count()) });
} catch (error) {
  emit({ event: 'fatal', error: String(error?.stack ?? error) });
  process.exit(2);
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  let command;
  try { command = JSON.parse(line); } catch { return; }
  try {
    await run(command);
  } catch (error) {
    emit({ event: 'error', command, error: String(error?.stack ?? error) });
  }
});
process.stdin.on('end', () => shutdown());

async function run(command) {
  switch (command.cmd) {
    case 'announce': {
      const dht = nodes[command.node];
      dht.announce(command.infohash, command.port, (error) => emit({ event: 'announced', node: command.node, infohash: command.infohash, error: error ? String(error.message) : null }));
      return;
    }
    case 'lookup': {
      const dht = nodes[command.node];
      const peers = new Set();
      const onPeer = (peer, infoHash) => { if (Buffer.from(infoHash).toString('hex') === command.infohash) peers.add(`${peer.host}:${peer.port}`); };
      dht.on('peer', onPeer);
      dht.lookup(command.infohash, (error, visited) => {
        dht.off('peer', onPeer);
        emit({ event: 'lookup_done', node: command.node, infohash: command.infohash, peers: [...peers], visited: visited ?? 0, error: error ? String(error.message) : null });
      });
      return;
    }
    case 'stored': {
      const holders = [];
      const peers = {};
      nodes.forEach((dht, i) => {
        const stored = dht._peers.get(command.infohash, 1000);
        if (stored.length === 0) return;
        holders.push(i);
        peers[i] = decodePeers(stored);
      });
      emit({ event: 'stored', infohash: command.infohash, holders, peers });
      return;
    }
    case 'table':
      emit({ event: 'table', node: command.node, nodes: tableOf(nodes[command.node]) });
      return;
    case 'join': {
      if (!isLoopback(command.bootstrap)) throw new Error(`refusing a non-loopback bootstrap node: ${command.bootstrap}`);
      const { index } = await startNode(command.address, [command.bootstrap]);
      emit({ event: 'joined', ...describe(index), table: tableOf(nodes[index]) });
      return;
    }
    case 'quit':
      shutdown();
  }
}

function shutdown() {
  let left = nodes.length;
  if (left === 0) process.exit(0);
  for (const dht of nodes) dht.destroy(() => { if (--left === 0) process.exit(0); });
  setTimeout(() => process.exit(0), 2_000).unref();
}
