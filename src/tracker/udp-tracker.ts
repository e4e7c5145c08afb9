/**
 * A UDP tracker client (BEP 15): connect, announce, scrape, each retried on the BEP's schedule.
 *
 * BEP 15 says: if no reply arrives within 15 * 2^n seconds, send again and increase n, up to 8
 * (a full hour). A one-shot command cannot wait that long, so the schedule is kept (with a base
 * that tests may shorten) and the caller's AbortSignal cuts it. A connection ID is reused for one
 * minute, as the BEP allows. Replies are matched on transaction ID, action and source: anything
 * else (a stale reply, a spoofed one) is counted and ignored, never trusted.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { familyOf, normalizeAddress, type Family } from '../wire/compact.js';
import {
  decodeReply,
  encodeAnnounce,
  encodeConnect,
  encodeScrape,
  UdpTrackerError,
  type AnnounceEventName,
  type AnnounceReply,
  type ScrapeCounts,
  type UdpTrackerReply,
} from './udp-tracker-wire.js';
import { DEFAULT_NUM_WANT, printable, TrackerError, withoutUs, type TrackerAnswer, type TrackerRequest } from './tracker-request.js';

export interface UdpTrackerOptions {
  /** BEP 15's 15 s, the first wait before a retransmission; it doubles after each. */
  retryBaseMs?: number;
  /** BEP 15's n: retransmissions after the first send (at most 8). Default 8. */
  maxRetries?: number;
}

const BEP15_RETRY_BASE_MS = 15_000;
const BEP15_MAX_RETRIES = 8;
/** BEP 15: a client may use a connection ID for one minute after it received it. */
const CONNECTION_ID_LIFETIME_MS = 60_000;

/** Announce to and scrape a `udp://host:port` tracker. Throws TrackerError with one reason. */
export async function queryUdpTracker(url: URL, request: TrackerRequest, options: UdpTrackerOptions = {}): Promise<TrackerAnswer> {
  if (url.protocol !== 'udp:') throw new TrackerError(`not a UDP tracker URL: ${url.href}`);
  const port = Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new TrackerError(`the tracker URL has no valid port: ${url.href}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const address = await resolve(host, request.signal);
  const session = new UdpTrackerSession({ address: normalizeAddress(address), port }, options, request.signal);
  try {
    await session.open();
    await session.connect();
    const counts = await session.scrape(request).catch(() => undefined);
    const announced = await session.announce(request, 'started');
    if (request.stay !== true) await session.announce(request, 'stopped').catch(() => undefined);
    const answer: TrackerAnswer = {
      seeders: counts?.seeders ?? withoutUs(announced.seeders),
      leechers: counts?.leechers ?? announced.leechers,
      peers: announced.peers.slice(0, request.numWant ?? DEFAULT_NUM_WANT),
      interval: announced.interval,
    };
    if (counts !== undefined) answer.completed = counts.completed;
    return answer;
  } finally {
    session.close();
  }
}

async function resolve(host: string, signal: AbortSignal | undefined): Promise<string> {
  try {
    familyOf(host);
    return host;
  } catch {
    signal?.throwIfAborted();
    try {
      return (await lookup(host)).address;
    } catch (error) {
      throw new TrackerError(`cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
}

interface Endpoint { address: string; port: number }

/** One socket talking to one tracker, with the connection ID it was given. */
class UdpTrackerSession {
  private readonly to: Endpoint;
  private readonly family: Family;
  private readonly socket: Socket;
  private readonly retryBaseMs: number;
  private readonly maxRetries: number;
  private readonly signal: AbortSignal | undefined;
  private connection: { id: bigint; at: number } | undefined;
  private waiting: { transactionId: number; settle: (reply: UdpTrackerReply) => void } | undefined;
  /** Datagrams ignored: from elsewhere, with another transaction ID, or malformed. */
  private ignored = 0;
  private malformed: string | undefined;

  constructor(to: Endpoint, options: UdpTrackerOptions, signal: AbortSignal | undefined) {
    this.to = to;
    this.family = familyOf(to.address);
    this.retryBaseMs = options.retryBaseMs ?? BEP15_RETRY_BASE_MS;
    this.maxRetries = Math.min(options.maxRetries ?? BEP15_MAX_RETRIES, BEP15_MAX_RETRIES);
    this.signal = signal;
    this.socket = createSocket(this.family === 4 ? 'udp4' : 'udp6');
    this.socket.on('message', (bytes, from) => this.receive(bytes, from));
    this.socket.on('error', () => {});
  }

  async open(): Promise<void> {
    await new Promise<void>((done, fail) => {
      this.socket.once('error', fail);
      this.socket.bind(0, () => { this.socket.off('error', fail); done(); });
    });
  }

  close(): void {
    this.socket.close();
  }

  async announce(request: TrackerRequest, event: AnnounceEventName): Promise<AnnounceReply> {
    const connectionId = await this.connect();
    const reply = await this.exchange((transactionId) => encodeAnnounce({
      connectionId,
      transactionId,
      infoHash: request.infoHash,
      peerId: request.peerId,
      downloaded: 0n,
      left: 0n,
      uploaded: 0n,
      event,
      key: randomBytes(4).readUInt32BE(0),
      numWant: request.numWant ?? DEFAULT_NUM_WANT,
      port: request.port,
    }), 'announce');
    if (reply.action !== 'announce') throw unexpected(reply);
    return reply.reply;
  }

  async scrape(request: TrackerRequest): Promise<ScrapeCounts> {
    const connectionId = await this.connect();
    const reply = await this.exchange((transactionId) => encodeScrape(connectionId, transactionId, [request.infoHash]), 'scrape');
    if (reply.action !== 'scrape') throw unexpected(reply);
    const counts = reply.counts[0];
    if (counts === undefined) throw new TrackerError('the scrape reply names no info-hash');
    return counts;
  }

  /** Get a connection ID (BEP 15: proof that our address is not spoofed), or reuse one under a minute old. */
  async connect(): Promise<bigint> {
    if (this.connection !== undefined && Date.now() - this.connection.at < CONNECTION_ID_LIFETIME_MS) return this.connection.id;
    const reply = await this.exchange(encodeConnect, 'connect');
    if (reply.action !== 'connect') throw unexpected(reply);
    this.connection = { id: reply.connectionId, at: Date.now() };
    return reply.connectionId;
  }

  /** Send a request and wait for its reply, sending again after 15 * 2^n s (BEP 15). */
  private async exchange(make: (transactionId: number) => Uint8Array, what: string): Promise<UdpTrackerReply> {
    const transactionId = randomBytes(4).readUInt32BE(0);
    const packet = make(transactionId);
    const answered = new Promise<UdpTrackerReply>((settle) => { this.waiting = { transactionId, settle }; });
    try {
      for (let n = 0; n <= this.maxRetries; n++) {
        this.socket.send(packet, this.to.port, this.to.address);
        const reply = await firstOf(answered, this.retryBaseMs * 2 ** n, this.signal);
        if (reply !== undefined) {
          if (reply.action === 'error') throw new TrackerError(`the tracker refused the ${what}: ${printable(reply.message)}`);
          return reply;
        }
      }
    } finally {
      this.waiting = undefined;
    }
    const ignored = this.ignored === 0 ? '' : `; ${this.ignored} datagram(s) ignored${this.malformed !== undefined ? ` (${this.malformed})` : ' (wrong source or transaction ID)'}`;
    throw new TrackerError(`no ${what} reply after ${this.maxRetries + 1} tries${ignored}`);
  }

  private receive(bytes: Buffer, from: { address: string; port: number }): void {
    const waiting = this.waiting;
    if (waiting === undefined || normalizeAddress(from.address) !== this.to.address || from.port !== this.to.port) {
      this.ignored++;
      return;
    }
    let reply: UdpTrackerReply;
    try {
      reply = decodeReply(bytes, this.family);
    } catch (error) {
      if (!(error instanceof UdpTrackerError)) throw error;
      const malformed = `${error.message} at byte ${error.offset}`;
      // A malformed reply that carries our transaction ID is the tracker's answer: waiting on
      // would only repeat it. Anything else may be noise, and the wait goes on.
      if (bytes.length >= 8 && bytes.readUInt32BE(4) === waiting.transactionId) {
        waiting.settle({ action: 'error', transactionId: waiting.transactionId, message: malformed });
        return;
      }
      this.ignored++;
      this.malformed = malformed;
      return;
    }
    if (reply.transactionId !== waiting.transactionId) {
      this.ignored++;
      return;
    }
    waiting.settle(reply);
  }
}

/** The reply, or undefined after `ms`; throws if the signal aborts first. */
function firstOf<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T | undefined> {
  return new Promise<T | undefined>((done, fail) => {
    if (signal?.aborted === true) { fail(new TrackerError('stopped before the tracker answered')); return; }
    const onAbort = (): void => { clearTimeout(timer); fail(new TrackerError('stopped before the tracker answered')); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); done(undefined); }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then((value) => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); done(value); }, fail);
  });
}

function unexpected(reply: UdpTrackerReply): TrackerError {
  return new TrackerError(`the tracker answered with a ${reply.action} reply`);
}
