/**
 * The test side of lt_fixture.py: find a Python that can import libtorrent, start the fixture,
 * read its JSON-line events, send it commands, and make sure it is gone when the tests end.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./lt_fixture.py', import.meta.url));

export interface LibtorrentPython {
  python: string;
  version: string;
}

/**
 * Debian's python3-libtorrent lives in /usr/lib/python3/dist-packages, which only /usr/bin/python3
 * sees; a python3 earlier on PATH (pyenv, a venv) usually cannot import it. So /usr/bin/python3 is
 * tried first, then whatever `python3` is; LIBTORRENT_PYTHON overrides both.
 */
export function findLibtorrentPython(): LibtorrentPython | { missing: string } {
  const override = process.env.LIBTORRENT_PYTHON;
  const candidates = override !== undefined && override !== '' ? [override] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import libtorrent; print(libtorrent.__version__)'], { encoding: 'utf8', timeout: 15_000 });
    const version = probe.stdout?.trim() ?? '';
    if (probe.status === 0 && version !== '') return { python, version };
    const why = probe.error?.message ?? probe.stderr?.trim().split('\n').pop() ?? `exit ${probe.status}`;
    tried.push(`${python}: ${why}`);
  }
  return { missing: tried.join('; ') };
}

export interface LtSession {
  index: number;
  address: string;
  port: number;
  node_id: string;
}

/** The seeded torrent as libtorrent built it. */
export interface LtTorrent {
  name: string;
  total_size: number;
  piece_length: number;
  pieces: number;
  /** Length of the bencoded info dictionary (what BEP 9 transfers). */
  metadata_size: number;
  /** Paths from the download directory, the torrent's name first, '/'-separated. */
  files: { path: string; size: number }[];
}

/** A session holding the seeded torrent, as libtorrent reports itself when `ready` is sent. */
export interface LtHolder {
  session: number;
  address: string;
  pieces: number;
  seed: boolean;
  state: string;
}

export interface ReadyEvent {
  event: 'ready';
  t: number;
  version: string;
  python: string;
  infohash: string;
  seeder: number;
  sessions: LtSession[];
  torrent: LtTorrent;
  /** The seeder (session 0), then the leechers (sessions 1..leechers). */
  swarm: LtHolder[];
}

/** One line of fixture output. Every event has a name and the fixture's clock in ms. */
export interface FixtureEvent {
  event: string;
  t: number;
  [field: string]: unknown;
}

export type FixtureCommand =
  | { cmd: 'get_peers'; session: number; infohash: string }
  | { cmd: 'announce'; session: number; infohash: string }
  | { cmd: 'add_node'; session: number; address: string; port: number }
  | { cmd: 'live_nodes'; session: number }
  | { cmd: 'sample'; session: number; address: string; port: number; target?: string }
  /** BEP 44, values and keys in hex: `value` bencoded; `seed` the 32-byte ed25519 seed; `data` a string value. */
  | { cmd: 'put_immutable'; session: number; value: string }
  | { cmd: 'get_immutable'; session: number; target: string }
  | { cmd: 'put_mutable'; session: number; seed: string; public_key: string; data: string; salt?: string }
  | { cmd: 'get_mutable'; session: number; public_key: string; salt?: string }
  | { cmd: 'quit' };

export interface FixtureOptions {
  sessions?: number;
  /** Session K listens on 127.0.(subnet+K).1. */
  subnet?: number;
  /** The fixture exits by itself after this many seconds. */
  ttlSeconds?: number;
  /** Sessions 1..leechers hold part of the torrent and announce as downloaders. Default 0. */
  leechers?: number;
  verbose?: boolean;
}

interface Waiter {
  match: (event: FixtureEvent) => boolean;
  resolve: (event: FixtureEvent) => void;
}

export class LibtorrentFixture {
  /** Every event so far, in order (the tests search it, and print its tail when something fails). */
  readonly events: FixtureEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  private stderr = '';
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-8_000); });
    this.exitedPromise = new Promise((resolve) => {
      const gone = (): void => { this.exited = true; resolve(); };
      child.on('exit', gone);
      child.on('error', (error) => { this.stderr += `\n${error.message}`; gone(); });
    });
  }

  static async start(python: string, options: FixtureOptions = {}): Promise<{ fixture: LibtorrentFixture; ready: ReadyEvent }> {
    const args = [
      '-u', FIXTURE,
      '--sessions', String(options.sessions ?? 3),
      '--subnet', String(options.subnet ?? 60),
      '--ttl', String(options.ttlSeconds ?? 120),
    ];
    if (options.leechers !== undefined) args.push('--leechers', String(options.leechers));
    if (options.verbose === true) args.push('--verbose');
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const fixture = new LibtorrentFixture(child);
    const ready = await fixture.waitFor((e) => e.event === 'ready' || e.event === 'fatal', 25_000, 'the fixture to be ready');
    if (ready.event !== 'ready') {
      await fixture.close();
      throw new Error(`libtorrent fixture failed: ${JSON.stringify(ready)}\n${fixture.stderr}`);
    }
    return { fixture, ready: ready as unknown as ReadyEvent };
  }

  private onLine(line: string): void {
    let event: FixtureEvent;
    try { event = JSON.parse(line) as FixtureEvent; } catch { return; }
    this.events.push(event);
    for (const waiter of this.waiters) {
      if (waiter.match(event)) { this.waiters.delete(waiter); waiter.resolve(event); }
    }
  }

  send(command: FixtureCommand): void {
    if (!this.exited) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /**
   * The first event (already seen from index `since` on, or still to come) that matches. Rejects
   * after `timeoutMs`, or at once if the fixture exits, with what it was waiting for.
   */
  waitFor(match: (event: FixtureEvent) => boolean, timeoutMs: number, what: string, since = 0): Promise<FixtureEvent> {
    const seen = this.events.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        this.waiters.delete(waiter);
        reject(new Error(`waiting for ${what}: ${why}\nlast fixture events:\n${this.tail()}\nstderr:\n${this.stderr}`));
      };
      const timer = setTimeout(() => fail(`nothing within ${timeoutMs} ms`), timeoutMs);
      const waiter: Waiter = { match, resolve: (event) => { clearTimeout(timer); resolve(event); } };
      this.waiters.add(waiter);
      void this.exitedPromise.then(() => { clearTimeout(timer); if (this.waiters.has(waiter)) fail('the fixture exited'); });
    });
  }

  /** The last few events, without the chatty incoming get_peers ones. */
  tail(count = 15): string {
    return this.events.filter((e) => e.event !== 'incoming_get_peers').slice(-count).map((e) => JSON.stringify(e)).join('\n');
  }

  /** Ask it to quit; kill it if it has not within 3 s (it would also stop by its own ttl). */
  async close(): Promise<void> {
    if (this.exited) return;
    this.send({ cmd: 'quit' });
    this.child.stdin.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exitedPromise;
    clearTimeout(killer);
  }
}
