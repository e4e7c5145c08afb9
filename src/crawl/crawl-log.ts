/**
 * The crawler's output: NDJSON, one line per info-hash when first seen,
 *
 *   {"infohash":"<40 hex>","first_seen":"<ISO 8601>","source":"get_peers|announce_peer|sample|find_node","from":"ip:port"}
 *
 * appended as the crawl goes, and read back to resume a crawl without repeating a line.
 *
 * A line is never torn: lines are buffered whole and each flush is one write(2) of whole lines on
 * a file opened for appending. A process killed mid-crawl loses at most the last ~250 ms of lines,
 * never half of one. A file that still ends in a partial line (a full disk, another writer) has that
 * tail skipped, and cut off before appending, when it is resumed; a file that is mostly not log
 * lines is not resumed at all (notACrawlLog), so resuming never cuts or appends to someone's data.
 */
import { closeSync, createReadStream, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { idFromHex, idToHex, type NodeId } from '../wire/id.js';
import { SOURCE_KINDS, type SourceKind } from './infohash-store.js';

/** One line of the log, as it is written. New fields may be added, none renamed. */
export interface CrawlLogLine {
  infohash: string;
  first_seen: string;
  source: SourceKind;
  from: string;
}

/** One line of the log, parsed back. */
export interface CrawlLogRecord {
  infoHash: NodeId;
  firstSeenMs: number;
  source: SourceKind;
  /** "ip:port" or "[ipv6]:port" as written. */
  from: string;
  /** The address part of `from`. */
  address: string;
}

export function formatCrawlLine(infoHash: NodeId, firstSeenMs: number, source: SourceKind, from: string): string {
  const line: CrawlLogLine = { infohash: idToHex(infoHash), first_seen: new Date(firstSeenMs).toISOString(), source, from };
  return JSON.stringify(line);
}

/** Undefined for anything but a well-formed line (the caller counts those). */
export function parseCrawlLine(text: string): CrawlLogRecord | undefined {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return undefined; }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { infohash, first_seen: firstSeen, source, from } = raw as Record<string, unknown>;
  if (typeof infohash !== 'string' || !/^[0-9a-f]{40}$/i.test(infohash)) return undefined;
  if (typeof source !== 'string' || !(SOURCE_KINDS as readonly string[]).includes(source)) return undefined;
  if (typeof from !== 'string') return undefined;
  const firstSeenMs = typeof firstSeen === 'string' ? Date.parse(firstSeen) : NaN;
  if (!Number.isFinite(firstSeenMs)) return undefined;
  return { infoHash: idFromHex(infohash), firstSeenMs, source: source as SourceKind, from, address: addressOf(from) };
}

function addressOf(from: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(from);
  if (bracketed) return bracketed[1]!;
  const colon = from.lastIndexOf(':');
  return colon > 0 ? from.slice(0, colon) : from;
}

export interface CrawlLogWriterOptions {
  /** Flush once this many bytes are buffered. Default 64 KiB. */
  flushBytes?: number;
  /** Flush at least this often. Default 250 ms. */
  flushIntervalMs?: number;
  /** Called once, at the first failed write (a full disk, a file that cannot grow): the caller should stop. */
  onError?: (error: Error) => void;
}

/** Appends whole lines to a file. Synchronous writes, so a flush from a process 'exit' handler works too. */
export class CrawlLogWriter {
  private fd: number | undefined;
  private buffered: string[] = [];
  private bufferedBytes = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly flushBytes: number;
  private written = 0;
  private pendingLines = 0;
  /** The first write error; after it, lines are no longer written. */
  error: Error | undefined;
  private readonly onError: (error: Error) => void;

  constructor(readonly path: string, options: CrawlLogWriterOptions = {}) {
    this.fd = openSync(path, 'a+');
    // Appending to a file that ends mid-line would glue our first line to it: start a new line.
    if (!endsWithNewline(this.fd)) this.buffered.push('\n');
    this.flushBytes = options.flushBytes ?? 64 * 1024;
    this.onError = options.onError ?? (() => {});
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 250);
    this.timer.unref();
  }

  /** Lines handed to write() so far (written or still buffered). */
  get lines(): number { return this.written + this.pendingLines; }

  /** Queue one line (without its newline). */
  write(line: string): void {
    if (this.fd === undefined || this.error !== undefined) return;
    this.buffered.push(`${line}\n`);
    this.pendingLines++;
    this.bufferedBytes += line.length + 1;
    if (this.bufferedBytes >= this.flushBytes) this.flush();
  }

  /** Write every buffered line now, in one write of whole lines. Never throws; see `error`. */
  flush(): void {
    if (this.fd === undefined || this.buffered.length === 0 || this.error !== undefined) return;
    const bytes = Buffer.from(this.buffered.join(''), 'utf8');
    const count = this.pendingLines;
    this.buffered = [];
    this.pendingLines = 0;
    this.bufferedBytes = 0;
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
      this.written += count;
    } catch (error) {
      this.error = error instanceof Error ? error : new Error(String(error));
      this.keepWholeLines(bytes.subarray(0, at));
      this.onError(this.error);
    }
  }

  /**
   * After a write that stopped part-way (a disk that filled up), cut the file back to the last
   * whole line written, so that it ends, as always, on a line boundary.
   */
  private keepWholeLines(written: Uint8Array): void {
    if (this.fd === undefined || written.length === 0) return;
    try {
      const size = fstatSync(this.fd).size;
      const whole = written.lastIndexOf(0x0a) + 1;
      ftruncateSync(this.fd, size - (written.length - whole));
    } catch { /* the file cannot be cut either: its torn tail is skipped when it is resumed */ }
  }

  /** Flush and close. Returns the first write error, if any. */
  close(): Error | undefined {
    clearInterval(this.timer);
    this.flush();
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* already reported through `error` if it mattered */ }
      this.fd = undefined;
    }
    return this.error;
  }
}

function endsWithNewline(fd: number): boolean {
  const { size } = fstatSync(fd);
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

export interface CrawlLogReadResult {
  /** Well-formed lines read (a last line without its newline included, when it is whole). */
  lines: number;
  /** Complete lines that were not valid log lines (skipped). */
  invalid: number;
  /** Bytes of a partial last line that is not a valid line (skipped; see cutTornTail). */
  tornBytes: number;
}

/**
 * Read a log line by line (streamed: a log of millions of lines is never held whole), handing each
 * record to `onRecord`. A last line without its newline is kept when it parses (the writer adds
 * the newline before appending), and is otherwise a torn tail. The file is never changed here. A
 * missing file reads as empty.
 */
export async function readCrawlLog(path: string, onRecord: (record: CrawlLogRecord) => void): Promise<CrawlLogReadResult> {
  const result: CrawlLogReadResult = { lines: 0, invalid: 0, tornBytes: 0 };
  let rest: Buffer = Buffer.alloc(0);
  /** Bytes read, and where the last line ended (just after its newline). */
  let total = 0;
  let lineEnd = 0;
  /** Inside a line too long to be a log line: already counted, skipped to its newline. */
  let skipping = false;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      const base = total - rest.length;
      total += chunk.length;
      let start = 0;
      for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
        const text = skipping ? '' : data.toString('utf8', start, end).trim();
        skipping = false;
        start = end + 1;
        lineEnd = base + start;
        if (text === '') continue;
        const record = parseCrawlLine(text);
        if (record === undefined) { result.invalid++; continue; }
        result.lines++;
        onRecord(record);
      }
      rest = Buffer.from(data.subarray(start));
      // A line longer than any log line can be is junk: count it once, and never hold it whole.
      if (rest.length > MAX_LINE_BYTES) {
        if (!skipping) result.invalid++;
        skipping = true;
        rest = Buffer.alloc(0);
      }
    }
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return result;
    throw error;
  }
  if (skipping) {
    // The giant line never ended: it is the torn tail, not a line.
    result.invalid--;
    result.tornBytes = total - lineEnd;
    return result;
  }
  const tail = rest.toString('utf8').trim();
  if (tail === '') return result;
  const record = parseCrawlLine(tail);
  if (record === undefined) {
    result.tornBytes = total - lineEnd;
  } else {
    result.lines++;
    onRecord(record);
  }
  return result;
}

/** Longest line read as a candidate: a log line is ~150 bytes, a line with --metadata's name a few kB. */
const MAX_LINE_BYTES = 1 << 20;

/**
 * Why a file must not be resumed and appended to: it does not look like a crawl log (no valid
 * line, or more invalid lines than valid ones). Undefined for a log, or an empty or missing file.
 */
export function notACrawlLog(read: CrawlLogReadResult): string | undefined {
  const bad = read.invalid + (read.tornBytes > 0 ? 1 : 0);
  if (bad === 0) return undefined;
  if (read.lines === 0) return 'none of its lines is a crawl log line';
  if (bad > read.lines) return `${bad} of its lines are not crawl log lines, against ${read.lines} that are`;
  return undefined;
}

/** Cut off a torn last line (`read` of this very file), so that appending starts on a line boundary. */
export function cutTornTail(path: string, read: CrawlLogReadResult): void {
  if (read.tornBytes === 0) return;
  const fd = openSync(path, 'r+');
  try { ftruncateSync(fd, fstatSync(fd).size - read.tornBytes); } finally { closeSync(fd); }
}
