/** What tests need to open the CLI's session (src/cli/session.ts) in process, without a terminal. */
import { parseCommand } from '../../src/cli/options.js';
import type { openSession } from '../../src/cli/session.js';
import type { Output } from '../../src/cli/terminal.js';

/** Messages kept in `lines`, nothing printed: what openSession needs to talk to a user. */
export function quietOutput(): Output & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), status: () => {}, clearStatus: () => {}, fancy: false, paint: (_s, t) => t, readerGone: false };
}

/** The common options of a command line, as openSession takes them. */
export function commonOptions(argv: string[]): Parameters<typeof openSession>[0] {
  return (parseCommand(argv) as { common: Parameters<typeof openSession>[0] }).common;
}
