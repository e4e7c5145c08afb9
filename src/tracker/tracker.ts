/**
 * Ask the trackers a magnet names (`tr=`) or the user gives, beside the DHT: one report per
 * tracker, whatever its scheme, each with its own clear reason when it fails. Trackers are queried
 * all at once and each is bounded by the same signal, so one dead tracker delays nobody.
 */
import type { NodeId } from '../wire/id.js';
import { queryHttpTracker, type HttpTrackerOptions } from './http-tracker.js';
import { newPeerId, TrackerError, type TrackerAnswer } from './tracker-request.js';
import { queryUdpTracker, type UdpTrackerOptions } from './udp-tracker.js';

export interface TrackerReport {
  url: string;
  /** The answer, when the tracker gave a usable one. */
  answer?: TrackerAnswer;
  /** Why there is no answer: one line, safe to print. */
  error?: string;
  /** Time from the first packet to the answer or the error. */
  ms: number;
}

export interface QueryTrackersOptions extends UdpTrackerOptions, HttpTrackerOptions {
  infoHash: NodeId;
  /** The TCP port announced (we take ourselves out again unless `stay`). Default 6881. */
  port?: number;
  stay?: boolean;
  numWant?: number;
  signal?: AbortSignal;
  peerId?: Uint8Array;
}

/** Query every tracker at once; the reports come back in the order of `urls`. */
export async function queryTrackers(urls: readonly string[], options: QueryTrackersOptions): Promise<TrackerReport[]> {
  const peerId = options.peerId ?? newPeerId();
  return Promise.all(urls.map((url) => queryOne(url, peerId, options)));
}

async function queryOne(text: string, peerId: Uint8Array, options: QueryTrackersOptions): Promise<TrackerReport> {
  const started = Date.now();
  const request = {
    infoHash: options.infoHash,
    peerId,
    port: options.port ?? 6881,
    ...(options.stay !== undefined ? { stay: options.stay } : {}),
    ...(options.numWant !== undefined ? { numWant: options.numWant } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
  try {
    const url = trackerUrl(text);
    const answer = url.protocol === 'udp:' ? await queryUdpTracker(url, request, options) : await queryHttpTracker(url, request, options);
    return { url: text, answer, ms: Date.now() - started };
  } catch (error) {
    const reason = error instanceof TrackerError ? error.message : `unexpected: ${error instanceof Error ? error.message : String(error)}`;
    return { url: text, error: reason, ms: Date.now() - started };
  }
}

/** A tracker URL we can speak to: udp://, http:// or https://. */
export function trackerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TrackerError('not a URL');
  }
  if (url.protocol !== 'udp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TrackerError(`${url.protocol.replace(/:$/, '')} trackers are not supported (udp, http and https are)`);
  }
  return url;
}
