// A fresh bittorrent-dht node in its own process, for the cold-start benchmark (bench/cold-start.ts):
// node cold-peer-dht.mjs <bootstrap ip:port> <infohash hex> <bind address>. It looks up at once and
// prints one JSON line: ms to the first peer and to the end of the lookup (from the DHT's
// creation), get_peers sent, peers found. Loopback only: any other destination is refused.
import dgram from 'node:dgram';
import DHT from 'bittorrent-dht';

const [bootstrap, hex, address] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
let getPeers = 0;
const send = socket.send.bind(socket);
socket.send = (buf, offset, length, port, host, cb) => {
  if (!String(host).startsWith('127.')) { cb?.(new Error('refused: not loopback')); return; }
  if (Buffer.from(buf).includes('9:get_peers')) getPeers++;
  send(buf, offset, length, port, host, cb);
};
const started = performance.now();
const dht = new DHT({ bootstrap: [bootstrap], socket });
dht.on('error', () => {});
dht.on('warning', () => {});
const peers = new Set();
let first = null;
dht.on('peer', (peer) => { first ??= performance.now() - started; peers.add(`${peer.host}:${peer.port}`); });
const stop = setTimeout(() => finish('timeout'), 15_000);
// As soon as the socket is bound: bittorrent-dht asks its bootstrap nodes while its table is empty.
dht.listen(0, address, () => dht.lookup(hex, () => finish('done')));
function finish(ended) {
  clearTimeout(stop);
  console.log(JSON.stringify({ ended, first, duration: performance.now() - started, queries: getPeers, peers: [...peers] }));
  dht.destroy(() => process.exit(0));
}
