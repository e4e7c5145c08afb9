/**
 * The CLI's exit codes, each with one meaning, so that a script can tell "the torrent has no
 * peers" (1) from "the tool could not do its job" (every code above 1). `--help` and docs/cli.md
 * are both generated from this table.
 */
export const EXIT = {
  peersFound: 0,
  noPeers: 1,
  usage: 2,
  network: 3,
  notWritten: 4,
  failure: 5,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What each code means, in words (the help text and docs/cli.md print these). */
export const EXIT_MEANING: Readonly<Record<keyof typeof EXIT, string>> = {
  peersFound: 'success: peers found (scraper); the crawl or local network ended normally',
  noPeers: 'the lookup ran, but found no peer (get: no item)',
  usage: 'usage or input error: bad option or value, bad info-hash, a file it must not touch',
  network: 'network error: no node answered or took a put, or one refused us; cannot bind',
  notWritten: 'a file asked for was not written (a failed write stops a crawl at once)',
  failure: 'any other failure (a bug: please report it)',
  interrupted: 'a second Ctrl+C (or signal): stopped at once, without the summary',
};

/** The help text's lines about exit codes. */
export function exitCodesHelp(): string {
  return [
    'Exit codes:',
    ...Object.entries(EXIT).map(([name, code]) => `  ${String(code).padStart(3)}  ${EXIT_MEANING[name as keyof typeof EXIT]}`),
  ].join('\n');
}
