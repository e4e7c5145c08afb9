/** The open-files limit against a local network's sockets (cli/open-files.ts). */
import { describe, expect, it } from 'vitest';
import { RESERVED_FILES, filesNeeded, nodesThatFit, openFilesWarning, parseOpenFilesLimit, readOpenFilesLimit } from '../../src/cli/open-files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-files limit', () => {
  it('is the soft limit of /proc/self/limits; unlimited is Infinity; anything else is unknown', () => {
    expect(parseOpenFilesLimit(LIMITS)).toBe(1024);
    expect(parseOpenFilesLimit(LIMITS.replace('1024   ', 'unlimited'))).toBe(Number.POSITIVE_INFINITY);
    expect(parseOpenFilesLimit('Max cpu time unlimited unlimited seconds\n')).toBeUndefined();
    expect(parseOpenFilesLimit('Max open files            lots   lots   files\n')).toBeUndefined();
  });

  it('is read from this process on Linux, and silently unknown where the file cannot be read', () => {
    if (process.platform === 'linux') expect(readOpenFilesLimit()).toBeGreaterThan(0);
    expect(readOpenFilesLimit(() => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); })).toBeUndefined();
  });

  it('a node is a socket (two in dual stack), plus the seeders and a reserve', () => {
    expect(filesNeeded({ nodes: 19_000, perNode: 1, extra: 0 })).toBe(19_000 + RESERVED_FILES);
    expect(filesNeeded({ nodes: 100, perNode: 2, extra: 5 })).toBe(205 + RESERVED_FILES);
    expect(nodesThatFit({ nodes: 19_000, perNode: 1, extra: 0 }, 20_000)).toBe(20_000 - RESERVED_FILES);
    expect(nodesThatFit({ nodes: 19_000, perNode: 2, extra: 0 }, 1_024)).toBe(Math.floor((1_024 - RESERVED_FILES) / 2));
    expect(nodesThatFit({ nodes: 10, perNode: 1, extra: 0 }, 10)).toBe(0);
  });

  it('warns only when the network needs more than the limit, saying how many nodes fit', () => {
    expect(openFilesWarning({ nodes: 19_000, perNode: 1, extra: 0 }, 20_000)).toBeUndefined();
    expect(openFilesWarning({ nodes: 19_000, perNode: 1, extra: 0 }, undefined)).toBeUndefined();
    expect(openFilesWarning({ nodes: 19_000, perNode: 1, extra: 0 }, Number.POSITIVE_INFINITY)).toBeUndefined();
    const warning = openFilesWarning({ nodes: 5_000, perNode: 1, extra: 0 }, 1_024);
    expect(warning).toBe(`dht-scrape: warning: 5,000 nodes need about ${(5_000 + RESERVED_FILES).toLocaleString('en-US')} open files, ` +
      `but the limit (ulimit -n) is 1,024: about ${(1_024 - RESERVED_FILES).toLocaleString('en-US')} nodes fit. Raise it (e.g. ulimit -n 20000) or ask for fewer nodes.`);
  });
});
