/**
 * A fixture process spoken to in JSON lines: events on its stdout (each with a name and its clock
 * in ms), commands on its stdin. lt_fixture.py (libtorrent) and bdht_fixture.mjs (bittorrent-dht)
 * both work this way; this keeps every event, lets a test wait for one, and makes sure the process
 * is gone when the tests end. A client that only writes a log (aria2) is read the same way through
 * a `parse` that turns its log lines into events.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One line of fixture output. Every event has a name and the fixture's clock in ms. */
export interface FixtureEvent {
  event: string;
  t: number;
  [field: string]: unknown;
}

interface Waiter {
  match: (event: FixtureEvent) => boolean;
  resolve: (event: FixtureEvent) => void;
}

export class LineFixture<Command extends { cmd: string }> {
  /** Every event so far, in order (the tests search it, and print its tail when something fails). */
  readonly events: FixtureEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  protected stderr = '';
  protected exited = false;
  private readonly exitedPromise: Promise<void>;

  constructor(
    protected readonly child: ChildProcessWithoutNullStreams,
    private readonly quiet: (e: FixtureEvent) => boolean = () => false,
    /** One stdout line as an event, or undefined to skip it. Default: the line is a JSON event. */
    private readonly parse: (line: string) => FixtureEvent | undefined = parseJsonEvent,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-8_000); });
    this.exitedPromise = new Promise((resolve) => {
      const gone = (): void => { this.exited = true; resolve(); };
      child.on('exit', gone);
      child.on('error', (error) => { this.stderr += `\n${error.message}`; gone(); });
    });
  }

  private onLine(line: string): void {
    const event = this.parse(line);
    if (event === undefined) return;
    this.events.push(event);
    for (const waiter of this.waiters) {
      if (waiter.match(event)) { this.waiters.delete(waiter); waiter.resolve(event); }
    }
  }

  send(command: Command): void {
    if (!this.exited) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /**
   * The first event (already seen from index `since` on, or still to come) that matches. Rejects
   * after `timeoutMs`, or at once if the fixture exits, with what it was waiting for (a function
   * when that message should say how far it got: it is called at the failure).
   */
  waitFor(match: (event: FixtureEvent) => boolean, timeoutMs: number, what: string | (() => string), since = 0): Promise<FixtureEvent> {
    const seen = this.events.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        this.waiters.delete(waiter);
        reject(new Error(`waiting for ${typeof what === 'string' ? what : what()}: ${why}\nlast fixture events:\n${this.tail()}\nstderr:\n${this.stderr}`));
      };
      const timer = setTimeout(() => fail(`nothing within ${timeoutMs} ms`), timeoutMs);
      const waiter: Waiter = { match, resolve: (event) => { clearTimeout(timer); resolve(event); } };
      this.waiters.add(waiter);
      void this.exitedPromise.then(() => { clearTimeout(timer); if (this.waiters.has(waiter)) fail('the fixture exited'); });
    });
  }

  /** Send a command and wait for the event that answers it. */
  ask(command: Command, match: (event: FixtureEvent) => boolean, timeoutMs: number, what: string): Promise<FixtureEvent> {
    const since = this.events.length;
    this.send(command);
    return this.waitFor(match, timeoutMs, what, since);
  }

  /** The last few events, without the chatty ones, shortened. */
  tail(count = 15): string {
    return this.events.filter((e) => !this.quiet(e)).slice(-count).map((e) => JSON.stringify(e).slice(0, 500)).join('\n');
  }

  /** What the process wrote to stderr lately. */
  get errors(): string {
    return this.stderr;
  }

  /** Ask it to quit; kill it if it has not within 3 s (it would also stop by its own ttl). */
  async close(): Promise<void> {
    if (this.exited) return;
    this.send({ cmd: 'quit' } as Command);
    this.child.stdin.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exitedPromise;
    clearTimeout(killer);
  }
}

function parseJsonEvent(line: string): FixtureEvent | undefined {
  try { return JSON.parse(line) as FixtureEvent; } catch { return undefined; }
}
