/**
 * aria2 (Debian's `aria2c`) as a DHT client on loopback, for tests/interop/aria2.test.ts: one
 * process per magnet, joined through one node we name, its log read line by line as events.
 *
 * aria2 has no control channel we need: it is started with everything on its command line, and
 * its own log (`--log=- --log-level=info`) says what it sends and receives on the DHT and which
 * peers it connects to. Every process runs in a temporary directory of its own (its routing table
 * file, the metadata it saves) that close() removes; `--stop` ends it by itself if nothing else does.
 *
 * Offline and on loopback only: the DHT socket is bound to a 127.x address (the hidden
 * `--dht-listen-addr`), the TCP one with `--interface`, its only entry point is the node given,
 * a fresh `--dht-file-path` names no public node, DNS is never asked (`--async-dns=false`, numeric
 * addresses), and LPD, PEX and IPv6 are off.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../../src/net/transport.js';
import { freeUdpPort } from '../helpers/cli.js';
import { LineFixture, type FixtureEvent } from './line-fixture.js';

const ARIA2C = process.env.ARIA2C ?? 'aria2c';

/** aria2's version, or why it cannot be run. */
export function findAria2(): { version: string } | { missing: string } {
  const run = spawnSync(ARIA2C, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error !== undefined) return { missing: `${ARIA2C}: ${run.error.message}` };
  const version = /aria2 version (\S+)/.exec(run.stdout)?.[1];
  return version === undefined ? { missing: `${ARIA2C} --version said: ${run.stdout.slice(0, 200)}${run.stderr.slice(0, 200)}` } : { version };
}

export interface Aria2Options {
  /** The loopback address its DHT and TCP sockets bind (one per party: each test has its own). */
  bind: string;
  /** The one DHT node it joins through. */
  entry: Endpoint;
  /** 40 hex digits: aria2 downloads `magnet:?xt=urn:btih:<infohash>`. */
  infohash: string;
  /** Fetch the metadata only (BEP 9) and save it as <infohash>.torrent, then exit. */
  metadataOnly?: boolean;
  /** aria2 stops by itself after this long. Default 60 s. */
  ttlSeconds?: number;
}

/**
 * The events read from aria2's log: `dht` for each KRPC message (`dir` sent or received, `y`
 * query or response, `q` its method, `peer` the remote endpoint, `infohash` when it names one),
 * `connecting` for each BitTorrent peer it dials, `complete` when a download is done, `saved` when
 * it has written a .torrent file (its metadata-only download, to `path`); every other
 * line is a quiet `log` event, kept for the tail shown on failure.
 */
export function parseAria2Line(line: string, t: number): FixtureEvent {
  const dht = /Message (sent|received): dht (query|response|error) (\w+) .*?Remote:([\d.]+)\((\d+)\)(.*)$/.exec(line);
  if (dht !== null) {
    const [, dir, y, q, address, port, rest] = dht;
    const infohash = /info_hash=([0-9a-f]{40})/.exec(rest!)?.[1];
    const tcpPort = /tcpPort=(\d+)/.exec(rest!)?.[1];
    return { event: 'dht', t, dir: dir!, y: y!, q: q!, peer: `${address}:${port}`, ...(infohash !== undefined ? { infohash } : {}), ...(tcpPort !== undefined ? { tcpPort: Number(tcpPort) } : {}) };
  }
  const connecting = /Connecting to ([\d.]+):(\d+)$/.exec(line);
  if (connecting !== null) return { event: 'connecting', t, peer: `${connecting[1]}:${connecting[2]}` };
  const complete = /Download complete: (.*)$/.exec(line);
  if (complete !== null) return { event: 'complete', t, what: complete[1]! };
  const saved = /Saved metadata as (.*)\.$/.exec(line);
  if (saved !== null) return { event: 'saved', t, path: saved[1]! };
  return { event: 'log', t, text: line.slice(0, 300) };
}

export class Aria2 extends LineFixture<{ cmd: 'quit' }> {
  private constructor(
    child: ChildProcessWithoutNullStreams,
    /** Its DHT socket. */
    readonly dht: Endpoint,
    /** Its BitTorrent TCP port: the port it announces. */
    readonly tcpPort: number,
    /** Its temporary directory (removed by close()). */
    readonly dir: string,
  ) {
    const started = Date.now();
    super(child, (e) => e.event === 'log', (line) => parseAria2Line(line, Date.now() - started));
  }

  static async start(options: Aria2Options): Promise<Aria2> {
    const dir = mkdtempSync(join(tmpdir(), 'dht-scrape-aria2-'));
    try {
      // aria2 saves fetched metadata only into a directory that exists.
      mkdirSync(join(dir, 'download'));
      const udp = await freePort(options.bind, 'udp');
      const tcp = await freePort(options.bind, 'tcp');
      const args = [
        '--no-conf=true', '--quiet=true', '--log=-', '--log-level=info',
        '--enable-dht=true', '--enable-dht6=false', '--disable-ipv6=true',
        `--dht-listen-addr=${options.bind}`, `--dht-listen-port=${udp}`, `--interface=${options.bind}`, `--listen-port=${tcp}`,
        `--dht-entry-point=${options.entry.address}:${options.entry.port}`, `--dht-file-path=${join(dir, 'dht.dat')}`,
        '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--async-dns=false',
        `--dir=${join(dir, 'download')}`, `--stop=${options.ttlSeconds ?? 60}`,
        ...(options.metadataOnly === true ? ['--bt-metadata-only=true', '--bt-save-metadata=true'] : []),
        `magnet:?xt=urn:btih:${options.infohash}`,
      ];
      const child = spawn(ARIA2C, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const aria2 = new Aria2(child, { address: options.bind, port: udp }, tcp, dir);
      await aria2.waitFor((e) => e.event === 'log' && String(e.text).includes(`listening on UDP port ${udp}`), 10_000, 'aria2 to listen on its DHT port');
      return aria2;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The DHT messages it logged so far, as `dht` events. */
  dhtMessages(): FixtureEvent[] {
    return this.events.filter((e) => e.event === 'dht');
  }

  /** The .torrent files it saved (metadataOnly), as bytes by file name. */
  savedTorrents(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    let names: string[];
    try { names = readdirSync(join(this.dir, 'download')); } catch { return out; }
    for (const name of names.filter((n) => n.endsWith('.torrent'))) out.set(name, readFileSync(join(this.dir, 'download', name)));
    return out;
  }

  /** Stop it (SIGTERM, then SIGKILL after 3 s) and remove its directory. */
  override async close(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    await super.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port free right now on `address` (each party has its own address, so nobody races for it). */
export async function freePort(address: string, kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') return await freeUdpPort(address);
  const server = createServer();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, address, resolve); });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
