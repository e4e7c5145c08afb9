/**
 * The CLI's entry point: parse, dispatch, map outcomes to exit codes. Ctrl+C, SIGTERM or SIGHUP (the
 * terminal closed) stops the work gracefully (the summary is still printed, the state saved); a
 * second one exits at once. A reader of stdout that goes away (`| head -1`) stops the work the
 * same way, quietly, and the run exits 0: the reader had what it wanted.
 */
import { readFileSync } from 'node:fs';
import { runScrape } from './scrape-command.js';
import { EXIT, USAGE, UsageError, parseCommand, type Command } from './options.js';
import type { LabCommand } from './lab-command.js';
import type { WebView } from './web/web-view.js';
import { takeWebOption, type WebOption } from './web/web-option.js';
import { terminal, type Output, type Streams } from './terminal.js';

// The scrape, the main job, is loaded with the CLI; every other command's modules (the local
// network, the crawler, the web view...) only when that command runs. Node reads and links each
// module file on start-up: loading them all cost a fresh scrape about 40 ms of its start
// (docs/performance.md, "Where a fresh process's time goes").

export async function main(argv: readonly string[], streams: Streams = process): Promise<number> {
  const controller = new AbortController();
  let stdoutError: Error | undefined;
  const onReaderGone = (error: Error): void => {
    stdoutError = error;
    controller.abort();
  };
  let command: Command | undefined;
  let web: WebOption | undefined;
  let lab: LabCommand | undefined;
  try {
    let rest: string[];
    ({ argv: rest, web } = takeWebOption(argv));
    if (rest[0] === 'lab') lab = rest.includes('--help') || rest.includes('-h') ? undefined : (await import('./lab-command.js')).parseLab(rest.slice(1));
    else command = parseCommand(rest);
    if (web !== undefined && command !== undefined && command.kind !== 'scrape' && command.kind !== 'crawl') {
      throw new UsageError(`--web shows a scrape, a crawl or the lab, not '${command.kind}'`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    terminal(streams, { onReaderGone }).err(`dht-scrape: ${error.message}. Try 'dht-scrape --help'.`);
    return EXIT.usage;
  }
  const output = terminal(streams, { onReaderGone, quiet: command !== undefined && isQuiet(command) });
  if (command === undefined && lab === undefined) { output.out((await import('./lab-command.js')).LAB_USAGE); return 0; }
  if (command?.kind === 'help') { output.out(USAGE); return 0; }
  if (command?.kind === 'version') { output.out(version()); return 0; }

  const stop = (): void => {
    if (controller.signal.aborted) {
      output.err('dht-scrape: interrupted twice, exiting now');
      process.exit(EXIT.interrupted);
    }
    output.clearStatus();
    output.err('Stopping... (Ctrl+C again to exit at once)');
    controller.abort();
  };
  STOP_SIGNALS.forEach((name) => process.on(name, stop));
  let view: WebView | undefined;
  try {
    let code: number;
    if (lab !== undefined) code = await (await import('./lab-command.js')).runLab(lab, web ?? { port: 0, host: '127.0.0.1' }, output, controller.signal);
    else {
      const runnable = command as RunnableCommand;
      if (web !== undefined) view = await (await import('./web/web-view.js')).openWebView(web, `dht-scrape ${runnable.kind}`, output);
      code = await run(runnable, output, controller.signal, view);
      // The finished run stays on the page until Ctrl+C (or a while).
      if (view !== undefined) await view.linger(controller.signal);
    }
    return stdoutError === undefined ? code : readerGoneCode(stdoutError, output);
  } catch (error) {
    return stdoutError === undefined ? reportFailure(error, output) : readerGoneCode(stdoutError, output);
  } finally {
    await view?.close();
    STOP_SIGNALS.forEach((name) => process.off(name, stop));
  }
}

async function run(command: RunnableCommand, output: Output, signal: AbortSignal, view?: WebView): Promise<number> {
  switch (command.kind) {
    case 'scrape': return runScrape(command, output, signal, view?.feed);
    case 'crawl': return (await import('./crawl-command.js')).runCrawl(command, output, signal, view?.feed);
    case 'testnet': return (await import('./testnet-command.js')).runTestnet(command, output, signal);
    case 'ping': case 'query': return (await import('./node-command.js')).runNodeCommand(command, output, signal);
    case 'batch': return (await import('./batch-command.js')).runBatch(command, output, signal);
    case 'put': return (await import('./item-command.js')).runPut(command, output, signal);
    case 'get': return (await import('./item-command.js')).runGet(command, output, signal);
  }
}

type RunnableCommand = Exclude<Command, { kind: 'help' } | { kind: 'version' }>;

function isQuiet(command: Command): boolean {
  if ('common' in command) return command.common.quiet;
  return command.kind === 'testnet' && command.quiet;
}

/** EPIPE: the reader went away, which ends a run normally. Any other failure of stdout is an error. */
function readerGoneCode(error: Error, output: Output): number {
  const code = 'code' in error ? String(error.code) : '';
  if (code === 'EPIPE') return 0;
  output.err(`dht-scrape: cannot write to stdout: ${error.message}`);
  return EXIT.notWritten;
}

/** Signals that ask for a graceful stop. SIGHUP's default would kill the run with nothing saved. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function reportFailure(error: unknown, output: Output): number {
  output.clearStatus();
  if (error instanceof UsageError) {
    output.err(`dht-scrape: ${error.message}`);
    return EXIT.usage;
  }
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'EADDRINUSE') {
    output.err(`dht-scrape: cannot bind the UDP socket (${code}): check --bind and --port`);
    return EXIT.network;
  }
  output.err(`dht-scrape: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.failure;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `dht-scrape ${pkg.version}`;
}
