/**
 * Figure 1: bencode encode and decode speed, in messages per second, of our `src/wire/bencode.ts` (the
 * compiled dist/, as users run it) against `bencode` 2.0.3 (what bittorrent-dht's wire layer,
 * k-rpc-socket, uses) and `bencode` 4 (the current release). The faster of the two is the
 * reference for the target (>= 1.5x).
 *
 * Method: each library gets the same values (bencode 2 with Buffers, its native input) and the
 * same bytes; first we check that all three produce identical bytes, so nobody is measured doing
 * less work. Then time-boxed rounds, interleaved library by library so that noise from the shared
 * machine lands on all of them, after a warm-up; the figure is the median round.
 */
import bencode4 from 'bencode';
import bencode2 from 'bencode2';
import { decode as ourDecode, encode as ourEncode, type Encodable } from '../dist/index.js';
import { krpcCorpus, torrentDict, withBuffers, type Value } from './corpus.js';
import { heading, median, num, ratio, table, verdict } from './report.js';

export interface BencodeBenchOptions {
  /** Length of one timed round. Default 250 ms. */
  roundMs?: number;
  /** Timed rounds per library and operation. Default 7. */
  rounds?: number;
  log?: (line: string) => void;
}

interface Library {
  name: string;
  encode: (value: unknown) => Uint8Array;
  decode: (bytes: Uint8Array) => unknown;
  /** Each library's own form of the values. */
  prepare: (value: Value) => unknown;
}

const LIBRARIES: readonly Library[] = [
  { name: 'dht-scrape', encode: (v) => ourEncode(v as Encodable), decode: (b) => ourDecode(b), prepare: (v) => v },
  { name: 'bencode 2.0.3', encode: (v) => bencode2.encode(v), decode: (b) => bencode2.decode(b as Buffer), prepare: withBuffers },
  { name: 'bencode 4.0.1', encode: (v) => bencode4.encode(v), decode: (b) => bencode4.decode(b), prepare: (v) => v },
];

export interface BencodeFigure {
  corpus: string;
  operation: 'encode' | 'decode';
  /** Median messages per second, by library name. */
  rates: Record<string, number>;
}

export async function runBencodeBench(options: BencodeBenchOptions = {}): Promise<BencodeFigure[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const corpora: { name: string; values: Value[] }[] = [
    { name: 'KRPC corpus', values: krpcCorpus() },
    { name: '20 KB torrent dict', values: [torrentDict()] },
  ];
  const figures: BencodeFigure[] = [];
  for (const corpus of corpora) {
    const bytes = corpus.values.map((v) => ourEncode(v as Encodable));
    checkSameBytes(corpus.values, bytes);
    for (const operation of ['encode', 'decode'] as const) {
      const work = LIBRARIES.map((lib) => {
        if (operation === 'encode') {
          const inputs = corpus.values.map(lib.prepare);
          return () => { let n = 0; for (const v of inputs) n += lib.encode(v).length; return n; };
        }
        const inputs = bytes.map((b) => (lib.name.startsWith('bencode 2') ? Buffer.from(b) : b));
        return () => { let n = 0; for (const b of inputs) n += lib.decode(b) === undefined ? 0 : 1; return n; };
      });
      const rates = await timeInterleaved(work, corpus.values.length, options);
      figures.push({ corpus: corpus.name, operation, rates: Object.fromEntries(LIBRARIES.map((lib, i) => [lib.name, rates[i]!])) });
    }
  }
  log(formatBencode(figures, corpora.map((c) => `${c.name}: ${c.values.length} message(s), ${sizeOf(c.values)} bytes encoded`)));
  return figures;
}

function sizeOf(values: Value[]): number {
  let bytes = 0;
  for (const v of values) bytes += ourEncode(v as Encodable).length;
  return bytes;
}

/** Refuse to measure if any library encodes differently: the comparison would be meaningless. */
function checkSameBytes(values: Value[], expected: Uint8Array[]): void {
  values.forEach((value, i) => {
    for (const lib of LIBRARIES) {
      const got = lib.encode(lib.prepare(value));
      if (!Buffer.from(got).equals(expected[i]!)) throw new Error(`${lib.name} encodes corpus value ${i} differently`);
    }
  });
}

/** Median messages/s per job over interleaved time-boxed rounds, after one warm-up round each. */
async function timeInterleaved(jobs: (() => number)[], messagesPerCall: number, options: BencodeBenchOptions): Promise<number[]> {
  const roundMs = options.roundMs ?? 250;
  const rounds = options.rounds ?? 7;
  const samples: number[][] = jobs.map(() => []);
  let sink = 0;
  for (let round = -1; round < rounds; round++) {
    for (const [j, job] of jobs.entries()) {
      let calls = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        for (let i = 0; i < 16; i++) sink += job();
        calls += 16;
        elapsed = performance.now() - start;
      } while (elapsed < roundMs);
      if (round >= 0) samples[j]!.push((calls * messagesPerCall * 1000) / elapsed);
      // Let timers and GC breathe between rounds, as a node's event loop would.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (sink === -1) console.log(sink);
  return samples.map(median);
}

export function formatBencode(figures: BencodeFigure[], notes: string[]): string {
  const rows = figures.map((f) => {
    const ours = f.rates['dht-scrape']!;
    const b2 = f.rates['bencode 2.0.3']!;
    const b4 = f.rates['bencode 4.0.1']!;
    const reference = Math.max(b2, b4);
    return [
      `${f.corpus} ${f.operation}`, num(ours), num(b2), num(b4),
      ratio(ours, reference), verdict(ours >= 1.5 * reference, '>= 1.5x'),
    ];
  });
  return [
    heading('bencode: messages per second (median of interleaved rounds)'),
    ...notes,
    table(['corpus / operation', 'dht-scrape', 'bencode 2.0.3', 'bencode 4.0.1', 'vs faster', 'target'], rows),
  ].join('\n');
}
