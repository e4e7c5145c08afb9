/**
 * `--web [PORT]` and `--web-bind ADDR`, taken out of the command line before the rest is parsed:
 * node:util parseArgs has no option with an optional value. `--web` alone serves on any free port;
 * the view binds 127.0.0.1 unless --web-bind says otherwise.
 */
import { UsageError } from '../options.js';
import { ipFamily } from '../../wire/compact.js';

export interface WebOption {
  port: number;
  host: string;
}

/** The arguments without the web options, and the view asked for (undefined: none). */
export function takeWebOption(argv: readonly string[]): { argv: string[]; web: WebOption | undefined } {
  const rest: string[] = [];
  let port: number | undefined;
  let host: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { rest.push(...argv.slice(i)); break; }
    if (arg === '--web' || arg.startsWith('--web=')) {
      const inline = arg.startsWith('--web=') ? arg.slice('--web='.length) : undefined;
      const next = argv[i + 1];
      const value = inline ?? (next !== undefined && /^\d+$/.test(next) ? (i++, next) : '0');
      port = webPort(value);
    } else if (arg === '--web-bind' || arg.startsWith('--web-bind=')) {
      const value = arg.startsWith('--web-bind=') ? arg.slice('--web-bind='.length) : argv[++i];
      if (value === undefined || ipFamily(value) === 0) throw new UsageError(`--web-bind needs an IP address, got ${JSON.stringify(value ?? '')}`);
      host = value;
    } else {
      rest.push(arg);
    }
  }
  if (host !== undefined && port === undefined) throw new UsageError('--web-bind needs --web');
  return { argv: rest, web: port === undefined ? undefined : { port, host: host ?? '127.0.0.1' } };
}

function webPort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--web takes a port from 0 to 65535, got ${JSON.stringify(text)}`);
  return port;
}
