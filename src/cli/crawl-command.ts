/** `dht-scrape` with no target: the crawler (to be written). */
import { EXIT, type Command } from './options.js';
import type { Output } from './terminal.js';

type CrawlCommand = Extract<Command, { kind: 'crawl' }>;

export function runCrawl(_command: CrawlCommand, output: Output, _signal: AbortSignal): Promise<number> {
  output.err('dht-scrape: crawler mode is not implemented yet');
  return Promise.resolve(EXIT.usage);
}
