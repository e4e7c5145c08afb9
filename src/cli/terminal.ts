/**
 * The CLI's manners. stdout is left to data; messages go to stderr. On a terminal the progress line
 * is redrawn in place, cut to the terminal's width; colour only on a terminal, and not with
 * NO_COLOR (no-color.org: set and not empty), which removes colour and nothing else. When stderr is
 * not a terminal (nohup, systemd, a pipe), a long run prints a plain progress line every 10 s
 * instead. `--quiet` keeps only data and errors.
 *
 * A reader that goes away (`dht-scrape ... | head -1`) is not an error: the write fails with
 * EPIPE, and `onReaderGone` lets the run stop as if interrupted, saving what it should.
 */
import { safeMessage } from './safe-text.js';
import { cutToWidth } from './text-width.js';

export interface Output {
  /**
   * Data: peers, NDJSON, JSON documents. Unsafe characters but newlines are escaped (a JSON line
   * stays the same JSON); strings from outside in a text line must go through safeText first.
   */
  out(line: string): void;
  /** Messages for the human (dropped by --quiet unless they are errors, which start with "dht-scrape:"). */
  err(line: string): void;
  /** A progress line: redrawn in place on a terminal, printed plainly every 10 s otherwise. */
  status(line: string): void;
  /** Remove the status line before printing something else. */
  clearStatus(): void;
  /** Colour is on (a terminal, no NO_COLOR, not TERM=dumb). */
  readonly fancy: boolean;
  paint(style: Style, text: string): string;
  /** True once stdout's reader has gone away (EPIPE): nothing more is written there. */
  readonly readerGone: boolean;
}

export type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan';
const CODES: Record<Style, [number, number]> = {
  bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], red: [31, 39], cyan: [36, 39],
};

/** Between two plain progress lines when stderr is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 10_000;
/** Errors are the lines that start with this; --quiet still prints them. */
export const ERROR_PREFIX = 'dht-scrape:';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface Streams {
  stdout: Stream;
  stderr: Stream;
  env: NodeJS.ProcessEnv;
}

export interface TerminalOptions {
  /** --quiet: data and errors only. */
  quiet?: boolean;
  /** Called once when stdout's reader goes away (EPIPE), or stdout fails otherwise. */
  onReaderGone?: (error: Error) => void;
  now?: () => number;
}

/** NO_COLOR counts only when set to something (no-color.org). */
export function colourWanted(env: NodeJS.ProcessEnv): boolean {
  return (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

export function terminal(streams: Streams, options: TerminalOptions = {}): Output {
  const now = options.now ?? Date.now;
  const quiet = options.quiet === true;
  // Redrawing needs a terminal that understands "erase line"; TERM=dumb does not.
  const live = streams.stderr.isTTY === true && streams.env.TERM !== 'dumb';
  const fancy = live && colourWanted(streams.env);
  let statusShown = false;
  let lastPlainStatus = now();
  let readerGone = false;
  let stderrGone = false;

  streams.stdout.on('error', (error: Error) => {
    if (readerGone) return;
    readerGone = true;
    options.onReaderGone?.(error);
  });
  // A closed stderr (`2>&1 | head`) only means nobody reads the messages any more.
  streams.stderr.on('error', () => { stderrGone = true; });

  const writeErr = (text: string): void => { if (!stderrGone) streams.stderr.write(text); };
  const clearStatus = (): void => {
    if (statusShown) { writeErr('\r\x1b[K'); statusShown = false; }
  };
  return {
    fancy,
    get readerGone() { return readerGone; },
    out(line) {
      if (readerGone) return;
      clearStatus();
      streams.stdout.write(`${safeMessage(line)}\n`);
    },
    err(line) {
      if (quiet && !line.startsWith(ERROR_PREFIX)) return;
      clearStatus();
      writeErr(`${safeMessage(line)}\n`);
    },
    status(line) {
      if (quiet) return;
      if (live) {
        const width = Math.max(20, (streams.stderr.columns ?? 80) - 1);
        writeErr(`\r\x1b[K${cutToWidth(safeMessage(line).replaceAll('\n', ' '), width)}`);
        statusShown = true;
      } else if (now() - lastPlainStatus >= PLAIN_PROGRESS_INTERVAL_MS) {
        lastPlainStatus = now();
        writeErr(`${safeMessage(line).replaceAll('\n', ' ')}\n`);
      }
    },
    clearStatus,
    paint(style, text) {
      if (!fancy) return text;
      const [on, off] = CODES[style];
      return `\x1b[${on}m${text}\x1b[${off}m`;
    },
  };
}
