/**
 * `npm run demo`: a guided tour of the DHT, on a local network of real nodes on loopback. Each
 * step runs the library's own code and prints what happened. `--step` waits for Enter between steps
 * (only when stdin is a terminal: piped or in CI, the tour runs straight through).
 *
 *   npm run demo               the whole tour, in well under a minute, in 80 columns
 *   npm run demo -- --step     pause after each step (Ctrl+C at the prompt stops the tour)
 *   npm run demo -- --verbose  full listings too (every contact of the routing table)
 *   npm run demo -- --nodes N  a bigger or smaller network (default 2,000)
 *   npm run demo -- --web      also draw it live in the browser (the URL is printed; 127.0.0.1)
 *
 * The network's nodes keep textbook BEP 5 tables (k = 8 in every bucket), so that a lookup from
 * a fresh node visibly walks hop by hop (step 5); our own node has the production defaults.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DhtNode, Testnet, udpTransport } from '../../src/index.js';
import { ViewFeed } from '../../src/cli/web/view-feed.js';
import { ViewServer } from '../../src/cli/web/view-server.js';
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
  const { values } = parseArgs({
    args: [...argv],
    options: { step: { type: 'boolean' }, verbose: { type: 'boolean' }, web: { type: 'boolean' }, nodes: { type: 'string' } },
  });
  const nodes = values.nodes === undefined ? 2_000 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 20 || nodes > 5_000) throw new RangeError('--nodes must be a whole number from 20 to 5000');
  const pause = values.step === true && process.stdin.isTTY === true;
  // Unattended, the tour must end by itself even if something hangs; a learner pausing may take all day.
  if (!pause) {
    setTimeout(() => {
      process.stderr.write(`demo: still running after ${DEADLINE_MS / 1000} s, giving up\n`);
      process.exit(1);
    }, DEADLINE_MS).unref();
  }
  const out = printer(styleFor(process.stdout), (text) => process.stdout.write(text), process.stdout.columns);
  // Ctrl+C during a step: stop at once, without a stack trace (the network lives in this process).
  process.once('SIGINT', () => {
    process.stdout.write('\ndemo: stopped\n');
    process.exit(130);
  });

  out.say(out.style.paint('bold', 'dht-scrape demo: the Mainline DHT (BEP 5), step by step, on your own machine.'));
  out.say(`Starting ${nodes.toLocaleString('en')} DHT nodes on loopback (127.x.y.1) with ${TORRENTS} torrents...`);
  const started = Date.now();
  const net = await Testnet.start({ nodes, torrents: TORRENTS, peers: 4, node: { table: { farBucketSizes: [] } } });
  const listeners = new Set<(packet: Packet) => void>();
  let me: DhtNode | undefined;
  let view: { feed: ViewFeed; server: ViewServer } | undefined;
  try {
    const transport = tap(await udpTransport({ address: '127.0.0.1', port: 0 }), (packet) => {
      for (const listener of listeners) listener(packet);
    });
    // On systems where only 127.0.0.1 can be bound, every node shares one "subnet": lift the per-/24 cap.
    const lookupOptions = net.sharedAddress ? { maxPerSubnet: 1_000_000 } : {};
    me = await DhtNode.create({ transport, lookup: lookupOptions });
    out.say(`${net.live.length} nodes up in ${Date.now() - started} ms. Ours is ${me.local.address}:${me.local.port}.`);
    if (values.web === true) {
      const feed = new ViewFeed({ title: 'npm run demo' });
      feed.watchNode(me);
      view = { feed, server: await ViewServer.start(feed) };
      out.say(`Live view: ${view.server.url}`);
    }
    const context: DemoContext = {
      net,
      me,
      out,
      lookupOptions,
      verbose: values.verbose === true,
      view: view?.feed,
      watch(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    for (const [index, [title, run]] of STEPS.entries()) {
      out.heading(index + 1, STEPS.length, title);
      await run(context);
      if (pause && index < STEPS.length - 1 && !(await waitForEnter(out.style.paint('dim', '\n[Enter] next step, Ctrl+C stops ')))) {
        out.say('\nStopped.');
        return 130;
      }
    }
    out.blank();
    out.say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Read on: docs/lookup.md, docs/protocol.md, docs/crawling.md.`);
    if (view !== undefined && process.stdin.isTTY === true) await waitForEnter(`The live view stays at ${view.server.url} until Enter. `);
    return 0;
  } finally {
    view?.feed.close();
    await view?.server.close();
    await me?.close();
    await net.close();
  }
}

/**
 * True on Enter; false on Ctrl+C or end of input. At a prompt the terminal is in raw mode, so
 * Ctrl+C reaches readline as its 'SIGINT' event, not as a signal; a closed readline rejects the
 * pending question with an AbortError, which here just means "stop".
 */
async function waitForEnter(prompt: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await new Promise<boolean>((resolve) => {
      rl.once('SIGINT', () => resolve(false));
      rl.once('close', () => resolve(false));
      rl.question(prompt).then(() => resolve(true), () => resolve(false));
    });
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
