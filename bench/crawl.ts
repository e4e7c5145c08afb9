/**
 * Crawler figures:
 *
 * 1. Memory per stored info-hash in InfoHashStore at 1,000,000 entries: the growth of V8's heap plus
 *    array buffers (after a full GC) divided by the entries, next to the same figure for the obvious
 *    alternative (a Map from hex string to a small object with the same fields), measured in the
 *    same run at 200,000 entries. Target: <= 64 bytes.
 * 2. Discovery on a local network (300 nodes, 2,000 torrents, BEP 51 interval 3 s): a fresh Crawler
 *    joins through one node and runs until it has every torrent (or 60 s). Info-hashes discovered
 *    per second and per query sent, and the time to 50/90/99/100%. The reference, in the same run
 *    on the same network, is an "oracle" that is handed every node's address and samples them all
 *    at each interval: what a crawler that needed no discovery at all would do.
 *
 * Both on the `ideal` preset and on the `internet` one (issue 16; seed 1).
 *
 * Loopback only; bounded in time (about two minutes per preset at worst). Run alone:
 *   npm run build && (cd bench && npx tsx crawl.ts)
 */
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Crawler, DhtNode, InfoHashStore, Testnet, idToHex, randomId } from '../dist/index.js';
import { heading, num, ratio, table, verdict } from './report.js';

export interface CrawlBenchOptions {
  nodes?: number;
  torrents?: number;
  /** Entries for the memory figure. Default 1,000,000. */
  storeEntries?: number;
  /** Entries for the Map reference. Default 200,000. */
  referenceEntries?: number;
  /** Conditions presets of the discovery figure (default both). */
  presets?: readonly ('ideal' | 'internet')[];
  log?: (line: string) => void;
}

const INTERVAL_S = 3;
const DISCOVERY_LIMIT_MS = 60_000;

export async function runCrawlBench(options: CrawlBenchOptions = {}): Promise<Record<string, number>> {
  const log = options.log ?? ((line: string) => console.log(line));
  const memory = measureMemory(options.storeEntries ?? 1_000_000, options.referenceEntries ?? 200_000);
  log(heading('Crawler: memory per stored info_hash'));
  log(table(['table', 'entries', 'bytes/entry', 'ns/insert'], [
    ['InfoHashStore (typed arrays)', num(memory.store.entries), num(memory.store.bytesPerEntry, 1), num(memory.store.nsPerInsert)],
    ['  of which its typed arrays', '', num(memory.store.typedBytesPerEntry, 1), ''],
    ['Map<hex, object> (reference)', num(memory.map.entries), num(memory.map.bytesPerEntry, 1), num(memory.map.nsPerInsert)],
  ]));
  log(`store vs reference: ${ratio(memory.store.bytesPerEntry, memory.map.bytesPerEntry)} the memory, ` +
    `${ratio(memory.store.nsPerInsert, memory.map.nsPerInsert)} the time per insert; ` +
    `${verdict(memory.store.bytesPerEntry <= 64, '<= 64 bytes per info_hash')}`);

  const nodes = options.nodes ?? 300;
  const torrents = options.torrents ?? 2_000;
  const figures: Record<string, number> = {
    crawl_store_bytes_per_infohash: memory.store.bytesPerEntry,
    crawl_store_typed_array_bytes_per_infohash: memory.store.typedBytesPerEntry,
    crawl_map_reference_bytes_per_infohash: memory.map.bytesPerEntry,
    crawl_store_ns_per_insert: memory.store.nsPerInsert,
    crawl_map_reference_ns_per_insert: memory.map.nsPerInsert,
  };
  // Issue 16: on our ideal network, then on the internet preset (seed 1: the same network each run).
  for (const preset of options.presets ?? ['ideal', 'internet']) {
    const net = await Testnet.start({ nodes, torrents, peers: 2, node: { sampleIntervalSeconds: INTERVAL_S }, conditions: preset, ...(preset === 'internet' ? { seed: 1 } : {}) });
    let crawl: Discovery;
    let oracle: Discovery;
    try {
      crawl = await crawlerDiscovery(net);
      oracle = await oracleDiscovery(net);
    } finally {
      await net.close();
    }
    log(heading(`Crawler: discovery on a local network (${nodes} nodes, ${torrents} torrents, interval ${INTERVAL_S} s), ${preset === 'internet' ? 'internet preset (seed 1)' : 'ideal'}`));
    const row = (name: string, d: Discovery): string[] => [
      name, `${num(d.found)}/${num(torrents)}`, num(d.seconds, 1), num(d.found / d.seconds, 0), num(d.found / d.queries, 2),
      num(d.secondsTo[0.5] ?? NaN, 1), num(d.secondsTo[0.9] ?? NaN, 1), num(d.secondsTo[0.99] ?? NaN, 1), num(d.secondsTo[1] ?? NaN, 1),
    ];
    log(table(['', 'found', 's', 'per s', 'per query', 's to 50%', '90%', '99%', '100%'], [
      row('Crawler (joins via 1 node)', crawl),
      row('oracle (all nodes given)', oracle),
    ]));
    log(`crawler vs oracle: ${ratio(crawl.found / crawl.seconds, oracle.found / oracle.seconds)} per second, ` +
      `${ratio(crawl.found / crawl.queries, oracle.found / oracle.queries)} per query` +
      (preset === 'ideal' ? `; ${verdict((crawl.secondsTo[0.99] ?? Infinity) <= 60, '99% within 60 s')}` : ' (no target on this preset)'));
    const suffix = preset === 'ideal' ? '' : `_${preset}`;
    Object.assign(figures, {
      [`crawl_discovered_per_second${suffix}`]: crawl.found / crawl.seconds,
      [`crawl_discovered_per_query${suffix}`]: crawl.found / crawl.queries,
      [`crawl_seconds_to_99pct${suffix}`]: crawl.secondsTo[0.99] ?? NaN,
      [`crawl_seconds_to_100pct${suffix}`]: crawl.secondsTo[1] ?? NaN,
      [`crawl_found_fraction${suffix}`]: crawl.found / torrents,
      [`crawl_oracle_discovered_per_second${suffix}`]: oracle.found / oracle.seconds,
      [`crawl_oracle_discovered_per_query${suffix}`]: oracle.found / oracle.queries,
    });
  }
  return figures;
}

// ---- Memory ----

interface MemoryFigure { entries: number; bytesPerEntry: number; typedBytesPerEntry: number; nsPerInsert: number }

const T0 = Date.UTC(2024, 0, 1);
/** A few source addresses, made once: the figure is about the table, not about garbage strings. */
const SOURCES = Array.from({ length: 64 }, (_, i) => `10.0.${i}.1`);

function measureMemory(storeEntries: number, referenceEntries: number): { store: MemoryFigure; map: MemoryFigure } {
  const gc = exposeGc();
  const store = measure(gc, storeEntries, () => {
    const table = new InfoHashStore({ maxEntries: Math.max(storeEntries, 2_000_000) });
    return {
      add: (key: Uint8Array, i: number) => { table.record(key, 'sample', SOURCES[i & 63]!, T0 + i); },
      typedBytes: () => table.byteLength,
      keep: table,
    };
  });
  const map = measure(gc, referenceEntries, () => {
    const table = new Map<string, { requests: number; firstSeen: number; lastSeen: number; learned: number; sketch: number }>();
    return {
      add: (key: Uint8Array, i: number) => {
        const hex = Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
        const entry = table.get(hex);
        if (entry === undefined) table.set(hex, { requests: 0, firstSeen: T0 + i, lastSeen: T0 + i, learned: 4, sketch: 1 << (i & 31) });
        else entry.lastSeen = T0 + i;
      },
      typedBytes: () => 0,
      keep: table,
    };
  });
  return { store, map };
}

interface Subject { add(key: Uint8Array, i: number): void; typedBytes(): number; keep: unknown }

function measure(gc: () => void, entries: number, make: () => Subject): MemoryFigure {
  const key = new Uint8Array(20);
  const random = xorshift(0x5eed);
  gc();
  const before = memoryInUse();
  const subject = make();
  const started = performance.now();
  for (let i = 0; i < entries; i++) {
    for (let b = 0; b < 20; b += 4) {
      const word = random();
      key[b] = word; key[b + 1] = word >>> 8; key[b + 2] = word >>> 16; key[b + 3] = word >>> 24;
    }
    subject.add(key, i);
  }
  const elapsedMs = performance.now() - started;
  gc();
  const after = memoryInUse();
  const figure = {
    entries,
    bytesPerEntry: (after - before) / entries,
    typedBytesPerEntry: subject.typedBytes() / entries,
    nsPerInsert: (elapsedMs * 1e6) / entries,
  };
  // Keep the table alive up to here, so the second GC could not free it.
  if (subject.keep === undefined) throw new Error('unreachable');
  return figure;
}

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A full GC on demand, without requiring node --expose-gc on the command line. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  return () => { gc(); gc(); };
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

// ---- Discovery ----

interface Discovery {
  found: number;
  seconds: number;
  /** Queries sent, of every kind. */
  queries: number;
  /** Seconds to reach each fraction of the torrents. */
  secondsTo: Partial<Record<number, number>>;
}

const MILESTONES = [0.5, 0.9, 0.99, 1];

/** Tracks which of the network's torrents have been found, and when each milestone was passed. */
function tracker(net: Testnet, started: number, onComplete: () => void): { see(infoHash: Uint8Array): void; result(): Pick<Discovery, 'found' | 'secondsTo'> } {
  const wanted = new Set(net.torrents.map((t) => idToHex(t.infoHash)));
  const found = new Set<string>();
  const secondsTo: Partial<Record<number, number>> = {};
  return {
    see(infoHash) {
      const hex = idToHex(infoHash);
      if (!wanted.has(hex) || found.has(hex)) return;
      found.add(hex);
      for (const m of MILESTONES) {
        if (secondsTo[m] === undefined && found.size >= Math.ceil(m * wanted.size)) secondsTo[m] = (Date.now() - started) / 1000;
      }
      if (found.size === wanted.size) onComplete();
    },
    result: () => ({ found: found.size, secondsTo }),
  };
}

async function crawlerDiscovery(net: Testnet): Promise<Discovery> {
  const node = await DhtNode.create({ address: '127.0.0.1', ...(net.sharedAddress ? { lookup: { maxPerSubnet: 1_000_000 } } : {}) });
  const controller = new AbortController();
  const started = Date.now();
  const track = tracker(net, started, () => controller.abort());
  try {
    const crawler = new Crawler(node, {
      bootstrap: net.bootstrap.slice(0, 1),
      timeoutMs: DISCOVERY_LIMIT_MS,
      signal: controller.signal,
      onInfoHash: (f) => track.see(f.infoHash),
    });
    const report = await crawler.run();
    const queries = Object.values(report.queriesOut).reduce((a, b) => a + b, 0);
    return { ...track.result(), seconds: report.durationMs / 1000, queries };
  } finally {
    await node.close();
  }
}

/** Every live node sampled at each interval, all at once: no discovery, no walks. */
async function oracleDiscovery(net: Testnet): Promise<Discovery> {
  const node = await DhtNode.create({ address: '127.0.0.1' });
  let complete = false;
  const started = Date.now();
  const track = tracker(net, started, () => { complete = true; });
  let queries = 0;
  try {
    while (!complete && Date.now() - started < DISCOVERY_LIMIT_MS) {
      const roundStarted = Date.now();
      await Promise.all(net.live.map(async (target) => {
        queries++;
        const outcome = await node.query(target.local, 'sample_infohashes', { id: node.id, target: randomId() });
        if (outcome.kind === 'response') for (const h of outcome.response.r.samples ?? []) track.see(h);
      }));
      const wait = INTERVAL_S * 1000 - (Date.now() - roundStarted);
      if (!complete && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const result = track.result();
    return { ...result, seconds: result.secondsTo[1] ?? (Date.now() - started) / 1000, queries };
  } finally {
    await node.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await runCrawlBench();
  console.log(JSON.stringify(figures, null, 1));
}
