/**
 * The CLI's entry point: parse, dispatch, map outcomes to exit codes. Ctrl+C or SIGTERM stops the
 * work gracefully (the summary is still printed); a second Ctrl+C exits at once.
 */
import { readFileSync } from 'node:fs';
import { runScrape } from './scrape-command.js';
import { runTestnet } from './testnet-command.js';
import { runCrawl } from './crawl-command.js';
import { EXIT, USAGE, UsageError, parseCommand } from './options.js';
import { terminal, type Output, type Streams } from './terminal.js';

export async function main(argv: readonly string[], streams: Streams = process): Promise<number> {
  const output = terminal(streams);
  let command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`dht-scrape: ${error.message}. Try 'dht-scrape --help'.`);
    return EXIT.usage;
  }
  if (command.kind === 'help') { output.out(USAGE); return 0; }
  if (command.kind === 'version') { output.out(version()); return 0; }

  const controller = new AbortController();
  const stop = (): void => {
    if (controller.signal.aborted) {
      output.err('dht-scrape: interrupted twice, exiting now');
      process.exit(130);
    }
    output.clearStatus();
    output.err('Stopping... (Ctrl+C again to exit at once)');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    switch (command.kind) {
      case 'scrape': return await runScrape(command, output, controller.signal);
      case 'crawl': return await runCrawl(command, output, controller.signal);
      case 'testnet': return await runTestnet(command, output, controller.signal);
    }
  } catch (error) {
    return reportFailure(error, output);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

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
  return 1;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `dht-scrape ${pkg.version}`;
}
