/**
 * An HTTP tracker client: the announce of BEP 3 (with `compact=1`, BEP 23) and the scrape
 * convention of BEP 48, over node:http and node:https.
 *
 * A tracker is a server someone else runs, so every answer is bounded before it is read: the body
 * is cut at `maxBytes`, at most `maxRedirects` redirects are followed (to http or https only), the
 * peer list is cut at the number asked for, and a reply that is not a bencoded dictionary is one
 * clear error, not an exception from deep inside a parser.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { BencodeError, decode, type BencodeDict, type BencodeValue } from '../wire/bencode.js';
import { isDict } from '../wire/bencode.js';
import { COMPACT_PEER_LENGTH, decodePeer, normalizeAddress, type PeerInfo } from '../wire/compact.js';
import type { NodeId } from '../wire/id.js';
import { DEFAULT_NUM_WANT, printable, TrackerError, withoutUs, type TrackerAnswer, type TrackerRequest } from './tracker-request.js';

export interface HttpTrackerOptions {
  /** Largest body read, in bytes (default 256 KiB: 40,000 compact peers). */
  maxBytes?: number;
  /** Redirects followed at most (default 3). */
  maxRedirects?: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024;
const DEFAULT_MAX_REDIRECTS = 3;

/**
 * Scrape an `http(s)://.../announce` tracker if its URL allows (BEP 48), then announce to it for
 * peers. The scrape comes first so that its counts do not include us.
 */
export async function queryHttpTracker(url: URL, request: TrackerRequest, options: HttpTrackerOptions = {}): Promise<TrackerAnswer> {
  const numWant = request.numWant ?? DEFAULT_NUM_WANT;
  const scrapeAt = scrapeUrl(url, request.infoHash);
  const counts = scrapeAt === undefined ? undefined : await get(scrapeAt, request.signal, options).then((body) => parseScrape(body, request.infoHash)).catch(() => undefined);
  const announced = parseAnnounce(await get(announceUrl(url, request, 'started', numWant), request.signal, options), numWant);
  if (request.stay !== true) await get(announceUrl(url, request, 'stopped', 0), request.signal, options).catch(() => undefined);
  if (counts === undefined) return { ...announced, seeders: withoutUs(announced.seeders) };
  return { ...announced, seeders: counts.complete, leechers: counts.incomplete, completed: counts.downloaded };
}

/** BEP 3's announce GET: binary values percent-encoded byte by byte. */
export function announceUrl(url: URL, request: TrackerRequest, event: 'started' | 'stopped', numWant: number): URL {
  const params = [
    `info_hash=${percentEncode(request.infoHash)}`,
    `peer_id=${percentEncode(request.peerId)}`,
    `port=${request.port}`,
    'uploaded=0',
    'downloaded=0',
    'left=0',
    'compact=1',
    `numwant=${numWant}`,
    `event=${event}`,
  ].join('&');
  return new URL(`${url.href}${url.search === '' ? '?' : '&'}${params}`);
}

/**
 * BEP 48: the scrape URL is the announce URL with its last path segment's leading `announce`
 * replaced by `scrape`; a tracker whose URL has no such segment does not support scraping.
 */
export function scrapeUrl(url: URL, infoHash: NodeId): URL | undefined {
  const slash = url.pathname.lastIndexOf('/');
  if (!url.pathname.startsWith('announce', slash + 1)) return undefined;
  const scrape = new URL(url.href);
  scrape.pathname = `${url.pathname.slice(0, slash + 1)}scrape${url.pathname.slice(slash + 1 + 'announce'.length)}`;
  return new URL(`${scrape.href}${scrape.search === '' ? '?' : '&'}info_hash=${percentEncode(infoHash)}`);
}

/** Unreserved characters (RFC 3986) stay as they are; every other byte becomes %XX. */
function percentEncode(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

/**
 * GET a URL and return its body, bounded in size and redirects. node:http rather than fetch:
 * fetch refuses the ports browsers block (6665-6669 among them), where trackers do live.
 */
async function get(url: URL, signal: AbortSignal | undefined, options: HttpTrackerOptions): Promise<Uint8Array> {
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let at = url;
  for (let hop = 0; ; hop++) {
    const reply = await getOnce(at, options.maxBytes ?? DEFAULT_MAX_BYTES, signal);
    if (reply.location === undefined) return reply.body;
    if (hop >= maxRedirects) throw new TrackerError(`more than ${maxRedirects} redirects`);
    const next = new URL(reply.location, at);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TrackerError(`a redirect to ${next.protocol} is not followed`);
    at = next;
  }
}

/** One request: its body (at most `maxBytes`), or where it redirects to. */
function getOnce(url: URL, maxBytes: number, signal: AbortSignal | undefined): Promise<{ body: Uint8Array; location?: string }> {
  return new Promise((done, fail) => {
    const request = (url.protocol === 'https:' ? httpsGet : httpGet)(url, { agent: false, headers: { 'accept-encoding': 'identity', connection: 'close' }, ...(signal !== undefined ? { signal } : {}) }, (response) => {
      const status = response.statusCode ?? 0;
      const stop = (error: TrackerError): void => { response.destroy(); fail(error); };
      if (status >= 300 && status < 400) {
        response.resume();
        const location = response.headers.location;
        if (location === undefined) stop(new TrackerError(`HTTP ${status} without a Location`));
        else done({ body: new Uint8Array(0), location });
        return;
      }
      if (status !== 200) { stop(new TrackerError(`HTTP ${status}`)); return; }
      const declared = Number(response.headers['content-length']);
      if (declared > maxBytes) { stop(new TrackerError(`the reply is ${declared} bytes, more than the ${maxBytes} read at most`)); return; }
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) stop(new TrackerError(`the reply is over the ${maxBytes} bytes read at most`));
        else chunks.push(chunk);
      });
      response.on('end', () => done({ body: Buffer.concat(chunks) }));
      response.on('error', () => fail(new TrackerError('the connection broke during the reply')));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      fail(new TrackerError(signal?.aborted === true ? 'stopped before the tracker answered' : `cannot reach ${url.host}: ${error.code ?? error.message}`));
    });
  });
}

/** A tracker's bencoded reply as a dictionary, or the one reason it is not usable. */
function readDict(body: Uint8Array): BencodeDict {
  let value: BencodeValue;
  try {
    value = decode(body, { lenient: true, maxDepth: 8, maxItems: 100_000 });
  } catch (error) {
    if (error instanceof BencodeError) throw new TrackerError(`the reply is not bencoded: ${error.message}`);
    throw error;
  }
  if (!isDict(value)) throw new TrackerError('the reply is not a bencoded dictionary');
  const failure = value['failure reason'];
  if (failure instanceof Uint8Array) throw new TrackerError(`the tracker refused: ${printable(Buffer.from(failure).toString('utf8'))}`);
  return value;
}

/** BEP 3's announce reply, with BEP 23 compact `peers` or the original list of dictionaries, and BEP 7 `peers6`. */
export function parseAnnounce(body: Uint8Array, numWant: number = DEFAULT_NUM_WANT): TrackerAnswer {
  const dict = readDict(body);
  const peers = [...compactPeers(dict.peers, 4), ...compactPeers(dict.peers6, 6), ...dictPeers(dict.peers)].slice(0, numWant);
  const answer: TrackerAnswer = {
    seeders: count(dict.complete),
    leechers: count(dict.incomplete),
    peers,
    interval: count(dict.interval),
  };
  const warning = dict['warning message'];
  if (warning instanceof Uint8Array) answer.warning = printable(Buffer.from(warning).toString('utf8'));
  return answer;
}

interface ScrapeFile { complete: number; incomplete: number; downloaded: number }

/** BEP 48's scrape reply: `files` maps each raw info-hash to its three counts. */
export function parseScrape(body: Uint8Array, infoHash: NodeId): ScrapeFile {
  const files = readDict(body).files;
  if (!isDict(files)) throw new TrackerError('the scrape reply has no files dictionary');
  const entry = files[Buffer.from(infoHash).toString('latin1')];
  if (!isDict(entry)) throw new TrackerError('the scrape reply does not name this torrent');
  return { complete: count(entry.complete), incomplete: count(entry.incomplete), downloaded: count(entry.downloaded) };
}

function compactPeers(value: BencodeValue | undefined, family: 4 | 6): PeerInfo[] {
  if (!(value instanceof Uint8Array)) return [];
  const size = COMPACT_PEER_LENGTH[family];
  if (value.length % size !== 0) throw new TrackerError(`peers${family === 6 ? '6' : ''} is not a multiple of ${size} bytes (${value.length})`);
  const peers: PeerInfo[] = [];
  for (let at = 0; at < value.length; at += size) peers.push(decodePeer(value.subarray(at, at + size)));
  return peers;
}

/** The original BEP 3 form: a list of `{ip, port}` dictionaries; entries that are not well formed are skipped. */
function dictPeers(value: BencodeValue | undefined): PeerInfo[] {
  if (!Array.isArray(value)) return [];
  const peers: PeerInfo[] = [];
  for (const entry of value) {
    if (!isDict(entry) || !(entry.ip instanceof Uint8Array) || typeof entry.port !== 'number') continue;
    const address = Buffer.from(entry.ip).toString('latin1');
    if (entry.port < 1 || entry.port > 65_535) continue;
    try {
      peers.push({ address: normalizeAddress(address), port: entry.port });
    } catch {
      // a host name or garbage in place of an address: not a peer we can use
    }
  }
  return peers;
}

function count(value: BencodeValue | undefined): number {
  return typeof value === 'number' && value >= 0 ? value : 0;
}
