/**
 * `npm run fuzz -- --iterations N --seed S [--slow-ms M]`: the fuzz harness from the command line.
 *
 * The run happens in a worker thread, watched from the main thread: an input that hangs the packet
 * path cannot be interrupted from inside (JavaScript runs one thing at a time), but the watchdog
 * can stop the worker and print the input it was on, which the worker keeps in shared memory.
 * Exit code 0 when every input passed, 1 on any failure or hang, 2 on a usage error.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { formatReport, runFuzz, type FuzzReport } from './harness.js';

interface Args { iterations: number; seed: number; slowMs: number; stallMs: number }

/** Shared memory layout: [iteration, input length] as Int32, then the input bytes (cut at INPUT_MAX). */
const HEADER_BYTES = 8;
const INPUT_MAX = 128 * 1024;

const USAGE = 'usage: npm run fuzz -- [--iterations N] [--seed S] [--slow-ms M] [--stall-ms M]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { iterations: 100_000, seed: Date.now() % 2 ** 31, slowMs: 250, stallMs: 10_000 };
  const names: Record<string, keyof Args> = { '--iterations': 'iterations', '--seed': 'seed', '--slow-ms': 'slowMs', '--stall-ms': 'stallMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = names[argv[i]!];
    const value = Number((argv[i + 1] ?? '').replaceAll('_', ''));
    if (name === undefined || !Number.isSafeInteger(value) || value < 0) throw new Error(`bad argument ${argv[i]} ${argv[i + 1] ?? ''}`);
    args[name] = value;
  }
  return args;
}

/** Main thread: start the worker, print its progress, and stop it if it stops making progress. */
function main(): void {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const shared = new SharedArrayBuffer(HEADER_BYTES + INPUT_MAX);
  const header = new Int32Array(shared, 0, 2);
  const worker = new Worker(new URL(import.meta.url), { workerData: { args, shared } });
  console.log(`fuzzing ${args.iterations.toLocaleString('en-US')} inputs, seed ${args.seed} (replay with --seed ${args.seed})`);
  let lastIteration = -1;
  let lastMove = Date.now();
  const watchdog = setInterval(() => {
    const iteration = Atomics.load(header, 0);
    if (iteration !== lastIteration) { lastIteration = iteration; lastMove = Date.now(); return; }
    if (Date.now() - lastMove < args.stallMs) return;
    const length = Math.min(Atomics.load(header, 1), INPUT_MAX);
    const input = Buffer.from(new Uint8Array(shared, HEADER_BYTES, length)).toString('hex');
    console.error(`HANG: input #${iteration} has run for over ${args.stallMs} ms; stopping.\n  input (${length} bytes) ${input}`);
    clearInterval(watchdog);
    process.exitCode = 1;
    void worker.terminate();
  }, 500);
  worker.on('message', (message: { progress?: number; report?: FuzzReport }) => {
    if (message.progress !== undefined) process.stdout.write(`  ${message.progress.toLocaleString('en-US')} inputs\r`);
    if (message.report !== undefined) {
      // Clear the progress line first.
      process.stdout.write(`\r${' '.repeat(40)}\r`);
      console.log(formatReport(message.report));
      process.exitCode = message.report.failureCount === 0 ? 0 : 1;
    }
  });
  worker.on('error', (error) => {
    console.error(`the fuzz run crashed: ${error.stack ?? String(error)}`);
    process.exitCode = 1;
  });
  worker.on('exit', () => clearInterval(watchdog));
}

/** Worker: run the harness, writing each input to shared memory before it is fed. */
async function work(): Promise<void> {
  const { args, shared } = workerData as { args: Args; shared: SharedArrayBuffer };
  const header = new Int32Array(shared, 0, 2);
  const body = new Uint8Array(shared, HEADER_BYTES, INPUT_MAX);
  const report = await runFuzz({
    iterations: args.iterations,
    seed: args.seed,
    slowMs: args.slowMs,
    onInput: (iteration, bytes) => {
      const length = Math.min(bytes.length, INPUT_MAX);
      body.set(bytes.subarray(0, length));
      Atomics.store(header, 1, length);
      Atomics.store(header, 0, iteration);
    },
    onProgress: (done) => parentPort?.postMessage({ progress: done }),
    progressEvery: 50_000,
  });
  parentPort?.postMessage({ report });
}

if (isMainThread) main();
else await work();
