// Issue 12's target "a 1,000-node network of bittorrent-dht nodes: our cold scrape finds every
// announced peer", as a benchmark script (not a timed test):
//
//   npm run build && node bench/cold-bittorrent-dht-net.mjs [--nodes 1000] [--torrents 10]
//
// A network of webtorrent bittorrent-dht nodes (tests/interop/bdht_fixture.mjs: stock k = 20, each
// node on its own /24 of 127.40.0.0 on, each told of 400 others so that tables hold 100+ contacts
// and replies are 2.6 KB and more), 4 of its nodes announce each torrent; then per torrent, taking
// turns, a fresh `bin/dht-scrape.js <hash> --bootstrap ONE --no-state --json` and a fresh
// bittorrent-dht node (cold-peer-dht.mjs), each through node 0 only. It prints, per client, the
// announced peers found, first peer and duration (ours from the --json stats: from the command's
// start, Node's start-up not included; theirs from the DHT's creation), get_peers, and for ours the
// datagrams dropped as oversized. Loopback only; the fixture exits by itself after its --ttl.
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import os from 'node:os';

const { values: args } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, torrents: { type: 'string', default: '10' } } });
const NODES = Number(args.nodes);
const TORRENTS = Number(args.torrents);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = fileURLToPath(new URL('.', import.meta.url));

const fixture = spawn(process.execPath, [`${ROOT}tests/interop/bdht_fixture.mjs`, '--nodes', String(NODES), '--k', '20', '--prefix', '127.40.0', '--spread', '--fill', '400', '--ttl', '900'], { stdio: ['pipe', 'pipe', 'inherit'] });
const waiters = [];
createInterface({ input: fixture.stdout }).on('line', (line) => {
  const event = JSON.parse(line);
  const i = waiters.findIndex((w) => w.match(event));
  if (i >= 0) waiters.splice(i, 1)[0].resolve(event);
});
const next = (match, ms = 120_000) => new Promise((resolve, reject) => {
  waiters.push({ match, resolve });
  setTimeout(() => reject(new Error('fixture: no answer in time')), ms).unref();
});
const ask = (command, match) => { const p = next(match); fixture.stdin.write(`${JSON.stringify(command)}\n`); return p; };

const started = Date.now();
const ready = await next((e) => e.event === 'ready' || e.event === 'fatal', 600_000);
if (ready.event !== 'ready') throw new Error(JSON.stringify(ready));
const sizes = ready.tableSizes.slice().sort((a, b) => a - b);
const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
console.log(`bittorrent-dht ${ready.version}: ${NODES} nodes ready in ${((Date.now() - started) / 1000).toFixed(1)} s; tables: min ${sizes[0]}, median ${q(sizes, 0.5)}, max ${sizes.at(-1)} contacts`);
const bootstrap = `${ready.nodes[0].address}:${ready.nodes[0].port}`;

function runJson(cmd, argv) {
  return new Promise((resolve) => execFile(cmd, argv, { cwd: BENCH, timeout: 30_000 }, (_e, stdout) => {
    try { resolve(JSON.parse(stdout.trim().split('\n').pop())); } catch { resolve(undefined); }
  }));
}

const rows = { ours: [], theirs: [] };
for (let t = 0; t < TORRENTS; t++) {
  const hex = randomBytes(20).toString('hex');
  const announcers = [0, 1, 2, 3].map(() => 1 + Math.floor(Math.random() * (NODES - 1)));
  const wanted = new Set(announcers.map((i) => `${ready.nodes[i].address}:${7_000 + i}`));
  for (const i of announcers) await ask({ cmd: 'announce', node: i, infohash: hex, port: 7_000 + i }, (e) => e.event === 'announced' && e.node === i && e.infohash === hex);
  for (const client of t % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours']) {
    const bind = `127.39.${t}.${client === 'ours' ? 1 : 2}`;
    if (client === 'ours') {
      const doc = await runJson(process.execPath, [`${ROOT}bin/dht-scrape.js`, hex, '--bootstrap', bootstrap, '--bind', bind, '--port', '0', '--no-state', '--json', '--timeout', '15']);
      const peers = new Set((doc?.peers ?? []).map((p) => `${p.address}:${p.port}`));
      rows.ours.push({ found: [...wanted].filter((p) => peers.has(p)).length, first: doc?.stats.time_to_first_peer_ms ?? null, duration: doc?.stats.duration_ms ?? NaN, queries: doc?.stats.queries ?? NaN, oversized: doc?.stats.dropped?.oversized ?? 0 });
    } else {
      const r = await runJson(process.execPath, [`${BENCH}cold-peer-dht.mjs`, bootstrap, hex, bind]);
      rows.theirs.push({ found: [...wanted].filter((p) => r?.peers.includes(p)).length, first: r?.first ?? null, duration: r?.duration ?? NaN, queries: r?.queries ?? NaN });
    }
  }
}
fixture.stdin.write('{"cmd":"quit"}\n');

const median = (xs) => { const s = xs.filter((x) => x !== null && !Number.isNaN(x)).sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]; };
const wantedTotal = TORRENTS * 4;
for (const [name, r] of [['dht-scrape CLI (fresh process)', rows.ours], ['bittorrent-dht (fresh node)', rows.theirs]]) {
  console.log(`${name.padEnd(32)} peers found ${r.reduce((n, x) => n + x.found, 0)}/${wantedTotal}; every peer in ${r.filter((x) => x.found === 4).length}/${TORRENTS} torrents; ` +
    `first peer median ${Math.round(median(r.map((x) => x.first)))} ms; duration median ${Math.round(median(r.map((x) => x.duration)))} ms; get_peers median ${median(r.map((x) => x.queries))}` +
    (name.startsWith('dht') ? `; oversized drops ${r.reduce((n, x) => n + x.oversized, 0)}` : ''));
}
console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
setTimeout(() => process.exit(0), 3_000).unref();
