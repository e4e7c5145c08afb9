/**
 * One TCP conversation with a peer (BEP 3 "peer protocol", the format in peer-wire.ts): connect or
 * accept, a deadline for the whole conversation, a bounded queue of parsed messages, and errors that
 * say why a peer was cut off.
 *
 * A connection lives no longer than its deadline, which is what stops a peer that trickles bytes to
 * keep us waiting forever; `mapBounded` bounds how many are open at once.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { PeerInfo } from '../wire/compact.js';
import { DEFAULT_MAX_MESSAGE_BYTES, HANDSHAKE_LENGTH, WireError, WireParser, encodeHandshake, encodePeerMessage, type Handshake, type PeerMessage, type WireEvent } from './peer-wire.js';

/** Why a conversation with a peer ended before its job was done. */
export type ConnectionFailure =
  /** The TCP connection could not be made (refused, unreachable, or no answer in time). */
  | 'unreachable'
  /** The deadline passed: the peer was silent, or too slow (a trickle). */
  | 'timeout'
  /** The peer closed the connection. */
  | 'closed'
  /** The peer broke the protocol (bad handshake, malformed or oversized message, wrong torrent). */
  | 'protocol'
  /** Our caller gave up (AbortSignal). */
  | 'aborted';

export class PeerError extends Error {
  constructor(readonly reason: ConnectionFailure, message: string) {
    super(message);
    this.name = 'PeerError';
  }
}

export interface PeerConnectionOptions {
  /**
   * The whole conversation must end within this many ms, connecting included. A deadline, not an
   * idle timer: an idle timer never fires on a peer that sends one byte a second. Default 10 s.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  maxMessageBytes?: number;
  /** Local address to connect from (a 127.x address on the local network). */
  localAddress?: string;
}

/**
 * Parsed events (and their bytes) waiting to be read: past either bound, the socket is paused until
 * the reader catches up, so a fast peer and a slow reader cost at most about this much memory.
 */
const MAX_QUEUED_EVENTS = 64;
const MAX_QUEUED_BYTES = 2 * DEFAULT_MAX_MESSAGE_BYTES;

/**
 * Backpressure on what we send: while more than this many bytes wait in the socket for a peer that
 * does not read them, we stop reading from it (so it cannot make us answer more). Every answer we
 * give is caused by something we read, so this bounds what a peer that floods requests and never
 * reads can make us hold.
 */
export const WRITE_BACKLOG_BYTES = 64 * 1024;
/**
 * A peer whose unread backlog grows past this (our caller kept writing after reads stopped) is cut
 * off: holding more for a peer that does not read is memory for nothing.
 */
export const MAX_WRITE_BACKLOG_BYTES = 1024 * 1024;

/**
 * One TCP conversation with a peer, read one event at a time with `next()`. Every way it can end
 * (deadline, abort, peer closing, protocol error, `close()`) destroys the socket and makes `next()`
 * reject with a PeerError saying why; nothing outlives the deadline.
 */
export class PeerConnection {
  readonly remote: PeerInfo;
  bytesReceived = 0;
  bytesSent = 0;
  private readonly socket: Socket;
  private readonly parser: WireParser;
  private readonly queue: WireEvent[] = [];
  private queuedBytes = 0;
  private peakHeld = 0;
  private readonly timeoutMs: number;
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => this.close(new PeerError('aborted', 'stopped by the caller'));
  private waiter: { resolve: (event: WireEvent) => void; reject: (error: PeerError) => void } | undefined;
  private closedWith: PeerError | undefined;
  /** Whether TCP connected (accepted sockets are): a failure before that means the peer is unreachable. */
  private connected: boolean;

  /** Connect to a peer. Rejects with a PeerError ('unreachable', 'timeout' or 'aborted'). */
  static connect(peer: PeerInfo, options: PeerConnectionOptions = {}): Promise<PeerConnection> {
    const socket = tcpConnect({
      host: peer.address,
      port: peer.port,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    const connection = new PeerConnection(socket, peer, options);
    return new Promise((resolve, reject) => {
      const fail = (): void => reject(connection.closedWith ?? new PeerError('unreachable', 'connection failed'));
      socket.once('connect', () => { socket.off('close', fail); resolve(connection); });
      socket.once('close', fail);
    });
  }

  /** Wrap a socket a server accepted: the seeder's side of a conversation. */
  static accept(socket: Socket, options: PeerConnectionOptions = {}): PeerConnection {
    return new PeerConnection(socket, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, options);
  }

  private constructor(socket: Socket, remote: PeerInfo, options: PeerConnectionOptions) {
    this.remote = remote;
    this.socket = socket;
    this.parser = new WireParser(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {});
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.timer = setTimeout(() => this.close(this.timeoutError()), this.timeoutMs);
    this.timer.unref();
    this.signal = options.signal;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.connected = !socket.connecting;
    socket.once('connect', () => { this.connected = true; });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (error: NodeJS.ErrnoException) => this.close(socketError(error, this.connected)));
    socket.on('close', () => this.close(new PeerError('closed', `peer closed the connection after ${this.bytesReceived} bytes`)));
    if (this.signal?.aborted === true) this.onAbort();
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Why the connection ended, once it has. */
  get error(): PeerError | undefined {
    return this.closedWith;
  }

  /**
   * The most bytes this connection held at once: parsed messages not yet read plus bytes written
   * and not yet taken by the kernel. The memory one peer can cost us; tests and benches check it.
   */
  get peakHeldBytes(): number {
    return this.peakHeld;
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  sendHandshake(handshake: Handshake): void {
    this.write(encodeHandshake(handshake));
  }

  send(message: PeerMessage): void {
    this.write(encodePeerMessage(message));
  }

  /** The next handshake or message. Rejects with the PeerError that ended the connection. */
  next(): Promise<WireEvent> {
    const event = this.queue.shift();
    if (event !== undefined) {
      this.queuedBytes -= eventBytes(event);
      this.maybeResume();
      return Promise.resolve(event);
    }
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /** The peer's handshake, which must come first. */
  async handshake(): Promise<Handshake> {
    const event = await this.next();
    if (event.kind !== 'handshake') throw this.protocol('expected the handshake first');
    return event.handshake;
  }

  /** The next message (after the handshake). */
  async message(): Promise<PeerMessage> {
    const event = await this.next();
    if (event.kind !== 'message') throw this.protocol('a second handshake');
    return event.message;
  }

  /**
   * End the conversation. With an error, that is the reason every pending and later read gets;
   * without one, the reason is 'aborted' (we hung up). Idempotent: the first reason sticks.
   */
  close(error: PeerError = new PeerError('aborted', 'closed by us')): void {
    if (this.closedWith) return;
    this.closedWith = error;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  /** Protocol errors found by the caller (wrong torrent, bad extension message) end the connection too. */
  private protocol(message: string): PeerError {
    const error = new PeerError('protocol', message);
    this.close(error);
    return error;
  }

  private write(bytes: Uint8Array): void {
    if (this.closedWith) return;
    this.bytesSent += bytes.length;
    this.socket.write(bytes);
    const backlog = this.socket.writableLength;
    this.account();
    if (backlog > MAX_WRITE_BACKLOG_BYTES) {
      this.close(new PeerError('protocol', `peer does not read what we send (${backlog} bytes unread)`));
    } else if (backlog > WRITE_BACKLOG_BYTES) {
      this.socket.pause();
    }
  }

  /** Read again once both the messages waiting for our reader and our unsent bytes are down to half their bound. */
  private maybeResume(): void {
    if (this.closedWith || !this.socket.isPaused()) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS / 2 || this.queuedBytes >= MAX_QUEUED_BYTES / 2) return;
    if (this.socket.writableLength > WRITE_BACKLOG_BYTES / 2) return;
    this.socket.resume();
  }

  private account(): void {
    const held = this.queuedBytes + this.socket.writableLength;
    if (held > this.peakHeld) this.peakHeld = held;
  }

  private receive(chunk: Uint8Array): void {
    if (this.closedWith) return;
    this.bytesReceived += chunk.length;
    let events: WireEvent[];
    let failure: PeerError | undefined;
    try {
      events = this.parser.push(chunk);
    } catch (error) {
      events = error instanceof WireError ? error.events : [];
      failure = new PeerError('protocol', error instanceof Error ? error.message : String(error));
    }
    this.deliver(events);
    if (failure !== undefined) this.close(failure);
  }

  private deliver(events: readonly WireEvent[]): void {
    for (const event of events) {
      const waiter = this.waiter;
      if (waiter !== undefined) {
        this.waiter = undefined;
        waiter.resolve(event);
      } else {
        this.queue.push(event);
        this.queuedBytes += eventBytes(event);
      }
    }
    this.account();
    if (this.queue.length >= MAX_QUEUED_EVENTS || this.queuedBytes >= MAX_QUEUED_BYTES) this.socket.pause();
  }

  private timeoutError(): PeerError {
    if (!this.connected) return new PeerError('unreachable', `no TCP connection within ${this.timeoutMs} ms`);
    const what = this.bytesReceived === 0 ? 'peer sent nothing' : `peer sent only ${this.bytesReceived} bytes (too slow)`;
    return new PeerError('timeout', `timed out after ${this.timeoutMs} ms: ${what}`);
  }
}

/** Roughly what an event holds in memory: its payload. */
function eventBytes(event: WireEvent): number {
  if (event.kind === 'handshake') return HANDSHAKE_LENGTH;
  const m = event.message;
  switch (m.type) {
    case 'bitfield': return m.bits.length;
    case 'piece': return m.block.length;
    case 'extended':
    case 'unknown': return m.payload.length;
    default: return 16;
  }
}

function socketError(error: NodeJS.ErrnoException, connected: boolean): PeerError {
  const code = error.code ?? 'error';
  if (!connected) return new PeerError('unreachable', `cannot connect: ${code}`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new PeerError('closed', `peer reset the connection (${code})`);
  return new PeerError('closed', `socket error: ${code}`);
}

/**
 * Run `task` over `items` with at most `concurrency` running at once, in order of `items`; the
 * results come back in the same order. Stops starting new tasks once `signal` aborts (the tasks
 * already running are expected to watch the signal themselves). This is how every job that talks to
 * many peers bounds its open connections.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = items.map(() => undefined);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length && signal?.aborted !== true) {
      const index = nextIndex++;
      results[index] = await task(items[index]!, index);
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(concurrency), items.length));
  // Each running task listens on the signal (a PeerConnection does): more than 10 at once is by
  // design, not the leak Node warns of, so the signal's limit grows with the concurrency.
  if (signal !== undefined && getMaxListeners(signal) < workers + 10) setMaxListeners(workers + 10, signal);
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
