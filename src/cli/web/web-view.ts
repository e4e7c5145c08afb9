/**
 * The live view as a command uses it: a ViewFeed served by a ViewServer, its URL printed on
 * stderr. When the command's work is done the page stays up, showing the finished run, until
 * Ctrl+C or LINGER_MS.
 */
import type { Output } from '../terminal.js';
import { ViewFeed } from './view-feed.js';
import { ViewServer } from './view-server.js';
import type { WebOption } from './web-option.js';

/** How long a finished run's page is served at most, waiting for Ctrl+C. */
export const LINGER_MS = 10 * 60_000;

export interface WebView {
  readonly feed: ViewFeed;
  readonly url: string;
  /** After the work: keep serving until `signal` aborts or `ms` pass, then close. */
  linger(signal: AbortSignal, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function openWebView(option: WebOption, title: string, output: Output): Promise<WebView> {
  const feed = new ViewFeed({ title });
  let server: ViewServer;
  try {
    server = await ViewServer.start(feed, { host: option.host, port: option.port });
  } catch (error) {
    feed.close();
    throw error;
  }
  output.err(`Live view: ${server.url}`);
  const close = async (): Promise<void> => {
    feed.close();
    await server.close();
  };
  return {
    feed,
    url: server.url,
    close,
    async linger(signal, ms = LINGER_MS) {
      if (!signal.aborted) {
        output.err(`The live view stays at ${server.url} (Ctrl+C to exit, or it closes in ${Math.round(ms / 60_000)} min)`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
      }
      await close();
    },
  };
}
