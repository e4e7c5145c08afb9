/**
 * The pieces of the transmission interop test (transmission.test.ts): transmission-daemon (Debian's
 * transmission 3.00, whose DHT is jech/dht) run in the client namespace of a NamespaceLab with its
 * own config directory, and our side (netns_lab.mjs) run in the lab namespace.
 *
 * transmission reads its DHT bootstrap from `dht.dat` in its config directory (bencoded
 * `{id, nodes}`, compact node info as in BEP 5): we write one naming a single node of ours, so
 * everything else it learns, it learns from our network.
 */
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encode } from '../../src/wire/bencode.js';
import { encodePeer } from '../../src/wire/compact.js';
import { randomId } from '../../src/wire/id.js';
import { LineFixture, type FixtureEvent } from './line-fixture.js';
import { CLIENT_ADDRESS, type NamespaceLab } from './netns.js';

const LAB_FIXTURE = fileURLToPath(new URL('./netns_lab.mjs', import.meta.url));

/** transmission-daemon's version line, or why it cannot be run. */
export function findTransmission(): { version: string } | { missing: string } {
  const run = spawnSync('transmission-daemon', ['-V'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error !== undefined) return { missing: `transmission-daemon does not run: ${run.error.message}` };
  const version = `${run.stdout}${run.stderr}`.trim().split('\n')[0] ?? '';
  return /\d+\.\d+/.test(version) ? { version } : { missing: `transmission-daemon -V printed no version: ${version}` };
}

export interface LabNode { index: number; address: string; port: number; id: string }

export type LabCommand =
  | { cmd: 'who'; address: string }
  | { cmd: 'listen'; address: string; port: number }
  | { cmd: 'rpc'; url: string; body: { method: string; arguments?: Record<string, unknown> } }
  | { cmd: 'quit' };

/** Our local network in the lab namespace, with the instruments of netns_lab.mjs. */
export class LabFixture extends LineFixture<LabCommand> {
  readonly nodes: LabNode[] = [];

  static async start(lab: NamespaceLab, options: { nodes: number; ttlSeconds: number }): Promise<LabFixture> {
    const child = lab.spawn(lab.lab, process.execPath, [LAB_FIXTURE, '--range', lab.range, '--nodes', String(options.nodes), '--watch', CLIENT_ADDRESS, '--ttl', String(options.ttlSeconds)]);
    const fixture = new LabFixture(child, (e) => e.event === 'query');
    const ready = await fixture.waitFor((e) => e.event === 'ready' || e.event === 'fatal', 20_000, 'our local network in the lab namespace');
    if (ready.event !== 'ready') {
      await fixture.close();
      throw new Error(`lab fixture failed: ${JSON.stringify(ready)}\n${fixture.errors}`);
    }
    fixture.nodes.push(...(ready.nodes as LabNode[]));
    return fixture;
  }

  endpoint(i: number): string {
    const n = this.nodes[i]!;
    return `${n.address}:${n.port}`;
  }

  /** The node ID of whoever queries our nodes from `address` (waits for its first query). */
  async idOf(address: string, timeoutMs: number): Promise<string> {
    const who = await this.ask({ cmd: 'who', address }, (e) => e.event === 'who' && e.address === address, timeoutMs, `a query from ${address}`);
    return who.id as string;
  }

  /** Open a TCP listener that reports every BitTorrent handshake it receives. */
  async listen(address: string, port: number): Promise<void> {
    await this.ask({ cmd: 'listen', address, port }, (e) => (e.event === 'listening' && e.port === port) || (e.event === 'error' && e.cmd === 'listen'), 5_000, `a listener on ${address}:${port}`)
      .then((e) => { if (e.event === 'error') throw new Error(`listen ${address}:${port}: ${String(e.error)}`); });
  }

  /** One call of transmission's RPC (from the lab namespace, over the veth). */
  async rpc(url: string, method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const answer = await this.ask({ cmd: 'rpc', url, body: { method, arguments: args } },
      (e) => (e.event === 'rpc' && e.method === method) || (e.event === 'error' && e.cmd === 'rpc'), 10_000, `transmission's RPC ${method}`);
    if (answer.event === 'error') throw new Error(`RPC ${method}: ${String(answer.error)}`);
    return answer.reply as Record<string, unknown>;
  }

  /** The queries the watched client sent to our nodes so far. */
  queries(): FixtureEvent[] {
    return this.events.filter((e) => e.event === 'query');
  }
}

export interface TransmissionOptions {
  /** The one DHT node it may start from ("a.b.c.d:port"). */
  bootstrap: string;
  peerPort: number;
  rpcPort: number;
  /** It is killed after this long whatever happens (coreutils timeout around it). */
  ttlSeconds: number;
}

interface LogWaiter { pattern: RegExp; resolve: (match: RegExpExecArray) => void }

/** transmission-daemon in the lab's client namespace, its log read line by line. */
export class TransmissionDaemon {
  /** Every log line so far. */
  readonly log: string[] = [];
  private readonly waiters = new Set<LogWaiter>();
  private exited = false;
  private readonly exitedPromise: Promise<void>;
  readonly rpcUrl: string;
  readonly started = Date.now();

  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly dir: string, readonly options: TransmissionOptions) {
    this.rpcUrl = `http://${CLIENT_ADDRESS}:${options.rpcPort}/transmission/rpc`;
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    this.exitedPromise = new Promise((resolve) => {
      const gone = (): void => { this.exited = true; resolve(); };
      child.on('exit', gone);
      child.on('error', (error) => { this.log.push(`spawn error: ${error.message}`); gone(); });
    });
  }

  static start(lab: NamespaceLab, options: TransmissionOptions): TransmissionDaemon {
    const dir = mkdtempSync(join(tmpdir(), 'dht-scrape-transmission-'));
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings(dir, options), null, 2));
    writeFileSync(join(dir, 'dht.dat'), initialDhtDat(options.bootstrap));
    const child = lab.spawn(lab.client, 'timeout', ['-k', '5', String(options.ttlSeconds), 'transmission-daemon', '--foreground', '--config-dir', dir, '--log-info']);
    return new TransmissionDaemon(child, dir, options);
  }

  private onLine(line: string): void {
    this.log.push(line);
    for (const waiter of this.waiters) {
      const match = waiter.pattern.exec(line);
      if (match !== null) { this.waiters.delete(waiter); waiter.resolve(match); }
    }
  }

  /** The first log line (seen or to come) matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    for (const line of this.log) {
      const match = pattern.exec(line);
      if (match !== null) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        this.waiters.delete(waiter);
        reject(new Error(`waiting for transmission to log ${what}: ${why}\nits log (last 30 lines):\n${this.log.slice(-30).join('\n')}`));
      };
      const timer = setTimeout(() => fail(`nothing within ${timeoutMs} ms`), timeoutMs);
      const waiter: LogWaiter = { pattern, resolve: (match) => { clearTimeout(timer); resolve(match); } };
      this.waiters.add(waiter);
      void this.exitedPromise.then(() => { clearTimeout(timer); if (this.waiters.has(waiter)) fail('it exited'); });
    });
  }

  /** Seconds since it was started. */
  uptime(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** SIGTERM (timeout passes it on; transmission then shuts down cleanly), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exitedPromise;
    clearTimeout(killer);
  }

  /** The DHT state file it would save on exit (`dht.dat`), as it is now. */
  dhtDat(): Uint8Array {
    return readFileSync(join(this.dir, 'dht.dat'));
  }

  /** Stop it and remove its config directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Its settings: DHT on and bound to the client namespace's address; everything that would look for
 * peers or routers elsewhere (LPD multicast, PEX, uTP, UPnP/NAT-PMP) off; plaintext handshakes
 * preferred (encryption 0), so the first bytes it sends a peer are a readable BEP 3 handshake;
 * RPC on the namespace address only, without authentication (nothing else can reach it).
 */
function settings(dir: string, options: TransmissionOptions): Record<string, unknown> {
  return {
    'bind-address-ipv4': CLIENT_ADDRESS,
    'bind-address-ipv6': '::1',
    'peer-port': options.peerPort,
    'peer-port-random-on-start': false,
    'dht-enabled': true,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'port-forwarding-enabled': false,
    'encryption': 0,
    'peer-limit-global': 50,
    'peer-limit-per-torrent': 20,
    'rpc-enabled': true,
    'rpc-bind-address': CLIENT_ADDRESS,
    'rpc-port': options.rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': false,
    'rpc-host-whitelist-enabled': false,
    'download-dir': join(dir, 'downloads'),
    'incomplete-dir-enabled': false,
    'watch-dir-enabled': false,
    'blocklist-enabled': false,
    'start-added-torrents': true,
  };
}

/** dht.dat as transmission reads it: a random ID and one compact node (our bootstrap node). */
export function initialDhtDat(bootstrap: string, id: Uint8Array = randomId()): Uint8Array {
  const colon = bootstrap.lastIndexOf(':');
  return encode({ id, nodes: encodePeer({ address: bootstrap.slice(0, colon), port: Number(bootstrap.slice(colon + 1)) }) });
}
