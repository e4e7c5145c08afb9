/** Option errors a user can act on: one line each, naming the option and what is wrong. */
import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/cli/argv.js';
import { parseCommand, UsageError } from '../../src/cli/options.js';
import { torrentFileName } from '../../src/cli/torrent-file-name.js';

function usageError(argv: string[]): string {
  try {
    parseCommand(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('option errors', () => {
  it('a negative number is a value, checked against the range', () => {
    expect(usageError(['--port', '-1'])).toBe('--port must be a number from 0 to 65535, got "-1"');
  });

  it('an unknown option names the nearest real one', () => {
    expect(usageError(['--timout', '5'])).toBe('unknown option --timout (did you mean --timeout?)');
    expect(usageError(['--tiemout=5'])).toBe('unknown option --tiemout (did you mean --timeout?)');
    expect(usageError(['--frobnicate'])).toBe('unknown option --frobnicate');
    expect(usageError(['-x'])).toBe('unknown option -x');
  });

  it('a missing value is said so', () => {
    expect(usageError(['--port'])).toBe('--port needs a value');
    expect(usageError(['--port', '--json'])).toBe('--port needs a value');
  });

  it('--bind takes an IP address', () => {
    expect(usageError(['--bind', 'nonsense'])).toMatch(/^--bind needs an IP address/);
  });

  it('digits and dots are an IPv4 address, never a host name', () => {
    expect(usageError(['--bootstrap', '999.1.1.1:9'])).toBe('--bootstrap: "999.1.1.1" is not a valid IPv4 address');
    expect(usageError(['--bootstrap', '[1.2.3.4]:9'])).toBe('--bootstrap: "1.2.3.4" is not a valid IPv6 address');
  });

  it('an address of the other family than the socket is refused, saying the families differ', () => {
    expect(usageError(['-4', '--bootstrap', '[::1]:6881'])).toMatch(/IPv6 address but the socket is IPv4 \(-4\).*families differ/);
    expect(usageError(['-6', '--bootstrap', '127.0.0.1:6881'])).toMatch(/IPv4 address but the socket is IPv6 \(-6\)/);
    expect(usageError(['-6', '--bind', '127.0.0.1'])).toMatch(/-6 asks for IPv6 but --bind 127\.0\.0\.1 is an IPv4 address/);
    // Neither -4/-6 nor --bind: both families (BEP 32), each node joining through its own family's addresses.
    expect(parseCommand(['--bootstrap', '[::1]:6881', '--bootstrap', '127.0.0.1:6881'])).toMatchObject({ kind: 'crawl', common: { family: undefined } });
    expect(usageError(['--dual-stack'])).toMatch(/--dual-stack shapes a local network: use it with --testnet N/);
    expect(usageError(['--bootstrap', '127.0.0.1:6881', '--bind', '::1'])).toMatch(/IPv4 address but the socket is IPv6/);
    expect(parseCommand(['--bootstrap', '[::1]:6881', '--bind', '::1'])).toMatchObject({ kind: 'crawl' });
  });

  it('testnet refuses what it would ignore', () => {
    expect(usageError(['testnet', '--timeout', '5'])).toBe("--timeout does not apply to 'dht-scrape testnet' (the local network runs for --ttl S)");
    expect(usageError(['testnet', '--bootstrap', '127.0.0.1:1'])).toBe("--bootstrap does not apply to 'dht-scrape testnet'");
    expect(usageError(['testnet', '--query-interval', '1'])).toBe("--query-interval does not apply to 'dht-scrape testnet'");
    expect(parseCommand(['testnet', '--nodes', '10', '--json', '--quiet'])).toMatchObject({ kind: 'testnet', nodes: 10, quiet: true });
  });

  it('a magnet is read whatever the case of its parameter names', () => {
    const hex = '0123456789abcdef0123456789abcdef01234567';
    expect(parseCommand([`MAGNET:?XT=URN:BTIH:${hex}`])).toMatchObject({ kind: 'scrape', target: { infoHash: Uint8Array.from(Buffer.from(hex, 'hex')) } });
  });

  it('a mistyped command word is named', () => {
    expect(usageError(['crwal'])).toBe('unknown command "crwal" (did you mean crawl?)');
  });
});

describe('new commands', () => {
  it('scrape - and --from read many torrents', () => {
    expect(parseCommand(['scrape', '-'])).toMatchObject({ kind: 'batch', from: '-', concurrency: 8 });
    expect(parseCommand(['scrape', '--from', 'list.txt', '--concurrency', '3'])).toMatchObject({ kind: 'batch', from: 'list.txt', concurrency: 3 });
    expect(usageError(['scrape', '-', '--metadata'])).toBe("--metadata does not apply to 'dht-scrape scrape -'");
    expect(usageError(['--concurrency', '3'])).toMatch(/belongs to 'dht-scrape scrape -'/);
  });

  it('ping and query take HOST:PORT, a method and a target', () => {
    expect(parseCommand(['ping', '127.0.0.1:6881'])).toMatchObject({ kind: 'ping', to: { host: '127.0.0.1', port: 6881 } });
    expect(parseCommand(['query', '[::1]:6881', 'find_node', 'ab'.repeat(20), '--bind', '::1', '--raw'])).toMatchObject({ kind: 'query', method: 'find_node', raw: true });
    expect(usageError(['query', '127.0.0.1:1', 'get_peer'])).toMatch(/did you mean get_peers\?/);
    expect(usageError(['query', '127.0.0.1:1', 'find_node', 'xyz'])).toMatch(/40-character hex/);
    expect(usageError(['ping'])).toBe('usage: dht-scrape ping HOST:PORT');
    expect(usageError(['ping', '127.0.0.1:1', '--bootstrap', '127.0.0.1:2'])).toBe("--bootstrap does not apply to 'dht-scrape ping'");
  });

  it('--trace and --quiet do not go together', () => {
    expect(usageError(['--trace', '--quiet'])).toBe('--quiet and --trace contradict each other');
  });
});

describe('closestName', () => {
  it('suggests only what is near', () => {
    expect(closestName('timout', ['timeout', 'top'])).toBe('timeout');
    expect(closestName('boot', ['bootstrap', 'bind'])).toBe('bootstrap');
    expect(closestName('zzz', ['timeout', 'top'])).toBeUndefined();
  });
});

describe('torrentFileName (--save-torrent DIR)', () => {
  const hash = new Uint8Array(20).fill(0xab);
  it('keeps a plain name, adds .torrent', () => {
    expect(torrentFileName('ubuntu-24.04-desktop-amd64.iso', hash)).toBe('ubuntu-24.04-desktop-amd64.iso.torrent');
  });
  it('never leaves the directory or hides the file', () => {
    expect(torrentFileName('../../etc/passwd', hash)).toBe('_.._etc_passwd.torrent');
    expect(torrentFileName('..', hash)).toBe(`${'ab'.repeat(20)}.torrent`);
    expect(torrentFileName('movie\u202egpj.exe', hash)).toBe('movie_gpj.exe.torrent');
  });
  it('fits the 255-byte name limit without splitting a character', () => {
    const name = torrentFileName('é'.repeat(300), hash);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toBe(`${'é'.repeat(100)}.torrent`);
  });
});

describe('--enforce-secure-ids (BEP 42 "Enforcement")', () => {
  const hash = '0123456789abcdef0123456789abcdef01234567';
  const common = (argv: string[]): unknown => {
    const command = parseCommand(argv);
    return 'common' in command ? command.common.enforceSecureIds : undefined;
  };

  it('is off by default, as in libtorrent, and on when asked, for scrapes, crawls, batches and items', () => {
    expect(common([hash])).toBe(false);
    expect(common([hash, '--enforce-secure-ids'])).toBe(true);
    expect(common(['crawl', '--enforce-secure-ids'])).toBe(true);
    expect(common(['scrape', '-', '--enforce-secure-ids'])).toBe(true);
    expect(common(['get', hash, '--enforce-secure-ids'])).toBe(true);
  });

  it('a local network has no node to enforce it on: testnet refuses it', () => {
    expect(usageError(['testnet', '--enforce-secure-ids'])).toMatch(/enforce-secure-ids/);
  });
});
