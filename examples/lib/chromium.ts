/**
 * Just enough of a headless Chromium driver for the view's browser tests and the docs'
 * screenshots, with no dependency: start Debian's `chromium` with remote debugging on loopback,
 * speak the DevTools protocol over its WebSocket with the small RFC 6455 client below (node:net),
 * and open pages in one flat session each. Every page request and console message is recorded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The browser to drive: $CHROMIUM, or `chromium` on the PATH; undefined when there is none. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, 'chromium', 'chromium-browser'].filter((c): c is string => c !== undefined && c !== '');
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status === 0 && /chrom/i.test(probe.stdout)) return candidate;
  }
  return undefined;
}

interface CdpMessage { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string }

/** A WebSocket client for one ws://127.0.0.1 URL: text frames only, as the DevTools protocol uses. */
class WebSocketClient {
  private buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  onText: (text: string) => void = () => {};
  onClose: () => void = () => {};

  private constructor(private readonly socket: Socket) {}

  static open(url: string): Promise<WebSocketClient> {
    const { hostname, port, pathname } = new URL(url);
    if (hostname !== '127.0.0.1') return Promise.reject(new Error(`refusing a DevTools address off loopback: ${hostname}`));
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const key = randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      const onHead = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onHead);
        if (!/^HTTP\/1\.1 101/.test(head.subarray(0, end).toString('latin1'))) return reject(new Error('WebSocket upgrade refused'));
        const client = new WebSocketClient(socket);
        socket.off('error', reject);
        socket.on('data', (data: Buffer) => client.receive(data));
        socket.on('close', () => client.onClose());
        socket.on('error', () => socket.destroy());
        client.receive(head.subarray(end + 4));
        resolve(client);
      };
      socket.on('data', onHead);
    });
  }

  /** One masked text frame (clients must mask, RFC 6455 section 5.3). */
  send(text: string): void {
    const payload = Buffer.from(text, 'utf8');
    const length = payload.length;
    const header = length < 126 ? Buffer.from([0x81, 0x80 | length])
      : length < 65536 ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 255])
        : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigLength(length)]);
    const mask = randomBytes(4);
    const masked = Buffer.alloc(length);
    for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const fin = (this.buffer[0]! & 0x80) !== 0;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 0x8) { this.close(); return; }
      if (opcode === 0x9) { this.socket.write(Buffer.from([0x8a, 0x80, 0, 0, 0, 0])); continue; }
      if (opcode === 0x1 || opcode === 0x0) {
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          const text = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.onText(text);
        }
      }
    }
  }
}

function bigLength(length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(length));
  return out;
}

/** A page in the browser: commands go to its session; its requests and console errors are kept. */
export class Page {
  /** Every URL the page asked for (Network.requestWillBeSent). */
  readonly requests: string[] = [];
  /** Console errors and uncaught exceptions. */
  readonly errors: string[] = [];
  private readonly waiters = new Map<string, (() => void)[]>();

  constructor(private readonly browser: Browser, readonly sessionId: string) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Navigate and wait for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.next('Page.loadEventFired');
    await this.send('Page.navigate', { url });
    await loaded;
  }

  /** Evaluate an expression in the page (awaiting it if it is a promise) and return its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    const details = reply.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
    if (details !== undefined) throw new Error(`page threw: ${details.exception?.description ?? details.text ?? 'unknown'}`);
    return (reply.result as { value: T }).value;
  }

  /**
   * Wait (in the page, frame by frame, for at most `ms`) until `expression` is truthy, and return
   * its last value: the caller asserts on it, so a timeout shows what the page had instead.
   */
  waitFor<T>(expression: string, ms = 15_000): Promise<T> {
    return this.evaluate<T>(`new Promise((resolve) => {
      const until = Date.now() + ${ms};
      const look = () => {
        let value;
        try { value = (${expression}); } catch (error) { value = undefined; }
        if (value || Date.now() > until) resolve(value ?? null); else requestAnimationFrame(look);
      };
      look();
    })`);
  }

  /** A PNG of the page as laid out at `width` x `height` CSS pixels. */
  async screenshot(width: number, height: number): Promise<Buffer> {
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    const reply = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
    return Buffer.from(reply.data as string, 'base64');
  }

  /** @internal the browser hands each event of this session here. */
  event(message: CdpMessage): void {
    const params = message.params ?? {};
    if (message.method === 'Network.requestWillBeSent') {
      this.requests.push(String((params.request as { url?: unknown } | undefined)?.url));
    } else if (message.method === 'Runtime.consoleAPICalled' && params.type === 'error') {
      this.errors.push(`console.error: ${JSON.stringify(params.args)}`);
    } else if (message.method === 'Runtime.exceptionThrown') {
      const details = params.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined;
      this.errors.push(`exception: ${details?.exception?.description ?? details?.text ?? 'unknown'}`);
    } else if (message.method === 'Log.entryAdded') {
      const entry = params.entry as { level?: string; text?: string; url?: string } | undefined;
      if (entry?.level === 'error') this.errors.push(`log: ${entry.text ?? ''} ${entry.url ?? ''}`);
    }
    for (const resolve of this.waiters.get(message.method ?? '') ?? []) resolve();
    this.waiters.delete(message.method ?? '');
  }

  private next(method: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(method) ?? [];
      list.push(resolve);
      this.waiters.set(method, list);
    });
  }
}

/** One headless Chromium with its own temporary profile; `close()` kills it and removes the profile. */
export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly pages = new Map<string, Page>();

  private constructor(private readonly child: ChildProcess, private readonly socket: WebSocketClient, private readonly profile: string) {
    socket.onText = (text) => this.receive(JSON.parse(text) as CdpMessage);
    socket.onClose = () => {
      for (const { reject } of this.pending.values()) reject(new Error('the browser went away'));
      this.pending.clear();
    };
  }

  static async launch(executable: string, timeoutMs = 30_000): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'dht-scrape-chromium-'));
    const child = spawn(executable, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-extensions', '--mute-audio', '--hide-scrollbars',
      '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(() => reject(new Error(`chromium printed no DevTools address in ${timeoutMs} ms: ${seen.slice(-500)}`)), timeoutMs);
        child.stderr!.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
          if (match !== null) { clearTimeout(timer); resolve(match[1]!); }
        });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}): ${seen.slice(-500)}`)); });
      });
      child.stderr!.resume();
      const socket = await WebSocketClient.open(url);
      return new Browser(child, socket, profile);
    } catch (error) {
      killGroup(child);
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      throw error;
    }
  }

  /** A new tab with its own session, recording requests and console errors from the start. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    const page = new Page(this, sessionId);
    this.pages.set(sessionId, page);
    for (const domain of ['Page', 'Runtime', 'Network', 'Log']) await page.send(`${domain}.enable`);
    return page;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) }));
    });
  }

  async close(): Promise<void> {
    this.socket.close();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      killGroup(this.child);
      await exited;
    }
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }

  private receive(message: CdpMessage): void {
    if (message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result ?? {});
      return;
    }
    if (message.sessionId !== undefined) this.pages.get(message.sessionId)?.event(message);
  }
}

/** Chromium starts helper processes (zygote, GPU, crashpad): kill its whole process group, which it leads. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
