/**
 * A local network bigger than the open-files limit is announced before it starts (issue 16: say
 * so when the limit is lower, before starting): the CLI runs under `ulimit -n 150` here.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { RESERVED_FILES } from '../../src/cli/open-files.js';

const LIMIT = 150;
/** bash lowers the soft limit of the process it then becomes (lowering needs no privilege). */
const UNDER_LIMIT = ['bash', '-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`];
const onLinux = process.platform === 'linux';

describe.skipIf(!onLinux)('the open-files limit, before a local network starts', () => {
  it('dht-scrape testnet --nodes 400 under a limit of 150 says so first, with how many nodes fit', async () => {
    const r = await runCli(['testnet', '--nodes', '400', '--ttl', '1'], 30_000, {}, UNDER_LIMIT);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`dht-scrape: warning: 400 nodes need about ${400 + RESERVED_FILES} open files, but the limit (ulimit -n) is ${LIMIT}: ` +
      `about ${LIMIT - RESERVED_FILES} nodes fit. Raise it (e.g. ulimit -n 20000) or ask for fewer nodes.`);
    expect(lines[1]).toMatch(/^Starting 400 DHT nodes/);
    expect(r.code).not.toBe(0);
  });

  it('--testnet N counts both nodes of a dual-stack host', async () => {
    const r = await runCli(['--testnet', '100', '--dual-stack', '--timeout', '5'], 30_000, {}, UNDER_LIMIT);
    expect(r.stderr.split('\n')[0]).toContain(`100 nodes need about ${200 + RESERVED_FILES} open files`);
    expect(r.stderr).toContain(`about ${Math.floor((LIMIT - RESERVED_FILES) / 2)} nodes fit`);
  });

  it('a network that fits starts without a word about it', async () => {
    const r = await runCli(['testnet', '--nodes', '20', '--ttl', '1', '--json'], 30_000, {}, UNDER_LIMIT);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('open files');
    expect(JSON.parse(r.stdout.trim().split('\n')[0]!)).toHaveProperty('bootstrap');
  });
});
