/**
 * `npm run demo`: a guided tour of the DHT, on a local network of real nodes on loopback. Each
 * step runs the library's own code and prints what happened. `--step` waits for Enter between steps
 * (only when stdin is a terminal: piped or in CI, the tour runs straight through).
 *
 *   npm run demo               the whole tour, in well under a minute
 *   npm run demo -- --step     pause after each step
 *   npm run demo -- --nodes N  a bigger or smaller network (default 300)
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DhtNode, Testnet, udpTransport } from '../../src/index.js';
import { styleFor } from '../lib/style.js';
import { tap, type Packet } from '../lib/tap.js';
import { printer, type DemoContext } from './context.js';
import { bencodeStep } from './step1-bencode.js';
import { xorStep } from './step2-xor.js';
import { tableStep } from './step3-table.js';
import { krpcStep } from './step4-krpc.js';
import { lookupStep } from './step5-lookup.js';
import { crawlStep } from './step6-crawl.js';

const STEPS: readonly [title: string, run: (context: DemoContext) => Promise<void>][] = [
  ['bencode: a KRPC message, byte by byte', bencodeStep],
  ['node IDs and XOR distance', xorStep],
  ['the routing table', tableStep],
  ['KRPC: ping, find_node, get_peers over UDP', krpcStep],
  ['an iterative lookup, hop by hop', lookupStep],
  ['a few seconds of crawling', crawlStep],
];

const TORRENTS = 40;
/** An unattended tour that is still running after this long has hung. */
const DEADLINE_MS = 120_000;

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { step: { type: 'boolean' }, nodes: { type: 'string' } } });
  const nodes = values.nodes === undefined ? 300 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 20 || nodes > 2_000) throw new RangeError('--nodes must be a whole number from 20 to 2000');
  const pause = values.step === true && process.stdin.isTTY === true;
  // Unattended, the tour must end by itself even if something hangs; a learner pausing may take all day.
  if (!pause) {
    setTimeout(() => {
      process.stderr.write(`demo: still running after ${DEADLINE_MS / 1000} s, giving up\n`);
      process.exit(1);
    }, DEADLINE_MS).unref();
  }
  const out = printer(styleFor(process.stdout), (text) => process.stdout.write(text), process.stdout.columns);

  out.say(out.style.paint('bold', 'dht-scrape demo: the Mainline DHT (BEP 5), step by step, on your own machine.'));
  out.say(`Starting a local network of ${nodes} DHT nodes on loopback (127.x.y.1), storing ${TORRENTS} torrents...`);
  const started = Date.now();
  const net = await Testnet.start({ nodes, torrents: TORRENTS, peers: 4 });
  const listeners = new Set<(packet: Packet) => void>();
  let me: DhtNode | undefined;
  try {
    const transport = tap(await udpTransport({ address: '127.0.0.1', port: 0 }), (packet) => {
      for (const listener of listeners) listener(packet);
    });
    // On systems where only 127.0.0.1 can be bound, every node shares one "subnet": lift the per-/24 cap.
    const lookupOptions = net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {};
    me = await DhtNode.create({ transport, lookup: lookupOptions });
    out.say(`${net.live.length} nodes up in ${Date.now() - started} ms. Our node listens on ${me.local.address}:${me.local.port}.`);
    const context: DemoContext = {
      net,
      me,
      out,
      lookupOptions,
      watch(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    for (const [index, [title, run]] of STEPS.entries()) {
      out.heading(index + 1, STEPS.length, title);
      await run(context);
      if (pause && index < STEPS.length - 1) await waitForEnter(out.style.paint('dim', '\n[Enter] next step '));
    }
    out.blank();
    out.say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Read on: docs/architecture.md, docs/protocol.md, docs/lookup.md, docs/crawling.md.`);
    return 0;
  } finally {
    await me?.close();
    await net.close();
  }
}

async function waitForEnter(prompt: string): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    await rl.question(prompt);
  } finally {
    rl.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
