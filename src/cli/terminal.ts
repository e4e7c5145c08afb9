/**
 * The CLI's manners on stderr: a progress line redrawn in place on a terminal, plain lines (and no
 * escape codes at all) when stderr is piped or NO_COLOR is set. stdout is left to data.
 */
export interface Output {
  /** Data: peers, NDJSON, JSON documents. */
  out(line: string): void;
  /** Messages for the human. */
  err(line: string): void;
  /** A status line redrawn in place (TTY only; dropped otherwise). */
  status(line: string): void;
  /** Remove the status line before printing something else. */
  clearStatus(): void;
  readonly fancy: boolean;
  paint(style: Style, text: string): string;
}

export type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan';
const CODES: Record<Style, [number, number]> = {
  bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], red: [31, 39], cyan: [36, 39],
};

export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export function terminal(streams: Streams): Output {
  const fancy = streams.stderr.isTTY === true && !('NO_COLOR' in streams.env) && streams.env.TERM !== 'dumb';
  let statusShown = false;
  const clearStatus = (): void => {
    if (statusShown) { streams.stderr.write('\r\x1b[K'); statusShown = false; }
  };
  return {
    fancy,
    out(line) { clearStatus(); streams.stdout.write(`${line}\n`); },
    err(line) { clearStatus(); streams.stderr.write(`${line}\n`); },
    status(line) {
      if (!fancy) return;
      const width = Math.max(20, (streams.stderr.columns ?? 80) - 1);
      streams.stderr.write(`\r\x1b[K${line.length > width ? line.slice(0, width) : line}`);
      statusShown = true;
    },
    clearStatus,
    paint(style, text) {
      if (!fancy) return text;
      const [on, off] = CODES[style];
      return `\x1b[${on}m${text}\x1b[${off}m`;
    },
  };
}
