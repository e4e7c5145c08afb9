/**
 * What the demo's steps share: the local network, "our node" (whose every datagram is tapped), and
 * a printer that knows about colour and about pausing between steps.
 */
import type { DhtNode, Testnet } from '../../src/index.js';
import type { ViewFeed } from '../../src/cli/web/view-feed.js';
import type { Style } from '../lib/style.js';
import type { Packet } from '../lib/tap.js';

export interface DemoContext {
  net: Testnet;
  /** Our node: bound to 127.0.0.1, its transport wrapped by the wiretap. */
  me: DhtNode;
  /** Subscribe to our node's datagrams; returns the unsubscribe function. */
  watch(listener: (packet: Packet) => void): () => void;
  out: Printer;
  /** Lookup options the local network needs (one /24 per node, unless all share 127.0.0.1). */
  lookupOptions: { maxPerSubnet?: number };
  /** --verbose: print full listings (they may be wider than 80 columns). */
  verbose: boolean;
  /** --web: the live view's feed (our node is watched already; steps add other lookups). */
  view: ViewFeed | undefined;
}

export interface Printer {
  readonly style: Style;
  heading(step: number, of: number, title: string): void;
  /** A paragraph of explanation, wrapped to the terminal. */
  say(text: string): void;
  /** Lines shown as they are (dumps, tables), indented. */
  block(lines: readonly string[]): void;
  /** The step's outcome, marked with ✔ (the demo's test reads these lines). */
  result(text: string): void;
  blank(): void;
}

/** The tour fits an 80-column terminal; a narrower one wraps prose at its width (60 at least). */
export const DEMO_COLUMNS = 80;

export function printer(style: Style, write: (text: string) => void, columns = DEMO_COLUMNS): Printer {
  const width = Math.max(60, Math.min(columns, DEMO_COLUMNS));
  return {
    style,
    heading(step, of, title) {
      const text = ` Step ${step}/${of} · ${title} `;
      write(`\n${style.paint('bold', style.paint('cyan', `━━${text}${'━'.repeat(Math.max(2, width - text.length - 2))}`))}\n`);
    },
    say(text) {
      for (const line of wrap(text, width)) write(`${line}\n`);
    },
    block(lines) {
      for (const line of lines) write(`    ${line}\n`);
    },
    result(text) {
      write(`${style.paint('green', `  ✔ ${text}`)}\n`);
    },
    blank() {
      write('\n');
    },
  };
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) { lines.push(line); line = word; }
    else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
