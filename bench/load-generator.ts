/**
 * The load generator of the throughput benchmark, run as a child process so that it has its own
 * event loop (and, on a 2-core machine, its own core) and the server it measures does not share
 * one with it.
 *
 * It keeps a fixed window of queries outstanding from a few UDP sockets: each reply immediately
 * sends the next query on the same slot (closed loop), so the rate measured is the rate the server
 * answers at, not a rate we chose. A slot whose reply never came is re-sent after `staleMs`.
 *
 * A reply is recognised without decoding it: every message we send or expect ends with its `y` key
 * (keys sort last-to-first as ... t, v, y), and the transaction ID, two bytes that name the slot, is
 * the last `1:t2:` in the message (only the short `v` value can follow it).
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

export interface LoadJob {
  target: { address: string; port: number };
  /** A bencoded query whose transaction ID (`1:t2:..`) the generator overwrites per slot. */
  template: Uint8Array;
  /** 'r' for a DHT node, 'q' for an echo server (it returns our query as is). */
  expect: 'r' | 'q';
  /** Source addresses, one socket each. */
  sources: string[];
  /** Queries outstanding per socket (at most 65,536). */
  window: number;
  warmupMs: number;
  measureMs: number;
  /** Re-send a slot after this long without a reply. */
  staleMs: number;
}

export interface LoadResult {
  /** Matching replies received during the measured window, per second. */
  repliesPerSecond: number;
  replies: number;
  /** Average size of those replies, bytes. */
  replyBytes: number;
  /** Slots re-sent because their reply never came. */
  resent: number;
  /** Messages of another kind (e.g. KRPC errors, or the node's own pings to us). */
  other: number;
  /** Share of the window this generator's event loop was busy: near 1 means it may be the bottleneck. */
  generatorBusy: number;
}

const T_KEY = Buffer.from('1:t2:');

export function runLoad(job: LoadJob): Promise<LoadResult> {
  const template = Buffer.from(job.template);
  const tOffset = template.lastIndexOf(T_KEY) + T_KEY.length;
  if (tOffset < T_KEY.length) return Promise.reject(new Error('template has no transaction ID'));
  const yByte = job.expect.charCodeAt(0);
  let measuring = false;
  let replies = 0;
  let replyBytes = 0;
  let resent = 0;
  let other = 0;

  const sockets = job.sources.map((source) => {
    const socket = dgram.createSocket('udp4');
    const buffers = Array.from({ length: job.window }, (_, slot) => {
      const b = Buffer.from(template);
      b[tOffset] = slot >> 8;
      b[tOffset + 1] = slot & 0xff;
      return b;
    });
    const sentAt = new Float64Array(job.window);
    const send = (slot: number): void => {
      sentAt[slot] = performance.now();
      socket.send(buffers[slot]!, job.target.port, job.target.address);
    };
    socket.on('message', (msg) => {
      // "...1:y1:Xe": X at length - 2.
      if (msg.length < 8 || msg[msg.length - 2] !== yByte) { other++; return; }
      const at = msg.lastIndexOf(T_KEY) + T_KEY.length;
      const slot = (msg[at]! << 8) | msg[at + 1]!;
      if (at < T_KEY.length || slot >= job.window || sentAt[slot] === 0) { other++; return; }
      if (measuring) { replies++; replyBytes += msg.length; }
      send(slot);
    });
    return { socket, source, send, sentAt };
  });

  return new Promise((resolve, reject) => {
    let bound = 0;
    for (const s of sockets) {
      s.socket.once('error', reject);
      s.socket.bind(0, s.source, () => {
        if (++bound === sockets.length) start();
      });
    }
    function start(): void {
      for (const s of sockets) for (let slot = 0; slot < job.window; slot++) s.send(slot);
      const refill = setInterval(() => {
        const now = performance.now();
        for (const s of sockets) {
          for (let slot = 0; slot < job.window; slot++) {
            if (now - s.sentAt[slot]! > job.staleMs) { resent++; s.send(slot); }
          }
        }
      }, Math.max(10, job.staleMs / 2));
      setTimeout(() => {
        measuring = true;
        const elu = performance.eventLoopUtilization();
        const started = performance.now();
        setTimeout(() => {
          measuring = false;
          const seconds = (performance.now() - started) / 1000;
          const busy = performance.eventLoopUtilization(elu).utilization;
          clearInterval(refill);
          for (const s of sockets) s.socket.close();
          resolve({
            repliesPerSecond: replies / seconds,
            replies,
            replyBytes: replies === 0 ? 0 : replyBytes / replies,
            resent,
            other,
            generatorBusy: busy,
          });
        }, job.measureMs);
      }, job.warmupMs);
    }
  });
}

/** As a child process: run each job the parent sends, answer with its result; leave with the parent. */
if (process.send !== undefined) {
  process.on('message', (message: { kind: 'run'; job: LoadJob } | { kind: 'exit' }) => {
    if (message.kind === 'exit') { process.disconnect(); return; }
    runLoad(message.job).then(
      (result) => process.send!({ kind: 'result', result }),
      (error: unknown) => process.send!({ kind: 'error', message: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
