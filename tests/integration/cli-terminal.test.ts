/**
 * The CLI with pipes, terminals and people (issue 13, items 8-12 and 16-19), run as a user runs
 * it: the built bin/dht-scrape.js in a child process, against a local network on loopback started
 * here. Never the user's state: every run has --no-state or a --state in a temp dir.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { formatEndpoint } from '../../src/wire/address.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/dht-scrape.js');
const LOCAL = ['--no-state', '--bind', '127.0.0.1', '--port', '0'];

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. */
  stdin?: string;
  /** Close our end of stdout before the CLI writes anything: the `| head -0` case. */
  closeStdout?: boolean;
  timeoutMs?: number;
}

function run(args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: undefined, ...options.env };
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    if (options.closeStdout === true) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.end(options.stdin ?? '');
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, options.timeoutMs ?? 40_000);
    child.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** Run under a pseudo-terminal (util-linux `script`) of the given width; returns what the terminal got. */
function runInTerminal(args: string[], columns: number, env: NodeJS.ProcessEnv): Run {
  const command = `stty cols ${columns} rows 24; exec ${[process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ')}`;
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: undefined, TERM: 'xterm', ...env }, encoding: 'utf8', timeout: 40_000 });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

let net: Testnet;
let bootstrap: string;
let small: string[];
let big: string;

beforeAll(async () => {
  // Three torrents of 10 peers, 7 of them real seeders (for --metadata); a fourth of 500 peers,
  // whose printing takes many writes to stdout.
  net = await Testnet.start({ nodes: 40, torrents: 3, peers: 10, seeders: 7, node: { sourceLimit: false } });
  crowd = await Testnet.start({ nodes: 20, torrents: 1, peers: 500, node: { sourceLimit: false } });
  bootstrap = formatEndpoint(net.bootstrap[0]!);
  small = net.torrents.map((t) => Buffer.from(t.infoHash).toString('hex'));
  big = Buffer.from(crowd.torrents[0]!.infoHash).toString('hex');
}, 60_000);
let crowd: Testnet;

afterAll(async () => { await net?.close(); await crowd?.close(); });

describe('a reader that goes away (item 8)', () => {
  it('a scrape whose stdout is closed ends quietly: exit 0, no stack trace, state saved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-scrape-epipe-'));
    try {
      const state = join(dir, 'state.json');
      const r = await run([big, '--bootstrap', formatEndpoint(crowd.bootstrap[0]!), '--state', state, '--bind', '127.0.0.1', '--port', '0', '--timeout', '20'], { closeStdout: true });
      expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
      expect(r.code).toBe(0);
      expect(existsSync(state)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('crawl --json | head ends at once with exit 0, not at its timeout', async () => {
    const started = Date.now();
    const r = await run(['crawl', '--testnet', '30', '--json', '--timeout', '30'], { closeStdout: true });
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});

describe('strings from outside are sanitised (item 9)', () => {
  it("a magnet's dn cannot paint the terminal or forge a line", async () => {
    const magnet = `magnet:?xt=urn:btih:${small[1]!}&dn=%1b%5b31mRED%0aforged%E2%80%AEexe.jpg`;
    const r = await run([magnet, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).not.toContain('\u202e');
    const lookingUp = r.stderr.split('\n').find((l) => l.startsWith('Looking up'))!;
    expect(lookingUp).toContain('\\u001b[31mRED\\u000aforged\\u202eexe.jpg');
    expect(r.stdout).not.toMatch(/[\x1b\u202e]/);
    expect((JSON.parse(r.stdout) as { dn: string }).dn).toBe('\x1b[31mRED\nforged\u202eexe.jpg');
  });
});

describe('terminal width and NO_COLOR (items 10, 11)', () => {
  it('the status line is cut by visible width and never leaves a colour open', () => {
    const r = runInTerminal(['crawl', '--testnet', '30', '--timeout', '3'], 30, {});
    const frames = r.stdout.split('\r\x1b[K').slice(1).map((f) => f.split(/\r?\n/)[0]!).filter((f) => f.includes('crawl'));
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) {
      // eslint-disable-next-line no-control-regex
      expect(frame.replace(/\x1b\[[0-9;]*m/g, '').length).toBeLessThanOrEqual(29);
      const opened = frame.lastIndexOf('\x1b[32m');
      if (opened !== -1) expect(frame.slice(opened)).toMatch(/\x1b\[(39|0)m/);
    }
  });

  it('NO_COLOR removes colour but not the progress line', () => {
    const r = runInTerminal(['crawl', '--testnet', '30', '--timeout', '3'], 100, { NO_COLOR: '1' });
    expect(r.stdout).toMatch(/\r\x1b\[Kcrawl \d+s/);
    expect(r.stdout).not.toMatch(/\x1b\[\d+m/);
  });

  it('an empty NO_COLOR= does not count as set', () => {
    const r = runInTerminal(['crawl', '--testnet', '30', '--timeout', '3'], 100, { NO_COLOR: '' });
    expect(r.stdout).toContain('\x1b[32m');
  });
});

describe('option errors: exit 2, one line (item 12)', () => {
  it.each([
    [['--port', '-1'], /--port must be a number from 0 to 65535, got "-1"/],
    [['--timout', '5'], /unknown option --timout \(did you mean --timeout\?\)/],
    [['--bind', 'nonsense'], /--bind needs an IP address/],
    [['--bootstrap', '999.1.1.1:9'], /"999\.1\.1\.1" is not a valid IPv4 address/],
    [['--bootstrap', '[::1]:9', '--bind', '127.0.0.1'], /families differ/],
    [['testnet', '--timeout', '5'], /--timeout does not apply to 'dht-scrape testnet'/],
    [['testnet', '--bootstrap', '127.0.0.1:9'], /--bootstrap does not apply/],
    [['testnet', '--top', '5'], /--top does not apply/],
  ])('%s', async (args, message) => {
    const r = await run([...args, '--no-state']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('magnet parameter names are read in any case', async () => {
    const r = await run([`MAGNET:?XT=URN:BTIH:${small[2]!.toUpperCase()}`, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBe(10);
  });
});

/**
 * `dht-scrape args` with `hosts` as /etc/hosts: in a user and mount namespace of its own
 * (`unshare -rm`), gone when the process ends; the machine's /etc/hosts is never touched.
 */
function runWithHosts(hosts: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-rm', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, 30_000);
    child.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr }); });
  });
}
const canMountHosts = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount --bind /etc/hosts /etc/hosts'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!canMountHosts)('a bootstrap host name of the other family than the socket (item 12)', () => {
  let dir: string;
  let hosts: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dht-scrape-hosts-'));
    hosts = join(dir, 'hosts');
    // Not ::1: glibc answers an IPv4 lookup of a name listed as ::1 with 127.0.0.1. Nothing is sent to fd00::1.
    await writeFile(hosts, 'fd00::1 only6.test\n127.0.0.1 only4.test\n');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it.each([
    [['0123456789abcdef0123456789abcdef01234567', '--bootstrap', 'only6.test:9', '--bind', '127.0.0.1'], /--bootstrap only6\.test:9 has only IPv6 addresses \(fd00::1\) but the socket is IPv4 \(--bind 127\.0\.0\.1\): the families differ/],
    [['0123456789abcdef0123456789abcdef01234567', '--bootstrap', 'only4.test:9', '--bind', '::1'], /--bootstrap only4\.test:9 has only IPv4 addresses \(127\.0\.0\.1\) but the socket is IPv6 \(--bind ::1\): the families differ/],
    [['crawl', '--bootstrap', 'only6.test:9', '-4'], /only6\.test:9 has only IPv6 addresses .*the families differ/],
    [['ping', 'only6.test:9', '--bind', '127.0.0.1'], /dht-scrape ping only6\.test:9 has only IPv6 addresses .*the families differ/],
  ])('%s: exit 2, one line saying the families differ', async (args, message) => {
    const r = await runWithHosts(hosts, [...args, ...(args[0] === 'ping' ? [] : ['--no-state', '--port', '0']), '--timeout', '3']);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/could not be resolved|internet/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
  });
});

describe('many torrents per run: scrape - (item 16)', () => {
  it('reads stdin, streams one NDJSON line per torrent, and one error line per bad line', async () => {
    const input = [small[1], '# a comment', '', 'not-a-hash', `magnet:?xt=urn:btih:${small[2]!}&dn=two`, small[0]].join('\n');
    const r = await run(['scrape', '-', '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10', '--concurrency', '2'], { stdin: input });
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { infohash?: string; peers?: unknown[]; error?: string; dn?: string; line?: number });
    expect(lines).toHaveLength(4);
    const found = lines.filter((l) => l.infohash !== undefined);
    expect(found.map((l) => l.infohash).sort()).toEqual([small[0], small[1], small[2]].sort());
    for (const l of found) expect(l.peers).toHaveLength(10);
    expect(found.find((l) => l.infohash === small[2])!.dn).toBe('two');
    expect(lines.find((l) => l.error !== undefined)).toMatchObject({ line: 4 });
    expect(r.code).toBe(2);
  });

  it('prints each line as its lookup ends, before the list is over', async () => {
    const child = spawn(process.execPath, [BIN, 'scrape', '-', '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.write(`${small[1]!}\n`);
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    expect(JSON.parse(first.split('\n')[0]!)).toMatchObject({ infohash: small[1] });
    child.stdin.end(`${small[2]!}\n`);
    expect(await exited).toBe(0);
  });

  it('--from FILE reads the list from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-scrape-from-'));
    try {
      await writeFile(join(dir, 'list'), `${small[1]!}\r\n${small[2]!}\r\n`);
      const r = await run(['scrape', '--from', join(dir, 'list'), '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(2);
      const missing = await run(['scrape', '--from', join(dir, 'nope'), ...LOCAL]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read .*nope/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('one node: ping and query (item 17)', () => {
  it('ping prints the decoded pong', async () => {
    const r = await run(['ping', bootstrap]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`id: ${Buffer.from(net.nodes[0]!.id).toString('hex')}`);
    expect(r.stderr).toMatch(/reply to ping from/);
  });

  it('query get_peers prints the peers, --raw the bytes, --json a document', async () => {
    const holder = net.nodes.find((n) => n.peers.has(net.torrents[1]!.infoHash))!;
    const r = await run(['query', formatEndpoint(holder.local), 'get_peers', small[1]!, '--raw']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^values: 10 \[127\./m);
    expect(r.stdout).toMatch(/^token: [0-9a-f]+$/m);
    expect(r.stdout).toMatch(/^raw: 64[0-9a-f]+65$/m);
    const j = await run(['query', bootstrap, 'find_node', 'ab'.repeat(20), '--json']);
    const doc = JSON.parse(j.stdout) as { reply: { y: string; r: { nodes: { id: string }[] } } };
    expect(doc.reply.y).toBe('r');
    expect(doc.reply.r.nodes.length).toBeGreaterThan(0);
  });

  it('no reply: exit 3 after --timeout, saying so', async () => {
    const r = await run(['ping', '127.0.0.1:9', '--timeout', '1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no reply from 127\.0\.0\.1:9 within 1 s/);
  });
});

describe('--trace, --quiet and progress without a terminal (item 18)', () => {
  it('--trace prints each packet sent and received, decoded, on stderr', async () => {
    const r = await run([small[1]!, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10', '--trace']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/> 127\.\d+\.\d+\.\d+:\d+ q get_peers t=[0-9a-f]+ id=[0-9a-f]{40} info_hash=[0-9a-f]{40}/);
    expect(r.stderr).toMatch(/< 127\.\d+\.\d+\.\d+:\d+ r t=[0-9a-f]+ id=[0-9a-f]{40} .*values=\d+ \[/);
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
  });

  it('--quiet prints the data only', async () => {
    const r = await run([small[1]!, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '10', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
  });

  it('a long run with stderr not a terminal prints a plain progress line every 10 s', async () => {
    const r = await run(['crawl', '--testnet', '30', '--timeout', '12']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^crawl \d+s  [\d,]+ info_hashes/m);
    expect(r.stderr).not.toContain('\x1b');
  }, 40_000);
});

describe('files and packaging (item 19)', () => {
  it('--save-torrent DIR names the file after the torrent; a magnet dn is shown with the metadata', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-scrape-save-'));
    try {
      const magnet = `magnet:?xt=urn:btih:${small[1]!}&dn=From+the+link`;
      const r = await run([magnet, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '20', '--save-torrent', dir, '--json']);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as { metadata: { name: string }; torrent_file: string; dn: string };
      expect(await readdir(dir)).toEqual([`${doc.metadata.name}.torrent`]);
      expect(doc.torrent_file).toBe(join(dir, `${doc.metadata.name}.torrent`));
      expect(doc.dn).toBe('From the link');
      expect(r.stderr).toMatch(/magnet dn: From the link \(differs from the verified name\)/);
      // A second run does not overwrite the file it finds there.
      const again = await run([magnet, '--bootstrap', bootstrap, ...LOCAL, '--timeout', '20', '--save-torrent', dir]);
      expect(again.stderr).toMatch(/cannot write .*EEXIST|already exists/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("require('dht-scrape') fails saying the package is ESM-only", () => {
    const r = spawnSync(process.execPath, ['-e', "require('dht-scrape')"], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/dht-scrape is ESM-only.*import\(/);
  });

  it('npm pack ships LICENSE, and every relative link of the packed docs resolves inside the package', async () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    expect(files).toContain('LICENSE');
    expect(await readFile(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    const broken: string[] = [];
    for (const doc of [...files].filter((f) => f.endsWith('.md'))) {
      const text = await readFile(join(ROOT, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = join(doc, '..', target!).replace(/\/$/, '');
        if (!files.has(resolved) && ![...files].some((f) => f.startsWith(`${resolved}/`))) broken.push(`${doc} -> ${target!}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
